public import NIOCore

/// AWS event-stream framing (`application/vnd.amazon.eventstream`), as SageMaker's
/// `InvokeEndpointWithResponseStream` (and Bedrock, Transcribe, ...) send it:
///
/// ```
/// [total length: u32][headers length: u32][prelude CRC32: u32]
/// [headers: name-len u8, name, type u8, value]...[payload][message CRC32: u32]
/// ```
///
/// big-endian, CRC32 (IEEE) of the 8 prelude bytes, then of everything before the last four bytes.
/// Limits and checks follow botocore's `EventStreamBuffer`: headers at most 128 KiB, payload at most
/// 16 MiB, a repeated header name is an error.
public struct EventStreamMessage: Sendable, Hashable {
    /// The headers, in the order they were framed.
    public var headers: [EventStreamHeader]
    /// The payload bytes.
    public var payload: [UInt8]

    /// Creates a message.
    public init(headers: [EventStreamHeader] = [], payload: [UInt8] = []) {
        self.headers = headers
        self.payload = payload
    }

    /// The value of the first header with this name.
    public func header(_ name: String) -> EventStreamHeader.Value? {
        headers.first { $0.name == name }?.value
    }

    /// A string header's value (`:message-type`, `:event-type`, ...).
    public func string(_ name: String) -> String? {
        if case let .string(s)? = header(name) { return s }
        return nil
    }

    /// `:message-type`: `event`, `exception` or `error`.
    public var messageType: String? { string(":message-type") }
    /// `:event-type` of an event (`PayloadPart` for SageMaker).
    public var eventType: String? { string(":event-type") }
    /// `:exception-type` of an exception (`ModelStreamError`, `InternalStreamFailure`).
    public var exceptionType: String? { string(":exception-type") }
}

/// One event-stream header.
public struct EventStreamHeader: Sendable, Hashable {
    /// The header's name (at most 255 UTF-8 bytes).
    public var name: String
    /// The header's typed value.
    public var value: Value

    /// Creates a header.
    public init(_ name: String, _ value: Value) {
        self.name = name
        self.value = value
    }

    /// The ten value types of the format, with their wire type codes in the comments.
    public enum Value: Sendable, Hashable {
        /// 0 (true) and 1 (false): no value bytes.
        case bool(Bool)
        /// 2: one signed byte.
        case byte(Int8)
        /// 3: signed 16-bit.
        case short(Int16)
        /// 4: signed 32-bit.
        case integer(Int32)
        /// 5: signed 64-bit.
        case long(Int64)
        /// 6: bytes with a 16-bit length.
        case bytes([UInt8])
        /// 7: UTF-8 with a 16-bit length.
        case string(String)
        /// 8: milliseconds since the epoch, signed 64-bit.
        case timestamp(Int64)
        /// 9: 16 bytes.
        case uuid([UInt8])
    }
}

/// Why a stream could not be decoded. After one of these the stream cannot be resynchronised.
public enum EventStreamError: Error, Sendable, Hashable {
    /// The prelude's CRC does not match its eight bytes.
    case preludeChecksumMismatch(expected: UInt32, computed: UInt32)
    /// The message CRC does not match.
    case messageChecksumMismatch(expected: UInt32, computed: UInt32)
    /// The total length is smaller than an empty message, or leaves no room for the headers.
    case invalidTotalLength(UInt32)
    /// The headers are longer than 128 KiB.
    case headersTooLong(UInt32)
    /// The payload is longer than 16 MiB.
    case payloadTooLong(Int)
    /// A header could not be read (unknown type, runs past the headers section, bad UTF-8).
    case invalidHeader(String)
    /// The same header name appears twice in one message.
    case duplicateHeader(String)
}

/// Limits of the format as the AWS SDKs enforce them.
public enum EventStreamLimits {
    /// Prelude (12) plus message CRC (4).
    public static let overhead = 16
    /// 128 KiB of headers.
    public static let maxHeadersLength = 128 * 1024
    /// 16 MiB of payload.
    public static let maxPayloadLength = 16 * 1024 * 1024
}

