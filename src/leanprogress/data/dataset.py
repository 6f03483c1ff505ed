"""``ProgressDataset``: a JSONL file of records as a HuggingFace dataset, split by theorem."""

from __future__ import annotations

import hashlib
import logging
import os
import random
import re
import math
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from ..lean.canonical import canonical_state
from .records import ReadStats, default_source_names, read_records, theorem_key, validate_record

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


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        root = key
        while self.parent.setdefault(root, root) != root:
            root = self.parent[root]
        while self.parent[key] != root:  # path compression
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # the smaller key names the group, so group names do not depend on the order of the records
            self.parent[max(ra, rb)] = min(ra, rb)


_TOKEN = re.compile(r"[\w.'?!]+|\S")
TRIVIAL_TARGET_TOKENS = 3
"""A state with no hypotheses whose target has at most this many tokens (``⊢ True``, ``⊢ 1 = 1``, ``⊢ p``) is
too common to identify a theorem: unrelated problems reach it."""


def trivial_state(state: str) -> bool:
    """Whether a (canonical) state is too common to say which theorem it starts: ``no goals``, no goal at all,
    or no hypotheses and a target of at most :data:`TRIVIAL_TARGET_TOKENS` tokens.

    Example:
        >>> trivial_state("⊢ True"), trivial_state("no goals"), trivial_state("⊢ ⌊√2021⌋ = 44")
        (True, True, False)
    """
    lines = [l for l in state.strip().split("\n") if l.strip() and not l.startswith("case ")]
    if not lines or state.strip() == "no goals":
        return True
    if len(lines) > 1 or not lines[0].startswith("⊢"):
        return False  # hypotheses (or several goals) say which problem this is
    return len(_TOKEN.findall(lines[0][1:])) <= TRIVIAL_TARGET_TOKENS


def initial_state(record: dict) -> str | None:
    """The canonical initial state of the record's theorem, when the record shows it and it can identify the
    theorem; else None.

    A record shows its theorem's initial state when it is a proof's first step (empty ``prefix``) and its
    ``goal`` is the state before that step: records built with ``--goal-from state_after`` (``goal_from``
    ``state_after``) show the state after the first tactic, often ``no goals``, which says nothing about which
    theorem it was. A trivial state (:func:`trivial_state`) identifies nothing either.
    """
    if record.get("prefix") or record.get("goal_from") == "state_after":
        return None
    state = canonical_state(record.get("goal") or "")
    return None if trivial_state(state) else state


def _grouping(records: Sequence[dict]) -> tuple[list[str], _UnionFind, int]:
    uf = _UnionFind()
    keys: list[str] = []
    missing = 0
    for i, r in enumerate(records):
        name = theorem_key(r)
        if name is None:
            missing += 1
            goal = canonical_state(r.get("goal") or "")
            key = f"\0record:{i}" if trivial_state(goal) else "\0state:" + goal
        else:
            key = name
            start = initial_state(r)
            if start is not None:
                uf.union(key, "\0state:" + start)
        keys.append(key)
    return keys, uf, missing


def group_by_theorem(records: Sequence[dict], warn: bool = True) -> dict[str, list[int]]:
    """Indices of the records of each theorem, by the identity rule of :mod:`leanprogress.data.records`.

    Records group by :func:`~leanprogress.data.records.theorem_key`; groups
    whose proofs start from the same state (:func:`initial_state`: the
    canonical goal of a first step read before it ran, unless trivial) are
    merged, and a record without a ``theorem`` joins the group of its
    canonical goal (alone, if that goal is trivial). Each group is named by
    the smallest key in it, so names are stable across runs.
    :func:`merge_reasons` says which states merged a group's names.

    Example:
        >>> recs = [{"theorem": "a", "goal": "x : ℕ\\n⊢ x + 1 = 1 + x", "prefix": ""},
        ...         {"theorem": "_root_.b", "goal": "x : ℕ\\n⊢ x + 1 = 1 + x", "prefix": ""},
        ...         {"theorem": "c", "goal": "⊢ True", "prefix": ""}, {"theorem": "d", "goal": "⊢ True", "prefix": ""}]
        >>> list(group_by_theorem(recs).values())
        [[0, 1], [2], [3]]
    """
    keys, uf, missing = _grouping(records)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, key in enumerate(keys):
        groups[uf.find(key)].append(i)
    if missing and warn:
        logger.warning(
            "%d record(s) have no 'theorem' key; they are grouped by their goal, so steps of one proof with "
            "different goals may land on both sides of a split",
            missing,
        )
    out: dict[str, list[int]] = {}
    for key, idx in groups.items():
        name = key[len("\0state:"):] if key.startswith("\0state:") else key
        if name.startswith("\0record:"):
            name = canonical_state(records[idx[0]].get("goal") or "") or name
        out[name if name not in out else key] = idx
    return out


