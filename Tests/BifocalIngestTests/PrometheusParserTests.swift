import BifocalIngest
import BifocalTesting
import Foundation
import Testing

/// Parses text, failing the test (with the parser's message) when it is rejected.
func promParse(_ text: String, openMetrics: Bool = false, checkValues: Bool = true,
               sourceLocation: SourceLocation = #_sourceLocation) -> PrometheusParseResult? {
    do {
        return try PrometheusTextParser.parse(text, openMetrics: openMetrics, checkValues: checkValues)
    } catch {
        Issue.record("unexpected parse error \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The error for text that must be rejected; records an issue when it is accepted.
func promError(_ text: String, openMetrics: Bool = false, checkValues: Bool = true,
               sourceLocation: SourceLocation = #_sourceLocation) -> PrometheusParseError? {
    do {
        _ = try PrometheusTextParser.parse(text, openMetrics: openMetrics, checkValues: checkValues)
        Issue.record("accepted invalid input:\n\(text)", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// Parses a shared fixture, or nil (with a loud warning) when the fixtures are not there.
func promFixture(_ path: String, openMetrics: Bool = false, checkValues: Bool = true) throws -> PrometheusParseResult? {
    guard let data = try Fixtures.load(path) else { return nil }
    return try PrometheusTextParser.parse(data, openMetrics: openMetrics, checkValues: checkValues)
}

extension PrometheusParseResult {
    /// The first sample with this name whose labels include all of `labels`.
    func first(_ name: String, _ labels: [String: String] = [:]) -> MetricSample? {
        samples.first { sample in
            sample.name == name && labels.allSatisfy { sample.label($0.key) == $0.value }
        }
    }

    func family(_ name: String) -> MetricFamilyInfo? {
        families.first { $0.name == name }
    }
}

@Suite("Prometheus text parser: real captures")
struct PrometheusParserFixtureTests {
    @Test func dcgmExporter() throws {
        guard let result = try promFixture("dcgm/dcgm-exporter-rtx4000ada.prom") else { return }
        #expect(result.samples.count == 25)
        #expect(result.families.count == 25)
        let util = try #require(result.first("DCGM_FI_DEV_GPU_UTIL"))
        #expect(util.value == 0)
        #expect(util.timestamp == nil)
        #expect(util.label("gpu") == "0")
        #expect(util.label("UUID") == "GPU-a8394b51-c086-568a-9f1a-c1e1c934c44c")
        #expect(util.label("modelName") == "NVIDIA RTX 4000 Ada Generation")
        #expect(util.label("Hostname") == "lke529760-766837-0a634ab30000")
        #expect(util.label("pod_uid") == "")  // empty values are kept, not dropped
        #expect(util.labels.map(\.name) == ["gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname",
                                            "DCGM_FI_DRIVER_VERSION", "container", "namespace", "pod", "pod_uid"])
        #expect(result.first("DCGM_FI_DEV_POWER_USAGE")?.value == 40.979)
        #expect(result.first("DCGM_FI_DEV_SM_CLOCK")?.value == 2310)
        #expect(result.first("DCGM_FI_PROF_GR_ENGINE_ACTIVE")?.value == 0.004656)
        let energy = try #require(result.samples.firstIndex { $0.name == "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION" })
        #expect(result.samples[energy].value == 455_497_156)
        #expect(result.family(ofSample: energy) == MetricFamilyInfo(
            name: "DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", type: .counter,
            help: "Total energy consumption since boot (in mJ)."))
        #expect(result.family("DCGM_FI_DEV_GPU_UTIL")?.help == "GPU utilization (in %).")
    }

    @Test func vllmV1() throws {
        guard let result = try promFixture("vllm/vllm-v1-generated.prom") else { return }
        #expect(result.samples.count == 197)
        let bucket = try #require(result.first("vllm:time_to_first_token_seconds_bucket", ["le": "0.06"]))
        #expect(bucket.value == 2)
        // prometheus_client sorts label names, so `le` sits in the middle.
        #expect(bucket.labels == [MetricLabel("engine", "0"), MetricLabel("le", "0.06"),
                                  MetricLabel("model_name", "meta-llama/Llama-3.1-8B-Instruct")])
        #expect(result.first("vllm:time_to_first_token_seconds_bucket", ["le": "+Inf"])?.value == 3)
        #expect(result.first("vllm:time_to_first_token_seconds_sum")?.value == 0.373)
        #expect(result.first("vllm:kv_cache_usage_perc")?.value == 0.4508602)
        #expect(result.first("vllm:engine_sleep_state", ["sleep_state": "weights_offloaded"])?.value == 0)
        let ttft = try #require(result.samples.firstIndex { $0.name == "vllm:time_to_first_token_seconds_count" })
        #expect(result.family(ofSample: ttft).name == "vllm:time_to_first_token_seconds")
        #expect(result.family(ofSample: ttft).type == .histogram)
        // The Python client's `_created` companions are gauge families of their own in 0.0.4.
        let created = try #require(result.samples.firstIndex { $0.name == "vllm:time_to_first_token_seconds_created" })
        #expect(result.samples[created].value == 1.7959300911815896e+09)
        #expect(result.family(ofSample: created).type == .gauge)
        // A histogram whose family name ends in _total is still a histogram.
        #expect(result.family("vllm:iteration_tokens_total")?.type == .histogram)
        #expect(result.family("vllm:prompt_tokens_total")?.type == .counter)
    }

    @Test func vllmV0() throws {
        guard let result = try promFixture("vllm/vllm-v0-datadog-fixture.prom") else { return }
        #expect(result.samples.count == 185)
        #expect(result.first("python_gc_objects_collected_total", ["generation": "1"])?.value == 4936)
        let bucket = try #require(result.first("vllm:e2e_request_latency_seconds_bucket", ["le": "1.0"]))
        #expect(bucket.value == 1)
        #expect(bucket.labels.first == MetricLabel("le", "1.0"))
        #expect(bucket.label("model_name") == "facebook/opt-125m")
    }

    @Test func tgi() throws {
        guard let result = try promFixture("tgi/tgi-datadog-fixture.prom") else { return }
        #expect(result.samples.count == 248)
        #expect(result.first("tgi_request_success")?.value == 109)
        #expect(result.first("tgi_request_success")?.labels == [])
        #expect(result.family("tgi_batch_concat")?.help == nil)  // no HELP line for this one
        #expect(result.family("tgi_batch_concat")?.type == .counter)
        // Rust exporter: declaration order with `le` last.
        let bucket = try #require(result.first("tgi_batch_forward_duration_bucket", ["le": "0.0656840835571289"]))
        #expect(bucket.labels == [MetricLabel("method", "prefill"), MetricLabel("le", "0.0656840835571289")])
        #expect(bucket.value == 7)
        #expect(result.first("tgi_request_duration_sum")?.value == 541.2140316159999)
        #expect(result.first("tgi_request_duration_bucket", ["le": "+Inf"])?.value == 109)
        let quantile = try #require(result.samples.firstIndex { $0.name == "tgi_request_skipped_tokens" && $0.label("quantile") == "1" })
        #expect(result.family(ofSample: quantile).type == .summary)
        #expect(result.first("tgi_request_skipped_tokens_count")?.value == 3423)
    }

    @Test func llamaCpp() throws {
        guard let result = try promFixture("llamacpp/llama-server-metrics.prom") else { return }
        #expect(result.samples.count == 15)
        #expect(result.first("llamacpp:prompt_seconds_total")?.value == 0.245422)
        #expect(result.first("llamacpp:prompt_tokens_total")?.value == 48)
        #expect(result.family("llamacpp:requests_processing")?.type == .gauge)
        #expect(result.family("llamacpp:n_tokens_max")?.type == .counter)
    }

    @Test func openMetricsHistogram() throws {
        guard let result = try promFixture("prometheus/1histogram.om.txt", openMetrics: true) else { return }
        #expect(result.samples.count == 42)
        #expect(result.families == [MetricFamilyInfo(name: "golang_manual_histogram_seconds", type: .histogram,
                                                     help: "This is a histogram with manually selected parameters")])
        let bucket = try #require(result.first("golang_manual_histogram_seconds_bucket", ["port": "5002", "le": "10.0"]))
        #expect(bucket.value == 1)
        #expect(bucket.labels.last == MetricLabel("le", "10.0"))
        #expect(result.first("golang_manual_histogram_seconds_sum", ["port": "5003"])?.value == 10)
    }

    /// The Go client's example writes a histogram with negative buckets *and* a (negative)
    /// `_sum`, and negative summary quantiles and sums: syntactically fine, forbidden by the
    /// specification, so only `checkValues: false` takes it.
    @Test func openMetricsAllTypes() throws {
        guard let data = try Fixtures.load("prometheus/alltypes.5mfs.om.txt") else { return }
        do {
            _ = try PrometheusTextParser.parse(data, openMetrics: true)
            Issue.record("the negative-bucket histogram with a _sum should be rejected")
        } catch {
            #expect(error.description == "33:37: histogram _sum must not be negative")
        }
        let result = try PrometheusTextParser.parse(data, openMetrics: true, checkValues: false)
        #expect(result.samples.count == 53)
        #expect(result.families.map(\.type) == [.gauge, .counter, .histogram, .summary, .counter])
        #expect(result.families[1].name == "promhttp_metric_handler_errors")
        let info = try #require(result.first("go_build_info"))
        #expect(info.labels == [MetricLabel("checksum", ""), MetricLabel("path", ""), MetricLabel("version", "")])
        let bucket = try #require(result.first("rpc_durations_histogram_seconds_bucket", ["le": "-0.0002899999999999998"]))
        #expect(bucket.value == 3)
        #expect(bucket.exemplar == Exemplar(labels: [MetricLabel("dummyID", "17783")], value: -0.0003825067330956884,
                                            timestamp: 1.7268398142239082e+09))
        #expect(result.first("rpc_requests_created", ["service": "normal"])?.value == 1.726839813016717e+09)
        #expect(result.first("rpc_durations_seconds", ["service": "normal", "quantile": "0.5"])?.value == -5.066758674917046e-06)
        let total = try #require(result.samples.firstIndex { $0.name == "rpc_requests_total" })
        #expect(result.family(ofSample: total).name == "rpc_requests")
    }

    /// Every Prometheus-text fixture parses under every mode we offer for it.
    @Test(arguments: ["dcgm/dcgm-exporter-rtx4000ada.prom", "vllm/vllm-v0-datadog-fixture.prom",
                      "vllm/vllm-v1-generated.prom", "tgi/tgi-datadog-fixture.prom",
                      "llamacpp/llama-server-metrics.prom"])
    func textFixturesRenderAsJSON(path: String) throws {
        guard let result = try promFixture(path) else { return }
        for sample in result.samples {
            let line = sample.jsonLine()
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["name"] as? String == sample.name)
            #expect((object["labels"] as? [String: String])?.count == sample.labels.count)
        }
    }
}

