"""Review actions on SQLite over HTTP: approve/edit latency, then 200 concurrent agents.

    .venv/bin/python bench/review.py [--quick] [--agents 200] [--seconds 60] [--think-ms 0]

1. Sequential: create template drafts, then approve half and edit the other half, one request at
   a time: p50 <= 15 ms for each action.
2. Load: ``--agents`` asyncio tasks share one httpx.AsyncClient for ``--seconds``. Each agent
   loops: read a random ticket (GET /v1/tickets/{id}); if it has a suggested draft, read it and
   approve or edit it (If-Match: version); if its draft was reviewed, mark it sent; if that too is
   done, generate a new draft for the ticket; now and then it regenerates a draft with an
   instruction anyway. With no think time (the default) this is a stress test: the agents keep
   the server saturated. 409 answers (two agents on one draft) are expected and counted apart;
   5xx answers, transport errors and any other 4xx are errors (target: zero).
Afterwards the audit trail in the database is checked against the client's successful actions.
"""

from __future__ import annotations

import asyncio
import random
import resource
import sqlite3
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import common
from common import Report, Server, auth, heading, ms_since, print_table, summary

INSTRUCTIONS = ["shorter please", "apologise for the delay", "more formal", "offer a replacement"]


def tickets(n: int, tag: str) -> list[dict[str, Any]]:
    rows = common.dataset_tickets(with_order=True)
    return [
        common.ticket_payload(rows[i % len(rows)], external_id=f"{rows[i % len(rows)]['id']}-{tag}-{i}")
        for i in range(n)
    ]


async def create_drafts(client: Any, server: Server, key: str, n: int, tag: str) -> list[dict[str, Any]]:
    out = []
    for ticket in tickets(n, tag):
        response = await client.post(
            f"{server.url}/v1/drafts", json={**ticket, "generator": "template"}, headers=auth(key)
        )
        if response.status_code != 201:
            raise RuntimeError(f"creating a draft failed: {response.status_code} {response.text[:300]}")
        out.append(response.json())
    return out


# ---------------------------------------------------------------- 1. sequential
async def sequential(server: Server, key: str, n: int) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(timeout=60.0) as client:
        drafts = await create_drafts(client, server, key, n, "seq")
        times: dict[str, list[float]] = defaultdict(list)
        for _ in range(100):
            started = time.perf_counter()
            await client.get(f"{server.url}/health")
            times["health"].append(ms_since(started))
        for i, draft in enumerate(drafts):
            # One reader, one request at a time: the service time the load phase is compared with.
            started = time.perf_counter()
            response = await client.get(f"{server.url}/v1/tickets/{draft['ticket_id']}", headers=auth(key))
            if i >= 10:
                times["read_ticket"].append(ms_since(started))
            response.raise_for_status()
        for i, draft in enumerate(drafts):
            action = "approve" if i % 2 == 0 else "edit"
            headers = {**auth(key), "If-Match": f'"{draft["version"]}"', "X-Agent-Id": "bench-seq"}
            body = {} if action == "approve" else {"body": draft["body"] + "\n\nP.S. We will keep you updated."}
            started = time.perf_counter()
            response = await client.post(f"{server.url}/v1/drafts/{draft['id']}/{action}", json=body, headers=headers)
            elapsed = ms_since(started)
            if response.status_code != 200:
                raise RuntimeError(f"{action} failed: {response.status_code} {response.text[:300]}")
            if i >= 10:  # the first five of each are warm-up
                times[action].append(elapsed)
    return {k: summary(v) for k, v in times.items()}


# ---------------------------------------------------------------- 2. concurrent agents
@dataclass
class Tally:
    latency: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    status: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    errors: list[str] = field(default_factory=list)
    transport_errors: int = 0
    conflicts: int = 0
    idle: int = 0

    def record(self, op: str, status: int, elapsed: float, detail: str = "") -> None:
        self.latency[op].append(elapsed)
        self.status[op][status] += 1
        if status == 409:
            self.conflicts += 1
        elif status >= 500 or (status >= 400 and status != 409):
            self.errors.append(f"{op}: HTTP {status} {detail[:200]}")


