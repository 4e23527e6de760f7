import BifocalCore

/// The rollup tiers: minute, hour and day buckets. The raw value is the bucket length in
/// seconds, which is also what the `rollups.tier` column holds.
enum Tier: Int64, CaseIterable, Comparable, Sendable {
    case minute = 60
    case hour = 3600
    case day = 86400

    /// Bucket length in microseconds.
    var size: Int64 { rawValue * Timestamp.microsPerSecond }

    var name: String {
        switch self {
        case .minute: "minute"
        case .hour: "hour"
        case .day: "day"
        }
    }

    static func < (a: Tier, b: Tier) -> Bool { a.rawValue < b.rawValue }

    /// Coarsest first.
    static let coarseToFine: [Tier] = [.day, .hour, .minute]
}

/// The labels rollups keep (`RecordLabels.rollup`), absent values as "".
struct RollupLabels: Hashable, Sendable {
    var endpoint: String
    var model: String
    var component: String
    var variant: String
    var tenant: String

    init(endpoint: String, model: String, component: String, variant: String, tenant: String) {
        self.endpoint = endpoint
        self.model = model
        self.component = component
        self.variant = variant
        self.tenant = tenant
    }

    init(_ record: InferenceRecord) {
        endpoint = record.endpoint ?? ""
        model = record.model ?? ""
        component = record.component ?? ""
        variant = record.variant ?? ""
        tenant = record.tenant ?? ""
    }
}

/// One rollup row's identity.
struct RollupKey: Hashable, Sendable {
    var tier: Tier
    var bucket: Int64
    var labels: RollupLabels
}

/// What a rollup row holds, and what a query accumulates per group and point.
///
/// Latencies are in seconds. Sketches carry exact sums and counts, so means are exact.
struct RollupValues: Sendable {
    var requests: Int64 = 0
    var clientErrors: Int64 = 0
    var serverErrors: Int64 = 0
    var modelErrors: Int64 = 0
    var timeouts: Int64 = 0
    var cancelled: Int64 = 0
    var inputTokens: Int64 = 0
    var outputTokens: Int64 = 0
    /// Requests whose output token count is known (the denominator of `tokens.output.per_request`).
    var outputRequests: Int64 = 0
    /// Sum of end-to-end latencies in seconds (`concurrency`, by Little's law).
    var e2eSeconds: Double = 0
    var ttft = QuantileSketch()
    var itl = QuantileSketch()
    var tpot = QuantileSketch()
    var e2e = QuantileSketch()
    var queue = QuantileSketch()

    var errors: Int64 { clientErrors + serverErrors + modelErrors + timeouts + cancelled }

    func errors(of kind: RecordStatus?) -> Int64 {
        switch kind {
        case nil: errors
        case .ok?: requests - errors
        case .clientError?: clientErrors
        case .serverError?: serverErrors
        case .modelError?: modelErrors
        case .timeout?: timeouts
        case .cancelled?: cancelled
        }
    }

    func sketch(_ metric: LatencyMetric) -> QuantileSketch {
        switch metric {
        case .ttft: ttft
        case .itl: itl
        case .tpot: tpot
        case .e2e: e2e
        case .queue: queue
        }
    }

    /// Adds one record: the single definition of how a record contributes to every record
    /// signal, shared by the rollup writer and the raw-record scan.
    mutating func add(_ r: InferenceRecord) {
        requests += 1
        switch r.status {
        case .ok: break
        case .clientError: clientErrors += 1
        case .serverError: serverErrors += 1
        case .modelError: modelErrors += 1
        case .timeout: timeouts += 1
        case .cancelled: cancelled += 1
        }
        if let t = r.inputTokens, t > 0 { inputTokens += Int64(t) }
        if let t = r.outputTokens, t >= 0 {
            outputTokens += Int64(t)
            outputRequests += 1
        }
        if let ms = r.ttftMs { ttft.add(ms / 1000) }
        if let ms = r.e2eMs {
            e2e.add(ms / 1000)
            if ms.isFinite, ms >= 0 { e2eSeconds += ms / 1000 }
        }
        if let ms = r.queueMs { queue.add(ms / 1000) }
        if let ms = r.tpotMs { tpot.add(ms / 1000) }
        if let gaps = r.itlMs, !gaps.isEmpty {
            for ms in gaps { itl.add(ms / 1000) }
        } else if let ms = r.itlMeanMs {
            // Only the summary is known: the mean stands for every gap (output_tokens - 1 of them).
            let gaps = (r.outputTokens ?? 0) > 1 ? UInt64(r.outputTokens! - 1) : 1
            itl.add(ms / 1000, times: gaps)
        }
    }

    mutating func merge(_ o: RollupValues) {
        requests += o.requests
        clientErrors += o.clientErrors
        serverErrors += o.serverErrors
        modelErrors += o.modelErrors
        timeouts += o.timeouts
        cancelled += o.cancelled
        inputTokens += o.inputTokens
        outputTokens += o.outputTokens
        outputRequests += o.outputRequests
        e2eSeconds += o.e2eSeconds
        Self.merge(&ttft, o.ttft)
        Self.merge(&itl, o.itl)
        Self.merge(&tpot, o.tpot)
        Self.merge(&e2e, o.e2e)
        Self.merge(&queue, o.queue)
    }

    @inline(__always) static func merge(_ into: inout QuantileSketch, _ other: QuantileSketch) {
        if other.isEmpty { return }
        if into.isEmpty { into = other } else { into.merge(other) }
    }
}
