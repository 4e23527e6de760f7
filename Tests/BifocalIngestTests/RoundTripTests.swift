import BifocalCore
import BifocalIngest
import BifocalTesting
import Foundation
import Testing


/// Strings that trip JSON implementations: escapes, controls, non-BMP, combining marks, separators.
let trickyStrings: [String] = [
    "", "plain", "quote\"inside", "back\\slash", "slash/", "\u{0}", "nul\u{0}in", "\u{1}\u{1F}\u{7F}", "tab\tnew\nret\r",
    "\u{8}\u{C}", "é", "e\u{301}", "日本語", "😀", "👩‍👩‍👧", "\u{10FFFF}", "\u{FFFF}", "\u{FEFF}bom", "\u{2028}\u{2029}",
    "mixed \"é\" \\ 😀 \n end", "\\u0041 not an escape", String(repeating: "ab\"", count: 100),
]

@Suite("Unicode and numbers against Foundation")
struct FoundationComparisonTests {
    /// JSON string literals (as they would appear in a body) and what they mean.
    static let literals: [String] = [
        #""""#, #""abc""#, #""\"""#, #""\\""#, #""\/""#, #""\b\f\n\r\t""#, #""\u0000""#, #""\u001f""#, #""\u0041\u00e9""#,
        #""\u00E9""#, #""\u20AC""#, #""\uD83D\uDE00""#, #""\ud83d\ude00""#, #""\uDBFF\uDFFF""#, #""\uFFFF""#, #""\uFEFF""#,
        #""\u2028\u2029""#, #""é€😀""#, #""a\u0301""#, #""mixed \u00e9 é \ud83d\ude00 😀 \\ \" end""#,
        #""\uD834\uDD1E clef""#, #""x\\u0041""#, #""\u0022\u005c""#, #""long \n""#,
    ]

    @Test(arguments: literals)
    func stringsDecodeLikeFoundation(literal: String) throws {
        let body = #"[{"start":0,"model":\#(literal),"labels":{"k":\#(literal)}}]"#
        let ours = try #require(try decodeArray(body).records.first)
        let theirs = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [[String: Any]]
        let expected = theirs[0]["model"] as! String
        #expect(ours.model == expected)
        #expect(Array(ours.model!.unicodeScalars) == Array(expected.unicodeScalars))
        #expect(ours.labels == ["k": expected])
    }

    static let numbers: [String] = [
        "0", "-0", "0.0", "1", "12.5", "0.1", "0.3", "1e-7", "1E5", "1e+5", "7.0e-10", "123.456", "3.141592653589793238462643383279",
        "1.7976931348623157e308", "2.2250738585072014e-308", "4.9406564584124654e-324", "5e-324", "9007199254740993",
        "123456789012345678901234567890", "0.000000000000000000000000000123", "100000000000000000000000",
        "1.00000000000000011102230246251565404236316680908203125", "0.1e1", "25e-1", "8.98846567431158e307", "1e22", "1e23",
        "4503599627370497.5", "0.00001", "99999999999999999999e-20", "1234567890123456789", "12345678901234567890",
    ]

    @Test(arguments: numbers)
    func numbersDecodeLikeFoundation(literal: String) throws {
        let body = #"[{"start":0,"ttft_ms":\#(literal)}]"#
        let expected = Double(literal)!
        let decoded = try decodeArray(body)
        if expected.sign == .minus, expected != 0 { return }
        let ours = try #require(decoded.records.first?.ttftMs, "\(decoded.rejected)")
        // The standard library's reading is correctly rounded; ours must match it bit for bit.
        #expect(ours == expected)
        #expect(ours.bitPattern == abs(expected).bitPattern || ours == 0)
        // Foundation's JSONSerialization is off by an ulp or so on some long literals
        // (1.00000000000000011102230246251565404236316680908203125 reads as 1.0000000000000004), so only roughly.
        let theirs = try JSONSerialization.jsonObject(with: Data(body.utf8)) as! [[String: Any]]
        if let foundation = (theirs[0]["ttft_ms"] as? NSNumber)?.doubleValue {
            #expect(abs(ours - foundation) <= 4 * ours.ulp, "Foundation read \(foundation)")
        }
    }

