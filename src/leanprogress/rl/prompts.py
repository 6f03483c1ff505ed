"""Policy prompts for step-level RL: what a tactic policy is asked, and the dataset rows that carry it.

The reward needs the proof state and the prefix next to each prompt; these
rows keep them in their own columns (``state``, ``prefix``; ``statement`` when
the record has one, for Lean gating), which TRL passes to reward functions and
verl keeps in ``extra_info`` (:func:`leanprogress.rl.verl.verl_row`).

Example:
    >>> print(policy_prompt("n : ℕ\\n⊢ n + 0 = n", "intro m"))
    Complete the Lean 4 proof with one tactic.
    <BLANKLINE>
    Proof state:
    n : ℕ
    ⊢ n + 0 = n
    <BLANKLINE>
    Tactics so far:
    intro m
    <BLANKLINE>
    Next tactic:
"""

from __future__ import annotations

from typing import Iterable

INSTRUCTION = "Complete the Lean 4 proof with one tactic."


def policy_prompt(state: str, prefix: str = "") -> str:
    """The plain-text prompt for one proof state."""
    return f"{INSTRUCTION}\n\nProof state:\n{state}\n\nTactics so far:\n{prefix or '(none)'}\n\nNext tactic:"


def policy_messages(state: str, prefix: str = "") -> list[dict]:
    """The same prompt as one user message (conversational datasets)."""
    return [{"role": "user", "content": policy_prompt(state, prefix)}]


def grpo_rows(records: Iterable[dict], conversational: bool = False) -> list[dict]:
    """One row per distinct (state, prefix) of ``records``: ``prompt``, ``state``, ``prefix``, ``theorem``
    (and ``statement`` when the records have it), first seen first."""
    rows, seen = [], set()
    for r in records:
        key = (r["goal"], r.get("prefix") or "")
        if key in seen:
            continue
        seen.add(key)
        state, prefix = key
        row = {"prompt": policy_messages(state, prefix) if conversational else policy_prompt(state, prefix),
               "state": state, "prefix": prefix, "theorem": r.get("theorem") or ""}
        if r.get("statement"):
            row["statement"] = r["statement"]
        rows.append(row)
    return rows
