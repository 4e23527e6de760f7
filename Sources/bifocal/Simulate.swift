import ArgumentParser
import BifocalCore
import BifocalServer
import BifocalSimulator
import BifocalStore
import Foundation
import Hummingbird
import Logging

/// Options shared by `bifocal simulate` and `bifocal demo`: which scenario, how fast, which seed.
struct ScenarioOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("A built-in scenario (\(Scenario.builtInNames.joined(separator: ", "))) or a scenario YAML file.", valueName: "name"))
    var scenario: String = "steady"

    @Option(name: .long, help: ArgumentHelp("Play the scenario's script this many times faster (request rates and token pacing stay real).", valueName: "x"))
    var speed: Double = 1

    @Option(name: .long, help: "Seed for every random draw: the same seed replays the same run.")
    var seed: UInt64 = 1

    @Option(name: .long, help: ArgumentHelp("Multiply every model's request rate (the default is a few requests per second per model).", valueName: "x"))
    var load: Double = 1

    func validate() throws {
        guard speed > 0, speed <= 10_000 else { throw ValidationError("--speed must be above 0 and at most 10000, not \(speed)") }
        guard load > 0, load <= 100 else { throw ValidationError("--load must be above 0 and at most 100, not \(load)") }
    }

    /// The scenario, read and checked, with the load applied.
    func resolve() throws -> Scenario {
        var loaded: Scenario
        do { loaded = try Scenario.named(scenario) } catch let error as SimulatorError {
            throw ValidationError(error.description)
        }
        loaded.fleet = loaded.fleet.scaled(load: load)
        return loaded
    }
}

/// Parses `7d`, `12h`, `90m` for an option.
func parseDuration(_ text: String, option: String) throws -> Int64 {
    guard let duration = SimDuration(parsing: text), duration.seconds > 0 else {
        throw ValidationError("\(option): \"\(text)\" is not a duration (write 90m, 12h or 7d)")
    }
    return Int64(duration.seconds * 1e6)
}

/// Fills a data folder with a simulated history, reporting progress.
func backfillHistory(scenario: Scenario, seed: UInt64, speed: Double, duration: Int64, into store: any Store,
                     simulatorBaseURL: String, storage: StoreConfiguration) async throws -> (records: Int, points: Int) {
    var backfill = SimulatorBackfill(scenario: scenario, seed: seed, simulatorBaseURL: simulatorBaseURL)
    backfill.speed = speed
    let bar = ProgressBar(enabled: true)
    let clock = ContinuousClock()
    let started = clock.now
    let result = try await backfill.run(into: store, duration: duration, end: Timestamp.now(), seriesRawRetention: storage.seriesRawRetention, catchUp: true) { fraction, records, points in
        bar.update(fraction: fraction, note: "\(records) records, \(points) series points")
    }
    bar.finish()
    let elapsed = clock.now - started
    say("simulated \(SimDuration(seconds: Double(duration) / 1e6)) of \(scenario.name): \(result.records) records and \(result.points) series points in \(String(format: "%.1f", Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)) s")
    return result
}

