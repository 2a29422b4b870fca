"""Shared fixtures.

The expensive parts are built once per test session in a temporary directory: the tiktoken
cache, a triage model trained on the train split of the project's labeled tickets, and the
knowledge base ingested into an embedded Chroma. Each test then gets its own SQLite database,
so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"


def _prepare(base: Path) -> Path:
    from app.cli import _ingest
    from app.lib import tokens
    from app.triage.training import train_dataset
    from retrieval.embeddings import BundledEmbedder

    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    tokens.configure(data / "tiktoken")
    train_dataset(ROOT / "evals" / "datasets" / "triage", data / "models" / "triage", BundledEmbedder(), part="train")
    settings = Settings(data_dir=data, kb_sources=ROOT / "kb_sources")
    asyncio.run(_ingest(settings, settings.kb_sources, force=False, quiet=True))
    return data


@pytest.fixture(scope="session")
def prepared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model + KB index, built once. REPLYDESK_TEST_PREPARED reuses a directory across runs."""
    reuse = os.environ.get("REPLYDESK_TEST_PREPARED")
    if reuse and (Path(reuse) / "models" / "triage" / "manifest.json").exists():
        return Path(reuse)
    return _prepare(tmp_path_factory.mktemp("prepared"))


@pytest.fixture
def make_settings(prepared_dir: Path, tmp_path: Path) -> Any:
    """Settings over the shared model and index, with a fresh database per test."""

    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": prepared_dir,
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'test.db'}",
            "triage_model": prepared_dir / "models" / "triage",
            "kb_sources": ROOT / "kb_sources",
            "rate_limit_per_minute": 0,
            "llm_base_url": "",
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
def settings(make_settings: Any) -> Settings:
    return make_settings()  # type: ignore[no-any-return]


def migrate(settings: Settings) -> None:
    from app.db.migrate import upgrade

    upgrade(settings.resolved_database_url)


async def create_key(settings: Settings, scopes: list[str], name: str = "test") -> str:
    from app.auth.keys import create_key as create
    from app.db.base import create_engine, create_sessionmaker

    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return (await create(session, name, scopes)).secret
    finally:
        await engine.dispose()


class Api:
    """An app under test with a client and an admin key."""

    def __init__(self, client: AsyncTestClient[Any], settings: Settings, key: str) -> None:
        self.client = client
        self.settings = settings
        self.key = key

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}", **extra}

    async def post(self, path: str, json: Any = None, key: str | None = None, **kwargs: Any) -> Any:
        headers = {**self.headers(key), **kwargs.pop("headers", {})}
        return await self.client.post(path, json=json, headers=headers, **kwargs)

    async def get(self, path: str, key: str | None = None, **kwargs: Any) -> Any:
        headers = {**self.headers(key), **kwargs.pop("headers", {})}
        return await self.client.get(path, headers=headers, **kwargs)

    async def key_with(self, *scopes: str) -> str:
        return await create_key(self.settings, list(scopes), name="-".join(scopes))


async def start_api(settings: Settings) -> AsyncIterator[Api]:
    from app.factory import create_app

    await asyncio.to_thread(migrate, settings)
    key = await create_key(settings, ["admin"], name="admin")
    app = create_app(settings)
    async with AsyncTestClient(app=app) as client:
        yield Api(client, settings, key)


@pytest.fixture(scope="module")
def fake() -> Iterator[Any]:
    """A real OpenAI-compatible HTTP server on 127.0.0.1, one per test module."""
    from tests.support.fake_openai import FakeLLM

    with FakeLLM() as server:
        yield server


def llm_settings(prepared_dir: Path, db: Path, base_url: str, **overrides: Any) -> Settings:
    """Settings over the prepared model and index with the LLM pointed at a fake server."""
    values: dict[str, Any] = {
        "data_dir": prepared_dir,
        "database_url": f"sqlite+aiosqlite:///{db}",
        "triage_model": prepared_dir / "models" / "triage",
        "kb_sources": ROOT / "kb_sources",
        "rate_limit_per_minute": 0,
        "llm_base_url": base_url,
    }
    return Settings(**{**values, **overrides})


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[Api]:
    async for item in start_api(settings):
        yield item
