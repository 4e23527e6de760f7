import BifocalCore
import BifocalSimulator
import BifocalStore
import Foundation
import Logging
import ServiceLifecycle

extension Benchmark {
    /// `bench dashboard`: fills a store with the simulator's history of the `p4de-incident` fleet (`records` records over
    /// `days` days, and the same days of scraped series for 8 GPUs and 2 model servers), starts
    /// the real server on loopback, and times each page's data over HTTP: the Overview and
    /// Compare JSON for every named range, the request list (plain, filtered, text search), a
    /// request page, the records API and `/metrics`: the first load (the dashboard's chunk cache
    /// cold for that view), then the median of `repeats`. The goal is 100 ms per page.
    public static func dashboard(records total: Int, days: Int, repeats: Int = 11, directory: String,
                                 report: @escaping @Sendable (String) -> Void) async throws {
        let now = Timestamp.floor(Timestamp.now(), toMultipleOf: Timestamp.microsPerMinute)
        var scenario = try Scenario.builtIn("p4de-incident")
        // Scaled so the history holds about `total` records (the daily curve averages to 1).
        let load = Double(total) / (Double(days) * 86_400 * scenario.fleet.servers.reduce(0) { $0 + $1.requestsPerSecond })
        scenario.fleet = scenario.fleet.scaled(load: load)
        var configuration = BifocalConfiguration()
        configuration.port = 0
        configuration.storage.directory = directory
        configuration.storage.rawRetention = Int64(days + 1) * Timestamp.microsPerDay
        configuration.storage.textRetention = configuration.storage.rawRetention
        configuration.storage.endpoints = EndpointCatalog([scenario.fleet.endpointSpec])
        configuration.gpuSampler.mode = .off
        configuration.retentionInterval = Timestamp.microsPerHour
        // Measured cold: the prewarm pass is timed on its own below.
        configuration.dashboard.prewarm = false
        let store = try SQLiteStore.open(configuration.storage)
        let existing = try await store.statistics()
        if existing.records == 0 {
            let clock = ContinuousClock()
            let started = clock.now
            let backfill = SimulatorBackfill(scenario: scenario, seed: 1, simulatorBaseURL: "http://127.0.0.1:8788")
            let (records, points) = try await backfill.run(into: store, duration: Int64(days) * Timestamp.microsPerDay, end: now,
                                                           seriesRawRetention: configuration.storage.seriesRawRetention)
            let elapsed = clock.now - started
            report("filled \(records) records and \(points) series points over \(days) days in \(elapsed.components.seconds) s")
        } else {
            report("reusing the store in \(directory): \(existing.records) records (its history ends where it was filled)")
        }
        let statistics = try await store.statistics()
        report("store: \(statistics.records) records, \(statistics.series) series, \(statistics.points) raw points, \(statistics.sizeBytes / 1_048_576) MiB")

        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(configuration: configuration, store: store, logger: Logger(label: "bench"), onServerRunning: { port in
            portContinuation.yield(port)
        })
        let group = ServiceGroup(services: [app], logger: Logger(label: "bench"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = portStream.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            let client = RemoteClient(baseURL: "http://127.0.0.1:\(port)", token: nil)
            let someID = try await {
                let data = try await client.get(path: "/api/v1/records", parameters: [("since", "\(days)d"), ("limit", "1")])
                let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
                return ((object?["records"] as? [[String: Any]])?.first?["ref"] as? String) ?? "missing"
            }()
            var pages: [(String, String, [(String, String)])] = []
            for range in DashboardView.ranges.map(\.name) {
                pages.append(("Overview data, \(range)", "/ui/data/overview", [("range", range), ("by", "model")]))
            }
            pages += [
                ("Overview data, 24h by variant", "/ui/data/overview", [("range", "24h"), ("by", "variant")]),
                ("Compare data, 24h, model and variant", "/ui/data/compare", [("range", "24h"), ("dimension", "model,variant")]),
                ("Compare data, 30d, model", "/ui/data/compare", [("range", "30d"), ("dimension", "model")]),
                ("Requests page, 1h", "/ui/requests", [("range", "1h")]),
                ("Requests page, 7d, model + server errors", "/ui/requests", [("range", "7d"), ("model", "qwen-2.5-32b"), ("status", "server_error")]),
                ("Requests page, 30d, slow", "/ui/requests", [("range", "30d"), ("slow", "e2e")]),
                ("Requests page, 30d, text search (no match)", "/ui/requests", [("range", "30d"), ("q", "no such words anywhere")]),
                ("Request page", "/ui/requests/\(someID)", []),
                ("Records API, 30d, tenant + errors, 100", "/api/v1/records", [("since", "30d"), ("tenant", "search"), ("status", "errors"), ("limit", "100")]),
                ("Overview HTML shell", "/", [("range", "1h")]),
                ("/metrics (dashboard signals)", "/metrics", []),
            ]
            func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
            report(pad("page data (first load, then median of \(repeats))", 48) + "     first     median        max      bytes")
            for (title, path, parameters) in pages {
                let coldClock = ContinuousClock()
                let coldStart = coldClock.now
                _ = try await client.get(path: path, parameters: parameters)
                let coldElapsed = coldClock.now - coldStart
                let cold = Double(coldElapsed.components.seconds) * 1000 + Double(coldElapsed.components.attoseconds) / 1e15
                var samples: [Double] = []
                var size = 0
                for _ in 0..<repeats {
                    let clock = ContinuousClock()
                    let started = clock.now
                    size = try await client.get(path: path, parameters: parameters).count
                    let elapsed = clock.now - started
                    samples.append(Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15)
                }
                samples.sort()
                report("  " + pad(title, 46) + String(format: "%8.1f ms %8.1f ms %8.1f ms %10d", cold, samples[samples.count / 2], samples.last ?? 0, size))
            }
            // What the background prewarm costs: a first pass over the default views, then a
            // pass a minute later (only the newest chunks are read).
            let warmer = DashboardData(store: store, settings: configuration.dashboard, cache: DashboardCache())
            for (label, shift) in [("first prewarm pass (6 ranges by model + compare)", Int64(0)), ("next pass, a minute later", Timestamp.microsPerMinute)] {
                let clock = ContinuousClock()
                let started = clock.now
                let at = Timestamp.now() + shift
                for range in DashboardView.ranges.map(\.name) {
                    let view = DashboardView(parameters: ["range": range], now: at)
                    _ = try await warmer.overview(view, now: at)
                    _ = try await warmer.compare(view, dimension: "model", only: [], now: at)
                }
                let elapsed = clock.now - started
                report("  " + pad(label, 46) + String(format: "%8.1f ms", Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15))
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }
}
