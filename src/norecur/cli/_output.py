"""Where a command's text goes: stdout, or a file named with -o."""

from __future__ import annotations

import sys
from pathlib import Path

from norecur.errors import NorecurError

__all__ = ["write_output"]


def write_output(text: str, output: Path | None) -> None:
    """Write ``text`` to ``output`` (saying so), or to stdout; a failed write is one error line."""
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise NorecurError(f"cannot write: {exc.strerror or exc}", path=str(output)) from None
    print(f"wrote {output}")
