"""Helpers and fixtures for the CLI battery: run the installed ``norecur`` console script for real.

Every test works in its own folder holding an empty ``norecur.toml``, so configuration discovery
stops there and nothing above ``tmp_path`` can leak into a run. ``conftest.py`` registers the
fixtures; test modules import the helpers from here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

NORECUR = Path(sys.executable).parent / "norecur"
REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples" / "postmortems"
CLEAN_EXAMPLE = EXAMPLES / "INC-2026-0512.md"
CLEAN_ID = "INC-2026-0512"
TODAY = "2026-11-21"
"""Pinned so the SLO rules (PM901/PM902) do not depend on the day the battery runs."""

# One follow-up action of the clean example, and a vague replacement that PM508 flags.
CLEAN_ACTION = (
    '    action: "Add 30 rider-comparison cases (riders x age-banding) to '
    'evals/policy-assistant/policy_comparison.jsonl, taking the slice from 8 to 38 examples."'
)
VAGUE_ACTION = '    action: "Improve monitoring"'


@dataclass(frozen=True)
class Run:
    """One finished ``norecur`` process."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def explain(self) -> str:
        """For assertion messages: the command, exit code and both streams."""
        return (
            f"$ norecur {' '.join(self.args)}\nexit {self.code}\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


def _env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("FORCE_COLOR", "NORECUR_CONFIG", "PYTHONWARNINGS"):
        env.pop(key, None)
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb", "PYTHONIOENCODING": "utf-8"})
    env.update(extra or {})
    return env


def run_norecur(
    *args: str | Path,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> Run:
    """Run the console script with ``args`` in ``cwd``; never raises on a non-zero exit."""
    assert NORECUR.is_file(), f"console script not installed at {NORECUR}"
    argv = tuple(str(arg) for arg in args)
    done = subprocess.run(
        [str(NORECUR), *argv],
        cwd=cwd,
        env=_env(env),
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return Run(
        argv,
        done.returncode,
        done.stdout.decode("utf-8", errors="replace"),
        done.stderr.decode("utf-8", errors="replace"),
    )


def replace_once(text: str, old: str, new: str) -> str:
    """``text`` with the single occurrence of ``old`` replaced; fails loudly if it moved."""
    count = text.count(old)
    assert count == 1, f"expected exactly one {old!r} in the example, found {count}"
    return text.replace(old, new)


def with_id(text: str, identifier: str) -> str:
    """The clean example under another incident id (so copies do not trip PM105)."""
    return replace_once(text, f"id: {CLEAN_ID}\n", f"id: {identifier}\n")


def assert_no_traceback(run: Run) -> None:
    assert "Traceback" not in run.output, run.explain()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An isolated folder: an empty ``norecur.toml`` stops config discovery here."""
    (tmp_path / "norecur.toml").write_text("", encoding="utf-8")
    return tmp_path


@pytest.fixture(scope="session")
def clean_text() -> str:
    """The clean example postmortem the battery copies and breaks."""
    return CLEAN_EXAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def vague_text(clean_text: str) -> str:
    """The clean example with one follow-up action made vague (one PM508 finding)."""
    return replace_once(clean_text, CLEAN_ACTION, VAGUE_ACTION)


@pytest.fixture
def norecur(workspace: Path) -> Callable[..., Run]:
    """``norecur(*args)`` runs the CLI in ``workspace``."""

    def run(
        *args: str | Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
    ) -> Run:
        return run_norecur(*args, cwd=cwd or workspace, env=env)

    return run
