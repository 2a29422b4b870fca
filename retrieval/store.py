"""Chroma access, embedded (``PersistentClient``) or remote (``AsyncHttpClient``), behind one
async interface.

The knowledge base lives in *build* collections named ``<prefix>-<build id>``. A one-record
``<prefix>-meta`` collection holds the pointer to the active build with what built it
(embedding model, manifest hash, counts). Ingest fills a new build aside and then moves the
pointer, so a failed or interrupted ingest leaves the previous index untouched, and every
replica sees the switch on its next pointer check.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import numpy as np

from retrieval.embeddings import Matrix

_POINTER_ID = "active"


class StoreUnavailable(RuntimeError):
    """Chroma cannot be reached or answered with an error."""


class ChromaStore:
    def __init__(self, client: Any, *, is_async: bool, prefix: str, location: str) -> None:
        self._client = client
        self._async = is_async
        self.prefix = prefix
        self.location = location
        self._collections: dict[str, Any] = {}

    # ---- opening ----
    @classmethod
    async def open(cls, *, url: str, path: str, prefix: str) -> ChromaStore:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        try:
            if url:
                parsed = urlparse(url)
                client = await chromadb.AsyncHttpClient(
                    host=parsed.hostname or "127.0.0.1",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=chroma_settings,
                )
                store = cls(client, is_async=True, prefix=prefix, location=url)
            else:
                local = await asyncio.to_thread(chromadb.PersistentClient, path=path, settings=chroma_settings)
                store = cls(local, is_async=False, prefix=prefix, location=path)
            await store.heartbeat()
        except StoreUnavailable:
            raise
        except Exception as exc:
            raise StoreUnavailable(f"cannot open Chroma at {url or path}: {exc}") from exc
        return store

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            if self._async:
                return await fn(*args, **kwargs)
            return await asyncio.to_thread(fn, *args, **kwargs)
        except StoreUnavailable:
            raise
        except Exception as exc:  # chromadb raises many unrelated types for "server not there"
            raise StoreUnavailable(f"Chroma error: {type(exc).__name__}: {exc}") from exc

    async def heartbeat(self) -> None:
        await self._call(self._client.heartbeat)

    async def close(self) -> None:
        self._collections.clear()

    # ---- collections ----
    @property
    def meta_name(self) -> str:
        return f"{self.prefix}-meta"

    async def _collection(self, name: str, *, create: bool = False) -> Any:
        if name in self._collections:
            return self._collections[name]
        if create:
            collection = await self._call(
                self._client.get_or_create_collection, name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
        else:
            collection = await self._call(self._client.get_collection, name, embedding_function=None)
        self._collections[name] = collection
        return collection

    async def list_builds(self) -> list[str]:
        collections = await self._call(self._client.list_collections)
        names = [c if isinstance(c, str) else c.name for c in collections]
        return sorted(n for n in names if n.startswith(f"{self.prefix}-") and n != self.meta_name)

    async def delete(self, name: str) -> None:
        self._collections.pop(name, None)
        await self._call(self._client.delete_collection, name)

    # ---- the pointer ----
    async def pointer(self) -> dict[str, Any] | None:
        try:
            meta = await self._collection(self.meta_name, create=True)
            record = await self._call(meta.get, ids=[_POINTER_ID], include=["documents"])
        except StoreUnavailable:
            self._collections.pop(self.meta_name, None)
            raise
        documents = record.get("documents") or []
        if not documents or not documents[0]:
            return None
        data: dict[str, Any] = json.loads(documents[0])
        return data

    async def set_pointer(self, data: dict[str, Any]) -> None:
        meta = await self._collection(self.meta_name, create=True)
        await self._call(
            meta.upsert, ids=[_POINTER_ID], embeddings=[[1.0]], documents=[json.dumps(data, ensure_ascii=False)]
        )

    # ---- records ----
    async def add(
        self, name: str, ids: list[str], embeddings: Matrix, documents: list[str], metadatas: list[dict[str, Any]]
    ) -> None:
        collection = await self._collection(name, create=True)
        for start in range(0, len(ids), 1000):
            end = start + 1000
            await self._call(
                collection.add,
                ids=ids[start:end],
                embeddings=embeddings[start:end],
                documents=documents[start:end],
                metadatas=metadatas[start:end],
            )

    async def get_all(self, name: str, *, embeddings: bool = False, ids: list[str] | None = None) -> dict[str, Any]:
        collection = await self._collection(name)
        include = ["documents", "metadatas"] + (["embeddings"] if embeddings else [])
        out: dict[str, list[Any]] = {"ids": [], "documents": [], "metadatas": [], "embeddings": []}
        page = 5000
        if ids is not None:
            for start in range(0, len(ids), page):
                got = await self._call(collection.get, ids=ids[start : start + page], include=include)
                for key in ("ids", "documents", "metadatas"):
                    out[key].extend(got.get(key) or [])
                if embeddings:
                    out["embeddings"].extend(list(got["embeddings"]) if got.get("embeddings") is not None else [])
            return out
        offset = 0
        while True:
            got = await self._call(collection.get, include=include, limit=page, offset=offset)
            batch = got.get("ids") or []
            for key in ("ids", "documents", "metadatas"):
                out[key].extend(got.get(key) or [])
            if embeddings and got.get("embeddings") is not None:
                out["embeddings"].extend(list(got["embeddings"]))
            if len(batch) < page:
                return out
            offset += page

    async def query(
        self, name: str, embedding: Matrix, n: int, where: dict[str, Any] | None = None
    ) -> list[tuple[str, float]]:
        collection = await self._collection(name)
        result = await self._call(
            collection.query,
            query_embeddings=np.asarray(embedding, dtype=np.float32).reshape(1, -1),
            n_results=n,
            where=where or None,
            include=["distances"],
        )
        ids = (result.get("ids") or [[]])[0]
        distances = (result.get("distances") or [[]])[0]
        return [(i, 1.0 - float(d)) for i, d in zip(ids, distances, strict=False)]

    async def count(self, name: str) -> int:
        collection = await self._collection(name)
        return int(await self._call(collection.count))
