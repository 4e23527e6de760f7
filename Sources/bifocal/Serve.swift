import ArgumentParser
import BifocalServer
import Foundation
import Hummingbird
import Logging

/// Options shared by commands that read the server's configuration.
struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("YAML config file (see the README's configuration reference). Also BIFOCAL_CONFIG.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("Data folder (default ./bifocal-data). Also BIFOCAL_DATA.", valueName: "dir"))
    var data: String?

    /// File, then environment, then flags, over the defaults.
    func load() throws -> BifocalConfiguration {
        let environment = ProcessInfo.processInfo.environment
        var configuration = BifocalConfiguration()
        if let file = config ?? environment["BIFOCAL_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) {
            configuration = try BifocalConfiguration.load(file: file)
        }
        try configuration.applyEnvironment(environment)
        if let data { configuration.dataDirectory = data }
        return configuration
    }
}

/// `bifocal serve`.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the Bifocal server: ingest API, signal queries, /metrics.",
        discussion: """
            With no config at all it keeps data in ./bifocal-data and listens on 127.0.0.1:8787. \
            Settings come from the config file, then BIFOCAL_* environment variables, then these flags. \
            Listening on a non-loopback address requires bearer tokens (server.tokens or BIFOCAL_TOKENS). \
            SIGTERM or SIGINT stops it gracefully: pending writes are committed and the store is closed.
            """
    )

    @OptionGroup var options: ConfigOptions

    @Option(name: .long, help: ArgumentHelp("Address to listen on (default 127.0.0.1). Also BIFOCAL_HOST.", valueName: "host"))
    var host: String?

    @Option(name: .long, help: ArgumentHelp("Port to listen on (default 8787; 0 picks a free one). Also BIFOCAL_PORT.", valueName: "port"))
    var port: Int?

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, notice, warning, error.", valueName: "level"))
    var logLevel: String = "info"

    func run() async throws {
        var configuration = try options.load()
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "bifocal")
        let directory = configuration.dataDirectory
        let host = configuration.host
        let app = try await buildApplication(configuration: configuration, logger: logger) { port in
            say("Bifocal is listening on http://\(host):\(port) (data in \(directory))")
            say("  send records:  curl -X POST http://\(host):\(port)/api/v1/records -H 'content-type: application/json' -d @records.json")
            say("  ask:           curl 'http://\(host):\(port)/api/v1/query?signal=ttft.p95&by=model&since=1h'")
        }
        try await app.runService()
    }
}
