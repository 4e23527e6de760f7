/// Removes personal data and secrets from text before it is kept for quality work (issue 3:
/// "after redaction (emails, phone numbers, card numbers, API keys and bearer tokens)").
///
/// One left-to-right pass over the UTF-8 bytes: most bytes fall through a single `switch`; the
/// detectors run only at their trigger bytes (`@`, a digit or `+`/`(` at a word start, `=`/`:`
/// after a key-like name, and the first letters of known key prefixes). No Foundation regex: the
/// gateway calls this on sampled traffic and it must cost little next to the request itself.
///
/// What is found is replaced by a typed placeholder (`[EMAIL]`, `[PHONE]`, `[CARD]`, `[API_KEY]`,
/// `[TOKEN]`, `[SECRET]`), so scored text still reads naturally. Redacting twice changes nothing.
///
/// Deliberately *not* redacted, to keep ordinary text intact: bare digit runs without `+` or
/// separators (years, token counts, timestamps, ids), dates, IP addresses, decimals, digit runs
/// that fail the Luhn check or do not start like a card (2-6), and a JSON member named just
/// `token` (TGI streams carry `"token": {"text": ...}`).
public struct Redactor: Sendable {
    /// The kinds of things the redactor removes.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// An email address.
        case email
        /// A phone number: `+` and 7-15 digits, or a North American number with separators.
        case phone
        /// A payment card number: 13-19 digits (spaces or dashes allowed), Luhn-valid.
        case card
        /// An API key: a known prefix (`sk-`, `AKIA`, `ghp_`, `xoxb-`, `AIza`, ...) or the value of a key-like name.
        case apiKey
        /// A bearer token, JWT, or the value of a token-like name (`access_token=...`).
        case token
        /// The value of a password-like name (`password: ...`).
        case secret

        /// The text that replaces a match.
        public var placeholder: String {
            switch self {
            case .email: "[EMAIL]"
            case .phone: "[PHONE]"
            case .card: "[CARD]"
            case .apiKey: "[API_KEY]"
            case .token: "[TOKEN]"
            case .secret: "[SECRET]"
            }
        }
    }

    /// One thing found: its kind and where it lies, as UTF-8 byte offsets into the text.
    public struct Match: Sendable, Hashable {
        /// What was found.
        public var kind: Kind
        /// UTF-8 byte offsets of the redacted span.
        public var range: Range<Int>

        /// Creates a match (tests compare against these).
        public init(kind: Kind, range: Range<Int>) {
            self.kind = kind
            self.range = range
        }
    }

    /// Creates a redactor. It holds no state; one value may be shared by every request.
    public init() {}

    /// The text with every match replaced by its placeholder; the same string when nothing matched.
    public func redact(_ text: String) -> String {
        var copy = text
        let result: String? = copy.withUTF8 { buffer in
            var scanner = RedactionScanner(buffer)
            scanner.scan()
            if scanner.matches.isEmpty { return nil }
            return Self.render(buffer, scanner.matches)
        }
        return result ?? text
    }

    /// The matches in the text, in order and not overlapping (for tests and for counting what was redacted).
    public func matches(in text: String) -> [Match] {
        var copy = text
        return copy.withUTF8 { buffer in
            var scanner = RedactionScanner(buffer)
            scanner.scan()
            return scanner.matches
        }
    }

    private static func render(_ bytes: UnsafeBufferPointer<UInt8>, _ matches: [Match]) -> String {
        var capacity = bytes.count
        for m in matches { capacity += m.kind.placeholder.utf8.count }
        return String(unsafeUninitializedCapacity: capacity) { out in
            var w = 0
            var from = 0
            func copy(_ range: Range<Int>) {
                for k in range { out[w] = bytes[k]; w += 1 }
            }
            for m in matches {
                copy(from..<m.range.lowerBound)
                for b in m.kind.placeholder.utf8 { out[w] = b; w += 1 }
                from = m.range.upperBound
            }
            copy(from..<bytes.count)
            return w
        }
    }
}

// MARK: - The scanner

@inline(__always) private func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
@inline(__always) private func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 }
@inline(__always) private func isUpper(_ b: UInt8) -> Bool { b &- 0x41 < 26 }
@inline(__always) private func isAlnum(_ b: UInt8) -> Bool { isDigit(b) || isAlpha(b) }
/// Letters, digits and `_`: what continues a word, so a match may not start or end next to one.
@inline(__always) private func isWord(_ b: UInt8) -> Bool { isAlnum(b) || b == 0x5F }
@inline(__always) private func lower(_ b: UInt8) -> UInt8 { isUpper(b) ? b | 0x20 : b }
/// Characters of key bodies: base62 plus `-` and `_` (OpenAI, Google, Slack keys).
@inline(__always) private func isKeyChar(_ b: UInt8) -> Bool { isAlnum(b) || b == 0x2D || b == 0x5F }

