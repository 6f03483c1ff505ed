"""How candidates become encoder passes: the one place a batch is laid out, for both encoder kinds.

A model's ``encoder_kind`` (:class:`~leanprogress.config.ModelSettings`) says how it reads a record:

- ``cross`` (every model saved before the setting existed): one prompt per candidate, ``goal + prefix +
  tactic`` (:meth:`~leanprogress.prompt.PromptBuilder.build_many`), every token attending to every other; the
  head reads the ``[CLS]`` token. A state shared by 32 candidates is encoded 32 times.
- ``group``: the state (the template up to ``{tactic}``: goal and prefix) is a *context* that attends only to
  itself, and each candidate is a *segment* ``[CLS] tactic [SEP]`` that attends to the context and to itself,
  never to another candidate, with positions that continue after the context
  (:meth:`~leanprogress.prompt.PromptBuilder.build_groups`). The context does not depend on the candidates,
  so it is encoded once for all of them, and each candidate costs its own tokens only.

The group layout runs in two passes (:func:`group_forward`), which compute exactly what one packed sequence
``[context | tactic 1 | tactic 2 | ...]`` with a block attention mask computes: first the contexts of a batch
(every layer's keys and values kept, as a decoder keeps its cache), then the segments, each row attending to
its own context's cached keys and values and to its own tokens. Two reasons over the single packed sequence:
a segment's attention costs ``its length x (context + its length)`` instead of the whole pack's length
squared (the pack's mask is dense, mostly masked out), and a context is encoded once however many segments
read it, where packs of bounded length would each repeat it (``benchmarks/bench_scoring.py`` measures both).
Where every record of a batch has a context of its own (training records rarely share one: whole-proof steps
of a theorem share its initial goal, not their prefix), the second pass would save nothing, and a batch is laid
out one row per record instead, ``[segment | context]`` with explicit positions, in one pass
(:func:`collate` picks the layout that pads less; both compute the same).

Pooling: the head of ``BertForSequenceClassification`` reads the first token of a row. In the packed sequence
that is the context's ``[CLS]``, which under the block mask sees the state only, the same for every candidate;
so each segment starts with a ``[CLS]`` of its own (the tokenizer's layout of one text) and in the second pass
it is the first token of its row, where the model's own pooler and head read it, unchanged. The segment's
``[CLS]`` sees the whole state and its own tactic, as the cross-encoder's does.

Training (:class:`~leanprogress.training.ProgressTrainer`) and scoring
(:class:`~leanprogress.scoring.LeanProgressScorer`) both call :func:`layout_for`, so a model is always read
as it was trained.

Example:
    >>> layout = layout_for("group", builder)                               # doctest: +SKIP
    >>> built = layout.build(["⊢ p"] * 3, ["simp", "rfl", "trivial"])        # doctest: +SKIP
    >>> layout.logits(model, built, batch_size=32, device="cpu").shape      # doctest: +SKIP
    (3, 1)
"""

from __future__ import annotations

import functools
import inspect
import random
from typing import TYPE_CHECKING, Any, Hashable, Sequence

import numpy as np

from .prompt import GroupedPrompts, PromptBuilder

if TYPE_CHECKING:  # torch loads only when a model runs (the settings import this module)
    import torch

ENCODER_KINDS = ("cross", "group")
"""How a model reads a record: one prompt per candidate, or one shared context per state (see the module doc)."""


def layout_for(kind: str, builder: PromptBuilder) -> "CrossLayout | GroupLayout":
    """The layout of a model of ``kind`` whose prompts ``builder`` builds."""
    if kind == "cross":
        return CrossLayout(builder)
    if kind == "group":
        return GroupLayout(builder)
    raise ValueError(f"encoder_kind must be one of {ENCODER_KINDS}, got {kind!r}")


