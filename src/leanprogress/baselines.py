"""The tactic-name lookup: the baseline a progress model has to beat by reading the state.

A table keyed on the tactic's first word (``linarith``, ``have``, ``norm_num``)
already knows that ``linarith`` usually closes a goal and ``have`` usually does
not. A model that only learns that much adds nothing for search, which compares
candidates on the same state. :class:`TacticLookup` is that table: the median
and the mode of ``steps_remaining`` per tactic name, fit on a model's training
records, with the overall median and mode for names it never saw.

The name says nothing about a nested proof: ``have h : p := by`` followed by
a block of ten tactics is one step, and in a whole proof written with nested
``have`` blocks the first step is many steps from the end. ``key="name+blocks"``
keys the table on the name and the number of multi-line ``by`` blocks the
tactic opens (:func:`tactic_blocks`, bucketed 0 / 1 / 2-3 / 4+): a second,
stronger baseline, still blind to the state. A cell with fewer than :data:`MIN_CELL_ROWS` training
rows falls back to its name.

The trainer fits the name lookup (the block lookup for ``--head-prior
block-lookup``) on the records it trains on and saves it with the model as
``tactic_lookup.json``, so ``leanprogress evaluate`` can show it beside the model
on any dataset. It also keeps how often each name took each number of steps
(``counts``), from which :meth:`TacticLookup.class_log_prior` gives a
distribution head the name's step distribution to start from (``train
--head-prior lookup``).

Example:
    >>> lookup = TacticLookup.fit([{"tactic": "linarith", "steps_remaining": 0},
    ...                            {"tactic": "have h : 0 < 1 := by norm_num", "steps_remaining": 3}])
    >>> lookup.predict(["linarith [h]", "have h2 : x = 1", "omega"], "median")
    [0.0, 3.0, 1.5]
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from .files import atomic_output

LOOKUP_FILE = "tactic_lookup.json"
LOOKUP_STATISTICS = ("median", "mode")
LOOKUP_KEYS = ("name", "name+blocks")
"""What a lookup is keyed on: the tactic's first word, or that and the multi-line ``by`` blocks it opens."""
BLOCK_BUCKETS = (1, 2, 4)
"""Bucket edges of :func:`tactic_blocks` for ``key="name+blocks"``: 0, 1, 2-3, 4 or more blocks."""
MIN_CELL_ROWS = 5
"""A (name, blocks) cell seen on fewer training rows is left out: its tactics get their name's statistics."""
_DESCRIPTIONS = {"name": "tactic first word",
                 "name+blocks": "tactic first word and its multi-line by blocks (0, 1, 2-3, 4+)"}

# Focusing dots and case bullets come before the tactic proper; the name ends at a space or an opening
# bracket (``rw[h]``, ``simp(config := ...)``, ``nlinarith[sq_nonneg x]``).
_LEAD = re.compile(r"^[\s·.•]+")
_NAME = re.compile(r"[^\s\[\(\{⟨;,]+")


def tactic_name(tactic: str) -> str:
    """The first word of a tactic: ``"nlinarith [sq_nonneg (a - b)]"`` -> ``"nlinarith"``.

    Leading focusing dots are skipped; a tactic with no word (only brackets) is its first character.
    """
    text = _LEAD.sub("", tactic)
    m = _NAME.match(text)
    if m:
        return m.group(0)
    return text[:1] if text else ""


_BLOCK = re.compile(r"(?<![\w.'])by[ \t]*(?:--[^\n]*)?\n")


def tactic_blocks(tactic: str) -> int:
    """How many nested proofs of their own lines a tactic opens: each ``by`` that ends its line.

    ``have h : p := by nlinarith`` (a one-line proof) opens none; ``have h : p := by`` followed by an indented
    block opens one. Measured on whole proofs, the multi-line blocks are what tells a first ``have`` of a long
    proof (many steps left) from a one-line ``have`` (usually one); counting every ``by`` did not (see the
    benchmarks page).

    Example:
        >>> tactic_blocks("have h : 0 < x := by\\n  have h2 : x ≠ 0 := by\\n    positivity\\n  positivity")
        2
        >>> tactic_blocks("have h : 0 < x := by positivity"), tactic_blocks("by_contra h")
        (0, 0)
    """
    return len(_BLOCK.findall(tactic))


def tactic_key(tactic: str, key: str = "name") -> str:
    """The lookup key of a tactic: its name, or (``"name+blocks"``) its name and its blocks' bucket
    (``"have by1"``; names never contain spaces, so a cell never collides with a name)."""
    name = tactic_name(tactic)
    if key == "name":
        return name
    return f"{name} by{sum(tactic_blocks(tactic) >= e for e in BLOCK_BUCKETS)}"


def _mode(values: Sequence[int]) -> int:
    counts = Counter(values)
    best = max(counts.values())
    return min(v for v, c in counts.items() if c == best)  # ties: the smaller count of steps


