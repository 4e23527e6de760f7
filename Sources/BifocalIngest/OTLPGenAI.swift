public import BifocalCore

/// One span, data point or log record of a request that was not accepted, and why.
public struct OTLPRejection: Sendable, Hashable, CustomStringConvertible {
    /// Where it sits in the request (`resource_spans[0].scope_spans[1].spans[3]`).
    public var path: String
    /// Why it was not accepted.
    public var reason: String

    /// Creates a rejection.
    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    /// `path: reason`.
    public var description: String { "\(path): \(reason)" }
}

/// What the spans of one export request turned into.
public struct OTLPSpanBatch: Sendable, Hashable {
    /// Inference records from the spans that follow the GenAI conventions, in request order.
    public var records: [InferenceRecord] = []
    /// Spans in the request.
    public var spans: Int = 0
    /// Valid spans that are not model calls (HTTP, database, agent and tool spans): accepted, not stored.
    public var otherSpans: Int = 0
    /// Invalid spans.
    public var rejected: [OTLPRejection] = []

    /// Creates an empty batch.
    public init() {}
}

/// Turns spans that follow the OpenTelemetry GenAI semantic conventions into inference records.
///
/// Reads the current attribute names (`gen_ai.provider.name`, `gen_ai.usage.input_tokens`,
/// `gen_ai.input.messages`, ...), the deprecated ones (`gen_ai.system`, `gen_ai.usage.prompt_tokens`,
/// `gen_ai.prompt` events) and those of OpenLLMetry/Traceloop (`gen_ai.prompt.N.content`,
/// `llm.is_streaming`, `gen_ai.content.completion.chunk` events) and vLLM's request spans
/// (`gen_ai.latency.*`). See docs/otlp.md for the table. A record's id is its trace id and span id,
/// so an exporter's retry of the same batch is stored once.
public enum OTLPGenAIMapping {
    /// The operations that are calls to a model; other GenAI operations (agents, tools, retrieval)
    /// wrap such calls and would count them twice.
    static let modelOperations: Set<String> = ["chat", "generate_content", "text_completion", "completion", "embeddings", "embedding"]

    /// Maps every span of a request.
    public static func records(from traces: OTLPTraces) -> OTLPSpanBatch {
        var batch = OTLPSpanBatch()
        batch.records.reserveCapacity(traces.spanCount)
        // Indices rather than for-in, so spans are borrowed, not copied.
        for r in traces.resourceSpans.indices {
            let resource = ResourceContext(traces.resourceSpans[r].resource)
            for s in traces.resourceSpans[r].scopeSpans.indices {
                let count = traces.resourceSpans[r].scopeSpans[s].spans.count
                batch.spans += count
                for i in 0..<count {
                    switch map(traces.resourceSpans[r].scopeSpans[s].spans[i], resource: resource, into: &batch.records) {
                    case .record: break
                    case .other: batch.otherSpans += 1
                    case .rejected(let problem):
                        batch.rejected.append(OTLPRejection(path: "resource_spans[\(r)].scope_spans[\(s)].spans[\(i)]", reason: problem.reason))
                    }
                }
            }
        }
        return batch
    }

    /// A span's problem, as a rejection reason.
    public struct Problem: Error, Sendable, Hashable {
        /// Why the span is rejected.
        public var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// What a resource contributes to each of its spans' records.
    public struct ResourceContext: Sendable {
        /// `service.name`, kept as the `service` label.
        public var service: String?
        /// `bifocal.endpoint`: the deployment the spans' model calls go to.
        public var endpoint: String?
        /// `bifocal.tenant`.
        public var tenant: String?
        /// `bifocal.variant`.
        public var variant: String?

        /// Reads the resource attributes.
        public init(_ attributes: [OTLPAttribute]) {
            for attribute in attributes {
                switch attribute.key {
                case "service.name": service = attribute.value.text
                case "bifocal.endpoint": endpoint = attribute.value.text
                case "bifocal.tenant": tenant = attribute.value.text
                case "bifocal.variant": variant = attribute.value.text
                default: break
                }
            }
        }
    }

