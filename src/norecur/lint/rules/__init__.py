"""The built-in lint rules, one module per family; ``RULES`` is what the entry point exposes."""

from norecur.lint.rules.apparatus import (
    ApparatusUpdateIncomplete,
    ApparatusUpdateUnknownFollowUp,
    NoApparatusUpdates,
)
from norecur.lint.rules.blameless import BlameWording, PersonAsCause
from norecur.lint.rules.blast import BlastRadiusUnquantified
from norecur.lint.rules.cause import (
    ContributingFactorUnclassified,
    PrimaryCauseUnclassified,
    UndeclaredSubcategory,
)
from norecur.lint.rules.evaldelta import EvalDeltaUndecided, EvalGapWithoutPlan, NoGapWithoutReason
from norecur.lint.rules.followups import (
    ApparatusFollowUpWithoutKind,
    DoneWithoutClosedDate,
    DueBeforeIncident,
    FollowUpWithoutAction,
    FollowUpWithoutDueDate,
    FollowUpWithoutOwner,
    FollowUpWithoutStatus,
    NoApparatusFollowUp,
    NoFollowUps,
    VagueAction,
    WontDoWithoutReason,
)
from norecur.lint.rules.meta import RuleCrashed, SuppressionWithoutReason, UnusedSuppression
from norecur.lint.rules.milestones import (
    DetectionMissing,
    MilestonesOutOfOrder,
    MilestoneWithoutTimezone,
    ResolutionMissing,
)
from norecur.lint.rules.slo import DraftPastSlo, PublishedLate
from norecur.lint.rules.structure import (
    DuplicateId,
    DuplicatePart,
    IdentificationIncomplete,
    PartEmpty,
    PartMissing,
    PartsOutOfOrder,
    SchemaViolation,
    SeverityNotInScale,
    UnknownPart,
)

RULES = (
    RuleCrashed,
    SuppressionWithoutReason,
    UnusedSuppression,
    PartMissing,
    PartEmpty,
    UnknownPart,
    SchemaViolation,
    DuplicateId,
    PartsOutOfOrder,
    DuplicatePart,
    IdentificationIncomplete,
    SeverityNotInScale,
    PrimaryCauseUnclassified,
    ContributingFactorUnclassified,
    UndeclaredSubcategory,
    BlastRadiusUnquantified,
    EvalDeltaUndecided,
    EvalGapWithoutPlan,
    NoGapWithoutReason,
    NoFollowUps,
    FollowUpWithoutOwner,
    FollowUpWithoutDueDate,
    FollowUpWithoutStatus,
    DueBeforeIncident,
    DoneWithoutClosedDate,
    WontDoWithoutReason,
    VagueAction,
    NoApparatusFollowUp,
    ApparatusFollowUpWithoutKind,
    FollowUpWithoutAction,
    NoApparatusUpdates,
    ApparatusUpdateIncomplete,
    ApparatusUpdateUnknownFollowUp,
    PersonAsCause,
    BlameWording,
    MilestonesOutOfOrder,
    DetectionMissing,
    ResolutionMissing,
    MilestoneWithoutTimezone,
    PublishedLate,
    DraftPastSlo,
)

__all__ = ["RULES"]
