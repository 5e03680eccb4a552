"""One ranking out of many analyzers: a transparent noisy-OR score and Shapley blame shares.

Each analyzer is read as an independent witness. Its candidates become a *strength*
``p_a(c)`` in 0..1 for every component ``c``:

- window-level candidates (trace id ``*``, one ranking for the whole incident):
  ``p = 1 - exp(-score)``, so a score of 1 (one clear unit of anomaly in the analyzer's own
  terms) reads as 0.63 and large scores saturate at 1;
- trace-level candidates: in each trace the component's best score, capped at 1; ``p`` is the
  sum of that over the traces, divided by the number of failed traces or, when larger, of
  traces in which the analyzer found anything. A component blamed in every failed trace reads
  1; one blamed in a few noisy traces reads little, however sure each finding is.

The combined score is the noisy-OR of the witnesses, each convicting with probability
``weight_a * p_a(c)``::

    score(c) = 1 - prod over analyzers a of (1 - weight_a * p_a(c))

It grows with every analyzer that agrees and never exceeds 1. Its *evidence shares* are the
Shapley values of the analyzers in the cooperative game ``v(S) = 1 - prod_{a in S}(1 - w_a p_a)``
(exact, over every subset), so they add up to the score and say how much each analyzer's
evidence contributed. The *blame share* of a component is its Shapley value in the game
``v(S) = max_{c in S} score(c)`` over components, divided by the top score: components as
suspect as the top one split the blame, weaker ones get a small share, the shares add up to 1.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from norecur.rca._evidence import SCORE_DIGITS, Candidate

__all__ = ["EXAMPLES", "Ranked", "blame_shares", "combine", "shapley_noisy_or", "strengths"]

WINDOW = "*"
"""Trace id of a window-level candidate."""
EXAMPLES = 5
"""Candidates kept per component as examples."""


@dataclass(frozen=True, slots=True)
class Ranked:
    """One component in the combined ranking."""

    component: str
    score: float
    """The noisy-OR of the analyzers' strengths, 0..1."""
    rank: int
    blame_share: float
    """Shapley share of the blame among components (all shares add up to 1)."""
    strengths: dict[str, float]
    """Analyzer name -> strength ``p_a`` in 0..1 (only analyzers that found something)."""
    shares: dict[str, float]
    """Analyzer name -> Shapley value of its evidence in ``score`` (adds up to ``score``)."""
    examples: tuple[tuple[str, Candidate], ...]
    """Up to :data:`EXAMPLES` ``(analyzer, candidate)`` pairs for this component: the analyzer
    with the largest share first, each analyzer's strongest candidates first."""


def strengths(candidates: Sequence[Candidate], failed_traces: int = 0) -> dict[str, float]:
    """Component -> strength ``p`` in 0..1 of one analyzer's candidates (module docstring);
    ``failed_traces`` is the number of failed traces in the window."""
    window = [candidate for candidate in candidates if candidate.trace_id == WINDOW]
    traced = [candidate for candidate in candidates if candidate.trace_id != WINDOW]
    result: dict[str, float] = {}
    for candidate in window:
        value = 1.0 - math.exp(-max(candidate.score, 0.0))
        result[candidate.component] = max(result.get(candidate.component, 0.0), value)
    per_trace: dict[str, dict[str, float]] = defaultdict(dict)
    for candidate in traced:
        if candidate.score <= 0:
            continue
        best = per_trace[candidate.trace_id]
        best[candidate.component] = max(best.get(candidate.component, 0.0), candidate.score)
    if per_trace:
        totals: dict[str, float] = defaultdict(float)
        for best in per_trace.values():
            for component, score in best.items():
                totals[component] += min(score, 1.0)
        denominator = max(len(per_trace), failed_traces)
        for component, total in totals.items():
            value = total / denominator
            result[component] = max(result.get(component, 0.0), value)
    return {component: _round(value) for component, value in result.items() if value > 0}


