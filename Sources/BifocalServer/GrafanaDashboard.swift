import Foundation

/// A Grafana dashboard over Bifocal's `/metrics` (scraped by Prometheus), for teams that already
/// run Grafana: the Overview's charts as Grafana panels, with the same thresholds.
///
/// Every expression reads the `bifocal_*` gauges that `/metrics` writes from the store (see
/// `DashboardExposition`), so the numbers are the ones Bifocal's own dashboard shows.
public enum GrafanaDashboard {
    /// One panel: a title, its PromQL targets (expression, legend), unit and thresholds.
    struct Panel {
        var title: String
        var unit: String
        var targets: [(String, String)]
        var thresholds: [(Double?, String)] = []
        var max: Double? = nil
        var width = 8
        var description = ""
    }

    static let selector = "endpoint=~\"$endpoint\", model=~\"$model\""

    static func panels(settings: DashboardSettings) -> [(String, [Panel])] {
        let s = selector
        func quantiles(_ metric: String) -> [(String, String)] {
            [("max by (model) (\(metric){\(s), percentile=\"p95\"})", "{{model}} p95"),
             ("max by (model) (\(metric){\(s), percentile=\"p99\"})", "{{model}} p99"),
             ("max by (model) (\(metric){\(s), percentile=\"p50\"})", "{{model}} p50")]
        }
        return [
            ("Traffic, latency and cost", [
                Panel(title: "Requests per second", unit: "reqps",
                      targets: [("sum by (model) (bifocal_requests_per_second{\(s)})", "{{model}}"), ("sum(bifocal_requests_per_second{\(s)})", "all")]),
                Panel(title: "Error ratio", unit: "percentunit",
                      targets: [("max by (model) (bifocal_error_ratio{\(s)})", "{{model}}")],
                      thresholds: [(nil, "green"), (settings.errorRatioHigh / 5, "orange"), (settings.errorRatioHigh, "red")]),
                Panel(title: "Errors by kind", unit: "percentunit",
                      targets: [("max by (model, error_type) (bifocal_error_kind_ratio{\(s)})", "{{model}} {{error_type}}")]),
                Panel(title: "Time to first token", unit: "s", targets: quantiles("bifocal_ttft_seconds")),
                Panel(title: "Inter-token latency", unit: "s", targets: quantiles("bifocal_itl_seconds")),
                Panel(title: "End-to-end latency", unit: "s", targets: quantiles("bifocal_e2e_seconds")),
                Panel(title: "Tokens per second", unit: "short",
                      targets: [("sum by (model) (bifocal_output_tokens_per_second{\(s)})", "{{model}} output"),
                                ("sum by (model) (bifocal_input_tokens_per_second{\(s)})", "{{model}} input")]),
                Panel(title: "Concurrency (requests in flight)", unit: "short",
                      targets: [("sum by (model) (bifocal_concurrency{\(s)})", "{{model}}")]),
                Panel(title: "Cost per hour", unit: "currencyUSD",
                      targets: [("sum by (model) (bifocal_cost_dollars_per_hour{\(s)})", "{{model}}"), ("sum(bifocal_cost_dollars_per_hour{\(s)})", "all")]),
                Panel(title: "Cost per 1M tokens", unit: "currencyUSD",
                      targets: [("max by (model) (bifocal_cost_per_1m_tokens_dollars{\(s)})", "{{model}}")]),
            ]),
            ("GPUs and model servers", [
                Panel(title: "GPU compute utilisation per GPU", unit: "percentunit",
                      targets: [("max by (instance, gpu) (bifocal_gpu_utilization_ratio{endpoint=~\"$endpoint\"})", "GPU {{gpu}} {{instance}}")],
                      thresholds: [(nil, "purple"), (settings.computeLow, "green"), (settings.computeHigh, "orange")], max: 1,
                      description: "Below \(Int(settings.computeLow * 100))% marks under-use, above \(Int(settings.computeHigh * 100))% saturation."),
                Panel(title: "GPU memory utilisation per GPU", unit: "percentunit",
                      targets: [("max by (instance, gpu) (bifocal_gpu_memory_utilization_ratio{endpoint=~\"$endpoint\"})", "GPU {{gpu}} {{instance}}")],
                      thresholds: [(nil, "green"), (settings.memoryHigh, "red")], max: 1),
                Panel(title: "KV-cache usage per model server", unit: "percentunit",
                      targets: [("max by (model, instance) (bifocal_kv_cache_usage_ratio{\(s)})", "{{model}} {{instance}}")],
                      thresholds: [(nil, "green"), (settings.kvCacheHigh, "red")], max: 1),
                Panel(title: "Requests waiting in the queue", unit: "short",
                      targets: [("sum by (model) (bifocal_queue_waiting_requests{\(s)})", "{{model}} waiting"),
                                ("sum by (model) (bifocal_batch_running_requests{\(s)})", "{{model}} running")]),
                Panel(title: "Preemptions per second", unit: "short",
                      targets: [("sum by (model) (bifocal_preemptions_per_second{\(s)})", "{{model}}")]),
                Panel(title: "GPUs used and free", unit: "short",
                      targets: [("sum by (state) (bifocal_gpus{endpoint=~\"$endpoint\"})", "{{state}}")]),
                Panel(title: "GPU power", unit: "watt",
                      targets: [("sum by (instance, gpu) (bifocal_gpu_power_watts{endpoint=~\"$endpoint\"})", "GPU {{gpu}} {{instance}}")]),
                Panel(title: "GPU temperature", unit: "celsius",
                      targets: [("max by (instance, gpu) (bifocal_gpu_temperature_celsius{endpoint=~\"$endpoint\"})", "GPU {{gpu}} {{instance}}")]),
                Panel(title: "Engine generation tokens per second", unit: "short",
                      targets: [("sum by (model) (bifocal_engine_generation_tokens_per_second{\(s)})", "{{model}}")]),
            ]),
        ]
    }

