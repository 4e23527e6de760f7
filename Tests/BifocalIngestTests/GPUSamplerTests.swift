import BifocalCore
import BifocalIngest
import BifocalTesting
import Foundation
import Logging
import Synchronization
import Testing

/// Keeps what a sampler submits.
private actor CollectingSink: SeriesSink {
    var batches: [[SeriesSample]] = []
    func submit(series samples: [SeriesSample]) async throws -> Int {
        batches.append(samples)
        return samples.count
    }
}

/// Keeps what a logger is told.
private final class LogCollector: Sendable {
    let entries = Mutex<[(level: Logger.Level, message: String)]>([])
    var messages: [String] { entries.withLock { $0.map(\.message) } }

    var logger: Logger {
        Logger(label: "test.gpu-sampler") { _ in Handler(collector: self) }
    }

    struct Handler: LogHandler {
        let collector: LogCollector
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            collector.entries.withLock { $0.append((event.level, event.message.description)) }
        }
    }
}

/// A shell script standing in for nvidia-smi.
private func fakeNvidiaSMI(_ body: String, in folder: TemporaryDirectory) throws -> String {
    let path = folder.path + "/nvidia-smi"
    try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    return path
}

private func quote(_ path: String) -> String { "'" + path.replacingOccurrences(of: "'", with: "'\\''") + "'" }

/// Waits until `condition` holds or a few seconds pass.
private func eventually(_ condition: () async -> Bool) async throws {
    for _ in 0..<200 {
        if await condition() { return }
        try await Task.sleep(for: .milliseconds(25))
    }
}

@Suite("GPU sampler")
struct GPUSamplerTests {
    @Test func samplesAFixtureThroughAStandInScript() async throws {
        let fixture = Fixtures.directory.appendingPathComponent("nvidia-smi/h200_load_query_gpu_subset__csv_noheader_nounits__DERIVED.csv").path
        guard FileManager.default.fileExists(atPath: fixture) else { _ = try Fixtures.load("nvidia-smi/h200_load_query_gpu_subset__csv_noheader_nounits__DERIVED.csv"); return }
        let folder = try TemporaryDirectory()
        // The script checks it is asked for CSV in the sampler's format, then prints the capture.
        let script = try fakeNvidiaSMI("""
            case "$2" in --format=csv,noheader,nounits) ;; *) echo "unexpected arguments: $*" >&2; exit 2;; esac
            case "$1" in --query-gpu=timestamp,index,*) cat \(quote(fixture));; *) echo "bad query $1" >&2; exit 2;; esac
            """, in: folder)
        let sink = CollectingSink()
        let logs = LogCollector()
        let sampler = GPUSampler(sink: sink, interval: .milliseconds(50), command: script, fields: h200SubsetFields,
                                 labels: ["host": "gpu-box"], logger: logs.logger, now: { 1_000 })
        let once = try await sampler.sample()
        #expect(once.count == 9)
        #expect(once.allSatisfy { $0.time == 1_000 && $0.labels["host"] == "gpu-box" && $0.labels["job"] == "nvidia-smi" && $0.labels["gpu"] == "0" })
        #expect(once.first { $0.name == "gpu.utilization" }?.value == 1.0)
        #expect(once.first { $0.name == "gpu.memory.used" }?.value == Double(32_362 * 1_048_576))

        let task = Task { try await sampler.run() }
        try await eventually { await sink.batches.count >= 2 }
        task.cancel()
        try await task.value
        let batches = await sink.batches
        #expect(batches.count >= 2)
        #expect(batches.allSatisfy { $0 == once })
        #expect(logs.messages.isEmpty)
    }

