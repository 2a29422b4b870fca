"""BM25 over a tokenizer that works for every language we serve.

No language-specific stemmers or word segmenters: Latin, Cyrillic, Greek, Arabic and other
space-separated scripts are split into words, folded (case, accents) and cut to a 6-character
prefix, a crude stemmer that works surprisingly well across European languages ("returns",
"returned" -> "return"; "Rücksendung", "Rücksendungen" -> "rucks…"). Chinese, Japanese, Korean
and Thai, which have no spaces (or attach particles), become overlapping character bigrams.
The index is a sparse matrix, so scoring is one sparse product per query even at 100k chunks.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import numpy.typing as npt
from scipy import sparse

_CJK = r"\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff\u0e00-\u0e7f"
_RUN = re.compile(rf"[{_CJK}]+|[^\W\d_{_CJK}]+|\d+", re.UNICODE)
_IS_CJK = re.compile(rf"[{_CJK}]")
PREFIX = 6


def _fold(word: str) -> str:
    # Strip accents from Latin letters only (Cyrillic й and Japanese dakuten keep theirs).
    decomposed = unicodedata.normalize("NFD", word)
    out: list[str] = []
    for ch in decomposed:
        if unicodedata.combining(ch) and out and ord(out[-1]) < 0x250:
            continue
        out.append(ch)
    return unicodedata.normalize("NFC", "".join(out))


def tokenize(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower().replace("ß", "ss")
    tokens: list[str] = []
    for run in _RUN.findall(text):
        if _IS_CJK.match(run):
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        elif run.isdigit():
            tokens.append(run)
        elif len(run) > 1:
            tokens.append(_fold(run)[:PREFIX])
    return tokens


class BM25Index:
    def __init__(self, texts: list[str], *, k1: float = 1.2, b: float = 0.75) -> None:
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        lengths = np.zeros(len(texts), dtype=np.float64)
        for row, text in enumerate(texts):
            counts: dict[int, int] = {}
            tokens = tokenize(text)
            lengths[row] = len(tokens)
            for token in tokens:
                col = vocabulary.setdefault(token, len(vocabulary))
                counts[col] = counts.get(col, 0) + 1
            for col, count in counts.items():
                rows.append(row)
                cols.append(col)
                vals.append(count)
        self.vocabulary = vocabulary
        n_docs = max(len(texts), 1)
        tf = sparse.csr_matrix((vals, (rows, cols)), shape=(len(texts), len(vocabulary)), dtype=np.float64)
        df = np.bincount(cols, minlength=len(vocabulary)) if cols else np.zeros(len(vocabulary))
        idf = np.log(1 + (n_docs - df + 0.5) / (df + 0.5))
        avg = lengths.mean() if len(texts) else 1.0
        norm = k1 * (1 - b + b * lengths / max(avg, 1e-9))
        tf = tf.tocoo()
        weights = tf.data * (k1 + 1) / (tf.data + norm[tf.row]) * idf[tf.col]
        # Column-major, so a query reads only the columns of its own terms.
        self.matrix = sparse.csc_matrix((weights, (tf.row, tf.col)), shape=tf.shape)
        self.size = len(texts)

    def scores(self, query: str) -> npt.NDArray[np.float64]:
        columns = sorted({self.vocabulary[t] for t in tokenize(query) if t in self.vocabulary})
        if not columns:
            return np.zeros(self.size)
        result: npt.NDArray[np.float64] = np.asarray(self.matrix[:, columns].sum(axis=1)).ravel()
        return result

    def top(self, query: str, k: int, mask: npt.NDArray[np.bool_] | None = None) -> list[tuple[int, float]]:
        scores = self.scores(query)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) == 0:
            return []
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        ordered = candidates[np.argsort(-scores[candidates], kind="stable")]
        return [(int(i), float(scores[i])) for i in ordered]
