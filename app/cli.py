"""The `replydesk` command.

replydesk setup                      prepare everything `serve` needs (idempotent)
replydesk serve [--host H] [--port P] [--workers N] [--triage-model DIR]
replydesk db upgrade
replydesk triage train --dataset PATH --out DIR [--split train|all]
replydesk triage text "message" [--subject S] [--triage-model DIR]
replydesk kb ingest [PATH] [--force]
replydesk kb search "query" [--language L] [--seller S] [--k N] [--mode hybrid|dense|lexical]
replydesk keys create --name N --scopes a,b | keys list | keys revoke ID
replydesk eval run | eval compare | eval import      (see evals/README.md)
replydesk feedback export --out PATH
replydesk settings [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from app.settings import Settings, get_settings, masked_url


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "triage_model", None):
        overrides["triage_model"] = Path(args.triage_model)
    settings = get_settings()
    return settings.model_copy(update=overrides) if overrides else settings


def _prepare(settings: Settings) -> None:
    from app.lib import tokens

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    tokens.configure(settings.tiktoken_cache_dir)


# ---------------------------------------------------------------- serve / setup / db
def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = _settings(args)
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    if args.triage_model:
        # Workers re-read settings from the environment; pass the override the same way.
        import os

        os.environ["REPLYDESK_TRIAGE_MODEL"] = str(Path(args.triage_model).resolve())
        get_settings.cache_clear()
    uvicorn.run(
        "app.factory:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        access_log=False,
        # Longer than common HTTP clients' idle keep-alive (5 s), so a reused connection is
        # never closed under a client that is just about to send on it.
        timeout_keep_alive=30,
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from app.db.migrate import upgrade

    settings = _settings(args)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.resolved_database_url)
    print(f"database at head ({masked_url(settings.resolved_database_url)})")
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    """Everything `serve` needs, each step skipped when already done."""
    from app.db.migrate import upgrade
    from app.triage.training import model_is_current, train_dataset
    from retrieval.embeddings import BundledEmbedder

    settings = _settings(args)
    _prepare(settings)
    print(f"tokenizer cache ready in {settings.tiktoken_cache_dir}")
    upgrade(settings.resolved_database_url)
    print(f"database migrated ({masked_url(settings.resolved_database_url)})")
    embedder = BundledEmbedder()
    model_dir = settings.resolved_triage_model
    if settings.triage_model is None and not model_is_current(model_dir, settings.triage_dataset):
        report = train_dataset(settings.triage_dataset, model_dir, embedder)
        print(
            f"triage model trained on {report.used} tickets -> {model_dir} ({report.model.manifest['train_seconds']} s)"
        )
    else:
        print(f"triage model up to date in {model_dir}")
    summary = asyncio.run(_ingest(settings, settings.kb_sources, force=False, quiet=True))
    print(f"knowledge base: {summary}")
    key_file = settings.resolved_api_key_file
    if getattr(args, "no_key", False):
        print("no API key created (--no-key)")
    elif not key_file.exists():
        created = asyncio.run(_create_key(settings, "local-admin", ["admin"]))
        key_file.write_text(created + "\n")
        key_file.chmod(0o600)
        print(f"\nCreated a local admin API key (shown once; also saved to {key_file}):\n\n    {created}\n")
    else:
        print(f"API key already created (see {key_file})")
    return 0


# ---------------------------------------------------------------- triage
def cmd_triage_train(args: argparse.Namespace) -> int:
    from app.triage.training import train_dataset
    from retrieval.embeddings import BundledEmbedder

    report = train_dataset(Path(args.dataset), Path(args.out), BundledEmbedder(), part=args.split)
    manifest = report.model.manifest
    print(
        f"trained {', '.join(manifest['heads'])} on {report.used} tickets in {manifest['train_seconds']} s -> {args.out}"
    )
    for head, labels in manifest["heads"].items():
        print(f"  {head}: {len(labels)} labels")
    for error in report.dataset.errors[:20]:
        print(f"  skipped {error.file}:{error.line}: {error.error}", file=sys.stderr)
    if len(report.dataset.errors) > 20:
        print(f"  ... and {len(report.dataset.errors) - 20} more skipped lines", file=sys.stderr)
    return 0


def cmd_triage_text(args: argparse.Namespace) -> int:
    import msgspec

    from app.schemas import TicketIn
    from app.triage.language import LanguageIdentifier
    from app.triage.model import TriageModel
    from app.triage.service import Triager
    from retrieval.embeddings import BundledEmbedder

    settings = _settings(args)
    triager = Triager(
        settings, TriageModel.load(settings.resolved_triage_model), BundledEmbedder(), LanguageIdentifier()
    )
    result = triager.triage(TicketIn(message=args.message, subject=args.subject))
    print(json.dumps(msgspec.to_builtins(result), indent=2, ensure_ascii=False))
    return 0


# ---------------------------------------------------------------- kb
async def _ingest(settings: Settings, path: Path, *, force: bool, quiet: bool = False) -> str:
    from retrieval.chunking import Chunker
    from retrieval.embeddings import BundledEmbedder
    from retrieval.ingest import ingest, terminal_progress
    from retrieval.search import embedder_for
    from retrieval.store import ChromaStore

    store = await ChromaStore.open(
        url=settings.chroma_url, path=str(settings.chroma_path), prefix=settings.chroma_collection
    )
    embedder = embedder_for(settings, BundledEmbedder())
    chunker = Chunker(settings.chunk_tokens, settings.chunk_overlap_tokens)
    summary = await ingest(
        store, embedder, path, chunker, progress=None if quiet else terminal_progress("embedding"), force=force
    )
    for problem in summary.skipped:
        print(f"skipped {problem.path}: {problem.reason}", file=sys.stderr)
    await store.close()
    return summary.line()


def cmd_kb_ingest(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _prepare(settings)
    path = Path(args.path) if args.path else settings.kb_sources
    print(asyncio.run(_ingest(settings, path, force=args.force)))
    return 0


def cmd_kb_search(args: argparse.Namespace) -> int:
    from app.kb import service as kb_service
    from app.services import Services
    from retrieval.search import Filters

    settings = _settings(args)
    _prepare(settings)

    async def run() -> None:
        # The same search as POST /v1/kb/search: detected language, intent prior.
        services = await Services.start(settings)
        try:
            result, language = await kb_service.search(
                services,
                args.query,
                k=args.k,
                language=args.language,
                filters=Filters(seller=args.seller),
                mode=args.mode,
            )
        finally:
            await services.close()
        print(f"language: {language or 'unknown'}")
        for note in result.notes:
            print(f"note: {note}")
        for rank, hit in enumerate(result.hits, 1):
            c = hit.chunk
            print(f"{rank}. {hit.score:.4f}  {c.anchor}  [{c.policy_type}, {c.scope}, {c.locale}]")
            print(f"   {' › '.join(c.heading_path)}")
            if hit.question:
                print(f"   matched buyer question: {hit.question}")
            print(f"   {c.text[:160].replace(chr(10), ' ')}…")
        print(f"({result.timings_ms.get('total_ms')} ms)")

    asyncio.run(run())
    return 0


# ---------------------------------------------------------------- keys
async def _create_key(settings: Settings, name: str, scopes: list[str]) -> str:
    from app.auth.keys import create_key
    from app.db.base import create_engine, create_sessionmaker

    engine = create_engine(settings.resolved_database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return (await create_key(session, name, scopes)).secret
    finally:
        await engine.dispose()


def cmd_keys(args: argparse.Namespace) -> int:
    from app.auth import keys
    from app.db.base import create_engine, create_sessionmaker

    settings = _settings(args)

    async def run() -> int:
        engine = create_engine(settings.resolved_database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                if args.keys_command == "create":
                    try:
                        created = await keys.create_key(
                            session, args.name, [s.strip() for s in args.scopes.split(",") if s.strip()]
                        )
                    except keys.KeyError_ as exc:
                        print(f"error: {exc}", file=sys.stderr)
                        return 2
                    print(f"created key {created.id} ({created.name}; scopes {', '.join(created.scopes)})")
                    print("the secret is shown once:")
                    print(created.secret)
                elif args.keys_command == "list":
                    for key in await keys.list_keys(session):
                        state = f"revoked {key.revoked_at:%Y-%m-%d}" if key.revoked_at else "active"
                        used = f"{key.last_used_at:%Y-%m-%d %H:%M}" if key.last_used_at else "never"
                        print(
                            f"{key.id}  rdk_{key.prefix}_…  {key.name:<20} {','.join(key.scopes):<40} {state:<18} last used {used}"
                        )
                else:
                    try:
                        key = await keys.revoke_key(session, args.key)
                    except keys.KeyError_ as exc:
                        print(f"error: {exc}", file=sys.stderr)
                        return 2
                    print(f"revoked {key.id} ({key.name})")
            return 0
        finally:
            await engine.dispose()

    return asyncio.run(run())


# ---------------------------------------------------------------- settings
def cmd_settings(args: argparse.Namespace) -> int:
    if args.markdown:
        print("| variable | default | meaning |\n|---|---|---|")
        for name, field in Settings.model_fields.items():
            default = field.default if field.default_factory is None else field.default_factory()  # type: ignore[call-arg]
            shown = json.dumps(default) if isinstance(default, dict | list) else str(default)
            if len(shown) > 40:
                shown = shown[:37] + "…"
            print(f"| `REPLYDESK_{name.upper()}` | `{shown}` | {field.description or ''} |")
    else:
        print(json.dumps(_settings(args).public_dict(), indent=2, default=str))
    return 0


# ---------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="replydesk", description="Replydesk: AI assistant for marketplace support.")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, fn: Callable[[argparse.Namespace], int], help_: str, parent: Any = sub
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = parent.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=fn)
        return p

    p = add("serve", cmd_serve, "Serve the HTTP API.")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--triage-model", help="Directory of a trained triage model.")

    p = add("setup", cmd_setup, "Prepare tokenizer cache, database, triage model, KB index and a first API key.")
    p.add_argument("--triage-model")
    p.add_argument("--no-key", action="store_true", help="Do not create the first admin key (images, CI).")

    db = add("db", lambda a: 0, "Database commands.").add_subparsers(dest="db_command", required=True)
    add("upgrade", cmd_db_upgrade, "Apply all migrations.", db)

    triage = add("triage", lambda a: 0, "Triage model commands.").add_subparsers(dest="triage_command", required=True)
    p = add("train", cmd_triage_train, "Train classifiers for the labels a dataset has.", triage)
    p.add_argument("--dataset", required=True)
    p.add_argument("--out", required=True)
    p.add_argument(
        "--split", choices=["train", "all"], default="all", help="Train on the train split or on everything."
    )
    p = add("text", cmd_triage_text, "Triage one message from the command line.", triage)
    p.add_argument("message")
    p.add_argument("--subject")
    p.add_argument("--triage-model")

    kb = add("kb", lambda a: 0, "Knowledge-base commands.").add_subparsers(dest="kb_command", required=True)
    p = add("ingest", cmd_kb_ingest, "Index the knowledge base (only what changed).", kb)
    p.add_argument("path", nargs="?")
    p.add_argument("--force", action="store_true", help="Re-embed everything.")
    p = add("search", cmd_kb_search, "Search the knowledge base.", kb)
    p.add_argument("query")
    p.add_argument("--language")
    p.add_argument("--seller")
    p.add_argument("--k", type=int, default=5)
    p.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")

    k = add("keys", lambda a: 0, "API keys.").add_subparsers(dest="keys_command", required=True)
    p = add("create", cmd_keys, "Create a key (the secret is printed once).", k)
    p.add_argument("--name", required=True)
    p.add_argument(
        "--scopes", required=True, help="Comma-separated: triage, drafts:read, drafts:write, kb:admin, evals, admin"
    )
    add("list", cmd_keys, "List keys.", k)
    p = add("revoke", cmd_keys, "Revoke a key by id or prefix.", k)
    p.add_argument("key")

    p = add("settings", cmd_settings, "Show the effective settings (secrets masked).")
    p.add_argument("--markdown", action="store_true", help="Print the settings table for the README.")

    from evals.cli import register as register_evals

    register_evals(sub, add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from app.lib.logs import configure_logging

    configure_logging("WARNING")
    args = build_parser().parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
