import ArgumentParser
import BifocalServer

/// `bifocal metrics`.
struct MetricsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Work with Prometheus and OpenMetrics exposition text.",
        subcommands: [Parse.self]
    )

    /// `bifocal metrics parse FILE`.
    struct Parse: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Parse a scrape and print each sample as one JSON line.",
            discussion: """
                Prints {"name","labels","value","timestamp"} per sample: value is a number or "NaN", "+Inf", "-Inf"; \
                timestamp is unix seconds or null. Reads Prometheus text format 0.0.4 by default; with \
                --openmetrics, OpenMetrics 1.0 with every rule of its specification. Invalid input prints \
                FILE:LINE:COLUMN: reason and exits 1.
                """
        )

        @Argument(help: ArgumentHelp("The exposition file.", valueName: "file"))
        var file: String

        @Flag(name: .long, help: "Read OpenMetrics 1.0 (# EOF required; all of the specification's rules).")
        var openmetrics = false

        @Flag(name: .long, help: "Skip the rules about values (e.g. a histogram _sum with negative buckets), as some real exporters break them.")
        var lenient = false

        func run() async throws {
            do {
                for line in try MetricsFile.parse(path: file, openMetrics: openmetrics, checkValues: !lenient) { say(line) }
            } catch let error as MetricsFile.Invalid {
                say(error.description)
                throw ExitCode(1)
            }
        }
    }
}
