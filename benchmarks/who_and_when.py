"""Who&When (algorithm-generated subset): which agent, at which step, caused a failed run?

Reads every JSON of ``../shared/data/who-and-when-algorithm-generated/`` through the
``agent-conversation`` reader (which never puts the labels into the span table), runs the
``agent-step-blame`` analyzer, and compares its top candidate with the labels ``mistake_agent``
and ``mistake_step``, which only this script reads, as evaluation ground truth. The whole engine
(``norecur rca``: every analyzer, the per-trace answer of its report) is measured the same way.
Printed beside them, measured in the same run on the same cases:

  * uniform random, as exact expected values (not sampled): agent 1/(distinct speakers of the
    case); step within ±k: (steps within k of the label)/len(history); averaged over cases;
  * "last agent step before the first error": the last non-tool step before the first step with
    status ERROR (when nothing failed, the last non-tool step of the run); a simple structural
    baseline;
  * the published GPT-4o bests on this subset, as text (agent 54.33 %, all-at-once; step
    25.51 %, step-by-step).

    .venv/bin/python benchmarks/who_and_when.py [--data DIR] [--param w_feature=VALUE ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pyarrow as pa

from norecur.rca import diagnose
from norecur.rca.analyzers import AgentStepBlame
from norecur.telemetry import Observations
from norecur.telemetry.readers import ConversationReader

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
WHO_AND_WHEN = DATA / "who-and-when-algorithm-generated"
WINDOWS = (0, 1, 3)
PUBLISHED = "published GPT-4o bests: agent 54.33 % (all-at-once), step 25.51 % (step-by-step)"


def structural_baseline(table: pa.Table) -> tuple[str, int]:
    """The last non-tool step before the first failed step (else the last non-tool step)."""
    rows = table.sort_by("start_ns").to_pylist()
    first_error = next(
        (i for i, row in enumerate(rows) if row["status_code"] == "ERROR"), len(rows)
    )
    before = [row for row in rows[:first_error] if row["span_kind_ai"] != "TOOL"]
    if not before:
        before = [row for row in rows if row["span_kind_ai"] != "TOOL"] or rows
    row = before[-1]
    return row["agent_name"], json.loads(row["attributes"])["message.step"]


def _parse_params(items: list[str]) -> dict[str, float]:
    params = {}
    for item in items:
        key, _, value = item.partition("=")
        params[key] = float(value)
    return params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--data", type=Path, default=WHO_AND_WHEN)
    parser.add_argument("--param", action="append", default=[], help="w_feature=VALUE")
    args = parser.parse_args()
    paths = sorted(args.data.glob("*.json"), key=lambda p: (len(p.stem), p.stem))
    analyzer = AgentStepBlame(**_parse_params(args.param))
    reader = ConversationReader()
    names = (
        "agent-step-blame",
        "norecur rca (every analyzer)",
        "last agent step before first error",
        "uniform random (exact)",
    )
    agent_hits = dict.fromkeys(names, 0.0)
    step_hits = {name: dict.fromkeys(WINDOWS, 0.0) for name in names}
    cases, spans, seconds, fallbacks = 0, 0, 0.0, 0
    for path in paths:
        document = json.loads(path.read_bytes())
        truth_agent = document["mistake_agent"]
        truth_step = int(document["mistake_step"])
        table = reader.read_table(path)
        start = time.perf_counter()
        candidates = analyzer.analyze(table)
        seconds += time.perf_counter() - start
        spans += table.num_rows
        cases += 1
        top = candidates[0]
        fallbacks += top.score <= 0
        listed = diagnose(Observations(spans=table)).document["per_trace"]["listed"]
        engine = (listed[0]["component"], listed[0]["step"]) if listed else ("", None)
        guesses = {
            names[0]: (top.component, top.step),
            names[1]: engine,
            names[2]: structural_baseline(table),
        }
        for name, (agent, step) in guesses.items():
            agent_hits[name] += agent == truth_agent
            for window in WINDOWS:
                step_hits[name][window] += step is not None and abs(step - truth_step) <= window
        history = document["history"]
        speakers = {message.get("name") or message.get("role") for message in history}
        agent_hits[names[3]] += 1 / len(speakers)
        for window in WINDOWS:
            near = sum(1 for step in range(len(history)) if abs(step - truth_step) <= window)
            step_hits[names[3]][window] += near / len(history)
    print(f"Who&When algorithm-generated: {cases} cases, {spans} steps, {args.data}")
    print(f"analyzer: {analyzer!r}")
    header = f"{'method':<38} {'agent':>7} {'step':>7} {'±1':>7} {'±3':>7}"
    print(header)
    print("-" * len(header))
    for name in names:
        cells = [agent_hits[name], *(step_hits[name][w] for w in WINDOWS)]
        print(f"{name:<38} " + " ".join(f"{100 * c / cases:6.2f}%" for c in cells))
    print(PUBLISHED)
    print(
        f"top candidate without any evidence (score <= 0, decided by the tie-break): "
        f"{fallbacks}/{cases}; analyze time {1000 * seconds / cases:.2f} ms/case"
    )


if __name__ == "__main__":
    main()
