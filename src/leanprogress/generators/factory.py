"""Generators from config entries ``{"kind": ..., ...}`` (server config files, ``prove --generator-config``)."""

from __future__ import annotations

from typing import Any

def build_generator(name: str, spec: dict) -> Any:
    """A generator from a config entry ``{"kind": ..., ...}``."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind == "retrieval":
        from ..data.dataset import ProgressDataset
        from .retrieval import RetrievalGenerator

        corpus = spec.pop("corpus", None)
        if not corpus:
            raise ValueError(f"generator {name!r}: retrieval needs 'corpus' (a JSONL records file)")

        return RetrievalGenerator(ProgressDataset(corpus, skip_invalid=True).records, **spec)
    if kind == "hf":
        if "model" not in spec:
            raise ValueError(f"generator {name!r}: hf needs 'model' (a local folder)")
        from .hf import HFGenerator

        return HFGenerator(spec.pop("model"), **spec)
    if kind == "openai":
        for key in ("base_url", "model"):
            if key not in spec:
                raise ValueError(f"generator {name!r}: openai needs {key!r}")
        from .openai import OpenAIGenerator

        return OpenAIGenerator(**spec)
    raise ValueError(f"generator {name!r}: unknown kind {kind!r}; use retrieval, hf or openai")
