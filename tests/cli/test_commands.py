"""The other commands end to end: new, show, render, rule, schema, config-docs, demo, --version."""

from __future__ import annotations

import datetime as dt
import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from cli_support import (
    CLEAN_EXAMPLE,
    EXAMPLES,
    REPO,
    TODAY,
    assert_no_traceback,
    replace_once,
    run_norecur,
)
from jsonschema import Draft202012Validator

from norecur.document import read_postmortem
from norecur.model import PARTS

PART_HEADINGS = [part.heading for part in PARTS]
EXAMPLE_FILES = sorted(EXAMPLES.glob("*.md"))
DOC_SECTIONS = ("What it checks", "Why it matters", "Example", "Instead", "Options")


def test_the_ten_parts_are_the_ones_the_battery_expects() -> None:
    assert PART_HEADINGS == [
        "Identification",
        "Summary",
        "Timeline",
        "Cause",
        "Blast radius",
        "Eval delta",
        "Follow-up actions",
        "Apparatus updates",
        "What went well",
        "What did not go well",
    ]


# -- new -----------------------------------------------------------------------------------------


def test_new_writes_a_template_that_parses_and_lists_the_gaps(norecur, workspace) -> None:
    run = norecur("new", "INC-1", "--dir", "tmp")
    assert run.code == 0, run.explain()
    target = workspace / "tmp" / "INC-1.md"
    assert target.is_file()
    assert "tmp/INC-1.md" in run.stdout
    parsed = read_postmortem(target)
    assert parsed.postmortem.id == "INC-1"
    assert [s.heading for s in parsed.sections if s.level == 2] == PART_HEADINGS
    lint = norecur("lint", "tmp/INC-1.md", "--format", "json", "--today", TODAY)
    assert_no_traceback(lint)
    assert lint.code == 1, lint.explain()
    payload = json.loads(lint.stdout)
    assert payload["errors"] == []
    found = {finding["code"] for finding in payload["findings"]}
    assert found >= {"PM201", "PM301", "PM401", "PM502"}, sorted(found)
    # Text output lists each gap at its line.
    text = norecur("lint", "tmp/INC-1.md", "--today", TODAY)
    assert re.search(r"^tmp/INC-1\.md:\d+:1: PM201 ", text.stdout, re.M), text.explain()


def test_new_refuses_to_overwrite_without_force(norecur, workspace) -> None:
    assert norecur("new", "INC-1", "--dir", "tmp").code == 0
    target = workspace / "tmp" / "INC-1.md"
    target.write_text("my edits\n", encoding="utf-8")
    run = norecur("new", "INC-1", "--dir", "tmp")
    assert_no_traceback(run)
    assert run.code == 2, run.explain()
    assert len(run.stderr.splitlines()) == 1, run.explain()
    assert "--force" in run.stderr
    assert target.read_text(encoding="utf-8") == "my edits\n"
    forced = norecur("new", "INC-1", "--dir", "tmp", "--force")
    assert forced.code == 0, forced.explain()
    assert target.read_text(encoding="utf-8").startswith("---\n")


@pytest.mark.parametrize(
    "hostile",
    ["../x", "a/b", "/tmp/x", ".hidden", "x\ny", "x" * 300],
)
def test_new_refuses_hostile_ids(norecur, workspace, hostile) -> None:
    outside = Path("/tmp/x.md")
    existed = outside.exists()
    run = norecur("new", "--dir", "tmp", "--", hostile)
    assert_no_traceback(run)
    assert run.code == 2, run.explain()
    assert len(run.stderr.splitlines()) == 1, run.explain()
    assert not list(workspace.rglob("*.md"))
    assert not list(workspace.parent.glob("*.md"))
    assert outside.exists() == existed


def test_new_title_fills_the_title_field(norecur, workspace) -> None:
    """`--title` should give the postmortem its title, not only an H1 that parsing drops."""
    run = norecur("new", "INC-2", "--dir", "tmp", "--title", "Retriever timeouts stalled the agent")
    assert run.code == 0, run.explain()
    parsed = read_postmortem(workspace / "tmp" / "INC-2.md")
    assert parsed.postmortem.title == "Retriever timeouts stalled the agent"


def test_new_title_cannot_inject_headings(norecur, workspace) -> None:
    run = norecur("new", "INC-3", "--dir", "tmp", "--title", "Evil\n## Cause\ninjected")
    assert_no_traceback(run)
    if run.code == 2:
        return  # refusing the title is fine
    assert run.code == 0, run.explain()
    parsed = read_postmortem(workspace / "tmp" / "INC-3.md")
    assert [s.heading for s in parsed.sections if s.level == 2] == PART_HEADINGS


