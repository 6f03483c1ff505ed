"""``ProgressTrainer``: fine-tune an encoder with a scalar head on progress records.

Data -> prompts (:class:`~leanprogress.prompt.PromptBuilder`) -> tokens ->
``AutoModelForSequenceClassification(num_labels=1, problem_type="regression")``
trained with MSE by the HuggingFace ``Trainer``; evaluated after every epoch
(MSE, MAE, exact-match accuracy, Spearman); the lowest-eval-MSE epoch is kept.

Example:
    >>> from leanprogress import ProgressDataset, ProgressTrainer, ProgressTrainingArguments
    >>> train, held_out = ProgressDataset("steps.jsonl").split(eval_ratio=0.2)  # doctest: +SKIP
    >>> args = ProgressTrainingArguments(output_dir="runs/model", epochs=3)    # doctest: +SKIP
    >>> ProgressTrainer(args, train, held_out).train()                         # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path
from typing import Iterable

import numpy as np

from ..config import ModelSettings, ProgressTrainingArguments, decode_prediction, encode_label, records_goal_from
from ..data.dataset import ProgressDataset
from ..encoder import (DEFAULT_ENCODER_NAME, load_regression_model, load_tokenizer, output_head, resolve_device,
                       resolve_model_name, resolve_precision)
from ..evaluation import compute_metrics
from ..leantext import tokenizer_needs_normalization

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"


def _as_dataset(data: ProgressDataset | str | os.PathLike | Iterable[dict] | None) -> ProgressDataset | None:
    if data is None or isinstance(data, ProgressDataset):
        return data
    return ProgressDataset(data)


def _start_at_the_mean(model, labels) -> None:
    """Set the scalar head's bias to the mean training target.

    A fresh head starts near 0 whatever the data; starting at the mean leaves
    training to learn only deviations from it, which matters with a few
    hundred examples.
    """
    import torch

    head = output_head(model)
    if head is not None:
        with torch.no_grad():
            head.bias.fill_(float(np.mean(labels)))


def _make_constant(model, value: float) -> bool:
    """Turn the model into the constant predictor of ``value`` (head weights 0, bias ``value``).

    Returns False, changing nothing, for a model whose scalar output layer has no bias.
    """
    import torch

    head = output_head(model)
    if head is None:
        return False
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(value)
    return True


class ProgressTrainer:
    """Train a steps-remaining regressor.

    Args:
        args: :class:`~leanprogress.config.ProgressTrainingArguments`.
        train_dataset: records to train on (a :class:`ProgressDataset`, a
            JSONL path or a list of record dicts).
        eval_dataset: held-out records, evaluated after every epoch; the best
            epoch (lowest MSE) is the one saved. Split it off by theorem
            (:meth:`ProgressDataset.split`), never by row.

    After :meth:`train`, ``args.output_dir`` holds ``model.safetensors``, the
    tokenizer, ``config.json`` and ``leanprogress_config.json`` (template,
    length, normalization and label settings). The settings file is written
    last: a folder without it is an interrupted run, and
    :class:`~leanprogress.scoring.LeanProgressScorer` refuses it.
    """

    def __init__(
        self,
        args: ProgressTrainingArguments,
        train_dataset: ProgressDataset | str | os.PathLike | Iterable[dict],
        eval_dataset: ProgressDataset | str | os.PathLike | Iterable[dict] | None = None,
    ):
        if not isinstance(args, ProgressTrainingArguments):
            raise TypeError(f"args must be ProgressTrainingArguments, got {type(args).__name__}")
        self.args = args
        self.train_dataset = _as_dataset(train_dataset)
        self.eval_dataset = _as_dataset(eval_dataset)
        if self.train_dataset is None or len(self.train_dataset) == 0:
            raise ValueError("train_dataset has no records")
        if self.eval_dataset is not None and len(self.eval_dataset) == 0:
            self.eval_dataset = None
        self.model_name = resolve_model_name(args.model_name)
        self.tokenizer = load_tokenizer(args.model_name)
        normalize = {"yes": True, "no": False}.get(args.normalize_symbols)
        if normalize is None:
            normalize = tokenizer_needs_normalization(self.tokenizer)
        self.settings = ModelSettings(
            template=args.template,
            max_length=args.max_length,
            normalize_symbols=normalize,
            label_transform=args.label_transform,
            truncation=args.truncation,
            base_model=args.model_name or f"{DEFAULT_ENCODER_NAME} (bundled)",
            goal_from=records_goal_from(self.train_dataset.records),
            canonicalize_goals=args.canonicalize_goals,
        )
        if self.settings.goal_from == "mixed":
            logger.warning("the training records mix goal_from kinds (states before and after tactics): prove will "
                           "need an explicit --score-mode for this model")
        self.builder = self.settings.prompt_builder(self.tokenizer)
        self.trainer = None

    def _tokenize(self, data: ProgressDataset, desc: str):
        builder, transform = self.builder, self.settings.label_transform

        def encode(batch: dict) -> dict:
            prompts = builder.build_many(batch["goal"], batch["tactic"], batch["prefix"])
            enc = builder.encode(prompts)
            enc["labels"] = [encode_label(s, transform) for s in batch["steps_remaining"]]
            enc["length"] = [len(ids) for ids in enc["input_ids"]]
            return dict(enc)

        hf = data.dataset.select_columns(["goal", "tactic", "prefix", "steps_remaining"])
        return hf.map(encode, batched=True, batch_size=256, remove_columns=hf.column_names, desc=desc)

    def _compute_metrics(self, eval_pred) -> dict:
        raw = np.asarray(eval_pred.predictions).reshape(-1)
        labels = np.asarray(eval_pred.label_ids).reshape(-1)
        transform = self.settings.label_transform
        preds = [decode_prediction(float(v), transform) for v in raw]
        steps = [round(decode_prediction(float(v), transform)) for v in labels]
        m = compute_metrics(preds, steps)
        return {k: m[k] for k in ("mse", "mae", "accuracy", "within_one")} | {
            "spearman": m["spearman"] if m["spearman"] is not None else float("nan"),
            "constant_mae": m["best_constant"]["mae"]["value"],
            "constant_accuracy": m["best_constant"]["accuracy"]["value"],
        }

    def train(self) -> dict:
        """Train, keep the best epoch, save it atomically; returns final metrics."""
        from transformers import DataCollatorWithPadding, Trainer, TrainingArguments
        from transformers.trainer_utils import get_last_checkpoint

        args = self.args
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        ckpt_dir = out / CHECKPOINTS
        resume_from = None
        if args.resume:
            resume_from = get_last_checkpoint(str(ckpt_dir)) if ckpt_dir.is_dir() else None
            if resume_from is None:
                logger.warning("--resume: no checkpoint in %s; training from the start", ckpt_dir)
            else:
                logger.info("resuming from %s", resume_from)

        train_tok = self._tokenize(self.train_dataset, "Tokenizing train")
        eval_tok = self._tokenize(self.eval_dataset, "Tokenizing eval") if self.eval_dataset else None
        labels = train_tok["labels"]
        model = load_regression_model(args.model_name)
        if args.init_head_bias and resume_from is None:
            _start_at_the_mean(model, labels)
        device = resolve_device("auto")
        precision = resolve_precision(args.precision, device)
        has_eval = eval_tok is not None
        hf_args = TrainingArguments(
            output_dir=str(ckpt_dir),
            num_train_epochs=args.epochs,
            per_device_train_batch_size=args.batch_size,
            per_device_eval_batch_size=args.eval_batch_size,
            learning_rate=args.learning_rate,
            warmup_steps=args.warmup_ratio,
            weight_decay=args.weight_decay,
            seed=args.seed,
            eval_strategy="epoch" if has_eval else "no",
            save_strategy="epoch",
            save_total_limit=2,
            load_best_model_at_end=has_eval,
            metric_for_best_model="mse" if has_eval else None,
            greater_is_better=False if has_eval else None,
            logging_steps=args.logging_steps,
            bf16=precision == "bf16",
            use_cpu=device.type == "cpu",
            train_sampling_strategy="group_by_length" if args.group_by_length else "random",
            report_to=[],
            **args.extra,
        )
        collator = DataCollatorWithPadding(
            self.tokenizer,
            padding="max_length" if args.pad_to_max_length else "longest",
            max_length=args.max_length if args.pad_to_max_length else None,
        )
        self.trainer = Trainer(
            model=model,
            args=hf_args,
            data_collator=collator,
            train_dataset=train_tok,
            eval_dataset=eval_tok,
            processing_class=self.tokenizer,
            compute_metrics=self._compute_metrics if has_eval else None,
        )
        result = self.trainer.train(resume_from_checkpoint=resume_from)
        metrics = {"train": dict(result.metrics), "precision": precision, "device": str(device), "kept": "best epoch"}
        if has_eval:
            metrics["eval"] = self.trainer.evaluate()
            if args.fallback_to_constant:
                mean = float(np.mean(labels))
                constant = self._constant_eval(mean, eval_tok["labels"])
                # "not <" so that a diverged (NaN) run falls back too.
                if not metrics["eval"]["eval_mse"] < constant["eval_mse"] and self._fall_back_to_constant(
                        mean, constant, metrics["eval"]):
                    metrics["eval"], metrics["kept"] = constant, "constant"
        self.save(out, metrics)
        return metrics

    def _constant_eval(self, mean: float, eval_labels) -> dict:
        """Eval metrics of the constant predictor of ``mean`` (a target), as the trainer reports them."""
        from types import SimpleNamespace

        pred = SimpleNamespace(predictions=np.full(len(eval_labels), mean), label_ids=np.asarray(eval_labels))
        return {f"eval_{k}": v for k, v in self._compute_metrics(pred).items()}

    def _fall_back_to_constant(self, mean: float, constant_eval: dict, best_eval: dict) -> bool:
        steps = decode_prediction(mean, self.settings.label_transform)
        if not _make_constant(self.trainer.model, mean):
            logger.warning(
                "no epoch beat the constant predictor of %.2f steps on the eval set (eval MSE %.4g against %.4g), "
                "but %s has no output bias to make it one: keeping the best epoch",
                steps, best_eval["eval_mse"], constant_eval["eval_mse"], type(self.trainer.model).__name__,
            )
            return False
        logger.warning(
            "no epoch beat the constant predictor of %.2f steps on the eval set (eval MSE %.4g against %.4g after "
            "the best epoch, whose eval Spearman was %.2f): saving that constant, which gives every input the same "
            "score. Train on more theorems, or pass fallback_to_constant=False (--no-fallback-to-constant) to keep "
            "the best epoch, for example when only the ranking of candidates matters.",
            steps, constant_eval["eval_mse"], best_eval["eval_mse"], best_eval.get("eval_spearman", float("nan")),
        )
        return True

    def save(self, out: Path, metrics: dict | None = None) -> None:
        """Write model, tokenizer and settings so a reader never sees a half-written model."""
        if self.trainer is None:
            raise RuntimeError("train() first")
        settings_path = out / "leanprogress_config.json"
        staging = out / f".saving-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        self.trainer.model.save_pretrained(staging)
        self.tokenizer.save_pretrained(staging)
        from ..data.corpus import write_tactic_corpus  # what `leanprogress serve` offers LeanCopilot with this model

        write_tactic_corpus(self.train_dataset.records, staging)
        # The settings file marks a complete model: remove it before swapping
        # files in, write it back last.
        settings_path.unlink(missing_ok=True)
        for item in staging.iterdir():
            os.replace(item, out / item.name)
        staging.rmdir()
        if metrics is not None:
            tmp = out / "training_metrics.json.tmp"
            tmp.write_text(json.dumps(metrics, indent=2, default=str) + "\n", encoding="utf-8")
            os.replace(tmp, out / "training_metrics.json")
        self.settings.save(out)
