"""Progress records: the JSONL format every part of LeanProgress reads.

One JSON object a line (UTF-8; a byte-order mark at the start is ignored)::

    {"goal": "n : ℕ\\n⊢ n + 0 = n", "prefix": "", "tactic": "simp", "steps_remaining": 0,
     "theorem": "Nat.add_zero'", "source": "mathlib4"}

- ``goal`` (str): the Lean proof state, hypotheses then the ``⊢`` target.
- ``prefix`` (str, optional, default ""): the tactics listed before this one,
  joined by line breaks (a multi-line tactic keeps its own line breaks).
  Builders cap it at :data:`MAX_PREFIX_CHARS` characters: the oldest tactics
  are then replaced by a first line ``... (N earlier tactics)``.
- ``tactic`` (str): the candidate tactic.
- ``steps_remaining`` (int, 0 <= value <= :data:`MAX_STEPS_REMAINING`): the
  number of tactics listed after this one in the proof (0: it is the last).
  By default tactics are listed as LeanDojo lists traced tactics (see
  :mod:`leanprogress.lean.syntax`), for traces and whole proofs alike;
  ``build-dataset --step-order search`` counts them as a step prover applies
  them instead (a nested block belongs to its step, the last step is 0).
- ``goal_state`` (str, optional): ``"initial"`` when ``goal`` is *not* the
  state Lean shows before this tactic but the theorem's initial state
  standing in for it: whole-proof and Lean-source records after the first
  step, which have no intermediate states. Absent (or ``"real"``): the goal
  is the real state before the tactic (LeanDojo traces, search traces,
  ``export-proofs`` output, the first step of a whole proof), so files
  written before the field existed read as real. The trainer can treat the
  two kinds differently (``ProgressTrainingArguments.initial_goals``).

Any other key is kept. ``theorem`` says which theorem the record belongs to
and ``source`` names the corpus, so that metrics can be reported per source.
Every string must be valid Unicode: a lone surrogate (JSON ``"\\ud800"``) is
rejected, naming the field.

Theorem identity
================

Splits, mixtures, length balancing and the ``--eval-dataset`` overlap check
all group records by :func:`theorem_key`: the ``theorem`` value with
surrounding and repeated whitespace removed and a leading ``_root_.``
dropped. Nothing else enters the key: not ``file_path`` (LeanDojo records
carry one, whole proofs, Lean-source records and search exports do not), not
``source``. So a theorem has one identity whatever it came through. The
grouping (:func:`leanprogress.data.dataset.group_by_theorem`) then merges
groups whose proofs start from the same state after
:func:`~leanprogress.lean.canonical.canonical_state`, which catches a
problem restated under another name.

Merging two different theorems can only move both to the same side of a
split; splitting one theorem would leak it. The rule therefore errs towards
merging: two different theorems that share a name (``foo`` in two projects,
``Nat.foo`` in two Mathlib versions) are one group and land on the same side.
Use namespaced names (``ProjectA.foo``) to keep them apart.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

# File handling lives in leanprogress.files; these names stay importable from here for older code.
from ..files import (BOM, atomic_output, atomic_path, check_input_file, check_output_file,  # noqa: F401
                     iter_text_lines, json_error, read_text)

REQUIRED_FIELDS = ("goal", "tactic", "steps_remaining")
GOAL_STATES = ("real", "initial")
"""Values of a record's optional ``goal_state`` (absent: ``real``)."""
MAX_STEPS_REMAINING = 1_000_000
"""Largest label accepted. The longest proofs in the shared data list a few hundred tactics; a value
beyond a million is a corrupt record, and letting it through makes every per-label computation slow."""
MAX_PREFIX_CHARS = 16_384
"""Builders keep at most this many characters of a record's prefix (the newest tactics). A model with a
512-token budget reads about 2,000 characters of it; the cap keeps a 100,000-tactic proof from writing
a quadratic amount of text."""


