import BifocalCore

/// AWS Signature Version 4 for requests the gateway sends to the SageMaker runtime API.
///
/// Follows the published algorithm and botocore's `SigV4Auth` choice by choice, so that the same
/// request signs to the same `Authorization` header: the canonical URI is the wire path with dot
/// segments and empty segments removed, percent-encoded once more (services other than S3 sign the
/// already-encoded path encoded again); the canonical query sorts decoded-then-encoded pairs; every
/// header given is signed except those in `unsignedHeaders` (hop-by-hop and tracing headers, which
/// proxies rewrite), values trimmed and inner runs of spaces collapsed, repeated names joined
/// by commas; `host` is added from the URL when absent; the session token is set as
/// `X-Amz-Security-Token` before signing, so it is signed too. Checked against AWS's test suite and
/// against botocore itself (Tests/BifocalGatewayTests/Captures/sigv4, `.ci/interop-sagemaker`).
public struct SigV4Signer: Sendable {
    /// The keys that sign.
    public var credentials: AWSCredentials
    /// The region in the credential scope, `us-east-1` for example.
    public var region: String
    /// The service in the credential scope: `sagemaker` for the SageMaker runtime API.
    public var service: String
    /// Whether to send `X-Amz-Content-SHA256` (S3 requires it; SageMaker does not, and botocore does not send it).
    public var sendsContentSHA256: Bool

    /// Creates a signer for one service in one region.
    public init(credentials: AWSCredentials, region: String, service: String = "sagemaker", sendsContentSHA256: Bool = false) {
        self.credentials = credentials
        self.region = region
        self.service = service
        self.sendsContentSHA256 = sendsContentSHA256
    }

    /// The result of signing: the headers to send and the intermediate strings (kept for tests and for
    /// explaining a `SignatureDoesNotMatch`; none of them holds the secret key).
    public struct Signed: Sendable {
        /// The request's headers after signing: the given ones (less any earlier `Authorization`,
        /// `X-Amz-Date` and `X-Amz-Security-Token`), then `Host` when it was absent, `X-Amz-Date`,
        /// `X-Amz-Security-Token` when there is a session token, `X-Amz-Content-SHA256` when asked,
        /// and `Authorization`.
        public var headers: [(name: String, value: String)]
        /// The `Authorization` header's value.
        public var authorization: String
        /// The canonical request that was hashed.
        public var canonicalRequest: String
        /// The string that was signed.
        public var stringToSign: String
        /// The hex signature.
        public var signature: String
        /// `x-amz-date`: `yyyyMMddTHHmmssZ`.
        public var amzDate: String
    }

    /// Headers botocore never signs (`SIGNED_HEADERS_BLACKLIST` in 1.44): hop-by-hop headers, and
    /// headers that proxies, clients and tracing instrumentation add or rewrite on the way.
    public static let unsignedHeaders: Set<String> = [
        "baggage", "connection", "expect", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
        "traceparent", "tracestate", "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id",
    ]

