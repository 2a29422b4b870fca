"""Drafting: triage if needed, retrieve passages, compute facts, generate, check, fall back.

    ticket ─► triage ─► facts ─► retrieval ─► generator (LLM | template) ─► guardrails
                                                  │ errors: one repair, then template fallback
                                                  ▼
                                               outcome (stored by app/tickets)

The LLM is treated as untrusted and unreliable: any failure, timeout or finding it cannot
repair ends in the deterministic template draft, with the reason recorded on the draft.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.drafts.context import DraftContext, Generation, Instructions, PassageRef
from app.drafts.facts import compute_facts
from app.drafts.guardrails import Finding, Guardrails, Limits
from app.drafts.llm_generator import LLMFailure, LLMGenerator, OnToken
from app.drafts.plans import PlanContext, plan_for
from app.drafts.schemas import DraftIn, Translation
from app.drafts.template_generator import TemplateGenerator
from app.lib.errors import Unprocessable
from app.settings import Settings
from app.taxonomy import TEMPLATE_LOCALES, UNDETERMINED_LANGUAGE
from app.triage.schemas import TriageResult
from app.triage.service import ACCOUNT_TAKEOVER, Triager
from app.triage.text import classifier_text
from retrieval.search import Filters, Hit, KnowledgeBase

OnStage = Callable[[str, dict[str, object]], Awaitable[None]]


@dataclass(slots=True)
class DraftOutcome:
    ctx: DraftContext
    generation: Generation
    findings: list[Finding]
    fallback_reason: str | None
    latency_ms: dict[str, float]
    cost_usd: float
    translation: Translation | None = None
    notes: list[str] = field(default_factory=list)


def reply_language(triage: TriageResult, req: DraftIn) -> str:
    code = triage.language.code
    if code and code != UNDETERMINED_LANGUAGE:
        return code
    locale = (req.customer.locale if req.customer else None) or req.language_hint or "en"
    return locale.split("-")[0].split("_")[0].lower()


class Drafter:
    def __init__(self, settings: Settings, triager: Triager, kb: KnowledgeBase) -> None:
        self.settings = settings
        self.triager = triager
        self.kb = kb
        self.template = TemplateGenerator()
        self.llm = LLMGenerator(settings) if settings.llm_enabled else None
        self.guardrails = Guardrails(triager.languages, Limits(max_chars=settings.draft_max_chars))

    def llm_status(self) -> str:
        return (
            f"{self.settings.llm_model} at {self.settings.llm_base_url}"
            if self.llm
            else "not configured: template drafts"
        )

    async def close(self) -> None:
        if self.llm is not None:
            await self.llm.close()

    # ---- context ----
    async def prepare(self, req: DraftIn, latency: dict[str, float]) -> DraftContext:
        started = time.perf_counter()
        triage = req.triage or self.triager.triage(req)
        latency["triage_ms"] = round((time.perf_counter() - started) * 1000, 3)
        language = reply_language(triage, req)

        started = time.perf_counter()
        seller = req.order.seller.id if req.order and req.order.seller else None
        received = req.received_at or datetime.now(UTC)
        if received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        documents = await self.kb.policy_facts(seller)
        facts = compute_facts(
            intent=triage.intent.label,
            order=req.order,
            received_at=received,
            documents=documents,
            responsible_party=triage.responsible_party.party,
        )
        flags = [s.flag for s in triage.escalation.flags]
        takeover = bool(ACCOUNT_TAKEOVER.search(req.message))
        plan = plan_for(PlanContext(triage.intent.label, facts, flags, takeover))
        fact_docs = facts.sources([k for step in plan for k in step.facts])
        latency["facts_ms"] = round((time.perf_counter() - started) * 1000, 3)

        started = time.perf_counter()
        query = classifier_text(req.message, req.subject)[:1500]
        prior = {
            triage.intent.label: triage.intent.confidence,
            **{a.label: a.confidence for a in triage.intent.alternatives},
        }
        # One vector search with room to spare; the intent's and the facts' documents are then
        # taken from its candidates, or topped up from the catalogue without another search.
        result = await self.kb.search(
            query,
            k=max(20, self.settings.draft_passages),
            language=language,
            filters=Filters(seller=seller),
            intent_prior=prior,
        )
        intent_docs = await self.kb.documents_for_intent(triage.intent.label, seller)
        wanted = list(dict.fromkeys([*fact_docs, *intent_docs[:3]]))
        extra = [
            next(h for h in result.hits if h.chunk.doc_id == doc)
            for doc in wanted
            if any(h.chunk.doc_id == doc for h in result.hits)
        ]
        missing = [doc for doc in wanted if not any(h.chunk.doc_id == doc for h in result.hits)]
        if missing:
            extra += await self.kb.best_in_documents(query, missing, language)
        latency["retrieval_ms"] = round((time.perf_counter() - started) * 1000, 3)
        policy_hits = [h for h in result.hits if h.chunk.policy_type != "style_guide"]
        passages = self._passages(policy_hits[: self.settings.draft_passages], extra)
        return DraftContext(
            ticket=req,
            triage=triage,
            language=language,
            passages=passages,
            facts=facts,
            instructions=Instructions.parse(req.instructions),
            account_takeover=takeover,
            style_guide=await self.kb.style_guide(language) if self.llm is not None else None,
        )

    def _passages(self, main: list[Hit], extra: list[Hit]) -> list[PassageRef]:
        """Main hits first, then the intent's and the facts' documents; no duplicates."""
        chosen: list[Hit] = []
        seen: set[str] = set()
        cap = self.settings.draft_passages + 3
        for hit in [*main, *sorted(extra, key=lambda h: -h.score)]:
            if hit.chunk.id in seen or hit.chunk.policy_type == "style_guide":
                continue
            seen.add(hit.chunk.id)
            chosen.append(hit)
            if len(chosen) >= cap:
                break
        return [
            PassageRef(
                ref=f"P{i}",
                chunk_id=h.chunk.id,
                doc_id=h.chunk.doc_id,
                anchor=h.chunk.anchor,
                title=h.chunk.title,
                heading=" › ".join(h.chunk.heading_path[1:]) or h.chunk.title,
                locale=h.chunk.locale,
                text=h.chunk.text,
                score=h.score,
                policy_type=h.chunk.policy_type,
                scope=h.chunk.scope,
                version=h.chunk.version,
                intents=tuple(h.chunk.intents),
            )
            for i, h in enumerate(chosen, start=1)
        ]

    # ---- drafting ----
    async def draft(
        self, req: DraftIn, *, on_token: OnToken | None = None, on_stage: OnStage | None = None
    ) -> DraftOutcome:
        total_started = time.perf_counter()
        latency: dict[str, float] = {}
        ctx = await self.prepare(req, latency)
        if on_stage:
            await on_stage(
                "context",
                {
                    "language": ctx.language,
                    "intent": ctx.triage.intent.label,
                    "passages": [p.chunk_id for p in ctx.passages],
                },
            )
        use_llm = req.generator == "llm" or (req.generator == "auto" and self.llm is not None)
        if req.generator == "llm" and self.llm is None:
            raise Unprocessable("generator 'llm' was requested but no LLM is configured (REPLYDESK_LLM_BASE_URL)")

        fallback_reason: str | None = None
        notes: list[str] = []
        started = time.perf_counter()
        generation: Generation | None = None
        findings: list[Finding] = []
        if use_llm and self.llm is not None:
            first_token: list[float] = []

            async def forward(text: str) -> None:
                if not first_token:
                    first_token.append(time.perf_counter())
                if on_token:
                    await on_token(text)

            try:
                generation = await self.llm.generate(ctx, on_token=forward if on_token else None)
                if first_token:
                    latency["first_token_ms"] = round((first_token[0] - total_started) * 1000, 3)
                checks_started = time.perf_counter()
                findings = self.guardrails.check(ctx, generation)
                latency["checks_ms"] = round((time.perf_counter() - checks_started) * 1000, 3)
                if self.guardrails.has_errors(findings):
                    notes.append(
                        "first LLM draft failed the checks: "
                        + "; ".join(f.message for f in findings if f.severity == "error")[:400]
                    )
                    generation = await self.llm.repair(ctx, generation, findings)
                    findings = self.guardrails.check(ctx, generation)
                    if self.guardrails.has_errors(findings):
                        fallback_reason = (
                            "LLM draft failed the checks after one repair: "
                            + "; ".join(f.message for f in findings if f.severity == "error")[:500]
                        )
                        generation = None
            except LLMFailure as exc:
                fallback_reason = str(exc)
                generation = None
            # llm_ms covers the calls and the repair; checks_ms (first check) is reported apart.
            latency["llm_ms"] = round((time.perf_counter() - started) * 1000 - latency.get("checks_ms", 0.0), 3)
            if generation is None and on_stage:
                await on_stage("fallback", {"reason": fallback_reason})

        if generation is None:
            started = time.perf_counter()
            generation = self.template.generate(ctx)
            if fallback_reason:
                generation.generator = f"template (fallback from {self.settings.llm_model})"
            latency["template_ms"] = round((time.perf_counter() - started) * 1000, 3)
            started = time.perf_counter()
            findings = self.guardrails.check(ctx, generation)
            latency["checks_ms"] = round((time.perf_counter() - started) * 1000, 3)
            if on_token and (not use_llm or fallback_reason):
                # Stream the template draft too, so a streaming client sees the same events.
                for piece in generation.body.split(" "):
                    await on_token(piece + " ")

        translation = await self._translation(req, ctx, generation, notes) if req.translate_for_agent else None
        cost = (
            (
                generation.prompt_tokens * self.settings.llm_input_cost_per_mtok
                + generation.completion_tokens * self.settings.llm_output_cost_per_mtok
            )
            / 1_000_000
            if generation.generator == self.settings.llm_model
            else 0.0
        )
        latency["total_ms"] = round((time.perf_counter() - total_started) * 1000, 3)
        return DraftOutcome(
            ctx=ctx,
            generation=generation,
            findings=findings,
            fallback_reason=fallback_reason,
            latency_ms=latency,
            cost_usd=round(cost, 6),
            translation=translation,
            notes=[*generation.notes, *notes],
        )

    async def _translation(
        self, req: DraftIn, ctx: DraftContext, generation: Generation, notes: list[str]
    ) -> Translation | None:
        target = req.agent_language or self.settings.agent_language
        if target == generation.language:
            return Translation(language=target, body=generation.body, generator="identity")
        if self.llm is not None and generation.generator == self.settings.llm_model:
            try:
                body = await self.llm.translate(
                    generation.body, generation.language, target, customer_name=ctx.customer_name
                )
                return Translation(language=target, body=body, generator=self.settings.llm_model)
            except LLMFailure as exc:
                notes.append(f"LLM translation failed ({exc}); showing the template draft in {target} instead")
        if target not in TEMPLATE_LOCALES:
            notes.append(f"no templates for agent language '{target}': no translation")
            return None
        # The template plan is language-independent: rendering it in the agent's language is an
        # exact translation of a template draft (and the nearest equivalent of an LLM draft).
        agent_ctx = DraftContext(
            ticket=ctx.ticket,
            triage=ctx.triage,
            language=target,
            passages=ctx.passages,
            facts=ctx.facts,
            instructions=ctx.instructions,
            account_takeover=ctx.account_takeover,
        )
        rendered = self.template.generate(agent_ctx)
        label = "template" if generation.generator == "template" else "template (equivalent, not a translation)"
        return Translation(language=target, body=rendered.body, generator=label)
