public import BifocalCore

/// The timing half of measurement: when generated content arrived, relative to when the request did.
///
/// Times are nanoseconds on one monotonic clock (the gateway's `GatewayClock.now`); the caller
/// passes the arrival time of each chunk, so tests drive it with exact instants.
///
/// - TTFT: request received -> the first chunk that carries generated content.
/// - ITL: the gap between consecutive content chunks (the first `maxGaps` kept one by one; mean and
///   maximum over all of them).
/// - e2e: request received -> the end of the upstream's response.
public struct TokenTimer: Sendable, Hashable {
    /// When the request was received.
    public let start: Int64
    /// Gaps kept one by one at most.
    public let maxGaps: Int
    /// When the first content chunk arrived.
    public private(set) var firstContent: Int64?
    /// When the latest content chunk arrived.
    public private(set) var lastContent: Int64?
    /// Content chunks seen.
    public private(set) var contentChunks = 0
    /// The first `maxGaps` gaps, in nanoseconds.
    public private(set) var gaps: [Int64] = []
    /// All gaps: how many, their sum and the largest, in nanoseconds.
    public private(set) var gapCount = 0
    private var gapSum: Int64 = 0
    private var gapMax: Int64 = 0

    /// Starts timing a request received at `start` (nanoseconds).
    public init(start: Int64, maxGaps: Int = 16_384) {
        self.start = start
        self.maxGaps = maxGaps
    }

    /// Notes a chunk carrying generated content that arrived at `time`.
    public mutating func content(at time: Int64) {
        contentChunks += 1
        if let lastContent {
            let gap = max(0, time - lastContent)
            if gaps.count < maxGaps {
                if gaps.isEmpty { gaps.reserveCapacity(64) }
                gaps.append(gap)
            }
            gapCount += 1
            gapSum += gap
            gapMax = max(gapMax, gap)
        } else {
            firstContent = time
        }
        lastContent = time
    }

    /// Writes TTFT, ITL and e2e (milliseconds) into a record, for a response that ended at `end`.
    public func fill(_ record: inout InferenceRecord, end: Int64) {
        let e2e = max(0, end - start)
        record.e2eMs = Self.ms(e2e)
        if let firstContent { record.ttftMs = Self.ms(min(max(0, firstContent - start), e2e)) }
        if !gaps.isEmpty {
            record.itlMs = gaps.map(Self.ms)
            record.itlMeanMs = Self.ms(gapSum) / Double(gapCount)
            record.itlMaxMs = Self.ms(gapMax)
        }
    }

    @inline(__always) static func ms(_ nanos: Int64) -> Double { Double(nanos) / 1_000_000 }
}

/// What one response told about tokens, the model and how it ended.
struct ResponseFacts {
    var inputTokens: Int?
    var outputTokens: Int?
    var model: String?
    var finishReason: String?
    /// An error the body reported (in-stream error events, error bodies).
    var error: String?
    /// The generated text, when capturing.
    var text: [UInt8] = []
    var textLimit = 0

    mutating func appendText(_ bytes: UnsafeRawBufferPointer, escaped: Bool) {
        guard text.count < textLimit else { return }
        if escaped {
            let decoded = JSONReader.unescape(bytes)
            text.append(contentsOf: decoded.utf8.prefix(textLimit - text.count))
        } else {
            text.append(contentsOf: bytes.prefix(textLimit - text.count))
        }
    }

    /// Reads a `usage` object (OpenAI's `prompt_tokens`/`completion_tokens`, the Responses API's
    /// `input_tokens`/`output_tokens`).
    mutating func readUsage(_ r: inout JSONReader) {
        guard r.beginObject() else { r.skipValue(); return }
        while let key = r.nextKey() {
            if r.key(key, is: "prompt_tokens") || r.key(key, is: "input_tokens") {
                inputTokens = r.int() ?? inputTokens
            } else if r.key(key, is: "completion_tokens") || r.key(key, is: "output_tokens") {
                outputTokens = r.int() ?? outputTokens
            } else {
                r.skipValue()
            }
        }
    }

    /// Reads an error: a string, or an object's `message`.
    mutating func readError(_ r: inout JSONReader) {
        r.skipWhitespace()
        if r.peek() == UInt8(ascii: "\"") {
            error = r.string()
            return
        }
        guard r.peek() == UInt8(ascii: "{"), r.beginObject() else { r.skipValue(); return }
        var message: String?
        var code: String?
        while let key = r.nextKey() {
            if r.key(key, is: "message") { message = r.string() }
            else if r.key(key, is: "code") || r.key(key, is: "type") {
                r.skipWhitespace()
                if r.peek() == UInt8(ascii: "\"") { code = code ?? r.string() } else { r.skipValue() }
            } else { r.skipValue() }
        }
        error = message ?? code ?? "error"
    }
}

