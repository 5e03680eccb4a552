"""PM1xx: the document's structure: parts present, filled, known, ordered; schema; identity."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence

from norecur.lint._context import LintContext, Violation
from norecur.lint._finding import Finding
from norecur.lint._rule import ProjectRule, Rule
from norecur.lint.rules._text import is_placeholder
from norecur.model import PARTS

__all__ = [
    "DuplicateId",
    "DuplicatePart",
    "IdentificationIncomplete",
    "PartEmpty",
    "PartMissing",
    "PartsOutOfOrder",
    "SchemaViolation",
    "SeverityNotInScale",
    "UnknownPart",
]


class PartMissing(Rule):
    """A part of the ten-part template has no H2 heading.

    What it checks:
        Every part has its own H2 heading: Identification, Summary, Timeline, Cause,
        Blast radius, Eval delta, Follow-up actions, Apparatus updates, What went well,
        What did not go well.

    Why it matters:
        The template is the contract. A missing heading hides a part instead of showing it as a
        gap, and readers lose the fixed place where they look for it.

    Example:
        A file that goes from `## Cause` straight to `## Follow-up actions`, leaving out
        `## Blast radius` and `## Eval delta`.

    Instead:
        Keep every heading, in order, even when the part is short. `norecur new ID` writes
        them all.

    Options:
        None.
    """

    code = "PM101"
    name = "part-missing"

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        line = (
            ctx.parsed.sections[-1].line
            if ctx.parsed.sections
            else ctx.parsed.front_matter.last_line
        )
        for part in PARTS:
            if ctx.parsed.section(part.key) is None:
                yield Violation(
                    f"part '{part.heading}' is missing: add a '## {part.heading}' heading",
                    line=line,
                    suggestion=f"## {part.heading}",
                )


class PartEmpty(Rule):
    """A part says nothing: no structured fields and no prose, or only a placeholder.

    What it checks:
        Each part has content: its front-matter fields (for parts that have them) or prose under
        its heading. Prose that is only a placeholder (todo, tbd, n/a, none, "-", "...", in any
        case) or only an HTML comment counts as empty.

    Why it matters:
        An empty field is a visible gap, never a skipped one. A placeholder reads as filled in a
        review and hides that nobody wrote the part.

    Example:
        ```markdown
        ## What went well

        TBD
        ```

    Instead:
        Write what happened, even briefly ("The quality alert fired within the deploy window").
        If a part truly has nothing to report, say why in one sentence.

    Options:
        None.
    """

    code = "PM102"
    name = "part-empty"

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        data = ctx.parsed.front_matter.data
        for part in PARTS:
            section = ctx.parsed.section(part.key)
            if section is None:
                continue  # PM101 reports it
            if any(_has_content(data.get(name)) for name in part.fields):
                continue
            if part.fields and any(name in ctx.parsed.invalid_fields for name in part.fields):
                continue  # the schema finding speaks for it
            if not is_placeholder(ctx.prose_text.get(part.key)):
                continue
            yield Violation(f"part '{part.heading}' is empty", line=section.line)


def _has_content(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return not is_placeholder(value)
    if isinstance(value, dict):
        return any(_has_content(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_content(item) for item in value)
    return True


class UnknownPart(Rule):
    """An H1/H2 heading that is not one of the ten parts.

    What it checks:
        Every H2 heading (and any H1 after the title) names one of the ten parts, compared
        without case. A near miss suggests the right heading.

    Why it matters:
        Prose under an unknown heading is not part of the contract: the linter cannot check it
        and tools that read postmortems cannot find it. A misspelt heading also leaves its
        real part missing.

    Example:
        ```markdown
        ## Root cause
        ```

    Instead:
        Use the part's heading (`## Cause`). Put sub-topics under `###` inside a part.

    Options:
        None.
    """

    code = "PM103"
    name = "unknown-part"

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        headings = [part.heading for part in PARTS]
        for section in ctx.parsed.sections:
            if section.part is not None and section.level == 2:
                continue
            close = difflib.get_close_matches(section.heading, headings, n=1, cutoff=0.5)
            hint = f"; did you mean '## {close[0]}'?" if close else "; use ### inside a part"
            yield Violation(
                f"'{'#' * section.level} {section.heading}' is not a part of the template{hint}",
                line=section.line,
                suggestion=f"## {close[0]}" if close else None,
            )


class SchemaViolation(Rule):
    """A front-matter value breaks the published JSON Schema.

    What it checks:
        Values outside a vocabulary (statuses, kinds), unknown keys, negative counts and
        missing required keys of list items, unless a more specific rule owns the field
        (the cause class, for example, is PM201). `norecur schema` prints the schema.

    Why it matters:
        A value the schema does not know is not counted anywhere: a follow-up with status
        `closed` never shows up in closure rates, an unknown key is silently ignored.

    Example:
        ```yaml
        follow_ups:
          - id: a
            status: closed
        ```

    Instead:
        ```yaml
            status: done
            closed: 2026-05-20
        ```

    Options:
        None.
    """

    code = "PM104"
    name = "schema-violation"

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        return ()  # the engine routes unowned contract issues here


class DuplicateId(ProjectRule):
    """Two postmortem files share one incident id.

    What it checks:
        Across all files linted together, each `id` appears once.

    Why it matters:
        The store indexes postmortems by id; two files with one id means one of them is
        invisible to every signal and report, or that a file was copied and never renamed.

    Example:
        `INC-2026-0512.md` and `INC-2026-0513.md` both declare `id: INC-2026-0512`.

    Instead:
        Give each incident its own id. A large incident with sub-postmortems uses suffixed
        ids (`INC-2026-0512-a`).

    Options:
        None.
    """

    code = "PM105"
    name = "duplicate-id"

    def check_project(self, files: Sequence[tuple[str, str | None, int]]) -> Iterator[Finding]:
        by_id: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for path, identifier, line in files:
            if identifier:
                by_id[identifier].append((path, line))
        for identifier, places in sorted(by_id.items()):
            if len(places) < 2:
                continue
            places.sort()
            first_path, first_line = places[0]
            for path, line in places[1:]:
                yield Finding(
                    path,
                    line,
                    1,
                    self.code,
                    self.name,
                    f"id '{identifier}' is already used by {first_path}:{first_line}",
                    self.severity,
                )


class PartsOutOfOrder(Rule):
    """The parts are not in the template's order.

    What it checks:
        The part headings appear in the order Identification, Summary, Timeline, Cause,
        Blast radius, Eval delta, Follow-up actions, Apparatus updates, What went well,
        What did not go well. Reported once, at the first heading out of place.

    Why it matters:
        Readers and reviewers scan postmortems by position; a fixed order makes every
        postmortem read the same way and makes gaps easy to see.

    Example:
        `## Follow-up actions` written before `## Cause`.

    Instead:
        Move the part to its place (`norecur render FILE --to md` writes the canonical order).

    Options:
        None.
    """

    code = "PM106"
    name = "parts-out-of-order"

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        order = {part.key: index for index, part in enumerate(PARTS)}
        highest = -1
        seen: set[str] = set()
        for section in ctx.parsed.sections:
            if section.part is None or section.level != 2 or section.part.key in seen:
                continue
            seen.add(section.part.key)
            position = order[section.part.key]
            if position < highest:
                after = PARTS[highest].heading
                yield Violation(
                    f"'## {section.heading}' comes after '## {after}'; the template puts it before",
                    line=section.line,
                )
                return
            highest = position


class DuplicatePart(Rule):
    """A part's heading appears more than once.

    What it checks:
        Each of the ten part headings appears at most once.

    Why it matters:
        Only the first occurrence is read as the part; the prose under the second is outside
        the contract and easy to miss in review.

    Example:
        Two `## Timeline` headings, one for the incident and one for the follow-up work.

    Instead:
        Merge them, using `###` sub-headings inside the one part.

    Options:
        None.
    """

    code = "PM107"
    name = "duplicate-part"

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        first: dict[str, int] = {}
        for section in ctx.parsed.sections:
            if section.part is None or section.level != 2:
                continue
            if section.part.key in first:
                yield Violation(
                    f"'## {section.heading}' already appears on line {first[section.part.key]}",
                    line=section.line,
                )
            else:
                first[section.part.key] = section.line


_IDENTIFICATION = (
    ("id", "the incident id"),
    ("title", "a one-line title"),
    ("severity", "the severity"),
    ("status", "the postmortem status"),
    ("team", "the owning team"),
    ("authors", "the authors"),
    ("on_call", "the on-call role holders"),
)


class IdentificationIncomplete(Rule):
    """Identification lacks a field: id, title, severity, status, team, authors or on-call.

    What it checks:
        The front matter names the incident id, a title, the severity, the postmortem status,
        the owning team, the authors and the on-call role holders (each with role and name).

    Why it matters:
        Identification is how a postmortem is found, counted and routed: without a team the
        closure rate cannot be computed, without a severity the incident is never in a trend.

    Example:
        ```yaml
        id: INC-2026-0512
        title: policy_comparison answers regressed after a prompt deploy
        severity: P2
        ```

    Instead:
        ```yaml
        status: published
        team: claims-assistant
        authors: [Priya Iyer]
        on_call:
          - role: primary
            name: Priya Iyer
        ```

    Options:
        None.
    """

    code = "PM108"
    name = "identification-incomplete"
    reads = ("id", "title", "severity", "status", "team", "authors", "on_call")

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        pm = ctx.pm
        line = ctx.part_line("identification")
        for name, meaning in _IDENTIFICATION:
            value = getattr(pm, name)
            if value is None or value == [] or (isinstance(value, str) and is_placeholder(value)):
                where = ctx.line_of((name,)) if name in ctx.parsed.front_matter.data else line
                yield Violation(f"identification lacks {meaning} (field '{name}')", line=where)
        for index, holder in enumerate(pm.on_call):
            if not holder.role or not holder.name:
                missing = "role" if not holder.role else "name"
                yield Violation(f"on_call[{index}] has no {missing}", field=("on_call", index))


class SeverityNotInScale(Rule):
    """The severity is not on the configured scale.

    What it checks:
        `severity` is one of the values of `severity_scale` (default P0, P1, P2, P3, P4).

    Why it matters:
        Severities outside the scale fall out of every per-severity signal (MTTR by severity,
        SLO by severity) without anyone noticing.

    Example:
        ```yaml
        severity: high
        ```

    Instead:
        ```yaml
        severity: P2
        ```

    Options:
        `severity_scale`: the allowed values, most severe first.
    """

    code = "PM109"
    name = "severity-not-in-scale"
    reads = ("severity",)

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        severity = ctx.pm.severity
        scale = ctx.config.severity_scale
        if not is_placeholder(severity) and severity not in scale:  # PM108 reports placeholders
            close = [s for s in scale if s.lower() == severity.strip().lower()]
            yield Violation(
                f"severity '{severity}' is not on the scale {', '.join(scale)}",
                field=("severity",),
                suggestion=close[0] if close else None,
            )
