import BifocalCore
import BifocalServer
import BifocalStore
import BifocalTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore

/// A fixed "now" for every in-process server test: 2026-11-29T12:00:00Z.
let testNow: Int64 = 1_795_953_600_000_000

/// Runs `body` against an in-process server over a fresh data folder.
func withServer<T: Sendable>(
    configure: (inout BifocalConfiguration) -> Void = { _ in },
    _ body: @Sendable (any TestClientProtocol) async throws -> T
) async throws -> T {
    let folder = try TemporaryDirectory()
    var configuration = BifocalConfiguration()
    configuration.storage.directory = folder.path
    configure(&configuration)
    let store = try SQLiteStore.open(configuration.storage)
    let app = buildApplication(configuration: configuration, store: store, logger: Logger(label: "test"), clock: { testNow })
    let result = try await app.test(.router, body)
    try await store.close()
    _ = folder
    return result
}

extension TestClientProtocol {
    /// Posts a body with a content type.
    func post(_ path: String, contentType: String?, body: String) async throws -> TestResponse {
        var headers = HTTPFields()
        if let contentType { headers[.contentType] = contentType }
        return try await execute(uri: path, method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    /// Sends a GET.
    func get(_ path: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(uri: path, method: .get, headers: headers)
    }
}

extension TestResponse {
    /// The body as a JSON object.
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
    }

    /// The body as text.
    var text: String { String(buffer: body) }
}

/// One valid record as the API accepts it, at `testNow - minutesAgo`.
func recordJSON(id: String? = nil, model: String = "llama", minutesAgo: Double = 5, ttftMs: Double = 120, e2eMs: Double = 2000,
                outputTokens: Int = 101, status: String = "ok", extra: String = "") -> String {
    let start = Double(testNow) / 1e6 - minutesAgo * 60
    let idPart = id.map { "\"id\":\"\($0)\"," } ?? ""
    return "{\(idPart)\"start\":\(start),\"endpoint\":\"prod\",\"model\":\"\(model)\",\"status\":\"\(status)\",\"input_tokens\":50,\"output_tokens\":\(outputTokens),\"ttft_ms\":\(ttftMs),\"e2e_ms\":\(e2eMs)\(extra)}"
}
