"""Knowledge-base search API types."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from app.schemas import Strict
from app.taxonomy import PolicyType

MAX_QUERY_CHARS = 20_000  # longer is rejected; above ~2,000 characters queries are truncated by tokens


class SearchFilters(Strict):
    policy_type: list[PolicyType] | None = None
    scope: list[Annotated[str, msgspec.Meta(max_length=120)]] | None = None
    locale: list[Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")]] | None = None
    seller: Annotated[str, msgspec.Meta(max_length=120)] | None = None


class SearchIn(Strict):
    query: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_QUERY_CHARS)]
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}$")] | None = None
    filters: SearchFilters | None = None
    k: Annotated[int, msgspec.Meta(ge=1, le=50)] = 5
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"

    def __post_init__(self) -> None:
        if not self.query.strip():
            raise ValueError("query must contain text (it is empty or only whitespace)")


class Passage(msgspec.Struct, kw_only=True):
    chunk_id: str
    document_id: str
    title: str
    heading_path: list[str]
    locale: str
    text: str
    score: float
    anchor: str
    policy_type: str
    scope: str
    version: int
    dense_similarity: float | None = None
    lexical_score: float | None = None
    matched_question: str | None = None  # the KB's buyer question that brought this passage up


class SearchOut(msgspec.Struct, kw_only=True):
    hits: list[Passage]
    language: str | None
    truncated: bool
    notes: list[str]
    timings_ms: dict[str, float]


class DocumentInfo(msgspec.Struct, kw_only=True):
    id: str
    locale: str
    title: str
    policy_type: str
    scope: str
    version: int
    effective_from: str
    chunks: int
    source: str
    questions: int = 0  # buyer questions (any language) pointing at this document


class DocumentsOut(msgspec.Struct, kw_only=True):
    build: str
    embedder: str
    built_at: str | None
    documents: list[DocumentInfo]
    questions: int = 0
