import BifocalGateway
import Foundation
import Testing

/// Files committed beside these tests (Tests/BifocalGatewayTests/Captures; see NOTES.md there).
func gatewayCapture(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Captures/\(name)")
}

func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(hex.utf8.count / 2)
    var high: UInt8?
    for c in hex.utf8 {
        let v: UInt8 = c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10
        if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
    }
    return out
}

@Suite("SHA-256 and HMAC-SHA256")
struct SigV4CryptoTests {
    // FIPS 180-2 appendix B and the NIST example values.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ])
    func sha256Vectors(message: String, digest: String) {
        #expect(SigV4Crypto.hex(SigV4Crypto.sha256(message)) == digest)
    }

    @Test func sha256OfAMillionAs() {
        let digest = SigV4Crypto.sha256([UInt8](repeating: 0x61, count: 1_000_000))
        #expect(SigV4Crypto.hex(digest) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalEqualsWholeAtEverySplit() {
        let data = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = SigV4Crypto.sha256(data)
        for split in [0, 1, 55, 56, 63, 64, 65, 127, 128, 129, 299, 300] {
            var h = SHA256Hasher()
            h.update(Array(data[..<split]))
            h.update(Array(data[split...]))
            #expect(h.finalize() == whole, "split at \(split)")
        }
        var h = SHA256Hasher()
        for b in data { h.update([b]) }
        #expect(h.finalize() == whole)
    }

    // RFC 4231 test cases 1, 2, 3, 4, 6, 7 (5 truncates the output).
    @Test(arguments: [
        ("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265",
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        ("4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (String(repeating: "aa", count: 20), String(repeating: "dd", count: 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        ("0102030405060708090a0b0c0d0e0f10111213141516171819", String(repeating: "cd", count: 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        (String(repeating: "aa", count: 131),
         "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374",
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (String(repeating: "aa", count: 131),
         "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c676f726974686d2e",
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ])
    func hmacVectors(key: String, data: String, mac: String) {
        #expect(SigV4Crypto.hex(SigV4Crypto.hmacSHA256(key: hexBytes(key), hexBytes(data))) == mac)
    }
}

@Suite("SigV4 signer")
struct SigV4SignerTests {
    // MARK: AWS's own test suite (aws-c-auth's aws-sig-v4-test-suite, as botocore ships it)

    struct SuiteCase {
        var name: String
        var method: String
        var path: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        var creq: String
        var sts: String
        var authz: String
    }

    /// The suite's cases (Captures/sigv4-testsuite.json holds each case's files as strings). A
    /// `.req` is a request line, headers (indented lines continue the previous value), a blank line, a body.
    static func loadSuite() throws -> [SuiteCase] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: gatewayCapture("sigv4-testsuite.json"))) as! [String: Any]
        var cases: [SuiteCase] = []
        for c in json["cases"] as! [[String: String]] {
            func read(_ key: String) -> String { c[key]!.replacingOccurrences(of: "\r", with: "") }
            var lines = read("req").components(separatedBy: "\n")
            let requestLine = lines.removeFirst()
            // "GET /path HTTP/1.1": the path may hold spaces (normalize-path/get-space).
            let method = String(requestLine.prefix { $0 != " " })
            let path = String(requestLine.dropFirst(method.count + 1).dropLast(" HTTP/1.1".count))
            var headers: [(name: String, value: String)] = []
            var bodyLines: [String]?
            for line in lines {
                if var b = bodyLines { b.append(line); bodyLines = b; continue }
                if line.isEmpty { bodyLines = []; continue }
                if line.first == " " || line.first == "\t" {
                    headers[headers.count - 1].value += "\n" + line
                    continue
                }
                let colon = line.firstIndex(of: ":")!
                headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
            }
            let body = Array((bodyLines ?? []).joined(separator: "\n").utf8)
            cases.append(SuiteCase(name: c["name"]!, method: method, path: path, headers: headers, body: body,
                                   creq: read("creq"), sts: read("sts"), authz: read("authz")))
        }
        return cases
    }

