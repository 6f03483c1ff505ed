"""``LeanProgressScorer``: predicted steps remaining for (goal, prefix, tactic).

Example:
    >>> from leanprogress import LeanProgressScorer
    >>> scorer = LeanProgressScorer("runs/model")                       # doctest: +SKIP
    >>> scorer.predict("n : ℕ\\n⊢ n + 0 = n", "simp")                    # doctest: +SKIP
    0.08
    >>> scorer.predict_batch("n : ℕ\\n⊢ n + 0 = n", ["simp", "induction n", "rfl"])  # doctest: +SKIP
    [0.08, 2.1, 0.3]

Candidates are scored many at a time: prompts are built with the settings
saved next to the model, sorted by length, padded per batch and run through
one forward pass per batch.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Sequence

import torch

from .config import SETTINGS_FILE, ModelSettings, decode_prediction
from .encoder import is_constant_model, load_regression_model, load_tokenizer, resolve_device, resolve_precision
from .leantext import tokenizer_needs_normalization
from .prompt import PromptTemplate

logger = logging.getLogger(__name__)

SCORER_PRECISIONS = ("auto", "fp32", "bf16", "int8")


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
        batch_size: candidates per forward pass.

    Inputs: ``goal`` is the Lean state as Lean prints it (hypotheses, then
    ``⊢ target``), ``prefix`` the tactics already written (one a line),
    ``tactic`` the candidate. Predictions are floats >= 0.
    """

    def __init__(
        self,
        model_name: str | os.PathLike,
        device: str = "auto",
        template: str | PromptTemplate | None = None,
        precision: str = "auto",
        batch_size: int = 32,
    ):
        if precision not in SCORER_PRECISIONS:
            raise ValueError(f"precision must be one of {SCORER_PRECISIONS}, got {precision!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        name = str(model_name)
        folder = Path(name)
        settings = ModelSettings.load(folder) if folder.is_dir() else None
        if folder.is_dir() and settings is None and (folder / "checkpoints").is_dir():
            raise ValueError(
                f"{folder} has checkpoints but no {SETTINGS_FILE}: training did not finish. "
                "Resume it with --resume, or load one checkpoint folder directly."
            )
        self.tokenizer = load_tokenizer(name)
        if settings is None:
            logger.warning(
                "%s has no %s: not a LeanProgress model; scoring with default settings", name, SETTINGS_FILE
            )
            settings = ModelSettings(normalize_symbols=tokenizer_needs_normalization(self.tokenizer),
                                     label_transform="none", base_model=name)
        self.settings = settings
        if isinstance(template, PromptTemplate):
            template = template.template
        self.template = PromptTemplate(template or settings.template)
        self.builder = settings.prompt_builder(self.tokenizer, self.template.template)
        self.device = resolve_device(device)
        self.model = load_regression_model(name)
        self.model.eval()
        if is_constant_model(self.model):
            logger.warning(
                "%s predicts the same steps for every input (its output weights are zero: the trainer saved the "
                "constant predictor because no epoch beat it); rankings from it are ties", name
            )
        if precision == "int8":
            if self.device.type != "cpu":
                raise ValueError("precision 'int8' (dynamic quantization) runs on the CPU only")
            with warnings.catch_warnings():  # torch.ao's deprecation notice; the API still works
                warnings.simplefilter("ignore")
                self.model = torch.ao.quantization.quantize_dynamic(self.model, {torch.nn.Linear}, dtype=torch.qint8)
            self.precision = "int8"
        else:
            self.precision = resolve_precision(precision, self.device)
            if self.precision == "bf16":
                self.model.to(torch.bfloat16)
        self.model.to(self.device)
        self.batch_size = batch_size
        self.model_name = name

    @torch.inference_mode()
    def _forward(self, prompts: list[str]) -> list[float]:
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
        raw = [0.0] * len(prompts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            enc = self.builder.encode([prompts[i] for i in idx], padding=True, return_tensors="pt")
            enc = {k: v.to(self.device) for k, v in enc.items()}
            logits = self.model(**enc).logits.float().reshape(-1).tolist()
            for i, v in zip(idx, logits):
                raw[i] = v
        transform = self.settings.label_transform
        return [decode_prediction(v, transform) for v in raw]

    def predict(self, goal: str, tactic: str, prefix: str | None = None) -> float:
        """Predicted steps remaining after ``tactic`` on ``goal`` (>= 0)."""
        return self.predict_batch([goal], [tactic], [prefix or ""])[0]

    def predict_batch(
        self,
        goals: str | Sequence[str],
        tactics: Sequence[str],
        prefixes: str | Sequence[str] | None = None,
    ) -> list[float]:
        """Predictions for many candidates, batched.

        Args:
            goals: one goal for all tactics (a str) or one per tactic.
            tactics: candidate tactics.
            prefixes: one prefix for all, one per tactic, or None.
        """
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
        for what, items in (("goal", goals), ("tactic", tactics), ("prefix", prefixes)):
            for i, x in enumerate(items):
                if not isinstance(x, str):
                    raise TypeError(f"{what} {i} must be a string, got {type(x).__name__}")
        if n == 0:
            return []
        return self._forward(self.builder.build_many(goals, tactics, prefixes))

    def rank(self, goal: str, tactics: Sequence[str], prefix: str | None = None) -> list[tuple[str, float]]:
        """Candidates sorted by predicted steps remaining, fewest first."""
        preds = self.predict_batch(goal, tactics, prefix)
        return sorted(zip(tactics, preds), key=lambda p: p[1])

    reward = staticmethod(reward)
