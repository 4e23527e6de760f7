import BifocalCore
@testable import BifocalGateway
import NIOCore
import Testing

@Suite("SageMaker payloads")
struct SageMakerPayloadTests {
    func inspect(_ json: String, limit: Int? = 1000) -> SageMakerPayload.Request {
        SageMakerPayload.inspectRequest(ByteBuffer(string: json), promptLimit: limit)
    }

    @Test func requests() {
        let tgi = inspect(#"{"inputs":"What is Deep Learning?","parameters":{"max_new_tokens":64,"details":true},"stream":true}"#)
        #expect(tgi.format == .tgi)
        #expect(tgi.stream)
        #expect(tgi.maxTokens == 64)
        #expect(tgi.prompt == "What is Deep Learning?")
        #expect(tgi.model == nil)
        #expect(inspect(#"{"inputs":"x","stream":true}"#).stream)
        #expect(inspect(#"{"parameters":{"a":1},"stream":true}"#).stream)
        #expect(inspect(#"{"parameters":{"a":true},"stream":true}"#).stream)
        #expect(inspect(#"{"parameters":{"max_new_tokens":64},"stream":true}"#).stream)
        let batch = inspect(#"{"inputs":["a","b"],"parameters":{}}"#)
        #expect(batch.format == .tgi && !batch.stream && batch.prompt == "a\nb")
        let chat = inspect(#"{"model":"llama","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}],"max_tokens":9,"stream":false}"#)
        #expect(chat.format == .openAIChat && chat.model == "llama" && chat.maxTokens == 9 && !chat.stream)
        #expect(chat.prompt == "system: Be brief.\nuser: Hi")
        let completion = inspect(#"{"prompt":"Once","stream":true}"#)
        #expect(completion.format == .openAICompletion && completion.prompt == "Once" && completion.stream)
        #expect(inspect("1,2,3\n4,5,6").format == .other)
        #expect(inspect(#"{"inputs":"x"}"#, limit: nil).prompt == nil)
    }

    @Test func tgiStreamEvents() {
        let token = SageMakerPayload.readEvent(Array(#"{"index":1,"token":{"id":415,"text":" Deep","logprob":-0.2,"special":false},"generated_text":null,"details":null}"#.utf8))
        #expect(token.content && token.isToken && token.text == " Deep" && token.outputTokens == nil)
        let special = SageMakerPayload.readEvent(Array(#"{"token":{"id":2,"text":"</s>","logprob":0,"special":true},"generated_text":"Deep learning is...","details":{"finish_reason":"eos_token","generated_tokens":20,"seed":null}}"#.utf8))
        #expect(!special.content && special.isToken && special.outputTokens == 20 && special.finishReason == "eos_token")
        let escaped = SageMakerPayload.readEvent(Array(#"{"token":{"text":"\n\"é\""}}"#.utf8))
        #expect(escaped.content && escaped.text == "\n\"é\"")
        let empty = SageMakerPayload.readEvent(Array(#"{"token":{"text":""}}"#.utf8))
        #expect(!empty.content && empty.isToken)
        let error = SageMakerPayload.readEvent(Array(#"{"error":"Input validation error: `inputs` must have less than 4096 tokens","error_type":"validation"}"#.utf8))
        #expect(error.error?.hasPrefix("Input validation error") == true && !error.content)
        // LMI's last JSON line: the whole text without a token repeats nothing, so it is content.
        let last = SageMakerPayload.readEvent(Array(#"{"generated_text":"Hello world","details":{"generated_tokens":2,"finish_reason":"length"}}"#.utf8))
        #expect(last.content && last.text == "Hello world" && last.outputTokens == 2)
    }

    @Test func openAIEventsInsideSageMaker() {
        let role = SageMakerPayload.readEvent(Array(#"{"id":"1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#.utf8))
        #expect(!role.content && role.model == "m")
        let content = SageMakerPayload.readEvent(Array(#"{"id":"1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#.utf8))
        #expect(content.content && content.text == "Hi")
        let usage = SageMakerPayload.readEvent(Array(#"{"id":"1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}}"#.utf8))
        #expect(!usage.content && usage.inputTokens == 12 && usage.outputTokens == 5)
    }

    func body(_ json: String) -> SageMakerPayload.Body {
        Array(json.utf8).withUnsafeBytes { SageMakerPayload.readBody($0, capturing: true) }
    }

    @Test func wholeBodies() {
        let list = body(#"[{"generated_text":"Deep learning is a subset of machine learning."}]"#)
        #expect(list.content && list.text == "Deep learning is a subset of machine learning." && list.outputTokens == nil)
        let detailed = body(#"{"generated_text":"abc","details":{"finish_reason":"length","generated_tokens":3,"seed":null,"prefill":[{"id":1,"text":"<s>"},{"id":2,"text":"x"}],"tokens":[]}}"#)
        #expect(detailed.outputTokens == 3 && detailed.inputTokens == 2 && detailed.finishReason == "length" && detailed.text == "abc")
        let chat = body(#"{"id":"c","object":"chat.completion","model":"llama","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":3,"total_tokens":12}}"#)
        #expect(chat.inputTokens == 9 && chat.outputTokens == 3 && chat.finishReason == "stop" && chat.model == "llama")
        let csv = body("0.93,0.07")
        #expect(!csv.content && csv.outputTokens == nil)
    }

    @Test func modelErrors() {
        let json = #"{"ErrorCode":"CLIENT_ERROR_FROM_MODEL","LogStreamArn":"arn:aws:logs:us-east-1:123:log-group:/aws/sagemaker/Endpoints/e","Message":"Received client error (400) from primary with message \"bad input\". See ...","OriginalMessage":"bad input","OriginalStatusCode":400}"#
        let e = Array(json.utf8).withUnsafeBytes { SageMakerPayload.readModelError($0) }
        #expect(e.originalStatusCode == 400 && e.errorCode == "CLIENT_ERROR_FROM_MODEL" && e.message?.hasPrefix("Received client error (400)") == true)
        let plain = Array(#"{"message":"Endpoint x of account y not found."}"#.utf8).withUnsafeBytes { SageMakerPayload.readModelError($0) }
        #expect(plain.message == "Endpoint x of account y not found." && plain.originalStatusCode == nil)
    }

    /// A TGI stream as SageMaker carries it, cut at every byte: TTFT is the instant of the first
    /// byte that completes a content event, whatever the cut.
    @Test func meterTimesTheFirstContentLineAtAnySplit() {
        let lines = [
            #"data:{"index":1,"token":{"id":1,"text":"","special":false},"generated_text":null,"details":null}"#,
            #"data:{"index":2,"token":{"id":415,"text":" Deep","special":false},"generated_text":null,"details":null}"#,
            #"data:{"index":3,"token":{"id":416,"text":" learning","special":false},"generated_text":null,"details":null}"#,
            #"data:{"index":4,"token":{"id":2,"text":"</s>","special":true},"generated_text":" Deep learning","details":{"finish_reason":"eos_token","generated_tokens":3,"seed":null}}"#,
        ]
        let bytes = Array(lines.map { $0 + "\n\n" }.joined().utf8)
        let firstContentEnd = Array((lines[0] + "\n\n" + lines[1] + "\n").utf8).count
        for cut in stride(from: 1, to: bytes.count, by: 7) {
            var meter = SageMakerStreamMeter(timer: TokenTimer(start: 0), captureLimit: 100)
            // The first piece arrives at 10 ms, the second at 30 ms, the rest at 50 ms.
            let a = Array(bytes[..<cut])
            let b = Array(bytes[cut..<min(bytes.count, cut + 40)])
            let c = Array(bytes[min(bytes.count, cut + 40)...])
            a.withUnsafeBytes { meter.feed($0, at: 10_000_000) }
            b.withUnsafeBytes { meter.feed($0, at: 30_000_000) }
            c.withUnsafeBytes { meter.feed($0, at: 50_000_000) }
            meter.finish(at: 60_000_000)
            var record = InferenceRecord(start: 0)
            meter.fill(&record, end: 60_000_000)
            let expected: Double = firstContentEnd <= cut ? 10 : firstContentEnd <= cut + 40 ? 30 : 50
            #expect(record.ttftMs == expected, "cut \(cut)")
            #expect(record.outputTokens == 3 && !record.tokensEstimated && record.finishReason == "eos_token")
            #expect(String(decoding: meter.text, as: UTF8.self) == " Deep learning")
            #expect(record.e2eMs == 60 && record.streaming == true)
        }
    }

    @Test func meterFormats() {
        func run(_ pieces: [(String, Int64)]) -> (InferenceRecord, String) {
            var meter = SageMakerStreamMeter(timer: TokenTimer(start: 0), captureLimit: 1000)
            for (text, t) in pieces { Array(text.utf8).withUnsafeBytes { meter.feed($0, at: t * 1_000_000) } }
            meter.finish(at: 100_000_000)
            var record = InferenceRecord(start: 0)
            meter.fill(&record, end: 100_000_000)
            return (record, String(decoding: meter.text, as: UTF8.self))
        }
        // LMI JSON lines, the last line without its newline.
        let (lmi, lmiText) = run([(#"{"token":{"id":1,"text":"Hel"}}"# + "\n", 5), (#"{"token":{"id":2,"text":"lo"}}"#, 9)])
        #expect(lmi.ttftMs == 5 && lmi.outputTokens == 2 && !lmi.tokensEstimated && lmiText == "Hello")
        #expect(lmi.itlMs == [95])  // the last line completes only at the end of the stream
        // OpenAI SSE with usage, CRLF line ends and a [DONE].
        let chunk = { (s: String) in #"data: {"object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"\#(s)"}}]}"# + "\r\n\r\n" }
        let (oa, oaText) = run([(#"data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant"}}]}"# + "\r\n\r\n", 3),
                                (chunk("A"), 7), (chunk("B"), 8),
                                (#"data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2}}"# + "\r\n\r\ndata: [DONE]\r\n\r\n", 9)])
        #expect(oa.ttftMs == 7 && oa.itlMs == [1] && oa.inputTokens == 4 && oa.outputTokens == 2 && !oa.tokensEstimated && oaText == "AB")
        #expect(oa.model == "m")
        // OpenAI SSE without usage: chunks counted, marked estimated.
        let (est, _) = run([(chunk("x"), 2), (chunk("y"), 4), (chunk("z"), 6)])
        #expect(est.outputTokens == 3 && est.tokensEstimated)
        // Plain text streaming: every non-empty piece is content.
        let (plain, plainText) = run([("  ", 1), ("Hello", 4), (" world", 8)])
        #expect(plain.ttftMs == 4 && plain.itlMs == [4] && plainText == "Hello world" && plain.outputTokens == 2 && plain.tokensEstimated)
        // An error event in the stream.
        let (err, _) = run([(#"data:{"error":"Request failed during generation: Server error: CUDA out of memory","error_type":"generation"}"# + "\n\n", 3)])
        #expect(err.status == .modelError && err.error?.contains("CUDA out of memory") == true)
    }
}
