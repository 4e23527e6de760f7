import BifocalCore
@testable import BifocalServer
import BifocalStore
import BifocalTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("Dashboard signals on /metrics and the Grafana dashboard")
struct DashboardMetricsTests {
    /// `/metrics` of a server whose store holds the demo fleet's last 20 minutes.
    static func exposition() async throws -> String {
        let folder = try TemporaryDirectory()
        let fleet = DemoFleet(now: testNow)
        var configuration = BifocalConfiguration()
        configuration.storage.directory = folder.path
        configuration.storage.endpoints = EndpointCatalog([fleet.endpointSpec])
        configuration.gpuSampler.mode = .off
        let store = try SQLiteStore.open(configuration.storage)
        let from = testNow - 20 * Timestamp.microsPerMinute
        _ = try await store.insert(fleet.records(from: from, to: testNow, requestsPerSecond: 2, seed: 1))
        _ = try await store.insertSeries(fleet.series(from: from, to: testNow, interval: 15 * Timestamp.microsPerSecond, seed: 2))
        let app = buildApplication(configuration: configuration, store: store, logger: Logger(label: "test"), clock: { testNow })
        let text = try await app.test(.router) { client in
            let response = try await client.get("/metrics")
            #expect(response.status == .ok)
            return response.text
        }
        try await store.close()
        _ = folder
        return text
    }