private let A = UInt8(ascii: "A"), B = UInt8(ascii: "B")

/// Key-like names whose value after `=` or `:` is redacted, lower-cased with `_` and `-` removed,
/// matched as a suffix of the name (`aws_secret_access_key` ends with `secretaccesskey`). A bare
/// `token` is absent on purpose: TGI streams name their token objects so.
private let keywords: [(name: [UInt8], kind: Redactor.Kind)] = ([
    ("apikey", .apiKey), ("secretaccesskey", .apiKey), ("secretkey", .apiKey), ("apisecret", .apiKey),
    ("clientsecret", .apiKey), ("privatekey", .apiKey), ("accesskeyid", .apiKey),
    ("accesstoken", .token), ("authtoken", .token), ("refreshtoken", .token), ("sessiontoken", .token),
    ("idtoken", .token), ("bearertoken", .token), ("securitytoken", .token),
    ("password", .secret), ("passwd", .secret),
] as [(String, Redactor.Kind)]).map { (Array($0.0.utf8), $0.1) }

private struct RedactionScanner {
    let p: UnsafeBufferPointer<UInt8>
    let n: Int
    var matches: [Redactor.Match] = []
    /// Nothing before this offset may be matched again (the end of the last match).
    var floor = 0

    init(_ p: UnsafeBufferPointer<UInt8>) {
        self.p = p
        n = p.count
    }

    @inline(__always) func at(_ i: Int) -> UInt8 { i < n ? p[i] : 0 }

    /// A match may start at `i` when the byte before it does not continue a word.
    @inline(__always) func wordStart(_ i: Int) -> Bool { i == 0 || !isWord(p[i - 1]) }

    /// A match may end at `i` when the byte there does not continue a word (nor an email).
    @inline(__always) func wordEnd(_ i: Int) -> Bool { i >= n || !(isWord(p[i]) || p[i] == 0x40) }

    /// Whether the bytes at `i` spell `word` (ASCII, case-insensitive when `folding`).
    @inline(__always) func has(_ word: StaticString, at i: Int, folding: Bool = false) -> Bool {
        let count = word.utf8CodeUnitCount
        guard i + count <= n else { return false }
        let w = word.utf8Start
        for k in 0..<count {
            let b = p[i + k]
            if (folding ? lower(b) : b) != w[k] { return false }
        }
        return true
    }

    /// The end of a run of bytes satisfying `pred` from `i`, at most `limit` long.
    @inline(__always) func run(from i: Int, limit: Int = 4096, _ pred: (UInt8) -> Bool) -> Int {
        var j = i
        let stop = min(n, i + limit)
        while j < stop && pred(p[j]) { j += 1 }
        return j
    }

    mutating func add(_ kind: Redactor.Kind, _ range: Range<Int>) {
        matches.append(Redactor.Match(kind: kind, range: range))
        floor = range.upperBound
    }

    mutating func scan() {
        var i = 0
        while i < n {
            let b = p[i]
            var end: Int?
            switch b {
            case 0x40: // @
                end = email(at: i)
            case 0x30...0x39:
                if digitStart(i) { end = card(at: i) ?? northAmericanPhone(at: i) }
            case 0x2B: // +
                if wordStart(i) { end = internationalPhone(at: i) }
            case 0x28: // (
                if wordStart(i) { end = northAmericanPhone(at: i) }
            case 0x3D, 0x3A: // = :
                end = keyValue(at: i)
            case 0x73: // s
                if wordStart(i) { end = prefixedKey(at: i, "sk-", minBody: 20, isKeyChar) }
            case A:
                if wordStart(i) { end = awsKeyID(at: i) ?? prefixedKey(at: i, "AIza", minBody: 30, isKeyChar) }
            case 0x67: // g
                if wordStart(i) { end = github(at: i) }
            case 0x78: // x
                if wordStart(i) { end = slack(at: i) }
            case B, 0x62: // B b
                if wordStart(i) { end = bearer(at: i) }
            case 0x65: // e
                if wordStart(i) { end = jwt(at: i) }
            default:
                break
            }
            if let end, end > i { i = end } else { i += 1 }
        }
    }

    // MARK: Emails

