"""``ProgressReward``: rewards for a policy's tactics from a LeanProgress model, in one padded pass per call.

A reward is computed for each (state, prefix, completion): the completion is
cleaned to one tactic (:mod:`leanprogress.rl.completions`), optionally run in
Lean (:mod:`leanprogress.rl.gate`), and the model's predicted steps remaining
become the reward in one of three forms. The steps are the model's rank score
(:meth:`leanprogress.scoring.LeanProgressScorer.rank_batch`: for a
distribution head the expected steps, not its point estimate, whose ties would
give most of a GRPO group the same reward and so no advantage):

- ``bounded`` (default): ``exp(-2 * steps / n_max)`` in (0, 1], the score the
  server hands aesop (:func:`leanprogress.ranking.success_probability`): 1 for
  a tactic predicted to close the goal, 0.90 for 1 step left, 0.37 for
  ``n_max / 2``. Bounded, so one very long prediction does not stretch a GRPO
  group's standard deviation; failure reward 0.
- ``neg_steps``: ``-steps``, the published LeanProgress reward, with steps
  capped at ``steps_cap`` (default ``2 * n_max`` = 40), so that a valid tactic
  never scores below a failed one; failure reward ``-(steps_cap + 1)``.
- ``close_probability``: P(steps remaining = 0), the probability that this
  tactic closes the goal; distribution-head models only (``train --head
  distribution``); failure reward 0.

A completion without a tactic (empty, unparsable, ``sorry``, ...; see
:mod:`~leanprogress.rl.completions`), a tactic Lean rejects or that times out,
and a prefix Lean cannot replay get the failure reward, never an exception; a
tactic Lean reports as finishing the proof gets the reward of 0 steps (1, 0 or
1 in the three forms) without asking the model. What cannot be a property of
one completion raises: a model folder that does not load, a model whose output
is NaN (:class:`~leanprogress.scoring.ScoringError`), a reward server that keeps
failing (:class:`~leanprogress.rl.client.RewardServiceError`), a Lean server that
is down or fails a whole call (:class:`~leanprogress.rl.gate.LeanServiceError`).

Whole proofs (``task="proof"``): each completion is a whole proof of its
statement (a ``theorem … := by …`` answer, or a tactic block), cleaned by
:func:`~leanprogress.rl.completions.clean_proof`. With a gate, a proof Lean
accepts under the proof rule gets the best reward (status ``verified``); a
proof it rejects gets *partial credit* from the model at the longest prefix
Lean accepts (the first error ends it): the model's reward for the last
accepted tactic, read as the whole-proof data is (the theorem's initial state,
the tactics before it as prefix, ``goal_state: "initial"``), with steps capped
at ``steps_cap`` and mapped into the band strictly between the failure reward
and the best one::

    partial = failure + partial_credit * (reward_of(min(steps, steps_cap)) - failure)

(``partial_credit`` = 0.5: ``bounded`` gives (0, 0.5], ``neg_steps``
[-40.5, -20.5]). So a failed proof never outranks a verified one, and a proof
whose first tactic fails, that uses ``sorry`` or a foreign axiom, or whose
statement does not elaborate gets the failure reward. Without a gate nothing is
verified: every proof gets the partial credit of its last tactic, with status
``unverified``.

Which state the model reads (``score_mode``, as ``prove`` chooses it): a model
trained on ``state_before`` records (the default) scores (state, tactic) before
the tactic runs (``tactic``); one trained on ``state_after`` records scores the
state the tactic produced (``state``), which needs Lean (``lean=``).

Example:
    >>> from leanprogress.rl import ProgressReward
    >>> reward = ProgressReward("runs/model")                         # doctest: +SKIP
    >>> reward.score(["n : ℕ\\n⊢ n + 0 = n"] * 2, ["simp", "```lean\\nsorry\\n```"])  # doctest: +SKIP
    [0.97, 0.0]
"""

from __future__ import annotations

