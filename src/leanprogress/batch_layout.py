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

A group-kind batch is one encoder pass (:func:`pack`). A state with many candidates is *streamed* in narrow rows
(:data:`SEGMENT_ROW_TOKENS` wide): its context once, then its candidates' segments, a context running on into the
next row where it does not fit, a segment starting the next row where it does not. An attention function of our
own (:func:`group_attention`, swapped in for the call) gives every row, in every layer, the keys and values of the
contexts its tokens read, gathered from wherever they lie in the pass, beside its own tokens: a context token reads
its context, a segment token its context and its own segment, never another candidate. So a candidate costs its
own tokens, and its attention is over its context and itself, not over a long row under a mostly empty mask. In
training, a record whose state no other shares (most of them) is a *block* ``[context | segment]`` kept whole in
one row and read within it (:data:`BLOCK_TOKENS`: dropout makes masked attention expensive).

Two layouts were measured before this one (``benchmarks/bench_scoring.py --kinds``, docs/benchmarks.md "Encoder
kinds"): rows of 512 tokens each holding a context and its segments under one block mask (the first group
layout: its masked 512 x 512 attention took as long as all the linear layers, and a state was repeated in every
row), and a decoder's cache of the state's keys and values handed to rows of one segment each (padding to the
longest segment, and copying the cache per row).

Pooling: the head of ``BertForSequenceClassification`` reads the first token of a row, which in a packed row is
whatever starts it. So each segment starts with a ``[CLS]`` of its own (the tokenizer's layout of one text),
which sees the whole state and its own tactic as the cross-encoder's ``[CLS]`` does, and the model is called as a
whole with its pooler reading those tokens (:func:`group_forward`): the model's own pooler and head, in the
precision the scorer or trainer gave them, and under DDP the model's own forward.

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


BLOCK_TOKENS = 256
"""In training, a state whose context and records take at most this many tokens is kept whole in one row and read
within it (see :func:`pack`). Training applies dropout to attention, which makes SDPA compute and sample every
masked pair of a row: a streamed row reads several contexts, most of them masked for each token, and trained at
about half the cross-encoder's speed; blocks read their own row only. Scoring streams every state (no dropout: a
masked pair costs little, and streamed rows pad less than blocks of mixed lengths)."""

SEGMENT_ROW_TOKENS = 64
"""The width of a group-kind pass's rows (a longer segment widens them): each row reads its contexts' tokens and
its own, so narrow rows keep the attention of a segment to about its context and itself (32, 64 and 128 were timed
by ``bench_scoring.py --kinds``)."""


class GroupLayout:
    """One context per state, one segment per candidate, streamed (in training, small states as blocks) in the
    rows of one pass (see the module doc)."""

    kind = "group"

    def __init__(self, builder: PromptBuilder):
        builder.template.check_splits_at_tactic()
        self.builder = builder
        self.tokenizer = builder.tokenizer
        self.row_tokens = SEGMENT_ROW_TOKENS

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
        ``position_ids``, a pooler that reads the first token) with positions for a context and a segment
        together. (Attention that does not go through transformers' attention functions is refused by
        :func:`group_forward` on the first call.)"""
        import torch

        inner = getattr(model, "module", model)
        base = getattr(inner, "base_model", None)
        embeddings = getattr(base, "embeddings", None)
        if (getattr(embeddings, "position_embeddings", None) is None or "position_ids" not in _parameters(base)
                or not isinstance(getattr(base, "pooler", None), torch.nn.Module)):
            raise ValueError(f"the group encoder kind runs BERT-style encoders (learned positions, position_ids, a "
                             f"pooler); {type(inner).__name__} is not one: train it with --encoder-kind cross")
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

        A pass takes whole states, longest contexts first, up to the tokens of a cross-encoder batch of
        ``batch_size`` prompts of ``max_length`` (a state with more candidates than that goes on in the next pass,
        its context with it), so memory is bounded however many come in.
        """
        import torch

        contexts, segments = self.encode(built)
        raw = np.zeros((len(segments), num_labels))
        budget = batch_size * self.builder.max_length
        with torch.inference_mode():
            for idx in token_passes(built.group_of, [len(c) for c in contexts], [len(s) for s in segments], budget):
                local: dict[int, int] = {}
                for i in idx:
                    local.setdefault(built.group_of[i], len(local))
                batch = pack([contexts[g] for g in local], [segments[i] for i in idx],
                             [local[built.group_of[i]] for i in idx], self.pad_id, self.row_tokens, device=device)
                raw[idx] = group_forward(model, batch).float().reshape(len(idx), -1).cpu().numpy()
        return raw

    def training_batch(self, contexts: list[list[int]], segments: list[list[int]], group_of: list[int],
                       labels: Sequence[float]) -> dict[str, torch.Tensor]:
        """One training (or evaluation) batch: its distinct contexts and its records' segments and labels, packed
        for :func:`group_forward` (a batch of the HF ``Trainer``)."""
        import torch

        return {**pack(contexts, segments, group_of, self.pad_id, self.row_tokens, block_tokens=BLOCK_TOKENS),
                "labels": torch.tensor(np.asarray(labels, dtype=np.float32))}


