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
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from ..data.leandojo import iter_json_array, trace_files

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


class ReplayEnvironment:
    """Replays recorded proofs (LeanDojo layout) as a state graph: real states, real transitions, offline.

    Every recorded proof of a theorem is a path of states; a theorem recorded
    several times (several entries with the same ``full_name``, e.g. the
    proofs a search found) gives several paths that share states, so a search
    has real choices between proofs of different lengths. States are
    identified by their printed text, as the search identifies them: from a
    state, every tactic recorded from that text succeeds and leads to its
    recorded next state (the ``state_before`` of the next recorded step: the
    state the next tactic really ran in; inside nested ``by`` blocks it is the
    focused goal, not the whole ``state_after``), and a proof's last tactic
    finishes it. A recorded tactic that leaves the printed state unchanged is
    a loop back to the same state; the tactics recorded after it are
    available from that state, so such proofs stay provable. Any other tactic
    is a Lean error, since there is no Lean to try it.

    What this cannot show: a tactic the recordings lack always fails here,
    though Lean might accept it; and scores are only ever compared between
    recorded proofs.

    Args:
        theorems: LeanDojo theorem dicts (``full_name``, ``traced_tactics``).
    """

    def __init__(self, theorems: Iterable[dict]):
        self.theorems: dict[str, list[dict]] = {}
        self._roots: dict[str, str] = {}
        self._moves: dict[str, dict[str, dict[str, str | None]]] = {}
        self._spelling: dict[str, dict[str, list[str]]] = {}
        self.conflicts = 0
        for thm in theorems:
            steps = thm.get("traced_tactics") or []
            if not steps:
                continue
            name = thm["full_name"]
            self.theorems.setdefault(name, []).append(thm)
            self._roots.setdefault(name, steps[0]["state_before"])
            moves = self._moves.setdefault(name, {})
            spelling = self._spelling.setdefault(name, {})
            for i, step in enumerate(steps):
                before = step["state_before"]
                after = steps[i + 1]["state_before"] if i + 1 < len(steps) else None
                key = norm_tactic(step["tactic"])
                out = moves.setdefault(before, {})
                if key in out:
                    # The same tactic recorded twice from one state text: Lean is deterministic, so a
                    # different successor comes from how the trace printed a nested goal; keep the first.
                    self.conflicts += out[key] != after
                    continue
                out[key] = after
                spelling.setdefault(before, []).append(step["tactic"])

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> "ReplayEnvironment":
        return cls(obj for f in trace_files(path) for _, obj in iter_json_array(f))

    def names(self) -> list[str]:
        """Theorem names, in the order first seen."""
        return list(self.theorems)

    def recorded_tactics(self, name: str, state: str) -> list[str]:
        """The tactics recorded from ``state`` in proofs of ``name`` (as first spelled)."""
        return list(self._spelling.get(name, {}).get(state, []))

    def states(self, name: str) -> dict[str, list[str]]:
        """Every recorded state of ``name`` with its recorded tactics."""
        return {s: list(t) for s, t in self._spelling.get(name, {}).items()}

    def distances(self, name: str) -> dict[str, int]:
        """Fewest recorded tactics from each state of ``name`` to a finished proof (what a perfect step-count
        model would predict here)."""
        moves = self._moves.get(name, {})
        dist: dict[str, int] = {}
        changed = True
        while changed:  # Bellman-Ford on a small graph
            changed = False
            for state, out in moves.items():
                best = min((1 if after is None else dist.get(after, 10**9) + 1 for after in out.values()), default=10**9)
                if best < dist.get(state, 10**9):
                    dist[state] = best
                    changed = True
        return dist

    def start(self, theorem: Any, timeout: float | None = None) -> tuple[str, Any]:
        name = theorem if isinstance(theorem, str) else theorem.get("full_name")
        if name not in self._roots:
            raise KeyError(f"theorem {name!r} is not in the replayed traces")
        state = self._roots[name]
        return state, (name, state)

    def run_tactic(self, handle: Any, tactic: str, timeout: float | None = None) -> TacticResult:
        name, state = handle
        moves = self._moves[name].get(state, {})
        key = norm_tactic(tactic)
        if key not in moves:
            return TacticResult("error", message="tactic not recorded from this state (the replay cannot run new tactics)")
        after = moves[key]
        if after is None:
            return TacticResult("finished")
        return TacticResult("state", state=after, handle=(name, after))

    def verify(self, theorem: Any, proof: list[str], timeout: float | None = None) -> str | None:
        return replay_check(self, theorem, proof, timeout)

    def close(self) -> None:
        pass
