"""How predicted steps and generator log-probabilities combine into one priority.

The published mix (LeanProgress, TMLR 2025) is::

    priority = alpha * N + (1 - alpha) * P,   N = -2 * steps / N_max

``P`` is the generator's log-probability (for search: summed over the tactics
on the path), ``steps`` the predicted steps remaining and ``N_max`` a fixed
scale, so that ``N`` lies in ``[-2, 0]`` for predictions up to ``N_max`` and
priorities of different states stay comparable (a per-batch maximum would
not be). ``alpha = 0`` is plain log-probability ranking; the paper used
``alpha = 0.2``; ``alpha = 1`` ranks by steps alone.

Scores that are not numbers are ranked here, once, for every consumer (the
server, search): a generator score that is NaN or infinite says nothing
about the tactic and becomes :data:`FLOOR_LOGPROB`, so it ranks last (NaN
compares false with everything, so left alone it would sort anywhere, and a
clamp to the nearest bound sends it first); a predicted step count that is
not finite is refused (the scorer is broken; ranking on it would be garbage).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

DEFAULT_N_MAX = 20.0
"""Steps that map to N = -2: about the 95th percentile of proof lengths in Mathlib traces."""


FLOOR_LOGPROB = -1e9
"""What a generator score that is not a finite number counts as: below any real log-probability."""


def finite_logprob(logprob: float) -> float:
    """A generator's score as a finite number: NaN, -inf and +inf become :data:`FLOOR_LOGPROB`.

    +inf is no more a log-probability than NaN (the most a probability can
    give is 0); a generator that returns it is broken, and its candidate must
    not outrank every real one.

    Example:
        >>> finite_logprob(-0.5), finite_logprob(float("nan")), finite_logprob(float("inf"))
        (-0.5, -1000000000.0, -1000000000.0)
    """
    logprob = float(logprob)
    return logprob if math.isfinite(logprob) else FLOOR_LOGPROB


def normalized_steps(steps: float, n_max: float = DEFAULT_N_MAX) -> float:
    """``N = -2 * steps / n_max``; ValueError for a step count that is not a finite number."""
    if n_max <= 0:
        raise ValueError(f"n_max must be > 0, got {n_max}")
    steps = float(steps)
    if not math.isfinite(steps):
        raise ValueError(f"predicted steps must be a finite number, got {steps}: the scorer is broken")
    return -2.0 * steps / n_max


def mixed_priority(steps: float, logprob: float, alpha: float, n_max: float = DEFAULT_N_MAX) -> float:
    """``alpha * N + (1 - alpha) * P``; higher is better.

    ``logprob`` goes through :func:`finite_logprob` (NaN or infinite: last);
    ``steps`` must be finite (ValueError otherwise). The result is always finite.

    Example:
        >>> mixed_priority(0, float("nan"), 0.2) < mixed_priority(20, -30.0, 0.2)
        True
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return alpha * normalized_steps(steps, n_max) + (1.0 - alpha) * finite_logprob(logprob)


PROBABILITY_FLOOR = 1e-300
"""Smallest probability handed out: ``exp`` of a very low priority is never 0."""


def success_probability(steps: float, logprob: float | None = None, alpha: float | None = None,
                        n_max: float = DEFAULT_N_MAX) -> float:
    """A ranking score in (0, 1] for clients that read scores as success probabilities (aesop).

    ``exp(priority)``: with ``alpha`` None (or no ``logprob``) the priority is
    ``N`` alone, so the score is ``exp(-2 * steps / n_max)`` (1 for 0 steps,
    0.90 for 1, 0.37 for ``n_max / 2``); with ``alpha`` it is the published
    mix, ``exp(N) ** alpha * exp(P) ** (1 - alpha)``. It falls as predicted
    steps grow, rises with the generator's probability when ``alpha < 1``,
    ranks exactly as :func:`mixed_priority` does, and multiplies along a proof
    path the way aesop multiplies rule success probabilities. Clamped into
    ``[PROBABILITY_FLOOR, 1]`` (a generator whose scores are not
    log-probabilities may give ``P > 0``).

    Example:
        >>> round(success_probability(0), 3), round(success_probability(10), 3)
        (1.0, 0.368)
        >>> round(success_probability(10, logprob=-1.0, alpha=0.5), 3)
        0.368
    """
    if alpha is None or logprob is None:
        return probability_of(normalized_steps(steps, n_max))
    return probability_of(mixed_priority(steps, logprob, alpha, n_max))


def probability_of(priority: float) -> float:
    """``exp(priority)`` clamped into ``[PROBABILITY_FLOOR, 1]``; NaN gives the floor."""
    if math.isnan(priority):
        return PROBABILITY_FLOOR
    return min(1.0, max(PROBABILITY_FLOOR, math.exp(min(priority, 0.0))))


def rank_scores(scorer: Any, goals: str | Sequence[str], tactics: Sequence[str],
                prefixes: str | Sequence[str] | None = None,
                initial_goals: Sequence[bool] | None = None) -> list[float]:
    """The scores ``scorer`` orders candidates by (lower is better, in steps): its ``rank_batch`` where it has one
    (:meth:`leanprogress.scoring.LeanProgressScorer.rank_batch`: for a distribution head the expected steps, which
    do not tie where the mode does), else its ``predict_batch`` (any object with that method scores search and
    rewards). ``initial_goals`` (per tactic, whether its goal is a stand-in initial state) reaches the scorer only
    where one is marked, so a scorer whose methods take goals, tactics and prefixes alone serves every other call.

    Example:
        >>> class Len:
        ...     def predict_batch(self, goals, tactics, prefixes=None):
        ...         return [float(len(t)) for t in tactics]
        >>> rank_scores(Len(), "⊢ p", ["simp", "rfl"])
        [4.0, 3.0]
    """
    method = getattr(scorer, "rank_batch", None) or scorer.predict_batch
    marks = (initial_goals,) if initial_goals is not None and any(initial_goals) else ()
    return [float(s) for s in method(goals, tactics, prefixes, *marks)]
