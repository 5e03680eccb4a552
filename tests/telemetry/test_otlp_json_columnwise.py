"""The otlp-json reader's column-wise path gives exactly the table of its span-by-span path.

The span-by-span path (``OtlpJsonReader.columnwise = False``) is the reader as it was before the
column-wise path existed: per-span parsing and ``RowWriter.add``, whose attribute precedence now
lives, unchanged, in ``lift_attributes``. Tables are compared as Arrow IPC bytes, batch by batch,
together with the read report.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import random
from pathlib import Path

import pyarrow as pa
import pytest

from norecur.telemetry import ReadReport
from norecur.telemetry.readers import OtlpJsonReader

BENCHMARK = Path(__file__).parents[2] / "benchmarks" / "otlp_read.py"

LIFTED_KEYS = [
    "openinference.span.kind",
    "gen_ai.operation.name",
    "gen_ai.provider.name",
    "gen_ai.system",
    "llm.provider",
    "gen_ai.request.model",
    "llm.model_name",
    "gen_ai.response.model",
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
    "gen_ai.agent.name",
    "agent.name",
    "gen_ai.tool.name",
    "tool.name",
    "session.id",
    "gen_ai.conversation.id",
    "user.id",
    "enduser.id",
    "http.response.status_code",
    "http.status_code",
    "error.type",
]
OTHER_KEYS = ["a", "b.c", "zeta", "é", 'key,"q', "retrieval.top_k", "temperature"]
STRINGS = [
    "chat",
    "LLM",
    "tool",
    "Agent",
    'x,"y',
    "a\\b",
    "é ü",
    "",
    "bogus",
    "embeddings",
    "5",
    '","',
    'a",',
]


def _benchmark_data(spans: int) -> bytes:
    spec = importlib.util.spec_from_file_location("otlp_read_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    data, _ = module.generate(spans)
    return data


def _any_value(rng: random.Random, depth: int = 0) -> dict:
    roll = rng.random()
    if roll < 0.35:
        return {"stringValue": rng.choice(STRINGS)}
    if roll < 0.5:
        return {"intValue": rng.choice([5, "7", 2**63, "-3", "12", 2**64 - 1, " 8", "x1"])}
    if roll < 0.58:
        return {"boolValue": rng.choice([True, False])}
    if roll < 0.68:
        return {"doubleValue": rng.choice([0.2, 1e-7, 3.0, "NaN", "-Infinity", 1e300, -0.0, "zz"])}
    if roll < 0.74 and depth < 2:
        values = [_any_value(rng, depth + 1) for _ in range(rng.randrange(3))]
        return {"arrayValue": {"values": values}}
    if roll < 0.8 and depth < 2:
        values = [
            {"key": rng.choice("zam"), "value": _any_value(rng, depth + 1)}
            for _ in range(rng.randrange(3))
        ]
        return {"kvlistValue": {"values": values}}
    return rng.choice(
        [{"bytesValue": "aGVsbG8="}, {}, {"stringValue": "s", "intValue": 4}, {"doubleValue": 2.5}]
    )


FAMILIES = {
    "string": lambda rng: {"stringValue": rng.choice(STRINGS)},
    "int": lambda rng: {"intValue": rng.choice([5, "7", 2**63, "-3", "007", " 8", 2**64 - 1])},
    "double": lambda rng: {"doubleValue": rng.choice([0.2, 1e-7, 3, "NaN", "Infinity", -0.0])},
    "bool": lambda rng: {"boolValue": rng.choice([True, False])},
    "kvlist": lambda rng: {
        "kvlistValue": {
            "values": [{"key": key, "value": {"stringValue": key}} for key in rng.sample("zamq", 3)]
        }
    },
    "mixed": lambda rng: rng.choice([{"stringValue": "s"}, {"doubleValue": 1.5}, {}]),
}


def _plain_value(rng: random.Random, key: str, family: str) -> dict:
    """Well-formed: lifted keys get the type their column takes, other keys one family each."""
    if key in OTHER_KEYS:
        return FAMILIES[family](rng)
    if "token" in key or "status" in key:
        if rng.random() < 0.02:  # stringValue comes first, wherever the field stands
            return {"intValue": 4, "stringValue": "12"}
        return {"intValue": rng.choice([str(rng.randrange(1000)), rng.randrange(1000)])}
    return {"stringValue": rng.choice(["chat", "LLM", "tool", "openai", "Retriever"])}


def _span(rng: random.Random, signature: tuple, trace: int, index: int, weird: bool) -> dict:
    keys, family = signature
    attributes = []
    for key in keys:
        pair: dict = {"key": key}
        if not (weird and rng.random() < 0.05):
            pair["value"] = _any_value(rng) if weird else _plain_value(rng, key, family)
        attributes.append(pair)
    trace_id, span_id = f"{trace + 1:032x}", f"{trace * 100 + index + 1:016x}"
    if weird:
        trace_id = rng.choice(
            [trace_id] * 6
            + [trace_id.upper(), base64.b64encode(bytes.fromhex(trace_id)).decode(), "0" * 32]
        )
        span_id = rng.choice([span_id] * 6 + [span_id.upper(), "abc", "zz" * 8])
    start = 1_767_225_600_000_000_000 + index
    span = {
        "traceId": trace_id,
        "spanId": span_id,
        "name": rng.choice("abc"),
        "startTimeUnixNano": rng.choice([start, str(start)]),
        "endTimeUnixNano": str(start + rng.randrange(100)),
        "attributes": attributes,
    }
    if index and rng.random() < 0.8:
        span["parentSpanId"] = f"{trace * 100 + 1:016x}"
    if weird and rng.random() < 0.1:
        span["startTimeUnixNano"] = rng.choice(["soon", "-5", str(2**64), " 12 ", "1_000"])
    if rng.random() < 0.7:
        span["kind"] = rng.choice([0, 1, 3, "SPAN_KIND_SERVER", "CLIENT", *([9] if weird else [])])
    if rng.random() < 0.7:
        code = rng.choice([0, 1, 2, "STATUS_CODE_ERROR", "OK", *(["BROKEN"] if weird else [])])
        span["status"] = {"code": code, "message": rng.choice(["", "boom"])}
    if rng.random() < 0.2:
        span["events"] = [
            {
                "name": rng.choice(["exception", "log"]),
                "attributes": [
                    {"key": "exception.type", "value": _any_value(rng)}
                    for _ in range(rng.randrange(3))
                ],
            }
            for _ in range(rng.randrange(1, 3))
        ]
    return span


def _document(rng: random.Random, weird: bool) -> dict:
    resource_spans = []
    for _ in range(rng.randrange(1, 3)):
        signatures = []
        for _ in range(rng.choice([1, 1, 2, 5, 40])):
            keys = rng.sample(LIFTED_KEYS + OTHER_KEYS, rng.randrange(7))
            if keys and rng.random() < 0.1:
                keys.append(rng.choice(keys))
            signatures.append((keys, rng.choice(list(FAMILIES))))
        scopes = [
            {
                "spans": [
                    _span(rng, rng.choice(signatures), trace, i, weird and rng.random() < 0.3)
                    for i in range(rng.randrange(60))
                ]
            }
            for trace in rng.sample(range(1000), rng.randrange(1, 3))
        ]
        resource = {
            "attributes": [
                {"key": "service.name", "value": {"stringValue": rng.choice(["svc", "x"])}},
                {"key": "z", "value": _any_value(rng)},
            ]
        }
        resource_spans.append({"resource": resource, "scopeSpans": scopes})
    return {"resourceSpans": resource_spans}


def _read(data: bytes, *, columnwise: bool, batch_rows: int | None = None) -> tuple:
    reader = OtlpJsonReader()
    reader.columnwise = columnwise
    if batch_rows is not None:
        reader.batch_rows = batch_rows
    report = ReadReport(path="<bytes>", reader="otlp-json")
    try:
        tables = list(reader.read(data, report=report))
    except Exception as exc:  # the two paths must fail alike too
        return ("raised", type(exc).__name__, str(exc))
    encoded = []
    for table in tables:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        encoded.append(sink.getvalue().to_pybytes())
    return encoded, [error.one_line() for error in report.skipped], report.spans


def _same(data: bytes, batch_rows: int | None = None) -> tuple:
    fast = _read(data, columnwise=True, batch_rows=batch_rows)
    assert fast == _read(data, columnwise=False, batch_rows=batch_rows)
    return fast


@pytest.mark.parametrize("batch_rows", [None, 700])
def test_benchmark_data_reads_the_same(batch_rows):
    tables, skipped, spans = _same(_benchmark_data(3000), batch_rows)
    assert spans == 3000
    assert skipped == []
    assert len(tables) == (1 if batch_rows is None else 3)  # 1000 rows a batch: 500 a line


@pytest.mark.parametrize("encoding", ["otlp_json_base64", "otlp_json_hex"])
def test_sdk_export_reads_the_same(request, encoding):
    tables, skipped, spans = _same(request.getfixturevalue(encoding))
    assert (len(tables), skipped, spans) == (1, [], 4)


@pytest.mark.parametrize("seed", range(60))
def test_tricky_documents_read_the_same(seed):
    """Mixed key signatures, precedence clashes, duplicate keys, every AnyValue shape, base64 and
    upper-case ids, malformed spans: whatever the span-by-span path does, column-wise does too."""
    rng = random.Random(seed)
    weird = seed % 3 != 0
    lines = [json.dumps(_document(rng, weird)) for _ in range(rng.randrange(1, 4))]
    result = _same(("\n".join(lines) + "\n").encode(), batch_rows=rng.choice([None, 30]))
    assert result[0] != "raised"


def test_signatures_of_one_length_read_the_same():
    """Spans whose attribute lists have the same length but different keys, interleaved."""
    keys = [["gen_ai.operation.name", "a"], ["a", "gen_ai.operation.name"], ["tool.name", "zeta"]]
    spans = [
        {
            "traceId": f"{index + 1:032x}",
            "spanId": f"{index + 1:016x}",
            "startTimeUnixNano": "1",
            "endTimeUnixNano": "2",
            "attributes": [
                {"key": key, "value": {"stringValue": f"v{index}"}} for key in keys[index % 3]
            ],
        }
        for index in range(30)
    ]
    document = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    tables, skipped, read = _same(json.dumps(document).encode())
    assert (len(tables), skipped, read) == (1, [], 30)


@pytest.mark.parametrize("columnwise", [True, False])
def test_integers_beyond_64_bits_are_kept_not_fatal(tmp_path, columnwise, monkeypatch):
    """OTLP/JSON carries ints as strings; one beyond 64 bits must not abort the read."""
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": []},
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0af7651916cd43dd8448eb211c80319c",
                                "spanId": "b7ad6b7169203331",
                                "name": "x",
                                "startTimeUnixNano": "1",
                                "endTimeUnixNano": "2",
                                "attributes": [
                                    {
                                        "key": "big",
                                        "value": {"intValue": "99999999999999999999999"},
                                    },
                                    {
                                        "key": "small",
                                        "value": {"intValue": "-99999999999999999999999"},
                                    },
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc))
    monkeypatch.setattr(OtlpJsonReader, "columnwise", columnwise)
    table = OtlpJsonReader().read_table(path)
    assert table.column("attributes").to_pylist() == [
        '{"big":99999999999999999999999,"small":-99999999999999999999999}'
    ]
