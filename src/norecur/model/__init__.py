"""Domain types of norecur: the postmortem and its vocabularies. Pure: no I/O."""

from norecur.model._calendar import BusinessCalendar
from norecur.model._postmortem import (
    MILESTONES,
    ApparatusUpdate,
    BlastRadius,
    Cause,
    ContributingFactor,
    Dates,
    EvalDelta,
    FollowUp,
    Milestones,
    Narrative,
    OnCall,
    Postmortem,
    TimelineEntry,
)
from norecur.model._prose import heading_lines, normalize_prose, tidy_prose
from norecur.model._taxonomy import (
    PARTS,
    ApparatusKind,
    CauseClass,
    FollowUpStatus,
    FollowUpType,
    Part,
    PostmortemStatus,
    TimelineKind,
    part_for_heading,
)

__all__ = [
    "MILESTONES",
    "PARTS",
    "ApparatusKind",
    "ApparatusUpdate",
    "BlastRadius",
    "BusinessCalendar",
    "Cause",
    "CauseClass",
    "ContributingFactor",
    "Dates",
    "EvalDelta",
    "FollowUp",
    "FollowUpStatus",
    "FollowUpType",
    "Milestones",
    "Narrative",
    "OnCall",
    "Part",
    "Postmortem",
    "PostmortemStatus",
    "TimelineEntry",
    "TimelineKind",
    "heading_lines",
    "normalize_prose",
    "part_for_heading",
    "tidy_prose",
]
