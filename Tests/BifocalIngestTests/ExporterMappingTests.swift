import BifocalCore
import BifocalIngest
import BifocalTesting
import Foundation
import Testing

/// The target context every mapping test uses.
private let context = ["endpoint": "chat", "instance": "i-0abc", "job": "scrape", "target": "10.0.0.5:8000"]
private let t0: Int64 = 1_700_000_000_000_000
private let tenSeconds: Int64 = 10_000_000

/// Parses exposition text for a mapping test.
private func exposition(_ text: String) throws -> PrometheusParseResult {
    try PrometheusTextParser.parse(text, openMetrics: false)
}

/// A shared fixture's text, or nil (with the loader's loud warning) when the fixtures are absent.
private func fixtureText(_ path: String) throws -> String? {
    try Fixtures.text(path)
}

/// A capture committed beside these tests (Tests/BifocalIngestTests/Captures).
private func capture(_ name: String) throws -> String {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Captures/\(name)")
    return try String(contentsOf: url, encoding: .utf8)
}

/// Rewrites the value of every sample line whose name is `name` and whose labels satisfy `match`.
private func rewrite(_ text: String, _ name: String, where match: (String) -> Bool = { _ in true },
                     _ change: (Double) -> Double) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
        guard line.hasPrefix(name + "{") || line.hasPrefix(name + " "), let space = line.lastIndex(of: " "),
              let value = Double(line[line.index(after: space)...]) else { return String(line) }
        let head = String(line[..<space])
        guard match(head) else { return String(line) }
        return head + " " + String(change(value))
    }.joined(separator: "\n")
}

/// The `le` of a bucket line's head.
private func bound(_ head: String) -> Double {
    guard let range = head.range(of: "le=\"") else { return .nan }
    let rest = head[range.upperBound...]
    let text = rest[..<rest.firstIndex(of: "\"")!]
    return text == "+Inf" ? .infinity : Double(text)!
}

extension [SeriesSample] {
    /// The value of the only sample named `name` whose labels include `labels`; records an issue otherwise.
    fileprivate func value(_ name: String, _ labels: [String: String] = [:], sourceLocation: SourceLocation = #_sourceLocation) -> Double? {
        let matches = filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
        guard matches.count == 1 else {
            Issue.record("expected one \(name) \(labels), found \(matches.count)", sourceLocation: sourceLocation)
            return nil
        }
        return matches[0].value
    }

    fileprivate var names: [String] { map(\.name) }
}

/// Whether `a` is within `tolerance` (relative, and absolute near zero) of `b`.
private func close(_ a: Double?, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
    guard let a else { return false }
    return abs(a - b) <= tolerance * max(1, abs(b))
}

@Suite("Exporter mapping: vLLM")
struct ExporterMappingVLLMTests {
    static let model = "meta-llama/Llama-3.1-8B-Instruct"
    static var labels: [String: String] { context.merging(["model": model, "engine": "0"]) { $1 } }

    @Test func v1FixtureFirstScrapeGivesGaugesOnly() throws {
        guard let text = try fixtureText("vllm/vllm-v1-generated.prom") else { return }
        var mapper = ExporterMapper()
        let out = mapper.map(try exposition(text), at: t0, labels: context)
        #expect(out.names == ["batch.running", "kv_cache.usage", "queue.waiting"])
        #expect(out.allSatisfy { $0.labels == Self.labels && $0.time == t0 })
        #expect(out.value("batch.running") == 3.0)
        #expect(out.value("queue.waiting") == 1.0)
        // vLLM's kv_cache_usage_perc is a 0-1 fraction despite its name.
        #expect(out.value("kv_cache.usage") == 0.4508602)
    }

