"""Time to localize a fault over 1,000,000 spans, and peak memory, against a bare ``orjson.loads``.

Generates a microservice incident as OTLP/JSON (JSON Lines of export requests, 500 spans each,
as the Collector's file exporter writes them): 50,000 traces of 20 spans over 12 services, a
database fault in one service failing 8 % of the traces and propagating up to the root, 1 % of
traces with an unrelated error that a retry absorbs, heavy-tailed latency. Then, in a fresh
process (so its peak RSS is the pipeline's own), it reads the file with the ``otlp-json`` reader
and runs the whole engine (:func:`norecur.rca.diagnose`, every analyzer) over the span table.

Printed: spans/s of ``orjson.loads`` on the same bytes (the baseline, measured in this run), of
the reader, the time to localize, the end-to-end time, and peak RSS. Issue 4's targets on 2 cores:
read >= 200,000 spans/s; localize 1,000,000 spans in <= 10 s with peak RSS <= 2 GiB.

    .venv/bin/python benchmarks/localize_speed.py [--spans N]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

SPANS_PER_TRACE = 20
SPANS_PER_REQUEST = 500
SERVICES = (
    "frontend",
    "orders",
    "inventory",
    "payments",
    "shipping",
    "users",
    "catalog",
    "pricing",
    "search",
    "reviews",
    "notifications",
    "auth",
)
FAULTY = "inventory"
T0 = 1_767_225_600_000_000_000


def _trace(rng: random.Random, number: int) -> list[dict]:
    """One request: frontend root, five service calls each with server, db and cache spans."""
    trace_id = f"{number + 1:032x}"
    failing = rng.random() < 0.08
    noisy = rng.random() < 0.01
    start = T0 + number * 20_000_000
    spans: list[dict] = []

    def add(
        parent: str, service: str, name: str, kind: int, begin: int, length: int, attributes: dict
    ) -> str:
        span_id = f"{number * SPANS_PER_TRACE + len(spans) + 1:016x}"
        spans.append(
            {
                "service": service,
                "traceId": trace_id,
                "spanId": span_id,
                "parentSpanId": parent,
                "name": name,
                "kind": kind,
                "startTimeUnixNano": str(begin),
                "endTimeUnixNano": str(begin + length),
                "attributes": [
                    {"key": key, "value": {"stringValue": value}}
                    if isinstance(value, str)
                    else {"key": key, "value": {"intValue": str(value)}}
                    for key, value in attributes.items()
                ],
                "status": {"code": 0},
            }
        )
        return span_id

    root = add("", "frontend", "GET /checkout", 2, start, 0, {"session.id": f"s{number % 5000}"})
    called = ["orders", FAULTY, *rng.sample(SERVICES[3:], 3)]
    at = start + 1_000_000
    for position, service in enumerate(called):
        length = int(rng.lognormvariate(15.5, 0.5))
        client = add(root, "frontend", f"call {service}", 3, at, length, {})
        server = add(client, service, f"POST /{service}", 2, at + 100_000, length - 200_000, {})
        db = add(
            server,
            service,
            f"SELECT {service}",
            3,
            at + 200_000,
            length // 3,
            {"db.system": "postgresql"},
        )
        add(server, service, "cache get", 3, at + length // 2, length // 10, {})
        if service == FAULTY and failing:
            for span_id in (db, server, client, root):
                _fail(spans, span_id, "deadlock detected" if span_id == db else "upstream error")
        if noisy and position == 4:
            _fail(spans, db, "connection reset")
        at += length + 50_000
    spans[0]["endTimeUnixNano"] = str(at + 1_000_000)
    return spans[:SPANS_PER_TRACE]


def _fail(spans: list[dict], span_id: str, message: str) -> None:
    for span in spans:
        if span["spanId"] == span_id:
            span["status"] = {"code": 2, "message": message}


def generate(n_spans: int, path: Path) -> int:
    """Write the incident to ``path``; return the number of spans written."""
    rng = random.Random(11)
    written = 0
    pending: list[dict] = []
    with path.open("wb") as stream:
        number = 0
        while written < n_spans:
            pending.extend(_trace(rng, number))
            number += 1
            while len(pending) >= SPANS_PER_REQUEST or (written + len(pending) >= n_spans):
                batch, pending = pending[:SPANS_PER_REQUEST], pending[SPANS_PER_REQUEST:]
                by_service: dict[str, list[dict]] = {}
                for span in batch:
                    by_service.setdefault(span.pop("service"), []).append(span)
                request = {
                    "resourceSpans": [
                        {
                            "resource": {
                                "attributes": [
                                    {"key": "service.name", "value": {"stringValue": service}}
                                ]
                            },
                            "scopeSpans": [{"scope": {"name": "bench"}, "spans": spans}],
                        }
                        for service, spans in sorted(by_service.items())
                    ]
                }
                stream.write(orjson.dumps(request) + b"\n")
                written += len(batch)
                if not pending:
                    break
    return written


def child(path: Path) -> None:
    """Read and diagnose ``path``; print the timings and peak RSS as JSON."""
    from norecur.rca import diagnose
    from norecur.telemetry import Observations
    from norecur.telemetry.readers import OtlpJsonReader

    began = time.perf_counter()
    spans = OtlpJsonReader().read_table(path)
    read = time.perf_counter() - began
    began = time.perf_counter()
    report = diagnose(Observations(spans=spans))
    localize = time.perf_counter() - began
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "spans": spans.num_rows,
                "read_s": read,
                "localize_s": localize,
                "peak_rss_mib": peak_kib / 1024,
                "root_cause": report.root_cause,
                "class": report.cause_class.value if report.cause_class else None,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.child)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "incident.otlp.jsonl"
        count = generate(args.spans, path)
        data = path.read_bytes()
        began = time.perf_counter()
        for line in data.splitlines():
            orjson.loads(line)
        bare = time.perf_counter() - began
        del data
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(done.stdout)
        size = path.stat().st_size
    print(
        f"{count:,} spans, {size / 2**20:.0f} MiB of OTLP/JSON, {count // SPANS_PER_TRACE:,} traces"
    )
    print(f"  orjson.loads (baseline) : {count / bare:>12,.0f} spans/s  ({bare:.2f} s)")
    print(
        f"  otlp-json reader        : {count / result['read_s']:>12,.0f} spans/s  "
        f"({result['read_s']:.2f} s, {result['read_s'] / bare:.2f}x the baseline's time)"
    )
    print(f"  localize (diagnose)     : {result['localize_s']:>12.2f} s      (target <= 10 s)")
    print(f"  read + localize         : {result['read_s'] + result['localize_s']:>12.2f} s")
    print(f"  peak RSS                : {result['peak_rss_mib']:>12,.0f} MiB    (target <= 2048)")
    print(
        f"  root cause              : {result['root_cause']} ({result['class']}); injected: {FAULTY}"
    )


if __name__ == "__main__":
    main()
