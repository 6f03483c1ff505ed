"""A reward function for TRL's ``GRPOTrainer`` (``pip install 'leanprogress[rl]'``).

TRL calls each of ``reward_funcs`` as ``f(prompts=..., completions=...,
completion_ids=..., trainer_state=..., log_extra=..., log_metric=...,
**columns)``, where ``columns`` are the dataset's other columns, one value per
completion (read in ``trl/trainer/grpo_trainer.py``, ``_calculate_rewards``, of
TRL 1.16). Completions are strings for plain-text prompts and lists of
``{"role": "assistant", "content": ...}`` messages for conversational ones;
both work. The state and prefix come from dataset columns (``state`` or
``goal``, and ``prefix``), the theorem statement (for Lean gating, and to find
the theorem in a whole-proof answer) from ``statement``, and a record's
``goal_state`` (``initial`` for states standing in for the real one) from
``goal_state``. The rewards appear in the trainer's logs as
``rewards/<name>/mean`` and ``/std``; the share of completions that got the
failure reward is logged as ``leanprogress/failed`` and each completion's
status goes to the completions table (``log_completions=True``).

Example:
    >>> from trl import GRPOConfig, GRPOTrainer                          # doctest: +SKIP
    >>> from leanprogress.rl.trl import TRLReward
    >>> reward = TRLReward("runs/model", form="bounded")                 # doctest: +SKIP
    >>> trainer = GRPOTrainer(model="runs/policy", reward_funcs=[reward], train_dataset=dataset,
    ...                       args=GRPOConfig(output_dir="runs/grpo"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from .reward import ProgressReward

STATE_COLUMNS = ("state", "goal")


def require_trl():
    """The ``trl`` module, or ImportError naming the extra to install."""
    try:
        import trl
    except ImportError:
        raise ImportError("the TRL adapter needs TRL: pip install 'leanprogress[rl]'") from None
    return trl


class TRLReward:
    """A ``reward_funcs`` entry for ``GRPOTrainer`` built on :class:`~leanprogress.rl.ProgressReward`.

    Args:
        model: a model folder, a server URL, a scorer, or a ready :class:`~leanprogress.rl.ProgressReward`
            (then ``reward_kwargs`` must be empty).
        name: the name TRL logs the reward under (``rewards/<name>/mean``).
        state_column: the dataset column with the proof state (default: ``state``, else ``goal``).
        prefix_column: the column with the tactics written so far (missing: empty prefixes).
        statement_column: the column with the theorem statement (for ``lean=``, and whole proofs).
        goal_state_column: the column with each record's ``goal_state`` (missing: every state is real).
        reward_kwargs: passed to :class:`~leanprogress.rl.ProgressReward` (``form``, ``lean``, ...).
    """

    def __init__(self, model: Any, name: str = "leanprogress", state_column: str | None = None,
                 prefix_column: str = "prefix", statement_column: str = "statement",
                 goal_state_column: str = "goal_state", **reward_kwargs: Any):
        if isinstance(model, ProgressReward):
            if reward_kwargs:
                raise ValueError(f"give reward settings to the ProgressReward, not here: {sorted(reward_kwargs)}")
            self.reward = model
        else:
            self.reward = ProgressReward(model, **reward_kwargs)
        self.__name__ = name  # TRL names a reward function by its __name__
        self.state_column, self.prefix_column, self.statement_column = state_column, prefix_column, statement_column
        self.goal_state_column = goal_state_column

    def _state_column(self, columns: dict) -> str:
        names = [self.state_column] if self.state_column else list(STATE_COLUMNS)
        for name in names:
            if name in columns:
                return name
        raise KeyError(f"the dataset has no state column ({' or '.join(names)}); its columns: "
                       f"{sorted(k for k in columns if k not in ('trainer_state', 'log_extra', 'log_metric'))}")

    def __call__(self, prompts: list, completions: list, **columns: Any) -> list[float]:
        states = columns[self._state_column(columns)]
        prefixes = columns.get(self.prefix_column)
        statements = columns.get(self.statement_column)
        goal_states = columns.get(self.goal_state_column)
        results = self.reward.evaluate(list(states), list(completions), prefixes,
                                       list(statements) if statements is not None else None,
                                       list(goal_states) if goal_states is not None else None)
        log_metric, log_extra = columns.get("log_metric"), columns.get("log_extra")
        if callable(log_metric) and results:
            log_metric("leanprogress/failed", sum(r.failed for r in results) / len(results))
        if callable(log_extra):
            log_extra("leanprogress_status", [r.status for r in results])
        return [r.reward for r in results]
