"""``ProgressDataset``: a JSONL file of records as a HuggingFace dataset, split by theorem."""

from __future__ import annotations

import logging
import os
import random
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .records import ReadStats, read_records, theorem_key, validate_record

logger = logging.getLogger(__name__)

# The published recipe's sampling ratios by proof length (number of tactics).
PUBLISHED_BALANCE: dict[tuple[int, int | None], float] = {
    (1, 5): 0.01,
    (6, 10): 0.3,
    (11, 15): 0.5,
    (16, 20): 0.7,
    (21, None): 1.0,
}


class ProgressDataset:
    """Progress records in memory, with a HuggingFace ``datasets.Dataset`` view.

    Args:
        source: a JSONL path (see :mod:`leanprogress.data.records` for the
            format) or an iterable of record dicts.
        skip_invalid: skip malformed lines instead of raising; how many were
            skipped is in ``stats.skipped`` and logged.

    Example:
        >>> ds = ProgressDataset([{"goal": "⊢ True", "tactic": "trivial", "steps_remaining": 0,
        ...                        "theorem": "t"}])
        >>> len(ds), ds.dataset.column_names[:3]
        (1, ['goal', 'tactic', 'steps_remaining'])
    """

    def __init__(self, source: str | os.PathLike | Iterable[dict], skip_invalid: bool = False):
        if isinstance(source, (str, os.PathLike)):
            self.path: Path | None = Path(source)
            self.records, self.stats = read_records(source, skip_invalid=skip_invalid)
            if self.stats.skipped:
                logger.warning(
                    "%s: skipped %d invalid line(s), kept %d; first: %s",
                    source, self.stats.skipped, self.stats.kept, (self.stats.first_errors or [""])[0],
                )
        else:
            self.path = None
            self.records = [validate_record(r, None, i) for i, r in enumerate(source, start=1)]
            self.stats = ReadStats(kept=len(self.records))
        self._hf = None

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict:
        return self.records[i]

    def __iter__(self) -> Iterator[dict]:
        return iter(self.records)

    @property
    def dataset(self):
        """The records as a ``datasets.Dataset`` (all keys kept; missing ones are None)."""
        if self._hf is None:
            from datasets import Dataset

            keys: dict[str, None] = {}
            for r in self.records:
                keys.update(dict.fromkeys(r))
            columns = {k: [r.get(k) for r in self.records] for k in keys}
            try:
                self._hf = Dataset.from_dict(columns)
            except Exception as exc:  # pyarrow type clash in an extra key
                raise ValueError(
                    f"{self.path or 'records'}: extra keys must have one type per key ({exc})"
                ) from None
        return self._hf

    @property
    def labels(self) -> list[int]:
        return [r["steps_remaining"] for r in self.records]

    def split(self, eval_ratio: float = 0.2, seed: int = 42) -> tuple["ProgressDataset", "ProgressDataset"]:
        """Train and eval parts with no theorem on both sides (see :func:`split_by_theorem`)."""
        train, evaluation = split_by_theorem(self.records, eval_ratio=eval_ratio, seed=seed)
        return ProgressDataset(train), ProgressDataset(evaluation)


