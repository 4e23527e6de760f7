public import BifocalCore
public import Logging
import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Samples the local NVIDIA GPUs with `nvidia-smi` on an interval and pushes canonical GPU series
/// (`gpu.utilization`, `gpu.memory.*`, `gpu.power`, `gpu.temperature`, `gpu.sm_clock`) into a sink.
///
/// Each round runs `nvidia-smi --query-gpu=<fields> --format=csv,noheader,nounits` with a timeout;
/// when a GPU is in MIG mode it also reads `nvidia-smi -q -x` for the MIG devices' memory (labelled
/// `gpu_instance`). Without nvidia-smi on the PATH the sampler says so once and returns: the machine
/// has no NVIDIA driver, and asking again will not change that. When nvidia-smi is there but finds no
/// GPU or cannot talk to the driver, it says so once and retries rarely (`retryInterval`). Other
/// failures (a timeout, unreadable output) are logged once per distinct message and sampling goes on.
public struct GPUSampler: Sendable {
    /// Why one round produced no samples.
    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        /// The command is not on the PATH (or not executable).
        case notInstalled(String)
        /// nvidia-smi runs but sees no GPU, or cannot reach the driver (NVML initialisation failed).
        case noDevices(String)
        /// nvidia-smi did not finish within the timeout and was killed.
        case timedOut(String)
        /// nvidia-smi failed otherwise.
        case failed(String)
        /// nvidia-smi answered with output the parser rejects.
        case unparsable(String)

