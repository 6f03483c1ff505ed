"""A custom reward function for verl: ``compute_score`` (no verl import; verl loads this module by path).

Name it in verl's config::

    custom_reward_function:
      path: pkg://leanprogress.rl.verl
      name: compute_score
      reward_kwargs:            # passed to every call, and so to ProgressReward
        model: runs/model       # a model folder, or a server URL: http://gpu-node:23337
        form: bounded

How verl calls it (read in volcengine/verl at commit b178a3cd, January 2026):
``verl/trainer/ppo/reward.py`` loads ``custom_reward_function.path`` with
``load_extern_object`` (``pkg://`` imports a module by name) and wraps it so
that ``reward_kwargs`` are merged into every call's keyword arguments; then

- the ``naive`` reward manager (``verl/workers/reward_manager/naive.py``, and
  the reward loop's ``verl/experimental/reward_loop/reward_manager/naive.py``,
  which calls from a thread pool, one item at a time) calls
  ``compute_score(data_source=, solution_str=, ground_truth=, extra_info=)``
  per response, ``extra_info`` being the dataset row's ``extra_info`` with
  ``num_turns`` and ``rollout_reward_scores`` added;
- the ``batch`` manager (``batch.py``) calls it once per batch with
  ``data_sources=, solution_strs=, ground_truths=, extra_infos=`` (lists) and
  expects a list back;
- the ``prime`` manager (``prime.py``) calls it positionally,
  ``(data_source, solution_str, ground_truth, extra_info)``, in a process pool,
  and reads a number.

This ``compute_score`` answers all three: one call with lists scores the whole
batch in one padded pass; per-item calls are scored one at a time (use the
``batch`` manager for speed). It returns a float (what every manager reads).
The state and prefix come from ``extra_info`` (``state`` or ``goal``,
``prefix``, ``goal_state``, and ``statement`` for Lean gating and whole proofs: ``reward_kwargs.kimina_url`` (and
``kimina_api_key``, ``lean_header``) runs each tactic, or each whole proof with ``reward_kwargs.task: proof``, on
that Kimina Lean Server first); ``ground_truth`` is not used.
:func:`verl_row` builds such a row from a LeanProgress record.

Example:
    >>> from leanprogress.rl.verl import compute_score
    >>> compute_score("leanprogress", "simp", "", {"state": "n : ℕ\\n⊢ n + 0 = n"}, model="runs/model")  # doctest: +SKIP
    0.97
"""

from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

from .reward import ProgressReward

logger = logging.getLogger(__name__)

# ProgressReward's settings that reward_kwargs may carry; verl adds others (reward_router_address, ...).
REWARD_KWARGS = ("model", "form", "n_max", "steps_cap", "failure_reward", "multiple", "max_chars", "score_mode",
                 "device", "precision", "batch_size", "api_key", "timeout_s", "retries", "native_decide", "task",
                 "partial_credit")
# Lean gating through a Kimina Lean Server (a gate object cannot be written in verl's YAML): its URL, key, header.
KIMINA_KWARGS = ("kimina_url", "kimina_api_key", "lean_header")
DATA_SOURCE = "leanprogress"

_rewards: dict[str, tuple[int, ProgressReward]] = {}
_lock = threading.Lock()


def reward_for(**settings: Any) -> ProgressReward:
    """The process's :class:`~leanprogress.rl.ProgressReward` for these settings (built on first use).

    Raises:
        RuntimeError: in a process forked from one that had loaded the model (verl's ``prime`` manager forks
            its workers): a torch model used across ``fork`` deadlocks (OpenMP is not fork-safe), so such
            workers must call a server (``model: http://...``).
    """
    kwargs = {k: v for k, v in settings.items() if k in REWARD_KWARGS + KIMINA_KWARGS and v is not None}
    if "model" not in kwargs:
        raise ValueError("leanprogress.rl.verl.compute_score needs the reward model: set "
                         "custom_reward_function.reward_kwargs.model to a model folder or a server URL")
    key = json.dumps(kwargs, sort_keys=True, default=str)
    with _lock:
        pid, reward = _rewards.get(key, (None, None))
        if reward is not None and pid != os.getpid():
            if not str(kwargs["model"]).startswith(("http://", "https://")):
                raise RuntimeError(
                    "leanprogress.rl.verl: this worker process was forked from one that had loaded the reward model "
                    f"{kwargs['model']} (verl's prime reward manager forks its workers), and a torch model used "
                    "across fork deadlocks; serve the model (`leanprogress serve --model ...`) and set "
                    "reward_kwargs.model to its URL, or use the naive or batch reward manager")
            reward = None  # a server client: build this process's own
        if reward is None:
            gate = None
            if "kimina_url" in kwargs:
                from .gate import KiminaGate

                gate = KiminaGate(url=kwargs["kimina_url"], api_key=kwargs.get("kimina_api_key"),
                                  header=kwargs.get("lean_header", "import Mathlib"))
            reward = ProgressReward(**{k: v for k, v in kwargs.items() if k in REWARD_KWARGS}, lean=gate)
            _rewards[key] = (os.getpid(), reward)
        return reward


