public import BifocalCore

/// Maps the families of real exporters (vLLM, SGLang, TGI, llama.cpp, NVIDIA DCGM exporter, node
/// exporter) to Bifocal's canonical series signals (`SeriesSignalCatalog`), one mapper per scrape target.
///
/// It is stateful because rates and latency quantiles are differences: a counter's rate is its increase
/// since the previous scrape of the same series divided by the time between them (a decrease is a
/// counter reset, and the new value is the increase), and `engine.ttft.p95` is the 95th percentile of
/// the observations that fell into the histogram's buckets between the two scrapes (linear
/// interpolation within the bucket, as Prometheus' `histogram_quantile`). The first scrape therefore
/// yields gauges only, and an interval without observations yields no quantile. A series that appears
/// after the first scrape counts from zero (a counter is born at zero), so lazily created label sets
/// (`tgi_request_failure{err="…"}`) are not lost.
///
/// Every output sample carries the target's context labels; the exporter's identifying labels are
/// translated (`model_name` → `model`; DCGM `gpu`, `UUID` → `gpu_uuid`, `modelName` → `gpu_model`,
/// `GPU_I_ID` → `gpu_instance`, `GPU_I_PROFILE` → `gpu_profile`, `Hostname`/`hostname` → `host`) and the
/// rest dropped, so canonical series have stable identities. Units follow the catalog: ratios 0-1,
/// bytes, hertz, watts, degrees Celsius, per second. Unknown families produce nothing here (the
/// scraper stores them under their own names).
public struct ExporterMapper: Sendable {
    private struct SeriesKey: Hashable, Sendable {
        var name: String
        var labels: [MetricLabel]
    }

    private struct CounterState: Sendable {
        var value: Double
        var time: Int64
    }

    private struct HistogramState: Sendable {
        var counts: [Double: Double]
        var time: Int64
    }

    private var counters: [SeriesKey: CounterState] = [:]
    private var histograms: [SeriesKey: HistogramState] = [:]
    private var previousScrape: Int64?
    private var lastEviction: Int64 = .min

    /// State for series not seen for this long is forgotten (they come back counting from zero).
    public var forgetAfter: Int64 = Timestamp.microsPerHour

    /// Creates a mapper with no history.
    public init() {}

    /// Maps one scrape of the target to canonical-signal samples at `time` (microseconds since the epoch).
    ///
    /// - Parameter context: the target's labels (`endpoint`, `instance`, `job`, `target`, maybe `model`),
    ///   carried by every output sample. An exporter's own model label wins over the context's `model`.
    public mutating func map(_ scrape: PrometheusParseResult, at time: Int64, labels context: [String: String]) -> [SeriesSample] {
        var work = Work()
        // Buckets of one histogram series arrive as several samples; they are gathered first so a reset
        // is judged on the whole histogram, not bucket by bucket.
        var bucketGroups: [SeriesKey: (rule: MappingRule, labels: [String: String], buckets: [(Double, Double)])] = [:]
        var bucketOrder: [SeriesKey] = []

        for sample in scrape.samples {
            guard let rules = Self.rulesBySample[sample.name] else { continue }
            var rateComputed = false
            var rate: Double?
            for rule in rules {
                guard let labels = Self.translate(sample.labels, style: rule.style, context: context) else { continue }
                let value = sample.value
                if case .gpu = rule.style, Self.isDCGMBlank(value) { continue }
                for target in rule.targets {
                    switch target {
                    case .gauge(let signal, let scale):
                        guard value.isFinite else { continue }
                        work.candidate(signal, labels, rule.priority, value * scale)
                    case .part(let part, let scale):
                        guard value.isFinite else { continue }
                        work.addPart(part, rule.priority, labels, value * scale)
                    case .rate(let signal):
                        if !rateComputed { rate = counterRate(SeriesKey(name: sample.name, labels: sample.labels), value, time); rateComputed = true }
                        if let rate { work.candidate(signal, labels, rule.priority, rate) }
                    case .ratePart(let part):
                        if !rateComputed { rate = counterRate(SeriesKey(name: sample.name, labels: sample.labels), value, time); rateComputed = true }
                        if let rate { work.addPart(part, rule.priority, labels, rate) }
                    case .nodeCPU:
                        if !rateComputed { rate = counterRate(SeriesKey(name: sample.name, labels: sample.labels), value, time); rateComputed = true }
                        guard let rate else { continue }
                        work.addPart(.cpuAll, rule.priority, labels, rate)
                        if sample.label("mode") == "idle" { work.addPart(.cpuIdle, rule.priority, labels, rate) }
                    case .latency:
                        guard let bound = sample.label("le").flatMap(Self.parseBound), !value.isNaN else { continue }
                        let key = SeriesKey(name: sample.name, labels: sample.labels.filter { $0.name != "le" })
                        if bucketGroups[key] == nil {
                            bucketGroups[key] = (rule, labels, [])
                            bucketOrder.append(key)
                        }
                        bucketGroups[key]!.buckets.append((bound, value))
                    }
                }
            }
        }

        for key in bucketOrder {
            guard let group = bucketGroups[key], case .latency(let metric) = group.rule.targets.first(where: {
                if case .latency = $0 { return true } else { return false }
            }) else { continue }
            guard let deltas = histogramDeltas(key, group.buckets, time) else { continue }
            work.addBuckets(metric, group.rule.priority, group.labels, deltas)
        }

        previousScrape = time
        evict(before: time)
        return work.finish(at: time)
    }

