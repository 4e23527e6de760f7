import BifocalCore
import BifocalIngest
import Foundation
import Testing

/// Decodes a JSON array body given as text.
func decodeArray(_ text: String) throws(BodySyntaxError) -> DecodedRecords {
    try RecordDecoder.decodeJSONArray(Array(text.utf8))
}

/// Decodes one record object; fails the test when it is not accepted.
func decodeOne(_ object: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> InferenceRecord {
    let decoded = try decodeArray("[\(object)]")
    #expect(decoded.rejected.isEmpty, "\(decoded.rejected)", sourceLocation: sourceLocation)
    return try #require(decoded.records.first, sourceLocation: sourceLocation)
}

/// The single rejection of a one-record body.
func rejection(_ object: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> RecordRejection {
    let decoded = try decodeArray("[\(object)]")
    #expect(decoded.records.isEmpty, sourceLocation: sourceLocation)
    return try #require(decoded.rejected.first, sourceLocation: sourceLocation)
}

@Suite("RecordDecoder: fields")
struct RecordDecoderFieldTests {
    @Test func everyField() throws {
        let r = try decodeOne("""
        {"id":"r-1","start":"2026-11-29T06:55:00.123456Z","endpoint":"ep","model":"llama","component":"ic-1",
         "variant":"AllTraffic","instance":"i-1","copy":"2","status":"timeout","http_status":200,"error":"slow",
         "streaming":true,"input_tokens":12,"output_tokens":5,"ttft_ms":120.5,"e2e_ms":1e3,"queue_ms":0,
         "itl_ms":[10,12.5,0.25],"itl_mean_ms":11,"itl_max_ms":12.5,"finish_reason":"stop","tokens_estimated":true,
         "source":"gateway","provider":"vllm","request_model":"llama-latest","trace_id":"0af7651916cd43dd8448eb211c80319c",
         "span_id":"b7ad6b7169203331","tenant":"team-a","prompt":"hi","response":"hello","context":"ctx","reference":"ref",
         "labels":{"team":"search","region":"eu"}}
        """)
        #expect(r.id == "r-1")
        #expect(r.start == Timestamp.parse("2026-11-29T06:55:00Z")! + 123_456)
        #expect(r.endpoint == "ep" && r.model == "llama" && r.component == "ic-1" && r.variant == "AllTraffic")
        #expect(r.instance == "i-1" && r.copy == "2")
        #expect(r.status == .timeout) // explicit status wins over http_status
        #expect(r.httpStatus == 200 && r.error == "slow" && r.streaming == true)
        #expect(r.inputTokens == 12 && r.outputTokens == 5)
        #expect(r.ttftMs == 120.5 && r.e2eMs == 1000 && r.queueMs == 0)
        #expect(r.itlMs == [10, 12.5, 0.25] && r.itlMeanMs == 11 && r.itlMaxMs == 12.5)
        #expect(r.finishReason == "stop" && r.tokensEstimated && r.source == .gateway)
        #expect(r.provider == "vllm" && r.requestModel == "llama-latest")
        #expect(r.traceId == "0af7651916cd43dd8448eb211c80319c" && r.spanId == "b7ad6b7169203331")
        #expect(r.tenant == "team-a" && r.prompt == "hi" && r.response == "hello" && r.context == "ctx" && r.reference == "ref")
        #expect(r.labels == ["team": "search", "region": "eu"])
    }

    @Test func minimalRecordAndDefaults() throws {
        let r = try decodeOne(#"{"start":1732860000.25}"#)
        #expect(r == InferenceRecord(start: 1_732_860_000_250_000))
        let fromGateway = try RecordDecoder.decodeJSONArray(Array(#"[{"start":0}]"#.utf8), defaultSource: .gateway)
        #expect(fromGateway.records.first?.source == .gateway)
    }

    @Test func nullMeansAbsent() throws {
        let r = try decodeOne(#"{"start":0,"model":null,"ttft_ms":null,"labels":null,"status":null,"itl_ms":null,"streaming":null}"#)
        #expect(r == InferenceRecord(start: 0))
    }

    @Test func startForms() throws {
        #expect(try decodeOne(#"{"start":"2026-11-29T06:55:00+01:00"}"#).start == Timestamp.parse("2026-11-29T05:55:00Z"))
        #expect(try decodeOne(#"{"start":"1732860000"}"#).start == 1_732_860_000_000_000)
        #expect(try decodeOne(#"{"start":1732860000}"#).start == 1_732_860_000_000_000)
        #expect(try decodeOne(#"{"start":-1.5}"#).start == -1_500_000)
    }

    @Test(arguments: [
        (200, RecordStatus.ok), (302, .ok), (400, .clientError), (404, .clientError), (408, .timeout),
        (429, .clientError), (499, .cancelled), (500, .serverError), (503, .serverError), (504, .timeout), (100, .ok),
    ])
    func statusDerivedFromHTTPStatus(code: Int, status: RecordStatus) throws {
        #expect(try decodeOne(#"{"start":0,"http_status":\#(code)}"#).status == status)
    }

    @Test func integersWrittenAsDecimals() throws {
        let r = try decodeOne(#"{"start":0,"input_tokens":12.0,"output_tokens":1e2,"http_status":2.00e2}"#)
        #expect(r.inputTokens == 12 && r.outputTokens == 100 && r.httpStatus == 200)
    }

    @Test func labelValueNullIsSkipped() throws {
        #expect(try decodeOne(#"{"start":0,"labels":{"a":null,"b":"x"}}"#).labels == ["b": "x"])
    }

    @Test func fieldNamesWithEscapesStillMatch() throws {
        let r = try decodeOne(#"{"st\u0061rt":0,"mod\u0065l":"m"}"#)
        #expect(r.model == "m")
    }

    @Test func emptyArray() throws {
        let decoded = try decodeArray("  [ ]\n")
        #expect(decoded.records.isEmpty && decoded.rejected.isEmpty)
    }

    @Test(arguments: [
        // (record, field, error)
        (#"{"model":"m"}"#, "start", "required field is missing"),
        (#"{"start":null}"#, "start", "expected an RFC 3339 time or unix seconds, got null"),
        (#"{"start":"yesterday"}"#, "start", "expected an RFC 3339 time or unix seconds, got 'yesterday'"),
        (#"{"start":"2026-02-30T00:00:00Z"}"#, "start", "expected an RFC 3339 time or unix seconds, got '2026-02-30T00:00:00Z'"),
        (#"{"start":true}"#, "start", "expected an RFC 3339 time or unix seconds, got boolean"),
        (#"{"start":1e300}"#, "start", "unix seconds out of range"),
        (#"{"start":0,"ttft":5}"#, "ttft", "unknown field"),
        (#"{"start":0,"model":"a","model":"b"}"#, "model", "duplicate field"),
        (#"{"start":0,"model":5}"#, "model", "expected a string, got number"),
        (#"{"start":0,"endpoint":["x"]}"#, "endpoint", "expected a string, got array"),
        (#"{"start":0,"ttft_ms":"5"}"#, "ttft_ms", "expected a non-negative number, got string"),
        (#"{"start":0,"e2e_ms":-1}"#, "e2e_ms", "expected a non-negative number, got -1"),
        (#"{"start":0,"queue_ms":-0.5}"#, "queue_ms", "expected a non-negative number, got -0.5"),
        (#"{"start":0,"e2e_ms":1e400}"#, "e2e_ms", "number out of range"),
        (#"{"start":0,"input_tokens":-3}"#, "input_tokens", "expected a non-negative integer, got -3"),
        (#"{"start":0,"output_tokens":1.5}"#, "output_tokens", "expected a non-negative integer, got 1.5"),
        (#"{"start":0,"output_tokens":"7"}"#, "output_tokens", "expected a non-negative integer, got string"),
        (#"{"start":0,"http_status":42}"#, "http_status", "expected an HTTP status code (100-599), got 42"),
        (#"{"start":0,"http_status":200.5}"#, "http_status", "expected an HTTP status code (100-599), got 200.5"),
        (#"{"start":0,"http_status":"200"}"#, "http_status", "expected an HTTP status code, got string"),
        (#"{"start":0,"status":"okay"}"#, "status", "unknown status 'okay' (expected ok, client_error, server_error, model_error, timeout or cancelled)"),
        (#"{"start":0,"status":1}"#, "status", "expected a status string, got number"),
        (#"{"start":0,"source":"kafka"}"#, "source", "unknown source 'kafka' (expected api, capture, gateway or otlp)"),
        (#"{"start":0,"streaming":"yes"}"#, "streaming", "expected a boolean, got string"),
        (#"{"start":0,"tokens_estimated":1}"#, "tokens_estimated", "expected a boolean, got number"),
        (#"{"start":0,"itl_ms":5}"#, "itl_ms", "expected an array of non-negative numbers, got number"),
        (#"{"start":0,"itl_ms":[1,"2"]}"#, "itl_ms", "entry 1: expected a non-negative number, got string"),
        (#"{"start":0,"itl_ms":[1,2,-3]}"#, "itl_ms", "entry 2: expected a non-negative number, got -3"),
        (#"{"start":0,"itl_ms":[null]}"#, "itl_ms", "entry 0: expected a non-negative number, got null"),
        (#"{"start":0,"ttft_ms":200,"e2e_ms":100}"#, "ttft_ms", "ttft_ms (200) is larger than e2e_ms (100)"),
        (#"{"start":0,"itl_mean_ms":20,"itl_max_ms":10}"#, "itl_max_ms", "itl_max_ms (10) is smaller than itl_mean_ms (20)"),
        (#"{"start":0,"trace_id":"0AF7651916CD43DD8448EB211C80319C"}"#, "trace_id", "expected 32 lowercase hex digits, not all zero"),
        (#"{"start":0,"trace_id":"00000000000000000000000000000000"}"#, "trace_id", "expected 32 lowercase hex digits, not all zero"),
        (#"{"start":0,"trace_id":"abc"}"#, "trace_id", "expected 32 lowercase hex digits, not all zero"),
        (#"{"start":0,"span_id":"b7ad6b716920333"}"#, "span_id", "expected 16 lowercase hex digits, not all zero"),
        (#"{"start":0,"span_id":7}"#, "span_id", "expected a string of hex digits, got number"),
        (#"{"start":0,"labels":["a"]}"#, "labels", "expected an object of string values, got array"),
        (#"{"start":0,"labels":{"team":5}}"#, "labels.team", "expected a string, got number"),
        (#"{"start":0,"labels":{"":"x"}}"#, "labels.", "label name must not be empty"),
        (#"{"start":0,"labels":{"a":"x","a":"y"}}"#, "labels.a", "duplicate label"),
    ])
    func rejections(record: String, field: String, error: String) throws {
        let r = try rejection(record)
        #expect(r.index == 0)
        #expect(r.field == field)
        #expect(r.error == error)
    }

    @Test func sizeLimits() throws {
        let longName = String(repeating: "x", count: RecordLimits.nameBytes + 1)
        #expect(try rejection(#"{"start":0,"model":"\#(longName)"}"#) == RecordRejection(index: 0, field: "model", error: "longer than 1024 bytes"))
        let okName = String(repeating: "é", count: RecordLimits.nameBytes / 2)
        #expect(try decodeOne(#"{"start":0,"model":"\#(okName)"}"#).model == okName)
        let longText = String(repeating: "y", count: RecordLimits.textBytes + 1)
        #expect(try rejection(#"{"start":0,"prompt":"\#(longText)"}"#).error == "longer than 1048576 bytes")
        let text = String(repeating: "y", count: RecordLimits.textBytes)
        #expect(try decodeOne(#"{"start":0,"prompt":"\#(text)"}"#).prompt == text)
        #expect(try rejection(#"{"start":0,"labels":{"team":"\#(longName)"}}"#) == RecordRejection(index: 0, field: "labels.team", error: "longer than 1024 bytes"))
        #expect(try rejection(#"{"start":0,"labels":{"\#(longName)":"v"}}"#).field == "labels")
        let many = (0...RecordLimits.labels).map { #""l\#($0)":"v""# }.joined(separator: ",")
        #expect(try rejection(#"{"start":0,"labels":{\#(many)}}"#) == RecordRejection(index: 0, field: "labels", error: "more than 64 labels"))
        let gaps = Array(repeating: "1", count: RecordLimits.itlEntries).joined(separator: ",")
        #expect(try decodeOne(#"{"start":0,"itl_ms":[\#(gaps)]}"#).itlMs?.count == RecordLimits.itlEntries)
        #expect(try rejection(#"{"start":0,"itl_ms":[\#(gaps),1]}"#).error == "more than 16384 entries")
    }

    @Test func longUnknownFieldNameIsClipped() throws {
        let name = String(repeating: "z", count: 500)
        let r = try rejection(#"{"start":0,"\#(name)":1}"#)
        #expect(r.field == String(repeating: "z", count: 64) + "...")
        #expect(r.error == "unknown field")
    }

    @Test func nonObjectElementsAreRejectedWhole() throws {
        let decoded = try decodeArray(#"[{"start":1}, "x", 5, null, [1,{"a":2}], {"start":2}, true]"#)
        #expect(decoded.records.map(\.start) == [1_000_000, 2_000_000])
        #expect(decoded.indices == [0, 5])
        #expect(decoded.rejected == [
            RecordRejection(index: 1, field: nil, error: "expected a record object, got string"),
            RecordRejection(index: 2, field: nil, error: "expected a record object, got number"),
            RecordRejection(index: 3, field: nil, error: "expected a record object, got null"),
            RecordRejection(index: 4, field: nil, error: "expected a record object, got array"),
            RecordRejection(index: 6, field: nil, error: "expected a record object, got boolean"),
        ])
    }

    @Test func validRecordsAroundInvalidOnesAreKept() throws {
        let decoded = try decodeArray(#"[{"start":0,"model":"a"},{"start":0,"ttft_ms":-1,"model":{"deep":[1,2,{"x":null}]}},{"start":0,"model":"c"}]"#)
        #expect(decoded.records.map(\.model) == ["a", "c"])
        #expect(decoded.indices == [0, 2])
        #expect(decoded.rejected == [RecordRejection(index: 1, field: "ttft_ms", error: "expected a non-negative number, got -1")])
    }

    @Test func firstProblemWinsButSyntaxAfterItIsStillChecked() throws {
        #expect(try rejection(#"{"start":0,"ttft":1,"model":5}"#).field == "ttft")
        #expect(throws: BodySyntaxError.self) { try decodeArray(#"[{"start":0,"ttft":1,"model":01}]"#) }
    }
}

@Suite("RecordDecoder: body syntax")
struct RecordDecoderSyntaxTests {
    func syntaxError(_ body: String, sourceLocation: SourceLocation = #_sourceLocation) -> BodySyntaxError? {
        do {
            _ = try decodeArray(body)
            Issue.record("expected a syntax error for \(body)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    @Test func offsetsAndReasons() {
        #expect(syntaxError(#"{"start":0}"#) == BodySyntaxError(offset: 0, reason: "unexpected '{', expected '[': the body must be a JSON array of records"))
        #expect(syntaxError(#"[{"start":0},]"#) == BodySyntaxError(offset: 13, reason: "trailing comma before ']'"))
        #expect(syntaxError(#"[{"start":0,}]"#) == BodySyntaxError(offset: 12, reason: "trailing comma before '}'"))
        #expect(syntaxError(#"[{"start":0}"#) == BodySyntaxError(offset: 12, reason: "unexpected end of input, expected ',' or ']'"))
        #expect(syntaxError(#"[{"start":0} {"start":1}]"#) == BodySyntaxError(offset: 13, reason: "unexpected '{', expected ',' or ']'"))
        #expect(syntaxError(#"[{"start":01}]"#) == BodySyntaxError(offset: 11, reason: "invalid number: leading zeros are not allowed"))
        #expect(syntaxError(#"[{"start":0}] x"#) == BodySyntaxError(offset: 14, reason: "unexpected 'x' after the end of the array"))
        #expect(syntaxError(#"[{start:0}]"#) == BodySyntaxError(offset: 2, reason: "unexpected 's', expected a member name in double quotes"))
        #expect(syntaxError("") == BodySyntaxError(offset: 0, reason: "unexpected end of input, expected '[': the body must be a JSON array of records"))
        #expect(syntaxError(#"[{"model":"abc]"#)?.reason == "unterminated string")
        #expect(syntaxError(#"[{"model":"abc]"#)?.offset == 10)
        #expect(syntaxError("[{\"model\":\"a\u{1}b\"}]") == BodySyntaxError(offset: 12, reason: "unescaped control character in string"))
    }

    @Test(arguments: [
        "[,]", "[{},,{}]", "[{\"a\" 1}]", "[{\"a\":}]", "[{\"start\":+1}]", "[{\"start\":.5}]", "[{\"start\":1.}]",
        "[{\"start\":1e}]", "[{\"start\":-}]", "[{\"start\":0x10}]", "[{\"start\":NaN}]", "[{\"start\":Infinity}]",
        "[{\"model\":tru}]", "[{\"model\":nul}]", "[{\"model\":\"\\x\"}]", "[{\"model\":\"\\u12\"}]", "[{\"model\":\"\\uZZZZ\"}]",
        "[{\"model\":\"\\uD800\"}]", "[{\"model\":\"\\uDC00\"}]", "[{\"model\":\"\\uD800\\u0041\"}]", "[{\"model\":'x'}]",
        "[{\"model\":\"tab\there\"}]", "[{\"model\":\"a\"}", "[{\"x\":[1,2,]}]", "[{\"x\":{\"a\":1,}}]", "[1 2]",
        "[{\"start\":0}]]", "[\u{00A0}]", "[{\"x\":\"\u{7F}\"}] trailing",
    ])
    func invalidBodies(body: String) {
        #expect(throws: BodySyntaxError.self) { try decodeArray(body) }
    }

    @Test func invalidUTF8IsASyntaxError() {
        let body: [UInt8] = Array(#"[{"start":0,"model":""#.utf8) + [0xC3, 0x28] + Array(#""}]"#.utf8)
        #expect(throws: BodySyntaxError.self) { try RecordDecoder.decodeJSONArray(body) }
    }

    @Test func whitespaceAndByteOrderMark() throws {
        let body: [UInt8] = [0xEF, 0xBB, 0xBF] + Array(" \r\n\t[ \n{ \"start\" :\t0 ,\"model\" : \"m\" } \r\n, {\"start\":1}\n]\n ".utf8)
        let decoded = try RecordDecoder.decodeJSONArray(body)
        #expect(decoded.records.count == 2 && decoded.rejected.isEmpty)
    }

    @Test func deepNestingIsRejectedNotCrashing() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: BodySyntaxError.self) { try decodeArray(#"[{"start":0,"x":\#(deep)}]"#) }
        #expect(throws: BodySyntaxError.self) { try decodeArray(#"[\#(deep)]"#) }
    }
}

@Suite("RecordDecoder: NDJSON")
struct NDJSONTests {
    @Test func badLinesAreIsolated() {
        let body = """
        {"start":0,"model":"a"}

        {"start":0,"model":
        not json at all
        {"start":0,"model":"b"}\r
        {"start":0,"ttft_ms":"fast"}
        [1,2]
        {"start":0} {"start":1}
           \t
        {"start":0,"model":"c"}
        """
        let decoded = RecordDecoder.decodeNDJSON(Array(body.utf8))
        #expect(decoded.records.map(\.model) == ["a", "b", "c"])
        #expect(decoded.indices == [0, 4, 9])
        #expect(decoded.rejected.map(\.index) == [2, 3, 5, 6, 7])
        #expect(decoded.rejected[0] == RecordRejection(index: 2, field: nil, error: "invalid JSON: unexpected end of input, expected a value at byte 19 of the line"))
        #expect(decoded.rejected[1].field == nil && decoded.rejected[1].error.hasPrefix("invalid JSON: invalid literal"))
        #expect(decoded.rejected[2] == RecordRejection(index: 5, field: "ttft_ms", error: "expected a non-negative number, got string"))
        #expect(decoded.rejected[3] == RecordRejection(index: 6, field: nil, error: "expected a record object, got array"))
        #expect(decoded.rejected[4].error.contains("after the record"))
    }

    @Test func emptyBodyAndTrailingNewline() {
        #expect(RecordDecoder.decodeNDJSON([UInt8]()) == DecodedRecords())
        let decoded = RecordDecoder.decodeNDJSON(Array("{\"start\":0}\n{\"start\":1}\n".utf8))
        #expect(decoded.records.count == 2 && decoded.indices == [0, 1])
    }

    @Test func invalidUTF8OnlyRejectsItsLine() {
        let body: [UInt8] = Array("{\"start\":0,\"model\":\"".utf8) + [0xFF] + Array("\"}\n{\"start\":0}\n".utf8)
        let decoded = RecordDecoder.decodeNDJSON(body)
        #expect(decoded.indices == [1])
        #expect(decoded.rejected.first?.error.contains("invalid UTF-8") == true)
    }
}
