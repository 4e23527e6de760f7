/// The unit of a signal's values. Every signal has exactly one.
public struct SignalUnit: RawRepresentable, Sendable, Hashable, Codable {
    /// The unit's name as the API reports it.
    public var rawValue: String
    /// Creates a unit from its API name.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Durations.
    public static let seconds = SignalUnit(rawValue: "seconds")
    /// Fractions 0-1 (the dashboard shows percent).
    public static let ratio = SignalUnit(rawValue: "ratio")
    /// Events per second.
    public static let perSecond = SignalUnit(rawValue: "per_second")
    /// Plain counts.
    public static let count = SignalUnit(rawValue: "count")
    /// Tokens (per request).
    public static let tokens = SignalUnit(rawValue: "tokens")
    /// Memory.
    public static let bytes = SignalUnit(rawValue: "bytes")
    /// Money per hour.
    public static let dollarsPerHour = SignalUnit(rawValue: "usd_per_hour")
    /// Money.
    public static let dollars = SignalUnit(rawValue: "usd")
}

/// A named series computed per group over time, with its unit and meaning.
public struct SignalDefinition: Sendable, Hashable {
    /// The signal's name, as used in `?signal=`.
    public var name: String
    /// The unit of its values.
    public var unit: SignalUnit
    /// What it measures, for people.
    public var description: String

    /// Creates a definition.
    public init(name: String, unit: SignalUnit, description: String) {
        self.name = name
        self.unit = unit
        self.description = description
    }
}

/// The latency distributions that record signals summarise, with their record field.
public enum LatencyMetric: String, Sendable, Hashable, CaseIterable {
    /// Time to first token.
    case ttft
    /// Inter-token latency (each gap between generated tokens).
    case itl
    /// Time per output token, derived per request.
    case tpot
    /// End-to-end latency.
    case e2e
    /// Queue time.
    case queue

    /// Words for the signal descriptions.
    public var title: String {
        switch self {
        case .ttft: "time to first token"
        case .itl: "inter-token latency (each gap between tokens)"
        case .tpot: "time per output token, (e2e - ttft) / (output_tokens - 1)"
        case .e2e: "end-to-end request latency"
        case .queue: "time spent queued in the model server"
        }
    }
}

/// The statistics a latency signal can ask for.
public enum LatencyStatistic: Sendable, Hashable {
    /// A quantile 0-1.
    case quantile(Double)
    /// The arithmetic mean.
    case mean

    /// The suffixes record signals accept: `p50`, `p90`, `p95`, `p99`, `mean`.
    public static let named: [(String, LatencyStatistic)] = [
        ("p50", .quantile(0.50)), ("p90", .quantile(0.90)), ("p95", .quantile(0.95)),
        ("p99", .quantile(0.99)), ("mean", .mean),
    ]
}

/// What a record signal computes, independent of how the store holds the data.
public enum RecordSignal: Sendable, Hashable {
    /// Requests per second.
    case requestsRate
    /// Requests in the step.
    case requestsCount
    /// Errors / requests; `kind` nil for all errors.
    case errorsRatio(kind: RecordStatus?)
    /// A latency statistic, in seconds.
    case latency(LatencyMetric, LatencyStatistic)
    /// Input tokens per second.
    case inputTokensRate
    /// Output tokens per second.
    case outputTokensRate
    /// Mean output tokens per request.
    case outputTokensPerRequest
    /// Mean requests in flight over the step (sum of e2e time / step length: Little's law).
    case concurrency
    /// Cost of the GPUs the group reserves, per hour.
    case costHourly
    /// Cost over the step per 1M tokens (input + output).
    case costPer1MTokens
    /// Cost over the step per 1M output tokens.
    case costPer1MOutputTokens
}

/// Every record signal Bifocal computes, by name.
public enum SignalCatalog {
    /// All record signals with their definitions, in a stable order.
    public static let recordSignals: [(SignalDefinition, RecordSignal)] = {
        var list: [(SignalDefinition, RecordSignal)] = [
            (.init(name: "requests.rate", unit: .perSecond, description: "Requests per second."), .requestsRate),
            (.init(name: "requests.count", unit: .count, description: "Requests in each step."), .requestsCount),
            (.init(name: "errors.ratio", unit: .ratio, description: "Share of requests that did not end ok (any error kind)."), .errorsRatio(kind: nil)),
        ]
        for status in RecordStatus.allCases where status.isError {
            list.append((.init(name: "errors.\(status.rawValue).ratio", unit: .ratio,
                               description: "Share of requests that ended with status \(status.rawValue)."),
                         .errorsRatio(kind: status)))
        }
        for metric in LatencyMetric.allCases {
            for (suffix, statistic) in LatencyStatistic.named {
                let what: String
                switch statistic {
                case .quantile(let q): what = "\(Int((q * 100).rounded()))th percentile of \(metric.title)"
                case .mean: what = "Mean \(metric.title)"
                }
                list.append((.init(name: "\(metric.rawValue).\(suffix)", unit: .seconds, description: what.prefix(1).uppercased() + what.dropFirst() + "."),
                             .latency(metric, statistic)))
            }
        }
        list += [
            (.init(name: "tokens.input.rate", unit: .perSecond, description: "Input (prompt) tokens per second."), .inputTokensRate),
            (.init(name: "tokens.output.rate", unit: .perSecond, description: "Output (generated) tokens per second."), .outputTokensRate),
            (.init(name: "tokens.output.per_request", unit: .tokens, description: "Mean output tokens per request."), .outputTokensPerRequest),
            (.init(name: "concurrency", unit: .count, description: "Mean requests in flight over the step (sum of end-to-end time / step length)."), .concurrency),
            (.init(name: "cost.hourly", unit: .dollarsPerHour, description: "Hourly cost of the GPUs the group reserves (GPUs x price per GPU of its endpoint)."), .costHourly),
            (.init(name: "cost.per_1m_tokens", unit: .dollars, description: "Cost over the step per million tokens served (input + output)."), .costPer1MTokens),
            (.init(name: "cost.per_1m_output_tokens", unit: .dollars, description: "Cost over the step per million output tokens."), .costPer1MOutputTokens),
        ]
        return list
    }()

    private static let byName: [String: (SignalDefinition, RecordSignal)] = {
        var map: [String: (SignalDefinition, RecordSignal)] = [:]
        for entry in recordSignals { map[entry.0.name] = entry }
        return map
    }()

    /// Looks up a record signal by name.
    public static func recordSignal(named name: String) -> (SignalDefinition, RecordSignal)? {
        byName[name]
    }
}
