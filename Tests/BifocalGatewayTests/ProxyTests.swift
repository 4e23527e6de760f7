import AsyncHTTPClient
import BifocalCore
@testable import BifocalGateway
import BifocalTesting
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

/// An upstream that answers `POST /v1/chat/completions` (and the other routes) with a scripted body.
private func scriptedUpstream(
    log: UpstreamLog,
    status: HTTPResponse.Status = .ok,
    contentType: String = "text/event-stream; charset=utf-8",
    chunks: @escaping @Sendable () -> [[UInt8]],
    pause: Duration = .zero
) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
        var request = request
        let body = try await request.collectBody(upTo: 1 << 20)
        log.add(request, body: body)
        return Response(status: status, headers: [.contentType: contentType], body: pieces(chunks(), pause: pause, log: log))
    }
    for path in ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/responses"] {
        router.post(RouterPath(path), use: handler)
    }
    return router
}

private let chatStream = #"{"model":"m","messages":[{"role":"user","content":"Say this is a test"}],"stream":true,"stream_options":{"include_usage":true}}"#
private let chatStreamNoUsage = #"{"model":"m","messages":[{"role":"user","content":"Say this is a test"}],"stream":true}"#

@Suite(.serialized) struct ProxyTests {
    @Test(arguments: ["openai/chat_completions_stream_include_usage.sse", "llamacpp/chat_stream_include_usage.sse"])
    func aStreamTheClientAskedUsageForIsByteForByteTheUpstreams(path: String) async throws {
        guard let bytes = try fixture(path) else { return }
        let log = UpstreamLog()
        // Pieces of odd sizes, so events straddle buffers.
        let router = scriptedUpstream(log: log, chunks: { split(bytes, sizes: [37, 211, 5, 1024]) })
        try await withServer(router) { upstreamPort in
            try await withGateway(upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"])) { gw in
                let (status, headers, body) = try await gw.send("/v1/chat/completions", body: chatStream)
                #expect(status == 200)
                #expect(Array(body.readableBytesView) == bytes)
                #expect(headers.first(name: "content-type") == "text/event-stream; charset=utf-8")
                let records = await gw.sink.waitFor(1)
                let record = try #require(records.first)
                #expect(headers.first(name: "x-bifocal-record-id") == record.id)
                #expect(record.status == .ok && record.httpStatus == 200 && record.streaming == true && record.source == .gateway)
                #expect(record.endpoint == "ep" && record.instance == "127.0.0.1:\(upstreamPort)" && record.provider == "openai")
                #expect(record.ttftMs != nil && record.e2eMs != nil && record.ttftMs! <= record.e2eMs!)
                #expect(record.outputTokens != nil && !record.tokensEstimated)
                // The client asked for usage itself: the body went upstream exactly as sent.
                #expect(log.requests.first?.body == chatStream)
            }
        }
    }

    @Test(arguments: ["openai/chat_completions_stream_include_usage.sse", "llamacpp/chat_stream_include_usage.sse"])
    func whenOnlyTheGatewayAskedForUsageTheClientDoesNotSeeIt(path: String) async throws {
        guard let bytes = try fixture(path) else { return }
        let log = UpstreamLog()
        let router = scriptedUpstream(log: log, chunks: { split(bytes, sizes: [100, 3, 700]) })
        try await withServer(router) { upstreamPort in
            try await withGateway(upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"])) { gw in
                let (status, _, body) = try await gw.send("/v1/chat/completions", body: chatStreamNoUsage)
                #expect(status == 200)
                #expect(Array(body.readableBytesView) == expectedStripped(bytes))
                let sent = try #require(log.requests.first?.body)
                #expect(sent == #"{"stream_options":{"include_usage":true},"model":"m","messages":[{"role":"user","content":"Say this is a test"}],"stream":true}"#)
                let record = try #require(await gw.sink.waitFor(1).first)
                #expect(record.inputTokens != nil && record.outputTokens != nil && !record.tokensEstimated)
            }
        }
    }

