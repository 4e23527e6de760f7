#!/usr/bin/env python3
"""Export a fixed set of GenAI spans, metrics and log records with the real OpenTelemetry Python SDK.

Used two ways:
  * .ci/interop-otlp: `--endpoint http://127.0.0.1:PORT --encoding protobuf|json --compression none|gzip|deflate`
    sends them to a running Bifocal (through the SDK's own OTLP/HTTP exporters) and prints a JSON
    summary of what was sent, so the script can check what Bifocal stored.
  * Tests/BifocalIngestTests/OTLPCaptures: `--capture DIR` starts a small HTTP sink on loopback,
    points the same exporters at it and writes each request body exactly as received
    (NAME.bin / NAME.json[.gz]), so the Swift tests decode bytes the SDK really produced.

Span ids come from a fixed id generator and span times from `--base-time` (nanoseconds; default:
now), so captures are reproducible apart from the metric timestamps, which the SDK takes from the clock.
"""
import argparse
import http.server
import json
import os
import sys
import threading
import time

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import View, ExponentialBucketHistogramAggregation, ExplicitBucketHistogramAggregation
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry import trace as trace_api


class FixedIds(IdGenerator):
    """Trace ids 0x0b1f0ca1...01, ...02; span ids 0x5a...01, ... in creation order (never zero)."""

    def __init__(self, seed):
        self.trace = 0
        self.span = 0
        self.seed = seed

    def generate_trace_id(self):
        self.trace += 1
        return (0x0B1F0CA1 << 96) | (self.seed << 32) | self.trace

    def generate_span_id(self):
        self.span += 1
        return (0x5A << 56) | (self.seed << 16) | self.span


BUCKETS_S = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92]
BUCKETS_TOKENS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]


def exporters(encoding, endpoint, compression):
    from opentelemetry.exporter.otlp.proto.http import Compression
    comp = {"none": Compression.NoCompression, "gzip": Compression.Gzip, "deflate": Compression.Deflate}[compression]
    if encoding == "protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    else:
        from opentelemetry.exporter.otlp.json.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.exporter.otlp.json.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.json.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.common.http import Compression as JSONCompression
        comp = JSONCompression(compression)
    if not endpoint:
        # As applications do: OTEL_EXPORTER_OTLP_ENDPOINT (+ /v1/SIGNAL) and OTEL_EXPORTER_OTLP_COMPRESSION.
        return OTLPSpanExporter(), OTLPMetricExporter(), OTLPLogExporter()
    return (OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", compression=comp),
            OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics", compression=comp),
            OTLPLogExporter(endpoint=f"{endpoint}/v1/logs", compression=comp))


