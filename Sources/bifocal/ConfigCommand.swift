import ArgumentParser
import BifocalServer

/// `bifocal config check FILE`.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with config files.",
        subcommands: [Check.self]
    )

    /// `bifocal config check FILE`.
    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a config file and point at the line of each mistake.",
            discussion: "Prints `FILE: ok` and exits 0, or one `FILE:LINE:COLUMN: setting: problem` line per mistake and exits 1."
        )

        @Argument(help: ArgumentHelp("The YAML config file.", valueName: "file"))
        var file: String

        func run() async throws {
            do {
                let configuration = try BifocalConfiguration.load(file: file)
                let problems = configuration.validate()
                guard problems.isEmpty else {
                    for problem in problems { print("\(file): \(problem)") }
                    throw ExitCode(1)
                }
                print("\(file): ok (\(configuration.endpoints.count) endpoint\(configuration.endpoints.count == 1 ? "" : "s"), listening on \(configuration.host):\(configuration.port), data in \(configuration.dataDirectory))")
            } catch let error as ConfigurationError {
                print(error.description)
                throw ExitCode(1)
            }
        }
    }
}
