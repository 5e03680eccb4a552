"""Span storage: ingest into day partitions, scan through the backend interface, CLI end to end.

The traces come from the real OpenTelemetry SDK (in-memory exporter, then the OTLP JSON mapping):
the conftest trace on 2026-01-01 and, here, traces around midnight into 2026-01-02.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from norecur.errors import StoreError, TelemetryError
from norecur.telemetry import (
    MANIFEST_NAME,
    SPAN_SCHEMA,
    MemoryBackend,
    ParquetBackend,
    Reader,
    ReaderRegistry,
    ingest,
    read_spans,
)

NORECUR = Path(sys.executable).parent / "norecur"
T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z, as in conftest
T1 = T0 + 86_400_000_000_000  # 2026-01-02T00:00:00Z
SECOND = 1_000_000_000


def _emit_midnight() -> list:
    """Two services' traces around midnight: one crossing it, one wholly on 2026-01-02."""
    spans = []
    for service, starts in (
        ("rag-api", (T1 - 2 * SECOND, T1 - 1, T1)),  # root before midnight; a child at T1 exactly
        ("search", (T1 + 3600 * SECOND, T1 + 3601 * SECOND, T1 + 3602 * SECOND)),
    ):
        exporter = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("tests.storage")
        root_start, llm_start, tool_start = starts
        with tracer.start_as_current_span(
            "handle", kind=SpanKind.SERVER, start_time=root_start, end_on_exit=False
        ) as root:
            with tracer.start_as_current_span(
                "chat gpt-4o",
                kind=SpanKind.CLIENT,
                start_time=llm_start,
                attributes={"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o"},
                end_on_exit=False,
            ) as llm:
                llm.end(end_time=llm_start + SECOND)
            with tracer.start_as_current_span(
                "execute_tool lookup",
                start_time=tool_start,
                attributes={"gen_ai.operation.name": "execute_tool"},
                end_on_exit=False,
            ) as tool:
                tool.set_status(Status(StatusCode.ERROR, "tool failed"))
                tool.end(end_time=tool_start + SECOND)
            root.set_status(Status(StatusCode.ERROR))
            root.end(end_time=tool_start + 2 * SECOND)
        spans.extend(exporter.get_finished_spans())
        provider.shutdown()
    return spans


@pytest.fixture(scope="module")
def midnight_spans() -> list:
    return _emit_midnight()