    /// `local@domain.tld`: found at the `@`, the local part taken back to the last match.
    mutating func email(at sign: Int) -> Int? {
        var s = sign
        let low = max(floor, sign - 64)
        while s > low && isLocalChar(p[s - 1]) { s -= 1 }
        while s < sign && (p[s] == 0x2E || p[s] == 0x2B || p[s] == 0x2D) { s += 1 } // no leading . + -
        guard s < sign else { return nil }
        var e = run(from: sign + 1, limit: 253) { isAlnum($0) || $0 == 0x2D || $0 == 0x2E }
        while e > sign + 1 && (p[e - 1] == 0x2E || p[e - 1] == 0x2D) { e -= 1 }
        guard e > sign + 1, isAlnum(p[sign + 1]) else { return nil }
        // The last label is the top-level domain: letters only, at least two.
        var dot = e - 1
        while dot > sign && p[dot] != 0x2E { dot -= 1 }
        guard dot > sign + 1, e - dot - 1 >= 2 else { return nil }
        for k in (dot + 1)..<e where !isAlpha(p[k]) { return nil }
        add(.email, s..<e)
        return e
    }

    @inline(__always) func isLocalChar(_ b: UInt8) -> Bool {
        isAlnum(b) || b == 0x2E || b == 0x5F || b == 0x25 || b == 0x2B || b == 0x2D
    }

    // MARK: Cards and phone numbers

    /// Digit-led matches start after a non-word byte that is not `.` (decimals) or `+`/`-` glued to a number.
    @inline(__always) func digitStart(_ i: Int) -> Bool {
        guard i > 0 else { return true }
        let b = p[i - 1]
        return !(isWord(b) || b == 0x2E || b == 0x2F || b == 0x24)
    }

    /// 13-19 digits, in groups split by one space or dash (the same one throughout), starting
    /// 2-6 as card numbers do (so nanosecond timestamps and long ids do not qualify), Luhn-valid.
    /// Tries the longest group-aligned prefix first.
    mutating func card(at s: Int) -> Int? {
        guard p[s] &- 0x32 < 5 else { return nil }
        var j = s
        var digits = 0
        var sep: UInt8 = 0
        var best: Int?
        // Group ends seen so far, longest last; at most 19 groups of one digit.
        return withUnsafeTemporaryAllocation(of: (Int, Int).self, capacity: 20) { ends in
            var count = 0
            while true {
                let groupStart = j
                while j < n && isDigit(p[j]) && digits <= 19 { j += 1; digits += 1 }
                if digits > 19 || j == groupStart { break }
                ends[count] = (j, digits); count += 1
                guard j + 1 < n, p[j] == 0x20 || p[j] == 0x2D, sep == 0 || p[j] == sep, isDigit(p[j + 1]) else { break }
                sep = p[j]
                j += 1
            }
            var k = count - 1
            while k >= 0 {
                let (end, d) = ends[k]
                k -= 1
                guard d >= 13 && d <= 19 else { continue }
                // A prefix that stops inside a digit run, or right before a word, is not a card.
                if end < n && (isWord(p[end]) || p[end] == 0x40) { continue }
                if luhn(s..<end) { best = end; break }
            }
            if let best { add(.card, s..<best) }
            return best
        }
    }

    func luhn(_ range: Range<Int>) -> Bool {
        var sum = 0
        var double = false
        var k = range.upperBound - 1
        while k >= range.lowerBound {
            let b = p[k]
            k -= 1
            guard isDigit(b) else { continue }
            var d = Int(b &- 0x30)
            if double { d *= 2; if d > 9 { d -= 9 } }
            sum += d
            double.toggle()
        }
        return sum % 10 == 0
    }

    /// `+` then 7-15 digits (E.164), with single spaces, dashes, dots or parentheses between groups
    /// (`+44 (0)20 7946 0958`, `+1-202-555-0173`). Stops at the last group that keeps it at 15 digits.
    mutating func internationalPhone(at s: Int) -> Int? {
        guard s + 1 < n, p[s + 1] &- 0x31 < 9 else { return nil }
        var j = s + 1
        var digits = 0
        var best: Int?
        while true {
            let groupStart = j
            while j < n && isDigit(p[j]) { j += 1; digits += 1 }
            if j == groupStart || digits > 15 { break }
            if digits >= 7 && wordEnd(j) { best = j }
            // Up to two separators (") ", " (") and then a digit continue the number.
            var k = j
            while k < n && k - j < 2 && isPhoneSeparator(p[k]) { k += 1 }
            guard k > j, k < n, isDigit(p[k]) else { break }
            j = k
        }
        guard let best else { return nil }
        add(.phone, s..<best)
        return best
    }

