"""The LLM generator: any OpenAI-compatible endpoint through the ``openai`` SDK.

The SDK does the timeouts, retries and ``Retry-After`` handling; this module builds the prompt
(personal data redacted, passages trimmed to the token budget), asks for JSON, validates it,
maps passage refs back to chunk ids and restores redacted values. Anything unexpected raises
``LLMFailure`` with a reason the drafter records when it falls back to templates.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, cast

import msgspec
import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from app.drafts.context import DraftContext, Generation, PassageRef, Sentence
from app.drafts.guardrails import Finding
from app.lib import tokens
from app.lib.pii import Redaction, redact
from app.lib.prompts import Prompt, load_prompt
from app.settings import Settings
from app.taxonomy import INTENT_DESCRIPTIONS, Intent

LANGUAGE_NAMES = {
    "en": "English",
    "de": "German",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "pl": "Polish",
    "ja": "Japanese",
    "zh": "Chinese (Simplified)",
    "ko": "Korean",
    "tr": "Turkish",
    "ru": "Russian",
    "ar": "Arabic",
}
STYLE = {
    "de": "Use the formal 'Sie'.",
    "fr": "Use 'vous'.",
    "es": "Use 'usted'.",
    "it": "Use the formal 'Lei'.",
    "nl": "Use 'u'.",
    "pl": "Use formal, gender-neutral 'Państwo' forms.",
    "ja": "Use polite keigo.",
    "pt": "Use a polite, neutral register.",
    "ko": "Use polite 합쇼체.",
    "ru": "Use 'Вы'.",
    "tr": "Use 'siz'.",
}

OnToken = Callable[[str], Awaitable[None]]
NAME_TOKEN = "[NAME_1]"  # noqa: S105 (a placeholder, not a secret)
_JSON_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f"}
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


def mask_name(text: str, name: str | None, mapping: dict[str, str] | None = None) -> str:
    """The customer's name as ``[NAME_1]`` (and a lone part of it as ``[NAME_2]``…), recorded in ``mapping``.

    The full name first, then each part a buyer may sign with alone ("Jonas", "Weber"): parts of
    three or more letters, matched case-sensitively as whole words (two or more characters for
    Chinese, Japanese and Korean names, which are written without spaces).
    """
    if not name or not text:
        return text
    placeholders = mapping if mapping is not None else {}
    by_value = {v: k for k, v in placeholders.items()}

    def token(value: str) -> str:
        if value not in by_value:
            taken = sum(1 for k in placeholders if k.startswith("[NAME_") and k != NAME_TOKEN)
            by_value[value] = NAME_TOKEN if value == name else f"[NAME_{taken + 2}]"
            placeholders[by_value[value]] = value
        return by_value[value]

    if name in text:
        text = text.replace(name, token(name))
    parts = {p for p in re.split(r"[\s,]+", name) if len(p) >= 3 or (len(p) >= 2 and _CJK.search(p))}
    for part in sorted(parts - {name}, key=len, reverse=True):
        if not re.fullmatch(r"[\w'-]+", part):
            continue
        pattern = re.escape(part) if _CJK.search(part) else rf"(?<![\w\[]){re.escape(part)}(?![\w\]])"
        if re.search(pattern, text):
            text = re.sub(pattern, token(part), text)  # a "[NAME_n]" holds no backslash or group
    return text


class _Restoring:
    """Streams tokens with redaction placeholders put back, holding back a placeholder split
    across chunks (``"[NA"`` … ``"ME_1]"``) until it is complete."""

    def __init__(self, redaction: Redaction, on_token: OnToken) -> None:
        self.redaction = redaction
        self.on_token = on_token
        self.pending = ""

    async def __call__(self, text: str) -> None:
        self.pending += text
        cut = self.pending.rfind("[")
        if cut != -1 and "]" not in self.pending[cut:] and len(self.pending) - cut <= 16:
            ready, self.pending = self.pending[:cut], self.pending[cut:]
        else:
            ready, self.pending = self.pending, ""
        if ready:
            await self.on_token(self.redaction.restore(ready))

    async def flush(self) -> None:
        if self.pending:
            ready, self.pending = self.pending, ""
            await self.on_token(self.redaction.restore(ready))


class LLMFailure(RuntimeError):
    """The LLM call failed or returned something unusable; the reason is shown in the draft."""


class _Sentence(msgspec.Struct):
    text: Annotated[str, msgspec.Meta(max_length=2000)]
    passage_ids: list[str] = msgspec.field(default_factory=list)


class _Reply(msgspec.Struct):
    sentences: Annotated[list[_Sentence], msgspec.Meta(min_length=1, max_length=40)]
    language: str = ""


_REPLY_SCHEMA = {
    "name": "draft_reply",
    "strict": True,
    "schema": {
        "type": "object",
        "additionalProperties": False,
        "required": ["language", "sentences"],
        "properties": {
            "language": {"type": "string"},
            "sentences": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["text", "passage_ids"],
                    "properties": {
                        "text": {"type": "string"},
                        "passage_ids": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
    },
}


class TextFieldStreamer:
    """Pulls the values of ``"text"`` fields out of a JSON document as it streams in."""

    def __init__(self) -> None:
        self.buffer = ""
        self.pos = 0
        self.in_text = False
        self.escape = False
        self.sentences = 0
        self.high_surrogate: int | None = None

    def feed(self, chunk: str) -> str:
        self.buffer += chunk
        out: list[str] = []
        while self.pos < len(self.buffer):
            if not self.in_text:
                match = re.compile(r'"text"\s*:\s*"').search(self.buffer, self.pos)
                if not match:
                    # Keep a tail that may hold the start of the next key.
                    self.pos = max(self.pos, len(self.buffer) - 12)
                    break
                self.pos = match.end()
                self.in_text = True
                if self.sentences:
                    out.append(" ")
                self.sentences += 1
                continue
            ch = self.buffer[self.pos]
            if self.escape:
                if ch == "u":
                    if self.pos + 4 >= len(self.buffer):
                        break
                    code = int(self.buffer[self.pos + 1 : self.pos + 5], 16)
                    # Characters outside the BMP (emoji) arrive as a \\uD83D\\uDE00 surrogate pair.
                    if 0xD800 <= code <= 0xDBFF:
                        self.high_surrogate = code
                    elif 0xDC00 <= code <= 0xDFFF and self.high_surrogate is not None:
                        out.append(chr(0x10000 + ((self.high_surrogate - 0xD800) << 10) + (code - 0xDC00)))
                        self.high_surrogate = None
                    else:
                        out.append(chr(code))
                    self.pos += 4
                else:
                    out.append(_JSON_ESCAPES.get(ch, ch))
                self.escape = False
            elif ch == "\\":
                self.escape = True
            elif ch == '"':
                self.in_text = False
            else:
                out.append(ch)
            self.pos += 1
        return "".join(out)


def _order_summary(ctx: DraftContext) -> str:
    order = ctx.ticket.order
    if order is None:
        return ""
    parts = [f"id {order.id}" if order.id else "", f"status {order.status.value}" if order.status else ""]
    if order.seller:
        parts.append(f"seller {order.seller.name or order.seller.id}")
    if order.items:
        parts.append("items: " + "; ".join(f"{i.quantity}× {i.name}" for i in order.items[:5]))
    if order.amount is not None:
        parts.append(f"total {order.amount:.2f} {order.currency}")
    if order.payment_method:
        parts.append(f"paid by {order.payment_method.value}")
    for name in ("placed_at", "shipped_at", "estimated_delivery", "delivered_at"):
        value = getattr(order, name)
        if value:
            parts.append(f"{name} {order.day(name)}")
    return ", ".join(p for p in parts if p)


def _fact_lines(ctx: DraftContext) -> list[str]:
    lines = []
    for key, fact in sorted(ctx.facts.facts.items()):
        if key in ("order_id", "item_name", "seller_name"):
            continue
        value = fact.value.isoformat() if hasattr(fact.value, "isoformat") else fact.value
        lines.append(
            f"{key} = {json.dumps(value, ensure_ascii=False, default=str)} ({fact.explanation}; source: {fact.source})"
        )
    return lines


def _body(sentences: list[Sentence]) -> str:
    """Sentences into paragraphs: a greeting line, the text, and closing lines."""
    paragraphs: list[list[str]] = [[]]
    for sentence in sentences:
        text = sentence.text.strip()
        if not text:
            continue
        paragraphs[-1].append(text)
        if text.endswith((",", ":", "\n")) or "\n" in text:
            paragraphs.append([])
    joined = [" ".join(p).strip() for p in paragraphs if p]
    return "\n\n".join(joined)


class LLMGenerator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.model = settings.llm_model
        self.client = AsyncOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key or "not-needed",
            timeout=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
        )
        self.prompt: Prompt = load_prompt("drafts", "reply")
        self.repair_prompt: Prompt = load_prompt("drafts", "repair")
        self.translate_prompt: Prompt = load_prompt("drafts", "translate")

    async def close(self) -> None:
        await self.client.close()

    # ---- prompt building ----
    def build(self, ctx: DraftContext) -> tuple[list[dict[str, Any]], Redaction, int, list[str]]:
        """Messages within the token budget, the redaction to undo, their token count, and notes."""
        name_token = NAME_TOKEN if ctx.customer_name else None
        redaction = redact(ctx.ticket.message)
        # The name never leaves, wherever the buyer wrote it: message, subject or earlier messages.
        names: dict[str, str] = {NAME_TOKEN: ctx.customer_name} if ctx.customer_name else {}
        redaction.text = mask_name(redaction.text, ctx.customer_name, names)
        name = ctx.customer_name
        subject = mask_name(redact(ctx.ticket.subject).text, name, names) if ctx.ticket.subject else None
        recent = [h.text for h in ctx.ticket.history[-5:] if h.text.strip()]
        history = [mask_name(redact(text).text, name, names)[:600] for text in recent]
        redaction.mapping.update(names)
        flags = ", ".join(f"{s.flag} ({s.evidence})" for s in ctx.triage.escalation.flags)
        intent = ctx.triage.intent.label
        description = INTENT_DESCRIPTIONS.get(Intent(intent), "") if intent in Intent._value2member_map_ else ""
        passages = list(ctx.passages)
        notes: list[str] = []
        values: dict[str, Any] = {
            "language": ctx.language,
            "language_name": LANGUAGE_NAMES.get(ctx.language, ctx.language),
            "style": STYLE.get(ctx.language, ""),
            "style_guide": ctx.style_guide,
            "customer_name": name_token,
            "instructions": "; ".join(ctx.instructions.raw),
            "intent": intent,
            "intent_description": description,
            "channel": ctx.ticket.channel.value,
            "order_summary": redact(_order_summary(ctx)).text,
            "escalation": mask_name(redact(flags).text, name, names),
            "today": ctx.facts.today.isoformat(),
            "facts": _fact_lines(ctx),
            "subject": subject,
            "message": redaction.text,
            "history": history,
        }

        def render(chosen: list[PassageRef]) -> tuple[list[dict[str, Any]], int]:
            messages = self.prompt.messages(**values, passages=chosen)
            return messages, sum(tokens.count(str(m.get("content", ""))) + 4 for m in messages)

        budget = self.settings.prompt_token_budget
        messages, count = render(passages)
        if count > budget and len(passages) > 1:
            # Drop the least relevant passages by their own token cost, then render once more
            # (rendering and counting the whole prompt per dropped passage is what this avoids).
            cost = {p.ref: tokens.count(f"{p.ref} {p.title} {p.heading} {p.text}") + 8 for p in passages}
            for dropped in sorted(passages, key=lambda p: p.score):
                if count <= budget or len(passages) <= 1:
                    break
                passages.remove(dropped)
                count -= cost[dropped.ref]
                notes.append(f"passage {dropped.ref} dropped to fit the {budget}-token budget")
            messages, count = render(passages)
            while count > budget and len(passages) > 1:  # the estimate was short: drop one more
                dropped = min(passages, key=lambda p: p.score)
                passages.remove(dropped)
                notes.append(f"passage {dropped.ref} dropped to fit the {budget}-token budget")
                messages, count = render(passages)
        if count > budget:
            notes.append(f"prompt has {count} tokens, over the {budget} budget even with one passage")
        return messages, redaction, count, notes

    # ---- calls ----
    async def _complete(self, messages: list[dict[str, Any]], *, on_token: OnToken | None = None) -> tuple[str, int]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": self.settings.llm_max_tokens,
            "temperature": self.settings.llm_temperature,
            "response_format": {"type": "json_schema", "json_schema": _REPLY_SCHEMA},
        }
        try:
            if on_token is None:
                response = await self.client.chat.completions.create(**kwargs)
                content = response.choices[0].message.content if response.choices else None
                usage = response.usage.completion_tokens if response.usage else 0
                if not content:
                    raise LLMFailure("the LLM returned an empty answer")
                return content, usage or tokens.count(content)
            stream = await self.client.chat.completions.create(**kwargs, stream=True)
            streamer = TextFieldStreamer()
            parts: list[str] = []
            async for chunk in stream:
                if not chunk.choices:
                    continue
                delta = chunk.choices[0].delta.content or ""
                if delta:
                    parts.append(delta)
                    visible = streamer.feed(delta)
                    if visible:
                        await on_token(visible)
            content = "".join(parts)
            if not content:
                raise LLMFailure("the LLM stream ended without content")
            return content, tokens.count(content)
        except LLMFailure:
            raise
        except openai.APITimeoutError as exc:
            raise LLMFailure(
                f"LLM timed out after {self.settings.llm_timeout_s:g} s ({self.settings.llm_max_retries} retries)"
            ) from exc
        except openai.RateLimitError as exc:
            raise LLMFailure(f"LLM rate-limited (429) after {self.settings.llm_max_retries} retries") from exc
        except openai.APIStatusError as exc:
            raise LLMFailure(f"LLM endpoint answered HTTP {exc.status_code}") from exc
        except openai.APIConnectionError as exc:
            raise LLMFailure("LLM endpoint unreachable") from exc
        except openai.OpenAIError as exc:
            raise LLMFailure(f"LLM call failed: {type(exc).__name__}") from exc

    def _parse(self, content: str, ctx: DraftContext, redaction: Redaction) -> tuple[list[Sentence], str]:
        text = content.strip()
        if text.startswith("```"):
            text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
        try:
            reply = msgspec.json.decode(text.encode(), type=_Reply)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise LLMFailure(f"the LLM returned malformed JSON: {str(exc)[:120]}") from exc
        by_ref = ctx.passage_by_ref()
        sentences = []
        for item in reply.sentences:
            # An unknown ref is kept as is: the citation check then flags it as invented.
            chunk_ids = [by_ref[ref].chunk_id if ref in by_ref else ref for ref in item.passage_ids]
            sentences.append(Sentence(redaction.restore(item.text), chunk_ids))
        return sentences, reply.language

    async def generate(self, ctx: DraftContext, *, on_token: OnToken | None = None) -> Generation:
        messages, redaction, prompt_tokens, notes = self.build(ctx)
        # The agent watching the stream sees the buyer's name, not "[NAME_1]".
        restoring = _Restoring(redaction, on_token) if on_token else None
        content, completion_tokens = await self._complete(messages, on_token=restoring)
        if restoring:
            await restoring.flush()
        sentences, _ = self._parse(content, ctx, redaction)
        return Generation(
            body=_body(sentences),
            sentences=sentences,
            language=ctx.language,
            generator=self.model,
            prompt_id=self.prompt.id,
            prompt_version=self.prompt.version,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            notes=notes,
        )

    async def repair(self, ctx: DraftContext, draft: Generation, findings: list[Finding]) -> Generation:
        by_chunk = {p.chunk_id: p.ref for p in ctx.passages}
        # One redaction over the whole draft, applied to every sentence and finding, so the same
        # value has the same placeholder everywhere (redacting sentence by sentence numbered each
        # from 1: "[EMAIL_1]" in two sentences meant two different addresses). The draft has the
        # buyer's name restored in it: it is masked again before it leaves.
        redaction = redact("\n".join(s.text for s in draft.sentences))
        if ctx.customer_name:
            redaction.mapping[NAME_TOKEN] = ctx.customer_name
        values = sorted(((v, k) for k, v in redaction.mapping.items()), key=lambda vk: -len(vk[0]))

        def scrub(text: str) -> str:
            for value, placeholder in values:
                text = text.replace(value, placeholder)
            return mask_name(text, ctx.customer_name, redaction.mapping)

        sentences_out = [
            {"text": scrub(s.text), "passage_ids": [by_chunk.get(c, c) for c in s.chunk_ids]} for s in draft.sentences
        ]
        as_json = json.dumps({"language": ctx.language, "sentences": sentences_out}, ensure_ascii=False)
        problems = [
            f"{f.check}: {f.message}" + (f" — in: {f.sentence}" if f.sentence else "")
            for f in findings
            if f.severity == "error"
        ]
        messages = self.repair_prompt.messages(
            facts=_fact_lines(ctx),
            passage_ids=[p.ref for p in ctx.passages],
            language=ctx.language,
            findings=[scrub(p) for p in problems],
            draft=as_json,
        )
        prompt_tokens = sum(tokens.count(str(m.get("content", ""))) for m in messages)
        content, completion_tokens = await self._complete(messages)
        # Placeholders the repair kept are restored from the original message's redaction too.
        original = redact(ctx.ticket.message)
        mask_name(original.text, ctx.customer_name, original.mapping)
        original.mapping.update(redaction.mapping)
        sentences, _ = self._parse(content, ctx, original)
        return Generation(
            body=_body(sentences),
            sentences=sentences,
            language=ctx.language,
            generator=self.model,
            prompt_id=self.repair_prompt.id,
            prompt_version=f"{draft.prompt_version}+repair{self.repair_prompt.version}",
            prompt_tokens=draft.prompt_tokens + prompt_tokens,
            completion_tokens=draft.completion_tokens + completion_tokens,
            notes=[*draft.notes, "repaired once after the checks"],
        )

    async def translate(self, body: str, source: str, target: str, *, customer_name: str | None = None) -> str:
        """``body`` in ``target``. Pass ``customer_name`` so the greeting's name is masked too."""
        redaction = redact(body)
        redaction.text = mask_name(redaction.text, customer_name, redaction.mapping)
        messages = self.translate_prompt.messages(
            body=redaction.text,
            source_language=source,
            target_language=target,
            target_language_name=LANGUAGE_NAMES.get(target, target),
        )
        try:
            response = await self.client.chat.completions.create(
                model=self.model,
                messages=cast("list[ChatCompletionMessageParam]", messages),
                max_tokens=self.settings.llm_max_tokens,
                temperature=0.0,
            )
        except openai.OpenAIError as exc:
            raise LLMFailure(f"translation failed: {type(exc).__name__}") from exc
        content = response.choices[0].message.content if response.choices else None
        if not content or not content.strip():
            raise LLMFailure("translation came back empty")
        return redaction.restore(content.strip())
