"""The store: SQLAlchemy tables indexing postmortem files, migrations, and sync.

``open_store()`` opens (and migrates) the database; ``sync(store, root)`` indexes a folder of
postmortems into it. The tables are the contract the signals are computed from.
"""

from norecur.store._discover import DEFAULT_EXCLUDE
from norecur.store._engine import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    Store,
    database_url,
    open_store,
)
from norecur.store._report import SyncFileError, SyncReport
from norecur.store._sync import BATCH_FILES, PARALLEL_THRESHOLD, sync
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
    UtcDateTime,
)

__all__ = [
    "BATCH_FILES",
    "DATABASE_URL_ENV",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_EXCLUDE",
    "PARALLEL_THRESHOLD",
    "ApparatusUpdateRow",
    "Base",
    "ContributingFactorRow",
    "FollowUpRow",
    "FollowUpStatusChange",
    "IncidentRow",
    "PostmortemRow",
    "SourceFile",
    "Store",
    "SyncFileError",
    "SyncReport",
    "Team",
    "UtcDateTime",
    "database_url",
    "open_store",
    "sync",
]
