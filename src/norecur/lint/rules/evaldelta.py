"""PM4xx: the eval delta, the incident turned into eval coverage."""

from __future__ import annotations

from collections.abc import Iterable

from norecur.lint._context import LintContext, Violation
from norecur.lint._rule import Rule

__all__ = ["EvalDeltaUndecided", "EvalGapWithoutPlan", "NoGapWithoutReason"]


class EvalDeltaUndecided(Rule):
    """The eval delta does not say whether the incident revealed an eval coverage gap.

    What it checks:
        `eval_delta.gap` is set to `true` or `false`.

    Why it matters:
        Most AI incidents reveal that the eval set did not catch the regression. Without a
        decision on the gap, the eval set stays static and the same incident recurs.

    Example:
        ```yaml
        eval_delta:
          eval_set: evals/claims.jsonl
        ```

    Instead:
        ```yaml
        eval_delta:
          gap: true
          missing_coverage: rider comparisons with age banding
          cases_to_add: 30
          eval_set: evals/policy_comparison.jsonl
          validation: run against the regressed prompt v42; all 30 must fail there
        ```

    Options:
        None.
    """

    code = "PM401"
    name = "eval-delta-undecided"
    reads = ("eval_delta",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        delta = ctx.pm.eval_delta
        if delta is None:
            yield Violation(
                "no eval delta: say whether the eval set missed this (eval_delta.gap)",
                line=ctx.field_or_part_line(("eval_delta", "gap"), "eval_delta"),
            )
        elif delta.gap is None:
            yield Violation(
                "eval delta does not say whether there was a coverage gap (eval_delta.gap)",
                field=("eval_delta",),
            )


_PLAN = (
    ("missing_coverage", "what coverage was missing"),
    ("cases_to_add", "how many cases will be added"),
    ("eval_set", "where the eval set lives"),
    ("validation", "how the new cases are validated against the regressed version"),
)


class EvalGapWithoutPlan(Rule):
    """An eval coverage gap without a complete expansion plan.

    What it checks:
        With `gap: true`, the eval delta names the missing coverage, how many cases will be
        added, where the eval set lives, and how the new cases will be validated against the
        regressed version.

    Why it matters:
        A gap with no plan is a wish. Validating new cases against the regressed version is
        what proves they would have caught the incident.

    Example:
        ```yaml
        eval_delta:
          gap: true
          missing_coverage: rider comparisons
        ```

    Instead:
        ```yaml
        eval_delta:
          gap: true
          missing_coverage: rider comparisons
          cases_to_add: 30
          eval_set: evals/policy_comparison.jsonl
          validation: the 30 cases fail on prompt v42 and pass on v41
        ```

    Options:
        None.
    """

    code = "PM402"
    name = "eval-gap-without-plan"
    reads = ("eval_delta",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        delta = ctx.pm.eval_delta
        if delta is None or delta.gap is not True:
            return
        missing = [meaning for name, meaning in _PLAN if getattr(delta, name) in (None, 0)]
        if missing:
            yield Violation(
                "eval gap without a plan: say " + "; ".join(missing), field=("eval_delta", "gap")
            )


class NoGapWithoutReason(Rule):
    """The eval delta claims no coverage gap without saying why.

    What it checks:
        With `gap: false`, `no_gap_reason` explains why the eval set needs no change.

    Why it matters:
        "No gap" is a strong claim: most AI incidents do reveal one. The reason (the incident
        was an upstream outage no eval can catch, say) lets reviewers check it.

    Example:
        ```yaml
        eval_delta:
          gap: false
        ```

    Instead:
        ```yaml
        eval_delta:
          gap: false
          no_gap_reason: the auth provider outage returned 503 before any model call
        ```

    Options:
        None.
    """

    code = "PM403"
    name = "no-gap-without-reason"
    reads = ("eval_delta",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        delta = ctx.pm.eval_delta
        if delta is not None and delta.gap is False and not delta.no_gap_reason:
            yield Violation(
                "eval delta says there was no gap but not why (eval_delta.no_gap_reason)",
                field=("eval_delta", "gap"),
            )
