public import BifocalCore
public import NIOCore

/// What the gateway reads out of SageMaker request and response payloads: SageMaker passes bodies
/// through opaquely, so the shape depends on the container. Understood here:
///
/// - OpenAI chat/completions JSON (LMI's and vLLM's OpenAI-compatible handlers, TGI's Messages API),
///   streamed as SSE `data:` lines;
/// - TGI/LMI `{"inputs": ..., "parameters": {...}}`, answered with `[{"generated_text": ...}]` or
///   `{"generated_text": ..., "details": {"generated_tokens": N, "finish_reason": ...}}`, streamed as
///   `data:{"token":{"text":...,"special":false},"generated_text":null,"details":null}` lines (TGI) or
///   JSON lines `{"token": {"text": ...}}` (LMI `jsonlines`);
/// - anything else streamed as plain text (every non-empty piece counts as content).
public enum SageMakerPayload {
    /// The request formats told apart.
    public enum RequestFormat: String, Sendable, Hashable {
        /// `{"messages": [...]}`.
        case openAIChat = "openai_chat"
        /// `{"prompt": ...}`.
        case openAICompletion = "openai_completion"
        /// `{"inputs": ..., "parameters": {...}}`.
        case tgi
        /// Not JSON, or JSON of another shape (CSV, images, custom handlers).
        case other
    }

    /// An integer value. (`JSONReader.int()` marks the reader failed when a `,` or `}` follows the
    /// number, which would end the member loops here early; this reads the value's bytes instead.)
    static func intValue(_ r: inout JSONReader) -> Int? {
        let range = r.valueRange()
        var value = 0
        var digits = 0
        var negative = false
        for i in range {
            let c = r.bytes[i]
            if i == range.lowerBound && c == UInt8(ascii: "-") { negative = true; continue }
            guard c >= 48 && c <= 57 else { break }
            guard digits < 18 else { return nil }
            value = value * 10 + Int(c - 48)
            digits += 1
        }
        return digits > 0 ? (negative ? -value : value) : nil
    }

    /// What a request body asks for.
    public struct Request: Sendable, Hashable {
        /// The body's shape.
        public var format: RequestFormat = .other
        /// `model`, when the body names one.
        public var model: String?
        /// `stream: true` (top level, as OpenAI, TGI and LMI put it).
        public var stream = false
        /// `max_tokens`, `max_completion_tokens` or `parameters.max_new_tokens`.
        public var maxTokens: Int?
        /// The prompt as text, when asked for (`inputs`, or what the OpenAI prompt renderer makes of it).
        public var prompt: String?
    }

    /// Reads a request body; renders the prompt (up to about `promptLimit` bytes) only when one is given.
    public static func inspectRequest(_ body: ByteBuffer, promptLimit: Int? = nil) -> Request {
        var request = Request()
        var inputs: [String] = []
        body.withUnsafeReadableBytes { bytes in
            var r = JSONReader(bytes)
            guard r.beginObject() else { return }
            var sawInputs = false
            while let key = r.nextKey() {
                if r.key(key, is: "model") {
                    request.model = r.string()
                } else if r.key(key, is: "stream") {
                    request.stream = r.bool() ?? false
                } else if r.key(key, is: "messages") {
                    request.format = .openAIChat
                    r.skipValue()
                } else if r.key(key, is: "prompt") {
                    if request.format == .other { request.format = .openAICompletion }
                    r.skipValue()
                } else if r.key(key, is: "max_tokens") || r.key(key, is: "max_completion_tokens") {
                    request.maxTokens = intValue(&r)
                } else if r.key(key, is: "inputs") {
                    sawInputs = true
                    r.skipWhitespace()
                    if r.peek() == UInt8(ascii: "\"") {
                        if let s = r.string() { inputs.append(s) }
                    } else if r.peek() == UInt8(ascii: "["), r.beginArray() {
                        while r.nextElement() {
                            r.skipWhitespace()
                            if r.peek() == UInt8(ascii: "\""), let s = r.string() { inputs.append(s) } else { r.skipValue() }
                        }
                    } else {
                        r.skipValue()
                    }
                } else if r.key(key, is: "parameters") {
                    guard r.beginObject() else { r.skipValue(); continue }
                    while let p = r.nextKey() {
                        if r.key(p, is: "max_new_tokens") { request.maxTokens = intValue(&r) } else { r.skipValue() }
                    }
                } else {
                    r.skipValue()
                }
                if r.failed { break }
            }
            if sawInputs && request.format == .other { request.format = .tgi }
        }
        if let promptLimit {
            switch request.format {
            case .openAIChat: request.prompt = PromptText.render(body, operation: .chat, limit: promptLimit)
            case .openAICompletion: request.prompt = PromptText.render(body, operation: .textCompletion, limit: promptLimit)
            case .tgi: request.prompt = inputs.isEmpty ? nil : clipped(inputs.joined(separator: "\n"), promptLimit * 2)
            case .other: break
            }
        }
        return request
    }

