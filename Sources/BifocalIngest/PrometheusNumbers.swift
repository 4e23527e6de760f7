/// Number syntax shared by text format 0.0.4 (Go `strconv.ParseFloat`, decimal forms) and
/// OpenMetrics (ABNF `number`): `[sign] digits [. digits] [e [sign] digits]`, `[sign] . digits ...`,
/// case-insensitive `[sign] inf|infinity` and unsigned `nan`. Both grammars agree on these forms;
/// Go's hexadecimal floats are not accepted (no exporter writes them).
enum PrometheusNumbers {
    /// Exact powers of ten for the fast path.
    static let powersOf10: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// Why a token is not a number.
    enum Failure: Error {
        case syntax
        case outOfRange
    }

    /// Parses `b[start..<end]` as a float, allowing NaN and infinities when `allowSpecial`.
    static func parseFloat(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                           allowSpecial: Bool = true) -> Result<Double, Failure> {
        guard start < end, end <= b.count else { return .failure(.syntax) }
        var pos = start
        var negative = false
        let first = b[pos]
        if first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            negative = first == UInt8(ascii: "-")
            pos += 1
            guard pos < end else { return .failure(.syntax) }
        }
        let lead = b[pos] | 0x20
        if lead == UInt8(ascii: "i") || lead == UInt8(ascii: "n") {
            guard allowSpecial else { return .failure(.syntax) }
            // `nan` takes no sign (as in Go and the OpenMetrics ABNF); `inf`/`infinity` may.
            if lead == UInt8(ascii: "n") {
                guard pos == start, matchesIgnoringCase(b, pos, end, "nan") else { return .failure(.syntax) }
                return .success(.nan)
            }
            guard matchesIgnoringCase(b, pos, end, "inf") || matchesIgnoringCase(b, pos, end, "infinity") else {
                return .failure(.syntax)
            }
            return .success(negative ? -.infinity : .infinity)
        }

        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        var truncated = false
        var digits = 0
        while pos < end, b[pos] &- UInt8(ascii: "0") < 10 {
            let d = UInt64(b[pos] &- UInt8(ascii: "0"))
            if mantissa == 0 && d == 0 {
                // Leading zeros carry no significance.
            } else if significant < 19 {
                mantissa = mantissa &* 10 &+ d
                significant += 1
            } else {
                exponent += 1
                if d != 0 { truncated = true }
            }
            digits += 1
            pos += 1
        }
        if pos < end, b[pos] == UInt8(ascii: ".") {
            pos += 1
            while pos < end, b[pos] &- UInt8(ascii: "0") < 10 {
                let d = UInt64(b[pos] &- UInt8(ascii: "0"))
                if mantissa == 0 && d == 0 {
                    exponent -= 1
                } else if significant < 19 {
                    mantissa = mantissa &* 10 &+ d
                    significant += 1
                    exponent -= 1
                } else if d != 0 {
                    truncated = true
                }
                digits += 1
                pos += 1
            }
        }
        guard digits > 0 else { return .failure(.syntax) }
        if pos < end, b[pos] | 0x20 == UInt8(ascii: "e") {
            pos += 1
            var exponentNegative = false
            if pos < end, b[pos] == UInt8(ascii: "+") || b[pos] == UInt8(ascii: "-") {
                exponentNegative = b[pos] == UInt8(ascii: "-")
                pos += 1
            }
            guard pos < end, b[pos] &- UInt8(ascii: "0") < 10 else { return .failure(.syntax) }
            var e = 0
            while pos < end, b[pos] &- UInt8(ascii: "0") < 10 {
                // Clamp: anything this large is over- or underflow anyway.
                if e < 100_000 { e = e * 10 + Int(b[pos] &- UInt8(ascii: "0")) }
                pos += 1
            }
            exponent += exponentNegative ? -e : e
        }
        guard pos == end else { return .failure(.syntax) }

        var value: Double
        if mantissa == 0 {
            value = 0
        } else if !truncated, mantissa <= 1 << 53, exponent >= -22, exponent <= 22 {
            // Clinger's fast path: both operands are exact doubles, so one correctly rounded
            // operation gives the correctly rounded result without touching strtod.
            value = Double(mantissa)
            value = exponent < 0 ? value / powersOf10[-exponent] : value * powersOf10[exponent]
        } else {
            // The syntax is already validated, so the C library's strtod (through the standard
            // library) sees only plain decimal text.
            let text = String(decoding: UnsafeBufferPointer(rebasing: b[start..<end]), as: UTF8.self)
            guard let parsed = Double(text) else { return .failure(.syntax) }
            guard parsed.isFinite else { return .failure(.outOfRange) }
            return .success(parsed)
        }
        return .success(negative ? -value : value)
    }

    /// Parses a text format 0.0.4 timestamp: a signed decimal int64 (milliseconds).
    static func parseInt64(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int64? {
        guard start < end, end <= b.count else { return nil }
        var pos = start
        var negative = false
        if b[pos] == UInt8(ascii: "+") || b[pos] == UInt8(ascii: "-") {
            negative = b[pos] == UInt8(ascii: "-")
            pos += 1
        }
        guard pos < end else { return nil }
        var value: Int64 = 0
        while pos < end {
            let d = b[pos] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? times10.subtractingReportingOverflow(Int64(d))
                : times10.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            value = next
            pos += 1
        }
        return value
    }

    /// Whether `b[start..<end]` is exactly `word`, ignoring ASCII case.
    static func matchesIgnoringCase(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int,
                                    _ word: StaticString) -> Bool {
        guard end - start == word.utf8CodeUnitCount else { return false }
        let w = word.utf8Start
        for k in 0..<word.utf8CodeUnitCount where b[start + k] | 0x20 != w[k] { return false }
        return true
    }

    // MARK: canonical numbers (OpenMetrics `le` and `quantile`)

    /// Exact powers of ten 1e-10 ... 1e+10 as the parser reads them.
    static let canonicalPowers: [(Double, String)] = (-10...10).map { n in
        let text: String
        if n < -4 {
            text = "1e-" + (-n < 10 ? "0" : "") + String(-n)
        } else if n < 0 {
            text = "0." + String(repeating: "0", count: -n - 1) + "1"
        } else if n < 6 {
            text = "1" + String(repeating: "0", count: n) + ".0"
        } else {
            text = "1e+" + (n < 10 ? "0" : "") + String(n)
        }
        return (Double("1e\(n)")!, text)
    }

    /// The rendering OpenMetrics requires for `value` as an `le`/`quantile` label value, when
    /// the value is one of the numbers the specification pins down (+Inf, 0.0 ... 10.0 in steps
    /// of 0.001, and powers of ten from 1e-10 to 1e+10: Go's `%g` with `.0` added); nil for any
    /// other number, whose rendering the specification tells parsers not to judge.
    static func canonicalRendering(of value: Double) -> String? {
        if value == .infinity { return "+Inf" }
        guard value.sign == .plus, value.isFinite else { return nil }
        if value <= 10 {
            let thousandths = (value * 1000).rounded()
            if thousandths / 1000 == value {
                let k = Int(thousandths)
                let whole = k / 1000, fraction = k % 1000
                if fraction == 0 { return "\(whole).0" }
                var digits = String(fraction)
                digits = String(repeating: "0", count: 3 - digits.count) + digits
                while digits.hasSuffix("0") { digits.removeLast() }
                return "\(whole).\(digits)"
            }
        }
        for (power, text) in canonicalPowers where power == value { return text }
        return nil
    }
}
