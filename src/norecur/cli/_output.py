"""Where a command's text goes: stdout, or a file named with -o."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from norecur.errors import NorecurError

__all__ = ["progress_bar", "write_output"]


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


@contextmanager
def progress_bar(description: str, *, enabled: bool) -> Iterator[Callable[..., None] | None]:
    """A Rich progress bar on stderr when it is a terminal; None (no bar) otherwise.

    It yields ``update(done, total, note="")``; ``note`` is shown after the description.
    """
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=None)

        def update(done: int, total: int, note: str = "") -> None:
            bar.update(task, completed=done, total=total, description=f"{description}{note}")

        yield update