def token_passes(group_of: Sequence[int], context_lengths: Sequence[int], segment_lengths: Sequence[int],
                 budget: int) -> list[list[int]]:
    """Record indices per scoring pass: states longest context first, a state's records together, each pass at
    most ``budget`` tokens (its contexts once, its segments), at least one record."""
    members = _members(group_of)
    passes: list[list[int]] = []
    current: list[int] = []
    used = 0
    for g in sorted(members, key=lambda g: -context_lengths[g]):
        opened = False
        for i in members[g]:
            cost = segment_lengths[i] + (0 if opened else context_lengths[g])
            if current and used + cost > budget:
                passes.append(current)
                current, used, opened = [], 0, False
                cost = segment_lengths[i] + context_lengths[g]
            current.append(i)
            used += cost
            opened = True
    if current:
        passes.append(current)
    return passes


# ---------------------------------------------------------------- packing and the forward pass
def pack(contexts: Sequence[Sequence[int]], segments: Sequence[Sequence[int]], group_of: Sequence[int],
         pad_id: int, row_tokens: int = SEGMENT_ROW_TOKENS, block_tokens: int = 0,
         device: Any = None) -> dict[str, torch.Tensor]:
    """Records (their segments, reading the contexts ``group_of`` names) as one pass of :func:`group_forward`.

    A state whose context and segments take at most ``block_tokens`` (training: :data:`BLOCK_TOKENS`; scoring:
    0, none) is a *block* ``[context | segment | ...]`` kept in one row (blocks fill rows first fit, longest
    first), read within the row. The other states are *streamed* after them: each context once, then its
    segments, a context running on into the next row, a segment that does not fit the rest of a row starting the
    next; their tokens read their context wherever it lies. Rows are ``width`` tokens: ``row_tokens``, or the
    longest block or segment.

    Returns ``pack_ids`` and ``pack_positions`` (a context's from 0, a segment's after its context),
    ``key_index`` (rows, keys: where the tokens of every streamed context a row reads lie in the flattened rows),
    ``attention`` (rows, 1, width, keys + width: a context token reads its context, a segment token its context
    and its own segment, among those keys or in its row; padding reads padding, so that no row of it is empty)
    and ``pool_index`` (where each record's segment starts in the flattened rows, in record order).
    """
    import torch

    members = _members(group_of)
    size = {g: len(contexts[g]) + sum(len(segments[i]) for i in records) for g, records in members.items()}
    blocks = sorted((g for g in members if size[g] <= block_tokens), key=lambda g: -size[g])
    streamed = [g for g in members if size[g] > block_tokens]
    width = max([row_tokens] + [len(x) for x in segments] + [size[g] for g in blocks])
    columns = ("ids", "positions", "state", "own", "inline")  # own: 1 + a segment's record, 0 in a context
    rows: list[dict[str, list]] = []
    pool = [0] * len(segments)

    def add(r: int, tokens: Sequence[int], first: int, g: int, own: int, inline: bool) -> None:
        if own:
            pool[own - 1] = r * width + len(rows[r]["ids"])
        for t, token in enumerate(tokens):
            for c, v in zip(columns, (token, first + t, g, own, inline)):
                rows[r][c].append(v)

    def new_row() -> int:
        rows.append({c: [] for c in columns})
        return len(rows) - 1

    room: list[int] = []
    for g in blocks:  # each block whole in one row, first fit
        r = next((k for k in range(len(room)) if room[k] >= size[g]), None)
        if r is None:
            r = new_row()
            room.append(width)
        add(r, contexts[g], 0, g, 0, True)
        for i in members[g]:
            add(r, segments[i], len(contexts[g]), g, i + 1, True)
        room[r] -= size[g]
    where: dict[int, range] = {}  # a streamed context -> its tokens in the flattened rows
    r = new_row() if streamed else -1
    for g in streamed:
        n = len(contexts[g])
        start = r * width + len(rows[r]["ids"])
        where[g] = range(start, start + n)  # contiguous: a row is left only when it is full
        t = 0
        while t < n:  # a context runs on into the next row
            if len(rows[r]["ids"]) == width:
                r = new_row()
            take = min(n - t, width - len(rows[r]["ids"]))
            add(r, contexts[g][t:t + take], t, g, 0, False)
            t += take
        for i in members[g]:  # a segment stays in one row
            if len(rows[r]["ids"]) + len(segments[i]) > width:
                r = new_row()
            add(r, segments[i], n, g, i + 1, False)
    pad = {"ids": pad_id, "positions": 0, "state": -1, "own": -1, "inline": False}
    for row in rows:
        for c in columns:
            row[c] += [pad[c]] * (width - len(row[c]))

    def tensor(c: str) -> torch.Tensor:
        return torch.as_tensor([row[c] for row in rows], dtype=torch.bool if c == "inline" else torch.long)

    state, own, inline = tensor("state"), tensor("own"), tensor("inline")
    keys = [[g for g in dict.fromkeys(s for s, i in zip(row["state"], row["inline"]) if s >= 0 and not i)]
            for row in rows]
    n_keys = max(sum(len(where[g]) for g in row) for row in keys)
    key_index = torch.zeros((len(rows), n_keys), dtype=torch.long)
    key_owner = torch.full((len(rows), n_keys), -2, dtype=torch.long)  # -2: no query reads it
    for r, row in enumerate(keys):
        at = 0
        for g in row:
            key_index[r, at:at + len(where[g])] = torch.arange(where[g].start, where[g].stop)
            key_owner[r, at:at + len(where[g])] = g
            at += len(where[g])
    streamed_query = (state >= 0) & ~inline
    gathered = (state[:, :, None] == key_owner[:, None, :]) & streamed_query[:, :, None]
    in_row = (((own[:, None, :] == 0) & (state[:, :, None] == state[:, None, :]) & inline[:, :, None])
              | ((own[:, :, None] == own[:, None, :]) & (own[:, :, None] != 0)))
    batch = {"pack_ids": tensor("ids"), "pack_positions": tensor("positions"), "key_index": key_index,
             "attention": torch.cat([gathered, in_row], dim=2)[:, None],
             "pool_index": torch.as_tensor(pool, dtype=torch.long)}
    return {k: v.to(device) for k, v in batch.items()}


