import ArgumentParser
import BifocalServer
import Foundation

/// `bifocal grafana-dashboard`.
struct GrafanaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grafana-dashboard",
        abstract: "Write a Grafana dashboard (JSON) over Bifocal's /metrics, for Grafana and Prometheus users.",
        discussion: """
            Prometheus scrapes Bifocal's /metrics; the dashboard reads the bifocal_* gauges there (requests, \
            errors, TTFT/ITL/E2E quantiles, tokens, cost, GPUs, KV cache, queue). Import the file in Grafana \
            under Dashboards > New > Import. Thresholds come from the config's dashboard: section (--config).
            """
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("Write here instead of standard output.", valueName: "file"))
    var output: String?

    @Option(name: .long, help: ArgumentHelp("Uid of the Prometheus data source (default: a data source variable).", valueName: "uid"))
    var datasource: String?

    @Option(name: .long, help: "The dashboard's title.")
    var title: String = "Bifocal: LLM inference"

    @Option(name: .long, help: ArgumentHelp("YAML config file, for the dashboard: thresholds.", valueName: "file"))
    var config: String?

    func run() async throws {
        let settings = try config.map { try BifocalConfiguration.load(file: $0).dashboard } ?? DashboardSettings()
        let json = GrafanaDashboard.json(title: title, datasource: datasource, settings: settings)
        if let output {
            try json.write(toFile: output, atomically: true, encoding: .utf8)
            say("wrote \(output)")
        } else {
            print(json, terminator: "")
        }
    }
}
