import BifocalCore
@testable import BifocalGateway
import BifocalTesting
import Foundation
import NIOCore
import Testing

/// Parses a whole stream delivered in the given pieces; returns (event, data) pairs.
private func events(_ pieces: [[UInt8]]) -> [(String, String)] {
    var parser = SSEParser(keepsRaw: false)
    var out: [(String, String)] = []
    for piece in pieces {
        piece.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let (next, ended) = parser.parse(bytes, from: offset)
                offset = next
                if ended {
                    if parser.hasEvent { out.append((String(decoding: parser.event, as: UTF8.self), String(decoding: parser.data, as: UTF8.self))) }
                    parser.reset()
                }
            }
        }
    }
    if parser.finish() { out.append((String(decoding: parser.event, as: UTF8.self), String(decoding: parser.data, as: UTF8.self))) }
    return out
}

@Suite struct SSEParserTests {
    @Test func lineEndingsCommentsAndMultilineData() {
        let text = ": keep-alive\r\n\r\nevent: delta\r\ndata: {\"a\":\r\ndata:1}\r\n\r\ndata: x\rdata: y\r\rdata:z\n\nid: 7\nretry: 10\n\n"
        let parsed = events([Array(text.utf8)])
        #expect(parsed.count == 3)
        #expect(parsed[0] == ("delta", "{\"a\":\n1}"))
        #expect(parsed[1] == ("", "x\ny"))
        #expect(parsed[2] == ("", "z"))
    }

    @Test func everySplitPointGivesTheSameEvents() throws {
        guard let bytes = try Fixtures.load("openai/chat_completions_stream_include_usage.sse").map(Array.init) else { return }
        let whole = events([bytes])
        #expect(whole.count == 9)
        #expect(whole.last?.1 == "[DONE]")
        for cut in 1..<bytes.count {
            let parts = events([Array(bytes[..<cut]), Array(bytes[cut...])])
            #expect(parts.map(\.1) == whole.map(\.1), "split at \(cut)")
        }
        // One byte at a time, and CRLF line endings split between CR and LF.
        #expect(events(bytes.map { [$0] }).map(\.1) == whole.map(\.1))
        let crlf = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\n", with: "\r\n").utf8)
        #expect(events(crlf.map { [$0] }).map(\.1) == whole.map(\.1))
    }

    @Test func unterminatedLastEventCountsAtTheEnd() {
        #expect(events([Array("data: a\n\ndata: b".utf8)]).map(\.1) == ["a", "b"])
    }

    @Test func leadingByteOrderMarkIsIgnored() {
        #expect(events([[0xEF, 0xBB, 0xBF] + Array("data: a\n\n".utf8)]).map(\.1) == ["a"])
    }
}

/// Runs a relay over the events of a stream, one event per buffer, event i arriving at `times[i]`.
private func run(_ relay: inout OpenAIStreamRelay, _ bytes: [UInt8], times: (Int) -> Int64, end: Int64) -> [UInt8] {
    let text = String(decoding: bytes, as: UTF8.self)
    var out: [UInt8] = []
    let blocks = text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
    for (i, block) in blocks.enumerated() {
        let buffer = ByteBuffer(string: block + "\n\n")
        switch relay.consume(buffer, at: times(i)) {
        case .forward: out += Array(buffer.readableBytesView)
        case .send(let edited): out += Array(edited.readableBytesView)
        case .hold: break
        }
    }
    if let rest = relay.end(at: end) { out += Array(rest.readableBytesView) }
    return out
}

@Suite struct MeasurementTests {
    let ms: Int64 = 1_000_000

    @Test func ttftSkipsTheRoleChunkAndItlIsTheGapsBetweenContentChunks() throws {
        guard let bytes = try Fixtures.load("openai/chat_completions_stream_include_usage.sse").map(Array.init) else { return }
        // Events: role-only, "\"This", " is", " a", " test", ".\"", finish (delta {}), usage, [DONE].
        let start: Int64 = 5_000 * ms
        let arrivals: [Int64] = [100, 130, 150, 190, 200, 260, 270, 280, 290].map { start + $0 * ms }
        var relay = OpenAIStreamRelay(operation: .chat, strips: false, timer: TokenTimer(start: start), captureLimit: 1000)
        let out = run(&relay, bytes, times: { arrivals[$0] }, end: start + 300 * ms)
        #expect(out == bytes)
        var record = InferenceRecord(start: 0)
        relay.fill(&record, end: start + 300 * ms)
        #expect(record.ttftMs == 130)
        #expect(record.itlMs == [20, 40, 10, 60])
        #expect(record.itlMeanMs == 32.5 && record.itlMaxMs == 60)
        #expect(record.e2eMs == 300)
        #expect(record.inputTokens == 12 && record.outputTokens == 5 && !record.tokensEstimated)
        #expect(record.finishReason == "stop" && record.model == "gpt-4-0613" && record.streaming == true)
        #expect(String(decoding: relay.capturedText, as: UTF8.self) == "\"This is a test.\"")
        #expect(record.tpotMs == (300.0 - 130) / 4)
    }

