import BifocalCore
public import BifocalSimulator
import BifocalGateway
import BifocalStore
import Foundation
public import Logging
import ServiceLifecycle
import UnixSignals

/// What `bifocal demo` runs: which scenario, how fast, where.
public struct DemoOptions: Sendable {
    /// The scenario played (its fleet included).
    public var scenario: Scenario
    /// How much faster than real time the script plays.
    public var speed: Double = 1
    /// Seed for every draw.
    public var seed: UInt64 = 1
    /// Bifocal's port (dashboard, API, gateway); 0 takes a free one.
    public var port: Int = 8787
    /// The simulated fleet's port; 0 takes a free one.
    public var simulatorPort: Int = 8788
    /// Where the store lives.
    public var dataDirectory: String
    /// History written in virtual time before the live run starts (0: none), microseconds.
    public var history: Int64 = 0
    /// Seconds between scrapes of the fleet's targets.
    public var scrapeInterval: Int64 = 5 * Timestamp.microsPerSecond

    /// Options for `scenario` keeping data in `dataDirectory`.
    public init(scenario: Scenario, dataDirectory: String) {
        self.scenario = scenario
        self.dataDirectory = dataDirectory
    }
}

/// Where the demo's parts listen, once they do.
public struct DemoAddresses: Sendable {
    /// Bifocal: dashboard at `/`, API under `/api/v1`, gateway under `/v1`.
    public var bifocal: String
    /// The simulated fleet (`/sim` describes it).
    public var simulator: String
}

