/// An OTLP body (protobuf or JSON) that cannot be decoded: the byte offset, the field path that
/// was being read (`resource_spans[0].scope_spans[1].spans[3].attributes[2]`) and why.
public struct OTLPDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Byte offset into the (decompressed) body.
    public var offset: Int
    /// The message fields that enclose the problem, outermost first; empty at the top level.
    public var path: String
    /// What was wrong there.
    public var reason: String

    /// Creates an error.
    public init(offset: Int, path: String = "", reason: String) {
        self.offset = offset
        self.path = path
        self.reason = reason
    }

    /// `reason in PATH at byte N`.
    public var description: String {
        path.isEmpty ? "\(reason) at byte \(offset)" : "\(reason) in \(path) at byte \(offset)"
    }

    /// The same error inside field `name` (`spans[3]`) of an enclosing message.
    func inside(_ name: String) -> OTLPDecodingError {
        OTLPDecodingError(offset: offset, path: path.isEmpty ? name : path.hasPrefix("[") ? name + path : "\(name).\(path)", reason: reason)
    }
}

/// The protobuf wire types (protobuf encoding guide, "Message Structure").
enum WireType: UInt8 {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5
}

/// Reads protobuf wire format from a byte buffer the caller keeps alive: tags, varints, fixed
/// 32/64-bit values and length-delimited slices, and skips what it does not know (including the
/// deprecated groups) so that messages from newer schema versions still decode.
///
/// Every read is bounds-checked against the end of the current message; a message is read by a
/// sub-reader limited to its own length, so a wrong length can never read into a sibling.
struct ProtobufReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var pos: Int
    let end: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        self.pos = 0
        self.end = bytes.count
    }

    init(_ bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>) {
        self.bytes = bytes
        self.pos = range.lowerBound
        self.end = range.upperBound
    }

    @inline(__always) var atEnd: Bool { pos >= end }

    @inline(__always) func failure(_ reason: String, at offset: Int? = nil) -> OTLPDecodingError {
        OTLPDecodingError(offset: offset ?? pos, reason: reason)
    }

    /// Reads the next field's tag; nil at the end of the message.
    @inline(__always) mutating func nextField() throws(OTLPDecodingError) -> (number: Int, wire: WireType)? {
        guard pos < end else { return nil }
        let at = pos
        let key = try readVarint()
        let number = key >> 3
        guard number > 0, number <= 536_870_911 else {
            throw failure("invalid field number \(number)", at: at)
        }
        guard let wire = WireType(rawValue: UInt8(key & 7)) else {
            throw failure("invalid wire type \(key & 7) for field \(number)", at: at)
        }
        return (Int(number), wire)
    }

    @inline(__always) mutating func readVarint() throws(OTLPDecodingError) -> UInt64 {
        // One-byte fast path: tags and small numbers.
        if pos < end, bytes[pos] < 0x80 {
            defer { pos += 1 }
            return UInt64(bytes[pos])
        }
        let start = pos
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard pos < end else { throw failure("truncated varint", at: start) }
            let byte = bytes[pos]
            pos += 1
            if shift == 63, byte > 1 { throw failure("varint overflows 64 bits", at: start) }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
            if shift > 63 { throw failure("varint longer than 10 bytes", at: start) }
        }
    }

    @inline(__always) mutating func readFixed64() throws(OTLPDecodingError) -> UInt64 {
        guard end - pos >= 8 else { throw failure("truncated fixed64 (\(end - pos) of 8 bytes left)") }
        let value = UnsafeRawPointer(bytes.baseAddress! + pos).loadUnaligned(as: UInt64.self)
        pos += 8
        return UInt64(littleEndian: value)
    }

    @inline(__always) mutating func readFixed32() throws(OTLPDecodingError) -> UInt32 {
        guard end - pos >= 4 else { throw failure("truncated fixed32 (\(end - pos) of 4 bytes left)") }
        let value = UnsafeRawPointer(bytes.baseAddress! + pos).loadUnaligned(as: UInt32.self)
        pos += 4
        return UInt32(littleEndian: value)
    }

    @inline(__always) mutating func readDouble() throws(OTLPDecodingError) -> Double {
        Double(bitPattern: try readFixed64())
    }

    /// The range of a length-delimited field's payload; the reader moves past it.
    @inline(__always) mutating func readLengthDelimited() throws(OTLPDecodingError) -> Range<Int> {
        let at = pos
        let length = try readVarint()
        guard length <= UInt64(end - pos) else {
            throw failure("length \(length) runs past the end of the enclosing message (\(end - pos) bytes left)", at: at)
        }
        let range = pos..<(pos + Int(length))
        pos = range.upperBound
        return range
    }

    /// A sub-reader over an embedded message.
    @inline(__always) mutating func readMessage() throws(OTLPDecodingError) -> ProtobufReader {
        ProtobufReader(bytes, range: try readLengthDelimited())
    }

    /// A string field. Invalid UTF-8 is repaired (U+FFFD) rather than failing the whole batch:
    /// the conformant senders never produce it, and one bad label is no reason to drop telemetry.
    @inline(__always) mutating func readString() throws(OTLPDecodingError) -> String {
        let range = try readLengthDelimited()
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// An attribute key: a static string when it is a well-known one (no allocation), else a copy.
    @inline(__always) mutating func readKey() throws(OTLPDecodingError) -> String {
        let range = try readLengthDelimited()
        let slice = UnsafeBufferPointer(rebasing: bytes[range])
        if let known = KnownAttributeKeys.find(slice) { return KnownAttributeKeys.names[known] }
        return String(decoding: slice, as: UTF8.self)
    }

    /// A bytes field as lowercase hex (trace and span ids).
    mutating func readHex() throws(OTLPDecodingError) -> String {
        let range = try readLengthDelimited()
        return Hex.encode(UnsafeBufferPointer(rebasing: bytes[range]))
    }

    /// Skips a field of any wire type; groups are skipped up to their matching end tag.
    mutating func skip(_ wire: WireType, field: Int, depth: Int = 0) throws(OTLPDecodingError) {
        switch wire {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup:
            guard depth < 64 else { throw failure("groups nested too deeply") }
            while true {
                guard let (number, inner) = try nextField() else {
                    throw failure("group of field \(field) has no end tag")
                }
                if inner == .endGroup {
                    guard number == field else { throw failure("end tag of group \(number) inside group \(field)") }
                    return
                }
                try skip(inner, field: number, depth: depth + 1)
            }
        case .endGroup:
            throw failure("end-group tag for field \(field) without a start")
        }
    }

    /// Reads a repeated fixed64 field, packed (one length-delimited run) or not (one value per tag).
    @inline(__always) mutating func appendFixed64(_ wire: WireType, to values: inout [UInt64]) throws(OTLPDecodingError) {
        if wire == .fixed64 { values.append(try readFixed64()); return }
        var packed = ProtobufReader(bytes, range: try readLengthDelimited())
        guard (packed.end - packed.pos) % 8 == 0 else { throw failure("packed fixed64 run is not a multiple of 8 bytes") }
        values.reserveCapacity(values.count + (packed.end - packed.pos) / 8)
        while !packed.atEnd { values.append(try packed.readFixed64()) }
    }

    /// Reads a repeated double field, packed or not.
    @inline(__always) mutating func appendDouble(_ wire: WireType, to values: inout [Double]) throws(OTLPDecodingError) {
        if wire == .fixed64 { values.append(try readDouble()); return }
        var packed = ProtobufReader(bytes, range: try readLengthDelimited())
        guard (packed.end - packed.pos) % 8 == 0 else { throw failure("packed double run is not a multiple of 8 bytes") }
        values.reserveCapacity(values.count + (packed.end - packed.pos) / 8)
        while !packed.atEnd { values.append(try packed.readDouble()) }
    }

    /// Reads a repeated uint64 (varint) field, packed or not.
    @inline(__always) mutating func appendVarint(_ wire: WireType, to values: inout [UInt64]) throws(OTLPDecodingError) {
        if wire == .varint { values.append(try readVarint()); return }
        var packed = ProtobufReader(bytes, range: try readLengthDelimited())
        while !packed.atEnd { values.append(try packed.readVarint()) }
    }
}

