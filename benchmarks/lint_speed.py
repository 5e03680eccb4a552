"""How fast does `norecur lint` go? Generates N postmortems, lints them, prints files/s.

Baselines measured in the same run, on the same files:
  * read: reading the bytes of every file (the floor any linter pays);
  * yaml: reading plus PyYAML's C loader on each front matter (the cost the product doc
    budgets for parsing);
  * lint (1 process) and lint (N processes, the CLI default).
The target (issue #2) is at least 2,000 files/s on 2 cores.

    python benchmarks/lint_speed.py [--files 10000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import yaml

from norecur.config import Config
from norecur.lint import Linter

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples" / "postmortems").glob("*.md"))


def generate(folder: Path, count: int, seed: int = 7) -> list[Path]:
    """``count`` postmortems made from the examples with fresh ids and shifted dates."""
    rng = random.Random(seed)
    bases = [(path.stem, path.read_text(encoding="utf-8")) for path in EXAMPLES]
    paths = []
    for index in range(count):
        stem, text = bases[index % len(bases)]
        new_id = f"INC-B{index:06d}"
        body = text.replace(stem, new_id)
        if rng.random() < 0.2:  # some files carry a finding, like a real repository
            body = body.replace("status: published", "status: draft", 1)
        path = folder / f"{new_id}.md"
        path.write_text(body, encoding="utf-8")
        paths.append(path)
    return paths


def timed(label: str, count: int, func) -> float:
    start = time.perf_counter()
    func()
    seconds = time.perf_counter() - start
    print(f"{label:<28} {seconds:8.2f} s   {count / seconds:10.0f} files/s")
    return count / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="norecur-bench-"))
    try:
        paths = generate(folder, args.files)
        size = sum(p.stat().st_size for p in paths) / len(paths)
        print(
            f"{args.files} postmortems, {size / 1024:.1f} KiB each on average, {os.cpu_count()} CPUs"
        )

        def read_all() -> None:
            for p in paths:
                p.read_bytes()

        def yaml_all() -> None:
            for p in paths:
                text = p.read_text(encoding="utf-8")
                yaml.load(
                    text.split("\n---\n", 1)[0].removeprefix("---\n"), Loader=yaml.CSafeLoader
                )

        linter = Linter(Config(), today=date(2026, 11, 21) + timedelta(days=0))
        read_rate = timed("read bytes (floor)", len(paths), read_all)
        yaml_rate = timed("read + yaml C loader", len(paths), yaml_all)
        one = timed(
            "norecur lint, 1 process", len(paths), lambda: linter.lint_paths([folder], jobs=1)
        )
        many = timed(
            f"norecur lint, {args.jobs} processes",
            len(paths),
            lambda: linter.lint_paths([folder], jobs=args.jobs),
        )
        print()
        print(f"lint (1 process) / yaml-only baseline: {one / yaml_rate:.2f}x the throughput")
        print(f"lint ({args.jobs} processes) / 1 process: {many / one:.2f}x")
        print(f"read floor / lint ({args.jobs} processes): {read_rate / many:.1f}x")
        verdict = "meets" if many >= 2000 else "MISSES"
        print(f"target >= 2,000 files/s on 2 cores: {many:.0f} files/s, {verdict} it")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