/// Which OpenAI-compatible operation a request is: it decides how chunks and bodies are read.
public enum OpenAIOperation: String, Sendable, Hashable, CaseIterable {
    /// `POST /v1/chat/completions`.
    case chat
    /// `POST /v1/completions`.
    case textCompletion = "text_completion"
    /// `POST /v1/embeddings`.
    case embeddings
    /// `POST /v1/responses`.
    case responses

    /// The request path.
    public var path: String {
        switch self {
        case .chat: "/v1/chat/completions"
        case .textCompletion: "/v1/completions"
        case .embeddings: "/v1/embeddings"
        case .responses: "/v1/responses"
        }
    }

    /// Whether a streamed answer can be asked for usage with `stream_options.include_usage`.
    var acceptsStreamOptions: Bool { self == .chat || self == .textCompletion }
}

/// What one streamed event (a chat/completions chunk or a Responses API event) carried.
struct ChunkReading {
    /// It carried generated content (text, reasoning, refusal, tool-call fragments).
    var content = false
    /// The top-level `usage` member: its bytes (from the key's opening quote to the value's end) and
    /// whether its value is null.
    var usageMember: Range<Int>?
    var usageIsNull = false
    /// Number of `choices` entries (nil when there was no `choices`).
    var choices: Int?

    /// Reads a chat or text completion chunk, updating `facts`.
    static func chat(_ bytes: UnsafeRawBufferPointer, facts: inout ResponseFacts, capturing: Bool) -> ChunkReading {
        var reading = ChunkReading()
        var r = JSONReader(bytes)
        guard r.beginObject() else { return reading }
        while let key = r.nextKey() {
            if r.key(key, is: "choices") {
                guard r.beginArray() else { break }
                var count = 0
                while r.nextElement() {
                    count += 1
                    readChoice(&r, into: &reading, facts: &facts, capturing: capturing)
                }
                reading.choices = count
            } else if r.key(key, is: "usage") {
                let memberStart = key.lowerBound - 1
                if r.null() {
                    reading.usageIsNull = true
                } else {
                    facts.readUsage(&r)
                }
                reading.usageMember = memberStart..<r.index
            } else if r.key(key, is: "model") {
                if facts.model == nil { facts.model = r.string() } else { r.skipValue() }
            } else if r.key(key, is: "error") {
                facts.readError(&r)
            } else {
                r.skipValue()
            }
            if r.failed { break }
        }
        return reading
    }

    private static func readChoice(_ r: inout JSONReader, into reading: inout ChunkReading, facts: inout ResponseFacts, capturing: Bool) {
        guard r.beginObject() else { r.skipValue(); return }
        while let key = r.nextKey() {
            if r.key(key, is: "delta") {
                guard r.beginObject() else { r.skipValue(); continue }
                while let field = r.nextKey() {
                    if r.key(field, is: "content") || r.key(field, is: "reasoning_content") || r.key(field, is: "reasoning")
                        || r.key(field, is: "refusal") {
                        let isAnswer = r.key(field, is: "content")
                        r.skipWhitespace()
                        if r.peek() == UInt8(ascii: "\""), let (range, escaped) = r.stringRange() {
                            if !range.isEmpty {
                                reading.content = true
                                if capturing && isAnswer {
                                    facts.appendText(UnsafeRawBufferPointer(rebasing: r.bytes[range]), escaped: escaped)
                                }
                            }
                        } else {
                            r.skipValue()
                        }
                    } else if r.key(field, is: "tool_calls") || r.key(field, is: "function_call") {
                        r.skipWhitespace()
                        let c = r.peek()
                        let range = r.valueRange()
                        // A tool call's name and argument fragments are generated tokens.
                        if c == UInt8(ascii: "{") || (c == UInt8(ascii: "[") && range.count > 2) { reading.content = true }
                    } else {
                        r.skipValue()
                    }
                }
            } else if r.key(key, is: "text") {
                // Text completions: `choices[].text`.
                r.skipWhitespace()
                if r.peek() == UInt8(ascii: "\""), let (range, escaped) = r.stringRange() {
                    if !range.isEmpty {
                        reading.content = true
                        if capturing { facts.appendText(UnsafeRawBufferPointer(rebasing: r.bytes[range]), escaped: escaped) }
                    }
                } else {
                    r.skipValue()
                }
            } else if r.key(key, is: "finish_reason") {
                r.skipWhitespace()
                if r.peek() == UInt8(ascii: "\"") { facts.finishReason = r.string() } else { r.skipValue() }
            } else {
                r.skipValue()
            }
        }
    }

