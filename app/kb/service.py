"""The knowledge-base search the API and the CLI share.

A search box sends text and maybe a language; the ranking also wants the buyer's language (for
lexical matching and the locale of the passages shown) and the triage model's intent prior.
Both come from the triage model when it is loaded, with one embedding for the prior and the
vector search when both use the same model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from retrieval.search import Filters, Mode, SearchResult

if TYPE_CHECKING:
    from app.services import Services

MAX_PRIOR_CHARS = 2000


async def search(
    services: Services,
    query: str,
    *,
    k: int = 5,
    language: str | None = None,
    filters: Filters | None = None,
    mode: Mode = "hybrid",
) -> tuple[SearchResult, str | None]:
    """The ranked passages, and the language the search assumed (given, detected or None)."""
    kb = services.require_kb()
    prior: dict[str, float] = {}
    vector = None
    triager = services.triager
    if triager is not None:
        if language is None:
            guess = triager.languages.identify(query)
            language = guess.code if guess.code != "und" else None
        if mode == "hybrid":
            # REPLYDESK_EMBEDDINGS may give retrieval a model of its own: then two embeddings.
            vector = kb.query_vector(query) if kb.embedder is triager.embedder else None
            prior = triager.intent_prior(query[:MAX_PRIOR_CHARS], vector=vector)
    result = await kb.search(
        query, k=k, language=language, filters=filters, mode=mode, intent_prior=prior, vector=vector
    )
    return result, language