    @Test func v1RatesAndQuantilesFromTwoScrapes() throws {
        guard let text = try fixtureText("vllm/vllm-v1-generated.prom") else { return }
        var next = rewrite(text, "vllm:prompt_tokens_total") { $0 + 100 }          // 10/s
        next = rewrite(next, "vllm:generation_tokens_total") { $0 + 500 }          // 50/s
        next = rewrite(next, "vllm:request_success_total", where: { $0.contains("\"stop\"") }) { $0 + 3 }
        next = rewrite(next, "vllm:request_success_total", where: { $0.contains("\"length\"") }) { $0 + 1 }
        next = rewrite(next, "vllm:num_preemptions_total") { $0 + 1 }
        next = rewrite(next, "vllm:prefix_cache_queries_total") { $0 + 100 }
        next = rewrite(next, "vllm:prefix_cache_hits_total") { $0 + 75 }
        // Two new TTFT observations in (0.08, 0.1].
        next = rewrite(next, "vllm:time_to_first_token_seconds_bucket", where: { bound($0) >= 0.1 }) { $0 + 2 }
        next = rewrite(next, "vllm:time_to_first_token_seconds_count") { $0 + 2 }

        var mapper = ExporterMapper()
        _ = mapper.map(try exposition(text), at: t0, labels: context)
        let out = mapper.map(try exposition(next), at: t0 + tenSeconds, labels: context)
        #expect(out.allSatisfy { $0.labels == Self.labels && $0.time == t0 + tenSeconds })
        #expect(close(out.value("engine.tokens.prompt.rate"), 10))
        #expect(close(out.value("engine.tokens.generation.rate"), 50))
        #expect(close(out.value("engine.requests.rate"), 0.4))
        #expect(close(out.value("preemptions.rate"), 0.1))
        #expect(close(out.value("prefix_cache.hit_ratio"), 0.75))
        // Both observations sit in the (0.08, 0.1] bucket: rank q·2 interpolated across it.
        #expect(close(out.value("engine.ttft.p50"), 0.09))
        #expect(close(out.value("engine.ttft.p90"), 0.098))
        #expect(close(out.value("engine.ttft.p95"), 0.099))
        #expect(close(out.value("engine.ttft.p99"), 0.0998))
        // No ITL, e2e or queue observations in the interval: no quantile.
        #expect(!out.names.contains { $0.hasPrefix("engine.itl") || $0.hasPrefix("engine.e2e") || $0.hasPrefix("engine.queue") })
        #expect(out.names.count == 3 + 5 + 4)
    }

    @Test func counterResetUsesTheNewValue() throws {
        guard let text = try fixtureText("vllm/vllm-v1-generated.prom") else { return }
        let bumped = rewrite(text, "vllm:prompt_tokens_total") { $0 + 100 }
        // The server restarted: the counter starts again from zero, and TTFT holds one new observation.
        var restarted = rewrite(text, "vllm:prompt_tokens_total") { _ in 40 }
        restarted = rewrite(restarted, "vllm:time_to_first_token_seconds_bucket") { _ in 0 }
        restarted = rewrite(restarted, "vllm:time_to_first_token_seconds_bucket", where: { bound($0) >= 0.5 }) { _ in 1 }
        var mapper = ExporterMapper()
        _ = mapper.map(try exposition(text), at: t0, labels: context)
        _ = mapper.map(try exposition(bumped), at: t0 + tenSeconds, labels: context)
        let out = mapper.map(try exposition(restarted), at: t0 + 2 * tenSeconds, labels: context)
        #expect(close(out.value("engine.tokens.prompt.rate"), 4))
        // One observation in (0.25, 0.5]: p50 = 0.25 + 0.25 · 0.5.
        #expect(close(out.value("engine.ttft.p50"), 0.375))
    }

    @Test func seriesThatAppearAfterTheFirstScrapeCountFromZero() throws {
        guard let text = try fixtureText("vllm/vllm-v1-generated.prom") else { return }
        var mapper = ExporterMapper()
        _ = mapper.map(try exposition(""), at: t0, labels: context)
        let out = mapper.map(try exposition(text), at: t0 + tenSeconds, labels: context)
        #expect(close(out.value("engine.tokens.prompt.rate"), 125))
        #expect(close(out.value("engine.tokens.generation.rate"), 2745.3))
        #expect(close(out.value("engine.requests.rate"), 13))   // (98 + 31 + 1 + 0 + 0) / 10
        #expect(close(out.value("preemptions.rate"), 0.2))
        #expect(close(out.value("prefix_cache.hit_ratio"), 64.0 / 117.0))
        // TTFT buckets 0.02:1, 0.06:2, 0.5:3 of 3 observations.
        #expect(close(out.value("engine.ttft.p50"), 0.05))
        #expect(close(out.value("engine.ttft.p90"), 0.425))
        #expect(close(out.value("engine.ttft.p95"), 0.4625))
        #expect(close(out.value("engine.ttft.p99"), 0.4925))
        // ITL buckets 0.025:3, 0.1:4 of 4.
        #expect(close(out.value("engine.itl.p50"), 0.02))
        #expect(close(out.value("engine.itl.p90"), 0.09))
        #expect(close(out.value("engine.itl.p95"), 0.095))
        #expect(close(out.value("engine.itl.p99"), 0.099))
        // E2E buckets 1.0:1, 5.0:2, 120:3 of 3.
        #expect(close(out.value("engine.e2e.p50"), 3.75))
        #expect(close(out.value("engine.e2e.p90"), 102))
        #expect(close(out.value("engine.e2e.p95"), 111))
        #expect(close(out.value("engine.e2e.p99"), 118.2))
        // Queue buckets 0.3:1, 0.5:2 of 2.
        #expect(close(out.value("engine.queue.p50"), 0.3))
        #expect(close(out.value("engine.queue.p90"), 0.46))
        #expect(close(out.value("engine.queue.p95"), 0.48))
        #expect(close(out.value("engine.queue.p99"), 0.496))
    }

