"""How candidates become encoder passes: the one place a batch is laid out, for both encoder kinds.

A model's ``encoder_kind`` (:class:`~leanprogress.config.ModelSettings`) says how it reads a record:

- ``cross`` (every model saved before the setting existed): one prompt per candidate, ``goal + prefix +
  tactic`` (:meth:`~leanprogress.prompt.PromptBuilder.build_many`), every token attending to every other; the
  head reads the ``[CLS]`` token. A state shared by 32 candidates is encoded 32 times.
- ``group``: the state (the template up to ``{tactic}``: goal and prefix) is a *context* that attends only to
  itself, and each candidate is a *segment* ``[CLS] tactic [SEP]`` that attends to the context and to itself,
  never to another candidate, with positions that continue after the context
  (:meth:`~leanprogress.prompt.PromptBuilder.build_groups`). The context does not depend on the candidates, so
  one copy of it serves all of them, and each candidate costs its own tokens.

A group-kind batch is packed (:func:`pack`): a *block* is a context followed by as many of its segments as fit
``pack_tokens``, ``[context | tactic 1 | tactic 2 | ...]``, and blocks (of one state or of several: a GRPO batch)
fill rows of at most ``pack_tokens``, first fit, so nothing but the end of a row is padding. One block attention
mask says who reads whom (:func:`block_mask`); a state with more candidates than a block holds is repeated in
the next block. The alternative, encoding each state once and handing every candidate row its keys and values
(a decoder's cache), was measured slower on the CPU up to 64 candidates of a state: copying the cached keys and
values to every candidate row took more than half the time, more than re-encoding the state once per block of 512
tokens; at 256 candidates it was faster (``benchmarks/bench_scoring.py --kinds`` times both; docs/benchmarks.md,
"Encoder kinds").

Pooling: the head of ``BertForSequenceClassification`` reads the first token of a row, which in a packed row is a
context's ``[CLS]``: under the block mask it sees the state only, the same for every candidate. So each segment
starts with a ``[CLS]`` of its own (the tokenizer's layout of one text), which sees the whole state and its own
tactic as the cross-encoder's ``[CLS]`` does, and the model is called as a whole with its pooler reading those
tokens (:func:`group_forward`): the model's own pooler and head, in the precision the scorer or trainer gave
them, and under DDP the model's own forward.

Training (:class:`~leanprogress.training.ProgressTrainer`) and scoring
(:class:`~leanprogress.scoring.LeanProgressScorer`) both go through :func:`layout_for`, so a model is always read
as it was trained.

Example:
    >>> layout = layout_for("group", builder)                               # doctest: +SKIP
    >>> built = layout.build(["⊢ p"] * 3, ["simp", "rfl", "trivial"])        # doctest: +SKIP
    >>> layout.logits(model, built, batch_size=32, device="cpu").shape      # doctest: +SKIP
    (3, 1)
"""

from __future__ import annotations

import inspect
import random
import threading
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


PACK_TOKENS = 512
"""Tokens per packed row (at least a whole context and segment): the attention of a row costs its length squared,
so rows stay short; a state repeats once per row it does not fit."""