def export_all(encoding, endpoint, compression, base, seed, tag):
    """Sends 5 spans (4 model calls, 1 HTTP span), GenAI metrics and 2 log records; returns what was sent."""
    span_exporter, metric_exporter, log_exporter = exporters(encoding, endpoint, compression)
    resource = Resource.create({"service.name": "bifocal-interop", "service.instance.id": f"capture-{tag}",
                                "bifocal.tenant": "search-team"})
    provider = TracerProvider(resource=resource, id_generator=FixedIds(seed))
    # One batch, so one export request carries all the spans.
    provider.add_span_processor(BatchSpanProcessor(span_exporter, schedule_delay_millis=3_600_000))
    tracer = provider.get_tracer("bifocal.capture", "1.0")
    ms = 1_000_000
    sent = {"spans": []}

    # 1. Current conventions, streamed, with messages as JSON strings.
    span = tracer.start_span("chat smollm2", kind=SpanKind.CLIENT, start_time=base, attributes={
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "smollm2", "gen_ai.response.model": f"smollm2-135m-{tag}",
        "gen_ai.usage.input_tokens": 21, "gen_ai.usage.output_tokens": 9,
        "gen_ai.response.finish_reasons": ["stop"], "gen_ai.request.stream": True,
        "gen_ai.response.time_to_first_chunk": 0.125,
        "gen_ai.input.messages": json.dumps([{"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
                                             {"role": "user", "parts": [{"type": "text", "content": "What is 2+2?"}]}]),
        "gen_ai.output.messages": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "4"}], "finish_reason": "stop"}]),
        "server.address": "127.0.0.1", "server.port": 8080})
    span.end(end_time=base + 1500 * ms)
    sent["spans"].append(span)

    # 2. OpenLLMetry/Traceloop's legacy names: indexed prompt/completion, chunk events, deprecated usage names.
    span = tracer.start_span("openai.chat", kind=SpanKind.CLIENT, start_time=base + 2000 * ms, attributes={
        "llm.request.type": "chat", "gen_ai.system": "openai", "gen_ai.request.model": f"llama-3-8b-{tag}",
        "gen_ai.usage.prompt_tokens": 30, "gen_ai.usage.completion_tokens": 12, "llm.is_streaming": True,
        "gen_ai.prompt.0.role": "user", "gen_ai.prompt.0.content": "Say hi",
        "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "Hi there!",
        "gen_ai.completion.0.finish_reason": "length", "gen_ai.openai.api_base": "http://127.0.0.1:9090/v1/"})
    span.add_event("gen_ai.content.completion.chunk", timestamp=base + 2200 * ms)
    span.add_event("gen_ai.content.completion.chunk", timestamp=base + 2260 * ms)
    span.end(end_time=base + 2800 * ms)
    sent["spans"].append(span)

    # 3. A failed call.
    span = tracer.start_span("chat claude", kind=SpanKind.CLIENT, start_time=base + 3000 * ms, attributes={
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic", "gen_ai.request.model": f"claude-{tag}",
        "error.type": "RateLimitError"})
    span.add_event("exception", {"exception.type": "RateLimitError", "exception.message": "Too many requests"}, timestamp=base + 3040 * ms)
    span.set_status(Status(StatusCode.ERROR, "rate limited by the provider"))
    span.end(end_time=base + 3050 * ms)
    sent["spans"].append(span)

    # 4. Embeddings, and a plain HTTP span around it (accepted, not a record).
    parent = tracer.start_span("GET /search", kind=SpanKind.SERVER, start_time=base + 4000 * ms,
                               attributes={"http.request.method": "GET", "http.route": "/search"})
    ctx = trace_api.set_span_in_context(parent)
    span = tracer.start_span("embeddings e5", context=ctx, kind=SpanKind.CLIENT, start_time=base + 4010 * ms, attributes={
        "gen_ai.operation.name": "embeddings", "gen_ai.provider.name": "openai", "gen_ai.request.model": f"e5-small-{tag}",
        "gen_ai.usage.input_tokens": 8, "server.address": "127.0.0.1"})
    span.end(end_time=base + 4030 * ms)
    parent.end(end_time=base + 4100 * ms)
    sent["spans"] += [span, parent]
    provider.shutdown()

    # Metrics: the GenAI histograms, a counter, a gauge and an exponential histogram.
    reader = PeriodicExportingMetricReader(metric_exporter, export_interval_millis=3_600_000)
    views = [View(instrument_name="gen_ai.client.operation.duration", aggregation=ExplicitBucketHistogramAggregation(BUCKETS_S)),
             View(instrument_name="gen_ai.client.token.usage", aggregation=ExplicitBucketHistogramAggregation(BUCKETS_TOKENS)),
             View(instrument_name="bifocal.capture.latency", aggregation=ExponentialBucketHistogramAggregation(max_size=20))]
    meters = MeterProvider(resource=resource, metric_readers=[reader], views=views)
    meter = meters.get_meter("bifocal.capture", "1.0")
    common = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "smollm2",
              "gen_ai.response.model": f"smollm2-135m-{tag}"}
    duration = meter.create_histogram("gen_ai.client.operation.duration", unit="s")
    for value in (0.015, 0.3, 1.5):
        duration.record(value, common)
    tokens = meter.create_histogram("gen_ai.client.token.usage", unit="{token}")
    tokens.record(21, {**common, "gen_ai.token.type": "input"})
    tokens.record(9, {**common, "gen_ai.token.type": "output"})
    requests = meter.create_counter("bifocal.capture.requests")
    requests.add(3, {"route": "/chat"})
    gauge = meter.create_gauge("bifocal.capture.queue_depth")
    gauge.set(7, {"queue": "main"})
    latency = meter.create_histogram("bifocal.capture.latency", unit="s")
    for value in (0.5, 1.0, 2.0, 3.0):
        latency.record(value)
    meters.shutdown()  # exports once, on the way out

    # Logs: a GenAI event tied to span 1, and a plain log record.
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    logs = LoggerProvider(resource=resource)
    logs.add_log_record_processor(BatchLogRecordProcessor(log_exporter, schedule_delay_millis=3_600_000))
    logger = logs.get_logger("bifocal.capture", "1.0")
    first = sent["spans"][0].get_span_context()
    try:
        from opentelemetry._logs import LogRecord as APILogRecord
    except ImportError:  # older SDKs
        from opentelemetry.sdk._logs import LogRecord as APILogRecord
    from opentelemetry.trace import NonRecordingSpan
    span_ctx = trace_api.set_span_in_context(NonRecordingSpan(first))
    logger.emit(APILogRecord(timestamp=base + 1500 * ms, context=span_ctx, body={"content": "4"}, event_name="gen_ai.choice",
                             attributes={"gen_ai.provider.name": "openai"}))
    logger.emit(APILogRecord(timestamp=base + 1600 * ms, body="request finished", severity_text="INFO",
                             attributes={"http.route": "/chat"}))
    logs.shutdown()

    return {
        "spans": [{"trace_id": format(s.context.trace_id, "032x"), "span_id": format(s.context.span_id, "016x"), "name": s.name,
                   "start": s.start_time, "end": s.end_time} for s in sent["spans"]],
        "models": [f"smollm2-135m-{tag}", f"llama-3-8b-{tag}", f"claude-{tag}", f"e5-small-{tag}"],
    }


