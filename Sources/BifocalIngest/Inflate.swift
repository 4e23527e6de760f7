/// Why a compressed body could not be expanded.
public struct InflateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Hashable {
        /// The bytes are not a valid gzip/zlib/deflate stream (or are cut short).
        case corrupt
        /// The expanded data would exceed the caller's limit.
        case tooLarge
    }

    /// What went wrong.
    public var kind: Kind
    /// For people: what, and where in the compressed input.
    public var reason: String

    /// Creates an error.
    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    /// The reason.
    public var description: String { reason }
}

/// A small DEFLATE decoder (RFC 1951) with the gzip (RFC 1952) and zlib (RFC 1950) wrappers, for
/// request bodies sent with `Content-Encoding: gzip` or `deflate`.
///
/// Written here because neither Foundation on Linux nor the package's dependencies expose zlib
/// as a library call (swift-nio-extras keeps its copy internal to a channel handler). The output is
/// capped by `limit` while decoding, so a small "zip bomb" is refused before it takes memory.
/// gzip members are checked against their CRC-32 and length.
public enum Inflate {
    /// Decodes a gzip body (one or more concatenated members).
    public static func gunzip(_ input: UnsafeRawBufferPointer, limit: Int) throws(InflateError) -> [UInt8] {
        let bytes = input.assumingMemoryBound(to: UInt8.self)
        var out: [UInt8] = []
        out.reserveCapacity(min(limit, max(1024, bytes.count * 4)))
        var pos = 0
        var member = 0
        repeat {
            let start = out.count
            pos = try gzipHeader(bytes, at: pos, member: member)
            var inflater = Inflater(bytes, start: pos, limit: limit)
            try inflater.run(into: &out)
            pos = inflater.bytePosition
            guard bytes.count - pos >= 8 else {
                throw InflateError(.corrupt, "gzip member \(member) is cut short: its 8-byte trailer (CRC-32 and length) is missing")
            }
            let crc = UInt32(bytes[pos]) | UInt32(bytes[pos + 1]) << 8 | UInt32(bytes[pos + 2]) << 16 | UInt32(bytes[pos + 3]) << 24
            let size = UInt32(bytes[pos + 4]) | UInt32(bytes[pos + 5]) << 8 | UInt32(bytes[pos + 6]) << 16 | UInt32(bytes[pos + 7]) << 24
            pos += 8
            let actual = out.withUnsafeBufferPointer { CRC32.checksum(UnsafeBufferPointer(rebasing: $0[start...])) }
            guard actual == crc else {
                throw InflateError(.corrupt, "gzip member \(member): CRC-32 mismatch (trailer says \(hex32(crc)), data gives \(hex32(actual)))")
            }
            guard UInt32(truncatingIfNeeded: out.count - start) == size else {
                throw InflateError(.corrupt, "gzip member \(member): length mismatch (trailer says \(size) bytes, data has \(out.count - start))")
            }
            member += 1
        } while pos < bytes.count
        return out
    }

    /// Decodes a zlib stream (what HTTP calls `Content-Encoding: deflate`), or a raw deflate stream
    /// when it has no zlib header (some clients send that instead).
    public static func inflate(_ input: UnsafeRawBufferPointer, limit: Int) throws(InflateError) -> [UInt8] {
        let bytes = input.assumingMemoryBound(to: UInt8.self)
        var out: [UInt8] = []
        out.reserveCapacity(min(limit, max(1024, bytes.count * 4)))
        let zlib = bytes.count >= 2 && bytes[0] & 0x0F == 8 && (UInt16(bytes[0]) << 8 | UInt16(bytes[1])) % 31 == 0
        if zlib, bytes[1] & 0x20 != 0 {
            throw InflateError(.corrupt, "zlib stream asks for a preset dictionary, which HTTP bodies cannot carry")
        }
        var inflater = Inflater(bytes, start: zlib ? 2 : 0, limit: limit)
        try inflater.run(into: &out)
        if zlib {
            let pos = inflater.bytePosition
            guard bytes.count - pos >= 4 else { throw InflateError(.corrupt, "zlib stream is cut short: its Adler-32 trailer is missing") }
            let expected = UInt32(bytes[pos]) << 24 | UInt32(bytes[pos + 1]) << 16 | UInt32(bytes[pos + 2]) << 8 | UInt32(bytes[pos + 3])
            let actual = out.withUnsafeBufferPointer { adler32($0) }
            guard expected == actual else {
                throw InflateError(.corrupt, "zlib stream: Adler-32 mismatch (trailer says \(hex32(expected)), data gives \(hex32(actual)))")
            }
        }
        return out
    }

