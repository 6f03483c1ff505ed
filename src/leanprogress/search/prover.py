"""Progress-guided best-first proof search, in the manner of ReProver's.

A priority queue holds open proof states. Expanding one asks the generator
for candidate tactics, runs them in the environment, drops states already
seen, scores the new ones and queues them. A node's priority is::

    alpha * N + (1 - alpha) * P,   N = -2 * predicted_steps / n_max

with ``P`` the summed log-probability of the tactics on its path (see
:mod:`leanprogress.ranking`) and ``predicted_steps`` the scorer's rank score
(:meth:`~leanprogress.scoring.LeanProgressScorer.rank_batch`: for a
distribution head the expected steps, which do not tie as its mode does); ``alpha = 0`` is plain log-probability search
and needs no scorer. A candidate whose log-probability is NaN or infinite
counts as the lowest (:func:`~leanprogress.ranking.finite_logprob`); a
predicted step count that is not finite ends the theorem with status ``error``.

What gets scored (``score_mode``):

- ``state``: the state a tactic produced, as the paper does. Only tactics
  Lean accepted are scored, after they ran; the model reads the new state
  with the tactic that made it, so it must be trained on records built with
  ``build-dataset --goal-from state_after``.
- ``tactic``: the (state, candidate) pair before anything runs, as the
  original scorer does (records built from ``state_before``, the default);
  candidates are then tried best-first, and a candidate's predicted steps
  become its child's. This scores failing candidates too, but lets a good
  ranking save environment calls.

What the search promises:

- The deadline (``timeout_s``) bounds every environment call: each gets
  what is left of it as its timeout, and the search stops with status
  ``timeout`` when it is spent.
- Candidates the proof rule forbids (:mod:`leanprogress.lean.forbidden`:
  ``sorry``, ``admit``, ``sorryAx``, ``stop``, declarations, ``native_decide``,
  ...) are never sent.
- A proof counts only when the environment reports it finished (for real
  Lean: no goals, no error, no ``sorry``, status complete) and the whole
  proof then passes :meth:`Environment.verify` (for real Lean: checked once
  more as one piece of source against the statement, and through
  LeanInteract its axioms too); otherwise the status
  is ``unverified`` with Lean's reason.
- An exception from the generator, the scorer or the environment ends that
  theorem with status ``error`` and the exception's message.
- Every result that is not ``proved`` says why in ``error``.
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from ..config import SCORE_MODE_GOAL_FROM, check_score_mode, score_mode_for  # noqa: F401 (re-exported)
from ..lean.forbidden import forbidden
from ..ranking import DEFAULT_N_MAX, finite_logprob, mixed_priority, rank_scores

STATUSES = ("proved", "failed", "budget", "timeout", "error", "unverified")
SCORE_MODES = ("state", "tactic")
GOAL_FROM_FOR_MODE = SCORE_MODE_GOAL_FROM

def forbidden_word(tactic: str) -> str | None:
    """What in a candidate makes it no proof step (:func:`leanprogress.lean.forbidden.forbidden`: ``sorry``,
    ``admit``, ``sorryAx``, ``stop``, declarations, ``native_decide``, ...), or None.

    Example:
        >>> forbidden_word("nlinarith [sq_nonneg x]"), forbidden_word("· exact h\\n  sorry")
        (None, 'sorry')
    """
    return forbidden(tactic)


@dataclass
class SearchConfig:
    """Search settings.

    Attributes:
        alpha: weight of predicted steps in the priority (0: log-probability only).
        n_max: steps that map to N = -2.
        num_candidates: tactics asked of the generator per expansion.
        max_expansions: expansion budget.
        max_env_calls: tactic-application budget (None: unlimited).
        timeout_s: wall-clock deadline per theorem; bounds every environment call.
        score_mode: ``state`` or ``tactic`` (see module doc).
        verify: check a found proof once more as a whole before reporting it proved.
    """

    alpha: float = 0.0
    n_max: float = DEFAULT_N_MAX
    num_candidates: int = 32
    max_expansions: int = 100
    max_env_calls: int | None = None
    timeout_s: float = 600.0
    score_mode: str = "state"
    verify: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if self.score_mode not in SCORE_MODES:
            raise ValueError(f"score_mode must be 'state' or 'tactic', got {self.score_mode!r}")
        if self.max_expansions < 1 or self.num_candidates < 1:
            raise ValueError("max_expansions and num_candidates must be >= 1")
        if self.max_env_calls is not None and self.max_env_calls < 1:
            raise ValueError(f"max_env_calls must be >= 1 or None, got {self.max_env_calls}")
        if not self.timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.n_max <= 0:
            raise ValueError(f"n_max must be > 0, got {self.n_max}")


@dataclass
class SearchResult:
    """Outcome of one search.

    ``status`` is ``proved``, ``failed`` (no open state left), ``budget``
    (expansions or environment calls spent), ``timeout`` (deadline reached),
    ``error`` (the generator, scorer or environment raised) or
    ``unverified`` (the environment finished the proof step by step, but the
    whole proof failed the final check). ``error`` says why for every status
    but ``proved``. ``proof`` is the tactic list when proved or unverified;
    ``states`` the states along it (initial first). ``restarts`` counts
    backend restarts during the search (e.g. the REPL after a tactic
    timeout), whose lost states were re-created. ``environment`` names the
    backend (``replay``, ``lean-interact``, ``lean-dojo``; empty in results
    written before it was recorded). ``score_mode`` is what the model scored
    (``state`` or ``tactic``), ``""`` when no model took part (alpha 0).
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
    verify_time_s: float = 0.0
    alpha: float = 0.0
    score_mode: str = ""
    generator: str = ""
    scorer: str = ""
    error: str = ""
    restarts: int = 0
    rejected_candidates: int = 0
    environment: str = ""

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


