import BifocalIngest
import Testing

@Suite("Prometheus text parser: OpenMetrics 1.0")
struct PrometheusParserOpenMetricsTests {
    /// The complete example of the specification's "Overall Structure" section.
    @Test func specificationExample() throws {
        let text = """
        # TYPE acme_http_router_request_seconds summary
        # UNIT acme_http_router_request_seconds seconds
        # HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
        acme_http_router_request_seconds_sum{path="/api/v1",method="GET"} 9036.32
        acme_http_router_request_seconds_count{path="/api/v1",method="GET"} 807283.0
        acme_http_router_request_seconds_created{path="/api/v1",method="GET"} 1605281325.0
        acme_http_router_request_seconds_sum{path="/api/v2",method="POST"} 479.3
        acme_http_router_request_seconds_count{path="/api/v2",method="POST"} 34.0
        acme_http_router_request_seconds_created{path="/api/v2",method="POST"} 1605281325.0
        # TYPE go_goroutines gauge
        # HELP go_goroutines Number of goroutines that currently exist.
        go_goroutines 69
        # TYPE process_cpu_seconds counter
        # UNIT process_cpu_seconds seconds
        # HELP process_cpu_seconds Total user and system CPU time spent in seconds.
        process_cpu_seconds_total 4.20072246e+06
        # EOF

        """
        let result = try #require(promParse(text, openMetrics: true))
        #expect(result.families == [
            MetricFamilyInfo(name: "acme_http_router_request_seconds", type: .summary,
                             help: "Latency though all of ACME's HTTP request router.", unit: "seconds"),
            MetricFamilyInfo(name: "go_goroutines", type: .gauge, help: "Number of goroutines that currently exist."),
            MetricFamilyInfo(name: "process_cpu_seconds", type: .counter,
                             help: "Total user and system CPU time spent in seconds.", unit: "seconds"),
        ])
        #expect(result.sampleFamilies == [0, 0, 0, 0, 0, 0, 1, 2])
        #expect(result.first("process_cpu_seconds_total")?.value == 4_200_722.46)
        #expect(result.first("acme_http_router_request_seconds_count", ["method": "POST"])?.value == 34)
    }

    @Test func everyType() throws {
        let text = #"""
        # TYPE c counter
        # HELP c Escapes: \\ \" \n and \q kept.
        c_total{a="x\"y\\z\nw\q"} 17.0 1520879607.789 # {trace_id="KOO5S4vxi0o"} 0.67 1520879607.5
        c_created{a="x\"y\\z\nw\q"} 1520430000.123 1520879607.789
        # TYPE h histogram
        h_bucket{le="0.01"} 0
        h_bucket{le="0.1"} 8 # {} 0.054
        h_bucket{le="1.0"} 11 # {trace_id="KOO5S4vxi0o"} 0.67
        h_bucket{le="10.0"} 17 # {trace_id="oHg5SJYRHA0"} 9.8 1520879607.789
        h_bucket{le="+Inf"} 17
        h_count 17
        h_sum 324789.3
        h_created 1520430000.123
        # TYPE g gaugehistogram
        g_bucket{le="-1.0"} 20.0
        g_bucket{le="+Inf"} 42.0
        g_gcount 42.0
        g_gsum -3289.3
        # TYPE s summary
        s{quantile="0.95"} 123.7
        s{quantile="0.99"} 150.0
        s{quantile="0.5"} NaN
        s_count 3
        # TYPE i info
        i_info{entity="controller",name="pretty name",version="8.2.7"} 1.0
        i_info{entity="replica",name="prettier name",version="8.1.9"} 1
        # TYPE st stateset
        st{entity="controller",st="a"} 1.0
        st{entity="controller",st="bb"} 0.0
        st{entity="replica",st="a"} 1
        # TYPE u unknown
        u{} 42.23
        u{x="1"} -inf
        u{x="2"} +Infinity
        u{x="3"} nan
        # TYPE ts gauge
        ts 17.0 123
        ts 18.0 456
        implicit 1
        # EOF
        """#
        let result = try #require(promParse(text, openMetrics: true, checkValues: true))
        #expect(result.families.map(\.type) == [.counter, .histogram, .gaugehistogram, .summary, .info, .stateset,
                                                 .unknown, .gauge, .unknown])
        #expect(result.families[0].help == "Escapes: \\ \" \n and \\q kept.")
        let total = try #require(result.first("c_total"))
        #expect(total.labels == [MetricLabel("a", "x\"y\\z\nw\\q")])
        #expect(total.timestamp == 1_520_879_607.789)
        #expect(total.exemplar == Exemplar(labels: [MetricLabel("trace_id", "KOO5S4vxi0o")], value: 0.67, timestamp: 1_520_879_607.5))
        #expect(result.first("h_bucket", ["le": "0.1"])?.exemplar == Exemplar(labels: [], value: 0.054))
        #expect(result.first("h_bucket", ["le": "10.0"])?.exemplar?.timestamp == 1_520_879_607.789)
        #expect(result.first("s", ["quantile": "0.5"])?.value.isNaN == true)
        #expect(result.first("u", ["x": "1"])?.value == -.infinity)
        #expect(result.first("u", ["x": "2"])?.value == .infinity)
        #expect(result.first("u", ["x": "3"])?.value.isNaN == true)
        #expect(result.first("u")?.labels == [])
        #expect(result.samples.filter { $0.name == "ts" }.map(\.timestamp) == [123, 456])
        #expect(result.families.last == MetricFamilyInfo(name: "implicit", type: .unknown))
    }

    @Test func unicodeAndNULInLabelValues() throws {
        let result = try #require(promParse("a{b=\"日本\\\"\u{0}\"} 1\n# EOF\n", openMetrics: true))
        #expect(result.samples[0].label("b") == "日本\"\u{0}")
    }

    @Test func minimalExpositions() throws {
        #expect(promParse("# EOF", openMetrics: true)?.samples == [])
        #expect(promParse("# EOF\n", openMetrics: true)?.families == [])
        #expect(promParse("a 1\n# EOF", openMetrics: true)?.samples.count == 1)
        // An empty UNIT or HELP counts as none.
        let empty = try #require(promParse("# TYPE a_b gauge\n# UNIT a_b \n# HELP a_b \n# EOF\n", openMetrics: true))
        #expect(empty.families == [MetricFamilyInfo(name: "a_b", type: .gauge)])
    }

    /// Metrics may carry several MetricPoints, each with increasing timestamps (specification
    /// example under "MetricPoint").
    @Test func severalMetricPoints() throws {
        let text = """
        # TYPE foo_seconds summary
        # UNIT foo_seconds seconds
        foo_seconds_count{a="bb"} 0 123
        foo_seconds_sum{a="bb"} 0 123
        foo_seconds_count{a="bb"} 0 456
        foo_seconds_sum{a="bb"} 0 456
        foo_seconds_count{a="ccc"} 0 123
        foo_seconds_sum{a="ccc"} 0 123
        foo_seconds_count{a="ccc"} 0 456
        foo_seconds_sum{a="ccc"} 0 456
        # TYPE h histogram
        h_bucket{le="+Inf"} 1 10
        h_count 1 10
        h_sum 1 10
        h_bucket{le="1.0"} 0 20
        h_bucket{le="+Inf"} 2 20
        h_count 2 20
        h_sum 1 20
        # EOF
        """
        #expect(promParse(text, openMetrics: true)?.samples.count == 15)
    }

    @Test func checkValuesOffKeepsStructure() throws {
        let lenient = "# TYPE c counter\nc_total -1\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_count 1\n# EOF\n"
        #expect(promParse(lenient, openMetrics: true, checkValues: false)?.samples.count == 3)
        #expect(promError(lenient, openMetrics: true)?.description == "2:9: counter total must not be negative")
        let error = promError("# TYPE c counter\nc 1\n# EOF\n", openMetrics: true, checkValues: false)
        #expect(error?.description == "2:1: sample name c is not valid for counter family c (expected c_total, c_created)")
    }

    struct Bad: Sendable, CustomTestStringConvertible {
        var text: String
        var expected: String
        var testDescription: String { expected }
        init(_ text: String, _ expected: String) {
            self.text = text
            self.expected = expected
        }
    }

    static let longExemplar = String(repeating: "x", count: 128)

    @Test(arguments: [
        // Overall structure
        Bad("a 1\n", "2:1: missing # EOF at end of exposition"),
        Bad("a 1", "1:4: missing # EOF at end of exposition"),
        Bad("", "1:1: missing # EOF at end of exposition"),
        Bad("# EOF\na 1\n", "2:1: content after # EOF"),
        Bad("# EOF\n\n", "2:1: content after # EOF"),
        Bad("a 1\n\n# EOF\n", "2:1: blank lines are not allowed in OpenMetrics"),
        Bad("a 1\r\n# EOF\n", "1:4: carriage return not allowed in OpenMetrics (lines end with \\n)"),
        Bad("\u{FEFF}a 1\n# EOF\n", "1:1: byte order mark not allowed in OpenMetrics"),
        Bad("# a comment\n# EOF\n", "1:1: unexpected comment: OpenMetrics allows only # TYPE, # HELP, # UNIT and # EOF lines starting with '#'"),
        Bad("# EOF \n", "1:1: unexpected comment: OpenMetrics allows only # TYPE, # HELP, # UNIT and # EOF lines starting with '#'"),
        // Syntax
        Bad("a  1\n# EOF\n", "1:3: expected value, found another space"),
        Bad("a 1 \n# EOF\n", "1:4: trailing space after value"),
        Bad("a{b=\"1\",} 1\n# EOF\n", "1:8: trailing comma in label set not allowed in OpenMetrics"),
        Bad("a{b=\"1\"}\t1\n# EOF\n", "1:9: unexpected tab after metric name (expected a single space and the value)"),
        Bad(" a 1\n# EOF\n", "1:1: expected metric name, found space"),
        Bad("a 1 NaN\n# EOF\n", "1:5: invalid timestamp 'NaN' (OpenMetrics timestamps are seconds, no NaN or Inf)"),
        Bad("a 1 1 2\n# EOF\n", "1:7: unexpected '2' after timestamp (expected ' # ' and an exemplar)"),
        Bad("# TYPE a untyped\n# EOF\n", "1:10: unknown metric type 'untyped' (expected counter, gauge, histogram, gaugehistogram, summary, info, stateset or unknown)"),
        Bad("# HELP a\n# EOF\n", "1:9: expected a space and the help text after the metric name"),
        Bad("# HELP a say \"hi\"\n# EOF\n", "1:14: unescaped '\"' in help text (write \\\")"),
        Bad("# UNIT a_b b-c\n# EOF\n", "1:13: unexpected '-' in unit"),
        Bad("a{_x=\"1\"} 1\n# EOF\n", "1:3: label names starting with '_' are reserved in OpenMetrics"),
        Bad("_a 1\n# EOF\n", "1:1: metric family names starting with '_' are reserved in OpenMetrics"),
        Bad("a{x=\"1\",x=\"2\"} 1\n# EOF\n", "1:9: duplicate label name 'x'"),
        // Metadata
        Bad("# TYPE a gauge\n# TYPE a gauge\n# EOF\n", "2:8: second # TYPE line for metric family a"),
        Bad("# HELP a x\n# HELP a y\n# EOF\n", "2:8: second # HELP line for metric family a"),
        Bad("# UNIT a_s s\n# UNIT a_s s\n# EOF\n", "2:8: second # UNIT line for metric family a_s"),
        Bad("# TYPE a gauge\na 1\n# HELP a late\n# EOF\n", "3:8: # HELP line for metric family a after its samples"),
        Bad("# TYPE a_seconds gauge\n# UNIT a_seconds bytes\n# EOF\n",
            "2:18: unit 'bytes' is not a suffix of the metric family name a_seconds (expected a name ending in _bytes)"),
        Bad("# TYPE i_x info\n# UNIT i_x x\n# EOF\n", "2:12: info metric family i_x must not have a unit"),
        Bad("# UNIT s_x x\n# TYPE s_x stateset\n# EOF\n", "2:8: stateset metric family s_x must not have a unit"),
        // Families
        Bad("# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\n# EOF\n",
            "5:8: metric family a appears a second time (families must not be interleaved)"),
        Bad("# TYPE c counter\nc_total 1\n# TYPE d gauge\nd 1\nc_total{a=\"1\"} 1\n# EOF\n",
            "5:1: sample c_total belongs to metric family c, which ended earlier (families must not be interleaved)"),
        Bad("# TYPE foo counter\nfoo_total 1\n# TYPE foo_total gauge\nfoo_total 1\n# EOF\n",
            "3:1: metric family foo_total clashes with family foo: both may produce samples named foo_total"),
        Bad("# TYPE c counter\nc 1\n# EOF\n", "2:1: sample name c is not valid for counter family c (expected c_total, c_created)"),
        Bad("# TYPE i info\ni 1\n# EOF\n", "2:1: sample name i is not valid for info family i (expected i_info)"),
        // Metrics and points
        Bad("a{x=\"1\"} 1\na{x=\"1\"} 2\n# EOF\n", "2:1: duplicate sample for series a{x=\"1\"}"),
        Bad("a{x=\"1\"} 1\na{x=\"2\"} 1\na{x=\"1\"} 2\n# EOF\n",
            "3:2: metric a{x=\"1\"} appears again after other metrics of its family (metrics must not be interleaved)"),
        Bad("a 1 2\na 1 1\n# EOF\n", "2:5: timestamp goes backwards within metric a"),
        Bad("a 1 2\na 1\n# EOF\n", "2:3: samples of one metric must all have timestamps or none"),
        Bad("a 1 2\na 1 2\n# EOF\n", "2:1: duplicate sample for series a"),
        Bad("# TYPE foo_seconds summary\nfoo_seconds_count{a=\"bb\"} 0 123\nfoo_seconds_count{a=\"bb\"} 0 456\nfoo_seconds_sum{a=\"bb\"} 0 123\n# EOF\n",
            "4:27: timestamp goes backwards within metric foo_seconds{a=\"bb\"}"),
        // Counters
        Bad("# TYPE c counter\nc_total -1\n# EOF\n", "2:9: counter total must not be negative"),
        Bad("# TYPE c counter\nc_total NaN\n# EOF\n", "2:9: counter total must not be NaN"),
        Bad("# TYPE c counter\nc_created 1 # {} 1\n# EOF\n", "2:13: exemplars are only allowed on counter _total and histogram _bucket samples"),
        // Histograms
        Bad("# TYPE h histogram\nh_bucket{le=\"1.0\"} 1\nh_count 1\nh_sum 1\n# EOF\n", "4:1: h has no bucket with le=\"+Inf\""),
        Bad("# TYPE h histogram\nh_bucket{le=\"2.0\"} 1\nh_bucket{le=\"1.0\"} 1\n# EOF\n",
            "3:9: bucket le=1.0 is not above the previous le=2.0 (buckets must be sorted by increasing le)"),
        Bad("# TYPE h histogram\nh_bucket{le=\"1.0\"} 2\nh_bucket{le=\"+Inf\"} 1\n# EOF\n",
            "3:21: bucket count 1.0 is below the previous bucket's 2.0 (buckets are cumulative)"),
        Bad("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 3\nh_sum 1\n# EOF\n", "3:1: h: _count 3.0 differs from the +Inf bucket 2.0"),
        Bad("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\n# EOF\n", "3:1: h has _sum but no _count"),
        Bad("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n# EOF\n", "3:1: h has _count but no _sum"),
        Bad("# TYPE h histogram\nh_bucket{le=\"-1.0\"} 0\nh_bucket{le=\"+Inf\"} 2\nh_count 2\nh_sum 1\n# EOF\n",
            "5:1: h has negative bucket thresholds, so it must not have a _sum"),
        Bad("# TYPE h histogram\nh_bucket 1\n# EOF\n", "2:9: histogram bucket h_bucket has no 'le' label"),
        Bad("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\nh_sum{le=\"1.0\"} 1\n# EOF\n",
            "4:6: only _bucket samples may have an 'le' label (h_sum)"),
        Bad("# TYPE h histogram\nh_bucket{le=\"1\"} 0\n# EOF\n", "2:9: le value \"1\" is not canonical (write \"1.0\")"),
        Bad("# TYPE h histogram\nh_bucket{le=\"Inf\"} 0\n# EOF\n", "2:9: le value \"Inf\" is not canonical (write \"+Inf\")"),
        Bad("# TYPE h histogram\nh_bucket{le=\"NaN\"} 0\n# EOF\n", "2:9: invalid le value \"NaN\""),
        Bad("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1.5\n# EOF\n", "2:21: histogram _bucket must be an integer"),
        Bad("# TYPE h histogram\nh_bucket{le=\"+Inf\"} -1\n# EOF\n", "2:21: histogram _bucket must not be negative"),
        Bad("# TYPE h histogram\nh_bucket{le=\"1.0\"} 1 # {} 2.0\nh_bucket{le=\"+Inf\"} 1\n# EOF\n",
            "2:22: exemplar value 2.0 is outside its bucket (-Inf, 1.0]"),
        Bad("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1 # {t=\"\(longExemplar)\"} 2.0\n# EOF\n",
            "2:25: exemplar labels are 129 characters long (at most 128 allowed)"),
        Bad("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1 #{} 2.0\n# EOF\n", "2:24: expected ' # {' before an exemplar"),
        // Gauge histograms
        Bad("# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 1\ng_gcount 1\ng_gsum -1\n# EOF\n",
            "4:1: g: _gsum must not be negative when no bucket threshold is negative"),
        Bad("# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 1\ng_gsum 1\n# EOF\n", "3:1: g has _gsum but no _gcount"),
        Bad("# TYPE g gaugehistogram\ng_bucket{le=\"+Inf\"} 1\ng_gcount 1.5\ng_gsum 1\n# EOF\n", "3:10: gaugehistogram _gcount must be an integer"),
        // Summaries
        Bad("# TYPE s summary\ns{quantile=\"1.5\"} 1\n# EOF\n", "2:2: invalid quantile \"1.5\" (must be a number from 0 to 1)"),
        Bad("# TYPE s summary\ns 1\n# EOF\n", "2:2: summary quantile sample s has no 'quantile' label"),
        Bad("# TYPE s summary\ns{quantile=\"0.5\"} -1\n# EOF\n", "2:19: summary quantile values must not be negative"),
        Bad("# TYPE s summary\ns{quantile=\".5\"} 1\n# EOF\n", "2:2: quantile value \".5\" is not canonical (write \"0.5\")"),
        Bad("# TYPE s summary\ns_count 1.5\n# EOF\n", "2:9: summary _count must be an integer"),
        Bad("# TYPE s summary\ns_sum -1\n# EOF\n", "2:7: summary _sum must not be negative"),
        Bad("# TYPE s summary\ns_sum{quantile=\"0.5\"} 1\n# EOF\n", "2:6: only quantile samples may have a 'quantile' label (s_sum)"),
        // Info and stateset
        Bad("# TYPE i info\ni_info 2\n# EOF\n", "2:8: info samples must have the value 1"),
        Bad("# TYPE st stateset\nst{st=\"a\"} 2\n# EOF\n", "2:12: stateset samples must have the value 0 or 1"),
        Bad("# TYPE st stateset\nst{x=\"a\"} 1\n# EOF\n", "2:3: stateset sample has no label named after its family (st)"),
        // Exemplar placement
        Bad("a 1 1000 # {} 1\n# EOF\n", "1:10: exemplars are only allowed on counter _total and histogram _bucket samples"),
        Bad("# TYPE c counter\nc_total 1 # {}\n# EOF\n", "2:15: expected the exemplar's value"),
    ])
    func rejects(bad: Bad) throws {
        let error = try #require(promError(bad.text, openMetrics: true))
        #expect(error.description == bad.expected)
    }

    @Test func exemplarLengthLimitCountsCodePoints() throws {
        // 1 + 127 = 128 code points (é is two bytes): allowed; one more is not.
        let ok = "# TYPE c counter\nc_total 1 # {t=\"\(String(repeating: "é", count: 127))\"} 1\n# EOF\n"
        #expect(promParse(ok, openMetrics: true)?.samples.count == 1)
        let long = "# TYPE c counter\nc_total 1 # {t=\"\(String(repeating: "é", count: 128))\"} 1\n# EOF\n"
        #expect(promError(long, openMetrics: true)?.description == "2:13: exemplar labels are 129 characters long (at most 128 allowed)")
    }
}
