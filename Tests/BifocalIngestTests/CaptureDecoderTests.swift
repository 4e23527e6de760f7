import BifocalCore
import BifocalIngest
import BifocalTesting
import Foundation
import Testing

/// Builds one Data Capture line around request/response payload bytes, the way SageMaker writes it.
func captureLine(input: [UInt8]?, output: [UInt8]?, encoding: String, contentType: String = "application/json",
                 outputContentType: String? = nil, eventId: String = "ev-1", inferenceId: String? = nil,
                 time: String = "2024-11-12T00:23:50Z") -> String {
    func payload(_ bytes: [UInt8], mode: String, type: String) -> [String: Any] {
        let data = encoding == "BASE64" ? Data(bytes).base64EncodedString() : String(decoding: bytes, as: UTF8.self)
        return ["observedContentType": type, "mode": mode, "data": data, "encoding": encoding]
    }
    var captureData: [String: Any] = [:]
    if let input { captureData["endpointInput"] = payload(input, mode: "INPUT", type: contentType) }
    if let output { captureData["endpointOutput"] = payload(output, mode: "OUTPUT", type: outputContentType ?? contentType) }
    var meta: [String: Any] = ["eventId": eventId, "inferenceTime": time]
    if let inferenceId { meta["inferenceId"] = inferenceId }
    let line: [String: Any] = ["captureData": captureData, "eventMetadata": meta, "eventVersion": "0"]
    let data = try! JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
    return String(decoding: data, as: UTF8.self)
}

func decodeCapture(_ lines: [String], endpoint: String? = "my-endpoint", variant: String? = "AllTraffic") -> DecodedRecords {
    CaptureDecoder.decodeJSONL(Array(lines.joined(separator: "\n").utf8), endpoint: endpoint, variant: variant)
}

@Suite("SageMaker Data Capture")
struct CaptureDecoderTests {
    @Test(arguments: ["JSON", "BASE64"])
    func openAIChatFromRealPayloads(encoding: String) throws {
        guard let request = try Fixtures.load("openai/chat_completions_nonstream_response.request.json"),
              let response = try Fixtures.load("openai/chat_completions_nonstream_response.json") else { return }
        let line = captureLine(input: [UInt8](request), output: [UInt8](response), encoding: encoding, inferenceId: "inf-9")
        let decoded = decodeCapture([line])
        #expect(decoded.rejected.isEmpty, "\(decoded.rejected)")
        let r = try #require(decoded.records.first)
        #expect(r.source == .capture)
        #expect(r.start == Timestamp.parse("2024-11-12T00:23:50Z"))
        #expect(r.id == "ev-1" && r.labels["inference_id"] == "inf-9")
        #expect(r.endpoint == "my-endpoint" && r.variant == "AllTraffic" && r.provider == "sagemaker")
        #expect(r.model == "gpt-4o-mini-2024-07-18" && r.requestModel == "gpt-4o-mini")
        #expect(r.prompt == "Say this is a test" && r.response == "This is a test.")
        #expect(r.inputTokens == 12 && r.outputTokens == 5 && !r.tokensEstimated)
        #expect(r.finishReason == "stop" && r.streaming == false && r.status == .ok)
        #expect(r.ttftMs == nil && r.e2eMs == nil)
    }

