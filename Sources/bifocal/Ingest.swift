import ArgumentParser
import BifocalServer
import Foundation

/// Options for talking to a running server.
struct ServerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Server base URL (default http://127.0.0.1:8787). Also BIFOCAL_SERVER.", valueName: "url"))
    var server: String?

    @Option(name: .long, help: ArgumentHelp("Bearer token for the server. Also BIFOCAL_TOKEN.", valueName: "token"))
    var token: String?

    var client: RemoteClient {
        let environment = ProcessInfo.processInfo.environment
        return RemoteClient(baseURL: server ?? environment["BIFOCAL_SERVER"] ?? "http://127.0.0.1:8787",
                            token: token ?? environment["BIFOCAL_TOKEN"])
    }
}

/// `bifocal ingest FILE`.
struct Ingest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a file of inference records to a running server, or straight into a data folder.",
        discussion: """
            Formats: json (an array of records), ndjson (one record per line; .jsonl and .ndjson files), \
            capture (SageMaker Data Capture JSONL; give --endpoint, which lives in the capture's S3 path). \
            Without --data the records go to the server (--server, default http://127.0.0.1:8787); with --data \
            they go straight into that data folder, which no server may hold. Invalid records are listed \
            with their position and reason; the valid ones are kept. Exits 1 when any record was rejected.
            """
    )

    @Argument(help: ArgumentHelp("The file to read.", valueName: "file"))
    var file: String

    @Option(name: .long, help: "json, ndjson or capture (default: from the file name).")
    var format: String?

    @Option(name: .long, help: "Records per batch.")
    var batchSize: Int = 1000

    @Option(name: .long, help: "For captures: the endpoint the file was captured from.")
    var endpoint: String?

    @Option(name: .long, help: "For captures: the production variant.")
    var variant: String?

    @Option(name: .long, help: ArgumentHelp("Write into this data folder instead of sending to a server.", valueName: "dir"))
    var data: String?

    @OptionGroup var server: ServerOptions

    @Flag(name: .long, help: "No progress bar.")
    var quiet = false

    func run() async throws {
        let chosenFormat: FileIngest.Format
        if let format {
            guard let f = FileIngest.Format(rawValue: format) else {
                throw ValidationError("--format must be one of \(FileIngest.Format.allCases.map(\.rawValue).joined(separator: ", ")), not \(format)")
            }
            chosenFormat = f
        } else {
            chosenFormat = FileIngest.Format.guess(path: file)
        }
        guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let job = FileIngest(format: chosenFormat, batchSize: batchSize, endpoint: endpoint, variant: variant)
        let destination: FileIngest.Destination
        if let data {
            var configuration = BifocalConfiguration()
            configuration.dataDirectory = data
            destination = .dataFolder(configuration)
        } else {
            destination = .server(server.client)
        }
        let bar = ProgressBar(enabled: !quiet)
        let summary: FileIngest.Summary
        do {
            summary = try await job.run(path: file, to: destination) { done, total in bar.update(done: done, total: total) }
        } catch {
            bar.finish()
            throw error
        }
        bar.finish()
        print("accepted \(summary.accepted), duplicates \(summary.duplicates), rejected \(summary.rejected.count)")
        for rejection in summary.rejected.prefix(50) {
            print("  record \(rejection.index)\(rejection.field.map { " field \($0)" } ?? ""): \(rejection.error)")
        }
        if summary.rejected.count > 50 { print("  ... and \(summary.rejected.count - 50) more") }
        if !summary.rejected.isEmpty { throw ExitCode(1) }
    }
}

