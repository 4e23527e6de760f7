import AsyncHTTPClient
public import BifocalCore
public import Hummingbird
import HTTPTypes
public import Logging
import NIOCore
import NIOHTTP1

/// The gateway: an OpenAI-compatible (and SageMaker-runtime) proxy that measures every request it
/// passes through and turns it into an `InferenceRecord` (issue 3). The server mounts its routes
/// at the root and runs `run()` as a service; records go to the sink off the request's path.
public final class Gateway: Sendable {
    /// The settings it was built with.
    public let configuration: GatewayConfiguration
    /// Records waiting for the sink, with the dropped/written/failed counters.
    public let records: RecordQueue
    let upstreams: [Upstream]
    private let byModel: [String: Upstream]
    private let fallback: Upstream?
    private let clients: [HTTPClient]
    let clock: GatewayClock
    let ids: IDGenerator
    let logger: Logger
    let redactor = Redactor()
    private let sink: any RecordSink
    private let tenantHeader: HTTPField.Name?
    private let accessTokens: [[UInt8]]

    /// Builds the gateway: one HTTP client per distinct timeout and pool setting (usually one),
    /// credentials resolved from `environment`, SigV4 signers from `signers`.
    ///
    /// Problems that `GatewayConfiguration.problems(environment:)` reports do not stop it: the
    /// affected upstream answers 502 and says why (the server refuses to start on them first).
    public init(
        configuration: GatewayConfiguration,
        sink: any RecordSink,
        clock: GatewayClock = .system,
        environment: [String: String] = [:],
        signers: UpstreamSignerFactory? = nil,
        logger: Logger
    ) {
        self.configuration = configuration
        self.sink = sink
        self.clock = clock
        self.logger = logger
        self.ids = IDGenerator()
        self.records = RecordQueue(capacity: configuration.recordQueueSize)
        self.tenantHeader = HTTPField.Name(configuration.tenantHeader)
        self.accessTokens = configuration.accessTokens.map { Array($0.utf8) }

        struct ClientKey: Hashable { var connect: Int64; var read: Int64; var pool: Int }
        var clientsByKey: [ClientKey: HTTPClient] = [:]
        var upstreams: [Upstream] = []
        for upstream in configuration.upstreams {
            let key = ClientKey(connect: upstream.connectTimeout, read: upstream.readTimeout, pool: upstream.poolSize)
            let client = clientsByKey[key] ?? {
                var c = HTTPClient.Configuration()
                c.timeout = .init(connect: .microseconds(key.connect), read: .microseconds(key.read))
                c.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: max(1, key.pool))
                // Fail a refused connection at once so the next base URL is tried; the client's
                // default keeps retrying until the connect timeout.
                c.connectionPool.retryConnectionEstablishment = false
                // A proxy passes redirects on; it does not follow them.
                c.redirectConfiguration = .disallow
                c.decompression = .disabled
                // The gateway propagates W3C trace context itself; the client's own span per
                // request (even a no-op one) costs about 4% of a proxied request's CPU.
                c.tracing.tracer = nil
                let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
                clientsByKey[key] = client
                return client
            }()
            // A `sagemaker` upstream with neither urls nor aws_region takes the region from the
            // standard AWS variables, as the signer does, so its runtime URL can be built.
            var resolved = upstream
            if resolved.kind == .sagemaker, resolved.baseURLs.isEmpty, case .sigv4(var settings) = resolved.auth, settings.region == nil,
               let region = [environment["AWS_REGION"], environment["AWS_DEFAULT_REGION"]].compactMap({ $0 }).first(where: { !$0.isEmpty }) {
                settings.region = region
                resolved.auth = .sigv4(settings)
            }
            upstreams.append(Upstream(configuration: resolved, client: client,
                                      credential: Self.credential(for: resolved, environment: environment, signers: signers)))
        }
        self.upstreams = upstreams
        self.clients = Array(clientsByKey.values)
        var byModel: [String: Upstream] = [:]
        for upstream in upstreams {
            for model in upstream.configuration.models where byModel[model] == nil { byModel[model] = upstream }
        }
        self.byModel = byModel
        self.fallback = configuration.defaultUpstream.flatMap { name in upstreams.first { $0.configuration.name == name } }
        for upstream in upstreams {
            if case .broken(let reason) = upstream.credential {
                logger.error("gateway upstream cannot authenticate", metadata: ["upstream": "\(upstream.configuration.name)", "reason": "\(reason)"])
            }
        }
    }

    private static func credential(for upstream: UpstreamConfiguration, environment: [String: String],
                                   signers: UpstreamSignerFactory?) -> UpstreamCredential {
        switch upstream.auth {
        case .passthrough: return .passthrough
        case .none: return .none
        case .apiKey(let variable, let header):
            guard let key = environment[variable], !key.isEmpty else {
                return .broken("the environment variable \(variable) (api_key_env) is not set")
            }
            let name = header.lowercased()
            return .header(name: name, value: name == "authorization" ? "Bearer \(key)" : key)
        case .sigv4:
            do {
                guard let signer = try signers?(upstream) else { return .broken("no SigV4 signer is available") }
                return .signer(signer)
            } catch {
                return .broken("cannot set up SigV4 signing: \(error)")
            }
        }
    }

    /// Drains the record queue into the sink until the task is cancelled (the server's graceful
    /// shutdown), then hands over the records still queued.
    public func run() async {
        await records.run(into: sink, logger: logger)
    }

    /// Closes the upstream connections. Call once, after the server stopped taking requests.
    public func shutdown() async {
        for client in clients {
            do { try await client.shutdown() } catch { logger.debug("gateway HTTP client shutdown", metadata: ["error": "\(error)"]) }
        }
    }

    /// Whether a request path belongs to the gateway (the server sends those to the gateway's router).
    public static func servesPath(_ path: Substring) -> Bool {
        if path.hasPrefix("/v1/") {
            switch path {
            case "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses", "/v1/models": return true
            default: return false
            }
        }
        return path.hasPrefix("/endpoints/")
    }

    /// Adds the OpenAI-compatible routes (`/v1/chat/completions`, `/v1/completions`,
    /// `/v1/embeddings`, `/v1/responses`, `GET /v1/models`).
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        for operation in OpenAIOperation.allCases {
            router.post(RouterPath(operation.path)) { request, _ in
                await self.handle(operation, request)
            }
        }
        router.get("/v1/models") { request, _ in
            await self.listModels(request)
        }
    }

    // MARK: Routing

    /// The upstream for a model name: the one that lists it, else the default.
    func upstream(forModel model: String?) -> Upstream? {
        if let model, let upstream = byModel[model] { return upstream }
        return fallback
    }

    /// Whether the client may use an upstream whose credential the gateway holds.
    func clientMayUse(_ upstream: Upstream, headers: HTTPFields) -> Bool {
        guard !accessTokens.isEmpty, upstream.configuration.auth.gatewayHoldsCredential else { return true }
        return presentsAccessToken(headers)
    }

    func presentsAccessToken(_ headers: HTTPFields) -> Bool {
        guard let header = headers[.authorization], header.utf8.count > 7,
              header.prefix(7).lowercased() == "bearer " else { return false }
        let offered = Array(header.utf8.dropFirst(7))
        var found = false
        for token in accessTokens where token.count == offered.count {
            var difference: UInt8 = 0
            for i in 0..<token.count { difference |= token[i] ^ offered[i] }  // constant time per token
            if difference == 0 { found = true }
        }
        return found
    }

    // MARK: One request

    /// Starts the record of a request received now.
    func beginExchange(_ request: Request, operation: String) -> Exchange {
        let start = clock.now()
        let wall = clock.wallMicros()
        let trace = TraceContext.make(incoming: request.headers[.traceparent], ids: ids)
        var record = InferenceRecord(id: makeRecordId(start: wall, spanId: trace.spanId), start: wall, source: .gateway)
        record.traceId = trace.traceId
        record.spanId = trace.spanId
        if let tenantHeader, let tenant = request.headers[tenantHeader], !tenant.isEmpty { record.tenant = clipped(tenant, 1024) }
        record.labels["operation"] = operation
        var captureLimit: Int?
        if configuration.captureSampleRate > 0, ids.uniform() < configuration.captureSampleRate {
            captureLimit = max(1, configuration.captureMaxBytes)
        }
        return Exchange(record: record, start: start, trace: trace, captureLimit: captureLimit)
    }

    /// Completes a record (texts redacted and capped, names clipped) and queues it.
    func finish(_ exchange: Exchange, response: [UInt8]? = nil) {
        var record = exchange.record
        if let limit = exchange.captureLimit {
            if let prompt = exchange.prompt { record.prompt = redactedPrefix(prompt, limit: limit) }
            if let response, !response.isEmpty { record.response = redactedPrefix(String(decoding: response, as: UTF8.self), limit: limit) }
        }
        if let error = record.error { record.error = clipped(redactor.redact(clipped(error, 64 * 1024)), 64 * 1024) }
        if let model = record.model { record.model = clipped(model, 1024) }
        if record.requestModel == record.model { record.requestModel = nil } else if let m = record.requestModel { record.requestModel = clipped(m, 1024) }
        if let finish = record.finishReason { record.finishReason = clipped(finish, 1024) }
        records.offer(record)
    }

    /// Texts are read up to this many times the capture limit, so that redaction (which shortens
    /// what it replaces) still leaves a full `captureMaxBytes` of text.
    static let captureWindow = 4

    /// Redacts, then caps. Text cut at the reading window is first trimmed back to a whitespace, so
    /// the cut never leaves half an email or key that the redactor could no longer recognise.
    func redactedPrefix(_ text: String, limit: Int) -> String {
        let window = limit * Self.captureWindow
        var text = text
        if text.utf8.count >= window {
            text = clipped(text, window)
            if let space = text.lastIndex(where: \.isWhitespace) { text = String(text[..<space]) }
        }
        return clipped(redactor.redact(text), limit)
    }

    private func handle(_ operation: OpenAIOperation, _ request: Request) async -> Response {
        var exchange = beginExchange(request, operation: operation.rawValue)
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: configuration.maxRequestBytes)
        } catch {
            let tooLarge = error is NIOTooManyBytesError
            return reject(&exchange, status: tooLarge ? .contentTooLarge : .badRequest,
                          message: tooLarge ? "the request body is larger than \(configuration.maxRequestBytes) bytes" : "the request body could not be read: \(error)",
                          type: "invalid_request_error", code: tooLarge ? "request_too_large" : "invalid_request")
        }
        let inspection = RequestInspection(body)
        exchange.record.model = inspection.model
        exchange.record.requestModel = inspection.model
        exchange.record.streaming = inspection.stream
        guard let upstream = upstream(forModel: inspection.model) else {
            let message = inspection.model.map { "The model `\($0)` does not exist or you do not have access to it." }
                ?? "the request names no model and no default upstream is configured"
            return reject(&exchange, status: .notFound, message: message, type: "invalid_request_error", code: "model_not_found")
        }
        guard clientMayUse(upstream, headers: request.headers) else {
            return reject(&exchange, status: .unauthorized, message: "this gateway requires a bearer token: send Authorization: Bearer TOKEN",
                          type: "invalid_request_error", code: "invalid_api_key")
        }
        exchange.apply(upstream)
        let strips = inspection.stream && operation.acceptsStreamOptions
            && (upstream.configuration.injectStreamUsage ?? configuration.injectStreamUsage)
            && inspection.includeUsage != true && inspection.isObject
        let upstreamBody = strips ? inspection.askingForUsage(body) : body
        if let limit = exchange.captureLimit { exchange.prompt = PromptText.render(body, operation: operation, limit: limit * Self.captureWindow) }
        let headers = forwardHeaders(request.headers, upstream: upstream, trace: exchange.trace)
        let timer = TokenTimer(start: exchange.start, maxGaps: configuration.maxGapsPerRecord)
        let captureLimit = exchange.captureLimit.map { $0 * Self.captureWindow }
        // The query goes along (Azure OpenAI's `api-version`, for one).
        let path = request.uri.query.map { operation.path + "?" + $0 } ?? operation.path
        return await proxy(exchange: exchange, upstream: upstream, method: .POST, path: path,
                           headers: headers, body: upstreamBody) { response, isStream in
            if isStream {
                return OpenAIStreamRelay(operation: operation, strips: strips, timer: timer, captureLimit: captureLimit)
            }
            return BodyRelay(operation: operation, timer: timer, isError: response.status.code >= 400, captureLimit: captureLimit)
        }
    }

    /// Answers with an OpenAI-shaped error of the gateway's own and records it.
    func reject(_ exchange: inout Exchange, status: HTTPResponse.Status, message: String, type: String, code: String) -> Response {
        let end = clock.now()
        exchange.record.httpStatus = Int(status.code)
        exchange.record.status = Self.recordStatus(httpStatus: Int(status.code))
        exchange.record.error = message
        exchange.record.e2eMs = TokenTimer.ms(max(0, end - exchange.start))
        finish(exchange)
        return Self.openAIError(status: status, message: message, type: type, code: code, recordId: exchange.record.id)
    }

    /// `{"error":{"message","type","param","code"}}`, as OpenAI answers errors.
    static func openAIError(status: HTTPResponse.Status, message: String, type: String, code: String, recordId: String?) -> Response {
        var json = JSONText()
        json.raw("{\"error\":{\"message\":")
        json.string(message)
        json.raw(",\"type\":")
        json.string(type)
        json.raw(",\"param\":null,\"code\":")
        json.string(code)
        json.raw("}}\n")
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if let recordId { headers[.bifocalRecordId] = recordId }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    /// How an HTTP status counts in the records (the ingest API's rule).
    static func recordStatus(httpStatus code: Int) -> RecordStatus {
        switch code {
        case 100..<400: .ok
        case 408, 504: .timeout
        case 499: .cancelled
        case 400..<500: .clientError
        default: .serverError
        }
    }

    // MARK: Headers

    /// Headers that describe one connection, not the message: never forwarded (RFC 9110 7.6.1).
    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
                                        "te", "trailer", "transfer-encoding", "upgrade"]

    /// The client's headers as the upstream gets them: hop-by-hop headers, `host`, `content-length`
    /// (recomputed), `accept-encoding` (the gateway must read usage, so it asks for identity), the
    /// gateway's own `x-bifocal-*` headers and, unless passed through, the client's credentials
    /// removed; `traceparent` set to the gateway's span.
    func forwardHeaders(_ fields: HTTPFields, upstream: Upstream, trace: TraceContext) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(fields.count + 2)
        var connectionTokens: Set<String> = []
        if let connection = fields[.connection] {
            for token in connection.split(separator: ",") { connectionTokens.insert(token.trimmingWhitespaceAndLowercased) }
        }
        let passesCredentials: Bool
        if case .passthrough = upstream.credential { passesCredentials = true } else { passesCredentials = false }
        for field in fields {
            let name = field.name.canonicalName
            if Self.hopByHop.contains(name) || connectionTokens.contains(name) { continue }
            switch name {
            case "host", "content-length", "accept-encoding", "traceparent", "expect": continue
            case "authorization", "api-key", "x-api-key": if !passesCredentials { continue }
            default: if name.hasPrefix("x-bifocal-") { continue }
            }
            headers.add(name: name, value: field.value)
        }
        headers.add(name: "traceparent", value: trace.header)
        return headers
    }

    /// The upstream's response headers as the client gets them, plus `x-bifocal-record-id`.
    static func responseHeaders(_ headers: HTTPHeaders, keepLength: Bool, recordId: String?) -> HTTPFields {
        var fields = HTTPFields()
        fields.reserveCapacity(headers.count + 1)
        var connectionTokens: Set<String> = []
        for value in headers["connection"] {
            for token in value.split(separator: ",") { connectionTokens.insert(token.trimmingWhitespaceAndLowercased) }
        }
        for (name, value) in headers {
            let lower = name.lowercased()
            if hopByHop.contains(lower) || connectionTokens.contains(lower) { continue }
            if !keepLength && lower == "content-length" { continue }
            guard let fieldName = HTTPField.Name(lower) else { continue }
            fields.append(HTTPField(name: fieldName, value: value))
        }
        if let recordId { fields[.bifocalRecordId] = recordId }
        return fields
    }
}

extension Substring {
    var trimmingWhitespaceAndLowercased: String {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return s.lowercased()
    }
}

extension HTTPField.Name {
    /// The id of the record a response belongs to (feedback and scores refer to it).
    static let bifocalRecordId = HTTPField.Name("x-bifocal-record-id")!
    /// W3C trace context.
    static let traceparent = HTTPField.Name("traceparent")!
}

/// One request on its way through the gateway: its record so far and what the proxy needs.
struct Exchange: Sendable {
    var record: InferenceRecord
    /// When the request was received (monotonic nanoseconds).
    let start: Int64
    let trace: TraceContext
    /// The most bytes of prompt and response kept; nil when this request is not sampled.
    let captureLimit: Int?
    /// The prompt, when sampled (redacted when the record is finished).
    var prompt: String?

    /// Labels the record with the upstream's endpoint, variant, instance and provider.
    mutating func apply(_ upstream: Upstream) {
        let c = upstream.configuration
        if let endpoint = c.endpoint { record.endpoint = endpoint }
        if let variant = c.variant { record.variant = variant }
        if let instance = c.instance { record.instance = instance }
        record.provider = upstream.provider
        record.labels["upstream"] = c.name
    }
}
