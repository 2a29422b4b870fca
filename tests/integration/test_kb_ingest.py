"""`replydesk kb ingest` against a real embedded Chroma, on a small copy of the knowledge base.

Each test copies a few real documents (English, some with German translations) into its own
temporary directory and ingests them into its own Chroma directory, then edits, deletes or
breaks files and ingests again. The embedders are the real bundled model; the test doubles are
subclasses that count what they embed, fail part-way, or report another model name.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from app.lib import tokens
from retrieval.chunking import Chunker
from retrieval.embeddings import BundledEmbedder, EmbeddingError, Matrix
from retrieval.ingest import EMBED_BATCH, IngestSummary, ingest
from retrieval.search import IndexMismatch, KnowledgeBase
from retrieval.store import ChromaStore

ROOT = Path(__file__).resolve().parents[2]
KB = ROOT / "kb_sources"
PREFIX = "kbtest"
SMALL_KB = {
    "en": ["damaged-items", "returns-policy", "lost-parcel", "refunds-timing", "seller-nordic-home-returns"],
    "de": ["damaged-items", "returns-policy"],
}
SUMMARY = re.compile(
    r"^(\d+) documents, (\d+) chunks \+ \d+ questions: (\d+) added, (\d+) updated, (\d+) removed, (\d+) unchanged; "
    r"(\d+) embedded; (\d+) files skipped; [\d.]+ s \((switched to|unchanged:) (\S+)\)$"
)


class CountingEmbedder(BundledEmbedder):
    """The bundled model, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def embed(self, texts: list[str]) -> Matrix:
        self.seen.extend(texts)
        return super().embed(texts)


class FailingEmbedder(BundledEmbedder):
    """The bundled model that breaks down after ``fail_after`` texts, like an endpoint going away."""

    def __init__(self, fail_after: int) -> None:
        super().__init__()
        self.fail_after = fail_after
        self.done = 0

    def embed(self, texts: list[str]) -> Matrix:
        allowed = max(self.fail_after - self.done, 0)
        matrix = super().embed(texts[:allowed])
        self.done += min(allowed, len(texts))
        if len(texts) > allowed:
            raise EmbeddingError(f"embedding failed after {self.done} texts")
        return matrix


class OtherModelEmbedder(BundledEmbedder):
    """Same vectors, another model name: what a changed REPLYDESK_EMBEDDINGS looks like."""

    @property
    def name(self) -> str:
        return "test:other-model"


@pytest.fixture(scope="module")
def chunker(tmp_path_factory: pytest.TempPathFactory) -> Chunker:
    tokens.configure(tmp_path_factory.mktemp("tiktoken"))
    return Chunker(220, 30)


@pytest.fixture(scope="module")
def counting() -> CountingEmbedder:
    return CountingEmbedder()


@pytest.fixture
def embedder(counting: CountingEmbedder) -> CountingEmbedder:
    counting.seen.clear()
    return counting


def copy_small_kb(target: Path) -> Path:
    for locale, ids in SMALL_KB.items():
        (target / locale).mkdir(parents=True, exist_ok=True)
        for doc_id in ids:
            shutil.copy(KB / locale / f"{doc_id}.md", target / locale / f"{doc_id}.md")
    return target


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    return copy_small_kb(tmp_path / "kb")


@pytest.fixture
async def store(tmp_path: Path) -> ChromaStore:
    return await ChromaStore.open(url="", path=str(tmp_path / "chroma"), prefix=PREFIX)


async def active_ids(store: ChromaStore) -> set[str]:
    pointer = await store.pointer()
    assert pointer is not None
    return set((await store.get_all(pointer["collection"]))["ids"])


def ids_of(ids: set[str], doc_id: str, locale: str = "en") -> set[str]:
    return {i for i in ids if i.startswith(f"{doc_id}@{locale}#")}


