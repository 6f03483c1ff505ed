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

import logging
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Hashable, Sequence

import numpy as np

logger = logging.getLogger(__name__)

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
    lines.append(f"rows: {metrics['n']}")
    lines += columns([
        ["", "model", "best constant", ""],
        ["MAE", f"{metrics['mae']:.3f}", f"{bc['mae']['value']:.3f}", f"(={bc['mae']['constant']})"],
        ["MSE", f"{metrics['mse']:.3f}", f"{bc['mse']['value']:.3f}", f"(={bc['mse']['constant']:.2f})"],
        ["accuracy", f"{metrics['accuracy']:.3f}", f"{bc['accuracy']['value']:.3f}", f"(={bc['accuracy']['constant']})"],
        ["within one", f"{metrics['within_one']:.3f}", f"{bc['within_one']['value']:.3f}",
         f"(={bc['within_one']['constant']})"],
        ["Spearman", f"{sp:.3f}" if sp is not None else "n/a", "n/a", ""],
    ])
    lines.append("")
    lines += columns([["steps left", "rows", "MAE", "acc", "const MAE", "const acc"]] + [
        [name, str(b["n"]), f"{b['mae']:.2f}", f"{b['accuracy']:.3f}", f"{b['constant_mae']:.2f}",
         f"{b['constant_accuracy']:.3f}"] for name, b in metrics["buckets"].items()])
    for source, m in metrics.get("per_source", {}).items():
        sbc = m["best_constant"]
        lines.append(
            f"source {source}: rows {m['n']}, MAE {m['mae']:.3f} (constant {sbc['mae']['value']:.3f}), "
            f"accuracy {m['accuracy']:.3f} (constant {sbc['accuracy']['value']:.3f})"
        )
    if "comparison" in metrics:
        lines += ["", format_comparison(metrics["comparison"], "beside the baselines:")]
        if metrics["comparison"].get("lookup", "").startswith("none"):
            lines.append("(no tactic lookup: the model folder has no tactic_lookup.json, which `leanprogress train` "
                         "writes with every model and checkpoint)")
    return "\n".join(lines)


# ---------------------------------------------------------------- ranking, bootstrap, baselines side by side
def ranking_pairs(goals: Sequence[str], tactics: Sequence[str], labels: Sequence[int],
                  prefixes: Sequence[str] | None = None) -> list[tuple[int, int]]:
    """Pairs of rows ``(i, j)`` on the same state whose tactics differ and whose labels differ, ``label_i < label_j``.

    A state is the ``goal`` text together with the ``prefix`` (what search compares candidates on); several
    proofs of one theorem share states, which is where such pairs come from. The prefix is part of the state
    because records built from whole proofs repeat the initial goal at every step: without it, two steps of
    one proof would pass for two candidates on one state.
    """
    by_state: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, g in enumerate(goals):
        by_state[(g, prefixes[i] if prefixes is not None else "")].append(i)
    pairs = []
    for rows in by_state.values():
        for a in range(len(rows)):
            for b in range(a + 1, len(rows)):
                i, j = rows[a], rows[b]
                if tactics[i] == tactics[j] or labels[i] == labels[j]:
                    continue
                pairs.append((i, j) if labels[i] < labels[j] else (j, i))
    return pairs


