/// How a request to a model ended.
public enum RecordStatus: String, Sendable, Hashable, CaseIterable, Codable {
    /// The model answered.
    case ok
    /// The client sent a bad request (HTTP 4xx other than timeouts).
    case clientError = "client_error"
    /// The serving stack failed (HTTP 5xx).
    case serverError = "server_error"
    /// The model itself failed (for example SageMaker's `ModelError`).
    case modelError = "model_error"
    /// The request ran out of time.
    case timeout
    /// The client went away before the answer was complete.
    case cancelled

    /// Whether this status counts as an error in `errors.ratio`.
    public var isError: Bool { self != .ok }
}

/// Where a record entered Bifocal.
public enum RecordSource: String, Sendable, Hashable, CaseIterable, Codable {
    /// `POST /api/v1/records` or `bifocal ingest`.
    case api
    /// SageMaker Data Capture files.
    case capture
    /// Bifocal's own gateway.
    case gateway
    /// The OTLP receiver.
    case otlp
}

/// One request to a model: the unit that every source produces and every record signal is computed from.
///
/// Times are integer microseconds since the Unix epoch (`start`); durations are milliseconds,
/// as the ingest API accepts them. A record belongs to the minute of its `start`.
public struct InferenceRecord: Sendable, Hashable {
    /// Optional caller-chosen id; a repeated id is ignored by the store, so retries are safe.
    public var id: String?
    /// When the request reached the model server, in microseconds since the epoch.
    public var start: Int64
    /// The endpoint (a deployment: one SageMaker endpoint, one vLLM server group).
    public var endpoint: String?
    /// The model that answered.
    public var model: String?
    /// The inference component (SageMaker) that served the request.
    public var component: String?
    /// The production variant.
    public var variant: String?
    /// The instance (host) that served the request.
    public var instance: String?
    /// The copy of the model (inference component copy, replica).
    public var copy: String?
    /// How the request ended.
    public var status: RecordStatus
    /// The HTTP status code, when the request was made over HTTP.
    public var httpStatus: Int?
    /// The error message, when the request failed.
    public var error: String?
    /// Whether the answer was streamed.
    public var streaming: Bool?
    /// Prompt tokens.
    public var inputTokens: Int?
    /// Generated tokens.
    public var outputTokens: Int?
    /// Time to first token in milliseconds.
    public var ttftMs: Double?
    /// End-to-end latency in milliseconds.
    public var e2eMs: Double?
    /// Time spent waiting in the model server's queue, in milliseconds.
    public var queueMs: Double?
    /// Inter-token gaps in milliseconds, when known one by one.
    public var itlMs: [Double]?
    /// Mean inter-token gap in milliseconds, when only a summary is known.
    public var itlMeanMs: Double?
    /// Largest inter-token gap in milliseconds, when only a summary is known.
    public var itlMaxMs: Double?
    /// Why generation stopped (`stop`, `length`, `tool_calls`, ...).
    public var finishReason: String?
    /// True when token counts were estimated rather than reported by the model server.
    public var tokensEstimated: Bool
    /// Where the record came from.
    public var source: RecordSource
    /// The model provider (`openai`, `vllm`, `sagemaker`, ...).
    public var provider: String?
    /// The model name the client asked for, when it differs from `model`.
    public var requestModel: String?
    /// W3C trace id (32 hex digits).
    public var traceId: String?
    /// W3C span id (16 hex digits).
    public var spanId: String?
    /// The tenant (team, customer) the request was made for.
    public var tenant: String?
    /// The prompt text, kept for quality work.
    public var prompt: String?
    /// The answer text, kept for quality work.
    public var response: String?
    /// Retrieved context given to the model, kept for quality work.
    public var context: String?
    /// A reference answer, kept for quality work.
    public var reference: String?
    /// Free string labels.
    public var labels: [String: String]

    /// Creates a record; only `start` is required.
    public init(
        id: String? = nil, start: Int64, endpoint: String? = nil, model: String? = nil,
        component: String? = nil, variant: String? = nil, instance: String? = nil, copy: String? = nil,
        status: RecordStatus = .ok, httpStatus: Int? = nil, error: String? = nil, streaming: Bool? = nil,
        inputTokens: Int? = nil, outputTokens: Int? = nil, ttftMs: Double? = nil, e2eMs: Double? = nil,
        queueMs: Double? = nil, itlMs: [Double]? = nil, itlMeanMs: Double? = nil, itlMaxMs: Double? = nil,
        finishReason: String? = nil, tokensEstimated: Bool = false, source: RecordSource = .api,
        provider: String? = nil, requestModel: String? = nil, traceId: String? = nil, spanId: String? = nil,
        tenant: String? = nil, prompt: String? = nil, response: String? = nil, context: String? = nil,
        reference: String? = nil, labels: [String: String] = [:]
    ) {
        self.id = id; self.start = start; self.endpoint = endpoint; self.model = model
        self.component = component; self.variant = variant; self.instance = instance; self.copy = copy
        self.status = status; self.httpStatus = httpStatus; self.error = error; self.streaming = streaming
        self.inputTokens = inputTokens; self.outputTokens = outputTokens; self.ttftMs = ttftMs
        self.e2eMs = e2eMs; self.queueMs = queueMs; self.itlMs = itlMs; self.itlMeanMs = itlMeanMs
        self.itlMaxMs = itlMaxMs; self.finishReason = finishReason; self.tokensEstimated = tokensEstimated
        self.source = source; self.provider = provider; self.requestModel = requestModel
        self.traceId = traceId; self.spanId = spanId; self.tenant = tenant; self.prompt = prompt
        self.response = response; self.context = context; self.reference = reference; self.labels = labels
    }

    /// Time per output token in milliseconds: (e2e - ttft) / (output_tokens - 1); nil when output_tokens <= 1
    /// or either latency is unknown.
    public var tpotMs: Double? {
        guard let e2eMs, let ttftMs, let outputTokens, outputTokens > 1 else { return nil }
        return max(0, e2eMs - ttftMs) / Double(outputTokens - 1)
    }

    /// Mean inter-token gap in milliseconds: from the gaps when known, else the reported summary.
    public var effectiveItlMeanMs: Double? {
        if let itlMs, !itlMs.isEmpty { return itlMs.reduce(0, +) / Double(itlMs.count) }
        return itlMeanMs
    }

    /// Largest inter-token gap in milliseconds: from the gaps when known, else the reported summary.
    public var effectiveItlMaxMs: Double? {
        if let itlMs, !itlMs.isEmpty { return itlMs.max() }
        return itlMaxMs
    }

    /// The start of the minute this record belongs to, in microseconds since the epoch.
    public var minute: Int64 { Timestamp.floor(start, toMultipleOf: Timestamp.microsPerMinute) }
}
