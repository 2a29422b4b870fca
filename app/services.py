"""The long-lived things a running service holds: database engine, models, Chroma, the LLM client.

``Services.start`` opens them (in the app's lifespan, never at import) and ``close`` releases
them. A part that fails to load is recorded, not fatal: ``/ready`` reports it and the routes that
need it answer 503, while everything else keeps working.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.db.base import create_engine, create_sessionmaker
from app.lib import tokens
from app.lib.errors import ServiceUnavailable
from app.settings import Settings

if TYPE_CHECKING:
    from app.drafts.service import Drafter
    from app.triage.service import Triager
    from retrieval.embeddings import Embedder
    from retrieval.search import KnowledgeBase

log = logging.getLogger("replydesk.services")


class Services:
    # A plain class, not a dataclass: Litestar would try to validate a dataclass dependency
    # field by field, and these fields hold live clients.
    def __init__(self, settings: Settings, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.engine = engine
        self.sessions = sessions
        self.embedder: Embedder | None = None
        self.triager: Triager | None = None
        self.kb: KnowledgeBase | None = None
        self.drafter: Drafter | None = None
        self.problems: dict[str, str] = {}
        self.extras: dict[str, Any] = {}
        self._retry_task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        tokens.configure(settings.tiktoken_cache_dir)
        engine = create_engine(settings.resolved_database_url, pool_size=settings.database_pool_size)
        services = cls(settings=settings, engine=engine, sessions=create_sessionmaker(engine))
        await asyncio.to_thread(services._load_models)
        await services._open_kb()
        services._build_drafter()
        if services.kb is None and services.embedder is not None:
            # Chroma may simply not be up yet (a server started after us): keep trying.
            services._retry_task = asyncio.create_task(services._retry_kb())
        return services

    async def _retry_kb(self, every_s: float = 5.0) -> None:
        while self.kb is None:
            await asyncio.sleep(every_s)
            await self._open_kb()
            if self.kb is not None:
                self.problems.pop("kb", None)
                self.problems.pop("drafts", None)
                self._build_drafter()
                log.warning("knowledge base reachable again")

    def _load_models(self) -> None:
        from app.triage.language import LanguageIdentifier
        from app.triage.model import TriageModel
        from app.triage.service import Triager
        from retrieval.embeddings import BundledEmbedder

        try:
            self.embedder = BundledEmbedder()
        except Exception as exc:  # a broken install must not take the whole service down
            self.problems["embedder"] = str(exc)
            return
        try:
            languages = LanguageIdentifier()
            model = TriageModel.load(self.settings.resolved_triage_model)
            self.triager = Triager(self.settings, model, self.embedder, languages)
        except Exception as exc:
            self.problems["triage"] = str(exc)

    async def _open_kb(self) -> None:
        from retrieval.search import open_knowledge_base

        try:
            self.kb = await open_knowledge_base(self.settings, self.embedder)
        except Exception as exc:
            self.problems["kb"] = str(exc)

    def _build_drafter(self) -> None:
        from app.drafts.service import Drafter

        if self.triager is None or self.kb is None:
            self.problems.setdefault("drafts", "drafts need both the triage model and the knowledge base")
            return
        try:
            self.drafter = Drafter(self.settings, self.triager, self.kb)
        except Exception as exc:
            self.problems["drafts"] = str(exc)

    async def close(self) -> None:
        if self._retry_task is not None:
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
        if self.drafter is not None:
            await self.drafter.close()
        if self.kb is not None:
            await self.kb.close()
        await self.engine.dispose()

    # ---- accessors that turn a missing part into a clear 503 ----
    def require_triager(self) -> Triager:
        if self.triager is None:
            raise ServiceUnavailable(f"triage model not loaded: {self.problems.get('triage', 'unknown reason')}")
        return self.triager

    def require_kb(self) -> KnowledgeBase:
        if self.kb is None:
            raise ServiceUnavailable(f"knowledge base unavailable: {self.problems.get('kb', 'unknown reason')}")
        return self.kb

    def require_drafter(self) -> Drafter:
        if self.drafter is None:
            raise ServiceUnavailable(f"drafting unavailable: {self.problems.get('drafts', 'unknown reason')}")
        return self.drafter
