/// The part of a sample name after its family name, as OpenMetrics defines them per type.
enum SampleSuffix: UInt8 {
    case none, total, created, count, sum, bucket, gcount, gsum, info

    var text: String {
        switch self {
        case .none: ""
        case .total: "_total"
        case .created: "_created"
        case .count: "_count"
        case .sum: "_sum"
        case .bucket: "_bucket"
        case .gcount: "_gcount"
        case .gsum: "_gsum"
        case .info: "_info"
        }
    }

    /// The sample names a family of this type may produce (OpenMetrics 1.0, "Suffixes").
    static func allowed(for type: MetricType) -> [SampleSuffix] {
        switch type {
        case .counter: [.total, .created]
        case .gauge, .unknown, .stateset: [.none]
        case .histogram: [.bucket, .count, .sum, .created]
        case .gaugehistogram: [.bucket, .gcount, .gsum]
        case .summary: [.none, .count, .sum, .created]
        case .info: [.info]
        }
    }
}

/// Series identity within one metric: sample name plus sorted labels.
struct SeriesKey: Hashable {
    var name: String
    var labels: [MetricLabel]
}

/// The running checks of one histogram or gauge histogram MetricPoint.
struct HistogramPoint {
    var active = false
    var lastLe: Double?
    var lastBucketValue = 0.0
    var infValue: Double?
    var negativeBuckets = false
    var count: Double?
    var countLine = 0
    var sumLine = 0
    var gsumLine = 0
    var hasSum = false
    var hasGsum = false
    var negativeGsum = false
    var lastLine = 0
    var group = ""
}

/// OpenMetrics 1.0 structure and semantics, fed one metadata line or sample at a time.
///
/// Structure (always): metadata at most once per family and before its samples, families not
/// interleaved and their names not clashing, sample names matching the family type's suffixes,
/// `le`/`quantile`/state labels present where needed and absent elsewhere, metrics (label sets)
/// not interleaved, timestamps all-or-none within a metric and not going backwards, no
/// duplicate series, exemplars only on counter totals and buckets, unit a suffix of the name.
/// Values (`checkValues`): the numeric rules listed on `PrometheusTextParser.parse`.
struct OpenMetricsRules {
    let checkValues: Bool
    var families: [MetricFamilyInfo] = []
    var current = -1
    var typeSeen = false
    var helpSeen = false
    var unitSeen = false
    var hasSamples = false
    var familyLine = 0
    var seenFamilies: Set<String> = []
    /// Every sample name a closed family may produce, with its family (for clash messages).
    var reservedNames: [String: String] = [:]
    var lastName = ""
    var lastSuffix = SampleSuffix.none
    var lastValid = false
    var hasGroup = false
    var groupKey: [MetricLabel] = []
    var seenGroups: Set<[MetricLabel]> = []
    var groupTimestamp: Double?
    var series: [SeriesKey: Double?] = [:]
    var point = HistogramPoint()

    init(checkValues: Bool) {
        self.checkValues = checkValues
    }

    // MARK: metadata

    mutating func type(_ name: String, _ type: MetricType, line: Int, nameOffset: Int) throws(RuleViolation) {
        try enterFamily(name, line: line, offset: nameOffset, metadata: "TYPE")
        guard !typeSeen else { throw RuleViolation(reason: "second # TYPE line for metric family \(name)", offset: nameOffset) }
        typeSeen = true
        families[current].type = type
        if type == .info || type == .stateset, families[current].unit != nil {
            throw RuleViolation(reason: "\(type.rawValue) metric family \(name) must not have a unit", offset: nameOffset)
        }
    }

    mutating func help(_ name: String, _ text: String, line: Int, nameOffset: Int) throws(RuleViolation) {
        try enterFamily(name, line: line, offset: nameOffset, metadata: "HELP")
        guard !helpSeen else { throw RuleViolation(reason: "second # HELP line for metric family \(name)", offset: nameOffset) }
        helpSeen = true
        // An empty HELP counts as no HELP (specification, "MetricFamily metadata").
        families[current].help = text.isEmpty ? nil : text
    }

    mutating func unit(_ name: String, _ unit: String, line: Int, nameOffset: Int, unitOffset: Int) throws(RuleViolation) {
        try enterFamily(name, line: line, offset: nameOffset, metadata: "UNIT")
        guard !unitSeen else { throw RuleViolation(reason: "second # UNIT line for metric family \(name)", offset: nameOffset) }
        unitSeen = true
        guard !unit.isEmpty else { return }
        guard name.utf8.count > unit.utf8.count + 1, name.hasSuffix("_" + unit) else {
            throw RuleViolation(reason: "unit '\(unit)' is not a suffix of the metric family name \(name) (expected a name ending in _\(unit))",
                                offset: unitOffset)
        }
        let type = families[current].type
        if type == .info || type == .stateset {
            throw RuleViolation(reason: "\(type.rawValue) metric family \(name) must not have a unit", offset: unitOffset)
        }
        families[current].unit = unit
    }