@Suite("Prometheus text parser: text format 0.0.4")
struct PrometheusParserTextFormatTests {
    @Test func escapesAndSpecialValues() throws {
        let text = #"""
        # HELP m A \\ backslash,\nnewline and a "quote".
        # TYPE m gauge
        m{path="C:\\dir",msg="say \"hi\"\n"} NaN
        m{path="b"} +Inf
        m{path="c"} -Inf
        m{path="d"} 1e+09 1700000000123
        m{path="e"} -7.3e-05 -5
        m{path="f"} .5
        m{path="g"} Inf
        m{path="h"} 0x
        """#
        // The last line is invalid; check the rest by dropping it.
        let good = try #require(promParse(String(text.split(separator: "\n").dropLast().joined(separator: "\n"))))
        #expect(good.families == [MetricFamilyInfo(name: "m", type: .gauge, help: "A \\ backslash,\nnewline and a \"quote\".")])
        let s = good.samples
        #expect(s[0].labels == [MetricLabel("path", "C:\\dir"), MetricLabel("msg", "say \"hi\"\n")])
        #expect(s[0].value.isNaN)
        #expect(s[1].value == .infinity)
        #expect(s[2].value == -.infinity)
        #expect(s[3].value == 1e9)
        #expect(s[3].timestamp == 1_700_000_000.123)
        #expect(s[4].value == -7.3e-05)
        #expect(s[4].timestamp == -0.005)
        #expect(s[5].value == 0.5)
        #expect(s[6].value == .infinity)
        let error = try #require(promError(text))
        #expect(error.description == "10:13: invalid value '0x'")
    }

    @Test func whitespaceCommentsAndTrailingComma() throws {
        let text = "  # a comment\n\n# HELP\tx   spaced  help \nx { a = \"1\" , b=\"2\", } \t 3  \n#TYPE y counter\ny{} 4\r\nz{a=\"1\",} 5 10\n"
        let result = try #require(promParse(text))
        #expect(result.samples.map(\.name) == ["x", "y", "z"])
        #expect(result.samples[0].labels == [MetricLabel("a", "1"), MetricLabel("b", "2")])
        #expect(result.samples[0].value == 3)
        #expect(result.family("x")?.help == "spaced  help ")
        #expect(result.family("y")?.type == .counter)
        #expect(result.samples[1].labels.isEmpty)
        #expect(result.samples[2].timestamp == 0.01)
        #expect(result.family("z")?.type == .unknown)
    }

    @Test func labelsInAnyOrderAndFamilies() throws {
        let text = """
        # TYPE h histogram
        h_bucket{le="0.5",x="a"} 1
        h_bucket{x="a",le="+Inf"} 2
        h_sum{x="a"} 0.7
        h_count{x="a"} 2
        # TYPE s summary
        s{quantile="0.5"} 1
        s_sum 3
        s_count 2
        u 1
        """
        let result = try #require(promParse(text))
        #expect(result.families.map(\.name) == ["h", "s", "u"])
        #expect(result.sampleFamilies == [0, 0, 0, 0, 1, 1, 1, 2])
        #expect(result.first("h_bucket", ["le": "+Inf"])?.label("x") == "a")
    }

    /// 0.0.4 is read as leniently as Prometheus reads it: interleaved families, repeated series.
    @Test func lenientWherePrometheusIs() throws {
        let text = "# TYPE a counter\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 2\na{x=\"1\"} 3\n"
        let result = try #require(promParse(text))
        #expect(result.sampleFamilies == [0, 1, 0, 0])
        #expect(result.family(ofSample: 2).type == .counter)
    }

    @Test func histogramSamplesFindTheirFamilyAfterAnInterruption() throws {
        let result = try #require(promParse("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nother 1\nh_count 1\n"))
        #expect(result.sampleFamilies == [0, 1, 0])
    }

    @Test func columnsCountCodePoints() throws {
        let error = try #require(promError("a{b=\"é\",c=\"1\",c=\"2\"} 1\n"))
        #expect(error.description == "1:15: duplicate label name 'c'")
    }

    @Test func emptyInput() throws {
        #expect(promParse("")?.samples == [])
        #expect(promParse("\n\n# just a comment\n")?.samples == [])
    }

    @Test func bytesAndStringsAgree() throws {
        let text = "a{b=\"ü\"} 1\n"
        let fromString = try PrometheusTextParser.parse(text, openMetrics: false)
        let fromArray = try PrometheusTextParser.parse(Array(text.utf8), openMetrics: false)
        let fromData = try PrometheusTextParser.parse(Data(text.utf8), openMetrics: false)
        let fromSequence = try PrometheusTextParser.parse(Array(text.utf8)[...], openMetrics: false)
        #expect(fromString == fromArray)
        #expect(fromString == fromData)
        #expect(fromString == fromSequence)
        #expect(fromString.samples[0].label("b") == "ü")
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var text: String
        var expected: String
        /// Whether `promtool check metrics` also calls it a parse error (it accepts a few
        /// broken metadata lines that Prometheus' scrape parser refuses).
        var promtoolRejects = true
        var testDescription: String { expected }
    }

    static let bad: [Bad] = [
        Bad(text: "a{b=\"x\\q\"} 1\n", expected: "1:7: invalid escape sequence '\\q' in label value (only \\\\, \\\" and \\n)"),
        Bad(text: "a 1\nb{c=\"1\" 2\n", expected: "2:9: expected ',' or '}' after label value, found '2'"),
        Bad(text: "a{c=\"1} 2\n", expected: "1:5: unterminated label value (missing '\"')"),
        Bad(text: "a{c=\"1\",c=\"2\"} 2\n", expected: "1:9: duplicate label name 'c'"),
        Bad(text: "a{,} 1\n", expected: "1:3: expected label name, found ','"),
        Bad(text: "a{1b=\"1\"} 1\n", expected: "1:3: expected label name, found '1'"),
        Bad(text: "a{b=1} 1\n", expected: "1:5: expected '\"' to start the label value"),
        Bad(text: "a\n", expected: "1:2: expected a value after the metric name"),
        Bad(text: "a 1 2 3\n", expected: "1:7: unexpected text after timestamp"),
        Bad(text: "a 1 1.5\n", expected: "1:5: invalid timestamp '1.5' (text format timestamps are integer milliseconds)"),
        Bad(text: "a 1 # {t=\"1\"} 1\n", expected: "1:5: exemplars are only allowed in OpenMetrics"),
        Bad(text: "a +nan\n", expected: "1:3: invalid value '+nan'"),
        Bad(text: "a 1e999\n", expected: "1:3: value '1e999' is out of the range of a 64-bit float"),
        Bad(text: "a-b 1\n", expected: "1:2: unexpected '-' after metric name"),
        Bad(text: "9a 1\n", expected: "1:1: expected metric name, found '9'"),
        Bad(text: "# TYPE a gauge\n# TYPE a counter\n", expected: "2:8: second # TYPE line for metric name a"),
        Bad(text: "# HELP a x\n# HELP a y\n", expected: "2:8: second # HELP line for metric name a"),
        Bad(text: "a 1\n# TYPE a gauge\n", expected: "2:8: # TYPE line for a after its samples"),
        Bad(text: "# TYPE a gauges\n", expected: "1:10: unknown metric type 'gauges' (expected counter, gauge, histogram, summary or untyped)"),
        Bad(text: "# TYPE a\n", expected: "1:9: expected metric type after # TYPE a", promtoolRejects: false),
        Bad(text: "# TYPE a gauge x\n", expected: "1:16: unexpected text after metric type"),
        Bad(text: "# HELP\n", expected: "1:7: expected metric name after # HELP", promtoolRejects: false),
        Bad(text: "# TYPE a-b gauge\n", expected: "1:9: unexpected '-' in metric name"),
    ]

    @Test(arguments: bad)
    func rejects(bad: Bad) throws {
        let error = try #require(promError(bad.text))
        #expect(error.description == bad.expected)
    }

    /// Whatever we reject as text format, `promtool check metrics` (if installed) rejects too.
    @Test func promtoolAgrees() throws {
        let promtool = "/usr/bin/promtool"
        guard FileManager.default.isExecutableFile(atPath: promtool) else { return }
        let folder = try TemporaryDirectory(prefix: "bifocal-promtool")
        for (index, bad) in Self.bad.enumerated() where bad.promtoolRejects {
            let path = folder.path + "/\(index).prom"
            try Data(bad.text.utf8).write(to: URL(fileURLWithPath: path))
            let process = Process()
            process.executableURL = URL(fileURLWithPath: promtool)
            process.arguments = ["check", "metrics"]
            process.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            // 1 = parse error; 3 = parsed with lint findings; 0 = clean.
            #expect(process.terminationStatus == 1, "promtool accepted: \(bad.text)")
        }
    }

    @Test func invalidUTF8Bytes() throws {
        var bytes = Array("a{b=\"x".utf8)
        bytes += [0xC3, 0x28]
        bytes += Array("\"} 1\n".utf8)
        do {
            _ = try PrometheusTextParser.parse(bytes, openMetrics: false)
            Issue.record("accepted invalid UTF-8")
        } catch {
            #expect(error.description == "1:7: invalid UTF-8")
        }
    }
}

@Suite("Prometheus text parser: JSON lines")
struct PrometheusParserJSONTests {
    @Test func renders() {
        let sample = MetricSample(name: "m", labels: [MetricLabel("z", "1"), MetricLabel("a", "q\"\\\n\u{1}é")],
                                  value: 1.5, timestamp: 1_700_000_000.123)
        #expect(sample.jsonLine() == #"{"name":"m","labels":{"z":"1","a":"q\"\\\n\u0001é"},"value":1.5,"timestamp":1700000000.123}"#)
        #expect(MetricSample(name: "m", value: .nan).jsonLine() == #"{"name":"m","labels":{},"value":"NaN","timestamp":null}"#)
        #expect(MetricSample(name: "m", value: .infinity).jsonLine().contains(#""value":"+Inf""#))
        #expect(MetricSample(name: "m", value: -.infinity).jsonLine().contains(#""value":"-Inf""#))
        #expect(MetricSample(name: "m", value: 27453).jsonLine().contains(#""value":27453,"#))
        #expect(MetricSample(name: "m", value: 7.358146831393242e-05).jsonLine().contains(#""value":7.358146831393242e-05,"#))
        #expect(MetricSample(name: "m", value: 1e20).jsonLine().contains(#""value":1e+20,"#))
        let withExemplar = MetricSample(name: "c_total", value: 3,
                                        exemplar: Exemplar(labels: [MetricLabel("trace_id", "ab")], value: 0.5, timestamp: 1.25))
        #expect(withExemplar.jsonLine() == #"{"name":"c_total","labels":{},"value":3,"timestamp":null,"exemplar":{"labels":{"trace_id":"ab"},"value":0.5,"timestamp":1.25}}"#)
    }

    @Test func textTimestampsBecomeSeconds() throws {
        let result = try #require(promParse("up{job=\"x\"} 1 1700000000123\n"))
        #expect(result.samples[0].jsonLine() == #"{"name":"up","labels":{"job":"x"},"value":1,"timestamp":1700000000.123}"#)
        let om = try #require(promParse("up{job=\"x\"} 1 1700000000.123\n# EOF\n", openMetrics: true))
        #expect(om.samples[0].jsonLine() == #"{"name":"up","labels":{"job":"x"},"value":1,"timestamp":1700000000.123}"#)
    }
}
