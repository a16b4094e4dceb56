"""retry horizon by time, throttle gates per target org

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 08:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import app.models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "throttle_gates",
        sa.Column("target", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("paused_until", app.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("target", name=op.f("pk_throttle_gates")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retrying_since", app.models.base.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("global_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("retry_horizon_seconds", sa.Integer(), nullable=False, server_default="259200")
        )
    with op.batch_alter_table("global_settings", schema=None) as batch_op:
        batch_op.alter_column("retry_horizon_seconds", server_default=None)
        batch_op.drop_column("max_attempts")


def downgrade() -> None:
    with op.batch_alter_table("global_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_attempts", sa.Integer(), nullable=False, server_default="10"))
    with op.batch_alter_table("global_settings", schema=None) as batch_op:
        batch_op.alter_column("max_attempts", server_default=None)
        batch_op.drop_column("retry_horizon_seconds")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("retrying_since")
    op.drop_table("throttle_gates")