    @Test func v0FixtureDoesNotDoubleCountDeprecatedFamilies() throws {
        guard let text = try fixtureText("vllm/vllm-v0-datadog-fixture.prom") else { return }
        var mapper = ExporterMapper()
        let first = mapper.map(try exposition(text), at: t0, labels: context)
        let labels = context.merging(["model": "facebook/opt-125m"]) { $1 }
        #expect(first.names == ["batch.running", "kv_cache.usage", "queue.waiting"])
        #expect(first.allSatisfy { $0.labels == labels })
        #expect(first.value("kv_cache.usage") == 0)

        var fresh = ExporterMapper()
        _ = fresh.map(try exposition(""), at: t0, labels: context)
        let out = fresh.map(try exposition(text), at: t0 + tenSeconds, labels: context)
        // inter_token_latency (144 observations: 0.01:141, 0.1:144) wins over the deprecated
        // time_per_output_token (6 observations), which is not merged in.
        #expect(close(out.value("engine.itl.p50"), 0.01 * 72 / 141))
        #expect(close(out.value("engine.itl.p90"), 0.01 * 129.6 / 141))
        #expect(close(out.value("engine.itl.p99"), 0.01 + 0.09 * (1.56 / 3)))
        #expect(close(out.value("engine.requests.rate"), 0.1))
        #expect(close(out.value("engine.tokens.prompt.rate"), 0.5))
        #expect(close(out.value("prefix_cache.hit_ratio"), 64.0 / 117.0))
    }

    @Test func deprecatedKVCacheGaugeOnlyWithoutTheNewOne() throws {
        var mapper = ExporterMapper()
        let both = mapper.map(try exposition("""
            vllm:gpu_cache_usage_perc{model_name="m"} 0.9
            vllm:kv_cache_usage_perc{model_name="m"} 0.3
            """), at: t0, labels: context)
        #expect(both.value("kv_cache.usage") == 0.3)
        let old = mapper.map(try exposition("vllm:gpu_cache_usage_perc{model_name=\"m\"} 0.9\n"), at: t0 + tenSeconds, labels: context)
        #expect(old.value("kv_cache.usage") == 0.9)
    }

    @Test func deprecatedTPOTUsedWhenITLIsAbsent() throws {
        var mapper = ExporterMapper()
        _ = mapper.map(try exposition(""), at: t0, labels: context)
        let out = mapper.map(try exposition("""
            vllm:time_per_output_token_seconds_bucket{le="0.05",model_name="m"} 4
            vllm:time_per_output_token_seconds_bucket{le="+Inf",model_name="m"} 4
            """), at: t0 + tenSeconds, labels: context)
        #expect(close(out.value("engine.itl.p50"), 0.025))
    }

    @Test func prefixCacheFallsBackToDeprecatedCountersThenTheV0Gauge() throws {
        var mapper = ExporterMapper()
        let scrape1 = """
            vllm:gpu_prefix_cache_queries_total{model_name="m"} 100
            vllm:gpu_prefix_cache_hits_total{model_name="m"} 10
            vllm:gpu_prefix_cache_hit_rate{model_name="m"} 0.33
            """
        let scrape2 = """
            vllm:gpu_prefix_cache_queries_total{model_name="m"} 200
            vllm:gpu_prefix_cache_hits_total{model_name="m"} 30
            vllm:gpu_prefix_cache_hit_rate{model_name="m"} 0.33
            """
        // First scrape: no counter history, so the gauge stands in.
        #expect(mapper.map(try exposition(scrape1), at: t0, labels: context).value("prefix_cache.hit_ratio") == 0.33)
        #expect(close(mapper.map(try exposition(scrape2), at: t0 + tenSeconds, labels: context).value("prefix_cache.hit_ratio"), 0.2))
    }

