"""Reading and writing the labeled-ticket format (see evals/README.md).

A dataset is a JSONL file or a directory of them. A line that does not parse, or lacks a usable
``message``, is reported with its file and line number and skipped; loading never stops at one
bad line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from app.schemas import Customer, HistoryMessage, Order, TicketIn
from app.taxonomy import Channel


class Expected(msgspec.Struct, kw_only=True, omit_defaults=True):
    policy_ids: list[str] = msgspec.field(default_factory=list)
    must_include: list[str] = msgspec.field(default_factory=list)
    must_not_include: list[str] = msgspec.field(default_factory=list)
    language: str | None = None


class LabeledTicket(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    message: str
    labels: dict[str, Any] = msgspec.field(default_factory=dict)
    subject: str | None = None
    channel: Channel = Channel.EMAIL
    customer: Customer | None = None
    order: Order | None = None
    history: list[HistoryMessage] = msgspec.field(default_factory=list)
    received_at: str | None = None
    language_hint: str | None = None
    reference_reply: str | None = None
    expected: Expected | None = None
    source: str | None = None

    def to_ticket(self) -> TicketIn:
        received = None
        if self.received_at:
            received = datetime.fromisoformat(self.received_at.replace("Z", "+00:00"))
        return TicketIn(
            message=self.message,
            subject=self.subject,
            channel=self.channel,
            customer=self.customer,
            order=self.order,
            history=self.history,
            language_hint=self.language_hint,
            external_id=self.id,
            received_at=received,
        )

    def label(self, name: str) -> str | None:
        value = self.labels.get(name)
        return str(value) if isinstance(value, str) and value else None


@dataclass(slots=True)
class LineError:
    file: str
    line: int
    error: str


@dataclass(slots=True)
class Dataset:
    tickets: list[LabeledTicket]
    errors: list[LineError] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for ticket in self.tickets:
            digest.update(ticket.id.encode())
            digest.update(b"\0")
            digest.update(ticket.message.encode())
        return digest.hexdigest()[:12]


_decoder = msgspec.json.Decoder(LabeledTicket)


def dataset_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*.jsonl") if p.is_file())
    if path.is_file():
        return [path]
    raise FileNotFoundError(f"no dataset at {path}")


def parse_lines(lines: Iterable[bytes], source: str) -> Iterator[LabeledTicket | LineError]:
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            ticket = _decoder.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as exc:
            yield LineError(source, number, str(exc))
            continue
        if not ticket.message.strip():
            yield LineError(source, number, "`message` is empty")
            continue
        ticket.source = source
        yield ticket


def load_dataset(path: Path) -> Dataset:
    dataset = Dataset(tickets=[])
    seen: set[str] = set()
    for file in dataset_files(path):
        dataset.files.append(str(file))
        with file.open("rb") as handle:
            for item in parse_lines(handle, str(file)):
                if isinstance(item, LineError):
                    dataset.errors.append(item)
                elif item.id in seen:
                    dataset.errors.append(LineError(str(file), 0, f"duplicate id {item.id!r} skipped"))
                else:
                    seen.add(item.id)
                    dataset.tickets.append(item)
    return dataset


def write_jsonl(path: Path, rows: Iterable[Any]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            data = msgspec.to_builtins(row) if not isinstance(row, dict) else row
            handle.write(json.dumps(data, ensure_ascii=False) + "\n")
            count += 1
    return count


def is_holdout(ticket_id: str, fraction: float = 0.2) -> bool:
    """Stable train/held-out split by id hash: the same ticket is always on the same side."""
    bucket = int(hashlib.sha256(ticket_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return bucket < fraction


def split(dataset: Dataset, part: str) -> list[LabeledTicket]:
    """``train``, ``holdout`` or ``all``."""
    if part == "all":
        return list(dataset.tickets)
    if part not in ("train", "holdout"):
        raise ValueError(f"unknown split {part!r}: use train, holdout or all")
    want = part == "holdout"
    return [t for t in dataset.tickets if is_holdout(t.id) == want]