ATTENTION = "leanprogress_group"
"""The name :func:`group_attention` is registered under in transformers' ``AttentionInterface``."""

_lock = threading.Lock()
_active: dict[str, Any] | None = None  # the batch group_attention reads, while group_forward runs


def group_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                    attention_mask: Any, dropout: float = 0.0, scaling: float | None = None,
                    **kwargs: Any) -> tuple[torch.Tensor, None]:
    """One layer's attention over a pass of :func:`pack` (transformers' attention-function signature; the
    model's own mask is ignored: the pass carries its own). Each row reads the keys and values of the contexts
    its tokens read, gathered from wherever they lie in this layer's rows, and its own tokens: a context token
    its context, a segment token its context and its own segment."""
    import torch
    from torch.nn.functional import scaled_dot_product_attention as sdpa

    batch = _active
    if batch is None:
        raise RuntimeError("group_attention runs inside group_forward only")
    batch["layers"] += 1
    heads, dim = key.shape[1], key.shape[3]

    def gathered(states: torch.Tensor) -> torch.Tensor:  # (rows, heads, keys + width, dim)
        if not batch["key_index"].shape[1]:  # blocks only: every row reads within itself
            return states
        context = states.transpose(1, 2).reshape(-1, heads, dim)[batch["key_index"]].transpose(1, 2)
        return torch.cat([context, states], dim=2)

    out = sdpa(query, gathered(key), gathered(value), attn_mask=batch["attention"], dropout_p=dropout,
               scale=scaling)
    return out.transpose(1, 2).contiguous(), None


