import AsyncHTTPClient
import BifocalCore
@testable import BifocalGateway
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

private let accessKey = "AKIAGATEWAYTEST00001"
private let secretKey = "gatewaySecret/0123456789abcdefghijklmnopq"
private let sessionToken = "IQoJb3JpZ2luX2VjGatewayTestToken=="
private let region = "eu-west-1"

/// What the fake runtime saw and judged.
final class RuntimeLog: Sendable {
    struct Seen: Sendable {
        var path: String
        var headers: HTTPFields
        var body: [UInt8]
        /// nil: no Authorization header; true/false: the signature recomputed here matches or not.
        var signatureValid: Bool?
    }
    private let state = Mutex<[Seen]>([])
    var requests: [Seen] { state.withLock { $0 } }
    func add(_ s: Seen) { state.withLock { $0.append(s) } }
}

/// Recomputes a request's SigV4 signature from what arrived, with the secret the test knows, as AWS does.
func verifySigV4(_ request: Request, body: [UInt8], secret: String) -> Bool? {
    guard let authorization = request.headers[.authorization] else { return nil }
    // AWS4-HMAC-SHA256 Credential=AKID/20241112/eu-west-1/sagemaker/aws4_request, SignedHeaders=a;b, Signature=hex
    let parts = authorization.dropFirst("AWS4-HMAC-SHA256 ".count).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    var fields: [String: String] = [:]
    for p in parts { if let eq = p.firstIndex(of: "=") { fields[String(p[..<eq])] = String(p[p.index(after: eq)...]) } }
    guard let credential = fields["Credential"]?.split(separator: "/"), credential.count == 5,
          let signedHeaders = fields["SignedHeaders"]?.split(separator: ";").map(String.init),
          let amzDate = request.headers[HTTPField.Name("x-amz-date")!] else { return false }
    // The instant the client signed at, from X-Amz-Date.
    let d = Array(amzDate.utf8)
    let iso = "\(String(decoding: d[0..<4], as: UTF8.self))-\(String(decoding: d[4..<6], as: UTF8.self))-\(String(decoding: d[6..<8], as: UTF8.self))T\(String(decoding: d[9..<11], as: UTF8.self)):\(String(decoding: d[11..<13], as: UTF8.self)):\(String(decoding: d[13..<15], as: UTF8.self))Z"
    guard let micros = Timestamp.parse(iso) else { return false }
    var headers: [(name: String, value: String)] = []
    // HTTPTypes keeps Host as the request's authority, not among its fields.
    let host = request.head.authority ?? ""
    for name in signedHeaders where name != "x-amz-date" && name != "x-amz-security-token" {
        if name == "host" { headers.append((name, host)); continue }
        for value in request.headers[values: HTTPField.Name(name)!] { headers.append((name, value)) }
    }
    let token = request.headers[HTTPField.Name("x-amz-security-token")!]
    let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: String(credential[0]), secretAccessKey: secret, sessionToken: token),
                             region: String(credential[2]), service: String(credential[3]))
    let signed = signer.sign(method: request.method.rawValue, url: "http://\(host)\(request.uri.string)", headers: headers,
                             body: body, date: micros / 1_000_000)
    return signed.authorization == authorization
}

