import BifocalCore
import BifocalServer
import BifocalStore
import BifocalTesting
import Foundation
import Testing

/// Kills a real `bifocal serve` process with SIGKILL while batches are in flight, then reopens its
/// data folder: every batch acknowledged with a 2xx is there in full, and nothing half-written is.
@Suite("Crash safety")
struct CrashSafetyTests {
    /// `.build/<config>/bifocal`, beside the test bundle.
    static var executable: URL? {
        var directory = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("bifocal")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return nil
    }

    @Test("SIGKILL mid-batch loses nothing acknowledged and leaves no half batch")
    func killMidBatch() async throws {
        guard let executable = Self.executable else {
            Issue.record("the bifocal executable was not found beside the tests (swift build first)")
            return
        }
        let folder = try TemporaryDirectory()
        let server = Process()
        server.executableURL = executable
        server.arguments = ["serve", "--data", folder.path, "--port", "0", "--log-level", "error"]
        let output = Pipe()
        server.standardOutput = output
        try server.run()
        defer { if server.isRunning { kill(server.processIdentifier, SIGKILL) } }

        // The first line says where it listens.
        var firstLine = ""
        let handle = output.fileHandleForReading
        while !firstLine.contains("\n") {
            let chunk = handle.availableData
            guard !chunk.isEmpty else { break }
            firstLine += String(decoding: chunk, as: UTF8.self)
        }
        let port = try #require(firstLine.split(separator: "\n").first?.split(separator: ":").last?.split(separator: " ").first.flatMap { Int($0) })
        let client = RemoteClient(baseURL: "http://127.0.0.1:\(port)", token: nil)

        let batchSize = 500
        let start = Int64(Date().timeIntervalSince1970 * 1e6) - 60_000_000
        func batch(_ number: Int) -> [UInt8] {
            var lines: [String] = []
            for i in 0..<batchSize {
                lines.append("{\"id\":\"b\(number)-r\(i)\",\"start\":\(Double(start) / 1e6),\"model\":\"m\",\"ttft_ms\":100,\"e2e_ms\":900,\"output_tokens\":20,\"labels\":{\"batch\":\"\(number)\"}}")
            }
            return Array(lines.joined(separator: "\n").utf8)
        }

        // Four writers post batches until the server dies; the kill lands while some are in flight.
        let acknowledged = try await withThrowingTaskGroup(of: [Int].self) { group in
            for writer in 0..<4 {
                group.addTask {
                    var acked: [Int] = []
                    for n in stride(from: writer, to: 100_000, by: 4) {
                        do {
                            let answer = try await client.postRecords(ndjson: batch(n))
                            if answer.accepted == batchSize { acked.append(n) }
                        } catch {
                            return acked
                        }
                    }
                    return acked
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(1500))
                kill(server.processIdentifier, SIGKILL)
                return []
            }
            var all: [Int] = []
            for try await acked in group { all += acked }
            return all
        }
        server.waitUntilExit()
        #expect(acknowledged.count > 0, "no batch was acknowledged before the kill")

        // Reopen: the lock of the dead process is released by the kernel.
        var configuration = StoreConfiguration(directory: folder.path)
        configuration.rawRetention = 30 * Timestamp.microsPerDay
        let store = try SQLiteStore.open(configuration)
        let statistics = try await store.statistics()
        #expect(statistics.records >= acknowledged.count * batchSize)
        #expect(statistics.records % batchSize == 0, "a half-written batch appeared: \(statistics.records) records")
        // Every acknowledged batch is there in full.
        for n in acknowledged.prefix(20) {
            let result = try await store.query(SignalQuery(signal: "requests.count", matchers: [LabelMatcher(name: "labels.batch", value: "\(n)")],
                                                           shape: .instant(at: start + 3_600_000_000, window: 2 * Timestamp.microsPerHour)))
            #expect(result.series.first?.points.first?.value == Double(batchSize), "batch \(n)")
        }
        // Rollups agree with the raw records.
        let total = try await store.query(SignalQuery(signal: "requests.count", shape: .instant(at: start + 3_600_000_000, window: 2 * Timestamp.microsPerHour)))
        #expect(total.series.first?.points.first?.value == Double(statistics.records))
        try await store.close()
    }
}
