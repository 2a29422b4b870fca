"""API-key administration over HTTP (scope `admin`); the CLI does the same locally."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import keys
from app.auth.guards import KeyCache, requires
from app.db.models import ApiKey
from app.lib.errors import NotFound, Unprocessable
from app.services import Services


class KeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=120)]
    scopes: Annotated[list[str], msgspec.Meta(min_length=1, max_length=6)]


class KeyCreated(msgspec.Struct, kw_only=True):
    id: str
    name: str
    scopes: list[str]
    secret: str


class KeyInfo(msgspec.Struct, kw_only=True):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def key_info(k: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=k.id,
        name=k.name,
        prefix=f"rdk_{k.prefix}",
        scopes=k.scopes,
        created_at=k.created_at,
        last_used_at=k.last_used_at,
        revoked_at=k.revoked_at,
    )


class KeysController(Controller):
    path = "/v1/keys"
    tags = ["auth"]
    guards = [requires("admin")]

    @post("/", status_code=201, summary="Create a key; the secret is in this response only.")
    async def create(self, data: JSONBody[KeyCreate], db_session: NamedDependency[AsyncSession]) -> KeyCreated:
        try:
            created = await keys.create_key(db_session, data.name, data.scopes)
        except keys.KeyError_ as exc:
            raise Unprocessable(str(exc)) from exc
        return KeyCreated(id=created.id, name=created.name, scopes=created.scopes, secret=created.secret)

    @get("/", summary="Keys (never their secrets).")
    async def list_keys(self, db_session: NamedDependency[AsyncSession]) -> list[KeyInfo]:
        return [key_info(k) for k in await keys.list_keys(db_session)]

    @post("/{key_id:str}/revoke", status_code=200, summary="Revoke a key.")
    async def revoke(
        self,
        key_id: FromPath[str],
        db_session: NamedDependency[AsyncSession],
        services: NamedDependency[Services],
    ) -> KeyInfo:
        try:
            k = await keys.revoke_key(db_session, key_id)
        except keys.KeyError_ as exc:
            raise NotFound(str(exc)) from exc
        cache = services.extras.get("key_cache")
        if isinstance(cache, KeyCache):
            cache.clear()  # refused here at once; other processes within guards.CACHE_SECONDS
        return key_info(k)
