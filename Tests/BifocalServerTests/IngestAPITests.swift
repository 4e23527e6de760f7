import BifocalCore
import BifocalServer
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import Testing

@Suite("Ingest API")
struct IngestAPITests {
    @Test("a JSON array is stored and answered with the number accepted")
    func jsonArrayAccepted() async throws {
        try await withServer { client in
            let body = "[\(recordJSON(id: "a")),\(recordJSON(id: "b", model: "mistral"))]"
            let response = try await client.post("/api/v1/records", contentType: "application/json", body: body)
            #expect(response.status == .ok)
            #expect(response.json["accepted"] as? Int == 2)
            #expect((response.json["rejected"] as? [Any])?.isEmpty == true)
            let count = try await client.get("/api/v1/query?signal=requests.count&at=\(Double(testNow) / 1e6)&window=1h")
            let series = count.json["series"] as? [[String: Any]]
            #expect((series?.first?["points"] as? [[Any]])?.first?.last as? Double == 2)
        }
    }

    @Test("invalid records are rejected one by one with index, field and reason; the valid ones are kept")
    func partialSuccess() async throws {
        try await withServer { client in
            let body = "[\(recordJSON()),{\"start\":\"yesterday\",\"model\":\"m\"},\(recordJSON(extra: ",\"input_tokens2\":3")),\(recordJSON(ttftMs: -5)),42]"
            let response = try await client.post("/api/v1/records", contentType: "application/json", body: body)
            #expect(response.status == .ok)
            #expect(response.json["accepted"] as? Int == 1)
            let rejected = try #require(response.json["rejected"] as? [[String: Any]])
            #expect(rejected.map { $0["index"] as? Int } == [1, 2, 3, 4])
            #expect(rejected[0]["field"] as? String == "start")
            #expect(rejected[1]["field"] as? String == "input_tokens2")
            #expect(rejected[2]["field"] as? String == "ttft_ms")
            for rejection in rejected { #expect(!(rejection["error"] as? String ?? "").isEmpty) }
        }
    }

    @Test("in NDJSON a bad line is rejected on its own, indexed by line number - 1")
    func ndjsonBadLine() async throws {
        try await withServer { client in
            let body = [recordJSON(id: "1"), "{not json", recordJSON(id: "3"), "", recordJSON(id: "5", status: "exploded")].joined(separator: "\n")
            let response = try await client.post("/api/v1/records", contentType: "application/x-ndjson", body: body)
            #expect(response.status == .ok)
            #expect(response.json["accepted"] as? Int == 2)
            let rejected = try #require(response.json["rejected"] as? [[String: Any]])
            #expect(rejected.map { $0["index"] as? Int } == [1, 4])
            #expect(rejected[1]["field"] as? String == "status")
        }
    }

    @Test("a repeated id is reported as a duplicate, not stored twice")
    func duplicates() async throws {
        try await withServer { client in
            let first = try await client.post("/api/v1/records", contentType: "application/json", body: "[\(recordJSON(id: "x")),\(recordJSON(id: "y"))]")
            #expect(first.json["accepted"] as? Int == 2)
            let retry = try await client.post("/api/v1/records", contentType: "application/json", body: "[\(recordJSON(id: "z")),\(recordJSON(id: "x"))]")
            #expect(retry.json["accepted"] as? Int == 1)
            #expect(retry.json["duplicates"] as? [Int] == [1])
            let count = try await client.get("/api/v1/query?signal=requests.count&at=\(Double(testNow) / 1e6)&window=1h")
            let points = (count.json["series"] as? [[String: Any]])?.first?["points"] as? [[Any]]
            #expect(points?.first?.last as? Double == 3)
        }
    }

    @Test("an unparseable JSON array is a 400 that names the byte offset")
    func unparseableArray() async throws {
        try await withServer { client in
            let body = "[\(recordJSON()), {\"start\": ]"
            let response = try await client.post("/api/v1/records", contentType: "application/json", body: body)
            #expect(response.status == .badRequest)
            let error = try #require(response.json["error"] as? [String: Any])
            #expect(error["code"] as? String == "invalid_json")
            let offset = try #require(error["offset"] as? Int)
            #expect(offset > recordJSON().utf8.count && offset < body.utf8.count)
            #expect((error["message"] as? String)?.contains("byte \(offset)") == true)
        }
    }

    @Test("a body over the limit is a 413")
    func bodyTooLarge() async throws {
        try await withServer(configure: { $0.maxBodyBytes = 4096 }) { client in
            let body = "[" + Array(repeating: recordJSON(), count: 40).joined(separator: ",") + "]"
            let response = try await client.post("/api/v1/records", contentType: "application/json", body: body)
            #expect(response.status == .contentTooLarge)
            #expect((response.json["error"] as? [String: Any])?["code"] as? String == "body_too_large")
            // The server is still up and takes a small batch.
            let small = try await client.post("/api/v1/records", contentType: "application/json", body: "[\(recordJSON())]")
            #expect(small.status == .ok)
        }
    }

    @Test("a wrong content type is a 415 that says what to send", arguments: [nil, "text/plain", "application/x-www-form-urlencoded"])
    func wrongContentType(contentType: String?) async throws {
        try await withServer { client in
            let response = try await client.post("/api/v1/records", contentType: contentType, body: "[\(recordJSON())]")
            #expect(response.status == .unsupportedMediaType)
            #expect(((response.json["error"] as? [String: Any])?["message"] as? String)?.contains("application/x-ndjson") == true)
        }
    }

    @Test("an empty array is fine and stores nothing")
    func emptyArray() async throws {
        try await withServer { client in
            let response = try await client.post("/api/v1/records", contentType: "application/json; charset=utf-8", body: "[]")
            #expect(response.status == .ok)
            #expect(response.json["accepted"] as? Int == 0)
        }
    }
}
