"""PM7xx: blameless framing, systems as causes, people as role holders."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache

from norecur.lint._context import LintContext, Violation
from norecur.lint._rule import Rule
from norecur.lint.rules._text import looks_like_a_name

__all__ = ["BlameWording", "PersonAsCause"]

# Verbs that make the person before them the agent of what went wrong.
_AGENT_VERBS = [
    "accepted",
    "assumed",
    "approved",
    "broke",
    "caused",
    "changed",
    "chose",
    "committed",
    "configured",
    "decided",
    "deleted",
    "deployed",
    "did",
    "didn't",
    "disabled",
    "dropped",
    "edited",
    "enabled",
    "entered",
    "executed",
    "failed",
    "forgot",
    "ignored",
    "introduced",
    "merged",
    "misconfigured",
    "misread",
    "missed",
    "misunderstood",
    "modified",
    "neglected",
    "overlooked",
    "pushed",
    "ran",
    "released",
    "removed",
    "rolled",
    "set",
    "shipped",
    "skipped",
    "typed",
    "underestimated",
    "updated",
    "wrote",
]
# Words allowed between the name and the verb ("Priya accidentally deployed").
_FILLERS = [
    "accidentally",
    "mistakenly",
    "incorrectly",
    "wrongly",
    "inadvertently",
    "unknowingly",
    "had",
    "has",
    "then",
    "also",
    "just",
    "never",
    "not",
]
_POSSESSED = [
    "mistake",
    "error",
    "oversight",
    "fault",
    "change",
    "deploy",
    "deployment",
    "decision",
    "slip",
    "typo",
]

_REWRITES = {
    "deployed": "The deploy pipeline allowed <change> to ship without <check>",
    "pushed": "The deploy pipeline allowed <change> to ship without <check>",
    "shipped": "The deploy pipeline allowed <change> to ship without <check>",
    "released": "The release process allowed <change> without <check>",
    "merged": "The merge gate accepted <change> without <check>",
    "approved": "The review process approved <change> without <evidence it needed>",
    "missed": "<alert/dashboard> did not surface <signal>",
    "ignored": "<alert/dashboard> did not make <signal> actionable",
    "overlooked": "<alert/dashboard> did not surface <signal>",
    "forgot": "<runbook/checklist> did not require <step>",
    "skipped": "<runbook/checklist> did not enforce <step>",
    "configured": "The config change process accepted <value> without validation",
    "misconfigured": "The config change process accepted <value> without validation",
    "changed": "The change process allowed <change> without <check>",
}
_DEFAULT_REWRITE = "<system or process> allowed <what happened> because <missing safeguard>"

_BLAME = (
    r"human errors?",
    r"operator errors?",
    r"pilot errors?",
    r"careless(?:ly|ness)?",
    r"should(?: have|'ve) (?:known|caught|noticed|checked|seen|realized|realised|tested)",
    r"fault of",
    r"(?:his|her|their|your) fault",
    r"negligen(?:t|ce|tly)",
    r"incompeten(?:t|ce)",
    r"sloppy",
    r"reckless(?:ly|ness)?",
    r"lazy",
    r"dropped the ball",
    r"(?:screwed|messed) up",
)


# A literal that every match of _BLAME contains: no hint in the file means no finding.
_BLAME_HINTS = (
    "human error",
    "operator error",
    "pilot error",
    "careless",
    "should have",
    "should've",
    "fault",
    "negligen",
    "incompeten",
    "sloppy",
    "reckless",
    "lazy",
    "dropped the ball",
    "screwed up",
    "messed up",
)


@lru_cache(maxsize=64)
def _blame_pattern(extra: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = list(_BLAME) + [re.escape(phrase) for phrase in extra]
    return re.compile(r"(?<![\w-])(?:" + "|".join(alternatives) + r")(?![\w-])", re.IGNORECASE)


def _name_variants(name: str) -> list[str]:
    tokens = [t for t in re.split(r"\s+", name.strip()) if t]
    variants = {name.strip()}
    if len(tokens) > 1:
        # A first or last name alone still names the person ("Priya deployed ...").
        variants.update(t for t in (tokens[0], tokens[-1]) if len(t) >= 3 and t[0].isupper())
    return sorted(variants, key=len, reverse=True)


@lru_cache(maxsize=256)
def _person_pattern(names: tuple[str, ...]) -> re.Pattern[str] | None:
    variants: list[str] = []
    for name in names:
        variants.extend(_name_variants(name))
    if not variants:
        return None
    who = "|".join(re.escape(v) for v in sorted(set(variants), key=len, reverse=True))
    fillers = "|".join(_FILLERS)
    verbs = "|".join(re.escape(v) for v in _AGENT_VERBS)
    possessed = "|".join(_POSSESSED)
    return re.compile(
        rf"(?<!\w)(?P<who>{who})(?!\w)"
        rf"(?:(?:\s+(?:{fillers}))*\s+(?P<verb>{verbs})(?!\w)"
        rf"|'s\s+(?P<thing>{possessed})(?!\w))"
        rf"|(?<!\w)by\s+(?P<by>{who})(?!\w)",
    )


def _texts(ctx: LintContext, parts: tuple[str, ...]) -> Iterator[tuple[int, int, str]]:
    """``(line, column offset, text)`` of the prose of ``parts``."""
    for part in parts:
        for line, text in ctx.prose_lines(part):
            yield line, 0, text


class PersonAsCause(Rule):
    """A person named in the document is written as the agent of the failure.

    What it checks:
        In the Cause and What did not go well parts (and contributing-factor descriptions),
        a person named anywhere in the document (authors, on-call, reviewers, follow-up
        owners, timeline actors; full, first or last name) who is the subject of an action
        ("Priya Iyer deployed the bad prompt"), the owner of a mistake ("Arjun's change"), or
        the agent of a passive ("was approved by Arjun").

    Why it matters:
        The postmortem is about the system, not the engineer. Teams that name individuals as
        causes get fewer and less honest postmortems, and the fix becomes "be more careful"
        instead of a safeguard.

    Example:
        ```markdown
        ## Cause

        Priya Iyer deployed the bad prompt without running the slice eval.
        ```

    Instead:
        ```markdown
        The deploy pipeline allowed a prompt change to ship without a slice-level eval gate.
        ```
        Names belong in the timeline as role holders ("the on-call engineer rolled back").

    Options:
        None.
    """

    code = "PM701"
    name = "person-as-cause"
    # No `reads`: prose is checked even while a front-matter field has a contract issue.

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        people = ctx.pm.people()
        # Owners and timeline actors are often roles or systems ("drill lead", "quality
        # alerting"); only those that look like a personal name count as people.
        names = sorted(
            name
            for name, source in people.items()
            if source in ("authors", "on_call", "reviewers") or looks_like_a_name(name)
        )
        pattern = _person_pattern(tuple(names))
        if pattern is None:
            return
        scope = [ctx.prose_text.get("cause", ""), ctx.prose_text.get("went_wrong", "")]
        if ctx.pm.cause is not None:
            scope.extend(f.description or "" for f in ctx.pm.cause.contributing)
        text = "\n".join(scope)
        if not any(variant in text for name in names for variant in _name_variants(name)):
            return  # nobody named in these parts: the common case, decided without the regex
        places = list(_texts(ctx, ("cause", "went_wrong")))
        if ctx.pm.cause is not None:
            for index, factor in enumerate(ctx.pm.cause.contributing):
                if factor.description:
                    line = ctx.line_of(("cause", "contributing", index, "description"))
                    places.append((line, -1, factor.description))
        for line, offset, text in places:
            for match in pattern.finditer(text):
                who = match.group("who") or match.group("by")
                verb = match.group("verb")
                if verb:
                    framing = f"'{who} {verb}'"
                elif match.group("thing"):
                    framing = f"'{who}'s {match.group('thing')}'"
                else:
                    framing = f"'by {who}'"
                yield Violation(
                    f"{framing} names a person as the agent of the failure; name the system "
                    "that allowed it",
                    line=line,
                    column=match.start() + 1 if offset >= 0 else 1,
                    suggestion=_REWRITES.get(verb or "", _DEFAULT_REWRITE),
                )


class BlameWording(Rule):
    """Blame wording: "human error", "careless", "should have known", "fault of", ...

    What it checks:
        All prose, the text before the first part, and every text field of the front matter
        (contributing factors, actions, reasons, timeline events, impact), for wording that
        assigns blame to people: human/operator error, careless, negligent, sloppy, "should
        have known/caught/noticed", "fault of", "their fault", "dropped the ball".

    Why it matters:
        "Human error" ends the analysis where it should start: which safeguard was missing,
        which signal did not surface. Blame wording also makes the next postmortem less honest.

    Example:
        ```markdown
        The outage was caused by human error during the index rebuild.
        ```

    Instead:
        ```markdown
        The index rebuild runbook had no validation step, so a misconfigured index reached
        production.
        ```

    Options:
        `blame_phrases`: extra phrases to flag.
    """

    code = "PM702"
    name = "blame-wording"

    def _check(self, ctx: LintContext) -> Iterable[Violation]:
        pattern = _blame_pattern(tuple(ctx.config.blame_phrases))
        lowered = ctx.parsed.text.lower()
        hints = _BLAME_HINTS + tuple(phrase.lower() for phrase in ctx.config.blame_phrases)
        if not any(hint in lowered for hint in hints):
            return  # substring checks are ~100x cheaper than the regex over a whole file
        places: list[tuple[int, int, str]] = []
        if ctx.parsed.preamble:
            first = ctx.parsed.preamble_line
            for offset, text in enumerate(ctx.parsed.text.split("\n")[first - 1 :], start=0):
                if ctx.parsed.sections and first + offset >= ctx.parsed.sections[0].line:
                    break
                places.append((first + offset, 0, text))
        for section in ctx.parsed.sections:
            if section.part is not None:
                places.extend((line, 0, text) for line, text in ctx.prose_lines(section.part.key))
        places = sorted(set(places))
        for path, text in _strings(ctx.parsed.front_matter.data, ()):
            if pattern.search(text):
                places.append((ctx.line_of(path), -1, text))
        for line, offset, text in places:
            for match in pattern.finditer(text):
                yield Violation(
                    f"blame wording '{match.group(0)}': describe the missing safeguard instead",
                    line=line,
                    column=match.start() + 1 if offset >= 0 else 1,
                    suggestion=_DEFAULT_REWRITE,
                )


def _strings(
    value: object, path: tuple[str | int, ...]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Every string in the front matter with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))