    @Test func awsTestSuite() throws {
        let cases = try Self.loadSuite()
        #expect(cases.count == 34)
        let date: Int64 = 1_440_938_160 // 2015-08-30T12:36:00Z
        for c in cases {
            // The token is part of the credentials when the expected canonical request signs it.
            let token = c.creq.components(separatedBy: "\n").first { $0.hasPrefix("x-amz-security-token:") }.map { String($0.dropFirst(21)) }
            let signer = SigV4Signer(
                credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                            sessionToken: token),
                region: "us-east-1", service: "service")
            let host = c.headers.first { $0.name.lowercased() == "host" }!.value
            let signed = signer.sign(method: c.method, url: "https://\(host)\(c.path)", headers: c.headers, body: c.body, date: date)
            #expect(signed.canonicalRequest == c.creq, "\(c.name): canonical request")
            #expect(signed.stringToSign == c.sts, "\(c.name): string to sign")
            #expect(signed.authorization == c.authz, "\(c.name): authorization")
        }
    }

    // MARK: botocore

    struct BotocoreCase {
        var name: String
        var method: String
        var url: String
        var region: String
        var service: String
        var time: Int64
        var credentials: AWSCredentials
        var signingHeaders: [(name: String, value: String)]
        var sentHeaders: [(name: String, value: String)]
        var body: [UInt8]
        var authorization: String
        var canonicalRequest: String?
    }

    static func loadBotocore(_ url: URL) throws -> (version: String, cases: [BotocoreCase]) {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        let cases = (json["cases"] as! [[String: Any]]).map { c -> BotocoreCase in
            func pairs(_ key: String) -> [(name: String, value: String)] {
                (c[key] as! [[String]]).map { ($0[0], $0[1]) }
            }
            return BotocoreCase(
                name: c["name"] as! String, method: c["method"] as! String, url: c["url"] as! String,
                region: c["region"] as! String, service: c["service"] as! String, time: (c["time"] as! NSNumber).int64Value,
                credentials: AWSCredentials(accessKeyID: c["accessKeyID"] as! String, secretAccessKey: c["secretAccessKey"] as! String,
                                            sessionToken: c["sessionToken"] as? String),
                signingHeaders: pairs("signingHeaders"), sentHeaders: pairs("headers"), body: hexBytes(c["bodyHex"] as! String),
                authorization: c["authorization"] as! String, canonicalRequest: c["canonicalRequest"] as? String)
        }
        return (json["botocore"] as! String, cases)
    }

    static func checkAgainstBotocore(_ file: URL) throws -> Int {
        let (_, cases) = try loadBotocore(file)
        for c in cases {
            let signer = SigV4Signer(credentials: c.credentials, region: c.region, service: c.service)
            let signed = signer.sign(method: c.method, url: c.url, headers: c.signingHeaders, body: c.body, date: c.time)
            #expect(signed.authorization == c.authorization, "\(c.name)\n\(signed.canonicalRequest)")
            if let creq = c.canonicalRequest { #expect(signed.canonicalRequest == creq, "\(c.name)") }
            // The date and token headers are the ones botocore sent.
            func value(_ headers: [(name: String, value: String)], _ name: String) -> String? {
                headers.first { $0.name.lowercased() == name }?.value
            }
            #expect(value(signed.headers, "x-amz-date") == value(c.sentHeaders, "x-amz-date"), "\(c.name)")
            #expect(value(signed.headers, "x-amz-security-token") == value(c.sentHeaders, "x-amz-security-token"), "\(c.name)")
        }
        return cases.count
    }

    /// Signatures botocore made (see Captures/NOTES.md); the committed capture.
    @Test func botocoreCapture() throws {
        let n = try Self.checkAgainstBotocore(gatewayCapture("sigv4-botocore.json"))
        #expect(n == 12)
    }

    /// A fresh set from a live botocore, when `.ci/interop-sagemaker` points here.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["BIFOCAL_SIGV4_CASES"] != nil))
    func botocoreLive() throws {
        let path = ProcessInfo.processInfo.environment["BIFOCAL_SIGV4_CASES"]!
        let n = try Self.checkAgainstBotocore(URL(fileURLWithPath: path))
        #expect(n > 0)
        print("sigv4-live: \(n) botocore signatures checked")
    }

    // MARK: Pieces

    @Test func amzDate() {
        #expect(SigV4Signer.amzDate(0) == "19700101T000000Z")
        #expect(SigV4Signer.amzDate(1_440_938_160) == "20150830T123600Z")
        #expect(SigV4Signer.amzDate(1_709_251_199) == "20240229T235959Z")
        #expect(SigV4Signer.amzDate(4_102_444_800) == "21000101T000000Z")
    }

    @Test func canonicalURI() {
        #expect(SigV4Signer.canonicalURI("") == "/")
        #expect(SigV4Signer.canonicalURI("/endpoints/my-endpoint/invocations-response-stream") == "/endpoints/my-endpoint/invocations-response-stream")
        // The wire path is encoded again: "%20" on the wire is "%2520" in the canonical request.
        #expect(SigV4Signer.canonicalURI("/endpoints/a%20b/invocations") == "/endpoints/a%2520b/invocations")
        #expect(SigV4Signer.canonicalURI("//a/./b/../c//") == "/a/c/")
        #expect(SigV4Signer.canonicalURI("/..") == "/")
    }

    @Test func canonicalQuery() {
        #expect(SigV4Signer.canonicalQuery("") == "")
        #expect(SigV4Signer.canonicalQuery("b=2&a=1&a=0&c") == "a=0&a=1&b=2&c=")
        #expect(SigV4Signer.canonicalQuery("x=%7e%20y&%41=z") == "A=z&x=~%20y")
    }

    @Test func signedHeadersAndResultHeaders() {
        let signer = SigV4Signer(credentials: AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "secret", sessionToken: "tok"),
                                 region: "us-west-2")
        let s = signer.sign(method: "POST", url: "http://127.0.0.1:9000/endpoints/e/invocations",
                            headers: [("Content-Type", "application/json"), ("User-Agent", "x"), ("Authorization", "Bearer old"),
                                      ("X-Amz-Date", "19990101T000000Z")],
                            body: Array("{}".utf8), date: 1_731_371_030)
        let names = s.headers.map { $0.name }
        #expect(names == ["Content-Type", "User-Agent", "Host", "X-Amz-Date", "X-Amz-Security-Token", "Authorization"])
        #expect(s.headers[2].value == "127.0.0.1:9000")
        #expect(s.amzDate == "20241112T002350Z")
        #expect(s.authorization.hasPrefix("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20241112/us-west-2/sagemaker/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, Signature="))
        #expect(!s.canonicalRequest.contains("secret"))
        // The known body hash may be given instead of the body.
        let t = signer.sign(method: "POST", url: "http://127.0.0.1:9000/endpoints/e/invocations",
                            headers: [("Content-Type", "application/json")],
                            bodySHA256: SigV4Crypto.hex(SigV4Crypto.sha256("{}")), date: 1_731_371_030)
        #expect(t.signature == s.signature)
        // S3-style content hash header when asked for.
        var s3 = signer
        s3.sendsContentSHA256 = true
        let u = s3.sign(method: "GET", url: "https://h/", headers: [], body: [], date: 0)
        #expect(u.headers.contains { $0.name == "X-Amz-Content-SHA256" && $0.value == SigV4Signer.emptyBodySHA256 })
        #expect(u.authorization.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"))
    }
}
