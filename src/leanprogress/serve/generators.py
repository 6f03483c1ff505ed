"""Tactic generators the server (and search) can ask for candidates, by kind.

Every generator answers ``generate(state, prefix, n) -> [(tactic, logprob)]``
with the best candidates first; ``logprob`` is a finite log-probability-like
score (higher is better). Some can also ``encode(text) -> [float]``.

- :class:`RetrievalGenerator` (``retrieval``): offline, no weights. Proposes
  the tactics used on the most similar goals of a tactic corpus (any
  LeanProgress JSONL file), scored by TF-IDF cosine similarity.
- :class:`HFGenerator` (``hf``): a local HuggingFace seq2seq or causal model
  (e.g. ReProver's ByT5 tactic generator), beam search or sampling.
- :class:`OpenAIGenerator` (``openai``): any OpenAI-compatible endpoint
  (vLLM, Ollama, TGI, a hosted service).
"""

from __future__ import annotations

import math
import os
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np

from ..leantext import LeanTextNormalizer


class GeneratorError(RuntimeError):
    """The generator's backend failed (the server answers 502)."""


class GeneratorTimeout(GeneratorError):
    """The generator's backend did not answer in time (the server answers 504)."""


class Generator(Protocol):
    kind: str

    def generate(self, state: str, prefix: str = "", n: int = 32) -> list[tuple[str, float]]: ...


# ------------------------------------------------------------------ retrieval
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


