"""Garbage in: unreadable files are one readable line each, exit 2, never a traceback.

The clean neighbours are still linted: what they give does not depend on the garbage next to them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_support import (
    CLEAN_EXAMPLE,
    TODAY,
    VAGUE_ACTION,
    Run,
    assert_no_traceback,
    replace_once,
    with_id,
)
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

TEN_MB = 10 * 1024 * 1024
GARBAGE_NAMES = (
    "binary.md",
    "bad_yaml.md",
    "services_int.md",
    "due_words.md",
    "big.md",
    "latin1.md",
    "empty.md",
)


def line_no(text: str, needle: str) -> int:
    for number, line in enumerate(text.split("\n"), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in text")


def _garbage(clean: str) -> dict[str, tuple[bytes, int | None]]:
    """name -> (content, the line the error must name; None when no line applies)."""
    bad_yaml = replace_once(with_id(clean, "INC-2099-0001"), "severity: P2\n", "severity: P2: x\n")
    services = replace_once(
        with_id(clean, "INC-2099-0002"),
        "services: [policy-assistant, prompt-registry, quality-alerting]\n",
        "services: 5\n",
    )
    due = replace_once(with_id(clean, "INC-2099-0003"), "due: 2026-05-19\n", "due: next week\n")
    latin1 = replace_once(with_id(clean, "INC-2099-0004"), "Bengaluru", "Bengal\udcfaru")
    binary = b"---\nid: INC-2099-0005\ntitle: x\n\x00\x01\x02\xff binary\n---\n"
    return {
        "binary.md": (binary, 4),
        "bad_yaml.md": (bad_yaml.encode(), line_no(bad_yaml, "severity: P2: x")),
        "services_int.md": (services.encode(), line_no(services, "services: 5")),
        "due_words.md": (due.encode(), line_no(due, "due: next week")),
        "big.md": (b"# big\n" + b"x" * TEN_MB, None),
        "latin1.md": (
            latin1.encode("utf-8", errors="surrogateescape"),
            line_no(latin1, "Bengal\udcfaru"),
        ),
        "empty.md": (b"", 1),
    }


@pytest.fixture
def garbage_folder(workspace: Path, clean_text: str) -> tuple[Path, dict]:
    folder = workspace / "pm"
    folder.mkdir()
    (folder / "clean.md").write_text(clean_text, encoding="utf-8")
    garbage = _garbage(clean_text)
    for name, (content, _line) in garbage.items():
        (folder / name).write_bytes(content)
    return folder, garbage


def _lint(norecur, *args: str) -> Run:
    run = norecur("lint", *args, "--today", TODAY)
    assert_no_traceback(run)
    return run


def test_each_bad_file_is_one_readable_line(norecur, garbage_folder) -> None:
    _folder, garbage = garbage_folder
    run = _lint(norecur, "pm")
    assert run.code == 2, run.explain()
    lines = run.stdout.splitlines()
    for line in lines:
        assert line.isprintable(), f"unreadable line {line!r}"
    for name, (_content, line) in garbage.items():
        path = f"pm/{name}"
        mine = [text for text in lines if text.startswith(f"{path}:")]
        assert len(mine) == 1, f"{name}: expected one line\n{run.explain()}"
        if line is not None:
            assert mine[0].startswith(f"{path}:{line}: "), f"{name}: wrong line\n{run.explain()}"
    big = next(text for text in lines if text.startswith("pm/big.md:"))
    assert "limit" in big
    assert "max_file_bytes" in big
    assert not any(text.startswith("pm/clean.md") for text in lines), run.explain()
    assert lines[-1] == f"Found 0 findings and {len(garbage)} errors in {len(garbage) + 1} files."


def test_the_clean_neighbour_is_still_linted(norecur, garbage_folder, vague_text) -> None:
    folder, garbage = garbage_folder
    (folder / "clean.md").write_text(vague_text, encoding="utf-8")
    run = _lint(norecur, "pm")
    assert run.code == 2, run.explain()
    line = line_no(vague_text, VAGUE_ACTION)
    assert re.search(rf"^pm/clean\.md:{line}:1: PM508 .*\[vague-action\]$", run.stdout, re.M), (
        run.explain()
    )
    assert f"Found 1 finding and {len(garbage)} errors" in run.stdout, run.explain()


@pytest.mark.parametrize("output_format", ["json", "sarif", "github"])
def test_machine_formats_survive_garbage(norecur, garbage_folder, output_format) -> None:
    _folder, garbage = garbage_folder
    run = _lint(norecur, "pm", "--format", output_format)
    assert run.code == 2, run.explain()
    if output_format == "json":
        payload = json.loads(run.stdout)
        assert sorted(Path(e["path"]).name for e in payload["errors"]) == sorted(garbage)
        assert payload["summary"]["exit_code"] == 2
    elif output_format == "sarif":
        log = json.loads(run.stdout)
        notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        assert len(notes) == len(garbage)
    else:
        assert len(run.stdout.splitlines()) == len(garbage), run.explain()
    # The errors are also one line each on stderr, so a person sees them in CI logs.
    assert len(run.stderr.splitlines()) == len(garbage), run.explain()


@pytest.mark.parametrize(
    ("command", "name"),
    [
        *[("show", name) for name in GARBAGE_NAMES],
        ("render", "binary.md"),
        ("render", "due_words.md"),
    ],
)
def test_show_and_render_refuse_garbage_in_one_line(norecur, garbage_folder, command, name) -> None:
    _folder, garbage = garbage_folder
    run = norecur(command, f"pm/{name}")
    assert_no_traceback(run)
    assert run.code == 2, run.explain()
    assert run.stdout == "", run.explain()
    [line] = run.stderr.splitlines()
    expected_line = garbage[name][1]
    if expected_line is None:  # a whole-file problem: no line, or line 1
        assert re.match(rf"error: pm/{re.escape(name)}(:1)?: ", line), run.explain()
    else:
        assert line.startswith(f"error: pm/{name}:{expected_line}: "), run.explain()


@pytest.mark.parametrize(
    ("opened", "rest"),
    [
        ('title: "never closed', "severity: P2\nstatus: draft\nteam: search\n"),
        ("severity: [P2", "status: draft\nteam: search\n"),
    ],
)
def test_unclosed_yaml_names_the_line_it_opens_on(norecur, workspace, opened, rest) -> None:
    """PyYAML notices an unclosed quote or bracket only lines later (at the end of the front
    matter for a quote); the error must still lead to the line where it opens, either as its
    line or in its message (PyYAML's context mark), not only to where the parser gave up."""
    text = f"---\nid: INC-2099-0100\n{opened}\n{rest}---\n\n# T\n"
    (workspace / "INC.md").write_text(text, encoding="utf-8")
    run = _lint(norecur, "INC.md")
    assert run.code == 2, run.explain()
    [line] = [out for out in run.stdout.splitlines() if out.startswith("INC.md:")]
    opening = line_no(text, opened)
    reported = int(line.split(":")[1])
    assert reported == opening or f"line {opening}" in line, (
        f"the YAML construct opens on line {opening}; the error says {line!r}"
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("due: 2026-05-19\n", "due: 2026-02-30\n"),
        ("due: 2026-05-19\n", "due: 2026-13-01\n"),
        ("detected: 2026-05-12 18:42:00+05:30\n", "detected: 2026-05-12 25:42:00+05:30\n"),
    ],
    ids=["feb-30", "month-13", "hour-25"],
)
def test_dates_yaml_cannot_construct_are_one_line_errors(
    norecur, workspace, clean_text, old, new
) -> None:
    """YAML reads these as timestamps and fails to build them: an error at the line, exit 2,
    and the clean neighbour is still linted."""
    folder = workspace / "pm"
    folder.mkdir()
    text = replace_once(with_id(clean_text, "INC-2099-0200"), old, new)
    (folder / "bad_date.md").write_text(text, encoding="utf-8")
    (folder / "clean.md").write_text(clean_text, encoding="utf-8")
    run = _lint(norecur, "pm")
    assert run.code == 2, run.explain()
    [line] = [out for out in run.stdout.splitlines() if out.startswith("pm/bad_date.md")]
    assert line.startswith(f"pm/bad_date.md:{line_no(text, new.strip())}: "), run.explain()
    assert "in 2 files" in run.stdout.splitlines()[-1], run.explain()


