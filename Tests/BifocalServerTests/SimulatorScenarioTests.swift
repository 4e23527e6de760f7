import BifocalCore
import BifocalServer
import BifocalSimulator
import BifocalStore
import BifocalTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// Each built-in scenario played in virtual time with a fixed seed into a store, then read back
/// through the query and records APIs: the signals must have the scenario's shape.
@Suite struct SimulatorScenarioTests {
    /// Plays `name` for `minutes` of simulation time at `speed`, ending at `testNow`, then runs
    /// `body` against a server over the filled store. Returns what `body` returns.
    func withScenario<T: Sendable>(_ name: String, minutes: Double, speed: Double, seed: UInt64 = 7,
                                   _ body: @Sendable (any TestClientProtocol, _ origin: Int64) async throws -> T) async throws -> T {
        let scenario = try Scenario.builtIn(name)
        let folder = try TemporaryDirectory()
        var configuration = BifocalConfiguration()
        configuration.storage.directory = folder.path
        configuration.endpoints = [scenario.fleet.endpointSpec]
        configuration.storage.endpoints = EndpointCatalog(configuration.endpoints)
        let store = try SQLiteStore.open(configuration.storage)
        let duration = Int64(minutes * 60) * Timestamp.microsPerSecond
        var backfill = SimulatorBackfill(scenario: scenario, seed: seed, simulatorBaseURL: "http://127.0.0.1:8788")
        backfill.speed = speed
        backfill.script = .startsAtStart
        let stored = try await backfill.run(into: store, duration: duration, end: testNow, seriesRawRetention: Timestamp.microsPerDay)
        #expect(stored.records > 100)
        #expect(stored.points > 100)
        let app = buildApplication(configuration: configuration, store: store, logger: Logger(label: "test"), clock: { testNow })
        let result = try await app.test(.router) { client in try await body(client, testNow - duration) }
        try await store.close()
        _ = folder
        return result
    }

    /// Mean of a signal's non-null points per group, over [from, to).
    func mean(_ client: any TestClientProtocol, _ signal: String, by: String = "model", from: Int64, to: Int64,
              step: String = "1m", match: String? = nil) async throws -> [String: Double] {
        var uri = "/api/v1/query?signal=\(signal)&by=\(by)&from=\(from / 1_000_000)&to=\(to / 1_000_000)&step=\(step)"
        if let match { uri += "&match=\(match)" }
        let response = try await client.get(uri)
        #expect(response.status == .ok, "\(uri): \(response.text)")
        var result: [String: Double] = [:]
        for series in response.json["series"] as? [[String: Any]] ?? [] {
            let labels = series["labels"] as? [String: String] ?? [:]
            let values = (series["points"] as? [[Any]] ?? []).compactMap { $0.count == 2 ? $0[1] as? Double : nil }
            guard !values.isEmpty else { continue }
            result[labels[by] ?? ""] = values.reduce(0, +) / Double(values.count)
        }
        return result
    }

    /// Points of one signal for one group, in time order.
    func points(_ client: any TestClientProtocol, _ signal: String, by: String, group: String, from: Int64, to: Int64, step: String) async throws -> [Double] {
        let response = try await client.get("/api/v1/query?signal=\(signal)&by=\(by)&from=\(from / 1_000_000)&to=\(to / 1_000_000)&step=\(step)")
        #expect(response.status == .ok, "\(response.text)")
        for series in response.json["series"] as? [[String: Any]] ?? [] where (series["labels"] as? [String: String])?[by] == group {
            return (series["points"] as? [[Any]] ?? []).compactMap { $0.count == 2 ? $0[1] as? Double : nil }
        }
        return []
    }

    /// Every stored record of `model` in [from, to), through the paginated records API.
    func records(_ client: any TestClientProtocol, model: String, from: Int64, to: Int64) async throws -> [[String: Any]] {
        var all: [[String: Any]] = []
        var cursor: String?
        repeat {
            var uri = "/api/v1/records?model=\(model)&from=\(from / 1_000_000)&to=\(to / 1_000_000)&limit=1000"
            if let cursor { uri += "&cursor=\(cursor)" }
            let response = try await client.get(uri)
            #expect(response.status == .ok, "\(response.text)")
            all += (response.json["records"] as? [[String: Any]] ?? []).compactMap { $0["record"] as? [String: Any] }
            cursor = response.json["next"] as? String
        } while cursor != nil
        return all
    }

    /// Wall-clock microseconds at `minutes` of scenario time.
    func at(_ origin: Int64, scenarioMinutes minutes: Double, speed: Double) -> Int64 {
        origin + Int64(minutes * 60 / speed * 1e6)
    }

