import ArgumentParser
import BifocalCore
import BifocalServer
import BifocalStore
import Foundation

/// `bifocal dev-backfill`: fills a data folder with the demo fleet's history (two vLLM model
/// servers on an 8-GPU node, with an incident at the end), for the dashboard's screenshots,
/// browser test and benchmark. Hidden: a development tool, not a feature.
struct DevBackfill: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev-backfill",
        abstract: "Fill a data folder with a synthetic history (development and tests).",
        shouldDisplay: false
    )

    @Option(name: .long, help: ArgumentHelp("Data folder to fill (created; must not be in use).", valueName: "dir"))
    var data: String

    @Option(name: .long, help: "Days of history, ending now.")
    var days: Double = 2

    @Option(name: .long, help: "Mean requests per second over a day.")
    var rate: Double = 1

    @Option(name: .long, help: "Every Nth record keeps its prompt and response (0: none).")
    var textEvery: Int = 4

    @Option(name: .long, help: ArgumentHelp("Also write a config file for `bifocal serve` over the folder (endpoint prices and GPUs).", valueName: "file"))
    var writeConfig: String?

    func run() async throws {
        let now = Timestamp.now()
        let fleet = DemoFleet(now: now)
        var configuration = StoreConfiguration(directory: data)
        configuration.endpoints = EndpointCatalog([fleet.endpointSpec])
        configuration.rawRetention = max(configuration.rawRetention, Int64((days + 1) * Double(Timestamp.microsPerDay)))
        configuration.textRetention = configuration.rawRetention
        let store = try SQLiteStore.open(configuration)
        let clock = ContinuousClock()
        let started = clock.now
        let (records, points) = try await fleet.backfill(into: store, days: days, requestsPerSecond: rate, textEvery: textEvery, report: { say($0) })
        try await store.close()
        let elapsed = clock.now - started
        say("stored \(records) records and \(points) series points in \(data) (\(elapsed.components.seconds) s)")
        if let writeConfig {
            let retentionDays = Int(days.rounded(.up)) + 1
            let yaml = """
                storage:
                  data: \(data)
                  retention:
                    raw: \(retentionDays)d
                    texts: \(retentionDays)d
                gpu_sampler:
                  enabled: false
                \(fleet.endpointsYAML)
                """
            try yaml.write(toFile: writeConfig, atomically: true, encoding: .utf8)
            say("wrote \(writeConfig)")
        }
    }
}