    @inline(__always) func isPhoneSeparator(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x2D || b == 0x2E || b == 0x28 || b == 0x29
    }

    /// North American numbers with separators: `(202) 555-0173`, `202-555-0173`, `202.555.0173`,
    /// `202 555 0173`, `1-800-555-0199`, `+1` handled by the international form. Area code and
    /// exchange start 2-9, as the numbering plan requires, so `100-200-3000` is not a phone.
    mutating func northAmericanPhone(at s: Int) -> Int? {
        var j = s
        // An optional leading country code "1" and a separator.
        if p[j] == 0x31, j + 1 < n, p[j + 1] == 0x20 || p[j + 1] == 0x2D || p[j + 1] == 0x2E {
            j += 2
        }
        var sep: UInt8 = 0
        if at(j) == 0x28 { // (ddd)
            guard three(at: j + 1), at(j + 4) == 0x29 else { return nil }
            j += 5
            if at(j) == 0x20 || at(j) == 0x2D { j += 1 }
        } else {
            guard three(at: j) else { return nil }
            sep = at(j + 3)
            guard sep == 0x20 || sep == 0x2D || sep == 0x2E else { return nil }
            j += 4
        }
        guard three(at: j) else { return nil }
        let sep2 = at(j + 3)
        guard sep2 == 0x20 || sep2 == 0x2D || sep2 == 0x2E, sep == 0 || sep2 == sep else { return nil }
        j += 4
        for k in j..<(j + 4) where !isDigit(at(k)) { return nil }
        j += 4
        guard wordEnd(j) else { return nil }
        // "202-555-0173-44" or "202.555.0173.1" continue a longer number: not a phone.
        if j + 1 < n, p[j] == 0x2D || p[j] == 0x2E, isDigit(p[j + 1]) { return nil }
        add(.phone, s..<j)
        return j
    }

    /// Three digits, the first 2-9.
    @inline(__always) func three(at i: Int) -> Bool {
        i + 3 <= n && p[i] &- 0x32 < 8 && isDigit(p[i + 1]) && isDigit(p[i + 2])
    }

    // MARK: Keys and tokens with known shapes

    /// `prefix` then at least `minBody` body bytes, ending at a word end.
    mutating func prefixedKey(at s: Int, _ prefix: StaticString, minBody: Int, _ body: (UInt8) -> Bool,
                              kind: Redactor.Kind = .apiKey) -> Int? {
        guard has(prefix, at: s) else { return nil }
        let b = s + prefix.utf8CodeUnitCount
        let e = run(from: b, body)
        guard e - b >= minBody, wordEnd(e) else { return nil }
        add(kind, s..<e)
        return e
    }

    /// AWS access key ids: `AKIA` (long-term) or `ASIA` (temporary) and 16 upper-case letters or digits.
    mutating func awsKeyID(at s: Int) -> Int? {
        guard has("AKIA", at: s) || has("ASIA", at: s) else { return nil }
        let e = run(from: s + 4, limit: 17) { isUpper($0) || isDigit($0) }
        guard e - s == 20, wordEnd(e) else { return nil }
        add(.apiKey, s..<e)
        return e
    }

    /// GitHub tokens: `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_` and `github_pat_`.
    mutating func github(at s: Int) -> Int? {
        if has("github_pat_", at: s) { return prefixedKey(at: s, "github_pat_", minBody: 20, isWord) }
        guard has("gh", at: s), s + 3 < n, p[s + 3] == 0x5F else { return nil }
        switch p[s + 2] {
        case 0x70, 0x6F, 0x75, 0x73, 0x72: // p o u s r
            let e = run(from: s + 4, isAlnum)
            guard e - s - 4 >= 30, wordEnd(e) else { return nil }
            add(.apiKey, s..<e)
            return e
        default:
            return nil
        }
    }

    /// Slack tokens: `xoxb-`, `xoxp-`, `xoxa-`, `xoxr-`, `xoxs-` and a body of letters, digits and dashes.
    mutating func slack(at s: Int) -> Int? {
        guard has("xox", at: s), s + 4 < n, p[s + 4] == 0x2D else { return nil }
        switch p[s + 3] {
        case 0x61, 0x62, 0x70, 0x72, 0x73:
            let e = run(from: s + 5) { isAlnum($0) || $0 == 0x2D }
            guard e - s - 5 >= 10, wordEnd(e) else { return nil }
            add(.apiKey, s..<e)
            return e
        default:
            return nil
        }
    }

