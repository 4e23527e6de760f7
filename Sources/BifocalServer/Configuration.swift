public import BifocalCore
public import BifocalGateway
public import BifocalIngest
public import BifocalStore

/// Everything `bifocal serve` can be told, with defaults that work with no config file at all.
///
/// Loaded from one YAML file (`+Reader`), then environment variables, then command-line flags.
public struct BifocalConfiguration: Sendable, Hashable {
    /// Address to listen on (default `127.0.0.1`).
    public var host: String = "127.0.0.1"
    /// Port to listen on (default 8787).
    public var port: Int = 8787
    /// Largest request body accepted, in bytes (default 16 MiB); larger bodies get 413.
    public var maxBodyBytes: Int = 16 * 1024 * 1024
    /// Bearer tokens accepted by the API. Required when listening on anything but loopback.
    public var tokens: [String] = []
    /// Store location, retention and size cap (data in `./bifocal-data` by default).
    public var storage = StoreConfiguration()
    /// How often retention runs, in microseconds (default 1 minute).
    public var retentionInterval: Int64 = Timestamp.microsPerMinute
    /// Endpoints with prices and GPU reservations.
    public var endpoints: [EndpointSpec] = []
    /// Prometheus/OpenMetrics endpoints to scrape (inference servers, DCGM, node exporter).
    public var scrapeTargets: [ScrapeTarget] = []
    /// The local GPU sampler (nvidia-smi).
    public var gpuSampler = GPUSamplerSettings()
    /// Dashboard thresholds (`dashboard:`).
    public var dashboard = DashboardSettings()
    /// The gateway (`gateway:`): upstreams, routing, measurement; off when it has no upstreams.
    public var gateway = GatewayConfiguration()

    /// The defaults.
    public init() {}

    /// Whether `host` only accepts connections from this machine.
    public var listensOnLoopbackOnly: Bool {
        ["127.0.0.1", "::1", "localhost"].contains(host) || host.hasPrefix("127.")
    }

    /// Checks what can only be checked as a whole; returns the problems found.
    public func validate() -> [String] {
        var problems: [String] = []
        if !listensOnLoopbackOnly && tokens.isEmpty {
            problems.append("listening on \(host) (not loopback) requires at least one bearer token: set server.tokens in the config or BIFOCAL_TOKENS")
        }
        if !(0...65535).contains(port) { problems.append("port \(port) is not in 0-65535 (0 picks a free port)") }
        if maxBodyBytes < 1024 { problems.append("server.max_body_bytes must be at least 1024") }
        for (index, target) in scrapeTargets.enumerated() {
            if let problem = target.problem { problems.append("scrape.targets[\(index)]: \(problem)") }
        }
        if storage.textRetention > storage.rawRetention {
            problems.append("storage.retention.texts (\(Timestamp.formatDuration(storage.textRetention))) cannot be longer than storage.retention.raw (\(Timestamp.formatDuration(storage.rawRetention)))")
        }
        problems += dashboard.problems
        problems += gatewayProblems()
        return problems
    }
}

extension BifocalConfiguration {
    /// The data folder (`storage.data`).
    public var dataDirectory: String {
        get { storage.directory }
        set { storage.directory = newValue }
    }
}

/// When and how the local GPU sampler runs.
public struct GPUSamplerSettings: Sendable, Hashable {
    /// Whether to sample: `auto` samples when nvidia-smi works and says once that it does not otherwise.
    public enum Mode: String, Sendable, Hashable {
        /// Sample if nvidia-smi is there and sees a GPU; otherwise say so once and stay off.
        case auto
        /// Always try (a missing nvidia-smi is logged as an error).
        case on
        /// Never sample.
        case off
    }

    /// Whether to sample (default `auto`).
    public var mode: Mode = .auto
    /// Time between samples, microseconds (default 10 s).
    public var interval: Int64 = 10 * Timestamp.microsPerSecond
    /// The nvidia-smi executable (default: found on PATH).
    public var command: String = "nvidia-smi"
    /// Labels the GPU series carry (`endpoint`, `instance`); `instance` defaults to the host name.
    public var labels: [String: String] = [:]

    /// The defaults.
    public init() {}
}
