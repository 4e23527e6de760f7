public import BifocalCore
import BifocalGateway
import BifocalStore
public import BifocalSimulator
import Foundation

/// The configuration `bifocal demo` runs with, built from the scenario's fleet instead of a config
/// file: the endpoint with its price and GPUs, one scrape target per simulated vLLM server and
/// DCGM exporter, and one gateway upstream per model server, so traffic sent to the gateway's
/// `/v1` reaches the simulated fleet and is measured like real traffic.
public enum DemoSetup {
    /// A server configuration for the fleet of `scenario`, served by the simulator at
    /// `simulatorBaseURL`, listening on `port`, keeping data in `dataDirectory`.
    public static func configuration(scenario: Scenario, simulatorBaseURL: String, port: Int, dataDirectory: String,
                                     scrapeInterval: Int64 = 5 * Timestamp.microsPerSecond) -> BifocalConfiguration {
        let fleet = scenario.fleet
        var configuration = BifocalConfiguration()
        configuration.port = port
        configuration.storage.directory = dataDirectory
        configuration.endpoints = [fleet.endpointSpec]
        configuration.storage.endpoints = EndpointCatalog(configuration.endpoints)
        configuration.gpuSampler.mode = .off
        let base = simulatorBaseURL.hasSuffix("/") ? String(simulatorBaseURL.dropLast()) : simulatorBaseURL
        configuration.scrapeTargets = SimulatorBackfill(scenario: scenario, seed: 0, simulatorBaseURL: base).scrapeTargets(interval: scrapeInterval)
        var upstreams: [UpstreamConfiguration] = []
        for server in fleet.servers {
            var upstream = UpstreamConfiguration(name: server.name, baseURLs: ["\(base)/servers/\(server.name)"], models: [server.name])
            upstream.provider = "vllm"
            upstream.endpoint = fleet.endpoint
            upstream.instance = fleet.instance
            upstreams.append(upstream)
        }
        configuration.gateway = GatewayConfiguration(upstreams: upstreams, defaultUpstream: nil)
        // Every answer is kept (redacted) so quality work has texts to judge.
        configuration.gateway.captureSampleRate = 1
        return configuration
    }

    /// A config file for `bifocal serve` over a folder the simulator filled: the data folder, a
    /// retention that keeps the whole history, and the fleet's endpoint (price, GPUs, models).
    public static func configurationYAML(scenario: Scenario, dataDirectory: String, retentionDays: Int) -> String {
        let fleet = scenario.fleet
        var text = """
            storage:
              data: \(dataDirectory)
              retention:
                raw: \(retentionDays)d
                texts: \(retentionDays)d
            gpu_sampler:
              enabled: false
            endpoints:
              - name: \(fleet.endpoint)
                instance_type: \(fleet.instanceType)
                hourly_price: \(fleet.hourlyPrice)
                gpus: \(fleet.gpuCount)
                models:

            """
        for server in fleet.servers { text += "      - name: \(server.name)\n        gpus: \(server.gpus.count)\n" }
        return text
    }
}
