"""Run the installed ``norecur`` console script for real, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

NORECUR = Path(sys.executable).parent / "norecur"


def run(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``norecur ARGS`` in ``cwd``, colour off and wide; never raises on a non-zero exit."""
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"}
    return subprocess.run(
        [str(NORECUR), *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
