"""The review page, served as static files.

    GET /, /ui              the page (no key needed: it asks the agent for one)
    GET /ui/app.js          its script
    GET /ui/app.css         its stylesheet
    GET /ui/vocabulary.json intents, reject reasons and draft states from ``app.taxonomy``
    GET /favicon.ico        204: browsers ask for it; an empty answer keeps their consoles clean

Every answer carries a strict Content-Security-Policy: scripts, styles and requests come from
this origin only, nothing inline runs, and the page cannot be framed. Buyer text reaches the
page only through ``fetch`` and is rendered with ``textContent``; the policy is the second line
of defence if that ever slips.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import FromPath

from app.lib.errors import NotFound
from app.taxonomy import DraftState, Intent, RejectReason

STATIC_DIR = Path(__file__).resolve().parent / "static"

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidate every time (cheap: 304 on a matching ETag) so a deploy is seen at once.
    "Cache-Control": "no-cache",
}

# The only files served, by URL name: nothing else in the package can be reached.
ASSETS: dict[str, tuple[str, str]] = {
    "index.html": ("index.html", "text/html; charset=utf-8"),
    "app.js": ("app.js", "text/javascript; charset=utf-8"),
    "app.css": ("app.css", "text/css; charset=utf-8"),
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    etag: str


@lru_cache(maxsize=len(ASSETS))
def load_asset(name: str) -> Asset:
    """Read once on first request (not at import), then served from memory."""
    filename, media_type = ASSETS[name]
    body = (STATIC_DIR / filename).read_bytes()
    return Asset(body=body, media_type=media_type, etag=f'"{hashlib.sha256(body).hexdigest()[:16]}"')


def asset_response(request: Request[Any, Any, Any], name: str) -> Response[bytes]:
    asset = load_asset(name)
    headers = {**SECURITY_HEADERS, "ETag": asset.etag}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(b"", status_code=304, headers=headers, media_type=asset.media_type)
    return Response(asset.body, headers=headers, media_type=asset.media_type)


class Vocabulary(msgspec.Struct, kw_only=True):
    """The enumerations the page needs, so they are defined once (in ``app.taxonomy``)."""

    intents: list[str]
    reject_reasons: list[str]
    draft_states: list[str]


class WebController(Controller):
    tags = ("web",)
    include_in_schema = False

    @get(["/", "/ui"], summary="The review page.")
    async def page(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        return asset_response(request, "index.html")

    @get("/favicon.ico", status_code=204, summary="No icon.")
    async def favicon(self) -> Response[None]:
        return Response(None, status_code=204, headers={"Cache-Control": "max-age=86400"})

    @get("/ui/vocabulary.json", summary="Enumerations the page renders.")
    async def vocabulary(self) -> Response[Vocabulary]:
        body = Vocabulary(
            intents=[i.value for i in Intent],
            reject_reasons=[r.value for r in RejectReason],
            draft_states=[s.value for s in DraftState],
        )
        return Response(body, headers=SECURITY_HEADERS)

    @get("/ui/{name:str}", summary="The page's script and stylesheet.")
    async def asset(self, name: FromPath[str], request: Request[Any, Any, Any]) -> Response[bytes]:
        if name not in ASSETS or name == "index.html":
            raise NotFound(f"no file {name!r} in the review page")
        return asset_response(request, name)
