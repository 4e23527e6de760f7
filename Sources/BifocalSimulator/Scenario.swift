public import Foundation
import Yams

/// A length of time written as `90s`, `20m`, `2h`, `7d` (or a plain number of seconds).
public struct SimDuration: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Seconds.
    public var seconds: Double

    /// Creates a duration.
    public init(seconds: Double) { self.seconds = seconds }

    /// Parses `90s`, `1.5m`, `2h`, `7d`, `250ms` or a plain number of seconds.
    public init?(parsing text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("w", 604_800)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            // "ms" must not be read as minutes of "...m" + "s".
            if suffix == "s", number.hasSuffix("m") { continue }
            guard let value = Double(number), value >= 0 else { return nil }
            self.seconds = value * scale
            return
        }
        guard let value = Double(trimmed), value >= 0 else { return nil }
        self.seconds = value
    }

    /// Decodes from a string with a unit or a number of seconds.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Double.self) {
            guard number >= 0 else { throw DecodingError.dataCorruptedError(in: container, debugDescription: "a duration cannot be negative") }
            self.seconds = number
            return
        }
        let text = try container.decode(String.self)
        guard let parsed = SimDuration(parsing: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"\(text)\" is not a duration (write 90s, 20m, 2h or 7d)")
        }
        self = parsed
    }

    /// Encodes as seconds.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(seconds)
    }

    /// `20m`, `2h`, `1.5d`.
    public var description: String {
        if seconds >= 86_400, seconds.truncatingRemainder(dividingBy: 3600) == 0 { return "\(Self.trim(seconds / 86_400))d" }
        if seconds >= 3600 { return "\(Self.trim(seconds / 3600))h" }
        if seconds >= 60 { return "\(Self.trim(seconds / 60))m" }
        return "\(Self.trim(seconds))s"
    }

    static func trim(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%.1f", value)
    }
}

/// One time-scripted change of a scenario: from `at` for `duration` (or to the end), reached
/// gradually over `ramp`, on the model servers it names (all when none).
public struct ScenarioPhase: Sendable, Hashable, Codable {
    /// When it starts, scenario time.
    public var at: SimDuration
    /// How long it lasts; nil: to the end of the scenario.
    public var duration: SimDuration?
    /// How long it takes to reach full strength (multipliers move linearly).
    public var ramp: SimDuration?
    /// The model servers it affects; nil or empty: all.
    public var models: [String]?
    /// Multiplies the arrival rate.
    public var traffic: Double?
    /// Multiplies the median prompt length.
    public var promptTokens: Double?
    /// Multiplies the median output length.
    public var outputTokens: Double?
    /// GPU memory that leaks away on the affected servers' GPUs, MiB per minute of scenario time.
    public var memoryLeakMiBPerMinute: Double?
    /// The version label the affected servers report from now on.
    public var version: String?
    /// Share of answers each fault spoils (replaces the baseline while the phase lasts).
    public var faults: [AnswerFault: Double]?
    /// Relative weights of question topics (replaces the baseline mix).
    public var topics: [String: Double]?
    /// Share of requests the server answers with an HTTP 5xx.
    public var errorRate: Double?
    /// A line for people: what this phase does.
    public var note: String?

    enum CodingKeys: String, CodingKey {
        case at, ramp, models, traffic, version, faults, topics, note
        case duration = "for"
        case promptTokens = "prompt_tokens"
        case outputTokens = "output_tokens"
        case memoryLeakMiBPerMinute = "memory_leak_mib_per_minute"
        case errorRate = "error_rate"
    }

    /// Creates a phase starting at `at`.
    public init(at: SimDuration) { self.at = at }