    @Test func migDevicesComeFromTheXMLReport() async throws {
        let xml = Fixtures.directory.appendingPathComponent("nvidia-smi/a100-mig-q-x.xml").path
        guard FileManager.default.fileExists(atPath: xml) else { _ = try Fixtures.load("nvidia-smi/a100-mig-q-x.xml"); return }
        let folder = try TemporaryDirectory()
        let script = try fakeNvidiaSMI("""
            if [ "$1" = "-q" ] && [ "$2" = "-x" ]; then cat \(quote(xml)); exit 0; fi
            echo "0, GPU-513536b6-7d19-9063-b049-1e69664bb298, NVIDIA A100-SXM4-80GB, 00000000:01:00.0, [N/A], [N/A], 81920, 50, 80999, 67.03, 27, 1275, Enabled"
            """, in: folder)
        let sampler = GPUSampler(sink: CollectingSink(), command: script, labels: ["host": "a100"], now: { 5 })
        let samples = try await sampler.sample()
        let whole = samples.filter { $0.labels["gpu_instance"] == nil }
        #expect(Set(whole.map(\.name)) == ["gpu.memory.used", "gpu.memory.free", "gpu.memory.total", "gpu.memory.utilization",
                                          "gpu.power", "gpu.temperature", "gpu.sm_clock"])
        let instances = samples.filter { $0.labels["gpu_instance"] != nil }
        #expect(Set(instances.compactMap { $0.labels["gpu_instance"] }) == ["3", "4", "5", "6"])
        #expect(instances.count == 16)
        #expect(instances.filter { $0.name == "gpu.memory.total" }.allSatisfy { $0.value == Double(19_968 * 1_048_576) })
        #expect(instances.allSatisfy { $0.labels["gpu"] == "0" && $0.labels["host"] == "a100" })
    }

    @Test func notInstalledSaysSoOnceAndStops() async throws {
        let logs = LogCollector()
        let sink = CollectingSink()
        let sampler = GPUSampler(sink: sink, interval: .milliseconds(10), command: "bifocal-test-no-such-nvidia-smi", logger: logs.logger)
        await #expect(throws: GPUSampler.Failure.self) { try await sampler.sample() }
        // run() returns by itself: there is nothing to retry.
        try await sampler.run()
        #expect(logs.messages.count == 1)
        #expect(logs.messages.first?.contains("GPU sampling is off") == true)
        #expect(logs.messages.first?.contains("bifocal-test-no-such-nvidia-smi not found on PATH") == true)
        #expect(await sink.batches.isEmpty)

        let missingPath = GPUSampler(sink: sink, command: "/nonexistent/nvidia-smi", logger: logs.logger)
        do {
            _ = try await missingPath.sample()
            Issue.record("sampled without nvidia-smi")
        } catch {
            #expect(error == .notInstalled("no executable at /nonexistent/nvidia-smi"))
        }
    }

    @Test func noDevicesSaysSoOnceAndRetriesRarely() async throws {
        let folder = try TemporaryDirectory()
        let counter = folder.path + "/runs"
        // nvidia-smi prints this on stdout and exits 6 on a machine with the driver but no GPU.
        let script = try fakeNvidiaSMI("echo run >> \(quote(counter)); echo 'No devices were found'; exit 6", in: folder)
        let logs = LogCollector()
        let sink = CollectingSink()
        let sampler = GPUSampler(sink: sink, interval: .milliseconds(10), retryInterval: .milliseconds(150),
                                 command: script, logger: logs.logger)
        let task = Task { try await sampler.run() }
        try await eventually { !logs.messages.isEmpty }
        try await Task.sleep(for: .milliseconds(600))
        task.cancel()
        try await task.value
        let runs = (try? String(contentsOfFile: counter, encoding: .utf8))?.split(separator: "\n").count ?? 0
        // Every 150 ms rather than every 10 ms: a handful of tries in 600 ms, not dozens.
        #expect(runs >= 1 && runs <= 7)
        #expect(logs.messages.count == 1)
        #expect(logs.messages.first == "GPU sampling is paused: nvidia-smi: No devices were found; retrying every 150 ms")
        #expect(await sink.batches.isEmpty)
    }

    @Test func nvmlFailureIsNoDevice() async throws {
        let folder = try TemporaryDirectory()
        let script = try fakeNvidiaSMI("echo 'Failed to initialize NVML: Driver/library version mismatch' >&2; exit 18", in: folder)
        let sampler = GPUSampler(sink: CollectingSink(), command: script)
        do {
            _ = try await sampler.sample()
            Issue.record("sampled without a driver")
        } catch {
            #expect(error == .noDevices("nvidia-smi: Failed to initialize NVML: Driver/library version mismatch"))
        }
    }

    @Test func hangingNvidiaSMIIsKilledAtTheTimeout() async throws {
        let folder = try TemporaryDirectory()
        let script = try fakeNvidiaSMI("exec sleep 300", in: folder)
        let sampler = GPUSampler(sink: CollectingSink(), timeout: .milliseconds(200), command: script)
        let started = ContinuousClock.now
        do {
            _ = try await sampler.sample()
            Issue.record("a hanging nvidia-smi answered")
        } catch {
            guard case .timedOut = error else { Issue.record("unexpected \(error)"); return }
        }
        // Killed, not waited for: far sooner than the fake's 300 s (not a speed check).
        #expect(ContinuousClock.now - started < .seconds(120))
    }

    @Test func unreadableOutputIsLoggedOnceAndSamplingGoesOn() async throws {
        let folder = try TemporaryDirectory()
        let script = try fakeNvidiaSMI("echo 'this is not CSV'", in: folder)
        let logs = LogCollector()
        let sampler = GPUSampler(sink: CollectingSink(), interval: .milliseconds(10), command: script, logger: logs.logger)
        let task = Task { try await sampler.run() }
        try await eventually { !logs.messages.isEmpty }
        try await Task.sleep(for: .milliseconds(200))   // several more failed rounds, not logged again
        task.cancel()
        try await task.value
        #expect(logs.messages.count == 1)
        #expect(logs.messages.first?.hasPrefix("GPU sampling failed: nvidia-smi output rejected: line 1: expected 13 values") == true)
    }
}
