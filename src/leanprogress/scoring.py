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
prefix) whatever order they come in, each state encoded once per pass for
all its candidates. Results come back in the caller's order.

Two numbers come out of one pass (:meth:`LeanProgressScorer.score_batch`):
the *point estimate* of steps remaining (:meth:`~LeanProgressScorer.predict_batch`,
the step count shown to users and judged by exact-match and MAE) and the *rank
score* (:meth:`~LeanProgressScorer.rank_batch`, lower is better, in steps), by
which search, ``/generate``, :meth:`~LeanProgressScorer.rank` and RL rewards
order candidates. For the regression head they are the same number; for the
distribution head the rank score is the expected steps by default
(:func:`leanprogress.heads.rank_score`), which does not tie where the mode does.
"""

from __future__ import annotations

import json
import logging
import math
import os
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import torch

from . import heads
from .config import SETTINGS_FILE, ModelSettings, model_settings
from .encoder import (is_constant_model, keep_head_fp32, load_regression_model, load_tokenizer, quantize_int8,
                      resolve_device, resolve_precision)
from .lean.symbols import tokenizer_needs_normalization
from .prompt import GroupedPrompts, PromptTemplate, count_mismatch

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


class Scores(NamedTuple):
    """What :meth:`LeanProgressScorer.score_batch` returns: one entry per candidate in each list."""

    steps: list[float]
    """The point estimate of steps remaining (the model's ``point_estimate``): the number shown to users."""
    rank: list[float]
    """The rank score (lower is better, in steps): what candidates are ordered and rewarded by."""


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
        batch_size: candidates per forward pass (a ``group``-kind model's pass takes as many tokens as
            ``batch_size`` prompts of ``max_length``: see :mod:`leanprogress.batch_layout`).
        point_estimate: distribution-head models only: override the saved
            choice of the number :meth:`predict` returns (``median``, ``mode``
            or ``mean``; see :mod:`leanprogress.heads`).
        rank_by: distribution-head models only: override the saved choice of
            the rank score (``mean``, ``median`` or ``close``; see
            :func:`leanprogress.heads.rank_score`).

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
        rank_by: str | None = None,
    ):
        if precision not in SCORER_PRECISIONS:
            raise ValueError(f"precision must be one of {SCORER_PRECISIONS}, got {precision!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        name = str(model_name)
        settings = model_settings(name)  # refuses an unfinished run's folder
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
        if rank_by is not None:
            if rank_by not in heads.RANK_BY:
                raise ValueError(f"rank_by must be one of {heads.RANK_BY}, got {rank_by!r}")
            settings.rank_by = rank_by
        self.settings = settings
        if isinstance(template, PromptTemplate):
            template = template.template
        self.template = PromptTemplate(template or settings.template)
        # How candidates become encoder passes: the layout the model was trained with (cross or group).
        self.layout = settings.layout(self.tokenizer, self.template.template)
        self.builder = self.layout.builder
        self.device = resolve_device(device)
        self._lookup = None
        if settings.head_prior != "none":
            from .baselines import LOOKUP_FILE, TacticLookup

            self._lookup = TacticLookup.load(name) if Path(name).is_dir() else None
            if self._lookup is None:
                raise ValueError(f"{name} corrects a tactic lookup (head_prior {settings.head_prior!r}) but has no "
                                 f"{LOOKUP_FILE}: copy the model folder whole")
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

    def _outputs(self, prompts: list[str], tactics: Sequence[str]) -> np.ndarray:
        """The head's outputs for these prompts, with the tactic-name prior added for a ``head_prior`` model."""
        raw = self._logits(prompts)
        if self._lookup is not None:
            raw = raw + self._lookup.class_log_prior(list(tactics), self.settings.head_max_steps)
        return raw

    def _checked_probabilities(self, raw: np.ndarray) -> np.ndarray:
        """Softmax of distribution-head outputs, or :class:`ScoringError` for NaN or infinite outputs."""
        probs = heads.softmax(raw)
        rows = [float("nan") if np.isnan(r).any() else float(np.max(np.abs(r))) for r in raw]
        check_predictions(rows, [float(p.sum()) for p in probs], "none", self.model_name)
        return probs

    def _forward(self, prompts: list[str], tactics: Sequence[str]) -> Scores:
        raw = self._outputs(prompts, tactics)
        s = self.settings
        if s.head == "distribution":
            probs = self._checked_probabilities(raw)
            steps = heads.point_estimate(probs, s.point_estimate, s.head_more_steps)
            rank = heads.rank_score(probs, s.rank_by, s.head_more_steps)
            return Scores([float(v) for v in steps], [float(v) for v in rank])
        values = raw[:, 0].tolist()
        steps = heads.decode_regression(values, s.label_transform).tolist()
        check_predictions(values, steps, s.label_transform, self.model_name)
        return Scores(steps, list(steps))

    def predict(self, goal: str, tactic: str, prefix: str | None = None) -> float:
        """Predicted steps remaining after ``tactic`` on ``goal`` (>= 0)."""
        return self.predict_batch([goal], [tactic], [prefix or ""])[0]

    def score_batch(
        self,
        goals: str | Sequence[str],
        tactics: Sequence[str],
        prefixes: str | Sequence[str] | None = None,
        initial_goals: Sequence[bool] | None = None,
    ) -> Scores:
        """The point estimate and the rank score of every candidate, from one forward pass.

        Args:
            goals: one goal for all tactics (a str) or one per tactic.
            tactics: candidate tactics.
            prefixes: one prefix for all, one per tactic, or None.
            initial_goals: per tactic, whether its goal is an initial state standing in for the real one
                (records with ``goal_state: "initial"``); laid out as in training for a model trained with
                ``initial_goals="mark"``. None: every goal is a real state, as in search.

        Returns:
            :class:`Scores`: ``steps`` (what :meth:`predict_batch` returns) and ``rank`` (what
            :meth:`rank_batch` returns), each in the order of ``tactics``.

        Example:
            >>> scores = scorer.score_batch("n : ℕ\\n⊢ n + 0 = n", ["simp", "omega"])   # doctest: +SKIP
            >>> scores.steps, scores.rank                                                # doctest: +SKIP
            ([0.0, 0.0], [0.41, 0.63])
        """
        prompts = self._prompts(goals, tactics, prefixes, initial_goals)
        return self._forward(prompts, tactics) if prompts else Scores([], [])

    def predict_batch(
        self,
        goals: str | Sequence[str],
        tactics: Sequence[str],
        prefixes: str | Sequence[str] | None = None,
        initial_goals: Sequence[bool] | None = None,
    ) -> list[float]:
        """Predicted steps remaining (the point estimate) for many candidates, batched; arguments as for
        :meth:`score_batch`. To order candidates use :meth:`rank_batch`: a point estimate can tie."""
        return self.score_batch(goals, tactics, prefixes, initial_goals).steps

    def rank_batch(
        self,
        goals: str | Sequence[str],
        tactics: Sequence[str],
        prefixes: str | Sequence[str] | None = None,
        initial_goals: Sequence[bool] | None = None,
    ) -> list[float]:
        """The rank score of many candidates (lower is better, in steps; see :func:`leanprogress.heads.rank_score`):
        what search, ``/generate``, :meth:`rank` and RL rewards order candidates by. Arguments as for
        :meth:`score_batch`."""
        return self.score_batch(goals, tactics, prefixes, initial_goals).rank

    def _prompts(self, goals, tactics, prefixes, initial_goals=None) -> "list[str] | GroupedPrompts":
        """Checked arguments of :meth:`predict_batch` (and its siblings) as the model's input texts: one prompt
        per tactic (cross-encoder), or the contexts of the distinct states and one segment per tactic (group
        kind); :meth:`_logits` reads either."""
        if isinstance(tactics, str):
            raise TypeError("tactics must be a list of strings; use predict() for one tactic")
        tactics = list(tactics)
        n = len(tactics)
        goals = [goals] * n if isinstance(goals, str) else list(goals)
        one_prefix = prefixes is None or isinstance(prefixes, str)
        prefixes = [prefixes or ""] * n if one_prefix else [p or "" for p in prefixes]
        if not (len(goals) == len(prefixes) == n):
            raise ValueError(count_mismatch(n, "tactic", goals=len(goals), prefixes=None if one_prefix else len(prefixes)))
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
        return self._checked_probabilities(self._outputs(prompts, tactics))

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
        """Candidates with their predicted steps remaining, best first: ordered by the rank score (see
        :meth:`rank_batch`), which breaks the ties a point estimate leaves; a tie of rank scores keeps the
        candidates' order."""
        scores = self.score_batch(goal, tactics, prefix)
        order = sorted(range(len(scores.rank)), key=lambda i: scores.rank[i])
        return [(tactics[i], scores.steps[i]) for i in order]

    reward = staticmethod(reward)