    /// Decodes a phase; faults are keyed by their names (`wrong`, `made_up`, …).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        at = try c.decode(SimDuration.self, forKey: .at)
        duration = try c.decodeIfPresent(SimDuration.self, forKey: .duration)
        ramp = try c.decodeIfPresent(SimDuration.self, forKey: .ramp)
        models = try c.decodeIfPresent([String].self, forKey: .models)
        traffic = try c.decodeIfPresent(Double.self, forKey: .traffic)
        promptTokens = try c.decodeIfPresent(Double.self, forKey: .promptTokens)
        outputTokens = try c.decodeIfPresent(Double.self, forKey: .outputTokens)
        memoryLeakMiBPerMinute = try c.decodeIfPresent(Double.self, forKey: .memoryLeakMiBPerMinute)
        version = try c.decodeIfPresent(String.self, forKey: .version)
        faults = try c.decodeIfPresent([String: Double].self, forKey: .faults).map { try Scenario.faults(from: $0, at: c.codingPath + [CodingKeys.faults]) }
        topics = try c.decodeIfPresent([String: Double].self, forKey: .topics)
        errorRate = try c.decodeIfPresent(Double.self, forKey: .errorRate)
        note = try c.decodeIfPresent(String.self, forKey: .note)
    }

    /// Encodes a phase.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(at, forKey: .at)
        try c.encodeIfPresent(duration, forKey: .duration)
        try c.encodeIfPresent(traffic, forKey: .traffic)
        try c.encodeIfPresent(note, forKey: .note)
    }
}

/// A named, time-scripted scenario for the simulated fleet: its baseline traffic shape and the
/// phases that change it. Each built-in one is a plain YAML file in `Scenarios/`.
public struct Scenario: Sendable, Hashable, Codable {
    /// Its name (`surge`).
    public var name: String
    /// What it shows, for people.
    public var description: String = ""
    /// How long its script runs, scenario time; after that the baseline holds.
    public var duration: SimDuration = SimDuration(seconds: 3600)
    /// Amplitude of the daily traffic curve (0: flat; 0.4: ±40% around the mean, peaking at 15:00 UTC).
    public var diurnal: Double = 0.35
    /// Unscripted bursts per hour of scenario time.
    public var burstsPerHour: Double = 0.5
    /// How much a burst multiplies traffic.
    public var burstFactor: Double = 2.5
    /// How long a burst lasts, scenario time.
    public var burstDuration: SimDuration = SimDuration(seconds: 120)
    /// The faults every model shows a little of.
    public var baselineFaults: [AnswerFault: Double] = [.wrong: 0.03, .refused: 0.01, .truncated: 0.01]
    /// The baseline topic mix.
    public var topics: [String: Double] = ["support": 4, "coding": 3, "translation": 1, "math": 1, "science": 1, "legal": 0.3]
    /// The tenants and their shares of traffic.
    public var tenants: [String: Double] = ["support-bot": 4, "search": 3, "chat-app": 2, "batch-eval": 1]
    /// The fleet; the default one when absent.
    public var fleet: FleetSpec = FleetSpec()
    /// The scripted changes.
    public var phases: [ScenarioPhase] = []

    enum CodingKeys: String, CodingKey {
        case name, description, duration, diurnal, topics, tenants, fleet, phases
        case burstsPerHour = "bursts_per_hour"
        case burstFactor = "burst_factor"
        case burstDuration = "burst_duration"
        case baselineFaults = "baseline_faults"
    }

    /// A scenario with the baseline only.
    public init(name: String) { self.name = name }