    @Test func steadyServesBothModelsAtTheirRates() async throws {
        try await withScenario("steady", minutes: 30, speed: 1) { client, origin in
            let rates = try await mean(client, "requests.rate", from: origin, to: testNow, step: "5m")
            // 2.5 and 1.5 requests/s at the daily mean; the 12:00 UTC hour sits a little above it.
            #expect((1.8...3.6).contains(rates["llama-3-8b"] ?? 0), "\(rates)")
            #expect((1.0...2.2).contains(rates["mistral-7b"] ?? 0), "\(rates)")
            let errors = try await mean(client, "errors.ratio", from: origin, to: testNow, step: "5m")
            #expect((errors["llama-3-8b"] ?? 1) < 0.02)
            let utilization = try await mean(client, "gpu.utilization", by: "gpu", from: origin, to: testNow)
            #expect(utilization.count == 4)
            #expect(utilization.values.allSatisfy { (0.2...0.95).contains($0) }, "\(utilization)")
            let ttft = try await mean(client, "ttft.p50", from: origin, to: testNow, step: "5m")
            #expect((0.02...2).contains(ttft["llama-3-8b"] ?? 0), "\(ttft)")
        }
    }

    @Test func surgeRaisesQueueAndTTFT() async throws {
        let speed = 2.0
        try await withScenario("surge", minutes: 40, speed: speed) { client, origin in
            // Scenario minutes 0-20 before, 26-50 at full strength (ramp 2 minutes).
            let before = (at(origin, scenarioMinutes: 2, speed: speed), at(origin, scenarioMinutes: 18, speed: speed))
            let during = (at(origin, scenarioMinutes: 26, speed: speed), at(origin, scenarioMinutes: 50, speed: speed))
            let ttftBefore = try await mean(client, "ttft.p95", from: before.0, to: before.1)
            let ttftDuring = try await mean(client, "ttft.p95", from: during.0, to: during.1)
            let queueBefore = try await mean(client, "queue.waiting", from: before.0, to: before.1)
            let queueDuring = try await mean(client, "queue.waiting", from: during.0, to: during.1)
            for model in ["llama-3-8b", "mistral-7b"] {
                #expect((ttftDuring[model] ?? 0) > 1.5 * (ttftBefore[model] ?? .infinity), "\(model): \(ttftBefore) -> \(ttftDuring)")
            }
            // The busier model fills its batch (64 requests), so requests wait.
            #expect((queueDuring["llama-3-8b"] ?? 0) > (queueBefore["llama-3-8b"] ?? .infinity) + 1, "\(queueBefore) -> \(queueDuring)")
            let rateBefore = try await mean(client, "requests.rate", from: before.0, to: before.1)
            let rateDuring = try await mean(client, "requests.rate", from: during.0, to: during.1)
            #expect((rateDuring["llama-3-8b"] ?? 0) > 3 * (rateBefore["llama-3-8b"] ?? .infinity))
        }
    }

    @Test func kvPressurePreemptsOnOneModel() async throws {
        let speed = 2.0
        try await withScenario("kv-pressure", minutes: 30, speed: speed) { client, origin in
            let before = (origin, at(origin, scenarioMinutes: 14, speed: speed))
            let during = (at(origin, scenarioMinutes: 25, speed: speed), at(origin, scenarioMinutes: 58, speed: speed))
            let kvBefore = try await mean(client, "kv_cache.usage", from: before.0, to: before.1)
            let kvDuring = try await mean(client, "kv_cache.usage", from: during.0, to: during.1)
            #expect((kvDuring["llama-3-8b"] ?? 0) > (kvBefore["llama-3-8b"] ?? 1) + 0.3, "\(kvBefore) -> \(kvDuring)")
            let preemptBefore = try await mean(client, "preemptions.rate", from: before.0, to: before.1)
            let preemptDuring = try await mean(client, "preemptions.rate", from: during.0, to: during.1)
            #expect((preemptDuring["llama-3-8b"] ?? 0) > 0.01, "\(preemptDuring)")
            #expect((preemptBefore["llama-3-8b"] ?? 0) == 0)
            #expect((preemptDuring["mistral-7b"] ?? 0) == 0)
        }
    }

