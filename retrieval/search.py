"""Hybrid search over the knowledge base: dense vectors (Chroma) + BM25, fused by reciprocal rank.

Ranking rules, in order:
1. Candidates: the top passages by cosine similarity and by BM25, within the filters. Passages
   scoped to a seller are only candidates for that seller's orders. The vectors include each
   document's buyer questions (kb_sources/questions/): a question close to the query stands for
   the section it points at, with the question's similarity when that is the higher one.
2. Fusion: a weighted sum of the cosine similarity and the BM25 score (normalised to the best
   hit). BM25 only counts passages and buyer questions in the query's own language: across
   languages it matches shared word stems by accident, and the multilingual vectors carry
   meaning across languages (Arabic, which the tokenizer cannot stem, gets vectors only). A document whose records fill much of the query's vector
   neighbourhood gets a vote (a softmax share over the fetched neighbours), so one stray
   question close to the query does not outrank a document many questions agree on. An
   optional intent prior (the triage model's intent probabilities) adds weight to the
   documents whose front matter says they serve that intent.
3. Locale: a document's passages are shown in the buyer's language when that translation exists,
   otherwise in canonical English; a hit in another translation lends its score to the same
   section in the preferred one.
4. Seller: for that seller's orders, the seller's own passages outrank the platform's.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import numpy.typing as npt

from retrieval.chunking import CANONICAL_LOCALE, Chunk
from retrieval.embeddings import Embedder
from retrieval.lexical import BM25Index
from retrieval.store import ChromaStore, StoreUnavailable

if TYPE_CHECKING:
    from app.settings import Settings

Mode = Literal["hybrid", "dense", "lexical"]
POINTER_CHECK_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Ranking:
    """How the signals are weighed (module docstring). `python -m evals.ablation` measures the
    choices on labeled data other than the retrieval queries."""

    lexical_weight: float = 0.15
    intent_weight: float = 0.1
    seller_boost: float = 0.25
    vote_weight: float = 0.2
    vote_tau: float = 0.1  # softmax temperature of the neighbourhood vote
    question_lexical: bool = True  # BM25 over the buyer questions in the query's language
    # Languages whose words the BM25 tokenizer cannot stem: Arabic glues the article and
    # conjunctions to the front of a word, and BM25 over the Arabic buyer questions made the
    # triage tickets' ranking worse (evals.ablation). Vectors only for them.
    no_lexical_languages: frozenset[str] = frozenset({"ar"})


class IndexMismatch(RuntimeError):
    """The index was built with another embedding model than the one configured."""


class IndexMissing(RuntimeError):
    """No knowledge-base build exists yet."""


@dataclass(slots=True)
class Hit:
    chunk: Chunk
    score: float
    dense: float | None = None
    lexical: float | None = None
    rank_dense: int | None = None
    rank_lexical: int | None = None
    question: str | None = None  # the buyer question that matched, when it beat the passage itself


@dataclass(slots=True)
class SearchResult:
    hits: list[Hit]
    truncated: bool = False
    notes: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass(slots=True)
class Filters:
    policy_types: list[str] | None = None
    scopes: list[str] | None = None
    locales: list[str] | None = None
    seller: str | None = None
    doc_ids: list[str] | None = None


class _Build:
    """One build's chunks in memory: the catalog, the BM25 index and column arrays for masks."""

    def __init__(self, name: str, pointer: dict[str, Any], records: list[Chunk]) -> None:
        self.name = name
        self.pointer = pointer
        self.records = len(records)
        chunks = [c for c in records if not c.is_question]
        self.chunks = chunks
        self.by_id = {c.id: i for i, c in enumerate(chunks)}
        self.lexical = BM25Index([c.index_text for c in chunks])
        self.scope = np.array([c.scope for c in chunks], dtype=object)
        self.policy = np.array([c.policy_type for c in chunks], dtype=object)
        self.locale = np.array([c.locale for c in chunks], dtype=object)
        self.doc = np.array([c.doc_id for c in chunks], dtype=object)
        self.locales = set(self.locale.tolist())
        self.intents_of: dict[str, set[str]] = {}
        self.locales_of: dict[str, set[str]] = {}
        self.sections: dict[tuple[str, str, int, int], int] = {}
        for i, c in enumerate(chunks):
            self.locales_of.setdefault(c.doc_id, set()).add(c.locale)
            self.intents_of.setdefault(c.doc_id, set()).update(c.intents)
            self.sections.setdefault((c.doc_id, c.locale, c.section, c.part), i)
            self.sections.setdefault((c.doc_id, c.locale, c.section, -1), i)
            self.sections.setdefault((c.doc_id, c.locale, -1, -1), i)
        # A question stands for the first passage of its section, in every locale there is.
        self.questions: dict[str, tuple[str, list[int]]] = {}
        for q in records:
            if q.is_question:
                locales = sorted(self.locales_of.get(q.doc_id, ()), key=lambda x: (x != CANONICAL_LOCALE, x))
                targets = [self.sections[k] for x in locales if (k := (q.doc_id, x, q.section, -1)) in self.sections]
                if targets:
                    self.questions[q.id] = (q.text, targets)
        self.questions_per_doc = Counter(self.chunks[t[0]].doc_id for _, t in self.questions.values())
        # The questions are also lexical keys, in their own languages (most have no passages).
        self.question_ids = list(self.questions)
        self.question_lexical = BM25Index([self.questions[i][0] for i in self.question_ids])
        languages = {q.id: q.locale for q in records if q.is_question}
        self.question_language = np.array([languages[i] for i in self.question_ids], dtype=object)
        self.question_languages = set(self.question_language.tolist())

    def resolve(
        self,
        found: list[tuple[str, float]],
        mask: npt.NDArray[np.bool_],
        votes: dict[str, float] | None = None,
        tau: float = 1.0,
    ) -> list[tuple[int, float, str | None]]:
        """Vector hits as allowed passages, best first: a question becomes the passage it points
        at; a passage reached twice keeps its best similarity. ``votes`` collects, per document,
        its softmax share (temperature ``tau``) of the neighbourhood: every record, not only the
        best per passage."""
        out: list[tuple[int, float, str | None]] = []
        seen: set[int] = set()
        best = found[0][1] if found else 0.0
        for record_id, similarity in found:
            question = None
            if record_id in self.by_id:
                index = self.by_id[record_id]
                if not mask[index]:
                    continue
            elif record_id in self.questions:
                question, targets = self.questions[record_id]
                allowed = [t for t in targets if mask[t]]
                if not allowed:
                    continue
                index = allowed[0]
            else:
                continue
            if votes is not None:
                doc = self.chunks[index].doc_id
                votes[doc] = votes.get(doc, 0.0) + float(np.exp((similarity - best) / tau))
            if index not in seen:
                seen.add(index)
                out.append((index, similarity, question))
        if votes:
            total = sum(votes.values())
            for doc in votes:
                votes[doc] /= total
        return out

    @staticmethod
    def allowed_scopes(filters: Filters) -> list[str]:
        own = ["platform", *([filters.seller] if filters.seller else [])]
        if not filters.scopes:
            return own
        # For a seller's order, a scope filter narrows the allowed scopes; it never lets
        # another seller's passages in.
        return [s for s in filters.scopes if s in own] if filters.seller else list(filters.scopes)

    def mask(self, filters: Filters) -> npt.NDArray[np.bool_]:
        mask = np.ones(len(self.chunks), dtype=bool)
        mask &= np.isin(self.scope, self.allowed_scopes(filters))
        if filters.policy_types:
            mask &= np.isin(self.policy, filters.policy_types)
        if filters.locales:
            mask &= np.isin(self.locale, filters.locales)
        if filters.doc_ids:
            mask &= np.isin(self.doc, filters.doc_ids)
        return mask

    def where(self, filters: Filters) -> dict[str, Any]:
        clauses: list[dict[str, Any]] = [{"scope": {"$in": self.allowed_scopes(filters)}}]
        if filters.policy_types:
            clauses.append({"policy_type": {"$in": filters.policy_types}})
        if filters.locales:
            # A question in any language may stand for a passage in the wanted locales.
            clauses.append({"$or": [{"locale": {"$in": filters.locales}}, {"kind": "question"}]})
        if filters.doc_ids:
            clauses.append({"doc_id": {"$in": filters.doc_ids}})
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    def preferred_locale(self, doc_id: str, language: str | None) -> str:
        available = self.locales_of.get(doc_id, set())
        if language and language in available:
            return language
        if CANONICAL_LOCALE in available:
            return CANONICAL_LOCALE
        return sorted(available)[0] if available else CANONICAL_LOCALE

    def shown(self, index: int, language: str | None, mask: npt.NDArray[np.bool_] | None) -> int | None:
        """The passage to show for a hit: its translation in the preferred locale, within the
        filters; a hit in a locale the filters leave out (lexical matching in the buyer's own
        language) is shown in an allowed translation, or not at all."""
        chunk = self.chunks[index]
        allowed = mask is None or bool(mask[index])
        target = self.preferred_locale(chunk.doc_id, language)
        if chunk.locale != target:
            other = self.counterpart(chunk, target)
            if other is not None and (mask is None or mask[other]):
                return other
        if allowed:
            return index
        for locale in sorted(self.locales_of.get(chunk.doc_id, ())):
            other = self.counterpart(chunk, locale)
            if other is not None and mask is not None and mask[other]:
                return other
        return None

    def counterpart(self, chunk: Chunk, locale: str) -> int | None:
        for key in (
            (chunk.doc_id, locale, chunk.section, chunk.part),
            (chunk.doc_id, locale, chunk.section, -1),
            (chunk.doc_id, locale, -1, -1),
        ):
            if key in self.sections:
                return self.sections[key]
        return None


