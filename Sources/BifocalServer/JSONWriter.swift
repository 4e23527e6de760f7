/// Writes JSON straight into bytes: the API's answers are built this way so that `null` for a
/// missing value and number formatting are exactly what the API reference says.
struct JSONWriter {
    var bytes: [UInt8] = []

    init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func raw(_ text: String) { bytes.append(contentsOf: text.utf8) }

    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                raw("\\u00")
                bytes.append(hex[Int(byte >> 4)])
                bytes.append(hex[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A finite number as a JSON number; NaN and infinities become `null`.
    mutating func number(_ value: Double?) {
        guard let value, value.isFinite else { return raw("null") }
        if value == value.rounded(), abs(value) < 1e15 {
            raw(String(Int64(value)))
        } else {
            raw(String(value))
        }
    }

    mutating func number(_ value: Int) { raw(String(value)) }

    /// `{"k": "v", ...}` with keys sorted, so answers are stable.
    mutating func stringMap(_ map: [String: String]) {
        raw("{")
        for (i, key) in map.keys.sorted().enumerated() {
            if i > 0 { raw(",") }
            string(key)
            raw(":")
            string(map[key]!)
        }
        raw("}")
    }

    /// Writes `{"key": ..., ...}` with a closure per member.
    mutating func object(_ members: [(String, (inout JSONWriter) -> Void)]) {
        raw("{")
        for (i, member) in members.enumerated() {
            if i > 0 { raw(",") }
            string(member.0)
            raw(":")
            member.1(&self)
        }
        raw("}")
    }
}
