"""Key rotation for secrets at rest: re-seal every stored secret with the newest BRIDGE_SECRET_KEY."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.crypto import SecretBox
from app.repositories import connections


async def reencrypt_all(session: AsyncSession, box: SecretBox) -> int:
    """Connections' CRM credentials and webhook secrets, in the caller's transaction: all or none.
    Returns how many connections were re-sealed."""
    rows = await connections.list_all(session)
    for row in rows:
        row.secrets_encrypted = box.reseal(row.secrets_encrypted)
        row.webhook_secrets_encrypted = box.reseal(row.webhook_secrets_encrypted)
    await session.flush()
    return len(rows)
