"""The postmortem as typed data: the ten parts, with every field optional so a gap stays visible.

Values are validated for shape and vocabulary here; whether a postmortem is *complete* (cause set,
follow-ups owned, milestones in order, ...) is the linter's judgement, so a draft can be held in
these types while it still has gaps.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo
from enum import Enum
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from norecur.model._prose import normalize_prose
from norecur.model._taxonomy import (
    ApparatusKind,
    CauseClass,
    FollowUpStatus,
    FollowUpType,
    PostmortemStatus,
    TimelineKind,
)

__all__ = [
    "MILESTONES",
    "ApparatusUpdate",
    "BlastRadius",
    "Cause",
    "ContributingFactor",
    "Dates",
    "EvalDelta",
    "FollowUp",
    "Milestones",
    "Narrative",
    "OnCall",
    "Postmortem",
    "TimelineEntry",
]

Text = Annotated[str, Field(min_length=1)]
Count = Annotated[int, Field(ge=0)]
Prose = Annotated[str, AfterValidator(normalize_prose)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        frozen=True,
        use_enum_values=False,
        coerce_numbers_to_str=True,
        str_strip_whitespace=False,
    )


class OnCall(_Model):
    """A role held during the incident, and who held it."""

    role: Text | None = None
    name: Text | None = None


class Dates(_Model):
    """When the postmortem document was written and published."""

    written: date | None = None
    published: date | None = None


MILESTONES: tuple[str, ...] = (
    "impact_started",
    "detected",
    "acknowledged",
    "mitigated",
    "resolved",
    "closed",
)
"""The incident milestones, in the order they must happen."""


class Milestones(_Model):
    """The incident's milestones. Naive times are read in ``timezone`` (an IANA name)."""

    timezone: str | None = None
    impact_started: datetime | None = None
    detected: datetime | None = None
    acknowledged: datetime | None = None
    mitigated: datetime | None = None
    resolved: datetime | None = None
    closed: datetime | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    def zone(self) -> tzinfo | None:
        """The declared zone, if any."""
        return ZoneInfo(self.timezone) if self.timezone else None

    def aware(self, moment: datetime) -> datetime | None:
        """``moment`` with a time zone: its own, else the declared one, else None (unknowable)."""
        if moment.tzinfo is not None:
            return moment
        zone = self.zone()
        return moment.replace(tzinfo=zone) if zone else None

    def local_date(self, name: str) -> date | None:
        """The calendar date of milestone ``name`` in ``timezone`` (else as written)."""
        value: datetime | None = getattr(self, name)
        if value is None:
            return None
        zone = self.zone()
        if zone is not None and value.tzinfo is not None:
            return value.astimezone(zone).date()
        return value.date()

    def present(self) -> list[tuple[str, datetime]]:
        """The milestones that are set, in canonical order."""
        return [(name, value) for name in MILESTONES if (value := getattr(self, name)) is not None]

    def duration(self, start: str = "impact_started", end: str = "resolved") -> timedelta | None:
        """Time between two milestones when both are set and comparable."""
        first, last = getattr(self, start), getattr(self, end)
        if first is None or last is None:
            return None
        first_aware, last_aware = self.aware(first), self.aware(last)
        if first_aware is None or last_aware is None:
            return last - first if first.tzinfo is None and last.tzinfo is None else None
        return last_aware - first_aware


class TimelineEntry(_Model):
    """One event of the timeline. ``actor`` names a role holder, never a defendant."""

    time: datetime
    event: Text
    kind: TimelineKind | None = None
    actor: Text | None = None


class ContributingFactor(_Model):
    """A secondary cause, with its own class."""

    class_: CauseClass | None = Field(default=None, alias="class")
    subcategory: Text | None = None
    description: Text | None = None


class Cause(_Model):
    """The primary cause class (plus optional sub-category) and the contributing factors."""

    primary: CauseClass | None = None
    subcategory: Text | None = None
    contributing: list[ContributingFactor] = Field(default_factory=list)


class BlastRadius(_Model):
    """How far the incident reached, in user terms where possible."""

    sessions: Count | None = None
    users: Count | None = None
    tenants: Count | None = None
    requests: Count | None = None
    duration_minutes: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    slices: list[Text] = Field(default_factory=list)
    sla_breach: bool | None = None
    business_impact: Text | None = None

    def quantities(self) -> dict[str, float]:
        """The counts that are set (sessions, users, tenants, requests)."""
        names = ("sessions", "users", "tenants", "requests")
        return {name: value for name in names if (value := getattr(self, name)) is not None}