    /// Decodes a scenario; every field but `name` has a default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        if let v = try c.decodeIfPresent(String.self, forKey: .description) { description = v }
        if let v = try c.decodeIfPresent(SimDuration.self, forKey: .duration) { duration = v }
        if let v = try c.decodeIfPresent(Double.self, forKey: .diurnal) { diurnal = v }
        if let v = try c.decodeIfPresent(Double.self, forKey: .burstsPerHour) { burstsPerHour = v }
        if let v = try c.decodeIfPresent(Double.self, forKey: .burstFactor) { burstFactor = v }
        if let v = try c.decodeIfPresent(SimDuration.self, forKey: .burstDuration) { burstDuration = v }
        if let v = try c.decodeIfPresent([String: Double].self, forKey: .baselineFaults) {
            baselineFaults = try Self.faults(from: v, at: c.codingPath + [CodingKeys.baselineFaults])
        }
        if let v = try c.decodeIfPresent([String: Double].self, forKey: .topics) { topics = v }
        if let v = try c.decodeIfPresent([String: Double].self, forKey: .tenants) { tenants = v }
        if let v = try c.decodeIfPresent(FleetSpec.self, forKey: .fleet) { fleet = v }
        if let v = try c.decodeIfPresent([ScenarioPhase].self, forKey: .phases) { phases = v }
    }

    /// Encodes the scenario's name and script (enough to say what ran).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(description, forKey: .description)
        try c.encode(duration, forKey: .duration)
        try c.encode(phases, forKey: .phases)
    }

    static func faults(from raw: [String: Double], at path: [any CodingKey]) throws -> [AnswerFault: Double] {
        var result: [AnswerFault: Double] = [:]
        for (key, value) in raw {
            guard let fault = AnswerFault(rawValue: key) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "unknown fault \"\(key)\"; known: \(AnswerFault.allCases.map(\.rawValue).joined(separator: ", "))"))
            }
            guard (0...1).contains(value) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "fault \(key): \(value) is not a share between 0 and 1"))
            }
            result[fault] = value
        }
        return result
    }

    /// Checks names and numbers: models the fleet has, topics the question set has, shares 0-1.
    public func validate() throws {
        try fleet.validate()
        let servers = Set(fleet.servers.map(\.name))
        let topicNames = Set(QuestionSet.topics)
        func checkTopics(_ mix: [String: Double], _ where_: String) throws {
            for (topic, weight) in mix {
                guard topicNames.contains(topic) else { throw SimulatorError("\(where_): unknown topic \(topic); known: \(QuestionSet.topics.joined(separator: ", "))") }
                guard weight >= 0 else { throw SimulatorError("\(where_): topic \(topic) has a negative weight") }
            }
            guard mix.values.reduce(0, +) > 0 else { throw SimulatorError("\(where_): the topic weights add up to zero") }
        }
        try checkTopics(topics, "scenario \(name)")
        guard !tenants.isEmpty, tenants.values.allSatisfy({ $0 >= 0 }) else { throw SimulatorError("scenario \(name): tenants need non-negative shares") }
        guard diurnal >= 0, diurnal < 1 else { throw SimulatorError("scenario \(name): diurnal must be in [0, 1)") }
        for (index, phase) in phases.enumerated() {
            let place = "scenario \(name), phase \(index + 1) (at \(phase.at))"
            for model in phase.models ?? [] where !servers.contains(model) {
                throw SimulatorError("\(place): no model server \(model); the fleet has \(servers.sorted().joined(separator: ", "))")
            }
            if let topics = phase.topics { try checkTopics(topics, place) }
            for value in [phase.traffic, phase.promptTokens, phase.outputTokens].compactMap({ $0 }) where value <= 0 {
                throw SimulatorError("\(place): multipliers must be positive")
            }
            if let rate = phase.errorRate, !(0...1).contains(rate) { throw SimulatorError("\(place): error_rate must be between 0 and 1") }
        }
    }

    /// The names of the built-in scenarios.
    public static let builtInNames = ["steady", "surge", "kv-pressure", "memory-leak", "bad-deploy", "prompt-drift", "upstream-errors", "p4de-incident"]

    /// The resource bundle SwiftPM builds beside the binary, which holds the `Scenarios` folder.
    static let resourceBundleName = "Bifocal_BifocalSimulator.resources"

    /// Folders that may hold the built-in scenario files, in order: the resource bundle beside the
    /// running binary (as SwiftPM lays it out, and as an install copies it), beside the binary a
    /// symbolic link points to, and the package's source folder (a build on this machine).
    ///
    /// SwiftPM's own `Bundle.module` stops the process when its bundle is missing; a binary copied
    /// without its bundle should say what is missing instead.
    static var builtInCandidates: [URL] {
        var folders = [Bundle.main.bundleURL]
        if let executable = Bundle.main.executableURL {
            folders.append(executable.resolvingSymlinksInPath().deletingLastPathComponent())
        }
        var candidates = folders.map { $0.appendingPathComponent(resourceBundleName).appendingPathComponent("Scenarios") }
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scenarios"))
        return candidates
    }

    /// The first of `candidates` that holds the built-in scenario files.
    static func builtInDirectory(searching candidates: [URL]) -> URL? {
        candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("steady.yaml").path) }
    }

    /// Where the built-in scenario files are; nil when they are not installed with the binary.
    public static var builtInDirectory: URL? { builtInDirectory(searching: builtInCandidates) }

    /// A built-in scenario by name.
    public static func builtIn(_ name: String) throws -> Scenario {
        try builtIn(name, searching: builtInCandidates)
    }

    /// A built-in scenario by name, its files looked for in `candidates`.
    static func builtIn(_ name: String, searching candidates: [URL]) throws -> Scenario {
        guard builtInNames.contains(name) else {
            throw SimulatorError("no scenario \(name); the built-in ones are \(builtInNames.joined(separator: ", ")), or give a YAML file's path")
        }
        guard let directory = builtInDirectory(searching: candidates) else {
            throw SimulatorError("""
                the built-in scenario files are missing: \(resourceBundleName) must sit beside the bifocal binary \
                (looked in \(candidates.map(\.path).joined(separator: ", "))); copy it along with the binary, \
                or give a scenario file's path
                """)
        }
        return try load(contentsOf: directory.appendingPathComponent("\(name).yaml"))
    }

    /// A built-in scenario by name, or a scenario file by path.
    public static func named(_ nameOrPath: String) throws -> Scenario {
        if builtInNames.contains(nameOrPath) { return try builtIn(nameOrPath) }
        guard FileManager.default.fileExists(atPath: nameOrPath) else {
            throw SimulatorError("no scenario \(nameOrPath); the built-in ones are \(builtInNames.joined(separator: ", ")), or give a YAML file's path")
        }
        return try load(contentsOf: URL(fileURLWithPath: nameOrPath))
    }

    /// Reads and checks a scenario file.
    public static func load(contentsOf url: URL) throws -> Scenario {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw SimulatorError("cannot read scenario \(url.path): \(error.localizedDescription)")
        }
        return try parse(text, source: url.lastPathComponent)
    }

    /// Parses and checks scenario YAML.
    public static func parse(_ text: String, source: String = "scenario") throws -> Scenario {
        let scenario: Scenario
        do {
            scenario = try YAMLDecoder().decode(Scenario.self, from: text)
        } catch let error as DecodingError {
            throw SimulatorError("\(source): \(describe(error))")
        } catch {
            throw SimulatorError("\(source): \(error)")
        }
        try scenario.validate()
        return scenario
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])): missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// What the scenario says for one model server at one instant.
public struct ScenarioEffects: Sendable, Equatable {
    /// Multiplier on arrivals (diurnal curve and bursts included).
    public var traffic = 1.0
    /// Multiplier on the median prompt length.
    public var promptTokens = 1.0
    /// Multiplier on the median output length.
    public var outputTokens = 1.0
    /// GPU memory leak rate, MiB per minute of scenario time.
    public var memoryLeakMiBPerMinute = 0.0
    /// The version label.
    public var version: String
    /// Fault shares.
    public var faults: [AnswerFault: Double]
    /// Topic weights.
    public var topics: [String: Double]
    /// Share of requests answered with 5xx.
    public var errorRate = 0.0
}

