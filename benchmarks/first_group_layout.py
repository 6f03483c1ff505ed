"""The first group layout (issue 25, superseded): rows of 512 tokens, each a context followed by as many of its
segments as fit, under one block mask, run by the model's SDPA. Kept for ``bench_scoring.py --kinds``, which times
it beside the layout that replaced it (leanprogress.batch_layout) on the same model: both compute the same function
of a group-kind model (each segment reads its context and itself), so their scores agree to float rounding.

Measured on the 2-core AMD EPYC: its masked 512 x 512 attention took as long as all the linear layers, and a state
was repeated in every row it did not fit.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from leanprogress.batch_layout import token_passes

PACK_TOKENS = 512


def first_layout_logits(scorer, goal: str, prefix: str, tactics: list[str], pack_tokens: int = PACK_TOKENS):
    """Head outputs of a group-kind ``scorer``'s model for ``tactics`` on one state, laid out the first way."""
    layout, model = scorer.layout, scorer.model
    built = layout.build([goal] * len(tactics), tactics, [prefix] * len(tactics))
    contexts, segments = layout.encode(built)
    raw = np.zeros((len(tactics), scorer.settings.num_labels))
    with torch.inference_mode():
        for idx in token_passes(built.group_of, [len(c) for c in contexts], [len(s) for s in segments],
                                scorer.batch_size * layout.builder.max_length):
            batch = pack(contexts, [segments[i] for i in idx], [built.group_of[i] for i in idx], layout.pad_id,
                         pack_tokens)
            raw[idx] = forward(model, batch).float().reshape(len(idx), -1).numpy()
    return raw


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


def forward(model, batch):
    """Head outputs of a batch from :func:`pack`: the model's SDPA under the block mask, its pooler reading each
    segment's first token."""
    pool_index = batch["pool_index"]

    def segments_first(module, args, kwargs):
        hidden = args[0] if args else kwargs["hidden_states"]
        return (hidden.reshape(-1, hidden.shape[-1]).index_select(0, pool_index)[:, None, :],), {}

    handle = model.base_model.pooler.register_forward_pre_hook(segments_first, with_kwargs=True)
    try:
        return model(input_ids=batch["pack_ids"], attention_mask=block_mask(batch["pack_block"], batch["pack_segment"]),
                     position_ids=batch["pack_positions"]).logits
    finally:
        handle.remove()
