import BifocalGateway
import Foundation
import Testing

@Suite("Redactor")
struct RedactionTests {
    let r = Redactor()

    @Test(arguments: [
        ("mail john.doe@example.com now", "mail [EMAIL] now"),
        ("<a.b+tag@sub.example.co.uk>", "<[EMAIL]>"),
        ("Write to me at jane_o'neil@x.io.", "Write to me at jane_o'[EMAIL]."),
        ("first.last-1@my-company.org, second@b.de", "[EMAIL], [EMAIL]"),
        ("\"email\":\"ops@bifocal.dev\"", "\"email\":\"[EMAIL]\""),
        ("UPPER@EXAMPLE.COM", "[EMAIL]"),
    ])
    func emails(input: String, expected: String) {
        #expect(r.redact(input) == expected)
    }

    @Test(arguments: [
        "@mention in a tweet", "user@localhost", "a@b.c", "x @ y.com", "price@2.50", "foo@.com",
        "see @2024-01-01", "email: (none)",
    ])
    func notEmails(input: String) {
        #expect(r.redact(input) == input)
    }

    @Test(arguments: [
        ("call +1 202 555 0173 today", "call [PHONE] today"),
        ("+1-202-555-0173", "[PHONE]"),
        ("+44 20 7946 0958", "[PHONE]"),
        ("+44 (0)20 7946 0958.", "[PHONE]."),
        ("+33 1 23 45 67 89", "[PHONE]"),
        ("+4930123456", "[PHONE]"),
        ("tel:+81-3-1234-5678", "tel:[PHONE]"),
        ("(202) 555-0173", "[PHONE]"),
        ("(202)555-0173", "[PHONE]"),
        ("202-555-0173", "[PHONE]"),
        ("202.555.0173", "[PHONE]"),
        ("202 555 0173", "[PHONE]"),
        ("1-800-555-0199", "[PHONE]"),
        ("1 (800) 555-0199 ext", "[PHONE] ext"),
        ("phone: 415-555-2671, fax: (415) 555-2672", "phone: [PHONE], fax: [PHONE]"),
    ])
    func phones(input: String, expected: String) {
        #expect(r.redact(input) == expected)
    }

    @Test(arguments: [
        "In 2024 we served 1234567 tokens", "prompt_tokens: 1523, completion_tokens: 87",
        "timestamp 1700000000 and 1700000000123456789", "on 2024-01-15 at 12:30:45",
        "ip 192.168.100.200 and 10.0.0.1", "version 1.2.3 and 12.5%", "ids 100-200-3000 and 123-456-7890",
        "pi is 3.14159265358979", "a+b = 12", "score +12 points", "+1234 ms", "2025550173",
        "order #202-555-0173-44", "x=+1234567abc", "took 4.5 s for 128 tokens at 28.4 tok/s",
        "matrix 4096 4096 4096", "ISBN 978-3-16-148410-0",
    ])
    func notPhonesOrCards(input: String) {
        #expect(r.redact(input) == input, "\(r.matches(in: input))")
    }

    @Test(arguments: [
        ("card 4111 1111 1111 1111 exp", "card [CARD] exp"),
        ("4111-1111-1111-1111", "[CARD]"),
        ("4111111111111111", "[CARD]"),
        ("amex 3782 822463 10005.", "amex [CARD]."),
        ("mc 5555555555554444", "mc [CARD]"),
        ("discover 6011000990139424", "discover [CARD]"),
        ("visa13 4222222222222", "visa13 [CARD]"),
        ("19 digits 6011 0000 0000 0000 001", "19 digits [CARD]"),
        ("\"card\":\"4012888888881881\"", "\"card\":\"[CARD]\""),
        ("4111 1111 1111 1111 22", "[CARD] 22"),
    ])
    func cards(input: String, expected: String) {
        #expect(r.redact(input) == expected)
    }

    @Test(arguments: [
        "4111 1111 1111 1112", // Luhn fails
        "1234567812345670", // Luhn-valid but starts with 1 (timestamps, ids)
        "9111111111111111", "41111111111111111111111", // too long
        "4111 1111-1111 1111", // mixed separators
        "4111111111111111abc", "id_4111111111111111",
    ])
    func notCards(input: String) {
        #expect(r.redact(input) == input, "\(r.matches(in: input))")
    }

