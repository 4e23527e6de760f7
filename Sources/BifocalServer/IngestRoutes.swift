import BifocalCore
import BifocalIngest
import Foundation
import Hummingbird
import NIOCore

/// `POST /api/v1/records` (JSON array or NDJSON) and `POST /api/v1/capture` (SageMaker Data Capture JSONL).
struct IngestRoutes {
    let sink: any RecordSink
    let metrics: SelfMetrics
    let maxBodyBytes: Int

    /// The body formats the records route understands, by media type.
    enum BodyFormat {
        case jsonArray
        case ndjson

        init?(contentType: String?) {
            let mediaType = contentType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
            switch mediaType {
            case "application/json": self = .jsonArray
            case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines": self = .ndjson
            default: return nil
            }
        }
    }

    func add<Context: RequestContext>(to router: Router<Context>) {
        router.post("/api/v1/records") { request, _ in
            var request = request
            guard let format = BodyFormat(contentType: request.headers[.contentType]) else {
                throw APIError(.unsupportedMediaType, code: "unsupported_media_type",
                               message: "Content-Type \(request.headers[.contentType].map { "'\($0)'" } ?? "(none)") is not accepted: send application/json (a JSON array of records) or application/x-ndjson (one record per line)")
            }
            let body = try await collect(&request)
            let decoded: DecodedRecords
            switch format {
            case .jsonArray:
                do {
                    decoded = try body.withUnsafeReadableBytes { try RecordDecoder.decodeJSONArray($0) }
                } catch let error as BodySyntaxError {
                    throw APIError(.badRequest, code: "invalid_json",
                                   message: "the body is not a JSON array of records: \(error.reason) at byte \(error.offset)",
                                   details: [("offset", error.offset)])
                }
            case .ndjson:
                decoded = body.withUnsafeReadableBytes { RecordDecoder.decodeNDJSON($0) }
            }
            return try await store(decoded, source: .api)
        }
        router.post("/api/v1/capture") { request, _ in
            var request = request
            let endpoint = request.uri.queryParameters["endpoint"].map(String.init)
            let variant = request.uri.queryParameters["variant"].map(String.init)
            let body = try await collect(&request)
            let decoded = body.withUnsafeReadableBytes {
                CaptureDecoder.decodeJSONL($0, endpoint: endpoint, variant: variant)
            }
            return try await store(decoded, source: .capture)
        }
    }

    private func collect(_ request: inout Request) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes {
            throw bodyTooLarge()
        }
        do {
            return try await request.collectBody(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw bodyTooLarge()
        }
    }

    private func bodyTooLarge() -> APIError {
        APIError(.contentTooLarge, code: "body_too_large",
                 message: "the body is larger than the limit of \(maxBodyBytes) bytes (server.max_body_bytes); send smaller batches")
    }

    /// Stores the valid records and answers in the style of OTLP's partial success.
    private func store(_ decoded: DecodedRecords, source: RecordSource) async throws -> Response {
        metrics.countRejected(decoded.rejected.count, source: source)
        var outcome = SinkOutcome(accepted: 0)
        if !decoded.records.isEmpty {
            metrics.ingestStarted()
            defer { metrics.ingestFinished() }
            do {
                outcome = try await sink.submit(decoded.records)
            } catch {
                throw APIError(.serviceUnavailable, code: "store_unavailable",
                               message: "the records could not be stored, none of this batch was kept (retry later): \(error)")
            }
            metrics.observe(decoded.records, duplicatePositions: outcome.duplicates)
        }
        var json = JSONWriter(capacity: 64 + decoded.rejected.count * 96)
        json.raw("{\"accepted\":")
        json.number(outcome.accepted)
        json.raw(",\"duplicates\":[")
        json.raw(outcome.duplicates.map { String(decoded.indices[$0]) }.joined(separator: ","))
        json.raw("],\"rejected\":[")
        for (i, rejection) in decoded.rejected.enumerated() {
            if i > 0 { json.raw(",") }
            json.raw("{\"index\":")
            json.number(rejection.index)
            json.raw(",\"field\":")
            if let field = rejection.field { json.string(field) } else { json.raw("null") }
            json.raw(",\"error\":")
            json.string(rejection.error)
            json.raw("}")
        }
        json.raw("]}\n")
        return Response.json(json.bytes)
    }
}
