import BifocalCore
import BifocalIngest
import Foundation
import Hummingbird
import NIOCore

/// The OTLP/HTTP receiver: `POST /v1/traces`, `/v1/metrics`, `/v1/logs` with protobuf or JSON
/// bodies, optionally gzip- or deflate-compressed, answered as the OTLP specification asks:
///
/// - 200 with an `Export*ServiceResponse` in the request's encoding; `partial_success` names how
///   many items were rejected and why (the rest are stored);
/// - 400 (not retryable) with a `google.rpc.Status` when the body cannot be decompressed or decoded;
/// - 413 when the body, or its decompressed form, exceeds `server.max_body_bytes`;
/// - 415 for another content type or content encoding;
/// - 503 with `Retry-After` (retryable) when the store cannot take the batch: nothing of it was kept.
///
/// GenAI spans become inference records (`OTLPGenAIMapping`), metrics become series
/// (`OTLPMetricsMapping`); other spans and log records are accepted and counted, not stored.
struct OTLPRoutes {
    let records: any RecordSink
    let series: any SeriesSink
    let metrics: SelfMetrics
    let maxBodyBytes: Int

    func add<Context: RequestContext>(to router: Router<Context>) {
        router.post("/v1/traces") { request, _ in try await handle(request, .traces) }
        router.post("/v1/metrics") { request, _ in try await handle(request, .metrics) }
        router.post("/v1/logs") { request, _ in try await handle(request, .logs) }
    }

    /// An OTLP error answer: a `google.rpc.Status` in the request's encoding.
    struct Failure: HTTPResponseError {
        var status: HTTPResponse.Status
        var grpcCode: Int
        var message: String
        var encoding: OTLPEncoding
        var retryAfter: Int?

