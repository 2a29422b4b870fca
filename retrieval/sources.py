"""Reading knowledge-base sources: Markdown with YAML front matter, plain text and HTML, and the
buyer-question banks in ``questions/<doc id>.yaml``.

A file that cannot be read is reported with its path and the reason, and skipped; the rest of
the knowledge base is still ingested.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import yaml

from app.taxonomy import PolicyType

SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm")
REQUIRED = ("id", "title", "locale", "policy_type", "scope", "version", "effective_from")
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.DOTALL)
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,120}$")
_LOCALE = re.compile(r"^[a-z]{2}$")
# libyaml's safe loader when PyYAML has it (ten times faster on the question banks).
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(text: str) -> Any:
    return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 (a safe loader, C or Python)


QUESTIONS_DIR = "questions"
MAX_QUESTION_CHARS = 300


class SourceError(ValueError):
    """A knowledge-base file that cannot be used, and why."""


@dataclass(slots=True)
class Document:
    id: str
    title: str
    locale: str
    policy_type: str
    scope: str
    version: int
    effective_from: str
    body: str  # Markdown
    path: str
    intents: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.id}@{self.locale}"

    @property
    def content_hash(self) -> str:
        meta = f"{self.title}|{self.policy_type}|{self.scope}|{self.version}|{self.effective_from}|{sorted(self.facts.items())}"
        return hashlib.sha256(f"{meta}\n{self.body}".encode()).hexdigest()


@dataclass(slots=True)
class FileProblem:
    path: str
    reason: str


class _TextFromHTML(HTMLParser):
    """HTML to Markdown-ish text: headings become `#` lines, scripts and styles are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in ("p", "li", "br", "div", "tr"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag == "title":
            self._in_title = False
        elif re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def _html_to_markdown(raw: str) -> tuple[str, str]:
    parser = _TextFromHTML()
    parser.feed(raw)
    text = re.sub(r"[ \t]+", " ", "".join(parser.parts))
    return html.unescape(parser.title.strip()), re.sub(r"\n{3,}", "\n\n", text).strip()


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    match = _FRONT.match(text)
    if not match:
        return {}, text
    try:
        meta = _load_yaml(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise SourceError(f"front matter is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(meta, dict):
        raise SourceError("front matter must be a mapping")
    return meta, match.group(2)


def parse_file(path: Path, root: Path) -> Document:
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SourceError("not valid UTF-8") from exc
    meta, body = _front_matter(raw)
    if path.suffix.lower() in (".html", ".htm"):
        html_title, body = _html_to_markdown(body)
        meta.setdefault("title", html_title)
    # Plain files without front matter: id from the file name, locale from the folder.
    relative = path.relative_to(root)
    meta.setdefault("id", path.stem)
    if len(relative.parts) > 1 and _LOCALE.match(relative.parts[0]):
        meta.setdefault("locale", relative.parts[0])
    missing = [key for key in REQUIRED if meta.get(key) in (None, "")]
    if missing:
        raise SourceError(f"front matter lacks {', '.join(missing)}")
    doc_id = str(meta["id"])
    if not _ID.match(doc_id):
        raise SourceError(f"id {doc_id!r} must be lowercase letters, digits, '.', '_' or '-'")
    locale = str(meta["locale"]).lower()
    if not _LOCALE.match(locale):
        raise SourceError(f"locale {locale!r} must be an ISO 639-1 code")
    try:
        policy_type = PolicyType(str(meta["policy_type"])).value
    except ValueError as exc:
        raise SourceError(
            f"policy_type {meta['policy_type']!r} is not one of {', '.join(p.value for p in PolicyType)}"
        ) from exc
    effective = meta["effective_from"]
    if not isinstance(effective, date):
        try:
            effective = date.fromisoformat(str(effective))
        except ValueError as exc:
            raise SourceError(f"effective_from {effective!r} is not an ISO date") from exc
    try:
        version = int(meta["version"])
    except (TypeError, ValueError) as exc:
        raise SourceError(f"version {meta['version']!r} is not an integer") from exc
    facts = meta.get("facts") or {}
    if not isinstance(facts, dict):
        raise SourceError("facts must be a mapping")
    intents = meta.get("intents") or []
    if not isinstance(intents, list):
        raise SourceError("intents must be a list")
    if not body.strip():
        raise SourceError("the document has no text")
    return Document(
        id=doc_id,
        title=str(meta["title"]),
        locale=locale,
        policy_type=policy_type,
        scope=str(meta["scope"]),
        version=version,
        effective_from=effective.isoformat(),
        body=body.strip(),
        path=str(relative),
        intents=[str(i) for i in intents],
        facts=facts,
    )


@dataclass(slots=True)
class Question:
    text: str
    language: str
    heading: str | None  # a `##` heading of the canonical document; None for its introduction


@dataclass(slots=True)
class QuestionBank:
    """Buyer questions one document answers, in many languages: extra retrieval keys that point
    at the document's sections (never shown to buyers)."""

    doc_id: str
    path: str
    questions: list[Question]

    @property
    def content_hash(self) -> str:
        lines = sorted(f"{q.language}|{q.heading}|{q.text}" for q in self.questions)
        return hashlib.sha256("\n".join([self.doc_id, *lines]).encode()).hexdigest()


def parse_questions(path: Path, root: Path) -> QuestionBank:
    """``{"doc_id": ..., "sections": [{"heading": str | null, "questions": {lang: [text, ...]}}]}``"""
    try:
        data = _load_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise SourceError("not valid UTF-8") from exc
    except yaml.YAMLError as exc:
        raise SourceError(f"not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("sections"), list):
        raise SourceError("expected a mapping with doc_id and a list of sections")
    doc_id = str(data.get("doc_id") or path.stem)
    if not _ID.match(doc_id):
        raise SourceError(f"doc_id {doc_id!r} must be lowercase letters, digits, '.', '_' or '-'")
    questions: list[Question] = []
    for number, section in enumerate(data["sections"], 1):
        if not isinstance(section, dict) or not isinstance(section.get("questions"), dict):
            raise SourceError(f"section {number} needs a heading and a mapping of questions by language")
        heading = section.get("heading")
        for language, texts in section["questions"].items():
            if not _LOCALE.match(str(language)) or not isinstance(texts, list):
                raise SourceError(f"section {number}: {language!r} must be a language code with a list of questions")
            for text in texts:
                if not isinstance(text, str) or not text.strip() or len(text) > MAX_QUESTION_CHARS:
                    raise SourceError(f"section {number}: question {str(text)[:40]!r} is empty or too long")
                questions.append(Question(text.strip(), str(language), None if heading is None else str(heading)))
    if not questions:
        raise SourceError("no questions")
    return QuestionBank(doc_id, str(path.relative_to(root)), questions)


def read_questions(root: Path) -> tuple[list[QuestionBank], list[FileProblem]]:
    """The question banks under ``root/questions`` (none for a single file or a tree without them)."""
    folder = root / QUESTIONS_DIR
    if root.is_file() or not folder.is_dir():
        return [], []
    banks: list[QuestionBank] = []
    problems: list[FileProblem] = []
    for path in sorted(folder.glob("*.y*ml")):
        try:
            banks.append(parse_questions(path, root))
        except SourceError as exc:
            problems.append(FileProblem(str(path.relative_to(root)), str(exc)))
    return banks, problems


def read_sources(root: Path) -> tuple[list[Document], list[FileProblem]]:
    """Every readable document under ``root``, and the files that were skipped with reasons."""
    if not root.exists():
        raise FileNotFoundError(f"no knowledge-base sources at {root}")
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES)
    base = root.parent if root.is_file() else root
    documents: list[Document] = []
    problems: list[FileProblem] = []
    seen: dict[str, str] = {}
    for path in files:
        if (path.name.lower() == "readme.md" and path.parent == base) or (
            path.relative_to(base).parts[0] == QUESTIONS_DIR
        ):
            continue
        try:
            document = parse_file(path, base)
        except SourceError as exc:
            problems.append(FileProblem(str(path.relative_to(base)), str(exc)))
            continue
        if document.key in seen:
            problems.append(FileProblem(document.path, f"duplicate of {seen[document.key]} ({document.key}); skipped"))
            continue
        seen[document.key] = document.path
        documents.append(document)
    return documents, problems