/// Writes protobuf wire format (for the receiver's responses).
public struct ProtobufWriter: Sendable {
    /// The encoded bytes.
    public var bytes: [UInt8] = []

    /// Creates an empty writer.
    public init() {}

    mutating func tag(_ field: Int, _ wire: WireType) { varint(UInt64(field << 3) | UInt64(wire.rawValue)) }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// An int64/int32/enum field (negative numbers take ten bytes, as protobuf specifies).
    mutating func int(_ field: Int, _ value: Int64) {
        tag(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// A string field.
    mutating func string(_ field: Int, _ value: String) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// An embedded message field.
    mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        body(&inner)
        tag(field, .lengthDelimited)
        varint(UInt64(inner.bytes.count))
        bytes.append(contentsOf: inner.bytes)
    }
}

/// Lowercase hexadecimal, for trace and span ids.
enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    static func encode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        if bytes.isEmpty { return "" }
        return String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            digits.withUnsafeBufferPointer { d in
                for (i, b) in bytes.enumerated() {
                    out[2 * i] = d[Int(b >> 4)]
                    out[2 * i + 1] = d[Int(b & 0xF)]
                }
            }
            return bytes.count * 2
        }
    }

    /// Lowercases a hex string; nil when it has a character that is not a hex digit.
    static func normalize(_ text: String) -> String? {
        var out = [UInt8]()
        out.reserveCapacity(text.utf8.count)
        for c in text.utf8 {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"): out.append(c)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): out.append(c | 0x20)
            default: return nil
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
