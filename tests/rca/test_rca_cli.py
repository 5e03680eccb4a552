"""`norecur rca` run for real on files an instrumented app would export, and on garbage."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import jsonschema
import pytest
from cli_run import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.trace import SpanKind
from sdk_traces import S, otlp_json, otlp_proto


def _checkout(n: int, failing: set[int]) -> list[S]:
    return [
        S(
            "web",
            "POST /checkout",
            0,
            200,
            kind=SpanKind.SERVER,
            error="payment failed" if i in failing else None,
            attributes={"session.id": f"s{i}"},
            children=[
                S(
                    "payments",
                    "charge card",
                    10,
                    150,
                    kind=SpanKind.CLIENT,
                    attributes={"http.response.status_code": 502 if i in failing else 200},
                )
            ],
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def incident(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("incident")
    (folder / "traces.json").write_bytes(otlp_json(*_checkout(12, {1, 2, 5, 7})))
    (folder / "more.pb").write_bytes(
        otlp_proto(*_checkout(4, {0}), offset_ms=500_000, id_base=1000)
    )
    return folder


def test_text_summary_names_the_root_cause(incident):
    done = run("rca", "traces.json", "more.pb", cwd=incident)
    assert done.returncode == 0, done.stderr
    assert "Root cause: payments" in done.stdout
    assert "class upstream" in done.stdout
    assert "Traceback" not in done.stderr


def test_json_report_is_valid_and_identical_across_runs(incident):
    first = run("rca", "traces.json", "more.pb", "--format", "json", cwd=incident)
    second = run("rca", "more.pb", "traces.json", "--format", "json", cwd=incident)
    assert first.returncode == 0, first.stderr
    document = json.loads(first.stdout)
    schema = json.loads(run("schema", "--fault-report", cwd=incident).stdout)
    jsonschema.validate(document, schema)
    assert document["root_cause"]["component"] == "payments"
    assert document["inputs"]["traces"] == 16
    assert document["inputs"]["failed_traces"] == 5
    assert [file["reader"] for file in document["inputs"]["files"]] == ["otlp-json", "otlp-proto"]
    # the file order differs, so the inputs section does; everything the analysis found may not
    del document["inputs"]
    again = json.loads(second.stdout)
    del again["inputs"]
    assert document == again


def test_graph_formats_and_output_file(incident):
    done = run("rca", "traces.json", "--format", "mermaid", cwd=incident)
    assert done.stdout.startswith("flowchart LR\n")
    assert "==>|error in 4 traces|" in done.stdout
    done = run("rca", "traces.json", "--format", "dot", "-o", "graph.dot", cwd=incident)
    assert done.returncode == 0
    assert (incident / "graph.dot").read_text().startswith("digraph propagation {")
    done = run("rca", "traces.json", "--format", "markdown", cwd=incident)
    assert "# Fault report" in done.stdout


def test_window_keeps_only_the_traces_inside(incident):
    # the second file's traces start 500 s after the first file's
    done = run(
        "rca",
        "traces.json",
        "more.pb",
        "--window",
        "2026-01-01T00:08:00Z",
        "2026-01-01T01:00:00",
        "--format",
        "json",
        cwd=incident,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["inputs"]["traces"] == 4
    assert document["inputs"]["window"] == {
        "start_ns": 1_767_225_600_000_000_000 + 480 * 10**9,
        "end_ns": 1_767_225_600_000_000_000 + 3600 * 10**9,
    }


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (("yesterday", "2026-01-01"), "error: --window: not a time: 'yesterday'"),
        (("2026-01-02", "2026-01-01"), "error: --window: the window ends before it starts"),
    ],
)
def test_bad_window_is_one_line_and_exit_2(incident, window, message):
    done = run("rca", "traces.json", "--window", *window, cwd=incident)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(message)


def test_unreadable_file_is_named_and_the_rest_is_diagnosed(incident, tmp_path):
    (tmp_path / "traces.json").write_bytes((incident / "traces.json").read_bytes())
    (tmp_path / "garbage.bin").write_bytes(b"\x00\x01\x02 not telemetry")
    done = run("rca", "traces.json", "garbage.bin", "missing.json", cwd=tmp_path)
    assert done.returncode == 2
    errors = done.stderr.strip().splitlines()
    assert errors[0].startswith("error: garbage.bin: unrecognised telemetry format")
    assert errors[1] == "error: missing.json: cannot open: No such file or directory"
    assert "Root cause: payments" in done.stdout
    assert "2 unreadable files" in done.stdout


def test_malformed_records_are_skipped_listed_and_exit_1(incident, tmp_path):
    document = json.loads((incident / "traces.json").read_text())
    spans = document["resourceSpans"][0]["scopeSpans"][0]["spans"]
    spans[0]["startTimeUnixNano"] = "not a number"
    (tmp_path / "bad.json").write_text(json.dumps(document))
    done = run("rca", "bad.json", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    (skipped,) = report["inputs"]["files"][0]["skipped"]
    assert skipped.startswith("bad.json:")
    assert "startTimeUnixNano" in skipped


def test_logs_and_metrics_files_are_routed_by_content(tmp_path):
    (tmp_path / "traces.json").write_bytes(otlp_json(*_checkout(6, set())))
    logs = "\n".join(
        json.dumps(
            {
                "time_ns": 1_767_225_600_000_000_000 + i,
                "trace_id": f"{i + 1:032x}",
                "span_id": f"{2 * i + 2:016x}",
                "service": "payments",
                "message": "ERROR card network refused" if i < 3 else "INFO ok",
            }
        )
        for i in range(6)
    )
    with gzip.open(tmp_path / "app.log.gz", "wt") as stream:
        stream.write(logs)
    done = run("rca", "traces.json", "app.log.gz", "--format", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [file["reader"] for file in report["inputs"]["files"]] == ["otlp-json", "logs"]
    assert report["inputs"]["failed_traces"] == 3
    assert report["root_cause"]["component"] == "payments"


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_give_one_line_errors_never_a_traceback(tmp_path, payload):
    path = tmp_path / "input.json"
    path.write_bytes(payload)
    done = run("rca", path, "--format", "json", cwd=tmp_path)
    assert done.returncode in (0, 1, 2)
    assert "Traceback" not in done.stderr
    for line in done.stderr.strip().splitlines():
        assert line.startswith("error: ")


def test_analyzer_explains_itself_with_its_engine_settings(tmp_path):
    done = run("analyzer", "spectrum", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("spectrum (engine weight 0.8)\n")
    assert "  relative = False  (norecur rca: True)" in done.stdout
    every = run("analyzer", "--all", cwd=tmp_path)
    for name in ("error-propagation", "new-values", "latency-shift", "C101 judge-component"):
        assert name in every.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("analyzer", "nope"), "error: unknown analyzer 'nope'; known: "),
        (("analyzer",), "error: name one analyzer, or pass --all"),
        (("analyzer", "spectrum", "--all"), "error: name one analyzer, or pass --all"),
    ],
)
def test_analyzer_usage_errors_are_one_line(tmp_path, args, message):
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(message)


def test_spans_from_the_ingested_store_give_the_same_diagnosis(incident, tmp_path):
    store = tmp_path / "spans"
    assert run("ingest", incident / "traces.json", "--store", store, cwd=tmp_path).returncode == 0
    window = ("--window", "2026-01-01T00:00:00Z", "2026-01-01T01:00:00Z")
    from_store = run("rca", "--store", store, *window, "--format", "json", cwd=tmp_path)
    from_file = run("rca", incident / "traces.json", *window, "--format", "json", cwd=tmp_path)
    assert from_store.returncode == 0, from_store.stderr
    stored, read = json.loads(from_store.stdout), json.loads(from_file.stdout)
    assert stored["inputs"]["files"] == [
        {"path": str(store), "reader": "span-store", "records": 24, "skipped": []}
    ]
    assert stored["ranking"] == read["ranking"]
    assert stored["root_cause"]["component"] == "payments"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("rca",), "error: name INPUT files, a span store with --store and --window, or --records"),
        (("rca", "--store", "spans"), "error: --store: --store needs --window"),
        (
            ("rca", "x.json", "--baseline-window", "2026-01-01", "2026-01-02"),
            "error: --baseline-window: --baseline-window reads from a span store: add --store",
        ),
    ],
)
def test_store_usage_errors_are_one_line(tmp_path, args, message):
    done = run(*args, cwd=tmp_path)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(message)
