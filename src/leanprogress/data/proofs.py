"""Records from whole proofs: ``{name, goal, proof}`` JSONL (prover outputs, miniF2F solutions).

There are no intermediate states in such data, so every record of a proof
reads the initial state (``goal``) and the proof so far (``prefix``); the
label is the number of steps after the current one, with steps counted by
:func:`leanprogress.data.lean_syntax.split_tactic_steps`.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from .lean_syntax import find_top_level, split_tactic_steps, strip_comments

_DECL_RE = r"(?:theorem|lemma|example)"


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


def proof_block(proof: str, name: str | None = None) -> str | None:
    """The tactic block of a proof text (after ``by``), or None for a term-mode proof.

    ``proof`` may be a bare tactic block (``by`` optional) or a whole Lean
    file with imports and comments; then the declaration named ``name`` (or
    the first theorem) is used.
    """
    text = strip_comments(proof)
    decl = None
    if name:
        decl = re.search(rf"^[ \t]*(?:@\[[^\]]*\][ \t\n]*)*(?:private |protected )?{_DECL_RE}\s+{re.escape(name)}(?=[\s:({{\[⦃])",
                         text, re.M)
    if decl is None:
        decl = re.search(rf"^[ \t]*(?:@\[[^\]]*\][ \t\n]*)*(?:private |protected )?{_DECL_RE}\b", text, re.M)
    if decl is None:
        stripped = text.strip()
        return stripped[2:] if stripped.startswith("by") else stripped
    assign = find_top_level(text, ":=", decl.end())
    if assign < 0:
        return None
    body = text[assign + 2 :]
    stripped = body.lstrip()
    if not re.match(r"by(\s|$)", stripped):
        return None
    body = stripped[2:]
    # The declaration ends where a new top-level command starts.
    end = re.search(r"^(?=\S)(?!\|)", body, re.M)
    if end is not None and end.start() > 0:
        body = body[: end.start()]
    return body


def tactic_steps(block: str) -> tuple[list[str], str | None]:
    """Steps of a tactic block, or why the block gives no records (``sorry``, empty)."""
    if re.search(r"\b(sorry|admit)\b", block):
        return [], "proof uses sorry"
    steps = split_tactic_steps(block)
    return steps, (None if steps else "empty tactic block")


def records_from_steps(steps: list[str], goal: str, theorem: str, source: str | None, **extra) -> list[dict]:
    n = len(steps)
    out = []
    for i, step in enumerate(steps):
        rec = {"goal": goal, "prefix": "\n".join(steps[:i]), "tactic": step, "steps_remaining": n - 1 - i,
               "theorem": theorem, **extra}
        if source:
            rec["source"] = source
        out.append(rec)
    return out


def iter_proof_records(path: str | os.PathLike, stats: SourceStats | None = None,
                       source: str | None = None) -> Iterator[dict]:
    """Stream records from ``{name, goal, proof}`` JSONL; bad lines are skipped and counted."""
    stats = stats if stats is not None else SourceStats()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"proofs file not found: {path}")
    stats.files += 1
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            stats.declarations += 1
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                stats.skip(f"not valid JSON ({exc.msg})", where)
                continue
            if not isinstance(obj, dict) or not all(isinstance(obj.get(k), str) for k in ("name", "goal", "proof")):
                stats.skip("needs string 'name', 'goal' and 'proof'", where)
                continue
            block = proof_block(obj["proof"], obj["name"])
            if block is None:
                stats.skip("term-mode proof (no tactic block)", where)
                continue
            steps, reason = tactic_steps(block)
            if reason:
                stats.skip(reason, where)
                continue
            stats.used += 1
            recs = records_from_steps(steps, obj["goal"], obj["name"], source)
            stats.records += len(recs)
            yield from recs