async def agent(
    number: int,
    client: Any,
    *,
    base: str,
    key: str,
    pool: list[str],
    deadline: float,
    think: float,
    tally: Tally,
    rng: random.Random,
) -> None:
    import httpx

    headers = {**auth(key), "X-Agent-Id": f"agent-{number:03d}"}

    async def call(op: str, method: str, url: str, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)
        except httpx.TransportError as exc:
            tally.transport_errors += 1
            tally.errors.append(f"{op}: {type(exc).__name__}: {exc}"[:200])
            return None
        tally.record(op, response.status_code, ms_since(started), response.text if response.status_code >= 400 else "")
        return response

    while time.perf_counter() < deadline:
        ticket_id = rng.choice(pool)
        response = await call("read_ticket", "GET", f"{base}/v1/tickets/{ticket_id}")
        if response is None or response.status_code != 200:
            continue
        drafts = response.json()["drafts"]
        suggested = [d for d in drafts if d["state"] == "suggested"]
        reviewed = [d for d in drafts if d["state"] in ("approved", "edited")]
        if rng.random() < 0.03:
            body = {"instructions": [rng.choice(INSTRUCTIONS)], "generator": "template"}
            await call("create_draft", "POST", f"{base}/v1/tickets/{ticket_id}/drafts", json=body)
        elif suggested:
            draft_id = suggested[-1]["id"]
            response = await call("read_draft", "GET", f"{base}/v1/drafts/{draft_id}")
            if response is None or response.status_code != 200:
                continue
            draft = response.json()
            if_match = {"If-Match": f'"{draft["version"]}"'}
            if think:
                await asyncio.sleep(rng.uniform(0, 2 * think))
            if rng.random() < 0.5:
                await call("approve", "POST", f"{base}/v1/drafts/{draft_id}/approve", json={}, headers=if_match)
            else:
                edited = draft["body"] + f"\n\n(checked by agent {number})"
                await call(
                    "edit",
                    "POST",
                    f"{base}/v1/drafts/{draft_id}/edit",
                    json={"body": edited},
                    headers=if_match,
                )
        elif reviewed:
            d = reviewed[-1]
            await call(
                "sent",
                "POST",
                f"{base}/v1/drafts/{d['id']}/sent",
                json={},
                headers={"If-Match": f'"{d["version"]}"'},
            )
        else:
            tally.idle += 1
            await call(
                "create_draft",
                "POST",
                f"{base}/v1/tickets/{ticket_id}/drafts",
                json={"generator": "template"},
            )
        if think:
            await asyncio.sleep(rng.uniform(0, 2 * think))


async def reader(
    client: Any, base: str, *, key: str, pool: list[str], deadline: float, tally: Tally, rng: random.Random
) -> None:
    import httpx

    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            response = await client.get(f"{base}/v1/tickets/{rng.choice(pool)}", headers=auth(key))
        except httpx.TransportError as exc:
            tally.transport_errors += 1
            tally.errors.append(f"read_ticket: {type(exc).__name__}")
            continue
        tally.record(
            "read_ticket",
            response.status_code,
            ms_since(started),
            response.text if response.status_code >= 400 else "",
        )


