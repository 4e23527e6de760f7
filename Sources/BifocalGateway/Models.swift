import AsyncHTTPClient
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1

extension Gateway {
    /// `GET /v1/models`: the `data` entries of every OpenAI-compatible upstream's own list (asked
    /// at the same time, each with its own credentials, kept verbatim, first upstream first, one
    /// entry per id), then the configured model names no upstream listed, as
    /// `{"id","object":"model","created":0,"owned_by":UPSTREAM}`. An upstream that does not answer
    /// within 10 s contributes its configured names only; 502 when nothing at all is known.
    func listModels(_ request: Request) async -> Response {
        let authorized = presentsAccessToken(request.headers)
        let asked = upstreams.enumerated().filter { _, upstream in
            upstream.configuration.kind == .openai && (authorized || accessTokensEmpty || !upstream.configuration.auth.gatewayHoldsCredential)
        }
        let trace = TraceContext.make(incoming: request.headers[.traceparent], ids: ids)
        var lists: [Int: [(id: String, json: [UInt8])]] = [:]
        var failures: [String] = []
        await withTaskGroup(of: (Int, [(id: String, json: [UInt8])]?, String?).self) { group in
            for (index, upstream) in asked {
                let headers = forwardHeaders(request.headers, upstream: upstream, trace: trace)
                group.addTask {
                    do {
                        let (response, _) = try await upstream.send(method: .GET, path: "/v1/models", headers: headers, body: ByteBuffer(),
                                                                    deadline: .now() + .seconds(10))
                        let body = try await response.body.collect(upTo: 8 * 1024 * 1024)
                        guard response.status.code < 300 else {
                            return (index, nil, "\(upstream.configuration.name): HTTP \(response.status.code)")
                        }
                        return (index, Self.modelEntries(body), nil)
                    } catch {
                        return (index, nil, "\(upstream.configuration.name): \(error)")
                    }
                }
            }
            for await (index, entries, failure) in group {
                if let entries { lists[index] = entries }
                if let failure { failures.append(failure) }
            }
        }
        var seen = Set<String>()
        var json = JSONText()
        json.raw("{\"object\":\"list\",\"data\":[")
        var first = true
        for index in upstreams.indices {
            for entry in lists[index] ?? [] where seen.insert(entry.id).inserted {
                if !first { json.raw(",") }
                first = false
                json.raw(bytes: entry.json)
            }
        }
        for upstream in upstreams where authorized || accessTokensEmpty || !upstream.configuration.auth.gatewayHoldsCredential {
            for model in upstream.configuration.models where seen.insert(model).inserted {
                if !first { json.raw(",") }
                first = false
                json.raw("{\"id\":")
                json.string(model)
                json.raw(",\"object\":\"model\",\"created\":0,\"owned_by\":")
                json.string(upstream.configuration.name)
                json.raw("}")
            }
        }
        json.raw("]}\n")
        if seen.isEmpty && !failures.isEmpty {
            return Self.openAIError(status: .badGateway, message: "no upstream listed its models: " + failures.joined(separator: "; "),
                                    type: "server_error", code: "upstream_unreachable", recordId: nil)
        }
        for failure in failures { logger.warning("gateway /v1/models: an upstream did not answer", metadata: ["failure": "\(failure)"]) }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json.bytes)))
    }

    var accessTokensEmpty: Bool { configuration.accessTokens.isEmpty }

    /// The entries of a `{"object":"list","data":[{"id":...}, ...]}` body: each id with its JSON as sent.
    static func modelEntries(_ body: ByteBuffer) -> [(id: String, json: [UInt8])] {
        body.withUnsafeReadableBytes { bytes in
            var entries: [(id: String, json: [UInt8])] = []
            var r = JSONReader(bytes)
            guard r.beginObject() else { return entries }
            while let key = r.nextKey() {
                guard r.key(key, is: "data") else { r.skipValue(); continue }
                guard r.beginArray() else { break }
                while r.nextElement() {
                    let range = r.valueRange()
                    var inner = JSONReader(bytes, at: range.lowerBound)
                    var id: String?
                    if inner.beginObject() {
                        while let k = inner.nextKey() {
                            if inner.key(k, is: "id") { id = inner.string() } else { inner.skipValue() }
                        }
                    }
                    if let id { entries.append((id, Array(bytes[range]))) }
                    if r.failed { break }
                }
            }
            return entries
        }
    }
}
