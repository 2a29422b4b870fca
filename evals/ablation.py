"""Retrieval ablations on labeled data other than the retrieval queries: how the ranking choices
in `retrieval.search.Ranking` were made, rerunnable.

    python -m evals.ablation            # after `make setup` (uses the configured data directory)

1. The labeled triage tickets (evals/datasets/triage, 870 in 14 languages). A ranked document
   counts as right when its front matter says it serves the ticket's labeled intent; tickets
   labeled `other` or with no serving document are left out. No intent prior: it would make the
   check circular. Reported per language: hit@1 (the first document serves the intent) and MRR.
   Compared: the shipped ranking, BM25 for Arabic too, and no BM25 over the buyer questions.
2. The draft-quality set (evals/datasets/drafts, 260 tickets): its `expected.policy_ids`, with
   the intent prior as the API uses it. Compared: the neighbourhood vote weight 0, 0.2 (shipped)
   and 0.4, and no BM25 over the buyer questions.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

from evals import metrics
from evals.dataset import LabeledTicket, load_dataset

ROOT = Path(__file__).resolve().parents[1]
TRIAGE = ROOT / "evals" / "datasets" / "triage"
DRAFTS = ROOT / "evals" / "datasets" / "drafts" / "drafts.jsonl"


def _ranked_docs(hits: list[Any]) -> list[str]:
    return list(dict.fromkeys(h.chunk.doc_id for h in hits))


async def _search(services: Any, ticket: LabeledTicket, *, prior: bool) -> list[str]:
    from retrieval.search import Filters

    kb = services.require_kb()
    vector = kb.query_vector(ticket.message)
    intent_prior = services.triager.intent_prior(ticket.message, vector=vector) if prior else None
    seller = ticket.order.seller.id if ticket.order and ticket.order.seller else None
    result = await kb.search(
        ticket.message,
        k=10,
        language=ticket.label("language"),
        filters=Filters(seller=seller),
        candidates=60,
        intent_prior=intent_prior,
        vector=vector,
    )
    return _ranked_docs(result.hits)


async def intent_serving(services: Any, tickets: list[LabeledTicket]) -> dict[str, dict[str, float]]:
    """hit@1 and MRR of the first document serving the labeled intent, per language and overall."""
    build = await services.require_kb().refresh()
    sums: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for ticket in tickets:
        intent = ticket.label("intent")
        serving = {doc for doc, intents in build.intents_of.items() if intent in intents}
        if not serving or intent == "other":
            continue
        ranked = await _search(services, ticket, prior=False)
        rank = next((i for i, doc in enumerate(ranked, 1) if doc in serving), None)
        for key in (ticket.label("language") or "und", "all"):
            sums[key][0] += 1
            sums[key][1] += rank == 1
            sums[key][2] += 1 / rank if rank else 0.0
    return {k: {"n": v[0], "hit_at_1": round(v[1] / v[0], 3), "mrr": round(v[2] / v[0], 3)} for k, v in sums.items()}


async def expected_policies(services: Any, tickets: list[LabeledTicket]) -> dict[str, Any]:
    rows = []
    for ticket in tickets:
        ranked = await _search(services, ticket, prior=True)
        expected = ticket.expected.policy_ids if ticket.expected else []
        rows.append({"expected": expected, "ranked": ranked, "language": ticket.label("language")})
    return metrics.retrieval(rows)


async def run() -> None:
    from app.services import Services
    from app.settings import Settings

    services = await Services.start(Settings())
    try:
        kb = services.require_kb()
        shipped = kb.ranking
        triage = load_dataset(TRIAGE).tickets
        print(f"1. triage tickets ({len(triage)}): first document serving the labeled intent, no prior")
        print("   ranking                 language: hit@1 / MRR (n)")
        for name, ranking in (
            ("shipped", shipped),
            ("BM25 for Arabic too", replace(shipped, no_lexical_languages=frozenset())),
            ("no BM25 over questions", replace(shipped, question_lexical=False)),
        ):
            kb.ranking = ranking
            scores = await intent_serving(services, triage)
            cells = ", ".join(f"{k} {v['hit_at_1']:.2f} / {v['mrr']:.2f} ({v['n']})" for k, v in sorted(scores.items()))
            print(f"   {name:<22}  {cells}")
        drafts = load_dataset(DRAFTS).tickets
        print(f"2. draft-quality set ({len(drafts)}): expected policies, with the intent prior")
        print("   ranking                   recall@1  recall@5  MRR")
        variants = [(f"vote weight {w}", replace(shipped, vote_weight=w)) for w in (0.0, shipped.vote_weight, 0.4)]
        variants.append(("no BM25 over questions", replace(shipped, question_lexical=False)))
        for name, ranking in variants:
            kb.ranking = ranking
            r = await expected_policies(services, drafts)
            print(f"   {name:<24}  {r['recall_at_1']:.3f}     {r['recall_at_5']:.3f}     {r['mrr']:.3f}")
        kb.ranking = shipped
    finally:
        await services.close()


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    asyncio.run(run())


if __name__ == "__main__":
    main()
