/// Text format 0.0.4 family bookkeeping: which family each sample belongs to, and the few
/// metadata rules Prometheus' own text parser enforces (one HELP and one TYPE per name, TYPE
/// before the samples). Interleaved families and repeated series are accepted, as `promtool`
/// and the Prometheus server accept them.
struct ClassicFamilies {
    var families: [MetricFamilyInfo] = []
    var byName: [String: Int] = [:]
    var typeSeen: [Bool] = []
    var helpSeen: [Bool] = []
    var hasSamples: [Bool] = []
    /// The family of the latest metadata line or sample; the usual home of the next sample.
    var current = -1
    /// The previous sample's name and family, so a run of lines of one series costs one compare.
    var lastSampleName = ""
    var lastSampleFamily = -1

    mutating func declare(_ name: String) -> Int {
        if let index = byName[name] { return index }
        families.append(MetricFamilyInfo(name: name, type: .unknown))
        typeSeen.append(false)
        helpSeen.append(false)
        hasSamples.append(false)
        byName[name] = families.count - 1
        return families.count - 1
    }

    mutating func help(_ name: String, _ text: String?) throws(RuleViolation) {
        let index = declare(name)
        guard !helpSeen[index] else { throw RuleViolation(reason: "second # HELP line for metric name \(name)") }
        helpSeen[index] = true
        families[index].help = text
        current = index
        lastSampleFamily = -1
    }

    mutating func type(_ name: String, _ type: MetricType) throws(RuleViolation) {
        let index = declare(name)
        guard !typeSeen[index] else { throw RuleViolation(reason: "second # TYPE line for metric name \(name)") }
        guard !hasSamples[index] else { throw RuleViolation(reason: "# TYPE line for \(name) after its samples") }
        typeSeen[index] = true
        families[index].type = type
        current = index
        lastSampleFamily = -1
    }

    /// The family of a sample named `name`, creating an untyped one when none claims it.
    mutating func sample(_ name: String) throws(RuleViolation) -> Int {
        if lastSampleFamily >= 0, name == lastSampleName { return lastSampleFamily }
        let index: Int
        if current >= 0, Self.belongs(name, to: families[current]) {
            index = current
        } else if let exact = byName[name] {
            index = exact
        } else if let base = Self.baseName(name), let owner = byName[base], Self.belongs(name, to: families[owner]) {
            index = owner
        } else {
            index = declare(name)
        }
        current = index
        hasSamples[index] = true
        lastSampleName = name
        lastSampleFamily = index
        return index
    }

    /// Whether a sample name is one the family's type produces in text format 0.0.4.
    static func belongs(_ name: String, to family: MetricFamilyInfo) -> Bool {
        if name == family.name { return family.type != .histogram }
        switch family.type {
        case .histogram: return hasSuffix(name, family.name, "_bucket") || hasSuffix(name, family.name, "_sum")
            || hasSuffix(name, family.name, "_count")
        case .summary: return hasSuffix(name, family.name, "_sum") || hasSuffix(name, family.name, "_count")
        default: return false
        }
    }

    /// `name` minus a histogram or summary suffix, if it has one.
    static func baseName(_ name: String) -> String? {
        for suffix in ["_bucket", "_sum", "_count"] where name.utf8.count > suffix.utf8.count
            && name.utf8.reversed().starts(with: suffix.utf8.reversed()) {
            return String(decoding: name.utf8.dropLast(suffix.utf8.count), as: UTF8.self)
        }
        return nil
    }

    /// Whether `name` is exactly `base + suffix`, comparing UTF-8 (names are ASCII).
    static func hasSuffix(_ name: String, _ base: String, _ suffix: StaticString) -> Bool {
        let n = name.utf8, b = base.utf8
        guard n.count == b.count + suffix.utf8CodeUnitCount, n.starts(with: b) else { return false }
        return n.dropFirst(b.count).elementsEqual(UnsafeBufferPointer(start: suffix.utf8Start, count: suffix.utf8CodeUnitCount))
    }
}
