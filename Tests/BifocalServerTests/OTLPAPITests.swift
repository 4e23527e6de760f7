import BifocalCore
import BifocalTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@testable import BifocalServer

/// A capture from the OpenTelemetry Python SDK (Tests/BifocalIngestTests/OTLPCaptures, see its NOTES.md).
func sdkCapture(_ name: String) throws -> [UInt8] {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("BifocalIngestTests/OTLPCaptures/\(name)")
    return Array(try Data(contentsOf: url))
}

extension TestClientProtocol {
    /// Posts an OTLP body.
    func otlp(_ signal: String, _ body: [UInt8], contentType: String = "application/x-protobuf", encoding: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: contentType]
        if let encoding { headers[.contentEncoding] = encoding }
        return try await execute(uri: "/v1/\(signal)", method: .post, headers: headers, body: ByteBuffer(bytes: body))
    }

    /// `requests.count` over the SDK captures' hour, summed over groups.
    func captureRequests(by: String = "", match: String = "") async throws -> [String: Double] {
        let response = try await get("/api/v1/query?signal=requests.count&at=1795953600&window=1h\(by.isEmpty ? "" : "&by=\(by)")\(match)")
        var out: [String: Double] = [:]
        for series in response.json["series"] as? [[String: Any]] ?? [] {
            let labels = (series["labels"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
            out[labels] = ((series["points"] as? [[Any]])?.first?.last as? Double) ?? 0
        }
        return out
    }
}

/// Reads the `google.rpc.Status` message (2) from a protobuf error body.
func statusMessage(_ body: ByteBuffer) -> String? {
    let bytes = Array(body.readableBytesView)
    var i = 0
    while i < bytes.count {
        let key = bytes[i]; i += 1
        if key == 0x08 { while bytes[i] & 0x80 != 0 { i += 1 }; i += 1; continue }
        guard key == 0x12 else { return nil }
        var length = 0, shift = 0
        while true { let b = bytes[i]; i += 1; length |= Int(b & 0x7F) << shift; shift += 7; if b < 0x80 { break } }
        return String(decoding: bytes[i..<(i + length)], as: UTF8.self)
    }
    return nil
}

@Suite("OTLP receiver")
struct OTLPAPITests {
    @Test("SDK protobuf spans: 200 with an empty ExportTraceServiceResponse; GenAI spans become queryable records")
    func protobufSpans() async throws {
        try await withServer { client in
            let response = try await client.otlp("traces", try sdkCapture("sdk-protobuf.traces.bin"))
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/x-protobuf")
            #expect(response.body.readableBytes == 0)
            let counts = try await client.captureRequests(by: "model,provider,status")
            #expect(counts == [
                "model=smollm2-135m-sdk-protobuf,provider=openai,status=ok": 1,
                "model=llama-3-8b-sdk-protobuf,provider=openai,status=ok": 1,
                "model=claude-sdk-protobuf,provider=anthropic,status=client_error": 1,
                "model=e5-small-sdk-protobuf,provider=openai,status=ok": 1,
            ])
            let ttft = try await client.get("/api/v1/query?signal=ttft.mean&by=model&match=model=smollm2-135m-sdk-protobuf&at=1795953600&window=1h")
            let point = ((ttft.json["series"] as? [[String: Any]])?.first?["points"] as? [[Any]])?.first?.last as? Double
            #expect(point.map { abs($0 - 0.125) < 0.001 } == true)
        }
    }

    @Test("gzip and deflate bodies, and OTLP/JSON answered in JSON", arguments: [
        ("sdk-protobuf-gzip.traces.bin.gz", "application/x-protobuf", "gzip"),
        ("sdk-protobuf-deflate.traces.bin.zz", "application/x-protobuf", "deflate"),
        ("sdk-json.traces.json", "application/json", nil),
    ])
    func encodings(file: String, contentType: String, encoding: String?) async throws {
        try await withServer { client in
            let response = try await client.otlp("traces", try sdkCapture(file), contentType: contentType, encoding: encoding)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == contentType)
            if contentType == "application/json" { #expect(response.text == "{}") }
            #expect(try await client.captureRequests().values.reduce(0, +) == 4)
        }
    }

    @Test("a re-sent batch is stored once (record ids come from trace and span ids)")
    func resendDeduplicated() async throws {
        try await withServer { client in
            let body = try sdkCapture("sdk-protobuf.traces.bin")
            for _ in 0..<3 {
                #expect(try await client.otlp("traces", body).status == .ok)
            }
            #expect(try await client.captureRequests().values.reduce(0, +) == 4)
            let metrics = try await client.get("/metrics")
            #expect(metrics.text.contains("bifocal_ingest_duplicates_total 8"))
            #expect(metrics.text.contains("bifocal_ingest_records_total{source=\"otlp\"} 4"))
        }
    }

    @Test("partial success: bad spans are named in partial_success, the rest stored")
    func partialSuccess() async throws {
        try await withServer { client in
            let body = #"""
                {"resourceSpans":[{"scopeSpans":[{"spans":[
                  {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"chat",
                   "startTimeUnixNano":"1795953000000000000","endTimeUnixNano":"1795953001000000000",
                   "attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"llama"}}]},
                  {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b175","name":"chat",
                   "startTimeUnixNano":"1795953000000000000","endTimeUnixNano":"1795952000000000000",
                   "attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"llama"}}]},
                  {"traceId":"zz","spanId":"eee19b7ec3c1b176","startTimeUnixNano":"1","endTimeUnixNano":"2"}
                ]}]}]}
                """#
            let response = try await client.otlp("traces", Array(body.utf8), contentType: "application/json")
            #expect(response.status == .ok)
            let partial = try #require(response.json["partialSuccess"] as? [String: Any])
            #expect(partial["rejectedSpans"] as? String == "2")
            let message = try #require(partial["errorMessage"] as? String)
            #expect(message.contains("2 spans rejected"))
            #expect(message.contains("resource_spans[0].scope_spans[0].spans[1]: end_time_unix_nano"))
            #expect(message.contains("spans[2]: traceId is not a hex string ('zz')"))
            #expect(try await client.captureRequests().values.reduce(0, +) == 1)

            // The same in protobuf: a span with only a name (field 5), so no ids.
            let span: [UInt8] = [0x2A, 6] + Array("no ids".utf8)
            let scopeSpans: [UInt8] = [0x12, UInt8(span.count)] + span
            let resourceSpans: [UInt8] = [0x12, UInt8(scopeSpans.count)] + scopeSpans
            let protobuf = try await client.otlp("traces", [0x0A, UInt8(resourceSpans.count)] + resourceSpans)
            #expect(protobuf.status == .ok)
            #expect(Array(protobuf.body.readableBytesView.prefix(4)) == [0x0A, UInt8(protobuf.body.readableBytes - 2), 0x08, 0x01])
        }
    }

    @Test("undecodable bodies are a 400 with a google.rpc.Status; the server stays up", arguments: [
        ([0xFF, 0xFF, 0xFF], "application/x-protobuf", nil as String?),
        (Array("{\"resourceSpans\": [".utf8), "application/json", nil),
        (Array("not gzip".utf8), "application/x-protobuf", "gzip"),
        (Array([0x0A, 0x80]), "application/x-protobuf", nil),
    ])
    func undecodable(body: [UInt8], contentType: String, encoding: String?) async throws {
        try await withServer { client in
            let response = try await client.otlp("traces", body, contentType: contentType, encoding: encoding)
            #expect(response.status == .badRequest)
            #expect(response.headers[.contentType] == contentType)
            let message = contentType == "application/json" ? (response.json["message"] as? String) : statusMessage(response.body)
            #expect(message?.contains(encoding == nil ? "is not an OTLP/" : "cannot be decompressed") == true, "\(message ?? "no message")")
            let next = try await client.otlp("traces", try sdkCapture("sdk-protobuf.traces.bin"))
            #expect(next.status == .ok)
        }
    }

    @Test("an empty request is a success in either encoding", arguments: ["application/x-protobuf", "application/json"])
    func emptyRequest(contentType: String) async throws {
        try await withServer { client in
            for signal in ["traces", "metrics", "logs"] {
                let response = try await client.otlp(signal, [], contentType: contentType)
                #expect(response.status == .ok)
                #expect(response.text == (contentType == "application/json" ? "{}" : ""))
            }
        }
    }

    @Test("415 for other content types and encodings; 413 over the limit, compressed or expanded")
    func refusals() async throws {
        try await withServer(configure: { $0.maxBodyBytes = 1500 }) { client in
            let text = try await client.otlp("traces", Array("x".utf8), contentType: "text/plain")
            #expect(text.status == .unsupportedMediaType)
            #expect((text.json["message"] as? String)?.contains("application/x-protobuf or application/json") == true)
            let brotli = try await client.otlp("metrics", [0], encoding: "br")
            #expect(brotli.status == .unsupportedMediaType)
            #expect(statusMessage(brotli.body)?.contains("Content-Encoding 'br'") == true)
            // 2,399 bytes: over the limit as sent.
            let large = try await client.otlp("traces", try sdkCapture("sdk-protobuf.traces.bin"))
            #expect(large.status == .contentTooLarge)
            // 1,151 bytes of gzip that expand past the limit.
            let bomb = try await client.otlp("traces", try sdkCapture("sdk-protobuf-gzip.traces.bin.gz"), encoding: "gzip")
            #expect(bomb.status == .contentTooLarge)
            #expect(statusMessage(bomb.body)?.contains("decompressed body is larger") == true)
        }
    }

    @Test("metrics become series queryable by their own names, labels from attributes and the resource")
    func metricsToSeries() async throws {
        try await withServer { client in
            let response = try await client.otlp("metrics", try sdkCapture("sdk-protobuf.metrics.bin"))
            #expect(response.status == .ok)
            #expect(response.body.readableBytes == 0)
            // The captures' metric timestamps are the capture run's clock: ask around it.
            let json = try sdkCapture("sdk-json.metrics.json")
            #expect(try await client.otlp("metrics", json, contentType: "application/json").text == "{}")
            let text = String(decoding: json, as: UTF8.self)
            let marker = try #require(text.range(of: "\"timeUnixNano\": \"") ?? text.range(of: "\"timeUnixNano\":\""))
            let time = try #require(UInt64(text[marker.upperBound...].prefix(19)))
            let at = time / 1_000_000_000 + 60
            let answer = try await client.get("/api/v1/query?signal=gen_ai.client.token.usage_sum&by=gen_ai.token.type,model,job&match=model=smollm2-135m-sdk-protobuf&at=\(at)&window=1h")
            #expect(answer.status == .ok, "\(answer.text)")
            let series = answer.json["series"] as? [[String: Any]] ?? []
            var values: [String: Double] = [:]
            for s in series {
                let labels = s["labels"] as? [String: String] ?? [:]
                #expect(labels["model"] == "smollm2-135m-sdk-protobuf" && labels["job"] == "bifocal-interop")
                values[labels["gen_ai.token.type"] ?? ""] = (s["points"] as? [[Any]])?.first?.last as? Double
            }
            #expect(values == ["input": 21, "output": 9])
        }
    }

    @Test("logs are accepted and counted; malformed ones are rejected")
    func logs() async throws {
        try await withServer { client in
            #expect(try await client.otlp("logs", try sdkCapture("sdk-protobuf.logs.bin")).status == .ok)
            let json = try await client.otlp("logs", try sdkCapture("sdk-json.logs.json"), contentType: "application/json")
            #expect(json.text == "{}")
            let bad = #"{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"traceId":"abc","body":{"stringValue":"x"}}]}]}]}"#
            let response = try await client.otlp("logs", Array(bad.utf8), contentType: "application/json")
            let partial = response.json["partialSuccess"] as? [String: Any]
            #expect(partial?["rejectedLogRecords"] as? String == "1")
        }
    }

    /// A sink that always fails, as a store that cannot write does.
    struct FailingSink: RecordSink, SeriesSink {
        struct Down: Error {}
        func submit(_ records: [InferenceRecord]) async throws -> SinkOutcome { throw Down() }
        func submit(series samples: [SeriesSample]) async throws -> Int { throw Down() }
    }

    @Test("when the store cannot take the batch: 503 with Retry-After (retryable)")
    func storeDown() async throws {
        let router = Router()
        OTLPRoutes(records: FailingSink(), series: FailingSink(), metrics: SelfMetrics(), maxBodyBytes: 1 << 20).add(to: router)
        try await Application(router: router).test(.router) { client in
            for (signal, file) in [("traces", "sdk-protobuf.traces.bin"), ("metrics", "sdk-protobuf.metrics.bin")] {
                let response = try await client.otlp(signal, try sdkCapture(file))
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "5")
                #expect(statusMessage(response.body)?.contains("none of this batch was kept") == true)
            }
        }
    }

    @Test("bearer auth covers the OTLP routes")
    func auth() async throws {
        try await withServer(configure: { $0.tokens = ["a-very-long-test-token-123"] }) { client in
            let response = try await client.otlp("traces", try sdkCapture("sdk-protobuf.traces.bin"))
            #expect(response.status == .unauthorized)
            var headers: HTTPFields = [.contentType: "application/x-protobuf", .authorization: "Bearer a-very-long-test-token-123"]
            headers[.contentEncoding] = "identity"
            let ok = try await client.execute(uri: "/v1/traces", method: .post, headers: headers, body: ByteBuffer(bytes: try sdkCapture("sdk-protobuf.traces.bin")))
            #expect(ok.status == .ok)
        }
    }
}

