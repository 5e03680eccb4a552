"""What an analyzer returns: ranked candidates, each resting on named, weighted evidence.

A :class:`Candidate` is one suspected component (an agent, a service, an operation) at one place
(a step of a conversation, a span of a trace), with a score, its rank, and the :class:`Evidence`
items the score is the sum of. Both are frozen, so a report can print them and a test can compare
them whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Candidate", "Evidence"]

SCORE_DIGITS = 9
"""Scores and contributions are rounded to this many decimals, so that the same input gives the
same bytes whatever order floating-point sums were taken in upstream."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """One named feature of a candidate: its value, the weight the analyzer gives it, and why."""

    kind: str
    """The feature's name (``wrote_failing_code``, ``repeated_action``...), stable across runs."""
    value: float
    """The feature's value for this candidate, usually 0..1."""
    weight: float
    """The weight of the feature: an analyzer parameter, printed by ``get_params()``."""
    reason: str
    """One human-readable sentence saying what was seen."""
    span_ids: tuple[str, ...] = ()
    """The spans the feature rests on (the candidate's own span first when it is one of them)."""

    @property
    def contribution(self) -> float:
        """``weight * value``, rounded to :data:`SCORE_DIGITS` decimals."""
        return round(self.weight * self.value, SCORE_DIGITS)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One suspected root cause, ranked within its trace.

    ``score`` is the sum of the contributions of ``evidence``; ``kind`` and ``reason`` are those of
    the evidence that contributes most (ties: the first in ``evidence``), so a one-line summary
    says why this candidate ranks where it does.
    """

    trace_id: str
    """The trace the candidate was found in."""
    component: str
    """What is blamed: the agent's name for an agent step, else the service or operation."""
    span_id: str
    """The span (the step) blamed."""
    step: int | None
    """0-based step index in a conversation; None for traces without steps."""
    score: float
    """Sum of the evidence contributions; higher is more suspect."""
    rank: int = 0
    """1 for the most suspect candidate of its trace; set by :meth:`Analyzer.analyze`."""
    kind: str = ""
    """The ``kind`` of the evidence that contributes most; empty when there is none."""
    reason: str = ""
    """The ``reason`` of the evidence that contributes most; empty when there is none."""
    span_ids: tuple[str, ...] = ()
    """Every span the evidence rests on, the candidate's own first, then in id order."""
    evidence: tuple[Evidence, ...] = field(default=())
    """Every feature that fired for the candidate, in the analyzer's feature order."""

    @classmethod
    def from_evidence(
        cls,
        *,
        trace_id: str,
        component: str,
        span_id: str,
        step: int | None,
        evidence: tuple[Evidence, ...],
    ) -> Candidate:
        """A candidate whose score, kind, reason and span ids are derived from ``evidence``."""
        score = round(sum(item.contribution for item in evidence), SCORE_DIGITS)
        top = max(evidence, key=lambda item: item.contribution, default=None)
        others = {span for item in evidence for span in item.span_ids} - {span_id}
        return cls(
            trace_id=trace_id,
            component=component,
            span_id=span_id,
            step=step,
            score=score,
            kind=top.kind if top is not None and top.contribution > 0 else "",
            reason=top.reason if top is not None and top.contribution > 0 else "",
            span_ids=(span_id, *sorted(others)),
            evidence=evidence,
        )
