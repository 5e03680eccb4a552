"""Accuracy of ``norecur rca`` on the fault-injection suite: service AC@k, class accuracy, spans.

Generates the default suite of :mod:`norecur.faultgen` (seed 2026, 240 cases, 30 per cause class,
34 fault kinds over an LLM RAG app, a tool-using agent and a microservice shop, with noise and
decoys) in memory, case by case, and runs the whole engine (:func:`norecur.rca.diagnose`, every
analyzer with its defaults, fitted on the case's fault-free baseline) on each incident. The label
is read only here, as ground truth.

- AC@k: share of cases whose labelled service is among the top k components. Components with
  equal scores count as if ordered uniformly at random (exact expectation), so a tie-break cannot
  flatter the figure. Avg@5 is the mean of AC@1..AC@5.
- Class accuracy: share of cases whose top component's class is the labelled class.
- Location precision, recall and F1 over spans: the spans blamed for the top component
  (``root_cause.spans`` of the report) against the labelled originating spans, micro-averaged
  (sums of true positives, false positives and false negatives over all cases).

The baseline beside it is a uniformly random ranking of the components present in the incident
(exact expectation) and, for classes, the share of the most common class (12.5 %).

    .venv/bin/python benchmarks/faultgen_accuracy.py [--cases N] [--seed S] [--jobs J]
"""

from __future__ import annotations

import argparse
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pyarrow.compute as pc

KS = (1, 3, 5)


def hit_probability(scores: dict[str, float], truth: str, k: int) -> float:
    """P(truth in the top k) when equal scores are ordered uniformly at random."""
    if truth not in scores:
        return 0.0
    above = sum(score > scores[truth] for score in scores.values())
    tied = sum(score == scores[truth] for score in scores.values())
    return min(1.0, max(0.0, (k - above) / tied))


def run_case(seed: int, index: int) -> dict[str, Any]:
    from norecur.faultgen import generate_case
    from norecur.rca import diagnose
    from norecur.telemetry import Observations
    from norecur.telemetry.readers import OtlpJsonReader

    case = generate_case(seed, index)
    reader = OtlpJsonReader()
    incident = Observations(spans=reader.read_table(case.incident))
    baseline = Observations(spans=reader.read_table(case.baseline))
    began = time.perf_counter()
    report = diagnose(incident, baseline)
    elapsed = time.perf_counter() - began
    document = report.document
    scores = {row["component"]: row["score"] for row in document["ranking"]}
    label = case.label
    components = pc.unique(
        pc.coalesce(incident.spans["service"], incident.spans["name"])
    ).to_pylist()
    random_scores = dict.fromkeys(components, 0.0)
    top = document["root_cause"]
    blamed = set(top["spans"]) if top else set()
    truth_spans = set(label["span_ids"])
    return {
        "case": label["case_id"],
        "class": label["cause_class"],
        "fault": label["fault"],
        "topology": label["topology"],
        "service": label["service"],
        "predicted": report.root_cause,
        "predicted_class": report.cause_class.value if report.cause_class else None,
        "hits": {k: hit_probability(scores, label["service"], k) for k in range(1, 6)},
        "random": {k: hit_probability(random_scores, label["service"], k) for k in range(1, 6)},
        "tp": len(blamed & truth_spans),
        "fp": len(blamed - truth_spans),
        "fn": len(truth_spans - blamed),
        "seconds": elapsed,
        "spans": incident.spans.num_rows,
    }


def _figures(rows: list[dict[str, Any]], key: str = "hits") -> dict[str, float]:
    n = len(rows)
    figures = {f"AC@{k}": 100 * sum(row[key][k] for row in rows) / n for k in KS}
    figures["Avg@5"] = 100 * sum(sum(row[key][k] for k in range(1, 6)) / 5 for row in rows) / n
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--cases", type=int, default=240)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--show-misses", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(run_case, [args.seed] * args.cases, range(args.cases)))
    wall = time.perf_counter() - began
    n = len(rows)
    correct_class = sum(row["predicted_class"] == row["class"] for row in rows)
    print(f"{n} cases (seed {args.seed}), {sum(row['spans'] for row in rows):,} incident spans")
    print()
    print("| ranking | AC@1 | AC@3 | AC@5 | Avg@5 | class accuracy |")
    print("|---|---|---|---|---|---|")
    ours = _figures(rows)
    print(
        "| norecur rca | "
        + " | ".join(f"{ours[key]:.2f}" for key in ("AC@1", "AC@3", "AC@5", "Avg@5"))
        + f" | {100 * correct_class / n:.2f} |"
    )
    random = _figures(rows, "random")
    majority = 100 * max(Counter(row["class"] for row in rows).values()) / n
    print(
        "| random (exact expectation) | "
        + " | ".join(f"{random[key]:.2f}" for key in ("AC@1", "AC@3", "AC@5", "Avg@5"))
        + f" | {majority:.2f} |"
    )
    tp = sum(row["tp"] for row in rows)
    fp = sum(row["fp"] for row in rows)
    fn = sum(row["fn"] for row in rows)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    print()
    print(f"span location (micro): precision {precision:.3f}, recall {recall:.3f}, F1 {f1:.3f}")
    print()
    print("| class | cases | AC@1 | class accuracy | predicted classes |")
    print("|---|---|---|---|---|")
    by_class: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_class[row["class"]].append(row)
    for cause, members in sorted(by_class.items()):
        predicted = Counter(row["predicted_class"] for row in members)
        spread = ", ".join(f"{name} {count}" for name, count in predicted.most_common())
        print(
            f"| {cause} | {len(members)} | {_figures(members)['AC@1']:.1f} | "
            f"{100 * sum(r['predicted_class'] == cause for r in members) / len(members):.1f} | "
            f"{spread} |"
        )
    print()
    print("| fault kind | cases | AC@1 | class accuracy |")
    print("|---|---|---|---|")
    by_fault: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_fault[row["fault"]].append(row)
    for fault, members in sorted(by_fault.items()):
        print(
            f"| {fault} | {len(members)} | {_figures(members)['AC@1']:.1f} | "
            f"{100 * sum(r['predicted_class'] == r['class'] for r in members) / len(members):.1f} |"
        )
    seconds = sorted(row["seconds"] for row in rows)
    print()
    print(
        f"diagnose per case: median {seconds[n // 2]:.2f} s, max {seconds[-1]:.2f} s; "
        f"wall {wall:.0f} s with {args.jobs} processes (generation and reading included)"
    )
    if args.show_misses:
        for row in rows:
            if row["hits"][1] < 1 or row["predicted_class"] != row["class"]:
                print(
                    f"  miss {row['case']} {row['fault']} ({row['topology']}): truth "
                    f"{row['service']}/{row['class']}, got {row['predicted']}/"
                    f"{row['predicted_class']}"
                )


if __name__ == "__main__":
    main()
