/// A forward-only reader over JSON bytes that finds members without building values.
///
/// The gateway reads a handful of members (`model`, `stream`, `usage`, `choices[].delta.content`)
/// out of every request, chunk and response; decoding whole documents with Foundation would cost
/// more than the rest of the proxy. Malformed input never traps: the reader sets `failed` and the
/// caller treats what it found so far as all there is.
struct JSONReader {
    let bytes: UnsafeRawBufferPointer
    /// Offset of the next unread byte.
    var index: Int
    /// Set when the bytes are not the JSON the caller expected.
    var failed = false

    init(_ bytes: UnsafeRawBufferPointer, at index: Int = 0) {
        self.bytes = bytes
        self.index = index
    }

    var atEnd: Bool { index >= bytes.count }

    @inline(__always) func peek() -> UInt8? { index < bytes.count ? bytes[index] : nil }

    @inline(__always) mutating func skipWhitespace() {
        while index < bytes.count {
            let c = bytes[index]
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return }
            index += 1
        }
    }

    /// Consumes `{`; false (and `failed`) when the next value is not an object.
    mutating func beginObject() -> Bool {
        skipWhitespace()
        guard peek() == UInt8(ascii: "{") else { failed = true; return false }
        index += 1
        return true
    }

    /// Consumes `[`; false (and `failed`) when the next value is not an array.
    mutating func beginArray() -> Bool {
        skipWhitespace()
        guard peek() == UInt8(ascii: "[") else { failed = true; return false }
        index += 1
        return true
    }

    /// The next member's key (the bytes between its quotes), leaving the reader at its value;
    /// nil once the object's `}` is consumed or on malformed input.
    mutating func nextKey() -> Range<Int>? {
        skipWhitespace()
        guard let c = peek() else { failed = true; return nil }
        if c == UInt8(ascii: "}") { index += 1; return nil }
        if c == UInt8(ascii: ",") { index += 1; skipWhitespace() }
        guard peek() == UInt8(ascii: "\"") else { failed = true; return nil }
        guard let key = stringRange() else { return nil }
        skipWhitespace()
        guard peek() == UInt8(ascii: ":") else { failed = true; return nil }
        index += 1
        skipWhitespace()
        return key.range
    }

    /// Moves to the next array element; false once the array's `]` is consumed or on malformed input.
    mutating func nextElement() -> Bool {
        skipWhitespace()
        guard let c = peek() else { failed = true; return false }
        if c == UInt8(ascii: "]") { index += 1; return false }
        if c == UInt8(ascii: ",") { index += 1; skipWhitespace() }
        guard !atEnd, bytes[index] != UInt8(ascii: "]") else { failed = true; return false }
        return true
    }

    /// Whether the key's bytes are exactly `name` (keys with escapes never match; none of ours need them).
    @inline(__always) func key(_ key: Range<Int>, is name: StaticString) -> Bool {
        guard key.count == name.utf8CodeUnitCount else { return false }
        let p = name.utf8Start
        var i = 0
        while i < key.count {
            if bytes[key.lowerBound + i] != p[i] { return false }
            i += 1
        }
        return true
    }

    /// Reads a string at the reader: the range between its quotes and whether it holds escapes.
    mutating func stringRange() -> (range: Range<Int>, escaped: Bool)? {
        guard peek() == UInt8(ascii: "\"") else { failed = true; return nil }
        let start = index + 1
        var i = start
        var escaped = false
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "\"") {
                index = i + 1
                return (start..<i, escaped)
            }
            if c == UInt8(ascii: "\\") {
                escaped = true
                i += 2
            } else {
                i += 1
            }
        }
        index = bytes.count
        failed = true
        return nil
    }

    /// A string value decoded (escapes resolved); nil for anything else (the value is skipped).
    mutating func string() -> String? {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { skipValue(); return nil }
        guard let (range, escaped) = stringRange() else { return nil }
        return decode(range, escaped: escaped)
    }

    /// Whether a string value is non-empty (skipping it); false for null or any other value.
    mutating func nonEmptyString() -> Bool {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\"") else { skipValue(); return false }
        guard let (range, _) = stringRange() else { return false }
        return !range.isEmpty
    }

    /// Decodes the bytes of a string (between its quotes).
    func decode(_ range: Range<Int>, escaped: Bool) -> String {
        let slice = UnsafeRawBufferPointer(rebasing: bytes[range])
        if !escaped { return String(decoding: slice, as: UTF8.self) }
        return Self.unescape(slice)
    }

    /// Resolves JSON escapes (`\n`, `\"`, `\uXXXX` with surrogate pairs); bad escapes are kept as text.
    static func unescape(_ s: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = 0
        func hex4(_ at: Int) -> UInt32? {
            guard at + 4 <= s.count else { return nil }
            var v: UInt32 = 0
            for k in at..<(at + 4) {
                let c = s[k]
                let d: UInt8
                switch c {
                case 48...57: d = c - 48
                case 65...70: d = c - 55
                case 97...102: d = c - 87
                default: return nil
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        func append(scalar: UInt32) {
            guard let u = Unicode.Scalar(scalar) else {
                out.append(contentsOf: [0xEF, 0xBF, 0xBD])
                return
            }
            out.append(contentsOf: Array(String(Character(u)).utf8))
        }
        while i < s.count {
            let c = s[i]
            guard c == UInt8(ascii: "\\"), i + 1 < s.count else {
                out.append(c)
                i += 1
                continue
            }
            let e = s[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard let v = hex4(i) else { out.append(contentsOf: [UInt8(ascii: "\\"), e]); continue }
                i += 4
                if (0xD800..<0xDC00).contains(v), i + 6 <= s.count, s[i] == UInt8(ascii: "\\"), s[i + 1] == UInt8(ascii: "u"),
                   let low = hex4(i + 2), (0xDC00..<0xE000).contains(low) {
                    i += 6
                    append(scalar: 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00))
                } else {
                    append(scalar: v)
                }
            default: out.append(e)  // \" \\ \/
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// An integer value (a number's integral part); nil (value skipped) for anything else.
    mutating func int() -> Int? {
        skipWhitespace()
        var i = index
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var value = 0
        var digits = 0
        while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57, digits < 18 {
            value = value * 10 + Int(bytes[i] - 48)
            digits += 1
            i += 1
        }
        guard digits > 0 else { skipValue(); return nil }
        // A fraction, an exponent or more digits than fit: skip the rest of the number. Only then:
        // skipping at a ',' or '}' would read it as a bad value and fail the reader.
        if i < bytes.count, [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[i]) || (bytes[i] >= 48 && bytes[i] <= 57) {
            skipValue()
        } else {
            index = i
        }
        return negative ? -value : value
    }

    /// A number value as a Double; nil (value skipped) for anything else.
    mutating func double() -> Double? {
        skipWhitespace()
        let start = index
        skipScalar()
        guard index > start, index - start < 64 else { return nil }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        return Double(text)
    }

    /// A boolean value; nil (value skipped) for anything else.
    mutating func bool() -> Bool? {
        skipWhitespace()
        if literal("true") { return true }
        if literal("false") { return false }
        skipValue()
        return nil
    }

    /// Consumes `null` if it is next.
    mutating func null() -> Bool {
        skipWhitespace()
        return literal("null")
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let n = word.utf8CodeUnitCount
        guard index + n <= bytes.count else { return false }
        for k in 0..<n where bytes[index + k] != word.utf8Start[k] { return false }
        index += n
        return true
    }

    /// Skips a number or literal (up to the next delimiter).
    private mutating func skipScalar() {
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09: return
            default: index += 1
            }
        }
    }

    /// Skips one value of any kind (objects and arrays by bracket depth, strings by quotes).
    mutating func skipValue() {
        skipWhitespace()
        guard let c = peek() else { failed = true; return }
        switch c {
        case UInt8(ascii: "\""):
            _ = stringRange()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = index
            while i < bytes.count {
                let b = bytes[i]
                switch b {
                case UInt8(ascii: "\""):
                    i += 1
                    while i < bytes.count {
                        let s = bytes[i]
                        if s == UInt8(ascii: "\\") { i += 2; continue }
                        if s == UInt8(ascii: "\"") { break }
                        i += 1
                    }
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 {
                        index = i + 1
                        return
                    }
                default: break
                }
                i += 1
            }
            index = bytes.count
            failed = true
        case UInt8(ascii: "}"), UInt8(ascii: "]"), UInt8(ascii: ","), UInt8(ascii: ":"):
            failed = true
        default:
            skipScalar()
        }
    }

    /// The bytes of the value at the reader (skipping it): for keeping a value verbatim.
    mutating func valueRange() -> Range<Int> {
        skipWhitespace()
        let start = index
        skipValue()
        return start..<index
    }
}

/// Builds small JSON documents (error bodies, the merged model list) without Foundation.
struct JSONText {
    var bytes: [UInt8] = []

    mutating func raw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func raw<C: Collection>(bytes other: C) where C.Element == UInt8 { bytes.append(contentsOf: other) }

    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), 48, 48, hex[Int(b >> 4)], hex[Int(b & 0xF)]])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    mutating func int(_ value: Int) { bytes.append(contentsOf: Array(String(value).utf8)) }
}