class CrossLayout:
    """One prompt per candidate, padded per batch of the longest prompts first (the cross-encoder)."""

    kind = "cross"

    def __init__(self, builder: PromptBuilder):
        self.builder = builder

    def build(self, goals: Sequence[str], tactics: Sequence[str], prefixes: Sequence[str] | None = None,
              initial: Sequence[bool] | None = None) -> list[str]:
        """One prompt string per record (:meth:`~leanprogress.prompt.PromptBuilder.build_many`)."""
        return self.builder.build_many(goals, tactics, prefixes, initial)

    def logits(self, model: torch.nn.Module, prompts: list[str], batch_size: int, device: Any,
               num_labels: int = 1) -> np.ndarray:
        """Raw head outputs, one row per prompt (``num_labels`` columns), in float64."""
        import torch

        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
        raw = np.zeros((len(prompts), num_labels))
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                enc = self.builder.encode([prompts[i] for i in idx], padding=True, return_tensors="pt")
                enc = {k: v.to(device) for k, v in enc.items()}
                raw[idx] = model(**enc).logits.float().reshape(len(idx), -1).cpu().numpy()
        return raw


class GroupLayout:
    """One context per state, one segment per candidate, run in two passes (see the module doc)."""

    kind = "group"

    def __init__(self, builder: PromptBuilder):
        builder.template.check_splits_at_tactic()
        self.builder = builder
        self.tokenizer = builder.tokenizer

    @property
    def pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0

    def build(self, goals: Sequence[str], tactics: Sequence[str], prefixes: Sequence[str] | None = None,
              initial: Sequence[bool] | None = None) -> GroupedPrompts:
        """Contexts and segments of the records (:meth:`~leanprogress.prompt.PromptBuilder.build_groups`)."""
        return self.builder.build_groups(goals, tactics, prefixes, initial)

    def encode(self, built: GroupedPrompts) -> tuple[list[list[int]], list[list[int]]]:
        """Token ids of every context and every segment (each with the tokenizer's special tokens)."""
        def ids(texts: list[str], limit: int) -> list[list[int]]:
            if not texts:
                return []
            return self.tokenizer(texts, truncation=True, max_length=limit)["input_ids"]

        return ids(built.contexts, self.builder.max_length), ids(built.segments, self.builder.segment_length)

    def check_model(self, model: torch.nn.Module) -> None:
        """Raise ValueError for a model this layout cannot run: the encoder must take ``position_ids`` and a
        4D attention mask (BERT does), its attention must be SDPA or eager, and it must have positions for a
        context and a segment together."""
        inner = getattr(model, "module", model)
        base = getattr(inner, "base_model", None)
        embeddings = getattr(base, "embeddings", None)
        if getattr(embeddings, "position_embeddings", None) is None or "position_ids" not in _parameters(base):
            raise ValueError(f"the group encoder kind runs BERT-style encoders (learned positions, position_ids); "
                             f"{type(inner).__name__} is not one: train it with --encoder-kind cross")
        _attention_kind(inner)
        positions = embeddings.position_embeddings.num_embeddings
        needed = self.builder.max_length + self.builder.segment_length
        if positions < needed:
            raise ValueError(f"the group encoder kind reads a context of up to max_length ({self.builder.max_length}) "
                             f"tokens and then a segment of up to {self.builder.segment_length}: {needed} positions, "
                             f"but {type(inner).__name__} has {positions}; lower max_length to "
                             f"{positions * 2 // 3} or less")

    def logits(self, model: torch.nn.Module, built: GroupedPrompts, batch_size: int, device: Any,
               num_labels: int = 1) -> np.ndarray:
        """Raw head outputs, one row per record in the caller's order (``num_labels`` columns), in float64.

        Contexts run ``batch_size`` at a time, longest first; after each batch of contexts, the segments that
        read them run ``batch_size`` at a time, longest first, so memory is bounded however many records and
        states come in.
        """
        import torch

        contexts, segments = self.encode(built)
        raw = np.zeros((len(segments), num_labels))
        readers: list[list[int]] = [[] for _ in contexts]
        for i, g in enumerate(built.group_of):
            readers[g].append(i)
        order = sorted(range(len(contexts)), key=lambda g: len(contexts[g]), reverse=True)
        with torch.inference_mode():
            self._run(model, contexts, segments, built.group_of, readers, order, batch_size, device, raw)
        return raw

    def _run(self, model, contexts, segments, group_of, readers, order, batch_size, device, raw) -> None:
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            local = {g: k for k, g in enumerate(chunk)}
            rows = sorted((i for g in chunk for i in readers[g]), key=lambda i: len(segments[i]), reverse=True)
            if len(rows) <= batch_size:  # one batch: whichever layout pads less
                batch = collate([contexts[g] for g in chunk], [segments[i] for i in rows],
                                [local[group_of[i]] for i in rows], self.pad_id, device)
                raw[rows] = group_forward(model, batch).float().reshape(len(rows), -1).cpu().numpy()
                continue
            cache = encode_contexts(model, collate_contexts([contexts[g] for g in chunk], self.pad_id, device))
            for s in range(0, len(rows), batch_size):
                idx = rows[s:s + batch_size]
                batch = collate_segments([segments[i] for i in idx], [local[group_of[i]] for i in idx],
                                         self.pad_id, device)
                raw[idx] = encode_segments(model, cache, batch).float().reshape(len(idx), -1).cpu().numpy()

    def training_batch(self, contexts: list[list[int]], segments: list[list[int]], group_of: list[int],
                       labels: Sequence[float]) -> dict[str, torch.Tensor]:
        """One training (or evaluation) batch: its distinct contexts and its records' segments and labels, as
        tensors for :func:`group_forward` (a batch of the HF ``Trainer``), in whichever layout pads less
        (:func:`collate`)."""
        import torch

        return {**collate(contexts, segments, group_of, self.pad_id),
                "labels": torch.tensor(np.asarray(labels, dtype=np.float32))}