@dataclass
class _Tally:
    """Why candidates went nowhere, for the message of a failed search."""

    errors: int = 0
    timeouts: int = 0
    repeats: int = 0
    last_error: str = ""

    def summary(self) -> str:
        parts = [f"{self.errors} tactic(s) failed", f"{self.timeouts} timed out", f"{self.repeats} led to a state already seen"]
        text = ", ".join(parts)
        if self.last_error:
            text += f"; last Lean error: {_clip(self.last_error)}"
        return text


def _clip(text: str, n: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


class _Deadline(Exception):
    pass


class _StartFailed(Exception):
    pass


class BestFirstProver:
    """Best-first search over an environment with a generator and an optional scorer.

    Args:
        env: an :class:`~leanprogress.search.environment.Environment`.
        generator: anything with ``generate(state, prefix, n) -> [(tactic, logprob)]``.
        scorer: a :class:`~leanprogress.scoring.LeanProgressScorer` (needed when
            ``alpha > 0``); one whose settings record the kind of state it was
            trained on (``goal_from``) must match ``config.score_mode``.
        config: :class:`SearchConfig`.

    Example:
        >>> from leanprogress.generators import ReplayGenerator
        >>> from leanprogress.search import ReplayEnvironment
        >>> env = ReplayEnvironment([{"full_name": "t", "traced_tactics": [
        ...     {"tactic": "simp", "state_before": "⊢ True", "state_after": "no goals"}]}])
        >>> BestFirstProver(env, ReplayGenerator(env, distractors=3)).prove("t").status
        'proved'
    """

    def __init__(self, env: Any, generator: Any, scorer: Any = None, config: SearchConfig | None = None):
        self.env, self.generator, self.scorer = env, generator, scorer
        self.config = config or SearchConfig()
        if self.config.alpha > 0 and scorer is None:
            raise ValueError("alpha > 0 needs a scorer")
        settings = getattr(scorer, "settings", None)
        if self.config.alpha > 0 and settings is not None:
            check_score_mode(getattr(settings, "goal_from", ""), self.config.score_mode,
                             getattr(scorer, "model_name", "the model"))

    def _steps(self, goals: list[str], tactics: list[str], prefix: str) -> list[float]:
        # The rank score (expected steps for a distribution head), not the point estimate: a mode ties candidates.
        return rank_scores(self.scorer, goals, tactics, prefix) if tactics else []

    def prove(self, theorem: Any, name: str | None = None) -> SearchResult:
        """Search for a proof of ``theorem``; never raises for a failure of the backends (status ``error``)."""
        cfg = self.config
        label = name or (theorem if isinstance(theorem, str) else str(theorem.get("full_name", theorem)))
        result = SearchResult(theorem=label, status="failed", alpha=cfg.alpha,
                              score_mode=cfg.score_mode if cfg.alpha > 0 else "",  # no model: nothing is scored
                              generator=type(self.generator).__name__,
                              scorer=getattr(self.scorer, "model_name", "") if cfg.alpha > 0 else "",
                              environment=getattr(self.env, "kind", type(self.env).__name__))
        t0 = time.perf_counter()
        restarts0 = getattr(self.env, "restarts", 0)
        try:
            self._search(theorem, result, t0)
        except _Deadline:
            result.status = "timeout"
            result.error = f"deadline of {cfg.timeout_s:g}s reached after {result.env_calls} environment call(s)"
        except _StartFailed as exc:
            result.status, result.error = "error", _clip(str(exc), 1000)
        except Exception as exc:  # a backend failure ends this theorem only
            result.status, result.error = "error", f"{type(exc).__name__}: {_clip(str(exc), 1000)}"
        result.restarts = getattr(self.env, "restarts", 0) - restarts0
        if result.restarts and result.status != "proved":
            result.error += f" ({result.restarts} backend restart(s) during the search; lost states re-created)"
        result.time_s = time.perf_counter() - t0
        return result

    def _search(self, theorem: Any, result: SearchResult, t0: float) -> None:
        cfg = self.config
        use_scorer = cfg.alpha > 0

        def left() -> float:
            remaining = cfg.timeout_s - (time.perf_counter() - t0)
            if remaining <= 0:
                raise _Deadline
            return remaining

        e0 = time.perf_counter()
        try:
            state, handle = self.env.start(theorem, timeout=left())
        except _Deadline:
            raise
        except Exception as exc:
            if time.perf_counter() - t0 >= cfg.timeout_s:
                raise _Deadline from None
            raise _StartFailed(f"could not start the theorem: {type(exc).__name__}: {exc}") from None
        finally:
            result.env_time_s += time.perf_counter() - e0
        counter = itertools.count()
        queue: list[tuple[float, int, _Node]] = [(0.0, next(counter), _Node(state, handle, 0.0, [], [state]))]
        seen = {state}
        tally = _Tally()
        result.nodes = 1
        while queue:
            left()
            if result.expansions >= cfg.max_expansions:
                result.status = "budget"
                result.error = f"expansion budget of {cfg.max_expansions} spent; " + tally.summary()
                return
            _, _, node = heapq.heappop(queue)
            result.expansions += 1
            prefix = "\n".join(node.tactics)
            g0 = time.perf_counter()
            candidates = self.generator.generate(node.state, "", cfg.num_candidates)
            result.generator_time_s += time.perf_counter() - g0
            left()
            allowed = []
            for tactic, logprob in candidates:
                if forbidden_word(tactic):
                    result.rejected_candidates += 1
                else:
                    # A NaN log-probability would break the heap's order (NaN compares false with everything).
                    allowed.append((tactic, finite_logprob(logprob)))
            candidates = allowed
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
                    result.error = f"environment-call budget of {cfg.max_env_calls} spent; " + tally.summary()
                    return
                tactic, logprob = candidates[i]
                timeout = left()
                e0 = time.perf_counter()
                outcome = self.env.run_tactic(node.handle, tactic, timeout=timeout)
                result.env_time_s += time.perf_counter() - e0
                result.env_calls += 1
                if outcome.kind == "finished":
                    self._finish(theorem, result, node, tactic)
                    return
                if outcome.kind == "timeout":
                    left()  # the deadline, not the per-tactic limit, may be what ran out
                    tally.timeouts += 1
                    continue
                if outcome.kind == "error":
                    tally.errors += 1
                    tally.last_error = outcome.message or tally.last_error
                    continue
                if outcome.state in seen:
                    tally.repeats += 1
                    continue
                seen.add(outcome.state)
                child = _Node(outcome.state, outcome.handle, node.logprob + logprob, node.tactics + [tactic],
                              node.states + [outcome.state])
                children.append((child, tactic, i))
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
        result.status = "failed"
        result.error = f"no open state left after {result.expansions} expansion(s): " + tally.summary()
        if result.rejected_candidates:
            result.error += f"; {result.rejected_candidates} candidate(s) the proof rule forbids not sent"

    def _finish(self, theorem: Any, result: SearchResult, node: _Node, tactic: str) -> None:
        result.proof = node.tactics + [tactic]
        result.states = node.states
        if not self.config.verify:
            result.status = "proved"
            return
        v0 = time.perf_counter()
        verify = getattr(self.env, "verify", None)
        if verify is None:
            from .environment import replay_check

            why = replay_check(self.env, theorem, result.proof)
        else:
            why = verify(theorem, result.proof)
        result.verify_time_s = time.perf_counter() - v0
        if why is None:
            result.status = "proved"
        else:
            result.status = "unverified"
            result.error = f"the proof finished step by step but failed the whole-proof check: {_clip(why, 1000)}"


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
         "steps_remaining": n - 1 - i, "theorem": result.theorem, "source": source, "goal_from": "state_before"}
        for i in range(n)
    ]