    @Test func withoutUsageTokensAreCountedChunksAndMarkedEstimated() {
        let stream = """
            data: {"choices":[{"index":0,"delta":{"role":"assistant","content":null}}]}

            data: {"choices":[{"index":0,"delta":{"content":""}}]}

            : ping

            data: {"choices":[{"index":0,"delta":{"reasoning_content":"hmm"}}]}

            data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"a\\""}}]}}]}

            data: {"choices":[{"index":0,"text":"x"}]}

            data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}

            data: [DONE]


            """
        var relay = OpenAIStreamRelay(operation: .chat, strips: false, timer: TokenTimer(start: 0), captureLimit: nil)
        _ = run(&relay, Array(stream.utf8), times: { Int64($0 + 1) * 10 * ms }, end: 100 * ms)
        var record = InferenceRecord(start: 0)
        relay.fill(&record, end: 100 * ms)
        // Content: reasoning (event 3 at 40 ms; the comment is block 2), tool call (50 ms), text (60 ms).
        #expect(record.ttftMs == 40)
        #expect(record.itlMs == [10, 10])
        #expect(record.outputTokens == 3 && record.tokensEstimated && record.inputTokens == nil)
        #expect(record.finishReason == "tool_calls")
    }

    @Test func gapsAreBoundedButSummariesCoverAll() {
        var timer = TokenTimer(start: 0, maxGaps: 3)
        for i in 0..<10 { timer.content(at: Int64(i * i) * ms) }
        var record = InferenceRecord(start: 0)
        timer.fill(&record, end: 100 * ms)
        #expect(record.itlMs == [1, 3, 5])
        #expect(record.itlMaxMs == 17)
        #expect(record.itlMeanMs == 9)
        #expect(record.ttftMs == 0)
    }

    @Test func responsesAPIDeltasAreTimedAndUsageComesFromCompleted() {
        let stream = """
            event: response.created
            data: {"type":"response.created","response":{"id":"resp_1","status":"in_progress","model":"gpt-4o-mini","usage":null}}

            event: response.output_text.delta
            data: {"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"Hi"}

            event: response.output_text.delta
            data: {"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":" there"}

            event: response.output_text.done
            data: {"type":"response.output_text.done","text":"Hi there"}

            event: response.completed
            data: {"type":"response.completed","response":{"id":"resp_1","status":"completed","model":"gpt-4o-mini-2024-07-18","usage":{"input_tokens":9,"output_tokens":2,"total_tokens":11}}}


            """
        var relay = OpenAIStreamRelay(operation: .responses, strips: false, timer: TokenTimer(start: 0), captureLimit: 100)
        let out = run(&relay, Array(stream.utf8), times: { Int64($0 + 1) * 25 * ms }, end: 200 * ms)
        #expect(out == Array(stream.utf8))
        var record = InferenceRecord(start: 0)
        relay.fill(&record, end: 200 * ms)
        #expect(record.ttftMs == 50 && record.itlMs == [25])
        #expect(record.inputTokens == 9 && record.outputTokens == 2)
        #expect(record.model == "gpt-4o-mini-2024-07-18" && record.finishReason == "completed")
        #expect(String(decoding: relay.capturedText, as: UTF8.self) == "Hi there")
    }

    @Test func anErrorEventInsideAStreamMakesTheRecordAServerError() {
        let stream = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"engine died\",\"code\":500}}\n\n"
        var relay = OpenAIStreamRelay(operation: .chat, strips: false, timer: TokenTimer(start: 0), captureLimit: nil)
        _ = run(&relay, Array(stream.utf8), times: { _ in 5 * ms }, end: 6 * ms)
        var record = InferenceRecord(start: 0)
        relay.fill(&record, end: 6 * ms)
        #expect(record.status == .serverError && record.error == "engine died")
    }
}

