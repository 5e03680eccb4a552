"""The metric-csv reader: exact rows from hand-made wide and long CSV files (plain and gzip), the
Nezha presets, services from file names, and bad input named by file, line and column."""

from __future__ import annotations

import csv
import gzip
import json
import math
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from norecur.errors import TelemetryError
from norecur.telemetry.readers import METRIC_SCHEMA, MetricCsvReader
from norecur.telemetry.readers.metrics import (
    METRIC_PRESETS,
    MetricColumns,
    MetricReadReport,
    service_of_file,
)

POD = "ts-auth-service-7f8d7d756d-k7b9j"
POD_ATTRIBUTES = json.dumps({"k8s.pod.name": POD}, separators=(",", ":"))
S = 1_000_000_000

NEZHA_POD = (
    "Time,TimeStamp,PodName,CpuUsage(m),CpuUsageRate(%),MemoryUsage(Mi),"
    "PodServerLatencyP90(s),NodeCpuUsageRate(%)\n"
    f"2023-01-29 08:41:09.470514006 +0000 UTC m=+0.546675867,1674981669,{POD},"
    "2.1768154810228264,0.43535325737935365,443.6484375,NaN,2.9567186713648552\n"
    f"2023-01-29 08:42:09.244696578 +0000 UTC m=+60.320858438,1674981729,{POD},"
    "13.693260993145456,2.7385975875070954,443.21484375,0.235,\n"
)
NEZHA_FRONT = (
    "Time,TimeStamp,ServiceName,SuccessRate(%),LatencyP50(s),LatencyP99(s)\n"
    "2023-01-29 08:41:09.043078357 +0000 UTC m=+0.119240217,1674981669,Frontend,0,"
    "0.09285714285714286,0.9450000000000002\n"
)


def _row(time_ns: int, service: str, name: str, value: float, attributes: str = "{}") -> dict:
    return {
        "time_ns": time_ns,
        "service": service,
        "name": name,
        "value": value,
        "attributes": attributes,
        "source": "metric-csv",
    }


NEZHA_POD_ROWS = [
    _row(1674981669 * S, "ts-auth-service", "CpuUsage(m)", 2.1768154810228264, POD_ATTRIBUTES),
    _row(1674981669 * S, "ts-auth-service", "CpuUsageRate(%)", 0.43535325737935365, POD_ATTRIBUTES),
    _row(1674981669 * S, "ts-auth-service", "MemoryUsage(Mi)", 443.6484375, POD_ATTRIBUTES),
    _row(
        1674981669 * S, "ts-auth-service", "NodeCpuUsageRate(%)", 2.9567186713648552, POD_ATTRIBUTES
    ),
    _row(1674981729 * S, "ts-auth-service", "CpuUsage(m)", 13.693260993145456, POD_ATTRIBUTES),
    _row(1674981729 * S, "ts-auth-service", "CpuUsageRate(%)", 2.7385975875070954, POD_ATTRIBUTES),
    _row(1674981729 * S, "ts-auth-service", "MemoryUsage(Mi)", 443.21484375, POD_ATTRIBUTES),
    _row(1674981729 * S, "ts-auth-service", "PodServerLatencyP90(s)", 0.235, POD_ATTRIBUTES),
]


def _write(tmp_path: Path, text: str | bytes, name: str, gz: bool = False) -> Path:
    path = tmp_path / name
    data = text.encode() if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def _read(
    path: Path | bytes, reader: MetricCsvReader | None = None
) -> tuple[pa.Table, MetricReadReport]:
    report = MetricReadReport(path=str(path) if isinstance(path, Path) else "<bytes>", reader="m")
    return (reader or MetricCsvReader()).read_table(path, report=report), report


def test_schema_columns_metadata_and_docs():
    assert METRIC_SCHEMA.names == ["time_ns", "service", "name", "value", "attributes", "source"]
    assert [str(field.type) for field in METRIC_SCHEMA] == [
        "int64",
        "string",
        "string",
        "double",
        "string",
        "string",
    ]
    assert not any(field.nullable for field in METRIC_SCHEMA)
    assert METRIC_SCHEMA.metadata == {b"norecur.schema": b"metric", b"norecur.schema_version": b"1"}
    assert all(field.metadata[b"doc"] for field in METRIC_SCHEMA)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("columns", [None, METRIC_PRESETS["nezha"]], ids=["auto", "preset"])