    @Test func exporterModelWinsOverTheContextsAndEnginesStaySeparate() throws {
        var mapper = ExporterMapper()
        let out = mapper.map(try exposition("""
            vllm:num_requests_waiting{engine="0",model_name="served"} 2
            vllm:num_requests_waiting{engine="1",model_name="served"} 5
            """), at: t0, labels: context.merging(["model": "configured"]) { $1 })
        #expect(out.count == 2)
        #expect(out.value("queue.waiting", ["engine": "0", "model": "served"]) == 2)
        #expect(out.value("queue.waiting", ["engine": "1", "model": "served"]) == 5)
    }
}

@Suite("Exporter mapping: TGI, SGLang, llama.cpp")
struct ExporterMappingEngineTests {
    @Test func tgiFixture() throws {
        guard let text = try fixtureText("tgi/tgi-datadog-fixture.prom") else { return }
        let withModel = context.merging(["model": "tgi-model"]) { $1 }
        var mapper = ExporterMapper()
        let first = mapper.map(try exposition(text), at: t0, labels: withModel)
        #expect(first.names == ["batch.running", "queue.waiting"])
        #expect(first.allSatisfy { $0.labels == withModel && $0.value == 0 })

        var fresh = ExporterMapper()
        _ = fresh.map(try exposition(""), at: t0, labels: withModel)
        let out = fresh.map(try exposition(text), at: t0 + tenSeconds, labels: withModel)
        #expect(out.allSatisfy { $0.labels == withModel })
        // Finished = 109 successes + 2 validation failures.
        #expect(close(out.value("engine.requests.rate"), 11.1))
        // tgi_request_duration: 3.7877…:51, 5.6815…:77, 8.5223…:104, 12.7834…:104, 19.1751…:108 of 109.
        #expect(close(out.value("engine.e2e.p50"), 3.787675244106352 + (5.681512866159528 - 3.787675244106352) * (3.5 / 26)))
        #expect(close(out.value("engine.e2e.p90"), 5.681512866159528 + (8.52226929923929 - 5.681512866159528) * (21.1 / 27)))
        #expect(close(out.value("engine.e2e.p99"), 12.783403948858936 + (19.175105923288406 - 12.783403948858936) * (3.91 / 4)))
        // Per-request mean time per token: 0.0438…:0, 0.0657…:9, 0.0985…:109.
        #expect(close(out.value("engine.itl.p50"), 0.0656840835571289 + (0.09852612533569335 - 0.0656840835571289) * (45.5 / 100)))
        #expect(out.names.contains("engine.queue.p95"))
        #expect(!out.names.contains { $0.hasPrefix("engine.ttft") })
    }

    @Test func tgiTokenRatesFromHistogramSums() throws {
        var mapper = ExporterMapper()
        _ = mapper.map(try exposition("tgi_request_input_length_sum 1000\ntgi_request_generated_tokens_sum 50\n"), at: t0, labels: context)
        let out = mapper.map(try exposition("tgi_request_input_length_sum 1500\ntgi_request_generated_tokens_sum 250\n"),
                             at: t0 + tenSeconds, labels: context)
        #expect(close(out.value("engine.tokens.prompt.rate"), 50))
        #expect(close(out.value("engine.tokens.generation.rate"), 20))
    }

    @Test func llamaCppFixture() throws {
        guard let text = try fixtureText("llamacpp/llama-server-metrics.prom") else { return }
        var mapper = ExporterMapper()
        let first = mapper.map(try exposition(text), at: t0, labels: context)
        #expect(first.names == ["batch.running", "queue.waiting"])
        #expect(first.allSatisfy { $0.labels == context && $0.value == 0 })

        var fresh = ExporterMapper()
        _ = fresh.map(try exposition(""), at: t0, labels: context)
        let out = fresh.map(try exposition(text), at: t0 + tenSeconds, labels: context)
        // 48 processed + 24 from cache.
        #expect(close(out.value("engine.tokens.prompt.rate"), 7.2))
        #expect(close(out.value("engine.tokens.generation.rate"), 4.8))
        #expect(close(out.value("prefix_cache.hit_ratio"), 24.0 / 72.0))
    }