# -- arbitrary input next to clean files ----------------------------------------------------------


def _mutated(clean: str) -> st.SearchStrategy[str]:
    lines = with_id(clean, "INC-FUZZ-0001").split("\n")
    scraps = st.sampled_from(
        ["", "---", "- ", ": ", "[", "{", "}", '"', "'", "*a", "&a", "!!python/object:os.system",
         "\t", "null", "~", "-1", "1e999", ".nan", "2026-02-30", "9999-12-31 23:59:59+14:00",
         "## Cause", "# norecur: ignore PM508", "<!-- norecur: ignore PM1 -->", "\x0b", "\u2028"]
    )  # fmt: skip
    insert = st.one_of(scraps, st.text(max_size=40))

    @st.composite
    def build(draw: st.DrawFn) -> str:
        out = list(lines)
        for _ in range(draw(st.integers(1, 4))):
            index = draw(st.integers(0, len(out) - 1))
            how = draw(st.sampled_from(["delete", "insert", "splice"]))
            if how == "delete":
                del out[index]
            elif how == "insert":
                out.insert(index, draw(insert))
            else:
                line = out[index]
                at = draw(st.integers(0, len(line)))
                out[index] = line[:at] + draw(insert) + line[at + draw(st.integers(0, 8)) :]
        return "\n".join(out)

    return build()


