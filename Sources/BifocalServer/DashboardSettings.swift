public import BifocalCore

/// The dashboard's thresholds: where charts draw their bands and tiles turn amber or red.
///
/// Read from the `dashboard:` section of the config file. Ratios are 0-1.
public struct DashboardSettings: Sendable, Hashable {
    /// GPU compute utilisation below this marks under-use (default 0.30).
    public var computeLow: Double = 0.30
    /// GPU compute utilisation above this marks saturation (default 0.80).
    public var computeHigh: Double = 0.80
    /// GPU memory utilisation above this is red (default 0.85).
    public var memoryHigh: Double = 0.85
    /// KV-cache usage above this is red (default 0.90): past it the engine starts to preempt.
    public var kvCacheHigh: Double = 0.90
    /// Error ratio above this is red (default 0.05); above a fifth of it, amber.
    public var errorRatioHigh: Double = 0.05
    /// "Slow" in the request list: end-to-end latency at least this, microseconds (default 10 s).
    public var slowE2E: Int64 = 10 * Timestamp.microsPerSecond
    /// "Slow" in the request list: time to first token at least this, microseconds (default 2 s).
    public var slowTTFT: Int64 = 2 * Timestamp.microsPerSecond

    /// Whether the server keeps the Overview's default views computed in the background (every
    /// minute, only their newest chunk), so that their first load is as fast as a reload
    /// (default true).
    public var prewarm: Bool = true

    /// The defaults.
    public init() {}

    /// Problems with the values, for `BifocalConfiguration.validate()`.
    var problems: [String] {
        var problems: [String] = []
        if !(0...1).contains(computeLow) || !(0...1).contains(computeHigh) || computeLow >= computeHigh {
            problems.append("dashboard.compute_low and compute_high must be ratios 0-1 with compute_low < compute_high")
        }
        for (name, value) in [("memory_high", memoryHigh), ("kv_cache_high", kvCacheHigh), ("error_ratio_high", errorRatioHigh)] where !(0...1).contains(value) {
            problems.append("dashboard.\(name) must be a ratio 0-1")
        }
        return problems
    }
}
