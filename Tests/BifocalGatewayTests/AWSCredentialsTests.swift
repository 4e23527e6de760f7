import BifocalGateway
import Testing

@Suite("AWS credentials")
struct AWSCredentialsTests {
    let files: [String: String] = [
        "/home/u/.aws/credentials": """
        # a comment
        [default]
        aws_access_key_id = AKIADEFAULT000000000
        aws_secret_access_key = defaultSecret/abc+def
        region = ignored-here

        [work]
        AWS_ACCESS_KEY_ID=ASIAWORK000000000000
        aws_secret_access_key=workSecret
        aws_session_token = tokenWith=Equals==
        s3 =
          max_concurrent_requests = 20
        ; another comment

        [broken]
        aws_access_key_id = AKIABROKEN0000000000
        """,
        "/home/u/.aws/config": """
        [default]
        region = eu-west-1

        [profile cfgonly]
        region = ap-south-1
        aws_access_key_id = AKIACONFIG0000000000
        aws_secret_access_key = configSecret

        [profile  spaced]
        region=us-west-2
        """,
        "/etc/alt-credentials": "[default]\r\naws_access_key_id = AKIAALT0000000000000\r\naws_secret_access_key = altSecret\r\n",
    ]

    func read(_ path: String) -> String? { files[path] }

    @Test func environmentWins() throws {
        let env = ["HOME": "/home/u", "AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "envSecret",
                   "AWS_SESSION_TOKEN": "envToken", "AWS_PROFILE": "work"]
        let (c, source) = try AWSCredentials.resolve(environment: env, readFile: read)
        #expect(c == AWSCredentials(accessKeyID: "AKIAENV", secretAccessKey: "envSecret", sessionToken: "envToken"))
        #expect(source == .environment)
        // The older name of the token variable still works.
        let older = AWSCredentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b", "AWS_SECURITY_TOKEN": "t"])
        #expect(older?.sessionToken == "t")
        // Half a pair is no pair.
        #expect(AWSCredentials.fromEnvironment(["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": " "]) == nil)
    }

    @Test func profilesFromTheCredentialsFile() throws {
        let (d, ds) = try AWSCredentials.resolve(environment: ["HOME": "/home/u"], readFile: read)
        #expect(d == AWSCredentials(accessKeyID: "AKIADEFAULT000000000", secretAccessKey: "defaultSecret/abc+def"))
        #expect(ds == .credentialsFile(path: "/home/u/.aws/credentials", profile: "default"))
        let (w, _) = try AWSCredentials.resolve(environment: ["HOME": "/home/u", "AWS_PROFILE": "work"], readFile: read)
        #expect(w == AWSCredentials(accessKeyID: "ASIAWORK000000000000", secretAccessKey: "workSecret", sessionToken: "tokenWith=Equals=="))
        // An explicit profile beats the environment's keys.
        let (e, _) = try AWSCredentials.resolve(environment: ["HOME": "/home/u", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y"],
                                                profile: "work", readFile: read)
        #expect(e.accessKeyID == "ASIAWORK000000000000")
        // AWS_SHARED_CREDENTIALS_FILE moves the file; CRLF line ends are fine.
        let (alt, altSource) = try AWSCredentials.resolve(environment: ["HOME": "/home/u", "AWS_SHARED_CREDENTIALS_FILE": "/etc/alt-credentials"],
                                                          readFile: read)
        #expect(alt.accessKeyID == "AKIAALT0000000000000" && alt.secretAccessKey == "altSecret")
        #expect(altSource == .credentialsFile(path: "/etc/alt-credentials", profile: "default"))
    }

    @Test func configFileProfiles() throws {
        let (c, s) = try AWSCredentials.resolve(environment: ["HOME": "/home/u", "AWS_PROFILE": "cfgonly"], readFile: read)
        #expect(c.accessKeyID == "AKIACONFIG0000000000" && c.secretAccessKey == "configSecret")
        #expect(s == .configFile(path: "/home/u/.aws/config", profile: "cfgonly"))
    }

    @Test func errorsNameFilesNotSecrets() {
        #expect(throws: AWSCredentials.LookupError.incompleteProfile(path: "/home/u/.aws/credentials", profile: "broken",
                                                                     missing: "aws_secret_access_key")) {
            try AWSCredentials.resolve(environment: ["HOME": "/home/u", "AWS_PROFILE": "broken"], readFile: read)
        }
        do {
            _ = try AWSCredentials.resolve(environment: ["HOME": "/nobody"], readFile: read)
            Issue.record("expected an error")
        } catch {
            let text = "\(error)"
            #expect(text.contains("/nobody/.aws/credentials (absent)") && text.contains("profile default"))
        }
    }

    @Test func region() {
        #expect(AWSCredentials.region(environment: ["AWS_REGION": "us-east-2", "AWS_DEFAULT_REGION": "x"], readFile: read) == "us-east-2")
        #expect(AWSCredentials.region(environment: ["AWS_DEFAULT_REGION": "ca-central-1"], readFile: read) == "ca-central-1")
        #expect(AWSCredentials.region(environment: ["HOME": "/home/u"], readFile: read) == "eu-west-1")
        #expect(AWSCredentials.region(environment: ["HOME": "/home/u", "AWS_PROFILE": "spaced"], readFile: read) == "us-west-2")
        #expect(AWSCredentials.region(environment: ["HOME": "/nobody"], readFile: read) == nil)
    }

    @Test func descriptionNeverShowsSecrets() {
        let c = AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                               sessionToken: "SESSIONTOKENVALUE")
        var dumped = ""
        dump(c, to: &dumped)
        for text in ["\(c)", String(describing: c), String(reflecting: c), "\([c])", dumped] {
            #expect(!text.contains("wJalr") && !text.contains("SESSIONTOKEN") && !text.contains("IOSFODNN7EXA"), "\(text)")
        }
        #expect("\(c)" == "AWSCredentials(accessKeyID: AKIA…MPLE, secretAccessKey: <redacted>, sessionToken: <redacted>)")
    }
}