class Sink(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        Sink.received.append((self.path, self.headers.get("content-type"), self.headers.get("content-encoding"), body))
        self.send_response(200)
        self.send_header("content-type", self.headers.get("content-type"))
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def capture(directory, base):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    os.makedirs(directory, exist_ok=True)
    for name, encoding, compression, seed in [("sdk-protobuf", "protobuf", "none", 1), ("sdk-protobuf-gzip", "protobuf", "gzip", 2),
                                              ("sdk-protobuf-deflate", "protobuf", "deflate", 3), ("sdk-json", "json", "none", 4)]:
        Sink.received.clear()
        export_all(encoding, endpoint, compression, base, seed, name)
        assert len(Sink.received) == 3, f"expected one request per signal, got {[r[0] for r in Sink.received]}"
        for path, ctype, cenc, body in Sink.received:
            signal = path.rsplit("/", 1)[-1]
            ext = ".bin" if "protobuf" in (ctype or "") else ".json"
            if cenc == "gzip":
                ext += ".gz"
            elif cenc == "deflate":
                ext += ".zz"
            with open(os.path.join(directory, f"{name}.{signal}{ext}"), "wb") as f:
                f.write(body)
            print(f"{name}.{signal}{ext}: {len(body)} bytes, content-type {ctype}, content-encoding {cenc}", file=sys.stderr)
    server.shutdown()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint")
    parser.add_argument("--encoding", choices=["protobuf", "json"], default="protobuf")
    parser.add_argument("--compression", choices=["none", "gzip", "deflate"], default="none")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tag", default="interop")
    parser.add_argument("--base-time", type=int, default=0, help="span start times, ns since the epoch (default: now - 60 s)")
    parser.add_argument("--capture")
    args = parser.parse_args()
    base = args.base_time or (time.time_ns() - 60_000_000_000)
    if args.capture:
        capture(args.capture, base)
    else:
        print(json.dumps(export_all(args.encoding, args.endpoint, args.compression, base, args.seed, args.tag)))


if __name__ == "__main__":
    main()
