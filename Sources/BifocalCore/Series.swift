/// One point of a scraped, sampled or received series: a family name, its labels, a time and a value.
///
/// Scrapers, the GPU sampler and the OTLP receiver all produce these; the store keeps them as
/// series (one per distinct name + labels) with raw points and per-minute downsampling.
public struct SeriesSample: Sendable, Hashable {
    /// The family's name: a canonical signal (`gpu.utilization`) or an exporter's own name
    /// (`vllm:num_requests_waiting`, `DCGM_FI_DEV_GPU_UTIL`).
    public var name: String
    /// The series' labels. Empty values are dropped by the store (Prometheus treats them as absent).
    public var labels: [String: String]
    /// When the value was observed, microseconds since the epoch.
    public var time: Int64
    /// The value. `SeriesSample.staleMarker` (a NaN with a fixed payload) says the series ended here.
    public var value: Double

    /// Creates a sample.
    public init(name: String, labels: [String: String] = [:], time: Int64, value: Double) {
        self.name = name
        self.labels = labels
        self.time = time
        self.value = value
    }

    /// The NaN bit pattern Prometheus uses for staleness markers; any other NaN is an ordinary value.
    public static let staleMarker = Double(bitPattern: 0x7FF0_0000_0000_0002)

    /// Whether this sample marks the end of its series (the target went away, or the series left its scrape).
    public var isStaleMarker: Bool { value.bitPattern == Self.staleMarker.bitPattern }

    /// A stale marker for a series at `time`.
    public static func stale(name: String, labels: [String: String], time: Int64) -> SeriesSample {
        SeriesSample(name: name, labels: labels, time: time, value: staleMarker)
    }
}

/// The seam scrapers, the GPU sampler and the OTLP receiver push series samples into.
///
/// Like `RecordSink`, sources never import the store; `submit` returns once the samples are durable.
public protocol SeriesSink: Sendable {
    /// Stores samples; returns how many were stored (samples with an invalid name are skipped).
    func submit(series samples: [SeriesSample]) async throws -> Int
}

/// How the series of one group are combined into one value per step.
public enum SeriesAggregation: String, Sendable, Hashable, CaseIterable {
    /// The sum over series (counts, bytes, rates: queue depth of every server of a model).
    case sum
    /// The mean over series (ratios and temperatures: utilisation of the GPUs in a group).
    case mean
    /// The largest (latency quantiles: the worst server of the group).
    case max
    /// The smallest.
    case min
}

/// A signal computed from stored series rather than from inference records.
public struct SeriesSignalDefinition: Sendable, Hashable {
    /// The signal's name and unit.
    public var definition: SignalDefinition
    /// How the series of one group combine when no `agg` is asked for.
    public var aggregation: SeriesAggregation

    /// Creates a definition.
    public init(_ name: String, _ unit: SignalUnit, _ aggregation: SeriesAggregation, _ description: String) {
        self.definition = SignalDefinition(name: name, unit: unit, description: description)
        self.aggregation = aggregation
    }
}

extension SignalUnit {
    /// Power.
    public static let watts = SignalUnit(rawValue: "watts")
    /// Temperature.
    public static let celsius = SignalUnit(rawValue: "celsius")
    /// Frequency (clocks).
    public static let hertz = SignalUnit(rawValue: "hertz")
    /// A value whose unit Bifocal does not know (an exporter's own family).
    public static let unknown = SignalUnit(rawValue: "")
}

/// The canonical infrastructure signals that exporter mappings, the GPU sampler and OTLP metrics produce.
///
/// Labels: GPUs carry `gpu` (index), `gpu_uuid`, `gpu_model` and, on MIG devices, `gpu_instance` and
/// `gpu_profile`; engine signals carry `model`; every scraped series carries `endpoint`, `instance`
/// (the record-side instance, from the target's config), `job` and `target` (the scrape address).
public enum SeriesSignalCatalog {
    /// Every canonical series signal, in a stable order.
    public static let signals: [SeriesSignalDefinition] = {
        var list: [SeriesSignalDefinition] = [
            .init("gpu.utilization", .ratio, .mean, "GPU compute utilisation, 0-1 (share of time a kernel was running)."),
            .init("gpu.memory.used", .bytes, .sum, "GPU framebuffer memory in use."),
            .init("gpu.memory.free", .bytes, .sum, "GPU framebuffer memory free."),
            .init("gpu.memory.total", .bytes, .sum, "GPU framebuffer memory in total."),
            .init("gpu.memory.utilization", .ratio, .mean, "GPU memory occupancy, used / total, 0-1."),
            .init("gpu.memory.bandwidth_utilization", .ratio, .mean, "GPU memory bandwidth activity (share of time memory was read or written), 0-1."),
            .init("gpu.power", .watts, .sum, "GPU power draw."),
            .init("gpu.temperature", .celsius, .max, "GPU core temperature."),
            .init("gpu.sm_clock", .hertz, .mean, "GPU streaming-multiprocessor clock."),
            .init("kv_cache.usage", .ratio, .max, "KV-cache blocks in use, 0-1, per model server."),
            .init("queue.waiting", .count, .sum, "Requests waiting in the model server's queue."),
            .init("batch.running", .count, .sum, "Requests in the model server's running batch."),
            .init("preemptions.rate", .perSecond, .sum, "Requests preempted (KV cache full) per second."),
            .init("engine.requests.rate", .perSecond, .sum, "Requests finished per second, as the model server counts them."),
            .init("engine.tokens.prompt.rate", .perSecond, .sum, "Prompt tokens processed per second, as the model server counts them."),
            .init("engine.tokens.generation.rate", .perSecond, .sum, "Tokens generated per second, as the model server counts them."),
            .init("prefix_cache.hit_ratio", .ratio, .mean, "Share of prefix-cache lookups (tokens) that hit, 0-1."),
            .init("gpus.total", .count, .sum, "GPUs seen reporting in the window."),
            .init("gpus.used", .count, .sum, "GPUs reserved by configured endpoints (without reservations: GPUs busy in the window)."),
            .init("gpus.free", .count, .sum, "gpus.total - gpus.used."),
            .init("node.cpu.utilization", .ratio, .mean, "Host CPU busy share, 0-1 (node exporter)."),
            .init("node.memory.used", .bytes, .sum, "Host memory in use (total - available; node exporter)."),
            .init("node.memory.total", .bytes, .sum, "Host memory in total (node exporter)."),
        ]
        for (metric, words) in engineLatencies {
            for (suffix, quantile) in [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)] {
                list.append(.init("engine.\(metric).\(suffix)", .seconds, .max,
                                  "\(Int(quantile * 100))th percentile of \(words), from the model server's own histogram."))
            }
        }
        return list
    }()

    /// The engine-side latency histograms that become `engine.NAME.pNN` signals.
    public static let engineLatencies: [(String, String)] = [
        ("ttft", "time to first token"),
        ("itl", "inter-token latency"),
        ("e2e", "end-to-end request latency"),
        ("queue", "time requests spent queued"),
        ("prefill", "prefill time"),
        ("decode", "decode time"),
    ]

    private static let byName: [String: SeriesSignalDefinition] = {
        var map: [String: SeriesSignalDefinition] = [:]
        for entry in signals { map[entry.definition.name] = entry }
        return map
    }()

    /// Looks up a canonical series signal by name.
    public static func signal(named name: String) -> SeriesSignalDefinition? { byName[name] }
}
