"""The fixed vocabularies of a postmortem: cause classes, statuses, kinds and the ten parts."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "PARTS",
    "ApparatusKind",
    "CauseClass",
    "FollowUpStatus",
    "FollowUpType",
    "Part",
    "PostmortemStatus",
    "TimelineKind",
    "part_for_heading",
]


class CauseClass(StrEnum):
    """The AI cause taxonomy. Teams may add sub-categories in config, never new classes."""

    PROMPT = "prompt"
    """The prompt or prompt template was the cause."""
    MODEL = "model"
    """The model itself produced the regression (drift, capability change)."""
    RETRIEVAL = "retrieval"
    """Retrieval returned wrong, stale or insufficient context."""
    DATA = "data"
    """The underlying data (training, retrieval source, golden set) had an issue."""
    TOOLING = "tooling"
    """The agent's tool calls or tool responses were the cause."""
    GATEWAY = "gateway"
    """The model gateway's routing, quota or transform was the cause."""
    UPSTREAM = "upstream"
    """An upstream system (auth, search, database) was the cause."""
    APPARATUS = "apparatus"
    """The on-call apparatus itself failed (alert missing, runbook stale)."""


class PostmortemStatus(StrEnum):
    """Where the postmortem document is in its own life cycle."""

    DRAFT = "draft"
    IN_REVIEW = "in-review"
    PUBLISHED = "published"
    NOT_REQUIRED = "not-required"


class FollowUpStatus(StrEnum):
    """Where a follow-up action is. ``wont-do`` needs a reason."""

    OPEN = "open"
    IN_PROGRESS = "in-progress"
    DONE = "done"
    WONT_DO = "wont-do"


class FollowUpType(StrEnum):
    """What a follow-up is for. ``apparatus`` ones also name an :class:`ApparatusKind`."""

    FIX = "fix"
    PREVENT = "prevent"
    DETECT = "detect"
    EVAL = "eval"
    APPARATUS = "apparatus"


class ApparatusKind(StrEnum):
    """The parts of the on-call apparatus an incident can change."""

    ALERT = "alert"
    RUNBOOK = "runbook"
    ESCALATION = "escalation"
    DRILL = "drill"


class TimelineKind(StrEnum):
    """What a timeline entry records."""

    CHANGE = "change"
    IMPACT = "impact"
    DETECTION = "detection"
    ACKNOWLEDGEMENT = "acknowledgement"
    ESCALATION = "escalation"
    ACTION = "action"
    MITIGATION = "mitigation"
    RESOLUTION = "resolution"
    COMMUNICATION = "communication"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Part:
    """One of the ten parts of a postmortem: its key, its H2 heading, and where its data lives."""

    key: str
    heading: str
    mandatory: bool
    fields: tuple[str, ...]
    """Front-matter keys that hold this part's structured data (empty for prose-only parts)."""


PARTS: tuple[Part, ...] = (
    Part(
        "identification",
        "Identification",
        False,
        (
            "id",
            "title",
            "severity",
            "status",
            "team",
            "services",
            "authors",
            "on_call",
            "reviewers",
            "dates",
            "incident",
        ),
    ),
    Part("summary", "Summary", False, ()),
    Part("timeline", "Timeline", False, ("timeline",)),
    Part("cause", "Cause", True, ("cause",)),
    Part("blast_radius", "Blast radius", True, ("blast_radius",)),
    Part("eval_delta", "Eval delta", True, ("eval_delta",)),
    Part("follow_ups", "Follow-up actions", True, ("follow_ups",)),
    Part("apparatus_updates", "Apparatus updates", True, ("apparatus_updates",)),
    Part("went_well", "What went well", False, ()),
    Part("went_wrong", "What did not go well", False, ()),
)

_BY_HEADING = {" ".join(p.heading.lower().split()): p for p in PARTS}


def part_for_heading(heading: str) -> Part | None:
    """The part an H2 heading names, compared without case and with white space folded."""
    return _BY_HEADING.get(" ".join(heading.lower().split()))