    @Test(arguments: [
        ("key sk-abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL end", "key [API_KEY] end"),
        ("OPENAI_API_KEY=sk-proj-Ab12_cd34-EF56gh78IJ90kl12MN34op56QR78st90", "OPENAI_API_KEY=[API_KEY]"),
        ("id AKIAIOSFODNN7EXAMPLE.", "id [API_KEY]."),
        ("ASIAY34FZKBOKMUTVV7A", "[API_KEY]"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "aws_secret_access_key = [API_KEY]"),
        ("AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", "AWS_SECRET_ACCESS_KEY=[API_KEY]\n"),
        ("\"SecretAccessKey\": \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"", "\"SecretAccessKey\": \"[API_KEY]\""),
        ("token ghp_16C7e42F292c6912E7710c838347Ae178B4a ok", "token [API_KEY] ok"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "[API_KEY]"),
        ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "slack [API_KEY]"),
        ("maps AIzaSyA-1234567890abcdefghijklmnopqrstu", "maps [API_KEY]"),
        ("https://x.io/v1?api_key=abc123def456&q=1", "https://x.io/v1?api_key=[API_KEY]&q=1"),
        ("{\"apiKey\": \"0123456789abcdef\"}", "{\"apiKey\": \"[API_KEY]\"}"),
        ("x-api-key: 9f8e7d6c5b4a", "x-api-key: [API_KEY]"),
        ("client_secret=s3cr3t-value", "client_secret=[API_KEY]"),
        ("password: hunter2!!", "password: [SECRET]"),
        ("AWS_SESSION_TOKEN=IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH", "AWS_SESSION_TOKEN=[TOKEN]"),
        ("access_token=ya29.a0AfH6SMBx", "access_token=[TOKEN]"),
    ])
    func keys(input: String, expected: String) {
        #expect(r.redact(input) == expected)
    }

    @Test(arguments: [
        ("Authorization: Bearer sk-abcdefghijklmnopqrstuvwxyz0123456789", "Authorization: Bearer [TOKEN]"),
        ("authorization: bearer abc.def-ghi_jkl~mno+pq/rs==", "authorization: bearer [TOKEN]"),
        ("BEARER   0123456789abcdef", "BEARER   [TOKEN]"),
        ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk here",
         "jwt [TOKEN] here"),
    ])
    func tokens(input: String, expected: String) {
        #expect(r.redact(input) == expected)
    }

    @Test(arguments: [
        "the task-force asked sk-learn users", "sk-short", "ask-abcdefghijklmnopqrstuvwxyz0123",
        "AKIA is a prefix", "AKIAIOSFODNN7EXAMPL", "AKIAIOSFODNN7EXAMPLEX", "MAKIAIOSFODNN7EXAMPLE",
        "ghp_short", "xoxb-1", "Bearer of bad news", "Bearer authentication is in RFC 6750", "the bearer token is missing",
        "api_key: null", "api_key=${OPENAI_API_KEY}", "api_key: [API_KEY]", "monkey: banana-split",
        "max_tokens: 128000", "\"token\": {\"id\": 1, \"text\": \"Hello\"}", "\"tokens\": 12345678",
        "http://example.com:8080/path", "eyJ alone", "password reset link",
        "def apikey(): pass", "temperature=0.7, top_p=0.95",
    ])
    func notKeys(input: String) {
        #expect(r.redact(input) == input, "\(r.matches(in: input))")
    }

    @Test func mixedTextKeepsEverythingElse() {
        let input = """
        Hi, I'm Ana (ana.silva@example.pt, +351 912 345 678). My Visa is 4111-1111-1111-1111 and
        my key is sk-proj-abcdefghijklmnopqrstuvwxyz012345. In 2023 the model used 1,523 tokens. Ünïcödé ✓ 日本語
        """
        let expected = """
        Hi, I'm Ana ([EMAIL], [PHONE]). My Visa is [CARD] and
        my key is [API_KEY]. In 2023 the model used 1,523 tokens. Ünïcödé ✓ 日本語
        """
        #expect(r.redact(input) == expected)
        #expect(r.matches(in: input).map(\.kind) == [.email, .phone, .card, .apiKey])
    }

    @Test func redactingTwiceChangesNothing() {
        let input = "a@b.io Bearer abcdefghi1 api_key=zzzzzzzzzz +1 202 555 0173 4111111111111111 password=hunter22"
        let once = r.redact(input)
        #expect(once == "[EMAIL] Bearer [TOKEN] api_key=[API_KEY] [PHONE] [CARD] password=[SECRET]")
        #expect(r.redact(once) == once)
    }

    @Test func edgesOfTheText() {
        #expect(r.redact("") == "")
        #expect(r.redact("@") == "@")
        #expect(r.redact("+") == "+")
        #expect(r.redact("(") == "(")
        #expect(r.redact("x=") == "x=")
        #expect(r.redact("api_key=") == "api_key=")
        #expect(r.redact("4") == "4")
        #expect(r.redact("a@b.co") == "[EMAIL]")
        #expect(r.redact("Bearer") == "Bearer")
        #expect(r.redact("eyJhbGciOiJIUzI1NiJ9.eyJzdWIi.") == "[TOKEN]")
    }

    @Test func matchRangesAreUTF8Offsets() {
        let text = "é a@b.io"
        let m = r.matches(in: text)
        #expect(m == [Redactor.Match(kind: .email, range: 3..<9)])
    }

    /// Random text built from pieces that look like the things redacted, but are not, and that are:
    /// no crash, no match crosses another, and every piece that must stay does stay.
    @Test func randomMixturesAreStable() {
        var rng = SystemRandomNumberGenerator()
        let keep = ["2024", "1,523 tokens", "v1.2.3", "12:30", "192.168.0.1", "the", "model", "@user", "é", "日本",
                    "\n", "{\"token\":{\"text\":\"Hi\"}}", "a+b", "(x)", "=", ":"]
        let drop = ["bob@example.com", "+44 20 7946 0958", "4111 1111 1111 1111", "sk-abcdefghijklmnopqrstuvwxyz",
                    "AKIAIOSFODNN7EXAMPLE", "Bearer abcdef123456"]
        for _ in 0..<300 {
            var parts: [String] = []
            var kept: [String] = []
            for _ in 0..<Int.random(in: 1...12, using: &rng) {
                if Bool.random(using: &rng) {
                    let k = keep.randomElement(using: &rng)!; parts.append(k); kept.append(k)
                } else {
                    parts.append(drop.randomElement(using: &rng)!)
                }
            }
            let text = parts.joined(separator: " ")
            let out = r.redact(text)
            for d in drop { #expect(!out.contains(d.hasPrefix("Bearer") ? "abcdef123456" : d), "\(text) -> \(out)") }
            // A number right after a phone number may be taken as its last group (the safe side), so
            // only pieces that start with something else must survive whole.
            for k in kept where k.count > 2 && !(k.first!.isNumber) && k != "(x)" {
                #expect(out.contains(k), "\(text) -> \(out)")
            }
            let ranges = r.matches(in: text).map(\.range)
            for (a, b) in zip(ranges, ranges.dropFirst()) { #expect(a.upperBound <= b.lowerBound) }
            #expect(r.redact(out) == out)
        }
    }
}
