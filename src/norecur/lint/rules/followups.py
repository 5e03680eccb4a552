"""PM5xx: follow-up actions, owned, dated, tracked, specific, and changing the apparatus."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from functools import lru_cache

from norecur.lint._context import LintContext, Violation
from norecur.lint._rule import Rule
from norecur.lint.rules._text import is_placeholder
from norecur.model import MILESTONES, FollowUp, FollowUpStatus, FollowUpType, Postmortem

__all__ = [
    "ApparatusFollowUpWithoutKind",
    "DoneWithoutClosedDate",
    "DueBeforeIncident",
    "FollowUpWithoutAction",
    "FollowUpWithoutDueDate",
    "FollowUpWithoutOwner",
    "FollowUpWithoutStatus",
    "NoApparatusFollowUp",
    "NoFollowUps",
    "VagueAction",
    "WontDoWithoutReason",
]


def _label(index: int, follow_up: FollowUp) -> str:
    return f"follow-up '{follow_up.id}'" if follow_up.id else f"follow-up {index + 1}"


def incident_date(pm: Postmortem) -> date | None:
    """The calendar date the incident started: the first milestone that is set."""
    for name in MILESTONES:
        value = getattr(pm.incident, name)
        if value is not None:
            return value.date()
    return None


class NoFollowUps(Rule):
    """The postmortem has no follow-up actions.

    What it checks:
        `follow_ups` holds at least one action.

    Why it matters:
        The deliverable of a postmortem is the change to the system, not the document. With no
        follow-ups, nothing changes and the incident can recur.

    Example:
        ```yaml
        follow_ups: []
        ```

    Instead:
        ```yaml
        follow_ups:
          - id: a
            action: Add 30 rider-comparison cases to evals/policy_comparison.jsonl
            owner: Arjun Rao
            due: 2026-05-19
            status: open
            type: eval
        ```

    Options:
        None.
    """

    code = "PM501"
    name = "no-follow-ups"
    reads = ("follow_ups",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        if not ctx.pm.follow_ups:
            yield Violation(
                "no follow-up actions", line=ctx.field_or_part_line(("follow_ups",), "follow_ups")
            )


class FollowUpWithoutOwner(Rule):
    """A follow-up has no owner.

    What it checks:
        Every follow-up names an `owner` (a person or a role such as "drill lead").

    Why it matters:
        An action nobody owns is not tracked to closure; it becomes a wishlist item.

    Example:
        ```yaml
          - id: c
            action: Alert when policy_comparison thumbs-down rate exceeds 10 % over 15 min
        ```

    Instead:
        ```yaml
          - id: c
            action: Alert when policy_comparison thumbs-down rate exceeds 10 % over 15 min
            owner: Priya Iyer
        ```

    Options:
        None.
    """

    code = "PM502"
    name = "follow-up-without-owner"
    reads = ("follow_ups",)
    owns = ("follow_ups.*.owner",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        for index, follow_up in enumerate(ctx.pm.follow_ups):
            if is_placeholder(follow_up.owner):
                yield Violation(
                    f"{_label(index, follow_up)} has no owner", field=("follow_ups", index)
                )


class FollowUpWithoutDueDate(Rule):
    """A follow-up has no due date.

    What it checks:
        Every follow-up has a `due` date.

    Why it matters:
        Closure is measured within 30 days of publication; an action with no date is never
        late, so it is never closed.

    Example:
        ```yaml
          - id: a
            owner: Arjun Rao
        ```

    Instead:
        ```yaml
          - id: a
            owner: Arjun Rao
            due: 2026-05-19
        ```

    Options:
        None.
    """

    code = "PM503"
    name = "follow-up-without-due-date"
    reads = ("follow_ups",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        for index, follow_up in enumerate(ctx.pm.follow_ups):
            if follow_up.due is None:
                yield Violation(
                    f"{_label(index, follow_up)} has no due date", field=("follow_ups", index)
                )


class FollowUpWithoutStatus(Rule):
    """A follow-up has no status, or one outside open, in-progress, done, wont-do.

    What it checks:
        Every follow-up has a `status` of `open`, `in-progress`, `done` or `wont-do`.

    Why it matters:
        Status is what closure rates count. A missing or home-grown status ("closed",
        "pending") is invisible to the closure signal.

    Example:
        ```yaml
            status: pending
        ```

    Instead:
        ```yaml
            status: open
        ```

    Options:
        None.
    """

    code = "PM504"
    name = "follow-up-without-status"
    reads = ("follow_ups",)
    owns = ("follow_ups.*.status",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        for index, follow_up in enumerate(ctx.pm.follow_ups):
            if follow_up.status is None:
                yield Violation(
                    f"{_label(index, follow_up)} has no status (open, in-progress, done, wont-do)",
                    field=("follow_ups", index),
                )


class DueBeforeIncident(Rule):
    """A follow-up is due before the incident happened.

    What it checks:
        Each `due` date is on or after the incident's first milestone date.

    Why it matters:
        A due date before the incident is a typo (usually the year or month) that makes the
        action look overdue from day one, or never overdue if it was meant to be next year.

    Example:
        ```yaml
        incident:
          impact_started: 2026-05-12 18:00:00+05:30
        follow_ups:
          - id: a
            due: 2025-05-19
        ```

    Instead:
        ```yaml
            due: 2026-05-19
        ```

    Options:
        None.
    """

    code = "PM505"
    name = "due-before-incident"
    reads = ("follow_ups", "incident")

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        started = incident_date(ctx.pm)
        if started is None:
            return
        for index, follow_up in enumerate(ctx.pm.follow_ups):
            if follow_up.due is not None and follow_up.due < started:
                yield Violation(
                    f"{_label(index, follow_up)} is due {follow_up.due}, before the incident "
                    f"({started})",
                    field=("follow_ups", index, "due"),
                )


class DoneWithoutClosedDate(Rule):
    """A follow-up marked done has no closed date.

    What it checks:
        A follow-up with `status: done` has a `closed` date.

    Why it matters:
        The closure rate counts follow-ups closed within 30 days of publication; without the
        date the closure cannot be placed in time and the signal is wrong.

    Example:
        ```yaml
            status: done
        ```

    Instead:
        ```yaml
            status: done
            closed: 2026-05-18
        ```

    Options:
        None.
    """

    code = "PM506"
    name = "done-without-closed-date"
    reads = ("follow_ups",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        for index, follow_up in enumerate(ctx.pm.follow_ups):
            if follow_up.status is FollowUpStatus.DONE and follow_up.closed is None:
                yield Violation(
                    f"{_label(index, follow_up)} is done but has no closed date",
                    field=("follow_ups", index, "status"),
                )


class WontDoWithoutReason(Rule):
    """A follow-up marked wont-do gives no reason.

    What it checks:
        A follow-up with `status: wont-do` has a `reason`.

    Why it matters:
        Dropping an action is a decision reviewers must be able to check; without a reason,
        wont-do is an unrecorded way to improve the closure rate.

    Example:
        ```yaml
            status: wont-do
        ```

    Instead:
        ```yaml
            status: wont-do
            reason: superseded by follow-up c, which alerts on every intent
        ```

    Options:
        None.
    """

    code = "PM507"
    name = "wont-do-without-reason"
    reads = ("follow_ups",)
    owns = ("follow_ups.*.reason",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        for index, follow_up in enumerate(ctx.pm.follow_ups):
            if follow_up.status is FollowUpStatus.WONT_DO and is_placeholder(follow_up.reason):
                yield Violation(
                    f"{_label(index, follow_up)} is wont-do without a reason",
                    field=("follow_ups", index, "status"),
                )


# Phrases about people's diligence: never an action, whatever follows them.
_ALWAYS_VAGUE = (
    "be more careful",
    "be careful",
    "more careful",
    "be more vigilant",
    "pay more attention",
    "pay closer attention",
    "try harder",
    "be more diligent",
)
# Phrases that are vague unless the action also names something measurable.
_VAGUE_UNLESS_SPECIFIC = (
    "improve monitoring",
    "improve alerting",
    "improve observability",
    "improve testing",
    "improve the process",
    "improve process",
    "improve documentation",
    "improve communication",
    "better monitoring",
    "better alerting",
    "better testing",
    "more testing",
    "add more tests",
    "add monitoring",
    "more monitoring",
    "investigate further",
    "investigate",
    "look into",
    "monitor closely",
    "keep an eye on",
    "revisit",
    "review the process",
    "raise awareness",
    "increase awareness",
    "double check",
    "double-check",
    "make sure",
    "ensure quality",
)
# Something measurable: a number, a code span, an identifier, a path, a URL or a ticket key.
_SPECIFIC = re.compile(
    r"\d|`[^`]+`|\b\w+_\w+\b|\b\w{2,}\.\w{2,}\b|/\w|https?://|\b[A-Z][A-Z0-9]+-\d+\b"
    r"|(?<!\w)\"[^\"\n]+\"(?!\w)|(?<!\w)'[^'\n]+'(?!\w)"
)


class VagueAction(Rule):
    """A follow-up action is vague: it names nothing that can be measured or checked.

    What it checks:
        Actions about diligence ("be more careful", "pay more attention") always fire.
        Actions built on a vague phrase ("improve monitoring", "investigate further", "look
        into", "more testing") fire unless they also name something concrete: a number, a
        threshold, an identifier, a path, a metric, a ticket key, or a quoted name.

    Why it matters:
        A vague action cannot be closed: nobody can say when "improve monitoring" is done.
        SMART actions (specific, measurable, assignable, realistic, time-bound) are the ones
        that change the system.

    Example:
        ```yaml
            action: Improve monitoring
        ```

    Instead:
        ```yaml
            action: Page on-call when retrieval p95 latency exceeds 800 ms for 5 min
        ```

    Options:
        `vague_phrases`: extra phrases that count as vague unless the action is specific.
    """

    code = "PM508"
    name = "vague-action"
    reads = ("follow_ups",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        always, unless_specific = _vague_patterns(tuple(ctx.config.vague_phrases))
        for index, follow_up in enumerate(ctx.pm.follow_ups):
            action = follow_up.action
            if not action:
                continue
            lowered = " ".join(action.lower().split())
            match = always.search(lowered)
            if match is None and not _SPECIFIC.search(action):
                match = unless_specific.search(lowered)
            if match is not None:
                yield Violation(
                    f"{_label(index, follow_up)} is vague ('{match.group(0)}'): name what changes "
                    "and how it is measured",
                    field=("follow_ups", index, "action"),
                    suggestion="<verb> <specific component> so that <metric> <threshold> by <date>",
                )


@lru_cache(maxsize=32)
def _vague_patterns(extra: tuple[str, ...]) -> tuple[re.Pattern[str], re.Pattern[str]]:
    def phrases(items: Iterable[str]) -> re.Pattern[str]:
        ordered = sorted({" ".join(p.lower().split()) for p in items}, key=len, reverse=True)
        return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(p) for p in ordered) + r")(?!\w)")

    return phrases(_ALWAYS_VAGUE), phrases(_VAGUE_UNLESS_SPECIFIC + extra)


class NoApparatusFollowUp(Rule):
    """No follow-up updates the apparatus (alert, runbook, escalation or drill).

    What it checks:
        At least one follow-up has `type: apparatus` (with an `apparatus_kind`) or an
        `apparatus_kind`.

    Why it matters:
        Postmortems exist to change the apparatus. An incident with no apparatus update is
        either a perfect response (rare) or a missed lesson (common).

    Example:
        Follow-ups that only fix the bug and add eval cases.

    Instead:
        ```yaml
          - id: d
            action: Drill scenario - prompt regression isolated to one intent
            owner: drill lead
            due: 2026-06-15
            status: open
            type: apparatus
            apparatus_kind: drill
        ```

    Options:
        None.
    """

    code = "PM509"
    name = "no-apparatus-follow-up"
    reads = ("follow_ups",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        follow_ups = ctx.pm.follow_ups
        if follow_ups and not any(f.is_apparatus_update for f in follow_ups):
            yield Violation(
                "no follow-up updates the apparatus (alert, runbook, escalation or drill)",
                field=("follow_ups",),
            )


class ApparatusFollowUpWithoutKind(Rule):
    """An apparatus follow-up does not say which part of the apparatus it changes.

    What it checks:
        A follow-up with `type: apparatus` sets `apparatus_kind` to alert, runbook,
        escalation or drill.

    Why it matters:
        Apparatus updates are counted per quarter by kind; without the kind the update is not
        counted where the reliability review looks for it.

    Example:
        ```yaml
            type: apparatus
        ```

    Instead:
        ```yaml
            type: apparatus
            apparatus_kind: alert
        ```

    Options:
        None.
    """

    code = "PM510"
    name = "apparatus-follow-up-without-kind"
    reads = ("follow_ups",)
    owns = ("follow_ups.*.apparatus_kind",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        for index, follow_up in enumerate(ctx.pm.follow_ups):
            if follow_up.type is FollowUpType.APPARATUS and follow_up.apparatus_kind is None:
                yield Violation(
                    f"{_label(index, follow_up)} is an apparatus update without apparatus_kind "
                    "(alert, runbook, escalation, drill)",
                    field=("follow_ups", index, "type"),
                )


class FollowUpWithoutAction(Rule):
    """A follow-up does not say what will be done.

    What it checks:
        Every follow-up has an `action`.

    Why it matters:
        An owner and a date without an action track nothing.

    Example:
        ```yaml
          - id: b
            owner: Arjun Rao
            due: 2026-05-21
        ```

    Instead:
        ```yaml
          - id: b
            action: Run the 30 new cases against prompt v42 and record that all fail
            owner: Arjun Rao
            due: 2026-05-21
        ```

    Options:
        None.
    """

    code = "PM511"
    name = "follow-up-without-action"
    reads = ("follow_ups",)
    owns = ("follow_ups.*.action",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        for index, follow_up in enumerate(ctx.pm.follow_ups):
            if is_placeholder(follow_up.action):
                yield Violation(
                    f"{_label(index, follow_up)} has no action", field=("follow_ups", index)
                )