def test_new_into_a_path_that_is_a_file_is_an_error_not_a_traceback(norecur, workspace) -> None:
    (workspace / "occupied").write_text("a file, not a folder\n", encoding="utf-8")
    run = norecur("new", "INC-4", "--dir", "occupied")
    assert_no_traceback(run)
    assert run.code == 2, run.explain()
    assert len(run.stderr.splitlines()) == 1, run.explain()


# -- show ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_show_prints_title_parts_and_owners(example: Path) -> None:
    run = run_norecur("show", example, cwd=REPO)
    assert_no_traceback(run)
    assert run.code == 0, run.explain()
    pm = read_postmortem(example).postmortem
    assert pm.title in run.stdout
    missing = [heading for heading in PART_HEADINGS if heading not in run.stdout]
    assert not missing, f"part headings missing from `norecur show`: {missing}"
    owners = {f.owner for f in pm.follow_ups if f.owner}
    assert owners
    assert not [owner for owner in owners if owner not in run.stdout]


def test_show_prints_every_parts_prose(clean_text) -> None:
    run = run_norecur("show", CLEAN_EXAMPLE, cwd=REPO)
    assert run.code == 0, run.explain()
    shown = " ".join(run.stdout.split())
    narrative = read_postmortem(CLEAN_EXAMPLE).postmortem.narrative
    missing = []
    for part in PARTS:
        prose = getattr(narrative, part.key)
        if prose:
            opening = " ".join(prose.split()[:6])
            if opening not in shown:
                missing.append(part.heading)
    assert not missing, f"prose of these parts is not shown: {missing}"


def test_show_json_is_the_postmortem() -> None:
    run = run_norecur("show", CLEAN_EXAMPLE, "--format", "json", cwd=REPO)
    assert run.code == 0, run.explain()
    payload = json.loads(run.stdout)
    assert payload["id"] == "INC-2026-0512"
    assert set(payload["narrative"]) == {part.key for part in PARTS}


# -- render --------------------------------------------------------------------------------------


def test_render_html_has_every_part(norecur, workspace) -> None:
    out = workspace / "out.html"
    run = norecur("render", CLEAN_EXAMPLE, "--to", "html", "-o", "out.html")
    assert run.code == 0, run.explain()
    assert "out.html" in run.stdout
    html = out.read_text(encoding="utf-8")
    assert html.lstrip().lower().startswith("<!doctype html")
    for heading in PART_HEADINGS:
        assert f">{heading}</h2>" in html, heading
    assert "Prompt deploy regressed policy_comparison answers for 42 minutes" in html
    assert "Arjun Rao" in html


def test_render_html_carries_no_script(norecur, workspace, clean_text) -> None:
    text = replace_once(
        clean_text,
        "## Summary\n\n",
        "## Summary\n\n<script>alert(1)</script> [click](javascript:alert(2)) "
        '<img src=x onerror="alert(3)">\n\n',
    )
    text = replace_once(
        text,
        "title: Prompt deploy regressed policy_comparison answers for 42 minutes",
        'title: "<script>alert(4)</script>"',
    )
    (workspace / "INC.md").write_text(text, encoding="utf-8")
    run = norecur("render", "INC.md", "--to", "html")
    assert run.code == 0, run.explain()
    html = run.stdout.lower()
    assert "<script" not in html
    assert "javascript:" not in html.replace("[click](javascript:alert(2))", "")
    assert "<img" not in html


@pytest.mark.parametrize("example", EXAMPLE_FILES, ids=lambda p: p.stem)
def test_render_md_reparses_equal_and_is_idempotent(norecur, workspace, example: Path) -> None:
    first = norecur("render", example, "--to", "md", "-o", "first.md")
    assert first.code == 0, first.explain()
    rendered = (workspace / "first.md").read_text(encoding="utf-8")
    assert read_postmortem(workspace / "first.md").postmortem == read_postmortem(example).postmortem
    # Rendering its own output changes nothing (and stdout gives what -o writes).
    second = norecur("render", "first.md", "--to", "md")
    assert second.code == 0, second.explain()
    assert second.stdout == rendered


def test_render_md_of_the_new_template_round_trips(norecur, workspace) -> None:
    assert norecur("new", "INC-7", "--dir", ".").code == 0
    first = norecur("render", "INC-7.md", "--to", "md", "-o", "first.md")
    assert first.code == 0, first.explain()
    assert (
        read_postmortem(workspace / "first.md").postmortem
        == read_postmortem(workspace / "INC-7.md").postmortem
    )
    assert norecur("render", "first.md", "--to", "md").stdout == (workspace / "first.md").read_text(
        encoding="utf-8"
    )


def test_render_md_refuses_a_file_that_breaks_the_contract(norecur, workspace, clean_text) -> None:
    text = replace_once(clean_text, "status: published\n", "status: bogus\n")
    (workspace / "INC.md").write_text(text, encoding="utf-8")
    run = norecur("render", "INC.md", "--to", "md")
    assert_no_traceback(run)
    assert run.code == 2, run.explain()
    [line] = run.stderr.splitlines()
    assert line.startswith("error: INC.md:5: ")


