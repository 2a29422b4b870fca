"""API keys: created once, shown once, stored as a SHA-256 hash, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db.models import ApiKey

SCOPES: tuple[str, ...] = ("triage", "drafts:read", "drafts:write", "kb:admin", "evals", "admin")
_PREFIX = "rdk"


class KeyError_(ValueError):
    """A key request that cannot be honoured (unknown scope, unknown key)."""


@dataclass(frozen=True, slots=True)
class CreatedKey:
    id: str
    name: str
    scopes: list[str]
    secret: str  # shown once, never stored


@dataclass(frozen=True, slots=True)
class VerifiedKey:
    id: str
    name: str
    scopes: frozenset[str]

    def allows(self, wanted: tuple[str, ...]) -> bool:
        return "admin" in self.scopes or any(scope in self.scopes for scope in wanted)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(secret: str) -> str | None:
    """The lookup prefix of a well-formed key, or None."""
    parts = secret.split("_", 2)  # the random part may itself contain "_"
    if len(parts) != 3 or parts[0] != _PREFIX or len(parts[1]) != 10 or len(parts[2]) < 20:
        return None
    return parts[1]


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise KeyError_(
            f"unknown scope(s) {unknown}; choose from {', '.join(SCOPES)}" if unknown else "give at least one scope"
        )
    return sorted(set(scopes))


async def create_key(session: AsyncSession, name: str, scopes: list[str]) -> CreatedKey:
    scopes = check_scopes(scopes)
    prefix = secrets.token_hex(5)
    secret = f"{_PREFIX}_{prefix}_{secrets.token_urlsafe(30)}"
    key = ApiKey(name=name, prefix=prefix, secret_hash=hash_secret(secret), scopes=scopes)
    session.add(key)
    await session.commit()
    return CreatedKey(id=key.id, name=name, scopes=scopes, secret=secret)


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.scalars(select(ApiKey).order_by(ApiKey.created_at))).all())


async def revoke_key(session: AsyncSession, key_id_or_prefix: str) -> ApiKey:
    # Listings show the prefix as `rdk_<prefix>` (the CLI adds `_…`): accept it as shown.
    prefix = key_id_or_prefix.removesuffix("_…").removeprefix(f"{_PREFIX}_")
    key = await session.scalar(select(ApiKey).where((ApiKey.id == key_id_or_prefix) | (ApiKey.prefix == prefix)))
    if key is None:
        raise KeyError_(f"no key {key_id_or_prefix!r}")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        await session.commit()
    return key


async def verify(session: AsyncSession, secret: str) -> VerifiedKey | None:
    prefix = split_key(secret)
    if prefix is None:
        return None
    key = await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
        return None
    return VerifiedKey(key.id, key.name, frozenset(key.scopes))


async def touch(session: AsyncSession, key_id: str, when: datetime) -> None:
    key = await session.get(ApiKey, key_id)
    if key is not None:
        key.last_used_at = when
        await session.commit()