/// The client's view when only the gateway asked for usage: the fixture without the usage chunk
/// and without the `"usage":null` members, derived here independently of the relay.
func expectedStripped(_ bytes: [UInt8]) -> [UInt8] {
    let text = String(decoding: bytes, as: UTF8.self)
    var blocks = text.components(separatedBy: "\n\n")
    blocks.removeAll { $0.contains("\"choices\":[]") && $0.contains("\"usage\":{") }
    return Array(blocks.joined(separator: "\n\n").replacingOccurrences(of: ",\"usage\":null", with: "").utf8)
}

@Suite struct StrippingTests {
    @Test(arguments: ["openai/chat_completions_stream_include_usage.sse", "llamacpp/chat_stream_include_usage.sse"])
    func theClientGetsTheSameEventsWithoutWhatTheGatewayAskedFor(path: String) throws {
        guard let bytes = try Fixtures.load(path).map(Array.init) else { return }
        let expected = expectedStripped(bytes)
        #expect(expected.count < bytes.count)
        for sizes in [[bytes.count], [1], [7, 3, 100], [64], [500, 1]] {
            var relay = OpenAIStreamRelay(operation: .chat, strips: true, timer: TokenTimer(start: 0), captureLimit: nil)
            var out: [UInt8] = []
            for (i, piece) in split(bytes, sizes: sizes).enumerated() {
                let buffer = ByteBuffer(bytes: piece)
                switch relay.consume(buffer, at: Int64(i)) {
                case .forward: out += piece
                case .send(let edited): out += Array(edited.readableBytesView)
                case .hold: break
                }
            }
            if let rest = relay.end(at: 1_000_000) { out += Array(rest.readableBytesView) }
            #expect(out == expected, "pieces \(sizes)")
            var record = InferenceRecord(start: 0)
            relay.fill(&record, end: 1_000_000)
            #expect(record.outputTokens != nil && !record.tokensEstimated, "usage still measured")
        }
    }

    @Test func usageFirstOrLastInTheChunkAndMultilineData() {
        let stream = "data: {\"usage\":null,\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n"
            + ": ping\n\n"
            + "event: x\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}],\ndata: \"usage\" : null }\n\n"
            + "data: {\"id\":\"1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n"
            + "data: [DONE]\n\n"
        var relay = OpenAIStreamRelay(operation: .chat, strips: true, timer: TokenTimer(start: 0), captureLimit: nil)
        guard case .send(let out) = relay.consume(ByteBuffer(string: stream), at: 1) else {
            Issue.record("expected edited bytes")
            return
        }
        #expect(String(buffer: out) == "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\n"
            + ": ping\n\n"
            + "event: x\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}] }\n\n"
            + "data: [DONE]\n\n")
    }
}

@Suite struct RequestInspectionTests {
    func edited(_ body: String) -> String {
        let buffer = ByteBuffer(string: body)
        return String(buffer: RequestInspection(buffer).askingForUsage(buffer))
    }

