public import BifocalCore

/// Writes records in the ingest API's JSON form (the names `RecordDecoder` reads), so that
/// decoding what was encoded gives the same record back.
public enum RecordEncoder {
    /// One record as a compact JSON object.
    public static func encodeJSON(_ record: InferenceRecord) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        append(record, to: &out)
        return out
    }

    /// Records as a JSON array.
    public static func encodeJSONArray(_ records: [InferenceRecord]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(records.count * 256 + 2)
        out.append(UInt8(ascii: "["))
        for (i, record) in records.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            append(record, to: &out)
        }
        out.append(UInt8(ascii: "]"))
        return out
    }

    /// Records as NDJSON: one object per line, each line ended by `\n`.
    public static func encodeNDJSON(_ records: [InferenceRecord]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(records.count * 256)
        for record in records {
            append(record, to: &out)
            out.append(0x0A)
        }
        return out
    }

    /// Appends one record object to `out`.
    public static func append(_ r: InferenceRecord, to out: inout [UInt8]) {
        var w = Writer(out: out)
        out = []
        w.out.append(UInt8(ascii: "{"))
        w.key("start")
        w.time(r.start)
        w.string("id", r.id)
        w.string("endpoint", r.endpoint)
        w.string("model", r.model)
        w.string("component", r.component)
        w.string("variant", r.variant)
        w.string("instance", r.instance)
        w.string("copy", r.copy)
        w.key("status")
        w.quoted(r.status.rawValue)
        if let code = r.httpStatus { w.key("http_status"); w.integer(code) }
        w.string("error", r.error)
        if let streaming = r.streaming { w.key("streaming"); w.bool(streaming) }
        if let n = r.inputTokens { w.key("input_tokens"); w.integer(n) }
        if let n = r.outputTokens { w.key("output_tokens"); w.integer(n) }
        w.number("ttft_ms", r.ttftMs)
        w.number("e2e_ms", r.e2eMs)
        w.number("queue_ms", r.queueMs)
        if let gaps = r.itlMs {
            w.key("itl_ms")
            w.out.append(UInt8(ascii: "["))
            for (i, g) in gaps.enumerated() {
                if i > 0 { w.out.append(UInt8(ascii: ",")) }
                w.double(g)
            }
            w.out.append(UInt8(ascii: "]"))
        }
        w.number("itl_mean_ms", r.itlMeanMs)
        w.number("itl_max_ms", r.itlMaxMs)
        w.string("finish_reason", r.finishReason)
        if r.tokensEstimated { w.key("tokens_estimated"); w.bool(true) }
        w.key("source")
        w.quoted(r.source.rawValue)
        w.string("provider", r.provider)
        w.string("request_model", r.requestModel)
        w.string("trace_id", r.traceId)
        w.string("span_id", r.spanId)
        w.string("tenant", r.tenant)
        w.string("prompt", r.prompt)
        w.string("response", r.response)
        w.string("context", r.context)
        w.string("reference", r.reference)
        if !r.labels.isEmpty {
            w.key("labels")
            w.out.append(UInt8(ascii: "{"))
            var first = true
            for name in r.labels.keys.sorted() {
                if !first { w.out.append(UInt8(ascii: ",")) }
                first = false
                w.quoted(name)
                w.out.append(UInt8(ascii: ":"))
                w.quoted(r.labels[name]!)
            }
            w.out.append(UInt8(ascii: "}"))
        }
        w.out.append(UInt8(ascii: "}"))
        out = w.out
    }

    /// Appends `text` as a JSON string (quotes and escapes included).
    public static func appendString(_ text: String, to out: inout [UInt8]) {
        var w = Writer(out: out)
        out = []
        w.quoted(text)
        out = w.out
    }

    struct Writer {
        var out: [UInt8]
        var needsComma = false

        mutating func key(_ name: StaticString) {
            if needsComma { out.append(UInt8(ascii: ",")) }
            needsComma = true
            out.append(UInt8(ascii: "\""))
            out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            out.append(UInt8(ascii: "\""))
            out.append(UInt8(ascii: ":"))
        }

        mutating func string(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            quoted(value)
        }

        mutating func number(_ name: StaticString, _ value: Double?) {
            guard let value else { return }
            key(name)
            double(value)
        }

        mutating func bool(_ value: Bool) {
            let text: StaticString = value ? "true" : "false"
            out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }

        mutating func integer(_ value: Int) {
            out.append(contentsOf: String(value).utf8)
        }

        mutating func double(_ value: Double) {
            if value.isFinite, value.rounded() == value, abs(value) < 1e15 {
                integer(Int(value)) // -0.0 is written as 0: the same value for ==
                return
            }
            // Swift prints the shortest text that reads back to the same double; JSON has no NaN or infinity.
            out.append(contentsOf: (value.isFinite ? String(value) : "null").utf8)
        }

        mutating func quoted(_ text: String) {
            var text = text
            text.withUTF8 { bytes in
                out.append(UInt8(ascii: "\""))
                var runStart = 0
                for i in 0..<bytes.count {
                    let c = bytes[i]
                    guard c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") else { continue }
                    if i > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i])) }
                    runStart = i + 1
                    out.append(UInt8(ascii: "\\"))
                    switch c {
                    case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
                    case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
                    case 0x0A: out.append(UInt8(ascii: "n"))
                    case 0x0D: out.append(UInt8(ascii: "r"))
                    case 0x09: out.append(UInt8(ascii: "t"))
                    case 0x08: out.append(UInt8(ascii: "b"))
                    case 0x0C: out.append(UInt8(ascii: "f"))
                    default:
                        let hex: [UInt8] = Array("0123456789abcdef".utf8)
                        out.append(contentsOf: [UInt8(ascii: "u"), 48, 48, hex[Int(c >> 4)], hex[Int(c & 15)]])
                    }
                }
                if bytes.count > runStart { out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count])) }
                out.append(UInt8(ascii: "\""))
            }
        }

        /// RFC 3339 in UTC with microseconds (exact), or unix seconds outside years 0000-9999.
        mutating func time(_ micros: Int64) {
            let seconds = Timestamp.floor(micros, toMultipleOf: Timestamp.microsPerSecond) / Timestamp.microsPerSecond
            let fraction = Int(micros - seconds * Timestamp.microsPerSecond)
            let days = Int(Timestamp.floor(seconds, toMultipleOf: 86_400) / 86_400)
            let secondOfDay = Int(seconds - Int64(days) * 86_400)
            let (y, m, d) = Timestamp.civilFromDays(days)
            guard (0...9999).contains(y) else {
                double(Timestamp.unixSeconds(micros))
                return
            }
            out.append(UInt8(ascii: "\""))
            func digits(_ v: Int, _ width: Int) {
                var divisor = 1
                for _ in 1..<width { divisor *= 10 }
                var v = v
                while divisor > 0 {
                    out.append(UInt8(48 + v / divisor))
                    v %= divisor
                    divisor /= 10
                }
            }
            digits(y, 4); out.append(UInt8(ascii: "-")); digits(m, 2); out.append(UInt8(ascii: "-")); digits(d, 2)
            out.append(UInt8(ascii: "T"))
            digits(secondOfDay / 3600, 2); out.append(UInt8(ascii: ":"))
            digits(secondOfDay / 60 % 60, 2); out.append(UInt8(ascii: ":"))
            digits(secondOfDay % 60, 2)
            if fraction != 0 {
                out.append(UInt8(ascii: "."))
                digits(fraction, 6)
            }
            out.append(UInt8(ascii: "Z"))
            out.append(UInt8(ascii: "\""))
        }
    }
}
