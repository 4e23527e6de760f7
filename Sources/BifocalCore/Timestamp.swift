import Foundation

/// Time as Bifocal stores it: integer microseconds since the Unix epoch, with parsers for
/// the forms the API accepts (RFC 3339, unix seconds) and durations (`30s`, `5m`, `1h`, `7d`).
public enum Timestamp {
    /// Microseconds in one second.
    public static let microsPerSecond: Int64 = 1_000_000
    /// Microseconds in one minute.
    public static let microsPerMinute: Int64 = 60 * microsPerSecond
    /// Microseconds in one hour.
    public static let microsPerHour: Int64 = 60 * microsPerMinute
    /// Microseconds in one day.
    public static let microsPerDay: Int64 = 24 * microsPerHour

    /// Rounds `value` down to a multiple of `unit` (also for negative values).
    public static func floor(_ value: Int64, toMultipleOf unit: Int64) -> Int64 {
        let r = value % unit
        return r >= 0 ? value - r : value - r - unit
    }

    /// Converts unix seconds (possibly fractional) to microseconds; nil when out of range or not finite.
    public static func fromUnixSeconds(_ seconds: Double) -> Int64? {
        guard seconds.isFinite, abs(seconds) < 9.2e12 else { return nil }
        return Int64((seconds * 1_000_000).rounded())
    }

    /// Converts microseconds to unix seconds.
    public static func unixSeconds(_ micros: Int64) -> Double { Double(micros) / 1_000_000 }

    /// Parses a time given as unix seconds (`1732860000`, `1732860000.25`) or RFC 3339
    /// (`2026-11-29T06:55:00Z`, `2026-11-29T06:55:00.123+01:00`). Returns nil when it is neither.
    public static func parse(_ text: String) -> Int64? {
        if let seconds = Double(text), seconds.isFinite { return fromUnixSeconds(seconds) }
        var utf8 = Array(text.utf8)
        return utf8.withUnsafeMutableBufferPointer { parseRFC3339(UnsafeBufferPointer($0)) }
    }

    /// Parses RFC 3339 bytes (`YYYY-MM-DD[Tt ]hh:mm:ss[.frac](Z|±hh:mm)`) without allocating.
    public static func parseRFC3339(_ b: UnsafeBufferPointer<UInt8>) -> Int64? {
        let n = b.count
        guard n >= 20 else { return nil }
        func digits(_ at: Int, _ count: Int) -> Int? {
            var v = 0
            for i in at..<(at + count) {
                let c = b[i]
                guard c >= 48, c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard let year = digits(0, 4), b[4] == 45, let month = digits(5, 2), b[7] == 45,
              let day = digits(8, 2), b[10] == 84 || b[10] == 116 || b[10] == 32,
              let hour = digits(11, 2), b[13] == 58, let minute = digits(14, 2), b[16] == 58,
              let second = digits(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
              hour < 24, minute < 60, second < 61
        else { return nil }
        var i = 19
        var fractionMicros: Int64 = 0
        if i < n, b[i] == 46 {
            i += 1
            var scale: Int64 = 100_000
            let fracStart = i
            while i < n, b[i] >= 48, b[i] <= 57 {
                fractionMicros += Int64(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > fracStart else { return nil }
        }
        guard i < n else { return nil }
        var offsetSeconds = 0
        if b[i] == 90 || b[i] == 122 {
            i += 1
        } else if b[i] == 43 || b[i] == 45 {
            guard i + 6 == n, let oh = digits(i + 1, 2), b[i + 3] == 58, let om = digits(i + 4, 2),
                  oh < 24, om < 60
            else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (b[i] == 45 ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == n else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offsetSeconds)
        return seconds * 1_000_000 + fractionMicros
    }

    /// Formats microseconds as RFC 3339 in UTC with millisecond precision.
    public static func formatRFC3339(_ micros: Int64) -> String {
        let totalSeconds = floor(micros, toMultipleOf: microsPerSecond) / microsPerSecond
        let millis = Int((micros - totalSeconds * microsPerSecond) / 1000)
        let days = Int(floor(totalSeconds, toMultipleOf: 86_400) / 86_400)
        let secondOfDay = Int(totalSeconds - Int64(days) * 86_400)
        let (y, m, d) = civilFromDays(days)
        func pad(_ v: Int, _ w: Int) -> String {
            let s = String(v)
            return s.count >= w ? s : String(repeating: "0", count: w - s.count) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(millis, 3))Z"
    }

    /// Parses a duration: `250ms`, `30s`, `5m`, `1h`, `7d`, `2w`, or plain seconds (`90`, `0.5`).
    /// Returns microseconds, or nil when the text is not a positive duration.
    public static func parseDuration(_ text: String) -> Int64? {
        let units: [(String, Double)] = [("ms", 1e3), ("s", 1e6), ("m", 6e7), ("h", 3.6e9), ("d", 8.64e10), ("w", 6.048e11)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            // "5ms" must not be read as "5m" + "s": the longest suffix is tried first.
            guard let value = Double(number), value.isFinite, value > 0, value * scale < 9.2e18 else { return nil }
            return Int64(value * scale)
        }
        guard let value = Double(text), value.isFinite, value > 0, value < 9.2e12 else { return nil }
        return Int64(value * 1e6)
    }

    /// Formats a duration in microseconds the way `parseDuration` reads it (`5m`, `90s`, `1d`).
    public static func formatDuration(_ micros: Int64) -> String {
        for (suffix, unit) in [("d", microsPerDay), ("h", microsPerHour), ("m", microsPerMinute), ("s", microsPerSecond)]
        where micros % unit == 0 {
            return "\(micros / unit)\(suffix)"
        }
        return "\(micros / 1000)ms"
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// (year, month, day) of a count of days since 1970-01-01, proleptic Gregorian.
    public static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension Timestamp {
    /// The wall clock, in microseconds since the epoch. Only the edges (server, CLI) read it;
    /// everything else takes the time as an argument.
    @Sendable public static func now() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1_000_000).rounded())
    }
}