    /// What one streamed event (an SSE `data:` value or a JSON line) carried.
    public struct Event: Sendable, Hashable {
        /// It carried generated content: a non-empty OpenAI delta/text, or a TGI/LMI token that is not special.
        public var content = false
        /// The generated text it carried (unescaped), when `content`.
        public var text: String?
        /// A TGI/LMI token event (one event is one generated token).
        public var isToken = false
        /// OpenAI `usage`.
        public var inputTokens: Int?
        /// OpenAI `usage.completion_tokens`, or TGI/LMI `details.generated_tokens`.
        public var outputTokens: Int?
        /// `finish_reason` (OpenAI choice, or TGI/LMI `details`).
        public var finishReason: String?
        /// `model`.
        public var model: String?
        /// An error the event reported (`{"error": ...}`).
        public var error: String?
    }

    /// Reads one event's JSON (without the `data:` prefix).
    public static func readEvent(_ json: [UInt8]) -> Event {
        json.withUnsafeBytes { readEvent($0, capturing: true).event }
    }

    /// Reads one event; the text is decoded only when `capturing`.
    static func readEvent(_ bytes: UnsafeRawBufferPointer, capturing: Bool) -> (event: Event, openAI: Bool) {
        var event = Event()
        var r = JSONReader(bytes)
        guard r.beginObject() else { return (event, false) }
        var isOpenAI = false
        var generatedText: String?
        while let key = r.nextKey() {
            if r.key(key, is: "choices") || r.key(key, is: "object") {
                isOpenAI = true
                break
            } else if r.key(key, is: "token") {
                event.isToken = true
                guard r.beginObject() else { r.skipValue(); continue }
                var special = false
                var text: String?
                var nonEmpty = false
                while let k = r.nextKey() {
                    if r.key(k, is: "text") {
                        r.skipWhitespace()
                        if r.peek() == UInt8(ascii: "\""), let (range, escaped) = r.stringRange() {
                            nonEmpty = !range.isEmpty
                            if capturing && nonEmpty { text = r.decode(range, escaped: escaped) }
                        } else { r.skipValue() }
                    } else if r.key(k, is: "special") {
                        special = r.bool() ?? false
                    } else { r.skipValue() }
                }
                if nonEmpty && !special { event.content = true; event.text = text }
            } else if r.key(key, is: "generated_text") {
                generatedText = r.string()
            } else if r.key(key, is: "details") {
                readDetails(&r, into: &event)
            } else if r.key(key, is: "error") {
                r.skipWhitespace()
                if r.peek() == UInt8(ascii: "\"") { event.error = r.string() } else if r.null() { } else {
                    var facts = ResponseFacts()
                    facts.readError(&r)
                    event.error = facts.error
                }
            } else if r.key(key, is: "model") {
                event.model = r.string()
            } else {
                r.skipValue()
            }
            if r.failed { break }
        }
        if isOpenAI {
            var facts = ResponseFacts()
            facts.textLimit = capturing ? Int.max : 0
            let reading = ChunkReading.chat(bytes, facts: &facts, capturing: capturing)
            var e = Event()
            e.content = reading.content
            if capturing && reading.content && !facts.text.isEmpty { e.text = String(decoding: facts.text, as: UTF8.self) }
            e.inputTokens = facts.inputTokens
            e.outputTokens = facts.outputTokens
            e.finishReason = facts.finishReason
            e.model = facts.model
            e.error = facts.error
            return (e, true)
        }
        // A final `generated_text` without a token (LMI's last line, or a whole answer) is content
        // only when no token came with it: with a token it repeats what the tokens said.
        if !event.isToken, let generatedText, !generatedText.isEmpty {
            event.content = true
            event.text = capturing ? generatedText : nil
        }
        return (event, false)
    }

