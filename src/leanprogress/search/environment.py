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

    The recorded tactic of step ``i`` moves the search to step ``i + 1``,
    whose state is the ``state_before`` LeanDojo recorded for it (the state
    the next tactic really ran in: inside nested ``by`` blocks it is the
    focused goal, not the whole ``state_after``), and the last recorded
    tactic finishes the proof. Any other tactic is a Lean error, since there
    is no Lean to try it. Theorems are started by ``full_name``.

    Args:
        theorems: LeanDojo theorem dicts (``full_name``, ``traced_tactics``).
    """

    def __init__(self, theorems: Iterable[dict]):
        self.theorems: dict[str, dict] = {}
        for thm in theorems:
            if thm.get("traced_tactics"):
                self.theorems[thm["full_name"]] = thm

    @classmethod
    def from_path(cls, path: str | os.PathLike) -> "ReplayEnvironment":
        return cls(obj for f in trace_files(path) for _, obj in iter_json_array(f))

    def start(self, theorem: Any) -> tuple[str, Any]:
        name = theorem if isinstance(theorem, str) else theorem.get("full_name")
        if name not in self.theorems:
            raise KeyError(f"theorem {name!r} is not in the replayed traces")
        return self.theorems[name]["traced_tactics"][0]["state_before"], (name, 0)

    def run_tactic(self, handle: Any, tactic: str) -> TacticResult:
        name, i = handle
        steps = self.theorems[name]["traced_tactics"]
        if _norm_tactic(tactic) != _norm_tactic(steps[i]["tactic"]):
            return TacticResult("error", message="tactic not in the replayed trace (replay cannot run new tactics)")
        if i + 1 == len(steps):
            return TacticResult("finished")
        return TacticResult("state", state=steps[i + 1]["state_before"], handle=(name, i + 1))

    def close(self) -> None:
        pass