    /// The attributes the mapping reads. The raw value indexes `KnownAttributeKeys.names`, whose
    /// first entries are exactly these, in this order.
    enum Key: Int, CaseIterable {
        case operation, provider, system, requestModel, responseModel
        case inputTokens, outputTokens, promptTokens, completionTokens, llmPromptTokens, llmCompletionTokens
        case finishReasons, finishReason
        case timeToFirstChunk, serverTimeToFirstToken, latencyTimeToFirstToken, latencyQueue
        case stream, isStreaming, llmIsStreaming
        case inputMessages, outputMessages, systemInstructions, legacyPrompt, legacyCompletion
        case errorType, httpStatus, httpStatusOld, serverAddress, serverPort, openaiAPIBase, requestType
        case endpoint, tenant, variant

        /// Keys that say nothing about the span being a GenAI span.
        var isGeneric: Bool {
            switch self {
            case .errorType, .httpStatus, .httpStatusOld, .serverAddress, .serverPort, .endpoint, .tenant, .variant: true
            default: false
            }
        }
    }

    /// The attributes of one span, sorted out: for each `Key`, the index of its attribute.
    struct Fields {
        let attributes: [OTLPAttribute]
        var index: [Int32]
        /// `gen_ai.prompt.N.role/content` and `gen_ai.completion.N.role/content/finish_reason` (Traceloop's legacy form).
        var indexedPrompts: [Int: [String: String]] = [:]
        var indexedCompletions: [Int: [String: String]] = [:]
        var sawGenAI = false

        init(_ attributes: [OTLPAttribute]) {
            self.attributes = attributes
            index = [Int32](repeating: -1, count: Key.allCases.count)
            for (i, attribute) in attributes.enumerated() {
                if let id = KnownAttributeKeys.find(attribute.key), id < index.count, let key = Key(rawValue: id) {
                    index[id] = Int32(i)
                    if !key.isGeneric { sawGenAI = true }
                } else if attribute.key.utf8.first == UInt8(ascii: "g"), attribute.key.hasPrefix("gen_ai.") {
                    sawGenAI = true
                    if attribute.key.hasPrefix("gen_ai.prompt.") {
                        Self.indexed(attribute, prefix: "gen_ai.prompt.", into: &indexedPrompts)
                    } else if attribute.key.hasPrefix("gen_ai.completion.") {
                        Self.indexed(attribute, prefix: "gen_ai.completion.", into: &indexedCompletions)
                    }
                }
            }
        }

        static func indexed(_ attribute: OTLPAttribute, prefix: String, into map: inout [Int: [String: String]]) {
            let rest = attribute.key.dropFirst(prefix.count)
            guard let dot = rest.firstIndex(of: "."), let n = Int(rest[..<dot]), n >= 0, n < 10_000 else { return }
            map[n, default: [:]][String(rest[rest.index(after: dot)...])] = attribute.value.text
        }

        @inline(__always) subscript(_ key: Key) -> OTLPValue? {
            let i = index[key.rawValue]
            return i < 0 ? nil : attributes[Int(i)].value
        }
    }

    /// Maps one span: a record for a model call, nil for another valid span, or why the span is invalid.
    public static func record(_ span: OTLPSpan, resource: ResourceContext) -> Result<InferenceRecord?, Problem> {
        var out: [InferenceRecord] = []
        switch map(span, resource: resource, into: &out) {
        case .record: return .success(out[0])
        case .other: return .success(nil)
        case .rejected(let problem): return .failure(problem)
        }
    }

    enum Outcome {
        case record
        case other
        case rejected(Problem)
    }

