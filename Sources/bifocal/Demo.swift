import ArgumentParser
import BifocalCore
import BifocalServer
import BifocalSimulator
import Foundation
import Logging

/// `bifocal demo`: the whole job on one machine, with a simulated fleet.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show Bifocal doing its whole job against a simulated LLM fleet: one command, no config.",
        discussion: """
            Starts a simulated inference fleet on loopback (two models as inference components \
            sharing a 4-GPU ml.g5.12xlarge, vLLM-style, unless the scenario says otherwise), Bifocal's \
            server on its embedded defaults with its gateway in front of the fleet and its scrapers on \
            the fleet's vLLM and DCGM metrics, and traffic through the gateway. Then open the \
            dashboard URL it prints. Data is kept in a temporary folder (removed on exit) unless \
            --data is given. Ctrl-C stops everything cleanly.

            Scenarios: \(Scenario.builtInNames.joined(separator: ", ")) (or a YAML file). \
            Try: bifocal demo --scenario surge --speed 10
            """
    )

    @OptionGroup var scenarioOptions: ScenarioOptions

    @Option(name: .long, help: ArgumentHelp("Port for Bifocal (dashboard, API, gateway); the fleet takes the next one.", valueName: "port"))
    var port: Int = 8787

    @Option(name: .long, help: ArgumentHelp("Keep the data here instead of a temporary folder.", valueName: "dir"))
    var data: String?

    @Option(name: .long, help: ArgumentHelp("History to write before the live run, in virtual time (0 for none).", valueName: "duration"))
    var history: String = "2h"

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    var logLevel: String = "warning"

    func validate() throws {
        guard (0...65534).contains(port) else { throw ValidationError("--port must be 0-65534 (the fleet takes the next port)") }
        if history != "0" { _ = try parseDuration(history, option: "--history") }
    }

    func run() async throws {
        let scenario = try scenarioOptions.resolve()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .warning
            return handler
        }
        let temporary = data == nil
        let directory = data ?? FileManager.default.temporaryDirectory.appendingPathComponent("bifocal-demo-\(ProcessInfo.processInfo.processIdentifier)").path
        var options = DemoOptions(scenario: scenario, dataDirectory: directory)
        options.speed = scenarioOptions.speed
        options.seed = scenarioOptions.seed
        options.port = port
        options.simulatorPort = port == 0 ? 0 : port + 1
        options.history = history == "0" ? 0 : try parseDuration(history, option: "--history")
        if options.history > 0 { say("writing \(history) of history in virtual time…") }
        defer { if temporary { try? FileManager.default.removeItem(atPath: directory) } }
        do {
            try await runDemo(options, directory: directory, temporary: temporary, scenario: scenario)
        } catch is DemoInterrupted {
            say("demo stopped while writing its history\(temporary ? "; its temporary data is removed" : "")")
            return
        }
        say("demo stopped")
    }

    private func runDemo(_ options: DemoOptions, directory: String, temporary: Bool, scenario: Scenario) async throws {
        let logger = Logger(label: "bifocal.demo")
        let speed = scenarioOptions.speed
        let seed = scenarioOptions.seed
        try await DemoRunner.run(options, logger: logger) { addresses, fleet, traffic in
            let fleetSpec = scenario.fleet
            say("""

                Bifocal demo: scenario \(scenario.name) at \(speed)x (seed \(seed)). \(scenario.description)
                  dashboard:  \(addresses.bifocal)/
                  gateway:    \(addresses.bifocal)/v1   (OpenAI-compatible; models \(fleetSpec.servers.map(\.name).joined(separator: ", ")))
                  API:        \(addresses.bifocal)/api/v1/query?signal=ttft.p95&by=model&since=15m
                  metrics:    \(addresses.bifocal)/metrics
                  fleet:      \(addresses.simulator)/sim   (\(fleetSpec.gpuCount) × \(fleetSpec.gpu.uppercased()) on \(fleetSpec.instanceType), \(fleetSpec.endpoint))
                  data:       \(directory)\(temporary ? " (temporary)" : "")
                Traffic is flowing through the gateway. Ctrl-C stops everything.

                """)
            // A line a minute, so a terminal left open says the demo is alive.
            Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(60))
                    let counts = traffic.counts
                    say("  requests sent \(counts.sent), answered \(counts.ok), failed \(counts.failed), in flight \(counts.inFlight)")
                }
            }
            _ = fleet
        }
    }
}
