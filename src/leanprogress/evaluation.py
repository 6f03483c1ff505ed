"""Metrics for steps-remaining predictions, always beside the best constant.

A progress model is only useful if it beats predicting the same number for
every step. Half of all steps are often final steps, so "always 0" can look
respectable; every figure here is reported next to the best constant
predictor for that figure on the same rows, and per source when records say
where they came from.

Example:
    >>> m = compute_metrics([0.2, 2.6, 4.0], [0, 3, 7])
    >>> round(m["mae"], 2), m["accuracy"], m["best_constant"]["mae"]["constant"]
    (1.2, 0.6666666666666666, 3)
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Sequence

import numpy as np

BUCKETS: list[tuple[str, int, int | None]] = [
    ("0", 0, 0),
    ("1-5", 1, 5),
    ("6-10", 6, 10),
    ("11-15", 11, 15),
    ("16-20", 16, 20),
    ("21+", 21, None),
]


def bucket_of(steps: int) -> str:
    for name, lo, hi in BUCKETS:
        if steps >= lo and (hi is None or steps <= hi):
            return name
    raise ValueError(f"steps_remaining must be >= 0, got {steps}")


def _spearman(preds: np.ndarray, labels: np.ndarray) -> float | None:
    if len(preds) < 2 or np.all(preds == preds[0]) or np.all(labels == labels[0]):
        return None  # undefined for a constant side
    from scipy.stats import spearmanr

    value = spearmanr(preds, labels).statistic
    return None if math.isnan(value) else float(value)


def _point_metrics(preds: np.ndarray, labels: np.ndarray) -> dict:
    rounded = np.maximum(np.rint(preds), 0)
    err = preds - labels
    return {
        "n": int(len(labels)),
        "mse": float(np.mean(err**2)),
        "mae": float(np.mean(np.abs(err))),
        "accuracy": float(np.mean(rounded == labels)),
        "within_one": float(np.mean(np.abs(rounded - labels) <= 1)),
    }


def best_constants(labels: np.ndarray) -> dict:
    """The best constant for each metric on these rows and what it scores.

    MSE: the mean; MAE: the (integer) median; accuracy and within-one: the
    integer that matches most rows (the smallest on ties). Exact, and computed
    from the distinct labels only, so a huge label costs nothing: the best
    within-one constant lies within one of some label.
    """
    labels = np.asarray(labels, dtype=float)
    mean = float(np.mean(labels))
    median = int(np.rint(np.median(labels)))
    values, counts = np.unique(labels, return_counts=True)  # sorted
    mode = values[np.argmax(counts)]
    ordered = np.sort(labels)
    # Integers within one of a label and inside the label range: one of them matches the most rows within one.
    candidates = np.unique(np.concatenate([values - 1, values, values + 1]))
    candidates = candidates[(candidates >= values[0]) & (candidates <= values[-1])]
    within = np.searchsorted(ordered, candidates + 1, side="right") - np.searchsorted(ordered, candidates - 1,
                                                                                      side="left")
    best_within = candidates[np.argmax(within)]  # argmax takes the first, so the smallest on ties
    return {
        "mse": {"constant": mean, "value": float(np.mean((labels - mean) ** 2))},
        "mae": {"constant": median, "value": float(np.mean(np.abs(labels - median)))},
        "accuracy": {"constant": int(mode), "value": float(np.mean(labels == mode))},
        "within_one": {"constant": int(best_within), "value": float(np.max(within)) / len(labels)},
    }


def compute_metrics(
    predictions: Sequence[float], labels: Sequence[int], sources: Sequence[str | None] | None = None
) -> dict:
    """All evaluation figures for predicted against true steps remaining.

    Args:
        predictions: predicted steps (non-negative floats).
        labels: true ``steps_remaining``.
        sources: optional per-row source names; adds a ``per_source`` block
            with each source's own metrics and own best constants.

    Returns:
        ``mse``, ``mae``, ``accuracy`` (prediction rounded and clamped at 0
        equals the label), ``within_one``, ``spearman``, ``best_constant``
        (per metric: the constant and its score), ``buckets`` (per
        remaining-steps bucket: metrics, and the overall best constants scored
        on that bucket's rows) and, with sources, ``per_source``.
    """
    preds = np.asarray(predictions, dtype=float)
    labs = np.asarray(labels, dtype=float)
    if preds.shape != labs.shape:
        raise ValueError(f"{len(preds)} predictions for {len(labs)} labels")
    if len(labs) == 0:
        raise ValueError("no rows to evaluate")
    for what, values in (("prediction", preds), ("label", labs)):
        bad = np.flatnonzero(~np.isfinite(values))
        if len(bad):
            raise ValueError(f"{what} {bad[0]} is {values[bad[0]]} ({len(bad)} of {len(values)} not finite): "
                             f"{what}s must be finite step counts")
    out = _point_metrics(preds, labs)
    out["spearman"] = _spearman(preds, labs)
    consts = best_constants(labs)
    out["best_constant"] = consts
    buckets = {}
    bucket_names = np.array([bucket_of(int(x)) for x in labs])
    for name, _, _ in BUCKETS:
        mask = bucket_names == name
        if not mask.any():
            continue
        b = _point_metrics(preds[mask], labs[mask])
        b["constant_mae"] = float(np.mean(np.abs(labs[mask] - consts["mae"]["constant"])))
        b["constant_accuracy"] = float(np.mean(labs[mask] == consts["accuracy"]["constant"]))
        buckets[name] = b
    out["buckets"] = buckets
    if sources is not None:
        if len(sources) != len(labs):
            raise ValueError(f"{len(sources)} sources for {len(labs)} labels")
        by_source: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(sources):
            by_source[s or "unknown"].append(i)
        if len(by_source) > 1:
            out["per_source"] = {}
            for source, rows in sorted(by_source.items()):
                p, y = preds[rows], labs[rows]
                out["per_source"][source] = {**_point_metrics(p, y), "spearman": _spearman(p, y),
                                             "best_constant": best_constants(y)}
    return out


def format_report(metrics: dict, title: str = "") -> str:
    """A human-readable table of :func:`compute_metrics` output."""
    bc = metrics["best_constant"]
    sp = metrics["spearman"]
    lines = [title] if title else []
    lines += [
        f"rows: {metrics['n']}",
        f"{'':14}{'model':>10}{'best constant':>16}",
        f"{'MAE':14}{metrics['mae']:>10.3f}{bc['mae']['value']:>10.3f} (={bc['mae']['constant']})",
        f"{'MSE':14}{metrics['mse']:>10.3f}{bc['mse']['value']:>10.3f} (={bc['mse']['constant']:.2f})",
        f"{'accuracy':14}{metrics['accuracy']:>10.3f}{bc['accuracy']['value']:>10.3f} (={bc['accuracy']['constant']})",
        f"{'within one':14}{metrics['within_one']:>10.3f}{bc['within_one']['value']:>10.3f} (={bc['within_one']['constant']})",
        f"{'Spearman':14}{(f'{sp:.3f}' if sp is not None else 'n/a'):>10}{'n/a':>10}",
        "",
        f"{'steps left':12}{'rows':>6}{'MAE':>8}{'acc':>8}{'const MAE':>11}{'const acc':>11}",
    ]
    for name, b in metrics["buckets"].items():
        lines.append(
            f"{name:12}{b['n']:>6}{b['mae']:>8.2f}{b['accuracy']:>8.3f}{b['constant_mae']:>11.2f}{b['constant_accuracy']:>11.3f}"
        )
    for source, m in metrics.get("per_source", {}).items():
        sbc = m["best_constant"]
        lines.append(
            f"source {source}: rows {m['n']}, MAE {m['mae']:.3f} (constant {sbc['mae']['value']:.3f}), "
            f"accuracy {m['accuracy']:.3f} (constant {sbc['accuracy']['value']:.3f})"
        )
    return "\n".join(lines)


def plot_predictions(predictions: Sequence[float], labels: Sequence[int], path: str, title: str = "") -> str:
    """Scatter of predicted against true steps remaining, saved as PNG."""
    import os
    import tempfile

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    preds = np.asarray(predictions, dtype=float)
    labs = np.asarray(labels, dtype=float)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    jitter = np.random.default_rng(0).uniform(-0.15, 0.15, size=len(labs))
    ax.scatter(labs + jitter, preds, s=10, alpha=0.5)
    top = float(max(labs.max(initial=1), preds.max(initial=1))) + 1
    ax.plot([0, top], [0, top], color="gray", linestyle="--", linewidth=1, label="perfect")
    ax.set_xlabel("true steps remaining")
    ax.set_ylabel("predicted steps remaining")
    ax.set_title(title or "LeanProgress predictions")
    ax.legend(loc="upper left")
    fig.tight_layout()
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=directory)
    os.close(fd)
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def evaluate_model(
    model: str | object,
    dataset: str | object,
    device: str = "auto",
    precision: str = "fp32",
    batch_size: int = 32,
    skip_invalid: bool = False,
) -> tuple[dict, list[float], list[int]]:
    """Score every record of a dataset with a trained model.

    Args:
        model: model folder or a :class:`~leanprogress.scoring.LeanProgressScorer`.
        dataset: JSONL path or :class:`~leanprogress.data.ProgressDataset`.
        precision: scorer precision; fp32 by default so reported figures do
            not depend on the hardware.

    Returns:
        ``(metrics, predictions, labels)``; metrics as :func:`compute_metrics`,
        with ``per_source`` when records carry a ``source``.
    """
    from .data.dataset import ProgressDataset
    from .scoring import LeanProgressScorer

    scorer = model if isinstance(model, LeanProgressScorer) else LeanProgressScorer(
        str(model), device=device, precision=precision, batch_size=batch_size
    )
    data = dataset if isinstance(dataset, ProgressDataset) else ProgressDataset(dataset, skip_invalid=skip_invalid)
    if len(data) == 0:
        raise ValueError("the evaluation dataset has no records")
    preds = scorer.predict_batch(
        [r["goal"] for r in data], [r["tactic"] for r in data], [r["prefix"] for r in data]
    )
    labels = data.labels
    sources = [r.get("source") for r in data]
    metrics = compute_metrics(preds, labels, sources=sources if any(sources) else None)
    return metrics, preds, labels