def pair_agreement(scores: Sequence[float], pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """Per pair ``(i, j)`` (``i`` has fewer steps left): 1 if ``scores[i] < scores[j]``, 0.5 on a tie, else 0."""
    s = np.asarray(scores, dtype=float)
    if not len(pairs):
        return np.zeros(0)
    i, j = np.asarray(pairs).T
    return np.where(s[i] < s[j], 1.0, np.where(s[i] == s[j], 0.5, 0.0))


def ranking_figure(scores: Sequence[float], goals: Sequence[str], tactics: Sequence[str],
                   labels: Sequence[int], prefixes: Sequence[str] | None = None) -> dict:
    """How often ``scores`` order two tactics on the same state the way their labels do.

    Returns ``{"pairs", "states", "agreement"}``; ``agreement`` is None without pairs. Ties count half, so
    a predictor that cannot tell the tactics apart scores 0.5.

    Example:
        >>> ranking_figure([0.1, 2.0, 1.0], ["s", "s", "s"], ["simp", "intro x", "ring"], [0, 2, 1])["agreement"]
        1.0
    """
    pairs = ranking_pairs(goals, tactics, labels, prefixes)
    agree = pair_agreement(scores, pairs)
    states = len({(goals[i], prefixes[i] if prefixes is not None else "") for i, _ in pairs})
    return {"pairs": len(pairs), "states": states, "agreement": float(agree.mean()) if len(pairs) else None}


def bootstrap_intervals(
    figures: dict[str, tuple[Sequence[Hashable], Sequence[float], Sequence[float]]],
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, tuple[float, float] | None]:
    """Percentile bootstrap intervals for ratio figures, resampling theorems (groups), not rows.

    Steps of one proof are not independent: a model that gets one step of a long proof wrong tends to get
    its neighbours wrong too. Resampling whole theorems keeps that, so intervals are honest for the small,
    proof-structured dev sets this field uses.

    Args:
        figures: per name, ``(groups, numerators, denominators)`` per row: the figure is
            ``sum(numerators) / sum(denominators)`` over the rows of the resampled theorems (for a mean
            over rows, the denominators are 1). Every figure is resampled with the same theorem draws,
            so differences between predictors are paired.
        n_resamples: bootstrap draws.
        level: interval coverage.
        seed: seed of the draws.

    Returns:
        per name ``(low, high)``, or None for a figure with no rows.

    Example:
        >>> lo, hi = bootstrap_intervals({"mae": (["a", "a", "b"], [1.0, 0.0, 2.0], [1, 1, 1])})["mae"]
        >>> 0.0 <= lo <= 1.0 <= hi <= 2.0
        True
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    keys: dict[Hashable, int] = {}
    for groups, _, _ in figures.values():
        for g in groups:
            keys.setdefault(g, len(keys))
    out: dict[str, tuple[float, float] | None] = {}
    if not keys:
        return {name: None for name in figures}
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(len(keys), np.full(len(keys), 1.0 / len(keys)), size=n_resamples).astype(float)
    tail = (1 - level) / 2 * 100
    for name, (groups, num, den) in figures.items():
        if len(groups) == 0:
            out[name] = None
            continue
        idx = np.fromiter((keys[g] for g in groups), dtype=int, count=len(groups))
        s_num = np.bincount(idx, weights=np.asarray(num, dtype=float), minlength=len(keys))
        s_den = np.bincount(idx, weights=np.asarray(den, dtype=float), minlength=len(keys))
        with np.errstate(invalid="ignore", divide="ignore"):
            values = (counts @ s_num) / (counts @ s_den)
        values = values[np.isfinite(values)]
        out[name] = (float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))) if len(values) else None
    return out


def compare_predictors(
    predictions: dict[str, Sequence[float]],
    labels: Sequence[int],
    groups: Sequence[Hashable],
    goals: Sequence[str] | None = None,
    tactics: Sequence[str] | None = None,
    reference: str | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    prefixes: Sequence[str] | None = None,
) -> dict:
    """MAE, exact-match and the ranking figure of several predictors on the same rows, with bootstrap intervals.

    The best constant (the median of these labels for MAE, their mode for exact-match, chosen knowing the
    labels) is added as ``"best constant"``; its ranking figure is 0.5 by definition and left out.

    Args:
        predictions: per predictor name, predicted steps for every row.
        labels: true steps remaining.
        groups: the theorem of every row (what the bootstrap resamples).
        goals: the state of every row, for the ranking figure (skipped without goals and tactics).
        tactics: the tactic of every row, for the ranking figure.
        prefixes: the proof prefix of every row (part of the state, see :func:`ranking_pairs`).
        reference: a predictor name; adds ``differences`` (reference minus each other predictor, with
            paired intervals).
        n_resamples: bootstrap draws (0: no intervals).

    Returns:
        ``{"rows", "theorems", "ranking_pairs", "ranking_states", "predictors": {name: {"mae", "mae_ci",
        "accuracy", "accuracy_ci", "ranking", "ranking_ci"}}, "differences": {...}}``; intervals are
        ``[low, high]`` or None.
    """
    labs = np.asarray(labels, dtype=float)
    n = len(labs)
    if n == 0:
        raise ValueError("no rows to compare on")
    if len(groups) != n:
        raise ValueError(f"{len(groups)} groups for {n} labels")
    if reference is not None and reference not in predictions:
        raise ValueError(f"reference {reference!r} is not one of the predictors {sorted(predictions)}")
    consts = best_constants(labs)
    pairs = ranking_pairs(goals, tactics, list(labels), prefixes) if goals is not None and tactics is not None else []
    pair_groups = [groups[i] for i, _ in pairs]
    ones = np.ones(n)
    per_row: dict[str, dict[str, np.ndarray]] = {}
    for name, preds in predictions.items():
        p = np.asarray(preds, dtype=float)
        if p.shape != labs.shape:
            raise ValueError(f"predictor {name!r}: {len(p)} predictions for {n} labels")
        per_row[name] = {
            "mae": np.abs(p - labs),
            "accuracy": (np.maximum(np.rint(p), 0) == labs).astype(float),
            "ranking": pair_agreement(p, pairs),
        }
    per_row["best constant"] = {
        "mae": np.abs(labs - consts["mae"]["constant"]),
        "accuracy": (labs == consts["accuracy"]["constant"]).astype(float),
    }
    figures: dict[str, tuple] = {}
    for name, rows in per_row.items():
        for fig, values in rows.items():
            figures[f"{name}\0{fig}"] = (pair_groups if fig == "ranking" else groups, values,
                                         np.ones(len(values)))
    if reference is not None:
        for name, rows in per_row.items():
            if name == reference:
                continue
            for fig, values in rows.items():
                figures[f"{reference} - {name}\0{fig}"] = (pair_groups if fig == "ranking" else groups,
                                                           per_row[reference][fig] - values, np.ones(len(values)))
    intervals = bootstrap_intervals(figures, n_resamples, seed=seed) if n_resamples else {}

    def block(prefix: str, rows: dict[str, np.ndarray]) -> dict:
        out = {}
        for fig, values in rows.items():
            ci = intervals.get(f"{prefix}\0{fig}")
            out[fig] = float(values.mean()) if len(values) else None
            out[f"{fig}_ci"] = list(ci) if ci else None
        return out

    result = {
        "rows": n,
        "theorems": len(set(groups)),
        "ranking_pairs": len(pairs),
        "ranking_states": len({(goals[i], prefixes[i] if prefixes is not None else "") for i, _ in pairs}),
        "best_constant": {"mae": consts["mae"]["constant"], "accuracy": consts["accuracy"]["constant"]},
        "predictors": {name: block(name, rows) for name, rows in per_row.items()},
    }
    if reference is not None:
        result["differences"] = {
            f"{reference} - {name}": block(f"{reference} - {name}",
                                           {fig: per_row[reference][fig] - v for fig, v in rows.items()})
            for name, rows in per_row.items() if name != reference
        }
    return result


def _fmt(value, ci, percent: bool, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    scale, unit = (100.0, "%") if percent else (1.0, "")
    sign = "+" if signed else ""
    text = f"{value * scale:{sign}.1f}{unit}" if percent else f"{value:{sign}.3f}"
    if ci:
        lo, hi = ci[0] * scale, ci[1] * scale
        text += f" [{lo:.1f}, {hi:.1f}]" if percent else f" [{lo:.3f}, {hi:.3f}]"
    return text


def columns(rows: Sequence[Sequence[str]], left: int = 1, gap: int = 2) -> list[str]:
    """Lines of a text table: every column as wide as its widest cell and ``gap`` spaces apart, so that wide
    values never run together; the first ``left`` columns are aligned left, the others right.

    Example:
        >>> columns([["predictor", "MAE"], ["model", "+1.934 [1.934, 1.934]"]])
        ['predictor                    MAE', 'model      +1.934 [1.934, 1.934]']
    """
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(map(len, rows), default=0))]
    return ["".join((" " * gap if i else "") + (cell.ljust(widths[i]) if i < left else cell.rjust(widths[i]))
                    for i, cell in enumerate(row)).rstrip() for row in rows]


def format_comparison(comparison: dict, title: str = "") -> str:
    """A table of :func:`compare_predictors` output (intervals in brackets)."""
    lines = [title] if title else []
    bc = comparison["best_constant"]
    lines.append(f"rows: {comparison['rows']} of {comparison['theorems']} theorems; ranking: "
                 f"{comparison['ranking_pairs']} pairs of tactics on {comparison['ranking_states']} shared states")
    table = [["predictor", "MAE", "exact-match", "ranking"]]
    for name, f in comparison["predictors"].items():
        label = name if name != "best constant" else f"best constant ({bc['mae']}/{bc['accuracy']})"
        table.append([label, _fmt(f["mae"], f["mae_ci"], False), _fmt(f["accuracy"], f["accuracy_ci"], True),
                      _fmt(f.get("ranking"), f.get("ranking_ci"), False)])
    for name, f in comparison.get("differences", {}).items():
        table.append([name, _fmt(f["mae"], f["mae_ci"], False, True), _fmt(f["accuracy"], f["accuracy_ci"], True, True),
                      _fmt(f.get("ranking"), f.get("ranking_ci"), False, True)])
    lines += columns(table)
    lines.append("(95% bootstrap intervals over theorems; best constant: median for MAE, mode for exact-match, "
                 "chosen knowing these labels; ranking: ties count half)")
    return "\n".join(lines)


_NOT_IMAGES = ("raw", "rgba", "pgf")  # raw pixel buffers, and LaTeX code that needs a TeX installation


def plot_formats() -> list[str]:
    """The file extensions a plot can be written as: the image formats matplotlib writes (png, pdf, svg, ...)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    return sorted(ext for ext in FigureCanvasAgg.get_supported_filetypes() if ext not in _NOT_IMAGES)


def plot_format(path: str | os.PathLike, what: str = "--plot") -> str:
    """The image format of a plot file from its extension; ValueError naming ``what`` and the path otherwise.

    Example:
        >>> plot_format("eval.png"), plot_format("eval.SVG")
        ('png', 'svg')
    """
    ext = os.path.splitext(str(path))[1].lstrip(".").lower()
    formats = plot_formats()
    if ext not in formats:
        got = f"'.{ext}'" if ext else "no extension"
        raise ValueError(f"{what} {path}: a plot is an image file, and {got} is not an image format matplotlib "
                         f"writes ({', '.join(formats)})")
    return ext


def plot_predictions(predictions: Sequence[float], labels: Sequence[int], path: str, title: str = "") -> str:
    """Scatter of predicted against true steps remaining, saved in the image format of ``path``'s extension
    (:func:`plot_formats`: png, pdf, svg, ...)."""
    fmt = plot_format(path, "plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .files import atomic_path

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
    try:
        with atomic_path(path) as tmp:  # a plot appears whole or not at all, with a normal file mode
            fig.savefig(tmp, dpi=110, format=fmt)
    finally:
        plt.close(fig)
    return path


def evaluate_model(
    model: str | object,
    dataset: str | object,
    device: str = "auto",
    precision: str = "fp32",
    batch_size: int = 32,
    skip_invalid: bool = False,
    n_resamples: int = 1000,
) -> tuple[dict, list[float], list[int]]:
    """Score every record of a dataset with a trained model, beside the tactic-name lookup and the best constant.

    Args:
        model: model folder or a :class:`~leanprogress.scoring.LeanProgressScorer`.
        dataset: JSONL path or :class:`~leanprogress.data.ProgressDataset`.
        precision: scorer precision; fp32 by default so reported figures do
            not depend on the hardware.
        n_resamples: bootstrap draws for the intervals of ``comparison`` (0: none).

    Returns:
        ``(metrics, predictions, labels)``; metrics as :func:`compute_metrics`,
        with ``per_source`` when records carry a ``source``, and ``comparison``
        (:func:`compare_predictors`: model, the tactic-name lookup saved with the
        model when it has one, and the best constant; MAE, exact-match and the
        ranking figure with bootstrap intervals over theorems).
    """
    from .baselines import TacticLookup
    from .config import goal_from_mismatch, records_goal_from
    from .data.dataset import ProgressDataset
    from .data.records import has_initial_goal, theorem_key
    from .scoring import LeanProgressScorer

    # The records first: a missing or bad file is reported before seconds go into loading the model.
    data = dataset if isinstance(dataset, ProgressDataset) else ProgressDataset(dataset, skip_invalid=skip_invalid)
    if len(data) == 0:
        raise ValueError("the evaluation dataset has no records")
    scorer = model if isinstance(model, LeanProgressScorer) else LeanProgressScorer(
        str(model), device=device, precision=precision, batch_size=batch_size
    )
    kind = records_goal_from(data.records)
    why = goal_from_mismatch(scorer.settings.goal_from, kind, scorer.model_name,
                             f"{getattr(data, 'path', None) or 'the evaluation dataset'} ({kind} records)")
    if why:
        logger.warning("%s: the figures measure the model on inputs of a kind it was not trained to read", why)
    goals, tactics = [r["goal"] for r in data], [r["tactic"] for r in data]
    # Records whose goal stands in for the real state are laid out as the model was trained on them.
    preds = scorer.predict_batch(goals, tactics, [r["prefix"] for r in data], [has_initial_goal(r) for r in data])
    labels = data.labels
    sources = [r.get("source") for r in data]
    metrics = compute_metrics(preds, labels, sources=sources if any(sources) else None)
    candidates = {"model": preds}
    lookup = TacticLookup.load(scorer.model_name) if Path(scorer.model_name).is_dir() else None
    if lookup is not None:
        candidates["lookup median"] = lookup.predict(tactics, "median")
        candidates["lookup mode"] = lookup.predict(tactics, "mode")
    groups = [theorem_key(r) or f"\0row{i}" for i, r in enumerate(data)]
    metrics["comparison"] = compare_predictors(
        candidates, labels, groups, goals, tactics, reference="model", n_resamples=n_resamples,
        prefixes=[r["prefix"] for r in data])
    saved = "none saved with the model" if lookup is None else "saved with the model" + (
        "" if lookup.key == "name" else f", key {lookup.key}")
    metrics["comparison"]["lookup"] = saved
    return metrics, preds, labels