/// Incremental decoder: feed bytes as they arrive, split anywhere, and take whole messages out.
///
/// Keeps at most one partial message; bytes already decoded are dropped from the front once they
/// are more than half of what is held, so a long stream does not grow the buffer.
public struct EventStreamDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    private var failed: EventStreamError?

    /// A decoder at the start of a stream.
    public init() {}

    /// Bytes held that do not yet make a whole message.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Adds bytes from the stream.
    public mutating func feed(_ bytes: some Sequence<UInt8>) {
        compact()
        buffer.append(contentsOf: bytes)
    }

    /// Adds the readable bytes of a NIO buffer without moving its reader index.
    public mutating func feed(_ bytes: ByteBuffer) {
        compact()
        bytes.withUnsafeReadableBytes { buffer.append(contentsOf: $0) }
    }

    /// The next whole message, or nil when more bytes are needed. Throws on a corrupt stream (and
    /// keeps throwing the same error afterwards).
    public mutating func next() throws(EventStreamError) -> EventStreamMessage? {
        if let failed { throw failed }
        do {
            guard let (message, length) = try buffer.withUnsafeBufferPointer({ (p) throws(EventStreamError) -> (EventStreamMessage, Int)? in
                try EventStreamCodec.decodeOne(UnsafeBufferPointer(rebasing: p[start...]))
            }) else { return nil }
            start += length
            return message
        } catch {
            failed = error
            throw error
        }
    }

    /// Every whole message that the bytes fed so far complete.
    public mutating func nextAll() throws(EventStreamError) -> [EventStreamMessage] {
        var out: [EventStreamMessage] = []
        while let m = try next() { out.append(m) }
        return out
    }

    private mutating func compact() {
        if start > 0 && (start == buffer.count || start > buffer.count / 2) {
            buffer.removeFirst(start)
            start = 0
        }
    }
}

/// Encoding, decoding of one message, and the CRC.
public enum EventStreamCodec {
    /// The frame of one message.
    public static func encode(_ message: EventStreamMessage) -> [UInt8] {
        var headers: [UInt8] = []
        for h in message.headers {
            let name = Array(h.name.utf8)
            headers.append(UInt8(truncatingIfNeeded: name.count))
            headers += name
            switch h.value {
            case let .bool(b): headers.append(b ? 0 : 1)
            case let .byte(v): headers.append(2); headers.append(UInt8(bitPattern: v))
            case let .short(v): headers.append(3); appendBE(&headers, UInt64(UInt16(bitPattern: v)), 2)
            case let .integer(v): headers.append(4); appendBE(&headers, UInt64(UInt32(bitPattern: v)), 4)
            case let .long(v): headers.append(5); appendBE(&headers, UInt64(bitPattern: v), 8)
            case let .bytes(b): headers.append(6); appendBE(&headers, UInt64(b.count), 2); headers += b
            case let .string(s):
                let u = Array(s.utf8)
                headers.append(7); appendBE(&headers, UInt64(u.count), 2); headers += u
            case let .timestamp(v): headers.append(8); appendBE(&headers, UInt64(bitPattern: v), 8)
            case let .uuid(b): headers.append(9); headers += b.prefix(16); headers += [UInt8](repeating: 0, count: max(0, 16 - b.count))
            }
        }
        let total = EventStreamLimits.overhead + headers.count + message.payload.count
        var out: [UInt8] = []
        out.reserveCapacity(total)
        appendBE(&out, UInt64(total), 4)
        appendBE(&out, UInt64(headers.count), 4)
        appendBE(&out, UInt64(CRC32.checksum(out)), 4)
        out += headers
        out += message.payload
        appendBE(&out, UInt64(CRC32.checksum(out)), 4)
        return out
    }

    /// Decodes the message at the start of `p`: nil when `p` holds less than a whole message,
    /// else the message and the number of bytes it took.
    public static func decodeOne(_ p: UnsafeBufferPointer<UInt8>) throws(EventStreamError) -> (EventStreamMessage, Int)? {
        guard p.count >= 12 else { return nil }
        let total = readBE32(p, 0)
        let headersLength = readBE32(p, 4)
        let preludeCRC = readBE32(p, 8)
        let computedPrelude = CRC32.checksum(UnsafeBufferPointer(rebasing: p[0..<8]))
        guard computedPrelude == preludeCRC else {
            throw .preludeChecksumMismatch(expected: preludeCRC, computed: computedPrelude)
        }
        guard headersLength <= EventStreamLimits.maxHeadersLength else { throw .headersTooLong(headersLength) }
        guard total >= EventStreamLimits.overhead, UInt64(headersLength) + 16 <= UInt64(total) else {
            throw .invalidTotalLength(total)
        }
        let payloadLength = Int(total) - EventStreamLimits.overhead - Int(headersLength)
        guard payloadLength <= EventStreamLimits.maxPayloadLength else { throw .payloadTooLong(payloadLength) }
        let length = Int(total)
        guard p.count >= length else { return nil }
        let messageCRC = readBE32(p, length - 4)
        let computed = CRC32.checksum(UnsafeBufferPointer(rebasing: p[0..<(length - 4)]))
        guard computed == messageCRC else { throw .messageChecksumMismatch(expected: messageCRC, computed: computed) }
        let headers = try decodeHeaders(UnsafeBufferPointer(rebasing: p[12..<(12 + Int(headersLength))]))
        let payloadStart = 12 + Int(headersLength)
        let payload = Array(p[payloadStart..<(payloadStart + payloadLength)])
        return (EventStreamMessage(headers: headers, payload: payload), length)
    }

