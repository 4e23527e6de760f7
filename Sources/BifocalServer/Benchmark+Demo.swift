import AsyncHTTPClient
import BifocalCore
import BifocalSimulator
import BifocalStore
import Foundation
import Logging
import NIOCore
import Synchronization

/// `bifocal bench demo` and `bench backfill`: whether the simulator leaves Bifocal's
/// measurements undistorted, and how fast it writes history.
extension Benchmark {
    /// Runs `bifocal demo` for `minutes` at `speed`, then compares the TTFT and e2e the gateway
    /// recorded for every answered request with the times the simulator scheduled for it.
    public static func demo(scenario name: String, minutes: Double, speed: Double, directory: String,
                            report: @escaping @Sendable (String) -> Void) async throws {
        let scenario = try Scenario.named(name)
        var options = DemoOptions(scenario: scenario, dataDirectory: directory)
        options.port = 0
        options.simulatorPort = 0
        options.speed = speed
        var quiet = Logger(label: "bench")
        quiet.logLevel = .error
        let logger = quiet
        let demo = options
        let started = AsyncStream<(DemoAddresses, LiveFleet, TrafficClient)>.makeStream()
        report("bench demo: scenario \(name) at \(speed)x for \(minutes) min (simulator, gateway, scrapers and traffic in this process)")
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await DemoRunner.run(demo, logger: logger, handleSignals: false) { addresses, fleet, traffic in
                    started.continuation.yield((addresses, fleet, traffic))
                }
            }
            var iterator = started.stream.makeAsyncIterator()
            guard let (addresses, fleet, traffic) = await iterator.next() else { return }
            let clock = ContinuousClock()
            let begin = clock.now
            let cpuBegin = cpuSeconds()
            var elapsed = 0.0
            while elapsed < minutes * 60 {
                try await Task.sleep(for: .seconds(min(60, minutes * 60 - elapsed)))
                elapsed = Double((clock.now - begin).components.seconds)
                let counts = traffic.counts
                report("  \(Int(elapsed)) s: sent \(counts.sent), answered \(counts.ok), failed \(counts.failed), in flight \(counts.inFlight)")
            }
            let cpu = cpuSeconds() - cpuBegin
            let wall = Double((clock.now - begin).components.seconds)
            try await Task.sleep(for: .seconds(2))

            // Every stored record, through the records API, paired with the simulator's truth.
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            var ttftDeltas: [Double] = []
            var e2eDeltas: [Double] = []
            var forwards: [Double] = []
            var relays: [Double] = []
            var parses: [Double] = []
            var lateness: [Double] = []
            var backs: [Double] = []
            var handoffs: [Double] = []
            var unmatched = 0
            var cursor: String?
            repeat {
                var url = "\(addresses.bifocal)/api/v1/records?limit=1000&since=\(Int(minutes * 60) + 120)s"
                if let cursor { url += "&cursor=\(cursor)" }
                let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(60))
                let body = try await response.body.collect(upTo: 256 << 20)
                let page = (try JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
                for item in page["records"] as? [[String: Any]] ?? [] {
                    guard let record = item["record"] as? [String: Any], record["status"] as? String == "ok",
                          let trace = record["trace_id"] as? String, let measured = record["ttft_ms"] as? Double else { continue }
                    guard let truth = fleet.truth(traceID: trace), let scheduled = truth.ttftMs else { unmatched += 1; continue }
                    ttftDeltas.append(measured - scheduled)
                    // Split the difference: gateway receipt to the fleet's receipt (one process,
                    // one wall clock), and the rest (the fleet's lateness plus the relay back).
                    let start: Int64? = (record["start"] as? Double).map { Int64(($0 * 1e6).rounded()) } ?? (record["start"] as? String).flatMap(Timestamp.parse)
                    if let start {
                        let forward = Double(fleet.origin + Int64((truth.arrival * 1e6).rounded()) - start) / 1000
                        forwards.append(forward)
                        relays.append(measured - scheduled - forward)
                        if let received = truth.received { parses.append((truth.arrival - received) * 1000) }
                        if let token = truth.firstToken, let written = truth.firstTokenWritten {
                            // Where the rest went: the fleet's driver waking after the first
                            // token's instant, its hand-off to the stream's writer, and the way back.
                            if let woke = truth.firstTokenWoke {
                                lateness.append((woke - token) * 1000)
                                handoffs.append((written - woke) * 1000)
                            }
                            let gatewayFirst = Double(start) / 1000 + measured
                            backs.append(gatewayFirst - (Double(fleet.origin) / 1000 + written * 1000))
                        }
                    }
                    if let e2e = record["e2e_ms"] as? Double, let truthE2E = truth.e2eMs { e2eDeltas.append(e2e - truthE2E) }
                }
                cursor = page["next"] as? String
            } while cursor != nil
            try await client.shutdown()
            group.cancelAll()