    /// TGI/LMI `details`: `generated_tokens`, `finish_reason`, and `prefill` (the prompt's tokens, when asked for).
    static func readDetails(_ r: inout JSONReader, into event: inout Event) {
        r.skipWhitespace()
        guard r.peek() == UInt8(ascii: "{"), r.beginObject() else { r.skipValue(); return }
        while let k = r.nextKey() {
            if r.key(k, is: "generated_tokens") {
                event.outputTokens = intValue(&r)
            } else if r.key(k, is: "finish_reason") {
                event.finishReason = r.string()
            } else if r.key(k, is: "prefill") {
                guard r.beginArray() else { r.skipValue(); continue }
                var n = 0
                while r.nextElement() { n += 1; r.skipValue() }
                if n > 0 { event.inputTokens = n }
            } else {
                r.skipValue()
            }
        }
    }

    /// What a whole (non-streamed) response body said.
    public struct Body: Sendable, Hashable {
        /// Prompt tokens (OpenAI `usage`, TGI `details.prefill`).
        public var inputTokens: Int?
        /// Generated tokens (OpenAI `usage`, TGI/LMI `details.generated_tokens`).
        public var outputTokens: Int?
        /// Why generation stopped.
        public var finishReason: String?
        /// The model the body names.
        public var model: String?
        /// The generated text (first choice, or every `generated_text` joined).
        public var text: String?
        /// An error the body reported.
        public var error: String?
        /// Whether the body carried generated content at all.
        public var content = false
    }

    /// Reads a whole response body: an OpenAI completion, `{"generated_text": ...}` or a list of them.
    public static func readBody(_ bytes: UnsafeRawBufferPointer, capturing: Bool) -> Body {
        var body = Body()
        var r = JSONReader(bytes)
        r.skipWhitespace()
        if r.peek() == UInt8(ascii: "[") {
            guard r.beginArray() else { return body }
            var texts: [String] = []
            while r.nextElement() {
                let start = r.index
                r.skipValue()
                let element = UnsafeRawBufferPointer(rebasing: bytes[start..<r.index])
                let (e, _) = readEvent(element, capturing: true)
                if e.content, let t = e.text { texts.append(t) }
                body.content = body.content || e.content
                if let n = e.outputTokens { body.outputTokens = (body.outputTokens ?? 0) + n }
                if let n = e.inputTokens { body.inputTokens = (body.inputTokens ?? 0) + n }
                body.finishReason = body.finishReason ?? e.finishReason
                body.error = body.error ?? e.error
                if r.failed { break }
            }
            if capturing && !texts.isEmpty { body.text = texts.joined(separator: "\n") }
            return body
        }
        let (e, openAI) = readEvent(bytes, capturing: capturing)
        if openAI {
            var facts = ResponseFacts()
            facts.textLimit = capturing ? Int.max : 0
            BodyReading.read(bytes, operation: .chat, facts: &facts, capturing: capturing)
            body.inputTokens = facts.inputTokens
            body.outputTokens = facts.outputTokens
            body.finishReason = facts.finishReason
            body.model = facts.model
            body.error = facts.error
            body.content = facts.outputTokens.map { $0 > 0 } ?? true
            if capturing && !facts.text.isEmpty { body.text = String(decoding: facts.text, as: UTF8.self) }
            return body
        }
        body.inputTokens = e.inputTokens
        body.outputTokens = e.outputTokens
        body.finishReason = e.finishReason
        body.model = e.model
        body.error = e.error
        body.content = e.content
        body.text = e.text
        return body
    }

    /// `ModelError` (HTTP 424 from the runtime API): `{"ErrorCode": ..., "OriginalStatusCode": 500,
    /// "OriginalMessage": ..., "Message": ..., "LogStreamArn": ...}`.
    public struct ModelError: Sendable, Hashable {
        /// The status code the model container answered with.
        public var originalStatusCode: Int?
        /// The SageMaker message (or the container's, when that is all there is).
        public var message: String?
        /// `ErrorCode`, when given.
        public var errorCode: String?
    }

