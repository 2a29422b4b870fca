"""Shared helpers for the benchmarks in bench/.

Each benchmark prepares its own data directory with `replydesk setup` (idempotent, so only the
first run on a fresh clone pays for training the triage model and embedding the KB), starts
`replydesk serve` on a free 127.0.0.1 port when it needs HTTP, and prints a table of measured
values next to their targets. Nothing here asserts: a missed target is reported as MISS.

Reproducibility: ``REPLYDESK_*`` variables of the caller's environment are ignored and the server
runs with its working directory in ``bench/.work`` (so a developer's ``.env`` is not read); every
setting a benchmark depends on is passed explicitly. Servers never bind anything but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
WORK = BENCH / ".work"
RESULTS = BENCH / "results"
DATA = WORK / "data"
LOGS = WORK / "logs"
HOST = "127.0.0.1"

# `python bench/x.py` puts bench/ first on the path; the repo root must come before it, or
# `import evals` would find bench/evals.py instead of the evals package.
while str(ROOT) in sys.path:
    sys.path.remove(str(ROOT))
sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------- environment
def isolate_environment() -> None:
    """Drop the caller's REPLYDESK_* variables so in-process Settings match the server's."""
    for key in [k for k in os.environ if k.startswith("REPLYDESK_")]:
        del os.environ[key]


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def base_settings(data_dir: Path = DATA, **overrides: Any) -> dict[str, Any]:
    """The settings every benchmark uses, as field -> value (for Settings(...) and for env)."""
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "kb_sources": ROOT / "kb_sources",
        "triage_dataset": ROOT / "evals" / "datasets" / "triage",
        "log_level": "WARNING",
        "rate_limit_per_minute": 0,  # a benchmark is one key sending far more than 600/min
        "llm_base_url": "",
        "judge_base_url": "",  # evals: every metric but the LLM judge
        "chroma_url": "",
        "database_url": "",
        "embeddings": "bundled",
        "workers": 1,
    }
    values.update(overrides)
    return values


def settings_env(values: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPLYDESK_")}
    for name, value in values.items():
        env[f"REPLYDESK_{name.upper()}"] = json.dumps(value) if isinstance(value, dict | list) else str(value)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def make_settings(**overrides: Any) -> Any:
    """A Settings object for in-process measurements, with the same values the server gets."""
    from app.settings import Settings

    values = base_settings(**overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def replydesk_command() -> list[str]:
    script = Path(sys.executable).parent / "replydesk"
    return [str(script)] if script.exists() else [sys.executable, "-m", "app.cli"]


# ---------------------------------------------------------------- preparation
def prepare(data_dir: Path = DATA, *, quiet: bool = False) -> float:
    """`replydesk setup` into ``data_dir`` (idempotent). Returns its wall time in seconds."""
    WORK.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    result = subprocess.run(  # noqa: PLW1510 (checked below with the output shown)
        [*replydesk_command(), "setup"],
        env=settings_env(base_settings(data_dir)),
        cwd=WORK,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"`replydesk setup` failed with exit code {result.returncode}")
    if not quiet:
        for line in result.stdout.splitlines():
            # Never echo the freshly created key; it is in <data_dir>/api-key.txt.
            if line.strip().startswith("rdk_"):
                continue
            if line.strip():
                print(f"  setup: {line.strip()}")
    return seconds


def admin_key(data_dir: Path = DATA) -> str:
    """The key `replydesk setup` wrote for the setup database."""
    return (data_dir / "api-key.txt").read_text().strip()


def fresh_database(name: str) -> tuple[str, str]:
    """A new, migrated SQLite file under bench/.work/db and an admin key for it.

    Every run starts from an empty database so numbers do not drift as tables grow run after run.
    """
    from app.auth.keys import create_key
    from app.db.base import create_engine, create_sessionmaker
    from app.db.migrate import upgrade

    folder = WORK / "db"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.db"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    url = sqlite_url(path)
    upgrade(url)

    async def key() -> str:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session:
                return (await create_key(session, "bench-admin", ["admin"])).secret
        finally:
            await engine.dispose()

    return url, asyncio.run(key())


# ---------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A `replydesk serve` subprocess on 127.0.0.1."""

    name: str
    settings: dict[str, Any]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    ready_seconds: float | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, *, timeout: float = 120.0) -> float:
        """Spawn and poll /ready; return seconds from spawn to the first 200 from /ready."""
        import httpx

        self.port = self.port or free_port()
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{self.name}.log"
        values = {**self.settings, "host": HOST, "port": self.port}
        log = self.log_path.open("wb")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [*replydesk_command(), "serve", "--host", HOST, "--port", str(self.port)],
            env=settings_env(values),
            cwd=WORK,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        with httpx.Client(timeout=2.0) as client:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server {self.name} exited with {self.process.returncode}:\n{self.log_tail()}")
                try:
                    response = client.get(f"{self.url}/ready")
                    if response.status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.perf_counter() - started > timeout:
                    self.stop()
                    raise RuntimeError(f"server {self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")
                time.sleep(0.02)
        self.ready_seconds = time.perf_counter() - started
        return self.ready_seconds

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def memory_mib(self) -> dict[str, float]:
        return memory_mib(self.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGINT)  # uvicorn shuts down gracefully on SIGINT
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def __enter__(self) -> Server:
        if self.process is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def memory_mib(pid: int | str = "self") -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak resident) of a process, in MiB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(value.split()[0]) / 1024, 1)
    return out


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# ---------------------------------------------------------------- statistics
def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile, q in [0, 1] (numpy's default method)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def summary(values: Sequence[float], digits: int = 2) -> dict[str, Any]:
    """n, p50, p95, p99, mean, min, max of a list of numbers (milliseconds, usually)."""
    if not values:
        return {"n": 0}

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, digits)

    return {
        "n": len(values),
        "p50": r(percentile(values, 0.5)),
        "p95": r(percentile(values, 0.95)),
        "p99": r(percentile(values, 0.99)),
        "mean": r(sum(values) / len(values)),
        "min": r(min(values)),
        "max": r(max(values)),
    }


def ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


# ---------------------------------------------------------------- targets and output
@dataclass
class Target:
    name: str
    value: float | None
    op: str  # "<=" or ">="
    target: float
    unit: str
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.value is None:
            return "n/a"
        ok = self.value <= self.target if self.op == "<=" else self.value >= self.target
        return "PASS" if ok else "MISS"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "op": self.op,
            "target": self.target,
            "unit": self.unit,
            "verdict": self.verdict,
            "note": self.note,
        }


def cpu_calibration_ms() -> float:
    """Best of three runs of a fixed pure-Python loop: how fast (and how contended) this CPU is now.

    Compare it between runs before comparing their latencies: a run whose calibration is twice
    as slow was on a busier or slower machine.
    """
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i * i
        best = min(best, ms_since(started))
    return round(best, 1)


@dataclass
class Report:
    """What one benchmark measured: targets (with verdicts) and any further details."""

    name: str
    quick: bool
    targets: list[Target] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    calibration_start_ms: float = field(default_factory=cpu_calibration_ms)
    load_start: list[float] = field(default_factory=lambda: [round(x, 2) for x in os.getloadavg()])

    def target(self, name: str, value: float | None, op: str, target: float, unit: str, note: str = "") -> Target:
        item = Target(name, None if value is None else round(float(value), 3), op, target, unit, note)
        self.targets.append(item)
        return item

    def print_targets(self) -> None:
        print_table(
            ["target", "measured", "goal", "verdict", "note"],
            [
                [t.name, fmt(t.value, t.unit), f"{t.op} {fmt(t.target, t.unit)}", t.verdict, t.note]
                for t in self.targets
            ],
        )

    def write(self) -> Path:
        RESULTS.mkdir(parents=True, exist_ok=True)
        path = RESULTS / f"{self.name}.json"
        data = {
            "benchmark": self.name,
            "started_at": self.started_at,
            "seconds": round(time.perf_counter() - self.started, 1),
            "quick": self.quick,
            "machine": {
                **machine_facts(),
                "load_average_at_start": self.load_start,
                "cpu_calibration_ms": {"start": self.calibration_start_ms, "end": cpu_calibration_ms()},
            },
            "targets": [t.as_dict() for t in self.targets],
            **self.details,
        }
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
        print(f"\nwrote {path.relative_to(ROOT)}")
        return path


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:.1f}" if abs(value) >= 100 else f"{value:.2f}"
    else:
        text = f"{int(value):,}"
    return f"{text} {unit}".strip()


def print_table(header: list[str], rows: Iterable[Sequence[Any]]) -> None:
    rows = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line.rstrip())
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def heading(text: str) -> None:
    print(f"\n== {text}")


def machine_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts["memory_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return facts


def print_machine() -> None:
    m = machine_facts()
    print(
        f"machine: {m['cpus_usable']} usable CPUs ({m.get('cpu_model', '?')}), {m.get('memory_gib', '?')} "
        "GiB, "
        f"{m['platform']}, Python {m['python']}, load {m['load_average']}, "
        f"CPU calibration {cpu_calibration_ms()} ms (lower is faster; compare between runs)"
    )


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="Smaller sizes: a smoke run, not a measurement.")
    return p


def clean_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for file in sorted(path.glob("*.jsonl")) if path.is_dir() else [path]:
        with file.open(encoding="utf-8") as handle:
            rows.extend(json.loads(line) for line in handle if line.strip())
    return rows


TICKET_FIELDS = (
    "message",
    "subject",
    "channel",
    "customer",
    "order",
    "history",
    "language_hint",
    "received_at",
)


def ticket_payload(row: dict[str, Any], external_id: str | None = None) -> dict[str, Any]:
    """A labeled dataset row as the API's TicketIn body (labels and gold answers removed)."""
    body = {k: row[k] for k in TICKET_FIELDS if row.get(k) is not None}
    if external_id:
        body["external_id"] = external_id
    return body


def dataset_tickets(*, with_order: bool = False) -> list[dict[str, Any]]:
    """The labeled tickets, interleaved across languages so any prefix is multilingual."""
    by_language: dict[str, list[dict[str, Any]]] = {}
    for file in sorted((ROOT / "evals" / "datasets" / "triage").glob("*.jsonl")):
        rows = [r for r in load_jsonl(file) if not with_order or r.get("order")]
        by_language[file.stem] = rows
    out: list[dict[str, Any]] = []
    longest = max(len(v) for v in by_language.values())
    for i in range(longest):
        for rows in by_language.values():
            if i < len(rows):
                out.append(rows[i])
    return out