    // MARK: - Differences between scrapes

    /// The per-second increase of a counter since its previous scrape, or nil when it cannot be known.
    private mutating func counterRate(_ key: SeriesKey, _ value: Double, _ time: Int64) -> Double? {
        guard value.isFinite else { return nil }
        let previous = counters[key]
        counters[key] = CounterState(value: value, time: time)
        let base: CounterState
        if let previous {
            base = previous
        } else if let previousScrape {
            // Not in any earlier scrape of this target, so it was created since: it started at zero.
            base = CounterState(value: 0, time: previousScrape)
        } else {
            return nil
        }
        let seconds = Double(time - base.time) / Double(Timestamp.microsPerSecond)
        guard seconds > 0 else { return nil }
        let increase = value >= base.value ? value - base.value : value
        return increase / seconds
    }

    /// The bucket counts (cumulative, by upper bound) observed since the previous scrape of this histogram.
    private mutating func histogramDeltas(_ key: SeriesKey, _ buckets: [(Double, Double)], _ time: Int64) -> [(Double, Double)]? {
        var current: [Double: Double] = [:]
        for (bound, count) in buckets { current[bound, default: 0] += count }
        let previous = histograms[key]
        histograms[key] = HistogramState(counts: current, time: time)
        let base: [Double: Double]
        if let previous {
            guard time > previous.time else { return nil }
            base = previous.counts
        } else if previousScrape != nil {
            base = [:]
        } else {
            return nil
        }
        // Any bucket going down, or a different bucket layout, means the server restarted: everything
        // it reports now was observed since.
        let reset = base.count > 0 && (Set(base.keys) != Set(current.keys) || current.contains { $0.value < (base[$0.key] ?? 0) })
        return current.keys.sorted().map { bound in
            (bound, reset ? current[bound]! : current[bound]! - (base[bound] ?? 0))
        }
    }

    private mutating func evict(before time: Int64) {
        // Eviction walks all state, so it runs at most once per ten minutes of scrape time.
        let (elapsed, overflow) = time.subtractingReportingOverflow(lastEviction)
        guard overflow || elapsed >= 10 * Timestamp.microsPerMinute else { return }
        lastEviction = time
        let cutoff = time - forgetAfter
        counters = counters.filter { $0.value.time >= cutoff }
        histograms = histograms.filter { $0.value.time >= cutoff }
    }

    // MARK: - Labels and values

    /// The canonical labels of a sample, or nil when it does not describe a thing the rule knows.
    static func translate(_ labels: [MetricLabel], style: LabelStyle, context: [String: String]) -> [String: String]? {
        var out = context
        switch style {
        case .engine(let modelLabels, let keepEngine):
            for modelLabel in modelLabels {
                if let model = labels.first(where: { $0.name == modelLabel && !$0.value.isEmpty })?.value {
                    out["model"] = model
                    break
                }
            }
            if keepEngine, let engine = labels.first(where: { $0.name == "engine" && !$0.value.isEmpty })?.value {
                out[context["engine"] == nil ? "engine" : "exported_engine"] = engine
            }
        case .gpu:
            var sawGPU = false
            for label in labels where !label.value.isEmpty {
                let name: String
                switch label.name {
                case "gpu": name = "gpu"; sawGPU = true
                case "UUID", "uuid": name = "gpu_uuid"; sawGPU = true
                case "modelName": name = "gpu_model"
                case "GPU_I_ID": name = "gpu_instance"
                case "GPU_I_PROFILE": name = "gpu_profile"
                case "Hostname", "hostname": name = "host"
                default: continue
                }
                out[name] = label.value
            }
            // NVLink, NVSwitch and CPU entities use other labels; they are not GPUs.
            guard sawGPU else { return nil }
        case .host:
            break
        }
        return out
    }

