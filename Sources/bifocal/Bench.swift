import ArgumentParser
import BifocalServer
import Foundation
import NIOCore
import NIOPosix

/// `bifocal bench`.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure decode, HTTP ingest and query speed (the figures in BENCHMARKS.md).",
        discussion: """
            Build in release mode first: `swift build -c release`, then `.build/release/bifocal bench`. \
            Each figure is printed with a baseline measured in the same run. Data goes to a temporary \
            folder that is removed afterwards (or --data DIR, kept).
            """
    )

    @Argument(help: "What to measure: decode, ingest, query, parse, scrape, otlp, dashboard, gateway, or all; demo and backfill run only when named.")
    var what: String = "all"

    @Option(name: .long, help: "Records for the HTTP ingest run.")
    var ingestRecords: Int = 1_000_000

    @Option(name: .long, help: "Concurrent connections for the HTTP ingest run.")
    var connections: Int = 4

    @Option(name: .long, help: "Records for the query run.")
    var queryRecords: Int = 1_000_000

    @Option(name: .long, help: "Days the query run's records span.")
    var days: Int = 1

    @Option(name: .long, help: "Scrape targets for the scrape run.")
    var scrapeTargets: Int = 50

    @Option(name: .long, help: "Scrape interval for the scrape run (5s).")
    var scrapeInterval: String = "5s"

    @Option(name: .long, help: "How long the scrape run measures (60s).")
    var scrapeDuration: String = "60s"

    @Option(name: .long, help: "GenAI spans for the OTLP run (sent in 512-span export requests).")
    var otlpSpans: Int = 512_000

    @Option(name: .long, help: "Records for the dashboard run.")
    var dashboardRecords: Int = 1_000_000

    @Option(name: .long, help: "Days of records and series for the dashboard run.")
    var dashboardDays: Int = 30

    @Option(name: .long, help: "Sequential non-streamed requests per target for the gateway run.")
    var gatewayRequests: Int = 5_000

    @Option(name: .long, help: "Concurrent clients for the gateway throughput run.")
    var gatewayConcurrency: Int = 32

    @Option(name: .long, help: "Concurrent streams for the gateway streaming run.")
    var gatewayStreams: Int = 256

    @Option(name: .long, help: ArgumentHelp("Another proxy to measure in the same run, in front of the same upstream (start it with --gateway-upstream-port).", valueName: "name=url"))
    var compare: [String] = []

    @Option(name: .long, help: "Port for the gateway run's scripted upstream (default: a free one), so another proxy can point at it.")
    var gatewayUpstreamPort: Int = 0

    @Option(name: .long, help: "Scenario for the demo and backfill runs.")
    var demoScenario: String = "steady"
    @Option(name: .long, help: "Minutes the demo run lasts (not part of all).")
    var demoMinutes: Double = 10
    @Option(name: .long, help: "Speed of the demo run's scenario script.")
    var demoSpeed: Double = 10
    @Flag(name: .long, help: "Run Swift's tasks on NIO's event loops (NIO's global-executor hook) in every run.")
    var nioExecutor = false
    @Option(name: .long, help: "Days of history for the backfill run (not part of all).")
    var backfillDays: Double = 7
    @Option(name: .long, help: "Load multiplier for the backfill run.")
    var backfillLoad: Double = 1
    @Option(name: .long, help: "End of the backfill run's history, seconds since the epoch (default: now); a fixed end writes the same records run after run.")
    var backfillEnd: Double?
    @Option(name: .long, help: "Every n-th record of the backfill run keeps its prompt, response and reference (the default, 1, as bifocal simulate --backfill writes).")
    var backfillTextEvery: Int = 1

    @Option(name: .long, help: "Data folder (default: a temporary folder, removed afterwards).")
    var data: String?

    func run() async throws {
        guard ["decode", "ingest", "query", "parse", "scrape", "otlp", "dashboard", "gateway", "demo", "backfill", "all"].contains(what) else {
            throw ValidationError("measure decode, ingest, query, parse, scrape, otlp, dashboard, gateway, demo, backfill or all, not \(what)")
        }
        if nioExecutor {
            say("tasks run on NIO's event loops: \(NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor())")
        }
        #if DEBUG
        print("warning: this is a debug build; figures mean little. Use `swift build -c release`.")
        #endif
        let report: @Sendable (String) -> Void = { say($0) }
        func folder(_ name: String) throws -> String {
            if let data { return "\(data)/\(name)" }
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("bifocal-bench-\(name)-\(UUID().uuidString)").path
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            return path
        }
        func cleanup(_ path: String) { if data == nil { try? FileManager.default.removeItem(atPath: path) } }
        if what == "decode" || what == "all" {
            try Benchmark.decode(report: report)
        }
        if what == "ingest" || what == "all" {
            let path = try folder("ingest")
            try await Benchmark.ingest(records: ingestRecords, connections: connections, batchSize: 1000, directory: path, report: report)
            cleanup(path)
        }
        if what == "parse" || what == "all" {
            try Benchmark.parse(report: report)
        }
        if what == "scrape" || what == "all" {
            let path = try folder("scrape")
            try await Benchmark.scrape(targets: scrapeTargets, interval: scrapeInterval, duration: scrapeDuration, directory: path, report: report)
            cleanup(path)
        }
        if what == "otlp" || what == "all" {
            let path = try folder("otlp")
            try await Benchmark.otlp(spans: otlpSpans, connections: connections, batchSize: 512, directory: path, report: report)
            cleanup(path)
        }
        if what == "gateway" || what == "all" {
            let path = try folder("gateway")
            let others = try compare.map { text -> (name: String, url: String) in
                guard let eq = text.firstIndex(of: "="), eq != text.startIndex else { throw ValidationError("--compare takes name=url, not \(text)") }
                return (String(text[..<eq]), String(text[text.index(after: eq)...]))
            }
            try await Benchmark.gateway(sequential: gatewayRequests, concurrency: gatewayConcurrency, throughputSeconds: 10,
                                        streams: gatewayStreams, chunks: 20, directory: path, compare: others,
                                        upstreamPort: gatewayUpstreamPort, report: report)
            cleanup(path)
        }
        if what == "dashboard" || what == "all" {
            let path = try folder("dashboard")
            try await Benchmark.dashboard(records: dashboardRecords, days: dashboardDays, directory: path, report: report)
            cleanup(path)
        }
        if what == "demo" {
            let path = try folder("demo")
            try await Benchmark.demo(scenario: demoScenario, minutes: demoMinutes, speed: demoSpeed, directory: path, report: report)
            cleanup(path)
        }
        if what == "backfill" {
            let path = try folder("backfill")
            try await Benchmark.backfill(scenario: demoScenario, days: backfillDays, load: backfillLoad,
                                         end: backfillEnd.map { Int64($0 * 1e6) }, textEvery: backfillTextEvery, directory: path, report: report)
            cleanup(path)
        }
        if what == "query" || what == "all" {
            let path = try folder("query")
            try await Benchmark.query(records: queryRecords, days: days, directory: path, report: report)
            cleanup(path)
        }
    }
}
