"""The ranking objective: train on the order of candidate tactics of one state, not only on step counts.

Search compares tactics on one state, but a steps-remaining loss only ever sees tactics that worked: nothing
tells the model that a tactic recorded on another theorem does not belong here. With
``ProgressTrainingArguments.ranking_weight > 0`` every training record (its goal, prefix and tactic: the
*anchor*) comes with a small group of other candidates on the same state (same goal, same prefix):

- **negatives**: up to ``ranking_negatives`` tactics recorded on *other theorems* (by the identity rule of
  :func:`~leanprogress.data.dataset.group_by_theorem`), taken to fail on the anchor's state, as the
  distractors of the branching replay do. They are drawn with the run's seed, once per run, from the records
  of the anchor's ``source`` (``ranking_negatives_from="source"``, a distractor in the same style) or of any
  source (``"any"``), as often as each tactic is recorded, never a tactic text recorded on the anchor's goal;
- **siblings**: the other recorded tactics of the anchor's state (several proofs of one theorem sharing
  states; a state repeated across records) whose label differs, up to ``ranking_negatives`` of them, ordered
  by their labels.

Every pair (better, worse) in a group (anchor or sibling before each negative; anchor and sibling by label)
adds a logistic loss with a margin, ``softplus(margin - gap)``, on how far the model puts the worse candidate
behind the better one:

- regression head: ``gap = r_worse - r_better``, ``r`` its output (``log1p(steps)`` with the default label
  transform, steps with ``none``);
- distribution head: ``gap = L_better - L_worse`` with ``L = log P(steps <= y) - log P(steps > y)``, the
  log-odds of needing at most ``y`` more steps, ``y`` the better candidate's label (at most K; for a closing
  tactic, the log-odds of closing the goal). Log-odds, not the expected steps: most records close their goal,
  the head soon puts nearly all its probability on 0 steps, and there the expected steps has almost no
  gradient left to move a negative (in the tests it never moved), while the log-odds keeps one.

The loss of a batch is ``base + ranking_weight * (mean over its pairs)``, ``base`` being the head's own loss
(MSE or cross-entropy) over the anchors only: negatives have no label, and evaluation (which has no groups)
reports the base loss, comparable with a run without the objective and with the constant predictor's loss.
Each negative and sibling is one more sequence through the encoder, so a training step costs about
``1 + negatives + siblings`` times as much.

Example:
    >>> records = [{"goal": "⊢ a", "prefix": "", "tactic": "simp", "steps_remaining": 0, "theorem": "A"},
    ...            {"goal": "⊢ a", "prefix": "", "tactic": "intro x", "steps_remaining": 2, "theorem": "A"},
    ...            {"goal": "⊢ b", "prefix": "", "tactic": "ring", "steps_remaining": 0, "theorem": "B"}]
    >>> groups = ranking_groups(records, negatives=1, negatives_from="any", seed=0)
    >>> groups[0].siblings, groups[0].negatives, groups[0].pairs, groups[0].better_steps
    ([1], ['ring'], [(0, 1), (0, 2), (1, 2)], [0, 0, 2])
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Sequence

import torch
from transformers import DataCollatorWithPadding, Trainer

from ..config import NEGATIVE_SOURCES

# Draws per wanted negative before giving up on an anchor (a pool dominated by the anchor's own theorem or by
# tactics recorded on its goal): bounded work, whatever the data.
_TRIES_PER_NEGATIVE = 8


@dataclass
class RankingGroup:
    """The candidates trained beside one anchor record.

    Attributes:
        siblings: indices of records on the anchor's state (same goal and prefix) with another tactic and
            another label.
        negatives: tactic texts of other theorems, read on the anchor's state.
        pairs: ``(better, worse)`` positions in the group: 0 is the anchor, ``1..len(siblings)`` the
            siblings, then the negatives.
        better_steps: per pair, the label (steps remaining) of its better candidate.
    """

    siblings: list[int] = field(default_factory=list)
    negatives: list[str] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)
    better_steps: list[int] = field(default_factory=list)


@dataclass
class RankingStats:
    """What :func:`ranking_groups` drew, for the training log and ``training_metrics.json``."""

    records: int = 0
    negatives: int = 0
    sibling_pairs: int = 0
    pairs: int = 0
    short_of_negatives: int = 0
    """Records that got fewer negatives than asked (their source holds too few other theorems)."""

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def ranking_groups(records: Sequence[dict], negatives: int, negatives_from: str = "source", seed: int = 42,
                   stats: RankingStats | None = None) -> list[RankingGroup]:
    """One :class:`RankingGroup` per record (see the module doc), drawn reproducibly from ``seed``.

    Args:
        records: validated training records (weights applied: a repeated record gets its own draws).
        negatives: negatives per record, and the most siblings per record; >= 1.
        negatives_from: ``source`` or ``any`` (:data:`leanprogress.config.NEGATIVE_SOURCES`).
        seed: the same records and seed give the same groups.
        stats: filled with counts when given.
    """
    from ..data.dataset import group_by_theorem

    if negatives < 1:
        raise ValueError(f"negatives must be >= 1, got {negatives}")
    if negatives_from not in NEGATIVE_SOURCES:
        raise ValueError(f"negatives_from must be one of {NEGATIVE_SOURCES}, got {negatives_from!r}")
    stats = stats if stats is not None else RankingStats()
    rng = random.Random(f"ranking:{seed}")
    theorem = [0] * len(records)
    for k, idx in enumerate(group_by_theorem(records, warn=False).values()):
        for i in idx:
            theorem[i] = k
    def pool_of(r: dict) -> str:
        return (r.get("source") or "") if negatives_from == "source" else ""

    on_goal: dict[str, set[str]] = defaultdict(set)
    on_state: dict[tuple[str, str], list[int]] = defaultdict(list)
    pools: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        on_goal[r["goal"]].add(r["tactic"])
        on_state[(r["goal"], r.get("prefix") or "")].append(i)
        pools[pool_of(r)].append(i)
    groups = []
    for i, r in enumerate(records):
        label, tactic = r["steps_remaining"], r["tactic"]
        distinct: dict[tuple[str, int], int] = {}
        for j in on_state[(r["goal"], r.get("prefix") or "")]:
            other = records[j]
            if other["tactic"] != tactic and other["steps_remaining"] != label:
                distinct.setdefault((other["tactic"], other["steps_remaining"]), j)
        siblings = list(distinct.values())
        if len(siblings) > negatives:
            siblings = rng.sample(siblings, negatives)
        pool = pools[pool_of(r)]
        taken: list[str] = []
        banned = on_goal[r["goal"]]
        for _ in range(_TRIES_PER_NEGATIVE * negatives):
            if len(taken) == negatives:
                break
            j = pool[rng.randrange(len(pool))]
            t = records[j]["tactic"]
            if theorem[j] != theorem[i] and t not in banned and t not in taken:
                taken.append(t)
        steps = [label] + [records[j]["steps_remaining"] for j in siblings]
        pairs = []
        for s, j in enumerate(siblings, start=1):
            pairs.append((0, s) if label < steps[s] else (s, 0))
        first_negative = len(siblings) + 1
        for n in range(first_negative, first_negative + len(taken)):
            pairs += [(better, n) for better in range(first_negative)]
        groups.append(RankingGroup(siblings, taken, pairs, [steps[b] for b, _ in pairs]))
        stats.records += 1
        stats.negatives += len(taken)
        stats.sibling_pairs += len(siblings)
        stats.pairs += len(pairs)
        stats.short_of_negatives += len(taken) < negatives
    return groups


def pair_gaps(logits, pairs, better_steps, head: str):
    """How far behind the better candidate the model puts the worse one, per pair (see the module doc).

    Args:
        logits: ``(n, outputs)`` head outputs of the batch's sequences.
        pairs: ``(m, 2)`` long tensor of ``(better, worse)`` rows.
        better_steps: ``(m,)`` labels (steps) of the better candidates; read by the distribution head only.
        head: ``regression`` or ``distribution``.
    """
    logits = logits.float()
    better, worse = logits[pairs[:, 0]], logits[pairs[:, 1]]
    if head == "regression":
        return worse[:, 0] - better[:, 0]
    n_classes = logits.shape[1]  # 0..K and "more"
    y = better_steps.round().long().clamp(0, n_classes - 2)
    within = torch.arange(n_classes, device=logits.device)[None, :] <= y[:, None]
    lowest = torch.finfo(logits.dtype).min

    def log_odds(z):  # log P(steps <= y) - log P(steps > y)
        return torch.logsumexp(z.masked_fill(~within, lowest), 1) - torch.logsumexp(z.masked_fill(within, lowest), 1)

    return log_odds(better) - log_odds(worse)


def pair_loss(gaps, margin: float):
    """Mean of ``softplus(margin - gap)`` over pairs; 0 without pairs."""
    if gaps.numel() == 0:
        return gaps.sum() * 0.0
    return torch.nn.functional.softplus(margin - gaps).mean()


class RankingCollator:
    """Pads the sequences of whole groups into one batch for :class:`RankingTrainer`.

    A training row holds its anchor (``input_ids``, ``labels``) and its group (``rank_ids``: the token ids of
    siblings and negatives; ``rank_pairs``: local ``(better, worse)`` positions, 0 the anchor; ``rank_steps``:
    the better candidate's steps per pair). The batch has every sequence, ``labels`` of the anchors,
    ``anchor_index`` (their rows), ``rank_pairs`` (batch rows) and ``rank_steps``. Rows without a group
    (evaluation) give a plain batch.

    Args:
        tokenizer: the model's tokenizer (its pad token).
        padding: as for ``transformers.DataCollatorWithPadding``.
        max_length: as for ``transformers.DataCollatorWithPadding``.
    """

    def __init__(self, tokenizer, padding="longest", max_length=None):
        self.pad = DataCollatorWithPadding(tokenizer, padding=padding, max_length=max_length)

    def __call__(self, features: list[dict]) -> dict:
        if not any("rank_ids" in f for f in features):
            return self.pad(features)
        types = "token_type_ids" in features[0]
        sequences, anchors, labels, pairs, steps = [], [], [], [], []

        def add(ids):
            row = {"input_ids": ids, "attention_mask": [1] * len(ids)}
            if types:
                row["token_type_ids"] = [0] * len(ids)
            sequences.append(row)

        for f in features:
            base = len(sequences)
            anchors.append(base)
            labels.append(f["labels"])
            add(f["input_ids"])
            for ids in f.get("rank_ids", ()):
                add(ids)
            pairs += [(base + b, base + w) for b, w in f.get("rank_pairs", ())]
            steps += f.get("rank_steps", ())
        batch = self.pad(sequences)
        batch["labels"] = torch.tensor(labels, dtype=torch.float32)
        batch["anchor_index"] = torch.tensor(anchors, dtype=torch.long)
        batch["rank_pairs"] = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2)
        batch["rank_steps"] = torch.tensor(steps, dtype=torch.float32)
        return batch


class RankingTrainer(Trainer):
    """The HF ``Trainer`` with the loss ``base + ranking_weight * pair loss`` (see the module doc).

    Both terms are means over the batch (its anchors, its pairs), so the Trainer divides by the gradient
    accumulation steps itself and DDP averages the processes' gradients.

    Args:
        *args: those of ``transformers.Trainer``.
        ranking_weight: the objective's weight.
        ranking_margin: the margin of the pair loss.
        head: ``regression`` or ``distribution``.
        head_max_steps: K of the distribution head.
        **kwargs: those of ``transformers.Trainer`` (``compute_loss_func`` unused).
    """

    loss_is_scaled_for_ga = False

    def __init__(self, *args, ranking_weight: float, ranking_margin: float, head: str, head_max_steps: int = 0,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.ranking_weight, self.ranking_margin = ranking_weight, ranking_margin
        self.head, self.head_max_steps = head, head_max_steps

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        anchors = inputs.pop("anchor_index", None)
        pairs = inputs.pop("rank_pairs", None)
        better_steps = inputs.pop("rank_steps", None)
        outputs = model(**inputs)
        logits = outputs["logits"] if isinstance(outputs, dict) else outputs[0]
        mine = (logits if anchors is None else logits[anchors]).float()
        if self.head == "regression":
            loss = torch.nn.functional.mse_loss(mine[:, 0], labels.float())
        else:  # labels are raw steps; classes above K are "more"
            classes = labels.round().clamp(0, self.head_max_steps + 1).long()
            loss = torch.nn.functional.cross_entropy(mine, classes)
        if pairs is not None and pairs.numel():
            gaps = pair_gaps(logits, pairs, better_steps, self.head)
            loss = loss + self.ranking_weight * pair_loss(gaps, self.ranking_margin)
        return (loss, {"logits": mine}) if return_outputs else loss
