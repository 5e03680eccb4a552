"""The first tables: teams, incidents, postmortems, their parts, status history, source files.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Stands alone: plain SQLAlchemy types, nothing imported from norecur, so the code may change while
this revision keeps building the same schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

UTC_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "source_files",
        sa.Column("path", sa.String(length=1000), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("synced_at", UTC_TIME, nullable=False),
        sa.PrimaryKeyConstraint("path", name="pk_source_files"),
    )
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_teams"),
        sa.UniqueConstraint("name", name="uq_teams_name"),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String(length=200), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("severity", sa.String(length=50), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("impact_started", UTC_TIME, nullable=True),
        sa.Column("detected", UTC_TIME, nullable=True),
        sa.Column("acknowledged", UTC_TIME, nullable=True),
        sa.Column("mitigated", UTC_TIME, nullable=True),
        sa.Column("resolved", UTC_TIME, nullable=True),
        sa.Column("closed", UTC_TIME, nullable=True),
        sa.Column("resolved_local_date", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name="fk_incidents_team_id_teams", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.UniqueConstraint("incident_id", name="uq_incidents_incident_id"),
    )
    op.create_index("ix_incidents_team_id", "incidents", ["team_id"])
    op.create_table(
        "postmortems",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_fk", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("written", sa.Date(), nullable=True),
        sa.Column("published", sa.Date(), nullable=True),
        sa.Column("primary_cause", sa.String(length=20), nullable=True),
        sa.Column("subcategory", sa.String(length=200), nullable=True),
        sa.Column("sessions", sa.BigInteger(), nullable=True),
        sa.Column("users", sa.BigInteger(), nullable=True),
        sa.Column("tenants", sa.BigInteger(), nullable=True),
        sa.Column("requests", sa.BigInteger(), nullable=True),
        sa.Column("duration_minutes", sa.Float(), nullable=True),
        sa.Column("sla_breach", sa.Boolean(), nullable=True),
        sa.Column("eval_gap", sa.Boolean(), nullable=True),
        sa.Column("eval_cases_to_add", sa.Integer(), nullable=True),
        sa.Column("indexed_at", UTC_TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_fk"],
            ["incidents.id"],
            name="fk_postmortems_incident_fk_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_postmortems"),
        sa.UniqueConstraint("incident_fk", name="uq_postmortems_incident_fk"),
        sa.UniqueConstraint("path", name="uq_postmortems_path"),
    )
    op.create_table(
        "apparatus_updates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_fk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=True),
        sa.Column("change", sa.Text(), nullable=True),
        sa.Column("follow_up_key", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["postmortem_fk"],
            ["postmortems.id"],
            name="fk_apparatus_updates_postmortem_fk_postmortems",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_apparatus_updates"),
    )
    op.create_index("ix_apparatus_updates_postmortem_fk", "apparatus_updates", ["postmortem_fk"])
    op.create_table(
        "contributing_factors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_fk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("cause_class", sa.String(length=20), nullable=True),
        sa.Column("subcategory", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["postmortem_fk"],
            ["postmortems.id"],
            name="fk_contributing_factors_postmortem_fk_postmortems",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contributing_factors"),
    )
    op.create_index(
        "ix_contributing_factors_postmortem_fk", "contributing_factors", ["postmortem_fk"]
    )
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("postmortem_fk", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=True),
        sa.Column("action", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("type", sa.String(length=20), nullable=True),
        sa.Column("apparatus_kind", sa.String(length=20), nullable=True),
        sa.Column("ticket", sa.String(length=200), nullable=True),
        sa.Column("closed", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["postmortem_fk"],
            ["postmortems.id"],
            name="fk_follow_ups_postmortem_fk_postmortems",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_follow_ups"),
        sa.UniqueConstraint("postmortem_fk", "position", name="uq_follow_ups_postmortem_fk"),
    )
    op.create_table(
        "follow_up_status_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("follow_up_fk", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("changed_at", UTC_TIME, nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["follow_up_fk"],
            ["follow_ups.id"],
            name="fk_follow_up_status_history_follow_up_fk_follow_ups",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_follow_up_status_history"),
    )
    op.create_index(
        "ix_follow_up_status_history_follow_up",
        "follow_up_status_history",
        ["follow_up_fk", "changed_at"],
    )


def downgrade() -> None:
    op.drop_table("follow_up_status_history")
    op.drop_table("follow_ups")
    op.drop_table("contributing_factors")
    op.drop_table("apparatus_updates")
    op.drop_table("postmortems")
    op.drop_table("incidents")
    op.drop_table("teams")
    op.drop_table("source_files")
