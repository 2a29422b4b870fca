"""The knowledge base on a real Chroma server (`chroma run`), reached through REPLYDESK_CHROMA_URL.

The test starts the server from the installed package on 127.0.0.1 and a free port, ingests a
small knowledge base through the `replydesk` command, searches through the API and through
KnowledgeBase, then stops the server (the service must degrade to clear 503s, never 500s) and
starts it again on the same directory (the data must still be there and search must recover).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from app.settings import Settings
from retrieval.embeddings import BundledEmbedder
from retrieval.search import KnowledgeBase, open_knowledge_base
from retrieval.store import StoreUnavailable
from tests.conftest import Api, start_api

ROOT = Path(__file__).resolve().parents[2]
KB = ROOT / "kb_sources"
BIN = Path(sys.executable).parent
SMALL_KB = {
    "en": ["damaged-items", "returns-policy", "lost-parcel", "seller-nordic-home-returns"],
    "de": ["damaged-items", "returns-policy"],
}
KETTLE = {"query": "My kettle arrived with a cracked lid and it leaks.", "k": 3}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ChromaServer:
    """`chroma run` as a child process, started and stopped by the test."""

    def __init__(self, path: Path, log: Path) -> None:
        self.path = path
        self.log = log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=1) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def start(self, timeout_s: float = 30.0) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    str(BIN / "chroma"),
                    "run",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--path",
                    str(self.path),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout_s
        while not self.alive():
            if self.process.poll() is not None:
                output = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"chroma exited with {self.process.returncode}: {output}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chroma did not answer its heartbeat within {timeout_s} s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("chroma-server")
    for locale, ids in SMALL_KB.items():
        (base / "kb" / locale).mkdir(parents=True)
        for doc_id in ids:
            shutil.copy(KB / locale / f"{doc_id}.md", base / "kb" / locale / f"{doc_id}.md")
    return base


@pytest.fixture(scope="module")
def server(base: Path) -> Iterator[ChromaServer]:
    chroma = ChromaServer(base / "chroma-server-data", base / "chroma.log")
    chroma.start()
    try:
        yield chroma
    finally:
        chroma.stop()


@pytest.fixture(scope="module")
def settings(server: ChromaServer, base: Path, prepared_dir: Path) -> Settings:
    return Settings(
        data_dir=base / "data",
        database_url=f"sqlite+aiosqlite:///{base / 'test.db'}",
        triage_model=prepared_dir / "models" / "triage",
        kb_sources=base / "kb",
        chroma_url=server.url,
        rate_limit_per_minute=0,
        llm_base_url="",
    )


@pytest.fixture(scope="module")
def ingested(server: ChromaServer, base: Path, settings: Settings) -> str:
    """The summary line of `replydesk kb ingest` run against the server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")}
    env |= {"REPLYDESK_DATA_DIR": str(settings.data_dir), "REPLYDESK_CHROMA_URL": server.url}
    done = subprocess.run(
        [str(BIN / "replydesk"), "kb", "ingest", str(base / "kb")],
        env=env,
        cwd=base,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Nothing was written locally: the index lives on the server.
    assert not (settings.data_dir / "chroma").exists()
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
async def api(ingested: str, settings: Settings) -> AsyncIterator[Api]:
    async for item in start_api(settings):
        yield item


async def open_kb(settings: Settings) -> KnowledgeBase:
    return await open_knowledge_base(settings, BundledEmbedder())


async def kettle(api: Api) -> list[str]:
    response = await api.post("/v1/kb/search", KETTLE)
    assert response.status_code == 200, response.text
    return [h["chunk_id"] for h in response.json()["hits"]]


def service_kb(api: Api) -> KnowledgeBase:
    kb = api.client.app.state.services.kb
    assert isinstance(kb, KnowledgeBase)
    return kb


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text
    error = response.json()["error"]
    assert error["status"] == 503
    assert error["code"] == "unavailable"
    assert error["message"].startswith("knowledge base unavailable: ")


async def test_ingest_and_search_through_the_server(
    ingested: str, api: Api, settings: Settings, server: ChromaServer
) -> None:
    assert ingested.startswith("6 documents, ")
    assert "0 files skipped" in ingested
    assert "(switched to replydesk_kb-" in ingested

    kb = await open_kb(settings)
    try:
        ok, detail = await kb.health()
        assert ok
        assert server.url in detail
        result = await kb.search("Mein Wasserkocher ist kaputt angekommen", k=3, language="de")
        assert next(h.chunk.doc_id for h in result.hits) == "damaged-items"
        assert {h.chunk.locale for h in result.hits} == {"de"}
        nordic = await kb.search("Can I return the sofa? It does not fit.", k=3, language="en")
        assert "seller-nordic-home-returns" not in {h.chunk.doc_id for h in nordic.hits}
    finally:
        await kb.close()

    hits = await kettle(api)
    assert hits[0].startswith("damaged-items@en#")
    response = await api.post(
        "/v1/kb/search", {"query": "Can I return the sofa?", "k": 3, "filters": {"seller": "nordic-home"}}
    )
    assert response.json()["hits"][0]["document_id"] == "seller-nordic-home-returns"
    documents = (await api.get("/v1/kb/documents")).json()["documents"]
    assert len(documents) == 6
    ready = await api.get("/ready")
    assert ready.status_code == 200, ready.text
    check = next(c for c in ready.json()["checks"] if c["name"] == "knowledge_base")
    assert check["ok"]
    assert server.url in check["detail"]


async def test_server_down_gives_clear_503s_and_search_recovers_after_restart(
    api: Api, settings: Settings, server: ChromaServer
) -> None:
    before = await kettle(api)
    server.stop()
    assert not server.alive()
    try:
        ready = await api.get("/ready")
        assert ready.status_code == 503
        body = ready.json()
        assert body["ready"] is False
        check = next(c for c in body["checks"] if c["name"] == "knowledge_base")
        assert check["ok"] is False
        assert "Chroma" in check["detail"]
        for mode in ("hybrid", "dense"):
            assert_unavailable(await api.post("/v1/kb/search", {**KETTLE, "mode": mode}))
        # The service itself keeps answering.
        assert (await api.get("/health")).status_code == 200
        triage = await api.post("/v1/triage", {"message": "My kettle arrived broken."})
        assert triage.status_code == 200

        # The service's own KnowledgeBase, the one that lost its server, says why.
        kb = service_kb(api)
        ok, detail = await kb.health()
        assert not ok
        assert "Chroma error" in detail
        with pytest.raises(StoreUnavailable):
            await kb.search("kettle", mode="dense")
    finally:
        server.start()

    # Same directory, same data: the index and its pointer survived the restart.
    assert await kettle(api) == before
    ready = await api.get("/ready")
    assert ready.status_code == 200, ready.text
    kb = await open_kb(settings)
    try:
        assert (await kb.health())[0]
        assert len(await kb.chunks()) == sum(
            d["chunks"] for d in (await api.get("/v1/kb/documents")).json()["documents"]
        )
    finally:
        await kb.close()


async def test_service_started_while_chroma_is_down(base: Path, prepared_dir: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    settings = Settings(
        data_dir=base / "data-down",
        database_url=f"sqlite+aiosqlite:///{base / 'down.db'}",
        triage_model=prepared_dir / "models" / "triage",
        chroma_url=nowhere,
        rate_limit_per_minute=0,
        llm_base_url="",
    )
    async for api in start_api(settings):
        ready = await api.get("/ready")
        assert ready.status_code == 503
        check = next(c for c in ready.json()["checks"] if c["name"] == "knowledge_base")
        assert check["ok"] is False
        assert f"cannot open Chroma at {nowhere}" in check["detail"]
        assert_unavailable(await api.post("/v1/kb/search", KETTLE))
        assert_unavailable(await api.get("/v1/kb/documents"))
        assert (await api.post("/v1/triage", {"message": "Where is my parcel?"})).status_code == 200