    /// Metric names with at least one sample.
    static func sampled(_ text: String) -> Set<String> {
        Set(text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            line.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init)
        })
    }

    @Test("/metrics carries every dashboard signal per model and GPU from the store, and promtool accepts it")
    func signalsOnMetrics() async throws {
        let text = try await Self.exposition()
        #expect(text.contains("bifocal_ingest_records_total"), "the self-health metrics stay")
        #expect(text.contains("bifocal_requests_per_second{endpoint=\"llm-prod\",model=\"qwen-2.5-32b\",component=\"\",variant=\"v1\"} "))
        #expect(text.contains("bifocal_ttft_seconds{endpoint=\"llm-prod\",model=\"llama-3-8b\",component=\"\",variant=\"v1\",percentile=\"p95\"} "))
        #expect(text.contains("bifocal_gpu_utilization_ratio{endpoint=\"llm-prod\",instance=\"gpu-node-1\",gpu=\"7\",model=\"\"} "))
        #expect(text.contains("bifocal_kv_cache_usage_ratio{endpoint=\"llm-prod\",instance=\"gpu-node-1\",model=\"qwen-2.5-32b\"} "))
        #expect(text.contains("bifocal_gpus{endpoint=\"llm-prod\",state=\"used\"} 6"))
        #expect(text.contains("bifocal_gpus{endpoint=\"llm-prod\",state=\"free\"} 2"))
        #expect(text.contains("bifocal_cost_dollars_per_hour{endpoint=\"llm-prod\",model=\"qwen-2.5-32b\",component=\"\"} 16.385"))
        let names = Self.sampled(text)
        for family in DashboardExposition.families where !["bifocal_engine_generation_tokens_per_second"].contains(family.metric) {
            #expect(names.contains(family.metric), "\(family.metric) has no sample")
        }
        try PromtoolCheck.check(text)
    }

    @Test("chunked, cached range answers equal the store's answer for the whole range")
    func chunkCache() async throws {
        let folder = try TemporaryDirectory()
        let fleet = DemoFleet(now: testNow)
        var configuration = StoreConfiguration(directory: folder.path)
        configuration.endpoints = EndpointCatalog([fleet.endpointSpec])
        let store = try SQLiteStore.open(configuration)
        let from = testNow - 6 * Timestamp.microsPerHour
        _ = try await store.insert(fleet.records(from: from, to: testNow, requestsPerSecond: 1, seed: 3))
        _ = try await store.insertSeries(fleet.series(from: from, to: testNow, interval: 30 * Timestamp.microsPerSecond, seed: 4))
        let step = 5 * Timestamp.microsPerMinute
        // A range that does not start on a chunk boundary, ending at "now".
        let range = SignalQuery.Shape.range(from: from + 7 * step, to: testNow, step: step)
        let queries = [
            SignalQuery(signal: "requests.rate", by: ["model"], shape: range),
            SignalQuery(signal: "ttft.p95", by: ["model"], shape: range),
            SignalQuery(signal: "errors.timeout.ratio", shape: range),
            SignalQuery(signal: "gpu.utilization", by: ["gpu"], shape: range),
            SignalQuery(signal: "gpus.used", shape: range),
            SignalQuery(signal: "requests.rate", shape: .instant(at: testNow, window: step)),
        ]
        let whole = try await DashboardData.run(queries, on: store)
        let cache = DashboardCache()
        for round in 0..<2 {
            let chunked = try await cache.answer(queries, now: testNow) { try await DashboardData.run($0, on: store) }
            #expect(cache.count > 0)
            for (a, b) in zip(whole, chunked) {
                let a = try #require(a), b = try #require(b)
                #expect(a.series.map(\.labels) == b.series.map(\.labels), "\(a.signal), round \(round)")
                for (sa, sb) in zip(a.series, b.series) {
                    #expect(sa.points.map(\.time) == sb.points.map(\.time), "\(a.signal)")
                    for (pa, pb) in zip(sa.points, sb.points) {
                        #expect((pa.value == nil) == (pb.value == nil), "\(a.signal) at \(pa.time)")
                        if let x = pa.value, let y = pb.value { #expect(abs(x - y) <= 1e-9 * max(1, abs(x)), "\(a.signal) at \(pa.time)") }
                    }
                }
            }
        }
        try await store.close()
        _ = folder
    }

    @Test("the Grafana dashboard is valid JSON whose panels read only metrics /metrics emits")
    func grafanaDashboard() async throws {
        var settings = DashboardSettings()
        settings.memoryHigh = 0.9
        let json = GrafanaDashboard.json(settings: settings)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["title"] as? String == "Bifocal: LLM inference")
        let panels = object["panels"] as? [[String: Any]] ?? []
        let charts = panels.filter { $0["type"] as? String == "timeseries" }
        #expect(charts.count >= 15)
        var used = Set<String>()
        let pattern = try NSRegularExpression(pattern: "bifocal_[a-z0-9_]+")
        for chart in charts {
            let targets = chart["targets"] as? [[String: Any]] ?? []
            #expect(!targets.isEmpty, "\(chart["title"] ?? "") has no target")
            for target in targets {
                let expr = target["expr"] as? String ?? ""
                for match in pattern.matches(in: expr, range: NSRange(expr.startIndex..., in: expr)) {
                    used.insert(String(expr[Range(match.range, in: expr)!]))
                }
            }
            let grid = chart["gridPos"] as? [String: Int] ?? [:]
            #expect((grid["x"] ?? 99) + (grid["w"] ?? 99) <= 24)
        }
        let memory = charts.first { $0["title"] as? String == "GPU memory utilisation per GPU" }
        let steps = (((memory?["fieldConfig"] as? [String: Any])?["defaults"] as? [String: Any])?["thresholds"] as? [String: Any])?["steps"] as? [[String: Any]]
        #expect(steps?.last?["value"] as? Double == 0.9)
        let emitted = Self.sampled(try await Self.exposition())
        #expect(used.count >= 15)
        for name in used.sorted() where name != "bifocal_engine_generation_tokens_per_second" {
            #expect(emitted.contains(name), "the dashboard reads \(name), which /metrics does not emit")
        }
        #expect(Set(DashboardExposition.families.map(\.metric)).isSuperset(of: used))
        let variables = (object["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        #expect(variables.compactMap { $0["name"] as? String } == ["datasource", "endpoint", "model"])
    }
}