/// A SageMaker runtime API on loopback: checks every request's signature, then answers as told.
func fakeRuntime(log: RuntimeLog, secret: String = secretKey,
                 answer: @escaping @Sendable (_ path: String, _ body: [UInt8]) -> Response) -> Router<BasicRequestContext> {
    let router = Router(context: BasicRequestContext.self)
    let handler: @Sendable (Request, BasicRequestContext) async throws -> Response = { request, _ in
        var request = request
        let body = Array(try await request.collectBody(upTo: 1 << 20).readableBytesView)
        let valid = verifySigV4(request, body: body, secret: secret)
        log.add(.init(path: request.uri.path, headers: request.headers, body: body, signatureValid: valid))
        if valid == false {
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            headers[HTTPField.Name("x-amzn-ErrorType")!] = "InvalidSignatureException"
            return Response(status: .forbidden, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(string: #"{"message":"The request signature we calculated does not match the signature you provided."}"#)))
        }
        return answer(request.uri.path, body)
    }
    router.post("/endpoints/:name/invocations", use: handler)
    router.post("/endpoints/:name/invocations-response-stream", use: handler)
    router.post("/invocations", use: handler)
    return router
}

/// The PayloadPart frames of a TGI stream (`data:{...}` lines), the lines cut across parts.
func tgiPayloadParts(_ tokens: [String], partSizes: [Int]) -> (frames: [[UInt8]], text: [UInt8]) {
    var text: [UInt8] = []
    for (i, t) in tokens.enumerated() {
        text += Array("data:{\"index\":\(i),\"token\":{\"id\":\(i + 10),\"text\":\"\(t)\",\"logprob\":-0.1,\"special\":false},\"generated_text\":null,\"details\":null}\n\n".utf8)
    }
    text += Array(#"data:{"index":99,"token":{"id":2,"text":"</s>","logprob":0,"special":true},"generated_text":"done","details":{"finish_reason":"eos_token","generated_tokens":\#(tokens.count + 1),"seed":null}}"#.utf8)
    text += Array("\n\n".utf8)
    let frames = split(text, sizes: partSizes).map {
        EventStreamCodec.encode(EventStreamMessage(headers: SageMakerWrappingRelay.headers, payload: $0))
    }
    return (frames, text)
}

func eventStreamResponse(_ bytes: [UInt8], pieces sizes: [Int], pause: Duration, extraHeaders: HTTPFields = [:]) -> Response {
    var headers: HTTPFields = [.contentType: "application/vnd.amazon.eventstream"]
    headers[HTTPField.Name("X-Amzn-SageMaker-Content-Type")!] = "text/event-stream"
    headers[HTTPField.Name("x-Amzn-Invoked-Production-Variant")!] = "AllTraffic"
    headers.append(contentsOf: extraHeaders)
    return Response(status: .ok, headers: headers, body: pieces(split(bytes, sizes: sizes), pause: pause))
}

/// A gateway with the SageMaker routes and the SigV4 signer factory, in front of the given upstreams.
func withSageMakerGateway<Value: Sendable>(
    _ upstreams: [UpstreamConfiguration],
    environment: [String: String] = ["AWS_ACCESS_KEY_ID": accessKey, "AWS_SECRET_ACCESS_KEY": secretKey, "AWS_SESSION_TOKEN": sessionToken],
    _ body: @Sendable (GatewayHarness) async throws -> Value
) async throws -> Value {
    let sink = CollectingSink()
    var configuration = GatewayConfiguration(upstreams: upstreams)
    configuration.captureSampleRate = 1
    let gateway = Gateway(configuration: configuration, sink: sink, environment: environment,
                          signers: SigV4UpstreamSigner.factory(environment: environment, readFile: { _ in nil }),
                          logger: Logger(label: "gateway-test"))
    let router = Router(context: BasicRequestContext.self)
    gateway.addRoutes(to: router)
    gateway.addSageMakerRoutes(to: router)
    let drain = Task { await gateway.run() }
    defer { drain.cancel() }
    do {
        let result = try await withServer(router) { port in try await body(GatewayHarness(gateway: gateway, sink: sink, port: port)) }
        await gateway.shutdown()
        return result
    } catch {
        await gateway.shutdown()
        throw error
    }
}

func runtimeUpstream(_ port: Int, name: String = "sm", configure: (inout UpstreamConfiguration) -> Void = { _ in }) -> UpstreamConfiguration {
    var u = UpstreamConfiguration(name: name, kind: .sagemaker, baseURLs: ["http://127.0.0.1:\(port)"],
                                  auth: .sigv4(SigV4Settings(region: region)))
    configure(&u)
    return u
}

@Suite(.serialized) struct SageMakerRoutesTests {
    let tgiRequest = #"{"inputs":"What is Deep Learning? Mail me at ana@example.com","parameters":{"max_new_tokens":32},"stream":true}"#

    @Test func invocationsAreSignedAndRecorded() async throws {
        let log = RuntimeLog()
        let router = fakeRuntime(log: log) { _, _ in
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[HTTPField.Name("x-Amzn-Invoked-Production-Variant")!] = "variant-b"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string:
                #"[{"generated_text":"Deep learning is machine learning with deep networks.","details":{"finish_reason":"length","generated_tokens":9}}]"#)))
        }
        try await withServer(router) { runtimePort in
            try await withSageMakerGateway([runtimeUpstream(runtimePort)]) { gw in
                var headers = HTTPHeaders()
                headers.add(name: "X-Amzn-SageMaker-Inference-Component", value: "llama-ic")
                headers.add(name: "X-Amzn-SageMaker-Target-Variant", value: "variant-b")
                headers.add(name: "X-Amzn-SageMaker-Custom-Attributes", value: "tenant=a;  trace=1")
                headers.add(name: "Accept", value: "application/json")
                // A client's own SigV4 headers: the gateway re-signs, so these must not reach AWS.
                headers.add(name: "Authorization", value: "AWS4-HMAC-SHA256 Credential=CLIENT/...")
                headers.add(name: "X-Amz-Date", value: "20000101T000000Z")
                let (status, responseHeaders, body) = try await gw.send("/endpoints/my-endpoint/invocations",
                                                                         body: #"{"inputs":"What is Deep Learning?","parameters":{"details":true}}"#,
                                                                         headers: headers)
                #expect(status == 200)
                #expect(String(buffer: body).contains("Deep learning is machine learning"))
                let seen = try #require(log.requests.first)
                #expect(seen.signatureValid == true)
                #expect(seen.path == "/endpoints/my-endpoint/invocations")
                #expect(seen.headers[HTTPField.Name("X-Amzn-SageMaker-Inference-Component")!] == "llama-ic")
                #expect(seen.headers[HTTPField.Name("X-Amzn-SageMaker-Target-Variant")!] == "variant-b")
                #expect(seen.headers[HTTPField.Name("X-Amzn-SageMaker-Custom-Attributes")!] == "tenant=a;  trace=1")
                #expect(seen.headers[.contentType] == "application/json" && seen.headers[.accept] == "application/json")
                #expect(seen.headers[HTTPField.Name("x-amz-security-token")!] == sessionToken)
                #expect(seen.headers[.authorization]?.contains("Credential=\(accessKey)/") == true)
                #expect(seen.headers[.authorization]?.contains("x-amzn-sagemaker-inference-component") == true)
                let records = await gw.sink.waitFor(1)
                let r = try #require(records.first)
                #expect(responseHeaders.first(name: "x-bifocal-record-id") == r.id)
                #expect(r.endpoint == "my-endpoint" && r.component == "llama-ic" && r.variant == "variant-b" && r.model == "llama-ic")
                #expect(r.status == .ok && r.httpStatus == 200 && r.streaming == false && r.provider == "sagemaker")
                #expect(r.outputTokens == 9 && r.finishReason == "length" && !r.tokensEstimated)
                #expect(r.prompt == "What is Deep Learning?" && r.response == "Deep learning is machine learning with deep networks.")
                #expect(r.labels["operation"] == "sagemaker.invocations" && r.labels["upstream"] == "sm")
            }
        }
    }

    /// The runtime's event stream reaches the client byte for byte while the gateway times the
    /// PayloadParts: frames cut at odd places, lines cut across frames, pauses between pieces.
    @Test func responseStreamIsRelayedUnchangedAndTimed() async throws {
        let log = RuntimeLog()
        let (frames, text) = tgiPayloadParts([" Deep", " learning", " is", " great"], partSizes: [7, 50, 3, 200, 11])
        let stream = frames.flatMap { $0 }
        let router = fakeRuntime(log: log) { _, _ in eventStreamResponse(stream, pieces: [5, 97, 1, 33, 400], pause: .milliseconds(15)) }
        try await withServer(router) { runtimePort in
            try await withSageMakerGateway([runtimeUpstream(runtimePort)]) { gw in
                var headers = HTTPHeaders()
                headers.add(name: "X-Amzn-SageMaker-Accept", value: "application/json")
                let (status, responseHeaders, body) = try await gw.send("/endpoints/llm/invocations-response-stream", body: tgiRequest, headers: headers)
                #expect(status == 200)
                #expect(Array(body.readableBytesView) == stream)
                #expect(responseHeaders.first(name: "content-type") == "application/vnd.amazon.eventstream")
                #expect(responseHeaders.first(name: "x-amzn-sagemaker-content-type") == "text/event-stream")
                var decoder = EventStreamDecoder()
                decoder.feed(body)
                #expect(try decoder.nextAll().flatMap(\.payload) == text)
                let seen = try #require(log.requests.first)
                #expect(seen.signatureValid == true && seen.path == "/endpoints/llm/invocations-response-stream")
                #expect(seen.headers[HTTPField.Name("X-Amzn-SageMaker-Accept")!] == "application/json")
                let r = try #require(await gw.sink.waitFor(1).first)
                #expect(r.status == .ok && r.streaming == true && r.endpoint == "llm" && r.variant == "AllTraffic" && r.model == "llm")
                #expect(r.outputTokens == 5 && r.finishReason == "eos_token" && !r.tokensEstimated)
                let ttft = try #require(r.ttftMs)
                let e2e = try #require(r.e2eMs)
                // The stream takes at least 4 pauses of 15 ms; the first token cannot come before the first pause.
                #expect(ttft >= 14 && ttft <= e2e && e2e >= 60)
                #expect((r.itlMs?.count ?? 0) >= 1)
                #expect(r.response == " Deep learning is great")
                #expect(r.prompt == "What is Deep Learning? Mail me at [EMAIL]")
            }
        }
    }

    @Test func modelErrorIsPassedOnAndRecordedAsTheModels() async throws {
        let log = RuntimeLog()
        let errorBody = #"{"ErrorCode":"CLIENT_ERROR_FROM_MODEL","LogStreamArn":"arn:aws:logs:eu-west-1:1:log-group:/aws/sagemaker/Endpoints/e","Message":"Received client error (400) from primary with message \"bad input\".","OriginalMessage":"bad input","OriginalStatusCode":400}"#
        let router = fakeRuntime(log: log) { _, _ in
            var headers: HTTPFields = [.contentType: "application/json"]
            headers[HTTPField.Name("x-amzn-ErrorType")!] = "ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker/"
            return Response(status: .init(code: 424), headers: headers, body: .init(byteBuffer: ByteBuffer(string: errorBody)))
        }
        try await withServer(router) { runtimePort in
            try await withSageMakerGateway([runtimeUpstream(runtimePort)]) { gw in
                let (status, headers, body) = try await gw.send("/endpoints/e/invocations", body: #"{"inputs":"x"}"#)
                #expect(status == 424 && String(buffer: body) == errorBody)
                #expect(headers.first(name: "x-amzn-errortype")?.hasPrefix("ModelError") == true)
                let r = try #require(await gw.sink.waitFor(1).first)
                #expect(r.status == .modelError && r.httpStatus == 424 && r.labels["original_status_code"] == "400")
                #expect(r.error?.hasPrefix("Received client error (400)") == true)
            }
        }
    }

    @Test func aModelStreamErrorMidStreamIsAModelError() async throws {
        let log = RuntimeLog()
        var (frames, _) = tgiPayloadParts([" a", " b"], partSizes: [1000])
        frames.removeLast()  // no final event
        frames.append(EventStreamCodec.encode(EventStreamMessage(headers: [
            EventStreamHeader(":exception-type", .string("ModelStreamError")),
            EventStreamHeader(":content-type", .string("application/json")),
            EventStreamHeader(":message-type", .string("exception")),
        ], payload: Array(#"{"Message":"Your model timed out","ErrorCode":"ModelInvocationTimeExceeded"}"#.utf8))))
        let stream = frames.flatMap { $0 }
        let router = fakeRuntime(log: log) { _, _ in eventStreamResponse(stream, pieces: [13], pause: .zero) }
        try await withServer(router) { runtimePort in
            try await withSageMakerGateway([runtimeUpstream(runtimePort)]) { gw in
                let (status, _, body) = try await gw.send("/endpoints/e/invocations-response-stream", body: tgiRequest)
                #expect(status == 200 && Array(body.readableBytesView) == stream)
                let r = try #require(await gw.sink.waitFor(1).first)
                #expect(r.status == .modelError && r.httpStatus == 200)
                #expect(r.error == "ModelStreamError (ModelInvocationTimeExceeded): Your model timed out")
            }
        }
    }

    @Test func aWrongSecretIsRefusedByTheRuntimeAndPassedOn() async throws {
        let log = RuntimeLog()
        let router = fakeRuntime(log: log, secret: "not-the-gateways") { _, _ in Response(status: .ok) }
        try await withServer(router) { runtimePort in
            try await withSageMakerGateway([runtimeUpstream(runtimePort)]) { gw in
                let (status, headers, _) = try await gw.send("/endpoints/e/invocations", body: "{}")
                #expect(status == 403 && headers.first(name: "x-amzn-errortype") == "InvalidSignatureException")
                #expect(log.requests.first?.signatureValid == false)
                let r = try #require(await gw.sink.waitFor(1).first)
                #expect(r.status == .clientError && r.httpStatus == 403)
            }
        }
    }

    @Test func anUnreachableRuntimeIs502AndASlowOneIs504() async throws {
        // Nothing listens: 502.
        try await withSageMakerGateway([runtimeUpstream(try closedPort())]) { gw in
            let (status, headers, _) = try await gw.send("/endpoints/e/invocations", body: "{}")
            #expect(status == 502 && headers.first(name: "x-amzn-errortype") == "BadGateway")
            let r = try #require(await gw.sink.waitFor(1).first)
            #expect(r.status == .serverError && r.endpoint == "e")
        }
        // An answer whose head comes later than the read timeout: 504.
        let router = Router(context: BasicRequestContext.self)
        router.post("/endpoints/:name/invocations-response-stream") { _, _ -> Response in
            try await Task.sleep(for: .seconds(1))
            return Response(status: .ok)
        }
        try await withServer(router) { port in
            try await withSageMakerGateway([runtimeUpstream(port) { $0.readTimeout = 200_000 }]) { gw in
                let (status, headers, _) = try await gw.send("/endpoints/e/invocations-response-stream", body: "{}")
                #expect(status == 504 && headers.first(name: "x-amzn-errortype") == "GatewayTimeout")
                let r = try #require(await gw.sink.waitFor(1).first)
                #expect(r.status == .timeout)
            }
        }
    }

    @Test func unknownEndpointsAndMissingCredentials() async throws {
        var listed = UpstreamConfiguration(name: "sm", kind: .sagemaker, baseURLs: ["http://127.0.0.1:\(try closedPort())"],
                                           auth: .sigv4(SigV4Settings(region: region)))
        listed.sagemakerEndpoints = ["only-this-one"]
        try await withSageMakerGateway([listed]) { gw in
            let (status, headers, body) = try await gw.send("/endpoints/other/invocations", body: "{}")
            #expect(status == 400 && headers.first(name: "x-amzn-errortype") == "ValidationError")
            #expect(String(buffer: body).contains("Endpoint other is not served"))
            let r = try #require(await gw.sink.waitFor(1).first)
            #expect(r.status == .clientError && r.endpoint == "other")
        }
        // No credentials anywhere: the upstream cannot sign, and says so without any secret.
        try await withSageMakerGateway([listed], environment: ["HOME": "/nonexistent"]) { gw in
            let (status, headers, body) = try await gw.send("/endpoints/only-this-one/invocations", body: "{}")
            #expect(status == 502 && String(buffer: body).contains("no AWS credentials"))
            #expect(headers.first(name: "x-amzn-errortype") == "BadGateway")
        }
    }

    /// A container behind the gateway: its own /invocations, unsigned; on the stream route the
    /// gateway frames the container's chunks as PayloadParts, as the runtime would.
    @Test func containersAreCalledDirectlyAndFramedOnTheStreamRoute() async throws {
        let log = RuntimeLog()
        let lines = Array(#"data: {"object":"chat.completion.chunk","model":"qwen","choices":[{"delta":{"content":"Hel"}}]}"#.utf8)
            + Array("\n\n".utf8) + Array(#"data: {"object":"chat.completion.chunk","choices":[{"delta":{"content":"lo"}}]}"#.utf8)
            + Array("\n\ndata: [DONE]\n\n".utf8)
        let chunks = split(lines, sizes: [30, 90, 4, 1000])
        let router = fakeRuntime(log: log) { _, body in
            let wantsStream = String(decoding: body, as: UTF8.self).contains(#""stream":true"#)
            if wantsStream {
                return Response(status: .ok, headers: [.contentType: "text/event-stream"], body: pieces(chunks, pause: .milliseconds(10)))
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string:
                #"{"object":"chat.completion","model":"qwen","choices":[{"message":{"role":"assistant","content":"Hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2}}"#)))
        }
        try await withServer(router) { port in
            var container = UpstreamConfiguration(name: "c", kind: .sagemakerContainer, baseURLs: ["http://127.0.0.1:\(port)"], auth: .none)
            container.variant = "local"
            try await withSageMakerGateway([container]) { gw in
                let chat = #"{"model":"qwen","messages":[{"role":"user","content":"hi"}],"stream":true}"#
                let (status, headers, body) = try await gw.send("/endpoints/local-ep/invocations-response-stream", body: chat)
                #expect(status == 200)
                #expect(headers.first(name: "content-type") == "application/vnd.amazon.eventstream")
                #expect(headers.first(name: "x-amzn-sagemaker-content-type") == "text/event-stream")
                var decoder = EventStreamDecoder()
                decoder.feed(body)
                let messages = try decoder.nextAll()
                #expect(messages.allSatisfy { $0.eventType == "PayloadPart" && $0.messageType == "event" })
                #expect(messages.flatMap(\.payload) == lines)
                let seen = try #require(log.requests.first)
                #expect(seen.path == "/invocations" && seen.signatureValid == nil)
                let r = try #require(await gw.sink.waitFor(1).first)
                #expect(r.endpoint == "local-ep" && r.variant == "local" && r.model == "qwen" && r.streaming == true)
                #expect(r.ttftMs != nil && r.outputTokens == 2 && r.tokensEstimated && r.response == "Hello")

                // The plain route: the container's answer passes unchanged.
                let (s2, _, b2) = try await gw.send("/endpoints/local-ep/invocations", body: #"{"model":"qwen","messages":[{"role":"user","content":"hi"}]}"#)
                #expect(s2 == 200 && String(buffer: b2).contains(#""content":"Hello""#))
                let r2 = try #require(await gw.sink.waitFor(2).last)
                #expect(r2.inputTokens == 5 && r2.outputTokens == 2 && r2.finishReason == "stop" && r2.streaming == false)
            }
        }
    }
}