/// `bifocal simulate`: the simulated fleet alone, live over HTTP or as history written in virtual time.
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a simulated LLM inference fleet, or write its history into a data folder.",
        discussion: """
            The fleet is a discrete-event model of continuous-batching model servers (vLLM-like) on \
            their GPUs: two models as inference components sharing a 4-GPU ml.g5.12xlarge unless the \
            scenario says otherwise. Live, it serves over HTTP on loopback an OpenAI-compatible \
            /servers/MODEL/v1/chat/completions that streams at the simulated pace, vLLM's /servers/MODEL/metrics \
            and DCGM exporter's /dcgm/MODEL/metrics, and sends itself traffic (or sends it to --traffic-url, \
            such as a Bifocal gateway's /v1). Point your own Prometheus or tools at it.

            With --backfill it runs in virtual time instead (no HTTP, no waiting) and writes the records \
            and scraped series of that much history, ending now, into --data:
              bifocal simulate --backfill 7d --data ./bifocal-data
            """
    )

    @OptionGroup var scenarioOptions: ScenarioOptions

    @Option(name: .long, help: ArgumentHelp("Write this much history (90m, 12h, 7d) into --data in virtual time, then exit.", valueName: "duration"))
    var backfill: String?

    @Option(name: .long, help: ArgumentHelp("Data folder the backfill writes (created; must not be in use).", valueName: "dir"))
    var data: String?

    @Option(name: .long, help: ArgumentHelp("Also write a config file for `bifocal serve` over the data folder (endpoint price and GPUs, retention).", valueName: "file"))
    var writeConfig: String?

    @Option(name: .long, help: ArgumentHelp("Port the live fleet listens on (127.0.0.1).", valueName: "port"))
    var port: Int = 8788

    @Option(name: .long, help: ArgumentHelp("Send the traffic here instead of to the fleet itself (an OpenAI-compatible base URL ending in /v1).", valueName: "url"))
    var trafficURL: String?

    @Flag(name: .long, help: "Serve the fleet but send it no traffic.")
    var noTraffic = false

    func validate() throws {
        if backfill != nil, data == nil { throw ValidationError("--backfill writes into a data folder: give --data DIR") }
        if backfill == nil, data != nil { throw ValidationError("--data is only used with --backfill (the live fleet keeps no data)") }
        if writeConfig != nil, backfill == nil { throw ValidationError("--write-config goes with --backfill") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
    }

    func run() async throws {
        let scenario = try scenarioOptions.resolve()
        if let backfill, let data {
            let duration = try parseDuration(backfill, option: "--backfill")
            var storage = StoreConfiguration(directory: data)
            storage.endpoints = EndpointCatalog([scenario.fleet.endpointSpec])
            // Keep every record of the history: raw retention at least its length.
            storage.rawRetention = max(storage.rawRetention, duration + Timestamp.microsPerDay)
            storage.textRetention = storage.rawRetention
            let store = try SQLiteStore.open(storage)
            _ = try await backfillHistory(scenario: scenario, seed: scenarioOptions.seed, speed: scenarioOptions.speed, duration: duration,
                                          into: store, simulatorBaseURL: "http://127.0.0.1:\(port)", storage: storage)
            try await store.close()
            if let writeConfig {
                let days = Int((Double(storage.rawRetention) / Double(Timestamp.microsPerDay)).rounded(.up))
                try DemoSetup.configurationYAML(scenario: scenario, dataDirectory: data, retentionDays: days).write(toFile: writeConfig, atomically: true, encoding: .utf8)
                say("wrote \(writeConfig): bifocal serve --config \(writeConfig)")
            }
            return
        }
        try await runLive(scenario: scenario)
    }

    /// Serves the fleet until Ctrl-C, sending it traffic unless told not to.
    func runLive(scenario: Scenario) async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let logger = Logger(label: "bifocal.simulate")
        let fleet = try LiveFleet(scenario: scenario, speed: scenarioOptions.speed, seed: scenarioOptions.seed)
        let ports = AsyncStream<Int>.makeStream()
        let server = LiveFleetServer(fleet: fleet, port: port, logger: logger) { ports.continuation.yield($0) }
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await server.runService() }
            var iterator = ports.stream.makeAsyncIterator()
            guard let bound = await iterator.next() else { return }
            let base = "http://127.0.0.1:\(bound)"
            say("Simulated fleet \(scenario.fleet.endpoint) (\(scenario.fleet.gpuCount) × \(scenario.fleet.gpu.uppercased()), scenario \(scenario.name) at \(scenarioOptions.speed)x, seed \(scenarioOptions.seed)) on \(base)")
            for spec in scenario.fleet.servers {
                say("  \(spec.name): OpenAI API \(base)/servers/\(spec.name)/v1   vLLM metrics \(base)/servers/\(spec.name)/metrics   DCGM \(base)/dcgm/\(spec.name)/metrics")
            }
            say("  all models behind one URL: \(base)/v1   what it is doing: \(base)/sim   per-request truth: \(base)/sim/truth")
            if !noTraffic {
                let target = trafficURL ?? "\(base)/v1"
                let traffic = TrafficClient(fleet: fleet, baseURL: target, logger: logger)
                tasks.addTask { await traffic.run() }
                say("  sending its traffic to \(target)")
            }
            say("Ctrl-C stops it.")
            _ = try await tasks.next()
            tasks.cancelAll()
        }
    }
}