class EvalDelta(_Model):
    """What the incident revealed about the eval set, and the plan to close the gap."""

    gap: bool | None = None
    missing_coverage: Text | None = None
    cases_to_add: Count | None = None
    eval_set: Text | None = None
    validation: Text | None = None
    no_gap_reason: Text | None = None


class FollowUp(_Model):
    """An action that changes the system, tracked to closure."""

    id: Text | None = None
    action: Text | None = None
    owner: Text | None = None
    due: date | None = None
    status: FollowUpStatus | None = None
    type: FollowUpType | None = None
    apparatus_kind: ApparatusKind | None = None
    ticket: Text | None = None
    closed: date | None = None
    reason: Text | None = None

    @property
    def is_apparatus_update(self) -> bool:
        """True when this follow-up changes an alert, runbook, escalation or drill."""
        return self.type is FollowUpType.APPARATUS or self.apparatus_kind is not None


class ApparatusUpdate(_Model):
    """A change to the apparatus itself; ``follow_up`` names the follow-up that delivers it."""

    kind: ApparatusKind | None = None
    change: Text | None = None
    follow_up: Text | None = None


class Narrative(_Model):
    """The Markdown prose under each part's H2 heading (empty string when there is none)."""

    identification: Prose = ""
    summary: Prose = ""
    timeline: Prose = ""
    cause: Prose = ""
    blast_radius: Prose = ""
    eval_delta: Prose = ""
    follow_ups: Prose = ""
    apparatus_updates: Prose = ""
    went_well: Prose = ""
    went_wrong: Prose = ""


class Postmortem(_Model):
    """A whole postmortem: identification, milestones and the structured parts, plus prose."""

    id: Text | None = None
    title: Text | None = None
    severity: Text | None = None
    status: PostmortemStatus | None = None
    team: Text | None = None
    services: list[Text] = Field(default_factory=list)
    authors: list[Text] = Field(default_factory=list)
    on_call: list[OnCall] = Field(default_factory=list)
    reviewers: list[Text] = Field(default_factory=list)
    dates: Dates = Field(default_factory=Dates)
    incident: Milestones = Field(default_factory=Milestones)
    timeline: list[TimelineEntry] = Field(default_factory=list)
    cause: Cause | None = None
    blast_radius: BlastRadius | None = None
    eval_delta: EvalDelta | None = None
    follow_ups: list[FollowUp] = Field(default_factory=list)
    apparatus_updates: list[ApparatusUpdate] = Field(default_factory=list)
    narrative: Narrative = Field(default_factory=Narrative, exclude=True)

    @model_validator(mode="after")
    def _empty_part_is_absent(self) -> Postmortem:
        # `cause: {}` and no `cause` mean the same thing: nothing was written. One representation
        # keeps render/parse a round trip.
        for name in ("cause", "blast_radius", "eval_delta"):
            value = getattr(self, name)
            if value is not None and value == type(value)():
                object.__setattr__(self, name, None)
        return self

    def people(self) -> dict[str, str]:
        """Every person the document names, mapped to the field that names them."""
        named: dict[str, str] = {}
        for name in self.authors:
            named.setdefault(name, "authors")
        for holder in self.on_call:
            if holder.name:
                named.setdefault(holder.name, "on_call")
        for name in self.reviewers:
            named.setdefault(name, "reviewers")
        for follow_up in self.follow_ups:
            if follow_up.owner:
                named.setdefault(follow_up.owner, "follow_ups.owner")
        for entry in self.timeline:
            if entry.actor:
                named.setdefault(entry.actor, "timeline.actor")
        return named

    def front_matter(self) -> dict[str, Any]:
        """The structured fields as plain data, in declaration order, without unset values."""
        return _prune(self.model_dump(mode="python", by_alias=True, exclude={"narrative"}))


def _prune(value: Any) -> Any:
    """Drop None values and empty lists/mappings, keeping ``False`` and ``0``; enums to values."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        pruned = {key: _prune(item) for key, item in value.items()}
        return {
            key: item
            for key, item in pruned.items()
            if item is not None and item != [] and item != {}
        }
    if isinstance(value, list):
        return [_prune(item) for item in value]
    return value