def _fields(extra_info: Any, i: int | None = None) -> tuple[str, str, str | None, str | None]:
    where = "extra_info" if i is None else f"extra_infos[{i}]"
    if not isinstance(extra_info, dict):
        raise TypeError(f"{where} must be a dict with the proof state ('state'), got {type(extra_info).__name__}")
    state = extra_info.get("state", extra_info.get("goal"))
    if not isinstance(state, str):
        raise KeyError(f"{where} has no proof state: put it in the dataset's extra_info as 'state' "
                       f"(keys there: {sorted(extra_info)})")
    prefix = extra_info.get("prefix") or ""
    statement, goal_state = extra_info.get("statement"), extra_info.get("goal_state")
    return (state, prefix if isinstance(prefix, str) else str(prefix),
            statement if isinstance(statement, str) else None, goal_state if isinstance(goal_state, str) else None)


class RewardAborted(BaseException):
    """A reward that cannot be computed (a missing state, a reward server or Lean server that keeps failing, a
    model loaded before a fork): the training run must stop.

    A ``BaseException``, not an ``Exception``: verl's ``prime`` manager and the reward loop's ``rate_limited``
    manager catch every ``Exception`` and score the response 0.0, which would train the policy on zeros; they do
    not catch this, so the run stops with the message. The message says what failed; ``__cause__`` is the error."""


def compute_score(data_source: Any = None, solution_str: Any = None, ground_truth: Any = None,
                  extra_info: Any = None, *, data_sources: Any = None, solution_strs: Any = None,
                  ground_truths: Any = None, extra_infos: Any = None, **reward_kwargs: Any) -> float | list[float]:
    """verl's custom reward function (see the module doc); ``reward_kwargs`` configure the reward.

    Returns:
        a float for one response, a list of floats for a batch (``solution_strs=``).

    Raises:
        RewardAborted: the reward could not be computed (what is not a property of one response: a completion's
            own failure is the failure reward, never an exception).
    """
    try:
        return _compute_score(data_source, solution_str, extra_info, data_sources, solution_strs, extra_infos,
                              reward_kwargs)
    except Exception as exc:
        logger.critical("leanprogress.rl.verl: the reward cannot be computed, stopping the run: %s: %s",
                        type(exc).__name__, exc)
        raise RewardAborted(f"leanprogress reward failed: {type(exc).__name__}: {exc}") from exc


def _compute_score(data_source, solution_str, extra_info, data_sources, solution_strs, extra_infos,
                   reward_kwargs) -> float | list[float]:
    reward = reward_for(**reward_kwargs)
    if solution_strs is not None:
        infos = list(extra_infos) if extra_infos is not None else [None] * len(solution_strs)
        fields = [_fields(info, i) for i, info in enumerate(infos)]
        return reward.score([f[0] for f in fields], list(solution_strs), [f[1] for f in fields],
                            [f[2] for f in fields], [f[3] for f in fields])
    state, prefix, statement, goal_state = _fields(extra_info)
    return reward.score([state], [solution_str], [prefix], [statement], [goal_state])[0]


def verl_row(record: dict, prompt: list[dict], index: int = 0, split: str = "train") -> dict:
    """A verl dataset row (``data_source``, ``prompt``, ``ability``, ``reward_model``, ``extra_info``) for a
    LeanProgress record, with the state and prefix in ``extra_info`` where :func:`compute_score` reads them.

    Args:
        record: a LeanProgress record (``goal``, ``prefix``, ``tactic``, ...).
        prompt: the chat messages the policy is given.
    """
    extra = {"state": record["goal"], "prefix": record.get("prefix") or "", "index": index, "split": split,
             "theorem": record.get("theorem") or ""}
    if record.get("goal_state"):
        extra["goal_state"] = record["goal_state"]
    if record.get("statement"):
        extra["statement"] = record["statement"]
    return {"data_source": DATA_SOURCE, "prompt": prompt, "ability": "lean-tactic",
            "reward_model": {"style": "model", "ground_truth": record.get("tactic") or ""}, "extra_info": extra}
