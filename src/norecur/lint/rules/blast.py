"""PM3xx: the blast radius, sized in user terms."""

from __future__ import annotations

from collections.abc import Iterable

from norecur.lint._context import LintContext, Violation
from norecur.lint._rule import Rule

__all__ = ["BlastRadiusUnquantified"]


class BlastRadiusUnquantified(Rule):
    """The blast radius gives no quantity: no sessions, users, tenants or requests.

    What it checks:
        `blast_radius` sets at least one of `sessions`, `users`, `tenants`, `requests`.

    Why it matters:
        "12 enterprise tenants, 4,200 calls degraded over 38 minutes" can be compared across
        incidents and prioritised; "some users were affected" cannot.

    Example:
        ```yaml
        blast_radius:
          business_impact: some customers saw bad answers
        ```

    Instead:
        ```yaml
        blast_radius:
          sessions: 38
          tenants: 14
          duration_minutes: 42
          slices: [intent=policy_comparison]
        ```
        When an exact count is unknowable, give a measured proxy and say how it was measured.

    Options:
        None.
    """

    code = "PM301"
    name = "blast-radius-unquantified"
    reads = ("blast_radius",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        blast = ctx.pm.blast_radius
        if blast is None:
            yield Violation(
                "no blast radius: give at least one of sessions, users, tenants, requests",
                line=ctx.field_or_part_line(("blast_radius",), "blast_radius"),
            )
        elif not blast.quantities():
            yield Violation(
                "blast radius has no quantity: give at least one of sessions, users, tenants, "
                "requests",
                field=("blast_radius",),
            )
