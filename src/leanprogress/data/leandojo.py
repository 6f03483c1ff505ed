"""Records from LeanDojo traced theorems (LeanDojo Benchmark 4 layout).

The input is a JSON list of theorems::

    [{"full_name": "Nat.succ_le_of_lt", "file_path": "Mathlib/...",
      "traced_tactics": [{"tactic": "...", "state_before": "...", "state_after": "..."}, ...]}, ...]

For a theorem with ``n`` traced tactics, step ``i`` becomes the record
``goal = state_before_i``, ``prefix`` = tactics ``0..i-1`` one a line,
``tactic = tactic_i``, ``steps_remaining = n - 1 - i``. LeanDojo lists tactics
nested inside ``by`` blocks in source order, so the count is of listed
tactics. Files are streamed theorem by theorem: a full Mathlib trace is
hundreds of megabytes.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

_CHUNK = 1 << 20


class TraceFormatError(ValueError):
    """A LeanDojo file that is not a JSON list of theorem objects."""


def iter_json_array(path: str | os.PathLike) -> Iterator[tuple[int, object]]:
    """Stream the elements of a top-level JSON array, with the line each starts on."""
    decoder = json.JSONDecoder()
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        buf = f.read(_CHUNK)
        pos, line, eof = 0, 1, False

        def fill() -> bool:
            nonlocal buf, pos, eof
            more = f.read(_CHUNK)
            if not more:
                eof = True
                return False
            buf = buf[pos:] + more
            pos = 0
            return True

        def skip_ws() -> None:
            nonlocal pos, line
            while True:
                while pos < len(buf) and buf[pos] in " \t\r\n":
                    line += buf[pos] == "\n"
                    pos += 1
                if pos < len(buf) or not fill():
                    return

        skip_ws()
        if pos >= len(buf) or buf[pos] != "[":
            raise TraceFormatError(f"{path}:{line}: expected a JSON list of theorems")
        pos += 1
        first = True
        while True:
            skip_ws()
            if pos >= len(buf):
                raise TraceFormatError(f"{path}:{line}: file ends inside the list")
            if buf[pos] == "]":
                return
            if not first:
                if buf[pos] != ",":
                    raise TraceFormatError(f"{path}:{line}: expected ',' or ']' between theorems")
                pos += 1
                skip_ws()
            first = False
            while True:
                try:
                    obj, end = decoder.raw_decode(buf, pos)
                    break
                except json.JSONDecodeError as exc:
                    if eof or not fill():
                        raise TraceFormatError(f"{path}:{line + exc.lineno - 1}: not valid JSON ({exc.msg})") from None
            start_line = line
            line += buf.count("\n", pos, end)
            pos = end
            yield start_line, obj


def trace_files(path: str | os.PathLike) -> list[Path]:
    """The JSON files to read: ``path`` itself, or every ``*.json`` below a folder."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.json") if p.is_file())
        if not files:
            raise FileNotFoundError(f"no .json files under {path}")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"LeanDojo trace not found: {path}")
    return [path]


GOAL_FROM = ("state_before", "state_after")


def records_from_theorem(
    theorem: dict, source: str | None = None, where: str = "theorem", goal_from: str = "state_before"
) -> list[dict]:
    """The progress records of one traced theorem (empty if it has no tactics).

    ``goal_from="state_after"`` makes each record read the state the tactic
    produced (same label: tactics still needed after it), for models that
    score states after they are reached, as progress-guided search does.
    Each record carries ``goal_from`` so that a trained model can record
    which kind it read (``prove`` picks its score mode from it).
    """
    if goal_from not in GOAL_FROM:
        raise ValueError(f"goal_from must be one of {GOAL_FROM}, got {goal_from!r}")
    if not isinstance(theorem, dict):
        raise TraceFormatError(f"{where}: expected a theorem object, got {type(theorem).__name__}")
    tactics = theorem.get("traced_tactics")
    if tactics is None:
        raise TraceFormatError(f"{where}: theorem has no 'traced_tactics' key")
    if not isinstance(tactics, list):
        raise TraceFormatError(f"{where}: 'traced_tactics' must be a list")
    name = theorem.get("full_name")
    n = len(tactics)
    out = []
    history: list[str] = []
    for i, step in enumerate(tactics):
        if not isinstance(step, dict) or not isinstance(step.get("tactic"), str) or not isinstance(
            step.get(goal_from), str
        ):
            raise TraceFormatError(f"{where} ({name}): traced tactic {i} needs string 'tactic' and {goal_from!r}")
        record = {
            "goal": step[goal_from],
            "prefix": "\n".join(history),
            "tactic": step["tactic"],
            "steps_remaining": n - 1 - i,
            "theorem": name,
            "file_path": theorem.get("file_path"),
            "step": i,
            "proof_length": n,
            "goal_from": goal_from,
        }
        if source:
            record["source"] = source
        out.append(record)
        history.append(step["tactic"])
    return out


@dataclass
class BuildStats:
    files: int = 0
    theorems: int = 0
    empty_theorems: int = 0
    records: int = 0
    dropped_by_balance: int = 0
    per_file: dict[str, int] = field(default_factory=dict)


def iter_leandojo_records(
    paths: Iterable[str | os.PathLike],
    stats: BuildStats | None = None,
    source: str | None = None,
    goal_from: str = "state_before",
) -> Iterator[dict]:
    """Stream records from LeanDojo files or folders, counting what was read."""
    stats = stats if stats is not None else BuildStats()
    for given in paths:
        for path in trace_files(given):
            stats.files += 1
            for line, theorem in iter_json_array(path):
                recs = records_from_theorem(theorem, source=source, where=f"{path}:{line}", goal_from=goal_from)
                stats.theorems += 1
                if not recs:
                    stats.empty_theorems += 1
                    continue
                stats.records += len(recs)
                stats.per_file[str(path)] = stats.per_file.get(str(path), 0) + len(recs)
                yield from recs
