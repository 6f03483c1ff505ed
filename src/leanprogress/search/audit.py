"""Checks replayed proofs against the recordings they were replayed from.

A replayed proof is evidence only if every step is one Lean recorded: the
tactic was run from that state (or, inside a ``·`` block, from its first
goals) and produced the next state. :func:`audit_replayed_proofs` counts, over
the results of ``prove`` on a trace file, the proofs that break this::

    audit = audit_replayed_proofs(theorems, results)
    audit.contradicting, audit.shorter   # 0, 0 for a replay that invents nothing

- ``contradicting``: a step whose tactic was recorded from that state, but
  whose recorded ``state_after`` is not the state the replay went to (a
  tactic recorded as closing the goal that the replay took to another state,
  or the other way round);
- ``unrecorded``: a step whose tactic was never recorded from that state;
- ``nested_alone``: a step that was recorded only as a tactic nested inside
  another one (``simp_rw`` of ``classical simp_rw``), run on its own;
- ``shorter``: a proof with fewer tactics than every recorded proof of its
  theorem, counting tactics as LeanDojo lists them (a tactic with its nested
  blocks counts itself and the tactics listed inside it). Several recorded
  proofs of one theorem can be combined into a shorter real proof where they
  share a state; the Mathlib sample has one proof per theorem.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from ..data.leandojo import NO_GOALS, inner_tactics, join_goals, outer_tactics, split_goals
from .environment import focusable, norm_tactic

PROBLEMS = ("contradicting", "unrecorded", "nested_alone", "shorter")


@dataclass
class ReplayAudit:
    """What :func:`audit_replayed_proofs` found: counts of proved results with each problem, and up to three
    theorem names per problem in ``examples``."""

    proved: int = 0
    contradicting: int = 0
    unrecorded: int = 0
    nested_alone: int = 0
    shorter: int = 0
    invented: int = 0  # proofs with at least one of the problems
    examples: dict[str, list[str]] = field(default_factory=dict)

    def note(self, problem: str, theorem: str) -> None:
        setattr(self, problem, getattr(self, problem) + 1)
        names = self.examples.setdefault(problem, [])
        if len(names) < 3:
            names.append(theorem)

    def summary(self) -> str:
        return (f"{self.proved} proved: {self.contradicting} contradict a recorded state_after, {self.shorter} "
                f"are shorter than every recorded proof, {self.nested_alone} run a nested tactic on its own, "
                f"{self.unrecorded} use a tactic never recorded from its state ({self.invented} with any of these)")


@dataclass
class _Recorded:
    after: str
    nested: bool
    listed: int  # tactics LeanDojo lists for it: itself and those nested in it


def _index(theorems: Iterable[dict]) -> tuple[dict, dict]:
    steps_at: dict[str, dict[tuple[str, str], list[_Recorded]]] = {}
    shortest: dict[str, int] = {}
    for thm in theorems:
        steps = thm.get("traced_tactics") or []
        if not steps:
            continue
        name = thm["full_name"]
        shortest[name] = min(len(steps), shortest.get(name, len(steps)))
        owners = outer_tactics(steps)
        at = steps_at.setdefault(name, {})
        for j, step in enumerate(steps):
            nested = owners[j] != j
            listed = 1 + len(inner_tactics(step["tactic"])) if nested else owners.count(j)
            at.setdefault((step["state_before"], norm_tactic(step["tactic"])), []).append(
                _Recorded(step["state_after"], nested, listed))
    return steps_at, shortest


def _predictions(at: dict, state: str, tactic: str) -> list[tuple[str, _Recorded]]:
    """``(state it leads to, recording)`` for every recording of ``tactic`` from ``state`` or its first goals."""
    key = norm_tactic(tactic)
    out = [(r.after, r) for r in at.get((state, key), [])]
    goals = split_goals(state)
    if focusable(tactic):
        for k in range(len(goals) - 1, 0, -1):
            out += [(join_goals(split_goals(r.after) + goals[k:]), r) for r in at.get((join_goals(goals[:k]), key), [])]
    return out


def audit_replayed_proofs(theorems: Iterable[dict], results: Iterable[dict]) -> ReplayAudit:
    """Count the proved results whose steps are not what the recordings say (see the module docstring).

    Args:
        theorems: the LeanDojo theorem dicts the replay ran over (``full_name``, ``traced_tactics``).
        results: result rows of ``prove`` (dicts with ``theorem``, ``status``, ``proof``, ``states``).

    Example:
        >>> thm = {"full_name": "t", "traced_tactics": [
        ...     {"tactic": "classical simp", "state_before": "⊢ p", "state_after": "no goals"},
        ...     {"tactic": "simp", "state_before": "⊢ p", "state_after": "no goals"}]}
        >>> row = {"theorem": "t", "status": "proved", "proof": ["simp"], "states": ["⊢ p"]}
        >>> audit = audit_replayed_proofs([thm], [row])
        >>> audit.nested_alone, audit.shorter
        (1, 1)
    """
    steps_at, shortest = _index(theorems)
    audit = ReplayAudit()
    for row in results:
        if row.get("status") != "proved":
            continue
        name = row["theorem"]
        audit.proved += 1
        at = steps_at.get(name, {})
        states = list(row.get("states") or []) + [NO_GOALS]
        found: set[str] = set()
        listed = 0
        for i, tactic in enumerate(row.get("proof") or []):
            predicted = _predictions(at, states[i], tactic)
            agree = [r for after, r in predicted if after == states[i + 1]]
            if not predicted:
                found.add("unrecorded")
            elif not agree:
                found.add("contradicting")
            elif all(r.nested for r in agree):
                found.add("nested_alone")
            listed += min(r.listed for r in agree or [r for _, r in predicted] or [_Recorded("", False, 1)])
        if name in shortest and listed < shortest[name]:
            found.add("shorter")
        for problem in PROBLEMS:
            if problem in found:
                audit.note(problem, name)
        audit.invented += bool(found)
    return audit
