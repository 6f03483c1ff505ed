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

The audit reads the recorded ``(state_before, tactic, state_after)`` triples
itself, as text, and uses none of the replay's code (its outer tactics, its
focus rule, its goal splitting): a check that repeated the replay's reading
could only confirm that the replay agrees with itself. Where the two readings
differ (which tactic is nested, which goals a tactic may run on), the audit
counts a problem, to be looked at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable

PROBLEMS = ("contradicting", "unrecorded", "nested_alone", "shorter")
NO_GOALS = "no goals"

# Tactics that act on goals other than the first (or need there to be none left): a recording of one on a `·`
# block's goal says nothing about what it does with more goals after them. The audit keeps its own list, apart from
# the replay's, so that it checks the replay's rule instead of repeating it.
_GOAL_LIST_TACTICS = frozenset({"all_goals", "any_goals", "repeat", "repeat'", "iterate", "on_goal", "swap",
                                "rotate_left", "rotate_right", "pick_goal", "case", "case'", "next", "done", "exacts"})
_WORD = re.compile(r"[\w.'?!]+")


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


def _norm(tactic: str) -> str:
    return " ".join(tactic.split())


# What a tactic nested in another one follows in its text: the opening of a tactic block (`by`, an arm's `=>`, `;`,
# `<;>`, `·`, a `first` alternative's `|`) or a combinator that takes a tactic (`classical`, `all_goals`, `try`, ...).
_OPENS_BLOCK = re.compile(r"(\bby|=>|;|\||·|\.|\b(all_goals|any_goals|classical|first|repeat'?|try|focus|in|"
                          r"iterate \d+))$")


def _holds(outer: str, inner: str) -> bool:
    """Whether the tactic ``inner`` is written inside the longer tactic ``outer`` as a tactic of its own: after the
    opening of a block (or a combinator), or at the start of one of its lines (a block's later tactics)."""
    text, piece = _norm(outer), _norm(inner)
    if len(text) <= len(piece):
        return False
    for m in re.finditer(rf"(?<![\w.']){re.escape(piece)}(?![\w'])", text):
        if _OPENS_BLOCK.search(text[: m.start()].rstrip()):
            return True
    first = _norm(inner.split("\n", 1)[0])
    return any(_norm(line).startswith(first) for line in outer.split("\n")[1:]) and piece in text


def _continues(before: str, after: str) -> bool:
    """Whether a tactic recorded from ``before`` goes on from the state ``after`` (the same, or its first goals:
    the first tactic of a `·` block)."""
    return before == after or after.startswith(before + "\n\n")


def _read(steps: list[dict]) -> list[_Recorded]:
    """This module's own reading of one recorded proof, tactic by tactic.

    A tactic is nested when it is written inside a tactic listed before it (LeanDojo lists a tactic with its
    blocks, then their tactics), unless it starts from the state that the tactic listed just before it left (or
    from its first goals), that one not nested: a proof that goes on (a search's ``have h : p := by linarith``
    then ``linarith``). A tactic counts itself and the nested tactics written inside it.
    """
    texts = [step["tactic"] for step in steps]
    nested: list[bool] = []
    for k, step in enumerate(steps):
        inside = any(_holds(texts[j], texts[k]) for j in range(k))
        goes_on = k > 0 and not nested[k - 1] and _continues(step["state_before"], steps[k - 1]["state_after"])
        nested.append(inside and not goes_on)
    return [_Recorded(step["state_after"], nested[j],
                      1 + sum(nested[k] and _holds(texts[j], texts[k]) for k in range(j + 1, len(steps))))
            for j, step in enumerate(steps)]


def _index(theorems: Iterable[dict]) -> tuple[dict, dict]:
    steps_at: dict[str, dict[tuple[str, str], list[_Recorded]]] = {}
    shortest: dict[str, int] = {}
    for thm in theorems:
        steps = thm.get("traced_tactics") or []
        if not steps:
            continue
        name = thm["full_name"]
        shortest[name] = min(len(steps), shortest.get(name, len(steps)))
        at = steps_at.setdefault(name, {})
        for step, recorded in zip(steps, _read(steps)):
            at.setdefault((step["state_before"], _norm(step["tactic"])), []).append(recorded)
    return steps_at, shortest


def _predictions(at: dict, state: str, tactic: str) -> list[tuple[str, _Recorded]]:
    """``(state it leads to, recording)`` for every recording of ``tactic`` from ``state``, or from the first goals
    of ``state`` (its text is the recorded ``state_before``, a blank line and the goals after them, which stay)
    when the tactic acts on the first goals only."""
    key = _norm(tactic)
    out = [(r.after, r) for r in at.get((state, key), [])]
    if _GOAL_LIST_TACTICS.isdisjoint(_WORD.findall(key)):
        for (before, recorded_tactic), recordings in at.items():
            if recorded_tactic == key and state.startswith(before + "\n\n"):
                rest = state[len(before) + 2:]
                out += [(rest if r.after == NO_GOALS else f"{r.after}\n\n{rest}", r) for r in recordings]
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
