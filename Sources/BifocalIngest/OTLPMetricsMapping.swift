public import BifocalCore
import Foundation

/// What the metrics of one export request turned into.
public struct OTLPMetricBatch: Sendable, Hashable {
    /// Series samples, in request order.
    public var samples: [SeriesSample] = []
    /// Data points in the request.
    public var dataPoints: Int = 0
    /// Invalid data points (counted per point, as `rejected_data_points` is).
    public var rejected: [OTLPRejection] = []
    /// How many points `rejected` stands for (a metric without a name rejects all its points at once).
    public var rejectedPoints: Int = 0

    /// Creates an empty batch.
    public init() {}
}

/// Turns OTLP metrics into series samples, named and labelled as Prometheus' own OTLP translation
/// would, except that names keep their dots (`gen_ai.client.token.usage`, queryable as such):
///
/// - gauge and sum points: one sample under the metric's name (a sum keeps its temporality: a
///   cumulative counter is stored as its running total, a delta sum as the delta it reports);
/// - histogram points: `NAME_count`, `NAME_sum` and cumulative `NAME_bucket{le="..."}` including
///   `le="+Inf"`; exponential histograms the same, their bucket boundaries computed from the scale;
/// - summary points: `NAME_count`, `NAME_sum` and `NAME{quantile="..."}`;
/// - labels: the point's attributes, `model` from `gen_ai.response.model` or `gen_ai.request.model`
///   (so GenAI metrics join the records' model), and from the resource `job` (`service.namespace/`
///   `service.name`) and `instance` (`service.instance.id`);
/// - a point flagged "no recorded value" becomes a staleness marker.
public enum OTLPMetricsMapping {
    /// Maps every metric of a request.
    public static func samples(from metrics: OTLPMetrics) -> OTLPMetricBatch {
        var batch = OTLPMetricBatch()
        for (r, resourceMetrics) in metrics.resourceMetrics.enumerated() {
            var resourceLabels: [String: String] = [:]
            let service = resourceMetrics.resource["service.name"]?.text
            let namespace = resourceMetrics.resource["service.namespace"]?.text
            if let service, !service.isEmpty {
                resourceLabels["job"] = namespace.map { $0.isEmpty ? service : "\($0)/\(service)" } ?? service
            }
            if let instance = resourceMetrics.resource["service.instance.id"]?.text, !instance.isEmpty {
                resourceLabels["instance"] = instance
            }
            for (s, scopeMetrics) in resourceMetrics.scopeMetrics.enumerated() {
                for (m, metric) in scopeMetrics.metrics.enumerated() {
                    let path = "resource_metrics[\(r)].scope_metrics[\(s)].metrics[\(m)]"
                    let points = metric.pointCount
                    batch.dataPoints += points
                    guard !metric.name.isEmpty else {
                        if points > 0 {
                            batch.rejected.append(OTLPRejection(path: path, reason: "the metric has no name (\(points) data points rejected)"))
                            batch.rejectedPoints += points
                        }
                        continue
                    }
                    guard metric.name.utf8.count <= 512 else {
                        batch.rejected.append(OTLPRejection(path: path, reason: "metric name is longer than 512 bytes ('\(OTLPText.clip(metric.name))')"))
                        batch.rejectedPoints += points
                        continue
                    }
                    map(metric, path: path, resourceLabels: resourceLabels, into: &batch)
                }
            }
        }
        return batch
    }

    static func labels(_ attributes: [OTLPAttribute], _ resource: [String: String]) -> [String: String] {
        var labels: [String: String] = [:]
        labels.reserveCapacity(attributes.count + resource.count + 1)
        for attribute in attributes { labels[attribute.key] = attribute.value.text }
        if labels["model"] == nil, let model = labels["gen_ai.response.model"] ?? labels["gen_ai.request.model"], !model.isEmpty {
            labels["model"] = model
        }
        for (key, value) in resource { labels[key] = value }
        return labels
    }

    /// A point's time in microseconds, or why the point is rejected.
    static func time(_ nanos: UInt64) -> Int64? {
        guard nanos > 0, nanos < 9_000_000_000_000_000_000 else { return nil }
        return Int64(nanos / 1000)
    }

