import ArgumentParser

/// The `bifocal` command: observability for LLM inference, quantity and quality through one lens.
@main
struct Bifocal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bifocal",
        abstract: "Observability for LLM inference: latency, tokens, errors and cost per model, from one binary.",
        discussion: """
            Start a server with `bifocal serve` (no config needed: data in ./bifocal-data, \
            listening on 127.0.0.1:8787), send it records with `bifocal ingest FILE` or \
            POST /api/v1/records, and ask it questions with `bifocal query ttft.p95 --by model`.
            """,
        version: "0.1.0",
        subcommands: [Demo.self, Serve.self, Simulate.self, Ingest.self, Query.self, ConfigCommand.self, MetricsCommand.self, Bench.self, GrafanaCommand.self, DevBackfill.self]
    )
}