    @Test func llamaCppChatAndToolCalls() throws {
        guard let llama = try Fixtures.load("llamacpp/chat_nonstream.json"),
              let tools = try Fixtures.load("openai/chat_completions_nonstream_tool_calls_response.json") else { return }
        let request = Array(#"{"model":"smollm2","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Name the primary colors"}]}]}"#.utf8)
        let decoded = decodeCapture([
            captureLine(input: request, output: [UInt8](llama), encoding: "BASE64"),
            captureLine(input: nil, output: [UInt8](tools), encoding: "JSON", eventId: "ev-2"),
        ])
        #expect(decoded.rejected.isEmpty, "\(decoded.rejected)")
        let r = try #require(decoded.records.first)
        #expect(r.model == "smollm2" && r.requestModel == nil)
        #expect(r.prompt == "system: Be brief.\nuser: Name the primary colors")
        #expect(r.inputTokens == 35 && r.outputTokens == 24 && r.finishReason == "length")
        #expect(r.response?.hasPrefix("There are several primary colors") == true)
        let t = try #require(decoded.records.last)
        #expect(t.finishReason == "tool_calls" && t.inputTokens == 75 && t.outputTokens == 51)
        #expect(t.response?.contains("get_current_weather(") == true && t.prompt == nil)
    }

    @Test(arguments: ["JSON", "BASE64"])
    func openAIStreamFromRealSSE(encoding: String) throws {
        guard let request = try Fixtures.load("openai/chat_completions_stream_include_usage.request.json"),
              let sse = try Fixtures.load("openai/chat_completions_stream_include_usage.sse") else { return }
        let line = captureLine(input: [UInt8](request), output: [UInt8](sse), encoding: encoding, outputContentType: "text/event-stream")
        let r = try #require(decodeCapture([line]).records.first)
        #expect(r.streaming == true && r.model == "gpt-4-0613" && r.requestModel == "gpt-4")
        #expect(r.response == "\"This is a test.\"" || r.response?.hasPrefix("\"This is a test") == true)
        #expect(r.inputTokens == 12 && r.outputTokens == 5 && !r.tokensEstimated && r.finishReason == "stop")
    }

    @Test(arguments: ["JSON", "BASE64"])
    func tgiPayloads(encoding: String) throws {
        let request = Array(#"{"inputs":"What is deep learning?","parameters":{"max_new_tokens":20,"details":true,"decoder_input_details":true}}"#.utf8)
        let withDetails = Array(#"[{"generated_text":" Deep learning is a subset of machine learning.","details":{"finish_reason":"eos_token","generated_tokens":11,"seed":null,"prefill":[{"id":1,"text":"<s>","logprob":null},{"id":1724,"text":"What","logprob":-7.1},{"id":338,"text":" is","logprob":-1.2}],"tokens":[]}}]"#.utf8)
        let plain = Array(#"{"generated_text":"Deep learning uses neural networks with many layers."}"#.utf8)
        let atLimit = Array(#"{"generated_text":"x","details":{"finish_reason":"length","generated_tokens":20}}"#.utf8)
        let decoded = decodeCapture([
            captureLine(input: request, output: withDetails, encoding: encoding),
            captureLine(input: request, output: plain, encoding: encoding, eventId: "ev-2"),
            captureLine(input: request, output: atLimit, encoding: encoding, eventId: "ev-3"),
        ], endpoint: "tgi-ep", variant: nil)
        #expect(decoded.rejected.isEmpty, "\(decoded.rejected)")
        #expect(decoded.records.count == 3)
        let a = decoded.records[0]
        #expect(a.prompt == "What is deep learning?" && a.response == " Deep learning is a subset of machine learning.")
        #expect(a.outputTokens == 11 && a.inputTokens == 3 && a.finishReason == "stop" && !a.tokensEstimated)
        #expect(a.endpoint == "tgi-ep" && a.variant == nil && a.model == nil)
        let b = decoded.records[1]
        #expect(b.tokensEstimated && b.inputTokens == 6 && b.outputTokens == 13)
        #expect(decoded.records[2].finishReason == "length")
    }

    @Test func textAndCSVPayloads() throws {
        let decoded = decodeCapture([captureLine(input: Array("1,2,3".utf8), output: Array("0.7".utf8), encoding: "CSV", contentType: "text/csv")])
        let r = try #require(decoded.records.first)
        #expect(r.prompt == "1,2,3" && r.response == "0.7" && r.tokensEstimated)
    }

    @Test func modelErrorOutput() throws {
        guard let error = try Fixtures.load("openai/chat_completions_error_404_response.json") else { return }
        let r = try #require(decodeCapture([captureLine(input: nil, output: [UInt8](error), encoding: "JSON")]).records.first)
        #expect(r.status == .modelError && r.error?.hasPrefix("The model `this-model-does-not-exist`") == true)
        #expect(r.outputTokens == nil)
    }

    @Test func badLinesAreRejectedOneByOne() {
        let good = captureLine(input: Array(#"{"inputs":"hi"}"#.utf8), output: nil, encoding: "JSON")
        let lines = [
            good,
            "{not json",
            #"{"captureData":{},"eventMetadata":{"eventId":"x"}}"#,
            #"{"captureData":{},"eventMetadata":{"inferenceTime":"noon"}}"#,
            #"{"eventMetadata":{"inferenceTime":"2024-01-01T00:00:00Z"}}"#,
            #"{"captureData":{"endpointInput":{"data":"%%%","encoding":"BASE64"}},"eventMetadata":{"inferenceTime":"2024-01-01T00:00:00Z"}}"#,
            #"{"captureData":{"endpointOutput":{"data":"{\"choices\":[","encoding":"JSON","observedContentType":"application/json"}},"eventMetadata":{"inferenceTime":"2024-01-01T00:00:00Z"}}"#,
            #"{"captureData":{"endpointInput":{"data":5}},"eventMetadata":{"inferenceTime":"2024-01-01T00:00:00Z"}}"#,
            "",
            "[1]",
            good,
        ]
        let decoded = decodeCapture(lines)
        #expect(decoded.indices == [0, 10])
        #expect(decoded.rejected.map(\.index) == [1, 2, 3, 4, 5, 6, 7, 9])
        #expect(decoded.rejected.map(\.field) == [nil, "eventMetadata.inferenceTime", "eventMetadata.inferenceTime", "captureData",
                                                  "captureData.endpointInput.data", "captureData.endpointOutput.data",
                                                  "captureData.endpointInput.data", nil])
        #expect(decoded.rejected[4].error == "invalid base64")
        #expect(decoded.rejected[5].error.hasPrefix("invalid JSON payload"))
        #expect(decoded.rejected[7].error == "expected a capture object, got array")
    }

    @Test func capturedRecordsSurviveTheRecordEncoder() throws {
        guard let request = try Fixtures.load("openai/chat_completions_nonstream_response.request.json"),
              let response = try Fixtures.load("openai/chat_completions_nonstream_response.json") else { return }
        let records = decodeCapture([captureLine(input: [UInt8](request), output: [UInt8](response), encoding: "BASE64")]).records
        #expect(RecordDecoder.decodeNDJSON(RecordEncoder.encodeNDJSON(records)).records == records)
    }
}