class TacticLookup:
    """Median and mode of ``steps_remaining`` per tactic name, with an overall fallback.

    Args:
        table: ``{name: {"n": rows, "median": float, "mode": int, "counts": {steps: rows}}}`` (``counts`` is
            absent from lookups saved before it existed); with ``key="name+blocks"`` also the (name, blocks)
            cells (:func:`tactic_key`) seen on at least :data:`MIN_CELL_ROWS` rows.
        fallback: the same statistics over all training rows, used for names not in ``table``.
        key: one of :data:`LOOKUP_KEYS`.

    Build it with :meth:`fit`; save and load it with :meth:`save` and :meth:`load`.
    """

    def __init__(self, table: dict[str, dict], fallback: dict, key: str = "name"):
        if key not in LOOKUP_KEYS:
            raise ValueError(f"key must be one of {LOOKUP_KEYS}, got {key!r}")
        for name, entry in [("fallback", fallback), *table.items()]:
            missing = [k for k in ("n", "median", "mode") if k not in entry]
            if missing:
                raise ValueError(f"tactic lookup entry {name!r} lacks {missing}")
        self.table = table
        self.fallback = fallback
        self.key = key

    @classmethod
    def fit(cls, records: Iterable[dict], key: str = "name") -> "TacticLookup":
        """Fit on records with ``tactic`` and ``steps_remaining`` (as many times as each appears).

        Args:
            records: training records.
            key: ``"name"`` (the tactic's first word) or ``"name+blocks"`` (also the multi-line ``by`` blocks it
                opens: :func:`tactic_blocks`).

        Example:
            >>> rows = ([{"tactic": "have h : p := by\\n  simp", "steps_remaining": 4}] * 5
            ...         + [{"tactic": "have h : p", "steps_remaining": 1}] * 6)
            >>> TacticLookup.fit(rows).predict(["have h : q := by\\n  ring"], "mode")
            [1.0]
            >>> TacticLookup.fit(rows, key="name+blocks").predict(["have h : q := by\\n  ring"], "mode")
            [4.0]
        """
        if key not in LOOKUP_KEYS:  # before the records are read (the constructor checks it too, for load)
            raise ValueError(f"key must be one of {LOOKUP_KEYS}, got {key!r}")
        by_key: dict[str, list[int]] = defaultdict(list)
        everything: list[int] = []
        for r in records:
            steps = int(r["steps_remaining"])
            by_key[tactic_name(r["tactic"])].append(steps)
            if key != "name":
                by_key[tactic_key(r["tactic"], key)].append(steps)
            everything.append(steps)
        if not everything:
            raise ValueError("cannot fit a tactic lookup on no records")

        def stats(values: list[int]) -> dict:
            counts = {str(k): v for k, v in sorted(Counter(values).items())}  # JSON keys are strings
            return {"n": len(values), "median": float(np.median(values)), "mode": _mode(values), "counts": counts}

        table = {k: stats(v) for k, v in sorted(by_key.items()) if " " not in k or len(v) >= MIN_CELL_ROWS}
        return cls(table, stats(everything), key)

    def entry(self, tactic: str) -> dict | None:
        """The statistics a tactic is predicted from: its cell's, else its name's; None for a name not seen."""
        if self.key != "name":
            cell = self.table.get(tactic_key(tactic, self.key))
            if cell is not None:
                return cell
        return self.table.get(tactic_name(tactic))

    def predict(self, tactics: Sequence[str], statistic: str = "median") -> list[float]:
        """Predicted steps remaining for each tactic: its key's ``median`` or ``mode``."""
        if statistic not in LOOKUP_STATISTICS:
            raise ValueError(f"statistic must be one of {LOOKUP_STATISTICS}, got {statistic!r}")
        return [float((self.entry(t) or self.fallback)[statistic]) for t in tactics]

    PRIOR_SMOOTHING = 10.0
    """Pseudo-rows of the overall distribution added to each name's counts in :meth:`class_log_prior`: a name seen
    a few times is not taken at its word."""

    def class_log_prior(self, tactics: Sequence[str], max_steps: int) -> np.ndarray:
        """Log-probabilities of the distribution head's classes (0..K steps, more than K) for each tactic's name:
        its counts smoothed toward the overall distribution (:attr:`PRIOR_SMOOTHING` rows of it; names not seen
        get the overall distribution, itself smoothed by one row per class).

        Returns:
            an array of shape ``(len(tactics), max_steps + 2)``.

        Raises:
            ValueError: for a lookup saved before it kept counts.

        Example:
            >>> lookup = TacticLookup.fit([{"tactic": "linarith", "steps_remaining": 0}] * 90
            ...                           + [{"tactic": "have h : p", "steps_remaining": 2}] * 10)
            >>> p = np.exp(lookup.class_log_prior(["linarith", "have h2 : q", "omega"], max_steps=1))
            >>> [round(float(x), 2) for x in p[0]], [round(float(x), 2) for x in p[2]]
            ([0.99, 0.0, 0.01], [0.88, 0.01, 0.11])
        """
        def histogram(entry: dict) -> np.ndarray:
            if "counts" not in entry:
                raise ValueError("this tactic lookup was saved before it kept step counts per name: fit it again "
                                 "(train the model again) to use it as a prior")
            h = np.zeros(max_steps + 2)
            for steps, n in entry["counts"].items():
                h[min(int(steps), max_steps + 1)] += n
            return h

        overall = histogram(self.fallback) + 1.0
        overall /= overall.sum()
        out = np.empty((len(tactics), max_steps + 2))
        for i, t in enumerate(tactics):
            entry = self.entry(t)
            h = overall * self.PRIOR_SMOOTHING + (histogram(entry) if entry is not None else 0.0)
            out[i] = np.log(h / h.sum())
        return out

    def to_dict(self) -> dict:
        return {"format_version": 1, "key": _DESCRIPTIONS[self.key], "lookup_key": self.key, "fallback": self.fallback,
                "tactics": self.table}

    def save(self, folder: str | os.PathLike) -> Path:
        """Write ``tactic_lookup.json`` into ``folder`` (atomically)."""
        path = Path(folder) / LOOKUP_FILE
        with atomic_output(path) as f:
            f.write(json.dumps(self.to_dict(), indent=1, ensure_ascii=False) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "TacticLookup | None":
        """The lookup saved in a model folder, or None if the model has none (trained before it existed)."""
        path = Path(folder) / LOOKUP_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["tactics"], data["fallback"], data.get("lookup_key", "name"))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not a tactic lookup ({exc})") from None

    def __len__(self) -> int:
        return len(self.table)