    /// Reads a Responses API event (`{"type":"response.output_text.delta","delta":"..."}`, ...).
    static func responses(_ bytes: UnsafeRawBufferPointer, facts: inout ResponseFacts, capturing: Bool) -> ChunkReading {
        var reading = ChunkReading()
        var r = JSONReader(bytes)
        guard r.beginObject() else { return reading }
        var type: Range<Int>?
        var delta: (Range<Int>, Bool)?
        var responseObject: Range<Int>?
        var message: String?
        while let key = r.nextKey() {
            if r.key(key, is: "type") {
                r.skipWhitespace()
                if r.peek() == UInt8(ascii: "\"") { type = r.stringRange()?.range } else { r.skipValue() }
            } else if r.key(key, is: "delta") {
                r.skipWhitespace()
                if r.peek() == UInt8(ascii: "\"") { delta = r.stringRange() } else { r.skipValue() }
            } else if r.key(key, is: "response") {
                responseObject = r.valueRange()
            } else if r.key(key, is: "message") {
                message = r.string()
            } else {
                r.skipValue()
            }
            if r.failed { break }
        }
        guard let type else { return reading }
        let name = UnsafeRawBufferPointer(rebasing: bytes[type])
        if name.count > 6, Self.hasSuffix(name, ".delta"), let (range, escaped) = delta, !range.isEmpty {
            reading.content = true
            if capturing && Self.equals(name, "response.output_text.delta") {
                facts.appendText(UnsafeRawBufferPointer(rebasing: bytes[range]), escaped: escaped)
            }
        } else if let responseObject {
            // response.created / .in_progress / .completed / .incomplete / .failed carry the response
            // object; the final ones carry its usage.
            var inner = JSONReader(bytes, at: responseObject.lowerBound)
            readResponseObject(&inner, facts: &facts, capturing: false)
        } else if Self.equals(name, "error") {
            facts.error = message ?? "error"
        }
        return reading
    }

    /// Reads a Responses API `response` object: model, usage, status, error, and (when capturing) output text.
    static func readResponseObject(_ r: inout JSONReader, facts: inout ResponseFacts, capturing: Bool) {
        guard r.beginObject() else { return }
        var incompleteReason: String?
        var status: String?
        while let key = r.nextKey() {
            if r.key(key, is: "model") {
                facts.model = r.string() ?? facts.model
            } else if r.key(key, is: "usage") {
                if !r.null() { facts.readUsage(&r) }
            } else if r.key(key, is: "status") {
                status = r.string()
            } else if r.key(key, is: "incomplete_details") {
                if r.null() { continue }
                guard r.beginObject() else { r.skipValue(); continue }
                while let k = r.nextKey() {
                    if r.key(k, is: "reason") { incompleteReason = r.string() } else { r.skipValue() }
                }
            } else if r.key(key, is: "error") {
                if !r.null() { facts.readError(&r) }
            } else if capturing && r.key(key, is: "output") {
                readOutputText(&r, facts: &facts)
            } else {
                r.skipValue()
            }
            if r.failed { break }
        }
        if let status, status != "in_progress", status != "queued" {
            facts.finishReason = incompleteReason ?? status
        }
    }

    /// `output: [{"type":"message","content":[{"type":"output_text","text":"..."}]}]`.
    private static func readOutputText(_ r: inout JSONReader, facts: inout ResponseFacts) {
        guard r.beginArray() else { r.skipValue(); return }
        while r.nextElement() {
            guard r.beginObject() else { r.skipValue(); continue }
            while let key = r.nextKey() {
                guard r.key(key, is: "content") else { r.skipValue(); continue }
                guard r.beginArray() else { r.skipValue(); continue }
                while r.nextElement() {
                    guard r.beginObject() else { r.skipValue(); continue }
                    while let k = r.nextKey() {
                        if r.key(k, is: "text") {
                            r.skipWhitespace()
                            if r.peek() == UInt8(ascii: "\""), let (range, escaped) = r.stringRange() {
                                facts.appendText(UnsafeRawBufferPointer(rebasing: r.bytes[range]), escaped: escaped)
                            } else { r.skipValue() }
                        } else { r.skipValue() }
                    }
                }
            }
        }
    }