    /// `Bearer <token>` (any case, as HTTP allows): the token is redacted and the word kept.
    mutating func bearer(at s: Int) -> Int? {
        guard has("bearer", at: s, folding: true) else { return nil }
        let t = run(from: s + 6, limit: 8) { $0 == 0x20 || $0 == 0x09 }
        guard t > s + 6 else { return nil }
        // RFC 6750 token68 characters.
        let e = run(from: t) {
            isAlnum($0) || $0 == 0x2D || $0 == 0x2E || $0 == 0x5F || $0 == 0x7E || $0 == 0x2B || $0 == 0x2F || $0 == 0x3D
        }
        guard e - t >= 8 else { return nil }
        // Prose ("Bearer authentication") is letters only; tokens have digits or punctuation, or are long.
        if e - t < 24 {
            var letters = true
            for k in t..<e where !isAlpha(p[k]) { letters = false; break }
            if letters { return nil }
        }
        add(.token, t..<e)
        return e
    }

    /// A JSON Web Token: `eyJ` header, payload and signature in base64url joined by dots.
    mutating func jwt(at s: Int) -> Int? {
        guard has("eyJ", at: s) else { return nil }
        let b64: (UInt8) -> Bool = { isAlnum($0) || $0 == 0x2D || $0 == 0x5F }
        let h = run(from: s, b64)
        guard h - s >= 10, at(h) == 0x2E else { return nil }
        let pl = run(from: h + 1, b64)
        guard pl - h - 1 >= 4, at(pl) == 0x2E else { return nil }
        let sig = run(from: pl + 1, b64)
        guard wordEnd(sig) else { return nil }
        add(.token, s..<sig)
        return sig
    }

    // MARK: Values of key-like names

    /// `api_key=...`, `"client_secret": "..."`, `AWS_SECRET_ACCESS_KEY = ...`, `password: ...`:
    /// found at the `=` or `:`, the name read backwards. Only the value is redacted.
    mutating func keyValue(at op: Int) -> Int? {
        // The name: back over spaces and one closing quote, then name bytes.
        var e = op
        while e > floor && e > op - 4 && (p[e - 1] == 0x20 || p[e - 1] == 0x09) { e -= 1 }
        if e > floor && (p[e - 1] == 0x22 || p[e - 1] == 0x27) { e -= 1 }
        guard e > floor else { return nil }
        // Cheap filter: every keyword ends in y, n, t, d or d (key, token, secret, password, passwd).
        switch lower(p[e - 1]) {
        case 0x79, 0x6E, 0x74, 0x64: break
        default: return nil
        }
        var kind: Redactor.Kind?
        for (name, k) in keywords where endsName(at: e, with: name) { kind = k; break }
        guard let kind else { return nil }
        // The value: after spaces and an optional opening quote.
        var v = run(from: op + 1, limit: 8) { $0 == 0x20 || $0 == 0x09 }
        guard v < n else { return nil }
        var end: Int
        let q = p[v]
        if q == 0x22 || q == 0x27 {
            v += 1
            end = run(from: v, limit: 1024) { $0 != q && $0 != 0x0A && $0 != 0x5C }
        } else {
            end = run(from: v, limit: 1024) {
                !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D || $0 == 0x2C || $0 == 0x3B || $0 == 0x26
                    || $0 == 0x22 || $0 == 0x27 || $0 == 0x7D || $0 == 0x29 || $0 == 0x5D || $0 == 0x3C)
            }
        }
        guard end - v >= 6 else { return nil }
        // Placeholders (already redacted) and template references are not secrets.
        switch p[v] {
        case 0x5B, 0x24, 0x7B, 0x3C, 0x25: return nil // [ $ { < %
        default: break
        }
        // "Bearer xyz" as a value: leave it to the bearer rule, which keeps the word.
        if has("bearer", at: v, folding: true) { return nil }
        add(kind, v..<end)
        return end
    }

    /// Whether the name that ends at `e` ends with `name`, ignoring case, `_` and `-`.
    func endsName(at e: Int, with name: [UInt8]) -> Bool {
        var k = e - 1
        var m = name.count - 1
        while m >= 0 {
            guard k >= floor else { return false }
            let b = p[k]
            if b == 0x5F || b == 0x2D { k -= 1; continue }
            guard lower(b) == name[m] else { return false }
            k -= 1
            m -= 1
        }
        return true
    }
}
