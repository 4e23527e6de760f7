import NIOCore

/// What the gateway needs from a client's request body, read in one pass without decoding it.
struct RequestInspection {
    /// The `model` member.
    var model: String?
    /// `stream: true`.
    var stream = false
    /// `stream_options.include_usage`: nil when absent.
    var includeUsage: Bool?
    /// Where to edit the body to ask for usage (see `askingForUsage`).
    private var streamOptionsValue: Range<Int>?
    private var includeUsageValue: Range<Int>?
    private var streamOptionsOther: Range<Int>?
    private var objectStart: Int?
    /// Whether the body is a JSON object at all.
    var isObject = false

    init(_ body: ByteBuffer) {
        body.withUnsafeReadableBytes { bytes in
            var r = JSONReader(bytes)
            r.skipWhitespace()
            objectStart = r.index
            guard r.beginObject() else { return }
            isObject = true
            while let key = r.nextKey() {
                if r.key(key, is: "model") {
                    model = r.string()
                } else if r.key(key, is: "stream") {
                    stream = r.bool() ?? false
                } else if r.key(key, is: "stream_options") {
                    r.skipWhitespace()
                    let start = r.index
                    if r.peek() == UInt8(ascii: "{"), r.beginObject() {
                        while let option = r.nextKey() {
                            if r.key(option, is: "include_usage") {
                                r.skipWhitespace()
                                let valueStart = r.index
                                includeUsage = r.bool()
                                includeUsageValue = valueStart..<r.index
                            } else {
                                r.skipValue()
                            }
                        }
                        streamOptionsValue = start..<r.index
                    } else {
                        r.skipValue()
                        streamOptionsOther = start..<r.index  // `null` or something odd: replaced whole
                    }
                } else {
                    r.skipValue()
                }
                if r.failed { break }
            }
            if r.failed { isObject = false }
        }
    }

    /// The body with `stream_options.include_usage` set to true: added after the object's `{`
    /// (or inside an existing `stream_options`), or an explicit `false` turned to `true`.
    /// Every other byte stays as the client sent it.
    func askingForUsage(_ body: ByteBuffer) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(body.readableBytes + 40)
        let bytes = body.readableBytesView
        let base = bytes.startIndex
        if let value = streamOptionsOther {
            out.writeBytes(bytes[base..<(base + value.lowerBound)])
            out.writeString("{\"include_usage\":true}")
            out.writeBytes(bytes[(base + value.upperBound)...])
        } else if let value = includeUsageValue {
            out.writeBytes(bytes[base..<(base + value.lowerBound)])
            out.writeString("true")
            out.writeBytes(bytes[(base + value.upperBound)...])
        } else if let options = streamOptionsValue {
            // `"stream_options":{` ... : insert the member right after its brace.
            var brace = options.lowerBound
            while bytes[base + brace] != UInt8(ascii: "{") { brace += 1 }
            var next = brace + 1
            while next < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[base + next]) { next += 1 }
            let empty = next < bytes.count && bytes[base + next] == UInt8(ascii: "}")
            out.writeBytes(bytes[base...(base + brace)])
            out.writeString(empty ? "\"include_usage\":true" : "\"include_usage\":true,")
            out.writeBytes(bytes[(base + brace + 1)...])
        } else if let objectStart {
            var next = objectStart + 1
            while next < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[base + next]) { next += 1 }
            let empty = next < bytes.count && bytes[base + next] == UInt8(ascii: "}")
            out.writeBytes(bytes[base...(base + objectStart)])
            out.writeString(empty ? "\"stream_options\":{\"include_usage\":true}" : "\"stream_options\":{\"include_usage\":true},")
            out.writeBytes(bytes[(base + objectStart + 1)...])
        } else {
            return body
        }
        return out
    }
}

/// The prompt of a request as text, for quality work: chat messages as `role: text` lines (just
/// the text when there is one message), a completion's prompt, an embedding's input, a Responses
/// API `instructions` and `input`. Only sampled requests pay for this.
enum PromptText {
    static func render(_ body: ByteBuffer, operation: OpenAIOperation, limit: Int) -> String? {
        body.withUnsafeReadableBytes { bytes -> String? in
            var r = JSONReader(bytes)
            guard r.beginObject() else { return nil }
            var parts: [(role: String?, text: String)] = []
            var total = 0
            func add(_ role: String?, _ text: String) {
                guard total < limit * 2 else { return }
                total += text.utf8.count
                parts.append((role, text))
            }
            while let key = r.nextKey() {
                switch operation {
                case .chat where r.key(key, is: "messages"), .responses where r.key(key, is: "input"):
                    r.skipWhitespace()
                    if r.peek() == UInt8(ascii: "\"") {
                        if let s = r.string() { add(nil, s) }
                        continue
                    }
                    guard r.beginArray() else { r.skipValue(); continue }
                    while r.nextElement() {
                        guard r.beginObject() else { r.skipValue(); continue }
                        var role: String?
                        var text = ""
                        while let k = r.nextKey() {
                            if r.key(k, is: "role") { role = r.string() }
                            else if r.key(k, is: "content") { text = contentText(&r) }
                            else { r.skipValue() }
                        }
                        add(role, text)
                    }
                case .responses where r.key(key, is: "instructions"):
                    if let s = r.string() { add("system", s) }
                case .textCompletion where r.key(key, is: "prompt"), .embeddings where r.key(key, is: "input"):
                    r.skipWhitespace()
                    if r.peek() == UInt8(ascii: "\"") {
                        if let s = r.string() { add(nil, s) }
                    } else if r.peek() == UInt8(ascii: "["), r.beginArray() {
                        while r.nextElement() {
                            r.skipWhitespace()
                            if r.peek() == UInt8(ascii: "\""), let s = r.string() { add(nil, s) } else { r.skipValue() }
                        }
                    } else {
                        r.skipValue()
                    }
                default:
                    r.skipValue()
                }
                if r.failed { break }
            }
            if parts.isEmpty { return nil }
            if parts.count == 1 { return parts[0].text }
            return parts.map { "\($0.role ?? "user"): \($0.text)" }.joined(separator: "\n")
        }
    }

    /// A message's content: a string, or the `text` of its parts.
    private static func contentText(_ r: inout JSONReader) -> String {
        r.skipWhitespace()
        if r.peek() == UInt8(ascii: "\"") { return r.string() ?? "" }
        guard r.peek() == UInt8(ascii: "["), r.beginArray() else { r.skipValue(); return "" }
        var texts: [String] = []
        while r.nextElement() {
            guard r.beginObject() else { r.skipValue(); continue }
            while let k = r.nextKey() {
                if r.key(k, is: "text") { if let s = r.string() { texts.append(s) } } else { r.skipValue() }
            }
        }
        return texts.joined(separator: "\n")
    }
}

/// Cuts text to at most `limit` UTF-8 bytes, at a character boundary.
func clipped(_ text: String, _ limit: Int) -> String {
    guard text.utf8.count > limit else { return text }
    var copy = text
    return copy.withUTF8 { b in
        var n = limit
        while n > 0, b[n] & 0xC0 == 0x80 { n -= 1 }  // not inside a multi-byte character
        return String(decoding: UnsafeBufferPointer(rebasing: b[0..<n]), as: UTF8.self)
    }
}
