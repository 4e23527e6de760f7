/// A JSON syntax error inside the scanner: byte offset (relative to the scanned buffer) and reason.
struct SyntaxFailure: Error {
    var offset: Int
    var reason: String
}

/// A growable byte buffer for strings with escapes; owned by whoever created it (`deallocate()`).
struct ScratchBuffer {
    var base: UnsafeMutablePointer<UInt8>
    var capacity: Int

    init(capacity: Int = 256) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    mutating func ensure(_ needed: Int, keeping used: Int) {
        guard needed > capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: base, count: used)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    func deallocate() { base.deallocate() }
}

/// What a JSON value starts with, for type checks and messages.
enum JSONKind: UInt8 {
    case string, number, object, array, boolean, null

    var name: String {
        switch self {
        case .string: "string"
        case .number: "number"
        case .object: "object"
        case .array: "array"
        case .boolean: "boolean"
        case .null: "null"
        }
    }
}

/// A parsed JSON number: its value, and the exact integer when the literal is a plain integer that fits.
struct JSONNumber {
    var value: Double
    var integer: Int64?
}

/// A generic JSON value, for the formats that are not on the hot path (captures, tests).
enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    var string: String? { if case .string(let s) = self { return s }; return nil }
    var number: Double? { if case .number(let d) = self { return d }; return nil }
    var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    var isObject: Bool { if case .object = self { return true }; return false }
    /// A non-negative integer (an integral number).
    var count: Int? {
        guard case .number(let d) = self, d >= 0, d <= 9e15, d.rounded() == d else { return nil }
        return Int(d)
    }
}