    /// Makes `name` the current family: continues it, or closes the current one and opens it.
    mutating func enterFamily(_ name: String, line: Int, offset: Int, metadata: String?) throws(RuleViolation) {
        if current >= 0, families[current].name == name {
            if let metadata, hasSamples {
                throw RuleViolation(reason: "# \(metadata) line for metric family \(name) after its samples", offset: offset)
            }
            return
        }
        try closeFamily()
        if name.utf8.first == UInt8(ascii: "_") {
            throw RuleViolation(reason: "metric family names starting with '_' are reserved in OpenMetrics", offset: offset)
        }
        if seenFamilies.contains(name) {
            throw RuleViolation(reason: "metric family \(name) appears a second time (families must not be interleaved)", offset: offset)
        }
        seenFamilies.insert(name)
        families.append(MetricFamilyInfo(name: name, type: .unknown))
        current = families.count - 1
        typeSeen = false
        helpSeen = false
        unitSeen = false
        hasSamples = false
        familyLine = line
        lastValid = false
        hasGroup = false
        seenGroups.removeAll(keepingCapacity: true)
        series.removeAll(keepingCapacity: true)
    }

    mutating func closeFamily() throws(RuleViolation) {
        guard current >= 0 else { return }
        try finishPoint()
        let family = families[current]
        var suffixes = SampleSuffix.allowed(for: family.type)
        if !suffixes.contains(.none) { suffixes.append(.none) }
        for suffix in suffixes {
            let sampleName = family.name + suffix.text
            if let other = reservedNames[sampleName], other != family.name {
                throw RuleViolation(reason: "metric family \(family.name) clashes with family \(other): both may produce samples named \(sampleName)",
                                    line: familyLine)
            }
            reservedNames[sampleName] = family.name
        }
    }

    /// At `# EOF`.
    mutating func finish() throws(RuleViolation) {
        try closeFamily()
        current = -1
    }

    // MARK: samples

    /// Checks a sample and returns the index of its family.
    mutating func sample(_ sample: MetricSample, line: Int, spans: SampleSpans) throws(RuleViolation) -> Int {
        let suffix = try resolve(sample.name, line: line, offset: spans.name)
        hasSamples = true
        let family = families[current]
        let type = family.type

        // Labels that carry the point's structure.
        var special: String?
        var threshold = 0.0
        switch (type, suffix) {
        case (.histogram, .bucket), (.gaugehistogram, .bucket):
            special = "le"
            guard let le = sample.label("le") else {
                throw RuleViolation(reason: "histogram bucket \(sample.name) has no 'le' label", offset: spans.labels)
            }
            guard let value = Self.labelNumber(le), !value.isNaN else {
                throw RuleViolation(reason: "invalid le value \"\(le)\"", offset: spans.labels)
            }
            if checkValues, let canonical = PrometheusNumbers.canonicalRendering(of: value), canonical != le {
                throw RuleViolation(reason: "le value \"\(le)\" is not canonical (write \"\(canonical)\")", offset: spans.labels)
            }
            threshold = value
        case (.histogram, _), (.gaugehistogram, _):
            if sample.label("le") != nil {
                throw RuleViolation(reason: "only _bucket samples may have an 'le' label (\(sample.name))", offset: spans.labels)
            }
        case (.summary, .none):
            special = "quantile"
            guard let quantile = sample.label("quantile") else {
                throw RuleViolation(reason: "summary quantile sample \(sample.name) has no 'quantile' label", offset: spans.labels)
            }
            guard let value = Self.labelNumber(quantile), value >= 0, value <= 1 else {
                throw RuleViolation(reason: "invalid quantile \"\(quantile)\" (must be a number from 0 to 1)", offset: spans.labels)
            }
            if checkValues, let canonical = PrometheusNumbers.canonicalRendering(of: value), canonical != quantile {
                throw RuleViolation(reason: "quantile value \"\(quantile)\" is not canonical (write \"\(canonical)\")", offset: spans.labels)
            }
        case (.summary, _):
            if sample.label("quantile") != nil {
                throw RuleViolation(reason: "only quantile samples may have a 'quantile' label (\(sample.name))", offset: spans.labels)
            }
        case (.stateset, _):
            special = family.name
            guard sample.label(family.name) != nil else {
                throw RuleViolation(reason: "stateset sample has no label named after its family (\(family.name))", offset: spans.labels)
            }
        default:
            break
        }

        if sample.exemplar != nil {
            let allowed = (type == .counter && suffix == .total)
                || ((type == .histogram || type == .gaugehistogram) && suffix == .bucket)
            guard allowed else {
                throw RuleViolation(reason: "exemplars are only allowed on counter _total and histogram _bucket samples",
                                    offset: spans.exemplar)
            }
        }

        if checkValues { try checkValue(sample, type: type, suffix: suffix, spans: spans) }

        // Metrics (label sets minus the point's structural label) must not interleave.
        let sorted = sample.labels.count < 2 ? sample.labels : sample.labels.sorted { $0.name < $1.name }
        let group = type == .info ? [] : (special == nil ? sorted : sorted.filter { $0.name != special })
        if !hasGroup || group != groupKey {
            if hasGroup, seenGroups.contains(group) {
                throw RuleViolation(reason: "metric \(family.name)\(Self.render(group)) appears again after other metrics of its family (metrics must not be interleaved)",
                                    offset: spans.labels)
            }
            try finishPoint()
            seenGroups.insert(group)
            groupKey = group
            hasGroup = true
            groupTimestamp = sample.timestamp
            series.removeAll(keepingCapacity: true)
        } else {
            if (sample.timestamp == nil) != (groupTimestamp == nil) {
                throw RuleViolation(reason: "samples of one metric must all have timestamps or none",
                                    offset: sample.timestamp == nil ? spans.value : spans.timestamp)
            }
            if let t = sample.timestamp, let previous = groupTimestamp, t != previous {
                if t < previous {
                    throw RuleViolation(reason: "timestamp goes backwards within metric \(family.name)\(Self.render(group))",
                                        offset: spans.timestamp)
                }
                // A new MetricPoint of the same metric.
                try finishPoint()
            }
            groupTimestamp = sample.timestamp
        }
        let key = SeriesKey(name: sample.name, labels: sorted)
        if let previous = series.updateValue(sample.timestamp, forKey: key) {
            if previous == nil || sample.timestamp == nil || previous! >= sample.timestamp! {
                throw RuleViolation(reason: "duplicate sample for series \(sample.name)\(Self.render(sorted))", offset: spans.name)
            }
        }

        if checkValues, type == .histogram || type == .gaugehistogram {
            try trackPoint(sample, suffix: suffix, threshold: threshold, line: line, group: group, spans: spans)
        }
        return current
    }