async def test_first_ingest_embeds_everything_and_records_the_model(
    store: ChromaStore, embedder: CountingEmbedder, sources: Path, chunker: Chunker
) -> None:
    summary = await ingest(store, embedder, sources, chunker)

    assert summary.documents == 7
    assert summary.switched
    assert not summary.skipped
    assert summary.chunks == summary.added == summary.embedded == len(embedder.seen) > 20
    assert summary.updated == summary.removed == summary.unchanged == 0
    pointer = await store.pointer()
    assert pointer is not None
    assert pointer["collection"] == summary.build
    assert await store.list_builds() == [summary.build]
    assert pointer["embedder"] == BundledEmbedder().name
    assert pointer["dimensions"] == 512
    assert pointer["chunks"] == summary.chunks
    assert pointer["documents"] == 7
    assert await store.count(summary.build) == summary.chunks
    stored = await store.get_all(summary.build, embeddings=True)
    vectors = np.asarray(stored["embeddings"], dtype=np.float32)
    assert vectors.shape == (summary.chunks, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert {m["doc_id"] for m in stored["metadatas"]} == {d for ids in SMALL_KB.values() for d in ids}
    assert all(m["content_hash"] for m in stored["metadatas"])
    assert SUMMARY.match(summary.line()), summary.line()


async def test_unchanged_sources_take_the_early_exit(
    store: ChromaStore, embedder: CountingEmbedder, sources: Path, chunker: Chunker
) -> None:
    first = await ingest(store, embedder, sources, chunker)
    embedder.seen.clear()

    second = await ingest(store, embedder, sources, chunker)

    assert embedder.seen == []
    assert (second.embedded, second.added, second.updated, second.removed) == (0, 0, 0, 0)
    assert second.unchanged == first.chunks
    assert not second.switched
    assert second.build == first.build
    assert await store.list_builds() == [first.build]
    assert second.line().endswith(f"(unchanged: {first.build})")


async def test_editing_a_document_re_embeds_only_its_chunks_and_drops_stale_ids(
    store: ChromaStore, embedder: CountingEmbedder, sources: Path, chunker: Chunker
) -> None:
    first = await ingest(store, embedder, sources, chunker)
    before = await active_ids(store)
    returns = ids_of(before, "returns-policy")
    old_anchor = "returns-policy@en#condition-of-returned-items"
    assert f"{old_anchor}~0" in returns
    path = sources / "en" / "returns-policy.md"
    edited = (
        path.read_text(encoding="utf-8")
        .replace("version: 3", "version: 4")
        .replace("## Condition of returned items", "## What state a returned item must be in")
    )
    path.write_text(edited, encoding="utf-8")
    embedder.seen.clear()

    second = await ingest(store, embedder, sources, chunker)

    after = await active_ids(store)
    new_returns = ids_of(after, "returns-policy")
    stale = returns - new_returns
    assert {i.split("~")[0] for i in stale} == {old_anchor}
    assert not stale & after
    assert "returns-policy@en#what-state-a-returned-item-must-be-in~0" in after
    # Every chunk of the document was re-written (its version changed) but only the renamed
    # section's text was embedded again; everything else reused its vector.
    renamed = {i for i in new_returns if "#what-state-a-returned-item-must-be-in~" in i}
    assert second.embedded == len(embedder.seen) == len(renamed) >= 1
    assert all(t.startswith("Returns policy. What state a returned item must be in.") for t in embedder.seen)
    stored = await store.get_all(second.build)
    versions = {m["version"] for i, m in zip(stored["ids"], stored["metadatas"], strict=True) if i in new_returns}
    assert versions == {4}
    assert second.unchanged == first.chunks - len(returns)
    assert second.removed == len(stale)
    assert second.added == len(new_returns - returns)
    assert after - new_returns == before - returns
    assert second.switched
    assert second.build != first.build
    # The previous build is kept one generation for replicas mid-query; older ones are dropped.
    assert sorted(await store.list_builds()) == sorted([first.build, second.build])


async def test_deleting_a_document_removes_its_chunks(
    store: ChromaStore, embedder: CountingEmbedder, sources: Path, chunker: Chunker
) -> None:
    first = await ingest(store, embedder, sources, chunker)
    lost = ids_of(await active_ids(store), "lost-parcel")
    assert lost
    (sources / "en" / "lost-parcel.md").unlink()
    embedder.seen.clear()

    second = await ingest(store, embedder, sources, chunker)

    assert second.removed == len(lost)
    assert second.embedded == 0
    assert embedder.seen == []
    assert second.documents == first.documents - 1
    assert second.chunks == first.chunks - len(lost)
    assert not ids_of(await active_ids(store), "lost-parcel")
    kb = KnowledgeBase(store, embedder)
    result = await kb.search("my parcel never arrived and tracking has not moved for a week", k=10, language="en")
    assert result.hits
    assert "lost-parcel" not in {h.chunk.doc_id for h in result.hits}

    # A third ingest with yet another change leaves exactly two builds: the active and the previous.
    (sources / "en" / "refunds-timing.md").unlink()
    third = await ingest(store, embedder, sources, chunker)
    assert sorted(await store.list_builds()) == sorted([second.build, third.build])


async def test_question_banks_are_ingested_as_keys_for_their_sections(
    store: ChromaStore, embedder: CountingEmbedder, sources: Path, chunker: Chunker
) -> None:
    (sources / "questions").mkdir()
    for doc_id in ("damaged-items", "lost-parcel"):
        shutil.copy(KB / "questions" / f"{doc_id}.yaml", sources / "questions" / f"{doc_id}.yaml")

    first = await ingest(store, embedder, sources, chunker)

    assert first.questions > 2 * 40  # each bank holds dozens of questions in 14 languages
    assert first.added == first.embedded == first.chunks + first.questions
    assert SUMMARY.match(first.line()), first.line()
    stored = await store.get_all(first.build)
    kinds = {m["kind"] for m in stored["metadatas"]}
    assert kinds == {"passage", "question"}
    questions = [(i, d, m) for i, d, m in zip(stored["ids"], stored["documents"], stored["metadatas"], strict=True)]
    questions = [q for q in questions if q[2]["kind"] == "question"]
    assert len(questions) == first.questions
    assert {m["doc_id"] for _, _, m in questions} == {"damaged-items", "lost-parcel"}
    assert len({m["locale"] for _, _, m in questions}) >= 10
    # A buyer question is embedded alone, without the document title in front of it.
    assert {d for _, d, _ in questions} <= set(embedder.seen)

    # The catalog keeps questions out of the passages: nothing else sees them.
    kb = KnowledgeBase(store, embedder)
    assert all(not c.is_question for c in await kb.chunks())
    result = await kb.search("Paczka nie dotarła, kurier nic nie wie od dwóch tygodni", k=3, language="pl")
    top = result.hits[0]
    assert top.chunk.doc_id == "lost-parcel" and not top.chunk.is_question
    assert top.question is not None  # brought up by one of the bank's questions

    # Editing one question re-embeds that question only.
    bank = sources / "questions" / "lost-parcel.yaml"
    text = bank.read_text(encoding="utf-8")
    old = questions[[m["doc_id"] for _, _, m in questions].index("lost-parcel")][1]
    bank.write_text(text.replace(f'"{old}"', '"My parcel vanished somewhere between two depots"', 1), encoding="utf-8")
    embedder.seen.clear()
    second = await ingest(store, embedder, sources, chunker)
    assert embedder.seen == ["My parcel vanished somewhere between two depots"]
    assert (second.added, second.removed, second.updated) == (1, 1, 0)

    # Removing a bank removes its questions and nothing else.
    bank.unlink()
    third = await ingest(store, embedder, sources, chunker)
    lost_questions = sum(1 for _, _, m in questions if m["doc_id"] == "lost-parcel")
    assert third.questions == first.questions - lost_questions
    assert third.chunks == first.chunks and third.embedded == 0


async def test_a_malformed_file_is_skipped_with_its_path_and_reason(
    store: ChromaStore, embedder: CountingEmbedder, sources: Path, chunker: Chunker
) -> None:
    broken = (
        (sources / "en" / "refunds-timing.md")
        .read_text(encoding="utf-8")
        .replace("policy_type: refunds", "policy_type: teleport")
    )
    (sources / "en" / "broken-refunds.md").write_text(
        broken.replace("id: refunds-timing", "id: broken-refunds"), encoding="utf-8"
    )
    (sources / "de" / "kaputt.md").write_bytes(b"---\nid: kaputt\n---\nR\xfccksendung")

    summary = await ingest(store, embedder, sources, chunker)

    reasons = {p.path: p.reason for p in summary.skipped}
    assert set(reasons) == {"en/broken-refunds.md", "de/kaputt.md"}
    assert "policy_type 'teleport' is not one of" in reasons["en/broken-refunds.md"]
    assert reasons["de/kaputt.md"] == "not valid UTF-8"
    assert summary.documents == 7
    assert summary.switched
    docs = {c.split("#")[0] for c in await active_ids(store)}
    assert docs == {f"{d}@{locale}" for locale, ids in SMALL_KB.items() for d in ids}
    assert "2 files skipped" in summary.line()


HTML_PAGE = """---
id: gift-wrapping
title: Gift wrapping
locale: en
policy_type: promotions
scope: platform
version: 1
effective_from: 2026-05-01
---
<html><head><title>Gift wrapping</title><script>track('pageview')</script></head><body>
<h1>Gift wrapping</h1><p>Sellers can wrap an order as a gift for 2.50 EUR.</p>
<h2>Gift messages</h2><p>Add a message of up to 200 characters at checkout.</p>
</body></html>
"""
TEXT_NOTE = """---
id: contact-hours
title: Kontaktzeiten
locale: de
policy_type: accessibility
scope: platform
version: 1
effective_from: 2026-05-01
---
Der Kundenservice ist montags bis freitags von 8 bis 20 Uhr erreichbar.
"""


async def test_html_and_text_files_are_ingested_with_markdown(
    store: ChromaStore, embedder: CountingEmbedder, sources: Path, chunker: Chunker
) -> None:
    (sources / "en" / "gift-wrapping.html").write_text(HTML_PAGE, encoding="utf-8")
    (sources / "de" / "contact-hours.txt").write_text(TEXT_NOTE, encoding="utf-8")

    summary = await ingest(store, embedder, sources, chunker)

    assert summary.documents == 9
    assert not summary.skipped
    stored = await store.get_all(summary.build)
    texts = dict(zip(stored["ids"], stored["documents"], strict=True))
    assert texts["gift-wrapping@en#gift-messages~0"] == "Add a message of up to 200 characters at checkout."
    assert "track(" not in " ".join(texts.values())
    assert texts["contact-hours@de#summary~0"].startswith("Der Kundenservice ist montags")
    kb = KnowledgeBase(store, embedder)
    result = await kb.search("Can the seller gift wrap my order?", k=1, language="en")
    assert result.hits[0].chunk.doc_id == "gift-wrapping"


async def test_a_failed_ingest_leaves_the_previous_build_in_service(
    store: ChromaStore, embedder: CountingEmbedder, sources: Path, chunker: Chunker
) -> None:
    first = await ingest(store, embedder, sources, chunker)
    pointer = await store.pointer()
    kb = KnowledgeBase(store, embedder)
    before = await kb.search("the kettle arrived broken", k=3, language="en")
    # New documents and a forced re-embed: the first batch goes through, the second breaks down.
    shutil.copy(KB / "en" / "warranty-legal.md", sources / "en" / "warranty-legal.md")
    shutil.copy(KB / "de" / "lost-parcel.md", sources / "de" / "lost-parcel.md")
    shutil.copy(KB / "de" / "seller-nordic-home-returns.md", sources / "de" / "seller-nordic-home-returns.md")
    failing = FailingEmbedder(fail_after=EMBED_BATCH + 5)

    with pytest.raises(EmbeddingError, match=f"after {EMBED_BATCH + 5} texts"):
        await ingest(store, failing, sources, chunker, force=True)

    assert failing.done == EMBED_BATCH + 5
    assert await store.pointer() == pointer
    assert await store.list_builds() == [first.build], "no half-built collection may be left behind"
    assert await store.count(first.build) == first.chunks
    fresh = KnowledgeBase(store, embedder)
    assert (await fresh.health())[0]
    after = await fresh.search("the kettle arrived broken", k=3, language="en")
    assert [h.chunk.id for h in after.hits] == [h.chunk.id for h in before.hits]
    assert after.hits[0].chunk.doc_id == "damaged-items"

    # The next good ingest completes what the failed one could not.
    embedder.seen.clear()
    done = await ingest(store, embedder, sources, chunker)
    assert done.switched
    assert done.documents == first.documents + 3
    assert done.embedded == len(embedder.seen) == done.added


async def test_a_build_left_by_a_killed_ingest_is_never_served_and_is_cleaned_up(
    store: ChromaStore, embedder: CountingEmbedder, sources: Path, chunker: Chunker
) -> None:
    first = await ingest(store, embedder, sources, chunker)
    # What a process killed half-way through writing a build leaves behind: a partial collection
    # under the knowledge-base prefix that the pointer never named.
    records = await store.get_all(first.build, embeddings=True)
    stray = f"{PREFIX}-20990101t000000-dead00"
    vectors = np.asarray(records["embeddings"][:5], dtype=np.float32)
    await store.add(stray, records["ids"][:5], vectors, records["documents"][:5], records["metadatas"][:5])
    assert sorted(await store.list_builds()) == sorted([first.build, stray])

    kb = KnowledgeBase(store, embedder)
    ok, detail = await kb.health()
    assert ok
    assert first.build in detail
    assert len(await kb.chunks()) == first.chunks

    (sources / "en" / "lost-parcel.md").unlink()
    second = await ingest(store, embedder, sources, chunker)
    assert sorted(await store.list_builds()) == sorted([first.build, second.build])


async def test_an_index_from_another_embedding_model_is_reported_not_mixed(
    store: ChromaStore, embedder: CountingEmbedder, sources: Path, chunker: Chunker
) -> None:
    first = await ingest(store, embedder, sources, chunker)
    other = OtherModelEmbedder()

    kb = KnowledgeBase(store, other)
    ok, detail = await kb.health()
    assert not ok
    assert "bundled:use-multilingual-v3-q8" in detail
    assert "test:other-model" in detail
    assert "replydesk kb ingest" in detail
    assert kb.problem == detail
    with pytest.raises(IndexMismatch):
        await kb.search("broken kettle")

    # Re-ingesting with the other model embeds every chunk again: no vector is reused across models.
    second = await ingest(store, other, sources, chunker)
    assert second.switched
    assert second.embedded == second.chunks == first.chunks
    pointer = await store.pointer()
    assert pointer is not None
    assert pointer["embedder"] == "test:other-model"
    assert (await KnowledgeBase(store, other).health())[0]
    ok, detail = await KnowledgeBase(store, embedder).health()
    assert not ok
    assert "test:other-model" in detail


def run_cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")}
    env["REPLYDESK_DATA_DIR"] = str(data_dir)
    command = [str(Path(sys.executable).parent / "replydesk"), *args]
    return subprocess.run(
        command, env=env, cwd=data_dir.parent, capture_output=True, text=True, timeout=120, check=False
    )


def parse_line(stdout: str) -> tuple[IngestSummary, str]:
    line = stdout.strip().splitlines()[-1]
    match = SUMMARY.match(line)
    assert match, stdout
    numbers = [int(g) for g in match.groups()[:8]]
    summary = IngestSummary(
        numbers[0],
        numbers[1],
        numbers[2],
        numbers[3],
        numbers[4],
        numbers[5],
        numbers[6],
        0.0,
        match.group(10),
        match.group(9) == "switched to",
    )
    return summary, line


def test_cli_prints_the_summary_line(tmp_path: Path) -> None:
    sources = copy_small_kb(tmp_path / "kb")
    (sources / "en" / "broken.md").write_text("---\nid: broken\ntitle: [oops\n---\nText", encoding="utf-8")
    data = tmp_path / "data"

    first = run_cli(data, "kb", "ingest", str(sources))

    assert first.returncode == 0, first.stderr
    summary, _ = parse_line(first.stdout)
    assert summary.documents == 7
    assert summary.switched
    assert summary.embedded == summary.chunks > 20
    assert "skipped en/broken.md: front matter is not valid YAML" in first.stderr
    assert (data / "chroma" / "chroma.sqlite3").is_file()

    (sources / "en" / "broken.md").unlink()
    second = run_cli(data, "kb", "ingest", str(sources))
    again, line = parse_line(second.stdout)
    assert second.returncode == 0
    assert not again.switched
    assert again.embedded == 0
    assert again.build == summary.build
    assert "0 files skipped" in line

    # `replydesk kb search` ranks like the API; with no triage model in this data directory it
    # cannot detect the language, so the caller gives it.
    shutil.copytree(KB / "questions", sources / "questions")
    run_cli(data, "kb", "ingest", str(sources))
    found = run_cli(data, "kb", "search", "Paczka zaginęła, kurier nic nie wie", "--language", "pl", "--k", "3")
    assert found.returncode == 0, found.stderr
    lines = found.stdout.splitlines()
    assert lines[0] == "language: pl"
    assert lines[1].startswith("1. ") and "lost-parcel@en#" in lines[1], found.stdout
    assert any(line.strip().startswith("matched buyer question: ") for line in lines), found.stdout