/// A strict RFC 8259 scanner over bytes. All methods leave `pos` just after what they consumed.
struct JSONScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var pos: Int
    /// Scratch space for strings with escapes; the caller owns (and frees) it.
    var scratch: ScratchBuffer
    static let maxDepth = 256

    init(_ bytes: UnsafeBufferPointer<UInt8>, scratch: ScratchBuffer) {
        self.bytes = bytes
        self.pos = 0
        self.scratch = scratch
    }

    @inline(__always) var atEnd: Bool { pos >= bytes.count }

    @inline(__always) func failure(_ reason: String, at offset: Int? = nil) -> SyntaxFailure {
        SyntaxFailure(offset: offset ?? pos, reason: reason)
    }

    @inline(__always) mutating func skipWhitespace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x0A, 0x0D, 0x09: pos += 1
            default: return
            }
        }
    }

    /// Skips a UTF-8 byte order mark at the very start.
    mutating func skipByteOrderMark() {
        if bytes.count >= 3, pos == 0, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { pos = 3 }
    }

    /// Describes the byte at `pos` for error messages.
    func found() -> String {
        guard pos < bytes.count else { return "end of input" }
        let c = bytes[pos]
        if c >= 0x21, c < 0x7F { return "'\(Character(Unicode.Scalar(c)))'" }
        return "byte 0x\(String(c, radix: 16, uppercase: true))"
    }

    /// The kind of the value starting at `pos` (after whitespace), or a syntax error.
    @inline(__always) func kind() throws(SyntaxFailure) -> JSONKind {
        guard pos < bytes.count else { throw failure("unexpected end of input, expected a value") }
        switch bytes[pos] {
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .boolean
        case UInt8(ascii: "n"): return .null
        default: throw failure("unexpected \(found()), expected a value")
        }
    }

    // MARK: literals

    @inline(__always) mutating func literal(_ text: StaticString) throws(SyntaxFailure) {
        let n = text.utf8CodeUnitCount
        let p = text.utf8Start
        guard pos + n <= bytes.count else { throw failure("invalid literal, expected '\(text)'") }
        for i in 0..<n where bytes[pos + i] != p[i] {
            throw failure("invalid literal, expected '\(text)'")
        }
        pos += n
    }

    mutating func readBool() throws(SyntaxFailure) -> Bool {
        if bytes[pos] == UInt8(ascii: "t") { try literal("true"); return true }
        try literal("false")
        return false
    }

    mutating func readNull() throws(SyntaxFailure) { try literal("null") }

    // MARK: strings

    /// Reads a string starting at the opening quote. The bytes point into the input (no escapes)
    /// or into the scratch buffer (valid until the next string read). `needsValidation` is set
    /// when non-ASCII bytes were copied from the input and UTF-8 validity is not yet known.
    mutating func readStringBytes() throws(SyntaxFailure) -> (bytes: UnsafeBufferPointer<UInt8>, needsValidation: Bool) {
        let b = bytes
        let n = b.count
        pos += 1 // opening quote
        let start = pos
        var nonASCII = false
        // Fast path: no escapes.
        while pos < n {
            let c = b[pos]
            if c == UInt8(ascii: "\"") {
                let span = UnsafeBufferPointer(rebasing: b[start..<pos])
                pos += 1
                return (span, nonASCII)
            }
            if c == UInt8(ascii: "\\") { break }
            if c < 0x20 { throw failure("unescaped control character in string") }
            if c >= 0x80 { nonASCII = true }
            pos += 1
        }
        guard pos < n else { throw failure("unterminated string", at: start - 1) }
        // Slow path: copy what we have, then decode escapes.
        var used = pos - start
        scratch.ensure(max(used + 64, 256), keeping: 0)
        if used > 0 { scratch.base.update(from: b.baseAddress! + start, count: used) }
        while true {
            guard pos < n else { throw failure("unterminated string", at: start - 1) }
            let c = b[pos]
            if c == UInt8(ascii: "\"") { pos += 1; break }
            scratch.ensure(used + 4, keeping: used)
            if c == UInt8(ascii: "\\") {
                pos += 1
                guard pos < n else { throw failure("unterminated string", at: start - 1) }
                let e = b[pos]
                pos += 1
                var out: UInt8
                switch e {
                case UInt8(ascii: "\""): out = 0x22
                case UInt8(ascii: "\\"): out = 0x5C
                case UInt8(ascii: "/"): out = 0x2F
                case UInt8(ascii: "b"): out = 0x08
                case UInt8(ascii: "f"): out = 0x0C
                case UInt8(ascii: "n"): out = 0x0A
                case UInt8(ascii: "r"): out = 0x0D
                case UInt8(ascii: "t"): out = 0x09
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if scalar >= 0xD800, scalar <= 0xDBFF {
                        guard pos + 1 < n, b[pos] == UInt8(ascii: "\\"), b[pos + 1] == UInt8(ascii: "u") else {
                            throw failure("unpaired high surrogate in \\u escape", at: pos - 6)
                        }
                        pos += 2
                        let low = try readHex4()
                        guard low >= 0xDC00, low <= 0xDFFF else {
                            throw failure("high surrogate not followed by a low surrogate", at: pos - 6)
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00, scalar <= 0xDFFF {
                        throw failure("unpaired low surrogate in \\u escape", at: pos - 6)
                    }
                    used = appendUTF8(scalar, at: used)
                    continue
                default:
                    throw failure("invalid escape '\\\(Character(Unicode.Scalar(e)))' in string", at: pos - 2)
                }
                scratch.base[used] = out
                used += 1
            } else {
                if c < 0x20 { throw failure("unescaped control character in string") }
                if c >= 0x80 { nonASCII = true }
                scratch.base[used] = c
                used += 1
                pos += 1
            }
        }
        return (UnsafeBufferPointer(start: scratch.base, count: used), nonASCII)
    }

    @inline(__always) private mutating func readHex4() throws(SyntaxFailure) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw failure("incomplete \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[pos]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c - 48
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c - 87
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c - 55
            default: throw failure("invalid hex digit in \\u escape")
            }
            v = v << 4 | UInt32(d)
            pos += 1
        }
        return v
    }

    @inline(__always) private mutating func appendUTF8(_ scalar: UInt32, at used: Int) -> Int {
        let p = scratch.base + used
        switch scalar {
        case 0..<0x80:
            p[0] = UInt8(scalar)
            return used + 1
        case 0x80..<0x800:
            p[0] = UInt8(0xC0 | (scalar >> 6)); p[1] = UInt8(0x80 | (scalar & 0x3F))
            return used + 2
        case 0x800..<0x10000:
            p[0] = UInt8(0xE0 | (scalar >> 12)); p[1] = UInt8(0x80 | ((scalar >> 6) & 0x3F))
            p[2] = UInt8(0x80 | (scalar & 0x3F))
            return used + 3
        default:
            p[0] = UInt8(0xF0 | (scalar >> 18)); p[1] = UInt8(0x80 | ((scalar >> 12) & 0x3F))
            p[2] = UInt8(0x80 | ((scalar >> 6) & 0x3F)); p[3] = UInt8(0x80 | (scalar & 0x3F))
            return used + 4
        }
    }

    /// Makes a Swift string of bytes read by `readStringBytes`, rejecting invalid UTF-8.
    @inline(__always) func makeString(_ s: (bytes: UnsafeBufferPointer<UInt8>, needsValidation: Bool), at offset: Int) throws(SyntaxFailure) -> String {
        if !s.needsValidation { return String(decoding: s.bytes, as: UTF8.self) }
        guard let string = String(validating: s.bytes, as: UTF8.self) else {
            throw failure("invalid UTF-8 in string", at: offset)
        }
        return string
    }

    mutating func readString() throws(SyntaxFailure) -> String {
        let offset = pos
        let s = try readStringBytes()
        return try makeString(s, at: offset)
    }

    // MARK: numbers

    private static let powersOf10: [Double] = (0...22).map { e in
        var v = 1.0
        for _ in 0..<e { v *= 10 }
        return v
    }

    /// Reads a number (RFC 8259 grammar: no leading zeros, no '+', digits after '.' and 'e').
    mutating func readNumber() throws(SyntaxFailure) -> JSONNumber {
        let b = bytes
        let n = b.count
        let start = pos
        var negative = false
        if b[pos] == UInt8(ascii: "-") {
            negative = true
            pos += 1
        }
        @inline(__always) func digit(_ i: Int) -> UInt64? {
            guard i < n else { return nil }
            let d = b[i] &- 48
            return d < 10 ? UInt64(d) : nil
        }
        guard let first = digit(pos) else { throw failure("invalid number: expected a digit") }
        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        var truncated = false
        var isInteger = true
        if first == 0 {
            pos += 1
            if digit(pos) != nil { throw failure("invalid number: leading zeros are not allowed") }
        } else {
            while let d = digit(pos) {
                if significant < 19 {
                    mantissa = mantissa &* 10 &+ d
                    significant += 1
                } else {
                    exponent += 1
                    if d != 0 { truncated = true }
                }
                pos += 1
            }
        }
        if pos < n, b[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard digit(pos) != nil else { throw failure("invalid number: expected digits after '.'") }
            while let d = digit(pos) {
                if mantissa == 0, d == 0 {
                    exponent -= 1
                } else if significant < 19 {
                    mantissa = mantissa &* 10 &+ d
                    significant += 1
                    exponent -= 1
                } else if d != 0 {
                    truncated = true
                }
                pos += 1
            }
        }
        if pos < n, b[pos] | 0x20 == UInt8(ascii: "e") {
            isInteger = false
            pos += 1
            var exponentNegative = false
            if pos < n, b[pos] == UInt8(ascii: "+") || b[pos] == UInt8(ascii: "-") {
                exponentNegative = b[pos] == UInt8(ascii: "-")
                pos += 1
            }
            guard digit(pos) != nil else { throw failure("invalid number: expected digits in exponent") }
            var e = 0
            while let d = digit(pos) {
                if e < 100_000 { e = e * 10 + Int(d) }
                pos += 1
            }
            exponent += exponentNegative ? -e : e
        }
        var value: Double
        if mantissa == 0 {
            value = 0
        } else if !truncated, mantissa <= 1 << 53, exponent >= -22, exponent <= 22 {
            // Exact: both operands are exact doubles, one correctly rounded operation.
            value = Double(mantissa)
            value = exponent < 0 ? value / Self.powersOf10[-exponent] : value * Self.powersOf10[exponent]
        } else {
            let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<pos]), as: UTF8.self)
            value = Double(text) ?? .nan
            return JSONNumber(value: value, integer: nil)
        }
        if negative { value = -value }
        var integer: Int64?
        if isInteger, !truncated, exponent == 0, significant <= 18 {
            integer = negative ? -Int64(mantissa) : Int64(mantissa)
        }
        return JSONNumber(value: value, integer: integer)
    }

    // MARK: whole values

    /// Skips one value, checking its syntax.
    mutating func skipValue(depth: Int = 0) throws(SyntaxFailure) {
        switch try kind() {
        case .string: _ = try readStringBytes()
        case .number: _ = try readNumber()
        case .boolean: _ = try readBool()
        case .null: try readNull()
        case .array:
            guard depth < Self.maxDepth else { throw failure("nesting too deep") }
            pos += 1
            skipWhitespace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return }
            while true {
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if try endOfArrayElement() { return }
            }
        case .object:
            guard depth < Self.maxDepth else { throw failure("nesting too deep") }
            pos += 1
            skipWhitespace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return }
            while true {
                try memberName()
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if try endOfObjectMember() { return }
            }
        }
    }

    /// After an array element (whitespace skipped): consumes ',' (false, ready for the next value) or ']' (true).
    @inline(__always) mutating func endOfArrayElement() throws(SyntaxFailure) -> Bool {
        guard pos < bytes.count else { throw failure("unexpected end of input, expected ',' or ']'") }
        switch bytes[pos] {
        case UInt8(ascii: ","):
            pos += 1
            skipWhitespace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { throw failure("trailing comma before ']'") }
            return false
        case UInt8(ascii: "]"):
            pos += 1
            return true
        default:
            throw failure("unexpected \(found()), expected ',' or ']'")
        }
    }

    /// After an object member (whitespace skipped): consumes ',' (false) or '}' (true).
    @inline(__always) mutating func endOfObjectMember() throws(SyntaxFailure) -> Bool {
        guard pos < bytes.count else { throw failure("unexpected end of input, expected ',' or '}'") }
        switch bytes[pos] {
        case UInt8(ascii: ","):
            pos += 1
            skipWhitespace()
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { throw failure("trailing comma before '}'") }
            return false
        case UInt8(ascii: "}"):
            pos += 1
            return true
        default:
            throw failure("unexpected \(found()), expected ',' or '}'")
        }
    }

    /// Reads `"name" :` and the whitespace after it; returns the name's bytes (see `readStringBytes`).
    @discardableResult
    @inline(__always) mutating func memberName() throws(SyntaxFailure) -> (bytes: UnsafeBufferPointer<UInt8>, needsValidation: Bool) {
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else {
            throw failure("unexpected \(found()), expected a member name in double quotes")
        }
        let name = try readStringBytes()
        skipWhitespace()
        guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else {
            throw failure("unexpected \(found()), expected ':' after a member name")
        }
        pos += 1
        skipWhitespace()
        return name
    }

    /// Parses one value into a `JSONValue`.
    mutating func readValue(depth: Int = 0) throws(SyntaxFailure) -> JSONValue {
        switch try kind() {
        case .string: return .string(try readString())
        case .number: return .number(try readNumber().value)
        case .boolean: return .bool(try readBool())
        case .null: try readNull(); return .null
        case .array:
            guard depth < Self.maxDepth else { throw failure("nesting too deep") }
            pos += 1
            skipWhitespace()
            var elements: [JSONValue] = []
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(elements) }
            while true {
                elements.append(try readValue(depth: depth + 1))
                skipWhitespace()
                if try endOfArrayElement() { return .array(elements) }
            }
        case .object:
            guard depth < Self.maxDepth else { throw failure("nesting too deep") }
            pos += 1
            skipWhitespace()
            var members: [String: JSONValue] = [:]
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(members) }
            while true {
                let offset = pos
                let nameBytes = try memberName()
                let name = try makeString(nameBytes, at: offset)
                members[name] = try readValue(depth: depth + 1)
                skipWhitespace()
                if try endOfObjectMember() { return .object(members) }
            }
        }
    }

    /// Parses a whole document holding exactly one value (surrounding whitespace allowed).
    static func parseDocument(_ bytes: UnsafeBufferPointer<UInt8>) throws(SyntaxFailure) -> JSONValue {
        var scanner = JSONScanner(bytes, scratch: ScratchBuffer())
        defer { scanner.scratch.deallocate() }
        scanner.skipByteOrderMark()
        scanner.skipWhitespace()
        let value = try scanner.readValue()
        scanner.skipWhitespace()
        guard scanner.atEnd else { throw scanner.failure("unexpected \(scanner.found()) after the value") }
        return value
    }
}
