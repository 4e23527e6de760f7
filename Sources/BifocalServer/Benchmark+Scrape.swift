import BifocalCore
import BifocalIngest
import BifocalStore
import Foundation
import Hummingbird
import Logging
import NIOCore

#if canImport(Glibc)
import Glibc
#endif

extension Benchmark {
    /// A synthetic exposition shaped like a vLLM server's plus a DCGM exporter's (label-heavy
    /// gauges, counters and histograms), `targetBytes` long. Deterministic.
    public static func syntheticExposition(targetBytes: Int) -> [UInt8] {
        let one = syntheticExposition(blocks: 1)
        return syntheticExposition(blocks: max(1, targetBytes / one.count + 1))
    }

    /// The exposition for `blocks` model servers with 8 GPUs each, one family after another.
    static func syntheticExposition(blocks: Int) -> [UInt8] {
        var text = ""
        let buckets = ["0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "0.75", "1.0", "2.5", "5.0", "7.5", "10.0", "+Inf"]
        func model(_ block: Int) -> String { "model-\(block)" }
        text += "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.\n# TYPE vllm:num_requests_waiting gauge\n"
        for block in 0..<blocks { text += "vllm:num_requests_waiting{engine=\"0\",model_name=\"\(model(block))\"} \(block % 7).0\n" }
        text += "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n# TYPE vllm:kv_cache_usage_perc gauge\n"
        for block in 0..<blocks { text += "vllm:kv_cache_usage_perc{engine=\"0\",model_name=\"\(model(block))\"} 0.\(block % 97 + 1)\n" }
        text += "# HELP vllm:prompt_tokens_total Number of prefill tokens processed.\n# TYPE vllm:prompt_tokens_total counter\n"
        for block in 0..<blocks { text += "vllm:prompt_tokens_total{engine=\"0\",model_name=\"\(model(block))\"} \(1_234_567 + block * 31).0\n" }
        text += "# HELP vllm:time_to_first_token_seconds Histogram of time to first token in seconds.\n# TYPE vllm:time_to_first_token_seconds histogram\n"
        for block in 0..<blocks {
            var cumulative = 0
            for (i, le) in buckets.enumerated() {
                cumulative += (i * 37 + block) % 101
                text += "vllm:time_to_first_token_seconds_bucket{engine=\"0\",le=\"\(le)\",model_name=\"\(model(block))\"} \(cumulative).0\n"
            }
            text += "vllm:time_to_first_token_seconds_sum{engine=\"0\",model_name=\"\(model(block))\"} \(Double(cumulative) * 0.0731)\n"
            text += "vllm:time_to_first_token_seconds_count{engine=\"0\",model_name=\"\(model(block))\"} \(cumulative).0\n"
        }
        func gpuLabels(_ block: Int, _ gpu: Int) -> String {
            "gpu=\"\(gpu)\",UUID=\"GPU-\(String(format: "%08x", gpu * 7919 + block))-1f2e-4c3d-9a8b-7c6d5e4f3a2b\",pci_bus_id=\"00000000:\(String(format: "%02X", gpu + 16)):00.0\",device=\"nvidia\(gpu)\",modelName=\"NVIDIA H100 80GB HBM3\",Hostname=\"gpu-node-\(block)\",DCGM_FI_DRIVER_VERSION=\"550.54.15\""
        }
        for (family, help) in [("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %)."), ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB)."),
                               ("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).")] {
            text += "# HELP \(family) \(help)\n# TYPE \(family) gauge\n"
            for block in 0..<blocks {
                for gpu in 0..<8 {
                    let value: String
                    switch family {
                    case "DCGM_FI_DEV_GPU_UTIL": value = String((gpu * 13 + block) % 100)
                    case "DCGM_FI_DEV_FB_USED": value = String(40_000 + gpu * 1111 + block)
                    default: value = String(312.5 + Double(gpu))
                    }
                    text += "\(family){\(gpuLabels(block, gpu))} \(value)\n"
                }
            }
        }
        return Array(text.utf8)
    }

    /// Exposition parsing alone, on one core: bytes per second of the Prometheus text parser,
    /// against a baseline that only finds the line ends of the same text.
    public static func parse(report: (String) -> Void) throws {
        let body = syntheticExposition(targetBytes: 8 * 1024 * 1024)
        let megabytes = Double(body.count) / 1e6
        var lines = 0
        let baseline = rate(records: body.count, repeats: 10) {
            lines = body.withUnsafeBufferPointer { buffer in
                var count = 0
                for byte in buffer where byte == 0x0A { count += 1 }
                return count
            }
        }
        var samples = 0
        let ours = try rate(records: body.count, repeats: 10) {
            samples = try body.withUnsafeBytes { try PrometheusTextParser.parse($0, openMetrics: false).samples.count }
        }
        report("parse, \(String(format: "%.1f", megabytes)) MB synthetic vLLM + DCGM exposition (\(lines) lines, \(samples) samples), one core, best of 10:")
        report(String(format: "  line scan (baseline)                %8.0f MB/s", baseline / 1e6))
        report(String(format: "  Bifocal PrometheusTextParser        %8.0f MB/s   (%.2fx baseline)", ours / 1e6, ours / baseline))
    }

