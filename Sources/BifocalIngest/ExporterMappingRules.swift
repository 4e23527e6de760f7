/// One row of the mapping table: which exporter family feeds which canonical signal, and how.
///
/// `ExporterMapper.describe()` returns these; docs/telemetry-mappings.md is written from them, and a
/// test keeps the two in step.
public struct ExporterMapping: Sendable, Hashable {
    /// The exporter, in words (`vLLM`, `NVIDIA DCGM exporter`).
    public var exporter: String
    /// The family as the exporter writes its samples (`vllm:num_requests_waiting`,
    /// `vllm:time_to_first_token_seconds` for a histogram's buckets).
    public var family: String
    /// The canonical signal it feeds (`queue.waiting`, `engine.ttft.p50…p99`).
    public var signal: String
    /// How the value is converted (`MiB → bytes (× 1048576)`, `Δ / Δt`).
    public var conversion: String
    /// Precedence, caveats and meaning, in words; empty when there is nothing to add.
    public var note: String

    /// Creates a row.
    public init(exporter: String, family: String, signal: String, conversion: String, note: String) {
        self.exporter = exporter
        self.family = family
        self.signal = signal
        self.conversion = conversion
        self.note = note
    }
}

/// How an exporter's own labels become the canonical ones.
enum LabelStyle: Sendable {
    /// Model servers: `model` from the first of these labels that is present (else the target's
    /// context); `engine` kept when `keepEngine` (vLLM's data-parallel engine-core index). Every other
    /// exporter label is dropped: they either name what the signal sums over (`finished_reason`, `le`)
    /// or vary between releases, and series that collide combine by the signal's own aggregation.
    case engine(model: [String], keepEngine: Bool)
    /// GPU exporters: `gpu`, `gpu_uuid`, `gpu_model`, MIG `gpu_instance`/`gpu_profile`, `host`.
    case gpu
    /// Host exporters: the target's context only (CPU and mode are summed over).
    case host
}

/// Named intermediate quantities that derived signals are computed from.
enum MappingPart: Hashable, Sendable {
    case fbUsed, fbFree, fbReserved
    case prefixHits, prefixQueries
    case cpuIdle, cpuAll
    case hostMemTotal, hostMemAvailable
}

/// What one matched sample contributes.
enum MappingTarget: Sendable {
    /// A gauge: the value × scale is the signal.
    case gauge(String, scale: Double)
    /// A counter: its increase per second since the previous scrape is (part of) the signal.
    case rate(String)
    /// A histogram's `_bucket` samples: quantiles of the observations since the previous scrape,
    /// as `engine.NAME.p50/p90/p95/p99`.
    case latency(String)
    /// A gauge feeding a derived signal.
    case part(MappingPart, scale: Double)
    /// A counter's per-second increase feeding a derived signal.
    case ratePart(MappingPart)
    /// `node_cpu_seconds_total`: every mode counts towards the total, `idle` also towards idle.
    case nodeCPU
}

/// One mapping rule: a sample name, how its labels translate, and what it feeds.
struct MappingRule: Sendable {
    var exporter: String
    /// The exact sample name matched (a histogram's `…_bucket`, a summed histogram's `…_sum`).
    var sample: String
    /// The name shown in the table (the histogram's family name for `…_bucket`).
    var family: String
    var style: LabelStyle
    /// Lower wins when several rules feed the same signal and labels (new name over deprecated one).
    var priority: Int
    var targets: [MappingTarget]
    var signal: String
    var conversion: String
    var note: String
}

extension ExporterMapper {
    static let mebibyte = 1_048_576.0

    /// Every rule, grouped by exporter in the order the documentation lists them.
    static let rules: [MappingRule] = vllmRules + sglangRules + tgiRules + llamaCppRules + dcgmRules + nodeRules

    /// Rules by the sample name they match.
    static let rulesBySample: [String: [MappingRule]] = {
        var map: [String: [MappingRule]] = [:]
        for rule in rules { map[rule.sample, default: []].append(rule) }
        return map
    }()

    private static func gauge(_ exporter: String, _ style: LabelStyle, _ sample: String, _ signal: String,
                              scale: Double = 1, priority: Int = 0, conversion: String = "as is", note: String = "") -> MappingRule {
        MappingRule(exporter: exporter, sample: sample, family: sample, style: style, priority: priority,
                    targets: [.gauge(signal, scale: scale)], signal: signal, conversion: conversion, note: note)
    }