    static let sglang = """
        # TYPE sglang:num_running_reqs gauge
        sglang:num_running_reqs{model_name="qwen",tp_rank="0"} 4.0
        sglang:num_running_reqs{model_name="qwen",tp_rank="1"} 3.0
        # TYPE sglang:num_queue_reqs gauge
        sglang:num_queue_reqs{model_name="qwen",tp_rank="0"} 2.0
        sglang:num_queue_reqs{model_name="qwen",tp_rank="1"} 1.0
        # TYPE sglang:token_usage gauge
        sglang:token_usage{model_name="qwen",tp_rank="0"} 0.28
        sglang:token_usage{model_name="qwen",tp_rank="1"} 0.31
        # TYPE sglang:cache_hit_rate gauge
        sglang:cache_hit_rate{model_name="qwen",tp_rank="0"} 0.0075
        # TYPE sglang:prompt_tokens_total counter
        sglang:prompt_tokens_total{model_name="qwen",tp_rank="0"} PROMPT
        # TYPE sglang:num_requests_total counter
        sglang:num_requests_total{model_name="qwen",tp_rank="0"} REQUESTS
        # TYPE sglang:inter_token_latency_seconds histogram
        sglang:inter_token_latency_seconds_bucket{le="0.01",model_name="qwen",tp_rank="0"} ITL
        sglang:inter_token_latency_seconds_bucket{le="+Inf",model_name="qwen",tp_rank="0"} ITL
        # TYPE sglang:time_per_output_token_seconds histogram
        sglang:time_per_output_token_seconds_bucket{le="1.0",model_name="qwen",tp_rank="0"} ITL
        sglang:time_per_output_token_seconds_bucket{le="+Inf",model_name="qwen",tp_rank="0"} ITL
        """

    static func sglang(prompt: Int, requests: Int, itl: Int) -> String {
        sglang.replacingOccurrences(of: "PROMPT", with: "\(prompt)").replacingOccurrences(of: "REQUESTS", with: "\(requests)")
            .replacingOccurrences(of: "ITL", with: "\(itl)")
    }

    @Test func sglangCollidingRanksCombineByTheSignalsAggregation() throws {
        var mapper = ExporterMapper()
        _ = mapper.map(try exposition(Self.sglang(prompt: 100, requests: 10, itl: 0)), at: t0, labels: context)
        let out = mapper.map(try exposition(Self.sglang(prompt: 300, requests: 30, itl: 8)), at: t0 + tenSeconds, labels: context)
        let labels = context.merging(["model": "qwen"]) { $1 }
        #expect(out.allSatisfy { $0.labels == labels })
        #expect(out.value("batch.running") == 7)          // sum
        #expect(out.value("queue.waiting") == 3)          // sum
        #expect(out.value("kv_cache.usage") == 0.31)      // max
        #expect(out.value("prefix_cache.hit_ratio") == 0.0075)
        #expect(close(out.value("engine.tokens.prompt.rate"), 20))
        #expect(close(out.value("engine.requests.rate"), 2))
        // inter_token_latency (≤ 0.01) wins; time_per_output_token (≤ 1.0) is not merged in.
        #expect(close(out.value("engine.itl.p50"), 0.005))
    }

    @Test func sglangOlderNameLabel() throws {
        var mapper = ExporterMapper()
        let out = mapper.map(try exposition("sglang:num_queue_reqs{name=\"google/gemma-2-9b-it\"} 6.0\n"), at: t0, labels: context)
        #expect(out.value("queue.waiting", ["model": "google/gemma-2-9b-it"]) == 6)
    }
}