    @Test func readsModelStreamAndIncludeUsage() {
        let i = RequestInspection(ByteBuffer(string: #"{"model":"gpt-4","messages":[{"role":"user","content":"{\"model\":1}"}],"stream":true,"stream_options":{"include_usage":true}}"#))
        #expect(i.model == "gpt-4" && i.stream && i.includeUsage == true && i.isObject)
        #expect(!RequestInspection(ByteBuffer(string: "not json")).isObject)
    }

    @Test func asksForUsageTouchingNothingElse() {
        #expect(edited(#"{"model":"m","stream":true}"#) == #"{"stream_options":{"include_usage":true},"model":"m","stream":true}"#)
        #expect(edited(#" { } "#) == #" {"stream_options":{"include_usage":true} } "#)
        #expect(edited(#"{"stream":true,"stream_options":{}}"#) == #"{"stream":true,"stream_options":{"include_usage":true}}"#)
        #expect(edited(#"{"stream_options":{"continuous_usage_stats":true}}"#) == #"{"stream_options":{"include_usage":true,"continuous_usage_stats":true}}"#)
        #expect(edited(#"{"stream_options":{"include_usage": false}}"#) == #"{"stream_options":{"include_usage": true}}"#)
        #expect(edited(#"{"stream_options":null,"model":"m"}"#) == #"{"stream_options":{"include_usage":true},"model":"m"}"#)
    }

    @Test func promptTextFromMessagesAndParts() {
        let body = ByteBuffer(string: #"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hi \u00e9"},{"type":"image_url","image_url":{"url":"x"}}]}]}"#)
        #expect(PromptText.render(body, operation: .chat, limit: 100) == "system: Be brief.\nuser: Hi é")
        #expect(PromptText.render(ByteBuffer(string: #"{"prompt":"Once"}"#), operation: .textCompletion, limit: 100) == "Once")
        #expect(clipped("aé", 2) == "a")
    }
}

@Suite struct TraceContextTests {
    @Test func continuesAValidTraceWithANewSpan() {
        let ids = IDGenerator(seed: 1)
        let incoming = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        let trace = TraceContext.make(incoming: incoming, ids: ids)
        #expect(trace.traceId == "0af7651916cd43dd8448eb211c80319c")
        #expect(trace.spanId.count == 16 && trace.spanId != "b7ad6b7169203331")
        #expect(trace.header == "00-0af7651916cd43dd8448eb211c80319c-\(trace.spanId)-01")
    }

    @Test func startsANewTraceForAMissingOrInvalidHeader() {
        let ids = IDGenerator(seed: 2)
        for bad in [nil, "", "00-00000000000000000000000000000000-b7ad6b7169203331-01", "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
                    "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x"] {
            let trace = TraceContext.make(incoming: bad, ids: ids)
            #expect(trace.traceId.count == 32 && trace.flags == "01")
            #expect(trace.traceId != "0af7651916cd43dd8448eb211c80319c")
        }
        #expect(TraceContext.parse("01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra")?.traceId == "0af7651916cd43dd8448eb211c80319c")
    }
}

@Suite struct BodyReadingTests {
    func read(_ text: [UInt8], operation: OpenAIOperation = .chat, error: Bool = false, pieces: Int = 1) -> (InferenceRecord, String) {
        var relay = BodyRelay(operation: operation, timer: TokenTimer(start: 0), isError: error, captureLimit: 1000, keepLimit: 4096)
        for piece in split(text, sizes: [max(1, text.count / pieces)]) { _ = relay.consume(ByteBuffer(bytes: piece), at: 1) }
        _ = relay.end(at: 2_000_000)
        var record = InferenceRecord(start: 0)
        relay.fill(&record, end: 2_000_000)
        return (record, String(decoding: relay.capturedText, as: UTF8.self))
    }

    @Test func nonStreamingFixtures() throws {
        if let bytes = try Fixtures.load("openai/chat_completions_nonstream_response.json").map(Array.init) {
            let (record, text) = read(bytes, pieces: 3)
            #expect(record.inputTokens != nil && record.outputTokens != nil && record.model == "gpt-4o-mini-2024-07-18")
            #expect(record.finishReason == "stop" && !text.isEmpty && record.ttftMs == nil && record.e2eMs == 2)
        }
        if let bytes = try Fixtures.load("llamacpp/chat_nonstream.json").map(Array.init) {
            let (record, text) = read(bytes)
            #expect(record.inputTokens == 35 && record.outputTokens == 24 && record.finishReason == "length")
            #expect(text.hasPrefix("There are several primary colors"))
        }
        if let bytes = try Fixtures.load("openai/chat_completions_error_404_response.json").map(Array.init) {
            let (record, _) = read(bytes, error: true)
            #expect(record.error?.contains("does not exist") == true)
        }
    }

    @Test func embeddingsAndLargeBodies() {
        let embedding = #"{"object":"list","data":[{"object":"embedding","index":0,"embedding":"AAAA"}],"model":"e5","usage":{"prompt_tokens":7,"total_tokens":7}}"#
        #expect(read(Array(embedding.utf8), operation: .embeddings).0.inputTokens == 7)
        // Larger than what is kept: usage found in the tail.
        let big = "{\"data\":[" + String(repeating: "0.123456,", count: 2000) + "0],\"usage\":{\"prompt_tokens\":11,\"total_tokens\":11}}"
        #expect(read(Array(big.utf8), operation: .embeddings, pieces: 7).0.inputTokens == 11)
        #expect(read(Array("upstream exploded".utf8), error: true).0.error == "upstream exploded")
        #expect(read(Array(#"{"object":"error","message":"bad model","code":400}"#.utf8), error: true).0.error == "bad model")
    }
}