    @Test func memoryLeakRaisesGPUMemoryMonotonically() async throws {
        let speed = 4.0
        try await withScenario("memory-leak", minutes: 20, speed: speed) { client, origin in
            let from = at(origin, scenarioMinutes: 6, speed: speed)
            let leaking = try await points(client, "gpu.memory.used", by: "gpu", group: "2", from: from, to: testNow, step: "1m")
            #expect(leaking.count >= 15)
            for (a, b) in zip(leaking, leaking.dropFirst()) { #expect(b >= a) }
            // 40 MiB a scenario minute over about 70 scenario minutes.
            #expect((leaking.last ?? 0) - (leaking.first ?? 0) > 2000 * 1_048_576.0)
            let steady = try await points(client, "gpu.memory.used", by: "gpu", group: "0", from: from, to: testNow, step: "1m")
            #expect(Set(steady).count == 1)
        }
    }

    /// Share of records whose response begins with their reference answer.
    func matchShare(_ records: [[String: Any]]) -> Double {
        let judged = records.compactMap { r -> Bool? in
            guard let response = r["response"] as? String, let reference = r["reference"] as? String else { return nil }
            return response.hasPrefix(reference)
        }
        return Double(judged.filter { $0 }.count) / Double(max(1, judged.count))
    }

    @Test func badDeployHurtsOneModelsAnswersAfterTheVersionChange() async throws {
        let speed = 4.0
        try await withScenario("bad-deploy", minutes: 15, speed: speed) { client, origin in
            let change = at(origin, scenarioMinutes: 30, speed: speed)
            let llamaBefore = try await records(client, model: "llama-3-8b", from: origin, to: change)
            let llamaAfter = try await records(client, model: "llama-3-8b", from: change, to: testNow)
            let mistralBefore = try await records(client, model: "mistral-7b", from: origin, to: change)
            let mistralAfter = try await records(client, model: "mistral-7b", from: change, to: testNow)
            #expect(matchShare(llamaBefore) > 0.9)
            #expect(matchShare(llamaAfter) < 0.8, "\(matchShare(llamaAfter))")
            #expect(matchShare(mistralBefore) > 0.9)
            #expect(matchShare(mistralAfter) > 0.9)
            let versions = Set(llamaAfter.compactMap { ($0["labels"] as? [String: String])?["version"] })
            #expect(versions == ["v2"])
        }
    }

    @Test func promptDriftShiftsTheTopicMix() async throws {
        let speed = 4.0
        try await withScenario("prompt-drift", minutes: 15, speed: speed) { client, origin in
            let change = at(origin, scenarioMinutes: 30, speed: speed)
            func legalShare(_ records: [[String: Any]]) -> Double {
                let topics = records.compactMap { r in (r["prompt"] as? String).flatMap { p in QuestionSet.all.first { $0.prompt == p }?.topic } }
                return Double(topics.filter { $0 == "legal" || $0 == "translation" }.count) / Double(max(1, topics.count))
            }
            let before = try await records(client, model: "llama-3-8b", from: origin, to: change)
            let after = try await records(client, model: "llama-3-8b", from: change, to: testNow)
            #expect(legalShare(before) < 0.25)
            #expect(legalShare(after) > 0.5, "\(legalShare(after))")
        }
    }

    @Test func upstreamErrorsComeInBurstsOnOneModel() async throws {
        let speed = 4.0
        try await withScenario("upstream-errors", minutes: 20, speed: speed) { client, origin in
            let burst = (at(origin, scenarioMinutes: 20.5, speed: speed), at(origin, scenarioMinutes: 24.5, speed: speed))
            let calm = (at(origin, scenarioMinutes: 30, speed: speed), at(origin, scenarioMinutes: 58, speed: speed))
            let during = try await mean(client, "errors.server_error.ratio", from: burst.0, to: burst.1, step: "1m")
            let after = try await mean(client, "errors.server_error.ratio", from: calm.0, to: calm.1, step: "1m")
            // 40% of requests fail while a burst lasts (the minute steps straddle its edges).
            #expect((during["mistral-7b"] ?? 0) > 0.15, "\(during)")
            #expect((during["llama-3-8b"] ?? 1) < 0.02, "\(during)")
            #expect((after["mistral-7b"] ?? 1) < 0.02, "\(after)")
        }
    }

    @Test func theSameSeedGivesTheSameHistory() async throws {
        func fingerprint() throws -> [String] {
            let simulation = try FleetSimulation(scenario: try Scenario.builtIn("surge"), origin: testNow, speed: 10, seed: 42)
            var run = VirtualRun(simulation)
            var out: [String] = []
            run.run(until: 120, record: { out.append("\($0.id ?? "") \($0.ttftMs ?? -1) \($0.outputTokens ?? -1)") }, scrape: { _ in })
            return out
        }
        let a = try fingerprint(), b = try fingerprint()
        #expect(a.count > 100)
        #expect(a == b)
    }
}