import logging
import math
import os
import threading
from dataclasses import dataclass
from typing import Any, Sequence

from ..lean.declaration import theorem_name
from ..lean.forbidden import ProofRule
from ..prompt import count_mismatch
from ..ranking import DEFAULT_N_MAX, rank_scores, success_probability
from .completions import DEFAULT_MAX_CHARS, DEFAULT_MAX_PROOF_CHARS, MULTIPLE, clean_completion, clean_proof

logger = logging.getLogger(__name__)

FORMS = ("bounded", "neg_steps", "close_probability")
SCORE_MODES = ("tactic", "state")
TASKS = ("step", "proof")


@dataclass(frozen=True)
class RewardResult:
    """One completion's reward and how it came about.

    Attributes:
        reward: the reward.
        status: ``scored`` (the model scored the tactic), ``finished`` (Lean says the tactic ends the proof),
            for whole proofs ``verified`` (Lean accepts it), ``partial`` (partial credit up to Lean's first
            error) or ``unverified`` (no gate: partial credit, nothing checked); a cleaning failure (``empty``,
            ``unfinished``, ``prose``, ``unparsable``, ``forbidden``, ``too_long``, ``multiple``), or a Lean
            failure (``rejected``, ``forbidden``, ``timeout``, ``prefix_failed``, ``statement_failed``,
            ``lean_error``).
        tactic: the cleaned tactic (for whole proofs, the proof), or None.
        steps: the model's rank score in steps (its expected steps for a distribution head; 0 for ``finished`` and
            ``verified``), or None when the failure reward
            was given.
        message: why, for failures (Lean's message, or what the cleaning found).
    """

    reward: float
    status: str
    tactic: str | None = None
    steps: float | None = None
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.steps is None


def _is_url(model: Any) -> bool:
    return isinstance(model, str) and model.startswith(("http://", "https://"))


class _LocalScorer:
    """A :class:`~leanprogress.scoring.LeanProgressScorer` behind a lock (reward managers call from threads)."""

    def __init__(self, scorer: Any):
        self.scorer = scorer
        self.settings = getattr(scorer, "settings", None)
        self.name = getattr(scorer, "model_name", type(scorer).__name__)
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock())

    def steps(self, goals: list[str], tactics: list[str], prefixes: list[str],
              initial_goals: list[bool] | None = None) -> list[float]:
        """The rank scores (``rank_batch``; a scorer without it: ``predict_batch``) the reward is computed from."""
        with self._lock:
            return rank_scores(self.scorer, goals, tactics, prefixes, initial_goals)

    def close_probability(self, goals: list[str], tactics: list[str], prefixes: list[str]) -> list[float]:
        with self._lock:
            return [float(p) for p in self.scorer.close_probability(goals, tactics, prefixes)]