async def load(
    server: Server,
    key: str,
    *,
    agents: int,
    seconds: float,
    pool_size: int,
    think_ms: float,
    read_seconds: float,
) -> dict[str, Any]:
    import httpx

    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout closes them: with equal
    # timeouts a request can be sent on a connection the server is closing (a ReadError).
    limits = httpx.Limits(max_connections=agents + 50, max_keepalive_connections=agents + 50, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(120.0), limits=limits) as client:
        started = time.perf_counter()
        drafts = await create_drafts(client, server, key, pool_size, "load")
        print(f"  created {pool_size} tickets with a suggested draft in {time.perf_counter() - started:.1f} s")
        pool = sorted({d["ticket_id"] for d in drafts})
        # Baseline in the same run: the same number of agents only reading tickets.
        reads = Tally()
        cpu_reads = server.cpu_seconds()
        usage_reads = resource.getrusage(resource.RUSAGE_SELF)
        started = time.perf_counter()
        await asyncio.gather(
            *(
                reader(
                    client,
                    server.url,
                    key=key,
                    pool=pool,
                    deadline=started + read_seconds,
                    tally=reads,
                    rng=random.Random(i),
                )
                for i in range(agents)
            )
        )
        read_wall = time.perf_counter() - started
        usage_after = resource.getrusage(resource.RUSAGE_SELF)
        read_only = {
            **summary(reads.latency["read_ticket"]),
            "per_second": round(len(reads.latency["read_ticket"]) / read_wall, 1),
            "errors": len(reads.errors),
            "seconds": round(read_wall, 2),
            "server_cpu_seconds": round(server.cpu_seconds() - cpu_reads, 1),
            "client_cpu_seconds": round(
                usage_after.ru_utime - usage_reads.ru_utime + usage_after.ru_stime - usage_reads.ru_stime, 1
            ),
        }
        tally = Tally()
        rusage0 = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = server.cpu_seconds()
        started = time.perf_counter()
        deadline = started + seconds
        rng = random.Random(7)
        await asyncio.gather(
            *(
                agent(
                    i,
                    client,
                    base=server.url,
                    key=key,
                    pool=pool,
                    deadline=deadline,
                    think=think_ms / 1000,
                    tally=tally,
                    rng=random.Random(rng.random()),
                )
                for i in range(agents)
            )
        )
        wall = time.perf_counter() - started
        rusage1 = resource.getrusage(resource.RUSAGE_SELF)
        server_cpu = server.cpu_seconds() - cpu0
    client_cpu = (rusage1.ru_utime - rusage0.ru_utime) + (rusage1.ru_stime - rusage0.ru_stime)
    total = sum(len(v) for v in tally.latency.values())
    return {
        "read_only_baseline": read_only,
        "wall_seconds": round(wall, 2),
        "requests": total,
        "requests_per_second": round(total / wall, 1),
        "per_operation": {
            op: {
                **summary(v),
                "status": dict(sorted(tally.status[op].items())),
                "per_second": round(len(v) / wall, 1),
            }
            for op, v in sorted(tally.latency.items())
        },
        "conflicts_409": tally.conflicts,
        "errors": len(tally.errors),
        "transport_errors": tally.transport_errors,
        "error_samples": tally.errors[:20],
        "tickets_without_work": tally.idle,
        "client_cpu_seconds": round(client_cpu, 1),
        "server_cpu_seconds": round(server_cpu, 1),
        "ok_actions": {op: tally.status[op].get(200, 0) for op in ("approve", "edit", "sent")},
    }


def audit_check(db_path: str, ok_actions: dict[str, int], sequential_actions: dict[str, int]) -> dict[str, Any]:
    """Each successful action has exactly one audit event; no draft was approved twice."""
    with sqlite3.connect(db_path) as db:
        events = dict(db.execute("SELECT action, COUNT(*) FROM audit_events GROUP BY action").fetchall())
        doubled = db.execute(
            "SELECT COUNT(*) FROM (SELECT draft_id FROM audit_events WHERE action IN "
            "('approve','edit','reject') "
            "GROUP BY draft_id HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        orphans = db.execute(
            "SELECT COUNT(*) FROM drafts d WHERE d.version - 1 != (SELECT COUNT(*) FROM audit_events a "
            "WHERE a.draft_id = d.id AND a.action != 'create')"
        ).fetchone()[0]
    expected = {k: ok_actions.get(k, 0) + sequential_actions.get(k, 0) for k in ("approve", "edit", "sent")}
    mismatches = {
        k: {"client_ok": v, "audit_events": events.get(k, 0)} for k, v in expected.items() if events.get(k, 0) != v
    }
    return {
        "audit_events": events,
        "drafts_reviewed_twice": doubled,
        "drafts_version_without_audit": orphans,
        "mismatches": mismatches,
    }


