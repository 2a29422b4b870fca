"""`replydesk eval run`: score triage, retrieval and drafts on a dataset, per ticket and overall.

Writes ``results.jsonl`` (one row per ticket, joinable on ``id``), ``report.json`` (schema in
evals/README.md), ``report.md`` and ``report.html``. Bad lines and unknown labels are counted
and reported; they never stop a run.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import msgspec
import numpy as np

from app.settings import Settings
from evals import metrics, scorers
from evals.dataset import LabeledTicket, LineError, dataset_files, load_dataset, split

SCHEMA_VERSION = 1
TRIAGE_FIELDS = ("intent", "urgency", "sentiment")
DRAFT_METRICS = (
    "language_match",
    "citation_validity",
    "required_facts",
    "forbidden_promise",
    "fact_findings",
    "placeholders",
    "personalization",
    "length_ok",
    "chrf",
    "cosine",
    "policy_retrieved",
    "policy_cited",
)


class RetrievalQuery(msgspec.Struct, kw_only=True):
    id: str
    query: str
    language: str
    expected_doc_ids: list[str]
    seller: str | None = None
    note: str | None = None


@dataclass(slots=True)
class RunConfig:
    dataset: Path
    out: Path
    generator: str | None = None  # None: no drafts; "template" | "llm" | "auto"
    limit: int | None = None
    split: str = "all"
    name: str | None = None
    retrieval_modes: tuple[str, ...] = ("hybrid", "dense", "lexical")
    progress: bool = False
    concurrency: int = 8


@dataclass(slots=True)
class RunResult:
    report: dict[str, Any]
    rows: list[dict[str, Any]]
    out: Path
    errors: list[LineError] = field(default_factory=list)


def _is_retrieval_file(path: Path) -> bool:
    for file in dataset_files(path):
        with file.open("rb") as handle:
            for line in handle:
                if line.strip():
                    try:
                        data = json.loads(line)
                    except json.JSONDecodeError:
                        return False
                    return "query" in data and "expected_doc_ids" in data
    return False


def _load_queries(path: Path) -> tuple[list[RetrievalQuery], list[LineError]]:
    queries, errors = [], []
    decoder = msgspec.json.Decoder(RetrievalQuery)
    for file in dataset_files(path):
        with file.open("rb") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    query = decoder.decode(line)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    errors.append(LineError(str(file), number, str(exc)))
                    continue
                if not query.query.strip():
                    errors.append(LineError(str(file), number, "`query` is empty"))
                    continue
                queries.append(query)
    return queries, errors


def _progress(enabled: bool, total: int, label: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=label, unit="ticket", leave=False)


class Runner:
    """Holds the loaded parts (triage model, knowledge base, drafter) for one run."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.services: Any = None

    async def __aenter__(self) -> Runner:
        from app.services import Services

        self.services = await Services.start(self.settings)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.services is not None:
            await self.services.close()

    # ---------------------------------------------------------------- entry
    async def run(self, config: RunConfig) -> RunResult:
        started = time.perf_counter()
        config.out.mkdir(parents=True, exist_ok=True)
        if _is_retrieval_file(config.dataset):
            queries, errors = _load_queries(config.dataset)
            queries = queries[: config.limit] if config.limit else queries
            rows, section = await self._retrieval_queries(queries, config)
            report = self._envelope(config, len(queries), errors, "retrieval-queries", fingerprint=str(len(queries)))
            report["retrieval"] = section
        else:
            dataset = load_dataset(config.dataset)
            tickets = split(dataset, config.split)
            tickets = tickets[: config.limit] if config.limit else tickets
            errors = dataset.errors
            rows, sections = await self._tickets(tickets, config)
            report = self._envelope(config, len(tickets), errors, "labeled-tickets", fingerprint=dataset.fingerprint)
            report.update(sections)
        seconds = time.perf_counter() - started
        report["timing"] = {
            "seconds": round(seconds, 2),
            "tickets_per_second": round(len(rows) / seconds, 2) if seconds else None,
        }
        self._write(config.out, report, rows)
        return RunResult(report, rows, config.out, errors)

    def _envelope(
        self, config: RunConfig, n: int, errors: list[LineError], kind: str, *, fingerprint: str
    ) -> dict[str, Any]:
        triager = self.services.triager
        return {
            "schema_version": SCHEMA_VERSION,
            "name": config.name or config.out.name,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "dataset": {
                "path": str(config.dataset),
                "kind": kind,
                "split": config.split,
                "n": n,
                "fingerprint": fingerprint,
                "rejected_lines": len(errors),
                "errors": [{"file": e.file, "line": e.line, "error": e.error[:300]} for e in errors[:200]],
            },
            "model_version": triager.version if triager else None,
            "generator": config.generator,
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
            },
        }

    # ---------------------------------------------------------------- retrieval-only datasets
    async def _retrieval_queries(
        self, queries: list[RetrievalQuery], config: RunConfig
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        from retrieval.search import Filters

        kb = self.services.require_kb()
        triager = self.services.triager
        rows: list[dict[str, Any]] = []
        per_mode: dict[str, list[dict[str, Any]]] = defaultdict(list)
        bar = _progress(config.progress, len(queries), "retrieval")
        for query in queries:
            row: dict[str, Any] = {
                "id": query.id,
                "language": query.language,
                "expected": query.expected_doc_ids,
                "retrieval": {},
            }
            # The same intent prior the KB search endpoint uses; only the hybrid ranking gets it.
            vector = kb.query_vector(query.query) if triager is not None and kb.embedder is triager.embedder else None
            prior = triager.intent_prior(query.query, vector=vector) if triager is not None else {}
            for mode in config.retrieval_modes:
                result = await kb.search(
                    query.query,
                    k=10,
                    language=query.language,
                    filters=Filters(seller=query.seller),
                    mode=mode,
                    candidates=60,
                    intent_prior=prior if mode == "hybrid" else None,
                    vector=vector if mode in ("hybrid", "dense") else None,
                )
                ranked = _doc_ranking([h.chunk.doc_id for h in result.hits])
                item = {"expected": query.expected_doc_ids, "ranked": ranked, "language": query.language}
                per_mode[mode].append(item)
                row["retrieval"][mode] = {
                    "ranked": ranked[:5],
                    "hit_at_5": bool(set(query.expected_doc_ids) & set(ranked[:5])),
                    "ms": result.timings_ms.get("total_ms"),
                }
            rows.append(row)
            if bar:
                bar.update(1)
        if bar:
            bar.close()
        main = config.retrieval_modes[0]
        section = metrics.retrieval(per_mode[main])
        section["mode"] = main
        section["modes"] = {mode: metrics.retrieval(items) for mode, items in per_mode.items()}
        return rows, section

    # ---------------------------------------------------------------- labeled tickets
    async def _tickets(
        self, tickets: list[LabeledTicket], config: RunConfig
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        from retrieval.search import Filters

        triager = self.services.require_triager()
        inputs = [t.to_ticket() for t in tickets]
        results = []
        for start in range(0, len(inputs), 64):
            results.extend(await asyncio.to_thread(triager.triage_many, inputs[start : start + 64]))
        labels = triager.labels
        rows: list[dict[str, Any]] = []
        for ticket, result in zip(tickets, results, strict=True):
            row: dict[str, Any] = {
                "id": ticket.id,
                "language": ticket.label("language") or result.language.code,
                "intent": ticket.label("intent"),
                "triage": {},
            }
            for name in TRIAGE_FIELDS:
                gold = ticket.label(name)
                if gold is None:
                    continue
                pred = {
                    "intent": result.intent.label,
                    "urgency": result.urgency.level,
                    "sentiment": result.sentiment.label,
                }[name]
                conf = {
                    "intent": result.intent.confidence,
                    "urgency": result.urgency.confidence,
                    "sentiment": result.sentiment.confidence,
                }[name]
                known = name not in labels or gold in labels[name]
                row["triage"][name] = {
                    "gold": gold,
                    "pred": pred,
                    "confidence": conf,
                    "correct": gold == pred,
                    "known_label": known,
                }
            gold_language = ticket.label("language")
            if gold_language:
                row["triage"]["language"] = {
                    "gold": gold_language,
                    "pred": result.language.code,
                    "confidence": result.language.confidence,
                    "correct": gold_language == result.language.code,
                    "known_label": True,
                }
            if isinstance(ticket.labels.get("escalation"), list):
                row["triage"]["escalation"] = {
                    "gold": sorted(ticket.labels["escalation"]),
                    "pred": sorted(s.flag for s in result.escalation.flags),
                }
            if ticket.label("responsible_party"):
                row["triage"]["responsible_party"] = {
                    "gold": ticket.label("responsible_party"),
                    "pred": result.responsible_party.party,
                    "correct": ticket.label("responsible_party") == result.responsible_party.party,
                }
            rows.append(row)

        sections: dict[str, Any] = {"triage": self._triage_section(rows)}
        kb = self.services.kb
        with_policies = [
            (t, r, row)
            for t, r, row in zip(tickets, results, rows, strict=True)
            if t.expected and t.expected.policy_ids
        ]
        if kb is not None and with_policies:
            items = []
            for ticket, result, row in with_policies:
                seller = ticket.order.seller.id if ticket.order and ticket.order.seller else None
                prior = {
                    result.intent.label: result.intent.confidence,
                    **{a.label: a.confidence for a in result.intent.alternatives},
                }
                search = await kb.search(
                    ticket.message[:1500],
                    k=10,
                    language=result.language.code if result.language.code != "und" else None,
                    filters=Filters(seller=seller),
                    intent_prior=prior,
                )
                ranked = _doc_ranking([h.chunk.doc_id for h in search.hits])
                assert ticket.expected is not None
                row["retrieval"] = {"expected": ticket.expected.policy_ids, "ranked": ranked[:5]}
                items.append({"expected": ticket.expected.policy_ids, "ranked": ranked, "language": row["language"]})
            sections["retrieval"] = metrics.retrieval(items)
        if config.generator:
            sections["drafts"] = await self._drafts(tickets, results, rows, config)
        return rows, sections

    def _triage_section(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        section: dict[str, Any] = {}
        for name in (*TRIAGE_FIELDS, "language"):
            items = [r for r in rows if name in r["triage"]]
            if not items:
                continue
            known = [r for r in items if r["triage"][name]["known_label"]]
            unknown = [r["triage"][name]["gold"] for r in items if not r["triage"][name]["known_label"]]

            def summary(group: list[dict[str, Any]], field: str = name) -> dict[str, Any]:
                return metrics.classification(
                    [g["triage"][field]["gold"] for g in group],
                    [g["triage"][field]["pred"] for g in group],
                    [float(g["triage"][field]["confidence"]) for g in group],
                )

            result: dict[str, Any] = summary(known) if known else {"n": 0}
            result["per_language"] = {
                lang: {k: v for k, v in summary(group).items() if k in ("n", "accuracy", "macro_f1")}
                for lang, group in sorted(_groups(known, "language").items())
            }
            result["unknown_labels"] = {"count": len(unknown), "labels": sorted(set(unknown))[:50]}
            section[name] = result
        esc = [r for r in rows if "escalation" in r["triage"]]
        if esc:
            flags = sorted(
                {f for r in esc for f in r["triage"]["escalation"]["gold"] + r["triage"]["escalation"]["pred"]}
            )
            per_flag = {}
            for flag in flags:
                tp = sum(
                    1
                    for r in esc
                    if flag in r["triage"]["escalation"]["gold"] and flag in r["triage"]["escalation"]["pred"]
                )
                fp = sum(
                    1
                    for r in esc
                    if flag not in r["triage"]["escalation"]["gold"] and flag in r["triage"]["escalation"]["pred"]
                )
                fn = sum(
                    1
                    for r in esc
                    if flag in r["triage"]["escalation"]["gold"] and flag not in r["triage"]["escalation"]["pred"]
                )
                per_flag[flag] = {
                    "precision": round(tp / (tp + fp), 4) if tp + fp else None,
                    "recall": round(tp / (tp + fn), 4) if tp + fn else None,
                    "support": tp + fn,
                }
            section["escalation"] = {"n": len(esc), "per_flag": per_flag}
        party = [r for r in rows if "responsible_party" in r["triage"]]
        if party:
            section["responsible_party"] = {
                "n": len(party),
                "accuracy": round(sum(r["triage"]["responsible_party"]["correct"] for r in party) / len(party), 4),
            }
        return section

    async def _drafts(
        self, tickets: list[LabeledTicket], results: list[Any], rows: list[dict[str, Any]], config: RunConfig
    ) -> dict[str, Any]:
        from app.drafts.schemas import DraftIn

        drafter = self.services.require_drafter()
        embedder = self.services.embedder
        semaphore = asyncio.Semaphore(max(1, config.concurrency))
        bar = _progress(config.progress, len(tickets), "drafts")
        generator: Literal["auto", "template", "llm"] = (
            "template" if config.generator == "template" else "llm" if config.generator == "llm" else "auto"
        )

        async def one(ticket: LabeledTicket, triage: Any) -> Any:
            base = ticket.to_ticket()
            request = DraftIn(
                **{f: getattr(base, f) for f in base.__struct_fields__}, triage=triage, generator=generator
            )
            async with semaphore:
                outcome = await drafter.draft(request)
            if bar:
                bar.update(1)
            return outcome

        outcomes = await asyncio.gather(*(one(t, r) for t, r in zip(tickets, results, strict=True)))
        if bar:
            bar.close()

        # Embeddings for cosine-to-reference and citation support, in two batches.
        bodies = [o.generation.body for o in outcomes]
        refs = [t.reference_reply or "" for t in tickets]
        body_vectors = embedder.embed(bodies)
        ref_vectors = embedder.embed([r or " " for r in refs])
        citation_pairs: list[tuple[int, dict[str, Any], str]] = []
        for i, outcome in enumerate(outcomes):
            by_chunk = outcome.ctx.passage_by_chunk()
            for s_index, sentence in enumerate(outcome.generation.sentences):
                for chunk_id in sentence.chunk_ids:
                    passage = by_chunk.get(chunk_id)
                    citation_pairs.append(
                        (
                            i,
                            {"chunk_id": chunk_id, "sentence_index": s_index, "sentence": sentence.text},
                            passage.text if passage else "",
                        )
                    )
        support = np.zeros(len(citation_pairs))
        if citation_pairs:
            s_vec = embedder.embed([c["sentence"] for _, c, _ in citation_pairs])
            p_vec = embedder.embed([p or " " for _, _, p in citation_pairs])
            support = (s_vec * p_vec).sum(axis=1)

        per_ticket: list[dict[str, Any]] = []
        for i, (ticket, outcome, row) in enumerate(zip(tickets, outcomes, rows, strict=True)):
            generation = outcome.generation
            expected = ticket.expected
            detected = self.services.triager.languages.identify(
                " ".join(s.text for s in generation.sentences[1:-2]) or generation.body
            ).code
            cites = [(c, float(support[j])) for j, (k, c, _) in enumerate(citation_pairs) if k == i]
            retrieved = {p.chunk_id for p in outcome.ctx.passages}
            cited_docs = sorted(
                {outcome.ctx.passage_by_chunk()[c["chunk_id"]].doc_id for c, _ in cites if c["chunk_id"] in retrieved}
            )
            name = ticket.customer.name if ticket.customer else None
            order_id = ticket.order.id if ticket.order else None
            expected_language = (expected.language if expected else None) or ticket.label("language")
            scores = {
                "language_match": scorers.language_match(detected, expected_language),
                "citation_validity": scorers.citation_validity([c for c, _ in cites], retrieved, [s for _, s in cites]),
                "required_facts": scorers.required_facts(generation.body, expected.must_include if expected else []),
                "forbidden_promise": scorers.forbidden_promises(
                    generation.body, expected.must_not_include if expected else []
                ),
                "fact_findings": scorers.Score(
                    float(sum(1 for f in outcome.findings if f.check == "fact")),
                    "; ".join(f.message for f in outcome.findings if f.check == "fact")[:300] or "none",
                ),
                "placeholders": scorers.Score(
                    float(sum(1 for f in outcome.findings if f.check == "placeholder")),
                    "; ".join(f.message for f in outcome.findings if f.check == "placeholder")[:300] or "none",
                ),
                "personalization": scorers.personalization(generation.body, name, order_id),
                "length_ok": scorers.length_ok(generation.body),
                "chrf": scorers.chrf(generation.body, ticket.reference_reply),
                "cosine": scorers.cosine(body_vectors[i], ref_vectors[i])
                if ticket.reference_reply
                else scorers.Score(None, "no reference reply"),
                "policy_retrieved": scorers.policy_recall(
                    expected.policy_ids if expected else [],
                    sorted({p.doc_id for p in outcome.ctx.passages}),
                    "retrieved",
                ),
                "policy_cited": scorers.policy_recall(expected.policy_ids if expected else [], cited_docs, "cited"),
            }
            row["draft"] = {
                "body": generation.body,
                "reference": ticket.reference_reply,
                "generator": generation.generator,
                "fallback_reason": outcome.fallback_reason,
                "language": generation.language,
                "detected_language": detected,
                "passages": [
                    {"chunk_id": p.chunk_id, "title": p.title, "locale": p.locale} for p in outcome.ctx.passages
                ],
                "findings": [msgspec.to_builtins(f) for f in outcome.findings],
                "scores": {k: v.as_dict() for k, v in scores.items()},
                "latency_ms": outcome.latency_ms.get("total_ms"),
                "tokens": {"prompt": generation.prompt_tokens, "completion": generation.completion_tokens},
                "cost_usd": outcome.cost_usd,
            }
            per_ticket.append(row)
        section = _draft_section(per_ticket)
        if self.settings.judge_base_url:
            section["judge"] = await self._judge(tickets, outcomes, per_ticket, config)
        return section

    async def _judge(
        self, tickets: list[LabeledTicket], outcomes: list[Any], rows: list[dict[str, Any]], config: RunConfig
    ) -> dict[str, Any]:
        """Rubric scores from the LLM judge (cached per prompt, so reruns cost nothing)."""
        from evals.judge import Judge, judge_summary

        judge = Judge(self.settings, self.settings.data_dir / "judge-cache")
        try:
            verdicts = await asyncio.gather(
                *(
                    judge.score(
                        language=o.generation.language,
                        intent=o.ctx.triage.intent.label,
                        message=t.message,
                        passages=[p.text for p in o.ctx.passages],
                        reference=t.reference_reply or "",
                        draft=o.generation.body,
                    )
                    for t, o in zip(tickets, outcomes, strict=True)
                )
            )
        finally:
            await judge.close()
        for row, verdict in zip(rows, verdicts, strict=True):
            row["draft"]["scores"].update({k: v.as_dict() for k, v in verdict.items()})
        summary = judge_summary(rows)
        summary.update({"model": self.settings.judge_model, "calls": judge.calls, "cache_hits": judge.cache_hits})
        return summary

    # ---------------------------------------------------------------- output
    def _write(self, out: Path, report: dict[str, Any], rows: list[dict[str, Any]]) -> None:
        from evals.report import render_html, render_markdown

        with (out / "results.jsonl").open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        (out / "report.json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
        )
        (out / "report.md").write_text(render_markdown(report), encoding="utf-8")
        (out / "report.html").write_text(render_html(report, rows), encoding="utf-8")


def _groups(rows: list[dict[str, Any]], key: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[str(row.get(key))].append(row)
    return groups


def _doc_ranking(doc_ids: list[str]) -> list[str]:
    seen: list[str] = []
    for doc in doc_ids:
        if doc not in seen:
            seen.append(doc)
    return seen


def _draft_section(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def summary(group: list[dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {"n": len(group)}
        for name in DRAFT_METRICS:
            out[name] = metrics.mean_of([r["draft"]["scores"][name]["value"] for r in group])
        return out

    section = summary(rows)
    latencies = [r["draft"]["latency_ms"] for r in rows if r["draft"]["latency_ms"] is not None]
    section["latency_ms"] = {
        "p50": metrics.percentile(latencies, 0.5),
        "p95": metrics.percentile(latencies, 0.95),
        "mean": round(statistics.fmean(latencies), 3) if latencies else None,
    }
    section["tokens"] = {
        "prompt": sum(r["draft"]["tokens"]["prompt"] for r in rows),
        "completion": sum(r["draft"]["tokens"]["completion"] for r in rows),
    }
    section["cost_usd"] = round(sum(r["draft"]["cost_usd"] for r in rows), 6)
    section["fallbacks"] = sum(1 for r in rows if r["draft"]["fallback_reason"])
    section["generators"] = dict(sorted(Counter(r["draft"]["generator"] for r in rows).items()))
    section["per_language"] = {k: summary(v) for k, v in sorted(_groups(rows, "language").items())}
    section["per_intent"] = {k: summary(v) for k, v in sorted(_groups(rows, "intent").items())}
    return section