class RecordError(ValueError):
    """A record that breaks the format, with the file and line it came from."""

    def __init__(self, path: str | os.PathLike | None, line: int | None, reason: str):
        self.path, self.line, self.reason = path, line, reason
        where = f"{path}:{line}" if path is not None and line is not None else (str(path) if path else "record")
        super().__init__(f"{where}: {reason}")


def surrogate_problem(value: Any, field: str) -> str | None:
    """Where ``value`` (or a string inside it) holds a lone surrogate, as a message; None if it is valid."""
    if isinstance(value, str):
        if value.isascii():
            return None
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (f"{field!r} holds a lone surrogate (\\u{ord(value[exc.start]):04x} at character "
                    f"{exc.start}), which is not valid Unicode")
        return None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = surrogate_problem(item, f"{field}[{key!r}]")
        if not found and isinstance(key, str):
            found = surrogate_problem(key, f"{field} key")
        if found:
            return found
    return None


def validate_record(obj: Any, path: str | os.PathLike | None = None, line: int | None = None) -> dict:
    """Check one parsed record and return it with ``prefix`` filled in.

    Raises:
        RecordError: naming the file, line, field and what is wrong.
    """
    if not isinstance(obj, dict):
        raise RecordError(path, line, f"expected a JSON object, got {type(obj).__name__}")
    for key in REQUIRED_FIELDS:
        if key not in obj:
            raise RecordError(path, line, f"missing key {key!r}")
    for key in ("goal", "tactic"):
        if not isinstance(obj[key], str):
            raise RecordError(path, line, f"{key!r} must be a string, got {type(obj[key]).__name__}")
    if not obj["tactic"].strip():
        raise RecordError(path, line, "'tactic' is empty")
    prefix = obj.get("prefix")
    if prefix is None:
        prefix = ""
    elif not isinstance(prefix, str):
        raise RecordError(path, line, f"'prefix' must be a string, got {type(prefix).__name__}")
    steps = obj["steps_remaining"]
    if isinstance(steps, bool) or not isinstance(steps, (int, float)):
        raise RecordError(path, line, f"'steps_remaining' must be an integer, got {steps!r}")
    if isinstance(steps, float):
        if not steps.is_integer():
            raise RecordError(path, line, f"'steps_remaining' must be an integer, got {steps!r}")
        steps = int(steps)
    if steps < 0:
        raise RecordError(path, line, f"'steps_remaining' must be >= 0, got {steps}")
    if steps > MAX_STEPS_REMAINING:
        raise RecordError(path, line, f"'steps_remaining' is {steps}, above the limit of {MAX_STEPS_REMAINING:,} "
                                      "(no proof is that long: a corrupt value?)")
    goal_state = obj.get("goal_state", "real")
    if goal_state not in GOAL_STATES:
        raise RecordError(path, line, f"'goal_state' must be one of {', '.join(map(repr, GOAL_STATES))} "
                                      f"(absent: 'real'), got {goal_state!r}")
    for key, value in obj.items():
        problem = surrogate_problem(value, key)
        if problem:
            raise RecordError(path, line, problem)
    out = dict(obj)
    out["prefix"] = prefix
    out["steps_remaining"] = steps
    return out


@dataclass
class ReadStats:
    """What a read saw: records kept and lines skipped (with the first reasons)."""

    kept: int = 0
    skipped: int = 0
    first_errors: list[str] | None = None

    def note(self, err: RecordError) -> None:
        self.skipped += 1
        if self.first_errors is None:
            self.first_errors = []
        if len(self.first_errors) < 5:
            self.first_errors.append(str(err))


