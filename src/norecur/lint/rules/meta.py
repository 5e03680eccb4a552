"""PM0xx: findings the engine itself produces (crashes and suppression comments)."""

from __future__ import annotations

from collections.abc import Iterable

from norecur.lint._context import LintContext, Violation
from norecur.lint._finding import Severity
from norecur.lint._rule import Rule

__all__ = ["RuleCrashed", "SuppressionWithoutReason", "UnusedSuppression"]


class _EngineRule(Rule):
    """A rule whose findings the engine produces; it has nothing to check on its own."""

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        return ()


class RuleCrashed(_EngineRule):
    """A rule raised an exception on this file.

    What it checks:
        Nothing in the file: the engine reports a rule that crashed, with the rule's code and
        the exception, instead of stopping the run with a traceback.

    Why it matters:
        One broken rule (often a third-party plugin) must not hide every other finding; the
        finding tells whom to report the crash to.

    Example:
        `PM000 rule PM999 crashed: KeyError: 'owner'`

    Instead:
        Report it to the rule's author with the file that triggers it. Ignore the crashing
        rule with `ignore = ["PM999"]` meanwhile.

    Options:
        None.
    """

    code = "PM000"
    name = "rule-crashed"


class SuppressionWithoutReason(_EngineRule):
    """A suppression comment gives no reason.

    What it checks:
        Every `norecur: ignore PMxxx` comment ends with `-- <reason>`. A suppression without
        a reason does not suppress anything.

    Why it matters:
        Suppressions are decisions; the reason is what a reviewer checks, and what tells a
        later reader whether the suppression still holds.

    Example:
        ```yaml
            action: Review the eval harness   # norecur: ignore PM508
        ```

    Instead:
        ```yaml
            action: Review the eval harness   # norecur: ignore PM508 -- scoped in ML-412
        ```

    Options:
        None.
    """

    code = "PM001"
    name = "suppression-without-reason"


class UnusedSuppression(_EngineRule):
    """A suppression comment suppresses nothing.

    What it checks:
        Every code in a `norecur: ignore` comment matches a finding on the line it covers
        (its own line, or the next non-blank line for a comment alone on its line). Codes of
        rules that are not selected are not reported.

    Why it matters:
        Stale suppressions hide the next real finding on that line and mislead readers.

    Example:
        ```markdown
        <!-- norecur: ignore PM702 -- quoting the alert text -->
        The alert fired within two minutes.
        ```

    Instead:
        Remove the comment once the finding is gone.

    Options:
        None.
    """

    code = "PM002"
    name = "unused-suppression"
    severity = Severity.WARNING