    private static func rate(_ exporter: String, _ style: LabelStyle, _ sample: String, _ signal: String,
                             priority: Int = 0, extra: [MappingTarget] = [], note: String = "") -> MappingRule {
        MappingRule(exporter: exporter, sample: sample, family: sample, style: style, priority: priority,
                    targets: [.rate(signal)] + extra, signal: signal, conversion: "Δ / Δt (counter; a decrease is a reset)", note: note)
    }

    private static func latency(_ exporter: String, _ style: LabelStyle, _ family: String, _ metric: String,
                                priority: Int = 0, note: String = "") -> MappingRule {
        MappingRule(exporter: exporter, sample: family + "_bucket", family: family, style: style, priority: priority,
                    targets: [.latency(metric)], signal: "engine.\(metric).p50/p90/p95/p99",
                    conversion: "histogram_quantile over bucket Δ between scrapes", note: note)
    }

    // MARK: vLLM

    static let vllm = LabelStyle.engine(model: ["model_name"], keepEngine: true)
    static let vllmRules: [MappingRule] = {
        let e = "vLLM"
        return [
            gauge(e, vllm, "vllm:num_requests_running", "batch.running"),
            gauge(e, vllm, "vllm:num_requests_waiting", "queue.waiting"),
            gauge(e, vllm, "vllm:kv_cache_usage_perc", "kv_cache.usage", note: "already 0-1 despite the name"),
            gauge(e, vllm, "vllm:gpu_cache_usage_perc", "kv_cache.usage", priority: 1,
                  note: "deprecated in 0.9 (V0 name); used only when vllm:kv_cache_usage_perc is absent"),
            rate(e, vllm, "vllm:num_preemptions_total", "preemptions.rate"),
            rate(e, vllm, "vllm:prompt_tokens_total", "engine.tokens.prompt.rate"),
            rate(e, vllm, "vllm:generation_tokens_total", "engine.tokens.generation.rate"),
            rate(e, vllm, "vllm:request_success_total", "engine.requests.rate", note: "summed over finished_reason (stop, length, abort, error, …)"),
            MappingRule(exporter: e, sample: "vllm:prefix_cache_hits_total", family: "vllm:prefix_cache_hits_total", style: vllm, priority: 0,
                        targets: [.ratePart(.prefixHits)], signal: "prefix_cache.hit_ratio", conversion: "Δhits / Δqueries",
                        note: "V1; tokens; no sample when no queries in the interval"),
            MappingRule(exporter: e, sample: "vllm:prefix_cache_queries_total", family: "vllm:prefix_cache_queries_total", style: vllm, priority: 0,
                        targets: [.ratePart(.prefixQueries)], signal: "prefix_cache.hit_ratio", conversion: "Δhits / Δqueries", note: "V1"),
            MappingRule(exporter: e, sample: "vllm:gpu_prefix_cache_hits_total", family: "vllm:gpu_prefix_cache_hits_total", style: vllm, priority: 1,
                        targets: [.ratePart(.prefixHits)], signal: "prefix_cache.hit_ratio", conversion: "Δhits / Δqueries",
                        note: "deprecated 0.9 alias; used only without vllm:prefix_cache_*"),
            MappingRule(exporter: e, sample: "vllm:gpu_prefix_cache_queries_total", family: "vllm:gpu_prefix_cache_queries_total", style: vllm, priority: 1,
                        targets: [.ratePart(.prefixQueries)], signal: "prefix_cache.hit_ratio", conversion: "Δhits / Δqueries",
                        note: "deprecated 0.9 alias; used only without vllm:prefix_cache_*"),
            gauge(e, vllm, "vllm:gpu_prefix_cache_hit_rate", "prefix_cache.hit_ratio", priority: 2,
                  note: "V0 gauge (0-1); used only without the counters"),
            latency(e, vllm, "vllm:time_to_first_token_seconds", "ttft"),
            latency(e, vllm, "vllm:inter_token_latency_seconds", "itl"),
            latency(e, vllm, "vllm:time_per_output_token_seconds", "itl", priority: 1,
                    note: "deprecated 0.11 name of inter_token_latency; used only when that is absent (never both: no double count)"),
            latency(e, vllm, "vllm:e2e_request_latency_seconds", "e2e"),
            latency(e, vllm, "vllm:request_queue_time_seconds", "queue"),
            latency(e, vllm, "vllm:request_prefill_time_seconds", "prefill"),
            latency(e, vllm, "vllm:request_decode_time_seconds", "decode"),
        ]
    }()