    /// Finds the sample's family (opening an unknown one when the current family does not
    /// claim the name) and returns the suffix.
    mutating func resolve(_ name: String, line: Int, offset: Int) throws(RuleViolation) -> SampleSuffix {
        if current >= 0 {
            if lastValid, name == lastName { return lastSuffix }
            let family = families[current]
            for suffix in SampleSuffix.allowed(for: family.type) where Self.isName(name, family.name, suffix.text) {
                lastName = name
                lastSuffix = suffix
                lastValid = true
                return suffix
            }
            if name == family.name {
                let expected = SampleSuffix.allowed(for: family.type).map { name + $0.text }.joined(separator: ", ")
                throw RuleViolation(reason: "sample name \(name) is not valid for \(family.type.rawValue) family \(name) (expected \(expected))",
                                    offset: offset)
            }
        }
        if let owner = reservedNames[name] {
            throw RuleViolation(reason: "sample \(name) belongs to metric family \(owner), which ended earlier (families must not be interleaved)",
                                offset: offset)
        }
        try enterFamily(name, line: line, offset: offset, metadata: nil)
        lastName = name
        lastSuffix = .none
        lastValid = true
        return .none
    }

    /// The numeric rules of the specification for one sample value.
    func checkValue(_ sample: MetricSample, type: MetricType, suffix: SampleSuffix, spans: SampleSpans) throws(RuleViolation) {
        let value = sample.value
        func fail(_ reason: String) -> RuleViolation {
            RuleViolation(reason: reason, offset: spans.value)
        }
        switch suffix {
        case .total, .bucket, .count, .gcount, .sum:
            if suffix == .sum, type != .histogram, type != .summary { break }
            let what = suffix == .total ? "counter total" : "\(type.rawValue) \(suffix.text)"
            if value.isNaN { throw fail("\(what) must not be NaN") }
            if value < 0 { throw fail("\(what) must not be negative") }
            if suffix != .total, suffix != .sum, !(value.isFinite && value.rounded(.towardZero) == value) {
                throw fail("\(what) must be an integer")
            }
        case .gsum:
            if value.isNaN { throw fail("gaugehistogram _gsum must not be NaN") }
        case .info:
            if value != 1 { throw fail("info samples must have the value 1") }
        case .none:
            if type == .stateset, value != 0, value != 1 { throw fail("stateset samples must have the value 0 or 1") }
            if type == .summary, value < 0 { throw fail("summary quantile values must not be negative") }
        case .created:
            break
        }
    }

