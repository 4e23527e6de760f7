import Foundation

/// AWS keys for SigV4, found the way the AWS CLI and SDKs find them: the standard environment
/// variables first, then a profile in the shared credentials file, then the same profile in the
/// shared config file. Instance roles (IMDS), container credentials, SSO and `credential_process`
/// are not read: run the gateway with the variables set (for example from `aws configure
/// export-credentials --format env`) where those are needed.
///
/// The secret key and the session token never appear in `description`, so logging a value of this
/// type (or an error that holds one) does not leak them.
public struct AWSCredentials: Sendable, Hashable, CustomStringConvertible, CustomReflectable {
    /// The access key id (`AKIA...` long-term, `ASIA...` temporary). Not secret, but not logged in full either.
    public var accessKeyID: String
    /// The secret access key.
    public var secretAccessKey: String
    /// The session token that comes with temporary credentials.
    public var sessionToken: String?

    /// Creates credentials from their parts.
    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// The key id's first four and last four characters; the secret and the token only as "set".
    public var description: String {
        let id = accessKeyID.count > 8 ? "\(accessKeyID.prefix(4))…\(accessKeyID.suffix(4))" : "…"
        return "AWSCredentials(accessKeyID: \(id), secretAccessKey: <redacted>"
            + (sessionToken == nil ? ")" : ", sessionToken: <redacted>)")
    }

    /// `dump` and debuggers see the same redacted text, not the stored properties.
    public var customMirror: Mirror { Mirror(self, children: ["redacted": description]) }

    /// Where a set of credentials was found.
    public enum Source: Sendable, Hashable, CustomStringConvertible {
        /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
        case environment
        /// A profile of the shared credentials file.
        case credentialsFile(path: String, profile: String)
        /// A profile of the shared config file.
        case configFile(path: String, profile: String)

        /// Where, in words, without any secret.
        public var description: String {
            switch self {
            case .environment: "environment variables"
            case let .credentialsFile(path, profile): "profile \(profile) in \(path)"
            case let .configFile(path, profile): "profile \(profile) in \(path)"
            }
        }
    }

    /// What went wrong while looking for credentials. Messages name files and profiles, never values.
    public enum LookupError: Error, Sendable, Hashable, CustomStringConvertible {
        /// No source had a key id and a secret.
        case notFound(profile: String, looked: [String])
        /// The profile exists but lacks a key id or a secret.
        case incompleteProfile(path: String, profile: String, missing: String)
        /// Nothing names the region to sign for.
        case noRegion(profile: String)

        /// The message.
        public var description: String {
            switch self {
            case let .notFound(profile, looked):
                "no AWS credentials: looked in \(looked.joined(separator: ", ")) for profile \(profile)"
            case let .incompleteProfile(path, profile, missing):
                "profile \(profile) in \(path) has no \(missing)"
            case let .noRegion(profile):
                "no AWS region: set aws_region on the upstream, AWS_REGION or AWS_DEFAULT_REGION, or region in profile \(profile) of the shared config file"
            }
        }
    }

    /// Finds credentials: environment variables, else `profile` (default: `AWS_PROFILE`, else
    /// `default`) in the shared credentials file (`AWS_SHARED_CREDENTIALS_FILE`, else
    /// `~/.aws/credentials`), else in the shared config file (`AWS_CONFIG_FILE`, else `~/.aws/config`).
    /// `environment` (default: the process's) and `readFile` (nil for a file that does not exist) are injectable for tests.
    public static func resolve(
        environment: [String: String]? = nil,
        profile: String? = nil,
        readFile: ((String) -> String?)? = nil
    ) throws -> (credentials: AWSCredentials, source: Source) {
        let environment = environment ?? ProcessInfo.processInfo.environment
        let readFile = readFile ?? Self.readFile
        let explicitProfile = profile ?? nonEmpty(environment["AWS_PROFILE"])
        // Environment variables win unless a profile was named explicitly in config (as the CLI does
        // with --profile).
        if profile == nil, let c = fromEnvironment(environment) { return (c, .environment) }
        let name = explicitProfile ?? "default"
        var looked: [String] = profile == nil ? ["environment"] : []
        let credentialsPath = sharedCredentialsPath(environment)
        if let text = readFile(credentialsPath) {
            looked.append(credentialsPath)
            if let section = INI.parse(text)[name] {
                return (try fromSection(section, path: credentialsPath, profile: name), .credentialsFile(path: credentialsPath, profile: name))
            }
        } else {
            looked.append("\(credentialsPath) (absent)")
        }
        let configPath = configFilePath(environment)
        if let text = readFile(configPath) {
            looked.append(configPath)
            let ini = INI.parse(text)
            if let section = ini[name == "default" ? "default" : "profile \(name)"] ?? ini[name],
               section["aws_access_key_id"] != nil || section["aws_secret_access_key"] != nil {
                return (try fromSection(section, path: configPath, profile: name), .configFile(path: configPath, profile: name))
            }
        } else {
            looked.append("\(configPath) (absent)")
        }
        throw LookupError.notFound(profile: name, looked: looked)
    }