/// Runs the whole demo: the simulated fleet on loopback, Bifocal's server with its gateway in
/// front of the fleet and its scrapers on the fleet's vLLM and DCGM targets, and traffic sent
/// through the gateway, until cancelled or stopped by SIGINT/SIGTERM (then gracefully: streams
/// drain, records are flushed, the store is closed).
public enum DemoRunner {
    /// Runs the demo; `ready` hears the addresses once everything listens, and gets the fleet and
    /// the traffic client (to read counts or the simulator's truth).
    public static func run(_ options: DemoOptions, logger: Logger, handleSignals: Bool = true,
                           ready: @escaping @Sendable (DemoAddresses, LiveFleet, TrafficClient) async -> Void = { _, _, _ in }) async throws {
        let fleet = try LiveFleet(scenario: options.scenario, speed: options.speed, seed: options.seed)
        let simulatorPorts = AsyncStream<Int>.makeStream()
        let simulator = LiveFleetServer(fleet: fleet, port: options.simulatorPort, logger: logger) { simulatorPorts.continuation.yield($0) }
        let bifocalPorts = AsyncStream<Int>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            // The fleet first: Bifocal's gateway and scrapers need its address.
            tasks.addTask {
                // A server that cannot start (its port taken) ends the port stream, so the wait
                // below ends and the error comes out of the group instead of a silent hang.
                defer { simulatorPorts.continuation.finish() }
                try await runUntilCancelled(simulator, logger: logger, handleSignals: false)
            }
            var simulatorIterator = simulatorPorts.stream.makeAsyncIterator()
            guard let simulatorPort = await simulatorIterator.next() else {
                do { try await tasks.next() } catch {
                    throw DemoError(message: "the simulated fleet could not listen on 127.0.0.1:\(options.simulatorPort): \(error)")
                }
                throw DemoError(message: "the simulated fleet did not start on 127.0.0.1:\(options.simulatorPort)")
            }
            let simulatorURL = "http://127.0.0.1:\(simulatorPort)"

            let configuration = DemoSetup.configuration(scenario: options.scenario, simulatorBaseURL: simulatorURL, port: options.port,
                                                        dataDirectory: options.dataDirectory, scrapeInterval: options.scrapeInterval)
            let store = try SQLiteStore.open(configuration.storage)
            if options.history > 0 {
                var backfill = SimulatorBackfill(scenario: options.scenario, seed: options.seed &+ 1, simulatorBaseURL: simulatorURL)
                backfill.speed = options.speed
                // The history is the calm before the script, which the live run then plays.
                backfill.script = .startsAtEnd
                let seriesRawRetention = configuration.storage.seriesRawRetention
                let history = backfill
                do {
                    try await interruptible(byUnixSignals: handleSignals) {
                        _ = try await history.run(into: store, duration: options.history, end: Timestamp.now(),
                                                   seriesRawRetention: seriesRawRetention, catchUp: true)
                    }
                } catch {
                    // Stopped (or failed) before the server started: close the store so that a
                    // temporary data folder can be removed, and the fleet stops with the group.
                    try? await store.close()
                    throw error
                }
            }
            let app = buildApplication(configuration: configuration, store: store, logger: logger, onServerRunning: { bifocalPorts.continuation.yield($0) })
            tasks.addTask {
                defer { bifocalPorts.continuation.finish() }
                try await runUntilCancelled(app, logger: logger, handleSignals: handleSignals)
                try await store.close()
            }
            var bifocalIterator = bifocalPorts.stream.makeAsyncIterator()
            guard let bifocalPort = await bifocalIterator.next() else {
                do { try await tasks.next() } catch {
                    throw DemoError(message: "Bifocal could not listen on 127.0.0.1:\(options.port): \(error)")
                }
                throw DemoError(message: "Bifocal's server did not start on 127.0.0.1:\(options.port)")
            }
            let bifocalURL = "http://127.0.0.1:\(bifocalPort)"
            let traffic = TrafficClient(fleet: fleet, baseURL: "\(bifocalURL)/v1", tenantHeader: configuration.gateway.tenantHeader, logger: logger)
            tasks.addTask { await traffic.run() }
            await ready(DemoAddresses(bifocal: bifocalURL, simulator: simulatorURL), fleet, traffic)
            // When Bifocal stops (a signal), the rest stops with it.
            _ = try await tasks.next()
            tasks.cancelAll()
        }
    }

    /// Runs `work`; with `byUnixSignals`, SIGINT or SIGTERM cancels it and it throws
    /// `DemoInterrupted` (the servers' own signal handling starts only once they run, and before
    /// that Ctrl-C would kill the process and leave its temporary data behind).
    static func interruptible(byUnixSignals: Bool, _ work: @escaping @Sendable () async throws -> Void) async throws {
        guard byUnixSignals else { return try await work() }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await work()
                return true
            }
            group.addTask {
                for await _ in await UnixSignalsSequence(trapping: .sigint, .sigterm) { return false }
                return true
            }
            let finished = try await group.next() ?? true
            group.cancelAll()
            if !finished { throw DemoInterrupted() }
        }
    }

    /// Runs one service in its own group: on a signal (when handled) or cancellation it shuts
    /// down gracefully.
    static func runUntilCancelled(_ service: some Service, logger: Logger, handleSignals: Bool) async throws {
        var configuration = ServiceGroupConfiguration(services: [.init(service: service)],
                                                      gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
                                                      logger: logger)
        // A busy fleet can have hundreds of streams queued behind a surge, each minutes from its
        // end: Ctrl-C waits this long for them, then cancels them (their records say cancelled,
        // and the record queue still flushes; see RecordQueue).
        configuration.maximumGracefulShutdownDuration = .seconds(5)
        let group = ServiceGroup(configuration: configuration)
        // The group runs in a task of its own so that cancelling the demo shuts it down
        // gracefully (streams drain, records are flushed) instead of cancelling it mid-write.
        let running = Task { try await group.run() }
        try await withTaskCancellationHandler {
            try await running.value
        } onCancel: {
            Task { await group.triggerGracefulShutdown() }
        }
    }
}

/// The demo was stopped by a signal before its servers ran (while it wrote its history).
public struct DemoInterrupted: Error, CustomStringConvertible {
    /// What happened.
    public var description: String { "stopped while writing the history" }
}

/// Why the demo could not run.
public struct DemoError: Error, CustomStringConvertible {
    /// What went wrong.
    public var message: String
    /// The message.
    public var description: String { message }
}
