public import BifocalCore
import AsyncHTTPClient
public import Foundation
import NIOCore
import NIOHTTP1
import NIOFoundationCompat

/// Talks to a running Bifocal server over its HTTP API (`bifocal ingest`, `bifocal query`).
public struct RemoteClient: Sendable {
    /// A non-2xx answer, with the server's own message.
    public struct Failure: Error, CustomStringConvertible {
        /// HTTP status.
        public var status: Int
        /// The server's error message (or the body).
        public var message: String
        /// `HTTP status: message`.
        public var description: String { "server answered HTTP \(status): \(message)" }
    }

    /// The server's base URL (`http://127.0.0.1:8787`).
    public var baseURL: String
    /// Bearer token, if the server requires one.
    public var token: String?

    /// Creates a client.
    public init(baseURL: String, token: String?) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.token = token
    }

    /// The answer to one ingest batch.
    public struct IngestAnswer: Sendable {
        /// Records stored.
        public var accepted: Int
        /// Positions (in the batch) of records whose id was already stored.
        public var duplicates: [Int]
        /// Positions, fields and reasons of records the server rejected.
        public var rejected: [(index: Int, field: String?, error: String)]
    }

    /// Posts one NDJSON batch to `/api/v1/records`.
    public func postRecords(ndjson body: [UInt8]) async throws -> IngestAnswer {
        var request = HTTPClientRequest(url: "\(baseURL)/api/v1/records")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-ndjson")
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(bytes: body))
        let (status, data) = try await send(request)
        guard (200..<300).contains(status) else { throw Failure(status: status, message: Self.errorMessage(data)) }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw Failure(status: status, message: "unexpected answer: \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        let rejected = (object["rejected"] as? [[String: Any]] ?? []).map {
            (index: $0["index"] as? Int ?? -1, field: $0["field"] as? String, error: $0["error"] as? String ?? "")
        }
        return IngestAnswer(accepted: object["accepted"] as? Int ?? 0, duplicates: object["duplicates"] as? [Int] ?? [], rejected: rejected)
    }

    /// Sends `GET path?query` and returns the JSON body.
    public func get(path: String, parameters: [(String, String)]) async throws -> Data {
        var components = URLComponents(string: "\(baseURL)\(path)")!
        components.queryItems = parameters.map { URLQueryItem(name: $0.0, value: $0.1) }
        // URLComponents leaves '+' alone, which servers read as a space.
        let url = components.url!.absoluteString.replacingOccurrences(of: "+", with: "%2B")
        var request = HTTPClientRequest(url: url)
        if let token { request.headers.add(name: "authorization", value: "Bearer \(token)") }
        let (status, data) = try await send(request)
        guard (200..<300).contains(status) else { throw Failure(status: status, message: Self.errorMessage(data)) }
        return data
    }

    private func send(_ request: HTTPClientRequest) async throws -> (Int, Data) {
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let body = try await response.body.collect(upTo: 256 * 1024 * 1024)
        return (Int(response.status.code), Data(buffer: body))
    }

    static func errorMessage(_ data: Data) -> String {
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let error = object["error"] as? [String: Any], let message = error["message"] as? String {
            return message
        }
        return String(decoding: data.prefix(500), as: UTF8.self)
    }
}
