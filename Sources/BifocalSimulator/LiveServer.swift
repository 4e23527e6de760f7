import BifocalCore
import Foundation
import HTTPTypes
public import Hummingbird
public import Logging
public import NIOCore

/// The live simulated fleet served over HTTP: for each model server `NAME`, vLLM's OpenAI
/// compatible API under `/servers/NAME/v1` and its `/servers/NAME/metrics`, a DCGM exporter per
/// GPU group under `/dcgm/NAME/metrics` (and `/dcgm/unassigned/metrics`), a description at `/`
/// and `/sim`, and the simulator's own account of each request at `/sim/truth`.
///
/// It is a Hummingbird application (so a `Service`): put it in a `ServiceGroup` or call
/// `runService()`. `run()` also runs the fleet's engine drivers, for as long as the server runs;
/// on graceful shutdown the server drains its streams before the drivers stop.
public struct LiveFleetServer: ApplicationProtocol {
    /// The router's responder.
    public typealias Responder = RouterResponder<BasicRequestContext>

    /// The fleet it serves.
    public let fleet: LiveFleet
    /// Address to bind (`127.0.0.1`).
    public let host: String
    /// Port to bind; 0 takes any free one (reported through `onRunning`).
    public let port: Int
    /// Where the server logs.
    public let logger: Logger
    private let onRunning: @Sendable (Int) async -> Void

    /// Serves `fleet` on `host:port`; `onRunning` gets the bound port once the server listens.
    public init(fleet: LiveFleet, host: String = "127.0.0.1", port: Int = 0,
                logger: Logger = Logger(label: "bifocal.simulator"), onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) {
        self.fleet = fleet
        self.host = host
        self.port = port
        self.logger = logger
        self.onRunning = onRunning
    }

    /// Creates the fleet from a scenario (engine time starts now) and serves it.
    public init(scenario: Scenario, speed: Double = 1, seed: UInt64 = 1, host: String = "127.0.0.1", port: Int = 0,
                logger: Logger = Logger(label: "bifocal.simulator"), onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) throws {
        self.init(fleet: try LiveFleet(scenario: scenario, speed: speed, seed: seed), host: host, port: port, logger: logger, onRunning: onRunning)
    }

    /// The routes.
    public var responder: Responder { LiveRoutes(fleet: fleet).router().buildResponder() }

    /// Binds `host:port`.
    public var configuration: ApplicationConfiguration {
        ApplicationConfiguration(address: .hostname(host, port: port), serverName: "bifocal-simulator")
    }

    /// Reports the bound port.
    public func onServerRunning(_ channel: any Channel) async {
        await onRunning(channel.localAddress?.port ?? port)
    }

    /// Serves until cancelled or shut down gracefully, with the engine drivers running alongside.
    public func run() async throws {
        let application = Application(responder: responder, configuration: configuration,
                                      onServerRunning: { channel in await self.onServerRunning(channel) }, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.fleet.runDrivers() }
            // The server runs in this task, where an enclosing ServiceGroup's graceful shutdown
            // reaches it; the drivers stop only once it has drained its streams.
            try await application.run()
            group.cancelAll()
        }
    }
}

