public import BifocalCore
import BifocalGateway
import BifocalIngest
import BifocalStore
public import Foundation
import Yams

/// One mistake in a config file, with where it is.
public struct ConfigurationIssue: Sendable, Hashable, CustomStringConvertible {
    /// 1-based line, when known.
    public var line: Int?
    /// 1-based column, when known.
    public var column: Int?
    /// The dotted path of the setting (`endpoints[0].hourly_price`).
    public var path: String
    /// What is wrong.
    public var message: String

    /// `line:column: path: message`.
    public var description: String {
        let location = line.map { "\($0):\(column ?? 1): " } ?? ""
        return "\(location)\(path.isEmpty ? "" : "\(path): ")\(message)"
    }
}

/// A config file that cannot be used, with every mistake found in it.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    /// The file, when one was read.
    public var file: String?
    /// The mistakes.
    public var issues: [ConfigurationIssue]

    /// One line per mistake, prefixed with the file name.
    public var description: String {
        issues.map { "\(file.map { "\($0):" } ?? "")\($0)" }.joined(separator: "\n")
    }
}

extension BifocalConfiguration {
    /// Reads a YAML config file over the defaults. Throws `ConfigurationError` listing every mistake.
    public static func load(file: String) throws -> BifocalConfiguration {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ConfigurationError(file: file, issues: [.init(path: "", message: "cannot read the file")])
        }
        do {
            return try parse(yaml: String(decoding: data, as: UTF8.self))
        } catch var error as ConfigurationError {
            error.file = file
            throw error
        }
    }

    /// Parses YAML text over the defaults. Throws `ConfigurationError` listing every mistake.
    public static func parse(yaml: String) throws -> BifocalConfiguration {
        var reader = Reader()
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigurationError(issues: [reader.syntaxIssue(error)])
        }
        var configuration = BifocalConfiguration()
        if let root { reader.read(root, into: &configuration) }
        if !reader.issues.isEmpty {
            throw ConfigurationError(issues: reader.issues.sorted { ($0.line ?? 0, $0.column ?? 0) < ($1.line ?? 0, $1.column ?? 0) })
        }
        return configuration
    }

    /// Applies `BIFOCAL_*` environment variables (see the README's configuration reference).
    public mutating func applyEnvironment(_ environment: [String: String]) throws {
        var issues: [ConfigurationIssue] = []
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        if let host = value("BIFOCAL_HOST") { self.host = host }
        if let port = value("BIFOCAL_PORT") {
            if let p = Int(port) { self.port = p } else { issues.append(.init(path: "BIFOCAL_PORT", message: "expected a port number, got \"\(port)\"")) }
        }
        if let data = value("BIFOCAL_DATA") { storage.directory = data }
        if let tokens = value("BIFOCAL_TOKENS") {
            self.tokens = tokens.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if let limit = value("BIFOCAL_MAX_BODY_BYTES") {
            if let bytes = Reader.parseBytes(limit) { maxBodyBytes = Int(bytes) } else { issues.append(.init(path: "BIFOCAL_MAX_BODY_BYTES", message: "expected a size like 16777216 or 16MiB, got \"\(limit)\"")) }
        }
        if let size = value("BIFOCAL_MAX_SIZE") {
            if let bytes = Reader.parseBytes(size) { storage.maxSizeBytes = bytes } else { issues.append(.init(path: "BIFOCAL_MAX_SIZE", message: "expected a size like 10GiB, got \"\(size)\"")) }
        }
        if let raw = value("BIFOCAL_RETENTION_RAW") {
            if let micros = Timestamp.parseDuration(raw) { storage.rawRetention = micros } else { issues.append(.init(path: "BIFOCAL_RETENTION_RAW", message: "expected a duration like 7d, got \"\(raw)\"")) }
        }
        if !issues.isEmpty { throw ConfigurationError(file: "environment", issues: issues) }
    }
}

/// Walks the YAML tree, collecting every mistake instead of stopping at the first.
private struct Reader {
    var issues: [ConfigurationIssue] = []

