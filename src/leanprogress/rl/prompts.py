"""Policy prompts for step-level RL: what a tactic policy is asked, and the dataset rows that carry it.

The reward needs the proof state and the prefix next to each prompt; these
rows keep them in their own columns (``state``, ``prefix``, ``goal_state``;
``statement`` when the record has one, for Lean gating), which TRL passes to
reward functions and verl keeps in ``extra_info``
(:func:`leanprogress.rl.verl.verl_row`). A record from a whole proof after its
first step (``goal_state: "initial"``) holds the theorem's initial state, not
the state after the tactics so far: the prompt says so ("Initial proof state"),
and the reward passes the mark on to a model trained with ``--initial-goals
mark``.

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

import json
from typing import Iterable

INSTRUCTION = "Complete the Lean 4 proof with one tactic."


def policy_prompt(state: str, prefix: str = "", goal_state: str | None = None) -> str:
    """The plain-text prompt for one proof state (``goal_state="initial"``: ``state`` is the theorem's initial
    state, and the tactics so far have run on it)."""
    label = "Initial proof state" if goal_state == "initial" and prefix else "Proof state"
    return f"{INSTRUCTION}\n\n{label}:\n{state}\n\nTactics so far:\n{prefix or '(none)'}\n\nNext tactic:"


def policy_messages(state: str, prefix: str = "", goal_state: str | None = None) -> list[dict]:
    """The same prompt as one user message (conversational datasets)."""
    return [{"role": "user", "content": policy_prompt(state, prefix, goal_state)}]


def grpo_rows(records: Iterable[dict], conversational: bool = False) -> list[dict]:
    """One row per distinct (state, prefix, goal state) of ``records``: ``prompt``, ``state``, ``prefix``,
    ``goal_state`` (``initial`` or empty), ``theorem`` (and ``statement`` when the records have it), first seen
    first."""
    rows, seen = [], set()
    for r in records:
        key = (r["goal"], r.get("prefix") or "", r.get("goal_state") or "")
        if key in seen:
            continue
        seen.add(key)
        state, prefix, goal_state = key
        prompt = (policy_messages if conversational else policy_prompt)(state, prefix, goal_state)
        row = {"prompt": prompt, "state": state, "prefix": prefix, "goal_state": goal_state,
               "theorem": r.get("theorem") or ""}
        if r.get("statement"):
            row["statement"] = r["statement"]
        rows.append(row)
    return rows


def openrlhf_rows(records: Iterable[dict]) -> list[dict]:
    """One OpenRLHF prompt row per row of :func:`grpo_rows`: ``prompt`` (chat messages, for
    ``--data.apply_chat_template``) and ``label`` (the JSON that ``/get_reward`` reads: ``state``, ``prefix``,
    ``goal_state``, and ``statement`` when the records have it), for ``--data.input_key prompt --data.label_key
    label``."""
    out = []
    for row in grpo_rows(records, conversational=True):
        label = {k: row[k] for k in ("state", "prefix", "goal_state", "statement") if row.get(k)}
        out.append({"prompt": row["prompt"], "label": json.dumps(label, ensure_ascii=False)})
    return out