    /// Reads a SageMaker runtime error body (`ModelError` and the others: `{"message": ...}`).
    public static func readModelError(_ bytes: UnsafeRawBufferPointer) -> ModelError {
        var error = ModelError()
        var r = JSONReader(bytes)
        guard r.beginObject() else { return error }
        var original: String?
        while let key = r.nextKey() {
            if r.key(key, is: "OriginalStatusCode") {
                error.originalStatusCode = intValue(&r)
            } else if r.key(key, is: "Message") || r.key(key, is: "message") {
                error.message = r.string()
            } else if r.key(key, is: "OriginalMessage") {
                original = r.string()
            } else if r.key(key, is: "ErrorCode") {
                error.errorCode = r.string()
            } else {
                r.skipValue()
            }
            if r.failed { break }
        }
        if error.message == nil { error.message = original }
        return error
    }
}

/// Measures a streamed SageMaker payload fed as it arrives: the concatenated `PayloadPart` bytes
/// from the runtime API, or a container's raw chunks. Lines may be split across parts anywhere.
///
/// The format is decided by the first non-blank byte: `{` or `[` JSON lines, `data:`/`event:`/`:`
/// server-sent events, anything else plain text (every non-empty piece is content).
public struct SageMakerStreamMeter: Sendable {
    enum Mode { case undecided, lines, text }

    /// Timing of content events.
    public var timer: TokenTimer
    private var mode = Mode.undecided
    private var line: [UInt8] = []
    private let capturing: Bool
    private let textLimit: Int
    /// Generated text kept when capturing (at most the capture limit).
    public private(set) var text: [UInt8] = []
    /// Token events seen (TGI/LMI).
    public private(set) var tokenEvents = 0
    /// OpenAI-style chunks seen (no usage: one chunk is about one token).
    public private(set) var openAIEvents = 0
    /// What the stream reported.
    public private(set) var inputTokens: Int?
    /// What the stream reported.
    public private(set) var outputTokens: Int?
    /// Why generation stopped.
    public private(set) var finishReason: String?
    /// The model named in the stream.
    public private(set) var model: String?
    /// An error event in the stream.
    public private(set) var error: String?

    /// A meter for a request received at `timer.start`; keeps up to `captureLimit` bytes of text.
    public init(timer: TokenTimer, captureLimit: Int?) {
        self.timer = timer
        capturing = captureLimit != nil
        textLimit = captureLimit ?? 0
    }

