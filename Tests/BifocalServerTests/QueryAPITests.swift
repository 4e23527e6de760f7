import BifocalCore
import BifocalServer
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Query API")
struct QueryAPITests {
    static let nowSeconds = Double(testNow) / 1e6

    @Test("ttft.p95 by model over a range: one series per model, a point per step, null where no data")
    func rangeByModel() async throws {
        try await withServer { client in
            var lines: [String] = []
            for i in 0..<100 {
                lines.append(recordJSON(model: "llama", minutesAgo: 10.5, ttftMs: Double(i + 1), e2eMs: 5000))
                lines.append(recordJSON(model: "mistral", minutesAgo: 10.5, ttftMs: Double(10 * (i + 1)), e2eMs: 5000))
            }
            let ingest = try await client.post("/api/v1/records", contentType: "application/x-ndjson", body: lines.joined(separator: "\n"))
            #expect(ingest.json["accepted"] as? Int == 200)
            let from = Self.nowSeconds - 15 * 60
            let response = try await client.get("/api/v1/query?signal=ttft.p95&by=model&from=\(Int(from))&to=\(Int(Self.nowSeconds))&step=1m")
            #expect(response.status == .ok)
            #expect(response.json["unit"] as? String == "seconds")
            let series = try #require(response.json["series"] as? [[String: Any]])
            #expect(series.map { ($0["labels"] as? [String: String])?["model"] } == ["llama", "mistral"])
            let llama = try #require(series[0]["points"] as? [[Any]])
            #expect(llama.count == 15)
            let withData = llama.filter { !($0[1] is NSNull) }
            #expect(withData.count == 1)
            // Exact p95 of 1...100 ms (lower rank) is 95 ms; the sketch is within 1%.
            let p95 = try #require(withData.first?[1] as? Double)
            #expect(abs(p95 - 0.095) / 0.095 <= 0.01)
            #expect(llama.contains { $0[1] is NSNull })
        }
    }

    @Test("an instant query gives one point per group")
    func instant() async throws {
        try await withServer { client in
            let body = [recordJSON(model: "a", status: "ok"), recordJSON(model: "a", status: "server_error"),
                        recordJSON(model: "a", status: "ok"), recordJSON(model: "a", status: "client_error")].joined(separator: "\n")
            _ = try await client.post("/api/v1/records", contentType: "application/x-ndjson", body: body)
            let response = try await client.get("/api/v1/query?signal=errors.ratio&by=model&at=\(Self.nowSeconds)&window=1h")
            let points = try #require((response.json["series"] as? [[String: Any]])?.first?["points"] as? [[Any]])
            #expect(points.count == 1)
            #expect(points[0][1] as? Double == 0.5)
            let server = try await client.get("/api/v1/query?signal=errors.server_error.ratio&at=\(Self.nowSeconds)&window=1h")
            #expect(((server.json["series"] as? [[String: Any]])?.first?["points"] as? [[Any]])?.first?[1] as? Double == 0.25)
        }
    }

    @Test("times in RFC 3339 and filters with match work")
    func rfc3339AndMatch() async throws {
        try await withServer { client in
            let body = [recordJSON(model: "a"), recordJSON(model: "b"), recordJSON(model: "b")].joined(separator: "\n")
            _ = try await client.post("/api/v1/records", contentType: "application/x-ndjson", body: body)
            let response = try await client.get("/api/v1/query?signal=requests.count&match=model=b&from=2026-11-29T11:00:00Z&to=2026-11-29T12:00:00Z&step=1h")
            #expect(response.status == .ok)
            let points = try #require((response.json["series"] as? [[String: Any]])?.first?["points"] as? [[Any]])
            #expect(points.first?[1] as? Double == 2)
        }
    }

    @Test("bad questions are 400s that name the problem", arguments: [
        ("signal=nope.p95", "signal"),
        ("", "signal"),
        ("signal=ttft.p95&by=colour", "colour"),
        ("signal=ttft.p95&match=colour=red", "colour"),
        ("signal=ttft.p95&from=yesterday", "from"),
        ("signal=ttft.p95&step=soon", "step"),
        ("signal=ttft.p95&from=1795953600&to=1795950000", "from"),
        ("signal=ttft.p95&match=model", "match"),
        ("signal=ttft.p95&frm=1", "frm"),
        ("signal=ttft.p95&from=0&to=1795953600&step=1s", "points"),
    ])
    func badQuestions(query: String, mentions: String) async throws {
        try await withServer { client in
            let response = try await client.get("/api/v1/query?\(query)")
            #expect(response.status == .badRequest)
            let message = ((response.json["error"] as? [String: Any])?["message"] as? String) ?? ""
            #expect(message.contains(mentions), "\(message)")
        }
    }