    /// The mapping itself: appends the record to `records` (no copies of the record on the way).
    static func map(_ span: OTLPSpan, resource: ResourceContext, into records: inout [InferenceRecord]) -> Outcome {
        if let problem = span.problem { return .rejected(Problem(problem)) }
        guard span.traceId.utf8.count == 32, span.traceId.utf8.contains(where: { $0 != UInt8(ascii: "0") }) else {
            return .rejected(Problem(span.traceId.isEmpty ? "trace_id is missing" : "trace_id must be 16 bytes and not all zero (got \(span.traceId.utf8.count / 2) bytes: '\(OTLPText.clip(span.traceId))')"))
        }
        guard span.spanId.utf8.count == 16, span.spanId.utf8.contains(where: { $0 != UInt8(ascii: "0") }) else {
            return .rejected(Problem(span.spanId.isEmpty ? "span_id is missing" : "span_id must be 8 bytes and not all zero (got \(span.spanId.utf8.count / 2) bytes: '\(OTLPText.clip(span.spanId))')"))
        }
        guard span.startTimeUnixNano > 0 else { return .rejected(Problem("start_time_unix_nano is missing (0)")) }
        guard span.endTimeUnixNano > 0 else { return .rejected(Problem("end_time_unix_nano is missing (0)")) }
        guard span.endTimeUnixNano >= span.startTimeUnixNano else {
            return .rejected(Problem("end_time_unix_nano (\(span.endTimeUnixNano)) is before start_time_unix_nano (\(span.startTimeUnixNano))"))
        }
        guard span.startTimeUnixNano < 9_000_000_000_000_000_000 else { return .rejected(Problem("start_time_unix_nano \(span.startTimeUnixNano) is beyond the year 2255")) }

        let fields = Fields(span.attributes)
        guard fields.sawGenAI else { return .other }
        let operation = fields[.operation]?.text ?? fields[.requestType]?.text
        if let operation, !modelOperations.contains(operation) { return .other }
        let requestModel = nonEmpty(fields[.requestModel]?.text)
        let responseModel = nonEmpty(fields[.responseModel]?.text)
        // Without an operation, only spans that name a model or count tokens are model calls.
        if operation == nil, requestModel == nil, responseModel == nil, fields[.inputTokens] == nil,
           fields[.outputTokens] == nil, fields[.promptTokens] == nil, fields[.completionTokens] == nil {
            return .other
        }

        let start = Int64(span.startTimeUnixNano / 1000)
        let e2eMs = Double(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6
        var r = InferenceRecord(id: recordId(start: start, span.traceId, span.spanId), start: start, source: .otlp)
        r.traceId = span.traceId
        r.spanId = span.spanId
        r.e2eMs = e2eMs
        r.model = responseModel ?? requestModel
        if let requestModel, requestModel != r.model { r.requestModel = requestModel }
        r.provider = provider(fields)

        do throws(Problem) {
            r.inputTokens = try count(fields, .inputTokens, .promptTokens, .llmPromptTokens)
            r.outputTokens = try count(fields, .outputTokens, .completionTokens, .llmCompletionTokens)
            r.ttftMs = try seconds(fields, .timeToFirstChunk, .serverTimeToFirstToken, .latencyTimeToFirstToken)
            r.queueMs = try seconds(fields, .latencyQueue)
        } catch {
            return .rejected(error)
        }
        if r.ttftMs == nil, let first = span.events.first(where: { isChunkEvent($0.name) }), first.timeUnixNano >= span.startTimeUnixNano {
            r.ttftMs = Double(first.timeUnixNano - span.startTimeUnixNano) / 1e6
        }
        if let ttft = r.ttftMs, ttft > e2eMs {
            return .rejected(Problem("time to first token (\(format(ttft)) ms) is longer than the span (\(format(e2eMs)) ms)"))
        }
        r.streaming = (fields[.stream] ?? fields[.isStreaming] ?? fields[.llmIsStreaming])?.bool
        if r.streaming == nil, span.events.contains(where: { isChunkEvent($0.name) }) { r.streaming = true }

        // Status: an error span, or one that names its error type.
        let errorType = nonEmpty(fields[.errorType]?.text)
        if let code = (fields[.httpStatus] ?? fields[.httpStatusOld])?.integer, code >= 100, code <= 599 { r.httpStatus = Int(code) }
        if span.statusCode == 2 || errorType != nil {
            r.status = errorStatus(errorType: errorType, httpStatus: r.httpStatus)
            let exception = span.events.first { $0.name == "exception" }
            r.error = nonEmpty(span.statusMessage) ?? nonEmpty(exception?.attributes["exception.message"]?.text) ?? errorType
                ?? nonEmpty(exception?.attributes["exception.type"]?.text) ?? "error span"
            r.error = r.error.map { CaptureDecoder.clipped($0, RecordLimits.errorBytes) }
        }

        // Texts and finish reasons.
        let texts = Texts(fields: fields, events: span.events)
        r.prompt = texts.prompt.map { CaptureDecoder.clipped($0, RecordLimits.textBytes) }
        r.response = texts.response.map { CaptureDecoder.clipped($0, RecordLimits.textBytes) }
        if case .array(let reasons)? = fields[.finishReasons], let first = reasons.first {
            r.finishReason = nonEmpty(first.text)
        } else if let reason = fields[.finishReasons] ?? fields[.finishReason] {
            r.finishReason = nonEmpty(reason.text)
        }
        if r.finishReason == nil { r.finishReason = texts.finishReason }

        // Where the call went: an explicit endpoint, else the server it was sent to.
        r.endpoint = nonEmpty(fields[.endpoint]?.text) ?? resource.endpoint ?? serverEndpoint(fields)
        r.tenant = nonEmpty(fields[.tenant]?.text) ?? resource.tenant
        r.variant = nonEmpty(fields[.variant]?.text) ?? resource.variant
        let service = nonEmpty(resource.service)
        let operationLabel = nonEmpty(operation)
        if service != nil || operationLabel != nil {
            r.labels = Dictionary(minimumCapacity: 2)
            if let service { r.labels["service"] = service }
            if let operationLabel { r.labels["operation"] = operationLabel }
        }

        if let problem = tooLong("model", r.model) ?? tooLong("request_model", r.requestModel) ?? tooLong("provider", r.provider)
            ?? tooLong("endpoint", r.endpoint) ?? tooLong("tenant", r.tenant) ?? tooLong("variant", r.variant)
            ?? tooLong("finish_reason", r.finishReason) {
            return .rejected(problem)
        }
        for (name, value) in r.labels where value.utf8.count > RecordLimits.labelBytes {
            return .rejected(Problem("label \(name) is longer than \(RecordLimits.labelBytes) bytes ('\(OTLPText.clip(value))')"))
        }
        records.append(r)
        return .record
    }

    /// `START-TRACEID-SPANID`: START is the span's start in microseconds as 14 hex digits. Derived
    /// from the span alone, so a re-sent span has the same id and is stored once; led by the time,
    /// so ids arrive nearly in order and the store's unique index grows at its end instead of at
    /// random pages (random trace ids first cost the store 40% of its insert rate in the benchmark).
    static func recordId(start: Int64, _ traceId: String, _ spanId: String) -> String {
        var t = traceId
        var p = spanId
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        return t.withUTF8 { tb in
            p.withUTF8 { pb in
                let count = 14 + 1 + tb.count + 1 + pb.count
                return String(unsafeUninitializedCapacity: count) { out in
                    var v = UInt64(bitPattern: start)
                    for i in stride(from: 13, through: 0, by: -1) {
                        out[i] = digits[Int(v & 0xF)]
                        v >>= 4
                    }
                    out[14] = UInt8(ascii: "-")
                    _ = UnsafeMutableBufferPointer(rebasing: out[15...]).initialize(fromContentsOf: tb)
                    out[15 + tb.count] = UInt8(ascii: "-")
                    _ = UnsafeMutableBufferPointer(rebasing: out[(16 + tb.count)...]).initialize(fromContentsOf: pb)
                    return count
                }
            }
        }
    }

    @inline(__always) static func tooLong(_ name: String, _ value: String?) -> Problem? {
        guard let value, value.utf8.count > RecordLimits.nameBytes else { return nil }
        return Problem("\(name) is longer than \(RecordLimits.nameBytes) bytes ('\(OTLPText.clip(value))')")
    }

    static func nonEmpty(_ s: String?) -> String? {
        guard let s, !s.isEmpty else { return nil }
        return s
    }

    static func format(_ v: Double) -> String {
        v.rounded() == v && abs(v) < 1e15 ? String(Int64(v)) : String(v)
    }

    /// Streamed-chunk events: Traceloop's `gen_ai.content.completion.chunk` (formerly
    /// `llm.content.completion.chunk`) and the like; the first one marks the first token.
    static func isChunkEvent(_ name: String) -> Bool {
        name == "gen_ai.content.completion.chunk" || name == "llm.content.completion.chunk" || name == "first_token"
            || name == "gen_ai.first_token" || name.hasSuffix(".chunk")
    }

    /// `gen_ai.provider.name`, else the deprecated `gen_ai.system` with its renamed values.
    static func provider(_ fields: Fields) -> String? {
        if let provider = nonEmpty(fields[.provider]?.text) { return provider }
        guard let system = nonEmpty(fields[.system]?.text) else { return nil }
        switch system {
        case "vertex_ai": return "gcp.vertex_ai"
        case "gemini": return "gcp.gemini"
        case "az.ai.inference": return "azure.ai.inference"
        case "az.ai.openai": return "azure.ai.openai"
        default: return system.lowercased() == system ? system : system.lowercased()
        }
    }

    static func count(_ fields: Fields, _ keys: Key...) throws(Problem) -> Int? {
        for key in keys {
            guard let value = fields[key] else { continue }
            let name = KnownAttributeKeys.names[key.rawValue]
            guard let n = value.integer else { throw Problem("\(name) is not an integer ('\(OTLPText.clip(value.text))')") }
            guard n >= 0 else { throw Problem("\(name) is negative (\(n))") }
            guard n <= Int64(Int32.max) else { throw Problem("\(name) is implausibly large (\(n))") }
            return Int(n)
        }
        return nil
    }

    static func seconds(_ fields: Fields, _ keys: Key...) throws(Problem) -> Double? {
        for key in keys {
            guard let value = fields[key] else { continue }
            let name = KnownAttributeKeys.names[key.rawValue]
            guard let s = value.number, s.isFinite else { throw Problem("\(name) is not a number of seconds ('\(OTLPText.clip(value.text))')") }
            guard s >= 0 else { throw Problem("\(name) is negative (\(s))") }
            return s * 1000
        }
        return nil
    }

    /// An error span's status: from the HTTP status when known, else from `error.type`
    /// (an HTTP code, or an exception class name as the OpenAI and Anthropic clients raise them).
    static func errorStatus(errorType: String?, httpStatus: Int?) -> RecordStatus {
        if let httpStatus, httpStatus >= 400 { return statusFor(http: httpStatus) }
        guard let errorType else { return .serverError }
        if let code = Int(errorType), code >= 400, code <= 599 { return statusFor(http: code) }
        let lower = Array(errorType.utf8.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 })
        func has(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard w.count <= lower.count else { return false }
            return (0...(lower.count - w.count)).contains { lower[$0..<($0 + w.count)].elementsEqual(w) }
        }
        if has("timeout") || has("deadline") { return .timeout }
        if has("cancel") { return .cancelled }
        for clientSide in ["badrequest", "authentication", "permissiondenied", "notfound", "conflict", "unprocessable", "ratelimit", "invalidrequest", "contentfilter"]
        where has(clientSide) {
            return .clientError
        }
        return .serverError
    }

