"""Malformed input: a TelemetryError naming file and record, or a skip listed in the report."""

from __future__ import annotations

import copy
import json

import pytest

from norecur.errors import TelemetryError
from norecur.telemetry import ReaderRegistry, ReadReport, read_spans
from norecur.telemetry.readers import OtlpJsonReader, OtlpProtoReader

SPAN_PATH = "resourceSpans[0].scopeSpans[0].spans[{}]"


def _read(data, tmp_path, name="t.json", reader=None):
    path = tmp_path / name
    path.write_bytes(data)
    report = ReadReport(path=str(path), reader="otlp-json")
    table = (reader or OtlpJsonReader()).read_table(path, report=report)
    return table, report, str(path)


def _with_span(document, index, **changes):
    document = copy.deepcopy(document)
    span = document["resourceSpans"][0]["scopeSpans"][0]["spans"][index]
    span.update(changes)
    return document


@pytest.fixture
def doc(otlp_json_hex):
    return json.loads(otlp_json_hex)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"traceId": 12}, "Expected `str`, got `int` - at `" + SPAN_PATH.format(1) + ".traceId`"),
        ({"spanId": "zz" * 8}, "spanId 'zzzzzzzzzzzzzzzz' is not hex"),
        ({"spanId": "abc"}, "spanId 'abc' has 3 characters; expected 16 hex digits"),
        ({"traceId": "0" * 32}, "traceId is all zeros"),
        ({"startTimeUnixNano": "soon"}, "startTimeUnixNano 'soon' is not an integer"),
        ({"endTimeUnixNano": str(2**64)}, "endTimeUnixNano 18446744073709551616 is outside"),
        ({"kind": 9}, "kind '9' is not an OTLP SpanKind"),
        ({"kind": "SPAN_KIND_WEIRD"}, "kind 'SPAN_KIND_WEIRD' is not an OTLP SpanKind"),
        ({"status": {"code": "BROKEN"}}, "status code 'BROKEN' is not an OTLP StatusCode"),
        ({"attributes": [{"key": "n", "value": {"intValue": "x1"}}]}, "intValue 'x1'"),
        ({"attributes": {"not": "a list"}}, "Expected `array`, got `object`"),
    ],
)
def test_bad_span_in_the_middle_is_skipped_and_named(doc, tmp_path, changes, message):
    table, report, path = _read(
        json.dumps(_with_span(doc, 1, **changes), indent=1).encode(), tmp_path
    )
    assert table.num_rows == 3
    (error,) = report.skipped
    assert isinstance(error, TelemetryError)
    assert error.path == path
    assert error.field == SPAN_PATH.format(1)
    assert message in error.message
    assert error.one_line().startswith(f"{path}: {SPAN_PATH.format(1)}: span skipped: ")
    assert report.spans == 3
    assert report.summary() == f"{path}: 3 spans read by otlp-json, 1 record skipped"


def test_bad_resource_skips_its_spans_only(doc, tmp_path):
    bad = copy.deepcopy(doc)
    bad["resourceSpans"].append(copy.deepcopy(doc["resourceSpans"][0]))
    bad["resourceSpans"][0]["resource"] = {"attributes": 3}
    table, report, _ = _read(json.dumps(bad, indent=1).encode(), tmp_path)
    assert table.num_rows == 4
    (error,) = report.skipped
    assert error.field == "resourceSpans[0].resource"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "file is empty"),
        (b"  \n\n", "file is empty"),
        (b'{\n  "resourceSpans": [\n', "not valid JSON"),
        (b'{\n "resourceSpans": 5\n}', "not an ExportTraceServiceRequest"),
        (b"[1, 2]\n", "not an ExportTraceServiceRequest"),
        (b'{\n "resourceSpans": [{"scopeSpans": [{"spans": [{"name": "\xff\xfe"}]}]}]}', "JSON"),
    ],
)
def test_unreadable_document_raises_naming_the_file(tmp_path, data, message):
    with pytest.raises(TelemetryError) as caught:
        _read(data, tmp_path)
    assert caught.value.path == str(tmp_path / "t.json")
    assert message in caught.value.message