@Suite("Exporter mapping: DCGM and node exporter")
struct ExporterMappingInfrastructureTests {
    @Test func dcgmFixture() throws {
        guard let text = try fixtureText("dcgm/dcgm-exporter-rtx4000ada.prom") else { return }
        var mapper = ExporterMapper()
        let out = mapper.map(try exposition(text), at: t0, labels: context)
        let labels = context.merging([
            "gpu": "0", "gpu_uuid": "GPU-a8394b51-c086-568a-9f1a-c1e1c934c44c",
            "gpu_model": "NVIDIA RTX 4000 Ada Generation", "host": "lke529760-766837-0a634ab30000",
        ]) { $1 }
        #expect(out.allSatisfy { $0.labels == labels && $0.time == t0 })
        #expect(out.names == ["gpu.memory.bandwidth_utilization", "gpu.memory.free", "gpu.memory.total", "gpu.memory.used",
                              "gpu.memory.utilization", "gpu.power", "gpu.sm_clock", "gpu.temperature", "gpu.utilization"])
        #expect(out.value("gpu.utilization") == 0)                     // DEV_GPU_UTIL 0, not GR_ENGINE_ACTIVE 0.004656
        #expect(out.value("gpu.memory.bandwidth_utilization") == 0)    // MEM_COPY_UTIL 0, not DRAM_ACTIVE 0.003074
        #expect(out.value("gpu.memory.used") == Double(1 * 1_048_576))
        #expect(out.value("gpu.memory.free") == Double(20015 * 1_048_576))
        #expect(out.value("gpu.memory.total") == Double((1 + 20015 + 457) * 1_048_576))  // used + free + reserved
        #expect(out.value("gpu.memory.utilization") == 1.0 / 20473.0)
        #expect(out.value("gpu.power") == 40.979)
        #expect(out.value("gpu.temperature") == 48)
        #expect(out.value("gpu.sm_clock") == 2_310_000_000)
    }

    @Test func dcgmHostnameSpellingsMIGAndBlankSentinels() throws {
        let gpu = #"gpu="0",UUID="GPU-5135",device="nvidia0",modelName="NVIDIA A100-SXM4-80GB""#
        let mig1 = gpu + #",GPU_I_PROFILE="3g.40gb",GPU_I_ID="1",hostname="node-a",pod_uid="""#
        let mig2 = gpu + #",GPU_I_PROFILE="3g.40gb",GPU_I_ID="2",Hostname="node-a""#
        let text = """
            DCGM_FI_DEV_GPU_UTIL{\(mig1)} 9223372036854775794
            DCGM_FI_PROF_GR_ENGINE_ACTIVE{\(mig1)} 0.25
            DCGM_FI_PROF_GR_ENGINE_ACTIVE{\(mig2)} 0.5
            DCGM_FI_DEV_FB_USED{\(mig1)} 1024
            DCGM_FI_DEV_FB_FREE{\(mig1)} 39936
            DCGM_FI_DEV_POWER_USAGE{\(gpu),Hostname="node-a"} 140737488355328
            DCGM_FI_DEV_GPU_TEMP{\(gpu),Hostname="node-a"} 2147483634
            DCGM_FI_DEV_SM_CLOCK{gpu="0",UUID="GPU-5135",modelName="",Hostname="node-a"} 1410
            DCGM_FI_DEV_NVSWITCH_TEMPERATURE{nvswitch="0"} 40
            DCGM_FI_DEV_GPU_TEMP{nvswitch="0"} 40
            """
        var mapper = ExporterMapper()
        let out = mapper.map(try exposition(text), at: t0, labels: context)
        let instance1 = ["gpu": "0", "gpu_instance": "1", "gpu_profile": "3g.40gb", "host": "node-a",
                         "gpu_uuid": "GPU-5135", "gpu_model": "NVIDIA A100-SXM4-80GB"]
        // The blank GPU_UTIL is dropped, so GR_ENGINE_ACTIVE (per MIG instance) stands in.
        #expect(out.value("gpu.utilization", instance1) == 0.25)
        #expect(out.value("gpu.utilization", ["gpu_instance": "2", "host": "node-a"]) == 0.5)
        #expect(out.value("gpu.memory.used", instance1) == Double(1024 * 1_048_576))
        #expect(out.value("gpu.memory.total", instance1) == Double(40960 * 1_048_576))   // used + free, no reserved field
        #expect(out.value("gpu.memory.utilization", instance1) == 0.025)
        // Blank power (FP64 blank) and temperature (INT32 blank) produce nothing.
        #expect(!out.names.contains("gpu.power"))
        #expect(!out.names.contains("gpu.temperature"))
        // An empty modelName is absent, not "".
        let clock = try #require(out.first { $0.name == "gpu.sm_clock" })
        #expect(clock.labels == context.merging(["gpu": "0", "gpu_uuid": "GPU-5135", "host": "node-a"]) { $1 })
        #expect(clock.value == 1_410_000_000)
        #expect(out.count == 7)
    }

    @Test func dcgmBlankSentinelRanges() {
        #expect(ExporterMapper.isDCGMBlank(9_223_372_036_854_775_792))
        #expect(ExporterMapper.isDCGMBlank(Double(Int64.max)))
        #expect(ExporterMapper.isDCGMBlank(140_737_488_355_328))
        #expect(ExporterMapper.isDCGMBlank(140_737_488_355_330))
        #expect(ExporterMapper.isDCGMBlank(2_147_483_632))
        #expect(ExporterMapper.isDCGMBlank(2_147_483_647))
        #expect(!ExporterMapper.isDCGMBlank(2_147_483_631))
        #expect(!ExporterMapper.isDCGMBlank(0))
        #expect(!ExporterMapper.isDCGMBlank(78_398_480))
        #expect(!ExporterMapper.isDCGMBlank(.nan))
    }

    @Test func nodeExporterCaptures() throws {
        let first = try capture("node-exporter-1.5.prom")
        let later = try capture("node-exporter-1.5-10s-later.prom")
        var mapper = ExporterMapper()
        let a = mapper.map(try exposition(first), at: t0, labels: context)
        #expect(a.names == ["node.memory.total", "node.memory.used"])
        #expect(a.allSatisfy { $0.labels == context })
        #expect(a.value("node.memory.total") == 25_276_510_208)
        #expect(a.value("node.memory.used") == Double(25_276_510_208 - 24_783_331_328))
        let b = mapper.map(try exposition(later), at: t0 + tenSeconds, labels: context)
        #expect(b.names == ["node.cpu.utilization", "node.memory.total", "node.memory.used"])
        #expect(b.value("node.memory.used") == Double(25_276_510_208 - 24_770_146_304))
        // Δidle: 8.79 + 6.50; Δ all modes: 10.01 (cpu 0) + 9.98 (cpu 1).
        #expect(close(b.value("node.cpu.utilization"), 1 - 15.29 / 19.99, 1e-9))
    }
}