    mutating func syntaxIssue(_ error: YamlError) -> ConfigurationIssue {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _):
            return .init(line: mark.line, column: mark.column, path: "", message: "YAML syntax: \(problem)\(context.map { " \($0)" } ?? "")")
        default:
            return .init(path: "", message: "YAML syntax: \(error)")
        }
    }

    mutating func issue(_ node: Node?, _ path: String, _ message: String) {
        issues.append(.init(line: node?.mark?.line, column: node?.mark?.column, path: path, message: message))
    }

    /// The entries of a mapping, reporting keys not in `known`.
    mutating func entries(_ node: Node, _ path: String, known: [String]) -> [(String, Node)] {
        guard let mapping = node.mapping else {
            issue(node, path, "expected a mapping (key: value lines)")
            return []
        }
        var result: [(String, Node)] = []
        for (key, value) in mapping {
            let name = key.string ?? ""
            let childPath = path.isEmpty ? name : "\(path).\(name)"
            if known.contains(name) {
                result.append((name, value))
            } else {
                issue(key, childPath, "unknown setting; expected one of: \(known.joined(separator: ", "))")
            }
        }
        return result
    }

    mutating func string(_ node: Node, _ path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            issue(node, path, "expected a single value")
            return nil
        }
        return scalar.string
    }

    mutating func int(_ node: Node, _ path: String, range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, path) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            issue(node, path, "expected a whole number in \(range.lowerBound)...\(range.upperBound), got \"\(text)\"")
            return nil
        }
        return value
    }

    mutating func double(_ node: Node, _ path: String) -> Double? {
        guard let text = string(node, path) else { return nil }
        guard let value = Double(text), value.isFinite, value >= 0 else {
            issue(node, path, "expected a non-negative number, got \"\(text)\"")
            return nil
        }
        return value
    }

    mutating func duration(_ node: Node, _ path: String) -> Int64? {
        guard let text = string(node, path) else { return nil }
        guard let value = Timestamp.parseDuration(text) else {
            issue(node, path, "expected a duration like 30s, 5m, 1h, 7d, got \"\(text)\"")
            return nil
        }
        return value
    }

    mutating func bytes(_ node: Node, _ path: String) -> Int64? {
        guard let text = string(node, path) else { return nil }
        guard let value = Self.parseBytes(text) else {
            issue(node, path, "expected a size like 1048576, 512MiB, 10GiB or 1GB, got \"\(text)\"")
            return nil
        }
        return value
    }

    /// `1048576`, `512KiB`, `512MiB`, `10GiB`, `1TiB`, `1KB`, `1MB`, `1GB`.
    static func parseBytes(_ text: String) -> Int64? {
        let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("TiB", 1_099_511_627_776),
                                         ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("B", 1)]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            guard let number = Double(trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), number > 0 else { return nil }
            return Int64(number * scale)
        }
        guard let number = Int64(trimmed), number > 0 else { return nil }
        return number
    }

    mutating func read(_ root: Node, into configuration: inout BifocalConfiguration) {
        for (key, value) in entries(root, "", known: ["server", "storage", "endpoints", "scrape", "gpu_sampler", "gateway", "dashboard"]) {
            switch key {
            case "server": readServer(value, into: &configuration)
            case "storage": readStorage(value, into: &configuration)
            case "scrape": readScrape(value, into: &configuration)
            case "gpu_sampler": readGPUSampler(value, into: &configuration)
            case "gateway": readGateway(value, into: &configuration)
            case "dashboard": readDashboard(value, into: &configuration)
            default: readEndpoints(value, into: &configuration)
            }
        }
    }

    mutating func readServer(_ node: Node, into configuration: inout BifocalConfiguration) {
        for (key, value) in entries(node, "server", known: ["host", "port", "max_body_bytes", "tokens"]) {
            let path = "server.\(key)"
            switch key {
            case "host": if let v = string(value, path) { configuration.host = v }
            case "port": if let v = int(value, path, range: 1...65535) { configuration.port = v }
            case "max_body_bytes": if let v = bytes(value, path) { configuration.maxBodyBytes = Int(v) }
            default:
                guard let list = value.sequence else {
                    issue(value, path, "expected a list of bearer tokens")
                    continue
                }
                configuration.tokens = list.enumerated().compactMap { index, item in
                    guard let token = string(item, "\(path)[\(index)]") else { return nil }
                    if token.count < 16 {
                        issue(item, "\(path)[\(index)]", "a bearer token must be at least 16 characters")
                        return nil
                    }
                    return token
                }
            }
        }
    }

    mutating func readStorage(_ node: Node, into configuration: inout BifocalConfiguration) {
        for (key, value) in entries(node, "storage", known: ["data", "retention", "max_size", "retention_interval"]) {
            let path = "storage.\(key)"
            switch key {
            case "data": if let v = string(value, path) { configuration.storage.directory = v }
            case "max_size": if let v = bytes(value, path) { configuration.storage.maxSizeBytes = v }
            case "retention_interval": if let v = duration(value, path) { configuration.retentionInterval = v }
            default:
                for (tier, node) in entries(value, path, known: ["raw", "texts", "minute", "hour", "day", "series_raw", "series_minute", "series_hour"]) {
                    guard let v = duration(node, "\(path).\(tier)") else { continue }
                    switch tier {
                    case "raw": configuration.storage.rawRetention = v
                    case "texts": configuration.storage.textRetention = v
                    case "minute": configuration.storage.minuteRetention = v
                    case "hour": configuration.storage.hourRetention = v
                    case "series_raw": configuration.storage.seriesRawRetention = v
                    case "series_minute": configuration.storage.seriesMinuteRetention = v
                    case "series_hour": configuration.storage.seriesHourRetention = v
                    default: configuration.storage.dayRetention = v
                    }
                }
            }
        }
    }

    mutating func readEndpoints(_ node: Node, into configuration: inout BifocalConfiguration) {
        guard let list = node.sequence else {
            issue(node, "endpoints", "expected a list of endpoints (- name: ...)")
            return
        }
        var names = Set<String>()
        for (index, item) in list.enumerated() {
            let path = "endpoints[\(index)]"
            var spec = EndpointSpec(name: "", hourlyPrice: 0, gpus: 0)
            var sawPrice = false
            for (key, value) in entries(item, path, known: ["name", "instance_type", "hourly_price", "gpus", "instances", "models"]) {
                let field = "\(path).\(key)"
                switch key {
                case "name": spec.name = string(value, field) ?? ""
                case "instance_type": spec.instanceType = string(value, field)
                case "hourly_price": if let v = double(value, field) { spec.hourlyPrice = v; sawPrice = true }
                case "gpus": spec.gpus = int(value, field, range: 0...1024) ?? 0
                case "instances": spec.instances = int(value, field, range: 1...100_000) ?? 1
                default:
                    guard let models = value.sequence else {
                        issue(value, field, "expected a list of models (- name: ..., gpus: N)")
                        continue
                    }
                    for (m, model) in models.enumerated() {
                        var name: String?
                        var gpus: Double?
                        for (k, v) in entries(model, "\(field)[\(m)]", known: ["name", "gpus"]) {
                            if k == "name" { name = string(v, "\(field)[\(m)].name") } else { gpus = double(v, "\(field)[\(m)].gpus") }
                        }
                        guard let name, !name.isEmpty else { issue(model, "\(field)[\(m)]", "a model needs a name"); continue }
                        guard let gpus else { issue(model, "\(field)[\(m)]", "model \(name) needs gpus (how many it reserves)"); continue }
                        spec.reservations[name] = gpus
                    }
                }
            }
            if spec.name.isEmpty { issue(item, path, "an endpoint needs a name") }
            if !sawPrice { issue(item, path, "endpoint \(spec.name) needs hourly_price (US dollars per instance-hour)") }
            if !names.insert(spec.name).inserted { issue(item, path, "endpoint \(spec.name) is listed twice") }
            let reserved = spec.reservations.values.reduce(0, +)
            if spec.gpus > 0 && reserved > Double(spec.gpus * spec.instances) {
                issue(item, path, "models reserve \(reserved) GPUs but the endpoint has \(spec.gpus * spec.instances)")
            }
            configuration.endpoints.append(spec)
        }
        configuration.storage.endpoints = EndpointCatalog(configuration.endpoints)
    }

    mutating func labels(_ node: Node, _ path: String) -> [String: String] {
        var result: [String: String] = [:]
        guard let mapping = node.mapping else {
            issue(node, path, "expected a mapping of label names to values")
            return result
        }
        for (key, value) in mapping {
            let name = key.string ?? ""
            guard Self.isLabelName(name) else {
                issue(key, "\(path).\(name)", "not a valid label name (letters, digits and _, not starting with a digit)")
                continue
            }
            if let text = string(value, "\(path).\(name)") { result[name] = text }
        }
        return result
    }

    static func isLabelName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }

    mutating func readScrape(_ node: Node, into configuration: inout BifocalConfiguration) {
        var interval: Int64 = 15 * Timestamp.microsPerSecond
        var timeout: Int64?
        var targetNodes: [(Int, Node)] = []
        for (key, value) in entries(node, "scrape", known: ["interval", "timeout", "targets"]) {
            let path = "scrape.\(key)"
            switch key {
            case "interval": if let v = duration(value, path) { interval = v }
            case "timeout": if let v = duration(value, path) { timeout = v }
            default:
                guard let list = value.sequence else {
                    issue(value, path, "expected a list of targets (- url: http://host:port/metrics)")
                    continue
                }
                targetNodes = Array(list.enumerated())
            }
        }
        for (index, item) in targetNodes {
            let path = "scrape.targets[\(index)]"
            var target = ScrapeTarget(url: "", job: "")
            var targetInterval = interval
            var targetTimeout: Int64?
            for (key, value) in entries(item, path, known: ["url", "job", "interval", "timeout", "labels", "endpoint", "model", "instance"]) {
                let field = "\(path).\(key)"
                switch key {
                case "url": target.url = string(value, field) ?? ""
                case "job": target.job = string(value, field) ?? ""
                case "interval": if let v = duration(value, field) { targetInterval = v }
                case "timeout": if let v = duration(value, field) { targetTimeout = v }
                case "labels": target.labels = labels(value, field)
                case "endpoint": target.endpoint = string(value, field)
                case "model": target.model = string(value, field)
                default: target.instance = string(value, field)
                }
            }
            target.interval = targetInterval
            // A target's own timeout must fit its interval (checked below); the section's default
            // (10 s unless set) is cut to the interval of a target that scrapes more often.
            target.timeout = targetTimeout ?? min(timeout ?? 10 * Timestamp.microsPerSecond, targetInterval)
            if target.url.isEmpty { issue(item, path, "a target needs a url"); continue }
            if target.job.isEmpty { target.job = "bifocal_scrape" }
            if let problem = target.problem { issue(item, path, problem); continue }
            configuration.scrapeTargets.append(target)
        }
    }

    mutating func readDashboard(_ node: Node, into configuration: inout BifocalConfiguration) {
        let known = ["compute_low", "compute_high", "memory_high", "kv_cache_high", "error_ratio_high", "slow_e2e", "slow_ttft", "prewarm"]
        for (key, value) in entries(node, "dashboard", known: known) {
            let path = "dashboard.\(key)"
            switch key {
            case "prewarm":
                switch string(value, path)?.lowercased() {
                case "true", "yes", "on": configuration.dashboard.prewarm = true
                case "false", "no", "off": configuration.dashboard.prewarm = false
                case let other?: issue(value, path, "expected true or false, got \"\(other)\"")
                case nil: break
                }
            case "slow_e2e": if let v = duration(value, path) { configuration.dashboard.slowE2E = v }
            case "slow_ttft": if let v = duration(value, path) { configuration.dashboard.slowTTFT = v }
            default:
                guard let v = double(value, path) else { continue }
                guard v <= 1 else { issue(value, path, "expected a ratio 0-1, got \(v)"); continue }
                switch key {
                case "compute_low": configuration.dashboard.computeLow = v
                case "compute_high": configuration.dashboard.computeHigh = v
                case "memory_high": configuration.dashboard.memoryHigh = v
                case "kv_cache_high": configuration.dashboard.kvCacheHigh = v
                default: configuration.dashboard.errorRatioHigh = v
                }
            }
        }
    }

    mutating func readGPUSampler(_ node: Node, into configuration: inout BifocalConfiguration) {
        for (key, value) in entries(node, "gpu_sampler", known: ["enabled", "interval", "command", "labels"]) {
            let path = "gpu_sampler.\(key)"
            switch key {
            case "enabled":
                guard let text = string(value, path) else { continue }
                switch text.lowercased() {
                case "auto": configuration.gpuSampler.mode = .auto
                case "true", "yes", "on": configuration.gpuSampler.mode = .on
                case "false", "no", "off": configuration.gpuSampler.mode = .off
                default: issue(value, path, "expected auto, true or false, got \"\(text)\"")
                }
            case "interval": if let v = duration(value, path) { configuration.gpuSampler.interval = v }
            case "command": if let v = string(value, path) { configuration.gpuSampler.command = v }
            default: configuration.gpuSampler.labels = labels(value, path)
            }
        }
    }
}

