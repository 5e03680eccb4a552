"""PM2xx: the cause, classified in the AI cause taxonomy."""

from __future__ import annotations

from collections.abc import Iterable

from norecur.lint._context import LintContext, Violation
from norecur.lint._rule import Rule
from norecur.model import CauseClass

__all__ = ["ContributingFactorUnclassified", "PrimaryCauseUnclassified", "UndeclaredSubcategory"]

_TAXONOMY = " | ".join(c.value for c in CauseClass)


class PrimaryCauseUnclassified(Rule):
    """The primary cause is missing or outside the AI cause taxonomy.

    What it checks:
        `cause.primary` is one of prompt, model, retrieval, data, tooling, gateway, upstream,
        apparatus.

    Why it matters:
        Consistent classification is what lets a team see where incidents cluster and where to
        invest. A missing or free-text class drops the incident out of the cause distribution.

    Example:
        ```yaml
        cause:
          primary: infrastructure
        ```

    Instead:
        ```yaml
        cause:
          primary: upstream
          subcategory: database   # declared in norecur.toml [subcategories]
        ```

    Options:
        None: the eight classes are fixed. Teams add sub-categories with `subcategories`.
    """

    code = "PM201"
    name = "primary-cause-unclassified"
    reads = ("cause",)
    owns = ("cause.primary",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        cause = ctx.pm.cause
        if cause is None:
            yield Violation(
                f"no primary cause: set cause.primary to one of {_TAXONOMY}",
                line=ctx.field_or_part_line(("cause", "primary"), "cause"),
            )
        elif cause.primary is None:
            yield Violation(
                f"no primary cause: set cause.primary to one of {_TAXONOMY}",
                field=("cause", "primary"),
            )


class ContributingFactorUnclassified(Rule):
    """A contributing factor has no class in the taxonomy, or no description.

    What it checks:
        Each entry of `cause.contributing` has a `class` from the taxonomy and a description.

    Why it matters:
        Contributing factors are counted in the cause distribution beside the primary cause;
        an unclassified factor is a finding nobody can aggregate.

    Example:
        ```yaml
        contributing:
          - description: eval set had 8 policy_comparison examples
        ```

    Instead:
        ```yaml
        contributing:
          - class: apparatus
            description: eval set had 8 policy_comparison examples
        ```

    Options:
        None.
    """

    code = "PM202"
    name = "contributing-factor-unclassified"
    reads = ("cause",)
    owns = ("cause.contributing.*.class",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        cause = ctx.pm.cause
        if cause is None:
            return
        for index, factor in enumerate(cause.contributing):
            if factor.class_ is None:
                yield Violation(
                    f"contributing factor {index + 1} has no class: use one of {_TAXONOMY}",
                    field=("cause", "contributing", index),
                )
            if not factor.description:
                yield Violation(
                    f"contributing factor {index + 1} has no description",
                    field=("cause", "contributing", index),
                )


class UndeclaredSubcategory(Rule):
    """A sub-category is not declared for its cause class in the configuration.

    What it checks:
        `cause.subcategory` and each contributing factor's `subcategory` appear in
        `subcategories` under the same class.

    Why it matters:
        Sub-categories are a team's vocabulary; an undeclared one is a typo or a new term
        that fragments the trend ("template-regression" vs "prompt-template-regression").

    Example:
        ```yaml
        cause:
          primary: prompt
          subcategory: templating
        ```

    Instead:
        Declare it first, then use it:
        ```toml
        [tool.norecur.subcategories]
        prompt = ["template-regression"]
        ```

    Options:
        `subcategories`: allowed sub-categories per cause class.
    """

    code = "PM203"
    name = "undeclared-subcategory"
    reads = ("cause",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        cause = ctx.pm.cause
        if cause is None:
            return
        declared = ctx.config.subcategories
        pairs = [(cause.primary, cause.subcategory, ("cause", "subcategory"))]
        pairs += [
            (factor.class_, factor.subcategory, ("cause", "contributing", index, "subcategory"))
            for index, factor in enumerate(cause.contributing)
        ]
        for klass, subcategory, field in pairs:
            if subcategory is None or klass is None:
                continue
            allowed = declared.get(klass.value, ())
            if subcategory not in allowed:
                known = ", ".join(allowed) if allowed else "none declared"
                yield Violation(
                    f"sub-category '{subcategory}' is not declared for class '{klass.value}' "
                    f"({known})",
                    field=field,
                )
