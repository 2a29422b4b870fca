"""Authentication, scopes and per-key rate limits for `/v1/*` routes.

A key comes as ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``. Verified keys are
cached for a few seconds so a request costs no database read; a revoked key stops working
within ``CACHE_SECONDS`` on every replica. Rate limits are counted per key per process.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.auth import keys
from app.lib.errors import Forbidden, RateLimited, Unauthorized
from app.services import Services

CACHE_SECONDS = 5.0
TOUCH_EVERY_SECONDS = 60.0

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Coroutine[Any, Any, None]]


class KeyCache:
    """Verified keys by secret hash, request windows per key, last 'last_used_at' writes."""

    def __init__(self) -> None:
        self.verified: dict[str, tuple[float, keys.VerifiedKey | None]] = {}
        self.windows: dict[str, deque[float]] = {}
        self.touched: dict[str, float] = {}

    def clear(self) -> None:
        self.verified.clear()


def _secret(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return connection.headers.get("x-api-key") or None


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> keys.VerifiedKey:
    services: Services = connection.app.state.services
    cache: KeyCache = services.extras.setdefault("key_cache", KeyCache())
    secret = _secret(connection)
    if not secret:
        raise Unauthorized(
            "an API key is required: send `Authorization: Bearer <key>` (create one with `replydesk keys create`)"
        )
    digest = keys.hash_secret(secret)
    now = time.monotonic()
    cached = cache.verified.get(digest)
    if cached is not None and now - cached[0] < CACHE_SECONDS:
        key = cached[1]
    else:
        async with services.sessions() as session:
            key = await keys.verify(session, secret)
            if key is not None and now - cache.touched.get(key.id, -1e9) > TOUCH_EVERY_SECONDS:
                cache.touched[key.id] = now
                await keys.touch(session, key.id, datetime.now(UTC))
        cache.verified[digest] = (now, key)
    if key is None:
        raise Unauthorized("the API key is unknown or revoked")
    limit = services.settings.rate_limit_per_minute
    if limit > 0:
        window = cache.windows.setdefault(key.id, deque())
        while window and now - window[0] > 60:
            window.popleft()
        if len(window) >= limit:
            retry = max(1, int(60 - (now - window[0])) + 1)
            raise RateLimited(
                f"rate limit of {limit} requests per minute reached for this key",
                headers={"Retry-After": str(retry)},
            )
        window.append(now)
    connection.scope["api_key_id"] = key.id  # type: ignore[typeddict-unknown-key]
    connection.scope["api_key_name"] = key.name  # type: ignore[typeddict-unknown-key]
    return key


def requires(*scopes: str) -> Guard:
    """A guard: the request needs a valid key holding any of ``scopes`` (``admin`` holds all)."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        key = await authenticate(connection)
        if not key.allows(scopes):
            raise Forbidden(f"this key lacks the scope for this route: needs one of {', '.join(scopes)}")

    return guard
