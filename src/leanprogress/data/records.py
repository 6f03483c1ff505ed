"""Progress records: the JSONL format every part of LeanProgress reads.

One JSON object a line::

    {"goal": "n : ℕ\\n⊢ n + 0 = n", "prefix": "", "tactic": "simp", "steps_remaining": 0,
     "theorem": "Nat.add_zero'", "source": "mathlib4"}

- ``goal`` (str): the Lean proof state, hypotheses then the ``⊢`` target.
- ``prefix`` (str, optional, default ""): the tactics already written, one a line.
- ``tactic`` (str): the candidate tactic.
- ``steps_remaining`` (int >= 0): tactics still needed after this one (0: it closes the proof).

Any other key is kept. ``theorem`` groups the steps of one proof (the split by
theorem relies on it) and ``source`` names the corpus, so that metrics can be
reported per source.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

REQUIRED_FIELDS = ("goal", "tactic", "steps_remaining")


class RecordError(ValueError):
    """A record that breaks the format, with the file and line it came from."""

    def __init__(self, path: str | os.PathLike | None, line: int | None, reason: str):
        self.path, self.line, self.reason = path, line, reason
        where = f"{path}:{line}" if path is not None and line is not None else (str(path) if path else "record")
        super().__init__(f"{where}: {reason}")


def validate_record(obj: Any, path: str | os.PathLike | None = None, line: int | None = None) -> dict:
    """Check one parsed record and return it with ``prefix`` filled in.

    Raises:
        RecordError: naming the file, line and what is wrong.
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
        skip_invalid: skip bad lines instead of raising; they are counted in
            ``stats`` (nothing is dropped silently).
        stats: filled with counts as the file is read.

    Raises:
        RecordError: on the first bad line, unless ``skip_invalid``.
        FileNotFoundError: if ``path`` does not exist.
    """
    stats = stats if stats is not None else ReadStats()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset file not found: {path}")
    with path.open(encoding="utf-8") as f:
        for lineno, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                try:
                    obj = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise RecordError(path, lineno, f"not valid JSON ({exc.msg} at column {exc.colno})") from None
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


def write_records(records: Iterable[dict], path: str | os.PathLike) -> int:
    """Write records as JSONL atomically: a reader never sees a half-written file.

    Returns the number of records written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False) + "\n")
                n += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def theorem_key(record: dict) -> str | None:
    """The id that groups the steps of one proof, if the record has one."""
    key = record.get("theorem")
    if key is None:
        return None
    path = record.get("file_path")
    return f"{path}::{key}" if path else str(key)
