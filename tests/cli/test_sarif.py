"""``--format sarif`` against the official SARIF 2.1.0 schema, and ``--format github``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_support import REPO, TODAY, VAGUE_ACTION, Run, assert_no_traceback, replace_once, with_id
from jsonschema import Draft4Validator

DEFAULT_SCHEMA = REPO / ".cache" / "sarif" / "sarif-2.1.0-rtm.5.json"


@pytest.fixture(scope="module")
def sarif_validator() -> Draft4Validator:
    configured = os.environ.get("NORECUR_SARIF_SCHEMA")
    path = Path(configured) if configured else DEFAULT_SCHEMA
    if not path.is_absolute():
        path = REPO / path
    if not path.is_file():
        pytest.skip(f"SARIF schema not at {path}: run `make .cache/sarif/sarif-2.1.0-rtm.5.json`")
    schema = json.loads(path.read_text(encoding="utf-8"))
    assert schema["$schema"].startswith("http://json-schema.org/draft-04/schema")
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


def _sarif(norecur, *paths: str) -> tuple[Run, dict]:
    run = norecur("lint", *paths, "--format", "sarif", "--today", TODAY)
    assert_no_traceback(run)
    return run, json.loads(run.stdout)


def _assert_valid(validator: Draft4Validator, log: dict) -> None:
    problems = [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(log)
    ]
    assert not problems, "\n".join(problems[:20])


def _assert_consistent(log: dict) -> None:
    """What the schema cannot say: each result's ruleIndex points at its own rule."""
    assert log["version"] == "2.1.0"
    [run] = log["runs"]
    rules = run["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert len(ids) == len(set(ids))
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1
        assert region["startColumn"] >= 1


def test_clean_run_validates(norecur, workspace, clean_text, sarif_validator) -> None:
    (workspace / "INC.md").write_text(clean_text, encoding="utf-8")
    run, log = _sarif(norecur, "INC.md")
    assert run.code == 0, run.explain()
    _assert_valid(sarif_validator, log)
    _assert_consistent(log)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_committed_examples_validate(sarif_validator) -> None:
    from cli_support import run_norecur

    run = run_norecur(
        "lint", "examples/postmortems", "--format", "sarif", "--today", TODAY, cwd=REPO
    )
    assert run.code == 0, run.explain()
    _assert_valid(sarif_validator, json.loads(run.stdout))


def test_run_with_findings_validates(norecur, workspace, clean_text, vague_text, sarif_validator):
    folder = workspace / "pm dir"  # a space: the artifact URI must be percent-encoded
    folder.mkdir()
    (folder / "vague.md").write_text(vague_text, encoding="utf-8")
    blame = replace_once(
        with_id(clean_text, "INC-2097-0001"),
        "The quality alert fired with the deploy ID",
        "It was human error, 100% careless. The quality alert fired with the deploy ID",
    )
    (folder / "blame, 50%.md").write_text(blame, encoding="utf-8")
    run, log = _sarif(norecur, "pm dir")
    assert run.code == 1, run.explain()
    _assert_valid(sarif_validator, log)
    _assert_consistent(log)
    results = log["runs"][0]["results"]
    assert {r["ruleId"] for r in results} >= {"PM508", "PM702"}
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert "pm%20dir/vague.md" in uris
    assert all(" " not in uri for uri in uris)
    vague = next(r for r in results if r["ruleId"] == "PM508")
    line = vague_text.split("\n").index(VAGUE_ACTION) + 1
    assert vague["locations"][0]["physicalLocation"]["region"]["startLine"] == line
    assert vague["level"] == "error"


def test_run_with_errors_validates(norecur, workspace, clean_text, vague_text, sarif_validator):
    (workspace / "vague.md").write_text(vague_text, encoding="utf-8")
    (workspace / "binary.md").write_bytes(b"---\n\x00\n")
    (workspace / "empty.md").write_bytes(b"")
    (workspace / "big.md").write_bytes(b"x" * (1_048_576 + 1))
    run, log = _sarif(norecur, ".")
    assert run.code == 2, run.explain()
    _assert_valid(sarif_validator, log)
    _assert_consistent(log)
    [invocation] = log["runs"][0]["invocations"]
    assert invocation["executionSuccessful"] is False
    notes = invocation["toolExecutionNotifications"]
    assert len(notes) == 3
    assert all(note["level"] == "error" for note in notes)


# -- GitHub Actions workflow commands -----------------------------------------------------------


def _escape_data(text: str) -> str:
    """The Actions toolkit's escapeData (packages/core/src/command.ts)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    """The Actions toolkit's escapeProperty."""
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def test_github_annotations(norecur, workspace, vague_text) -> None:
    (workspace / "INC.md").write_text(vague_text, encoding="utf-8")
    run = norecur("lint", "INC.md", "--format", "github", "--today", TODAY)
    assert run.code == 1, run.explain()
    line = vague_text.split("\n").index(VAGUE_ACTION) + 1
    [annotation] = run.stdout.splitlines()
    assert annotation.startswith(
        f"::error file=INC.md,line={line},col=1,title=PM508 vague-action::"
    ), annotation


def test_github_escapes_percent_newline_comma_and_colon(norecur, workspace, clean_text) -> None:
    # An unknown top-level key whose name holds %, a newline, a comma and a colon: PM104 quotes it.
    key = "odd%key\nline,two: x"
    text = replace_once(clean_text, "severity: P2\n", 'severity: P2\n"odd%key\\nline,two: x": 1\n')
    name = "we,ird%na:me.md"
    (workspace / name).write_text(text, encoding="utf-8")
    run = norecur("lint", name, "--format", "github", "--today", TODAY)
    assert_no_traceback(run)
    assert run.code == 1, run.explain()
    lines = run.stdout.splitlines()
    assert len(lines) == 1, run.explain()  # the newline in the message is escaped, not printed
    json_run = norecur("lint", name, "--format", "json", "--today", TODAY)
    [finding] = json.loads(json_run.stdout)["findings"]
    assert key in finding["message"]
    expected = (
        f"::error file={_escape_property(name)},line={finding['location']['line']},col=1,"
        f"title={_escape_property('PM104 schema-violation')}::{_escape_data(finding['message'])}"
    )
    assert lines[0] == expected
    assert "file=we%2Cird%25na%3Ame.md," in lines[0]
    assert "odd%25key%0Aline,two" in lines[0]


def test_github_errors_are_annotations_too(norecur, workspace) -> None:
    (workspace / "a,b.md").write_bytes(b"---\nid: x\n\x00\n")
    run = norecur("lint", "a,b.md", "--format", "github")
    assert_no_traceback(run)
    assert run.code == 2, run.explain()
    [annotation] = run.stdout.splitlines()
    assert annotation.startswith("::error file=a%2Cb.md,line=3,"), annotation
    assert "::binary file" in annotation