    static func statusFor(http code: Int) -> RecordStatus {
        switch code {
        case 408, 504: .timeout
        case 499: .cancelled
        case 400..<500: .clientError
        default: .serverError
        }
    }

    /// `server.address[:server.port]`, else the host and port of Traceloop's `gen_ai.openai.api_base`.
    static func serverEndpoint(_ fields: Fields) -> String? {
        if let address = nonEmpty(fields[.serverAddress]?.text) {
            if let port = fields[.serverPort]?.integer { return "\(address):\(port)" }
            return address
        }
        guard let base = nonEmpty(fields[.openaiAPIBase]?.text) else { return nil }
        var rest = Substring(base)
        if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") { rest = rest[rest.index(colon, offsetBy: 3)...] }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        return rest.isEmpty ? nil : String(rest)
    }

    /// Prompt, response and finish reason from whichever form the instrumentation used.
    struct Texts {
        var prompt: String?
        var response: String?
        var finishReason: String?

        init(fields: Fields, events: [OTLPSpanEvent]) {
            // Current conventions: message lists (JSON strings, or structured values).
            var system = fields[.systemInstructions].flatMap(Self.json).flatMap(Self.partsText)
            if let input = fields[.inputMessages].flatMap(Self.json) { prompt = Self.render(input, system: system); system = nil }
            if let output = fields[.outputMessages].flatMap(Self.json) {
                response = Self.render(output, system: nil, roles: false)
                finishReason = output.array?.first?["finish_reason"]?.string
            }
            // Traceloop's legacy indexed attributes.
            if prompt == nil, !fields.indexedPrompts.isEmpty {
                prompt = Self.renderIndexed(fields.indexedPrompts)
            }
            if response == nil, !fields.indexedCompletions.isEmpty {
                response = Self.renderIndexed(fields.indexedCompletions, roles: false)
                finishReason = fields.indexedCompletions.min { $0.key < $1.key }?.value["finish_reason"]
            }
            // Deprecated: `gen_ai.prompt` / `gen_ai.completion` attributes (JSON or plain text).
            if prompt == nil, let legacy = fields[.legacyPrompt] {
                prompt = Self.json(legacy).flatMap { Self.render($0, system: nil) } ?? legacy.string
            }
            if response == nil, let legacy = fields[.legacyCompletion] {
                response = Self.json(legacy).flatMap { Self.render($0, system: nil, roles: false) } ?? legacy.string
            }
            if prompt == nil || response == nil { readEvents(events) }
            if prompt == nil, let system { prompt = system }
        }