        /// The failure in words.
        public var description: String {
            switch self {
            case .notInstalled(let message), .noDevices(let message), .timedOut(let message),
                 .failed(let message), .unparsable(let message):
                return message
            }
        }
    }

    private let sink: any SeriesSink
    private let interval: Duration
    private let timeout: Duration
    private let retryInterval: Duration
    private let command: String
    private let fields: [String]
    private let labels: [String: String]
    private let logger: Logger
    private let now: @Sendable () -> Int64
    private let hung = HungRuns()

    /// Creates a sampler; nothing runs until `run()`.
    ///
    /// - Parameters:
    ///   - sink: where samples go.
    ///   - interval: time between rounds.
    ///   - timeout: how long one nvidia-smi run may take before it is killed.
    ///   - retryInterval: time between attempts while nvidia-smi reports no GPU or no driver.
    ///   - command: the nvidia-smi to run: a name looked up on `PATH`, or a path (tests point it at a script).
    ///   - fields: the `--query-gpu` fields, in order (`NvidiaSMI.fields`; unknown ones are ignored).
    ///   - labels: labels every sample carries; `host` defaults to this machine's host name and `job` to `nvidia-smi`.
    ///   - logger: where the sampler says what it does.
    ///   - now: the clock that stamps samples (microseconds since the epoch).
    public init(sink: any SeriesSink, interval: Duration = .seconds(15), timeout: Duration = .seconds(10),
                retryInterval: Duration = .seconds(600), command: String = "nvidia-smi",
                fields: [String] = NvidiaSMI.fields, labels: [String: String] = [:],
                logger: Logger = Logger(label: "bifocal.gpu-sampler"),
                now: @escaping @Sendable () -> Int64 = Timestamp.now) {
        self.sink = sink
        self.interval = interval
        self.timeout = timeout
        self.retryInterval = retryInterval
        self.command = command
        self.fields = fields
        var labels = labels
        if labels["host"] == nil { labels["host"] = ProcessInfo.processInfo.hostName }
        if labels["job"] == nil { labels["job"] = "nvidia-smi" }
        self.labels = labels
        self.logger = logger
        self.now = now
    }

    /// Samples every `interval` until the task is cancelled (then returns), or until it finds that
    /// nvidia-smi is not installed (then logs that once and returns).
    public func run() async throws {
        var lastProblem: String?
        while !Task.isCancelled {
            let started = ContinuousClock.now
            var pause = interval
            do throws(Failure) {
                let samples = try await sample()
                if lastProblem != nil {
                    logger.notice("GPU sampling resumed", metadata: ["gpus": "\(Set(samples.compactMap { $0.labels["gpu"] }).count)"])
                    lastProblem = nil
                }
                if !samples.isEmpty {
                    do {
                        _ = try await sink.submit(series: samples)
                    } catch {
                        logger.warning("GPU samples could not be stored", metadata: ["error": "\(error)"])
                    }
                }
            } catch .notInstalled(let message) {
                logger.notice("GPU sampling is off: \(message); no local GPU series will be recorded")
                return
            } catch .noDevices(let message) {
                if lastProblem != message {
                    logger.notice("GPU sampling is paused: \(message); retrying every \(Self.words(retryInterval))")
                    lastProblem = message
                }
                pause = retryInterval
            } catch {
                if Task.isCancelled { return }
                if lastProblem != error.description {
                    logger.warning("GPU sampling failed: \(error.description)")
                    lastProblem = error.description
                }
            }
            let elapsed = ContinuousClock.now - started
            do {
                try await Task.sleep(for: pause > elapsed ? pause - elapsed : .zero)
            } catch {
                return
            }
        }
    }

    /// Runs nvidia-smi once and returns the samples, stamped with the sampler's clock.
    public func sample() async throws(Failure) -> [SeriesSample] {
        guard let path = Self.resolve(command) else {
            let where_ = command.contains("/") ? command : "PATH (\(ProcessInfo.processInfo.environment["PATH"] ?? ""))"
            throw .notInstalled("\(command.contains("/") ? "no executable at" : "\(command) not found on") \(where_)")
        }
        let arguments = ["--query-gpu=" + fields.joined(separator: ","), "--format=csv,noheader,nounits"]
        let output = try await execute(path, arguments)
        let readings: [NvidiaSMI.Reading]
        do {
            readings = try NvidiaSMI.parseCSV(output, fields: fields)
        } catch {
            throw .unparsable("nvidia-smi output rejected: \(error)")
        }
        guard !readings.isEmpty else { throw .noDevices("nvidia-smi listed no GPUs") }
        let time = now()
        var samples = NvidiaSMI.samples(readings, at: time, labels: labels)
        if readings.contains(where: { $0.migEnabled == true }) {
            // MIG devices appear only in the full report; without it the whole GPUs still count.
            do {
                let xml = try await execute(path, NvidiaSMI.xmlArguments)
                let devices = try NvidiaSMI.parseXML(xml).filter(\.isMIGDevice)
                samples += NvidiaSMI.samples(devices, at: time, labels: labels)
            } catch {
                logger.debug("MIG devices could not be read", metadata: ["error": "\(error)"])
            }
        }
        return samples
    }

    /// The executable for `command`: itself when it names a path, else the first match on `PATH`.
    static func resolve(_ command: String) -> String? {
        let files = FileManager.default
        if command.contains("/") { return files.isExecutableFile(atPath: command) ? command : nil }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(command)"
            if files.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs nvidia-smi and returns its standard output, classifying failures.
    private func execute(_ path: String, _ arguments: [String]) async throws(Failure) -> String {
        // A run that outlived its timeout and could not be killed (a GPU in a bad state can leave
        // nvidia-smi stuck in the kernel) still holds a thread; do not pile up more.
        guard hung.count == 0 else { throw .timedOut("an earlier nvidia-smi run is still hanging; not starting another") }
        let result = await CommandRun.run(path, arguments, timeout: timeout, hung: hung)
        switch result {
        case .launchFailed(let message):
            throw .failed("cannot run \(path): \(message)")
        case .timedOut:
            throw .timedOut("nvidia-smi did not answer within \(Self.words(timeout))")
        case .exited(let status, let output, let error):
            let message = Self.firstLine(error.isEmpty ? output : error)
            let everything = output + "\n" + error
            if Self.meansNoGPU(everything) { throw .noDevices("nvidia-smi: \(message)") }
            guard status == 0 else { throw .failed("nvidia-smi exited with status \(status): \(message)") }
            return output
        }
    }

    /// Whether nvidia-smi's words say there is no usable GPU (rather than a passing failure).
    static func meansNoGPU(_ text: String) -> Bool {
        let lower = text.lowercased()
        return lower.contains("no devices were found") || lower.contains("failed to initialize nvml")
            || lower.contains("couldn't communicate with the nvidia driver") || lower.contains("nvml library not found")
            || lower.contains("driver/library version mismatch")
    }

    /// A duration for people: `10 min`, `15 s`, `150 ms`.
    static func words(_ duration: Duration) -> String {
        let milliseconds = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if milliseconds >= 60_000, milliseconds % 60_000 == 0 { return "\(milliseconds / 60_000) min" }
        if milliseconds >= 1000, milliseconds % 1000 == 0 { return "\(milliseconds / 1000) s" }
        return "\(milliseconds) ms"
    }

    private static func firstLine(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return line.isEmpty ? "(no output)" : NvidiaSMI.trimmed(line)
    }
}