def group_forward(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Head outputs ``(records, num_labels)`` of a pass from :func:`pack`, with gradients when enabled.

    The model is called as a whole, so its own embeddings, pooler, dropout and head run (in the precision they
    were given, under accelerate's autocast, and under DDP through the wrapper's forward), with
    :func:`group_attention` as its attention for the call, and a hook handing its pooler each segment's first
    token in place of each row's first token.
    """
    global _active
    from transformers import AttentionInterface

    inner = getattr(model, "module", model)  # under DDP the wrapped model
    pool_index = batch["pool_index"]

    def segments_first(module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        firsts = hidden.reshape(-1, hidden.shape[-1]).index_select(0, pool_index)[:, None, :]
        return (firsts,), {}

    if ATTENTION not in AttentionInterface._global_mapping:
        AttentionInterface.register(ATTENTION, group_attention)
    config = inner.config
    with _lock:  # the attention function and the hook are this call's while it runs: one call at a time
        before = config._attn_implementation
        handle = inner.base_model.pooler.register_forward_pre_hook(segments_first, with_kwargs=True)
        _active = {**batch, "layers": 0}
        config._attn_implementation = ATTENTION
        try:
            logits = model(input_ids=batch["pack_ids"], position_ids=batch["pack_positions"]).logits
            if _active["layers"] == 0:  # its attention ignored ours: every token would have read every other
                raise ValueError(f"the group encoder kind needs a model whose attention goes through transformers' "
                                 f"attention functions; {type(inner).__name__}'s does not: train it with "
                                 "--encoder-kind cross")
            return logits
        finally:
            config._attn_implementation = before
            _active = None
            handle.remove()


def _parameters(module: Any) -> set[str]:
    """The names a module's forward takes."""
    return set(inspect.signature(module.forward).parameters)


# ---------------------------------------------------------------- batches
def compose_batches(keys: Sequence[Hashable], lengths: Sequence[int], batch_size: int,
                    seed: int | None = None, by_length: bool = True) -> list[list[int]]:
    """Record indices per batch, about ``batch_size`` records each, records with the same context key together.

    Records sharing a context stay in one batch (in chunks of ``batch_size``), so their context is encoded
    once. With ``seed``, the chunks are shuffled and (``by_length``) sorted by ``lengths`` (of each chunk's first
    record: its tokens) within windows of 50 batches, as the HF ``Trainer`` groups by length, so that a batch
    pads little; batches come out shuffled. Without it, longest first (evaluation, scoring).
    """
    groups = _members(keys)
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


def _members(keys: Sequence[Hashable]) -> dict[Hashable, list[int]]:
    """Indices of equal keys (a state's records), keys in order of first appearance."""
    members: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        members.setdefault(key, []).append(i)
    return members