// MARK: gateway

extension Reader {
    /// `gateway:` (docs/gateway.md): upstreams, routing, measurement and capture settings.
    mutating func readGateway(_ node: Node, into configuration: inout BifocalConfiguration) {
        var gateway = GatewayConfiguration()
        let known = ["upstreams", "default_upstream", "tenant_header", "stream_usage", "capture", "record_queue", "max_request_bytes"]
        for (key, value) in entries(node, "gateway", known: known) {
            let path = "gateway.\(key)"
            switch key {
            case "default_upstream": gateway.defaultUpstream = string(value, path)
            case "tenant_header":
                guard let v = string(value, path) else { continue }
                if v.isEmpty || !v.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ":") }) {
                    issue(value, path, "expected an HTTP header name, got \"\(v)\"")
                } else {
                    gateway.tenantHeader = v.lowercased()
                }
            case "stream_usage": if let v = bool(value, path) { gateway.injectStreamUsage = v }
            case "record_queue": if let v = int(value, path, range: 1...10_000_000) { gateway.recordQueueSize = v }
            case "max_request_bytes": if let v = bytes(value, path) { gateway.maxRequestBytes = Int(v) }
            case "capture":
                for (k, v) in entries(value, path, known: ["sample_rate", "max_bytes"]) {
                    let field = "\(path).\(k)"
                    if k == "sample_rate" {
                        guard let rate = double(v, field) else { continue }
                        if rate > 1 { issue(v, field, "expected a share 0-1, got \(rate)") } else { gateway.captureSampleRate = rate }
                    } else if let b = bytes(v, field) {
                        gateway.captureMaxBytes = Int(min(b, 1 << 20))
                    }
                }
            default:
                guard let list = value.sequence else {
                    issue(value, path, "expected a list of upstreams (- name: ..., urls: [...])")
                    continue
                }
                for (index, item) in list.enumerated() {
                    if let upstream = readUpstream(item, "\(path)[\(index)]") { gateway.upstreams.append(upstream) }
                }
            }
        }
        var names = Set<String>()
        for (index, upstream) in gateway.upstreams.enumerated() where !names.insert(upstream.name).inserted {
            issue(node, "gateway.upstreams[\(index)]", "upstream \(upstream.name) is listed twice")
        }
        if let name = gateway.defaultUpstream, !names.contains(name) {
            issue(node, "gateway.default_upstream", "no upstream is named \(name)")
        }
        configuration.gateway = gateway
    }

    private mutating func readUpstream(_ node: Node, _ path: String) -> UpstreamConfiguration? {
        var upstream = UpstreamConfiguration(name: "", baseURLs: [])
        var authKind = "passthrough"
        var authNode: Node?
        var keyEnv: String?
        var keyHeader = "authorization"
        var sigv4 = SigV4Settings()
        let known = ["name", "kind", "urls", "url", "models", "sagemaker_endpoints", "auth", "api_key_env", "api_key_header",
                     "aws_region", "aws_profile", "aws_service", "ca_file", "connect_timeout", "read_timeout", "pool_size",
                     "endpoint", "variant", "instance", "provider", "stream_usage"]
        for (key, value) in entries(node, path, known: known) {
            let field = "\(path).\(key)"
            switch key {
            case "name": upstream.name = string(value, field) ?? ""
            case "kind":
                guard let text = string(value, field) else { continue }
                if let kind = UpstreamKind(rawValue: text) { upstream.kind = kind } else {
                    issue(value, field, "expected openai, sagemaker or sagemaker-container, got \"\(text)\"")
                }
            case "urls", "url":
                for (i, url) in strings(value, field).enumerated() {
                    if !UpstreamConfiguration.isValidBaseURL(url) {
                        issue(value.sequence?[i] ?? value, field, "\"\(url)\" is not an http:// or https:// URL with a host")
                    } else {
                        upstream.baseURLs.append(url)
                    }
                }
            case "models": upstream.models = strings(value, field)
            case "sagemaker_endpoints": upstream.sagemakerEndpoints = strings(value, field)
            case "auth":
                authNode = value
                authKind = string(value, field) ?? authKind
            case "api_key_env": keyEnv = string(value, field)
            case "api_key_header": keyHeader = string(value, field) ?? keyHeader
            case "aws_region": sigv4.region = string(value, field)
            case "aws_profile": sigv4.profile = string(value, field)
            case "aws_service": sigv4.service = string(value, field) ?? sigv4.service
            case "ca_file": upstream.caFile = string(value, field)
            case "connect_timeout": if let v = duration(value, field) { upstream.connectTimeout = v }
            case "read_timeout": if let v = duration(value, field) { upstream.readTimeout = v }
            case "pool_size": if let v = int(value, field, range: 1...100_000) { upstream.poolSize = v }
            case "endpoint": upstream.endpoint = string(value, field)
            case "variant": upstream.variant = string(value, field)
            case "instance": upstream.instance = string(value, field)
            case "stream_usage": upstream.injectStreamUsage = bool(value, field)
            default: upstream.provider = string(value, field)
            }
        }
        switch authKind {
        case "passthrough": upstream.auth = .passthrough
        case "none": upstream.auth = .none
        case "sigv4": upstream.auth = .sigv4(sigv4)
        case "api_key":
            guard let keyEnv, !keyEnv.isEmpty else {
                issue(authNode ?? node, "\(path).api_key_env", "auth api_key needs api_key_env: the environment variable that holds the key")
                return nil
            }
            upstream.auth = .apiKey(environmentVariable: keyEnv, header: keyHeader)
        default:
            issue(authNode ?? node, "\(path).auth", "expected passthrough, api_key, sigv4 or none, got \"\(authKind)\"")
        }
        if upstream.kind == .sagemaker, case .passthrough = upstream.auth { upstream.auth = .sigv4(sigv4) }
        if upstream.name.isEmpty { issue(node, path, "an upstream needs a name"); return nil }
        if upstream.resolvedBaseURLs.isEmpty && !(upstream.kind == .sagemaker) {
            issue(node, path, "upstream \(upstream.name) needs urls (one or more base URLs, like http://127.0.0.1:8000)")
            return nil
        }
        return upstream
    }

    /// A list of strings, or one string.
    private mutating func strings(_ node: Node, _ path: String) -> [String] {
        if let list = node.sequence {
            return list.enumerated().compactMap { i, item in string(item, "\(path)[\(i)]") }
        }
        return string(node, path).map { [$0] } ?? []
    }

    private mutating func bool(_ node: Node, _ path: String) -> Bool? {
        guard let text = string(node, path) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            issue(node, path, "expected true or false, got \"\(text)\"")
            return nil
        }
    }
}
