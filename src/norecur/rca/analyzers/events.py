"""``change-events``: which deploy, prompt, model, config or index change the incident followed."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc

from norecur.rca._analyzer import Analyzer, Context
from norecur.rca._evidence import Candidate, Evidence
from norecur.rca._signals import failed_traces
from norecur.rca.analyzers.latency import WINDOW
from norecur.rca.kpi.changepoint import ChangePoint
from norecur.rca.kpi.events import DEFAULT_HALF_LIFE_NS, rank_events

__all__ = ["ChangeEvents"]


class ChangeEvents(Analyzer):
    """Blames the component a change event touched shortly before the incident began.

    Reads the change events given with the incident (``norecur rca --events FILE``: deploys,
    prompt, model, config, index and data changes). The incident's *onset* is the start of its
    first failed trace (:func:`~norecur.rca.failed_traces`). Each event is ranked by
    :func:`~norecur.rca.kpi.events.rank_events`: its alignment with the onset (an event before
    it decays with ``half_life_s``; one after it scores 0, since causes precede effects). An
    event scoring at least ``min_score`` gives a window-level candidate for its ``target`` (the
    service, prompt or component it changed; else its name), with one evidence item whose kind
    is ``change_event_<kind>`` (``change_event_prompt``, ``change_event_deploy``...), so the
    classification can read what changed. Without events or without a failed trace there are
    no candidates.
    """

    name = "change-events"

    def __init__(
        self,
        *,
        half_life_s: float = DEFAULT_HALF_LIFE_NS / 1e9,
        min_score: float = 0.1,
        w_change_event: float = 1.0,
    ) -> None:
        self.half_life_s = half_life_s
        self.min_score = min_score
        self.w_change_event = w_change_event

    def _validate_params(self) -> None:
        super()._validate_params()
        for key, value in self.get_params().items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{self.name}: {key} must be a number >= 0, got {value!r}")
        if self.half_life_s <= 0:
            raise ValueError(f"{self.name}: half_life_s must be > 0")

    def _analyze(self, spans: pa.Table, context: Context) -> list[Candidate]:
        events = context.events
        if events is None or events.num_rows == 0 or spans.num_rows == 0:
            return []
        failed = failed_traces(spans, context.logs)
        if not failed:
            return []
        mask = pc.is_in(spans["trace_id"], value_set=pa.array(sorted(failed), pa.string()))
        onset = int(pc.min(spans["start_ns"].filter(mask)).as_py())
        point = ChangePoint(
            time_ns=onset,
            index=0,
            before_mean=math.nan,
            after_mean=math.nan,
            magnitude=math.nan,
            relative=math.nan,
            z=math.nan,
            p_value=0.0,
            noise=math.nan,
            before_count=0,
            after_count=0,
        )
        ranked = rank_events(events, [point], half_life_ns=int(self.half_life_s * 1e9))
        best: dict[str, Candidate] = {}
        for event in ranked:
            if event.score < self.min_score:
                continue
            component = event.target or event.name
            evidence = (
                Evidence(
                    kind=f"change_event_{event.kind}",
                    value=round(event.score, 9),
                    weight=self.w_change_event,
                    reason=f"{event.kind} change {event.name} {event.old} -> {event.new}: "
                    + event.reason,
                ),
            )
            candidate = Candidate.from_evidence(
                trace_id=WINDOW, component=component, span_id="", step=None, evidence=evidence
            )
            held = best.get(component)
            if held is None or candidate.score > held.score:
                best[component] = candidate
        return [best[component] for component in sorted(best)]