def test_render_to_an_unwritable_path_is_an_error_not_a_traceback(norecur, workspace) -> None:
    run = norecur("render", CLEAN_EXAMPLE, "--to", "html", "-o", "no/such/dir/out.html")
    assert_no_traceback(run)
    assert run.code == 2, run.explain()
    assert len(run.stderr.splitlines()) == 1, run.explain()


# -- rule ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("spelling", ["PM508", "vague-action"])
def test_rule_prints_every_doc_section(norecur, spelling) -> None:
    run = norecur("rule", spelling)
    assert run.code == 0, run.explain()
    assert run.stdout.startswith("PM508 vague-action")
    for heading in DOC_SECTIONS:
        assert re.search(rf"^{heading}:$", run.stdout, re.M), heading


@pytest.mark.parametrize("args", [("rule", "NOPE"), ("rule", "PM999"), ("rule",)])
def test_rule_unknown_or_missing_exits_2(norecur, args) -> None:
    run = norecur(*args)
    assert_no_traceback(run)
    assert run.code == 2, run.explain()
    assert len(run.stderr.splitlines()) == 1, run.explain()


def test_every_rule_documents_every_section(norecur) -> None:
    run = norecur("rule", "--all", "--format", "json")
    assert run.code == 0, run.explain()
    rules = json.loads(run.stdout)
    assert len(rules) >= 40
    keys = [heading.lower().replace(" ", "_") for heading in DOC_SECTIONS]
    incomplete = {r["code"]: [k for k in keys if not r.get(k)] for r in rules}
    assert not {code: gaps for code, gaps in incomplete.items() if gaps}


@pytest.mark.parametrize(
    ("args", "committed"),
    [
        (("rule", "--all", "--format", "markdown"), "docs/rules.md"),
        (("config-docs",), "docs/configuration.md"),
        (("analyzer", "--all", "--format", "markdown"), "docs/analyzers.md"),
    ],
)
def test_generated_docs_match_the_committed_ones(args, committed) -> None:
    path = REPO / committed
    if not path.is_file():
        pytest.skip(f"{committed} is not generated yet (make docs)")
    run = run_norecur(*args, cwd=REPO)
    assert run.code == 0, run.explain()
    assert run.stdout == path.read_text(encoding="utf-8"), f"{committed} is stale: run `make docs`"


# -- schema --------------------------------------------------------------------------------------


def _jsonable(value: object) -> object:
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, dt.date):  # datetime too
        return value.isoformat()
    return value


def test_schema_is_valid_json_schema_and_accepts_the_examples(norecur) -> None:
    run = norecur("schema")
    assert run.code == 0, run.explain()
    schema = json.loads(run.stdout)
    Draft202012Validator.check_schema(schema)
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    for example in EXAMPLE_FILES:
        front = example.read_text(encoding="utf-8").split("---\n")[1]
        data = _jsonable(yaml.safe_load(front))
        problems = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(data)
        ]
        assert not problems, f"{example.name}: {problems[:5]}"


# -- demo, version, help -------------------------------------------------------------------------


def test_demo_runs_from_the_repository(workspace) -> None:
    out = workspace / "demo"
    run = run_norecur("demo", "--out", out, cwd=REPO)
    assert_no_traceback(run)
    assert run.code == 0, run.explain()
    assert "All checks passed" in run.stdout
    assert list(out.rglob("*.html"))
    for code in ("PM201", "PM502", "PM702"):
        assert code in run.stdout, code
    # the incident opened from an alert payload is investigated into a draft with eval cases
    assert "root cause orchestrator (prompt)" in run.stdout
    assert "alert to draft: " in run.stdout
    drafts = list((out / "incident" / "investigation").glob("am-*.md"))
    assert len(drafts) == 1
    assert list((out / "incident" / "investigation" / "evals").glob("*.jsonl"))


def test_demo_elsewhere_is_a_one_line_error(norecur) -> None:
    run = norecur("demo", "--out", "demo")
    assert_no_traceback(run)
    assert run.code == 2, run.explain()
    assert len(run.stderr.splitlines()) == 1, run.explain()


def test_version(norecur) -> None:
    run = norecur("--version")
    assert run.code == 0, run.explain()
    assert run.stdout.strip() == f"norecur {version('norecur')}"


@pytest.mark.parametrize(
    "command", ["lint", "new", "show", "render", "rule", "schema", "config-docs", "demo"]
)
def test_every_command_has_help_with_an_example(norecur, command) -> None:
    run = norecur(command, "--help")
    assert run.code == 0, run.explain()
    assert "Example" in run.stdout, run.explain()
