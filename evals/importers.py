"""`replydesk eval import`: convert external CSV data into the labeled-ticket format.

Three readers share one writer: a generic CSV with a column mapping, the Bitext
customer-service files and the EN/DE support-ticket file (see ../shared/datasets/README.md).
Each writes JSON Lines with stable ids (prefix plus data-row number), so re-importing the same
file gives the same ids and two eval runs on it can be joined. Rows without a message are
skipped and counted; the source files are only read, never copied.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

__all__ = ["ImportSummary", "import_bitext", "import_csv", "import_tickets_en_de", "parse_mapping"]

_TOP_LEVEL_TARGETS = frozenset({"message", "subject", "channel", "reference_reply", "received_at", "language_hint"})
_NESTED_TARGETS = frozenset({"labels", "customer", "order"})
_NUMERIC_TARGETS = frozenset({"order.amount"})
_LIST_TARGETS = frozenset({"labels.escalation"})
_PRIORITY_TO_URGENCY = {"high": "high", "medium": "normal", "low": "low"}

Row = dict[str, str]
Converter = Callable[[Row], dict[str, Any]]


@dataclass(slots=True)
class ImportSummary:
    written: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    out: Path | None = None

    def line(self) -> str:
        where = f" to {self.out}" if self.out else ""
        return f"wrote {self.written} tickets{where}; skipped {self.skipped}"


def parse_mapping(spec: str) -> dict[str, str]:
    """``"message=body,subject=subject,labels.urgency=priority"`` -> {target: source column}."""
    mapping: dict[str, str] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        target, sep, column = (s.strip() for s in part.partition("="))
        if not sep or not target or not column:
            raise ValueError(f"bad mapping entry {part!r}: write target=column, e.g. message=body")
        if target in mapping:
            raise ValueError(f"target {target!r} is mapped twice")
        mapping[target] = column
    _check_mapping(mapping)
    return mapping


def _check_mapping(mapping: dict[str, str]) -> None:
    for target in mapping:
        _check_target(target)
    if "message" not in mapping:
        raise ValueError("the mapping must say which column holds the message, e.g. --map message=body")


def _check_target(target: str) -> None:
    head, _, rest = target.partition(".")
    if target in _TOP_LEVEL_TARGETS:
        return
    if head in _NESTED_TARGETS and rest and all(rest.split(".")):
        return
    allowed = ", ".join(sorted(_TOP_LEVEL_TARGETS)) + ", labels.*, customer.*, order.*"
    raise ValueError(f"unknown target {target!r}; use one of {allowed}")


def import_csv(source: Path, out: Path, mapping: dict[str, str], *, id_prefix: str, limit: int | None) -> ImportSummary:
    """Any CSV with a header; ``mapping`` is {target field: column} as from ``parse_mapping``."""
    _check_mapping(mapping)

    def convert(row: Row) -> dict[str, Any]:
        ticket: dict[str, Any] = {}
        for target, column in mapping.items():
            value = (row.get(column) or "").strip()
            if value:
                _set_dotted(ticket, target, _coerce(target, value))
        return ticket

    with _open_csv(source) as reader:
        missing = sorted(set(mapping.values()) - set(reader.fieldnames))
        if missing:
            header = ", ".join(reader.fieldnames)
            raise ValueError(f"{source}: no column(s) {', '.join(missing)}; the header has {header}")
        return _write(reader, out, convert, id_prefix=id_prefix, limit=limit)


def import_bitext(source: Path, out: Path, *, limit: int | None) -> ImportSummary:
    """intent_*.csv (utterance, intent) or replies_sample_*.csv (instruction, response)."""
    with _open_csv(source) as reader:
        header = set(reader.fieldnames)
        if "utterance" in header:
            message_column, reply_column = "utterance", None
        elif {"instruction", "response"} <= header:
            message_column, reply_column = "instruction", "response"
        else:
            raise ValueError(
                f"{source}: not a Bitext file (expected an `utterance` or `instruction`+`response` column)"
            )

        def convert(row: Row) -> dict[str, Any]:
            labels = {
                "intent": _cell(row, "intent"),
                "language": "en",
                "category": _cell(row, "category"),
                "tags": _cell(row, "tags"),
            }
            ticket: dict[str, Any] = {
                "message": _cell(row, message_column),
                "labels": {k: v for k, v in labels.items() if v},
            }
            if reply_column and _cell(row, reply_column):
                ticket["reference_reply"] = _cell(row, reply_column)
            return ticket

        return _write(reader, out, convert, id_prefix=_bitext_prefix(source), limit=limit)


def import_tickets_en_de(source: Path, out: Path, *, limit: int | None) -> ImportSummary:
    """tickets_en_de_*.csv: subject/body/answer with priority, queue and language labels."""
    with _open_csv(source) as reader:
        missing = {"body", "priority", "queue", "language"} - set(reader.fieldnames)
        if missing:
            raise ValueError(f"{source}: not a support-tickets file (no column(s) {', '.join(sorted(missing))})")

        def convert(row: Row) -> dict[str, Any]:
            urgency = _PRIORITY_TO_URGENCY.get(_cell(row, "priority").lower())
            tags = [tag for i in range(1, 9) if (tag := _cell(row, f"tag_{i}"))]
            labels = {
                "urgency": urgency,
                "queue": _cell(row, "queue"),
                "language": _cell(row, "language").lower(),
                "type": _cell(row, "type"),
                "tags": tags,
            }
            ticket: dict[str, Any] = {
                "message": _cell(row, "body"),
                "labels": {k: v for k, v in labels.items() if v},
            }
            if _cell(row, "subject"):
                ticket["subject"] = _cell(row, "subject")
            if _cell(row, "answer"):
                ticket["reference_reply"] = _cell(row, "answer")
            return ticket

        return _write(reader, out, convert, id_prefix="tk-en-de", limit=limit)


# ---------------------------------------------------------------- shared


class _Reader:
    """A csv.DictReader that knows the file line each record starts on (fields span lines)."""

    def __init__(self, source: Path, handle: TextIO) -> None:
        self.source = source
        self._reader = csv.DictReader(handle)
        self.fieldnames = [name.strip() for name in self._reader.fieldnames or []]
        self._reader.fieldnames = self.fieldnames

    def records(self) -> Iterator[tuple[int, Row]]:
        start = self._reader.line_num + 1
        for row in self._reader:
            # Quoted multi-line fields keep the file's \r\n; JSONL consumers expect plain \n.
            cells = {k: v.replace("\r\n", "\n") for k, v in row.items() if isinstance(k, str) and isinstance(v, str)}
            yield start, cells
            start = self._reader.line_num + 1


@contextmanager
def _open_csv(source: Path) -> Iterator[_Reader]:
    with source.open(encoding="utf-8-sig", newline="") as handle:
        yield _Reader(source, handle)


def _write(reader: _Reader, out: Path, convert: Converter, *, id_prefix: str, limit: int | None) -> ImportSummary:
    if out.resolve() == reader.source.resolve():
        raise ValueError(f"--out {out} is the source file; choose another path")
    summary = ImportSummary(out=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed at the end, so a failed import leaves no half file.
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as handle:
            _write_records(reader, handle, convert, summary, id_prefix=id_prefix, limit=limit)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return summary


def _write_records(
    reader: _Reader,
    handle: TextIO,
    convert: Converter,
    summary: ImportSummary,
    *,
    id_prefix: str,
    limit: int | None,
) -> None:
    records = reader.records()
    row_number = 0
    while limit is None or summary.written < limit:
        try:
            line, row = next(records)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ValueError(f"{reader.source}: CSV error after row {row_number}: {exc}") from exc
        row_number += 1
        ticket = convert(row)
        if not str(ticket.get("message") or "").strip():
            summary.skipped += 1
            summary.problems.append(f"{line}: empty message (row {row_number})")
            continue
        record = {"id": f"{id_prefix}-{row_number}", **ticket}
        record.setdefault("labels", {})
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        summary.written += 1


def _cell(row: Row, column: str) -> str:
    return (row.get(column) or "").strip()


def _coerce(target: str, value: str) -> Any:
    if target in _NUMERIC_TARGETS:
        try:
            return float(value.replace(",", "."))
        except ValueError:
            return value  # left as text so the loader reports the line instead of us guessing
    if target in _LIST_TARGETS:
        return [v.strip() for v in re.split(r"[;|]", value) if v.strip()]
    return value


def _set_dotted(ticket: dict[str, Any], target: str, value: Any) -> None:
    *parents, leaf = target.split(".")
    node = ticket
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def _bitext_prefix(source: Path) -> str:
    # intent_dev_810.csv -> bitext-intent-dev: the row count in the name is not part of the identity.
    stem = re.sub(r"_\d+$", "", source.stem)
    return "bitext-" + stem.replace("_", "-")
