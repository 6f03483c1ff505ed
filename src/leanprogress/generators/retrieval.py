"""``retrieval``: tactics used on the most similar goals of a records corpus (offline, no weights)."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from typing import Sequence

import numpy as np

from ..lean.symbols import LeanTextNormalizer

_TOKEN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_'.]*|\d+|[^\sA-Za-z0-9_]")
_normalize = LeanTextNormalizer()


def goal_tokens(text: str) -> list[str]:
    """Words, numbers and symbols of a Lean state; hypothesis names are kept as context."""
    return _TOKEN_RE.findall(_normalize(text))


class RetrievalGenerator:
    """Tactics used on the most similar goals of a corpus.

    Args:
        records: progress records (dicts with ``goal`` and ``tactic``), e.g.
            ``ProgressDataset(path).records``.
        neighbours: how many nearest goals to pool tactics from.

    The index (TF-IDF over goal tokens and bigrams, L2-normalised, as a
    sparse matrix) is built once; a query is one sparse matrix-vector
    product, milliseconds at 100k records. A tactic's score is the log of its
    share of the neighbours' summed similarity, so it reads like a
    log-probability.
    """

    kind = "retrieval"

    def __init__(self, records: Sequence[dict], neighbours: int = 64):
        from scipy import sparse

        if not records:
            raise ValueError("the retrieval corpus has no records")
        self.neighbours = neighbours
        vocab: dict[str, int] = {}
        rows, cols, vals = [], [], []
        docs = []
        for i, r in enumerate(records):
            counts = Counter(self._features(r["goal"]))
            docs.append(counts)
            for feat, c in counts.items():
                j = vocab.setdefault(feat, len(vocab))
                rows.append(i)
                cols.append(j)
                vals.append(c)
        n_docs = len(records)
        df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=len(vocab))
        self._idf = np.log((1 + n_docs) / (1 + df)) + 1.0
        m = sparse.csr_matrix((np.asarray(vals, dtype=np.float32), (rows, cols)), shape=(n_docs, len(vocab)))
        m = m.multiply(self._idf.astype(np.float32)).tocsr()
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        self._matrix = sparse.diags((1.0 / norms).astype(np.float32)) @ m
        self._matrix_t = self._matrix.T.tocsr()
        self._vocab = vocab
        self._tactics = [r["tactic"] for r in records]

    @staticmethod
    def _features(goal: str) -> list[str]:
        toks = goal_tokens(goal)
        return toks + [f"{a} {b}" for a, b in zip(toks, toks[1:])]

    def _query(self, state: str) -> np.ndarray:
        counts = Counter(f for f in self._features(state) if f in self._vocab)
        if not counts:
            return np.zeros(self._matrix.shape[0], dtype=np.float32)
        idx = np.fromiter((self._vocab[f] for f in counts), dtype=np.int64)
        w = np.fromiter(counts.values(), dtype=np.float32) * self._idf[idx].astype(np.float32)
        w /= np.linalg.norm(w) or 1.0
        return np.asarray(self._matrix_t[idx].T @ w).ravel()

    def generate(self, state: str, prefix: str = "", n: int = 32) -> list[tuple[str, float]]:
        sims = self._query(state)
        k = min(self.neighbours, len(sims))
        top = np.argpartition(-sims, k - 1)[:k]
        pooled: dict[str, float] = defaultdict(float)
        for i in top:
            tactic = self._tactics[i]
            if prefix and not tactic.startswith(prefix):
                continue
            pooled[tactic] += float(sims[i]) + 1e-6  # ties and zero similarity still rank
        total = sum(pooled.values())
        ranked = sorted(pooled.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
        return [(t, math.log(s / total)) for t, s in ranked]
