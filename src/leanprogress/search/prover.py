"""Progress-guided best-first proof search, in the manner of ReProver's.

A priority queue holds open proof states. Expanding one asks the generator
for candidate tactics, runs them in the environment, drops states already
seen, scores the new ones and queues them. A node's priority is::

    alpha * N + (1 - alpha) * P,   N = -2 * predicted_steps / n_max

with ``P`` the summed log-probability of the tactics on its path (see
:mod:`leanprogress.ranking`); ``alpha = 0`` is plain log-probability search
and needs no scorer.

What gets scored (``score_mode``):

- ``state``: the state a tactic produced, as the paper does. Only tactics
  Lean accepted are scored, after they ran; the model reads the new state
  with the tactic that made it (records built with ``--goal-from
  state_after``).
- ``tactic``: the (state, candidate) pair before anything runs, as the
  original scorer does; candidates are then tried best-first, and a
  candidate's predicted steps become its child's. This scores failing
  candidates too, but lets a good ranking save environment calls.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from ..ranking import DEFAULT_N_MAX, mixed_priority


@dataclass
class SearchConfig:
    """Search settings.

    Attributes:
        alpha: weight of predicted steps in the priority (0: log-probability only).
        n_max: steps that map to N = -2.
        num_candidates: tactics asked of the generator per expansion.
        max_expansions: expansion budget.
        max_env_calls: tactic-application budget (None: unlimited).
        timeout_s: wall-clock budget per theorem.
        score_mode: ``state`` or ``tactic`` (see module doc).
    """

    alpha: float = 0.0
    n_max: float = DEFAULT_N_MAX
    num_candidates: int = 32
    max_expansions: int = 100
    max_env_calls: int | None = None
    timeout_s: float = 600.0
    score_mode: str = "state"

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.score_mode not in ("state", "tactic"):
            raise ValueError(f"score_mode must be 'state' or 'tactic', got {self.score_mode!r}")
        if self.max_expansions < 1 or self.num_candidates < 1:
            raise ValueError("max_expansions and num_candidates must be >= 1")


@dataclass
class SearchResult:
    """Outcome of one search.

    ``status`` is ``proved``, ``failed`` (frontier exhausted), ``budget``
    (expansions or environment calls spent) or ``timeout``. ``proof`` is the
    tactic list when proved; ``states`` the states along it (initial first).
    """

    theorem: str
    status: str
    proof: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    expansions: int = 0
    nodes: int = 0
    env_calls: int = 0
    time_s: float = 0.0
    env_time_s: float = 0.0
    generator_time_s: float = 0.0
    scorer_time_s: float = 0.0
    alpha: float = 0.0
    score_mode: str = "state"
    generator: str = ""
    scorer: str = ""
    error: str = ""

    @property
    def proved(self) -> bool:
        return self.status == "proved"


@dataclass
class _Node:
    state: str
    handle: Any
    logprob: float
    tactics: list[str]
    states: list[str]


class BestFirstProver:
    """Best-first search over an environment with a generator and an optional scorer.

    Args:
        env: an :class:`~leanprogress.search.environment.Environment`.
        generator: anything with ``generate(state, prefix, n) -> [(tactic, logprob)]``.
        scorer: a :class:`~leanprogress.scoring.LeanProgressScorer` (needed when ``alpha > 0``).
        config: :class:`SearchConfig`.
    """

    def __init__(self, env: Any, generator: Any, scorer: Any = None, config: SearchConfig | None = None):
        self.env, self.generator, self.scorer = env, generator, scorer
        self.config = config or SearchConfig()
        if self.config.alpha > 0 and scorer is None:
            raise ValueError("alpha > 0 needs a scorer")

    def _steps(self, goals: list[str], tactics: list[str], prefix: str) -> list[float]:
        return self.scorer.predict_batch(goals, tactics, prefix) if tactics else []

    def prove(self, theorem: Any, name: str | None = None) -> SearchResult:
        cfg = self.config
        use_scorer = cfg.alpha > 0
        label = name or (theorem if isinstance(theorem, str) else str(theorem.get("full_name", theorem)))
        result = SearchResult(theorem=label, status="failed", alpha=cfg.alpha, score_mode=cfg.score_mode,
                              generator=type(self.generator).__name__,
                              scorer=getattr(self.scorer, "model_name", "") if use_scorer else "")
        t0 = time.perf_counter()
        try:
            state, handle = self.env.start(theorem)
        except Exception as exc:
            result.status, result.error = "error", f"{type(exc).__name__}: {exc}"
            return result
        counter = itertools.count()
        queue: list[tuple[float, int, _Node]] = [(0.0, next(counter), _Node(state, handle, 0.0, [], [state]))]
        seen = {state}
        result.nodes = 1
        while queue:
            if time.perf_counter() - t0 > cfg.timeout_s:
                result.status = "timeout"
                break
            if result.expansions >= cfg.max_expansions:
                result.status = "budget"
                break
            _, _, node = heapq.heappop(queue)
            result.expansions += 1
            prefix = "\n".join(node.tactics)
            g0 = time.perf_counter()
            candidates = self.generator.generate(node.state, "", cfg.num_candidates)
            result.generator_time_s += time.perf_counter() - g0
            pre_steps: dict[int, float] = {}
            order = list(range(len(candidates)))
            if use_scorer and cfg.score_mode == "tactic" and candidates:
                s0 = time.perf_counter()
                steps = self._steps([node.state] * len(candidates), [t for t, _ in candidates], prefix)
                result.scorer_time_s += time.perf_counter() - s0
                pre_steps = dict(enumerate(steps))
                order.sort(key=lambda i: -mixed_priority(steps[i], node.logprob + candidates[i][1], cfg.alpha, cfg.n_max))
            children: list[tuple[_Node, str, int]] = []
            for i in order:
                if cfg.max_env_calls is not None and result.env_calls >= cfg.max_env_calls:
                    result.status = "budget"
                    break
                tactic, logprob = candidates[i]
                e0 = time.perf_counter()
                outcome = self.env.run_tactic(node.handle, tactic)
                result.env_time_s += time.perf_counter() - e0
                result.env_calls += 1
                if outcome.kind == "finished":
                    result.status = "proved"
                    result.proof = node.tactics + [tactic]
                    result.states = node.states
                    result.time_s = time.perf_counter() - t0
                    return result
                if outcome.kind != "state" or outcome.state in seen:
                    continue
                seen.add(outcome.state)
                child = _Node(outcome.state, outcome.handle, node.logprob + logprob, node.tactics + [tactic],
                              node.states + [outcome.state])
                children.append((child, tactic, i))
            if result.status == "budget":
                break
            if not children:
                continue
            if use_scorer and cfg.score_mode == "state":
                s0 = time.perf_counter()
                steps = self._steps([c.state for c, _, _ in children], [t for _, t, _ in children], prefix)
                result.scorer_time_s += time.perf_counter() - s0
            else:
                steps = [pre_steps.get(i, 0.0) for _, _, i in children]
            for (child, _, _), s in zip(children, steps):
                priority = mixed_priority(s, child.logprob, cfg.alpha, cfg.n_max) if use_scorer else child.logprob
                heapq.heappush(queue, (-priority, next(counter), child))
                result.nodes += 1
        result.time_s = time.perf_counter() - t0
        return result


def proof_records(result: SearchResult, source: str = "search") -> list[dict]:
    """Training records from a solved search: each step labelled with its distance to 'no goals'.

    Step ``i`` of an ``n``-step proof gives ``goal = states[i]`` (the state
    before the tactic), ``prefix`` = tactics before it, ``steps_remaining =
    n - 1 - i``: the same labels ``build-dataset`` derives from LeanDojo
    traces, so a user can prove, retrain and prove again.
    """
    if not result.proved:
        return []
    n = len(result.proof)
    return [
        {"goal": result.states[i], "prefix": "\n".join(result.proof[:i]), "tactic": result.proof[i],
         "steps_remaining": n - 1 - i, "theorem": result.theorem, "source": source}
        for i in range(n)
    ]
