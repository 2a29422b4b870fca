"""Splitting documents into retrievable chunks: by headings first, then by tokens.

Each chunk keeps its heading path, its section number (the n-th ``##`` section, 0 for the
introduction; translations of a document share section numbers) and a stable id built from the
document, locale and heading, so a citation anchor survives re-ingests of unchanged text.

A document's buyer questions (``kb_sources/questions/``) become chunks of kind ``question``:
the question alone is embedded, and a search hit on it stands for the section it points at.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from langchain_text_splitters import MarkdownHeaderTextSplitter, RecursiveCharacterTextSplitter

from retrieval.sources import Document, FileProblem, QuestionBank

CANONICAL_LOCALE = "en"  # every document exists in English; translations are optional
_HEADERS = [("#", "h1"), ("##", "h2"), ("###", "h3")]


@dataclass(slots=True)
class Chunk:
    id: str
    doc_id: str
    locale: str
    title: str
    heading_path: list[str]
    section: int
    part: int
    text: str
    policy_type: str
    scope: str
    version: int
    effective_from: str
    intents: list[str]
    facts: dict[str, Any]
    source: str
    doc_hash: str
    kind: str = "passage"  # or "question": a retrieval key for a section, never shown

    @property
    def is_question(self) -> bool:
        return self.kind == "question"

    @property
    def anchor(self) -> str:
        """Stable citation anchor: ``<doc id>@<locale>#<heading slug>``."""
        return self.id.rsplit("~", 1)[0]

    @property
    def index_text(self) -> str:
        """What is embedded and lexically indexed: the text with its title and headings (a question
        alone: it is matched against buyers' messages, which carry no titles)."""
        if self.is_question:
            return self.text
        heading = " › ".join(h for h in self.heading_path if h != self.title)
        return f"{self.title}. {heading + '. ' if heading else ''}{self.text}"

    @property
    def content_hash(self) -> str:
        return hashlib.sha256(
            json.dumps([self.index_text, self.metadata()], sort_keys=True, ensure_ascii=False).encode()
        ).hexdigest()

    def metadata(self) -> dict[str, str | int | float | bool]:
        """Chroma metadata (scalars only; lists and mappings as JSON strings)."""
        return {
            "doc_id": self.doc_id,
            "locale": self.locale,
            "title": self.title,
            "heading_path": json.dumps(self.heading_path, ensure_ascii=False),
            "section": self.section,
            "part": self.part,
            "policy_type": self.policy_type,
            "scope": self.scope,
            "version": self.version,
            "effective_from": self.effective_from,
            "intents": ",".join(self.intents),
            "facts": json.dumps(self.facts, ensure_ascii=False, sort_keys=True, default=str),
            "source": self.source,
            "doc_hash": self.doc_hash,
            "kind": self.kind,
        }

    @classmethod
    def from_record(cls, chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
        return cls(
            id=chunk_id,
            doc_id=str(meta["doc_id"]),
            locale=str(meta["locale"]),
            title=str(meta["title"]),
            heading_path=json.loads(str(meta.get("heading_path") or "[]")),
            section=int(meta.get("section", 0)),
            part=int(meta.get("part", 0)),
            text=text,
            policy_type=str(meta["policy_type"]),
            scope=str(meta["scope"]),
            version=int(meta.get("version", 1)),
            effective_from=str(meta.get("effective_from", "")),
            intents=[i for i in str(meta.get("intents", "")).split(",") if i],
            facts=json.loads(str(meta.get("facts") or "{}")),
            source=str(meta.get("source", "")),
            doc_hash=str(meta.get("doc_hash", "")),
            kind=str(meta.get("kind", "passage")),
        )


def slug(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w]+", "-", text, flags=re.UNICODE).strip("-")
    return text[:80] or "section"


def question_chunks(banks: list[QuestionBank], chunks: list[Chunk]) -> tuple[list[Chunk], list[FileProblem]]:
    """Question banks as chunks pointing at sections of their document's canonical version.

    A bank for an unknown document, or a question under a heading the document does not have,
    is reported and skipped (the rest of the bank is kept)."""
    sections: dict[str, dict[str | None, Chunk]] = {}
    for chunk in chunks:
        if chunk.part == 0 and chunk.locale == CANONICAL_LOCALE:
            heading = chunk.heading_path[1] if chunk.section and len(chunk.heading_path) > 1 else None
            sections.setdefault(chunk.doc_id, {}).setdefault(heading, chunk)
    out: list[Chunk] = []
    problems: list[FileProblem] = []
    for bank in banks:
        targets = sections.get(bank.doc_id)
        if not targets:
            problems.append(FileProblem(bank.path, f"no {CANONICAL_LOCALE!r} document {bank.doc_id!r} to point at"))
            continue
        unknown = sorted({q.heading for q in bank.questions if q.heading not in targets}, key=str)
        if unknown:
            problems.append(FileProblem(bank.path, f"skipped questions under unknown headings: {unknown}"))
        used: set[str] = set()
        for question in bank.questions:
            target = targets.get(question.heading)
            key = hashlib.sha256(question.text.encode()).hexdigest()[:12]
            if target is None or key in used:
                continue
            used.add(key)
            out.append(
                Chunk(
                    id=f"q:{bank.doc_id}@{question.language}:{key}",
                    doc_id=bank.doc_id,
                    locale=question.language,
                    title=target.title,
                    heading_path=target.heading_path,
                    section=target.section,
                    part=0,
                    text=question.text,
                    policy_type=target.policy_type,
                    scope=target.scope,
                    version=target.version,
                    effective_from=target.effective_from,
                    intents=target.intents,
                    facts={},
                    source=bank.path,
                    doc_hash=key,  # its own text: editing a neighbour re-embeds nothing else
                    kind="question",
                )
            )
    return out, problems


# Bump when the splitting changes, so an unchanged source tree is still re-chunked once.
CHUNKER_VERSION = 1


class Chunker:
    def __init__(self, chunk_tokens: int, overlap_tokens: int) -> None:
        self.signature = f"chunker-{CHUNKER_VERSION}:{chunk_tokens}:{overlap_tokens}"
        self._headers = MarkdownHeaderTextSplitter(headers_to_split_on=_HEADERS, strip_headers=True)
        self._tokens = RecursiveCharacterTextSplitter.from_tiktoken_encoder(
            encoding_name="cl100k_base", chunk_size=chunk_tokens, chunk_overlap=overlap_tokens
        )

    def split(self, document: Document) -> list[Chunk]:
        chunks: list[Chunk] = []
        used: set[str] = set()
        section = 0
        last_h2: str | None = None
        for piece in self._headers.split_text(document.body):
            meta = piece.metadata
            h2 = meta.get("h2")
            if h2 != last_h2 and h2 is not None:
                section += 1
                last_h2 = h2
            path = [str(meta[k]) for k in ("h1", "h2", "h3") if meta.get(k)]
            if not path:
                path = [document.title]
            base = f"{document.id}@{document.locale}#{slug(path[-1]) if len(path) > 1 else 'summary'}"
            anchor, n = base, 2
            while anchor in used:
                anchor, n = f"{base}-{n}", n + 1
            used.add(anchor)
            parts = self._tokens.split_text(piece.page_content.strip()) or []
            for part_no, text in enumerate(p for p in parts if p.strip()):
                chunks.append(
                    Chunk(
                        id=f"{anchor}~{part_no}",
                        doc_id=document.id,
                        locale=document.locale,
                        title=document.title,
                        heading_path=path,
                        section=section,
                        part=part_no,
                        text=text.strip(),
                        policy_type=document.policy_type,
                        scope=document.scope,
                        version=document.version,
                        effective_from=document.effective_from,
                        intents=document.intents,
                        facts=document.facts,
                        source=document.path,
                        doc_hash=document.content_hash,
                    )
                )
        return chunks