def merge_reasons(records: Sequence[dict], indices: Sequence[int]) -> list[tuple[str, list[str]]]:
    """Why the records at ``indices`` (one group of :func:`group_by_theorem`) hold several theorem names: each
    initial state that two or more of the names start from, with those names (sorted, largest group first).

    Example:
        >>> recs = [{"theorem": n, "goal": "x : ℕ\\n⊢ x = x", "prefix": ""} for n in ("a", "b")]
        >>> merge_reasons(recs, [0, 1])
        [('x : ℕ\\n⊢ x = x', ['a', 'b'])]
    """
    names: dict[str, set[str]] = defaultdict(set)
    for i in indices:
        name, start = theorem_key(records[i]), initial_state(records[i])
        if name is not None and start is not None:
            names[start].add(name)
    reasons = [(state, sorted(n)) for state, n in names.items() if len(n) > 1]
    return sorted(reasons, key=lambda r: (-len(r[1]), r[0]))


def describe_merges(records: Sequence[dict], indices: Sequence[int], limit: int = 3) -> str:
    """One line saying which states merged the theorem names of one group ('' if it holds one name)."""
    reasons = merge_reasons(records, indices)
    if not reasons:
        return ""
    parts = []
    for state, names in reasons[:limit]:
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        one_line = " ".join(state.split())
        parts.append(f"{shown} start from {one_line[:80] + ('...' if len(one_line) > 80 else '')!r}")
    more = f"; and {len(reasons) - limit} more shared start(s)" if len(reasons) > limit else ""
    return "; ".join(parts) + more


def one_theorem_message(records: Sequence[dict]) -> str:
    """What to tell a user whose records all fall into one theorem (so a split holds nothing out), and why.

    Example:
        >>> recs = [{"theorem": f"t{i}", "goal": "x : ℕ\\nh : x = 2\\n⊢ x + 1 = 3", "prefix": ""} for i in range(3)]
        >>> one_theorem_message(recs)[:89]
        'every record belongs to one theorem, so nothing is held out: its 3 theorem names (t0, t1,'
    """
    names = sorted({k for k in map(theorem_key, records) if k is not None})
    if len(names) <= 1:
        return "every record belongs to one theorem" + (f" ({names[0]})" if names else "") + ", so nothing is held out"
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    why = describe_merges(records, range(len(records)))
    return (f"every record belongs to one theorem, so nothing is held out: its {len(names)} theorem names ({shown}) "
            f"were merged because their proofs start from the same state ({why}); see 'Theorem identity' in "
            "docs/guides/data.md")


def shared_theorems(first: Sequence[dict], second: Sequence[dict]) -> list[str]:
    """Theorems (by the identity rule) with records in both ``first`` and ``second``, sorted."""
    both = list(first) + list(second)
    cut = len(first)
    shared = []
    for key, idx in group_by_theorem(both, warn=False).items():
        if idx[0] < cut <= idx[-1]:
            names = sorted({str(both[i].get("theorem")) for i in idx if both[i].get("theorem") is not None})
            shared.append(names[0] if names else key)
    return sorted(shared)


def split_by_theorem(
    records: Sequence[dict], eval_ratio: float = 0.2, seed: int = 42
) -> tuple[list[dict], list[dict]]:
    """Split records so that all steps of a theorem fall on the same side.

    A row-level split puts step 3 of a proof in training and step 4 in
    evaluation; the model then only has to recognise the proof, and every
    metric is inflated. Theorems (grouped by :func:`group_by_theorem`: the
    normalised ``theorem`` name, never ``file_path``, with groups that start
    from the same state merged) are shuffled with ``seed`` and the first
    ``round(eval_ratio * n_theorems)`` (at least one, when ``eval_ratio > 0``
    and there are two or more theorems) go to evaluation.

    Args:
        records: validated records.
        eval_ratio: fraction of theorems held out, in [0, 1).
        seed: shuffling seed; the same seed and theorem set give the same split.
    """
    if not 0.0 <= eval_ratio < 1.0:
        raise ValueError(f"eval_ratio must be in [0, 1), got {eval_ratio}")
    groups = group_by_theorem(records)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    n_eval = round(eval_ratio * len(keys))
    if eval_ratio > 0 and n_eval == 0 and len(keys) > 1:
        n_eval = 1
    train = [records[i] for k in keys[n_eval:] for i in groups[k]]
    evaluation = [records[i] for k in keys[:n_eval] for i in groups[k]]
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


