"""The chapter's worked example end to end, from generated request-level data: the aggregate goes
up, policy_comparison goes down, the 18:00 prompt deploy ranks first, the class is prompt. Plus
no-change controls, the CLI, and the chart drawn in a real browser."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from cli_run import run

from norecur.faultgen.kpi import DEPLOY, policy_comparison_incident
from norecur.rca.kpi.attribution import attribute
from norecur.rca.kpi.series import read_kpi_series, read_records
from norecur.report._kpi import attribution_html

DIMENSIONS = ["intent", "tenant", "locale", "model", "prompt_version"]
DEPLOY_NS = int(DEPLOY.timestamp()) * 10**9


@pytest.fixture(scope="module")
def incident():
    return policy_comparison_incident()


@pytest.fixture(scope="module")
def report(incident):
    return attribute(incident.records, value="score", dimensions=DIMENSIONS, events=incident.events)


def test_the_worked_example_comes_out_right(incident, report):
    document = report.document
    onset = document["onset"]
    assert onset["time_ns"] == DEPLOY_NS
    assert 0.035 < onset["relative"] < 0.05  # the aggregate went up about 4 %
    top_event = document["events"][0]
    assert (top_event["kind"], top_event["name"], top_event["old"], top_event["new"]) == (
        "prompt",
        "prompt_version",
        "v12",
        "v13",
    )
    assert top_event["time_ns"] == DEPLOY_NS
    assert document["slices"][0]["elements"] == [{"intent": "policy_comparison"}]
    evidence = document["slices"][0]["evidence"][0]
    assert evidence["ratio_after"] < evidence["ratio_before"] * 0.85  # the slice went down
    assert document["classification"]["class"] == "prompt"
    assert document["blame_shares"][0]["element"] == {"intent": "policy_comparison"}
    assert document["blame_shares"][0]["blame_share"] == 1.0
    assert incident.label["cause_class"] == "prompt"


def test_the_report_is_byte_identical_for_the_same_input(incident, report):
    again = attribute(
        incident.records, value="score", dimensions=DIMENSIONS, events=incident.events
    )
    assert again.to_json() == report.to_json()


def test_no_change_control_blames_nothing(incident):
    before = incident.records.filter(pc.less(incident.records["time_ns"], DEPLOY_NS))
    document = attribute(
        before, value="score", dimensions=DIMENSIONS, events=incident.events
    ).document
    assert document["onset"] is None
    assert document["slices"] == []
    assert document["classification"]["class"] is None
    assert "did not change" in document["classification"]["reason"]
    assert all(event["score"] == 0 for event in document["events"])


def test_a_decisive_event_is_needed_for_a_class(incident):
    config_only = incident.events.filter(pc.equal(incident.events["kind"], "config"))
    document = attribute(
        incident.records,
        value="score",
        dimensions=["intent", "tenant", "locale"],
        events=config_only,
    ).document
    assert document["classification"]["class"] is None
    assert "insufficient" in document["classification"]["reason"]


def test_a_kpi_series_alone_gives_the_onset(tmp_path):
    start = 1_767_225_600
    rows = [
        {"timestamp": start + 60 * minute, "value": 0.91 if minute < 30 else 0.80}
        for minute in range(60)
    ]
    path = tmp_path / "quality.csv"
    path.write_text("timestamp,value\n" + "".join(f"{r['timestamp']},{r['value']}\n" for r in rows))
    series = read_kpi_series(path)
    assert series.column_names == ["time_ns", "kpi", "value", "attributes"]
    assert series["kpi"][0].as_py() == "quality"
    document = attribute(kpis=series).document
    assert document["onset"]["time_ns"] == (start + 60 * 30) * 10**9
    assert document["onset"]["magnitude"] == pytest.approx(-0.11)


def test_prometheus_range_json_is_a_kpi_series(tmp_path):
    answer = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"__name__": "eval_score", "intent": "all"},
                    "values": [
                        [1767225600 + 60 * i, "0.9" if i < 20 else "0.7"] for i in range(40)
                    ],
                }
            ],
        },
    }
    path = tmp_path / "prom.json"
    path.write_bytes(orjson.dumps(answer))
    series = read_kpi_series(path)
    assert set(series["kpi"].to_pylist()) == {"eval_score{intent=all}"}
    assert series.num_rows == 40
    document = attribute(kpis=series).document
    assert document["onset"]["time_ns"] == (1767225600 + 60 * 20) * 10**9


def test_records_times_may_be_iso_text(tmp_path, incident):
    sample = incident.records.slice(0, 50)
    # ISO 8601 text carries microseconds: compare at that precision
    micro = pc.multiply(pc.divide(sample["time_ns"], 1000), 1000)
    sample = sample.set_column(sample.schema.get_field_index("time_ns"), "time_ns", micro)
    texts = [
        datetime.fromtimestamp(ns / 1e9, tz=UTC).isoformat() for ns in sample["time_ns"].to_pylist()
    ]
    table = sample.drop_columns(["time_ns"]).append_column("time", pa.array(texts))
    path = tmp_path / "requests.parquet"
    pq.write_table(table, path)
    read = read_records(path)
    assert read["time_ns"].to_pylist() == sample["time_ns"].to_pylist()


@pytest.fixture(scope="module")
def files(tmp_path_factory, incident) -> Path:
    folder = tmp_path_factory.mktemp("kpi")
    pq.write_table(incident.records, folder / "requests.parquet")
    (folder / "events.jsonl").write_bytes(
        b"".join(orjson.dumps(row) + b"\n" for row in incident.events.to_pylist())
    )
    return folder


def test_attribute_cli_text_and_json(files):
    done = run(
        "attribute", "requests.parquet", "--value", "score", "--events", "events.jsonl", cwd=files
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("mean score changed at 2026-05-12 18:00 UTC")
    assert "event 1. prompt prompt_version v12 -> v13" in done.stdout
    assert "Class: prompt" in done.stdout
    done = run(
        "attribute",
        "requests.parquet",
        "--value",
        "score",
        "--dimensions",
        "intent,locale",
        "--events",
        "events.jsonl",
        "--format",
        "json",
        cwd=files,
    )
    document = json.loads(done.stdout)
    assert document["schema"] == "norecur.attribution-report"
    assert document["dimensions"] == ["intent", "locale"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("attribute",), "error: name a records file, or a KPI series with --kpi"),
        (("attribute", "requests.parquet"), "error: --value: records need --value"),
        (
            ("attribute", "requests.parquet", "--value", "nope"),
            "error: requests.parquet: no column 'nope'",
        ),
        (
            ("attribute", "requests.parquet", "--value", "score", "--dimensions", "intent,planet"),
            "error: --dimensions: no column 'planet'",
        ),
        (("attribute", "missing.csv", "--value", "x"), "error: missing.csv"),
    ],
)
def test_attribute_usage_errors_are_one_line(files, args, message):
    done = run(*args, cwd=files)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(message)


def test_the_chart_marks_the_onset_and_events_in_a_real_browser(report, tmp_path):
    chromium = Path(os.environ.get("NORECUR_CHROMIUM", "/usr/bin/chromium"))
    if not chromium.is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"Chromium not found at {chromium}: `make test` installs it")
        pytest.skip(f"Chromium not found at {chromium}: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    page_path = tmp_path / "kpi.html"
    page_path.write_text(attribution_html(report.document), encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(chromium), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_path.as_uri())
            found = page.evaluate(
                """() => {
                  const svg = document.querySelector('#kpi-chart');
                  const onset = svg.querySelector('.onset-mark');
                  const events = Array.from(svg.querySelectorAll('.event-mark'));
                  const points = Array.from(svg.querySelectorAll('.kpi-point'));
                  const x = e => e.getBBox().x;
                  return {
                    width: svg.getBoundingClientRect().width,
                    onset: {time: onset.dataset.timeNs, x: x(onset)},
                    events: events.map(e => ({time: e.dataset.timeNs, kind: e.dataset.kind,
                                              rank: e.dataset.rank, x: x(e)})),
                    points: points.length,
                    firstAfter: Number(points.find(
                      p => BigInt(p.dataset.timeNs) >= BigInt(onset.dataset.timeNs)
                    ).getAttribute('cx')),
                  };
                }"""
            )
            artifacts = Path(__file__).parent / "artifacts"
            artifacts.mkdir(exist_ok=True)
            page.screenshot(path=str(artifacts / "attribution.png"), full_page=True)
        finally:
            browser.close()
    assert requests == [page_path.as_uri()]
    assert found["width"] > 800
    assert found["onset"]["time"] == str(DEPLOY_NS)
    assert found["points"] == len(report.document["kpi"]["points"])
    top = found["events"][0]
    assert (top["rank"], top["kind"], top["time"]) == ("1", "prompt", str(DEPLOY_NS))
    assert top["x"] == pytest.approx(found["onset"]["x"], abs=1.5)
    # the onset mark sits where the first point of the new regime is drawn
    assert found["firstAfter"] == pytest.approx(found["onset"]["x"], abs=1.5)


def test_drift_cli_ranks_a_column_gone_null_and_suggests_data(tmp_path):
    base = pa.table(
        {
            "tenant": [f"t{i % 7}" for i in range(2000)],
            "age_band": [f"{20 + i % 5 * 10}s" for i in range(2000)],
            "premium": [100.0 + i % 50 for i in range(2000)],
        }
    )
    nulls = [None if i % 5 < 2 else v for i, v in enumerate(base["age_band"].to_pylist())]
    new = base.set_column(1, "age_band", pa.array(nulls, pa.string()))
    pq.write_table(base, tmp_path / "base.parquet")
    pq.write_table(new, tmp_path / "new.parquet")
    done = run("drift", "base.parquet", "new.parquet", "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    top = document["findings"][0]
    assert (top["column"], top["kind"]) == ("age_band", "null_rate")
    assert document["suggested_class"]["class"] == "data"
    same = run("drift", "base.parquet", "base.parquet", cwd=tmp_path)
    assert same.returncode == 0
    assert same.stdout == "No drift found.\n"
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"PAR1 not really")
    bad = run("drift", "base.parquet", "broken.parquet", cwd=tmp_path)
    assert bad.returncode == 2
    (line,) = bad.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert "broken.parquet" in line


def test_drift_decides_the_class_when_no_event_does(incident):
    from norecur.rca.kpi.drift import compare

    base = pa.table({"age_band": [f"{20 + i % 5 * 10}s" for i in range(3000)]})
    new = pa.table({"age_band": [None if i % 2 else "30s" for i in range(3000)]})
    document = attribute(
        incident.records, value="score", dimensions=["intent", "locale"], drift=compare(base, new)
    ).document
    assert document["classification"]["class"] == "data"
    assert document["drift"]["findings"][0]["column"] == "age_band"


def test_the_engine_reads_records_through_the_kpi_shift_analyzer(incident):
    from norecur.rca import diagnose
    from norecur.telemetry import Observations

    records = incident.records.drop_columns(["thumbs_down"])  # one measure: the score
    report = diagnose(Observations(records=records, events=incident.events))
    assert report.root_cause == "intent=policy_comparison"
    assert report.document["root_cause"]["analyzer"] == "kpi-shift"
    assert report.cause_class.value == "prompt"
    classification = report.document["root_cause"]["classification"]
    assert classification["role"] == "unseen"
    assert [vote["rule"] for vote in classification["votes"]] == ["C950"]


def test_rca_reads_records_and_events_from_the_command_line(files):
    done = run(
        "rca",
        "--records",
        "requests.parquet",
        "--value",
        "score",
        "--events",
        "events.jsonl",
        "--format",
        "json",
        cwd=files,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["root_cause"]["component"] == "intent=policy_comparison"
    assert document["root_cause"]["classification"]["class"] == "prompt"
    assert [(f["reader"], f["records"]) for f in document["inputs"]["files"]] == [
        ("events", 4),
        ("records", 9600),
    ]
