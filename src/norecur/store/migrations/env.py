"""Alembic's environment for the store's migrations.

norecur runs these in code (:meth:`norecur.store.Store.upgrade` hands over its connection in
``config.attributes["connection"]``); no alembic.ini is needed. To write a new revision, point
``NORECUR_DATABASE_URL`` at a store migrated to the current head and run, from the repository:

    python -c "from norecur.store._engine import _alembic_config as c; \\
        from alembic import command; command.revision(c(), 'what changes', autogenerate=True)"

then edit the generated file so it stands alone (plain ``sa`` types, no imports of norecur).
"""

from __future__ import annotations

from alembic import context

from norecur.store._engine import open_store
from norecur.store._tables import Base


def _run(connection: object) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite alters tables by copying them; batch mode lets later revisions do that.
        render_as_batch=connection.dialect.name == "sqlite",  # type: ignore[attr-defined]
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # a developer running Alembic's commands directly
    store = open_store(upgrade=False)
    try:
        with store.engine.begin() as own_connection:
            _run(own_connection)
    finally:
        store.dispose()