def main() -> None:
    p = common.parser(__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, help="Drafts to approve/edit sequentially (default 300; quick 60).")
    p.add_argument("--agents", type=int, default=200)
    p.add_argument("--seconds", type=float, help="Load duration (default 60; quick 15).")
    p.add_argument("--pool", type=int, help="Tickets with drafts the agents share (default 300; quick 60).")
    p.add_argument("--think-ms", type=float, default=0.0, help="Mean think time before each action (0: stress).")
    args = p.parse_args()
    n = args.requests or (60 if args.quick else 300)
    seconds = args.seconds or (15 if args.quick else 60)
    pool = args.pool or (60 if args.quick else 300)
    common.isolate_environment()
    report = Report("review", args.quick)
    common.print_machine()
    heading("prepare (replydesk setup)")
    setup_s = common.prepare()
    db_url, key = common.fresh_database("review")
    db_path = db_url.split(":///", 1)[1]

    with Server("review", common.base_settings(database_url=db_url)) as server:
        heading(f"sequential approve / edit on SQLite: {n} template drafts, then one action each")
        seq = asyncio.run(sequential(server, key, n))
        print_table(
            ["action", "n", "p50 ms", "p95 ms", "p99 ms", "max ms"],
            [[k, v["n"], v["p50"], v["p95"], v["p99"], v["max"]] for k, v in seq.items()],
        )
        heading(
            f"{args.agents} concurrent agents for {seconds:.0f} s (think time {args.think_ms:g} ms, {pool} "
            "shared tickets)"
        )
        result = asyncio.run(
            load(
                server,
                key,
                agents=args.agents,
                seconds=seconds,
                pool_size=pool,
                think_ms=args.think_ms,
                read_seconds=5 if args.quick else 15,
            )
        )
        memory = server.memory_mib()
    rows = []
    for op, s in result["per_operation"].items():
        rows.append(
            [
                op,
                s["n"],
                s["per_second"],
                s["p50"],
                s["p95"],
                s["p99"],
                s["max"],
                " ".join(f"{k}:{v}" for k, v in s["status"].items()),
            ]
        )
    print_table(["operation", "n", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "status counts"], rows)
    ro = result["read_only_baseline"]
    single = 1000 / seq["read_ticket"]["p50"]
    print(
        f"\nbaseline, same agents only reading tickets: {ro['per_second']} req/s, p50 {ro['p50']} ms, p95 "
        f"{ro['p95']} ms, errors {ro['errors']} "
        f"(one sequential reader: p50 {seq['read_ticket']['p50']} ms = {single:.0f} req/s; ratio "
        f"{ro['per_second'] / single:.2f}); "
        f"CPU: server {ro['server_cpu_seconds']} s, client {ro['client_cpu_seconds']} s in {ro['seconds']} s"
    )
    print(
        f"{result['requests']} requests in {result['wall_seconds']} s = {result['requests_per_second']} "
        "req/s; "
        f"409 conflicts {result['conflicts_409']}; errors {result['errors']} (transport "
        f"{result['transport_errors']})"
    )
    print(
        f"CPU during the load: server {result['server_cpu_seconds']} s, this client "
        f"{result['client_cpu_seconds']} s "
        f"(of {result['wall_seconds'] * common.machine_facts()['cpus_usable']:.0f} CPU-seconds available); "
        f"server RSS {memory['VmRSS']} MiB"
    )
    for sample in result["error_samples"][:10]:
        print(f"  error: {sample}")
    seq_ok = {"approve": seq["approve"]["n"] + 5, "edit": seq["edit"]["n"] + 5}
    audit = audit_check(db_path, result["ok_actions"], seq_ok)
    print(
        f"audit trail: events {audit['audit_events']}; drafts reviewed twice "
        f"{audit['drafts_reviewed_twice']}; "
        f"drafts whose version has no audit event {audit['drafts_version_without_audit']}; mismatches "
        f"{audit['mismatches'] or 'none'}"
    )

    heading("targets")
    report.target(
        "approve p50 (sequential)",
        seq["approve"]["p50"],
        "<=",
        15,
        "ms",
        f"/health floor p50 {seq['health']['p50']} ms",
    )
    report.target("edit p50 (sequential)", seq["edit"]["p50"], "<=", 15, "ms")
    report.target(
        f"errors with {args.agents} agents (5xx, transport, unexpected 4xx)",
        result["errors"] + ro["errors"],
        "<=",
        0,
        "",
        f"{result['conflicts_409']} expected 409s",
    )
    integrity = audit["drafts_reviewed_twice"] + audit["drafts_version_without_audit"] + len(audit["mismatches"])
    report.target("audit-trail inconsistencies", integrity, "<=", 0, "")
    report.print_targets()
    report.details.update(
        {
            "setup_seconds": round(setup_s, 2),
            "sequential_ms": seq,
            "load": {
                **result,
                "agents": args.agents,
                "seconds": seconds,
                "think_ms": args.think_ms,
                "pool": pool,
            },
            "audit": audit,
            "server_memory_mib": memory,
            "notes": [
                "one replydesk serve process (1 worker) on SQLite; the client runs on the same machine and "
                "its CPU use is reported",
                "with no think time the agents saturate the server: latencies under load are mostly queueing",
            ],
        }
    )
    report.write()


if __name__ == "__main__":
    main()