@pytest.fixture
def inputs(tmp_path, otlp_json_hex, midnight_spans):
    """day1.json: the conftest trace (hex ids); midnight.json: base64 ids, two days."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "day1.json").write_bytes(otlp_json_hex)
    (folder / "midnight.json").write_text(MessageToJson(encode_spans(midnight_spans)))
    return [folder / "day1.json", folder / "midnight.json"]


@pytest.fixture
def all_sdk_spans(sdk_spans, midnight_spans) -> list:
    return [*sdk_spans, *midnight_spans]


def _keys(spans, start_ns=None, end_ns=None):
    """(trace_id, start_ns, span_id) of SDK spans in [start, end), in scan order."""
    return sorted(
        (format(s.context.trace_id, "032x"), s.start_time, format(s.context.span_id, "016x"))
        for s in spans
        if (start_ns is None or s.start_time >= start_ns)
        and (end_ns is None or s.start_time < end_ns)
    )


def _scan_keys(table: pa.Table) -> list[tuple]:
    return list(
        zip(
            table.column("trace_id").to_pylist(),
            table.column("start_ns").to_pylist(),
            table.column("span_id").to_pylist(),
            strict=True,
        )
    )


def _parts(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))


def test_ingest_writes_one_partition_per_utc_day(inputs, tmp_path):
    store = tmp_path / "spans"
    report = ingest(inputs, store)
    # day1: 4 spans at T0. midnight: rag-api root and chat before midnight, the rest after.
    assert report.days == {"2026-01-01": 6, "2026-01-02": 4}
    assert report.spans == 10
    assert report.exit_code == 0
    assert [f.status for f in report.files] == ["ingested", "ingested"]
    assert [f.read.reader for f in report.files] == ["otlp-json", "otlp-json"]
    assert _parts(store) == [
        "day=2026-01-01/part-0.parquet",
        "day=2026-01-01/part-1.parquet",
        "day=2026-01-02/part-0.parquet",
    ]
    manifest = json.loads((store / MANIFEST_NAME).read_text())
    assert sorted(manifest["files"]) == sorted(f.sha256 for f in report.files)
    assert manifest["files"][report.files[1].sha256]["days"] == {
        "2026-01-01": 2,
        "2026-01-02": 4,
    }
    assert not list(store.rglob(".*.tmp"))


def test_scan_window_is_exact_ordered_and_pruned(inputs, tmp_path, all_sdk_spans):
    store = tmp_path / "spans"
    ingest(inputs, store)
    backend = ParquetBackend(store)
    everything = backend.scan()
    assert everything.schema.equals(SPAN_SCHEMA, check_metadata=True)
    assert _scan_keys(everything) == _keys(all_sdk_spans)

    # Half-open on the start: the span starting at T1 - 1 is in, the one starting at T1 is out.
    window = {"start_ns": T1 - 2 * SECOND, "end_ns": T1}
    assert _scan_keys(backend.scan(**window)) == _keys(all_sdk_spans, **window)
    assert len(_keys(all_sdk_spans, **window)) == 2
    assert backend.count(**window) == 2
    assert [p.parent.name for p in backend.files(**window)] == ["day=2026-01-01"] * 2

    window = {"start_ns": T1, "end_ns": T1 + 3601 * SECOND}
    assert _scan_keys(backend.scan(**window)) == _keys(all_sdk_spans, **window)
    assert [p.parent.name for p in backend.files(**window)] == ["day=2026-01-02"]
    assert backend.scan(start_ns=T1 + 86_400 * SECOND).num_rows == 0
    assert backend.time_range() == (T0, T1 + 3604 * SECOND)


def test_columns_and_where_are_bound_not_formatted(inputs, tmp_path):
    backend = ParquetBackend(tmp_path / "spans")
    ingest(inputs, backend.root)
    table = backend.scan(columns=["service", "name", "duration_ns"], where={"service": "search"})
    assert table.schema.names == ["service", "name", "duration_ns"]
    assert table.schema.field("duration_ns") == SPAN_SCHEMA.field("duration_ns")
    assert table.column("name").to_pylist() == ["handle", "chat gpt-4o", "execute_tool lookup"]
    assert backend.count(where={"service": ["search", "nowhere"], "status_code": "ERROR"}) == 2
    assert backend.count(where={"parent_span_id": None}) == 3  # one root per trace
    assert backend.count(where={"service": "search' OR '1'='1"}) == 0
    assert backend.count(where={"service": []}) == 0
    with pytest.raises(ValueError, match="unknown span columns: 'nope'"):
        backend.scan(columns=["nope"])
    with pytest.raises(ValueError, match="unknown span columns"):
        backend.count(where={"1=1; --": 1})
    with pytest.raises(ValueError, match="before start_ns"):
        backend.scan(start_ns=2, end_ns=1)


def test_sql_pushes_work_down_with_bound_parameters(inputs, tmp_path):
    backend = ParquetBackend(tmp_path / "spans")
    ingest(inputs, backend.root)
    errors = backend.sql(
        "SELECT service, count(*) FILTER (WHERE status_code = $code) AS errors, count(*) AS spans"
        " FROM spans GROUP BY service ORDER BY service",
        {"code": "ERROR"},
    )
    assert errors.to_pylist() == [
        {"service": "rag-api", "errors": 4, "spans": 7},
        {"service": "search", "errors": 2, "spans": 3},
    ]
    with pytest.raises(StoreError, match="span query failed"):
        backend.sql("SELECT nothing FROM spans")


def test_reingest_is_a_no_op(inputs, tmp_path):
    store = tmp_path / "spans"
    ingest(inputs, store)
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*.parquet")}
    again = ingest([*inputs, inputs[0]], store)
    assert [f.status for f in again.files] == ["already-ingested"] * 3
    assert again.spans == 0
    assert again.days == {}
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*.parquet")} == before
    assert ParquetBackend(store).count() == 10
    # Same bytes under another name are the same file.
    copy = tmp_path / "copy.json"
    copy.write_bytes(inputs[1].read_bytes())
    assert ingest([copy], store).files[0].status == "already-ingested"


def test_memory_and_parquet_backends_agree(inputs, tmp_path):
    store = tmp_path / "spans"
    ingest(inputs, store)
    tables = [t for path in reversed(inputs) for t in read_spans(path)]
    memory = MemoryBackend(pa.concat_tables(tables))
    parquet = ParquetBackend(store)
    for window in ({}, {"start_ns": T1 - 1, "end_ns": T1 + 1}, {"start_ns": T1}, {"end_ns": T1}):
        assert memory.scan(**window).equals(parquet.scan(**window), check_metadata=True)
        assert memory.count(**window) == parquet.count(**window)
    columns = ["span_id", "status_code"]
    assert memory.scan(columns=columns, where={"kind": "CLIENT"}).equals(
        parquet.scan(columns=columns, where={"kind": "CLIENT"})
    )
    assert memory.time_range() == parquet.time_range()
    query = "SELECT name, max(duration_ns) AS d FROM spans GROUP BY name ORDER BY name"
    assert memory.sql(query).equals(parquet.sql(query))
    memory.close()
    parquet.close()


def test_empty_or_missing_store_scans_empty(tmp_path):
    with ParquetBackend(tmp_path / "nothing") as backend:
        assert backend.scan().equals(SPAN_SCHEMA.empty_table())
        assert backend.count() == 0
        assert backend.time_range() is None
        assert backend.sql("SELECT count(*) AS n FROM spans").to_pylist() == [{"n": 0}]
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="not a folder"):
        ParquetBackend(tmp_path / "file")


def test_leftover_temporary_part_is_ignored_then_cleaned(inputs, tmp_path):
    store = tmp_path / "spans"
    ingest(inputs[:1], store)
    # A crash mid-write leaves a temporary part: a half-written file under a dot name.
    leftover = store / "day=2026-01-01" / ".part-1.parquet.tmp"
    leftover.write_bytes(b"PAR1 half a file")
    backend = ParquetBackend(store)
    assert backend.count() == 4
    assert [p.name for p in backend.files()] == ["part-0.parquet"]
    ingest(inputs[1:], store)  # the next ingest holds the lock and removes the leftover
    assert not leftover.exists()
    assert backend.count() == 10


class _FailingReader(Reader):
    """Yields one good batch, then finds the rest unreadable."""

    name = "failing"

    def _sniff(self, first_bytes, name):
        return 0

    def _read(self, stream, path, report):
        from norecur.telemetry.readers import OtlpJsonReader

        yield from OtlpJsonReader()._read(stream, path, report)
        raise TelemetryError("truncated after the first batch", path=path)


def test_a_file_failing_mid_read_stores_nothing(inputs, tmp_path):
    store = tmp_path / "spans"
    registry = ReaderRegistry()
    registry.register(_FailingReader)
    report = ingest(inputs, store, input_format="failing", registry=registry)
    assert [error.message for error in report.failed] == ["truncated after the first batch"] * 2
    assert report.exit_code == 2
    assert _parts(store) == []
    assert not list(store.rglob(".*.tmp"))
    assert not (store / MANIFEST_NAME).exists()
    # Nothing was recorded as ingested, so the real reader still takes the files.
    assert ingest(inputs, store).spans == 10


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(NORECUR), *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_cli_ingest_end_to_end(inputs, tmp_path, otlp_json_hex):
    store = tmp_path / "spans"
    paths = [str(p) for p in inputs]
    first = _run("ingest", *paths, "--store", str(store), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert first.stdout.splitlines()[-1] == (
        f"Ingested 2 files into {store}: 10 spans in 2 days (2026-01-01: 6, 2026-01-02: 4); "
        "0 already ingested, 0 unreadable, 0 records skipped."
    )

    again = _run("ingest", *paths, "--store", str(store), "--format", "json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    payload = json.loads(again.stdout)
    assert payload["spans"] == 0
    assert [f["status"] for f in payload["files"]] == ["already-ingested"] * 2

    doc = json.loads(otlp_json_hex)
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = "abc"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    skipped = _run("ingest", str(bad), "--store", str(store), "--format", "json", cwd=tmp_path)
    assert skipped.returncode == 1, skipped.stderr
    payload = json.loads(skipped.stdout)
    assert payload["skipped"] == 1
    assert payload["files"][0]["skipped"][0]["field"].endswith("spans[1]")

    missing = _run("ingest", str(tmp_path / "nope.json"), "--store", str(store), cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stderr.startswith(f"error: {tmp_path / 'nope.json'}: cannot open")
    assert len(missing.stderr.splitlines()) == 1

    unknown = _run("ingest", paths[0], "--store", str(store), "--input-format", "x", cwd=tmp_path)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: unknown input format 'x'; known: ")
    assert len(unknown.stderr.splitlines()) == 1
