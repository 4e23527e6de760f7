extension MetricSample {
    /// The sample as one JSON line, the way `bifocal metrics parse` prints it:
    /// `{"name":"…","labels":{…},"value":1.5,"timestamp":1700000000.123}`.
    ///
    /// Labels keep input order. The value is a JSON number, or the string `"NaN"`, `"+Inf"` or
    /// `"-Inf"` (JSON has no such numbers); integral values print without a fraction. The
    /// timestamp is unix seconds or `null`. An exemplar, when present, follows as
    /// `"exemplar":{"labels":{…},"value":…,"timestamp":…}`. No trailing newline.
    public func jsonLine() -> String {
        var out = "{\"name\":"
        out.reserveCapacity(64 + name.utf8.count + labels.count * 24)
        PrometheusJSON.appendString(name, to: &out)
        out += ",\"labels\":"
        PrometheusJSON.appendLabels(labels, to: &out)
        out += ",\"value\":"
        PrometheusJSON.appendNumber(value, to: &out)
        out += ",\"timestamp\":"
        if let timestamp { PrometheusJSON.appendNumber(timestamp, to: &out) } else { out += "null" }
        if let exemplar {
            out += ",\"exemplar\":{\"labels\":"
            PrometheusJSON.appendLabels(exemplar.labels, to: &out)
            out += ",\"value\":"
            PrometheusJSON.appendNumber(exemplar.value, to: &out)
            out += ",\"timestamp\":"
            if let t = exemplar.timestamp { PrometheusJSON.appendNumber(t, to: &out) } else { out += "null" }
            out += "}"
        }
        out += "}"
        return out
    }
}

/// JSON pieces for `MetricSample.jsonLine()`; hand-written so the output is byte-stable and
/// needs no Foundation.
enum PrometheusJSON {
    static func appendLabels(_ labels: [MetricLabel], to out: inout String) {
        out += "{"
        for (index, label) in labels.enumerated() {
            if index > 0 { out += "," }
            appendString(label.name, to: &out)
            out += ":"
            appendString(label.value, to: &out)
        }
        out += "}"
    }

    static func appendNumber(_ value: Double, to out: inout String) {
        if value.isNaN {
            out += "\"NaN\""
        } else if value.isInfinite {
            out += value > 0 ? "\"+Inf\"" : "\"-Inf\""
        } else if value.rounded(.towardZero) == value, abs(value) < 1e15 {
            // Counts and most gauges are integers; `27453` reads better than `27453.0`.
            out += String(Int64(value))
        } else {
            // Swift prints the shortest representation that round-trips, and its forms
            // (`0.5`, `1e-05`, `1.5e+20`) are all valid JSON numbers.
            out += "\(value)"
        }
    }

    static func appendString(_ text: String, to out: inout String) {
        out += "\""
        var plainStart = text.utf8.startIndex
        var index = plainStart
        let utf8 = text.utf8
        while index != utf8.endIndex {
            let byte = utf8[index]
            if byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out += String(text[plainStart..<index])
                switch byte {
                case UInt8(ascii: "\""): out += "\\\""
                case UInt8(ascii: "\\"): out += "\\\\"
                case 0x0A: out += "\\n"
                case 0x0D: out += "\\r"
                case 0x09: out += "\\t"
                default:
                    let hex = String(byte, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
                plainStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        out += String(text[plainStart..<utf8.endIndex])
        out += "\""
    }
}
