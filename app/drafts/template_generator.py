"""The deterministic, grounded generator: plans + localized phrase books + key passage sentences.

Used when no LLM is configured, and as the fallback whenever the LLM fails. Every sentence that
states a policy fact cites the retrieved passage of the document the fact comes from.
"""

from __future__ import annotations

import re

from app.drafts.context import DraftContext, Generation, PassageRef, Sentence
from app.drafts.plans import SELF_APOLOGISING, SORRY_INTENTS, PlanContext, plan_for
from app.drafts.templates import MissingValue, PhraseBook, available_locales, load_phrasebook
from app.lib import tokens
from app.taxonomy import Intent, Sentiment
from retrieval.lexical import tokenize

PROMPT_ID = "reply-templates"
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")
# Locales written without spaces between sentences.
_NO_SPACE = {"ja", "zh"}
# Informal locales greet by first name; the others use the full name (see the style guide).
_FIRST_NAME_LOCALES = {"en", "nl", "pt"}
_NEGATIVE = {Sentiment.NEGATIVE.value, Sentiment.VERY_NEGATIVE.value}


def template_locale(language: str, customer_locale: str | None) -> str:
    locales = available_locales()
    if language in locales:
        return language
    fallback = (customer_locale or "").split("-")[0].split("_")[0].lower()
    return fallback if fallback in locales else "en"


_META = re.compile(
    r"^(?:this (?:article|page|section)|in this (?:article|page)|dieser artikel|dieser abschnitt|cet article|este artículo|questo articolo)",
    re.IGNORECASE,
)


def key_sentence(passage: PassageRef, query: str, min_shared: int = 2) -> tuple[str, float] | None:
    """The passage sentence sharing most words with ``query`` (40–300 characters) and its score,
    if it shares at least ``min_shared`` of them; sentences about the article itself are skipped."""
    wanted = set(tokenize(query))
    best, best_score = None, 0.0
    for sentence in _SENTENCE_END.split(passage.text.replace("\n", " ")):
        sentence = sentence.strip()
        if not 40 <= len(sentence) <= 300 or sentence.startswith(("#", "-", "*", "|")) or _META.match(sentence):
            continue
        words = set(tokenize(sentence))
        if len(words & wanted) < min_shared:
            continue
        score = len(words & wanted) / (len(words) ** 0.5)
        if score > best_score:
            best, best_score = sentence, score
    return (best, best_score) if best is not None else None