def test_nezha_pod_file_rows_are_exact(tmp_path, gz, columns):
    path = _write(tmp_path, NEZHA_POD, f"{POD}_metric.csv.gz", gz)
    table, report = _read(path, MetricCsvReader(columns))
    assert table.schema == METRIC_SCHEMA
    assert table.to_pylist() == NEZHA_POD_ROWS
    assert report.skipped == []
    assert report.empty_cells == 2  # the NaN latency and the empty node CPU
    assert report.spans == 8
    assert report.summary() == f"{path}: 8 samples read by m, 0 records skipped, 2 empty cells"


def test_nezha_front_file_is_the_frontend_service(tmp_path):
    table, report = _read(_write(tmp_path, NEZHA_FRONT, "front_service.csv.gz", gz=True))
    assert table.to_pylist() == [
        _row(1674981669 * S, "Frontend", "SuccessRate(%)", 0.0),
        _row(1674981669 * S, "Frontend", "LatencyP50(s)", 0.09285714285714286),
        _row(1674981669 * S, "Frontend", "LatencyP99(s)", 0.9450000000000002),
    ]
    assert (report.skipped, report.empty_cells) == ([], 0)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_service_from_the_file_name(tmp_path, gz):
    text = "TimeStamp,CpuUsageRate(%)\n1674981669,1.5\n"
    suffix = ".csv.gz" if gz else ".csv"
    table, _ = _read(_write(tmp_path, text, f"{POD}_metric{suffix}", gz))
    assert table.to_pylist() == [
        _row(1674981669 * S, "ts-auth-service", "CpuUsageRate(%)", 1.5, POD_ATTRIBUTES)
    ]
    plain = MetricCsvReader(MetricColumns(time="TimeStamp", time_unit_ns=S))
    table, _ = _read(_write(tmp_path, text, "checkout_metrics.csv"), plain)
    assert table["service"].to_pylist() == ["checkout"]
    assert table["attributes"].to_pylist() == ["{}"]


@pytest.mark.parametrize(
    ("name", "service"),
    [
        ("/d/ts-auth-service-7f8d7d756d-k7b9j_metric.csv.gz", "ts-auth-service-7f8d7d756d-k7b9j"),
        ("api_metrics.csv", "api"),
        ("api.csv.gz", "api"),
        ("api", "api"),
        ("_metric.csv", None),
        ("<bytes>", None),
    ],
)
def test_service_of_file(name, service):
    assert service_of_file(name, MetricColumns()) == service


def test_long_layout_with_labels_and_decimal_seconds(tmp_path):
    text = (
        "time,service,name,value,region,unit\n"
        "1.5,api,cpu,0.25,eu,\n"
        "2,api,p99,1e-3,eu,s\n"
        "2.000000001,db,cpu,,eu,\n"
    )
    reader = MetricCsvReader(MetricColumns(time="time", time_unit_ns=S))
    table, report = _read(_write(tmp_path, text, "long.csv"), reader)
    assert table.to_pylist() == [
        _row(1_500_000_000, "api", "cpu", 0.25, '{"region":"eu"}'),
        _row(2_000_000_000, "api", "p99", 0.001, '{"region":"eu","unit":"s"}'),
    ]
    assert (report.skipped, report.empty_cells) == ([], 1)


def test_wide_labels_and_ignored_columns(tmp_path):
    text = "time_ns,service,node,note,cpu,mem\n7,api,n1,x,1,2\n8,api,,y,3,4\n"
    reader = MetricCsvReader(MetricColumns(labels=("node",), ignore=("note",)))
    table, report = _read(_write(tmp_path, text, "w.csv"), reader)
    assert table.to_pylist() == [
        _row(7, "api", "cpu", 1.0, '{"node":"n1"}'),
        _row(7, "api", "mem", 2.0, '{"node":"n1"}'),
        _row(8, "api", "cpu", 3.0),
        _row(8, "api", "mem", 4.0),
    ]
    assert report.skipped == []


def test_default_mapping_repeated_and_unnamed_columns(tmp_path):
    text = "time_ns,service,cpu,cpu,\n5,api,1,2,3\n"
    table, _ = _read(_write(tmp_path, text, "w.csv"))
    assert table.to_pylist() == [_row(5, "api", "cpu", 1.0)]