def iter_records(
    path: str | os.PathLike, skip_invalid: bool = False, stats: ReadStats | None = None
) -> Iterator[dict]:
    """Stream validated records from a JSONL file.

    Args:
        path: the JSONL file.
        skip_invalid: skip bad lines (bad JSON, bad UTF-8, bad records)
            instead of raising; they are counted in ``stats`` (nothing is
            dropped silently).
        stats: filled with counts as the file is read.

    Raises:
        RecordError: on the first bad line, unless ``skip_invalid``.
        FileNotFoundError, IsADirectoryError: if ``path`` is not a file.
    """
    stats = stats if stats is not None else ReadStats()
    path = check_input_file(path, "dataset file")
    for lineno, raw, problem in iter_text_lines(path):
        if raw is not None and not raw.strip():
            continue
        try:
            if problem:
                raise RecordError(path, lineno, problem)
            try:
                obj = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise RecordError(path, lineno, json_error(exc, one_line=True)) from None
            record = validate_record(obj, path, lineno)
        except RecordError as err:
            if not skip_invalid:
                raise
            stats.note(err)
            continue
        stats.kept += 1
        yield record


def read_records(path: str | os.PathLike, skip_invalid: bool = False) -> tuple[list[dict], ReadStats]:
    """All records of a JSONL file, with what was skipped."""
    stats = ReadStats()
    records = list(iter_records(path, skip_invalid=skip_invalid, stats=stats))
    return records, stats


class NoRecordsError(ValueError):
    """A command found no records to write; the output file was not created (an earlier one is left as it was)."""


def write_records(records: Iterable[dict], path: str | os.PathLike,
                  if_empty: str | Callable[[], str] | None = None) -> int:
    """Write records as JSONL atomically (see :func:`atomic_output`).

    Args:
        if_empty: when given and no record came, raise :class:`NoRecordsError` with this message (or what this
            function returns, called once the records are spent) instead of writing an empty file.

    Returns the number of records written.
    """
    n = 0
    with atomic_output(path) as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            n += 1
        if n == 0 and if_empty is not None:  # raised inside: the temporary file is removed, nothing is renamed
            raise NoRecordsError(if_empty() if callable(if_empty) else if_empty)
    return n


def default_source_names(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Distinct, descriptive ``source`` names for inputs that do not name their source.

    Each name is the input's folder and file name without extension
    (``minif2f-valid-proofs/proofs``, ``lean-workbook-plus-proofs/proofs``),
    with more parent folders where two inputs would otherwise share a name.

    Example:
        >>> default_source_names(["/d/minif2f-valid-proofs/proofs.jsonl", "/d/lean-workbook-plus-proofs/proofs.jsonl"])
        ['minif2f-valid-proofs/proofs', 'lean-workbook-plus-proofs/proofs']
    """
    parts = []
    for p in paths:
        resolved = Path(os.path.abspath(p))
        parts.append([*resolved.parent.parts[1:], resolved.stem if resolved.suffix else resolved.name])
    out = []
    for i, comps in enumerate(parts):
        k = min(2, len(comps))
        while k < len(comps) and any(
                other[-k:] == comps[-k:] and other != comps for j, other in enumerate(parts) if j != i):
            k += 1
        out.append("/".join(comps[-k:]))
    return out


_SPACES = re.compile(r"\s+")


def normalize_theorem_name(name: Any) -> str:
    """A theorem name as the identity rule reads it: whitespace collapsed, leading ``_root_.`` dropped.

    Example:
        >>> normalize_theorem_name(" _root_.Nat.foo ")
        'Nat.foo'
    """
    text = _SPACES.sub(" ", str(name)).strip()
    while text.startswith("_root_."):
        text = text[len("_root_."):]
    return text


def has_initial_goal(record: dict) -> bool:
    """Whether the record's goal is the initial state standing in for the state before its tactic.

    Example:
        >>> has_initial_goal({"goal": "⊢ p", "goal_state": "initial"}), has_initial_goal({"goal": "⊢ p"})
        (True, False)
    """
    return record.get("goal_state") == "initial"


def theorem_key(record: dict) -> str | None:
    """The theorem a record belongs to (see "Theorem identity" above), or None if it names none."""
    name = record.get("theorem")
    if name is None:
        return None
    key = normalize_theorem_name(name)
    return key or None
