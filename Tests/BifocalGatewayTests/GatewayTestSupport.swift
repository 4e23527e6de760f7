import AsyncHTTPClient
import BifocalCore
@testable import BifocalGateway
import BifocalTesting
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// A sink that keeps what it is given, and can be told to hold every submit until released.
final class CollectingSink: RecordSink, Sendable {
    private let state = Mutex<[InferenceRecord]>([])
    private let gate: Mutex<CheckedContinuation<Void, Never>?> = Mutex(nil)
    private let blocked: Mutex<Bool>

    init(blocked: Bool = false) { self.blocked = Mutex(blocked) }

    var records: [InferenceRecord] { state.withLock { $0 } }

    func submit(_ records: [InferenceRecord]) async throws -> SinkOutcome {
        if blocked.withLock({ $0 }) {
            await withCheckedContinuation { continuation in gate.withLock { $0 = continuation } }
        }
        state.withLock { $0.append(contentsOf: records) }
        return SinkOutcome(accepted: records.count)
    }

    /// Waits until a submit is being held.
    func waitUntilHeld() async {
        for _ in 0..<500 where gate.withLock({ $0 == nil }) { try? await Task.sleep(for: .milliseconds(10)) }
    }

    func release() {
        blocked.withLock { $0 = false }
        gate.withLock { $0 }?.resume()
    }

    /// Waits (up to 5 s) until `count` records arrived.
    func waitFor(_ count: Int) async -> [InferenceRecord] {
        for _ in 0..<500 {
            let now = records
            if now.count >= count { return now }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return records
    }
}

/// What a fake upstream saw.
final class UpstreamLog: Sendable {
    struct Seen: Sendable {
        var path: String
        var query: String?
        var headers: HTTPFields
        var body: String
    }

    private let state = Mutex<[Seen]>([])
    /// Set when a streaming answer could not be written to the end (the gateway went away).
    let aborted = Mutex(false)

    var requests: [Seen] { state.withLock { $0 } }

    func add(_ request: Request, body: ByteBuffer) {
        state.withLock { $0.append(Seen(path: request.uri.path, query: request.uri.query, headers: request.headers, body: String(buffer: body))) }
    }
}

/// Runs a real Hummingbird server on 127.0.0.1 (a free port) for the duration of `body`.
func withServer<Value: Sendable>(
    _ router: Router<BasicRequestContext>,
    _ body: @Sendable (Int) async throws -> Value
) async throws -> Value {
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                          logger: Logger(label: "fake-upstream"))
    return try await app.test(.live) { client in
        try await body(client.port!)
    }
}

/// A port nothing listens on (bound once, then closed).
func closedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A gateway in front of the given upstreams, served on a free port, with its record drain running.
struct GatewayHarness: Sendable {
    let gateway: Gateway
    let sink: CollectingSink
    let port: Int

    /// Sends a request through the gateway and reads the whole answer.
    func send(_ path: String, body: String? = nil, headers: HTTPHeaders = [:], method: HTTPMethod = .POST) async throws
        -> (status: Int, headers: HTTPHeaders, body: ByteBuffer)
    {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        request.headers = headers
        if request.headers["content-type"].isEmpty { request.headers.add(name: "content-type", value: "application/json") }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 64 * 1024 * 1024)
        return (Int(response.status.code), response.headers, bytes)
    }
}

func withGateway<Value: Sendable>(
    _ configuration: GatewayConfiguration,
    sink: CollectingSink = CollectingSink(),
    clock: GatewayClock = .system,
    environment: [String: String] = [:],
    _ body: @Sendable (GatewayHarness) async throws -> Value
) async throws -> Value {
    let gateway = Gateway(configuration: configuration, sink: sink, clock: clock, environment: environment,
                          logger: Logger(label: "gateway-test"))
    let router = Router(context: BasicRequestContext.self)
    gateway.addRoutes(to: router)
    let drain = Task { await gateway.run() }
    defer { drain.cancel() }
    let result: Value
    do {
        result = try await withServer(router) { port in
            try await body(GatewayHarness(gateway: gateway, sink: sink, port: port))
        }
    } catch {
        await gateway.shutdown()
        throw error
    }
    await gateway.shutdown()
    return result
}

/// One upstream named `up` serving `models`, at the given base URLs.
func upstreamConfiguration(_ urls: [String], models: [String] = ["m"], configure: (inout UpstreamConfiguration) -> Void = { _ in })
    -> GatewayConfiguration
{
    var upstream = UpstreamConfiguration(name: "up", baseURLs: urls, models: models)
    upstream.endpoint = "ep"
    configure(&upstream)
    return GatewayConfiguration(upstreams: [upstream])
}

/// A response body written in the given pieces, `pause` apart.
func pieces(_ chunks: [[UInt8]], pause: Duration = .zero, log: UpstreamLog? = nil) -> ResponseBody {
    ResponseBody { writer in
        do {
            for chunk in chunks {
                if pause > .zero { try await Task.sleep(for: pause) }
                try await writer.write(ByteBuffer(bytes: chunk))
            }
            try await writer.finish(nil)
        } catch {
            log?.aborted.withLock { $0 = true }
            throw error
        }
    }
}

/// Splits bytes into pieces of the given sizes, cycling through them.
func split(_ bytes: [UInt8], sizes: [Int]) -> [[UInt8]] {
    var out: [[UInt8]] = []
    var i = 0
    var k = 0
    while i < bytes.count {
        let n = max(1, sizes[k % sizes.count])
        out.append(Array(bytes[i..<min(bytes.count, i + n)]))
        i += n
        k += 1
    }
    return out
}

/// A fixture's bytes, or nil (the test is skipped, loudly) when the shared fixtures are missing.
func fixture(_ path: String) throws -> [UInt8]? {
    try Fixtures.load(path).map { Array($0) }
}

/// A clock a test moves by hand (nanoseconds).
final class ManualClock: Sendable {
    let value = Atomic<Int64>(1_000_000_000)
    func advance(_ nanos: Int64) { value.add(nanos, ordering: .relaxed) }
    var clock: GatewayClock {
        GatewayClock(now: { self.value.load(ordering: .relaxed) }, wallMicros: { 1_795_953_600_000_000 })
    }
}