    /// Feeds payload bytes that arrived at `time` (nanoseconds, the gateway's monotonic clock).
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, at time: Int64) {
        if mode == .undecided {
            // Decide on the first non-blank bytes; a few may be needed to tell `data:` from text, so
            // they wait (as a partial line) until there are enough.
            line.append(contentsOf: bytes)
            var i = 0
            while i < line.count, Self.isBlank(line[i]) { i += 1 }
            guard i < line.count else { line.removeAll(); return }
            let head = line[i...]
            let c = head.first!
            let structured: Bool
            if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") || c == UInt8(ascii: ":") {
                structured = true
            } else if head.count < 6 && !head.contains(0x0A) && Self.couldStartField(head) {
                return
            } else {
                structured = head.withUnsafeBytes { Self.startsField($0) }
            }
            mode = structured ? .lines : .text
            let pending = Array(head)
            line.removeAll(keepingCapacity: true)
            pending.withUnsafeBytes { feedDecided($0, at: time) }
            return
        }
        feedDecided(bytes, at: time)
    }

    private mutating func feedDecided(_ bytes: UnsafeRawBufferPointer, at time: Int64) {
        var i = 0
        if mode == .text {
            if bytes.contains(where: { !Self.isBlank($0) }) {
                timer.content(at: time)
                appendText(bytes)
            }
            return
        }
        var start = i
        while i < bytes.count {
            if bytes[i] == 0x0A {
                if line.isEmpty {
                    handleLine(UnsafeRawBufferPointer(rebasing: bytes[start..<i]), at: time)
                } else {
                    line.append(contentsOf: bytes[start..<i])
                    line.withUnsafeBytes { handleLine($0, at: time) }
                    line.removeAll(keepingCapacity: true)
                }
                start = i + 1
            }
            i += 1
        }
        if start < bytes.count { line.append(contentsOf: bytes[start...]) }
    }

    /// Feeds a buffer's readable bytes.
    public mutating func feed(_ buffer: ByteBuffer, at time: Int64) {
        buffer.withUnsafeReadableBytes { feed($0, at: time) }
    }

    /// The stream ended at `time`: a last line without its newline still counts.
    public mutating func finish(at time: Int64) {
        guard !line.isEmpty else { return }
        if mode == .undecided {
            // A stream shorter than it takes to decide: plain text.
            mode = .text
            let rest = line
            line.removeAll()
            rest.withUnsafeBytes { feedDecided($0, at: time) }
            return
        }
        let rest = line
        line.removeAll()
        rest.withUnsafeBytes { handleLine($0, at: time) }
    }

    /// Writes timings, tokens, finish reason and model into the record. Without reported token
    /// counts: TGI/LMI token events are the count; OpenAI chunks are an estimate.
    public func fill(_ record: inout InferenceRecord, end: Int64) {
        timer.fill(&record, end: end)
        record.streaming = true
        if let model { record.model = model }
        if let finishReason { record.finishReason = finishReason }
        if inputTokens != nil || outputTokens != nil {
            record.inputTokens = inputTokens ?? record.inputTokens
            record.outputTokens = outputTokens ?? record.outputTokens
        }
        if record.outputTokens == nil {
            if tokenEvents > 0 {
                record.outputTokens = tokenEvents
            } else if timer.contentChunks > 0 {
                record.outputTokens = timer.contentChunks
                record.tokensEstimated = true
            }
        }
        if let error, record.error == nil {
            record.error = error
            if record.status == .ok { record.status = .modelError }
        }
    }

    private mutating func handleLine(_ raw: UnsafeRawBufferPointer, at time: Int64) {
        var s = 0
        var e = raw.count
        while s < e, Self.isBlank(raw[s]) { s += 1 }
        while e > s, Self.isBlank(raw[e - 1]) { e -= 1 }
        guard s < e else { return }
        var value = UnsafeRawBufferPointer(rebasing: raw[s..<e])
        if value[0] == UInt8(ascii: ":") { return } // SSE comment
        if Self.startsField(value) {
            // `data:` carries the event; `event:`, `id:`, `retry:` do not.
            guard value.count >= 5, value[0] == UInt8(ascii: "d"), value[4] == UInt8(ascii: ":") else { return }
            var k = 5
            while k < value.count, value[k] == 0x20 { k += 1 }
            value = UnsafeRawBufferPointer(rebasing: value[k...])
        }
        guard let first = value.first, first == UInt8(ascii: "{") else { return } // `[DONE]` and the like
        let (event, openAI) = SageMakerPayload.readEvent(value, capturing: capturing)
        if openAI { openAIEvents += 1 }
        if event.isToken { tokenEvents += 1 }
        if event.content {
            timer.content(at: time)
            if capturing, let t = event.text { appendText(t) }
        }
        if let n = event.inputTokens { inputTokens = n }
        if let n = event.outputTokens { outputTokens = n }
        if let f = event.finishReason { finishReason = f }
        if let m = event.model, model == nil { model = m }
        if let err = event.error { error = err }
    }

    private mutating func appendText(_ bytes: UnsafeRawBufferPointer) {
        guard capturing, text.count < textLimit else { return }
        text.append(contentsOf: bytes.prefix(textLimit - text.count))
    }

    private mutating func appendText(_ s: String) {
        guard text.count < textLimit else { return }
        text.append(contentsOf: s.utf8.prefix(textLimit - text.count))
    }

    @inline(__always) static func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }

    /// Whether these few bytes are the start of `data:`, `event:`, `id:` or `retry:`.
    static func couldStartField(_ b: ArraySlice<UInt8>) -> Bool {
        for word in ["data:", "event:", "id:", "retry:"] {
            let w = Array(word.utf8)
            if b.count <= w.count && zip(b, w).allSatisfy({ $0 == $1 }) { return true }
        }
        return false
    }

    /// `data:`, `event:`, `id:` or `retry:` at the start.
    static func startsField(_ b: UnsafeRawBufferPointer) -> Bool {
        func has(_ word: StaticString) -> Bool {
            let n = word.utf8CodeUnitCount
            guard b.count >= n else { return false }
            for k in 0..<n where b[k] != word.utf8Start[k] { return false }
            return true
        }
        return has("data:") || has("event:") || has("id:") || has("retry:")
    }
}
