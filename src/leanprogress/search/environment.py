"""The environment protocol a prover searches in, and an offline replay of LeanDojo traces.

An environment starts a theorem and runs tactics on states::

    state, handle = env.start(theorem)            # pretty-printed state, backend handle
    result = env.run_tactic(handle, "simp")       # TacticResult: state / finished / error / timeout
    env.close()

Backends for real Lean live in :mod:`leanprogress.search.backends`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from ..data.leandojo import iter_json_array, trace_files

NO_GOALS = "no goals"


@dataclass(frozen=True)
class TacticResult:
    """What running one tactic did.

    ``kind`` is ``state`` (a new proof state, in ``state`` and ``handle``),
    ``finished`` (no goals left), ``error`` (Lean rejected it, ``message``
    says why) or ``timeout``.
    """

    kind: str
    state: str | None = None
    handle: Any = None
    message: str = ""


class Environment(Protocol):
    def start(self, theorem: Any) -> tuple[str, Any]: ...

    def run_tactic(self, handle: Any, tactic: str) -> TacticResult: ...

    def close(self) -> None: ...


def _norm_tactic(tactic: str) -> str:
    return " ".join(tactic.split())


class ReplayEnvironment:
    """Replays LeanDojo traced theorems: real states and real transitions, offline.

    A tactic recorded on a state leads to the recorded next state (or
    finishes the proof when the trace says ``no goals``); any other tactic is
    a Lean error, since there is no Lean to try it. Theorems are started by
    ``full_name``.

    Args:
        theorems: LeanDojo theorem dicts (``full_name``, ``traced_tactics``).
    """

    def __init__(self, theorems: Iterable[dict]):
        self._starts: dict[str, str] = {}
        self._moves: dict[tuple[str, str, str], str] = {}
        self.theorems: dict[str, dict] = {}
        for thm in theorems:
            steps = thm.get("traced_tactics") or []
            if not steps:
                continue
            name = thm["full_name"]
            self.theorems[name] = thm
            self._starts[name] = steps[0]["state_before"]
            for step in steps:
                self._moves[(name, step["state_before"], _norm_tactic(step["tactic"]))] = step["state_after"]

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> "ReplayEnvironment":
        return cls(obj for f in trace_files(path) for _, obj in iter_json_array(f))

    def start(self, theorem: Any) -> tuple[str, Any]:
        name = theorem if isinstance(theorem, str) else theorem.get("full_name")
        if name not in self._starts:
            raise KeyError(f"theorem {name!r} is not in the replayed traces")
        state = self._starts[name]
        return state, (name, state)

    def run_tactic(self, handle: Any, tactic: str) -> TacticResult:
        name, state = handle
        after = self._moves.get((name, state, _norm_tactic(tactic)))
        if after is None:
            return TacticResult("error", message="tactic not in the replayed trace (replay cannot run new tactics)")
        if after.strip() == NO_GOALS:
            return TacticResult("finished")
        return TacticResult("state", state=after, handle=(name, after))

    def close(self) -> None:
        pass