    @Test("the signal list has every signal with a unit")
    func signals() async throws {
        try await withServer { client in
            let response = try await client.get("/api/v1/signals")
            let signals = try #require(response.json["signals"] as? [[String: Any]])
            #expect(signals.count == SignalCatalog.recordSignals.count + SeriesSignalCatalog.signals.count)
            #expect(signals.filter { $0["source"] as? String == "series" }.count == SeriesSignalCatalog.signals.count)
            #expect(signals.allSatisfy { ($0["unit"] as? String)?.isEmpty == false })
            #expect(response.json["families"] as? [Any] != nil)
        }
    }
}

@Suite("Health, metrics and access")
struct OperationsTests {
    @Test("healthz and readyz answer")
    func health() async throws {
        try await withServer { client in
            let answer1 = try await client.get("/healthz")
            #expect(answer1.status == .ok)
            let answer2 = try await client.get("/readyz")
            #expect(answer2.status == .ok)
        }
    }

    @Test("with tokens configured, the API needs one; health checks do not")
    func bearerTokens() async throws {
        let token = "s3cret-token-for-tests-0123456789"
        try await withServer(configure: { $0.tokens = [token] }) { client in
            let answer3 = try await client.get("/api/v1/signals")
            #expect(answer3.status == .unauthorized)
            let answer4 = try await client.get("/api/v1/signals", headers: [.authorization: "Bearer wrong-token-wrong-token-0000"])
            #expect(answer4.status == .unauthorized)
            let answer5 = try await client.get("/api/v1/signals", headers: [.authorization: "Bearer \(token)"])
            #expect(answer5.status == .ok)
            let answer6 = try await client.post("/api/v1/records", contentType: "application/json", body: "[]")
            #expect(answer6.status == .unauthorized)
            let answer7 = try await client.get("/healthz")
            #expect(answer7.status == .ok)
        }
    }

    @Test("a non-loopback address without tokens is refused at start")
    func nonLoopbackNeedsTokens() {
        var configuration = BifocalConfiguration()
        configuration.host = "0.0.0.0"
        #expect(!configuration.validate().isEmpty)
        configuration.tokens = ["0123456789abcdef0123"]
        #expect(configuration.validate().isEmpty)
    }

    @Test("/metrics carries self-health and GenAI histograms, and promtool accepts it")
    func metricsExposition() async throws {
        let text = try await withServer { client in
            let body = [recordJSON(model: "llama"), recordJSON(model: "llama", status: "server_error"), recordJSON(model: "mi\\\"stral")].joined(separator: "\n")
            _ = try await client.post("/api/v1/records", contentType: "application/x-ndjson", body: body)
            _ = try await client.post("/api/v1/records", contentType: "application/x-ndjson", body: "{bad")
            let response = try await client.get("/metrics")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            return response.text
        }
        #expect(text.contains("bifocal_ingest_records_total{source=\"api\"} 3"))
        #expect(text.contains("bifocal_ingest_rejected_total{source=\"api\"} 1"))
        #expect(text.contains("gen_ai_server_time_to_first_token_seconds_bucket{endpoint=\"prod\",model=\"llama\",component=\"\",variant=\"\",le=\"0.25\"} 2"))
        #expect(text.contains("gen_ai_server_request_duration_seconds_count{endpoint=\"prod\",model=\"llama\",component=\"\",variant=\"\",error_type=\"server_error\"} 1"))
        #expect(text.contains("gen_ai_client_token_usage_sum{endpoint=\"prod\",model=\"llama\",component=\"\",variant=\"\",gen_ai_token_type=\"output\"} 202"))
        #expect(text.contains("model=\"mi\\\"stral\""))
        #expect(text.contains("gen_ai_server_time_per_output_token_seconds_bucket"))
        try PromtoolCheck.check(text)
    }
}

/// Runs `promtool check metrics` when promtool is installed (CI installs it; elsewhere a missing
/// promtool is reported loudly and the check skipped).
enum PromtoolCheck {
    static func check(_ exposition: String) throws {
        let candidates = ["/usr/bin/promtool", "/usr/local/bin/promtool"]
        guard let promtool = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("promtool is not installed (apt-get install prometheus); CI must run this check")
            } else {
                FileHandle.standardError.write(Data("\n*** WARNING: promtool not installed: `promtool check metrics` skipped ***\n\n".utf8))
            }
            return
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: promtool)
        process.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(exposition.utf8))
        try input.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        // promtool exits 3 for lint-only findings (e.g. naming advice); anything else is an error.
        #expect(process.terminationStatus == 0, "promtool check metrics: \(report)")
    }
}