def _groups(records: Sequence[dict]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    missing = 0
    for i, r in enumerate(records):
        key = theorem_key(r)
        if key is None:
            missing += 1
            key = f"\0row{i}"
        groups[key].append(i)
    if missing:
        logger.warning(
            "%d record(s) have no 'theorem' key; each is split as its own theorem, "
            "so steps of one proof may land on both sides",
            missing,
        )
    return groups


def split_by_theorem(
    records: Sequence[dict], eval_ratio: float = 0.2, seed: int = 42
) -> tuple[list[dict], list[dict]]:
    """Split records so that all steps of a theorem fall on the same side.

    A row-level split puts step 3 of a proof in training and step 4 in
    evaluation; the model then only has to recognise the proof, and every
    metric is inflated. Theorems (the ``theorem`` key, qualified by
    ``file_path`` where present) are shuffled with ``seed`` and the first
    ``round(eval_ratio * n_theorems)`` (at least one, when ``eval_ratio > 0``
    and there are two or more theorems) go to evaluation.

    Args:
        records: validated records.
        eval_ratio: fraction of theorems held out, in [0, 1).
        seed: shuffling seed; the same seed and theorem set give the same split.
    """
    if not 0.0 <= eval_ratio < 1.0:
        raise ValueError(f"eval_ratio must be in [0, 1), got {eval_ratio}")
    groups = _groups(records)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    n_eval = round(eval_ratio * len(keys))
    if eval_ratio > 0 and n_eval == 0 and len(keys) > 1:
        n_eval = 1
    eval_keys = set(keys[:n_eval])
    train = [r for k in keys[n_eval:] for r in (records[i] for i in groups[k])]
    evaluation = [r for k in keys[:n_eval] for r in (records[i] for i in groups[k])]
    assert not eval_keys & set(keys[n_eval:])
    return train, evaluation


def parse_balance(spec: str) -> dict[tuple[int, int | None], float]:
    """Parse ``"1-5:0.01,6-10:0.3,21+:1.0"`` (or ``"published"``) into sampling ratios."""
    if spec.strip().lower() == "published":
        return dict(PUBLISHED_BALANCE)
    out: dict[tuple[int, int | None], float] = {}
    for part in spec.split(","):
        try:
            rng, ratio = part.split(":")
            r = float(ratio)
            if rng.endswith("+"):
                lo, hi = int(rng[:-1]), None
            else:
                a, b = rng.split("-")
                lo, hi = int(a), int(b)
        except ValueError:
            raise ValueError(
                f"bad length-balance bucket {part!r}; expected e.g. '1-5:0.01,6-10:0.3,21+:1.0'"
            ) from None
        if not 0.0 <= r <= 1.0:
            raise ValueError(f"sampling ratio must be in [0, 1], got {r} in {part!r}")
        out[(lo, hi)] = r
    return out


def balance_by_length(
    records: Sequence[dict], ratios: dict[tuple[int, int | None], float], seed: int = 42
) -> list[dict]:
    """Keep each theorem with the sampling ratio of its proof-length bucket.

    Whole theorems are kept or dropped, so proof histories stay complete and
    the split by theorem is unaffected. Proof length is the number of records
    of the theorem (its traced tactics). A length no bucket covers is kept.
    """
    rng = random.Random(seed)
    groups = _groups(records)
    kept: list[dict] = []
    for key in sorted(groups):
        idx = groups[key]
        length = len(idx)
        ratio = next(
            (r for (lo, hi), r in ratios.items() if length >= lo and (hi is None or length <= hi)), 1.0
        )
        if rng.random() < ratio:
            kept.extend(records[i] for i in idx)
    return kept


def parse_dataset_spec(spec: str) -> tuple[str, float]:
    """``PATH`` or ``PATH:WEIGHT`` (weight >= 0, default 1)."""
    path, sep, weight = spec.rpartition(":")
    if sep and path:
        try:
            w = float(weight)
        except ValueError:
            return spec, 1.0
        if w < 0:
            raise ValueError(f"dataset weight must be >= 0, got {w} in {spec!r}")
        return path, w
    return spec, 1.0


def weight_by_theorem(records: Sequence[dict], weight: float, seed: int = 42) -> list[dict]:
    """Repeat each theorem ``floor(weight)`` times and once more with probability ``frac(weight)``.

    Whole theorems are repeated or dropped, so proof histories stay intact.
    """
    rng = random.Random(seed)
    whole, frac = int(weight), weight - int(weight)
    groups = _groups(records)
    out: list[dict] = []
    for key in sorted(groups):
        copies = whole + (1 if frac and rng.random() < frac else 0)
        for _ in range(copies):
            out.extend(records[i] for i in groups[key])
    return out


def load_mixture(
    specs: Sequence[str], eval_ratio: float = 0.2, seed: int = 42, skip_invalid: bool = False
) -> tuple[ProgressDataset, ProgressDataset, list[ProgressDataset]]:
    """Train and eval sets from several files, each with a weight (``PATH:WEIGHT``).

    The split by theorem is made on the union, so a theorem present in two
    files is held out from both; weights then apply to the training side
    only (evaluation stays one row per step). Records without a ``source``
    get the file's stem, so figures can be reported per source.

    Returns:
        ``(train, eval, loaded)``, ``loaded`` being the files as read.
    """
    loaded, weights = [], []
    for spec in specs:
        path, w = parse_dataset_spec(spec)
        ds = ProgressDataset(path, skip_invalid=skip_invalid)
        for r in ds.records:
            r.setdefault("source", Path(path).stem)
        loaded.append(ds)
        weights.append(w)
    union = [r for ds in loaded for r in ds.records]
    train, held = split_by_theorem(union, eval_ratio=eval_ratio, seed=seed)
    if len(loaded) > 1 or weights[0] != 1.0:
        held_ids = {id(r) for r in held}
        train = []
        for ds, w in zip(loaded, weights):
            train += weight_by_theorem([r for r in ds.records if id(r) not in held_ids], w, seed=seed)
    return ProgressDataset(train), ProgressDataset(held), loaded