    /// Whether a DCGM value is one of DCGM's "blank" sentinels (field unsupported, not found, not
    /// permissioned…): the base blank value plus up to 15, for 32-bit and 64-bit integers and for doubles
    /// (dcgm_structs.h: `DCGM_INT32_BLANK 0x7ffffff0`, `DCGM_INT64_BLANK 0x7ffffffffffffff0`,
    /// `DCGM_FP64_BLANK 2^47`). The exporter prints them as plain numbers (e.g. `9223372036854775794`).
    public static func isDCGMBlank(_ value: Double) -> Bool {
        if value.isNaN { return false }
        // Int64 blanks are 2^63 - 16 … 2^63 - 1; as doubles they all round to 2^63.
        if value >= 9_223_372_036_854_775_792.0 { return true }
        if value >= 140_737_488_355_328.0 && value < 140_737_488_355_344.0 { return true }
        if value >= 2_147_483_632.0 && value <= 2_147_483_647.0 { return true }
        return false
    }

    static func parseBound(_ text: String) -> Double? {
        switch text {
        case "+Inf", "Inf", "+inf", "inf": return .infinity
        default: return Double(text)
        }
    }

    // MARK: - Quantiles

    /// The quantile (0-1) of observations in cumulative histogram buckets, as Prometheus'
    /// `histogram_quantile` computes it: linear interpolation within the bucket that holds the rank
    /// (the first bucket starts at 0), the highest finite bound when the rank falls in `+Inf`.
    ///
    /// Returns nil when there are no observations or no `+Inf` bucket. Buckets must be sorted by bound;
    /// counts that are not monotonic are raised to their predecessor's, as Prometheus does.
    public static func histogramQuantile(_ quantile: Double, buckets: [(upperBound: Double, count: Double)]) -> Double? {
        guard quantile >= 0, quantile <= 1, let last = buckets.last, last.upperBound == .infinity else { return nil }
        var counts = buckets.map(\.count)
        for i in counts.indices.dropFirst() where counts[i] < counts[i - 1] { counts[i] = counts[i - 1] }
        let observations = counts[counts.count - 1]
        guard observations > 0, buckets.count >= 2 else { return nil }
        let rank = quantile * observations
        // The first finite bucket whose cumulative count reaches the rank; none means +Inf.
        var b = buckets.count - 1
        for i in 0..<(buckets.count - 1) where counts[i] >= rank { b = i; break }
        if b == buckets.count - 1 { return buckets[buckets.count - 2].upperBound }
        if b == 0 && buckets[0].upperBound <= 0 { return buckets[0].upperBound }
        var start = 0.0
        var inBucket = counts[b]
        var rankInBucket = rank
        if b > 0 {
            start = buckets[b - 1].upperBound
            inBucket -= counts[b - 1]
            rankInBucket -= counts[b - 1]
        }
        let end = buckets[b].upperBound
        guard inBucket > 0 else { return end }
        return start + (end - start) * (rankInBucket / inBucket)
    }

    // MARK: - The table

    /// Which exporter family feeds which canonical signal, with the unit conversion and notes; the
    /// source of docs/telemetry-mappings.md.
    public static func describe() -> [ExporterMapping] {
        rules.map { rule in
            ExporterMapping(exporter: rule.exporter, family: rule.family, signal: rule.signal,
                            conversion: rule.conversion, note: rule.note)
        }
    }
}

/// One scrape's contributions, combined into output samples at the end.
private struct Work {
    struct Key: Hashable {
        var signal: String
        var labels: [String: String]
    }

    struct PartKey: Hashable {
        var part: MappingPart
        var priority: Int
        var labels: [String: String]
    }

    struct Candidate {
        var priority: Int
        var value: Double
        var count: Int
    }

    var candidates: [Key: Candidate] = [:]
    var parts: [PartKey: Double] = [:]
    var buckets: [Key: (priority: Int, counts: [Double: Double])] = [:]

    /// Offers a value for a signal; a lower priority replaces, an equal one combines by the signal's
    /// aggregation (two engines' queues add up, their KV-cache usage takes the larger).
    mutating func candidate(_ signal: String, _ labels: [String: String], _ priority: Int, _ value: Double) {
        let key = Key(signal: signal, labels: labels)
        // One hash of the (label-heavy) key: look up an index, then update in place through it.
        guard let index = candidates.index(forKey: key) else {
            candidates[key] = Candidate(priority: priority, value: value, count: 1)
            return
        }
        let existing = candidates.values[index]
        guard existing.priority <= priority else {
            candidates.values[index] = Candidate(priority: priority, value: value, count: 1)
            return
        }
        guard existing.priority == priority else { return }
        var combined = existing
        switch SeriesSignalCatalog.signal(named: signal)?.aggregation ?? .sum {
        case .sum: combined.value += value
        case .max: combined.value = Swift.max(combined.value, value)
        case .min: combined.value = Swift.min(combined.value, value)
        case .mean: combined.value += (value - combined.value) / Double(combined.count + 1)
        }
        combined.count += 1
        candidates.values[index] = combined
    }

