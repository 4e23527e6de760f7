/// One label of a sample or exemplar: its name and its unescaped value, in the order the
/// exposition wrote them (exporters differ: Python sorts, Go and Rust put `le` last).
public struct MetricLabel: Sendable, Hashable {
    /// The label name (`model_name`, `le`).
    public var name: String
    /// The unescaped label value.
    public var value: String

    /// Creates a label.
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// An OpenMetrics exemplar: a reference (usually a trace id) attached to a counter total or a
/// histogram bucket.
public struct Exemplar: Sendable, Hashable {
    /// The exemplar's own labels (`trace_id`), possibly empty.
    public var labels: [MetricLabel]
    /// The observed value the exemplar stands for.
    public var value: Double
    /// When it was observed, in unix seconds, if the exposition said.
    public var timestamp: Double?

    /// Creates an exemplar.
    public init(labels: [MetricLabel], value: Double, timestamp: Double? = nil) {
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
    }
}

/// One sample line of a Prometheus text or OpenMetrics exposition.
///
/// Equality compares values bit-for-bit as `Double` does, so a sample whose value is NaN is not
/// equal to itself; compare fields when that matters.
public struct MetricSample: Sendable, Hashable {
    /// The sample's metric name as written (`vllm:e2e_request_latency_seconds_bucket`).
    public var name: String
    /// The labels in input order; names are unique.
    public var labels: [MetricLabel]
    /// The value; NaN and ±infinity are possible.
    public var value: Double
    /// The explicit timestamp in unix seconds (text format milliseconds are converted), if any.
    public var timestamp: Double?
    /// The OpenMetrics exemplar, if any.
    public var exemplar: Exemplar?

    /// Creates a sample.
    public init(name: String, labels: [MetricLabel] = [], value: Double, timestamp: Double? = nil,
                exemplar: Exemplar? = nil) {
        self.name = name
        self.labels = labels
        self.value = value
        self.timestamp = timestamp
        self.exemplar = exemplar
    }

    /// The value of the label with this name, or nil.
    public func label(_ name: String) -> String? {
        // Label sets are small (a handful), so a scan beats building a dictionary.
        for label in labels where label.name == name { return label.value }
        return nil
    }
}

/// The type of a metric family. Text format 0.0.4's `untyped` is reported as `unknown`, which
/// is what OpenMetrics calls the same thing.
public enum MetricType: String, Sendable, Hashable, CaseIterable {
    /// A monotonically increasing total.
    case counter
    /// A current value.
    case gauge
    /// Cumulative buckets plus optional sum and count.
    case histogram
    /// OpenMetrics: a histogram of current values (`_gcount`, `_gsum`).
    case gaugehistogram
    /// Quantiles plus optional sum and count.
    case summary
    /// OpenMetrics: textual information in labels, value 1 (`_info`).
    case info
    /// OpenMetrics: a set of boolean states.
    case stateset
    /// No type declared (`untyped` in text format 0.0.4).
    case unknown
}

/// The metadata of one metric family: its name and what `# TYPE`, `# HELP` and `# UNIT` said.
public struct MetricFamilyInfo: Sendable, Hashable {
    /// The family name (for an OpenMetrics counter `foo`, the samples are `foo_total`).
    public var name: String
    /// The declared type, `unknown` when none was declared.
    public var type: MetricType
    /// The unescaped help text; nil when absent or empty.
    public var help: String?
    /// The OpenMetrics unit; nil when absent or empty.
    public var unit: String?

    /// Creates family metadata.
    public init(name: String, type: MetricType, help: String? = nil, unit: String? = nil) {
        self.name = name
        self.type = type
        self.help = help
        self.unit = unit
    }
}

/// Everything one exposition held: the samples in input order and the families they belong to.
public struct PrometheusParseResult: Sendable, Hashable {
    /// The samples, in input order.
    public var samples: [MetricSample]
    /// The families, in order of first appearance (declared by metadata or implied by a sample).
    public var families: [MetricFamilyInfo]
    /// For each sample (same index), the index of its family in `families`.
    public var sampleFamilies: [Int]

    /// Creates a result.
    public init(samples: [MetricSample], families: [MetricFamilyInfo], sampleFamilies: [Int]) {
        self.samples = samples
        self.families = families
        self.sampleFamilies = sampleFamilies
    }

    /// The family of the sample at `index` in `samples`.
    public func family(ofSample index: Int) -> MetricFamilyInfo {
        families[sampleFamilies[index]]
    }
}

/// Why an exposition was rejected, and where: 1-based line and column (the column counts
/// Unicode code points from the start of the line).
public struct PrometheusParseError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The 1-based line.
    public var line: Int
    /// The 1-based column, in code points.
    public var column: Int
    /// What is wrong, in words.
    public var reason: String

    /// Creates an error.
    public init(line: Int, column: Int, reason: String) {
        self.line = line
        self.column = column
        self.reason = reason
    }

    /// `line:column: reason`, the form compilers use, so editors can jump to it.
    public var description: String { "\(line):\(column): \(reason)" }
}
