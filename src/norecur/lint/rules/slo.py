"""PM9xx: the completion SLO, postmortems published within N business days of resolution."""

from __future__ import annotations

from collections.abc import Iterable

from norecur.lint._context import LintContext, Violation
from norecur.lint._rule import Rule
from norecur.model import PostmortemStatus

__all__ = ["DraftPastSlo", "PublishedBeforeResolution", "PublishedLate"]


class PublishedLate(Rule):
    """The postmortem was published later than the completion SLO allows.

    What it checks:
        Business days from `incident.resolved` (its date in the incident's zone) to
        `dates.published` are at most `slo_business_days` (default 5). Weekends and the
        public holidays of `holiday_country` are not business days.

    Why it matters:
        Beyond a week, context fades and postmortem quality drops; the SLO is the contract that
        the apparatus learns within days, not within a quarter.

    Example:
        Resolved on Friday 2026-05-08, published Monday 2026-05-18: 6 business days.

    Instead:
        Publish within the SLO. When a complex incident needs longer, agree the date up front
        and suppress with the reason:
        `# norecur: ignore PM901 -- multi-team investigation, agreed in review`.

    Options:
        `slo_business_days`, `holiday_country`, `holiday_subdivision`.
    """

    code = "PM901"
    name = "published-late"
    reads = ("incident", "dates", "status")

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        resolved = ctx.pm.incident.local_date("resolved")
        published = ctx.pm.dates.published
        if resolved is None or published is None:
            return
        days = ctx.calendar.business_days_between(resolved, published)
        limit = ctx.config.slo_business_days
        if days > limit:
            yield Violation(
                f"published {days} business days after resolution ({resolved} to "
                f"{published}); the SLO is {limit}",
                field=("dates", "published"),
            )


class DraftPastSlo(Rule):
    """The postmortem is still unpublished past the completion SLO.

    What it checks:
        A postmortem in `draft` or `in-review` whose incident was resolved more than
        `slo_business_days` business days before today (the `today` option, or the real date).

    Why it matters:
        A growing backlog of unwritten postmortems is the first sign the apparatus has stopped
        learning.

    Example:
        `status: draft`, resolved 2026-05-12, linted on 2026-05-25.

    Instead:
        Finish and publish it, or mark it `not-required` with the reason in Identification.

    Options:
        `slo_business_days`, `holiday_country`, `today`.
    """

    code = "PM902"
    name = "draft-past-slo"
    reads = ("incident", "status")

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        status = ctx.pm.status
        resolved = ctx.pm.incident.local_date("resolved")
        if status not in (PostmortemStatus.DRAFT, PostmortemStatus.IN_REVIEW) or resolved is None:
            return
        days = ctx.calendar.business_days_between(resolved, ctx.today)
        limit = ctx.config.slo_business_days
        if days > limit:
            due = ctx.calendar.add_business_days(resolved, limit)
            yield Violation(
                f"still {status.value} {days} business days after resolution; it was due {due}",
                field=("status",),
            )


class PublishedBeforeResolution(Rule):
    """The postmortem's publication date is before the incident was resolved.

    What it checks:
        `dates.published` is on or after the date of `incident.resolved` (in the incident's
        zone).

    Why it matters:
        A postmortem published before resolution is a typo in one of the dates; it makes the
        completion SLO look met (negative business days) and hides a late postmortem.

    Example:
        ```yaml
        dates:
          published: 2025-05-15   # the incident was resolved 2026-05-12
        ```

    Instead:
        Correct the year, month or day of whichever date is wrong.

    Options:
        None.
    """

    code = "PM903"
    name = "published-before-resolution"
    reads = ("incident", "dates")

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        resolved = ctx.pm.incident.local_date("resolved")
        published = ctx.pm.dates.published
        if resolved is not None and published is not None and published < resolved:
            yield Violation(
                f"published {published}, before the incident was resolved ({resolved})",
                field=("dates", "published"),
            )