class KnowledgeBase:
    def __init__(
        self, store: ChromaStore, embedder: Embedder, *, max_query_tokens: int = 256, ranking: Ranking | None = None
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.max_query_tokens = max_query_tokens
        self.ranking = ranking or Ranking()
        self._build: _Build | None = None
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        self.problem: str | None = None

    # ---- the active build ----
    async def refresh(self, *, force: bool = False) -> _Build:
        """Follow the pointer; reload the catalog when another build became active."""
        now = time.monotonic()
        if self._build is not None and not force and now - self._checked_at < POINTER_CHECK_SECONDS:
            return self._build
        async with self._lock:
            if self._build is not None and not force and time.monotonic() - self._checked_at < POINTER_CHECK_SECONDS:
                return self._build
            pointer = await self.store.pointer()
            self._checked_at = time.monotonic()
            if pointer is None:
                self.problem = "the knowledge base is empty: run `replydesk kb ingest`"
                raise IndexMissing(self.problem)
            if pointer.get("embedder") != self.embedder.name:
                self.problem = (
                    f"the index was built with {pointer.get('embedder')!r} but the service embeds with "
                    f"{self.embedder.name!r}: re-run `replydesk kb ingest` (vectors are never mixed)"
                )
                raise IndexMismatch(self.problem)
            name = str(pointer["collection"])
            if self._build is None or self._build.name != name:
                records = await self.store.get_all(name)
                chunks = [
                    Chunk.from_record(i, d, m)
                    for i, d, m in zip(records["ids"], records["documents"], records["metadatas"], strict=False)
                ]
                self._build = await asyncio.to_thread(_Build, name, pointer, chunks)
            self.problem = None
            return self._build

    async def health(self) -> tuple[bool, str]:
        try:
            await self.store.heartbeat()
            build = await self.refresh()
        except (StoreUnavailable, IndexMissing, IndexMismatch) as exc:
            return False, str(exc)
        return True, f"{len(build.chunks)} chunks in {build.name} ({self.store.location})"

    async def close(self) -> None:
        await self.store.close()

    # ---- reading ----
    async def chunks(self) -> list[Chunk]:
        return list((await self.refresh()).chunks)

    async def policy_facts(self, seller: str | None) -> dict[str, dict[str, Any]]:
        """Facts of every platform document, and of ``seller``'s own documents, by document id."""
        build = await self.refresh()
        facts: dict[str, dict[str, Any]] = {}
        for chunk in build.chunks:
            if chunk.scope in ("platform", seller) and chunk.doc_id not in facts and chunk.facts:
                facts[chunk.doc_id] = {"scope": chunk.scope, **chunk.facts}
        return facts

    async def documents_for_intent(self, intent: str, seller: str | None) -> list[str]:
        """Documents whose front matter says they serve ``intent`` (platform, or this seller's)."""
        build = await self.refresh()
        scopes = {"platform", seller}
        docs = []
        for doc_id, intents in sorted(build.intents_of.items()):
            if intent in intents:
                index = build.sections.get((doc_id, build.preferred_locale(doc_id, None), -1, -1))
                if index is not None and build.chunks[index].scope in scopes:
                    docs.append(doc_id)
        return docs

    async def style_guide(self, language: str) -> str | None:
        """The reply style guide's section for ``language`` (sections are headed "... (xx) ...")."""
        build = await self.refresh()
        for chunk in build.chunks:
            if (
                chunk.policy_type == "style_guide"
                and chunk.locale == CANONICAL_LOCALE
                and f"({language})" in " ".join(chunk.heading_path[1:])
            ):
                return chunk.text
        return None

    async def best_in_documents(self, query: str, doc_ids: list[str], language: str | None) -> list[Hit]:
        """For each document, its passage (in the preferred locale) sharing most words with the
        query: no vector search, so a caller can top up a search result cheaply."""
        build = await self.refresh()
        hits: list[Hit] = []
        scores = build.lexical.scores(query)
        for doc_id in doc_ids:
            locale = build.preferred_locale(doc_id, language)
            rows = np.flatnonzero((build.doc == doc_id) & (build.locale == locale))
            if len(rows) == 0:
                continue
            best = int(rows[np.argmax(scores[rows])]) if scores[rows].max() > 0 else int(rows[0])
            hits.append(Hit(build.chunks[best], 0.0, lexical=round(float(scores[best]), 4)))
        return hits

    def query_vector(self, query: str) -> npt.NDArray[np.float32]:
        """The vector ``search`` would compute for ``query`` (for callers that need it too)."""
        from app.lib.tokens import truncate

        text, _ = truncate(query, self.max_query_tokens)
        vector: npt.NDArray[np.float32] = self.embedder.embed([text])[0]
        return vector

    # ---- search ----
    async def search(
        self,
        query: str,
        *,
        k: int = 5,
        language: str | None = None,
        filters: Filters | None = None,
        mode: Mode = "hybrid",
        candidates: int = 40,
        intent_prior: dict[str, float] | None = None,
        vector: npt.NDArray[np.float32] | None = None,
    ) -> SearchResult:
        from app.lib.tokens import truncate  # the tokenizer is configured by the app or CLI

        filters = filters or Filters()
        timings: dict[str, float] = {}
        started = time.perf_counter()
        build = await self.refresh()
        notes: list[str] = []
        text, truncated = truncate(query, self.max_query_tokens)
        if truncated:
            notes.append(f"query truncated to its first {self.max_query_tokens} tokens")
        mask = build.mask(filters)
        n_candidates = max(candidates, k + 10)

        dense: list[tuple[int, float, str | None]] = []
        votes: dict[str, float] = {}
        if mode in ("hybrid", "dense"):
            t0 = time.perf_counter()
            if vector is None:
                vector = self.embedder.embed([text])[0]
            timings["embed_ms"] = round((time.perf_counter() - t0) * 1000, 3)
            t0 = time.perf_counter()
            if mask.any():
                dense = await self._dense(build, vector, mask, filters, n_candidates, votes)
            timings["dense_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        lexical: list[tuple[int, float]] = []
        if mode in ("hybrid", "lexical"):
            t0 = time.perf_counter()
            lexical_mask: npt.NDArray[np.bool_] | None = mask
            if mode == "hybrid" and language in self.ranking.no_lexical_languages:
                lexical_mask = None
            elif mode == "hybrid" and language and language in build.locales:
                # The buyer's own language, even when a locale filter leaves it out: the match
                # is then shown in an allowed translation.
                lexical_mask = build.mask(replace(filters, locales=None)) & (build.locale == language)
            elif mode == "hybrid":
                lexical_mask = None  # no passages in this language: lexical matches would be accidents
            lexical = build.lexical.top(text, n_candidates, lexical_mask) if lexical_mask is not None else []
            if (
                self.ranking.question_lexical
                and language in build.question_languages
                and language not in self.ranking.no_lexical_languages
            ):
                lexical = self._with_questions(build, text, language, lexical, mask, n_candidates)
            timings["lexical_ms"] = round((time.perf_counter() - t0) * 1000, 3)

        t0 = time.perf_counter()
        hits = self._fuse(build, dense, lexical, language, filters.seller, intent_prior or {}, mask, votes)
        timings["fuse_ms"] = round((time.perf_counter() - t0) * 1000, 3)
        timings["total_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return SearchResult(hits[:k], truncated, notes, timings)

    @staticmethod
    def _with_questions(
        build: _Build,
        text: str,
        language: str | None,
        lexical: list[tuple[int, float]],
        mask: npt.NDArray[np.bool_],
        n: int,
    ) -> list[tuple[int, float]]:
        """Passage BM25 merged with BM25 over the buyer questions in the query's language, each
        scaled to its best hit; a passage keeps the better of the two."""
        best: dict[int, float] = {}
        top = max((s for _, s in lexical), default=0.0) or 1.0
        for index, score in lexical:
            best[index] = score / top
        found = build.question_lexical.top(text, 4 * n, build.question_language == language)
        top = max((s for _, s in found), default=0.0) or 1.0
        for index, score, _ in build.resolve([(build.question_ids[i], s / top) for i, s in found], mask):
            best[index] = max(best.get(index, 0.0), score)
        return sorted(best.items(), key=lambda kv: -kv[1])[:n]

    async def _dense(
        self,
        build: _Build,
        vector: npt.NDArray[np.float32],
        mask: npt.NDArray[np.bool_],
        filters: Filters,
        n: int,
        votes: dict[str, float],
    ) -> list[tuple[int, float, str | None]]:
        """Nearest allowed passages. Chroma's metadata filter costs several times the vector search
        itself, so when most of the index is allowed we over-fetch unfiltered and filter here;
        a narrow filter (few allowed chunks) goes to Chroma's filtered query instead. Questions
        share the index, so several records can stand for one passage: fetch more than ``n``."""
        allowed = int(mask.sum())
        n = min(n, allowed)
        fetch = n if not build.questions else 4 * n
        if allowed >= 0.5 * len(build.chunks):
            found = await self.store.query(build.name, vector, min(build.records, 2 * fetch + 20))
            hits = build.resolve(found, mask, votes, self.ranking.vote_tau)
            if len(hits) >= n:
                return hits[:n]
            votes.clear()
        found = await self.store.query(build.name, vector, min(build.records, fetch), build.where(filters))
        return build.resolve(found, mask, votes, self.ranking.vote_tau)[:n]

    def _fuse(
        self,
        build: _Build,
        dense: list[tuple[int, float, str | None]],
        lexical: list[tuple[int, float]],
        language: str | None,
        seller: str | None,
        intent_prior: dict[str, float],
        mask: npt.NDArray[np.bool_] | None = None,
        votes: dict[str, float] | None = None,
    ) -> list[Hit]:
        ranking = self.ranking
        hits: dict[int, Hit] = {}
        floor = min((s for _, s, _ in dense), default=0.0)
        for rank, (index, similarity, question) in enumerate(dense):
            hit = hits.setdefault(index, Hit(build.chunks[index], 0.0))
            hit.dense, hit.rank_dense, hit.question = round(similarity, 4), rank + 1, question
        top_lexical = max((s for _, s in lexical), default=0.0)
        for rank, (index, score) in enumerate(lexical):
            hit = hits.setdefault(index, Hit(build.chunks[index], 0.0))
            hit.lexical, hit.rank_lexical = round(score, 4), rank + 1
        for hit in hits.values():
            # A lexical-only candidate was not in the dense top list: it is at most as similar
            # as the weakest dense candidate.
            dense_part = hit.dense if hit.dense is not None else (floor if dense else 0.0)
            lexical_part = (hit.lexical or 0.0) / top_lexical if top_lexical else 0.0
            weight = 1.0 if dense else 0.0
            hit.score = weight * dense_part + (ranking.lexical_weight if dense else 1.0) * lexical_part
            if votes:
                hit.score += ranking.vote_weight * votes.get(hit.chunk.doc_id, 0.0)
            # The style guide lists every intent but answers none of them: no prior for it.
            if intent_prior and hit.chunk.policy_type != "style_guide":
                hit.score += ranking.intent_weight * sum(p for i, p in intent_prior.items() if i in hit.chunk.intents)

        # Show each document in the buyer's language when it exists, else in English.
        merged: dict[int, Hit] = {}
        for found, hit in hits.items():
            shown = build.shown(found, language, mask)
            if shown is None:
                continue
            index = shown
            if index != found:
                hit = Hit(
                    build.chunks[index],
                    hit.score,
                    hit.dense,
                    hit.lexical,
                    hit.rank_dense,
                    hit.rank_lexical,
                    hit.question,
                )
            if index in merged:
                # Two translations of one passage: keep the stronger score.
                kept = merged[index]
                if hit.score > kept.score:
                    kept.question = hit.question
                kept.score = max(kept.score, hit.score)
                kept.dense = max(filter(None, (kept.dense, hit.dense)), default=None)
                kept.lexical = max(filter(None, (kept.lexical, hit.lexical)), default=None)
            else:
                merged[index] = hit
        for hit in merged.values():
            if seller and hit.chunk.scope == seller:
                hit.score += ranking.seller_boost
        ordered = sorted(merged.values(), key=lambda h: (-h.score, h.chunk.id))
        for hit in ordered:
            hit.score = round(hit.score, 6)
        return ordered


async def open_knowledge_base(settings: Settings, embedder: Embedder | None) -> KnowledgeBase:
    """Open Chroma per the settings. A missing index is not an error here: `/ready` reports it."""
    if embedder is None:
        raise RuntimeError("no embedding model loaded")
    store = await ChromaStore.open(
        url=settings.chroma_url, path=str(settings.chroma_path), prefix=settings.chroma_collection
    )
    kb = KnowledgeBase(store, embedder_for(settings, embedder), max_query_tokens=settings.search_max_query_tokens)
    with contextlib.suppress(IndexMissing, IndexMismatch):
        await kb.refresh()
    return kb


def embedder_for(settings: Settings, bundled: Embedder) -> Embedder:
    """The retrieval embedder: the bundled one unless the settings name another."""
    from retrieval.embeddings import BUNDLED_NAME, embedder_from_spec

    if settings.embeddings in ("", "bundled", BUNDLED_NAME):
        return bundled
    return embedder_from_spec(settings.embeddings, base_url=settings.llm_base_url, api_key=settings.llm_api_key)