def test_bad_rows_and_cells_are_skipped_and_named(tmp_path):
    text = (
        "time_ns,service,cpu,mem\n"
        "1,api,1,2\n"
        "2,api,1\n"  # line 3: too few fields
        "soon,api,1,2\n"  # line 4: bad time
        "-5,api,1,2\n"  # line 5: negative time
        f"{2**63},api,1,2\n"  # line 6: beyond int64
        "7,,1,2\n"  # line 7: no service
        "8,api,lots,inf\n"  # line 8: two bad cells, the row gives nothing
        "9,api,\x1b[31m,4\n"  # line 9: a terminal escape in a cell; mem kept
        "\n"
        "10,api,5,6\n"
    )
    path = _write(tmp_path, text, "bad.csv.gz", gz=True)
    table, report = _read(path)
    assert table.to_pylist() == [
        _row(1, "api", "cpu", 1.0),
        _row(1, "api", "mem", 2.0),
        _row(9, "api", "mem", 4.0),
        _row(10, "api", "cpu", 5.0),
        _row(10, "api", "mem", 6.0),
    ]
    found = [(e.path, e.line, e.field, e.message) for e in report.skipped]
    assert found == [
        (str(path), 3, None, "row skipped: 3 fields; the header has 4"),
        (str(path), 4, None, "row skipped: time_ns 'soon' is not a non-negative number"),
        (str(path), 5, None, "row skipped: time_ns '-5' is not a non-negative number"),
        (str(path), 6, None, f"row skipped: time_ns {2**63} is outside 0..2**63-1 ns"),
        (str(path), 7, None, "row skipped: service is empty"),
        (str(path), 8, "cpu", "cell skipped: 'lots' is not a number"),
        (str(path), 8, "mem", "cell skipped: 'inf' is not a finite number"),
        (str(path), 9, "cpu", "cell skipped: '\\x1b[31m' is not a number"),
    ]
    assert report.skipped[-1].one_line() == (
        f"{path}:9: cpu: cell skipped: '\\x1b[31m' is not a number"
    )
    assert report.empty_cells == 0


@pytest.mark.parametrize(
    ("data", "name", "message", "line"),
    [
        (b"", "m.csv", "file is empty; expected a CSV header", None),
        (b"when,service,cpu\n1,a,2\n", "m.csv", "CSV header lacks the time column", 1),
        (b"time_ns,cpu\n1,2\n", "_metric.csv", "lacks the service column service", 1),
        (b"time_ns,service,cpu\n1,a,\xff\xfe\n", "m.csv", "not UTF-8 text", None),
        (
            gzip.compress(b"time_ns,service,cpu\n" + b"1,a,2\n" * 500, mtime=0)[:-30],
            "m.gz",
            "truncated",
            None,
        ),
        (b"\x1f\x8bnot gzip at all", "m.csv.gz", "cannot decompress", 1),
        (b"time_ns,service,cpu\n1,a," + b"9" * 200_000 + b"\n", "m.csv", "field larger", 2),
    ],
    ids=["empty", "no-time", "no-service", "not-utf8", "truncated-gzip", "bad-gzip", "huge-field"],
)
def test_unreadable_files_raise_naming_the_file(tmp_path, data, name, message, line):
    path = _write(tmp_path, data, name)
    with pytest.raises(TelemetryError, match=message) as caught:
        _read(path)
    assert caught.value.path == str(path)
    if line is not None:
        assert caught.value.line == line


def test_bytes_without_a_service_column_cannot_name_the_service():
    with pytest.raises(TelemetryError, match="the file name gives no service") as caught:
        _read(b"time_ns,cpu\n1,2\n")
    assert caught.value.path == "<bytes>"


def test_unknown_preset():
    assert MetricColumns.preset("nezha") is METRIC_PRESETS["nezha"]
    with pytest.raises(ValueError, match="unknown metric preset 'prom'; known: nezha"):
        MetricColumns.preset("prom")


def test_deterministic_sniff_and_batches(tmp_path):
    path = _write(tmp_path, NEZHA_POD, "p.csv.gz", gz=True)
    assert MetricCsvReader().read_table(path).equals(MetricCsvReader().read_table(path))
    reader = MetricCsvReader()
    assert reader.sniff(gzip.compress(NEZHA_POD.encode(), mtime=0)) == 70
    assert reader.sniff(NEZHA_FRONT.encode()) == 70
    assert reader.sniff(b"TraceID,SpanID,ParentID,PodName,OperationName\n") == 0
    assert reader.sniff(b"\x00\x01") == 0
    only_time = b"TimeStamp,CpuUsageRate(%)\n1674981669,1.5\n"
    assert reader.sniff(only_time, f"{POD}_metric.csv.gz") == 60
    assert reader.sniff(only_time, "cpu.csv") == 0
    assert reader.sniff(only_time) == 0
    small = MetricCsvReader()
    small.batch_rows = 3
    report = MetricReadReport(path=str(path), reader="metric-csv")
    batches = list(small.read(path, report=report))
    assert [batch.num_rows for batch in batches] == [4, 4]
    assert pa.concat_tables(batches).to_pylist() == NEZHA_POD_ROWS
    assert report.empty_cells == 2
    assert MetricCsvReader().read_table(_write(tmp_path, "time_ns,service,cpu\n", "h.csv")) == (
        METRIC_SCHEMA.empty_table()
    )


