import BifocalCore
import Foundation
import Testing

@Suite("JSON text")
struct JSONTextTests {
    @Test("quoted strings escape quotes, backslashes and control characters and parse back to the same text")
    func quotedRoundTrips() throws {
        let text = "say \"hi\"\\ now\n\ttab\r\u{01}\u{1F} é 🙂"
        let literal = JSONText.quoted(text)
        #expect(literal == #""say \"hi\"\\ now\n\ttab\r\u0001\u001f é 🙂""#)
        let parsed = try JSONSerialization.jsonObject(with: Data("[\(literal)]".utf8)) as? [String]
        #expect(parsed == [text])
    }
}
