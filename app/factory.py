"""The one app factory. Nothing is built at import time: ``create_app()`` wires controllers,
dependencies, error handlers and the lifespan that opens (and closes) the service's parts."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from app import __version__
from app.deps import provide_db, provide_services
from app.lib.errors import exception_handlers
from app.lib.logs import configure_logging
from app.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    configure_logging(settings.log_level)

    from app.auth.controller import KeysController
    from app.drafts.controller import DraftsController
    from app.evals_api.controller import EvalsController
    from app.kb.controller import KnowledgeBaseController
    from app.metrics.controller import MetricsController
    from app.metrics.middleware import MetricsMiddleware
    from app.services import Services
    from app.system.controller import SystemController
    from app.tickets.controller import TicketsController
    from app.triage.controller import TriageController
    from app.web.controller import WebController

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        services = await Services.start(settings)
        app.state.services = services
        for part, problem in services.problems.items():
            logging.getLogger("replydesk").warning("%s not available: %s", part, problem)
        try:
            yield
        finally:
            await services.close()

    cors = (
        CORSConfig(
            allow_origins=settings.cors_allow_origins,
            allow_headers=["Authorization", "X-API-Key", "Content-Type", "If-Match", "Idempotency-Key"],
            expose_headers=["ETag"],
        )
        if settings.cors_allow_origins
        else None
    )
    return Litestar(
        route_handlers=[
            SystemController,
            TriageController,
            KnowledgeBaseController,
            DraftsController,
            TicketsController,
            KeysController,
            MetricsController,
            EvalsController,
            WebController,
        ],
        lifespan=[lifespan],
        dependencies={
            "services": Provide(provide_services, sync_to_thread=False),
            "db_session": Provide(provide_db),
        },
        exception_handlers=exception_handlers,
        middleware=[MetricsMiddleware()],
        request_max_body_size=settings.max_body_bytes,
        cors_config=cors,
        openapi_config=OpenAPIConfig(
            title="Replydesk",
            version=__version__,
            description="Triage, retrieval, grounded reply drafts and human approval for marketplace support.",
            path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        debug=False,
    )
