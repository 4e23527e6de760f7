import AsyncHTTPClient
import BifocalCore
import Foundation
import Logging
import NIOCore
import Testing
@testable import BifocalSimulator

/// A live simulator on a free port, with helpers to talk to it over real HTTP.
struct LiveHarness: Sendable {
    let port: Int
    let fleet: LiveFleet

    struct Reply: Sendable {
        var status: Int
        var body: String
        var headers: [String: String]
        /// The body as a JSON object.
        var object: [String: Any]? { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] }
    }

    func send(_ path: String, method: String = "GET", body: String? = nil, traceparent: String? = nil) async throws -> Reply {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = TrafficClient.method(method)
        if let traceparent {
            request.headers = TrafficClient.fields(("content-type", "application/json"), ("traceparent", traceparent))
        } else {
            request.headers = TrafficClient.fields(("content-type", "application/json"))
        }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 16 << 20)
        var headers: [String: String] = [:]
        for (name, value) in response.headers { headers[name.lowercased()] = value }
        return Reply(status: TrafficClient.statusCode(response.status), body: String(buffer: bytes), headers: headers)
    }

    func chat(_ question: Question, server: String = "llama-3-8b", stream: Bool, includeUsage: Bool = false,
              traceparent: String? = nil) async throws -> Reply {
        let usage = includeUsage ? #","stream_options":{"include_usage":true}"# : ""
        let body = #"{"model":\#(LiveRoutes.quote(server)),"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":\#(LiveRoutes.quote(question.prompt))}],"stream":\#(stream)\#(usage)}"#
        return try await send("/servers/\(server)/v1/chat/completions", method: "POST", body: body, traceparent: traceparent)
    }
}

/// A small fleet on H100s (fast iterations), no faults, no bursts, no daily curve.
func liveScenario(outputTokens: Double = 24, errorRate: Double? = nil, requestsPerSecond: Double = 2) -> Scenario {
    var scenario = Scenario(name: "live-test")
    scenario.diurnal = 0
    scenario.burstsPerHour = 0
    scenario.baselineFaults = [:]
    var fleet = FleetSpec()
    fleet.gpu = "h100"
    fleet.gpuCount = 4
    var server = ModelServerSpec(name: "llama-3-8b", gpus: [0, 1])
    server.outputTokensMedian = outputTokens
    server.requestsPerSecond = requestsPerSecond
    fleet.servers = [server]
    scenario.fleet = fleet
    if let errorRate {
        var phase = ScenarioPhase(at: SimDuration(seconds: 0))
        phase.errorRate = errorRate
        scenario.phases = [phase]
    }
    return scenario
}

func withLiveServer<Value: Sendable>(_ scenario: Scenario = liveScenario(), _ body: @Sendable (LiveHarness) async throws -> Value) async throws -> Value {
    let fleet = try LiveFleet(scenario: scenario, speed: 1, seed: 42)
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    var logger = Logger(label: "live-test")
    // Cancelling the server at the end logs an error per test; nothing below critical matters here.
    logger.logLevel = .critical
    let server = LiveFleetServer(fleet: fleet, host: "127.0.0.1", port: 0, logger: logger, onRunning: { continuation.yield($0) })
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await server.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        let value = try await body(LiveHarness(port: port, fleet: fleet))
        group.cancelAll()
        return value
    }
}

/// The `data:` payloads of an event stream, in order.
func events(_ body: String) -> [String] {
    body.components(separatedBy: "\n\n").compactMap { block in
        block.hasPrefix("data: ") ? String(block.dropFirst(6)) : nil
    }
}

