public import AsyncHTTPClient
import BifocalCore
import Foundation
public import Logging
import NIOCore
import Synchronization

/// The simulated fleet's clients: takes the fleet's traffic plans (`LiveFleet.nextPlan`) and
/// sends each, when its time comes, as a streamed chat completion to `baseURL` (normally the
/// gateway in front of the simulator), without waiting for earlier ones to finish.
///
/// Each request asks for `stream: true`, every other one with `stream_options.include_usage`;
/// its model is the planned server's name, its one user message the planned question after
/// enough context to reach the planned prompt length, and it names its tenant in
/// `tenantHeader`. Every response is read to the end.
public final class TrafficClient: Sendable {
    /// The default HTTP client: one connection per stream in flight. AsyncHTTPClient's shared
    /// client keeps 8 connections per host, which would queue a busy fleet's streams in the
    /// client, where no one measures them.
    public static let sharedClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 4096)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    /// What the client has done so far.
    public struct Counts: Sendable, Equatable {
        /// Requests sent.
        public var sent = 0
        /// Answered 200 with a stream that ended in `data: [DONE]`.
        public var ok = 0
        /// Answered another status, cut short, or never answered.
        public var failed = 0
        /// Given up because the client was stopped.
        public var cancelled = 0
        /// Responses by HTTP status.
        public var byStatus: [Int: Int] = [:]
        /// Requests sent but not yet answered to the end.
        public var inFlight: Int { sent - ok - failed - cancelled }
    }

    /// The fleet whose plans are sent.
    public let fleet: LiveFleet
    /// Where requests go: an OpenAI-compatible base URL (`http://127.0.0.1:8787/v1`).
    public let baseURL: String
    /// The header that names the tenant.
    public let tenantHeader: String
    /// Sent as `authorization: Bearer …` when set (a gateway that wants a key).
    public let apiKey: String?
    /// The longest a single request may take, seconds.
    public let timeout: Double
    private let client: HTTPClient
    private let logger: Logger
    private let state = Mutex(Counts())

    /// A client for `fleet`'s traffic, sending to `baseURL` (`/chat/completions` is appended).
    public init(fleet: LiveFleet, baseURL: String, tenantHeader: String = "x-bifocal-tenant", apiKey: String? = nil,
                timeout: Double = 600, httpClient: HTTPClient = TrafficClient.sharedClient, logger: Logger = Logger(label: "bifocal.traffic")) {
        self.fleet = fleet
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.tenantHeader = tenantHeader
        self.apiKey = apiKey
        self.timeout = timeout
        self.client = httpClient
        self.logger = logger
    }

    /// What the client has done so far.
    public var counts: Counts { state.withLock { $0 } }

    /// Sends the fleet's plans as their times come, until the calling task is cancelled; then
    /// waits for the requests in flight (cancelled with it) and returns. Plans whose time passed
    /// before the call are skipped, so a client started late does not send a backlog at once.
    public func run() async {
        let startedAt = fleet.now
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let plan = fleet.nextPlan()
                if plan.time < startedAt { continue }
                do {
                    try await Task.sleep(until: fleet.instant(at: plan.time), clock: .continuous)
                } catch {
                    break
                }
                state.withLock { $0.sent += 1 }
                group.addTask { await self.send(plan) }
            }
        }
    }

    /// The chat completion body `plan` is sent with.
    public func body(for plan: RequestPlan) -> String {
        let questionTokens = QuestionSet.promptTokens(of: plan.question.prompt)
        let content = QuestionSet.context(tokens: plan.promptTokens - questionTokens) + plan.question.prompt
        let model = fleet.serverNames[plan.server]
        let usage = plan.id % 2 == 0 ? #","stream_options":{"include_usage":true}"# : ""
        return #"{"model":\#(LiveRoutes.quote(model)),"messages":[{"role":"user","content":\#(LiveRoutes.quote(content))}],"stream":true\#(usage)}"#
    }

    /// Sends one plan and reads its answer to the end.
    func send(_ plan: RequestPlan) async {
        var request = HTTPClientRequest(url: baseURL + "/chat/completions")
        // NIOHTTP1 is not among this target's dependencies, so its types are reached only
        // through their protocol conformances (a raw value, a dictionary literal, a description).
        request.method = Self.method("POST")
        if let apiKey {
            request.headers = Self.fields(("content-type", "application/json"), ("accept", "text/event-stream"), (tenantHeader, plan.tenant),
                                          ("authorization", "Bearer \(apiKey)"))
        } else {
            request.headers = Self.fields(("content-type", "application/json"), ("accept", "text/event-stream"), (tenantHeader, plan.tenant))
        }
        request.body = .bytes(ByteBuffer(string: body(for: plan)))
        var status = 0
        do {
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
            status = Self.statusCode(response.status)
            // `[DONE]` ends a complete stream: keep the last bytes read to look for it.
            var tail: [UInt8] = []
            for try await buffer in response.body {
                tail.append(contentsOf: buffer.readableBytesView.suffix(32))
                if tail.count > 32 { tail.removeFirst(tail.count - 32) }
            }
            let complete = status == 200 && String(decoding: tail, as: UTF8.self).contains("data: [DONE]")
            state.withLock {
                $0.byStatus[status, default: 0] += 1
                if complete { $0.ok += 1 } else { $0.failed += 1 }
            }
        } catch {
            let cancelled = Task.isCancelled
            state.withLock {
                if status != 0 { $0.byStatus[status, default: 0] += 1 }
                if cancelled { $0.cancelled += 1 } else { $0.failed += 1 }
            }
            if !cancelled { logger.debug("simulated request failed", metadata: ["plan": "\(plan.id)", "error": "\(error)"]) }
        }
    }

    /// An HTTP method from its name.
    static func method<Method: RawRepresentable>(_ name: String) -> Method where Method.RawValue == String {
        Method(rawValue: name)!
    }

    /// Headers from one to four name-value pairs.
    static func fields<Fields: ExpressibleByDictionaryLiteral>(_ first: (String, String), _ rest: (String, String)...) -> Fields
        where Fields.Key == String, Fields.Value == String
    {
        let pairs = [first] + rest
        switch pairs.count {
        case 1: return Fields(dictionaryLiteral: pairs[0])
        case 2: return Fields(dictionaryLiteral: pairs[0], pairs[1])
        case 3: return Fields(dictionaryLiteral: pairs[0], pairs[1], pairs[2])
        default: return Fields(dictionaryLiteral: pairs[0], pairs[1], pairs[2], pairs[3])
        }
    }

    /// The code of a response status, from its description (`200 OK`).
    static func statusCode(_ status: some CustomStringConvertible) -> Int {
        Int(status.description.prefix { $0.isNumber }) ?? 0
    }
}
