"""How predicted steps and generator log-probabilities combine into one priority.

The published mix (LeanProgress, TMLR 2025) is::

    priority = alpha * N + (1 - alpha) * P,   N = -2 * steps / N_max

``P`` is the generator's log-probability (for search: summed over the tactics
on the path), ``steps`` the predicted steps remaining and ``N_max`` a fixed
scale, so that ``N`` lies in ``[-2, 0]`` for predictions up to ``N_max`` and
priorities of different states stay comparable (a per-batch maximum would
not be). ``alpha = 0`` is plain log-probability ranking; the paper used
``alpha = 0.2``; ``alpha = 1`` ranks by steps alone.
"""

from __future__ import annotations

DEFAULT_N_MAX = 20.0
"""Steps that map to N = -2: about the 95th percentile of proof lengths in Mathlib traces."""


def normalized_steps(steps: float, n_max: float = DEFAULT_N_MAX) -> float:
    """``N = -2 * steps / n_max``."""
    if n_max <= 0:
        raise ValueError(f"n_max must be > 0, got {n_max}")
    return -2.0 * float(steps) / n_max


def mixed_priority(steps: float, logprob: float, alpha: float, n_max: float = DEFAULT_N_MAX) -> float:
    """``alpha * N + (1 - alpha) * P``; higher is better."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return alpha * normalized_steps(steps, n_max) + (1.0 - alpha) * float(logprob)
