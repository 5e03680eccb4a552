"""The store: SQLAlchemy tables indexing postmortem files, migrations, and sync."""

from norecur.store._tables import (
    ApparatusUpdateRow,
    Base,
    ContributingFactorRow,
    FollowUpRow,
    FollowUpStatusChange,
    IncidentRow,
    PostmortemRow,
    SourceFile,
    Team,
)

__all__ = [
    "ApparatusUpdateRow",
    "Base",
    "ContributingFactorRow",
    "FollowUpRow",
    "FollowUpStatusChange",
    "IncidentRow",
    "PostmortemRow",
    "SourceFile",
    "Team",
]
