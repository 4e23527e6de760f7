import AsyncHTTPClient
import BifocalCore
import BifocalServer
import BifocalSimulator
import BifocalTesting
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// `bifocal demo`'s wiring over real HTTP: the simulated fleet on loopback, Bifocal's gateway in
/// front of it, its scrapers on the fleet's metrics, traffic through the gateway.
@Suite struct DemoEndToEndTests {
    func getJSON(_ client: HTTPClient, _ url: String) async throws -> [String: Any] {
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 << 20)
        #expect(response.status == .ok, "\(url): \(String(buffer: body))")
        return (try JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }

    @Test func aShortScenarioRunsThroughTheGatewayIntoTheStore() async throws {
        let folder = try TemporaryDirectory()
        var scenario = try Scenario.builtIn("steady")
        scenario.fleet = scenario.fleet.scaled(load: 3)
        var options = DemoOptions(scenario: scenario, dataDirectory: folder.path)
        options.port = 0
        options.simulatorPort = 0
        options.speed = 10
        options.scrapeInterval = Timestamp.microsPerSecond
        var quiet = Logger(label: "demo-test")
        quiet.logLevel = .error
        let logger = quiet
        let demo = options
        let started = AsyncStream<(DemoAddresses, LiveFleet, TrafficClient)>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await DemoRunner.run(demo, logger: logger, handleSignals: false) { addresses, fleet, traffic in
                    started.continuation.yield((addresses, fleet, traffic))
                }
            }
            var iterator = started.stream.makeAsyncIterator()
            let (addresses, fleet, traffic) = try #require(await iterator.next())
            // Wait (bounded) for answered requests to flow and a few scrapes to land.
            for _ in 0..<600 where traffic.counts.ok < 20 { try await Task.sleep(for: .milliseconds(100)) }
            #expect(traffic.counts.ok >= 20, "\(traffic.counts)")
            try await Task.sleep(for: .seconds(3))

            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let page = try await getJSON(client, "\(addresses.bifocal)/api/v1/records?limit=200")
            let records = (page["records"] as? [[String: Any]] ?? []).compactMap { $0["record"] as? [String: Any] }
            let answered = records.filter { $0["status"] as? String == "ok" }
            #expect(answered.count >= 10)
            var compared = 0
            for record in answered {
                #expect(["llama-3-8b", "mistral-7b"].contains(record["model"] as? String ?? ""))
                #expect(record["source"] as? String == "gateway")
                let trace = try #require(record["trace_id"] as? String)
                // The simulator's own account of the request, found by the trace id the gateway sent.
                guard let truth = fleet.truth(traceID: trace), let scheduled = truth.ttftMs else { continue }
                compared += 1
                #expect(record["output_tokens"] as? Int == truth.outputTokens)
                #expect(record["input_tokens"] as? Int == truth.promptTokens)
                // The gateway receives the request before the fleet does and relays the first token
                // after the fleet sent it: its TTFT is never below the scheduled one.
                let measured = try #require(record["ttft_ms"] as? Double)
                #expect(measured >= scheduled - 0.01, "measured \(measured) ms, scheduled \(scheduled) ms")
                #expect(record["response"] as? String != nil)
            }
            #expect(compared >= 10)

            let targets = try await getJSON(client, "\(addresses.bifocal)/api/v1/targets")
            let list = targets["targets"] as? [[String: Any]] ?? []
            #expect(list.count == 4)
            #expect(list.allSatisfy { $0["health"] as? String == "up" }, "\(list)")
            let kv = try await getJSON(client, "\(addresses.bifocal)/api/v1/query?signal=kv_cache.usage&by=model&window=1m")
            #expect((kv["series"] as? [[String: Any]] ?? []).count == 2, "\(kv)")
            let simulator = try await getJSON(client, "\(addresses.simulator)/sim")
            #expect(simulator["scenario"] as? String == "steady")
            try await client.shutdown()
            group.cancelAll()
        }
        _ = folder
    }

    /// A listening socket on a free loopback port, held until `close`.
    func occupiedPort() throws -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        #expect(bound == 0)
        #expect(listen(fd, 1) == 0)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }

    @Test func aTakenPortIsAnErrorNamingItNotAHang() async throws {
        let folder = try TemporaryDirectory()
        let (fd, port) = try occupiedPort()
        defer { close(fd) }
        var options = DemoOptions(scenario: try Scenario.builtIn("steady"), dataDirectory: folder.path)
        options.port = 0
        options.simulatorPort = port
        do {
            try await DemoRunner.run(options, logger: Logger(label: "demo-test"), handleSignals: false)
            Issue.record("the demo ran on a taken port")
        } catch let error as DemoError {
            #expect(error.description.contains("127.0.0.1:\(port)"))
        }
    }
}
