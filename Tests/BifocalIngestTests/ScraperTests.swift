import BifocalCore
import BifocalIngest
import BifocalTesting
import Foundation
import Testing

@Suite("Scraper: turning an exposition into series")
struct ScraperTests {
    let t0: Int64 = 1_795_953_600_000_000
    let target = ScrapeTarget(url: "http://10.0.0.5:8000/metrics", job: "vllm", interval: 5_000_000, timeout: 2_000_000,
                              labels: ["region": "eu-west-1"], endpoint: "chat", instance: "i-0abc")

    func process(_ scraper: inout TargetScraper, _ text: String, contentType: String? = "text/plain; version=0.0.4", at time: Int64) -> (samples: [SeriesSample], report: ScrapeReport) {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { scraper.process(UnsafeRawBufferPointer($0), contentType: contentType, at: time, duration: 1234) }
    }

    @Test("own families keep their names and labels, gain job, instance (the address) and endpoint")
    func ownFamilies() {
        var scraper = TargetScraper(target: target)
        let text = """
        # TYPE vllm:num_requests_waiting gauge
        vllm:num_requests_waiting{model_name="llama",instance="exporter-side",job="theirs",empty=""} 3
        # TYPE plain_total counter
        plain_total 7 1795953590000

        """
        let (samples, report) = process(&scraper, text, at: t0)
        #expect(report.health == .up)
        #expect(report.samplesScraped == 2)
        #expect(report.format == "prometheus")
        let waiting = samples.first { $0.name == "vllm:num_requests_waiting" }
        #expect(waiting?.labels == ["model_name": "llama", "exported_instance": "exporter-side", "exported_job": "theirs",
                                    "job": "vllm", "instance": "10.0.0.5:8000", "endpoint": "chat", "region": "eu-west-1"])
        #expect(waiting?.value == 3)
        #expect(waiting?.time == t0)
        // An exposed timestamp (milliseconds in the 0.0.4 format) wins over the scrape time.
        #expect(samples.first { $0.name == "plain_total" }?.time == 1_795_953_590_000_000)
        let up = samples.first { $0.name == "up" }
        #expect(up?.value == 1)
        #expect(up?.labels["instance"] == "10.0.0.5:8000")
        #expect(samples.first { $0.name == "scrape_duration_seconds" }?.value == 0.001234)
        #expect(samples.first { $0.name == "scrape_samples_scraped" }?.value == 2)
    }

    @Test("canonical signals carry the record-side instance and the target")
    func canonicalContext() {
        var scraper = TargetScraper(target: target)
        let text = """
        # TYPE vllm:num_requests_waiting gauge
        vllm:num_requests_waiting{model_name="llama"} 3

        """
        let (samples, _) = process(&scraper, text, at: t0)
        let queue = samples.first { $0.name == "queue.waiting" }
        #expect(queue?.value == 3)
        #expect(queue?.labels["instance"] == "i-0abc")
        #expect(queue?.labels["target"] == "10.0.0.5:8000")
        #expect(queue?.labels["endpoint"] == "chat")
        #expect(queue?.labels["model"] == "llama")
    }

    @Test("a series that leaves the exposition gets a stale marker, once")
    func staleness() {
        var scraper = TargetScraper(target: target)
        _ = process(&scraper, "a 1\nb 2\n", at: t0)
        let (second, _) = process(&scraper, "a 1\n", at: t0 + 5_000_000)
        let staleB = second.filter { $0.name == "b" }
        #expect(staleB.count == 1)
        #expect(staleB.first?.isStaleMarker == true)
        #expect(staleB.first?.time == t0 + 5_000_000)
        let (third, _) = process(&scraper, "a 1\n", at: t0 + 10_000_000)
        #expect(!third.contains { $0.name == "b" })
    }

    @Test("a failed scrape reports down, marks every series stale and keeps up=0")
    func failure() {
        var scraper = TargetScraper(target: target)
        _ = process(&scraper, "a 1\n", at: t0)
        let (samples, report) = scraper.failed("connection refused", at: t0 + 5_000_000, duration: 10)
        #expect(report.health == .down)
        #expect(report.error == "connection refused")
        #expect(samples.first { $0.name == "a" }?.isStaleMarker == true)
        #expect(samples.first { $0.name == "up" }?.value == 0)
    }

    @Test("an invalid exposition is a failed scrape with line:column")
    func parseError() {
        var scraper = TargetScraper(target: target)
        let (_, report) = process(&scraper, "ok 1\nbroken{ 2\n", at: t0)
        #expect(report.health == .down)
        #expect(report.error?.contains("2:") == true)
    }

    @Test("the content type chooses the parser")
    func negotiation() {
        var scraper = TargetScraper(target: target)
        let text = "# TYPE x counter\nx_total 1\n# EOF\n"
        let (_, report) = process(&scraper, text, contentType: "application/openmetrics-text; version=1.0.0; charset=utf-8", at: t0)
        #expect(report.health == .up)
        #expect(report.format == "openmetrics")
        // The same text without # EOF is invalid OpenMetrics.
        var other = TargetScraper(target: target)
        let (_, bad) = process(&other, "# TYPE x counter\nx_total 1\n", contentType: "application/openmetrics-text; version=1.0.0", at: t0)
        #expect(bad.health == .down)
    }

    @Test("targets: address, host and configuration problems")
    func targetShape() {
        #expect(target.address == "10.0.0.5:8000")
        #expect(ScrapeTarget(url: "https://gpu.example.com/metrics", job: "dcgm").address == "gpu.example.com:443")
        #expect(ScrapeTarget(url: "http://[::1]:9400/metrics", job: "dcgm").address == "[::1]:9400")
        #expect(ScrapeTarget(url: "localhost:9400", job: "dcgm").problem != nil)
        #expect(ScrapeTarget(url: "ftp://x/metrics", job: "dcgm").problem != nil)
        #expect(ScrapeTarget(url: "http://x/metrics", job: "j", interval: 1_000_000, timeout: 2_000_000).problem != nil)
        #expect(target.problem == nil)
    }

    @Test("the real vLLM exposition scrapes into its own families and canonical signals")
    func vllmFixture() throws {
        guard let data = try Fixtures.load("vllm/vllm-v1-generated.prom") else { return }
        var scraper = TargetScraper(target: target)
        let (samples, report) = data.withUnsafeBytes { scraper.process($0, contentType: "text/plain; version=0.0.4", at: t0, duration: 1) }
        #expect(report.health == .up, "\(report.error ?? "")")
        #expect(report.samplesScraped > 50)
        #expect(samples.contains { $0.name.hasPrefix("vllm:") })
        #expect(samples.contains { $0.name == "kv_cache.usage" })
    }
}