        /// Events: `gen_ai.client.inference.operation.details` and the deprecated
        /// `gen_ai.content.prompt`/`completion` and per-message `gen_ai.*.message`/`gen_ai.choice`.
        mutating func readEvents(_ events: [OTLPSpanEvent]) {
            var messages: [(role: String, text: String)] = []
            var choices: [String] = []
            for event in events {
                let a = event.attributes
                switch event.name {
                case "gen_ai.client.inference.operation.details":
                    if prompt == nil, let input = a["gen_ai.input.messages"].flatMap(Self.json) { prompt = Self.render(input, system: nil) }
                    if response == nil, let output = a["gen_ai.output.messages"].flatMap(Self.json) {
                        response = Self.render(output, system: nil, roles: false)
                        if finishReason == nil { finishReason = output.array?.first?["finish_reason"]?.string }
                    }
                case "gen_ai.content.prompt":
                    if prompt == nil, let value = a["gen_ai.prompt"] { prompt = Self.json(value).flatMap { Self.render($0, system: nil) } ?? value.string }
                case "gen_ai.content.completion":
                    if response == nil, let value = a["gen_ai.completion"] {
                        response = Self.json(value).flatMap { Self.render($0, system: nil, roles: false) } ?? value.string
                    }
                case "gen_ai.system.message", "gen_ai.user.message", "gen_ai.assistant.message", "gen_ai.tool.message":
                    let role = a["gen_ai.message.role"]?.text ?? a["role"]?.text ?? String(event.name.dropFirst(7).dropLast(8))
                    if let content = a["content"]?.text ?? a["gen_ai.message.content"]?.text { messages.append((role, content)) }
                case "gen_ai.choice":
                    if let content = a["message"].flatMap(Self.json)?["content"]?.string ?? a["content"]?.text { choices.append(content) }
                    if finishReason == nil { finishReason = a["finish_reason"]?.text }
                default: break
                }
            }
            if prompt == nil, !messages.isEmpty {
                prompt = messages.count == 1 ? messages[0].text : messages.map { "\($0.role): \($0.text)" }.joined(separator: "\n")
            }
            if response == nil, !choices.isEmpty { response = choices.joined(separator: "\n") }
        }

