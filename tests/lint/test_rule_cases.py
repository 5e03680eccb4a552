"""Rule tests are data: one YAML file per rule code under ``rule_cases/``.

Each case takes a lint-clean example from ``examples/postmortems``, applies exact text
replacements (each ``old`` must occur exactly once in the base file), lints the result and
compares the findings, as sorted ``(code, line)`` pairs, with ``expect`` EXACTLY: a case that
breaks one thing must produce exactly the one finding it expects, and nothing else may fire.

Case keys:

``name``
    what the case shows (a failing case breaks one thing, a passing case is a near miss).
``base`` / ``replace``
    the example file the case starts from, and ``[{old, new}, ...]`` applied in order.
``files``
    instead of ``base``/``replace``, for cross-file rules: ``[{base, replace}, ...]``; each file
    is written to its own folder (``tmp/0/``, ``tmp/1/``, ...) under its base name, and each
    expected finding names its ``file`` index.
``config``
    keyword overrides for :meth:`norecur.config.Config.from_mapping`.
``today``
    the date the SLO rules treat as today (default 2026-11-21).
``expect``
    the findings, ``[{code, line}, ...]`` (plus ``file`` with ``files``); ``[]`` for a pass.
    An entry may also give the ``suggestion`` the finding must carry.
``xfail``
    a suspected bug in a rule, as the reason: the case states the behaviour the rule should
    have and is expected to fail (strictly) until the rule is fixed.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from norecur.config import Config
from norecur.lint import Linter, default_registry

HERE = Path(__file__).parent
CASES_DIR = HERE / "rule_cases"
EXAMPLES = HERE.parent.parent / "examples" / "postmortems"
DEFAULT_TODAY = dt.date(2026, 11, 21)
CASE_KEYS = {"name", "base", "replace", "files", "config", "today", "expect", "xfail"}
# Rules the engine raises without a document to break: the failing case lives in Python.
FAILING_CASE_IN_PYTHON = {
    "PM000": "tests/lint/test_rule_docs.py::test_crashing_rule_becomes_a_pm000_finding",
}


def _load_case_files() -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(CASES_DIR.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert isinstance(data, dict), f"{path.name}: expected a mapping"
        assert data.get("rule") == path.stem, f"{path.name}: 'rule' must be {path.stem}"
        assert isinstance(data.get("cases"), list), f"{path.name}: expected a list of cases"
        files[path.stem] = data
    return files


CASE_FILES = _load_case_files()
CASES = [
    pytest.param(
        code,
        case,
        id=f"{code}-{index}-{_slug}",
        marks=[pytest.mark.xfail(reason=case["xfail"], strict=True)] if case.get("xfail") else [],
    )
    for code, data in CASE_FILES.items()
    for index, case in enumerate(data["cases"])
    for _slug in [re.sub(r"[^a-z0-9]+", "-", str(case.get("name", "")).lower()).strip("-")]
]


def _apply(base: str, replacements: list[dict[str, str]] | None) -> str:
    text = (EXAMPLES / base).read_text(encoding="utf-8")
    for replacement in replacements or []:
        old, new = replacement["old"], replacement["new"]
        count = text.count(old)
        assert count == 1, f"{base}: {old!r} occurs {count} times, expected exactly once"
        text = text.replace(old, new)
    return text


def _today(case: dict[str, Any]) -> dt.date:
    today = case.get("today", DEFAULT_TODAY)
    return today if isinstance(today, dt.date) else dt.date.fromisoformat(str(today))


def _expected(case: dict[str, Any], multi: bool) -> list[tuple]:
    expect = case.get("expect")
    assert isinstance(expect, list), "expect must be a list ([] for a passing case)"
    if multi:
        return sorted((int(e["file"]), str(e["code"]), int(e["line"])) for e in expect)
    return sorted((str(e["code"]), int(e["line"])) for e in expect)


def run_case(case: dict[str, Any], tmp_path: Path) -> tuple[list[tuple], list[tuple]]:
    """Lint the case's file(s); ``(actual, expected)`` as sorted tuples.

    Expected suggestions are checked here; the caller compares the findings.
    """
    unknown = set(case) - CASE_KEYS
    assert not unknown, f"unknown case keys {sorted(unknown)}"
    linter = Linter(Config.from_mapping(case.get("config") or {}), today=_today(case))
    if "files" in case:
        assert "base" not in case, "use either files or base/replace"
        assert "replace" not in case, "use either files or base/replace"
        paths = []
        for index, spec in enumerate(case["files"]):
            folder = tmp_path / str(index)
            folder.mkdir()
            path = folder / spec["base"]
            path.write_text(_apply(spec["base"], spec.get("replace")), encoding="utf-8")
            paths.append(path)
        result = linter.lint_paths(paths, jobs=1)
        where = {str(path): index for index, path in enumerate(paths)}
        actual = sorted((where[f.path], f.code, f.line) for f in result.findings)
        multi = True
    else:
        path = tmp_path / case["base"]
        path.write_text(_apply(case["base"], case.get("replace")), encoding="utf-8")
        result = linter.lint_paths([path], jobs=1)
        actual = sorted((f.code, f.line) for f in result.findings)
        where = {}
        multi = False
    assert result.errors == [], f"the case does not parse: {result.errors}"
    for entry in case.get("expect") or []:
        if "suggestion" not in entry:
            continue
        suggestions = [
            f.suggestion
            for f in result.findings
            if f.code == entry["code"]
            and f.line == entry["line"]
            and (not multi or where[f.path] == entry["file"])
        ]
        assert entry["suggestion"] in suggestions, (
            f"{entry['code']} at line {entry['line']}: suggestions {suggestions}"
        )
    return actual, _expected(case, multi)


@pytest.mark.parametrize(("code", "case"), CASES)
def test_rule_case(code: str, case: dict[str, Any], tmp_path: Path) -> None:
    actual, expected = run_case(case, tmp_path)
    assert actual == expected, f"{code}: {case['name']}"


def _is_failing(case: dict[str, Any]) -> bool:
    return bool(case.get("expect"))


def test_every_rule_has_failing_and_passing_cases() -> None:
    codes = {rule.code for rule in default_registry()}
    assert set(CASE_FILES) == codes, (
        f"missing case files: {sorted(codes - set(CASE_FILES))}; "
        f"case files of no rule: {sorted(set(CASE_FILES) - codes)}"
    )
    for code, data in CASE_FILES.items():
        cases = [case for case in data["cases"] if not case.get("xfail")]
        assert any(not _is_failing(case) for case in cases), f"{code}: no passing case"
        if code in FAILING_CASE_IN_PYTHON:
            continue
        assert any(_is_failing(case) for case in cases), f"{code}: no failing case"


def test_failing_cases_expect_their_own_rule() -> None:
    for code, data in CASE_FILES.items():
        for case in data["cases"]:
            codes = {expected["code"] for expected in case.get("expect") or []}
            if codes:
                assert code in codes, f"{code}: case {case['name']!r} expects only {codes}"


def test_case_names_are_unique() -> None:
    for code, data in CASE_FILES.items():
        names = [case["name"] for case in data["cases"]]
        assert len(names) == len(set(names)), f"{code}: duplicate case names"