    /// Credentials from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`
    /// (or the older `AWS_SECURITY_TOKEN`); nil unless both the id and the secret are set.
    public static func fromEnvironment(_ environment: [String: String]) -> AWSCredentials? {
        guard let id = nonEmpty(environment["AWS_ACCESS_KEY_ID"]),
              let secret = nonEmpty(environment["AWS_SECRET_ACCESS_KEY"]) else { return nil }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret,
                              sessionToken: nonEmpty(environment["AWS_SESSION_TOKEN"]) ?? nonEmpty(environment["AWS_SECURITY_TOKEN"]))
    }

    /// The region: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `region` in the profile of the
    /// shared config file; nil when none says.
    public static func region(
        environment: [String: String]? = nil,
        profile: String? = nil,
        readFile: ((String) -> String?)? = nil
    ) -> String? {
        let environment = environment ?? ProcessInfo.processInfo.environment
        let readFile = readFile ?? Self.readFile
        if let r = nonEmpty(environment["AWS_REGION"]) ?? nonEmpty(environment["AWS_DEFAULT_REGION"]) { return r }
        let name = profile ?? nonEmpty(environment["AWS_PROFILE"]) ?? "default"
        guard let text = readFile(configFilePath(environment)) else { return nil }
        let ini = INI.parse(text)
        return nonEmpty((ini[name == "default" ? "default" : "profile \(name)"] ?? ini[name])?["region"])
    }

    static func fromSection(_ section: [String: String], path: String, profile: String) throws -> AWSCredentials {
        guard let id = nonEmpty(section["aws_access_key_id"]) else {
            throw LookupError.incompleteProfile(path: path, profile: profile, missing: "aws_access_key_id")
        }
        guard let secret = nonEmpty(section["aws_secret_access_key"]) else {
            throw LookupError.incompleteProfile(path: path, profile: profile, missing: "aws_secret_access_key")
        }
        return AWSCredentials(accessKeyID: id, secretAccessKey: secret,
                              sessionToken: nonEmpty(section["aws_session_token"]) ?? nonEmpty(section["aws_security_token"]))
    }

    static func readFile(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    static func sharedCredentialsPath(_ env: [String: String]) -> String {
        expandHome(nonEmpty(env["AWS_SHARED_CREDENTIALS_FILE"]) ?? "~/.aws/credentials", env)
    }

    static func configFilePath(_ env: [String: String]) -> String {
        expandHome(nonEmpty(env["AWS_CONFIG_FILE"]) ?? "~/.aws/config", env)
    }

    static func expandHome(_ path: String, _ env: [String: String]) -> String {
        guard path.hasPrefix("~/") else { return path }
        let home = nonEmpty(env["HOME"]) ?? NSHomeDirectory()
        return home + path.dropFirst(1)
    }

    static func nonEmpty(_ s: String?) -> String? {
        guard let t = s?.trimmingCharacters(in: .whitespaces), !t.isEmpty else { return nil }
        return t
    }
}

/// The INI dialect of the AWS shared files: `[section]` headers, `key = value` lines, `#` and `;`
/// comment lines (whole lines only), keys case-insensitive (the CLI lower-cases them), indented lines continuing a
/// nested value (`s3 =` blocks, which are kept whole and ignored here).
enum INI {
    static func parse(_ text: String) -> [String: [String: String]] {
        var sections: [String: [String: String]] = [:]
        var current: String?
        var lastKey: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            var line = Substring(rawLine)
            if line.hasSuffix("\r") { line = line.dropLast() }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") || trimmed.hasPrefix(";") { continue }
            if let first = line.first, first == " " || first == "\t" {
                // A continuation of the previous key's (nested) value.
                if let current, let lastKey {
                    sections[current]?[lastKey, default: ""] += "\n" + trimmed
                }
                continue
            }
            if trimmed.hasPrefix("[") && trimmed.hasSuffix("]") {
                let name = trimmed.dropFirst().dropLast().trimmingCharacters(in: .whitespaces)
                // "[profile  x]" and "[profile x]" are the same profile.
                let parts = name.split(separator: " ", omittingEmptySubsequences: true)
                let normalized = parts.count == 2 && parts[0] == "profile" ? "profile \(parts[1])" : name
                current = normalized
                if sections[normalized] == nil { sections[normalized] = [:] }
                lastKey = nil
                continue
            }
            guard let current, let eq = trimmed.firstIndex(where: { $0 == "=" || $0 == ":" }) else { continue }
            let key = trimmed[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            // No inline comments: botocore's parser keeps "x # y" whole, and so does this one.
            let value = trimmed[trimmed.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            sections[current]?[key] = value
            lastKey = key
        }
        return sections
    }
}