    // MARK: SGLang

    static let sglang = LabelStyle.engine(model: ["model_name", "name"], keepEngine: false)
    static let sglangRules: [MappingRule] = {
        let e = "SGLang"
        return [
            gauge(e, sglang, "sglang:num_running_reqs", "batch.running"),
            gauge(e, sglang, "sglang:num_queue_reqs", "queue.waiting"),
            gauge(e, sglang, "sglang:token_usage", "kv_cache.usage", note: "KV pool tokens used / max_total_num_tokens, 0-1"),
            gauge(e, sglang, "sglang:cache_hit_rate", "prefix_cache.hit_ratio", note: "radix-cache hit rate, 0-1, over SGLang's last log interval"),
            rate(e, sglang, "sglang:prompt_tokens_total", "engine.tokens.prompt.rate"),
            rate(e, sglang, "sglang:generation_tokens_total", "engine.tokens.generation.rate"),
            rate(e, sglang, "sglang:num_requests_total", "engine.requests.rate"),
            rate(e, sglang, "sglang:num_retracted_requests_total", "preemptions.rate", note: "retraction is SGLang's preemption"),
            latency(e, sglang, "sglang:time_to_first_token_seconds", "ttft"),
            latency(e, sglang, "sglang:inter_token_latency_seconds", "itl"),
            latency(e, sglang, "sglang:time_per_output_token_seconds", "itl", priority: 1, note: "older name; used only when inter_token_latency is absent"),
            latency(e, sglang, "sglang:e2e_request_latency_seconds", "e2e"),
            latency(e, sglang, "sglang:queue_time_seconds", "queue"),
        ]
    }()

    // MARK: TGI

    static let tgi = LabelStyle.engine(model: [], keepEngine: false)
    static let tgiRules: [MappingRule] = {
        let e = "TGI"
        return [
            gauge(e, tgi, "tgi_queue_size", "queue.waiting"),
            gauge(e, tgi, "tgi_batch_current_size", "batch.running"),
            rate(e, tgi, "tgi_request_success", "engine.requests.rate", note: "plus tgi_request_failure: finished = succeeded + failed"),
            rate(e, tgi, "tgi_request_failure", "engine.requests.rate", note: "summed over err"),
            MappingRule(exporter: e, sample: "tgi_request_input_length_sum", family: "tgi_request_input_length_sum", style: tgi, priority: 0,
                        targets: [.rate("engine.tokens.prompt.rate")], signal: "engine.tokens.prompt.rate",
                        conversion: "Δ / Δt of the histogram's _sum", note: "TGI has no token counters; the histogram sum is one"),
            MappingRule(exporter: e, sample: "tgi_request_generated_tokens_sum", family: "tgi_request_generated_tokens_sum", style: tgi, priority: 0,
                        targets: [.rate("engine.tokens.generation.rate")], signal: "engine.tokens.generation.rate",
                        conversion: "Δ / Δt of the histogram's _sum", note: ""),
            latency(e, tgi, "tgi_request_duration", "e2e"),
            latency(e, tgi, "tgi_request_queue_duration", "queue"),
            latency(e, tgi, "tgi_request_mean_time_per_token_duration", "itl",
                    note: "per-request mean time per token (TGI has no per-token histogram); no TTFT histogram exists"),
        ]
    }()

    // MARK: llama.cpp

    static let llamaCpp = LabelStyle.engine(model: [], keepEngine: false)
    static let llamaCppRules: [MappingRule] = {
        let e = "llama.cpp"
        return [
            gauge(e, llamaCpp, "llamacpp:requests_processing", "batch.running"),
            gauge(e, llamaCpp, "llamacpp:requests_deferred", "queue.waiting"),
            gauge(e, llamaCpp, "llamacpp:kv_cache_usage_ratio", "kv_cache.usage", note: "older llama-server releases only"),
            rate(e, llamaCpp, "llamacpp:prompt_tokens_total", "engine.tokens.prompt.rate", extra: [.ratePart(.prefixQueries)],
                 note: "excludes cached tokens, so prompt rate = processed + cached; hit ratio = Δcached / (Δprocessed + Δcached)"),
            rate(e, llamaCpp, "llamacpp:prompt_tokens_cached_total", "engine.tokens.prompt.rate",
                 extra: [.ratePart(.prefixHits), .ratePart(.prefixQueries)], note: "also feeds prefix_cache.hit_ratio"),
            rate(e, llamaCpp, "llamacpp:tokens_predicted_total", "engine.tokens.generation.rate"),
        ]
    }()