            func row(_ name: String, _ values: [Double]) -> String {
                let sorted = values.sorted()
                func q(_ p: Double) -> String { String(format: "%.3f", quantile(sorted, p)) }
                return "| \(name) | \(values.count) | \(q(0.5)) | \(q(0.9)) | \(q(0.99)) | \(String(format: "%.3f", sorted.last ?? .nan)) |"
            }
            report("")
            report("gateway-measured minus simulator-scheduled, ms (\(unmatched) answered records had no truth left)")
            report("| measure | requests | p50 | p90 | p99 | max |")
            report("| --- | --- | --- | --- | --- | --- |")
            report(row("TTFT", ttftDeltas))
            report(row("e2e", e2eDeltas))
            report(row("of TTFT: gateway to fleet", forwards))
            report(row("of TTFT: fleet lateness + relay", relays))
            report(row("of gateway to fleet: the fleet's handler before submitting", parses))
            report(row("of the rest: fleet's driver wakes late", lateness))
            report(row("of the rest: driver to the stream's writer", handoffs))
            report(row("of the rest: fleet's write to the gateway's read", backs))
            report(String(format: "process CPU over the run: %.1f s in %.0f s (%.2f of one core; the machine has %d)", cpu, wall, cpu / max(1, wall),
                          ProcessInfo.processInfo.activeProcessorCount))
        }
    }

    /// Writes `days` of the scenario's history (ending at `end`, default now; every `textEvery`-th
    /// record with its texts) into a fresh store in virtual time and reports how long it took.
    public static func backfill(scenario name: String, days: Double, load: Double, end: Int64? = nil, textEvery: Int = 1, directory: String,
                                report: @escaping @Sendable (String) -> Void) async throws {
        var scenario = try Scenario.named(name)
        scenario.fleet = scenario.fleet.scaled(load: load)
        var storage = StoreConfiguration(directory: directory)
        let duration = Int64(days * Double(Timestamp.microsPerDay))
        storage.endpoints = EndpointCatalog([scenario.fleet.endpointSpec])
        storage.rawRetention = duration + Timestamp.microsPerDay
        storage.textRetention = storage.rawRetention
        let store = try SQLiteStore.open(storage)
        let clock = ContinuousClock()
        let begin = clock.now
        var backfill = SimulatorBackfill(scenario: scenario, seed: 1, simulatorBaseURL: "http://127.0.0.1:8788")
        backfill.textEvery = textEvery
        let result = try await backfill.run(into: store, duration: duration, end: end ?? Timestamp.now(), seriesRawRetention: storage.seriesRawRetention)
        let seconds = Double((clock.now - begin).components.seconds) + Double((clock.now - begin).components.attoseconds) / 1e18
        try await store.close()
        report(String(format: "bench backfill: %@ for %.1f days at load %.2f: %d records and %d series points in %.1f s (%.0f records/s)",
                      name, days, load, result.records, result.points, seconds, Double(result.records) / seconds))
    }
}