extension Scenario {
    /// The effects at `time` seconds into the scenario on `server`, at absolute scenario clock
    /// `clock` (microseconds since the epoch, for the daily curve), with `burst` true while an
    /// unscripted burst runs.
    public func effects(at time: Double, clock: Int64, server: ModelServerSpec, burst: Bool) -> ScenarioEffects {
        var effects = ScenarioEffects(version: server.version, faults: baselineFaults, topics: topics)
        let dayFraction = Double(((clock % 86_400_000_000) + 86_400_000_000) % 86_400_000_000) / 86_400_000_000
        // Peak at 15:00 UTC, trough at 03:00.
        effects.traffic = 1 + diurnal * sin(2 * Double.pi * (dayFraction - 0.375))
        if burst { effects.traffic *= burstFactor }
        for phase in phases {
            if let models = phase.models, !models.isEmpty, !models.contains(server.name) { continue }
            let start = phase.at.seconds
            guard time >= start else { continue }
            if let length = phase.duration?.seconds, time >= start + length { continue }
            let strength = phase.ramp.map { $0.seconds > 0 ? min(1, (time - start) / $0.seconds) : 1 } ?? 1
            func scaled(_ multiplier: Double?) -> Double { multiplier.map { 1 + ($0 - 1) * strength } ?? 1 }
            effects.traffic *= scaled(phase.traffic)
            effects.promptTokens *= scaled(phase.promptTokens)
            effects.outputTokens *= scaled(phase.outputTokens)
            if let leak = phase.memoryLeakMiBPerMinute { effects.memoryLeakMiBPerMinute = leak * strength }
            if let version = phase.version { effects.version = version }
            if let faults = phase.faults { effects.faults = faults }
            if let topics = phase.topics { effects.topics = topics }
            if let rate = phase.errorRate { effects.errorRate = rate * strength }
        }
        return effects
    }
}