    /// Starts `python3 -m http.server` on a free loopback port serving `folder`; nil without Python.
    static func startPythonExporter(folder: String) -> (process: Process, port: Int)? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", folder]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        var seen = Data()
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let chunk = pipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
            let text = String(decoding: seen, as: UTF8.self)
            if let range = text.range(of: " port "),
               let port = Int(text[range.upperBound...].prefix { $0.isNumber }) {
                return (process, port)
            }
        }
        process.terminate()
        return nil
    }

    /// CPU time this process has used, in seconds (user + system).
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    /// The scraper's cost: `targets` targets every `interval`, each serving a vLLM-sized exposition
    /// from an in-process HTTP server, scraped, parsed, mapped and stored for `duration`.
    /// The CPU measured includes serving the expositions, so it overstates the scraper's share.
    public static func scrape(targets: Int, interval intervalText: String, duration durationText: String, directory: String, report: @escaping @Sendable (String) -> Void) async throws {
        guard let interval = Timestamp.parseDuration(intervalText), let duration = Timestamp.parseDuration(durationText) else {
            throw ConfigurationError(issues: [.init(path: "bench", message: "scrape interval and duration take durations like 5s or 1m")])
        }
        let exposition = syntheticExposition(targetBytes: 24 * 1024)
        // The exporters run in a separate process (Python's http.server) when there is one, so the
        // CPU measured is Bifocal's alone; otherwise in-process, and the figure includes serving.
        let exporterFolder = directory + "/exporter"
        try FileManager.default.createDirectory(atPath: exporterFolder, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: exporterFolder + "/metrics", contents: Data(exposition))
        let external = startPythonExporter(folder: exporterFolder)
        let exporters = Router()
        exporters.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: exposition)))
        }
        let ready = AsyncStream<Int>.makeStream()
        let exporterApp = Application(router: exporters, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                                      onServerRunning: { ready.continuation.yield($0.localAddress?.port ?? 0) },
                                      logger: Logger(label: "bench-exporter"))
        defer { external?.process.terminate() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var port = 0
            if let external {
                port = external.port
            } else {
                group.addTask { try await exporterApp.runService() }
                for await p in ready.stream { port = p; break }
            }
            var configuration = BifocalConfiguration()
            configuration.port = 0
            configuration.storage.directory = directory
            configuration.retentionInterval = 3600 * Timestamp.microsPerSecond
            configuration.scrapeTargets = (0..<targets).map {
                ScrapeTarget(url: "http://127.0.0.1:\(port)/metrics?target=\($0)", job: "vllm", interval: interval,
                             timeout: min(interval, 10 * Timestamp.microsPerSecond), endpoint: "bench", instance: "node-\($0)")
            }
            var logger = Logger(label: "bench")
            logger.logLevel = .warning
            let store = try SQLiteStore.open(configuration.storage)
            let app = buildApplication(configuration: configuration, store: store, logger: logger)
            group.addTask { try await app.runService() }
            // Let every target be scraped once (series created, ids cached) before measuring.
            try await Task.sleep(for: .microseconds(interval + 2_000_000))
            let cpu0 = cpuSeconds()
            let wall0 = ContinuousClock.now
            try await Task.sleep(for: .microseconds(duration))
            let cpu = cpuSeconds() - cpu0
            let elapsed = ContinuousClock.now - wall0
            let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let statistics = try await store.statistics()
            report("scrape, \(targets) targets every \(Timestamp.formatDuration(interval)), \(exposition.count)-byte vLLM + DCGM exposition each, for \(Timestamp.formatDuration(duration)):")
            let what = external == nil ? "scraper + in-process exporters serving" : "scraper alone; exporters in a Python process"
            report(String(format: "  Bifocal process CPU (\(what))  %.2f s over %.1f s = %.2f%% of one core", cpu, wall, cpu / wall * 100))
            report("  store holds \(statistics.series) series, \(statistics.points) raw points, \(statistics.sizeBytes / 1_048_576) MiB")
            group.cancelAll()
        }
    }
}
