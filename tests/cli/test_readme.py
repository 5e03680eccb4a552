"""The README's lint example is real: recreating its file gives exactly the output it shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NORECUR = Path(sys.executable).parent / "norecur"

BREAKAGE = (
    ("  primary: prompt\n", "  primary: prompts\n"),
    ("    owner: Arjun Rao\n    due: 2026-05-21\n", "    due: 2026-05-21\n"),
    (
        '    action: "Run the expanded policy_comparison slice against answer-v31 and record that '
        'the gate fails it; attach the eval run ID to PA-1188."\n',
        "    action: Investigate further\n",
    ),
    (
        "Pre-deploy eval did not catch the regression",
        "Priya Iyer deployed the prompt without a slice check, a human error. Pre-deploy eval "
        "did not catch the regression",
    ),
)


def test_readme_lint_example_is_the_real_output(tmp_path):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(
        r"```console\n\$ (norecur lint [^\n]+)\n(.*?)\$ echo \$\?\n(\d)\n```", readme, re.S
    )
    assert block, "README lost its lint example"
    command, expected, exit_code = block.group(1), block.group(2), int(block.group(3))
    text = (ROOT / "examples" / "postmortems" / "INC-2026-0512.md").read_text(encoding="utf-8")
    for old, new in BREAKAGE:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (tmp_path / "postmortems").mkdir()
    (tmp_path / "postmortems" / "INC-2026-0512.md").write_text(text, encoding="utf-8")
    (tmp_path / "norecur.toml").write_text("")
    args = command.split()[1:]
    result = subprocess.run([NORECUR, *args], cwd=tmp_path, capture_output=True, text=True)
    assert result.stdout == expected
    assert result.returncode == exit_code