def test_json_lines_skip_bad_lines_with_their_numbers(otlp_json_hex, tmp_path):
    good = json.dumps(json.loads(otlp_json_hex)).encode()
    lines = [good, good[: len(good) // 2], b"\xff\xfe{}", b"{}", good, b'{"resourceSpans": 1}']
    table, report, path = _read(b"\n".join(lines) + b"\n", tmp_path, "t.jsonl")
    assert table.num_rows == 8
    assert [(e.path, e.line) for e in report.skipped] == [(path, 2), (path, 3), (path, 6)]
    assert all(e.one_line().startswith(f"{path}:") for e in report.skipped)


def test_truncated_last_line_is_skipped(otlp_json_hex, tmp_path):
    good = json.dumps(json.loads(otlp_json_hex)).encode()
    table, report, _ = _read(good + b"\n" + good[:-10], tmp_path, "t.jsonl")
    assert table.num_rows == 4
    assert [e.line for e in report.skipped] == [2]


def test_huge_strings_are_read_intact(doc, tmp_path):
    huge = "x" * 5_000_000
    big = _with_span(doc, 2, name=huge, attributes=[{"key": "k", "value": {"stringValue": huge}}])
    table, report, _ = _read(json.dumps(big, indent=1).encode(), tmp_path)
    assert report.skipped == []
    assert huge in table.column("name").to_pylist()
    assert json.loads(table.column("attributes")[2].as_py()) == {"k": huge}


def test_missing_file_raises(tmp_path):
    with pytest.raises(TelemetryError, match="cannot open") as caught:
        list(OtlpJsonReader().read(tmp_path / "missing.json"))
    assert caught.value.path == str(tmp_path / "missing.json")


def test_protobuf_garbage_and_empty_raise(tmp_path):
    for data, message in ((b"", "file is empty"), (b"\x0a\xff\xff\xff", "not an OTLP protobuf")):
        with pytest.raises(TelemetryError, match=message):
            _read(data, tmp_path, "t.pb", OtlpProtoReader())


def test_protobuf_bad_span_is_skipped(sdk_spans, tmp_path):
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    request = encode_spans(sdk_spans)
    request.resource_spans[0].scope_spans[0].spans[2].span_id = b"\x01\x02"
    table, report, path = _read(request.SerializeToString(), tmp_path, "t.pb", OtlpProtoReader())
    assert table.num_rows == 3
    (error,) = report.skipped
    assert (error.path, error.field) == (path, SPAN_PATH.format(2))
    assert "spanId has 2 bytes; expected 8" in error.message


def test_unknown_format_raises(tmp_path):
    path = tmp_path / "spans.csv"
    path.write_text("trace_id,span_id\n")
    with pytest.raises(TelemetryError, match="unrecognised telemetry format"):
        read_spans(path)
    with pytest.raises(TelemetryError, match="unknown input format 'csv'"):
        read_spans(path, input_format="csv")


def test_registry_guards_names_and_isolates_broken_plugins(monkeypatch):
    registry = ReaderRegistry()
    registry.register(OtlpJsonReader)
    with pytest.raises(ValueError, match="already taken"):
        registry.register(OtlpJsonReader)

    class Bad(OtlpJsonReader):
        name = "Not Kebab"

    with pytest.raises(ValueError, match="lower-kebab-case"):
        registry.register(Bad)

    class EntryPoint:
        name = "broken"

        def load(self):
            raise ImportError("no module named vendor_sdk")

    monkeypatch.setattr("norecur.telemetry._reader.entry_points", lambda group: [EntryPoint()])
    registry.load_entry_points()
    assert [str(e) for e in registry.broken] == [
        "telemetry reader plugin 'broken' failed to load: no module named vendor_sdk"
    ]