@Suite("Exporter mapping: quantiles and the table")
struct ExporterMappingTableTests {
    @Test func histogramQuantileFollowsPrometheus() {
        let buckets: [(upperBound: Double, count: Double)] = [(1, 2), (2, 6), (4, 8), (.infinity, 10)]
        #expect(ExporterMapper.histogramQuantile(0.5, buckets: buckets) == 1.75)      // rank 5 in (1, 2]
        #expect(ExporterMapper.histogramQuantile(0.1, buckets: buckets) == 0.5)       // first bucket starts at 0
        #expect(ExporterMapper.histogramQuantile(0.9, buckets: buckets) == 4)         // rank 9 is in +Inf
        #expect(ExporterMapper.histogramQuantile(0.5, buckets: [(1, 0), (.infinity, 0)]) == nil)
        #expect(ExporterMapper.histogramQuantile(0.5, buckets: [(1, 3), (2, 4)]) == nil)  // no +Inf bucket
        // A count below its predecessor is raised to it.
        #expect(ExporterMapper.histogramQuantile(0.5, buckets: [(1, 2), (2, 1), (.infinity, 4)]) == 1.0)
        #expect(ExporterMapper.histogramQuantile(0.5, buckets: [(-1, 4), (.infinity, 4)]) == -1)
    }

    @Test func everyMappedSignalIsInTheCatalog() {
        for row in ExporterMapper.describe() {
            if row.signal.hasPrefix("engine."), row.signal.hasSuffix(".p50/p90/p95/p99") {
                let metric = row.signal.dropFirst("engine.".count).dropLast(".p50/p90/p95/p99".count)
                #expect(SeriesSignalCatalog.signal(named: "engine.\(metric).p95") != nil, "\(row.family)")
            } else {
                #expect(SeriesSignalCatalog.signal(named: row.signal) != nil, "\(row.family) → \(row.signal)")
            }
        }
    }

    @Test func documentationListsEveryMapping() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/telemetry-mappings.md")
        let doc = try String(contentsOf: url, encoding: .utf8)
        for row in ExporterMapper.describe() {
            let line = doc.split(separator: "\n").first { $0.contains("`\(row.family)`") && $0.contains(row.signal) }
            #expect(line != nil, "docs/telemetry-mappings.md lacks \(row.family) → \(row.signal)")
        }
    }
}