class GroupLayout:
    """One context per state, one segment per candidate, packed into rows under a block mask (see the module
    doc)."""

    kind = "group"

    def __init__(self, builder: PromptBuilder):
        builder.template.check_splits_at_tactic()
        self.builder = builder
        self.tokenizer = builder.tokenizer
        self.pack_tokens = max(PACK_TOKENS, builder.max_length + builder.segment_length)

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
        """Raise ValueError for a model this layout cannot run: a BERT-style encoder (learned positions taken as
        ``position_ids``, a 4D attention mask, a pooler that reads the first token), SDPA or eager attention, and
        positions for a context and a segment together."""
        import torch

        inner = getattr(model, "module", model)
        base = getattr(inner, "base_model", None)
        embeddings = getattr(base, "embeddings", None)
        if (getattr(embeddings, "position_embeddings", None) is None or "position_ids" not in _parameters(base)
                or not isinstance(getattr(base, "pooler", None), torch.nn.Module)):
            raise ValueError(f"the group encoder kind runs BERT-style encoders (learned positions, position_ids, a "
                             f"pooler); {type(inner).__name__} is not one: train it with --encoder-kind cross")
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

        Each pass takes up to ``batch_size`` records, a state's records together, states with the longest
        contexts first, packed into rows (:func:`pack`), so memory is bounded however many come in.
        """
        import torch

        contexts, segments = self.encode(built)
        raw = np.zeros((len(segments), num_labels))
        keys = list(built.group_of)
        with torch.inference_mode():
            for idx in compose_batches(keys, [len(contexts[g]) for g in keys], batch_size):
                local: dict[int, int] = {}
                for i in idx:
                    local.setdefault(built.group_of[i], len(local))
                batch = pack([contexts[g] for g in local], [segments[i] for i in idx],
                             [local[built.group_of[i]] for i in idx], self.pad_id, self.pack_tokens, device)
                raw[idx] = group_forward(model, batch).float().reshape(len(idx), -1).cpu().numpy()
        return raw

    def training_batch(self, contexts: list[list[int]], segments: list[list[int]], group_of: list[int],
                       labels: Sequence[float]) -> dict[str, torch.Tensor]:
        """One training (or evaluation) batch: its distinct contexts and its records' segments and labels, packed
        for :func:`group_forward` (a batch of the HF ``Trainer``)."""
        import torch

        return {**pack(contexts, segments, group_of, self.pad_id, self.pack_tokens),
                "labels": torch.tensor(np.asarray(labels, dtype=np.float32))}


# ---------------------------------------------------------------- packing and the forward pass
def pack(contexts: Sequence[Sequence[int]], segments: Sequence[Sequence[int]], group_of: Sequence[int],
         pad_id: int, pack_tokens: int = PACK_TOKENS, device: Any = None) -> dict[str, torch.Tensor]:
    """Records (their segments, reading the contexts ``group_of`` names) packed into rows of at most
    ``pack_tokens``: ``pack_ids``, ``pack_positions`` (a context's from 0, a segment's after its context),
    ``pack_block`` and ``pack_segment`` (for :func:`block_mask`: which block and which segment each token is in;
    -1 and 0 on padding) and ``pool_index`` (where each record's segment starts, in the flattened rows, in
    record order).

    A block is a context and as many of its segments as fit after it (at least one); blocks fill rows first fit,
    longest first.
    """
    import torch

    readers: dict[int, list[int]] = {}
    for i, g in enumerate(group_of):
        readers.setdefault(g, []).append(i)
    blocks: list[tuple[int, list[int]]] = []  # (context, records)
    for g, members in readers.items():
        current: list[int] = []
        used = len(contexts[g])
        for i in members:
            if current and used + len(segments[i]) > pack_tokens:
                blocks.append((g, current))
                current, used = [], len(contexts[g])
            current.append(i)
            used += len(segments[i])
        blocks.append((g, current))
    size = [len(contexts[g]) + sum(len(segments[i]) for i in members) for g, members in blocks]
    rows: list[list[int]] = []  # block numbers
    room: list[int] = []
    for b in sorted(range(len(blocks)), key=lambda b: -size[b]):
        row = next((r for r in range(len(rows)) if room[r] >= size[b]), None)
        if row is None:
            rows.append([])
            room.append(pack_tokens)
            row = len(rows) - 1
        rows[row].append(b)
        room[row] -= size[b]
    width = max(pack_tokens - r for r in room)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    positions = torch.zeros((len(rows), width), dtype=torch.long)
    block = torch.full((len(rows), width), -1, dtype=torch.long)
    segment = torch.zeros((len(rows), width), dtype=torch.long)
    pool = [0] * len(segments)
    for r, row in enumerate(rows):
        at = 0
        for b in row:
            g, members = blocks[b]
            context = contexts[g]
            n = len(context)
            ids[r, at:at + n] = torch.as_tensor(context, dtype=torch.long)
            positions[r, at:at + n] = torch.arange(n)
            block[r, at:at + n] = b
            at += n
            for i in members:
                m = len(segments[i])
                ids[r, at:at + m] = torch.as_tensor(segments[i], dtype=torch.long)
                positions[r, at:at + m] = torch.arange(n, n + m)
                block[r, at:at + m] = b
                segment[r, at:at + m] = i + 1
                pool[i] = r * width + at
                at += m
    return {"pack_ids": ids.to(device), "pack_positions": positions.to(device), "pack_block": block.to(device),
            "pack_segment": segment.to(device), "pool_index": torch.as_tensor(pool, dtype=torch.long).to(device)}


def block_mask(block: torch.Tensor, segment: torch.Tensor) -> torch.Tensor:
    """Who reads whom in packed rows, ``(rows, 1, tokens, tokens)``, True where a query token (row) may read a
    key token (column): within its block, a context token reads the context, a segment token the context and
    its own segment; padding reads padding (so that no row of the mask is empty)."""
    same_block = block[:, :, None] == block[:, None, :]
    key_in_context = segment[:, None, :] == 0
    query_in_context = segment[:, :, None] == 0
    own_segment = segment[:, :, None] == segment[:, None, :]
    return (same_block & (key_in_context | (own_segment & ~query_in_context)))[:, None]


_pool_lock = threading.Lock()


def group_forward(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Head outputs ``(records, num_labels)`` of a batch from :func:`pack`, with gradients when enabled.

    The model is called as a whole, so its own pooler, dropout and head run (in the precision they were given,
    and under DDP through the wrapper's forward); a hook hands its pooler each segment's first token in place of
    each row's first token.
    """
    inner = getattr(model, "module", model)  # under DDP the wrapped model
    pool_index = batch["pool_index"]

    def segments_first(module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        firsts = hidden.reshape(-1, hidden.shape[-1]).index_select(0, pool_index)[:, None, :]
        return (firsts,), {}

    mask = _attention_mask(inner, block_mask(batch["pack_block"], batch["pack_segment"]))
    with _pool_lock:  # the hook is the pooler's while this call runs: one call at a time
        handle = inner.base_model.pooler.register_forward_pre_hook(segments_first, with_kwargs=True)
        try:
            return model(input_ids=batch["pack_ids"], attention_mask=mask,
                         position_ids=batch["pack_positions"]).logits
        finally:
            handle.remove()


def _parameters(module: Any) -> set[str]:
    """The names a module's forward takes."""
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


# ---------------------------------------------------------------- batches
def compose_batches(keys: Sequence[Hashable], lengths: Sequence[int], batch_size: int,
                    seed: int | None = None, by_length: bool = True) -> list[list[int]]:
    """Record indices per batch, about ``batch_size`` records each, records with the same context key together.

    Records sharing a context stay in one batch (in chunks of ``batch_size``), so their context is encoded
    once. With ``seed``, the chunks are shuffled and (``by_length``) sorted by ``lengths`` (of each chunk's first
    record: its tokens) within windows of 50 batches, as the HF ``Trainer`` groups by length, so that a batch
    pads little; batches come out shuffled. Without it, longest first (evaluation, scoring).
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