func object(_ text: String) -> [String: Any]? {
    (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
}

/// Samples of a Prometheus text exposition by series (`name{labels}`); nil when a line does not parse.
func samples(_ text: String) -> [String: Double]? {
    var result: [String: Double] = [:]
    for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.isEmpty {
        guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
        let series = String(line[..<space])
        guard series.first?.isLetter == true, !series.contains(" ") || series.contains("{") else { return nil }
        result[series] = value
    }
    return result
}

@Suite struct LiveServerTests {
    let question = QuestionSet.all[0]

    func checkStream(includeUsage: Bool) async throws {
        try await withLiveServer { live in
            let reply = try await live.chat(question, stream: true, includeUsage: includeUsage)
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"]?.hasPrefix("text/event-stream") == true)
            let payloads = events(reply.body)
            #expect(payloads.last == "[DONE]")
            let chunks = payloads.dropLast().compactMap(object)
            #expect(chunks.count == payloads.count - 1)
            let ids = Set(chunks.compactMap { $0["id"] as? String })
            #expect(ids.count == 1)
            #expect(chunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" && $0["model"] as? String == "llama-3-8b" })
            #expect(chunks.allSatisfy { $0["system_fingerprint"] as? String == "v1" })
            // OpenAI writes `"usage":null` on every chunk when usage was asked for, and no key otherwise.
            #expect(chunks.allSatisfy { ($0["usage"] != nil) == includeUsage })

            let first = try #require(chunks.first)
            let firstChoice = try #require((first["choices"] as? [[String: Any]])?.first)
            let firstDelta = try #require(firstChoice["delta"] as? [String: Any])
            #expect(firstDelta["role"] as? String == "assistant")
            #expect(firstDelta["content"] as? String == "")

            var content = ""
            var pieces = 0
            var finishReason: String?
            var usage: [String: Any]?
            for chunk in chunks.dropFirst() {
                let choices = try #require(chunk["choices"] as? [[String: Any]])
                if choices.isEmpty {
                    usage = chunk["usage"] as? [String: Any]
                    continue
                }
                #expect(finishReason == nil, "no content after the finish chunk")
                let delta = try #require(choices[0]["delta"] as? [String: Any])
                if let reason = choices[0]["finish_reason"] as? String {
                    finishReason = reason
                    #expect(delta.isEmpty)
                } else {
                    content += try #require(delta["content"] as? String)
                    pieces += 1
                }
            }
            #expect(finishReason == "stop")
            #expect(content.hasPrefix(question.reference))
            #expect(pieces > 0)
            if includeUsage {
                let usage = try #require(usage)
                #expect(usage["completion_tokens"] as? Int == pieces)
                #expect(usage["prompt_tokens"] as? Int == QuestionSet.promptTokens(of: "Be brief.\n" + question.prompt))
                #expect(usage["total_tokens"] as? Int == pieces + QuestionSet.promptTokens(of: "Be brief.\n" + question.prompt))
                #expect((chunks.last?["choices"] as? [Any])?.isEmpty == true, "the usage chunk comes last")
            } else {
                #expect(usage == nil)
            }
            // The engine's account agrees with what was streamed.
            let id = try #require(reply.headers["x-sim-request-id"].flatMap { UInt64($0) })
            let truth = try #require(live.fleet.truth(requestID: id))
            #expect(truth.outputTokens == pieces)
            #expect(truth.finishReason == "stop")
            #expect(truth.reference == question.reference)
        }
    }

    @Test func streamsInOpenAIsChunkShapeWithUsage() async throws { try await checkStream(includeUsage: true) }

    @Test func streamsInOpenAIsChunkShapeWithoutUsage() async throws { try await checkStream(includeUsage: false) }

    @Test func answersWithOneCompletionWhenNotStreaming() async throws {
        try await withLiveServer { live in
            let reply = try await live.chat(question, stream: false)
            #expect(reply.status == 200)
            let body = try #require(reply.object)
            #expect(body["object"] as? String == "chat.completion")
            let choice = try #require((body["choices"] as? [[String: Any]])?.first)
            #expect(choice["finish_reason"] as? String == "stop")
            let message = try #require(choice["message"] as? [String: Any])
            #expect(message["role"] as? String == "assistant")
            let content = try #require(message["content"] as? String)
            #expect(content.hasPrefix(question.reference))
            let usage = try #require(body["usage"] as? [String: Any])
            #expect(usage["completion_tokens"] as? Int == QuestionSet.pieces(of: content).count)
        }
    }

    @Test func unknownServersAndModelsAre404InOpenAIsErrorShape() async throws {
        try await withLiveServer { live in
            let reply = try await live.chat(question, server: "no-such-model", stream: true)
            #expect(reply.status == 404)
            let error = try #require(reply.object?["error"] as? [String: Any])
            #expect(error["code"] as? String == "model_not_found")
            #expect(error["param"] is NSNull)
            #expect((error["message"] as? String)?.contains("no-such-model") == true)
            #expect(error["type"] as? String == "invalid_request_error")

            let wrongModel = try await live.send("/servers/llama-3-8b/v1/chat/completions", method: "POST",
                                                 body: #"{"model":"gpt-4","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(wrongModel.status == 404)
            #expect((wrongModel.object?["error"] as? [String: Any])?["code"] as? String == "model_not_found")
            #expect(try await live.send("/dcgm/nope/metrics").status == 404)
        }
    }

    @Test func malformedBodiesAre400WithAPreciseMessage() async throws {
        try await withLiveServer { live in
            let broken = try await live.send("/servers/llama-3-8b/v1/chat/completions", method: "POST", body: #"{"model":"llama-3-8b","messages":["#)
            #expect(broken.status == 400)
            let message = try #require((broken.object?["error"] as? [String: Any])?["message"] as? String)
            #expect(message.contains("not valid JSON"))

            let missing = try await live.send("/servers/llama-3-8b/v1/chat/completions", method: "POST", body: #"{"model":"llama-3-8b"}"#)
            #expect(missing.status == 400)
            #expect(((missing.object?["error"] as? [String: Any])?["message"] as? String)?.contains("messages") == true)

            let badContent = try await live.send("/servers/llama-3-8b/v1/chat/completions", method: "POST",
                                                 body: #"{"model":"llama-3-8b","messages":[{"role":"user","content":42}]}"#)
            #expect(badContent.status == 400)
            #expect(((badContent.object?["error"] as? [String: Any])?["message"] as? String)?.contains("messages[0].content") == true)
        }
    }

    @Test func anErrorRateOfOneAnswers503() async throws {
        try await withLiveServer(liveScenario(errorRate: 1)) { live in
            let reply = try await live.chat(question, stream: true, traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
            #expect(reply.status == 503)
            let error = try #require(reply.object?["error"] as? [String: Any])
            #expect(error["type"] as? String == "server_error")
            #expect(error["message"] is String)
            let truth = try #require(live.fleet.truth(traceID: "0af7651916cd43dd8448eb211c80319c"))
            #expect(truth.status == 503)
            #expect(truth.outputTokens == 0)
        }
    }

    @Test func metricsAreVLLMsExpositionAndCountersGrow() async throws {
        try await withLiveServer { live in
            let before = try await live.send("/servers/llama-3-8b/metrics")
            #expect(before.status == 200)
            #expect(before.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(before.body.contains("# TYPE vllm:num_requests_running gauge"))
            let first = try #require(samples(before.body))
            let running = #"vllm:num_requests_running{engine="0",model_name="llama-3-8b"}"#
            let generated = #"vllm:generation_tokens_total{engine="0",model_name="llama-3-8b"}"#
            let stopped = #"vllm:request_success_total{engine="0",finished_reason="stop",model_name="llama-3-8b"}"#
            #expect(first[running] == 0)
            #expect(first[generated] == 0)

            let reply = try await live.chat(question, stream: true, includeUsage: true)
            #expect(reply.status == 200)
            let after = try #require(samples(try await live.send("/servers/llama-3-8b/metrics").body))
            #expect((after[generated] ?? 0) > (first[generated] ?? 0))
            #expect(after[stopped] == (first[stopped] ?? 0) + 1)
            #expect(after[#"vllm:time_to_first_token_seconds_count{engine="0",model_name="llama-3-8b"}"#] == 1)
        }
    }

    @Test func dcgmMetricsAreServedPerGPUGroup() async throws {
        try await withLiveServer { live in
            let assigned = try await live.send("/dcgm/llama-3-8b/metrics")
            #expect(assigned.status == 200)
            #expect(assigned.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            let values = try #require(samples(assigned.body))
            #expect(values.keys.contains { $0.hasPrefix("DCGM_FI_DEV_GPU_UTIL{") && $0.contains(#"gpu="0""#) })
            #expect(values.keys.contains { $0.hasPrefix("DCGM_FI_DEV_GPU_UTIL{") && $0.contains(#"gpu="1""#) })
            let unassigned = try await live.send("/dcgm/unassigned/metrics")
            #expect(unassigned.status == 200)
            #expect(unassigned.body.contains(#"gpu="2""#))
        }
    }

    @Test func theTruthEndpointHasTheRequestByTraceID() async throws {
        try await withLiveServer { live in
            let trace = "4bf92f3577b34da6a3ce929d0e0e4736"
            let reply = try await live.chat(question, stream: true, traceparent: "00-\(trace)-00f067aa0ba902b7-01")
            #expect(reply.status == 200)
            let one = try await live.send("/sim/truth?trace_id=\(trace)")
            #expect(one.status == 200)
            let truth = try #require(one.object)
            #expect(truth["trace_id"] as? String == trace)
            #expect(truth["server"] as? String == "llama-3-8b")
            #expect(truth["finish_reason"] as? String == "stop")
            let arrival = try #require(truth["arrival"] as? Double)
            let firstToken = try #require(truth["first_token"] as? Double)
            let finished = try #require(truth["finished"] as? Double)
            #expect(arrival <= firstToken && firstToken <= finished)
            #expect((truth["ttft_ms"] as? Double).map { $0 > 0 } == true)

            let list = try #require(try await live.send("/sim/truth?limit=10").object)
            let requests = try #require(list["requests"] as? [[String: Any]])
            #expect(requests.contains { $0["trace_id"] as? String == trace })
            #expect(try await live.send("/sim/truth?trace_id=ffffffffffffffffffffffffffffffff").status == 404)
        }
    }

    @Test func describesItselfAndListsItsModel() async throws {
        try await withLiveServer { live in
            let description = try #require(try await live.send("/sim").object)
            #expect(description["scenario"] as? String == "live-test")
            #expect((description["servers"] as? [[String: Any]])?.first?["name"] as? String == "llama-3-8b")
            #expect((description["targets"] as? [[String: Any]])?.count == 3)
            let models = try #require(try await live.send("/servers/llama-3-8b/v1/models").object)
            #expect((models["data"] as? [[String: Any]])?.first?["id"] as? String == "llama-3-8b")
        }
    }

    @Test func aClientThatLeavesIsTakenOutOfTheEngine() async throws {
        try await withLiveServer(liveScenario(outputTokens: 3000)) { live in
            let body = #"{"model":"llama-3-8b","messages":[{"role":"user","content":\#(LiveRoutes.quote(question.prompt))}],"stream":true}"#
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(live.port)/servers/llama-3-8b/v1/chat/completions")
            request.method = TrafficClient.method("POST")
            request.headers = TrafficClient.fields(("content-type", "application/json"))
            request.body = .bytes(ByteBuffer(string: body))
            let id: UInt64 = try await {
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                let id = try #require(response.headers.first { $0.name.lowercased() == "x-sim-request-id" }.flatMap { UInt64($0.value) })
                // Read until a token arrived, then drop the response: the connection closes.
                var seen = ""
                for try await buffer in response.body {
                    seen += String(buffer: buffer)
                    if seen.contains("\"content\":\" ") || seen.components(separatedBy: "data: ").count > 3 { break }
                }
                return id
            }()
            var truth = live.fleet.truth(requestID: id)
            for _ in 0..<400 where truth?.finishReason == nil {
                try await Task.sleep(for: .milliseconds(25))
                truth = live.fleet.truth(requestID: id)
            }
            #expect(truth?.finishReason == "abort")
            #expect((truth?.outputTokens ?? 0) < 3000)
            #expect(live.fleet.load(server: 0).running == 0)
        }
    }

    @Test func theTrafficClientSendsPlansAndReadsTheAnswers() async throws {
        try await withLiveServer(liveScenario(requestsPerSecond: 20)) { live in
            let client = TrafficClient(fleet: live.fleet, baseURL: "http://127.0.0.1:\(live.port)/servers/llama-3-8b/v1/")
            let task = Task { await client.run() }
            for _ in 0..<600 where client.counts.ok < 3 { try await Task.sleep(for: .milliseconds(25)) }
            task.cancel()
            await task.value
            let counts = client.counts
            #expect(counts.ok >= 3)
            #expect(counts.failed == 0)
            #expect(counts.inFlight == 0)
            #expect((counts.byStatus[200] ?? 0) >= counts.ok)
            #expect(live.fleet.recentTruths(limit: 100).count >= counts.ok)
        }
    }
}
