"""Logging: one format, and a filter that masks personal data in every record."""

from __future__ import annotations

import logging

from app.lib.pii import RedactingFilter

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    if not any(getattr(h, "_replydesk", False) for h in root.handlers):
        handler: logging.Handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler.addFilter(RedactingFilter())
        handler._replydesk = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())
    # Every handler, including the server's access log, gets the filter.
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error", "litestar"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
    for noisy in ("chromadb", "httpx", "openai", "httpcore", "onnxruntime", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