    mutating func addPart(_ part: MappingPart, _ priority: Int, _ labels: [String: String], _ value: Double) {
        parts[PartKey(part: part, priority: priority, labels: labels), default: 0] += value
    }

    /// Adds one histogram's bucket increases; histograms that collide (two engines of one model
    /// without an engine label) are merged bucket by bucket, which keeps quantiles exact.
    mutating func addBuckets(_ metric: String, _ priority: Int, _ labels: [String: String], _ deltas: [(Double, Double)]) {
        let key = Key(signal: metric, labels: labels)
        // Hashing the key once per call, not once per bucket.
        guard let index = buckets.index(forKey: key) else {
            var counts: [Double: Double] = [:]
            for (bound, count) in deltas { counts[bound, default: 0] += count }
            buckets[key] = (priority, counts)
            return
        }
        if buckets.values[index].priority < priority { return }
        if buckets.values[index].priority > priority { buckets.values[index] = (priority, [:]) }
        for (bound, count) in deltas { buckets.values[index].counts[bound, default: 0] += count }
    }

    private func part(_ part: MappingPart, _ priority: Int, _ labels: [String: String]) -> Double? {
        parts[PartKey(part: part, priority: priority, labels: labels)]
    }

    mutating func finish(at time: Int64) -> [SeriesSample] {
        // Derived signals, from the parts.
        for key in parts.keys {
            switch key.part {
            case .fbUsed:
                guard let used = part(.fbUsed, key.priority, key.labels), let free = part(.fbFree, key.priority, key.labels) else { continue }
                if let reserved = part(.fbReserved, key.priority, key.labels) {
                    candidate("gpu.memory.total", key.labels, key.priority + 1, used + free + reserved)
                } else {
                    candidate("gpu.memory.total", key.labels, key.priority + 2, used + free)
                }
            case .prefixQueries:
                guard let queries = parts[key], queries > 0, let hits = part(.prefixHits, key.priority, key.labels) else { continue }
                candidate("prefix_cache.hit_ratio", key.labels, key.priority, Swift.min(1, Swift.max(0, hits / queries)))
            case .cpuAll:
                guard let all = parts[key], all > 0, let idle = part(.cpuIdle, key.priority, key.labels) else { continue }
                candidate("node.cpu.utilization", key.labels, key.priority, Swift.min(1, Swift.max(0, 1 - idle / all)))
            case .hostMemTotal:
                guard let total = parts[key], let available = part(.hostMemAvailable, key.priority, key.labels) else { continue }
                candidate("node.memory.used", key.labels, key.priority, total - available)
            case .fbFree, .fbReserved, .prefixHits, .cpuIdle, .hostMemAvailable:
                continue
            }
        }
        for (key, histogram) in buckets {
            let sorted = histogram.counts.sorted { $0.key < $1.key }.map { (upperBound: $0.key, count: $0.value) }
            for (suffix, q) in [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)] {
                guard let value = ExporterMapper.histogramQuantile(q, buckets: sorted) else { break }
                candidate("engine.\(key.signal).\(suffix)", key.labels, histogram.priority, value)
            }
        }
        // Occupancy needs the chosen used and total of the same GPU.
        for (key, used) in candidates where key.signal == "gpu.memory.used" {
            let totalKey = Key(signal: "gpu.memory.total", labels: key.labels)
            guard let total = candidates[totalKey]?.value, total > 0 else { continue }
            let utilization = Key(signal: "gpu.memory.utilization", labels: key.labels)
            if candidates[utilization] == nil {
                candidates[utilization] = Candidate(priority: 0, value: used.value / total, count: 1)
            }
        }
        // A stable order (signal, then labels) keeps output and tests deterministic.
        // The label order string is built once per candidate, not once per comparison.
        return candidates.map { key, candidate in (key, Self.order(key.labels), candidate.value) }
            .sorted { a, b in a.0.signal != b.0.signal ? a.0.signal < b.0.signal : a.1 < b.1 }
            .map { SeriesSample(name: $0.0.signal, labels: $0.0.labels, time: time, value: $0.2) }
    }

    private static func order(_ labels: [String: String]) -> String {
        labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{1}")
    }
}
