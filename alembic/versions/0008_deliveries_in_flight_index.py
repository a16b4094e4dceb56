"""A partial index of the deliveries in flight, for the claim's pipelining check

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_deliveries_in_flight",
        "deliveries",
        ["lane", "source_object", "source_id"],
        unique=False,
        postgresql_where=sa.text("status = 'in_flight'"),
        sqlite_where=sa.text("status = 'in_flight'"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_deliveries_in_flight",
        table_name="deliveries",
        postgresql_where=sa.text("status = 'in_flight'"),
        sqlite_where=sa.text("status = 'in_flight'"),
    )
