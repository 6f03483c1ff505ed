"""LeanProgress as an RL reward: a reward object, completion cleaning, a reward service client, Lean gating,
and adapters for TRL (:mod:`leanprogress.rl.trl`) and verl (:mod:`leanprogress.rl.verl`).

Importing this package needs neither TRL nor verl (nor torch until a model folder is loaded).

Example:
    >>> from leanprogress.rl import ProgressReward
    >>> reward = ProgressReward("runs/model", form="bounded")                     # doctest: +SKIP
    >>> reward.score(["n : ℕ\\n⊢ n + 0 = n"] * 2, ["simp", "```lean\\nby omega\\n```"])  # doctest: +SKIP
    [0.97, 0.93]
"""

from .completions import Cleaned, clean_completion, completion_text
from .prompts import grpo_rows, policy_messages, policy_prompt
from .reward import FORMS, ProgressReward, RewardResult


def __getattr__(name: str):
    # The HTTP client (httpx) and the gates load when asked for.
    if name in ("RemoteScorer", "RewardServiceError"):
        from . import client

        return getattr(client, name)
    if name in ("EnvironmentGate", "KiminaGate", "LeanServiceError"):
        from . import gate

        return getattr(gate, name)
    raise AttributeError(f"module 'leanprogress.rl' has no attribute {name!r}")


__all__ = ["FORMS", "Cleaned", "EnvironmentGate", "KiminaGate", "LeanServiceError", "ProgressReward", "RemoteScorer",
           "RewardResult", "RewardServiceError", "clean_completion", "completion_text", "grpo_rows",
           "policy_messages", "policy_prompt"]