        func response(from request: Request, context: some RequestContext) throws -> Response {
            var headers: HTTPFields = [.contentType: encoding.contentType]
            if let retryAfter { headers[.retryAfter] = String(retryAfter) }
            let body = OTLPResponse.status(code: grpcCode, message: message, encoding: encoding)
            return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    func handle(_ request: Request, _ signal: OTLPSignal) async throws -> Response {
        var request = request
        guard let encoding = OTLPEncoding(contentType: request.headers[.contentType]) else {
            // The request's encoding is unknown, so the Status is sent as JSON, which people can read.
            throw Failure(status: .unsupportedMediaType, grpcCode: 3,
                          message: "Content-Type \(request.headers[.contentType].map { "'\($0)'" } ?? "(none)") is not accepted on /v1/\(signal.rawValue): send application/x-protobuf or application/json (OTLP/HTTP)",
                          encoding: .json)
        }
        let body = try await decompressedBody(&request, encoding: encoding)
        let response: (rejected: Int, message: String)
        switch signal {
        case .traces: response = try await traces(body, encoding: encoding)
        case .metrics: response = try await metrics(body, encoding: encoding)
        case .logs: response = try logs(body, encoding: encoding)
        }
        let bytes = OTLPResponse.export(signal, rejected: response.rejected, message: response.message, encoding: encoding)
        return Response(status: .ok, headers: [.contentType: encoding.contentType], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// The body, collected within the size limit and decompressed (within the same limit).
    func decompressedBody(_ request: inout Request, encoding: OTLPEncoding) async throws -> ByteBuffer {
        let tooLarge = Failure(status: .contentTooLarge, grpcCode: 3,
                               message: "the body is larger than the limit of \(maxBodyBytes) bytes (server.max_body_bytes); export smaller batches",
                               encoding: encoding)
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBodyBytes { throw tooLarge }
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw tooLarge
        }
        let contentEncoding = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces).lowercased() ?? "identity"
        do {
            switch contentEncoding {
            case "", "identity":
                return buffer
            case "gzip", "x-gzip":
                return ByteBuffer(bytes: try buffer.withUnsafeReadableBytes { (raw) throws(InflateError) in try Inflate.gunzip(raw, limit: maxBodyBytes) })
            case "deflate":
                return ByteBuffer(bytes: try buffer.withUnsafeReadableBytes { (raw) throws(InflateError) in try Inflate.inflate(raw, limit: maxBodyBytes) })
            default:
                throw Failure(status: .unsupportedMediaType, grpcCode: 3,
                              message: "Content-Encoding '\(contentEncoding)' is not supported: send gzip, deflate or an uncompressed body",
                              encoding: encoding)
            }
        } catch let error as InflateError {
            switch error.kind {
            case .tooLarge:
                throw Failure(status: .contentTooLarge, grpcCode: 3,
                              message: "the decompressed body is larger than the limit of \(maxBodyBytes) bytes (server.max_body_bytes); export smaller batches",
                              encoding: encoding)
            case .corrupt:
                throw Failure(status: .badRequest, grpcCode: 3, message: "the \(contentEncoding) body cannot be decompressed: \(error.reason)", encoding: encoding)
            }
        }
    }

    func undecodable(_ signal: OTLPSignal, _ error: OTLPDecodingError, _ encoding: OTLPEncoding) -> Failure {
        let what = encoding == .protobuf ? "an OTLP/protobuf" : "an OTLP/JSON"
        let message = "the body is not \(what) Export\(signal == .traces ? "Trace" : signal == .metrics ? "Metrics" : "Logs")ServiceRequest: \(error)"
        return Failure(status: .badRequest, grpcCode: 3, message: message, encoding: encoding)
    }

    func storeUnavailable(_ what: String, _ error: any Error, _ encoding: OTLPEncoding) -> Failure {
        Failure(status: .serviceUnavailable, grpcCode: 14,
                message: "the \(what) could not be stored, none of this batch was kept (retry later): \(error)",
                encoding: encoding, retryAfter: 5)
    }

    func traces(_ body: ByteBuffer, encoding: OTLPEncoding) async throws -> (rejected: Int, message: String) {
        let decoded: OTLPTraces
        do {
            decoded = try body.withUnsafeReadableBytes { (raw) throws(OTLPDecodingError) in
                encoding == .protobuf ? try OTLPProtobuf.decodeTraces(raw) : try OTLPJSON.decodeTraces(raw)
            }
        } catch {
            throw undecodable(.traces, error, encoding)
        }
        let batch = OTLPGenAIMapping.records(from: decoded)
        metrics.countRejected(batch.rejected.count, source: .otlp)
        if !batch.records.isEmpty {
            metrics.ingestStarted()
            defer { metrics.ingestFinished() }
            let outcome: SinkOutcome
            do {
                outcome = try await records.submit(batch.records)
            } catch {
                throw storeUnavailable("records", error, encoding)
            }
            metrics.observe(batch.records, duplicatePositions: outcome.duplicates)
        }
        return (batch.rejected.count, OTLPResponse.message(.traces, rejected: batch.rejected, total: batch.rejected.count))
    }

    func metrics(_ body: ByteBuffer, encoding: OTLPEncoding) async throws -> (rejected: Int, message: String) {
        let decoded: OTLPMetrics
        do {
            decoded = try body.withUnsafeReadableBytes { (raw) throws(OTLPDecodingError) in
                encoding == .protobuf ? try OTLPProtobuf.decodeMetrics(raw) : try OTLPJSON.decodeMetrics(raw)
            }
        } catch {
            throw undecodable(.metrics, error, encoding)
        }
        let batch = OTLPMetricsMapping.samples(from: decoded)
        if !batch.samples.isEmpty {
            do {
                _ = try await series.submit(series: batch.samples)
            } catch {
                throw storeUnavailable("series", error, encoding)
            }
        }
        return (batch.rejectedPoints, OTLPResponse.message(.metrics, rejected: batch.rejected, total: batch.rejectedPoints))
    }

    func logs(_ body: ByteBuffer, encoding: OTLPEncoding) throws -> (rejected: Int, message: String) {
        let decoded: OTLPLogs
        do {
            decoded = try body.withUnsafeReadableBytes { (raw) throws(OTLPDecodingError) in
                encoding == .protobuf ? try OTLPProtobuf.decodeLogs(raw) : try OTLPJSON.decodeLogs(raw)
            }
        } catch {
            throw undecodable(.logs, error, encoding)
        }
        let batch = OTLPLogBatch(decoded)
        return (batch.rejected.count, OTLPResponse.message(.logs, rejected: batch.rejected, total: batch.rejected.count))
    }
}