class TemplateGenerator:
    name = "template"

    def generate(self, ctx: DraftContext) -> Generation:
        customer_locale = ctx.ticket.customer.locale if ctx.ticket.customer else None
        locale = template_locale(ctx.language, customer_locale)
        book = load_phrasebook(locale)
        notes: list[str] = []
        if locale != ctx.language:
            notes.append(f"no reply templates for '{ctx.language}': drafted in '{locale}'")
        values = self._values(ctx, book)
        intent = ctx.triage.intent.label
        flags = [s.flag for s in ctx.triage.escalation.flags]
        inst = ctx.instructions
        sentences: list[Sentence] = []

        def say(
            key: str, fact_keys: tuple[str, ...] = (), section: str = "phrases", extra: dict[str, object] | None = None
        ) -> bool:
            template = book.text(section, key)
            try:
                text = book.render(template, {**values, **(extra or {})})
            except MissingValue:
                return False
            sentences.append(Sentence(text, self._cite(ctx, fact_keys)))
            return True

        # Opening
        if intent == Intent.FEEDBACK_PRAISE:
            say("praise", section="opening")
        elif "repeat_contact" in flags:
            say("sorry_repeat", section="opening")
        elif not inst.shorter or inst.apologise:
            apologetic = inst.apologise or (
                (intent in SORRY_INTENTS or ctx.triage.sentiment.label in _NEGATIVE) and intent not in SELF_APOLOGISING
            )
            first = "sorry" if apologetic else "thanks"
            if not say(f"{first}_order", section="opening"):
                say(first, section="opening")

        # The plan
        plan = plan_for(PlanContext(intent, ctx.facts, flags, ctx.account_takeover))
        asked_for_order = any("need_order" in step.keys for step in plan)
        for step in plan:
            if step.optional and inst.shorter:
                continue
            if not any(say(key, step.facts) for key in step.keys) and not step.optional:
                notes.append(f"step {'/'.join(step.keys)} skipped: the order lacks the details it needs")
                # Ask for the order number (once) only when we really do not have it.
                if not asked_for_order and not ctx.facts.has("order_id"):
                    asked_for_order = say("need_order")

        responsible = ctx.triage.responsible_party.party
        if (
            responsible == "seller"
            and intent in (Intent.DAMAGED_ITEM, Intent.WRONG_ITEM, Intent.MISSING_ITEM, Intent.WARRANTY_CLAIM)
            and not inst.shorter
        ):
            say("seller_responsible", ("responsible_party",))
        if inst.offer_replacement and not say("offer_replacement"):
            notes.append("instruction 'offer a replacement' not applied: the order names no seller")

        # One key sentence from the best passage in the reply's language, quoted and cited.
        if not inst.shorter:
            # Only passages of documents that serve this intent: a quote must be on topic.
            on_topic = {p.doc_id for p in ctx.passages if intent in p.intents}
            # The quote should back what the reply says: match the buyer's words and ours.
            said = " ".join(s.text for s in sentences)
            quotes = [
                (found, passage)
                for passage in ctx.passages[:4]
                if passage.locale == locale and passage.doc_id in on_topic
                if (found := key_sentence(passage, f"{ctx.ticket.message} {said}")) and found[0] not in said
            ]
            if quotes:
                (sentence, _), passage = max(quotes, key=lambda q: q[0][1])
                text = book.render(book.phrase("policy_quote"), {"document_title": passage.title, "sentence": sentence})
                sentences.append(Sentence(text, [passage.chunk_id]))

        for item in inst.unknown:
            notes.append(f"instruction not applied by the template generator: {item!r}")

        greeting = self._greeting(ctx, book, locale, formal=inst.formal)
        closing = book.render(book.text("closing", "short" if inst.shorter else "default"), values)
        signoff = str(book.data["signoff"])
        joiner = "" if locale in _NO_SPACE else " "
        paragraph = joiner.join(s.text for s in sentences)
        body = f"{greeting}\n\n{paragraph}\n\n{closing}\n\n{signoff}"
        all_sentences = [Sentence(greeting), *sentences, Sentence(closing), Sentence(signoff)]
        return Generation(
            body=body,
            sentences=all_sentences,
            language=locale,
            generator=self.name,
            prompt_id=f"{PROMPT_ID}/{locale}",
            prompt_version=book.version,
            prompt_tokens=0,
            completion_tokens=tokens.count(body),
            notes=notes,
        )

    @staticmethod
    def _values(ctx: DraftContext, book: PhraseBook) -> dict[str, object]:
        values: dict[str, object] = {key: fact.value for key, fact in ctx.facts.facts.items()}
        name = ctx.customer_name
        if name:
            values["full_name"] = name
            values["first_name"] = name.split()[0]
        if "payment_method" in values:
            values["payment_method_name"] = values["payment_method"]
        return values

    @staticmethod
    def _greeting(ctx: DraftContext, book: PhraseBook, locale: str, *, formal: bool) -> str:
        name = ctx.customer_name
        if name:
            key = "formal_named" if formal else "named"
            values = {"full_name": name, "first_name": name.split()[0] if locale in _FIRST_NAME_LOCALES else name}
            return book.render(book.text("greeting", key), values)
        return book.text("greeting", "formal_anonymous" if formal else "anonymous")

    @staticmethod
    def _cite(ctx: DraftContext, fact_keys: tuple[str, ...]) -> list[str]:
        """Chunk ids of the retrieved passages of the documents these facts come from."""
        docs = ctx.facts.sources(list(fact_keys))
        cited: list[str] = []
        for doc in docs:
            candidates = [p for p in ctx.passages if p.doc_id == doc]
            if candidates:
                # Prefer the passage in the reply's language, then the best-scoring one.
                best = sorted(candidates, key=lambda p: (p.locale != ctx.language, -p.score))[0]
                cited.append(best.chunk_id)
        return cited


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]