_MUTATIONS = _mutated(CLEAN_EXAMPLE.read_text(encoding="utf-8"))
# Date-shaped values that YAML turns into timestamps, valid or not (month 13, day 32, hour 25);
# drawn as ("due", value) so a failure shows the value, and written into follow-up b.
_DATE_LIKE = st.tuples(
    st.just("due"),
    st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}( [0-9]{2}:[0-9]{2}:[0-9]{2}(\+0[0-9]:00)?)?\Z"),
)


def _materialise(data: bytes | str | tuple[str, str]) -> bytes:
    if isinstance(data, tuple):
        _field, value = data
        clean = with_id(CLEAN_EXAMPLE.read_text(encoding="utf-8"), "INC-FUZZ-0002")
        data = replace_once(clean, "due: 2026-05-21\n", f"due: {value}\n")
    if isinstance(data, str):
        return data.encode("utf-8", errors="surrogatepass")
    return data


@pytest.fixture
def neighbours(norecur, workspace: Path, clean_text: str, vague_text: str) -> tuple[Path, tuple]:
    """A clean postmortem and one with a known finding, and what linting them alone gives."""
    folder = workspace / "pm"
    folder.mkdir()
    (folder / "clean.md").write_text(clean_text, encoding="utf-8")
    (folder / "known.md").write_text(with_id(vague_text, "INC-2098-0001"), encoding="utf-8")
    alone = _lint(norecur, "pm", "--format", "json")
    assert alone.code == 1, alone.explain()
    return folder, _neighbour_results(json.loads(alone.stdout))


def _neighbour_results(payload: dict) -> tuple[list, list]:
    ours = ("pm/clean.md", "pm/known.md")
    findings = [f for f in payload["findings"] if f["location"]["path"] in ours]
    errors = [e for e in payload["errors"] if e["path"] in ours]
    return findings, errors


@settings(
    max_examples=30,
    deadline=None,
    # Every example is a subprocess: shrinking a failure would take minutes, so report it as found.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.one_of(
        st.binary(max_size=3000),
        st.text(max_size=3000),
        st.builds(lambda fm, body: f"---\n{fm}\n---\n{body}", st.text(), st.text()),
        _MUTATIONS,
        _DATE_LIKE,
    ),
    output_format=st.sampled_from(["json", "text"]),
)
def test_arbitrary_input_never_crashes(norecur, neighbours, data, output_format) -> None:
    folder, baseline = neighbours
    (folder / "fuzz.md").write_bytes(_materialise(data))
    run = _lint(norecur, "pm", "--format", output_format)
    assert run.code in {0, 1, 2}, run.explain()
    assert run.code != 0, "the known finding next door must keep the exit code at least 1"
    if output_format == "json":
        payload = json.loads(run.stdout)
        assert payload["summary"]["exit_code"] == run.code
        assert _neighbour_results(payload) == baseline, run.explain()
    else:
        ours = [
            line for line in run.stdout.splitlines() if line.startswith(("pm/clean", "pm/known"))
        ]
        assert len(ours) == 1, run.explain()
        assert ours[0].startswith("pm/known.md:")
        assert "PM508" in ours[0]
