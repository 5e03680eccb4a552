"""The logs reader: exact rows from hand-made CSV and JSON Lines, levels, error_spans, bad input."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest

from norecur.errors import TelemetryError
from norecur.telemetry import ReadReport
from norecur.telemetry.readers.logs import (
    LOG_SCHEMA,
    LogColumns,
    LogsReader,
    error_spans,
    level_of,
)

T1, T2 = "ffc8ca7e4c8f06c75142c880d5595d96", "dc7db5cbec8d511cb7e08fd7c7b47c00"
S1, S2 = "439bc949a9eeb0cc", "b6ce9b3cd8b064a8"
TRAVEL = "ts-travel-service-64469b5b48-25zj6"
CONTACTS = "ts-contacts-service-866bd68c97-xcqfx"


def _envelope(line: str) -> str:
    body = json.dumps({"log": line + "\n", "stream": "stdout", "time": "t"}, separators=(",", ":"))
    return '"' + body.replace('"', '""') + '"'


NEZHA = (
    "Timestamp,TimeUnixNano,Node,PodName,Container,TraceID,SpanID,Log\n"
    f"2023-01-29T08:42:22Z,1674981742383150913,n1,{TRAVEL},server,{T1},{S1},"
    + _envelope(f"16:42:22.382 INFO  t.s.TravelServiceImpl#532 TraceID: {T1} [Route: error=none]")
    + "\n"
    f"2023-01-29T08:43:17Z,1674981797121704441,n2,{CONTACTS},server,{T2},{S2},"
    + _envelope("16:43:17.120 ERROR  c.s.ContactsServiceImpl#37 [No contacts]")
    + "\n"
    f"2023-01-29T08:43:18Z,1674981798000000000,n2,{CONTACTS},server,,,"
    + _envelope("16:43:18.000 WARN  c.s.Other [slow]")
    + "\n"
)


def _row(trace, span, time_ns, service, level, message, node, pod, ts) -> dict:
    attributes = {
        "Container": "server",
        "Node": node,
        "Timestamp": ts,
        "k8s.pod.name": pod,
        "log.stream": "stdout",
        "log.time": "t",
    }
    return {
        "trace_id": trace,
        "span_id": span,
        "time_ns": time_ns,
        "service": service,
        "level": level,
        "message": message,
        "attributes": json.dumps(attributes, separators=(",", ":"), sort_keys=True),
        "source": "logs",
    }


NEZHA_ROWS = [
    _row(
        T1,
        S1,
        1674981742383150913,
        "ts-travel-service",
        "INFO",
        f"16:42:22.382 INFO  t.s.TravelServiceImpl#532 TraceID: {T1} [Route: error=none]",
        "n1",
        TRAVEL,
        "2023-01-29T08:42:22Z",
    ),
    _row(
        T2,
        S2,
        1674981797121704441,
        "ts-contacts-service",
        "ERROR",
        "16:43:17.120 ERROR  c.s.ContactsServiceImpl#37 [No contacts]",
        "n2",
        CONTACTS,
        "2023-01-29T08:43:17Z",
    ),
    _row(
        None,
        None,
        1674981798000000000,
        "ts-contacts-service",
        "WARN",
        "16:43:18.000 WARN  c.s.Other [slow]",
        "n2",
        CONTACTS,
        "2023-01-29T08:43:18Z",
    ),
]


def _write(tmp_path: Path, text: str, name: str, gz: bool = False) -> Path:
    path = tmp_path / name
    data = text.encode()
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def _read(path: Path, reader: LogsReader | None = None) -> tuple[pa.Table, ReadReport]:
    report = ReadReport(path=str(path), reader="logs")
    return (reader or LogsReader()).read_table(path, report=report), report


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("columns", [None, LogColumns.preset("nezha")], ids=["auto", "preset"])
def test_nezha_csv_rows_are_exact(tmp_path, gz, columns):
    table, report = _read(_write(tmp_path, NEZHA, "08_42_log.csv.gz", gz), LogsReader(columns))
    assert table.schema == LOG_SCHEMA
    assert table.to_pylist() == NEZHA_ROWS
    assert report.skipped == []


def test_error_spans_is_the_join_key(tmp_path):
    table, _ = _read(_write(tmp_path, NEZHA, "l.csv"))
    assert error_spans(table) == {(T2, S2)}
    assert error_spans(table, frozenset({"WARN", "ERROR"})) == {(T2, S2)}  # WARN has no span
    assert error_spans(table, frozenset({"INFO"})) == {(T1, S1)}
    assert error_spans(LOG_SCHEMA.empty_table()) == set()


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_jsonl_default_mapping(tmp_path, gz):
    lines = [
        {"trace_id": T1, "span_id": S1, "time_ns": 5, "service": "api", "message": "fine"},
        {"trace_id": T1, "span_id": S2, "time_ns": "6", "level": "warning", "message": "hm"},
        {"time_ns": 7, "message": "2024-01-01 12:00:00 CRITICAL disk full", "host": "h1"},
    ]
    text = "\n".join(json.dumps(line) for line in lines) + "\n\n"
    table, report = _read(_write(tmp_path, text, "logs.jsonl", gz))
    assert report.skipped == []
    assert table.to_pylist() == [
        {
            "trace_id": T1,
            "span_id": S1,
            "time_ns": 5,
            "service": "api",
            "level": None,
            "message": "fine",
            "attributes": "{}",
            "source": "logs",
        },
        {
            "trace_id": T1,
            "span_id": S2,
            "time_ns": 6,
            "service": None,
            "level": "WARN",
            "message": "hm",
            "attributes": "{}",
            "source": "logs",
        },
        {
            "trace_id": None,
            "span_id": None,
            "time_ns": 7,
            "service": None,
            "level": "FATAL",
            "message": "2024-01-01 12:00:00 CRITICAL disk full",
            "attributes": '{"host":"h1"}',
            "source": "logs",
        },
    ]


def test_jsonl_bad_lines_are_skipped_with_line_numbers(tmp_path):
    text = (
        '{"time_ns": 1, "message": "a"}\n'
        "not json\n"
        "[1, 2]\n"
        '{"time_ns": "x", "message": "b"}\n'
        '{"time_ns": 2, "message": "c", "trace_id": "short"}\n'
        '{"time_ns": 3, "message": "d"}\n'
    )
    path = _write(tmp_path, text, "l.jsonl")
    table, report = _read(path)
    assert table["message"].to_pylist() == ["a", "d"]
    assert [(e.path, e.line) for e in report.skipped] == [(str(path), n) for n in (2, 3, 4, 5)]
    assert "time_ns 'x' is not an integer" in report.skipped[2].message
    assert "trace_id 'short' is not 32 hex digits" in report.skipped[3].message


def test_csv_bad_row_is_skipped_with_its_line(tmp_path):
    lines = NEZHA.splitlines()
    text = "\n".join([*lines[:2], "a,b,c", *lines[2:]]) + "\n"
    path = _write(tmp_path, text, "l.csv.gz", gz=True)
    table, report = _read(path)
    assert table.to_pylist() == NEZHA_ROWS
    (error,) = report.skipped
    assert (error.path, error.line) == (str(path), 3)
    assert "3 fields; the header has 8" in error.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Timestamp,Node,Log\n1,2,3\n", "log fields lack time_ns, message"),
        ('{"when": 1, "message": "x"}\n', "log fields lack time_ns"),
        ("", "file is empty"),
    ],
)
def test_wrong_header_names_the_file(tmp_path, text, message):
    path = _write(tmp_path, text, "l.csv")
    with pytest.raises(TelemetryError, match=message) as info:
        _read(path)
    assert info.value.path == str(path)


@pytest.mark.parametrize(
    ("message", "level"),
    [
        ("16:42:22.382 INFO  t.s.X [result: ERROR]", "INFO"),
        ("16:42:22.382 ERROR t.s.X", "ERROR"),
        ("[warning] disk", "WARN"),
        ("plain text without a level", None),
        ("x" * 90 + " ERROR too far", None),
    ],
)
def test_level_of(message, level):
    assert level_of(message) == level


def test_deterministic_and_sniff(tmp_path):
    path = _write(tmp_path, NEZHA, "l.csv.gz", gz=True)
    assert LogsReader().read_table(path).equals(LogsReader().read_table(path))
    reader = LogsReader()
    assert reader.sniff(gzip.compress(NEZHA.encode(), mtime=0)) == 70
    assert reader.sniff(b'{"time_ns": 1, "message": "m"}\n') == 60
    assert reader.sniff(b"TraceID,SpanID,ParentID,PodName,OperationName\n") == 0


DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DAY = DATA / "nezha-trainticket-2023-01-29" / "rca_data" / "2023-01-29"


@pytest.mark.skipif(not (DAY / "log").is_dir(), reason=f"real TrainTicket data absent: {DAY}")
def test_real_trainticket_minute_file():
    path = DAY / "log" / "08_43_log.csv.gz"
    with gzip.open(path, "rt", newline="") as stream:
        records = list(csv.reader(stream))[1:]
    table, report = _read(path)
    assert report.skipped == []
    assert table.num_rows == len(records) > 0
    assert table["trace_id"].to_pylist() == [r[5] for r in records]
    levels = set(table["level"].to_pylist())
    assert levels <= {"INFO", "WARN", "ERROR"}
    assert "INFO" in levels
    assert all(s.startswith("ts-") and s.endswith("-service") for s in table["service"].to_pylist())
    errors = error_spans(table)
    assert errors == {(r[5], r[6]) for r in records if " ERROR " in r[7][:60]}
    assert all(not m.endswith("\n") for m in table["message"].to_pylist())
