"""The one prompt loader: versioned Markdown files in ``prompts/``, rendered from typed context.

A prompt file is ``prompts/<group>/<name>.v<N>.md`` with YAML front matter (``id``,
``version``, ``description``) and one ``## system`` and one ``## user`` section written as
Jinja2 templates. Rendering goes through LangChain's ``ChatPromptTemplate`` and yields OpenAI
chat messages. Values are inserted as data: a buyer's ``{{ }}`` is never evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from langchain_core.messages import convert_to_openai_messages
from langchain_core.prompts import ChatPromptTemplate

PROMPTS_DIR = Path(__file__).resolve().parents[2] / "prompts"
_SECTION = re.compile(r"^## (system|user)\s*$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Prompt:
    id: str
    version: str
    path: Path
    template: ChatPromptTemplate

    def messages(self, **context: Any) -> list[dict[str, Any]]:
        rendered = self.template.format_messages(**context)
        messages: list[dict[str, Any]] = convert_to_openai_messages(rendered)
        return messages


def _parse(path: Path) -> Prompt:
    text = path.read_text(encoding="utf-8")
    _, front, body = text.split("---", 2)
    meta = yaml.safe_load(front)
    parts = _SECTION.split(body)
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if set(sections) != {"system", "user"}:
        raise ValueError(f"{path} needs exactly one '## system' and one '## user' section")
    template = ChatPromptTemplate.from_messages(
        [("system", sections["system"]), ("human", sections["user"])], template_format="jinja2"
    )
    return Prompt(id=str(meta["id"]), version=str(meta["version"]), path=path, template=template)


@lru_cache(maxsize=32)
def load_prompt(group: str, name: str, version: str | None = None) -> Prompt:
    """The given version of ``prompts/<group>/<name>.v<version>.md``, or the highest one."""
    folder = PROMPTS_DIR / group
    if version is not None:
        return _parse(folder / f"{name}.v{version}.md")
    candidates = sorted(folder.glob(f"{name}.v*.md"), key=lambda p: int(p.stem.rsplit(".v", 1)[1]))
    if not candidates:
        raise FileNotFoundError(f"no prompt {group}/{name}.v*.md")
    return _parse(candidates[-1])