def shapley_noisy_or(convictions: Mapping[str, float]) -> dict[str, float]:
    """Exact Shapley values of the players in ``v(S) = 1 - prod_{i in S}(1 - q_i)``.

    ``convictions`` maps a player to its ``q_i`` in 0..1. Players with ``q_i = 0`` are null
    players (value 0) and are left out of the enumeration, which is over every subset of the
    others (there are only as many players as analyzers).
    """
    players = sorted(name for name, q in convictions.items() if q > 0)
    n = len(players)
    values = dict.fromkeys(convictions, 0.0)
    if n == 0:
        return values
    factorial = [math.factorial(k) for k in range(n + 1)]

    def worth(subset: Sequence[str]) -> float:
        product = 1.0
        for name in subset:
            product *= 1.0 - convictions[name]
        return 1.0 - product

    for player in players:
        others = [name for name in players if name != player]
        total = 0.0
        for size in range(n):
            weight = factorial[size] * factorial[n - size - 1] / factorial[n]
            for subset in combinations(others, size):
                total += weight * (worth((*subset, player)) - worth(subset))
        values[player] = _round(total)
    return values


def blame_shares(scores: Mapping[str, float]) -> dict[str, float]:
    """Shapley shares of the game ``v(S) = max score in S``, divided by the top score.

    Closed form: with scores sorted ascending ``s_1 <= ... <= s_n`` (``s_0 = 0``), the value of
    the ``i``-th is ``sum_{j <= i} (s_j - s_{j-1}) / (n - j + 1)``.
    """
    ordered = sorted(scores.items(), key=lambda item: (item[1], item[0]))
    top = ordered[-1][1] if ordered else 0.0
    if top <= 0:
        return dict.fromkeys(scores, 0.0)
    shares: dict[str, float] = {}
    running, previous, n = 0.0, 0.0, len(ordered)
    for index, (component, score) in enumerate(ordered):
        running += (score - previous) / (n - index)
        previous = score
        shares[component] = _round(running / top)
    return shares


def combine(
    found: Mapping[str, Sequence[Candidate]],
    weights: Mapping[str, float],
    *,
    failed_traces: int = 0,
) -> list[Ranked]:
    """The combined ranking of every component any analyzer blamed (module docstring).

    ``found`` maps analyzer name to its candidates; ``weights`` maps analyzer name to its
    weight in 0..1 (an analyzer missing from ``weights`` weighs 1); ``failed_traces`` is the
    number of failed traces in the window (see :func:`strengths`). Ties in score go to the
    component more analyzers blamed, then to the name.
    """
    per_analyzer = {
        name: strengths(candidates, failed_traces) for name, candidates in found.items()
    }
    by_component: dict[str, list[tuple[str, Candidate]]] = defaultdict(list)
    for name, candidates in sorted(found.items()):
        for candidate in candidates:
            if candidate.score > 0:
                by_component[candidate.component].append((name, candidate))
    components = sorted({component for values in per_analyzer.values() for component in values})
    rows = []
    for component in components:
        component_strengths = {
            name: values[component]
            for name, values in sorted(per_analyzer.items())
            if component in values
        }
        convictions = {
            name: min(1.0, max(0.0, weights.get(name, 1.0))) * value
            for name, value in component_strengths.items()
        }
        shares = shapley_noisy_or(convictions)
        score = _round(1.0 - math.prod(1.0 - q for q in convictions.values()))
        blamed = sorted(
            by_component[component],
            key=lambda pair: (
                -shares.get(pair[0], 0.0),
                pair[0],
                -pair[1].score,
                pair[1].trace_id,
                pair[1].span_id,
            ),
        )
        rows.append((component, score, component_strengths, shares, tuple(blamed[:EXAMPLES])))
    rows.sort(key=lambda row: (-row[1], -len(row[2]), row[0]))
    shares_by_component = blame_shares({row[0]: row[1] for row in rows})
    return [
        Ranked(
            component=component,
            score=score,
            rank=index + 1,
            blame_share=shares_by_component[component],
            strengths=component_strengths,
            shares=shares,
            examples=blamed,
        )
        for index, (component, score, component_strengths, shares, blamed) in enumerate(rows)
    ]


def _round(value: float) -> float:
    return round(value, SCORE_DIGITS)