# ------------------------------------------------------------------ HF
class HFGenerator:
    """A local HuggingFace seq2seq or causal tactic generator.

    Args:
        model_path: local folder (or hub id where the hub is reachable).
        device: ``auto``, ``cpu``, ``cuda``.
        num_beams: beam search width; 0 means sample ``n`` sequences instead.
        max_new_tokens: tactic length limit.
        temperature: sampling temperature (sampling only).
        prompt: for causal models, the text fed to the model; ``{state}``
            and ``{prefix}`` are filled in (default: ReProver-style
            ``"[GOAL]{state}[PROOFSTEP]{prefix}"``).

    The returned score is the sequence log-probability (sum of token
    log-probabilities of the generated tokens).
    """

    kind = "hf"

    def __init__(self, model_path: str, device: str = "auto", num_beams: int = 0, max_new_tokens: int = 128,
                 temperature: float = 1.0, prompt: str = "[GOAL]{state}[PROOFSTEP]{prefix}"):
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

        from ..encoder import ModelLoadError, load_tokenizer, resolve_device

        self.device = resolve_device(device)
        self.tokenizer = load_tokenizer(model_path)
        try:
            config = AutoConfig.from_pretrained(model_path, trust_remote_code=False)
            self.seq2seq = bool(getattr(config, "is_encoder_decoder", False))
            cls = AutoModelForSeq2SeqLM if self.seq2seq else AutoModelForCausalLM
            self.model = cls.from_pretrained(model_path, use_safetensors=True, trust_remote_code=False)
        except Exception as exc:
            raise ModelLoadError(f"could not load generator {model_path!r}: {exc}") from exc
        self.model.to(self.device).eval()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.num_beams, self.max_new_tokens, self.temperature = num_beams, max_new_tokens, temperature
        self.prompt = prompt
        self._lock = threading.Lock()
        self._torch = torch

    def generate(self, state: str, prefix: str = "", n: int = 32) -> list[tuple[str, float]]:
        torch = self._torch
        text = state if self.seq2seq else self.prompt.format(state=state, prefix=prefix)
        enc = self.tokenizer(text, return_tensors="pt", truncation=True, max_length=2048).to(self.device)
        beams = self.num_beams > 0
        kwargs: dict[str, Any] = dict(
            max_new_tokens=self.max_new_tokens, num_return_sequences=n, output_scores=True,
            return_dict_in_generate=True, pad_token_id=self.tokenizer.pad_token_id,
        )
        if beams:
            kwargs.update(num_beams=max(self.num_beams, n), do_sample=False)
        else:
            kwargs.update(do_sample=True, temperature=self.temperature, top_k=0)
        with self._lock, torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
            trans = self.model.compute_transition_scores(
                out.sequences, out.scores, getattr(out, "beam_indices", None), normalize_logits=not beams
            )
        start = 0 if self.seq2seq else enc["input_ids"].shape[1]
        results: dict[str, float] = {}
        for seq, scores in zip(out.sequences, trans):
            tactic = self.tokenizer.decode(seq[start:], skip_special_tokens=True).strip()
            finite = scores[torch.isfinite(scores)]
            logprob = float(finite.sum()) if len(finite) else 0.0
            if tactic and (tactic not in results or logprob > results[tactic]):
                results[tactic] = logprob
        if prefix and self.seq2seq:
            results = {t: s for t, s in results.items() if t.startswith(prefix)}
        return sorted(results.items(), key=lambda kv: -kv[1])[:n]

    def encode(self, text: str) -> list[float]:
        """Mean-pooled encoder states (seq2seq models only), as LeanCopilot's ``/encode``."""
        if not self.seq2seq:
            raise NotImplementedError("only seq2seq generators can encode")
        torch = self._torch
        enc = self.tokenizer(text, return_tensors="pt", truncation=True, max_length=2048).to(self.device)
        with self._lock, torch.inference_mode():
            hidden = self.model.get_encoder()(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return ((hidden * mask).sum(1) / mask.sum(1))[0].float().tolist()


# ------------------------------------------------------------------ OpenAI-compatible
@dataclass
class OpenAIGenerator:
    """Any OpenAI-compatible chat-completions endpoint.

    Args:
        base_url: e.g. ``http://127.0.0.1:8000/v1`` (vLLM) or ``http://127.0.0.1:11434/v1`` (Ollama).
        model: the served model's name.
        api_key_env: environment variable holding the API key (optional).
        timeout: seconds before the request counts as timed out (504).
        temperature: sampling temperature.
        system_prompt: instruction sent before the state.

    Asks for ``n`` completions with token log-probabilities; the score of a
    tactic is the sum of its token log-probabilities (0 where the server
    returns none).
    """

    base_url: str
    model: str
    api_key_env: str | None = None
    timeout: float = 60.0
    temperature: float = 0.7
    max_tokens: int = 256
    system_prompt: str = (
        "You are a Lean 4 prover. Given a proof state, reply with exactly one next tactic, no prose, no code fences."
    )
    kind: str = "openai"

    def _payload(self, state: str, prefix: str, n: int) -> dict:
        user = f"Proof state:\n{state}\n\nNext tactic" + (f" (it starts with `{prefix}`)" if prefix else "") + ":"
        return {
            "model": self.model,
            "messages": [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": user}],
            "n": n, "temperature": self.temperature, "max_tokens": self.max_tokens, "logprobs": True,
        }

    def generate(self, state: str, prefix: str = "", n: int = 32) -> list[tuple[str, float]]:
        import httpx

        headers = {}
        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise GeneratorError(f"environment variable {self.api_key_env} (API key) is not set")
            headers["Authorization"] = f"Bearer {key}"
        url = self.base_url.rstrip("/") + "/chat/completions"
        try:
            resp = httpx.post(url, json=self._payload(state, prefix, n), headers=headers, timeout=self.timeout)
        except httpx.TimeoutException:
            raise GeneratorTimeout(f"{url} did not answer within {self.timeout:g}s") from None
        except httpx.HTTPError as exc:
            raise GeneratorError(f"{url}: {type(exc).__name__}: {exc}") from None
        if resp.status_code != 200:
            raise GeneratorError(f"{url} answered {resp.status_code}: {resp.text[:200]}")
        try:
            choices = resp.json()["choices"]
        except (ValueError, KeyError, TypeError):
            raise GeneratorError(f"{url} answered with no 'choices'") from None
        results: dict[str, float] = {}
        for choice in choices:
            tactic = _clean_completion((choice.get("message") or {}).get("content") or "")
            if not tactic:
                continue
            content = (choice.get("logprobs") or {}).get("content") or []
            logprob = float(sum(t.get("logprob", 0.0) for t in content)) if content else 0.0
            if not math.isfinite(logprob):
                logprob = -1e9
            if tactic not in results or logprob > results[tactic]:
                results[tactic] = logprob
        return sorted(results.items(), key=lambda kv: -kv[1])[:n]


def _clean_completion(text: str) -> str:
    text = text.strip()
    if text.startswith("```"):
        text = text.strip("`")
        text = text.split("\n", 1)[1] if "\n" in text else ""
    return text.strip().strip("`").strip()


def build_generator(name: str, spec: dict) -> Any:
    """A generator from a config entry ``{"kind": ..., ...}``."""
    spec = dict(spec)
    kind = spec.pop("kind", None)
    if kind == "retrieval":
        from ..data.dataset import ProgressDataset

        corpus = spec.pop("corpus", None)
        if not corpus:
            raise ValueError(f"generator {name!r}: retrieval needs 'corpus' (a JSONL records file)")
        return RetrievalGenerator(ProgressDataset(corpus, skip_invalid=True).records, **spec)
    if kind == "hf":
        if "model" not in spec:
            raise ValueError(f"generator {name!r}: hf needs 'model' (a local folder)")
        return HFGenerator(spec.pop("model"), **spec)
    if kind == "openai":
        for key in ("base_url", "model"):
            if key not in spec:
                raise ValueError(f"generator {name!r}: openai needs {key!r}")
        return OpenAIGenerator(**spec)
    raise ValueError(f"generator {name!r}: unknown kind {kind!r}; use retrieval, hf or openai")