    static func hasSuffix(_ bytes: UnsafeRawBufferPointer, _ suffix: StaticString) -> Bool {
        let n = suffix.utf8CodeUnitCount
        guard bytes.count >= n else { return false }
        for k in 0..<n where bytes[bytes.count - n + k] != suffix.utf8Start[k] { return false }
        return true
    }

    static func equals(_ bytes: UnsafeRawBufferPointer, _ word: StaticString) -> Bool {
        bytes.count == word.utf8CodeUnitCount && hasSuffix(bytes, word)
    }
}

/// Reads a complete (non-streamed) response body: usage, model, finish reason, error, text.
enum BodyReading {
    static func read(_ bytes: UnsafeRawBufferPointer, operation: OpenAIOperation, facts: inout ResponseFacts, capturing: Bool) {
        if operation == .responses {
            var r = JSONReader(bytes)
            ChunkReading.readResponseObject(&r, facts: &facts, capturing: capturing)
            return
        }
        var r = JSONReader(bytes)
        guard r.beginObject() else { return }
        var topMessage: String?
        while let key = r.nextKey() {
            if r.key(key, is: "usage") {
                if !r.null() { facts.readUsage(&r) }
            } else if r.key(key, is: "model") {
                facts.model = r.string()
            } else if r.key(key, is: "choices") {
                guard r.beginArray() else { break }
                var first = true
                while r.nextElement() {
                    readChoice(&r, facts: &facts, capturing: capturing && first)
                    first = false
                }
            } else if r.key(key, is: "error") {
                facts.readError(&r)
            } else if r.key(key, is: "message") || r.key(key, is: "detail") {
                // vLLM's `{"object":"error","message":...}`, FastAPI's `{"detail":...}`.
                r.skipWhitespace()
                if r.peek() == UInt8(ascii: "\"") { topMessage = r.string() } else { r.skipValue() }
            } else {
                r.skipValue()
            }
            if r.failed { break }
        }
        if facts.error == nil, let topMessage { facts.error = topMessage }
    }

    private static func readChoice(_ r: inout JSONReader, facts: inout ResponseFacts, capturing: Bool) {
        guard r.beginObject() else { r.skipValue(); return }
        while let key = r.nextKey() {
            if r.key(key, is: "finish_reason") {
                r.skipWhitespace()
                if r.peek() == UInt8(ascii: "\""), facts.finishReason == nil { facts.finishReason = r.string() } else { r.skipValue() }
            } else if capturing && r.key(key, is: "text") {
                r.skipWhitespace()
                if r.peek() == UInt8(ascii: "\""), let (range, escaped) = r.stringRange() {
                    facts.appendText(UnsafeRawBufferPointer(rebasing: r.bytes[range]), escaped: escaped)
                } else { r.skipValue() }
            } else if capturing && r.key(key, is: "message") {
                guard r.beginObject() else { r.skipValue(); continue }
                while let k = r.nextKey() {
                    if r.key(k, is: "content") {
                        r.skipWhitespace()
                        if r.peek() == UInt8(ascii: "\""), let (range, escaped) = r.stringRange() {
                            facts.appendText(UnsafeRawBufferPointer(rebasing: r.bytes[range]), escaped: escaped)
                        } else { r.skipValue() }
                    } else if r.key(k, is: "tool_calls"), facts.text.isEmpty {
                        let range = r.valueRange()
                        facts.appendText(UnsafeRawBufferPointer(rebasing: r.bytes[range]), escaped: false)
                    } else { r.skipValue() }
                }
            } else {
                r.skipValue()
            }
        }
    }

    /// Finds `"usage": {...}` in the last bytes of a body too large to keep whole, and reads it.
    static func readUsageInTail(_ bytes: UnsafeRawBufferPointer, facts: inout ResponseFacts) {
        let needle: [UInt8] = Array("\"usage\"".utf8)
        var i = bytes.count - needle.count
        while i >= 0 {
            if bytes[i] == needle[0] {
                var match = true
                for k in 1..<needle.count where bytes[i + k] != needle[k] { match = false; break }
                if match {
                    var r = JSONReader(bytes, at: i + needle.count)
                    r.skipWhitespace()
                    if r.peek() == UInt8(ascii: ":") {
                        r.index += 1
                        r.skipWhitespace()
                        if r.peek() == UInt8(ascii: "{") {
                            facts.readUsage(&r)
                            return
                        }
                    }
                }
            }
            i -= 1
        }
    }
}