        /// A message list: from a JSON string, or from a structured attribute value.
        static func json(_ value: OTLPValue) -> JSONValue? {
            switch value {
            case .string(let text):
                let trimmed = text.utf8.first { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }
                guard trimmed == UInt8(ascii: "[") || trimmed == UInt8(ascii: "{") else { return nil }
                var copy = text
                return copy.withUTF8 { try? JSONScanner.parseDocument($0) }
            case .array, .kvlist: return jsonValue(value)
            default: return nil
            }
        }

        static func jsonValue(_ value: OTLPValue) -> JSONValue {
            switch value {
            case .empty: return .null
            case .string(let s): return .string(s)
            case .bool(let b): return .bool(b)
            case .int(let i): return .number(Double(i))
            case .double(let d): return .number(d)
            case .bytes: return .string(value.text)
            case .array(let values): return .array(values.map(jsonValue))
            case .kvlist(let members):
                var object: [String: JSONValue] = [:]
                for member in members { object[member.key] = jsonValue(member.value) }
                return .object(object)
            }
        }

        /// The text of one message: its `parts` of type text (current conventions), else its
        /// `content` (a string, or OpenAI-style content parts).
        static func partsText(_ message: JSONValue) -> String? {
            if let parts = message["parts"]?.array ?? message.array {
                let texts = parts.compactMap { part -> String? in
                    let type = part["type"]?.string
                    guard type == nil || type == "text" else { return nil }
                    return part["content"]?.string ?? part["text"]?.string
                }
                return texts.isEmpty ? nil : texts.joined(separator: "\n")
            }
            if let content = message["content"] {
                if let s = content.string { return s }
                let texts = content.array?.compactMap { $0["text"]?.string ?? $0["content"]?.string } ?? []
                return texts.isEmpty ? nil : texts.joined(separator: "\n")
            }
            return message.string
        }

        /// One message: its text; several: `role: text` lines, as the capture decoder renders them.
        static func render(_ json: JSONValue, system: String?, roles: Bool = true) -> String? {
            let messages = json.array ?? [json]
            var lines: [(String, String)] = []
            if let system { lines.append(("system", system)) }
            for message in messages {
                guard let text = partsText(message) else { continue }
                lines.append((message["role"]?.string ?? "user", text))
            }
            if lines.isEmpty { return nil }
            if lines.count == 1 || !roles { return lines.map(\.1).joined(separator: "\n") }
            return lines.map { "\($0.0): \($0.1)" }.joined(separator: "\n")
        }

        static func renderIndexed(_ map: [Int: [String: String]], roles: Bool = true) -> String? {
            let ordered = map.sorted { $0.key < $1.key }.compactMap { entry -> (String, String)? in
                guard let content = entry.value["content"] else { return nil }
                return (entry.value["role"] ?? "user", content)
            }
            if ordered.isEmpty { return nil }
            if ordered.count == 1 || !roles { return ordered.map(\.1).joined(separator: "\n") }
            return ordered.map { "\($0.0): \($0.1)" }.joined(separator: "\n")
        }
    }
}