# --------------------------------------------------------------------------------------------
# Fuzz: every cell is a sample, an empty cell or a named skip; any bytes read or raise
# --------------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

NUMBERS = st.floats(allow_nan=False, allow_infinity=False).map(lambda x: ("number", repr(x)))
EMPTY = st.sampled_from(["", " ", "\u2028", "NaN", "nan", "-nan"]).map(lambda text: ("empty", text))
GARBAGE = st.one_of(
    st.sampled_from(["inf", "-Infinity", "1,5", "0x10", "1e", "--1", "\x00", '"', "\x1b"]),
    # no line breaks, so a record is one line and its line number is known
    st.text(min_size=1, max_size=12).filter(
        lambda text: text.strip() and "\n" not in text and "\r" not in text and _not_a_float(text)
    ),
).map(lambda text: ("garbage", text))


def _not_a_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return True
    return False


CELLS = st.one_of(NUMBERS, EMPTY, GARBAGE)


@FUZZ
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 2**62), st.lists(CELLS, min_size=3, max_size=3)), max_size=12
    ),
    gz=st.booleans(),
)
def test_fuzzed_cells_are_read_counted_or_named(tmp_path_factory, rows, gz):
    path = tmp_path_factory.mktemp("fuzz") / "checkout_metric.csv"
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["time_ns", "a", "b", "c"])
        for time_ns, cells in rows:
            writer.writerow([time_ns, *(text for _, text in cells)])
    if gz:
        path.write_bytes(gzip.compress(path.read_bytes(), mtime=0))
    table, report = _read(path)
    expected = [
        _row(time_ns, "checkout", name, float(text))
        for time_ns, cells in rows
        for name, (kind, text) in zip("abc", cells, strict=True)
        if kind == "number"
    ]
    assert table.to_pylist() == expected
    assert all(math.isfinite(value) for value in table["value"].to_pylist())
    assert report.empty_cells == sum(kind == "empty" for _, cells in rows for kind, _ in cells)
    garbage = [
        (line, name)
        for line, (_, cells) in enumerate(rows, start=2)
        for name, (kind, _) in zip("abc", cells, strict=True)
        if kind == "garbage"
    ]
    assert [(e.line, e.field) for e in report.skipped] == garbage
    assert all(e.path == str(path) for e in report.skipped)


@FUZZ
@given(
    data=st.binary(max_size=300)
    | st.lists(
        st.sampled_from(
            [
                *("time_ns", "service", "name", "value", "TimeStamp", "PodName", ",", "\n"),
                *('"', "\r", "NaN", "-1", "1.5", "\x00", "\xff", "a-b-c", "9" * 30, " ", "1", "x"),
            ]
        ),
        max_size=40,
    ).map(lambda parts: "".join(parts).encode())
)
def test_any_bytes_read_or_raise_a_telemetry_error(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("bytes") / "x_metric.csv"
    path.write_bytes(data)
    error: TelemetryError | None = None
    try:
        table, report = _read(path)
    except TelemetryError as caught:
        error = caught
    if error is not None:
        assert error.path == str(path)
        assert "\n" not in error.one_line()
        return
    assert table.schema == METRIC_SCHEMA
    assert all(math.isfinite(value) for value in table["value"].to_pylist())
    assert all(e.path == str(path) and e.line is not None for e in report.skipped)


DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
METRIC = DATA / "nezha-trainticket-2023-01-29" / "rca_data" / "2023-01-29" / "metric"


@pytest.mark.skipif(not METRIC.is_dir(), reason=f"real TrainTicket data absent: {METRIC}")
def test_real_trainticket_pod_file():
    path = next(METRIC.glob("ts-contacts-service-*_metric.csv.gz"))
    with gzip.open(path, "rt", newline="") as stream:
        header, *records = list(csv.reader(stream))
    table, report = _read(path)
    metrics = header[3:]
    cells = [cell for record in records for cell in record[3:]]
    assert report.skipped == []
    assert report.empty_cells == sum(cell in ("", "NaN") for cell in cells)
    assert table.num_rows == len(cells) - report.empty_cells > 0
    assert set(table["service"].to_pylist()) == {"ts-contacts-service"}
    assert set(table["name"].to_pylist()) <= set(metrics)
    first = records[0]
    cpu = header.index("CpuUsageRate(%)")
    assert table.slice(0, len(metrics)).to_pylist()[cpu - 3] == _row(
        int(first[1]) * S,
        "ts-contacts-service",
        "CpuUsageRate(%)",
        float(first[cpu]),
        json.dumps({"k8s.pod.name": first[2]}, separators=(",", ":")),
    )
