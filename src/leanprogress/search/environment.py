"""The environment protocol a prover searches in, and an offline replay of recorded proofs.

An environment starts a theorem, runs tactics on states and checks a finished proof::

    state, handle = env.start(theorem, timeout=30.0)       # pretty-printed state, backend handle
    result = env.run_tactic(handle, "simp", timeout=12.5)  # TacticResult: state / finished / error / timeout
    why_not = env.verify(theorem, ["intro n", "simp"])     # None: Lean accepts the whole proof
    env.close()

``timeout`` is the most seconds the call may take (the prover passes what is
left of its deadline); None means the environment's own per-tactic limit.

Backends for real Lean live in :mod:`leanprogress.search.backends`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from ..data.leandojo import (NO_GOALS, first_goals, iter_json_array, join_goals, outer_tactics, split_goals,
                             trace_files)

TACTIC_RESULT_KINDS = ("state", "finished", "error", "timeout")


@dataclass(frozen=True)
class TacticResult:
    """What running one tactic did.

    ``kind`` is ``state`` (a new proof state, in ``state`` and ``handle``),
    ``finished`` (Lean reports the proof complete: no goals, no error, no
    ``sorry``), ``error`` (Lean rejected it, ``message`` says why) or
    ``timeout`` (no answer in time; ``message`` says which limit).
    """

    kind: str
    state: str | None = None
    handle: Any = None
    message: str = ""

    def __post_init__(self) -> None:
        if self.kind not in TACTIC_RESULT_KINDS:
            raise ValueError(f"kind must be one of {TACTIC_RESULT_KINDS}, got {self.kind!r}")


class Environment(Protocol):
    """What :class:`~leanprogress.search.BestFirstProver` needs of a Lean backend."""

    def start(self, theorem: Any, timeout: float | None = None) -> tuple[str, Any]: ...

    def run_tactic(self, handle: Any, tactic: str, timeout: float | None = None) -> TacticResult: ...

    def verify(self, theorem: Any, proof: list[str], timeout: float | None = None) -> str | None: ...

    def close(self) -> None: ...


def norm_tactic(tactic: str) -> str:
    """A tactic with its whitespace collapsed (how the replay compares tactics)."""
    return " ".join(tactic.split())


def replay_check(env: Any, theorem: Any, proof: list[str], timeout: float | None = None) -> str | None:
    """Run ``proof`` again from a fresh start; None if it finishes, else why not.

    The fallback check for environments that cannot check a proof as one
    piece of source.
    """
    _, handle = env.start(theorem, timeout=timeout)
    for i, tactic in enumerate(proof):
        result = env.run_tactic(handle, tactic, timeout=timeout)
        last = i == len(proof) - 1
        if result.kind == "finished" and last:
            return None
        if result.kind != "state" or last:
            what = result.message or result.kind
            return f"step {i + 1} ({tactic!r}) gave {result.kind} on a fresh run: {what}"
        handle = result.handle
    return "the proof is empty"


# Tactics that act on goals other than the first ones (or need there to be none left), so they cannot be replayed
# on the first goals of a longer goal list as if those were all the goals.
_ACTS_ON_OTHER_GOALS = re.compile(
    r"(?<![\w.'])(all_goals|any_goals|repeat'?|iterate|on_goal|swap|rotate_left|rotate_right|pick_goal|case'?|next"
    r"|done|exacts)(?![\w'])")


class NotReplayable(LookupError):
    """A theorem whose recordings are not a proof of its first state that the replay can follow."""


def focusable(tactic: str) -> bool:
    """Whether ``tactic`` acts on the first goal(s) only, so that a run recorded on those goals alone (inside a
    ``·`` block) says what it does when more goals follow them."""
    return _ACTS_ON_OTHER_GOALS.search(tactic) is None


def _run(moves: dict[str, dict[str, str]], state: str, key: str) -> tuple[str, str] | None:
    """``(state after, recorded state before)`` for tactic ``key`` (normalized) from ``state`` by the recorded
    ``moves`` (state before -> tactic -> state after): recorded from exactly ``state``, or from its first goals
    (:func:`~leanprogress.data.leandojo.first_goals`) when the tactic acts on those only; None if it was not
    recorded there."""
    if key in moves.get(state, {}):
        return moves[state][key], state
    if focusable(key):
        for before, rest in first_goals(state):
            after = moves.get(before, {}).get(key)
            if after is not None:
                return join_goals(split_goals(after) + rest), before
    return None


def _why_not_replayable(steps: list[dict], outer: list[int]) -> str:
    """Why one recorded proof cannot be replayed as a proof of its first state ('' if it can).

    Every outer tactic must be run by some sequence of the others from the first state. A tactic recorded
    after one that left the printed state unchanged does not count as run from that text: the unchanged
    tactic may have changed what the printing does not show (``classical`` adds an instance), and the
    replay, like the search, cannot tell the two states apart.
    """
    unchanged: dict[str, int] = {}
    after_unchanged: dict[int, int] = {}
    for i in outer:
        before = steps[i]["state_before"]
        if before in unchanged:
            after_unchanged[i] = unchanged[before]
        if steps[i]["state_after"] == before:
            unchanged.setdefault(before, i)
    unreached = _unreached(steps, [i for i in outer if i not in after_unchanged])
    unreached = sorted(set(unreached) | set(after_unchanged))
    if not unreached:
        return ""
    if after_unchanged:
        j, p = min(after_unchanged.items())
        return (f"step {j} ({_clip(steps[j]['tactic'])!r}) was recorded after step {p} "
                f"({_clip(steps[p]['tactic'])!r}), which leaves the printed state unchanged: the replay cannot "
                "tell the state after it from the state before")
    return (f"{len(unreached)} of its {len(outer)} outer recorded tactics (e.g. step {unreached[0]}: "
            f"{_clip(steps[unreached[0]]['tactic'])!r}) are not reached from its first state by the others (a "
            "term-mode proof with several `by` blocks, or a tactic LeanDojo did not record)")


def _unreached(steps: list[dict], outer: list[int], limit: int = 10_000) -> list[int]:
    """The tactics of ``outer`` (indices of one recorded proof) that no sequence of them from the proof's first
    state runs (all of them when more than ``limit`` states would have to be explored)."""
    moves: dict[str, dict[str, str]] = {}
    where: dict[tuple[str, str], int] = {}
    for i in outer:
        key = (steps[i]["state_before"], norm_tactic(steps[i]["tactic"]))
        moves.setdefault(key[0], {}).setdefault(key[1], steps[i]["state_after"])
        where.setdefault(key, i)
    used: set[tuple[str, str]] = set()
    root = steps[0]["state_before"]
    todo, seen = [root], {root}
    while todo:
        if len(seen) > limit:
            return list(outer)
        state = todo.pop()
        froms = [state] + [before for before, _ in first_goals(state)]
        for key in dict.fromkeys(key for before in froms for key in moves.get(before, {})):
            ran = _run(moves, state, key)
            if ran is not None:
                after, before = ran
                used.add((before, key))
                if after != NO_GOALS and after not in seen:
                    seen.add(after)
                    todo.append(after)
    return sorted(i for k, i in where.items() if k not in used)


def _clip(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


class ReplayEnvironment:
    """Replays recorded proofs (LeanDojo layout) as a state graph: real states, real transitions, offline.

    A state is a list of goals, identified by its printed text as the search
    identifies states. Every recorded tactic that is not nested in another
    one (:func:`~leanprogress.data.leandojo.outer_tactics`) is a transition
    from its recorded ``state_before`` to its recorded ``state_after``, and
    nothing else is: a tactic whose ``state_after`` is ``no goals`` finishes
    the goals it ran on, a tactic runs only from the state it was recorded
    from, and a nested tactic (the tactics of ``have ... := by ...``, of
    ``induction ... with`` arms, of ``classical ...``) never runs on its own:
    it is part of its outer tactic, whose recorded ``state_after`` is the
    state after the whole tactic, nested blocks included. So the replay only
    ever runs the outer tactics of recorded proofs, each from the state Lean
    ran it in.

    Tactics inside a ``·`` block were recorded on the goal it focuses (LeanDojo
    does not list the ``·`` itself): from a state whose first goals are a
    recorded ``state_before``, that tactic runs on those goals and the other
    goals stay after the ones it leaves, as Lean runs a tactic on the main
    goal. Tactics that act on other goals too (``all_goals``, ``repeat``,
    ``swap``, ...) run only from exactly the state they were recorded from.

    A theorem recorded several times (several entries with the same
    ``full_name``, e.g. the proofs a search found) gives several paths that
    share states, so a search has real choices between proofs of different
    lengths. A recorded proof whose steps do not connect (LeanDojo drops
    tactics that leave the printed state unchanged, and a nested block's
    first state is not the state after its outer tactic) is not completed
    by guessing: the replay proves only what the recorded transitions prove.
    Any other tactic is a Lean error, since there is no Lean to try it.

    What this cannot show: a tactic the recordings lack always fails here,
    though Lean might accept it; and scores are only ever compared between
    recorded transitions.

    Args:
        theorems: LeanDojo theorem dicts (``full_name``, ``traced_tactics``).

    Example:
        >>> env = ReplayEnvironment([{"full_name": "t", "traced_tactics": [
        ...     {"tactic": "classical simp", "state_before": "⊢ p", "state_after": "no goals"},
        ...     {"tactic": "simp", "state_before": "⊢ p", "state_after": "no goals"}]}])
        >>> state, handle = env.start("t")
        >>> env.run_tactic(handle, "simp").kind, env.run_tactic(handle, "classical simp").kind
        ('error', 'finished')
    """

    kind = "replay"

    def __init__(self, theorems: Iterable[dict]):
        self.theorems: dict[str, list[dict]] = {}
        self._roots: dict[str, str] = {}
        self._moves: dict[str, dict[str, dict[str, str]]] = {}
        self._spelling: dict[str, dict[str, list[str]]] = {}
        self._at: dict[str, list[tuple[str, str]]] = {}  # state text -> (theorem, tactic) recorded from it
        self.conflicts = 0
        self.nested = 0
        self.disconnected = 0
        self._why_not: dict[str, str] = {}
        for thm in theorems:
            steps = thm.get("traced_tactics") or []
            if not steps:
                continue
            name = thm["full_name"]
            self.theorems.setdefault(name, []).append(thm)
            outer = [i for i, owner in enumerate(outer_tactics(steps)) if owner == i]
            self.nested += len(steps) - len(outer)
            why = _why_not_replayable(steps, outer)
            if why:
                # Several `by` blocks of a term-mode proof, a step LeanDojo did not record, or a step whose effect
                # the printed state does not show: the recording is not one proof of its first state that the
                # replay can follow, so nothing of it is replayed.
                self.disconnected += 1
                self._why_not.setdefault(name, why)
                continue
            self._roots.setdefault(name, steps[0]["state_before"])
            moves = self._moves.setdefault(name, {})
            spelling = self._spelling.setdefault(name, {})
            for i in outer:
                step = steps[i]
                before, after = step["state_before"], step["state_after"]
                key = norm_tactic(step["tactic"])
                out = moves.setdefault(before, {})
                if key in out:
                    # The same tactic recorded twice from one state text: Lean is deterministic, so a
                    # different result comes from something the printed state does not show; keep the first.
                    self.conflicts += out[key] != after
                    continue
                out[key] = after
                spelling.setdefault(before, []).append(step["tactic"])
        for name, spelling in self._spelling.items():
            for state, tactics in spelling.items():
                self._at.setdefault(state, []).extend((name, t) for t in tactics)

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> "ReplayEnvironment":
        return cls(obj for f in trace_files(path) for _, obj in iter_json_array(f))

    def names(self) -> list[str]:
        """Theorem names, in the order first seen."""
        return list(self.theorems)

    def recorded_tactics(self, name: str, state: str) -> list[str]:
        """The tactics recorded from exactly ``state`` in proofs of ``name`` (as first spelled)."""
        return list(self._spelling.get(name, {}).get(state, []))

    def states(self, name: str) -> dict[str, list[str]]:
        """Every state of ``name`` a recorded tactic runs from, with those tactics."""
        return {s: list(t) for s, t in self._spelling.get(name, {}).items()}

    def runnable(self, state: str) -> list[tuple[str, str]]:
        """``(theorem, tactic)`` for every recorded tactic that runs from ``state``: those recorded from it, then
        those recorded on its first goals (longest first) that act on those goals only."""
        out = list(self._at.get(state, []))
        for before, _ in first_goals(state):
            out += [(n, t) for n, t in self._at.get(before, []) if focusable(t)]
        return out

    def _step(self, name: str, state: str, key: str) -> str | None:
        """The state after the tactic ``key`` (normalized) from ``state``, or None if it does not run there."""
        ran = _run(self._moves.get(name, {}), state, key)
        return None if ran is None else ran[0]

    def distances(self, name: str, limit: int = 100_000) -> dict[str, int]:
        """Fewest replayed tactics from each state of ``name`` reachable from its start to a finished proof
        (what a perfect step-count model would predict here); ``limit`` bounds the states explored."""
        root = self._roots.get(name)
        if root is None:
            return {}
        edges: dict[str, list[str]] = {}
        todo, seen = [root], {root}
        while todo and len(seen) <= limit:
            state = todo.pop()
            keys = dict.fromkeys(norm_tactic(t) for n, t in self.runnable(state) if n == name)
            nxt = [after for after in (self._step(name, state, k) for k in keys) if after is not None]
            edges[state] = nxt
            for after in nxt:
                if after != NO_GOALS and after not in seen:
                    seen.add(after)
                    todo.append(after)
        dist: dict[str, int] = {}
        changed = True
        while changed:  # Bellman-Ford on a small graph
            changed = False
            for state, out in edges.items():
                best = min((1 if a == NO_GOALS else dist.get(a, 10**9) + 1 for a in out), default=10**9)
                if best < dist.get(state, 10**9):
                    dist[state] = best
                    changed = True
        return dist

    def start(self, theorem: Any, timeout: float | None = None) -> tuple[str, Any]:
        name = theorem if isinstance(theorem, str) else theorem.get("full_name")
        if name not in self._roots:
            if name in self._why_not:
                raise NotReplayable(f"theorem {name!r} cannot be replayed: {self._why_not[name]}")
            raise KeyError(f"theorem {name!r} is not in the replayed traces")
        state = self._roots[name]
        return state, (name, state)

    def run_tactic(self, handle: Any, tactic: str, timeout: float | None = None) -> TacticResult:
        name, state = handle
        after = self._step(name, state, norm_tactic(tactic))
        if after is None:
            return TacticResult("error", message="tactic not recorded from this state (the replay cannot run new tactics)")
        if after == NO_GOALS:
            return TacticResult("finished")
        return TacticResult("state", state=after, handle=(name, after))

    def verify(self, theorem: Any, proof: list[str], timeout: float | None = None) -> str | None:
        return replay_check(self, theorem, proof, timeout)

    def close(self) -> None:
        pass
