/// Parses the Prometheus text exposition format 0.0.4 and OpenMetrics 1.0 text.
///
/// Pure and allocation-light: it works on the bytes as given, splits lines with `memchr`-speed
/// scans and builds strings only for names, label values and help text. It never traps on any
/// input; everything it cannot accept becomes a `PrometheusParseError` with line and column.
public enum PrometheusTextParser {
    /// Parses an exposition held in raw memory.
    ///
    /// - Parameters:
    ///   - openMetrics: parse as OpenMetrics 1.0 (`application/openmetrics-text`): seconds
    ///     timestamps, exemplars, `# UNIT`, `# EOF`, and every rule of the specification;
    ///     otherwise as text format 0.0.4 (`text/plain; version=0.0.4`).
    ///   - checkValues: OpenMetrics only. When false, the rules about sample *values* are
    ///     skipped (counter and bucket values non-negative and integral, histogram buckets
    ///     cumulative with a matching `_count`, `_sum` absent with negative buckets, quantile
    ///     values non-negative, info value 1, stateset 0/1, canonical `le`/`quantile` spelling,
    ///     exemplar within its bucket), keeping syntax and structure. Real Go clients write
    ///     histograms with negative buckets and a `_sum`, which the specification forbids; a
    ///     scraper may prefer to keep such data.
    public static func parse(_ bytes: UnsafeRawBufferPointer, openMetrics: Bool,
                             checkValues: Bool = true) throws(PrometheusParseError) -> PrometheusParseResult {
        let buffer = bytes.assumingMemoryBound(to: UInt8.self)
        var scanner = PrometheusScanner(bytes: buffer, openMetrics: openMetrics, checkValues: checkValues)
        return try scanner.run()
    }

    /// Parses an exposition from any byte collection (`[UInt8]`, `Data`, a slice).
    public static func parse(_ bytes: some Collection<UInt8>, openMetrics: Bool,
                             checkValues: Bool = true) throws(PrometheusParseError) -> PrometheusParseResult {
        let contiguous = bytes.withContiguousStorageIfAvailable { buffer in
            Result { () throws(PrometheusParseError) in
                try parse(UnsafeRawBufferPointer(buffer), openMetrics: openMetrics, checkValues: checkValues)
            }
        }
        if let contiguous { return try contiguous.get() }
        let copy = Array(bytes)
        let result = copy.withUnsafeBytes { raw in
            Result { () throws(PrometheusParseError) in
                try parse(raw, openMetrics: openMetrics, checkValues: checkValues)
            }
        }
        return try result.get()
    }

    /// Parses an exposition held in a string.
    public static func parse(_ text: String, openMetrics: Bool,
                             checkValues: Bool = true) throws(PrometheusParseError) -> PrometheusParseResult {
        var text = text
        let result = text.withUTF8 { buffer in
            Result { () throws(PrometheusParseError) in
                try parse(UnsafeRawBufferPointer(buffer), openMetrics: openMetrics, checkValues: checkValues)
            }
        }
        return try result.get()
    }
}

/// A rule broken by an otherwise well-formed line. The location defaults to the current line;
/// rules that are only decidable later (a histogram's `+Inf` bucket) name an earlier line.
struct RuleViolation: Error {
    var reason: String
    var offset: Int?
    var line: Int?
}

/// Byte offsets of the parts of one sample line, so rule violations can point at the culprit.
struct SampleSpans {
    var name = 0
    var labels = 0
    var value = 0
    var timestamp = 0
    var exemplar = 0
}

