/// A question about one signal: per group, over a range (`step`) or at an instant (`window`).
public struct SignalQuery: Sendable, Hashable {
    /// When the answer is wanted.
    public enum Shape: Sendable, Hashable {
        /// Points every `step` microseconds from `from` (inclusive) to `to` (exclusive); each point
        /// covers [t, t + step).
        case range(from: Int64, to: Int64, step: Int64)
        /// One point per group, covering [at - window, at).
        case instant(at: Int64, window: Int64)
    }

    /// The signal's name (`ttft.p95`).
    public var signal: String
    /// Labels to group by (`model`, `variant`); empty for one series over everything.
    public var by: [String]
    /// Label equality filters, all of which must hold.
    public var matchers: [LabelMatcher]
    /// Range or instant.
    public var shape: Shape
    /// For series signals: how the series of one group combine (nil: the signal's default;
    /// `sum` for an exporter's own families). Record signals ignore it.
    public var aggregation: SeriesAggregation?

    /// Creates a query.
    public init(signal: String, by: [String] = [], matchers: [LabelMatcher] = [], shape: Shape,
                aggregation: SeriesAggregation? = nil) {
        self.signal = signal
        self.by = by
        self.matchers = matchers
        self.shape = shape
        self.aggregation = aggregation
    }
}

/// `name=value`: a label must equal a value (`match=model=llama-3-8b`).
public struct LabelMatcher: Sendable, Hashable {
    /// The label's name.
    public var name: String
    /// The value it must have ("" matches records without the label).
    public var value: String

    /// Creates a matcher.
    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// One group's points.
public struct SignalSeries: Sendable, Hashable {
    /// The group's labels (those of `by`).
    public var labels: [String: String]
    /// (unix microseconds, value) pairs; value nil where it does not exist (no data, NaN).
    public var points: [SignalPoint]

    /// Creates a series.
    public init(labels: [String: String], points: [SignalPoint]) {
        self.labels = labels
        self.points = points
    }
}

/// One point of a series.
public struct SignalPoint: Sendable, Hashable {
    /// Start of the interval the point covers, microseconds since the epoch.
    public var time: Int64
    /// The value; nil when it does not exist.
    public var value: Double?

    /// Creates a point.
    public init(time: Int64, value: Double?) {
        self.time = time
        self.value = value
    }
}

/// The answer to a `SignalQuery`.
public struct SignalResult: Sendable, Hashable {
    /// The signal asked for.
    public var signal: String
    /// Its unit.
    public var unit: SignalUnit
    /// One series per group, sorted by labels.
    public var series: [SignalSeries]
    /// Whether the answer scanned raw records (a filter or group on labels that rollups do not keep).
    public var scannedRawRecords: Bool

    /// Creates a result.
    public init(signal: String, unit: SignalUnit, series: [SignalSeries], scannedRawRecords: Bool = false) {
        self.signal = signal
        self.unit = unit
        self.series = series
        self.scannedRawRecords = scannedRawRecords
    }
}

/// A query that cannot be answered as asked: the API turns it into a 400.
public struct QueryError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Which parameter is wrong (`signal`, `by`, `match`, `from`, `step`, ...).
    public var parameter: String
    /// Why.
    public var message: String

    /// Creates an error.
    public init(parameter: String, message: String) {
        self.parameter = parameter
        self.message = message
    }

    /// `parameter: message`.
    public var description: String { "\(parameter): \(message)" }
}

/// The labels record signals can group and filter by.
public enum RecordLabels {
    /// Labels that rollups keep: grouping or filtering on these alone never scans raw records.
    public static let rollup = ["endpoint", "model", "component", "variant", "tenant"]
    /// Other record fields usable as labels; queries on them scan raw records within their retention.
    public static let raw = ["instance", "copy", "status", "source", "provider", "request_model", "finish_reason", "streaming"]
    /// Free labels are addressed as `labels.NAME` (raw scan).
    public static let freeLabelPrefix = "labels."

    /// Whether `name` is a label record signals know.
    public static func isKnown(_ name: String) -> Bool {
        rollup.contains(name) || raw.contains(name) || (name.hasPrefix(freeLabelPrefix) && name.count > freeLabelPrefix.count)
    }
}