    @Test func encodedStringsAreValidJSONForFoundation() throws {
        for text in trickyStrings {
            var bytes: [UInt8] = []
            RecordEncoder.appendString(text, to: &bytes)
            let body = Array(#"[{"start":0,"model":"#.utf8) + bytes + Array("}]".utf8)
            #expect(try RecordDecoder.decodeJSONArray(body).records.first?.model == text)
            let parsed = try JSONSerialization.jsonObject(with: Data(bytes), options: .fragmentsAllowed) as! String
            // Foundation drops a U+FEFF at the start of a string value (as if it were a byte order mark).
            if !text.hasPrefix("\u{FEFF}") { #expect(Array(parsed.unicodeScalars) == Array(text.unicodeScalars)) }
        }
    }
}

@Suite("Round trip")
struct RoundTripTests {
    static func randomString(_ rng: inout SplitMix64) -> String {
        if Bool.random(using: &rng) { return trickyStrings.randomElement(using: &rng)! }
        let alphabet = Array("abcXYZ019 -_.:/\"\\\n\t\u{0}\u{1}é日😀\u{301}\u{2028}")
        return String((0..<Int.random(in: 0...24, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
    }

    static func randomRecord(_ rng: inout SplitMix64) -> InferenceRecord {
        func maybe<T>(_ make: (inout SplitMix64) -> T) -> T? { Bool.random(using: &rng) ? make(&rng) : nil }
        func duration(_ rng: inout SplitMix64) -> Double {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: Double(Int.random(in: 0...100_000, using: &rng))
            case 1: Double.random(in: 0...10_000, using: &rng)
            case 2: Double.random(in: 0...1e-6, using: &rng)
            default: Double(sign: .plus, exponent: Int.random(in: -60...60, using: &rng), significand: Double.random(in: 1..<2, using: &rng))
            }
        }
        func hex(_ n: Int, _ rng: inout SplitMix64) -> String {
            String((0..<n).map { i in i == 0 ? "1" : Array("0123456789abcdef").randomElement(using: &rng)! })
        }
        var r = InferenceRecord(start: Int64.random(in: -62_135_596_800_000_000...253_402_300_799_999_999, using: &rng))
        r.id = maybe(randomString)
        r.endpoint = maybe(randomString)
        r.model = maybe(randomString)
        r.component = maybe(randomString)
        r.variant = maybe(randomString)
        r.instance = maybe(randomString)
        r.copy = maybe(randomString)
        r.status = RecordStatus.allCases.randomElement(using: &rng)!
        r.httpStatus = maybe { Int.random(in: 100...599, using: &$0) }
        r.error = maybe(randomString)
        r.streaming = maybe { Bool.random(using: &$0) }
        r.inputTokens = maybe { Int.random(in: 0...1_000_000, using: &$0) }
        r.outputTokens = maybe { Int.random(in: 0...1_000_000, using: &$0) }
        let a = duration(&rng), b = duration(&rng)
        if Bool.random(using: &rng) { r.ttftMs = min(a, b); r.e2eMs = max(a, b) } else { r.e2eMs = maybe(duration) }
        r.queueMs = maybe(duration)
        r.itlMs = maybe { rng in (0..<Int.random(in: 0...20, using: &rng)).map { _ in duration(&rng) } }
        if Bool.random(using: &rng) { r.itlMeanMs = min(a, b); r.itlMaxMs = max(a, b) }
        r.finishReason = maybe(randomString)
        r.tokensEstimated = Bool.random(using: &rng)
        r.source = RecordSource.allCases.randomElement(using: &rng)!
        r.provider = maybe(randomString)
        r.requestModel = maybe(randomString)
        r.traceId = maybe { hex(32, &$0) }
        r.spanId = maybe { hex(16, &$0) }
        r.tenant = maybe(randomString)
        r.prompt = maybe(randomString)
        r.response = maybe(randomString)
        r.context = maybe(randomString)
        r.reference = maybe(randomString)
        for _ in 0..<Int.random(in: 0...4, using: &rng) {
            let name = randomString(&rng)
            if !name.isEmpty { r.labels[name] = randomString(&rng) }
        }
        return r
    }

    @Test func randomRecordsSurviveJSONArrayAndNDJSON() throws {
        var rng = SplitMix64(state: 20_261_129)
        let records = (0..<2_000).map { _ in Self.randomRecord(&rng) }
        let array = try RecordDecoder.decodeJSONArray(RecordEncoder.encodeJSONArray(records))
        #expect(array.rejected.isEmpty, "\(array.rejected.prefix(3))")
        #expect(array.records.count == records.count)
        for (decoded, original) in zip(array.records, records) where decoded != original {
            Issue.record("round trip changed \(original) into \(decoded)")
            break
        }
        let ndjson = RecordDecoder.decodeNDJSON(RecordEncoder.encodeNDJSON(records))
        #expect(ndjson.records == records)
        #expect(ndjson.indices == Array(0..<records.count))
    }

    @Test func singleRecordEncodingIsValidJSON() throws {
        var rng = SplitMix64(state: 7)
        for _ in 0..<200 {
            let record = Self.randomRecord(&rng)
            let bytes = RecordEncoder.encodeJSON(record)
            let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
            #expect(object?["status"] as? String == record.status.rawValue)
            #expect(try RecordDecoder.decodeJSONArray([UInt8(ascii: "[")] + bytes + [UInt8(ascii: "]")]).records == [record])
        }
    }

    @Test func startIsExactToTheMicrosecond() throws {
        for micros: Int64 in [0, 1, -1, 999_999, 1_732_860_000_123_456, -62_135_596_800_000_000, 253_402_300_799_999_999, 253_402_300_800_000_000] {
            let r = InferenceRecord(start: micros)
            #expect(try RecordDecoder.decodeJSONArray(RecordEncoder.encodeJSONArray([r])).records == [r], "\(micros)")
        }
        #expect(String(decoding: RecordEncoder.encodeJSON(InferenceRecord(start: 1_732_860_000_123_456)), as: UTF8.self)
            == #"{"start":"2024-11-29T06:00:00.123456Z","status":"ok","source":"api"}"#)
    }
}