class ProgressReward:
    """Rewards for (state, prefix, completion) triples from a LeanProgress model (see the module doc).

    Args:
        model: a model folder written by ``leanprogress train`` (scored in this process), the URL of a
            ``leanprogress serve`` server (``http://host:23337``: scored there, see
            :class:`~leanprogress.rl.client.RemoteScorer`), a ready
            :class:`~leanprogress.scoring.LeanProgressScorer`, or any object with the scorer's
            ``predict_batch(goals, tactics, prefixes)``.
        form: ``bounded`` (default), ``neg_steps`` or ``close_probability``.
        n_max: the scale of ``bounded`` and of ``neg_steps``' cap (steps that map to ``exp(-2)``).
        steps_cap: ``neg_steps`` only: steps above it count as it (default ``2 * n_max``).
        failure_reward: the reward of a completion without a scored tactic (default: 0 for ``bounded`` and
            ``close_probability``, ``-(steps_cap + 1)`` for ``neg_steps``).
        multiple: what a completion with several tactics means: ``first`` (default), ``all``, ``reject``.
        max_chars: longest cleaned completion scored (default 8,192 characters for a tactic, 24,000 for a proof).
        lean: a Lean gate (:class:`~leanprogress.rl.gate.EnvironmentGate`,
            :class:`~leanprogress.rl.gate.KiminaGate`): tactics (or whole proofs) run in Lean first; needs
            statements.
        task: ``step`` (default: each completion is the next tactic) or ``proof`` (each is a whole proof; see the
            module doc).
        partial_credit: ``proof`` only: the share of the gap between the failure reward and a tactic's reward
            that a rejected (or, without a gate, unverified) proof gets, in (0, 1).
        native_decide: allow ``native_decide`` (and the compiler's axioms behind it); off by default, as most
            benchmarks forbid it (the proof rule, :mod:`leanprogress.lean.forbidden`).
        score_mode: ``tactic`` or ``state``; default from the model's ``goal_from`` (``tactic`` when unknown).
        device: for a model folder: where it runs (see :class:`~leanprogress.scoring.LeanProgressScorer`).
        precision: for a model folder: ``auto``, ``fp32``, ``bf16`` or ``int8``.
        batch_size: for a model folder: prompts per forward pass.
        api_key: for a server URL: the server's key (see :class:`~leanprogress.rl.client.RemoteScorer`).
        timeout_s: for a server URL: seconds per HTTP request.
        retries: for a server URL: retries of a request that got 429, 502, 503, 504 or no connection.
    """

    def __init__(
        self,
        model: Any,
        form: str = "bounded",
        n_max: float = DEFAULT_N_MAX,
        steps_cap: float | None = None,
        failure_reward: float | None = None,
        multiple: str = "first",
        max_chars: int | None = None,
        lean: Any = None,
        task: str = "step",
        partial_credit: float = 0.5,
        native_decide: bool = False,
        score_mode: str | None = None,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int = 32,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        retries: int = 5,
    ):
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {form!r}")
        if not n_max > 0:
            raise ValueError(f"n_max must be > 0, got {n_max}")
        if multiple not in MULTIPLE:
            raise ValueError(f"multiple must be one of {MULTIPLE}, got {multiple!r}")
        if score_mode is not None and score_mode not in SCORE_MODES:
            raise ValueError(f"score_mode must be one of {SCORE_MODES}, got {score_mode!r}")
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        if not 0.0 < partial_credit < 1.0:
            raise ValueError(f"partial_credit must be in (0, 1), so that a failed proof stays below a verified one "
                             f"and above the failure reward, got {partial_credit}")
        if task == "proof" and form == "close_probability":
            raise ValueError("task 'proof' rewards whole proofs by steps: use form 'bounded' or 'neg_steps'")
        if max_chars is None:
            max_chars = DEFAULT_MAX_PROOF_CHARS if task == "proof" else DEFAULT_MAX_CHARS
        self.task, self.partial_credit = task, float(partial_credit)
        self.form, self.n_max, self.multiple, self.max_chars = form, float(n_max), multiple, max_chars
        self.steps_cap = float(steps_cap) if steps_cap is not None else 2.0 * self.n_max
        if not self.steps_cap > 0:
            raise ValueError(f"steps_cap must be > 0, got {steps_cap}")
        default_failure = -(self.steps_cap + 1.0) if form == "neg_steps" else 0.0
        self.failure_reward = float(failure_reward) if failure_reward is not None else default_failure
        if not math.isfinite(self.failure_reward):
            raise ValueError(f"failure_reward must be finite (GRPO normalizes rewards), got {failure_reward}")
        if task == "proof" and not self.failure_reward < self.reward_of(self.steps_cap):
            raise ValueError(f"failure_reward {self.failure_reward} must be below the reward of the most steps "
                             f"scored ({self.reward_of(self.steps_cap):.4g} for {self.steps_cap:g} steps), or partial "
                             "credit could fall under it")
        self._spec = dict(model=model, device=device, precision=precision, batch_size=batch_size,
                          api_key=api_key, timeout_s=timeout_s, retries=retries, native_decide=bool(native_decide))
        self.scorer = self._load()
        self.lean = lean
        self.rule = ProofRule(native_decide=bool(native_decide))
        self.score_mode = score_mode or self._mode_from_model()
        if self.score_mode == "state" and lean is None:
            raise ValueError(f"{self.scorer.name} scores the state a tactic produced (score mode 'state', a model "
                             "trained on state_after records): that state comes from Lean, so give lean= (a gate "
                             "from leanprogress.rl.gate), or score_mode='tactic' with a state_before model")
        if form == "close_probability":
            head = getattr(self.scorer.settings, "head", None)
            if head != "distribution" or not hasattr(self.scorer, "close_probability"):
                raise ValueError(f"form 'close_probability' needs a model with the distribution head (train --head "
                                 f"distribution) scored in this process; {self.scorer.name} "
                                 + (f"has a {head} head" if head else "gives steps only") +
                                 ": use form 'bounded' or 'neg_steps'")

    # ------------------------------------------------------------------ loading
    def _load(self) -> Any:
        spec = self._spec
        model = spec["model"]
        if _is_url(model):
            from .client import RemoteScorer

            return RemoteScorer(model, api_key=spec["api_key"], timeout_s=spec["timeout_s"],
                                retries=spec["retries"], native_decide=spec["native_decide"])
        if isinstance(model, (str, os.PathLike)):
            from ..scoring import LeanProgressScorer

            return _LocalScorer(LeanProgressScorer(model, device=spec["device"], precision=spec["precision"],
                                                   batch_size=spec["batch_size"]))
        if hasattr(model, "steps"):  # a scorer backend already (RemoteScorer, the server's own)
            return model
        if hasattr(model, "predict_batch"):
            return _LocalScorer(model)
        raise TypeError(f"model must be a model folder, a server URL or a scorer, got {type(model).__name__}")

    def __getstate__(self) -> dict:
        # Workers (Ray, a process pool) get the recipe and load their own copy; a model in memory is not shipped.
        state = dict(self.__dict__)
        if isinstance(self._spec["model"], (str, os.PathLike)):
            state["scorer"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self.scorer is None:
            self.scorer = self._load()

    def _mode_from_model(self) -> str:
        from ..search.prover import score_mode_for

        goal_from = getattr(self.scorer.settings, "goal_from", "") or ""
        if goal_from == "mixed":
            raise ValueError(f"{self.scorer.name} was trained on records that mix states before and after tactics: "
                             "give score_mode='tactic' or 'state'")
        return score_mode_for(goal_from) or "tactic"

    # ------------------------------------------------------------------ forms
    def reward_of(self, steps: float) -> float:
        """The reward of a tactic predicted to leave ``steps`` steps (``bounded`` or ``neg_steps``)."""
        if self.form == "neg_steps":
            return -min(float(steps), self.steps_cap)
        return success_probability(steps, n_max=self.n_max)

    @property
    def best_reward(self) -> float:
        """The reward of a tactic with 0 steps left (what ``finished`` gets)."""
        return 0.0 if self.form == "neg_steps" else 1.0

    def partial_reward(self, steps: float) -> float:
        """The partial credit of a whole proof whose last accepted tactic is predicted to leave ``steps`` steps:
        strictly between the failure reward and the best reward (see the module doc)."""
        return self.failure_reward + self.partial_credit * (self.reward_of(min(float(steps), self.steps_cap))
                                                            - self.failure_reward)

    # ------------------------------------------------------------------ scoring
    def _steps(self, goals: list[str], tactics: list[str], prefixes: list[str],
               initial: list[bool]) -> list[float]:
        """The model's steps remaining: the one place the reward asks its scorer."""
        return [float(s) for s in self.scorer.steps(goals, tactics, prefixes, initial if any(initial) else None)]

    def score(self, states: Sequence[str], completions: Sequence[Any], prefixes: Sequence[str] | str | None = None,
              statements: Sequence[str] | None = None, goal_states: Sequence[str | None] | None = None
              ) -> list[float]:
        """Rewards, one per completion (see :meth:`evaluate`)."""
        return [r.reward for r in self.evaluate(states, completions, prefixes, statements, goal_states)]

    def evaluate(self, states: Sequence[str], completions: Sequence[Any],
                 prefixes: Sequence[str] | str | None = None,
                 statements: Sequence[str] | None = None,
                 goal_states: Sequence[str | None] | None = None) -> list[RewardResult]:
        """Rewards with their status, one per completion, all tactics scored in one batched call.

        Args:
            states: the proof state each completion was asked for (one per completion, or one str for all); for
                whole proofs the theorem's initial state.
            completions: the policy's completions (strings or conversational message lists).
            prefixes: the tactics written before (one str for all, one per completion, or None); whole proofs
                start at the statement (none).
            statements: the theorem each state belongs to (``theorem t (n : ℕ) : n + 0 = n``): needed with
                ``lean``; without it, whole proofs use its name to find the theorem in a whole-file answer.
            goal_states: per completion, the record's ``goal_state`` (``"initial"``: the state is the theorem's
                initial state standing in for the real one, as in records from whole proofs): read by a model
                trained with ``--initial-goals mark``.
        """
        n = len(completions)
        states = [states] * n if isinstance(states, str) else list(states)
        one_prefix = prefixes is None or isinstance(prefixes, str)
        prefixes = [prefixes or ""] * n if one_prefix else [p or "" for p in prefixes]
        one_goal_state = goal_states is None or isinstance(goal_states, str)
        initial = [g == "initial" for g in ([goal_states] * n if one_goal_state else goal_states)]
        if not len(states) == len(prefixes) == len(initial) == n:
            raise ValueError(count_mismatch(n, "completion", states=len(states),
                                            prefixes=None if one_prefix else len(prefixes),
                                            goal_states=None if one_goal_state else len(initial)))
        if statements is None or isinstance(statements, str):
            statements = [statements] * n
        statements = list(statements)
        if self.lean is not None:
            if len(statements) != n or any(not isinstance(s, str) or not s.strip() for s in statements):
                raise ValueError("with lean=, every completion needs the statement of its theorem (a dataset column "
                                 "such as 'statement': 'theorem t (n : ℕ) : n + 0 = n')")
        if self.task == "proof":
            if any(prefixes):
                raise ValueError("task 'proof': a whole proof starts at the statement; the prefixes must be empty")
            return self._evaluate_proofs(states, list(completions), statements)
        return self._evaluate_steps(states, list(completions), prefixes, statements, initial)

    def _evaluate_steps(self, states: list[str], completions: list[Any], prefixes: list[str],
                        statements: list[str | None], initial: list[bool]) -> list[RewardResult]:
        n = len(completions)
        results: list[RewardResult | None] = [None] * n
        todo: list[int] = []
        tactics: list[str] = []
        goals: list[str] = []
        for i, completion in enumerate(completions):
            cleaned = clean_completion(completion, self.multiple, self.max_chars, self.rule)
            if not cleaned.ok:
                results[i] = RewardResult(self.failure_reward, cleaned.status,
                                          message=cleaned.reason or f"{cleaned.status} completion")
                continue
            tactics.append(cleaned.tactic)
            goals.append(states[i])
            todo.append(i)
        if self.lean is not None and todo:
            outcomes = self.lean.run([statements[i] for i in todo], [prefixes[i] for i in todo], tactics,
                                     rule=self.rule)
            kept = []
            for k, (i, outcome) in enumerate(zip(todo, outcomes)):
                if outcome.kind == "finished":
                    results[i] = RewardResult(self.best_reward, "finished", tactics[k], 0.0)
                elif outcome.kind == "state":
                    if self.score_mode == "state":
                        goals[k] = outcome.state
                    kept.append(k)
                else:
                    status = getattr(outcome, "status", None) or ("timeout" if outcome.kind == "timeout"
                                                                   else "rejected")
                    results[i] = RewardResult(self.failure_reward, status, tactics[k], message=outcome.message)
            todo, tactics, goals = [todo[k] for k in kept], [tactics[k] for k in kept], [goals[k] for k in kept]
        if todo:
            pre = [prefixes[i] for i in todo]
            marks = [initial[i] and self.score_mode == "tactic" for i in todo]  # Lean's own state is real
            steps = self._steps(goals, tactics, pre, marks)
            if self.form == "close_probability":
                values = self.scorer.close_probability(goals, tactics, pre)
            else:
                values = [self.reward_of(s) for s in steps]
            for i, tactic, s, v in zip(todo, tactics, steps, values):
                results[i] = RewardResult(float(v), "scored", tactic, float(s))
        return results  # type: ignore[return-value]

    def _evaluate_proofs(self, states: list[str], completions: list[Any],
                         statements: list[str | None]) -> list[RewardResult]:
        n = len(completions)
        results: list[RewardResult | None] = [None] * n
        todo: list[int] = []
        proofs: dict[int, tuple[str, ...]] = {}
        for i, completion in enumerate(completions):
            name = theorem_name(statements[i]) if isinstance(statements[i], str) else None
            cleaned = clean_proof(completion, self.max_chars, self.rule, name=name)
            if not cleaned.ok:
                results[i] = RewardResult(self.failure_reward, cleaned.status,
                                          message=cleaned.reason or f"{cleaned.status} completion")
                continue
            proofs[i] = cleaned.tactics
            todo.append(i)
        # Where the model reads: (index, accepted tactics, state after them or None, status, message).
        credit: list[tuple[int, int, str | None, str, str]] = []
        if self.lean is None:
            credit = [(i, len(proofs[i]), None, "unverified", "no Lean gate: nothing was checked") for i in todo]
        elif todo:
            outcomes = self.lean.check_proofs([statements[i] for i in todo],
                                              ["\n".join(proofs[i]) for i in todo], rule=self.rule)
            for i, outcome in zip(todo, outcomes):
                proof = "\n".join(proofs[i])
                if outcome.status == "verified":
                    results[i] = RewardResult(self.best_reward, "verified", proof, 0.0)
                elif outcome.accepted > 0 and outcome.status in ("rejected", "incomplete", "timeout"):
                    credit.append((i, outcome.accepted, outcome.state, "partial", outcome.message))
                else:
                    status = "rejected" if outcome.status == "incomplete" else outcome.status
                    results[i] = RewardResult(self.failure_reward, status, proof, message=outcome.message)
        if credit:
            goals, tactics, pre, marks = [], [], [], []
            need_state = [c for c in credit if self.score_mode == "state" and c[2] is None]
            if need_state:  # the gate did not say the state after the accepted tactics: ask Lean for it
                done = self.lean.run([statements[i] for i, *_ in need_state],
                                     ["\n".join(proofs[i][:k - 1]) for i, k, *_ in need_state],
                                     [proofs[i][k - 1] for i, k, *_ in need_state], rule=self.rule)
                states_after = {c[0]: o.state for c, o in zip(need_state, done)}
            for i, k, state, _, _ in credit:
                tactics.append(proofs[i][k - 1])
                pre.append("\n".join(proofs[i][:k - 1]))
                if self.score_mode == "state":
                    goals.append(state if state is not None else states_after.get(i) or states[i])
                    marks.append(False)
                else:  # as the whole-proof data reads it: the initial state, the tactics before as prefix
                    goals.append(states[i])
                    marks.append(k > 1)
            steps = self._steps(goals, tactics, pre, marks)
            for (i, k, _, status, message), s in zip(credit, steps):
                results[i] = RewardResult(self.partial_reward(s), status, "\n".join(proofs[i]), float(s),
                                          message=f"{k} of {len(proofs[i])} tactic(s) accepted" +
                                                  (f"; {message}" if message else ""))
        return results  # type: ignore[return-value]
