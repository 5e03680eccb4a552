"""PM6xx: apparatus updates, the changes to alerts, runbooks, escalations and drills."""

from __future__ import annotations

from collections.abc import Iterable

from norecur.lint._context import LintContext, Violation
from norecur.lint._rule import Rule

__all__ = ["ApparatusUpdateIncomplete", "ApparatusUpdateUnknownFollowUp", "NoApparatusUpdates"]


class NoApparatusUpdates(Rule):
    """The apparatus-updates part lists no update.

    What it checks:
        `apparatus_updates` holds at least one entry.

    Why it matters:
        The apparatus change is the deliverable of a postmortem; this part is where the
        reliability review counts them per quarter.

    Example:
        ```yaml
        apparatus_updates: []
        ```

    Instead:
        ```yaml
        apparatus_updates:
          - kind: alert
            change: Slice-level sensitivity for the five highest-traffic intents
            follow_up: c
        ```
        When the apparatus truly worked as designed, record the runbook or alert that was
        confirmed, as a `kind` with the change "confirmed unchanged: ...".

    Options:
        None.
    """

    code = "PM601"
    name = "no-apparatus-updates"
    reads = ("apparatus_updates",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        if not ctx.pm.apparatus_updates:
            yield Violation(
                "no apparatus updates (alert, runbook, escalation or drill changes)",
                line=ctx.field_or_part_line(("apparatus_updates",), "apparatus_updates"),
            )


class ApparatusUpdateIncomplete(Rule):
    """An apparatus update lacks its kind or the change.

    What it checks:
        Each entry of `apparatus_updates` has a `kind` (alert, runbook, escalation, drill) and
        a `change` describing what changes.

    Why it matters:
        Updates are aggregated by kind; one without a change says nothing a reviewer can check.

    Example:
        ```yaml
          - kind: drill
        ```

    Instead:
        ```yaml
          - kind: drill
            change: Scenario added - prompt regression isolated to one intent
        ```

    Options:
        None.
    """

    code = "PM602"
    name = "apparatus-update-incomplete"
    reads = ("apparatus_updates",)
    owns = ("apparatus_updates.*.kind",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        for index, update in enumerate(ctx.pm.apparatus_updates):
            missing = [name for name in ("kind", "change") if getattr(update, name) is None]
            if missing:
                yield Violation(
                    f"apparatus update {index + 1} has no {' and no '.join(missing)}",
                    field=("apparatus_updates", index),
                )


class ApparatusUpdateUnknownFollowUp(Rule):
    """An apparatus update points at a follow-up id that does not exist.

    What it checks:
        Each `apparatus_updates[].follow_up` is the `id` of one of the follow-ups.

    Why it matters:
        The link is what proves an apparatus update is tracked to closure; a dangling link
        means the update has no owner and no date.

    Example:
        ```yaml
        apparatus_updates:
          - kind: alert
            change: Slice-level alert
            follow_up: e   # no follow-up has id e
        ```

    Instead:
        Point at an existing follow-up id, or add the follow-up.

    Options:
        None.
    """

    code = "PM603"
    name = "apparatus-update-unknown-follow-up"
    reads = ("apparatus_updates", "follow_ups")

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        ids = {f.id for f in ctx.pm.follow_ups if f.id}
        for index, update in enumerate(ctx.pm.apparatus_updates):
            if update.follow_up and update.follow_up not in ids:
                known = ", ".join(sorted(ids)) or "none"
                yield Violation(
                    f"apparatus update {index + 1} names follow-up '{update.follow_up}', which "
                    f"does not exist (ids: {known})",
                    field=("apparatus_updates", index, "follow_up"),
                )