def proof_length(records: Iterable[dict]) -> int:
    """Length of the longest proof among one theorem's records: the largest label plus one.

    Counting records instead would count a theorem read twice (or with
    several recorded proofs) as twice as long.
    """
    return max(r["steps_remaining"] for r in records) + 1


def _coin(seed: int, key: str) -> float:
    """A uniform number in [0, 1) fixed by ``seed`` and ``key``: the same theorem gets the same draw in
    every run and in any input order."""
    digest = hashlib.sha256(f"{seed}\0{key}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def keep_by_length(key: str, length: int, ratios: dict[tuple[int, int | None], float], seed: int = 42) -> bool:
    """Whether length balancing keeps the theorem ``key`` of this proof length (see :func:`balance_by_length`)."""
    ratio = next((r for (lo, hi), r in ratios.items() if length >= lo and (hi is None or length <= hi)), 1.0)
    return _coin(seed, key) < ratio


def balance_by_length(
    records: Sequence[dict], ratios: dict[tuple[int, int | None], float], seed: int = 42
) -> list[dict]:
    """Keep each theorem with the sampling ratio of its proof-length bucket.

    Whole theorems are kept or dropped, so proof histories stay complete and
    the split by theorem is unaffected. A theorem's length is that of its
    longest proof (:func:`proof_length`), so reading it twice does not make it
    longer. The draw for a theorem depends only on ``seed`` and its name. A
    length no bucket covers is kept.
    """
    groups = group_by_theorem(records)
    kept_idx: list[int] = []
    for key in sorted(groups):
        idx = groups[key]
        if keep_by_length(key, proof_length(records[i] for i in idx), ratios, seed):
            kept_idx.extend(idx)
    return [records[i] for i in sorted(kept_idx)]


def parse_dataset_spec(spec: str) -> tuple[str, float]:
    """``PATH`` or ``PATH:WEIGHT`` (a finite weight >= 0, default 1).

    A path that holds a ``:`` itself is read as a path when no file ``PATH`` exists before the last ``:``; where
    one does, what follows must be a weight.

    Example:
        >>> parse_dataset_spec("data/workbook.jsonl:0.3")
        ('data/workbook.jsonl', 0.3)
    """
    path, sep, weight = spec.rpartition(":")
    if sep and path:
        try:
            w = float(weight)
        except ValueError:
            if os.path.isfile(path) and not os.path.exists(spec):
                raise ValueError(f"--dataset {spec}: the weight after ':' must be a number, got {weight!r} "
                                 f"(PATH:WEIGHT, e.g. {path}:0.5)") from None
            return spec, 1.0
        if not (math.isfinite(w) and w >= 0):
            raise ValueError(f"--dataset {spec}: the weight after ':' must be a number >= 0, got {weight!r}")
        return path, w
    return spec, 1.0


def weight_by_theorem(records: Sequence[dict], weight: float, seed: int = 42) -> list[dict]:
    """Repeat each theorem ``floor(weight)`` times and once more with probability ``frac(weight)``.

    Whole theorems are repeated or dropped, so proof histories stay intact.
    """
    rng = random.Random(seed)
    whole, frac = int(weight), weight - int(weight)
    groups = group_by_theorem(records)
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
    only (evaluation stays one row per step). Theorems are identified by the
    rule of :mod:`leanprogress.data.records` (name, not file path), so the
    same theorem in a LeanDojo trace and in a whole-proof file is one theorem.
    Records without a ``source`` get a name from their file
    (:func:`~leanprogress.data.records.default_source_names`), so figures can
    be reported per source.

    Returns:
        ``(train, eval, loaded)``, ``loaded`` being the files as read.
    """
    loaded, weights = [], []
    parsed = [parse_dataset_spec(spec) for spec in specs]
    names = default_source_names([path for path, _ in parsed])
    for (path, w), name in zip(parsed, names):
        ds = ProgressDataset(path, skip_invalid=skip_invalid)
        for r in ds.records:
            r.setdefault("source", name)
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
