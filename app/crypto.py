"""Secrets at rest: connection credentials and webhook secrets are stored encrypted (Fernet).

``BRIDGE_SECRET_KEY`` may hold several keys, space-separated, newest first (rotation): new secrets are
sealed with the newest, stored ones open with any of them, and ``bridge secrets reencrypt`` re-seals
every stored secret with the newest so the older keys can be retired.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def split_keys(value: str) -> list[str]:
    return value.split()


class SecretBox:
    def __init__(self, keys: str) -> None:
        # Any operator-chosen string becomes a valid 32-byte Fernet key.
        names = split_keys(keys)
        if not names:
            raise ValueError("no encryption key given")
        self._fernet = MultiFernet(
            [Fernet(base64.urlsafe_b64encode(hashlib.sha256(k.encode()).digest())) for k in names]
        )

    def seal(self, value: Any) -> str:
        return self._fernet.encrypt(orjson.dumps(value)).decode()

    def open(self, token: str) -> Any:
        if not token:
            return None
        try:
            return orjson.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken as exc:
            raise ValueError("stored secret cannot be decrypted: was BRIDGE_SECRET_KEY changed?") from exc

    def reseal(self, token: str) -> str:
        """The same secret sealed with the newest key (empty stays empty)."""
        if not token:
            return token
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("stored secret cannot be decrypted: was BRIDGE_SECRET_KEY changed?") from exc