    /// `le` and `quantile` values as Prometheus writes them: integers without a fraction, `+Inf`.
    static func format(_ value: Double) -> String {
        if value == .infinity { return "+Inf" }
        if value == -.infinity { return "-Inf" }
        if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func map(_ metric: OTLPMetric, path: String, resourceLabels: [String: String], into batch: inout OTLPMetricBatch) {
        let name = metric.name
        func reject(_ index: Int, _ reason: String) {
            batch.rejected.append(OTLPRejection(path: "\(path).data_points[\(index)]", reason: reason))
            batch.rejectedPoints += 1
        }
        func emit(_ name: String, _ labels: [String: String], _ time: Int64, _ value: Double, stale: Bool) {
            batch.samples.append(stale ? .stale(name: name, labels: labels, time: time) : SeriesSample(name: name, labels: labels, time: time, value: value))
        }
        switch metric.data {
        case .none:
            break
        case .gauge(let points), .sum(let points, _, _):
            for (i, point) in points.enumerated() {
                guard let time = time(point.timeUnixNano) else { reject(i, "time_unix_nano is missing or out of range"); continue }
                let stale = point.flags & otlpNoRecordedValueFlag != 0
                emit(name, labels(point.attributes, resourceLabels), time, point.value, stale: stale)
            }
        case .histogram(let points, _):
            for (i, point) in points.enumerated() {
                guard let time = time(point.timeUnixNano) else { reject(i, "time_unix_nano is missing or out of range"); continue }
                if !point.bucketCounts.isEmpty, point.bucketCounts.count != point.explicitBounds.count + 1 {
                    reject(i, "bucket_counts has \(point.bucketCounts.count) entries for \(point.explicitBounds.count) explicit_bounds (must be one more)")
                    continue
                }
                if zip(point.explicitBounds, point.explicitBounds.dropFirst()).contains(where: { !($0 < $1) }) {
                    reject(i, "explicit_bounds are not strictly increasing")
                    continue
                }
                let base = labels(point.attributes, resourceLabels)
                let stale = point.flags & otlpNoRecordedValueFlag != 0
                emit("\(name)_count", base, time, Double(point.count), stale: stale)
                if let sum = point.sum { emit("\(name)_sum", base, time, sum, stale: stale) }
                guard !point.bucketCounts.isEmpty else { continue }
                var cumulative: UInt64 = 0
                for (b, bound) in point.explicitBounds.enumerated() {
                    cumulative &+= point.bucketCounts[b]
                    var labels = base
                    labels["le"] = format(bound)
                    emit("\(name)_bucket", labels, time, Double(cumulative), stale: stale)
                }
                var labels = base
                labels["le"] = "+Inf"
                emit("\(name)_bucket", labels, time, Double(cumulative &+ point.bucketCounts[point.bucketCounts.count - 1]), stale: stale)
            }
        case .exponentialHistogram(let points, _):
            for (i, point) in points.enumerated() {
                guard let time = time(point.timeUnixNano) else { reject(i, "time_unix_nano is missing or out of range"); continue }
                guard point.scale >= -10, point.scale <= 20 else { reject(i, "scale \(point.scale) is outside -10...20"); continue }
                guard point.positiveCounts.count + point.negativeCounts.count <= 4096 else { reject(i, "more than 4096 buckets"); continue }
                let base = labels(point.attributes, resourceLabels)
                let stale = point.flags & otlpNoRecordedValueFlag != 0
                emit("\(name)_count", base, time, Double(point.count), stale: stale)
                if let sum = point.sum { emit("\(name)_sum", base, time, sum, stale: stale) }
                // Bucket i holds (base^i, base^(i+1)] with base = 2^(2^-scale); negatives mirror it.
                let width = exp2(-Double(point.scale))
                func bound(_ index: Int) -> Double { exp2(Double(index) * width) }
                var cumulative: UInt64 = 0
                func bucket(_ le: Double, _ count: UInt64) {
                    cumulative &+= count
                    var labels = base
                    labels["le"] = format(le)
                    emit("\(name)_bucket", labels, time, Double(cumulative), stale: stale)
                }
                // Negative buckets from the most negative up: bucket k covers [-base^(k+1), -base^k).
                for k in stride(from: point.negativeCounts.count - 1, through: 0, by: -1) {
                    bucket(-bound(Int(point.negativeOffset) + k), point.negativeCounts[k])
                }
                bucket(point.zeroThreshold, point.zeroCount)
                for (k, count) in point.positiveCounts.enumerated() {
                    bucket(bound(Int(point.positiveOffset) + k + 1), count)
                }
                var labels = base
                labels["le"] = "+Inf"
                emit("\(name)_bucket", labels, time, Double(max(cumulative, point.count)), stale: stale)
            }
        case .summary(let points):
            for (i, point) in points.enumerated() {
                guard let time = time(point.timeUnixNano) else { reject(i, "time_unix_nano is missing or out of range"); continue }
                let base = labels(point.attributes, resourceLabels)
                let stale = point.flags & otlpNoRecordedValueFlag != 0
                emit("\(name)_count", base, time, Double(point.count), stale: stale)
                emit("\(name)_sum", base, time, point.sum, stale: stale)
                for quantile in point.quantiles {
                    var labels = base
                    labels["quantile"] = format(quantile.quantile)
                    emit(name, labels, time, quantile.value, stale: stale)
                }
            }
        }
    }
}