    // MARK: DCGM

    static let dcgmRules: [MappingRule] = {
        let e = "NVIDIA DCGM exporter"
        let mib = "MiB → bytes (× 1048576)"
        return [
            gauge(e, .gpu, "DCGM_FI_DEV_GPU_UTIL", "gpu.utilization", scale: 0.01, conversion: "percent → ratio (÷ 100)"),
            gauge(e, .gpu, "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "gpu.utilization", priority: 1,
                  note: "ratio; used only without DCGM_FI_DEV_GPU_UTIL (e.g. MIG instances)"),
            gauge(e, .gpu, "DCGM_FI_DEV_MEM_COPY_UTIL", "gpu.memory.bandwidth_utilization", scale: 0.01,
                  conversion: "percent → ratio (÷ 100)", note: "same measure as nvidia-smi utilization.memory"),
            gauge(e, .gpu, "DCGM_FI_PROF_DRAM_ACTIVE", "gpu.memory.bandwidth_utilization", priority: 1,
                  note: "ratio; used only without DCGM_FI_DEV_MEM_COPY_UTIL"),
            MappingRule(exporter: e, sample: "DCGM_FI_DEV_FB_USED", family: "DCGM_FI_DEV_FB_USED", style: .gpu, priority: 0,
                        targets: [.gauge("gpu.memory.used", scale: mebibyte), .part(.fbUsed, scale: mebibyte)],
                        signal: "gpu.memory.used", conversion: mib, note: "and gpu.memory.utilization = used / total"),
            MappingRule(exporter: e, sample: "DCGM_FI_DEV_FB_FREE", family: "DCGM_FI_DEV_FB_FREE", style: .gpu, priority: 0,
                        targets: [.gauge("gpu.memory.free", scale: mebibyte), .part(.fbFree, scale: mebibyte)],
                        signal: "gpu.memory.free", conversion: mib, note: ""),
            gauge(e, .gpu, "DCGM_FI_DEV_FB_TOTAL", "gpu.memory.total", scale: mebibyte, conversion: mib, note: "not in the default counter set"),
            MappingRule(exporter: e, sample: "DCGM_FI_DEV_FB_RESERVED", family: "DCGM_FI_DEV_FB_RESERVED", style: .gpu, priority: 0,
                        targets: [.part(.fbReserved, scale: mebibyte)], signal: "gpu.memory.total", conversion: mib,
                        note: "without FB_TOTAL, total = FB_USED + FB_FREE + FB_RESERVED (used + free when reserved is absent)"),
            gauge(e, .gpu, "DCGM_FI_DEV_POWER_USAGE", "gpu.power", conversion: "watts"),
            gauge(e, .gpu, "DCGM_FI_DEV_GPU_TEMP", "gpu.temperature", conversion: "°C"),
            gauge(e, .gpu, "DCGM_FI_DEV_SM_CLOCK", "gpu.sm_clock", scale: 1e6, conversion: "MHz → Hz (× 10⁶)"),
        ]
    }()

    // MARK: node exporter

    static let nodeRules: [MappingRule] = {
        let e = "Prometheus node exporter"
        return [
            MappingRule(exporter: e, sample: "node_cpu_seconds_total", family: "node_cpu_seconds_total", style: .host, priority: 0,
                        targets: [.nodeCPU], signal: "node.cpu.utilization", conversion: "1 − ΣΔidle / ΣΔ(all modes)",
                        note: "over every CPU; iowait counts as busy"),
            MappingRule(exporter: e, sample: "node_memory_MemTotal_bytes", family: "node_memory_MemTotal_bytes", style: .host, priority: 0,
                        targets: [.gauge("node.memory.total", scale: 1), .part(.hostMemTotal, scale: 1)], signal: "node.memory.total",
                        conversion: "bytes", note: ""),
            MappingRule(exporter: e, sample: "node_memory_MemAvailable_bytes", family: "node_memory_MemAvailable_bytes", style: .host, priority: 0,
                        targets: [.part(.hostMemAvailable, scale: 1)], signal: "node.memory.used",
                        conversion: "MemTotal − MemAvailable", note: ""),
        ]
    }()
}
