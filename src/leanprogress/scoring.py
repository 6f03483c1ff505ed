"""``LeanProgressScorer``: predicted steps remaining for (goal, prefix, tactic).

Example:
    >>> from leanprogress import LeanProgressScorer
    >>> scorer = LeanProgressScorer("runs/model")                       # doctest: +SKIP
    >>> scorer.predict("n : ℕ\\n⊢ n + 0 = n", "simp")                    # doctest: +SKIP
    0.08
    >>> scorer.predict_batch("n : ℕ\\n⊢ n + 0 = n", ["simp", "induction n", "rfl"])  # doctest: +SKIP
    [0.08, 2.1, 0.3]

Candidates are scored many at a time, laid out as the model's ``encoder_kind``
says (:mod:`leanprogress.batch_layout`, built with the settings saved next to
the model): a cross-encoder's prompts sorted by length, padded per batch, one
forward pass per batch; a group-kind model's candidates grouped by (state,
prefix) whatever order they come in and packed after one copy of their
state. Results come back in the caller's order.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import heads
from .config import CHECKPOINTS, RUN_MARKER, SETTINGS_FILE, ModelSettings, newest_checkpoint
from .encoder import (is_constant_model, keep_head_fp32, load_regression_model, load_tokenizer, quantize_int8,
                      resolve_device, resolve_precision)
from .lean.symbols import tokenizer_needs_normalization
from .prompt import GroupedPrompts, PromptTemplate

logger = logging.getLogger(__name__)

SCORER_PRECISIONS = ("auto", "fp32", "bf16", "int8")


class ScoringError(RuntimeError):
    """The model's output cannot be read as a step count (NaN, or too large); the message names the cause.

    Raised instead of ranking on garbage: a NaN would otherwise clamp to 0
    ("this tactic closes the goal") and rank first.
    """


def check_predictions(raw: Sequence[float], steps: Sequence[float], transform: str, model: str) -> None:
    """Raise :class:`ScoringError` unless every output decoded to a finite step count.

    Args:
        raw: the model's outputs; steps: the same decoded (:func:`~leanprogress.heads.decode_regression`).
        transform: the label transform (for the message); model: its name or folder.
    """
    nan = [i for i, v in enumerate(raw) if math.isnan(v)]
    if nan:
        raise ScoringError(
            f"{model}: NaN output for {len(nan)} of {len(raw)} input(s) (first: input {nan[0]}); the model's "
            "weights are broken (a diverged training run?) and give no step count"
        )
    big = [i for i, (r, s) in enumerate(zip(raw, steps)) if not (math.isfinite(r) and math.isfinite(s))]
    if big:
        i = big[0]
        raise ScoringError(
            f"{model}: output too large to be a step count for {len(big)} of {len(raw)} input(s) (first: input "
            f"{i}, raw output {raw[i]:.4g} with label transform {transform!r}); the model's weights are broken "
            "(a diverged training run?)"
        )


def _refuse_unfinished_run(folder: Path) -> None:
    """Refuse a LeanProgress run or checkpoint folder without its settings, saying what to score instead.

    Default settings would read its outputs wrongly (a log1p model reported as steps). A folder with
    :data:`~leanprogress.config.RUN_MARKER` is refused whatever else it holds: a run started there and has not
    finished, so its files may mix an earlier model with that run's.
    """
    newest = newest_checkpoint(folder / CHECKPOINTS) if (folder / CHECKPOINTS).is_dir() else None
    usable = newest is not None and (newest / SETTINGS_FILE).is_file()
    if (folder / RUN_MARKER).is_file():
        try:
            started = " (started " + json.loads((folder / RUN_MARKER).read_text(encoding="utf-8"))["started"] + ")"
        except (OSError, ValueError, KeyError, TypeError):
            started = ""
        raise ValueError(
            f"{folder} holds a training run that has not finished{started}: it was interrupted, failed or is still "
            f"running, and its files may mix an earlier model with this run's. Continue it with `leanprogress train "
            f"... --output-dir {folder} --resume`" + (f", or score its newest checkpoint, {newest}" if usable else "")
        )
    if (folder / CHECKPOINTS).is_dir():
        raise ValueError(
            f"{folder} has checkpoints but no {SETTINGS_FILE}: training did not finish. Resume it with "
            "`leanprogress train ... --resume`" + (f", or score its newest checkpoint, {newest}" if usable else "")
        )
    if folder.parent.name == CHECKPOINTS and (folder / "trainer_state.json").is_file():
        run = folder.parent.parent
        fix = (f"if it belongs to the run in {run}, copy {run / SETTINGS_FILE} into it"
               if (run / SETTINGS_FILE).is_file() else f"resume its run with `leanprogress train --output-dir {run} "
               "... --resume` and score the finished model")
        raise ValueError(
            f"{folder} is a training checkpoint without {SETTINGS_FILE} (written before checkpoints carried the "
            f"run's settings): its prompt format and label transform are unknown, so its outputs cannot be read as "
            f"steps; {fix}"
        )


def reward(steps_remaining: float) -> float:
    """RL reward for a prediction: ``-steps_remaining`` (fewer steps left is better)."""
    return -float(steps_remaining)


class LeanProgressScorer:
    """Predict how many tactic steps remain after a candidate tactic.

    Args:
        model_name: a folder written by :class:`~leanprogress.training.ProgressTrainer`
            (or any HF sequence-regression model folder or hub id; then the
            default settings apply and a warning says so).
        device: ``auto`` (CUDA, MPS, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.
        template: a prompt format overriding the one saved with the model
            (str or :class:`~leanprogress.prompt.PromptTemplate`).
        precision: ``auto`` (bf16 on GPUs and CPUs with bf16 units, else
            fp32), ``fp32``, ``bf16``, or ``int8`` (dynamic quantization, CPU).
            Reduced precisions apply to the encoder; the head stays fp32.
        batch_size: candidates per forward pass (for a ``group``-kind model also states per pass over states:
            see :mod:`leanprogress.batch_layout`).
        point_estimate: distribution-head models only: override the saved
            choice of the number :meth:`predict` returns (``median``, ``mode``
            or ``mean``; see :mod:`leanprogress.heads`).

    Inputs: ``goal`` is the Lean state as Lean prints it (hypotheses, then
    ``⊢ target``), ``prefix`` the tactics already written (one a line),
    ``tactic`` the candidate. Predictions are floats >= 0 whatever the head; a
    model whose output is NaN or too large to be a step count raises
    :class:`ScoringError`. Models with the ``distribution`` head also give
    :meth:`predict_distribution` and :meth:`close_probability`.
    """

    def __init__(
        self,
        model_name: str | os.PathLike,
        device: str = "auto",
        template: str | PromptTemplate | None = None,
        precision: str = "auto",
        batch_size: int = 32,
        point_estimate: str | None = None,
    ):
        if precision not in SCORER_PRECISIONS:
            raise ValueError(f"precision must be one of {SCORER_PRECISIONS}, got {precision!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        name = str(model_name)
        folder = Path(name)
        if folder.is_dir() and (folder / RUN_MARKER).is_file():
            _refuse_unfinished_run(folder)
        settings = ModelSettings.load(folder) if folder.is_dir() else None
        if settings is None and folder.is_dir():
            _refuse_unfinished_run(folder)
        self.tokenizer = load_tokenizer(name, role="model")
        if settings is None:
            logger.warning(
                "%s has no %s: not a LeanProgress model; scoring with default settings", name, SETTINGS_FILE
            )
            settings = ModelSettings(normalize_symbols=tokenizer_needs_normalization(self.tokenizer),
                                     label_transform="none", base_model=name)
        if point_estimate is not None:
            if point_estimate not in heads.POINT_ESTIMATES:
                raise ValueError(f"point_estimate must be one of {heads.POINT_ESTIMATES}, got {point_estimate!r}")
            settings.point_estimate = point_estimate
        self.settings = settings
        if isinstance(template, PromptTemplate):
            template = template.template
        self.template = PromptTemplate(template or settings.template)
        # How candidates become encoder passes: the layout the model was trained with (cross or group).
        self.layout = settings.layout(self.tokenizer, self.template.template)
        self.builder = self.layout.builder
        self.device = resolve_device(device)
        self.model = load_regression_model(name, role="model", num_labels=settings.num_labels)
        self.model.eval()
        if settings.encoder_kind == "group":
            self.layout.check_model(self.model)
        if is_constant_model(self.model):
            logger.warning(
                "%s predicts the same steps for every input (its output weights are zero: the trainer saved the "
                "constant predictor because no epoch beat it); rankings from it are ties", name
            )
        # Reduced precisions apply to the encoder only: the head that turns its hidden states into the score
        # stays fp32, or close candidates get the same score (bf16 keeps 8 significant bits).
        if precision == "int8":
            if self.device.type != "cpu":
                raise ValueError("precision 'int8' (dynamic quantization) runs on the CPU only")
            self.model = quantize_int8(self.model)
            self.precision = "int8"
        else:
            self.precision = resolve_precision(precision, self.device)
            if self.precision == "bf16":
                self.model.to(torch.bfloat16)
                keep_head_fp32(self.model)
        self.model.to(self.device)
        self.batch_size = batch_size
        self.model_name = name

    def _logits(self, prompts: "list[str] | GroupedPrompts") -> np.ndarray:
        """Raw head outputs, one row per record of :meth:`_prompts` (``num_labels`` columns), in float64, in
        the records' order: the model's layout decides how they become encoder passes."""
        return self.layout.logits(self.model, prompts, self.batch_size, self.device, self.settings.num_labels)

    def _checked_probabilities(self, raw: np.ndarray) -> np.ndarray:
        """Softmax of distribution-head outputs, or :class:`ScoringError` for NaN or infinite outputs."""
        probs = heads.softmax(raw)
        rows = [float("nan") if np.isnan(r).any() else float(np.max(np.abs(r))) for r in raw]
        check_predictions(rows, [float(p.sum()) for p in probs], "none", self.model_name)
        return probs

    def _forward(self, prompts: list[str]) -> list[float]:
        raw = self._logits(prompts)
        s = self.settings
        if s.head == "distribution":
            probs = self._checked_probabilities(raw)
            return [float(v) for v in heads.point_estimate(probs, s.point_estimate, s.head_more_steps)]
        values = raw[:, 0].tolist()
        steps = heads.decode_regression(values, s.label_transform).tolist()
        check_predictions(values, steps, s.label_transform, self.model_name)
        return steps

    def predict(self, goal: str, tactic: str, prefix: str | None = None) -> float:
        """Predicted steps remaining after ``tactic`` on ``goal`` (>= 0)."""
        return self.predict_batch([goal], [tactic], [prefix or ""])[0]

    def predict_batch(
        self,
        goals: str | Sequence[str],
        tactics: Sequence[str],
        prefixes: str | Sequence[str] | None = None,
        initial_goals: Sequence[bool] | None = None,
    ) -> list[float]:
        """Predictions for many candidates, batched.

        Args:
            goals: one goal for all tactics (a str) or one per tactic.
            tactics: candidate tactics.
            prefixes: one prefix for all, one per tactic, or None.
            initial_goals: per tactic, whether its goal is an initial state standing in for the real one
                (records with ``goal_state: "initial"``); laid out as in training for a model trained with
                ``initial_goals="mark"``. None: every goal is a real state, as in search.
        """
        prompts = self._prompts(goals, tactics, prefixes, initial_goals)
        return self._forward(prompts) if prompts else []

    def _prompts(self, goals, tactics, prefixes, initial_goals=None) -> "list[str] | GroupedPrompts":
        """Checked arguments of :meth:`predict_batch` (and its siblings) as the model's input texts: one prompt
        per tactic (cross-encoder), or the contexts of the distinct states and one segment per tactic (group
        kind); :meth:`_logits` reads either."""
        if isinstance(tactics, str):
            raise TypeError("tactics must be a list of strings; use predict() for one tactic")
        tactics = list(tactics)
        n = len(tactics)
        goals = [goals] * n if isinstance(goals, str) else list(goals)
        if prefixes is None or isinstance(prefixes, str):
            prefixes = [prefixes or ""] * n
        else:
            prefixes = [p or "" for p in prefixes]
        if not (len(goals) == len(prefixes) == n):
            raise ValueError(f"{len(goals)} goals and {len(prefixes)} prefixes for {n} tactics")
        if initial_goals is not None and len(initial_goals) != n:
            raise ValueError(f"{len(initial_goals)} initial_goals flags for {n} tactics")
        for what, items in (("goal", goals), ("tactic", tactics), ("prefix", prefixes)):
            for i, x in enumerate(items):
                if not isinstance(x, str):
                    raise TypeError(f"{what} {i} must be a string, got {type(x).__name__}")
        return self.layout.build(goals, tactics, prefixes, initial_goals) if n else []

    def predict_distribution(
        self,
        goals: str | Sequence[str],
        tactics: Sequence[str],
        prefixes: str | Sequence[str] | None = None,
    ) -> np.ndarray:
        """Probabilities of 0, 1, ..., K and more than K steps remaining (distribution head only).

        Returns:
            an array of shape ``(len(tactics), K + 2)``, rows summing to 1; column ``j <= K`` is
            P(steps = j), the last column P(steps > K). ``self.step_values`` gives the steps each
            column stands for. Arguments as for :meth:`predict_batch`.

        Raises:
            ValueError: for a model with the regression head (it predicts one number, no distribution).
        """
        if self.settings.head != "distribution":
            raise ValueError(f"{self.model_name} has a {self.settings.head} head: it predicts one number, "
                             "not a distribution (train with --head distribution)")
        prompts = self._prompts(goals, tactics, prefixes)
        if not prompts:
            return np.zeros((0, self.settings.num_labels))
        return self._checked_probabilities(self._logits(prompts))

    def close_probability(
        self,
        goals: str | Sequence[str],
        tactics: Sequence[str],
        prefixes: str | Sequence[str] | None = None,
    ) -> list[float]:
        """Probability that each tactic closes the goal (0 steps remaining; distribution head only).

        A search can rank candidates on one state by it (highest first) when what matters is finishing now.
        """
        return [float(p) for p in self.predict_distribution(goals, tactics, prefixes)[:, 0]]

    @property
    def step_values(self) -> np.ndarray:
        """Steps each column of :meth:`predict_distribution` stands for: 0..K, then the mean above K."""
        s = self.settings
        if s.head != "distribution":
            raise ValueError(f"{self.model_name} has a {s.head} head: no distribution")
        return heads.class_values(s.head_max_steps, s.head_more_steps)

    def rank(self, goal: str, tactics: Sequence[str], prefix: str | None = None) -> list[tuple[str, float]]:
        """Candidates sorted by predicted steps remaining, fewest first."""
        preds = self.predict_batch(goal, tactics, prefix)
        return sorted(zip(tactics, preds), key=lambda p: p[1])

    reward = staticmethod(reward)
