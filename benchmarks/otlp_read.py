"""Read speed of the ``otlp-json`` reader against a bare ``orjson.loads`` of the same bytes.

Generates ~200,000 spans of OTLP/JSON (~850 bytes each; JSON Lines of requests holding 500 spans,
as the Collector's file exporter writes them) in memory, then prints spans/s for each and the ratio.
Issue 4's target for the reader: >= 200,000 spans/s on 2 cores.

    .venv/bin/python benchmarks/otlp_read.py [--spans N] [--repeat R]
"""

from __future__ import annotations

import argparse
import random
import time

import orjson

from norecur.telemetry.readers import OtlpJsonReader

SPANS_PER_REQUEST = 500


def _span(rng: random.Random, trace: int, index: int) -> dict:
    trace_id = f"{trace + 1:032x}"
    span_id = f"{trace * 64 + index + 1:016x}"
    parent = f"{trace * 64 + 1:016x}" if index else ""
    start = 1_767_225_600_000_000_000 + trace * 1_000_000_000 + index * 1_000_000
    attributes = [
        {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
        {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
        {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o"}},
        {"key": "gen_ai.response.model", "value": {"stringValue": "gpt-4o-2024-08-06"}},
        {"key": "gen_ai.usage.input_tokens", "value": {"intValue": str(rng.randrange(5000))}},
        {"key": "gen_ai.usage.output_tokens", "value": {"intValue": str(rng.randrange(900))}},
        {"key": "session.id", "value": {"stringValue": f"sess-{trace % 977}"}},
        {"key": "http.response.status_code", "value": {"intValue": "200"}},
        {"key": "gen_ai.request.temperature", "value": {"doubleValue": 0.2}},
    ]
    return {
        "traceId": trace_id,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": f"chat step-{index % 7}",
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + rng.randrange(10_000_000, 900_000_000)),
        "attributes": attributes,
        "status": {"code": 1},
    }


def generate(spans: int, seed: int = 4) -> tuple[bytes, int]:
    rng = random.Random(seed)
    lines = []
    for request in range(spans // SPANS_PER_REQUEST):
        batch = [_span(rng, request * 8 + i // 64, i % 64) for i in range(SPANS_PER_REQUEST)]
        lines.append(
            orjson.dumps(
                {
                    "resourceSpans": [
                        {
                            "resource": {
                                "attributes": [
                                    {"key": "service.name", "value": {"stringValue": "rag-api"}}
                                ]
                            },
                            "scopeSpans": [{"scope": {"name": "bench"}, "spans": batch}],
                        }
                    ]
                }
            )
        )
    return b"\n".join(lines) + b"\n", (spans // SPANS_PER_REQUEST) * SPANS_PER_REQUEST


def _best(function, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--spans", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data, spans = generate(args.spans)
    print(f"{spans:,} spans, {len(data) / spans:.0f} bytes/span, {len(data) / 1e6:.1f} MB")

    def bare() -> None:
        for line in data.splitlines():
            orjson.loads(line)

    reader = OtlpJsonReader()

    def ours() -> None:
        rows = sum(table.num_rows for table in reader.read(data))
        assert rows == spans, rows

    baseline = _best(bare, args.repeat)
    measured = _best(ours, args.repeat)
    print(f"orjson.loads (GC on)   {spans / baseline:>12,.0f} spans/s")
    print(f"otlp-json reader       {spans / measured:>12,.0f} spans/s  (to Arrow, all columns)")
    print(f"ratio reader/orjson    {baseline / measured:>12.2f}")
    print(f"target >= 200,000      {'met' if spans / measured >= 200_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