/// Bytes handed from one dispatch thread to another.
private final class DataBox: Sendable {
    let value = Mutex(Data())
}

/// Runs still outstanding after their timeout.
private final class HungRuns: Sendable {
    private let outstanding = Mutex(0)
    var count: Int { outstanding.withLock { $0 } }
    func add(_ delta: Int) { outstanding.withLock { $0 += delta } }
}

/// One child process with a timeout, read on threads of its own so the cooperative pool never blocks.
private final class CommandRun: @unchecked Sendable {
    enum Outcome: Sendable {
        case exited(status: Int32, output: String, error: String)
        case timedOut
        case launchFailed(String)
    }

    private struct State {
        var continuation: CheckedContinuation<Outcome, Never>?
        /// The timeout fired while the process was still running (it then counts as hung until it exits).
        var timedOut = false
        /// The process exited and its output was read.
        var exited = false
    }

    // One lock for both sides, so the timeout and the exit agree on which came first, and the
    // continuation is resumed exactly once.
    private let state = Mutex(State())
    private let process = Process()
    private let stdout = Pipe()
    private let stderr = Pipe()

    private func finish(_ outcome: Outcome) {
        let continuation = state.withLock { state -> CheckedContinuation<Outcome, Never>? in
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(returning: outcome)
    }

    private func kill() {
        guard process.isRunning else { return }
        #if canImport(Glibc)
        _ = Glibc.kill(process.processIdentifier, SIGKILL)
        #elseif canImport(Musl)
        _ = Musl.kill(process.processIdentifier, SIGKILL)
        #else
        _ = Darwin.kill(process.processIdentifier, SIGKILL)
        #endif
    }

    static func run(_ path: String, _ arguments: [String], timeout: Duration, hung: HungRuns) async -> Outcome {
        let run = CommandRun()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                run.state.withLock { $0.continuation = continuation }
                run.start(path, arguments, timeout: timeout, hung: hung)
            }
        } onCancel: {
            run.kill()
        }
    }

    private func start(_ path: String, _ arguments: [String], timeout: Duration, hung: HungRuns) {
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            finish(.launchFailed("\(error)"))
            return
        }
        let seconds = Double(timeout.components.seconds) + Double(timeout.components.attoseconds) / 1e18
        // The timer gets a thread of its own too: a busy process can starve dispatch's global
        // pool for seconds (a full test run delayed a 200 ms timeout by 16 s).
        Thread.detachNewThread { [self] in
            Thread.sleep(forTimeInterval: seconds)
            let stillRunning = state.withLock { state -> Bool in
                guard !state.exited, state.continuation != nil else { return false }
                state.timedOut = true
                hung.add(1)
                return true
            }
            guard stillRunning else { return }
            kill()
            finish(.timedOut)
        }
        // Blocking reads get threads of their own: on a small machine the dispatch pool has few
        // threads, and parking two of them per run can stall every other user of the pool.
        Thread.detachNewThread { [self] in
            let errorData = DataBox()
            let done = DispatchSemaphore(value: 0)
            Thread.detachNewThread { [stderr] in
                let data = stderr.fileHandleForReading.readDataToEndOfFile()
                errorData.value.withLock { $0 = data }
                done.signal()
            }
            let outputData = stdout.fileHandleForReading.readDataToEndOfFile()
            done.wait()
            process.waitUntilExit()
            let killed = state.withLock { state -> Bool in
                state.exited = true
                if state.timedOut { hung.add(-1) }
                return state.timedOut
            }
            // The timeout's kill can make the process exit before the timer's own finish runs:
            // a run the timeout killed is a timeout, whichever side gets here first.
            if killed { finish(.timedOut); return }
            finish(.exited(status: process.terminationStatus,
                           output: String(decoding: outputData, as: UTF8.self),
                           error: String(decoding: errorData.value.withLock { $0 }, as: UTF8.self)))
        }
    }
}
