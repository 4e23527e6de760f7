import BifocalCore
import BifocalServer
import BifocalStore
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    @Test("no config at all gives working defaults")
    func defaults() {
        let configuration = BifocalConfiguration()
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 8787)
        #expect(configuration.storage.directory == "./bifocal-data")
        #expect(configuration.maxBodyBytes == 16 * 1024 * 1024)
        #expect(configuration.validate().isEmpty)
    }

    @Test("a full config is read")
    func fullConfig() throws {
        let yaml = """
            server:
              host: 0.0.0.0
              port: 9000
              max_body_bytes: 8MiB
              tokens: [abcdefghijklmnopqrstuvwxyz]
            storage:
              data: /var/lib/bifocal
              max_size: 10GiB
              retention:
                raw: 3d
                texts: 1d
                minute: 1d
                hour: 30d
                day: 365d
            endpoints:
              - name: llm-prod
                instance_type: ml.g5.12xlarge
                hourly_price: 7.09
                gpus: 4
                models:
                  - name: llama-3-8b
                    gpus: 1
                  - name: mistral-7b
                    gpus: 2
            """
        let configuration = try BifocalConfiguration.parse(yaml: yaml)
        #expect(configuration.port == 9000)
        #expect(configuration.maxBodyBytes == 8 * 1_048_576)
        #expect(configuration.storage.maxSizeBytes == Int64(10) * 1_073_741_824)
        #expect(configuration.storage.rawRetention == 3 * Timestamp.microsPerDay)
        #expect(configuration.storage.textRetention == Timestamp.microsPerDay)
        #expect(configuration.endpoints.first?.reservations == ["llama-3-8b": 1, "mistral-7b": 2])
        #expect(configuration.storage.endpoints.endpoints["llm-prod"]?.hourlyPrice == 7.09)
        #expect(configuration.validate().isEmpty)
    }

    @Test("every mistake is reported with its line")
    func mistakesWithLines() {
        let yaml = """
            server:
              port: seventy
              colour: blue
            storage:
              retention:
                raw: forever
            endpoints:
              - name: a
                gpus: 4
            """
        #expect {
            try BifocalConfiguration.parse(yaml: yaml)
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            let lines = error.issues.compactMap(\.line)
            let text = error.description
            return lines == [2, 3, 6, 8] && text.contains("server.port") && text.contains("server.colour")
                && text.contains("storage.retention.raw") && text.contains("hourly_price")
        }
    }

    @Test("YAML syntax errors point at the line")
    func syntaxError() {
        #expect {
            try BifocalConfiguration.parse(yaml: "server:\n  port: [1, 2\nstorage: {}\n")
        } throws: { error in
            (error as? ConfigurationError)?.issues.first?.line != nil
        }
    }

    @Test("environment variables override the file")
    func environment() throws {
        var configuration = BifocalConfiguration()
        try configuration.applyEnvironment(["BIFOCAL_PORT": "9999", "BIFOCAL_DATA": "/tmp/x", "BIFOCAL_TOKENS": "aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb"])
        #expect(configuration.port == 9999)
        #expect(configuration.storage.directory == "/tmp/x")
        #expect(configuration.tokens.count == 2)
        #expect(throws: ConfigurationError.self) { try configuration.applyEnvironment(["BIFOCAL_PORT": "x"]) }
    }
}