    /// SHA-256 of the empty body, in hex.
    public static let emptyBodySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Signs a request given as a URL (`https://host[:port]/path?query`, the path percent-encoded
    /// as it goes on the wire) and its body.
    public func sign(method: String, url: String, headers: [(name: String, value: String)], body: [UInt8],
                     date secondsSinceEpoch: Int64) -> Signed {
        sign(method: method, url: url, headers: headers, bodySHA256: SigV4Crypto.hex(SigV4Crypto.sha256(body)),
             date: secondsSinceEpoch)
    }

    /// Signs a request whose body hash (lower-case hex SHA-256) is already known.
    public func sign(method: String, url: String, headers: [(name: String, value: String)], bodySHA256: String,
                     date secondsSinceEpoch: Int64) -> Signed {
        let parts = SigV4URL(url)
        let amzDate = Self.amzDate(secondsSinceEpoch)
        let day = String(amzDate.prefix(8))

        // The headers as they will be sent, before Authorization.
        var sent = headers.filter {
            let n = $0.name.lowercased()
            return n != "authorization" && n != "x-amz-date" && n != "x-amz-security-token"
                && !(sendsContentSHA256 && n == "x-amz-content-sha256")
        }
        if !sent.contains(where: { $0.name.lowercased() == "host" }) { sent.append(("Host", parts.hostHeader)) }
        sent.append(("X-Amz-Date", amzDate))
        if let token = credentials.sessionToken, !token.isEmpty { sent.append(("X-Amz-Security-Token", token)) }
        if sendsContentSHA256 { sent.append(("X-Amz-Content-SHA256", bodySHA256)) }

        // Canonical headers: lower-cased names, sorted; values trimmed, runs of whitespace collapsed,
        // repeated names joined by commas in the order given.
        var byName: [String: [String]] = [:]
        var order: [String] = []
        for (name, value) in sent {
            let n = name.lowercased()
            if Self.unsignedHeaders.contains(n) { continue }
            if byName[n] == nil { order.append(n) }
            byName[n, default: []].append(Self.trimAll(value))
        }
        let names = order.sorted()
        var canonicalHeaders = ""
        for n in names { canonicalHeaders += n + ":" + byName[n]!.joined(separator: ",") + "\n" }
        let signedHeaders = names.joined(separator: ";")

        let canonicalRequest = [
            method.uppercased(),
            Self.canonicalURI(parts.path),
            Self.canonicalQuery(parts.query),
            canonicalHeaders,
            signedHeaders,
            bodySHA256,
        ].joined(separator: "\n")

        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n"
            + SigV4Crypto.hex(SigV4Crypto.sha256(canonicalRequest))
        let key = signingKey(day: day)
        let signature = SigV4Crypto.hex(SigV4Crypto.hmacSHA256(key: key, stringToSign))
        let authorization = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        sent.append(("Authorization", authorization))
        return Signed(headers: sent, authorization: authorization, canonicalRequest: canonicalRequest,
                      stringToSign: stringToSign, signature: signature, amzDate: amzDate)
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    func signingKey(day: String) -> [UInt8] {
        let kDate = SigV4Crypto.hmacSHA256(key: Array(("AWS4" + credentials.secretAccessKey).utf8), day)
        let kRegion = SigV4Crypto.hmacSHA256(key: kDate, region)
        let kService = SigV4Crypto.hmacSHA256(key: kRegion, service)
        return SigV4Crypto.hmacSHA256(key: kService, "aws4_request")
    }

    // MARK: Canonical pieces (public for tests and for the docs' worked example)

    /// `yyyyMMddTHHmmssZ` for seconds since the epoch, in UTC.
    public static func amzDate(_ seconds: Int64) -> String {
        let days = Int(seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400)
        let rem = Int(seconds - Int64(days) * 86_400)
        let (y, m, d) = Timestamp.civilFromDays(days)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let year = String(y)
        return year + two(m) + two(d) + "T" + two(rem / 3600) + two(rem / 60 % 60) + two(rem % 60) + "Z"
    }

    /// The canonical URI: dot segments and empty segments removed (as botocore's
    /// `remove_dot_segments`), then every byte outside `A-Z a-z 0-9 - . _ ~ /` percent-encoded.
    public static func canonicalURI(_ path: String) -> String {
        if path.isEmpty { return "/" }
        var out: [Substring] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: true) {
            if segment == "." { continue }
            if segment == ".." { if !out.isEmpty { out.removeLast() }; continue }
            out.append(segment)
        }
        var normalized = path.hasPrefix("/") ? "/" : ""
        normalized += out.joined(separator: "/")
        if path.hasSuffix("/") && !out.isEmpty { normalized += "/" }
        return uriEncode(normalized, keepSlash: true)
    }

    /// The canonical query: pairs split at `&` and the first `=`, decoded, encoded again with only
    /// unreserved bytes left as they are, sorted by key then value, joined with `&`.
    public static func canonicalQuery(_ query: String) -> String {
        guard !query.isEmpty else { return "" }
        var pairs: [(String, String)] = []
        for item in query.split(separator: "&", omittingEmptySubsequences: true) {
            let eq = item.firstIndex(of: "=")
            let k = eq.map { item[..<$0] } ?? item[...]
            let v = eq.map { item[item.index(after: $0)...] } ?? ""
            pairs.append((uriEncode(percentDecode(k), keepSlash: false), uriEncode(percentDecode(v), keepSlash: false)))
        }
        pairs.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        return pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// RFC 3986 percent-encoding as SigV4 defines it: unreserved bytes stay, the rest is `%XX` (upper hex).
    public static func uriEncode(_ text: String, keepSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for b in text.utf8 {
            if isUnreserved(b) || (keepSlash && b == 0x2F) {
                out.append(b)
            } else {
                out.append(0x25); out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 0xF)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Percent-encodes one path segment for the wire (what botocore's serializer does to `{EndpointName}`).
    public static func encodePathSegment(_ text: String) -> String { uriEncode(text, keepSlash: false) }

    static func isUnreserved(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39)
            || b == 0x2D || b == 0x2E || b == 0x5F || b == 0x7E
    }

    static func percentDecode(_ s: Substring) -> String {
        guard s.contains("%") else { return String(s) }
        var out: [UInt8] = []
        let b = Array(s.utf8)
        var i = 0
        func hexValue(_ c: UInt8) -> UInt8? {
            switch c {
            case 0x30...0x39: c - 0x30
            case 0x41...0x46: c - 0x41 + 10
            case 0x61...0x66: c - 0x61 + 10
            default: nil
            }
        }
        while i < b.count {
            if b[i] == 0x25, i + 2 < b.count, let h = hexValue(b[i + 1]), let l = hexValue(b[i + 2]) {
                out.append(h << 4 | l); i += 3
            } else {
                out.append(b[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Trimall: leading and trailing whitespace removed, inner runs (folded lines too) made one space.
    static func trimAll(_ value: String) -> String {
        var out: [UInt8] = []
        var pendingSpace = false
        for b in value.utf8 {
            if b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(0x20); pendingSpace = false }
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The pieces of a URL that SigV4 needs, split without re-encoding anything.
struct SigV4URL {
    var scheme = "https"
    var host = ""
    var port: Int?
    var path = "/"
    var query = ""

    init(_ url: String) {
        var rest = Substring(url)
        if let colon = rest.firstIndex(of: ":"), rest[colon...].hasPrefix("://") {
            scheme = rest[..<colon].lowercased()
            rest = rest[rest.index(colon, offsetBy: 3)...]
        }
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]"), let p = Int(authority[authority.index(after: colon)...]) {
            host = String(authority[..<colon]); port = p
        } else {
            host = String(authority)
        }
        rest = rest[authorityEnd...]
        if let q = rest.firstIndex(of: "?") {
            path = String(rest[..<q])
            query = String(rest[rest.index(after: q)...])
            if let hash = query.firstIndex(of: "#") { query = String(query[..<hash]) }
        } else {
            path = String(rest)
            if let hash = path.firstIndex(of: "#") { path = String(path[..<hash]) }
        }
        if path.isEmpty { path = "/" }
    }

    /// `host`, or `host:port` when the port is not the scheme's default (as botocore's `_host_from_url`).
    var hostHeader: String {
        guard let port else { return host.lowercased() }
        let defaultPort = scheme == "https" ? 443 : scheme == "http" ? 80 : nil
        return port == defaultPort ? host.lowercased() : "\(host.lowercased()):\(port)"
    }
}
