"""`POST /v1/kb/search` and `GET /v1/kb/documents`: thin HTTP over retrieval.KnowledgeBase."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody

from app.auth.guards import requires
from app.kb import service as kb_service
from app.kb.schemas import DocumentInfo, DocumentsOut, Passage, SearchFilters, SearchIn, SearchOut
from app.lib.errors import ErrorDetail, ServiceUnavailable, Unprocessable
from app.services import Services
from retrieval.search import Filters, Hit, IndexMismatch, IndexMissing
from retrieval.store import StoreUnavailable


def unknown_filter_values(f: SearchFilters, locales: set[str], scopes: set[str]) -> list[ErrorDetail]:
    """Locale and scope filters are free strings: a value the index does not hold is a client
    error (a typo would otherwise just return nothing)."""
    details: list[ErrorDetail] = []
    checks = (("filters.locale", f.locale, locales), ("filters.scope", f.scope, scopes))
    for name, given, known in checks:
        unknown = sorted(set(given or []) - known)
        if unknown:
            problem = f"unknown value(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
            details.append(ErrorDetail(field=name, problem=problem))
    return details


def passage(hit: Hit) -> Passage:
    c = hit.chunk
    return Passage(
        chunk_id=c.id,
        document_id=c.doc_id,
        title=c.title,
        heading_path=c.heading_path,
        locale=c.locale,
        text=c.text,
        score=hit.score,
        anchor=c.anchor,
        policy_type=c.policy_type,
        scope=c.scope,
        version=c.version,
        dense_similarity=hit.dense,
        lexical_score=hit.lexical,
        matched_question=hit.question,
    )


class KnowledgeBaseController(Controller):
    path = "/v1/kb"
    tags = ["knowledge base"]

    @post(
        "/search", status_code=200, guards=[requires("drafts:read", "kb:admin")], summary="Hybrid multilingual search."
    )
    async def search(self, data: JSONBody[SearchIn], services: NamedDependency[Services]) -> SearchOut:
        kb = services.require_kb()
        f = data.filters or None
        filters = Filters(
            policy_types=[p.value for p in f.policy_type] if f and f.policy_type else None,
            scopes=list(f.scope) if f and f.scope else None,
            locales=list(f.locale) if f and f.locale else None,
            seller=f.seller if f else None,
        )
        try:
            if f and (f.locale or f.scope):
                build = await kb.refresh()
                details = unknown_filter_values(f, build.locales, set(build.scope.tolist()))
                if details:
                    message = "; ".join(f"{d.field}: {d.problem}" for d in details)
                    raise Unprocessable(message, details=details)
            result, language = await kb_service.search(
                services, data.query, k=data.k, language=data.language, filters=filters, mode=data.mode
            )
        except (StoreUnavailable, IndexMissing, IndexMismatch) as exc:
            raise ServiceUnavailable(f"knowledge base unavailable: {exc}") from exc
        return SearchOut(
            hits=[passage(h) for h in result.hits],
            language=language,
            truncated=result.truncated,
            notes=result.notes,
            timings_ms=result.timings_ms,
        )

    @get("/documents", guards=[requires("drafts:read", "kb:admin")], summary="What is indexed, with versions.")
    async def documents(self, services: NamedDependency[Services]) -> DocumentsOut:
        kb = services.require_kb()
        try:
            build = await kb.refresh()
        except (StoreUnavailable, IndexMissing, IndexMismatch) as exc:
            raise ServiceUnavailable(f"knowledge base unavailable: {exc}") from exc
        docs: dict[str, DocumentInfo] = {}
        for chunk in build.chunks:
            key = f"{chunk.doc_id}@{chunk.locale}"
            if key in docs:
                docs[key].chunks += 1
            else:
                docs[key] = DocumentInfo(
                    id=chunk.doc_id,
                    locale=chunk.locale,
                    title=chunk.title,
                    policy_type=chunk.policy_type,
                    scope=chunk.scope,
                    version=chunk.version,
                    effective_from=chunk.effective_from,
                    chunks=1,
                    source=chunk.source,
                    questions=build.questions_per_doc.get(chunk.doc_id, 0),
                )
        return DocumentsOut(
            build=build.name,
            embedder=str(build.pointer.get("embedder")),
            built_at=build.pointer.get("built_at"),
            documents=sorted(docs.values(), key=lambda d: (d.id, d.locale)),
            questions=len(build.questions),
        )
