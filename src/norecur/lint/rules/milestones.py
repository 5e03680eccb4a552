"""PM8xx: incident milestones, complete, in order and with time zones."""

from __future__ import annotations

from collections.abc import Iterable

from norecur.lint._context import LintContext, Violation
from norecur.lint._rule import Rule
from norecur.model import MILESTONES

__all__ = [
    "DetectionMissing",
    "MilestoneWithoutTimezone",
    "MilestonesOutOfOrder",
    "ResolutionMissing",
]


class MilestonesOutOfOrder(Rule):
    """Incident milestones are out of order.

    What it checks:
        impact_started <= detected <= acknowledged <= mitigated <= resolved <= closed, for the
        milestones that are set, compared as instants (time zones honoured).

    Why it matters:
        MTTD, MTTA, MTTM and MTTR are differences of these times; one out of order (usually a
        wrong date or a missing offset) makes a negative or inflated duration that skews every
        trend it enters.

    Example:
        ```yaml
        incident:
          detected: 2026-05-12 18:42:00+05:30
          mitigated: 2026-05-12 13:18:00+00:00   # 18:48 IST written as UTC, fine
          resolved: 2026-05-12 18:23:00+05:30    # before mitigation: fires
        ```

    Instead:
        Fix the time (or its offset) so the sequence holds.

    Options:
        None.
    """

    code = "PM801"
    name = "milestones-out-of-order"
    reads = ("incident",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        incident = ctx.pm.incident
        previous: tuple[str, object] | None = None
        for name, value in incident.present():
            moment = incident.aware(value)
            if moment is None:
                continue  # PM804 reports the missing zone; order is undecidable
            if previous is not None and moment < previous[1]:  # type: ignore[operator]
                yield Violation(
                    f"milestone '{name}' ({value}) is before '{previous[0]}'",
                    field=("incident", name),
                )
            previous = (name, moment)


class DetectionMissing(Rule):
    """The incident has no detection time.

    What it checks:
        `incident.detected` is set.

    Why it matters:
        Time to detect is the first thing an apparatus improves; without it MTTD cannot be
        computed and the incident is counted as missing data.

    Example:
        ```yaml
        incident:
          impact_started: 2026-05-12 18:00:00+05:30
          resolved: 2026-05-12 18:53:00+05:30
        ```

    Instead:
        ```yaml
          detected: 2026-05-12 18:42:00+05:30
        ```

    Options:
        None.
    """

    code = "PM802"
    name = "detection-missing"
    reads = ("incident",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        if ctx.pm.incident.detected is None:
            where = ctx.line_of(("incident",)) if "incident" in ctx.parsed.front_matter.data else 1
            yield Violation("the incident has no detection time (incident.detected)", line=where)


class ResolutionMissing(Rule):
    """The incident has no resolution time.

    What it checks:
        `incident.resolved` is set.

    Why it matters:
        The completion SLO runs from resolution, and MTTR needs it.

    Example:
        ```yaml
        incident:
          detected: 2026-05-12 18:42:00+05:30
        ```

    Instead:
        ```yaml
          resolved: 2026-05-12 18:53:00+05:30
        ```

    Options:
        None.
    """

    code = "PM803"
    name = "resolution-missing"
    reads = ("incident",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        if ctx.pm.incident.resolved is None:
            where = ctx.line_of(("incident",)) if "incident" in ctx.parsed.front_matter.data else 1
            yield Violation("the incident has no resolution time (incident.resolved)", line=where)


class MilestoneWithoutTimezone(Rule):
    """A milestone or timeline time has no time zone.

    What it checks:
        Every milestone and timeline time carries a UTC offset, or `incident.timezone` names
        the IANA zone they are written in.

    Why it matters:
        Teams span zones; "18:42" in Bengaluru and in Berlin are hours apart, and durations
        across a daylight-saving change come out wrong.

    Example:
        ```yaml
        incident:
          detected: 2026-05-12 18:42:00
        ```

    Instead:
        ```yaml
        incident:
          timezone: Asia/Kolkata
          detected: 2026-05-12 18:42:00
        ```
        or write the offset: `2026-05-12 18:42:00+05:30`.

    Options:
        None.
    """

    code = "PM804"
    name = "milestone-without-timezone"
    reads = ("incident", "timeline")

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        incident = ctx.pm.incident
        if incident.timezone:
            return
        for name in MILESTONES:
            value = getattr(incident, name)
            if value is not None and value.tzinfo is None:
                yield Violation(
                    f"milestone '{name}' has no time zone: add an offset or incident.timezone",
                    field=("incident", name),
                )
        for index, entry in enumerate(ctx.pm.timeline):
            if entry.time.tzinfo is None:
                yield Violation(
                    f"timeline entry {index + 1} has no time zone: add an offset or "
                    "incident.timezone",
                    field=("timeline", index, "time"),
                )
