"""Output heads: what the model predicts and how that becomes steps remaining.

Two heads, recorded in :class:`~leanprogress.config.ModelSettings` (``head``):

- ``regression`` (the default, and every model saved before heads existed): one
  number, trained with MSE on ``log1p(steps)`` (or raw steps); the prediction is
  ``expm1`` of the output, clamped at 0.
- ``distribution``: a classifier over remaining steps ``0, 1, ..., K`` and
  "more than K" (``K = head_max_steps``), trained with cross-entropy. It says how
  sure it is, which a search can use (the probability that this tactic closes
  the goal), and gives a point estimate by ``point_estimate``:

  * ``median`` (default): the interpolated median, ``c - 0.5 + (0.5 - F(c-1)) / p(c)``
    for the class ``c`` where the cumulative probability ``F`` passes 0.5 (each class
    spread uniformly over ``[c - 0.5, c + 0.5]``). It rounds to the median class, so
    exact-match is the median's, it is what MAE rewards, and it is continuous, so
    candidates on one state rarely tie;
  * ``mode``: the most probable count (exact-match's choice; candidates often tie);
  * ``mean``: the expected steps (MSE's choice).

  The class "more than K" stands for ``head_more_steps``, the mean label above K
  in the training data.

Ranking is not exact-match. Search, ``/generate``, ``rank`` and RL rewards
compare candidates, and a point estimate that wins exact-match can tie most of
them (the mode gave 32 candidates of one state 2 distinct values). They order
by a *rank score* (:func:`rank_score`, lower is better, in steps), chosen by
``rank_by``; the point estimate stays the step count shown to users:

  * ``mean`` (default): the expected steps, ``sum_k p_k * k``;
  * ``median``: the interpolated median above;
  * ``close``: ``1 - P(0 steps)``, the chance that the tactic does not close the
    goal (finishing now first, whatever comes after).

For the regression head the prediction itself is the rank score.

Example:
    >>> import numpy as np
    >>> p = np.array([[0.7, 0.2, 0.1, 0.0]])   # K = 2: P(0), P(1), P(2), P(more)
    >>> [round(float(x), 3) for x in (point_estimate(p, "median", 5.0)[0], point_estimate(p, "mode", 5.0)[0])]
    [0.214, 0.0]
"""

from __future__ import annotations

import numpy as np

HEADS = ("regression", "distribution")
POINT_ESTIMATES = ("median", "mode", "mean")
RANK_BY = ("mean", "median", "close")
"""How the distribution head's probabilities become the score candidates are ordered by (see :func:`rank_score`)."""


def num_labels(head: str, max_steps: int) -> int:
    """Outputs of the head: 1 for regression, ``max_steps + 2`` for the distribution (0..K and more)."""
    if head not in HEADS:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    return 1 if head == "regression" else max_steps + 2


def step_class(steps: int, max_steps: int) -> int:
    """The distribution head's class of a label: ``steps`` itself up to K, ``K + 1`` ("more") above."""
    return min(int(steps), max_steps + 1)


def class_values(max_steps: int, more_steps: float) -> np.ndarray:
    """The steps each class stands for: ``0, 1, ..., K, more_steps``."""
    return np.append(np.arange(max_steps + 1, dtype=float), float(more_steps))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (stable for any finite logits)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def point_estimate(probs: np.ndarray, how: str, more_steps: float) -> np.ndarray:
    """Steps remaining from class probabilities (rows: 0..K, more), by ``how`` (see the module doc)."""
    if how not in POINT_ESTIMATES:
        raise ValueError(f"point_estimate must be one of {POINT_ESTIMATES}, got {how!r}")
    probs = np.asarray(probs, dtype=np.float64)
    k_more = probs.shape[1] - 1
    values = class_values(k_more - 1, more_steps)
    if how == "mean":
        return probs @ values
    if how == "mode":
        return values[np.argmax(probs, axis=1)]
    cdf = np.cumsum(probs, axis=1)
    c = np.minimum((cdf < 0.5).sum(axis=1), k_more)
    rows = np.arange(len(probs))
    below = np.where(c > 0, cdf[rows, np.maximum(c - 1, 0)], 0.0)
    p_c = np.maximum(probs[rows, c], 1e-12)
    interpolated = np.clip(c - 0.5 + (0.5 - below) / p_c, np.maximum(c - 0.5, 0.0), c + 0.5)
    return np.where(c == k_more, float(more_steps), interpolated)


def rank_score(probs: np.ndarray, how: str, more_steps: float) -> np.ndarray:
    """The score candidates are ordered by (lower is better, in steps), from class probabilities (rows: 0..K,
    more), by ``how`` (see the module doc). Continuous in the probabilities, so that candidates rarely tie.

    Example:
        >>> p = np.array([[0.6, 0.3, 0.1, 0.0], [0.55, 0.25, 0.1, 0.1]])   # both have the mode 0
        >>> [round(float(x), 2) for x in rank_score(p, "mean", 5.0)], [round(float(x), 2) for x in rank_score(p, "close", 5.0)]
        ([0.5, 0.95], [0.4, 0.45])
    """
    if how not in RANK_BY:
        raise ValueError(f"rank_by must be one of {RANK_BY}, got {how!r}")
    probs = np.asarray(probs, dtype=np.float64)
    if how == "close":
        return 1.0 - probs[:, 0]
    return point_estimate(probs, how, more_steps)


def prior_logits(labels, max_steps: int, smoothing: float = 1.0) -> np.ndarray:
    """Log class frequencies of training labels (add-``smoothing``): the constant predictor's logits."""
    counts = np.bincount([step_class(s, max_steps) for s in labels], minlength=max_steps + 2).astype(float)
    counts += smoothing
    return np.log(counts / counts.sum())


def more_steps_of(labels, max_steps: int) -> float:
    """Mean label above ``max_steps`` (what the "more" class stands for); ``K + 1`` if none is."""
    above = [s for s in labels if s > max_steps]
    return float(np.mean(above)) if above else float(max_steps + 1)


def decode_regression(values, transform: str) -> np.ndarray:
    """Regression outputs to steps (``expm1`` for log1p targets), clamped at 0.

    Never raises: an output too large for a float becomes ``inf`` and NaN stays NaN, so that callers can reject
    them by name (a NaN clamped to 0 would read as "closes the goal").
    """
    v = np.asarray(values, dtype=np.float64).reshape(-1)
    if transform == "log1p":
        with np.errstate(over="ignore"):
            v = np.expm1(v)
    return np.maximum(v, 0.0)

