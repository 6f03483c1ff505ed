"""Records from whole proofs: ``{name, goal, proof}`` JSONL (prover outputs, miniF2F solutions).

There are no intermediate states in such data, so every record of a proof
reads the initial state (``goal``) and the steps listed before it
(``prefix``, capped at :data:`~leanprogress.data.records.MAX_PREFIX_CHARS`
characters); the label is the number of steps listed after it. Records after
the first step say so with ``goal_state: "initial"`` (their goal stands in for
a state Lean would show there; the first step's goal is the real one). Steps are
listed by :func:`leanprogress.lean.syntax.split_tactic_steps`, which
lists them as LeanDojo lists traced tactics (same tactics, same order), so a
whole proof and a trace of it carry the same labels. A proof whose brackets
do not match is skipped and counted: its steps could not be read.
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator

from ..lean.declaration import proof_block
from ..lean.forbidden import forbidden
from ..lean.syntax import MAX_NESTING, TooDeeplyNested, brackets_balanced, split_tactic_steps, strip_comments
from ..files import check_input_file, iter_text_lines
from .records import MAX_PREFIX_CHARS, MAX_STEPS_REMAINING, surrogate_problem

ELLIPSIS = "..."
_MARKER_ROOM = 40  # room left for the `... (N earlier tactics)` line, so a prefix never exceeds the cap

@dataclass
class SourceStats:
    """What a whole-proof or source scan read, used and skipped (with reasons)."""

    files: int = 0
    declarations: int = 0
    used: int = 0
    records: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)

    def skip(self, reason: str, where: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1
        self.examples.setdefault(reason, where)

    def summary(self) -> str:
        lines = [f"read {self.files} file(s), {self.declarations} declaration(s); "
                 f"used {self.used}, wrote {self.records} record(s)"]
        for reason, n in sorted(self.skipped.items(), key=lambda kv: -kv[1]):
            lines.append(f"  skipped {n}: {reason} (e.g. {self.examples[reason]})")
        return "\n".join(lines)


def tactic_steps(block: str, order: str = "leandojo") -> tuple[list[str], str | None]:
    """Steps of a tactic block, or why the block gives no records.

    Reasons: what the proof rule forbids (:mod:`leanprogress.lean.forbidden`:
    ``sorry``, ``admit``, ``native_decide``, ...), brackets that do not match (the text is
    cut or broken: its steps would be garbage), blocks or brackets nested
    deeper than :data:`~leanprogress.lean.syntax.MAX_NESTING` (machine-made
    text no proof needs), an empty block, more steps than a label may count
    (:data:`~leanprogress.data.records.MAX_STEPS_REMAINING`).
    """
    word = forbidden(block)
    if word:
        return [], f"proof uses {word}"
    if not brackets_balanced(strip_comments(block)):
        return [], "unbalanced brackets in proof"
    try:
        steps = split_tactic_steps(block, order=order)
    except TooDeeplyNested:
        return [], f"tactic blocks or brackets nested more than {MAX_NESTING} deep"
    if not steps:
        return [], "empty tactic block"
    if len(steps) > MAX_STEPS_REMAINING + 1:
        return [], f"more than {MAX_STEPS_REMAINING + 1:,} steps"
    return steps, None


def iter_step_records(steps: list[str], goal: str, theorem: str, source: str | None,
                      max_prefix_chars: int = MAX_PREFIX_CHARS, **extra) -> Iterator[dict]:
    """The records of one proof's steps: label ``n - 1 - i``, prefix = the steps before, capped.

    The prefix keeps the newest steps that fit, with the line that says how
    many older ones were dropped (``... (N earlier tactics)``), in
    ``max_prefix_chars`` characters. Memory and output stay linear in the
    proof length. ``goal`` is the proof's initial state: every record after
    the first carries ``goal_state: "initial"``.
    """
    n = len(steps)
    window: deque[str] = deque()
    size = 0  # characters of the window joined by line breaks
    for i, step in enumerate(steps):
        prefix = "\n".join(window)
        dropped = i - len(window)
        if dropped:
            prefix = f"{ELLIPSIS} ({dropped} earlier tactics)" + ("\n" + prefix if prefix else "")
        rec = {"goal": goal, "prefix": prefix, "tactic": step, "steps_remaining": n - 1 - i,
               "theorem": theorem, **extra}
        if i:
            rec["goal_state"] = "initial"
        if source:
            rec["source"] = source
        yield rec
        window.append(step)
        size += len(step) + (1 if len(window) > 1 else 0)
        while window and size > max_prefix_chars - _MARKER_ROOM:
            size -= len(window.popleft()) + (1 if window else 0)


def records_from_steps(steps: list[str], goal: str, theorem: str, source: str | None, **extra) -> list[dict]:
    """All records of one proof (see :func:`iter_step_records`)."""
    return list(iter_step_records(steps, goal, theorem, source, **extra))


def iter_proof_records(path: str | os.PathLike, stats: SourceStats | None = None,
                       source: str | None = None, order: str = "leandojo") -> Iterator[dict]:
    """Stream records from ``{name, goal, proof}`` JSONL; bad lines are skipped and counted.

    A line that is not valid UTF-8 or not valid JSON, lacks a field, has a
    term-mode proof, a ``sorry`` (or anything else the proof rule forbids), or
    brackets that do not match is skipped and counted by reason (with the first
    ``file:line``).
    """
    stats = stats if stats is not None else SourceStats()
    path = check_input_file(path, "proofs file")
    stats.files += 1
    for lineno, line, problem in iter_text_lines(path):
        if line is not None and not line.strip():
            continue
        where = f"{path}:{lineno}"
        stats.declarations += 1
        if problem:
            stats.skip(problem.split(" (")[0], where)
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            stats.skip(f"not valid JSON ({exc.msg})", f"{where}, column {exc.colno}")
            continue
        if not isinstance(obj, dict) or not all(isinstance(obj.get(k), str) for k in ("name", "goal", "proof")):
            stats.skip("needs string 'name', 'goal' and 'proof'", where)
            continue
        bad = next((k for k in ("name", "goal", "proof") if surrogate_problem(obj[k], k)), None)
        if bad:
            stats.skip("lone surrogate in a string (not valid Unicode)", where)
            continue
        block = proof_block(obj["proof"], obj["name"])
        if block is None:
            stats.skip("term-mode proof (no tactic block)", where)
            continue
        steps, reason = tactic_steps(block, order)
        if reason:
            stats.skip(reason, where)
            continue
        stats.used += 1
        for rec in iter_step_records(steps, obj["goal"], obj["name"], source):
            stats.records += 1
            yield rec