    /// Histogram MetricPoint bookkeeping: bucket order, cumulative counts, exemplar ranges.
    mutating func trackPoint(_ sample: MetricSample, suffix: SampleSuffix, threshold: Double, line: Int,
                             group: [MetricLabel], spans: SampleSpans) throws(RuleViolation) {
        if !point.active {
            point = HistogramPoint()
            point.active = true
            point.group = families[current].name + Self.render(group)
        }
        point.lastLine = line
        switch suffix {
        case .bucket:
            if let last = point.lastLe, threshold <= last {
                throw RuleViolation(reason: "bucket le=\(Self.format(threshold)) is not above the previous le=\(Self.format(last)) (buckets must be sorted by increasing le)",
                                    offset: spans.labels)
            }
            if sample.value < point.lastBucketValue {
                throw RuleViolation(reason: "bucket count \(Self.format(sample.value)) is below the previous bucket's \(Self.format(point.lastBucketValue)) (buckets are cumulative)",
                                    offset: spans.value)
            }
            if let exemplar = sample.exemplar {
                let above = point.lastLe.map { exemplar.value > $0 } ?? true
                guard exemplar.value <= threshold, above else {
                    throw RuleViolation(reason: "exemplar value \(Self.format(exemplar.value)) is outside its bucket (\(point.lastLe.map(Self.format) ?? "-Inf"), \(Self.format(threshold))]",
                                        offset: spans.exemplar)
                }
            }
            if threshold < 0 { point.negativeBuckets = true }
            if threshold == .infinity { point.infValue = sample.value }
            point.lastLe = threshold
            point.lastBucketValue = sample.value
        case .count, .gcount:
            point.count = sample.value
            point.countLine = line
        case .sum:
            point.hasSum = true
            point.sumLine = line
        case .gsum:
            point.hasGsum = true
            point.gsumLine = line
            if sample.value < 0 { point.negativeGsum = true }
        default:
            break
        }
    }

    /// The checks that need the whole MetricPoint; run when the point ends.
    mutating func finishPoint() throws(RuleViolation) {
        guard point.active else { return }
        let p = point
        point = HistogramPoint()
        let gauge = families[current].type == .gaugehistogram
        let countName = gauge ? "_gcount" : "_count", sumName = gauge ? "_gsum" : "_sum"
        guard let inf = p.infValue else {
            throw RuleViolation(reason: "\(p.group) has no bucket with le=\"+Inf\"", line: p.lastLine)
        }
        if let count = p.count, count != inf {
            throw RuleViolation(reason: "\(p.group): \(countName) \(Self.format(count)) differs from the +Inf bucket \(Self.format(inf))",
                                line: p.countLine)
        }
        let hasSum = gauge ? p.hasGsum : p.hasSum
        let sumLine = gauge ? p.gsumLine : p.sumLine
        if hasSum, p.count == nil {
            throw RuleViolation(reason: "\(p.group) has \(sumName) but no \(countName)", line: sumLine)
        }
        if !hasSum, p.count != nil {
            throw RuleViolation(reason: "\(p.group) has \(countName) but no \(sumName)", line: p.countLine)
        }
        if !gauge, p.negativeBuckets, p.hasSum {
            throw RuleViolation(reason: "\(p.group) has negative bucket thresholds, so it must not have a _sum", line: p.sumLine)
        }
        if gauge, !p.negativeBuckets, p.negativeGsum {
            throw RuleViolation(reason: "\(p.group): _gsum must not be negative when no bucket threshold is negative", line: p.gsumLine)
        }
    }

    // MARK: helpers

    /// Whether `name` is exactly `base + suffix`, comparing UTF-8 (names are ASCII).
    static func isName(_ name: String, _ base: String, _ suffix: String) -> Bool {
        let n = name.utf8, b = base.utf8, s = suffix.utf8
        guard n.count == b.count + s.count, n.starts(with: b) else { return false }
        return n.dropFirst(b.count).elementsEqual(s)
    }

    static func labelNumber(_ text: String) -> Double? {
        var text = text
        return text.withUTF8 { buffer in
            if case .success(let value) = PrometheusNumbers.parseFloat(buffer, 0, buffer.count) { return value }
            return nil
        }
    }

    static func render(_ labels: [MetricLabel]) -> String {
        guard !labels.isEmpty else { return "" }
        return "{" + labels.map { "\($0.name)=\"\($0.value)\"" }.joined(separator: ",") + "}"
    }

    static func format(_ value: Double) -> String {
        value == .infinity ? "+Inf" : value == -.infinity ? "-Inf" : "\(value)"
    }
}
