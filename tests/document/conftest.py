"""Shared fixtures for the document-layer tests: real postmortem files on disk."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from norecur.model import (
    ApparatusKind,
    ApparatusUpdate,
    BlastRadius,
    Cause,
    CauseClass,
    ContributingFactor,
    Dates,
    EvalDelta,
    FollowUp,
    FollowUpStatus,
    FollowUpType,
    Milestones,
    Narrative,
    OnCall,
    Postmortem,
    PostmortemStatus,
    TimelineEntry,
    TimelineKind,
)

# A hand-written postmortem. Line numbers in the tests refer to this text (line 1 is '---').
EXAMPLE = """\
---
id: inc-2026-041
title: Checkout assistant quoted stale prices
severity: P1
status: in-review
team: assistants
services: [checkout-bot, pricing-rag]
authors:
  - Ana
on_call:
  - role: primary
    name: Ana
dates:
  written: 2026-05-13
incident:
  timezone: Europe/Paris
  impact_started: 2026-05-12 18:00
  detected: 2026-05-12 18:30:00+05:30
timeline:
  - time: 2026-05-12 18:31:00
    kind: detection
    event: paged by the price-freshness probe
cause:
  primary: retrieval
  subcategory: stale-index
  contributing:
    - class: apparatus
      description: no alert on index age
blast_radius:
  sessions: 1200
  duration_minutes: 182.5
  slices: [tenant=acme]
eval_delta:
  gap: true
  cases_to_add: 12
follow_ups:
  - id: a
    action: alert on index age
    owner: Ana
    due: 2026-06-01
    status: open
    type: apparatus
    apparatus_kind: alert
  - id: b
    action: add freshness cases
    owner: Bo
    due: 2026-06-15
    status: in-progress
apparatus_updates:
  - kind: alert
    change: page when the index is older than 1h
    follow_up: a
---

# Checkout assistant quoted stale prices

Context before the first part.

## Identification

Related: inc-2025-990.

## Summary

Users saw **old prices** for 3 hours.

## Timeline

```text
## not a heading: a fenced line
# nor this
```

## Cause

The pipeline allowed a stale index to serve.

### Why the probe was late

It ran hourly.

## Blast radius

## Eval delta

## Follow-up actions

## Apparatus updates

## What went well

The rollback was quick.

## What did not go well

## Appendix

Raw logs.
"""


@pytest.fixture
def example_text() -> str:
    return EXAMPLE


@pytest.fixture
def write(tmp_path: Path):
    """Write bytes or text to a file under tmp_path and return its path."""

    def _write(data: bytes | str, name: str = "postmortem.md") -> Path:
        path = tmp_path / name
        if isinstance(data, str):
            path.write_bytes(data.encode("utf-8"))
        else:
            path.write_bytes(data)
        return path

    return _write


@pytest.fixture
def full_postmortem() -> Postmortem:
    """Every part filled in, with aware and naive times, a wont-do follow-up and fenced prose."""
    return Postmortem(
        id="inc-2026-041",
        title="Checkout assistant quoted stale prices",
        severity="P1",
        status=PostmortemStatus.IN_REVIEW,
        team="assistants",
        services=["checkout-bot", "pricing-rag"],
        authors=["Ana", "Bo"],
        on_call=[OnCall(role="primary", name="Ana"), OnCall(role="secondary")],
        reviewers=["Cy"],
        dates=Dates(written=date(2026, 5, 13), published=date(2026, 5, 15)),
        incident=Milestones(
            timezone="Europe/Paris",
            impact_started=datetime(2026, 5, 12, 18, 0),
            detected=datetime(2026, 5, 12, 18, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            resolved=datetime(2026, 5, 12, 21, 0, 0, 250000, tzinfo=UTC),
        ),
        timeline=[
            TimelineEntry(
                time=datetime(2026, 5, 12, 18, 0), event="index rebuilt", kind=TimelineKind.CHANGE
            ),
            TimelineEntry(
                time=datetime(
                    2026, 5, 12, 18, 31, tzinfo=timezone(-timedelta(hours=3, minutes=45))
                ),
                event="paged",
                kind=TimelineKind.DETECTION,
                actor="primary on-call",
            ),
        ],
        cause=Cause(
            primary=CauseClass.RETRIEVAL,
            subcategory="stale-index",
            contributing=[
                ContributingFactor.model_validate({"class": "apparatus", "description": "no alert"})
            ],
        ),
        blast_radius=BlastRadius(
            sessions=1200, users=0, duration_minutes=182.5, slices=["tenant=acme"], sla_breach=False
        ),
        eval_delta=EvalDelta(gap=True, missing_coverage="price freshness", cases_to_add=12),
        follow_ups=[
            FollowUp(
                id="a",
                action="alert on index age",
                owner="Ana",
                due=date(2026, 6, 1),
                status=FollowUpStatus.OPEN,
                type=FollowUpType.APPARATUS,
                apparatus_kind=ApparatusKind.ALERT,
                ticket="OPS-1",
            ),
            FollowUp(
                id="b", status=FollowUpStatus.WONT_DO, reason="superseded", closed=date(2026, 5, 20)
            ),
        ],
        apparatus_updates=[
            ApparatusUpdate(kind=ApparatusKind.ALERT, change="index age > 1h", follow_up="a")
        ],
        narrative=Narrative(
            summary="Users saw **old prices**.\n\n- one\n- two",
            cause="```md\n## not a heading\n# nor this\n```\n\n### Why\n\nThe pipeline allowed it.",
            went_wrong="ünïcödé ✓ 漢字 🚀",
        ),
    )
