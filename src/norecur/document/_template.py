"""The template ``norecur new`` writes: every part present, guidance in comments."""

from __future__ import annotations

import json
import re
from datetime import date

__all__ = ["new_postmortem"]

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")

_TEMPLATE = """\
---
# norecur postmortem. `norecur schema` prints the JSON Schema of these fields.
# Every field is part of the contract: what stays empty is a visible gap `norecur lint` reports.
id: {id}
title:{title_value}
severity:           # P0 (worst) .. P4, or your configured scale
status: draft       # draft | in-review | published | not-required
team:               # the team that owns the follow-ups
services: []
authors: []
on_call:
  - role: primary   # names appear as role holders, never as causes
    name:
reviewers: []
dates:
  written: {today}
  published:
incident:
  timezone: UTC     # IANA zone for the times below that carry no offset
  impact_started:   # YYYY-MM-DD HH:MM, e.g. 2026-05-12 18:00:00+05:30
  detected:
  acknowledged:
  mitigated:
  resolved:
  closed:
timeline: []        # - time: ..., kind: detection|escalation|mitigation|resolution|..., event: ...
cause:
  primary:          # prompt | model | retrieval | data | tooling | gateway | upstream | apparatus
  subcategory:      # optional, declared in norecur.toml [subcategories]
  contributing: []  # - class: apparatus, description: what else made it possible
blast_radius:       # in user terms: at least one count
  sessions:
  users:
  tenants:
  requests:
  duration_minutes:
  slices: []        # e.g. intent=policy_comparison, tenant=acme
  sla_breach:
  business_impact:
eval_delta:
  gap:              # true: the eval set missed this; false: explain in no_gap_reason
  missing_coverage:
  cases_to_add:
  eval_set:         # where the eval set lives
  validation:       # how the new cases are shown to catch the regressed version
  no_gap_reason:
follow_ups:         # each: action, owner, due date, status; at least one apparatus update
  - id: a
    action:
    owner:
    due:
    status: open    # open | in-progress | done | wont-do
    type:           # fix | prevent | detect | eval | apparatus
    apparatus_kind: # alert | runbook | escalation | drill, for type: apparatus
    ticket:
apparatus_updates:  # what changes about alerts, runbooks, escalations, drills
  - kind:
    change:
    follow_up:      # id of the follow-up that delivers it
---

# {heading}

## Identification

<!-- Anything the fields above do not say: related incidents, sub-postmortems. -->

## Summary

<!-- 3-5 sentences: what happened, what users saw, what was done. -->

## Timeline

<!-- The timeline field holds the events; add context here if it helps. -->

## Cause

<!-- Why it happened, framed as the system: "the deploy pipeline allowed ...", not "X deployed ...". -->

## Blast radius

<!-- Who and what was affected, and how that was measured. -->

## Eval delta

<!-- What the eval set missed and how the new cases will be validated against the regressed version. -->

## Follow-up actions

<!-- The follow_ups field is the list; explain priorities here if needed. -->

## Apparatus updates

<!-- Alert, runbook, escalation and drill changes this incident motivates. -->

## What went well

<!-- Parts of the apparatus that worked as designed. -->

## What did not go well

<!-- Apparatus and design gaps, not individual decisions. -->
"""


def new_postmortem(incident_id: str, *, today: date, title: str | None = None) -> str:
    """A complete template for ``incident_id``, dated ``today``.

    Raises ``ValueError`` for an id that is not a plain token (letters, digits, ``._-``).
    """
    if not _ID.fullmatch(incident_id):
        raise ValueError(
            f"incident id {incident_id!r} must start with a letter or digit and use only "
            "letters, digits, '.', '_' and '-'"
        )
    one_line = " ".join((title or "").split())
    # JSON strings are YAML double-quoted scalars: any title is written safely on one line.
    title_value = (
        f" {json.dumps(one_line, ensure_ascii=False)}"
        if one_line
        else ("              # one line: what users saw, not who did what")
    )
    return _TEMPLATE.format(
        id=incident_id,
        today=today.isoformat(),
        title_value=title_value,
        heading=one_line or incident_id,
    )