    @Test func withStreamUsageOffNothingIsAskedAndTokensAreEstimated() async throws {
        guard let bytes = try fixture("openai/chat_completions_stream_include_usage.sse") else { return }
        let plain = expectedStripped(bytes)  // what OpenAI sends when nobody asked for usage
        let log = UpstreamLog()
        let router = scriptedUpstream(log: log, chunks: { [plain] })
        try await withServer(router) { upstreamPort in
            let configuration = upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"]) { $0.injectStreamUsage = false }
            try await withGateway(configuration) { gw in
                let (_, _, body) = try await gw.send("/v1/chat/completions", body: chatStreamNoUsage)
                #expect(Array(body.readableBytesView) == plain)
                #expect(log.requests.first?.body == chatStreamNoUsage)
                let record = try #require(await gw.sink.waitFor(1).first)
                #expect(record.outputTokens == 5 && record.tokensEstimated && record.inputTokens == nil)
            }
        }
    }

    @Test(arguments: ["openai/chat_completions_nonstream_response.json", "llamacpp/chat_nonstream.json"])
    func nonStreamingBodiesPassUnchangedAndUsageIsRecorded(path: String) async throws {
        guard let bytes = try fixture(path) else { return }
        let log = UpstreamLog()
        let router = scriptedUpstream(log: log, contentType: "application/json", chunks: { [bytes] })
        try await withServer(router) { upstreamPort in
            try await withGateway(upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"])) { gw in
                let (status, headers, body) = try await gw.send("/v1/chat/completions", body: #"{"model":"m","messages":[]}"#)
                #expect(status == 200 && Array(body.readableBytesView) == bytes)
                let record = try #require(await gw.sink.waitFor(1).first)
                #expect(headers.first(name: "x-bifocal-record-id") == record.id)
                #expect(record.streaming == false && record.ttftMs == nil && record.e2eMs != nil)
                #expect(record.inputTokens != nil && record.outputTokens != nil && record.finishReason != nil)
                #expect(record.requestModel == "m" && record.model != "m")
            }
        }
    }

    @Test func upstreamErrorsPassVerbatimAndAreRecordedWithTheirKind() async throws {
        let notFound = try fixture("openai/chat_completions_error_404_response.json") ?? Array(#"{"error":{"message":"nope"}}"#.utf8)
        for (status, kind) in [(HTTPResponse.Status.notFound, RecordStatus.clientError), (.internalServerError, .serverError), (.gatewayTimeout, .timeout)] {
            let log = UpstreamLog()
            let router = scriptedUpstream(log: log, status: status, contentType: "application/json", chunks: { [notFound] })
            try await withServer(router) { upstreamPort in
                try await withGateway(upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"])) { gw in
                    let (code, _, body) = try await gw.send("/v1/chat/completions", body: chatStream)
                    #expect(code == Int(status.code) && Array(body.readableBytesView) == notFound)
                    let record = try #require(await gw.sink.waitFor(1).first)
                    #expect(record.status == kind && record.httpStatus == Int(status.code))
                    #expect(record.error?.isEmpty == false)
                }
            }
        }
    }

    @Test func connectionFailureIs502InOpenAIsShape() async throws {
        let port = try closedPort()
        try await withGateway(upstreamConfiguration(["http://127.0.0.1:\(port)"])) { gw in
            let (status, headers, body) = try await gw.send("/v1/chat/completions", body: chatStream)
            #expect(status == 502)
            let json = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
            let error = try #require(json?["error"] as? [String: Any])
            #expect(error["type"] as? String == "server_error" && error["code"] as? String == "upstream_unreachable")
            #expect(error.keys.contains("param") && error["message"] is String)
            let record = try #require(await gw.sink.waitFor(1).first)
            #expect(record.status == .serverError && record.httpStatus == 502 && headers.first(name: "x-bifocal-record-id") == record.id)
        }
    }

    @Test func aSlowUpstreamIs504() async throws {
        let log = UpstreamLog()
        let router = Router(context: BasicRequestContext.self)
        router.post("/v1/chat/completions") { _, _ -> Response in
            try await Task.sleep(for: .seconds(1))
            log.aborted.withLock { $0 = true }
            return Response(status: .ok)
        }
        try await withServer(router) { upstreamPort in
            let configuration = upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"]) { $0.readTimeout = 200_000 }
            try await withGateway(configuration) { gw in
                let (status, _, body) = try await gw.send("/v1/chat/completions", body: chatStream)
                #expect(status == 504)
                #expect(String(buffer: body).contains("\"code\":\"upstream_timeout\""))
                let record = try #require(await gw.sink.waitFor(1).first)
                #expect(record.status == .timeout && record.httpStatus == 504)
            }
        }
    }

    @Test func anUnknownModelWithNoDefaultIs404() async throws {
        try await withGateway(upstreamConfiguration(["http://127.0.0.1:1"], models: ["known"])) { gw in
            let (status, _, body) = try await gw.send("/v1/chat/completions", body: #"{"model":"unknown","messages":[]}"#)
            #expect(status == 404)
            let json = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
            let error = try #require(json?["error"] as? [String: Any])
            #expect(error["code"] as? String == "model_not_found" && error["type"] as? String == "invalid_request_error")
            let record = try #require(await gw.sink.waitFor(1).first)
            #expect(record.status == .clientError && record.model == "unknown")
        }
    }

    @Test func aBodyOverTheLimitIs413() async throws {
        var configuration = upstreamConfiguration(["http://127.0.0.1:1"])
        configuration.maxRequestBytes = 1024
        try await withGateway(configuration) { gw in
            let body = #"{"model":"m","prompt":""# + String(repeating: "x", count: 2000) + #""}"#
            let (status, _, text) = try await gw.send("/v1/completions", body: body)
            #expect(status == 413 && String(buffer: text).contains("request_too_large"))
            #expect(try #require(await gw.sink.waitFor(1).first).status == .clientError)
        }
    }

    @Test func theDefaultUpstreamServesUnlistedModels() async throws {
        let log = UpstreamLog()
        let router = scriptedUpstream(log: log, contentType: "application/json", chunks: { [Array("{}".utf8)] })
        try await withServer(router) { upstreamPort in
            var configuration = upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"], models: [])
            configuration.defaultUpstream = "up"
            try await withGateway(configuration) { gw in
                let answer = try await gw.send("/v1/embeddings?api-version=2024-10-21", body: #"{"model":"anything","input":"x"}"#)
                #expect(answer.status == 200)
                #expect(log.requests.first?.path == "/v1/embeddings" && log.requests.first?.query == "api-version=2024-10-21")
            }
        }
    }

    @Test func aClientThatGoesAwayCancelsTheUpstreamRequest() async throws {
        let log = UpstreamLog()
        let chunk = Array(#"data: {"choices":[{"index":0,"delta":{"content":"x"}}]}"#.utf8) + [10, 10]
        let router = scriptedUpstream(log: log, chunks: { Array(repeating: chunk, count: 200) }, pause: .milliseconds(25))
        try await withServer(router) { upstreamPort in
            try await withGateway(upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"])) { gw in
                let reading = Task {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(gw.port)/v1/chat/completions")
                    request.method = .POST
                    request.body = .bytes(ByteBuffer(string: chatStream))
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                    var received = 0
                    for try await buffer in response.body {
                        received += buffer.readableBytes
                        if received >= 3 * chunk.count { break }  // read a little, then hang up
                    }
                    return received
                }
                #expect(try await reading.value >= 3 * chunk.count)
                let record = try #require(await gw.sink.waitFor(1).first)
                #expect(record.status == .cancelled && record.streaming == true)
                #expect(record.ttftMs != nil && (record.outputTokens ?? 0) >= 3 && record.tokensEstimated)
                // The upstream's own answer was cut off long before its 5 s were up.
                for _ in 0..<200 where !log.aborted.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(10)) }
                #expect(log.aborted.withLock { $0 })
            }
        }
    }

    @Test func aClientThatHangsUpAfterDoneHadTheWholeAnswer() async throws {
        // The openai client closes the connection as soon as it reads [DONE]; an upstream that
        // closes a moment later must not turn a complete answer into a cancelled one.
        let log = UpstreamLog()
        let chunk = Array(#"data: {"choices":[{"index":0,"delta":{"content":"x"}}],"usage":null}"#.utf8) + [10, 10]
        let usage = Array(#"data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#.utf8) + [10, 10]
        let done = Array("data: [DONE]\n\n".utf8)
        let trailer = Array(": still open\n\n".utf8)
        let router = scriptedUpstream(log: log, chunks: { [chunk, chunk, usage, done, trailer] }, pause: .milliseconds(150))
        try await withServer(router) { upstreamPort in
            try await withGateway(upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"])) { gw in
                var request = HTTPClientRequest(url: "http://127.0.0.1:\(gw.port)/v1/chat/completions")
                request.method = .POST
                request.body = .bytes(ByteBuffer(string: chatStream))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                var seen: [UInt8] = []
                for try await buffer in response.body {
                    seen += buffer.readableBytesView
                    if String(decoding: seen, as: UTF8.self).contains("[DONE]") { break }  // hang up, as openai does
                }
                let record = try #require(await gw.sink.waitFor(1).first)
                #expect(record.status == .ok, "\(record.error ?? "")")
                #expect(record.outputTokens == 2 && record.tokensEstimated == false)
            }
        }
    }

    @Test func aFullRecordQueueDropsRecordsNotRequests() async throws {
        let log = UpstreamLog()
        let router = scriptedUpstream(log: log, contentType: "application/json", chunks: { [Array("{}".utf8)] })
        try await withServer(router) { upstreamPort in
            var configuration = upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"])
            configuration.recordQueueSize = 1
            let sink = CollectingSink(blocked: true)
            try await withGateway(configuration, sink: sink) { gw in
                let answer = try await gw.send("/v1/chat/completions", body: #"{"model":"m"}"#)
                    #expect(answer.status == 200)
                await sink.waitUntilHeld()
                for _ in 0..<4 {
                    let answer = try await gw.send("/v1/chat/completions", body: #"{"model":"m"}"#)
                    #expect(answer.status == 200)
                }
                // The drain took one record and is stuck in the sink; the queue holds one; three were dropped.
                #expect(gw.gateway.records.dropped == 3)
                sink.release()
                #expect(await sink.waitFor(2).count == 2)
            }
        }
    }

    @Test func aRefusedBaseURLFailsOverToTheNextAndRoundRobinSpreadsTheRest() async throws {
        let dead = try closedPort()
        let logA = UpstreamLog()
        let logB = UpstreamLog()
        let a = scriptedUpstream(log: logA, contentType: "application/json", chunks: { [Array("{}".utf8)] })
        try await withServer(a) { portA in
            let b = scriptedUpstream(log: logB, contentType: "application/json", chunks: { [Array("{}".utf8)] })
            try await withServer(b) { portB in
                let urls = ["http://127.0.0.1:\(dead)", "http://127.0.0.1:\(portA)", "http://127.0.0.1:\(portB)/"]
                try await withGateway(upstreamConfiguration(urls)) { gw in
                    for _ in 0..<6 {
                        let answer = try await gw.send("/v1/chat/completions", body: #"{"model":"m"}"#)
                    #expect(answer.status == 200)
                    }
                    // Cursor 0 (dead) fails over to A; 1 is A; 2 is B; and again.
                    #expect(logA.requests.count == 4 && logB.requests.count == 2)
                    let records = await gw.sink.waitFor(6)
                    #expect(records.allSatisfy { $0.status == .ok })
                    #expect(Set(records.compactMap(\.instance)) == ["127.0.0.1:\(portA)", "127.0.0.1:\(portB)"])
                }
            }
        }
    }

    @Test func traceparentIsContinuedOrCreatedAndKeptOnTheRecord() async throws {
        let log = UpstreamLog()
        let router = scriptedUpstream(log: log, contentType: "application/json", chunks: { [Array("{}".utf8)] })
        try await withServer(router) { upstreamPort in
            try await withGateway(upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"])) { gw in
                var headers = HTTPHeaders()
                headers.add(name: "traceparent", value: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
                headers.add(name: "x-bifocal-tenant", value: "search")
                headers.add(name: "authorization", value: "Bearer sk-client-key")
                _ = try await gw.send("/v1/chat/completions", body: #"{"model":"m"}"#, headers: headers)
                _ = try await gw.send("/v1/chat/completions", body: #"{"model":"m"}"#)
                let records = await gw.sink.waitFor(2)
                let seen = log.requests
                let first = try #require(seen.first?.headers[HTTPField.Name("traceparent")!])
                #expect(first == "00-0af7651916cd43dd8448eb211c80319c-\(records[0].spanId!)-01")
                #expect(records[0].traceId == "0af7651916cd43dd8448eb211c80319c" && records[0].tenant == "search")
                // Passthrough auth: the client's key reaches the upstream; the tenant header does not.
                #expect(seen[0].headers[.authorization] == "Bearer sk-client-key")
                #expect(seen[0].headers[HTTPField.Name("x-bifocal-tenant")!] == nil)
                let second = try #require(seen.last?.headers[HTTPField.Name("traceparent")!])
                #expect(second == "00-\(records[1].traceId!)-\(records[1].spanId!)-01")
                #expect(records[1].traceId != records[0].traceId)
            }
        }
    }

    @Test func anAPIKeyUpstreamNeedsTheGatewaysTokenAndGetsTheGatewaysKey() async throws {
        let log = UpstreamLog()
        let router = scriptedUpstream(log: log, contentType: "application/json", chunks: { [Array("{}".utf8)] })
        try await withServer(router) { upstreamPort in
            var configuration = upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"]) {
                $0.auth = .apiKey(environmentVariable: "UPSTREAM_KEY", header: "authorization")
            }
            configuration.accessTokens = ["bifocal-token-0123456789"]
            try await withGateway(configuration, environment: ["UPSTREAM_KEY": "sk-secret"]) { gw in
                var wrong = HTTPHeaders()
                wrong.add(name: "authorization", value: "Bearer sk-whatever")
                let refused = try await gw.send("/v1/chat/completions", body: #"{"model":"m"}"#, headers: wrong)
                #expect(refused.status == 401)
                var right = HTTPHeaders()
                right.add(name: "authorization", value: "Bearer bifocal-token-0123456789")
                let answer = try await gw.send("/v1/chat/completions", body: #"{"model":"m"}"#, headers: right)
                    #expect(answer.status == 200)
                #expect(log.requests.count == 1 && log.requests[0].headers[.authorization] == "Bearer sk-secret")
            }
        }
    }

    @Test func modelsAreMergedFromEveryUpstream() async throws {
        @Sendable func lister(_ ids: [String]) -> Router<BasicRequestContext> {
            let router = Router(context: BasicRequestContext.self)
            router.get("/v1/models") { _, _ in
                let data = ids.map { #"{"id":"\#($0)","object":"model","created":1,"owned_by":"x"}"# }.joined(separator: ",")
                return Response(status: .ok, headers: [.contentType: "application/json"],
                                body: .init(byteBuffer: ByteBuffer(string: #"{"object":"list","data":[\#(data)]}"#)))
            }
            return router
        }
        try await withServer(lister(["a", "b"])) { portA in
            try await withServer(lister(["b", "c"])) { portB in
                var first = UpstreamConfiguration(name: "one", baseURLs: ["http://127.0.0.1:\(portA)"], models: ["a", "z"])
                first.endpoint = "ep"
                let second = UpstreamConfiguration(name: "two", baseURLs: ["http://127.0.0.1:\(portB)"], models: ["c"])
                let dead = UpstreamConfiguration(name: "three", baseURLs: ["http://127.0.0.1:\(try closedPort())"], models: ["y"])
                try await withGateway(GatewayConfiguration(upstreams: [first, second, dead])) { gw in
                    let (status, _, body) = try await gw.send("/v1/models", method: .GET)
                    #expect(status == 200)
                    let json = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
                    let data = try #require(json?["data"] as? [[String: Any]])
                    #expect(data.compactMap { $0["id"] as? String } == ["a", "b", "c", "z", "y"])
                    #expect(data[3]["owned_by"] as? String == "one" && data[0]["created"] as? Int == 1)
                }
            }
        }
    }

    @Test func responsesAPIStreamsAreTimedOnOutputTextDeltas() async throws {
        let stream = """
            event: response.created
            data: {"type":"response.created","response":{"status":"in_progress","model":"m"}}

            event: response.output_text.delta
            data: {"type":"response.output_text.delta","delta":"Hi"}

            event: response.completed
            data: {"type":"response.completed","response":{"status":"completed","model":"m-1","usage":{"input_tokens":4,"output_tokens":1}}}


            """
        let log = UpstreamLog()
        let router = scriptedUpstream(log: log, chunks: { split(Array(stream.utf8), sizes: [30]) })
        try await withServer(router) { upstreamPort in
            try await withGateway(upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"])) { gw in
                let (_, _, body) = try await gw.send("/v1/responses", body: #"{"model":"m","input":"hi","stream":true}"#)
                #expect(String(buffer: body) == stream)
                #expect(log.requests.first?.body == #"{"model":"m","input":"hi","stream":true}"#)
                let record = try #require(await gw.sink.waitFor(1).first)
                #expect(record.inputTokens == 4 && record.outputTokens == 1 && record.model == "m-1" && record.ttftMs != nil)
                #expect(record.labels["operation"] == "responses")
            }
        }
    }

    @Test func sampledTextIsRedactedAndCapped() async throws {
        let answer = #"{"choices":[{"index":0,"message":{"role":"assistant","content":"Mail bob@example.com now"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":4}}"#
        let log = UpstreamLog()
        let router = scriptedUpstream(log: log, contentType: "application/json", chunks: { [Array(answer.utf8)] })
        try await withServer(router) { upstreamPort in
            var configuration = upstreamConfiguration(["http://127.0.0.1:\(upstreamPort)"])
            configuration.captureSampleRate = 1
            configuration.captureMaxBytes = 12
            try await withGateway(configuration) { gw in
                _ = try await gw.send("/v1/chat/completions", body: #"{"model":"m","messages":[{"role":"user","content":"I am alice@example.com"}]}"#)
                let record = try #require(await gw.sink.waitFor(1).first)
                #expect(record.prompt == "I am [EMAIL]")
                #expect(record.response == "Mail [EMAIL]")
            }
        }
    }
}

/// A sink that fails a submit made from a cancelled task, as GRDB's async writes do.
final class CancellationSensitiveSink: RecordSink, Sendable {
    private let state = Mutex<[InferenceRecord]>([])
    var records: [InferenceRecord] { state.withLock { $0 } }

    func submit(_ records: [InferenceRecord]) async throws -> SinkOutcome {
        try Task.checkCancellation()
        state.withLock { $0.append(contentsOf: records) }
        return SinkOutcome(accepted: records.count)
    }
}

@Suite struct RecordQueueShutdownTests {
    @Test func recordsQueuedAtShutdownAreStoredNotCancelled() async throws {
        let queue = RecordQueue(capacity: 100, flushInterval: .seconds(30))
        let sink = CancellationSensitiveSink()
        let drain = Task { await queue.run(into: sink, logger: Logger(label: "test")) }
        // Let the drain go to sleep, then queue records and stop it (a graceful shutdown cancels it).
        try await Task.sleep(for: .milliseconds(50))
        for i in 0..<5 { _ = queue.offer(InferenceRecord(id: "r\(i)", start: 1)) }
        drain.cancel()
        await drain.value
        #expect(sink.records.count == 5)
        #expect(queue.failed == 0)
    }
}
