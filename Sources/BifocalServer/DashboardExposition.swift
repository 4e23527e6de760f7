import BifocalCore
import BifocalStore

/// The dashboard's signals on `/metrics`: at scrape time, the store's latest values (instant
/// queries over the last five minutes) per endpoint, model, component and variant for request
/// signals, and per GPU or model server for series signals, as Prometheus gauges. Grafana
/// (`bifocal grafana-dashboard`) and Prometheus alerting read them.
///
/// Reading the store at scrape time (rather than counting in this process) means the values
/// include every source and survive restarts, and a scrape costs a few rollup reads.
struct DashboardExposition: Sendable {
    /// One gauge family: the signal it reads, how it is grouped, and its exposition name.
    struct Family: Sendable {
        var metric: String
        var signal: String
        var by: [String]
        var aggregation: SeriesAggregation?
        var help: String
        /// An extra constant label (quantile, error type) for families that several signals fill.
        var extra: (String, String)?
    }

    static let recordLabels = ["endpoint", "model", "component", "variant"]
    static let window = 5 * Timestamp.microsPerMinute

    /// Every family, in exposition order. Families with the same metric are written together.
    static let families: [Family] = {
        var list: [Family] = [
            Family(metric: "bifocal_requests_per_second", signal: "requests.rate", by: recordLabels, help: "Requests per second over the last 5 minutes."),
            Family(metric: "bifocal_error_ratio", signal: "errors.ratio", by: recordLabels, help: "Share of requests that did not end ok, over the last 5 minutes."),
        ]
        for status in RecordStatus.allCases where status.isError {
            list.append(Family(metric: "bifocal_error_kind_ratio", signal: "errors.\(status.rawValue).ratio", by: recordLabels,
                               help: "Share of requests that ended with error_type, over the last 5 minutes.", extra: ("error_type", status.rawValue)))
        }
        for (metric, words) in [("ttft", "Time to first token"), ("itl", "Inter-token latency"), ("tpot", "Time per output token"),
                                ("e2e", "End-to-end latency"), ("queue", "Queue time")] {
            // `percentile`, not `quantile`: these are gauges read from sketches, not a summary
            // this process observed (promtool rightly refuses `quantile` on a gauge).
            for suffix in ["p50", "p95", "p99"] {
                list.append(Family(metric: "bifocal_\(metric)_seconds", signal: "\(metric).\(suffix)", by: recordLabels,
                                   help: "\(words) percentiles over the last 5 minutes (from Bifocal's sketches).", extra: ("percentile", suffix)))
            }
        }
        list += [
            Family(metric: "bifocal_input_tokens_per_second", signal: "tokens.input.rate", by: recordLabels, help: "Input (prompt) tokens per second over the last 5 minutes."),
            Family(metric: "bifocal_output_tokens_per_second", signal: "tokens.output.rate", by: recordLabels, help: "Output tokens per second over the last 5 minutes."),
            Family(metric: "bifocal_concurrency", signal: "concurrency", by: recordLabels, help: "Mean requests in flight over the last 5 minutes."),
            Family(metric: "bifocal_cost_dollars_per_hour", signal: "cost.hourly", by: ["endpoint", "model", "component"], help: "Hourly cost of the GPUs each model reserves, US dollars."),
            Family(metric: "bifocal_cost_per_1m_tokens_dollars", signal: "cost.per_1m_tokens", by: ["endpoint", "model", "component"], help: "Cost per million tokens over the last 5 minutes, US dollars."),
        ]
        let gpu = ["endpoint", "instance", "gpu", "model"]
        let engine = ["endpoint", "instance", "model"]
        list += [
            Family(metric: "bifocal_gpu_utilization_ratio", signal: "gpu.utilization", by: gpu, aggregation: .mean, help: "GPU compute utilisation 0-1, latest sample."),
            Family(metric: "bifocal_gpu_memory_utilization_ratio", signal: "gpu.memory.utilization", by: gpu, aggregation: .mean, help: "GPU memory used / total 0-1, latest sample."),
            Family(metric: "bifocal_gpu_memory_used_bytes", signal: "gpu.memory.used", by: gpu, aggregation: .sum, help: "GPU framebuffer memory in use, latest sample."),
            Family(metric: "bifocal_gpu_power_watts", signal: "gpu.power", by: gpu, aggregation: .sum, help: "GPU power draw, latest sample."),
            Family(metric: "bifocal_gpu_temperature_celsius", signal: "gpu.temperature", by: gpu, aggregation: .max, help: "GPU core temperature, latest sample."),
            Family(metric: "bifocal_kv_cache_usage_ratio", signal: "kv_cache.usage", by: engine, aggregation: .max, help: "KV-cache blocks in use 0-1 per model server, latest sample."),
            Family(metric: "bifocal_queue_waiting_requests", signal: "queue.waiting", by: engine, aggregation: .sum, help: "Requests waiting in the model server's queue, latest sample."),
            Family(metric: "bifocal_batch_running_requests", signal: "batch.running", by: engine, aggregation: .sum, help: "Requests in the model server's running batch, latest sample."),
            Family(metric: "bifocal_preemptions_per_second", signal: "preemptions.rate", by: engine, aggregation: .sum, help: "Requests preempted per second (KV cache full), latest sample."),
            Family(metric: "bifocal_engine_generation_tokens_per_second", signal: "engine.tokens.generation.rate", by: engine, aggregation: .sum, help: "Tokens generated per second as the model server counts them, latest sample."),
            Family(metric: "bifocal_gpus", signal: "gpus.total", by: ["endpoint"], help: "GPUs by state: total (reporting), used (reserved by configured endpoints; without reservations, busy), free.", extra: ("state", "total")),
            Family(metric: "bifocal_gpus", signal: "gpus.used", by: ["endpoint"], help: "", extra: ("state", "used")),
            Family(metric: "bifocal_gpus", signal: "gpus.free", by: ["endpoint"], help: "", extra: ("state", "free")),
        ]
        return list
    }()

    let store: any Store

    /// The gauges as Prometheus text 0.0.4, read at `now`. A query that fails leaves its family
    /// out rather than failing the scrape (the self-health metrics still matter then).
    func render(now: Int64) async -> String {
        let families = Self.families
        let queries = families.map {
            SignalQuery(signal: $0.signal, by: $0.by, shape: .instant(at: now, window: Self.window), aggregation: $0.aggregation)
        }
        let results = (try? await DashboardData.run(queries, on: store)) ?? []
        var out = ExpositionWriter()
        var written = Set<String>()
        for (i, family) in families.enumerated() where !written.contains(family.metric) {
            written.insert(family.metric)
            out.family(family.metric, type: "gauge", help: family.help)
            for (k, member) in families.enumerated() where member.metric == family.metric {
                for series in (k < results.count ? results[k] : nil)?.series ?? [] {
                    guard let value = series.points.first?.value, value.isFinite else { continue }
                    var labels = member.by.map { ($0, series.labels[$0] ?? "") }
                    if let extra = member.extra { labels.append(extra) }
                    out.sample(member.metric, labels, value)
                }
            }
            _ = i
        }
        return out.text
    }
}
