import BifocalCore
import BifocalGateway
import BifocalIngest
import BifocalServer
import BifocalStore
import BifocalTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Testing

/// Gzips bytes with the system's gzip, as an exporter's HTTP library would.
func gzipped(_ bytes: [UInt8]) throws -> [UInt8]? {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip") || FileManager.default.isExecutableFile(atPath: "/bin/gzip") else { return nil }
    let folder = try TemporaryDirectory()
    let file = folder.path + "/body"
    FileManager.default.createFile(atPath: file, contents: Data(bytes))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: FileManager.default.isExecutableFile(atPath: "/usr/bin/gzip") ? "/usr/bin/gzip" : "/bin/gzip")
    process.arguments = ["-k", "-9", file]
    try process.run()
    process.waitUntilExit()
    return FileManager.default.contents(atPath: file + ".gz").map(Array.init)
}

@Suite("Scraping live targets over HTTP")
struct ScrapeTests {
    @Test("scrapes plain, gzip and failing targets; lists them at /api/v1/targets; series are queryable")
    func scrapeLiveTargets() async throws {
        guard let vllm = try Fixtures.load("vllm/vllm-v1-generated.prom") else { return }
        let small = Array("# TYPE demo_queue gauge\ndemo_queue{model_name=\"m\"} 42\n".utf8)
        guard let compressed = try gzipped(small) else {
            Issue.record("gzip is not installed; cannot test compressed scrapes")
            return
        }
        let exporters = Router()
        exporters.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: vllm)))
        }
        exporters.get("/gz") { request, _ in
            // Only compress when asked, like promhttp does.
            guard request.headers[.acceptEncoding]?.contains("gzip") == true else {
                return Response(status: .notAcceptable)
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4", .contentEncoding: "gzip"],
                            body: .init(byteBuffer: ByteBuffer(bytes: compressed)))
        }
        exporters.get("/broken") { _, _ in Response(status: .internalServerError) }
        let exporterApp = Application(router: exporters, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await exporterApp.test(.live) { exporter in
            let base = "http://127.0.0.1:\(exporter.port!)"
            let folder = try TemporaryDirectory()
            var configuration = BifocalConfiguration()
            configuration.storage.directory = folder.path
            configuration.port = 0
            configuration.scrapeTargets = [
                ScrapeTarget(url: "\(base)/metrics", job: "vllm", interval: 1_000_000, timeout: 1_000_000, endpoint: "chat", instance: "i-1"),
                ScrapeTarget(url: "\(base)/gz", job: "demo", interval: 1_000_000, timeout: 1_000_000),
                ScrapeTarget(url: "\(base)/broken", job: "broken", interval: 1_000_000, timeout: 1_000_000),
            ]
            let store = try SQLiteStore.open(configuration.storage)
            let app = buildApplication(configuration: configuration, store: store, logger: Logger(label: "test"), clock: { testNow })
            try await app.test(.live) { client in
                var targets: [[String: Any]] = []
                for _ in 0..<100 {
                    let response = try await client.get("/api/v1/targets")
                    targets = response.json["targets"] as? [[String: Any]] ?? []
                    if targets.count == 3, targets.allSatisfy({ ($0["scrapes"] as? Int ?? 0) >= 1 }) { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(targets.map { $0["health"] as? String } == ["up", "up", "down"])
                #expect(targets[2]["last_error"] as? String == "HTTP 500 Internal Server Error")
                #expect(targets[0]["format"] as? String == "prometheus")
                #expect(targets[0]["instance"] as? String == "i-1")
                #expect((targets[0]["samples"] as? Int ?? 0) > 50)

                let at = Timestamp.formatRFC3339(testNow + 1_000_000)
                let own = try await client.get("/api/v1/query?signal=demo_queue&at=\(at)&by=model_name")
                #expect(own.status == .ok, "\(own.text)")
                let ownSeries = own.json["series"] as? [[String: Any]] ?? []
                #expect((ownSeries.first?["points"] as? [[Any]])?.first?[1] as? Double == 42, "\(own.text)")

                let up = try await client.get("/api/v1/query?signal=up&at=\(at)&by=job")
                let upSeries = up.json["series"] as? [[String: Any]] ?? []
                let upByJob = Dictionary(uniqueKeysWithValues: upSeries.map {
                    (($0["labels"] as? [String: String])?["job"] ?? "", (($0["points"] as? [[Any]])?.first?[1] as? Double) ?? -1)
                })
                #expect(upByJob == ["vllm": 1, "demo": 1, "broken": 0])

                let queue = try await client.get("/api/v1/query?signal=queue.waiting&at=\(at)&by=endpoint,instance")
                #expect(queue.status == .ok, "\(queue.text)")
                let queueLabels = (queue.json["series"] as? [[String: Any]])?.first?["labels"] as? [String: String]
                #expect(queueLabels == ["endpoint": "chat", "instance": "i-1"])

                let signals = try await client.get("/api/v1/signals")
                let families = (signals.json["families"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                #expect(families.contains("vllm:num_requests_waiting"))
                #expect(families.contains("gpu.utilization") == false)
            }
            try await store.close()
            _ = folder
        }
    }

    @Test("scrape targets are read from YAML with defaults and clear errors")
    func configuration() throws {
        let configuration = try BifocalConfiguration.parse(yaml: """
        scrape:
          interval: 5s
          targets:
            - url: http://127.0.0.1:8000/metrics
              job: vllm
              endpoint: chat
              model: llama-3-8b
              instance: i-0abc
              labels: {region: eu-west-1}
            - url: http://127.0.0.1:9400/metrics
              job: dcgm
              interval: 30s
              timeout: 20s
        gpu_sampler:
          enabled: false
          interval: 2s
        """)
        #expect(configuration.scrapeTargets.count == 2)
        #expect(configuration.scrapeTargets[0].interval == 5_000_000)
        #expect(configuration.scrapeTargets[0].timeout == 5_000_000)
        #expect(configuration.scrapeTargets[0].labels == ["region": "eu-west-1"])
        #expect(configuration.scrapeTargets[0].model == "llama-3-8b")
        #expect(configuration.scrapeTargets[1].timeout == 20_000_000)
        #expect(configuration.gpuSampler.mode == .off)
        // A section-wide timeout longer than a target's interval is cut to that interval.
        let cut = try BifocalConfiguration.parse(yaml: """
        scrape:
          timeout: 10s
          targets:
            - {url: "http://127.0.0.1:8000/metrics", job: vllm, interval: 5s}
        """)
        #expect(cut.scrapeTargets.first?.timeout == 5_000_000)
        #expect(configuration.gpuSampler.interval == 2_000_000)

        #expect(throws: ConfigurationError.self) {
            _ = try BifocalConfiguration.parse(yaml: """
            scrape:
              targets:
                - url: localhost:9400
                  job: dcgm
            """)
        }
        do {
            _ = try BifocalConfiguration.parse(yaml: """
            scrape:
              targets:
                - url: http://h:1/metrics
                  interval: 5s
                  timeout: 10s
                  labels: {"1bad": x}
            """)
            Issue.record("expected an error")
        } catch let error as ConfigurationError {
            let text = error.description
            #expect(text.contains("timeout must be positive and at most the interval"), "\(text)")
            #expect(text.contains("scrape.targets[0].labels.1bad"), "\(text)")
        }
    }

    @Test("the README's configuration reference is a valid config")
    func readmeConfiguration() throws {
        let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("README.md")
        let text = try String(contentsOf: readme, encoding: .utf8)
        let section = try #require(text.range(of: "## Configuration reference"))
        let rest = text[section.upperBound...]
        let start = try #require(rest.range(of: "```yaml\n"))
        let end = try #require(rest[start.upperBound...].range(of: "```"))
        let yaml = String(rest[start.upperBound..<end.lowerBound])
        let configuration = try BifocalConfiguration.parse(yaml: yaml)
        #expect(configuration.scrapeTargets.count == 1)
        #expect(configuration.gateway.upstreams.count == 1)
    }
}