    /// The dashboard as Grafana's JSON model (schema 39), importable through Dashboards > Import.
    /// `datasource` is a Prometheus data source's uid; nil adds a data source variable instead.
    public static func json(title: String = "Bifocal: LLM inference", datasource: String? = nil, settings: DashboardSettings = DashboardSettings()) -> String {
        let source: [String: Any] = ["type": "prometheus", "uid": datasource ?? "${datasource}"]
        var panels: [[String: Any]] = []
        var id = 1
        var y = 0
        for (section, members) in self.panels(settings: settings) {
            panels.append(["id": id, "type": "row", "title": section, "collapsed": false,
                           "gridPos": ["h": 1, "w": 24, "x": 0, "y": y], "panels": [] as [Any]])
            id += 1
            y += 1
            var x = 0
            for panel in members {
                if x + panel.width > 24 { x = 0; y += 8 }
                var defaults: [String: Any] = ["unit": panel.unit, "min": 0,
                                               "custom": ["lineWidth": 1, "fillOpacity": 0, "showPoints": "never",
                                                          "thresholdsStyle": ["mode": panel.thresholds.isEmpty ? "off" : "area"]]]
                if let max = panel.max { defaults["max"] = max }
                let steps: [[String: Any]] = panel.thresholds.isEmpty ? [["color": "green", "value": NSNull()]]
                    : panel.thresholds.map { ["color": $0.1, "value": $0.0.map { $0 as Any } ?? NSNull()] }
                defaults["thresholds"] = ["mode": "absolute", "steps": steps]
                panels.append([
                    "id": id, "type": "timeseries", "title": panel.title, "description": panel.description, "datasource": source,
                    "gridPos": ["h": 8, "w": panel.width, "x": x, "y": y],
                    "fieldConfig": ["defaults": defaults, "overrides": [] as [Any]],
                    "options": ["legend": ["displayMode": "list", "placement": "bottom", "showLegend": true],
                                "tooltip": ["mode": "multi", "sort": "desc"]],
                    "targets": panel.targets.enumerated().map { k, target in
                        ["refId": String(UnicodeScalar(UInt8(65 + k))), "expr": target.0, "legendFormat": target.1, "datasource": source] as [String: Any]
                    },
                ])
                id += 1
                x += panel.width
            }
            y += 8
        }
        var variables: [[String: Any]] = []
        if datasource == nil {
            variables.append(["name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source", "hide": 0])
        }
        for (name, query) in [("endpoint", "label_values(bifocal_requests_per_second, endpoint)"),
                              ("model", "label_values(bifocal_requests_per_second{endpoint=~\"$endpoint\"}, model)")] {
            variables.append(["name": name, "label": name, "type": "query", "datasource": source, "query": query, "refresh": 2,
                              "includeAll": true, "multi": true, "allValue": ".*", "current": ["text": "All", "value": "$__all"], "hide": 0])
        }
        let dashboard: [String: Any] = [
            "title": title, "uid": "bifocal-overview", "schemaVersion": 39, "version": 1, "editable": true,
            "tags": ["bifocal", "llm", "inference"], "timezone": "utc", "refresh": "1m",
            "time": ["from": "now-6h", "to": "now"],
            "description": "Generated by `bifocal grafana-dashboard` over Bifocal's /metrics (values over the last 5 minutes at each scrape).",
            "templating": ["list": variables], "panels": panels,
            "annotations": ["list": [] as [Any]],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: dashboard, options: [.prettyPrinted, .sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