/// Character classes, by table: one load per byte instead of a chain of comparisons.
enum PrometheusBytes {
    static let nameStart: UInt8 = 1, nameChar: UInt8 = 2, labelStart: UInt8 = 4, labelChar: UInt8 = 8
    static let classes: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 256)
        for c in UInt8(ascii: "a")...UInt8(ascii: "z") { table[Int(c)] = 15 }
        for c in UInt8(ascii: "A")...UInt8(ascii: "Z") { table[Int(c)] = 15 }
        table[Int(UInt8(ascii: "_"))] = 15
        table[Int(UInt8(ascii: ":"))] = nameStart | nameChar
        for c in UInt8(ascii: "0")...UInt8(ascii: "9") { table[Int(c)] = nameChar | labelChar }
        return table
    }()

    /// A byte for an error message: printable ASCII quoted, anything else in hex.
    static func describe(_ byte: UInt8) -> String {
        if byte >= 0x21 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        switch byte {
        case 0x20: return "space"
        case 0x09: return "tab"
        case 0x0D: return "carriage return"
        default: return "byte 0x" + String(byte, radix: 16, uppercase: true)
        }
    }
}

/// The line-by-line scanner; owns the position and hands well-formed pieces to the rule books.
struct PrometheusScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    let openMetrics: Bool
    let checkValues: Bool
    var lineNumber = 0
    var lineStart = 0
    var lineEnd = 0
    /// Reused buffer for unescaping.
    var scratch: [UInt8] = []
    /// The previous sample's name, reused when the next line repeats it (histograms, labels
    /// fanning out), so long names are not allocated again per line.
    var cachedNameStart = -1
    var cachedNameCount = 0
    var cachedName = ""
    /// The previous sample's labels and where their bytes were, for `labelSet(reuse:)`.
    var previousRanges: [LabelRange] = []
    var currentRanges: [LabelRange] = []
    var previousLabels: [MetricLabel] = []
    var samples: [MetricSample] = []
    var sampleFamilies: [Int] = []
    var classic = ClassicFamilies()
    var rules: OpenMetricsRules

    init(bytes: UnsafeBufferPointer<UInt8>, openMetrics: Bool, checkValues: Bool) {
        self.bytes = bytes
        self.openMetrics = openMetrics
        self.checkValues = checkValues
        rules = OpenMetricsRules(checkValues: checkValues)
        // A rough guess (about 60 bytes a line) that avoids most regrowth.
        samples.reserveCapacity(bytes.count / 64)
        sampleFamilies.reserveCapacity(bytes.count / 64)
    }

    // MARK: errors

    /// The 1-based column of `offset` on the current line, in code points.
    func column(of offset: Int) -> Int {
        var column = 1
        var i = lineStart
        let stop = min(offset, bytes.count)
        while i < stop {
            if bytes[i] & 0xC0 != 0x80 { column += 1 }
            i += 1
        }
        return column
    }

    func fail(_ offset: Int, _ reason: String) -> PrometheusParseError {
        PrometheusParseError(line: lineNumber, column: column(of: offset), reason: reason)
    }

    func fail(_ violation: RuleViolation) -> PrometheusParseError {
        if let line = violation.line, line != lineNumber {
            return PrometheusParseError(line: line, column: 1, reason: violation.reason)
        }
        return fail(violation.offset ?? lineStart, violation.reason)
    }

    /// Up to 40 bytes of the input for an error message.
    func excerpt(_ start: Int, _ end: Int) -> String {
        let stop = min(end, start + 40, bytes.count)
        guard start < stop else { return "" }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<stop]), as: UTF8.self)
            + (stop < end ? "…" : "")
    }

    // MARK: driver

    mutating func run() throws(PrometheusParseError) -> PrometheusParseResult {
        let n = bytes.count
        var pos = 0
        var sawEOF = false
        if openMetrics, n >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
            lineNumber = 1
            throw fail(0, "byte order mark not allowed in OpenMetrics")
        }
        while pos < n {
            lineNumber += 1
            lineStart = pos
            lineEnd = findNewline(from: pos)
            if sawEOF {
                throw fail(pos, "content after # EOF")
            }
            if openMetrics {
                sawEOF = try openMetricsLine()
            } else {
                try classicLine()
            }
            pos = lineEnd + 1
        }
        if openMetrics {
            if !sawEOF {
                // Point just past the last byte: the start of the line that should have been there.
                if n > 0, bytes[n - 1] == UInt8(ascii: "\n") {
                    lineNumber += 1
                    lineStart = n
                } else if n == 0 {
                    lineNumber = 1
                }
                throw fail(n, "missing # EOF at end of exposition")
            }
        }
        let families: [MetricFamilyInfo]
        if openMetrics {
            families = rules.families
        } else {
            families = classic.families
        }
        return PrometheusParseResult(samples: samples, families: families, sampleFamilies: sampleFamilies)
    }

    func findNewline(from start: Int) -> Int {
        var i = start
        let n = bytes.count
        // Word-at-a-time would be faster still; byte scanning already runs at several GB/s.
        while i < n && bytes[i] != UInt8(ascii: "\n") { i += 1 }
        return i
    }

    @inline(__always) func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    func skipBlanks(_ i: Int, _ end: Int) -> Int {
        var i = i
        while i < end && isBlank(bytes[i]) { i += 1 }
        return i
    }

    // MARK: text format 0.0.4

    mutating func classicLine() throws(PrometheusParseError) {
        var end = lineEnd
        // Tolerate CRLF line ends: Windows exporters write them, and the byte carries nothing.
        if end > lineStart, bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        let start = skipBlanks(lineStart, end)
        guard start < end else { return }
        if bytes[start] == UInt8(ascii: "#") {
            try classicComment(start + 1, end)
            return
        }
        var spans = SampleSpans()
        let sample = try sampleLine(start, end, &spans)
        let family: Int
        do { family = try classic.sample(sample.name) } catch { throw fail(spans.name, error.reason) }
        samples.append(sample)
        sampleFamilies.append(family)
    }

    mutating func classicComment(_ from: Int, _ end: Int) throws(PrometheusParseError) {
        var i = skipBlanks(from, end)
        let keywordStart = i
        while i < end && !isBlank(bytes[i]) { i += 1 }
        // Anything but `HELP`/`TYPE` (upper case, as Prometheus reads them) is a plain comment.
        let isHelp = equals(keywordStart, i, "HELP")
        guard isHelp || equals(keywordStart, i, "TYPE") else { return }
        let keyword = isHelp ? "HELP" : "TYPE"
        i = skipBlanks(i, end)
        guard i < end else { throw fail(i, "expected metric name after # \(keyword)") }
        let nameStart = i
        let name = try metricName(&i, end)
        guard i == end || isBlank(bytes[i]) else {
            throw fail(i, "unexpected \(PrometheusBytes.describe(bytes[i])) in metric name")
        }
        i = skipBlanks(i, end)
        if isHelp {
            let help = try helpText(i, end)
            do { try classic.help(name, help.isEmpty ? nil : help) } catch { throw fail(nameStart, error.reason) }
            return
        }
        let typeStart = i
        while i < end && !isBlank(bytes[i]) { i += 1 }
        guard typeStart < i else { throw fail(typeStart, "expected metric type after # TYPE \(name)") }
        let type: MetricType
        switch excerpt(typeStart, i) {
        case "counter": type = .counter
        case "gauge": type = .gauge
        case "histogram": type = .histogram
        case "summary": type = .summary
        case "untyped": type = .unknown
        default:
            throw fail(typeStart, "unknown metric type '\(excerpt(typeStart, i))' (expected counter, gauge, histogram, summary or untyped)")
        }
        let after = skipBlanks(i, end)
        guard after == end else { throw fail(after, "unexpected text after metric type") }
        do { try classic.type(name, type) } catch { throw fail(nameStart, error.reason) }
    }

    /// Whether `bytes[start..<end]` is exactly `word` (case-sensitive).
    func equals(_ start: Int, _ end: Int, _ word: StaticString) -> Bool {
        guard end - start == word.utf8CodeUnitCount, let base = bytes.baseAddress else { return false }
        return memcmpBytes(base + start, word.utf8Start, end - start)
    }

    // MARK: OpenMetrics

    /// Returns true for the `# EOF` line.
    mutating func openMetricsLine() throws(PrometheusParseError) -> Bool {
        let start = lineStart, end = lineEnd
        guard start < end else { throw fail(start, "blank lines are not allowed in OpenMetrics") }
        // A carriage return anywhere is an error; finding it here gives the best column.
        if bytes[end - 1] == UInt8(ascii: "\r") { throw fail(end - 1, "carriage return not allowed in OpenMetrics (lines end with \\n)") }
        if bytes[start] == UInt8(ascii: "#") {
            if equals(start, end, "# EOF") {
                do { try rules.finish() } catch { throw fail(error) }
                return true
            }
            try openMetricsMetadata(start, end)
            return false
        }
        var spans = SampleSpans()
        let sample = try sampleLine(start, end, &spans)
        let family: Int
        do { family = try rules.sample(sample, line: lineNumber, spans: spans) } catch { throw fail(error) }
        samples.append(sample)
        sampleFamilies.append(family)
        return false
    }

    mutating func openMetricsMetadata(_ start: Int, _ end: Int) throws(PrometheusParseError) {
        // `# TYPE name type`, `# HELP name text`, `# UNIT name unit`: single spaces, nothing else.
        guard end - start >= 7, bytes[start + 1] == UInt8(ascii: " "), bytes[start + 6] == UInt8(ascii: " ") else {
            throw fail(start, "unexpected comment: OpenMetrics allows only # TYPE, # HELP, # UNIT and # EOF lines starting with '#'")
        }
        let keyword = excerpt(start + 2, start + 6)
        guard keyword == "TYPE" || keyword == "HELP" || keyword == "UNIT" else {
            throw fail(start, "unexpected comment: OpenMetrics allows only # TYPE, # HELP, # UNIT and # EOF lines starting with '#'")
        }
        var i = start + 7
        let nameStart = i
        let name = try metricName(&i, end)
        guard i < end, bytes[i] == UInt8(ascii: " ") else {
            if i < end { throw fail(i, "unexpected \(PrometheusBytes.describe(bytes[i])) in metric name") }
            throw fail(i, "expected a space and the \(keyword == "TYPE" ? "type" : keyword == "HELP" ? "help text" : "unit") after the metric name")
        }
        i += 1
        let line = lineNumber
        switch keyword {
        case "TYPE":
            let type: MetricType
            switch excerpt(i, end) {
            case "counter": type = .counter
            case "gauge": type = .gauge
            case "histogram": type = .histogram
            case "gaugehistogram": type = .gaugehistogram
            case "summary": type = .summary
            case "info": type = .info
            case "stateset": type = .stateset
            case "unknown": type = .unknown
            default:
                throw fail(i, "unknown metric type '\(excerpt(i, end))' (expected counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown)")
            }
            do { try rules.type(name, type, line: line, nameOffset: nameStart) } catch { throw fail(error) }
        case "HELP":
            let help = try helpText(i, end)
            do { try rules.help(name, help, line: line, nameOffset: nameStart) } catch { throw fail(error) }
        default:
            var j = i
            while j < end, PrometheusBytes.classes[Int(bytes[j])] & PrometheusBytes.nameChar != 0 { j += 1 }
            guard j == end else { throw fail(j, "unexpected \(PrometheusBytes.describe(bytes[j])) in unit") }
            let unit = String(decoding: UnsafeBufferPointer(rebasing: bytes[i..<end]), as: UTF8.self)
            do { try rules.unit(name, unit, line: line, nameOffset: nameStart, unitOffset: i) } catch { throw fail(error) }
        }
    }

    // MARK: shared pieces

    /// Reads a metric name at `i`, advancing past it.
    mutating func metricName(_ i: inout Int, _ end: Int) throws(PrometheusParseError) -> String {
        let start = i
        guard i < end, PrometheusBytes.classes[Int(bytes[i])] & PrometheusBytes.nameStart != 0 else {
            if i < end { throw fail(i, "expected metric name, found \(PrometheusBytes.describe(bytes[i]))") }
            throw fail(i, "expected metric name")
        }
        i += 1
        while i < end, PrometheusBytes.classes[Int(bytes[i])] & PrometheusBytes.nameChar != 0 { i += 1 }
        let count = i - start
        if count == cachedNameCount, cachedNameStart >= 0,
           memoryEqual(cachedNameStart, start, count) {
            cachedNameStart = start
            return cachedName
        }
        let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        cachedNameStart = start
        cachedNameCount = count
        cachedName = name
        return name
    }

    /// Whether two labels are written with identical bytes (so they decode identically).
    func sameBytes(_ a: LabelRange, _ b: LabelRange) -> Bool {
        a.nameCount == b.nameCount && a.valueCount == b.valueCount
            && memoryEqual(a.nameStart, b.nameStart, a.nameCount)
            && memoryEqual(a.valueStart, b.valueStart, a.valueCount)
    }

    func memoryEqual(_ a: Int, _ b: Int, _ count: Int) -> Bool {
        guard let base = bytes.baseAddress else { return count == 0 }
        return memcmpBytes(base + a, base + b, count)
    }

    /// Unescapes help text: `\\` and `\n` in both formats, `\"` in OpenMetrics; other escapes
    /// are kept as written (Prometheus does the same; OpenMetrics' ABNF allows them).
    mutating func helpText(_ start: Int, _ end: Int) throws(PrometheusParseError) -> String {
        var ascii = true
        var escaped = false
        var i = start
        while i < end {
            let c = bytes[i]
            if c == UInt8(ascii: "\\") {
                // The escaped byte is skipped; `escaped` sends the text through validation anyway.
                escaped = true
                i += 2
                continue
            }
            if openMetrics, c == UInt8(ascii: "\"") {
                // ABNF `escaped-string` excludes a bare double quote.
                throw fail(i, "unescaped '\"' in help text (write \\\")")
            }
            if c >= 0x80 { ascii = false }
            i += 1
        }
        return try makeString(start, end, ascii: ascii, escaped: escaped, inHelp: true)
    }

    /// Builds a string from `bytes[start..<end]`, unescaping and validating UTF-8.
    mutating func makeString(_ start: Int, _ end: Int, ascii: Bool, escaped: Bool,
                             inHelp: Bool) throws(PrometheusParseError) -> String {
        if !escaped {
            let slice = UnsafeBufferPointer(rebasing: bytes[start..<end])
            if ascii { return String(decoding: slice, as: UTF8.self) }
            guard let text = String(validating: slice, as: UTF8.self) else {
                throw fail(firstInvalidUTF8(start, end), "invalid UTF-8")
            }
            return text
        }
        scratch.removeAll(keepingCapacity: true)
        var i = start
        while i < end {
            let c = bytes[i]
            if c == UInt8(ascii: "\\"), i + 1 < end {
                let next = bytes[i + 1]
                switch next {
                case UInt8(ascii: "\\"): scratch.append(UInt8(ascii: "\\"))
                case UInt8(ascii: "n"): scratch.append(UInt8(ascii: "\n"))
                case UInt8(ascii: "\"") where openMetrics || !inHelp: scratch.append(UInt8(ascii: "\""))
                default:
                    if !openMetrics && !inHelp {
                        // Text format label values know exactly three escapes (promtool agrees).
                        throw fail(i, "invalid escape sequence '\\\(Character(Unicode.Scalar(next < 0x80 ? next : UInt8(ascii: "?"))))' in label value (only \\\\, \\\" and \\n)")
                    }
                    scratch.append(c)
                    scratch.append(next)
                }
                i += 2
            } else {
                scratch.append(c)
                i += 1
            }
        }
        guard let text = scratch.withUnsafeBufferPointer({ String(validating: $0, as: UTF8.self) }) else {
            throw fail(firstInvalidUTF8(start, end), "invalid UTF-8")
        }
        return text
    }

    /// The offset of the first byte that breaks UTF-8 in `bytes[start..<end]` (for messages).
    func firstInvalidUTF8(_ start: Int, _ end: Int) -> Int {
        var i = start
        while i < end {
            let c = bytes[i]
            let length: Int
            if c < 0x80 { length = 1 } else if c >= 0xC2 && c < 0xE0 { length = 2 }
            else if c >= 0xE0 && c < 0xF0 { length = 3 } else if c >= 0xF0 && c < 0xF5 { length = 4 }
            else { return i }
            guard i + length <= end else { return i }
            let slice = UnsafeBufferPointer(rebasing: bytes[i..<(i + length)])
            if String(validating: slice, as: UTF8.self) == nil { return i }
            i += length
        }
        return start
    }

    /// Parses one sample line `bytes[start..<end]` (leading blanks already skipped).
    mutating func sampleLine(_ start: Int, _ end: Int, _ spans: inout SampleSpans) throws(PrometheusParseError) -> MetricSample {
        var i = start
        spans.name = i
        let name = try metricName(&i, end)
        var labels: [MetricLabel] = []
        let afterName = i
        if !openMetrics { i = skipBlanks(i, end) }
        spans.labels = i
        var separated = i > afterName
        if i < end, bytes[i] == UInt8(ascii: "{") {
            labels.reserveCapacity(previousLabels.count)
            i = try labelSet(i + 1, end, into: &labels, reuse: true)
            separated = false
        }
        // The separator before the value: exactly one space in OpenMetrics, blanks in 0.0.4.
        if openMetrics {
            guard i < end else { throw fail(i, "expected a value after the metric name") }
            guard bytes[i] == UInt8(ascii: " ") else {
                throw fail(i, "unexpected \(PrometheusBytes.describe(bytes[i])) after metric name (expected a single space and the value)")
            }
            i += 1
        } else if !separated {
            guard i < end else { throw fail(i, "expected a value after the metric name") }
            guard isBlank(bytes[i]) else {
                throw fail(i, "unexpected \(PrometheusBytes.describe(bytes[i])) after metric name")
            }
            i = skipBlanks(i, end)
        } else if i == end {
            throw fail(i, "expected a value after the metric name")
        }
        spans.value = i
        let valueEnd = tokenEnd(i, end)
        let value = try number(i, valueEnd, what: "value")
        i = valueEnd
        var timestamp: Double?
        var exemplar: Exemplar?
        if openMetrics {
            if i < end {
                // ` timestamp`, ` # {…} v [t]`, or both.
                i += 1  // tokenEnd stopped at a space
                guard i < end else { throw fail(i - 1, "trailing space after value") }
                if bytes[i] != UInt8(ascii: "#") {
                    spans.timestamp = i
                    let tsEnd = tokenEnd(i, end)
                    timestamp = try openMetricsTimestamp(i, tsEnd)
                    i = tsEnd
                    if i < end {
                        i += 1
                        guard i < end else { throw fail(i - 1, "trailing space after timestamp") }
                        guard bytes[i] == UInt8(ascii: "#") else {
                            throw fail(i, "unexpected \(PrometheusBytes.describe(bytes[i])) after timestamp (expected ' # ' and an exemplar)")
                        }
                    }
                }
                if i < end {
                    spans.exemplar = i
                    exemplar = try exemplarPart(i, end)
                }
            }
        } else {
            i = skipBlanks(i, end)
            if i < end {
                spans.timestamp = i
                let tsEnd = tokenEnd(i, end)
                guard let ms = PrometheusNumbers.parseInt64(bytes, i, tsEnd) else {
                    if bytes[i] == UInt8(ascii: "#") {
                        throw fail(i, "exemplars are only allowed in OpenMetrics")
                    }
                    throw fail(i, "invalid timestamp '\(excerpt(i, tsEnd))' (text format timestamps are integer milliseconds)")
                }
                timestamp = Double(ms) / 1000
                i = skipBlanks(tsEnd, end)
                guard i == end else { throw fail(i, "unexpected text after timestamp") }
            }
        }
        return MetricSample(name: name, labels: labels, value: value, timestamp: timestamp, exemplar: exemplar)
    }

    /// The end of the token at `i`: the next space (OpenMetrics) or blank (0.0.4), or `end`.
    func tokenEnd(_ i: Int, _ end: Int) -> Int {
        var j = i
        if openMetrics {
            while j < end && bytes[j] != UInt8(ascii: " ") { j += 1 }
        } else {
            while j < end && !isBlank(bytes[j]) { j += 1 }
        }
        return j
    }

    func number(_ start: Int, _ end: Int, what: String) throws(PrometheusParseError) -> Double {
        guard start < end else {
            throw fail(start, start < lineEnd && bytes[start] == UInt8(ascii: " ") ? "expected \(what), found another space" : "expected \(what)")
        }
        switch PrometheusNumbers.parseFloat(bytes, start, end) {
        case .success(let value): return value
        case .failure(.outOfRange): throw fail(start, "\(what) '\(excerpt(start, end))' is out of the range of a 64-bit float")
        case .failure(.syntax): throw fail(start, "invalid \(what) '\(excerpt(start, end))'")
        }
    }

    func openMetricsTimestamp(_ start: Int, _ end: Int) throws(PrometheusParseError) -> Double {
        guard start < end else { throw fail(start, "expected timestamp, found another space") }
        switch PrometheusNumbers.parseFloat(bytes, start, end, allowSpecial: false) {
        case .success(let value): return value
        case .failure(.outOfRange): throw fail(start, "timestamp '\(excerpt(start, end))' is out of range")
        case .failure(.syntax): throw fail(start, "invalid timestamp '\(excerpt(start, end))' (OpenMetrics timestamps are seconds, no NaN or Inf)")
        }
    }

    /// Parses `# {labels} value [timestamp]` at `i` (which holds the '#').
    mutating func exemplarPart(_ start: Int, _ end: Int) throws(PrometheusParseError) -> Exemplar {
        var i = start + 1
        guard i < end, bytes[i] == UInt8(ascii: " ") else { throw fail(i, "expected ' # {' before an exemplar") }
        i += 1
        guard i < end, bytes[i] == UInt8(ascii: "{") else { throw fail(i, "expected '{' to start the exemplar's labels") }
        var labels: [MetricLabel] = []
        let labelsStart = i
        i = try labelSet(i + 1, end, into: &labels, reuse: false)
        // The combined length limit counts code points of names and values only.
        var length = 0
        for label in labels { length += label.name.unicodeScalars.count + label.value.unicodeScalars.count }
        if length > 128 {
            throw fail(labelsStart, "exemplar labels are \(length) characters long (at most 128 allowed)")
        }
        guard i < end, bytes[i] == UInt8(ascii: " ") else {
            if i < end { throw fail(i, "unexpected \(PrometheusBytes.describe(bytes[i])) after exemplar labels") }
            throw fail(i, "expected the exemplar's value")
        }
        i += 1
        let valueEnd = tokenEnd(i, end)
        let value = try number(i, valueEnd, what: "exemplar value")
        i = valueEnd
        var timestamp: Double?
        if i < end {
            i += 1
            let tsEnd = tokenEnd(i, end)
            timestamp = try openMetricsTimestamp(i, tsEnd)
            guard tsEnd == end else { throw fail(tsEnd, "unexpected text after exemplar timestamp") }
        }
        return Exemplar(labels: labels, value: value, timestamp: timestamp)
    }

    /// Parses labels after '{' up to and including '}'; returns the offset after '}'.
    ///
    /// With `reuse`, a label whose name and value bytes equal those of the previous sample's
    /// label at the same position is copied from it: exporters repeat the same label set line
    /// after line (DCGM's eleven labels, a histogram's buckets), and this skips building and
    /// validating those strings again.
    mutating func labelSet(_ from: Int, _ end: Int, into labels: inout [MetricLabel],
                           reuse: Bool) throws(PrometheusParseError) -> Int {
        var i = from
        if reuse { currentRanges.removeAll(keepingCapacity: true) }
        defer {
            if reuse {
                swap(&currentRanges, &previousRanges)
                previousLabels = labels
            }
        }
        var afterComma = false
        while true {
            if !openMetrics { i = skipBlanks(i, end) }
            guard i < end else { throw fail(i, "unterminated label set (missing '}')") }
            if bytes[i] == UInt8(ascii: "}") {
                // 0.0.4 allows one trailing comma; the OpenMetrics ABNF does not.
                if afterComma && openMetrics { throw fail(i - 1, "trailing comma in label set not allowed in OpenMetrics") }
                if afterComma && labels.isEmpty { throw fail(i - 1, "unexpected ',' in empty label set") }
                return i + 1
            }
            let nameStart = i
            guard PrometheusBytes.classes[Int(bytes[i])] & PrometheusBytes.labelStart != 0 else {
                throw fail(i, "expected label name, found \(PrometheusBytes.describe(bytes[i]))")
            }
            i += 1
            while i < end, PrometheusBytes.classes[Int(bytes[i])] & PrometheusBytes.labelChar != 0 { i += 1 }
            let nameEnd = i
            if openMetrics, bytes[nameStart] == UInt8(ascii: "_") {
                throw fail(nameStart, "label names starting with '_' are reserved in OpenMetrics")
            }
            if !openMetrics { i = skipBlanks(i, end) }
            guard i < end, bytes[i] == UInt8(ascii: "=") else {
                if i < end { throw fail(i, "unexpected \(PrometheusBytes.describe(bytes[i])) in label name (expected '=')") }
                throw fail(i, "unterminated label set (expected '=')")
            }
            i += 1
            if !openMetrics { i = skipBlanks(i, end) }
            guard i < end, bytes[i] == UInt8(ascii: "\"") else {
                throw fail(i, "expected '\"' to start the label value")
            }
            i += 1
            let valueStart = i
            var ascii = true
            var escaped = false
            while i < end {
                let c = bytes[i]
                if c == UInt8(ascii: "\"") { break }
                if c == UInt8(ascii: "\\") { escaped = true; i += 2; continue }
                if c >= 0x80 { ascii = false }
                i += 1
            }
            guard i < end else { throw fail(valueStart - 1, "unterminated label value (missing '\"')") }
            let valueEnd = i
            i += 1
            let range = LabelRange(nameStart: nameStart, nameCount: nameEnd - nameStart,
                                   valueStart: valueStart, valueCount: valueEnd - valueStart)
            let k = labels.count
            if reuse, k < previousRanges.count, k < previousLabels.count, sameBytes(previousRanges[k], range) {
                let label = previousLabels[k]
                for other in labels where other.name == label.name {
                    throw fail(nameStart, "duplicate label name '\(label.name)'")
                }
                labels.append(label)
            } else {
                // The same label name at the same position as the previous line (the common
                // case: only values change between a family's samples) reuses its string.
                let name: String
                if reuse, k < previousRanges.count, k < previousLabels.count,
                   previousRanges[k].nameCount == range.nameCount,
                   memoryEqual(previousRanges[k].nameStart, nameStart, range.nameCount) {
                    name = previousLabels[k].name
                } else {
                    name = String(decoding: UnsafeBufferPointer(rebasing: bytes[nameStart..<nameEnd]), as: UTF8.self)
                }
                for label in labels where label.name == name {
                    throw fail(nameStart, "duplicate label name '\(name)'")
                }
                let value = try makeString(valueStart, valueEnd, ascii: ascii, escaped: escaped, inHelp: false)
                labels.append(MetricLabel(name, value))
            }
            if reuse { currentRanges.append(range) }
            if !openMetrics { i = skipBlanks(i, end) }
            guard i < end else { throw fail(i, "unterminated label set (missing '}')") }
            if bytes[i] == UInt8(ascii: ",") {
                afterComma = true
                i += 1
            } else if bytes[i] == UInt8(ascii: "}") {
                return i + 1
            } else {
                throw fail(i, "expected ',' or '}' after label value, found \(PrometheusBytes.describe(bytes[i]))")
            }
        }
    }
}

/// Where one label's name and raw value bytes lie in the input.
struct LabelRange {
    var nameStart: Int
    var nameCount: Int
    var valueStart: Int
    var valueCount: Int
}

/// `memcmp` without importing the C library: names are short, a loop is as fast.
@inline(__always)
func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ count: Int) -> Bool {
    var k = 0
    while k < count {
        if a[k] != b[k] { return false }
        k += 1
    }
    return true
}