    static func hex32(_ v: UInt32) -> String {
        let digits = String(v, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// Reads a gzip member header at `pos`; returns where the deflate data starts.
    static func gzipHeader(_ b: UnsafeBufferPointer<UInt8>, at start: Int, member: Int) throws(InflateError) -> Int {
        func corrupt(_ reason: String) -> InflateError { InflateError(.corrupt, "gzip member \(member) at byte \(start): \(reason)") }
        guard b.count - start >= 2, b[start] == 0x1F, b[start + 1] == 0x8B else {
            throw corrupt(member == 0 ? "not gzip data (no 1f 8b magic)" : "unexpected data after the previous member")
        }
        guard b.count - start >= 10 else { throw corrupt("header cut short (\(b.count - start) of 10 bytes)") }
        guard b[start + 2] == 8 else { throw corrupt("compression method \(b[start + 2]) is not deflate (8)") }
        let flags = b[start + 3]
        guard flags & 0xE0 == 0 else { throw corrupt("reserved header flags are set") }
        var pos = start + 10
        if flags & 0x04 != 0 { // FEXTRA
            guard b.count - pos >= 2 else { throw corrupt("extra field cut short") }
            let length = Int(b[pos]) | Int(b[pos + 1]) << 8
            pos += 2
            guard b.count - pos >= length else { throw corrupt("extra field cut short") }
            pos += length
        }
        for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 { // FNAME, FCOMMENT: zero-terminated
            while pos < b.count, b[pos] != 0 { pos += 1 }
            guard pos < b.count else { throw corrupt("file name or comment is not terminated") }
            pos += 1
        }
        if flags & 0x02 != 0 { pos += 2 } // FHCRC
        guard pos <= b.count else { throw corrupt("header cut short") }
        return pos
    }

    static func adler32(_ data: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var a: UInt32 = 1
        var b: UInt32 = 0
        var i = 0
        while i < data.count {
            let end = min(data.count, i + 5552) // largest run before the sums can overflow
            while i < end {
                a &+= UInt32(data[i])
                b &+= a
                i += 1
            }
            a %= 65521
            b %= 65521
        }
        return b << 16 | a
    }
}

/// CRC-32 (IEEE 802.3, reflected, as gzip uses).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ data: UnsafeBufferPointer<UInt8>) -> UInt32 {
        table.withUnsafeBufferPointer { t in
            var c: UInt32 = 0xFFFF_FFFF
            for byte in data { c = t[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
            return c ^ 0xFFFF_FFFF
        }
    }
}

/// A canonical Huffman code: counts per length and symbols in code order (as in zlib's puff.c),
/// plus a 9-bit lookup table for the short codes that make up nearly all symbols.
struct Huffman {
    static let fastBits = 9
    var counts = [Int](repeating: 0, count: 16)
    var symbols: [UInt16]
    /// Indexed by the next 9 input bits: symbol << 4 | length, or 0 when the code is longer.
    var fast = [UInt16](repeating: 0, count: 1 << fastBits)

    /// Builds the code from code lengths; throws for an over-subscribed set of lengths.
    init(lengths: UnsafeBufferPointer<UInt8>, what: String) throws(InflateError) {
        symbols = [UInt16](repeating: 0, count: lengths.count)
        for length in lengths { counts[Int(length)] += 1 }
        var left = 1
        for len in 1..<16 {
            left <<= 1
            left -= counts[len]
            if left < 0 { throw InflateError(.corrupt, "over-subscribed \(what) Huffman code") }
        }
        var offsets = [Int](repeating: 0, count: 16)
        for len in 1..<15 { offsets[len + 1] = offsets[len] + counts[len] }
        // First code of each length, as RFC 1951 3.2.2 computes them (bl_count[0] counts as 0).
        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        for len in 1..<16 {
            code = (code + (len > 1 ? counts[len - 1] : 0)) << 1
            nextCode[len] = code
        }
        for (symbol, length) in lengths.enumerated() where length != 0 {
            let len = Int(length)
            symbols[offsets[len]] = UInt16(symbol)
            offsets[len] += 1
            let assigned = nextCode[len]
            nextCode[len] += 1
            guard len <= Self.fastBits else { continue }
            // The stream holds codes most-significant bit first; the reader peeks bits LSB first.
            var reversed = 0
            for bit in 0..<len where assigned & (1 << bit) != 0 { reversed |= 1 << (len - 1 - bit) }
            let entry = UInt16(symbol) << 4 | UInt16(len)
            var index = reversed
            while index < 1 << Self.fastBits {
                fast[index] = entry
                index += 1 << len
            }
        }
    }
}

/// The DEFLATE block decoder over one input buffer.
struct Inflater {
    let input: UnsafeBufferPointer<UInt8>
    let limit: Int
    var pos: Int
    var bitBuffer: UInt64 = 0
    var bitCount = 0
    /// Bytes past the end fed to the bit buffer as zeros (peeking may need them; consuming may not).
    var padding = 0

    init(_ input: UnsafeBufferPointer<UInt8>, start: Int, limit: Int) {
        self.input = input
        self.pos = start
        self.limit = limit
    }

    /// The first byte after the deflate stream (whole bytes still in the bit buffer are given back).
    var bytePosition: Int { pos - bitCount / 8 }

    static let lengthBase: [UInt16] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]
    static let lengthExtra: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]
    static let distanceBase: [UInt16] = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
    static let distanceExtra: [UInt8] = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]
    static let codeLengthOrder = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    static let fixed: (Huffman, Huffman) = {
        var lengths = [UInt8](repeating: 8, count: 288)
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        let literal = try! lengths.withUnsafeBufferPointer { try Huffman(lengths: $0, what: "fixed literal") }
        let distances = [UInt8](repeating: 5, count: 30)
        let distance = try! distances.withUnsafeBufferPointer { try Huffman(lengths: $0, what: "fixed distance") }
        return (literal, distance)
    }()

    func corrupt(_ reason: String) -> InflateError {
        InflateError(.corrupt, "deflate data is invalid near byte \(max(0, bytePosition)): \(reason)")
    }

    @inline(__always) mutating func fill(_ n: Int) {
        while bitCount < n {
            if pos < input.count {
                bitBuffer |= UInt64(input[pos]) << UInt64(bitCount)
            } else {
                padding += 1
            }
            pos += 1
            bitCount += 8
        }
    }

    @inline(__always) mutating func consume(_ n: Int) throws(InflateError) {
        bitBuffer >>= UInt64(n)
        bitCount -= n
        if padding > 0, bitCount < padding * 8 {
            throw InflateError(.corrupt, "deflate data is cut short (the stream ends before its final block)")
        }
    }

    @inline(__always) mutating func bits(_ n: Int) throws(InflateError) -> Int {
        if n == 0 { return 0 }
        fill(n)
        let value = Int(bitBuffer & ((1 << UInt64(n)) - 1))
        try consume(n)
        return value
    }

    @inline(__always) mutating func decode(_ h: borrowing Huffman) throws(InflateError) -> Int {
        fill(15)
        let entry = h.fast[Int(bitBuffer & UInt64((1 << Huffman.fastBits) - 1))]
        if entry != 0 {
            try consume(Int(entry & 0xF))
            return Int(entry >> 4)
        }
        // Long code: walk the lengths as puff.c does.
        var code = 0
        var first = 0
        var index = 0
        var buffer = bitBuffer
        for len in 1..<16 {
            code |= Int(buffer & 1)
            buffer >>= 1
            let count = h.counts[len]
            if code - count < first {
                try consume(len)
                return Int(h.symbols[index + (code - first)])
            }
            index += count
            first += count
            first <<= 1
            code <<= 1
        }
        throw corrupt("a code that is not in the Huffman table")
    }

    mutating func run(into out: inout [UInt8]) throws(InflateError) {
        var final = false
        while !final {
            final = try bits(1) == 1
            switch try bits(2) {
            case 0: try stored(into: &out)
            case 1: try codes(Self.fixed.0, Self.fixed.1, into: &out)
            case 2:
                let (literal, distance) = try dynamicTables()
                try codes(literal, distance, into: &out)
            default: throw corrupt("block type 3 is reserved")
            }
        }
        // Drop the bits left in the last byte.
        bitBuffer >>= UInt64(bitCount % 8)
        bitCount -= bitCount % 8
    }

    mutating func stored(into out: inout [UInt8]) throws(InflateError) {
        bitBuffer >>= UInt64(bitCount % 8)
        bitCount -= bitCount % 8
        let length = try bits(16)
        let complement = try bits(16)
        guard length == ~complement & 0xFFFF else { throw corrupt("stored block length does not match its complement") }
        // Bytes still in the bit buffer come first.
        var remaining = length
        while remaining > 0, bitCount >= 8 {
            out.append(UInt8(truncatingIfNeeded: bitBuffer))
            try consume(8)
            remaining -= 1
        }
        guard input.count - pos >= remaining else { throw corrupt("stored block runs past the end of the data") }
        guard out.count + remaining <= limit else { throw InflateError(.tooLarge, "the decompressed body is larger than the limit of \(limit) bytes") }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: input[pos..<(pos + remaining)]))
        pos += remaining
        if out.count > limit { throw InflateError(.tooLarge, "the decompressed body is larger than the limit of \(limit) bytes") }
    }

    mutating func dynamicTables() throws(InflateError) -> (Huffman, Huffman) {
        let literalCount = try bits(5) + 257
        let distanceCount = try bits(5) + 1
        let codeLengthCount = try bits(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else { throw corrupt("too many literal/length or distance codes") }
        var codeLengths = [UInt8](repeating: 0, count: 19)
        for i in 0..<codeLengthCount { codeLengths[Self.codeLengthOrder[i]] = UInt8(try bits(3)) }
        let lengthCode = try codeLengths.withUnsafeBufferPointer { (p) throws(InflateError) in try Huffman(lengths: p, what: "code length") }
        var lengths = [UInt8](repeating: 0, count: literalCount + distanceCount)
        var index = 0
        while index < lengths.count {
            let symbol = try decode(lengthCode)
            if symbol < 16 {
                lengths[index] = UInt8(symbol)
                index += 1
                continue
            }
            var value: UInt8 = 0
            let repeatCount: Int
            switch symbol {
            case 16:
                guard index > 0 else { throw corrupt("repeat of a code length with no previous length") }
                value = lengths[index - 1]
                repeatCount = 3 + (try bits(2))
            case 17: repeatCount = 3 + (try bits(3))
            default: repeatCount = 11 + (try bits(7))
            }
            guard index + repeatCount <= lengths.count else { throw corrupt("code lengths repeat past the end of the table") }
            for _ in 0..<repeatCount {
                lengths[index] = value
                index += 1
            }
        }
        guard lengths[256] != 0 else { throw corrupt("the literal/length code has no end-of-block code") }
        return try lengths.withUnsafeBufferPointer { (p) throws(InflateError) in
            (try Huffman(lengths: UnsafeBufferPointer(rebasing: p[0..<literalCount]), what: "literal/length"),
             try Huffman(lengths: UnsafeBufferPointer(rebasing: p[literalCount...]), what: "distance"))
        }
    }

    mutating func codes(_ literal: borrowing Huffman, _ distance: borrowing Huffman, into out: inout [UInt8]) throws(InflateError) {
        while true {
            let symbol = try decode(literal)
            if symbol < 256 {
                guard out.count < limit else { throw InflateError(.tooLarge, "the decompressed body is larger than the limit of \(limit) bytes") }
                out.append(UInt8(symbol))
                continue
            }
            if symbol == 256 { return }
            let l = symbol - 257
            guard l < 29 else { throw corrupt("invalid length symbol \(symbol)") }
            let length = Int(Self.lengthBase[l]) + (try bits(Int(Self.lengthExtra[l])))
            let d = try decode(distance)
            guard d < 30 else { throw corrupt("invalid distance symbol \(d)") }
            let back = Int(Self.distanceBase[d]) + (try bits(Int(Self.distanceExtra[d])))
            guard back <= out.count else { throw corrupt("a back-reference (\(back) bytes) reaches before the start of the data") }
            guard out.count + length <= limit else { throw InflateError(.tooLarge, "the decompressed body is larger than the limit of \(limit) bytes") }
            var from = out.count - back
            for _ in 0..<length {
                out.append(out[from])
                from += 1
            }
        }
    }
}
