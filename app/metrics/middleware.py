"""Counts and times every HTTP request by route template (not raw path: ids would explode it)."""

from __future__ import annotations

import time

from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics.registry import METRICS


class MetricsMiddleware(ASGIMiddleware):
    scopes = ("http",)  # type: ignore[assignment]

    async def handle(self, scope: Scope, receive: Receive, send: Send, next_app: ASGIApp) -> None:
        started = time.perf_counter()
        status = [500]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await next_app(scope, receive, capture)
        finally:
            route = str(scope.get("path_template") or "unmatched")
            method = str(scope.get("method", ""))
            METRICS.inc("replydesk_http_requests_total", {"route": route, "method": method, "status": str(status[0])})
            METRICS.observe(
                "replydesk_http_request_seconds", {"route": route, "method": method}, time.perf_counter() - started
            )