/// The handlers behind `LiveFleetServer`.
struct LiveRoutes: Sendable {
    let fleet: LiveFleet
    static let traceparent = HTTPField.Name("traceparent")!
    static let requestIDHeader = HTTPField.Name("x-sim-request-id")!
    static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("/") { _, _ in try describe() }
        router.get("/sim") { _, _ in try describe() }
        router.get("/sim/truth") { request, _ in try truth(request) }
        router.post("/servers/:name/v1/chat/completions") { request, context in
            let name = context.parameters.get("name") ?? ""
            guard let index = fleet.serverIndex(named: name) else { return unknownServer(name) }
            return try await chat(request, server: index)
        }
        // The whole fleet behind one base URL, routed by the body's model (as a gateway would),
        // for clients that want to talk to the fleet without one.
        router.post("/v1/chat/completions") { request, _ in try await chat(request, server: nil) }
        router.get("/v1/models") { _, _ in allModels() }
        router.get("/servers/:name/v1/models") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard let index = fleet.serverIndex(named: name) else { return unknownServer(name) }
            return models(server: index)
        }
        router.get("/servers/:name/health") { _, context in
            let name = context.parameters.get("name") ?? ""
            guard fleet.serverIndex(named: name) != nil else { return unknownServer(name) }
            return Response(status: .ok)
        }
        router.get("/servers/:name/metrics") { request, context in
            metrics(path: request.uri.path, name: context.parameters.get("name") ?? "")
        }
        router.get("/dcgm/:name/metrics") { request, context in
            metrics(path: request.uri.path, name: context.parameters.get("name") ?? "")
        }
        return router
    }

    // MARK: Description and truth

    struct Description: Encodable {
        struct Server: Encodable {
            var name: String
            var model: String
            var gpus: [Int]
            var version: String
            var baseURL: String
            var metrics: String
            enum CodingKeys: String, CodingKey { case name, model, gpus, version, baseURL = "base_url", metrics }
        }
        struct Target: Encodable {
            var path: String
            var job: String
            var model: String?
        }
        var scenario: String
        var description: String
        var speed: Double
        var seed: UInt64
        var now: Double
        var endpoint: String
        var instance: String
        var gpu: String
        var servers: [Server]
        var targets: [Target]
        var truth: String
    }

    func describe() throws -> Response {
        let fleetSpec = fleet.scenario.fleet
        let servers = fleetSpec.servers.enumerated().map { index, spec in
            Description.Server(name: spec.name, model: spec.model ?? spec.name, gpus: spec.gpus, version: fleet.version(server: index),
                               baseURL: "/servers/\(spec.name)/v1", metrics: "/servers/\(spec.name)/metrics")
        }
        let description = Description(scenario: fleet.scenario.name, description: fleet.scenario.description, speed: fleet.speed,
                                      seed: fleet.seed, now: fleet.now, endpoint: fleetSpec.endpoint, instance: fleetSpec.instance,
                                      gpu: fleetSpec.gpu, servers: servers,
                                      targets: fleet.targets.map { Description.Target(path: $0.path, job: $0.job, model: $0.model) },
                                      truth: "/sim/truth")
        return try json(description)
    }

    struct TruthList: Encodable {
        var now: Double
        var requests: [SimulatedTruth]
    }

    /// `?trace_id=` or `?request_id=`: one request (404 when unknown); otherwise the latest
    /// `?limit=` (100) requests, oldest first.
    func truth(_ request: Request) throws -> Response {
        let query = request.uri.queryParameters
        if let trace = query.get("trace_id") {
            guard let found = fleet.truth(traceID: trace.lowercased()) else {
                return error(404, "No request with trace id \(trace) is remembered.", type: "invalid_request_error", code: "not_found")
            }
            return try json(found)
        }
        if let text = query.get("request_id") {
            guard let id = UInt64(text), let found = fleet.truth(requestID: id) else {
                return error(404, "No request with id \(text) is remembered.", type: "invalid_request_error", code: "not_found")
            }
            return try json(found)
        }
        let limit = query.get("limit").flatMap { Int($0) } ?? 100
        return try json(TruthList(now: fleet.now, requests: fleet.recentTruths(limit: min(max(0, limit), fleet.truthCapacity))))
    }

    // MARK: Metrics and models

    func metrics(path: String, name: String) -> Response {
        guard let target = fleet.targets.first(where: { $0.path == path }), let text = fleet.exposition(of: target) else {
            return unknownServer(name)
        }
        return Response(status: .ok, headers: [.contentType: Self.metricsContentType], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    func models(server index: Int) -> Response {
        let name = fleet.serverNames[index]
        let created = Int(Timestamp.unixSeconds(fleet.origin))
        let body = #"{"object":"list","data":[{"id":\#(Self.quote(name)),"object":"model","created":\#(created),"owned_by":"vllm","root":\#(Self.quote(name)),"parent":null,"max_model_len":\#(fleet.contextLength(server: index))}]}"#
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    // MARK: Chat completions

    struct ChatBody: Decodable {
        struct StreamOptions: Decodable {
            var includeUsage: Bool?
            enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
        }
        var model: String?
        var messages: [ChatMessage]
        var stream: Bool?
        var streamOptions: StreamOptions?
        var maxTokens: Int?
        var maxCompletionTokens: Int?
        enum CodingKeys: String, CodingKey {
            case model, messages, stream
            case streamOptions = "stream_options"
            case maxTokens = "max_tokens"
            case maxCompletionTokens = "max_completion_tokens"
        }
    }

    /// One message; its content a string, an array of content parts (the text ones are kept) or null.
    struct ChatMessage: Decodable {
        struct Part: Decodable {
            var type: String?
            var text: String?
        }
        var role: String
        var text: String
        enum CodingKeys: String, CodingKey { case role, content }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            role = try c.decode(String.self, forKey: .role)
            if try !c.contains(.content) || c.decodeNil(forKey: .content) {
                text = ""
            } else if let string = try? c.decode(String.self, forKey: .content) {
                text = string
            } else if let parts = try? c.decode([Part].self, forKey: .content) {
                text = parts.filter { $0.type == nil || $0.type == "text" }.compactMap(\.text).joined(separator: "\n")
            } else {
                throw DecodingError.typeMismatch(String.self, .init(codingPath: c.codingPath + [CodingKeys.content],
                                                                    debugDescription: "content must be a string, an array of content parts or null"))
            }
        }
    }

    /// Why a body is refused, as precisely as the decoder can say.
    static func explain(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "The request body could not be read: \(error)" }
        if case .dataCorrupted(let context) = error, context.codingPath.isEmpty {
            let detail = context.underlyingError.map { "\($0)" } ?? context.debugDescription
            return "The request body is not valid JSON: \(detail)"
        }
        return "Invalid request body: \(Scenario.describe(error))"
    }

    /// The W3C trace id of a `traceparent` header (`00-<32 hex>-<16 hex>-<2 hex>`), or nil.
    static func traceID(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: "-")
        guard parts.count >= 4, parts[1].utf8.count == 32, parts[1].allSatisfy(\.isHexDigit), parts[1].contains(where: { $0 != "0" }) else { return nil }
        return parts[1].lowercased()
    }

    func allModels() -> Response {
        let created = Int(Timestamp.unixSeconds(fleet.origin))
        let entries = fleet.serverNames.indices.map { index -> String in
            let name = fleet.serverNames[index]
            return #"{"id":\#(Self.quote(name)),"object":"model","created":\#(created),"owned_by":"vllm","root":\#(Self.quote(name)),"parent":null,"max_model_len":\#(fleet.contextLength(server: index))}"#
        }
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: #"{"object":"list","data":[\#(entries.joined(separator: ","))]}"#)))
    }

    /// A chat completion for server `given`, or (nil) for the server the body's model names.
    func chat(_ request: Request, server given: Int?) async throws -> Response {
        let received = fleet.now
        let bytes = try await request.body.collect(upTo: 64 << 20)
        let body: ChatBody
        do {
            body = try JSONDecoder().decode(ChatBody.self, from: Data(bytes.readableBytesView))
        } catch {
            return self.error(400, Self.explain(error), type: "invalid_request_error", code: "invalid_request_body")
        }
        guard let index = given ?? body.model.flatMap({ fleet.serverIndex(named: $0) }) else {
            return self.error(404, "The model `\(body.model ?? "")` does not exist; the fleet serves \(fleet.serverNames.map { "`\($0)`" }.joined(separator: ", ")).",
                              type: "invalid_request_error", code: "model_not_found")
        }
        let name = fleet.serverNames[index]
        if let model = body.model, model != name {
            return self.error(404, "The model `\(model)` does not exist; this server serves `\(name)`.", type: "invalid_request_error", code: "model_not_found")
        }
        guard !body.messages.isEmpty else {
            return self.error(400, "messages: at least one message is required.", type: "invalid_request_error", code: "invalid_request_body")
        }
        let maxTokens = body.maxCompletionTokens ?? body.maxTokens
        if let maxTokens, maxTokens < 1 {
            return self.error(400, "max_tokens must be at least 1, got \(maxTokens).", type: "invalid_request_error", code: "invalid_request_body")
        }
        let userText = body.messages.last(where: { $0.role == "user" })?.text ?? ""
        let matched = QuestionSet.match(userText)
        let question = matched ?? QuestionSet.unmatched(userText)
        let promptTokens = QuestionSet.promptTokens(of: body.messages.map(\.text).joined(separator: "\n"))
        let trace = Self.traceID(request.headers[Self.traceparent])

        switch fleet.submit(server: index, question: question, matched: matched != nil, promptTokens: promptTokens,
                            maxTokens: maxTokens, traceID: trace, received: received) {
        case .failure(let id, let status, let message):
            var response = status >= 500
                ? self.error(status, message, type: "server_error", code: "service_unavailable")
                : self.error(status, message, type: "invalid_request_error", code: "context_length_exceeded")
            response.headers[Self.requestIDHeader] = String(id)
            return response
        case .accepted(let admission):
            let created = Int(Date().timeIntervalSince1970)
            if body.stream ?? false {
                return stream(admission, model: name, created: created, promptTokens: promptTokens,
                              includeUsage: body.streamOptions?.includeUsage ?? false)
            }
            return try await complete(admission, model: name, created: created, promptTokens: promptTokens)
        }
    }

    /// `text/event-stream` in OpenAI's (and vLLM's) chunk shape: a role chunk at once, a chunk per
    /// token when the engine produces it, a chunk with the finish reason, the usage chunk when
    /// asked, `[DONE]`. A failed write means the client left: its request leaves the engine.
    func stream(_ admission: LiveAdmission, model: String, created: Int, promptTokens: Int, includeUsage: Bool) -> Response {
        let fleet = self.fleet
        let id = admission.requestID
        let head = #"data: {"id":"chatcmpl-sim\#(id)","object":"chat.completion.chunk","created":\#(created),"model":\#(Self.quote(model)),"system_fingerprint":\#(Self.quote(admission.version)),"choices":["#
        let tail = includeUsage ? ",\"usage\":null}\n\n" : "}\n\n"
        let events = admission.events
        let body = ResponseBody { writer in
            var done = false
            defer { if !done { fleet.cancel(requestID: id) } }
            try await writer.write(ByteBuffer(string: head + #"{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]"# + tail))
            var sent = 0
            for await event in events {
                switch event {
                case .tokens(let pieces, _):
                    var text = ""
                    for piece in pieces {
                        text += head + #"{"index":0,"delta":{"content":"# + Self.quote(piece) + #"},"logprobs":null,"finish_reason":null}]"# + tail
                    }
                    if sent == 0 { fleet.noteFirstWrite(requestID: id) }
                    sent += pieces.count
                    try await writer.write(ByteBuffer(string: text))
                case .finished(let outcome):
                    done = true
                    var text = head + #"{"index":0,"delta":{},"logprobs":null,"finish_reason":"# + Self.quote(outcome.finishReason) + "}]" + tail
                    if includeUsage {
                        text += #"data: {"id":"chatcmpl-sim\#(id)","object":"chat.completion.chunk","created":\#(created),"model":\#(Self.quote(model)),"system_fingerprint":\#(Self.quote(admission.version)),"choices":[],"usage":"#
                            + Self.usage(prompt: promptTokens, completion: sent) + "}\n\n"
                    }
                    text += "data: [DONE]\n\n"
                    try await writer.write(ByteBuffer(string: text))
                    try await writer.finish(nil)
                    return
                }
            }
            // The events ended without an outcome: this task was cancelled (the server is going
            // away); the deferred cancel takes the request out of the engine.
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache", Self.requestIDHeader: String(id)],
                        body: body)
    }

    /// One `chat.completion` once the engine has produced the whole answer.
    func complete(_ admission: LiveAdmission, model: String, created: Int, promptTokens: Int) async throws -> Response {
        var text = ""
        var count = 0
        var finish: EngineOutcome?
        for await event in admission.events {
            switch event {
            case .tokens(let pieces, _):
                text += pieces.joined()
                count += pieces.count
            case .finished(let outcome):
                finish = outcome
            }
        }
        guard let finish else {
            fleet.cancel(requestID: admission.requestID)
            throw CancellationError()
        }
        let body = #"{"id":"chatcmpl-sim\#(admission.requestID)","object":"chat.completion","created":\#(created),"model":\#(Self.quote(model)),"system_fingerprint":\#(Self.quote(admission.version)),"choices":[{"index":0,"message":{"role":"assistant","content":\#(Self.quote(text))},"logprobs":null,"finish_reason":\#(Self.quote(finish.finishReason))}],"usage":\#(Self.usage(prompt: promptTokens, completion: count))}"#
        return Response(status: .ok, headers: [.contentType: "application/json", Self.requestIDHeader: String(admission.requestID)],
                        body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func usage(prompt: Int, completion: Int) -> String {
        #"{"prompt_tokens":\#(prompt),"completion_tokens":\#(completion),"total_tokens":\#(prompt + completion)}"#
    }

    // MARK: Helpers

    func unknownServer(_ name: String) -> Response {
        error(404, "The model server `\(name)` does not exist; this fleet serves \(fleet.serverNames.map { "`\($0)`" }.joined(separator: ", ")).",
              type: "invalid_request_error", code: "model_not_found")
    }

    /// OpenAI's error shape: `{"error":{"message":…,"type":…,"param":null,"code":…}}`.
    func error(_ status: Int, _ message: String, type: String, code: String) -> Response {
        let body = #"{"error":{"message":\#(Self.quote(message)),"type":\#(Self.quote(type)),"param":null,"code":\#(Self.quote(code))}}"#
        return Response(status: HTTPResponse.Status(code: status), headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// A JSON string literal (quotes, backslashes and control characters escaped).
    static func quote(_ text: String) -> String { JSONText.quoted(text) }
}