def collate(contexts: Sequence[Sequence[int]], segments: Sequence[Sequence[int]], group_of: Sequence[int],
            pad_id: int, device: Any = None) -> dict[str, torch.Tensor]:
    """A batch of records (their segments, and the contexts they read: ``group_of``) laid out for
    :func:`group_forward` in whichever of two layouts that compute the same thing pads less:

    - two passes (:func:`collate_contexts` and :func:`collate_segments`): each context once, then the segments
      reading it; pays where several records share a context (the candidates of one state);
    - one row per record (:func:`collate_rows`): its segment and its context in one row of one pass; pays where
      every record has a context of its own (training records rarely share one), as a cross-encoder's prompt.
    """
    one_row_each = len(segments) * max(len(s) + len(contexts[g]) for s, g in zip(segments, group_of))
    two_passes = len(contexts) * max(len(c) for c in contexts) + len(segments) * max(len(s) for s in segments)
    if one_row_each <= two_passes:
        return collate_rows(contexts, segments, group_of, pad_id, device)
    return {**collate_contexts(contexts, pad_id, device), **collate_segments(segments, group_of, pad_id, device)}


# ---------------------------------------------------------------- the two passes
def _pad(rows: Sequence[Sequence[int]], pad_id: int, device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids padded to the longest row, and the mask of real tokens (True)."""
    import torch

    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.as_tensor(r, dtype=torch.long)
        mask[i, :len(r)] = True
    return ids.to(device), mask.to(device)


def collate_contexts(contexts: Sequence[Sequence[int]], pad_id: int, device: Any = None) -> dict[str, torch.Tensor]:
    """Contexts padded to the longest: ``context_ids`` and ``context_mask`` (True on real tokens)."""
    ids, mask = _pad(contexts, pad_id, device)
    return {"context_ids": ids, "context_mask": mask}


def collate_segments(segments: Sequence[Sequence[int]], group_of: Sequence[int], pad_id: int,
                     device: Any = None) -> dict[str, torch.Tensor]:
    """Segments padded to the longest: ``segment_ids``, ``segment_mask`` and ``segment_group`` (the row of
    each segment's context among the collated contexts)."""
    import torch

    ids, mask = _pad(segments, pad_id, device)
    return {"segment_ids": ids, "segment_mask": mask,
            "segment_group": torch.as_tensor(list(group_of), dtype=torch.long, device=ids.device)}


class ContextCache:
    """What the second pass needs of a batch of contexts: every layer's keys and values, the padding mask and
    each context's length (where its segments' positions start)."""

    def __init__(self, layers: list[tuple[torch.Tensor, torch.Tensor]], mask: torch.Tensor):
        self.layers, self.mask = layers, mask
        self.lengths = mask.sum(dim=1)


def encode_contexts(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> ContextCache:
    """First pass: the contexts through the encoder, each attending to itself only; keeps every layer's keys
    and values."""
    from transformers import DynamicCache

    inner = getattr(model, "module", model)  # under DDP the wrapped model
    ids, mask = batch["context_ids"], batch["context_mask"]
    n, width = ids.shape
    cache = DynamicCache()
    allowed = mask[:, None, None, :].expand(n, 1, width, width)
    inner.base_model(input_ids=ids, attention_mask=_attention_mask(inner, allowed), **{_cache_keyword(): cache})
    return ContextCache([(layer.keys, layer.values) for layer in cache.layers], mask)


def encode_segments(model: torch.nn.Module, contexts: ContextCache, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Second pass: each segment attends to its context's cached keys and values and to its own tokens, with
    positions continuing after its context; returns the model's head outputs ``(segments, num_labels)``.

    ``model`` is called as a whole (its own pooler and head read each row's first token, the segment's
    ``[CLS]``), so under DDP this is the call that synchronizes gradients.
    """
    import torch
    from transformers import DynamicCache

    inner = getattr(model, "module", model)
    ids, mask, group = batch["segment_ids"], batch["segment_mask"], batch["segment_group"]
    n, width = ids.shape
    past = [(k.index_select(0, group), v.index_select(0, group)) for k, v in contexts.layers]
    allowed = torch.cat([contexts.mask.index_select(0, group), mask], dim=1)
    allowed = allowed[:, None, None, :].expand(n, 1, width, allowed.shape[1])
    positions = contexts.lengths.index_select(0, group)[:, None] + torch.arange(width, device=ids.device)[None, :]
    out = model(input_ids=ids, attention_mask=_attention_mask(inner, allowed), position_ids=positions,
                **{_cache_keyword(): DynamicCache(ddp_cache_data=past)})
    return out.logits


def collate_rows(contexts: Sequence[Sequence[int]], segments: Sequence[Sequence[int]], group_of: Sequence[int],
                 pad_id: int, device: Any = None) -> dict[str, torch.Tensor]:
    """One row per record: its segment, then its context, padded to the longest row: ``row_ids``,
    ``row_positions``, ``row_mask`` (real tokens) and ``row_segment`` (the segment's tokens).

    Positions are given explicitly (the context's from 0, the segment's after the context), and self-attention
    depends on positions and the mask, not on places in the row; so putting the segment first computes the same
    as the packed ``[context | segment]``, and its ``[CLS]`` is the row's first token, where the model's own
    head reads.
    """
    import torch

    ids, real = _pad([list(s) + list(contexts[g]) for s, g in zip(segments, group_of)], pad_id, None)
    positions = torch.zeros_like(ids)
    segment = torch.zeros_like(real)
    for row, (s, g) in enumerate(zip(segments, group_of)):
        n, m = len(s), len(contexts[g])
        positions[row, :n] = torch.arange(m, m + n)
        positions[row, n:n + m] = torch.arange(m)
        segment[row, :n] = True
    return {"row_ids": ids.to(device), "row_positions": positions.to(device), "row_mask": real.to(device),
            "row_segment": segment.to(device)}


def encode_rows(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """One pass over :func:`collate_rows`' rows: context tokens attend to the context, segment tokens to the
    context and the segment (padding to the context, so that no row of the mask is empty); returns the model's
    head outputs ``(records, num_labels)``."""
    inner = getattr(model, "module", model)
    segment, real = batch["row_segment"], batch["row_mask"]
    context = real & ~segment
    allowed = context[:, None, :] | (segment[:, :, None] & segment[:, None, :])
    return model(input_ids=batch["row_ids"], attention_mask=_attention_mask(inner, allowed[:, None]),
                 position_ids=batch["row_positions"]).logits


def group_forward(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Head outputs ``(records, num_labels)`` of a batch from :func:`collate`, with gradients: one pass over
    rows, or both passes (the second reading the first's keys and values)."""
    if "row_ids" in batch:
        return encode_rows(model, batch)
    return encode_segments(model, encode_contexts(model, batch), batch)


@functools.lru_cache(maxsize=None)
def _cache_keyword() -> str:
    """The name under which BERT's forward takes a key/value cache (``past_key_values`` until transformers
    renamed it ``cache``)."""
    from transformers import BertModel

    return "cache" if "cache" in _parameters(BertModel) else "past_key_values"


def _parameters(module: Any) -> set[str]:
    """The names a module's (or module class's) forward takes."""
    return set(inspect.signature(module.forward).parameters)


def _attention_kind(model: torch.nn.Module) -> str:
    kind = getattr(model.config, "_attn_implementation", None) or "eager"
    if kind not in ("sdpa", "eager"):
        raise ValueError(f"the group encoder kind passes its own 4D attention mask, which {kind!r} attention does "
                         "not take: load the model with attn_implementation='sdpa' or 'eager'")
    return kind


def _attention_mask(model: torch.nn.Module, allowed: torch.Tensor) -> torch.Tensor:
    """A 4D mask as the model's attention takes it: SDPA a boolean one (True: attend), eager an additive one."""
    import torch

    if _attention_kind(model) == "sdpa":
        return allowed
    dtype = model.get_input_embeddings().weight.dtype
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed,
                                                                                     torch.finfo(dtype).min)


# ---------------------------------------------------------------- training batches
def compose_batches(keys: Sequence[Hashable], lengths: Sequence[int], batch_size: int,
                    seed: int | None = None, by_length: bool = True) -> list[list[int]]:
    """Record indices per batch, about ``batch_size`` records each, records with the same context key together.

    Records sharing a context stay in one batch (in chunks of ``batch_size``), so their context is encoded
    once. With ``seed``, the chunks are shuffled and (``by_length``) sorted by ``lengths`` (of each chunk's first
    record: its tokens) within windows of 50 batches, as the HF ``Trainer`` groups by length, so that a batch
    pads little; batches come out shuffled. Without it, longest first (evaluation).
    """
    groups: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    chunks = [members[j:j + batch_size] for members in groups.values() for j in range(0, len(members), batch_size)]
    rng = random.Random(seed)
    if seed is None:
        chunks.sort(key=lambda c: -lengths[c[0]])
    else:
        rng.shuffle(chunks)
    if seed is not None and by_length:
        window, ordered = 50 * batch_size, []
        start = 0
        while start < len(chunks):
            end, taken = start, 0
            while end < len(chunks) and taken < window:
                taken += len(chunks[end])
                end += 1
            ordered += sorted(chunks[start:end], key=lambda c: -lengths[c[0]])
            start = end
        chunks = ordered
    batches: list[list[int]] = []
    current: list[int] = []
    for chunk in chunks:
        if current and len(current) + len(chunk) > batch_size:
            batches.append(current)
            current = []
        current = current + chunk
    if current:
        batches.append(current)
    if seed is not None:
        rng.shuffle(batches)
    return batches