    static func decodeHeaders(_ p: UnsafeBufferPointer<UInt8>) throws(EventStreamError) -> [EventStreamHeader] {
        var out: [EventStreamHeader] = []
        var i = 0
        func need(_ n: Int, _ what: String) throws(EventStreamError) {
            if i + n > p.count { throw .invalidHeader("\(what) runs past the headers") }
        }
        while i < p.count {
            let nameLength = Int(p[i]); i += 1
            try need(nameLength, "name")
            guard let name = String(validating: p[i..<(i + nameLength)], as: UTF8.self) else { throw .invalidHeader("name is not UTF-8") }
            i += nameLength
            try need(1, "type")
            let type = p[i]; i += 1
            let value: EventStreamHeader.Value
            switch type {
            case 0: value = .bool(true)
            case 1: value = .bool(false)
            case 2: try need(1, name); value = .byte(Int8(bitPattern: p[i])); i += 1
            case 3: try need(2, name); value = .short(Int16(bitPattern: UInt16(readBE(p, i, 2)))); i += 2
            case 4: try need(4, name); value = .integer(Int32(bitPattern: UInt32(readBE(p, i, 4)))); i += 4
            case 5: try need(8, name); value = .long(Int64(bitPattern: readBE(p, i, 8))); i += 8
            case 6, 7:
                try need(2, name)
                let n = Int(readBE(p, i, 2)); i += 2
                try need(n, name)
                let raw = p[i..<(i + n)]
                i += n
                if type == 6 {
                    value = .bytes(Array(raw))
                } else {
                    guard let s = String(validating: raw, as: UTF8.self) else { throw .invalidHeader("\(name) is not UTF-8") }
                    value = .string(s)
                }
            case 8: try need(8, name); value = .timestamp(Int64(bitPattern: readBE(p, i, 8))); i += 8
            case 9: try need(16, name); value = .uuid(Array(p[i..<(i + 16)])); i += 16
            default: throw .invalidHeader("\(name) has unknown type \(type)")
            }
            if out.contains(where: { $0.name == name }) { throw .duplicateHeader(name) }
            out.append(EventStreamHeader(name, value))
        }
        return out
    }

    @inline(__always) static func readBE32(_ p: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32 {
        UInt32(p[i]) << 24 | UInt32(p[i + 1]) << 16 | UInt32(p[i + 2]) << 8 | UInt32(p[i + 3])
    }

    @inline(__always) static func readBE(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ n: Int) -> UInt64 {
        var v: UInt64 = 0
        for k in 0..<n { v = v << 8 | UInt64(p[i + k]) }
        return v
    }

    static func appendBE(_ out: inout [UInt8], _ v: UInt64, _ n: Int) {
        for k in (0..<n).reversed() { out.append(UInt8(truncatingIfNeeded: v >> (UInt64(k) * 8))) }
    }
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum of event-stream frames;
/// the same function as zlib's `crc32` and Python's `binascii.crc32`.
public enum CRC32 {
    /// The CRC of `bytes`, continuing from `previous` (0 to start).
    public static func checksum(_ bytes: some Sequence<UInt8>, previous: UInt32 = 0) -> UInt32 {
        if let r = bytes.withContiguousStorageIfAvailable({ checksum($0, previous: previous) }) { return r }
        return Array(bytes).withUnsafeBufferPointer { checksum($0, previous: previous) }
    }

    /// The CRC of the bytes in `p`, continuing from `previous`.
    public static func checksum(_ p: UnsafeBufferPointer<UInt8>, previous: UInt32 = 0) -> UInt32 {
        crcTable.withUnsafeBufferPointer { table in
            var c = ~previous
            for b in p { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
            return ~c
        }
    }
}

private let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
}
