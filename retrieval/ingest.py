"""`replydesk kb ingest`: sources -> chunks -> embeddings -> a new Chroma build -> switch.

Idempotent by content hash: when nothing changed the run stops after hashing (no embedding, no
writes); when something changed, unchanged chunks reuse their stored embeddings and only new or
changed text is embedded. The new build is filled aside and the pointer moves only when it is
complete, so an interrupted ingest leaves the previous index in service.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from retrieval.chunking import Chunk, Chunker, question_chunks
from retrieval.embeddings import Embedder
from retrieval.sources import FileProblem, read_questions, read_sources
from retrieval.store import ChromaStore

Progress = Callable[[int, int], None]
EMBED_BATCH = 64


@dataclass(slots=True)
class IngestSummary:
    documents: int
    chunks: int
    added: int
    updated: int
    removed: int
    unchanged: int
    embedded: int
    seconds: float
    build: str
    switched: bool
    skipped: list[FileProblem] = field(default_factory=list)
    questions: int = 0

    def line(self) -> str:
        state = "switched to" if self.switched else "unchanged:"
        return (
            f"{self.documents} documents, {self.chunks} chunks + {self.questions} questions: {self.added} added, {self.updated} updated, "
            f"{self.removed} removed, {self.unchanged} unchanged; {self.embedded} embedded; "
            f"{len(self.skipped)} files skipped; {self.seconds:.2f} s ({state} {self.build})"
        )


def manifest_hash(chunks: list[Chunk], embedder_name: str) -> str:
    digest = hashlib.sha256(embedder_name.encode())
    for chunk in sorted(chunks, key=lambda c: c.id):
        digest.update(f"\n{chunk.id}\t{chunk.content_hash}".encode())
    return digest.hexdigest()


def text_hash(chunk: Chunk) -> str:
    """What the vector depends on: the embedded text."""
    return hashlib.sha256(chunk.index_text.encode()).hexdigest()


def terminal_progress(label: str) -> Progress | None:
    """A tqdm bar on a terminal; nothing when output is piped (CI logs stay readable)."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc=label, unit="chunk", leave=False)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    return update


async def ingest(
    store: ChromaStore,
    embedder: Embedder,
    source: Path,
    chunker: Chunker,
    *,
    progress: Progress | None = None,
    force: bool = False,
) -> IngestSummary:
    started = time.perf_counter()
    documents, problems = read_sources(source)
    banks, bank_problems = read_questions(source)
    problems += bank_problems
    if not documents:
        raise ValueError(f"no usable documents under {source} ({len(problems)} files skipped)")
    pointer = await store.pointer()
    builds = await store.list_builds()
    previous = pointer.get("collection") if pointer else None
    if previous not in builds:
        previous = None
    # Cheapest check first: the same documents, chunked the same way, for the same model.
    sources = hashlib.sha256(f"{embedder.name}|{chunker.signature}".encode())
    for document in sorted(documents, key=lambda d: d.key):
        sources.update(f"\n{document.key}\t{document.content_hash}".encode())
    for bank in sorted(banks, key=lambda b: b.doc_id):
        sources.update(f"\nquestions:{bank.doc_id}\t{bank.content_hash}".encode())
    source_digest = sources.hexdigest()

    def nothing_to_do(n_chunks: int, n_questions: int, build: str) -> IngestSummary:
        seconds = round(time.perf_counter() - started, 3)
        total = n_chunks + n_questions
        return IngestSummary(len(documents), n_chunks, 0, 0, 0, total, 0, seconds, build, False, problems, n_questions)

    if pointer and previous and not force and pointer.get("source_hash") == source_digest:
        return nothing_to_do(int(pointer.get("chunks", 0)), int(pointer.get("questions", 0)), previous)

    passages = [chunk for document in documents for chunk in chunker.split(document)]
    if not passages:
        raise ValueError(f"no usable documents under {source} ({len(problems)} files skipped)")
    questions, question_problems = question_chunks(banks, passages)
    problems += question_problems
    chunks = passages + questions
    digest = manifest_hash(chunks, embedder.name)
    if pointer and previous and not force and pointer.get("manifest_hash") == digest:
        await store.set_pointer({**pointer, "source_hash": source_digest})
        return nothing_to_do(len(passages), len(questions), previous)

    hashes = {chunk.id: chunk.content_hash for chunk in chunks}
    text_hashes = {chunk.id: text_hash(chunk) for chunk in chunks}
    old_hashes: dict[str, str] = {}
    old_text_hashes: dict[str, str] = {}
    if previous:
        existing = await store.get_all(previous)
        for i, meta in zip(existing["ids"], existing["metadatas"], strict=False):
            old_hashes[i] = str(meta.get("content_hash", ""))
            old_text_hashes[i] = str(meta.get("text_hash", ""))
    added = sum(1 for i in hashes if i not in old_hashes)
    updated = sum(1 for i, h in hashes.items() if i in old_hashes and old_hashes[i] != h)
    removed = sum(1 for i in old_hashes if i not in hashes)
    unchanged = len(hashes) - added - updated

    # Reuse stored vectors for unchanged text, but never across embedding models.
    reuse: dict[str, Any] = {}
    same_model = pointer is not None and pointer.get("embedder") == embedder.name
    if previous and same_model and not force:
        # The vector depends on the embedded text only: a version bump re-writes metadata, not vectors.
        keep = [i for i, h in text_hashes.items() if old_text_hashes.get(i) == h or old_hashes.get(i) == hashes[i]]
        if keep:
            got = await store.get_all(previous, embeddings=True, ids=keep)
            reuse = dict(zip(got["ids"], got["embeddings"], strict=False))

    to_embed = [chunk for chunk in chunks if chunk.id not in reuse]
    vectors: dict[str, Any] = {}
    total = len(to_embed)
    for start in range(0, total, EMBED_BATCH):
        batch = to_embed[start : start + EMBED_BATCH]
        matrix = embedder.embed([chunk.index_text for chunk in batch])
        vectors.update({chunk.id: row for chunk, row in zip(batch, matrix, strict=True)})
        if progress:
            progress(min(start + EMBED_BATCH, total), total)

    build = f"{store.prefix}-{datetime.now(UTC):%Y%m%dt%H%M%S}-{secrets.token_hex(3)}"
    ids = [chunk.id for chunk in chunks]
    matrix = np.vstack([np.asarray(reuse.get(i, vectors.get(i)), dtype=np.float32) for i in ids])
    metadatas = [
        {**chunk.metadata(), "content_hash": chunk.content_hash, "text_hash": text_hashes[chunk.id]} for chunk in chunks
    ]
    try:
        await store.add(build, ids, matrix, [chunk.text for chunk in chunks], metadatas)
    except BaseException:
        # Leave no half-built collection behind; the pointer still names the previous build.
        with contextlib.suppress(Exception):  # best effort; the next ingest cleans up too
            await store.delete(build)
        raise
    await store.set_pointer(
        {
            "collection": build,
            "embedder": embedder.name,
            "dimensions": int(matrix.shape[1]),
            "manifest_hash": digest,
            "source_hash": source_digest,
            "documents": len(documents),
            "chunks": len(passages),
            "questions": len(questions),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    )
    # Keep the previous build one generation so replicas mid-query on it are not cut off.
    for name in await store.list_builds():
        if name not in (build, previous):
            await store.delete(name)
    return IngestSummary(
        len(documents),
        len(passages),
        added,
        updated,
        removed,
        unchanged,
        len(to_embed),
        round(time.perf_counter() - started, 3),
        build,
        True,
        problems,
        len(questions),
    )
