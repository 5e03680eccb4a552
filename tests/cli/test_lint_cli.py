"""``norecur lint`` end to end: the console script in a subprocess, real files, no mocks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_support import (
    REPO,
    TODAY,
    VAGUE_ACTION,
    Run,
    assert_no_traceback,
    replace_once,
    run_norecur,
    with_id,
)

BLAME_BEFORE = "The quality alert fired with the deploy ID"
BLAME_AFTER = "It was human error. The quality alert fired with the deploy ID"
OWNER_C = "    owner: Priya Iyer\n"


def line_no(text: str, needle: str) -> int:
    """1-based line of the first line containing ``needle``."""
    for number, line in enumerate(text.split("\n"), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def codes(run: Run) -> list[str]:
    """Finding codes from a ``--format json`` run."""
    payload = json.loads(run.stdout)
    return [finding["code"] for finding in payload["findings"]]


def lint(norecur, *args: str | Path, **kwargs) -> Run:
    run = norecur("lint", *args, "--today", TODAY, **kwargs)
    assert_no_traceback(run)
    return run


# -- the examples and one broken copy ------------------------------------------------------------


def test_committed_examples_pass() -> None:
    run = run_norecur("lint", "examples/postmortems", "--today", TODAY, cwd=REPO)
    assert run.code == 0, run.explain()
    assert "All checks passed" in run.stdout, run.explain()
    assert_no_traceback(run)


def test_one_broken_field_exits_1_with_a_located_finding(norecur, workspace, vague_text) -> None:
    write(workspace / "pm" / "INC.md", vague_text)
    run = lint(norecur, "pm")
    assert run.code == 1, run.explain()
    line = line_no(vague_text, VAGUE_ACTION)
    pattern = rf"^pm/INC\.md:{line}:1: PM508 \S.* \[vague-action\]$"
    assert re.search(pattern, run.stdout, re.MULTILINE), run.explain()
    assert "Found 1 finding and 0 errors in 1 file." in run.stdout, run.explain()
    assert run.stderr == "", run.explain()


def test_json_findings_carry_every_documented_field(norecur, workspace, vague_text) -> None:
    write(workspace / "pm" / "INC.md", vague_text)
    run = lint(norecur, "pm", "--format", "json")
    assert run.code == 1, run.explain()
    payload = json.loads(run.stdout)
    assert payload["summary"] == {"files": 1, "findings": 1, "errors": 0, "exit_code": 1}
    assert payload["errors"] == []
    [finding] = payload["findings"]
    assert finding["code"] == "PM508"
    assert finding["name"] == "vague-action"
    assert finding["severity"] == "error"
    assert isinstance(finding["message"], str)
    assert finding["message"]
    assert finding["location"] == {
        "path": "pm/INC.md",
        "line": line_no(vague_text, VAGUE_ACTION),
        "column": 1,
    }
    assert finding["url"].startswith("https://")
    assert finding["url"].endswith("PM508")


def test_blame_finding_points_at_the_column(norecur, workspace, clean_text) -> None:
    text = replace_once(clean_text, BLAME_BEFORE, BLAME_AFTER)
    write(workspace / "INC.md", text)
    run = lint(norecur, "INC.md", "--format", "json")
    assert run.code == 1, run.explain()
    [finding] = json.loads(run.stdout)["findings"]
    assert finding["code"] == "PM702"
    assert finding["location"]["line"] == line_no(text, BLAME_AFTER)
    assert finding["location"]["column"] == BLAME_AFTER.index("human error") + 1


# -- --select / --ignore -----------------------------------------------------------------------


@pytest.fixture
def three_findings(workspace, vague_text) -> Path:
    """One file with PM502 (owner removed), PM508 (vague action) and PM702 (blame wording)."""
    text = replace_once(vague_text, OWNER_C, "")
    text = replace_once(text, BLAME_BEFORE, BLAME_AFTER)
    return write(workspace / "INC.md", text)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ((), {"PM502", "PM508", "PM702"}),
        (("--select", "PM508"), {"PM508"}),
        (("--select", "PM5"), {"PM502", "PM508"}),
        (("--select", "pm7"), {"PM702"}),
        (("--ignore", "PM5"), {"PM702"}),
        (("--ignore", "PM508, PM702"), {"PM502"}),
        (("--select", "PM5", "--ignore", "PM508"), {"PM502"}),
    ],
)
def test_select_and_ignore(norecur, three_findings, options, expected) -> None:
    run = lint(norecur, three_findings.name, "--format", "json", *options)
    assert set(codes(run)) == expected, run.explain()
    assert run.code == (1 if expected else 0), run.explain()


@pytest.mark.parametrize(
    "args",
    [
        ("lint", "INC.md", "--select", "XX1"),
        ("lint", "INC.md", "--ignore", "PM5,nope"),
        ("lint", "INC.md", "--today", "2026-13-01"),
        ("lint", "INC.md", "--config", "missing.toml"),
        ("lint", "does-not-exist"),
    ],
)
def test_usage_errors_exit_2_with_one_line(norecur, workspace, clean_text, args) -> None:
    write(workspace / "INC.md", clean_text)
    run = norecur(*args)
    assert_no_traceback(run)
    assert run.code == 2, run.explain()
    lines = [line for line in run.output.splitlines() if "error" in line]
    assert lines, run.explain()


# -- configuration -------------------------------------------------------------------------------


def test_norecur_toml_ignore_is_honoured(norecur, workspace, vague_text) -> None:
    write(workspace / "pm" / "INC.md", vague_text)
    assert lint(norecur, "pm").code == 1
    (workspace / "norecur.toml").write_text('ignore = ["PM508"]\n', encoding="utf-8")
    run = lint(norecur, "pm")
    assert run.code == 0, run.explain()
    assert "All checks passed" in run.stdout


def test_pyproject_tool_table_is_honoured(norecur, workspace, vague_text) -> None:
    project = workspace / "proj"
    write(project / "pyproject.toml", '[project]\nname = "x"\n\n[tool.norecur]\nignore = ["PM5"]\n')
    write(project / "postmortems" / "INC.md", vague_text)
    run = lint(norecur, "proj/postmortems")
    assert run.code == 0, run.explain()
    # Found from inside the project too.
    run = lint(norecur, "postmortems", cwd=project)
    assert run.code == 0, run.explain()


def test_pyproject_without_the_table_is_passed_over(norecur, workspace, vague_text) -> None:
    (workspace / "norecur.toml").write_text('ignore = ["PM508"]\n', encoding="utf-8")
    project = workspace / "proj"
    write(project / "pyproject.toml", '[project]\nname = "x"\n')
    write(project / "INC.md", vague_text)
    run = lint(norecur, "proj")
    assert run.code == 0, run.explain()


def test_explicit_config_option(norecur, workspace, vague_text) -> None:
    write(workspace / "pm" / "INC.md", vague_text)
    write(workspace / "elsewhere" / "strict.toml", 'ignore = ["PM508"]\n')
    run = lint(norecur, "pm", "--config", "elsewhere/strict.toml")
    assert run.code == 0, run.explain()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("norecur.toml", "slo_busines_days = 3\n"),
        ("pyproject.toml", "[tool.norecur]\nslo_busines_days = 3\n"),
    ],
)
def test_unknown_config_key_suggests_the_close_one(
    norecur, workspace, clean_text, name, content
) -> None:
    project = workspace / "proj"
    write(project / name, content)
    write(project / "INC.md", clean_text)
    run = lint(norecur, "proj")
    assert run.code == 2, run.explain()
    assert run.stdout == "", run.explain()
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.explain()
    assert "slo_busines_days" in lines[0]
    assert "'slo_business_days'" in lines[0]
    assert name in lines[0]


def test_invalid_config_value_is_one_line(norecur, workspace, clean_text) -> None:
    (workspace / "norecur.toml").write_text("slo_business_days = -1\n", encoding="utf-8")
    write(workspace / "INC.md", clean_text)
    run = lint(norecur, "INC.md")
    assert run.code == 2, run.explain()
    assert len(run.stderr.splitlines()) == 1, run.explain()
    assert "slo_business_days" in run.stderr


def test_per_file_ignores(norecur, workspace, vague_text) -> None:
    (workspace / "norecur.toml").write_text(
        'per_file_ignores = { "legacy/**" = ["PM5"] }\n', encoding="utf-8"
    )
    write(workspace / "legacy" / "old.md", with_id(vague_text, "INC-2020-0001"))
    write(workspace / "current" / "new.md", vague_text)
    run = lint(norecur, "legacy", "current", "--format", "json")
    assert run.code == 1, run.explain()
    paths = [f["location"]["path"] for f in json.loads(run.stdout)["findings"]]
    assert paths == ["current/new.md"], run.explain()
    # The globs are relative to the config file, not to where norecur runs.
    run = lint(norecur, "..", "--format", "json", cwd=workspace / "current")
    assert run.code == 1, run.explain()
    paths = [f["location"]["path"] for f in json.loads(run.stdout)["findings"]]
    assert len(paths) == 1, run.explain()
    assert paths[0].endswith("current/new.md"), run.explain()


# -- suppression comments ------------------------------------------------------------------------


def test_suppression_comments(norecur, workspace, clean_text, vague_text) -> None:
    folder = workspace / "pm"
    files = {
        "reason_inline.md": replace_once(
            vague_text, VAGUE_ACTION, VAGUE_ACTION + "  # norecur: ignore PM508 -- tracked in PA-1"
        ),
        "reason_above.md": replace_once(
            vague_text, VAGUE_ACTION, "    # norecur: ignore PM508 -- reviewed\n" + VAGUE_ACTION
        ),
        "reason_prose.md": replace_once(
            clean_text,
            BLAME_BEFORE,
            "<!-- norecur: ignore PM702 -- quoting the reviewer -->\n" + BLAME_AFTER,
        ),
        "no_reason.md": replace_once(
            vague_text, VAGUE_ACTION, VAGUE_ACTION + "  # norecur: ignore PM508"
        ),
        "unused.md": replace_once(
            clean_text, "severity: P2\n", "severity: P2  # norecur: ignore PM508 -- nothing here\n"
        ),
        "wrong_code.md": replace_once(
            vague_text, VAGUE_ACTION, VAGUE_ACTION + "  # norecur: ignore PM702 -- wrong code"
        ),
    }
    for number, (name, text) in enumerate(sorted(files.items())):
        write(folder / name, with_id(text, f"INC-2030-{number:04d}"))
    run = lint(norecur, "pm", "--format", "json")
    assert run.code == 1, run.explain()
    found: dict[str, list[tuple[str, int]]] = {name: [] for name in files}
    for finding in json.loads(run.stdout)["findings"]:
        name = Path(finding["location"]["path"]).name
        found[name].append((finding["code"], finding["location"]["line"]))
    action_line = line_no(vague_text, VAGUE_ACTION)
    assert found["reason_inline.md"] == []
    assert found["reason_above.md"] == []
    assert found["reason_prose.md"] == []
    # Without a reason the comment is a finding itself and suppresses nothing.
    assert sorted(found["no_reason.md"]) == [("PM001", action_line), ("PM508", action_line)]
    assert found["unused.md"] == [("PM002", line_no(clean_text, "severity: P2"))]
    assert sorted(found["wrong_code.md"]) == [("PM002", action_line), ("PM508", action_line)]


def test_suppression_findings_in_text_format(norecur, workspace, vague_text) -> None:
    text = replace_once(vague_text, VAGUE_ACTION, VAGUE_ACTION + "  # norecur: ignore PM508")
    write(workspace / "INC.md", text)
    run = lint(norecur, "INC.md")
    assert run.code == 1, run.explain()
    line = line_no(text, VAGUE_ACTION)
    assert re.search(
        rf"^INC\.md:{line}:1: PM001 .+ \[suppression-without-reason\]$", run.stdout, re.M
    ), run.explain()


def test_pm001_and_pm002_cannot_be_suppressed(norecur, workspace, vague_text) -> None:
    text = replace_once(
        vague_text,
        VAGUE_ACTION,
        "    # norecur: ignore PM001 -- hide the next one\n"
        + VAGUE_ACTION
        + "  # norecur: ignore PM508",
    )
    write(workspace / "INC.md", text)
    run = lint(norecur, "INC.md", "--format", "json")
    assert "PM001" in codes(run), run.explain()


# -- determinism and the parallel path -----------------------------------------------------------


@pytest.fixture
def mixed_folder(workspace, clean_text, vague_text) -> Path:
    """Findings of several codes in several files, one unreadable file, one duplicate id."""
    folder = workspace / "pm"
    write(folder / "a_clean.md", clean_text)
    write(folder / "b_vague.md", with_id(vague_text, "INC-2031-0001"))
    write(folder / "c_dup.md", clean_text)
    blame = replace_once(with_id(clean_text, "INC-2031-0002"), BLAME_BEFORE, BLAME_AFTER)
    write(folder / "sub" / "d_blame.md", replace_once(blame, OWNER_C, ""))
    write(folder / "e_broken.md", "---\nid: [unclosed\n---\n")
    return folder


@pytest.mark.parametrize("output_format", ["text", "json", "sarif", "github"])
def test_output_is_deterministic(norecur, mixed_folder, output_format) -> None:
    runs = [
        lint(norecur, "pm", "--format", output_format, env={"PYTHONHASHSEED": seed})
        for seed in ("1", "2")
    ]
    first, second = runs
    assert first.code == 2, first.explain()
    assert first.stdout, first.explain()
    assert (first.code, first.stdout, first.stderr) == (second.code, second.stdout, second.stderr)


def test_parallel_run_matches_serial_run(norecur, workspace, clean_text, vague_text) -> None:
    folder = workspace / "many"
    for number in range(250):
        source = vague_text if number % 25 == 0 else clean_text
        write(folder / f"pm-{number:04d}.md", with_id(source, f"INC-2040-{number:04d}"))
    write(folder / "dup.md", with_id(clean_text, "INC-2040-0007"))
    write(folder / "zz_broken.md", b"---\nid: x\n\x00\n")
    for output_format in ("text", "json"):
        serial = lint(norecur, "many", "--jobs", "1", "--format", output_format)
        parallel = lint(norecur, "many", "--jobs", "2", "--format", output_format)
        assert serial.code == 2, serial.explain()
        assert (parallel.code, parallel.stdout, parallel.stderr) == (
            serial.code,
            serial.stdout,
            serial.stderr,
        ), parallel.explain()
    summary = json.loads(parallel.stdout)["summary"]
    assert summary == {"files": 252, "findings": 11, "errors": 1, "exit_code": 2}


# -- one finding, one line -----------------------------------------------------------------------


def test_a_finding_stays_on_one_line_whatever_the_file_name(norecur, workspace, vague_text) -> None:
    # Errors escape control characters in the path (LintError.one_line); findings should too.
    write(workspace / "pm" / "odd\nname.md", vague_text)
    run = lint(norecur, "pm")
    assert run.code == 1, run.explain()
    finding_lines = [line for line in run.stdout.splitlines() if "PM508" in line]
    assert len(finding_lines) == 1, run.explain()
    assert finding_lines[0].startswith("pm/odd"), run.explain()
