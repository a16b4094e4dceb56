"""seeded global settings, transfer run heartbeat

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 09:23:05.709248
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.models.base

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The settings row with the defaults of this revision, so no first caller has to create it (races).
_settings = sa.table(
    "global_settings",
    sa.column("id", sa.Integer),
    sa.column("ctms_person_field", sa.String),
    sa.column("crm_account_field", sa.String),
    sa.column("automate_monitoring_events", sa.Boolean),
    sa.column("automate_communication_log_items", sa.Boolean),
    sa.column("max_attempts", sa.Integer),
    sa.column("unmatched_max_age_seconds", sa.Integer),
    sa.column("updated_at", sa.DateTime),
)


def upgrade() -> None:
    with op.batch_alter_table("transfer_runs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("heartbeat_at", app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
    seed = sa.select(
        sa.literal(1),
        sa.literal("external_id__v"),
        sa.literal("External_ID_vod__c"),
        sa.false(),
        sa.false(),
        sa.literal(10),
        sa.literal(7 * 24 * 3600),
        sa.func.current_timestamp(),
    ).where(~sa.exists().where(_settings.c.id == 1))
    op.execute(sa.insert(_settings).from_select([c.name for c in _settings.columns], seed))


def downgrade() -> None:
    # The settings row stays: it is the operators' data, valid in the older schema too.
    with op.batch_alter_table("transfer_runs", schema=None) as batch_op:
        batch_op.drop_column("heartbeat_at")
