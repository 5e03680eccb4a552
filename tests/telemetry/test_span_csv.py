"""The span-csv reader: exact rows from hand-made CSV (plain and gzip), mappings, bad input."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest

from norecur.errors import TelemetryError
from norecur.telemetry import SPAN_SCHEMA, ReadReport
from norecur.telemetry.readers.span_csv import CsvColumns, SpanCsvReader, service_of_pod

T = "b0103bb0161ad7fa352fe1828eeb643a"
ROOT, CHILD, GRANDCHILD = "520b067330e3ede5", "5e89765a7f60ff70", "7e28bdb6a47af144"
GATEWAY = "ts-gateway-service-6f6cfc45b-h5m2n"
AUTH = "ts-auth-service-7f8d7d756d-k7b9j"

NEZHA = (
    "TraceID,SpanID,ParentID,PodName,OperationName,StartTimeUnixNano,EndTimeUnixNano,Duration\n"
    f"{T},{ROOT},root,{GATEWAY},/*,1674981768697000000,1674981769015316530,318316\n"
    f"{T},{CHILD},{ROOT},{GATEWAY},HTTP POST,1674981768699127513,1674981769015277277,316149\n"
    f"{T},{GRANDCHILD},{CHILD},{AUTH},/api/v1/users/login,1674981768701000000,,311521\n"
)


def _base(source: str = "span-csv") -> dict:
    return dict.fromkeys(SPAN_SCHEMA.names) | {
        "trace_id": T,
        "kind": "UNSPECIFIED",
        "status_code": "UNSET",
        "exception_count": 0,
        "attributes": "{}",
        "resource": "{}",
        "source": source,
    }


NEZHA_ROWS = [
    _base()
    | {
        "span_id": ROOT,
        "name": "/*",
        "service": "ts-gateway-service",
        "start_ns": 1674981768697000000,
        "end_ns": 1674981769015316530,
        "duration_ns": 318316530,
        "attributes": json.dumps({"k8s.pod.name": GATEWAY}, separators=(",", ":")),
        "resource": '{"service.name":"ts-gateway-service"}',
    },
    _base()
    | {
        "span_id": CHILD,
        "parent_span_id": ROOT,
        "name": "HTTP POST",
        "service": "ts-gateway-service",
        "start_ns": 1674981768699127513,
        "end_ns": 1674981769015277277,
        "duration_ns": 316149764,
        "attributes": json.dumps({"k8s.pod.name": GATEWAY}, separators=(",", ":")),
        "resource": '{"service.name":"ts-gateway-service"}',
    },
    _base()
    | {  # no end time: start + Duration (microseconds)
        "span_id": GRANDCHILD,
        "parent_span_id": CHILD,
        "name": "/api/v1/users/login",
        "service": "ts-auth-service",
        "start_ns": 1674981768701000000,
        "end_ns": 1674981768701000000 + 311521000,
        "duration_ns": 311521000,
        "attributes": json.dumps({"k8s.pod.name": AUTH}, separators=(",", ":")),
        "resource": '{"service.name":"ts-auth-service"}',
    },
]


def _write(tmp_path: Path, text: str, name: str, gz: bool = False) -> Path:
    path = tmp_path / name
    data = text.encode()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def _read(path: Path, reader: SpanCsvReader | None = None) -> tuple[pa.Table, ReadReport]:
    report = ReadReport(path=str(path), reader="span-csv")
    table = (reader or SpanCsvReader()).read_table(path, report=report)
    return table, report


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("columns", [None, CsvColumns.preset("nezha")], ids=["auto", "preset"])
def test_nezha_rows_are_exact(tmp_path, gz, columns):
    path = _write(tmp_path, NEZHA, "08_43_trace.csv.gz" if gz else "t.csv", gz)
    table, report = _read(path, SpanCsvReader(columns))
    assert table.schema == SPAN_SCHEMA
    assert table.to_pylist() == NEZHA_ROWS
    assert report.skipped == []
    assert report.spans == 3


def test_gzip_is_detected_by_magic_bytes_not_by_name(tmp_path):
    table, _ = _read(_write(tmp_path, NEZHA, "misnamed.csv", gz=True))
    assert table.num_rows == 3


def test_bytes_source_and_crlf_and_bom(tmp_path):
    data = ("\ufeff" + NEZHA).replace("\n", "\r\n").encode()
    table = SpanCsvReader().read_table(data)
    assert table.to_pylist() == NEZHA_ROWS


def test_default_mapping_with_status_kind_and_extra_columns(tmp_path):
    text = (
        "trace_id,span_id,parent_span_id,service,name,start_ns,end_ns,status_code,kind,region\n"
        f"{T.upper()},{ROOT},,checkout,GET /cart,100,250,error,SERVER,eu\n"
        f"{T},{CHILD},{ROOT},,db query,120,200,1,3,\n"
    )
    table, report = _read(_write(tmp_path, text, "spans.csv"))
    assert report.skipped == []
    assert table.to_pylist() == [
        _base()
        | {
            "span_id": ROOT,
            "name": "GET /cart",
            "kind": "SERVER",
            "service": "checkout",
            "start_ns": 100,
            "end_ns": 250,
            "duration_ns": 150,
            "status_code": "ERROR",
            "attributes": '{"region":"eu"}',
            "resource": '{"service.name":"checkout"}',
        },
        _base()
        | {
            "span_id": CHILD,
            "parent_span_id": ROOT,
            "name": "db query",
            "kind": "CLIENT",
            "start_ns": 120,
            "end_ns": 200,
            "duration_ns": 80,
            "status_code": "OK",
        },
    ]


def test_custom_mapping_with_units(tmp_path):
    columns = CsvColumns(
        trace_id="tid",
        span_id="sid",
        parent_id="pid",
        service="svc",
        operation="op",
        start="start_us",
        end="",
        duration="dur_ms",
        status="",
        kind="",
        time_unit_ns=1000,
        duration_unit_ns=1_000_000,
    )
    text = f"op,sid,tid,start_us,dur_ms,pid,svc\nlogin,{ROOT},{T},5,2,,auth\n"
    table, _ = _read(_write(tmp_path, text, "x.csv"), SpanCsvReader(columns))
    (row,) = table.to_pylist()
    assert (row["name"], row["service"], row["start_ns"], row["end_ns"]) == (
        "login",
        "auth",
        5000,
        2_005_000,
    )
    assert row["parent_span_id"] is None


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (f"{T},{ROOT},root,{GATEWAY},/*,1,2", "7 fields; the header has 8"),
        (f"{T[:-1]},{ROOT},root,{GATEWAY},/*,1,2,3", "TraceID"),
        (f"{T},{ROOT},zzzz,{GATEWAY},/*,1,2,3", "ParentID 'zzzz' is not 16 hex digits"),
        (f"{T},{ROOT},root,{GATEWAY},/*,soon,2,3", "StartTimeUnixNano 'soon' is not an integer"),
        (f"{T},{ROOT},root,{GATEWAY},/*,1,,", "neither EndTimeUnixNano nor Duration"),
        (f"{T},{ROOT},root,{GATEWAY},/*,-1,2,3", "out of range"),
    ],
)
def test_bad_row_is_skipped_with_its_line(tmp_path, line, message):
    lines = NEZHA.splitlines()
    text = "\n".join([*lines[:2], line, *lines[2:]]) + "\n"
    path = _write(tmp_path, text, "bad.csv.gz", gz=True)
    table, report = _read(path)
    assert table.to_pylist() == NEZHA_ROWS
    (error,) = report.skipped
    assert isinstance(error, TelemetryError)
    assert (error.path, error.line) == (str(path), 3)
    assert message in error.message
    assert report.summary() == f"{path}: 3 spans read by span-csv, 1 record skipped"


def test_wrong_header_names_the_file(tmp_path):
    path = _write(tmp_path, "TraceID,SpanID,Pod\nx,y,z\n", "wrong.csv")
    with pytest.raises(TelemetryError) as info:
        _read(path)
    assert info.value.path == str(path)
    assert info.value.line == 1
    assert "CSV header lacks column" in info.value.message


def test_mapping_that_does_not_fit_names_missing_columns(tmp_path):
    path = _write(tmp_path, NEZHA, "t.csv")
    with pytest.raises(TelemetryError, match=r"lacks column trace_id, span_id, name, start_ns"):
        _read(path, SpanCsvReader(CsvColumns()))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "file is empty"),
        (gzip.compress(NEZHA.encode(), mtime=0)[:-30], "truncated"),
        (b"TraceID,\xff\xfe\n", "not UTF-8"),
    ],
)
def test_unreadable_file_raises_naming_it(tmp_path, data, message):
    path = tmp_path / "broken.csv"
    path.write_bytes(data)
    with pytest.raises(TelemetryError, match=message) as info:
        _read(path)
    assert info.value.path == str(path)


def test_batches_are_bounded_and_deterministic(tmp_path):
    reader = SpanCsvReader()
    reader.batch_rows = 2
    path = _write(tmp_path, NEZHA, "t.csv.gz", gz=True)
    first = [table.num_rows for table in reader.read(path)]
    assert first == [2, 1]
    again = [SpanCsvReader().read_table(path) for _ in range(2)]
    assert again[0].equals(again[1])
    assert pa.concat_tables(reader.read(path)).to_pylist() == NEZHA_ROWS


def test_sniff():
    reader = SpanCsvReader()
    assert reader.sniff(gzip.compress(NEZHA.encode(), mtime=0)) == 90
    assert reader.sniff(b"trace_id,span_id,name,start_ns,end_ns\n") == 80
    assert reader.sniff(b"Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log\n") == 0
    assert reader.sniff(b'{"resourceSpans": []}') == 0


def test_preset_and_service_of_pod():
    assert service_of_pod("ts-contacts-service-866bd68c97-xcqfx") == "ts-contacts-service"
    assert service_of_pod("mysql-0") == "mysql-0"
    with pytest.raises(ValueError, match="unknown CSV preset 'zipkin'"):
        CsvColumns.preset("zipkin")


DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DAY = DATA / "nezha-trainticket-2023-01-29" / "rca_data" / "2023-01-29"


@pytest.mark.skipif(not (DAY / "trace").is_dir(), reason=f"real TrainTicket data absent: {DAY}")
def test_real_trainticket_minute_file():
    path = DAY / "trace" / "08_43_trace.csv.gz"
    with gzip.open(path, "rt", newline="") as stream:
        records = list(csv.reader(stream))[1:]
    table, report = _read(path)
    assert report.skipped == []
    assert table.num_rows == len(records) == 4445  # 4446 lines, header included
    rows = table.to_pylist()
    assert [(r["trace_id"], r["span_id"]) for r in rows] == [(r[0], r[1]) for r in records]
    span_ids = {(r["trace_id"], r["span_id"]) for r in rows}
    roots = sum(r["parent_span_id"] is None for r in rows)
    assert roots == sum(r[2] == "root" for r in records) > 0
    outside = [
        r
        for r in rows
        if r["parent_span_id"] is not None and (r["trace_id"], r["parent_span_id"]) not in span_ids
    ]
    assert len(outside) < len(rows) // 20  # parents started before this minute's window
    services = {r["service"] for r in rows}
    assert all(s.startswith("ts-") and s.endswith("-service") for s in services)
    assert "ts-gateway-service" in services
    assert all(r["duration_ns"] >= 0 for r in rows)
    assert all(json.loads(r["attributes"])["k8s.pod.name"].startswith(r["service"]) for r in rows)
