"""Drafts end to end over HTTP (triage, facts, retrieval, generation, checks, storage).

    .venv/bin/python bench/drafts.py [--quick] [--requests N] [--stream-requests N]

1. Template drafts: POST /v1/drafts with real tickets that carry an order (from
   evals/datasets/triage), sequential, after a warm-up: p50 <= 60 ms.
2. LLM drafts against bench/fake_llm.py with zero model latency: POST /v1/drafts/stream, time from
   sending the request to the first ``token`` event (our own overhead before the first token):
   p50 <= 50 ms. The stored draft's ``latency_ms`` gives the server-side stage breakdown, and its
   token usage is compared with REPLYDESK_PROMPT_TOKEN_BUDGET.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter, defaultdict
from typing import Any

import common
from common import Report, Server, auth, heading, ms_since, print_table, summary
from fake_llm import FakeLLM

PROMPT_TOKEN_BUDGET = 3000  # the setting's default, passed explicitly below


def tickets(n: int, tag: str) -> list[dict[str, Any]]:
    rows = common.dataset_tickets(with_order=True)
    out = []
    for i in range(n):
        row = rows[i % len(rows)]
        out.append(
            {
                **common.ticket_payload(row, external_id=f"{row['id']}-{tag}-{i}"),
                "_language": row["labels"].get("language"),
            }
        )
    return out


def body_of(ticket: dict[str, Any], generator: str) -> dict[str, Any]:
    return {**{k: v for k, v in ticket.items() if not k.startswith("_")}, "generator": generator}


def stage_table(stages: dict[str, list[float]]) -> list[list[Any]]:
    rows = []
    for name in sorted(stages, key=lambda s: (s == "total_ms", s)):
        s = summary(stages[name])
        rows.append([f"  server {name}", s["n"], s["p50"], s["p95"], s["mean"]])
    return rows


# ---------------------------------------------------------------- template drafts
def template_run(server: Server, key: str, n: int, warmup: int) -> dict[str, Any]:
    import httpx

    items = tickets(n + warmup, "tpl")
    client_ms: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    generators: Counter[str] = Counter()
    languages: Counter[str] = Counter()
    with httpx.Client(timeout=60.0) as client:
        health = []
        for _ in range(100):
            started = time.perf_counter()
            client.get(f"{server.url}/health")
            health.append(ms_since(started))
        for i, ticket in enumerate(items):
            started = time.perf_counter()
            response = client.post(f"{server.url}/v1/drafts", json=body_of(ticket, "template"), headers=auth(key))
            elapsed = ms_since(started)
            if response.status_code != 201:
                raise RuntimeError(f"draft failed: {response.status_code} {response.text[:300]}")
            if i < warmup:
                continue
            draft = response.json()
            client_ms.append(elapsed)
            for stage, value in draft["latency_ms"].items():
                stages[stage].append(value)
            generators[draft["generator"]] += 1
            languages[draft["language"]] += 1
    return {
        "client_ms": client_ms,
        "stages": stages,
        "generators": dict(generators),
        "languages": dict(languages),
        "health_ms": health,
    }


# ---------------------------------------------------------------- streamed LLM drafts
def read_stream(client: Any, url: str, key: str, body: dict[str, Any]) -> dict[str, Any]:
    """One streamed draft: times to the first stage and token events, the final draft, errors."""
    started = time.perf_counter()
    out: dict[str, Any] = {
        "first_token_ms": None,
        "first_stage_ms": None,
        "draft": None,
        "error": None,
        "tokens": 0,
    }
    event = None
    data_lines: list[str] = []
    with client.stream("POST", url, json=body, headers=auth(key)) as response:
        if response.status_code >= 300:  # Litestar answers the stream with 201 (a POST's default)
            response.read()
            out["error"] = f"HTTP {response.status_code}: {response.text[:200]}"
            return out
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data_lines.append(line.split(":", 1)[1].strip())
            elif line == "" and event is not None:
                if event == "token":
                    out["tokens"] += 1
                    if out["first_token_ms"] is None:
                        out["first_token_ms"] = ms_since(started)
                elif event == "stage" and out["first_stage_ms"] is None:
                    out["first_stage_ms"] = ms_since(started)
                elif event == "draft":
                    out["draft"] = json.loads("\n".join(data_lines))
                elif event == "error":
                    out["error"] = "\n".join(data_lines)[:300]
                event, data_lines = None, []
    out["total_ms"] = ms_since(started)
    return out


def llm_run(server: Server, key: str, n: int, warmup: int) -> dict[str, Any]:
    import httpx

    items = tickets(n + warmup, "llm")
    ttft: list[float] = []
    first_stage: list[float] = []
    totals: list[float] = []
    stages: dict[str, list[float]] = defaultdict(list)
    prompt_tokens: list[int] = []
    generators: Counter[str] = Counter()
    fallbacks: Counter[str] = Counter()
    dropped = 0
    repairs = 0
    no_passages = 0
    errors: list[str] = []
    with httpx.Client(timeout=60.0) as client:
        for i, ticket in enumerate(items):
            result = read_stream(client, f"{server.url}/v1/drafts/stream", key, body_of(ticket, "llm"))
            if result["error"] or result["draft"] is None:
                errors.append(result["error"] or "stream ended without a draft")
                continue
            if i < warmup:
                continue
            draft = result["draft"]
            if result["first_token_ms"] is not None:
                ttft.append(result["first_token_ms"])
            if result["first_stage_ms"] is not None:
                first_stage.append(result["first_stage_ms"])
            totals.append(result["total_ms"])
            for stage, value in draft["latency_ms"].items():
                stages[stage].append(value)
            generators[draft["generator"]] += 1
            repaired = any("repaired once" in note for note in draft["notes"])
            repairs += repaired
            if not draft["passages"]:
                no_passages += 1
            if draft["fallback_reason"]:
                fallbacks[draft["fallback_reason"][:120]] += 1
            elif not repaired:
                # A repaired draft's count is the sum of two prompts; the budget is per prompt.
                prompt_tokens.append(draft["tokens"]["prompt"])
            dropped += sum(1 for note in draft["notes"] if "dropped to fit" in note)
    return {
        "ttft_ms": ttft,
        "first_stage_ms": first_stage,
        "total_ms": totals,
        "stages": stages,
        "prompt_tokens": prompt_tokens,
        "generators": dict(generators),
        "fallbacks": dict(fallbacks),
        "passages_dropped_for_budget": dropped,
        "errors": errors,
        "repaired": repairs,
        "without_passages": no_passages,
    }


async def prompt_build_probe(n: int, base_url: str, db_url: str) -> dict[str, Any]:
    """In-process: how long LLMGenerator.build takes (render + count tokens, dropping passages to fit)."""
    import msgspec

    from app.drafts.schemas import DraftIn
    from app.services import Services

    settings = common.make_settings(
        database_url=db_url,
        llm_base_url=base_url,
        llm_model="fake-model",
        prompt_token_budget=PROMPT_TOKEN_BUDGET,
    )
    services = await Services.start(settings)
    build_ms: list[float] = []
    prepare_ms: list[float] = []
    iterations: list[int] = []
    try:
        drafter = services.require_drafter()
        assert drafter.llm is not None
        for i, ticket in enumerate(tickets(n + 5, "probe")):
            request = msgspec.convert(body_of(ticket, "llm"), DraftIn)
            started = time.perf_counter()
            ctx = await drafter.prepare(request, {})
            prepared = ms_since(started)
            started = time.perf_counter()
            _, _, _, notes = drafter.llm.build(ctx)
            built = ms_since(started)
            if i >= 5:
                prepare_ms.append(prepared)
                build_ms.append(built)
                iterations.append(1 + sum(1 for note in notes if "dropped to fit" in note))
    finally:
        await services.close()
    return {
        "prepare_ms": summary(prepare_ms),
        "build_ms": summary(build_ms),
        "renders_per_prompt": summary([float(x) for x in iterations]),
    }


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, help="Measured template drafts (default 300; quick 60).")
    p.add_argument("--stream-requests", type=int, help="Measured streamed LLM drafts (default 200; quick 40).")
    args = p.parse_args()
    n = args.requests or (60 if args.quick else 300)
    n_stream = args.stream_requests or (40 if args.quick else 200)
    warmup = 10
    common.isolate_environment()
    report = Report("drafts", args.quick)
    common.print_machine()
    heading("prepare (replydesk setup)")
    setup_s = common.prepare()

    heading(f"template drafts: POST /v1/drafts, {n} sequential requests (tickets with orders, {warmup} warm-up)")
    db_url, key = common.fresh_database("drafts-template")
    with Server("drafts-template", common.base_settings(database_url=db_url)) as server:
        tpl = template_run(server, key, n, warmup)
        tpl_memory = server.memory_mib()
    t = summary(tpl["client_ms"])
    h = summary(tpl["health_ms"])
    print_table(
        ["measurement", "n", "p50 ms", "p95 ms", "mean ms"],
        [
            ["HTTP POST /v1/drafts (client)", t["n"], t["p50"], t["p95"], t["mean"]],
            *stage_table(tpl["stages"]),
            ["GET /health (HTTP floor)", h["n"], h["p50"], h["p95"], h["mean"]],
        ],
    )
    server_total = summary(tpl["stages"]["total_ms"])
    print(
        "\nHTTP + database share of a draft (client p50 - drafter p50): "
        f"{t['p50'] - server_total['p50']:.1f} ms; "
        f"ratio client/drafter p50 {t['p50'] / server_total['p50']:.2f}x"
    )
    print(f"languages: {dict(sorted(tpl['languages'].items()))}")

    heading(f"LLM drafts against the fake server (zero latency): POST /v1/drafts/stream, {n_stream} requests")
    db_url, key = common.fresh_database("drafts-llm")
    with FakeLLM(latency=0.0) as fake:
        llm_settings = common.base_settings(
            database_url=db_url,
            llm_base_url=fake.base_url,
            llm_api_key="bench",
            llm_model="fake-model",
            prompt_token_budget=PROMPT_TOKEN_BUDGET,
        )
        with Server("drafts-llm", llm_settings) as server:
            llm = llm_run(server, key, n_stream, 5)
        fake_stats = fake.stats()
    ttft = summary(llm["ttft_ms"])
    fs = summary(llm["first_stage_ms"])
    tot = summary(llm["total_ms"])
    print_table(
        ["measurement", "n", "p50 ms", "p95 ms", "mean ms"],
        [
            ["client: request -> first token event", ttft["n"], ttft["p50"], ttft["p95"], ttft["mean"]],
            ["client: request -> first stage event", fs["n"], fs["p50"], fs["p95"], fs["mean"]],
            ["client: request -> stream end", tot["n"], tot["p50"], tot["p95"], tot["mean"]],
            *stage_table(llm["stages"]),
        ],
    )
    pt = summary([float(x) for x in llm["prompt_tokens"]], 0)  # drafts neither repaired nor fallen back
    over = sum(1 for x in llm["prompt_tokens"] if x > PROMPT_TOKEN_BUDGET)
    print(
        f"\nprompt tokens per LLM draft: p50 {pt.get('p50')}, p95 {pt.get('p95')}, max {pt.get('max')} "
        f"(budget {PROMPT_TOKEN_BUDGET}; over budget: {over}; passages dropped to fit: "
        f"{llm['passages_dropped_for_budget']})"
    )
    print(
        f"generators: {llm['generators']}; fallbacks: {sum(llm['fallbacks'].values())}; stream errors: "
        f"{len(llm['errors'])}; "
        f"fake LLM: {fake_stats['calls']} calls ({fake_stats['stream_calls']} streamed)"
    )
    for reason, count in llm["fallbacks"].items():
        print(f"  fallback x{count}: {reason}")
    for error in llm["errors"][:5]:
        print(f"  error: {error}")
    print(f"repaired after the checks: {llm['repaired']}; drafts without any passage: {llm['without_passages']}")
    if "checks_ms" not in llm["stages"]:
        print("note: an LLM draft records no checks_ms: the guardrail checks run inside the llm_ms window")

    heading("in-process: Drafter.prepare and LLMGenerator.build (prompt render + token count) per ticket")
    with FakeLLM(latency=0.0) as fake:
        db_url, _ = common.fresh_database("drafts-probe")
        probe = asyncio.run(prompt_build_probe(min(n_stream, 60), fake.base_url, db_url))
    print_table(
        ["measurement", "n", "p50", "p95", "mean"],
        [
            [
                "Drafter.prepare (triage, facts, retrieval) ms",
                *(probe["prepare_ms"][k] for k in ("n", "p50", "p95", "mean")),
            ],
            ["LLMGenerator.build ms", *(probe["build_ms"][k] for k in ("n", "p50", "p95", "mean"))],
            [
                "prompt renders per draft (budget trimming)",
                *(probe["renders_per_prompt"][k] for k in ("n", "p50", "p95", "mean")),
            ],
        ],
    )

    heading("targets")
    report.target("template draft p50 (HTTP)", t["p50"], "<=", 60, "ms", f"drafter p50 {server_total['p50']} ms")
    report.target(
        "LLM stream: our overhead to first token p50",
        ttft["p50"],
        "<=",
        50,
        "ms",
        f"server first_token_ms p50 {summary(llm['stages'].get('first_token_ms', [])).get('p50')} ms",
    )
    report.target(
        "LLM prompt tokens p95 vs budget",
        pt.get("p95"),
        "<=",
        PROMPT_TOKEN_BUDGET,
        "tokens",
        f"max {pt.get('max')}",
    )
    report.print_targets()
    report.details.update(
        {
            "setup_seconds": round(setup_s, 2),
            "template": {
                "client_ms": t,
                "health_floor_ms": h,
                "server_stages_ms": {k: summary(v) for k, v in tpl["stages"].items()},
                "generators": tpl["generators"],
                "languages": tpl["languages"],
                "server_memory_mib": tpl_memory,
            },
            "llm_stream": {
                "ttft_ms": ttft,
                "first_stage_ms": fs,
                "stream_total_ms": tot,
                "server_stages_ms": {k: summary(v) for k, v in llm["stages"].items()},
                "prompt_tokens": pt,
                "prompt_token_budget": PROMPT_TOKEN_BUDGET,
                "over_budget": over,
                "passages_dropped_for_budget": llm["passages_dropped_for_budget"],
                "generators": llm["generators"],
                "fallbacks": llm["fallbacks"],
                "errors": llm["errors"][:20],
                "fake_llm": fake_stats,
                "repaired": llm["repaired"],
                "without_passages": llm["without_passages"],
            },
            "in_process_probe": probe,
            "notes": [
                "sequential requests from one keep-alive client on the same machine; each phase uses a "
                "fresh SQLite file",
                "the fake LLM answers at once, so time to first token is the service's own overhead",
            ],
        }
    )
    report.write()


if __name__ == "__main__":
    main()
