"""``ProgressTrainer``: fine-tune an encoder to predict steps remaining on progress records.

Data -> prompts (:class:`~leanprogress.prompt.PromptBuilder`) -> tokens ->
``AutoModelForSequenceClassification``: one output trained with MSE (the
``regression`` head) or ``K + 2`` classes trained with cross-entropy (the
``distribution`` head, :mod:`leanprogress.heads`), by the HuggingFace
``Trainer``; with ``ranking_weight > 0`` also on the order of candidate tactics
of one state (:mod:`leanprogress.training.ranking_objective`); evaluated after every epoch (MSE, MAE, exact-match accuracy,
Spearman); the best epoch on ``selection_metric`` (eval MAE in steps by
default) is kept. Works unchanged under ``torchrun`` / ``accelerate launch``.

Example:
    >>> from leanprogress import ProgressDataset, ProgressTrainer, ProgressTrainingArguments
    >>> train, held_out = ProgressDataset("steps.jsonl").split(eval_ratio=0.2)  # doctest: +SKIP
    >>> args = ProgressTrainingArguments(output_dir="runs/model", epochs=3)    # doctest: +SKIP
    >>> ProgressTrainer(args, train, held_out).train()                         # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Iterable

import numpy as np
from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import ProgressCallback

from .. import heads
from ..baselines import TacticLookup
from ..config import (CHECKPOINTS, RUN_MARKER, SETTINGS_FILE, ModelSettings, ProgressTrainingArguments,
                      decode_prediction, encode_label, newest_checkpoint, records_goal_from)
from ..data.dataset import ProgressDataset
from ..data.records import has_initial_goal
from ..encoder import (DEFAULT_ENCODER_NAME, keep_head_fp32, load_regression_model, load_tokenizer, output_head,
                       resolve_device, resolve_model_name, resolve_precision)
from ..evaluation import compute_metrics
from ..files import atomic_output, publish, settle_modes
from ..lean.expr import CANONICAL_FORM
from ..lean.symbols import tokenizer_needs_normalization
from ..progress import hf_progress_bars, stderr_is_terminal

logger = logging.getLogger(__name__)


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


def _make_constant(model, value) -> bool:
    """Turn the model into the constant predictor of ``value`` (head weights 0, bias ``value``: a number, or
    one logit per class for the distribution head).

    Returns False, changing nothing, for a model whose output layer has no bias.
    """
    import torch

    head = output_head(model)
    if head is None:
        return False
    with torch.no_grad():
        head.weight.zero_()
        head.bias.copy_(torch.tensor(np.broadcast_to(np.asarray(value, dtype=np.float32), head.bias.shape).copy()))
    return True


def _distribution_loss(max_steps: int, per_class=None, ordinal: float = 0.0):
    """Cross-entropy over step classes for the HF Trainer's ``compute_loss_func``; labels are raw steps.

    ``per_class`` (one weight per class, see :func:`class_weights`) weighs each record's term by its class.
    ``ordinal`` adds that weight times the ordinal term: the binary cross-entropy of each tail probability
    ``P(steps > k)`` (``k = 0..K``, from the same softmax) against whether the label is above ``k``. Cross-entropy
    alone charges a prediction of 1 step for a 4-step state as much as one of 0; the ordinal term charges each
    threshold between them, so that mass near the label costs less than mass far from it."""
    import torch

    weights = None if per_class is None else torch.as_tensor(np.asarray(per_class), dtype=torch.float32)

    def loss(outputs, labels, num_items_in_batch=None):
        logits = (outputs["logits"] if isinstance(outputs, dict) else outputs[0]).float()
        classes = labels.round().clamp(0, max_steps + 1).long()
        terms = torch.nn.functional.cross_entropy(logits, classes, reduction="none")
        if ordinal:
            terms = terms + ordinal * _ordinal_terms(logits, classes)
        if weights is not None:
            terms = terms * weights.to(terms.device)[classes]
        # Gradient accumulation and DDP: the Trainer passes the items of the whole optimizer step.
        return terms.sum() / (num_items_in_batch if num_items_in_batch is not None else len(classes))

    return loss


def _ordinal_terms(logits, classes):
    """Per record, the sum over thresholds ``k = 0..K`` of the binary cross-entropy of ``P(class > k)`` against
    ``class > k`` (log-probabilities throughout, so that a confident head does not overflow)."""
    import torch

    logp = torch.log_softmax(logits, dim=-1)
    # log P(class > k) for k = 0..K: log-sum-exp of the classes above k; log P(class <= k) likewise below.
    above = torch.logcumsumexp(logp.flip(-1), dim=-1).flip(-1)[:, 1:]
    below = torch.logcumsumexp(logp, dim=-1)[:, :-1]
    k = torch.arange(logits.shape[-1] - 1, device=logits.device)
    beyond = classes[:, None] > k[None, :]
    return -torch.where(beyond, above, below).sum(dim=-1)


def class_weights(labels, max_steps: int, power: float) -> np.ndarray | None:
    """Per class of the distribution head, ``frequency ** -power`` (add-one frequencies of the training labels),
    scaled so that the mean weight over the training records is 1; None for ``power`` 0.

    Example:
        >>> [round(float(w), 3) for w in class_weights([0, 0, 0, 1], max_steps=1, power=1.0)]
        [0.444, 0.889, 1.333]
    """
    if not power:
        return None
    classes = [heads.step_class(s, max_steps) for s in labels]
    freq = np.bincount(classes, minlength=max_steps + 2).astype(float) + 1.0
    freq /= freq.sum()
    w = freq ** -power
    return w / w[classes].mean()


class _PriorTrainer:
    """Mixed into the HF ``Trainer`` for ``head_prior``: each batch's ``prior`` (the log step distribution of its
    tactics' names) is added to the head's outputs before the loss, in training and evaluation alike, so the
    evaluated logits are the model's as the scorer computes them."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        prior = inputs.pop("prior")
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        outputs["logits"] = outputs["logits"].float() + prior.float()
        loss = self.compute_loss_func(outputs, labels, num_items_in_batch=num_items_in_batch)
        return (loss, outputs) if return_outputs else loss


def _selection(metric: str) -> tuple[str, bool]:
    """HF ``metric_for_best_model`` and ``greater_is_better`` for a selection metric."""
    return metric, metric == "accuracy"


class TokenizedRecords:
    """Tokenized training or eval rows for the HF Trainer: a plain map-style dataset of dicts.

    Plain lists rather than a ``datasets.Dataset``, so training runs where ``datasets`` is not installed
    (GPU images often ship torch and transformers only); the Trainer's length-grouped sampler reads the
    lengths from ``input_ids``.
    """

    def __init__(self, rows: list[dict]):
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict:
        return self.rows[i]

    def __getstate__(self):  # dataloader workers get the rows, nothing else
        return {"rows": self.rows}

    @property
    def labels(self) -> list[float]:
        return [r["labels"] for r in self.rows]


class GroupedBatches:
    """Training or eval batches of a ``group``-kind model for the HF Trainer: each item is a whole batch, laid
    out by :meth:`~leanprogress.batch_layout.GroupLayout.training_batch` (its distinct contexts, its records'
    segments and labels), so records that share a context stay in the batch that encodes it once. The Trainer
    takes one item per step (``per_device_train_batch_size=1``).

    Args:
        batches: the collated batches.
        labels: every record's label, in the order of the batches' rows.
    """

    def __init__(self, batches: list[dict], labels: list[float]):
        self.batches, self._labels = batches, labels

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, i: int) -> dict:
        return self.batches[i]

    @property
    def labels(self) -> list[float]:
        return self._labels


def _one_batch(items: list[dict]) -> dict:
    """The collator of :class:`GroupedBatches`: each item is already a batch."""
    if len(items) != 1:
        raise ValueError(f"group-kind batches come one per step, got {len(items)}")
    return items[0]


class GroupTrainer(Trainer):
    """The HF ``Trainer`` for ``group``-kind models: a batch's rows run through
    :func:`~leanprogress.batch_layout.group_forward` (the model's own forward, its pooler reading each record's
    segment), and the loss is the head's (MSE on the target, or ``compute_loss_func``: the distribution head's
    cross-entropy). Evaluation goes through the same method, so eval figures are those of the layout scoring
    uses."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        import torch

        from ..batch_layout import group_forward

        logits = group_forward(model, inputs)  # the model's forward: under bf16, accelerate's autocast
        labels = inputs["labels"]
        if self.compute_loss_func is not None:
            loss = self.compute_loss_func({"logits": logits}, labels, num_items_in_batch=num_items_in_batch)
        else:
            loss = torch.nn.functional.mse_loss(logits.float().reshape(-1), labels.float().reshape(-1))
        return (loss, {"logits": logits}) if return_outputs else loss


class PromptCache:
    """Token ids of prompts, shared between trainers of one process.

    Building a prompt (symbol rewriting, structural fitting) costs more than a training step on a GPU;
    a sweep that trains several recipes on the same records with the same prompt settings builds each
    prompt once. Entries are keyed by the settings that shape a prompt (tokenizer, template, length,
    normalization, truncation) and the record's goal, prefix and tactic.
    """

    def __init__(self):
        self._entries: dict[tuple, np.ndarray] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)


def json_safe(value):
    """``value`` with every NaN or infinite float replaced by None, so that it is valid JSON (null)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def _clear_checkpoints(ckpt_dir: Path) -> None:
    """Remove an earlier run's checkpoints, so that a later ``--resume`` cannot restore them into this run."""
    old = sorted((p for p in ckpt_dir.glob("checkpoint-*") if p.is_dir()), key=lambda p: p.name)
    if not old:
        return
    logger.warning("training without --resume starts a new run: removing %d checkpoint(s) of an earlier run from %s "
                   "(%s)", len(old), ckpt_dir, ", ".join(p.name for p in old))
    for path in old:
        shutil.rmtree(path)


class SaveSettingsInCheckpoints(TrainerCallback):
    """Write the run's ``leanprogress_config.json`` and tactic lookup into every checkpoint, so that a checkpoint
    scores like the finished model (same prompt format, same label transform) and ``evaluate`` shows it beside
    the same baseline; its files get the usual mode (the safetensors writer leaves weights 0600)."""

    def __init__(self, settings: ModelSettings, lookup: TacticLookup | None = None):
        self.settings, self.lookup = settings, lookup

    def on_save(self, args, state, control, **kwargs):
        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if state.is_world_process_zero and folder.is_dir():
            if self.lookup is not None:
                self.lookup.save(folder)
            self.settings.save(folder)
            settle_modes(folder)


class MarkRunStarted(TrainerCallback):
    """When training starts: mark the output folder as holding an unfinished run, and clear old checkpoints.

    The settings file of a model already there is removed and :data:`~leanprogress.config.RUN_MARKER` written
    (the scorer refuses a folder with it), so an interrupted run never leaves the earlier model's weights and
    settings looking like a finished model beside this run's files. :meth:`ProgressTrainer.save` removes the
    marker once the new model is complete. Runs on the main process only.

    Args:
        folder: the run's output folder.
        clear_checkpoints: remove an earlier run's checkpoints (training without resume).
    """

    def __init__(self, folder: Path, clear_checkpoints: bool):
        self.folder, self.clear_checkpoints = Path(folder), clear_checkpoints
        self.started = False

    def on_train_begin(self, args, state, control, **kwargs):
        self.started = True
        if not state.is_world_process_zero:
            return
        mark_run_started(self.folder)
        if self.clear_checkpoints:
            _clear_checkpoints(self.folder / CHECKPOINTS)


def mark_run_started(folder: str | os.PathLike) -> Path:
    """Mark ``folder`` as holding a training run that has not finished (see :class:`MarkRunStarted`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SETTINGS_FILE).unlink(missing_ok=True)
    with atomic_output(folder / RUN_MARKER) as f:
        f.write(json.dumps({"started": time.strftime("%Y-%m-%d %H:%M:%S"), "pid": os.getpid()}) + "\n")
    return folder / RUN_MARKER


def _eval_line(logs: dict, which: str) -> str:
    """One readable line for the eval metrics the HF Trainer logs."""
    sp = logs.get("eval_spearman")
    sp = f"{sp:.3f}" if isinstance(sp, float) and math.isfinite(sp) else "n/a"
    return (f"{which} eval: MSE {logs['eval_mse']:.4g}, MAE {logs.get('eval_mae', float('nan')):.3f}, "
            f"accuracy {logs.get('eval_accuracy', float('nan')):.3f}, Spearman {sp}")


def _final_eval_label(args, state) -> str:
    """What the evaluation after training measures: the best epoch, reloaded, in fp32 when training ran bf16."""
    step = getattr(state, "best_global_step", None)
    epoch = next((e.get("epoch") for e in state.log_history if e.get("step") == step and "epoch" in e), None)
    which = f"best epoch ({epoch:g})" if epoch is not None else "kept model"
    # The epochs were evaluated under bf16 autocast; the kept model is evaluated again in fp32, as `evaluate`
    # scores the saved model, so its figures differ a little from that epoch's line.
    return which + (" in fp32" if getattr(args, "bf16", False) else "")


class ProgressLines(TrainerCallback):
    """Plain progress lines on stderr for a log file, in place of progress bars.

    Args:
        every: seconds between training lines (step, epoch, loss, time left); every
            evaluation gets its line.
        stream: where to write (default ``sys.stderr`` at the time of writing).
    """

    def __init__(self, every: float = 30.0, stream=None):
        self.every, self.stream = every, stream
        self.start = self.last = None
        self.first_step = 0
        self.ended = False  # evaluations after training are of the kept model

    def _print(self, line: str) -> None:
        print(line, file=self.stream or sys.stderr, flush=True)

    def on_train_begin(self, args, state, control, **kwargs):
        self.start, self.last, self.ended = time.monotonic(), None, False
        self.first_step = state.global_step  # a resumed run starts at its checkpoint's step
        if state.is_world_process_zero:
            resumed = f", resuming at step {state.global_step}" if state.global_step else ""
            self._print(f"training: {state.max_steps} steps, {args.num_train_epochs:g} epoch(s){resumed}")

    def on_train_end(self, args, state, control, **kwargs):
        self.ended = True

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        now = time.monotonic()
        if "eval_mse" in logs:
            which = _final_eval_label(args, state) if self.ended else f"epoch {state.epoch:g}"
            self._print(_eval_line(logs, which))
        elif "loss" in logs and (self.last is None or now - self.last >= self.every
                                 or state.global_step >= state.max_steps):
            self.last = now
            elapsed = now - (self.start or now)
            # The pace of this run's own steps: a resumed run did the checkpoint's steps before it started.
            ran = state.global_step - self.first_step
            timing = f"{_duration(elapsed)} elapsed"
            if ran > 0 and state.global_step < state.max_steps:
                timing += f", about {_duration(elapsed * (state.max_steps - state.global_step) / ran)} left"
            self._print(f"step {state.global_step}/{state.max_steps} (epoch {state.epoch:.2f}): "
                        f"loss {logs['loss']:.4g}, {timing}")


class ProgressBars(ProgressCallback):
    """HF's progress bars on a terminal, with the lines :class:`ProgressLines` prints for evaluations in place of
    the Trainer's raw metric dicts; the training loss shows beside the bar."""

    def __init__(self):
        super().__init__()
        self.ended = False

    def on_train_begin(self, args, state, control, **kwargs):
        self.ended = False
        super().on_train_begin(args, state, control, **kwargs)

    def on_train_end(self, args, state, control, **kwargs):
        self.ended = True
        super().on_train_end(args, state, control, **kwargs)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        if "eval_mse" in logs:
            which = _final_eval_label(args, state) if self.ended else f"epoch {state.epoch:g}"
            line = _eval_line(logs, which)
            if self.training_bar is not None:
                self.training_bar.write(line, file=sys.stderr)
            else:
                print(line, file=sys.stderr, flush=True)
        elif "loss" in logs and self.training_bar is not None:
            self.training_bar.set_postfix(loss=f"{logs['loss']:.4g}", refresh=False)


class _DropTrainerNoise(logging.Filter):
    """transformers' note that two checkpoints saved within a second have 'unreliable mtimes' (it then sorts
    them by step, which is right): on small runs it only alarms."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "mtime may not be reliable" not in str(record.msg)


def _figure_name(key: str) -> str:
    """``eval_mae`` as a message names it: ``eval MAE``."""
    name = key.removeprefix("eval_")
    return "eval " + (name.upper() if name in ("mae", "mse") else name)


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


class ProgressTrainer:
    """Train a steps-remaining regressor.

    Args:
        args: :class:`~leanprogress.config.ProgressTrainingArguments`.
        train_dataset: records to train on (a :class:`ProgressDataset`, a
            JSONL path or a list of record dicts).
        eval_dataset: held-out records, evaluated after every epoch; the best
            epoch on ``args.selection_metric`` is the one saved. Split it off by
            theorem (:meth:`ProgressDataset.split`), never by row.
        callbacks: extra ``transformers.TrainerCallback`` objects (for example to
            score other held-out sets after every epoch).
        prompt_cache: a :class:`PromptCache` shared with other trainers, so
            prompts are built once per record and prompt settings.

    Under ``torchrun`` or ``accelerate launch`` (one process per device) it
    runs unchanged: every process builds the same split, lookup and tokens,
    the HF Trainer shards batches, and only the main process writes files.

    After :meth:`train`, ``args.output_dir`` holds ``model.safetensors``, the
    tokenizer, ``config.json``, ``tactic_lookup.json`` (the tactic-name
    baseline fit on the training records, see :mod:`leanprogress.baselines`)
    and ``leanprogress_config.json`` (template, length, normalization, label
    and head settings). The settings file is written
    last: a folder without it is an interrupted run, and
    :class:`~leanprogress.scoring.LeanProgressScorer` refuses it. Each
    checkpoint in ``checkpoints/`` carries the same settings file, so it can be
    scored too. Progress: bars on a terminal, :class:`ProgressLines` otherwise.
    """

    def __init__(
        self,
        args: ProgressTrainingArguments,
        train_dataset: ProgressDataset | str | os.PathLike | Iterable[dict],
        eval_dataset: ProgressDataset | str | os.PathLike | Iterable[dict] | None = None,
        callbacks: list | None = None,
        prompt_cache: PromptCache | None = None,
    ):
        if not isinstance(args, ProgressTrainingArguments):
            raise TypeError(f"args must be ProgressTrainingArguments, got {type(args).__name__}")
        self.args = args
        self.train_dataset = _as_dataset(train_dataset)
        self.eval_dataset = _as_dataset(eval_dataset)
        if self.train_dataset is None or len(self.train_dataset) == 0:
            raise ValueError("train_dataset has no records")
        if args.initial_goals == "drop":
            self.train_dataset = self._drop_initial_goals(self.train_dataset, "training")
            if self.eval_dataset is not None:
                self.eval_dataset = self._drop_initial_goals(self.eval_dataset, "eval")
            if len(self.train_dataset) == 0:
                raise ValueError("initial_goals='drop' left no training records: every record's goal is an "
                                 "initial state standing in (goal_state 'initial')")
        if self.eval_dataset is not None and len(self.eval_dataset) == 0:
            self.eval_dataset = None
        self.model_name = resolve_model_name(args.model_name)
        self.tokenizer = load_tokenizer(args.model_name, role="encoder")
        normalize = {"yes": True, "no": False}.get(args.normalize_symbols)
        if normalize is None:
            normalize = tokenizer_needs_normalization(self.tokenizer)
        train_labels = self.train_dataset.labels
        distribution = args.head == "distribution"
        self.settings = ModelSettings(
            template=args.template,
            max_length=args.max_length,
            normalize_symbols=normalize,
            label_transform=args.label_transform,
            truncation=args.truncation,
            base_model=args.model_name or f"{DEFAULT_ENCODER_NAME} (bundled)",
            head=args.head,
            head_max_steps=args.head_max_steps if distribution else 0,
            head_more_steps=heads.more_steps_of(train_labels, args.head_max_steps) if distribution else 0.0,
            point_estimate=args.point_estimate,
            rank_by=args.rank_by,
            goal_from=records_goal_from(self.train_dataset.records),
            canonicalize_goals=args.canonicalize_goals,
            initial_goals=args.initial_goals,
            canonical_form=CANONICAL_FORM,
            ranking_weight=args.ranking_weight,
            head_prior=args.head_prior,
            encoder_kind=args.encoder_kind,
        )
        if self.settings.goal_from == "mixed":
            logger.warning("the training records mix goal_from kinds (states before and after tactics): prove will "
                           "need an explicit --score-mode for this model")
        # How records become encoder passes: the same layout the scorer reads the saved model with.
        self.layout = self.settings.layout(self.tokenizer)
        self.builder = self.layout.builder
        # Fit on the records as trained on (weights included), the same on every process; keyed as the prior asks.
        self.lookup = TacticLookup.fit(self.train_dataset.records,
                                       key="name+blocks" if self.settings.head_prior == "block-lookup" else "name")
        self.callbacks = list(callbacks or [])
        self.prompt_cache = prompt_cache
        self.trainer = None
        self.ranking_stats = None  # what the ranking objective drew (train() with ranking_weight > 0)
        self._class_weights = None  # per class of the distribution head, with class_weighting (set in train())

    @staticmethod
    def _drop_initial_goals(data: ProgressDataset, what: str) -> ProgressDataset:
        kept = [r for r in data.records if not has_initial_goal(r)]
        if len(kept) < len(data):
            logger.info("initial_goals='drop': %d of %d %s records read an initial state standing in; trained on "
                        "the other %d", len(data) - len(kept), len(data), what, len(kept))
            return ProgressDataset(kept)
        return data

    # Settings that do not change a prompt's tokens; every other field (including ones added later) is in the
    # prompt cache's key, so a new prompt setting can never reuse stale tokens.
    # ``initial_goals`` is left out because each record's key says whether its prompt was marked.
    _NOT_PROMPT = frozenset({"head", "head_max_steps", "head_more_steps", "point_estimate", "rank_by", "label_transform",
                             "base_model", "format_version", "initial_goals", "ranking_weight", "head_prior"})

    def _cache_key(self) -> tuple:
        from dataclasses import asdict

        prompt = sorted((k, repr(v)) for k, v in asdict(self.settings).items() if k not in self._NOT_PROMPT)
        return (self.model_name, *prompt)

    def _encode_prompts(self, goals, tactics, prefixes, initial=None) -> list[np.ndarray]:
        """Token ids of each record's prompt, from the prompt cache where it has them.

        ``initial`` flags the records whose goal is an initial state standing in (see ``initial_goals``).
        """
        initial = [bool(x) for x in initial] if initial is not None else [False] * len(goals)
        cache = self.prompt_cache
        if cache is None:
            return [np.asarray(ids, dtype=np.int32) for ids in
                    self.builder.encode(self.builder.build_many(goals, tactics, prefixes, initial))["input_ids"]]
        base = self._cache_key()
        mark = self.builder.mark_initial
        keys = [base + (g, p, t, m and mark) for g, t, p, m in zip(goals, tactics, prefixes, initial)]
        missing = [i for i, k in enumerate(keys) if k not in cache._entries]
        cache.hits += len(keys) - len(missing)
        cache.misses += len(missing)
        if missing:
            built = self.builder.encode(self.builder.build_many(
                [goals[i] for i in missing], [tactics[i] for i in missing], [prefixes[i] for i in missing],
                [initial[i] for i in missing]))
            for i, ids in zip(missing, built["input_ids"]):
                cache._entries[keys[i]] = np.asarray(ids, dtype=np.int32)
        return [cache._entries[k] for k in keys]

    def _encode_groups(self, goals, tactics, prefixes, initial) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Group kind: token ids of each record's context and of its segment, from the prompt cache where it has
        them (a context is keyed by its goal, prefix and initial mark, a segment by its tactic)."""
        cache = self.prompt_cache
        if cache is None:
            built = self.layout.build(goals, tactics, prefixes, initial)
            contexts, segments = self.layout.encode(built)
            return ([np.asarray(contexts[g], dtype=np.int32) for g in built.group_of],
                    [np.asarray(ids, dtype=np.int32) for ids in segments])
        base = self._cache_key()
        mark = self.builder.mark_initial
        ckeys = [base + ("context", g, p, bool(m) and mark) for g, p, m in zip(goals, prefixes, initial)]
        skeys = [base + ("segment", t) for t in tactics]
        missing = [i for i in range(len(goals)) if ckeys[i] not in cache._entries or skeys[i] not in cache._entries]
        cache.hits += len(goals) - len(missing)
        cache.misses += len(missing)
        if missing:
            built = self.layout.build([goals[i] for i in missing], [tactics[i] for i in missing],
                                      [prefixes[i] for i in missing], [initial[i] for i in missing])
            contexts, segments = self.layout.encode(built)
            for j, i in enumerate(missing):
                cache._entries[ckeys[i]] = np.asarray(contexts[built.group_of[j]], dtype=np.int32)
                cache._entries[skeys[i]] = np.asarray(segments[j], dtype=np.int32)
        return [cache._entries[k] for k in ckeys], [cache._entries[k] for k in skeys]

    def _labels(self, records: list[dict]) -> list[float]:
        """Training targets: raw steps for the distribution head (its loss cuts classes at K, and eval figures
        stay in steps above K), the label transform's target for regression."""
        if self.settings.head == "distribution":
            return [float(r["steps_remaining"]) for r in records]
        return [encode_label(r["steps_remaining"], self.settings.label_transform) for r in records]

    def _tokenize_groups(self, data: ProgressDataset, seed: int | None, by_length: bool = True) -> GroupedBatches:
        """Group kind: ``data`` as whole batches of about ``batch_size`` records (``eval_batch_size`` without a
        seed), records with the same context in one batch (:func:`~leanprogress.batch_layout.compose_batches`;
        ``seed`` shuffles, None keeps evaluation in a fixed order; ``by_length`` batches similar lengths)."""
        from ..batch_layout import compose_batches

        records = data.records
        contexts, segments = self._encode_groups([r["goal"] for r in records], [r["tactic"] for r in records],
                                                 [r["prefix"] for r in records],
                                                 [has_initial_goal(r) for r in records])
        keys = [c.tobytes() for c in contexts]  # records whose contexts read alike share one
        size = self.args.batch_size if seed is not None else self.args.eval_batch_size
        labels = self._labels(records)
        batches, ordered = [], []
        lengths = [len(c) + len(t) for c, t in zip(contexts, segments)]  # a record's tokens
        for members in compose_batches(keys, lengths, size, seed, by_length):
            local: dict[bytes, int] = {}
            for i in members:
                local.setdefault(keys[i], len(local))
            firsts = {}
            for i in members:
                firsts.setdefault(keys[i], i)
            batches.append(self.layout.training_batch([contexts[firsts[k]].tolist() for k in local],
                                                      [segments[i].tolist() for i in members],
                                                      [local[keys[i]] for i in members],
                                                      [labels[i] for i in members]))
            ordered += [labels[i] for i in members]
        return GroupedBatches(batches, ordered)

    def head_prior_of(self, tactics) -> np.ndarray | None:
        """What the head's outputs are added to for these tactics (``head_prior``), or None without a prior."""
        if self.settings.head_prior == "none":
            return None
        return self.lookup.class_log_prior(list(tactics), self.settings.head_max_steps)

    def _tokenize(self, data: ProgressDataset, desc: str, groups: list | None = None) -> "TokenizedRecords":
        """Token ids and labels of ``data``; with ``groups`` (the ranking objective's, one per record), each row
        also carries its group's sequences (``rank_ids``) and pairs (``rank_pairs``)."""
        transform, distribution = self.settings.label_transform, self.settings.head == "distribution"
        uses_token_types = "token_type_ids" in self.tokenizer.model_input_names
        from tqdm.auto import tqdm

        records = data.records
        rows: list[dict] = []
        step = 256
        # In a log file every redraw of a bar is a new line: there, the trainer's own lines report progress.
        with tqdm(total=len(records), desc=desc, unit=" records", mininterval=5.0,
                  disable=len(records) < 2 * step or not stderr_is_terminal()) as bar:
            for start in range(0, len(records), step):
                batch = records[start:start + step]
                goals, tactics, prefixes = [r["goal"] for r in batch], [r["tactic"] for r in batch], \
                    [r["prefix"] for r in batch]
                initial = [has_initial_goal(r) for r in batch]
                if groups is not None:
                    # A group's candidates share the anchor's goal and prefix: one call builds them all, and the
                    # prompt builder does the work on a shared goal once.
                    for r, g in zip(batch, groups[start:start + step]):
                        extra = [records[j]["tactic"] for j in g.siblings] + g.negatives
                        goals += [r["goal"]] * len(extra)
                        prefixes += [r["prefix"]] * len(extra)
                        tactics += extra
                        initial += [has_initial_goal(r)] * len(extra)  # laid out as the anchor's state
                ids = self._encode_prompts(goals, tactics, prefixes, initial)
                prior = self.head_prior_of(tactics[:len(batch)])
                extra_ids = iter(ids[len(batch):])
                for k, (r, x) in enumerate(zip(batch, ids)):
                    row = {"input_ids": x.tolist(), "attention_mask": [1] * len(x)}
                    if uses_token_types:
                        row["token_type_ids"] = [0] * len(x)
                    # The distribution head's loss reads raw steps (classes are cut at K inside it), so that
                    # eval figures stay in steps for labels above K too.
                    steps = r["steps_remaining"]
                    row["labels"] = float(steps) if distribution else encode_label(steps, transform)
                    if prior is not None:
                        row["prior"] = prior[k].tolist()
                    if groups is not None:
                        g = groups[start + k]
                        row["rank_ids"] = [next(extra_ids).tolist() for _ in range(len(g.siblings) + len(g.negatives))]
                        row["rank_pairs"] = [list(p) for p in g.pairs]
                        row["rank_steps"] = [float(v) for v in g.better_steps]
                    rows.append(row)
                bar.update(len(batch))
        return TokenizedRecords(rows)

    def decode(self, raw) -> np.ndarray:
        """Model outputs (one row per example) to predicted steps, as the scorer computes them."""
        s = self.settings
        if s.head == "distribution":
            return heads.point_estimate(heads.softmax(np.asarray(raw).reshape(-1, s.num_labels)),
                                        s.point_estimate, s.head_more_steps)
        return heads.decode_regression(raw, s.label_transform)

    def _label_steps(self, label_ids) -> list[int]:
        labels = np.asarray(label_ids, dtype=float).reshape(-1)
        if self.settings.head == "distribution":
            return [int(round(v)) for v in labels]
        return [round(decode_prediction(float(v), self.settings.label_transform)) for v in labels]

    def _compute_metrics(self, eval_pred) -> dict:
        preds = self.decode(eval_pred.predictions)
        steps = self._label_steps(eval_pred.label_ids)
        if not np.isfinite(preds).all():
            # A diverged epoch: no figures, and the worst value of every selection figure, so that it is never
            # kept as the best one.
            bad = int((~np.isfinite(preds)).sum())
            logger.warning("%d of %d eval predictions are NaN or too large to be step counts: training diverged "
                           "(lower the learning rate)", bad, len(preds))
            nan = float("nan")
            return {"mse": math.inf, "mae": math.inf, "accuracy": -math.inf, "within_one": nan, "spearman": nan,
                    "constant_mae": nan, "constant_accuracy": nan}
        m = compute_metrics(preds, steps)
        return {k: m[k] for k in ("mse", "mae", "accuracy", "within_one")} | {
            "spearman": m["spearman"] if m["spearman"] is not None else float("nan"),
            "constant_mae": m["best_constant"]["mae"]["value"],
            "constant_accuracy": m["best_constant"]["accuracy"]["value"],
        }

    def _constant(self, train_labels):
        """The constant predictor's output: the mean target (regression), the class log-frequencies, or with
        ``head_prior`` zeros (the head adds nothing: the lookup alone is the fallback)."""
        if self.settings.head_prior != "none":
            return np.zeros(self.settings.num_labels)
        if self.settings.head == "distribution":
            return heads.prior_logits(self.train_dataset.labels, self.settings.head_max_steps)
        return float(np.mean(train_labels))

    def train(self) -> dict:
        """Train, keep the best epoch, save it atomically; returns final metrics.

        A folder that already holds a finished model gets a warning first; once training starts the folder is
        marked unfinished (:class:`MarkRunStarted`) until the new model is saved. A start that fails before
        training begins leaves the folder as it was.
        """
        args = self.args
        out = Path(args.output_dir)
        ckpt_dir = out / CHECKPOINTS
        # Folders this run would create: a start that fails (a bad encoder, no memory) removes them again.
        created = [p for p in (ckpt_dir, out) if not p.exists()]
        resume_from = None
        if args.resume:
            newest = newest_checkpoint(ckpt_dir)
            resume_from = str(newest) if newest is not None else None
            if resume_from is None:
                logger.warning("--resume: no checkpoint in %s; training from the start", ckpt_dir)
            else:
                logger.info("resuming from %s", resume_from)
        if (out / SETTINGS_FILE).is_file() and self._is_main_process():
            logger.warning("%s holds a finished model: this run replaces it. From the start of training until the "
                           "new model is saved the folder is marked unfinished (%s) and cannot be scored; an "
                           "interrupted run is continued with --resume", out, RUN_MARKER)
        start = MarkRunStarted(out, clear_checkpoints=not args.resume)
        try:
            return self._train(out, ckpt_dir, resume_from, start)
        except BaseException:
            if not start.started:
                for folder in created:  # nothing of this run was written: leave the disk as it was
                    with contextlib.suppress(OSError):
                        folder.rmdir()
            raise

    @staticmethod
    def _is_main_process() -> bool:
        """False on the non-zero ranks of a torchrun / accelerate launch (before the HF Trainer exists)."""
        return int(os.environ.get("RANK", "0")) == 0

    def _train(self, out: Path, ckpt_dir: Path, resume_from: str | None, start: MarkRunStarted) -> dict:
        from transformers import DataCollatorWithPadding, TrainingArguments

        args = self.args
        terminal = stderr_is_terminal()

        ranking = args.ranking_weight > 0
        groups = None
        if ranking:
            from .ranking_objective import RankingStats, ranking_groups

            stats = RankingStats()
            groups = ranking_groups(self.train_dataset.records, args.ranking_negatives, args.ranking_negatives_from,
                                    args.seed, stats)
            self.ranking_stats = stats
            logger.info("ranking objective (weight %g): %d tactics of other theorems and %d other tactics of the same "
                        "state beside %d records, %d pairs", args.ranking_weight, stats.negatives, stats.sibling_pairs,
                        stats.records, stats.pairs)
            if stats.short_of_negatives:
                logger.warning("ranking objective: %d of %d records got fewer than %d negative(s): their source "
                               "holds too few tactics of other theorems (ranking_negatives_from='any' draws from "
                               "every source)", stats.short_of_negatives, stats.records, args.ranking_negatives)
        group = self.settings.encoder_kind == "group"
        with hf_progress_bars(terminal):
            if group:
                train_tok = self._tokenize_groups(self.train_dataset, args.seed, args.group_by_length)
                eval_tok = self._tokenize_groups(self.eval_dataset, None) if self.eval_dataset else None
            else:
                train_tok = self._tokenize(self.train_dataset, "Tokenizing train", groups)
                eval_tok = self._tokenize(self.eval_dataset, "Tokenizing eval") if self.eval_dataset else None
        labels = train_tok.labels
        distribution = self.settings.head == "distribution"
        model = load_regression_model(args.model_name, role="encoder", num_labels=self.settings.num_labels)
        if group:
            self.layout.check_model(model)
        constant = self._constant(labels)
        prior = self.settings.head_prior != "none"
        if prior and resume_from is None:
            # The model starts near the lookup: a zero bias, and the head's small random weights (a head of zeros
            # would start exactly at it, but then the encoder gets no gradient until the head has grown, and one
            # epoch learned nothing beyond the lookup).
            head = output_head(model)
            if head is not None and head.bias is not None:
                import torch

                with torch.no_grad():
                    head.bias.zero_()
        elif args.init_head_bias and resume_from is None:
            if distribution:
                # Start at the training prior: the head learns how this input differs from it.
                head = output_head(model)
                if head is not None:
                    import torch

                    with torch.no_grad():
                        head.bias.copy_(torch.as_tensor(constant, dtype=head.bias.dtype))
            else:
                _start_at_the_mean(model, labels)
        device = resolve_device(args.device)
        precision = resolve_precision(args.precision, device)
        if precision == "bf16":
            # Under bf16 autocast the head would round every prediction to 8 significant bits: evaluation ties
            # candidates and its Spearman is not the one `evaluate` (fp32) reports on the saved model.
            keep_head_fp32(model)
        has_eval = eval_tok is not None
        metric, greater = _selection(args.selection_metric)
        hf_kwargs = dict(
            output_dir=str(ckpt_dir),
            num_train_epochs=args.epochs,
            # A group-kind item is a whole batch (GroupedBatches).
            per_device_train_batch_size=1 if group else args.batch_size,
            per_device_eval_batch_size=1 if group else args.eval_batch_size,
            learning_rate=args.learning_rate,
            warmup_steps=args.warmup_ratio,
            weight_decay=args.weight_decay,
            seed=args.seed,
            eval_strategy="epoch" if has_eval else "no",
            save_strategy="epoch",
            save_total_limit=2,
            load_best_model_at_end=has_eval,
            metric_for_best_model=metric if has_eval else None,
            greater_is_better=greater if has_eval else None,
            logging_steps=args.logging_steps,
            bf16=precision == "bf16",
            use_cpu=device.type == "cpu",
            train_sampling_strategy="group_by_length" if args.group_by_length and not group else "random",
            report_to=[],
            # Every parameter gets a gradient (encoder, pooler, head): skip DDP's search for unused ones.
            ddp_find_unused_parameters=False,
            disable_tqdm=not terminal,  # bars on a terminal, a few plain lines in a log file (ProgressLines)
        )
        if ranking or prior or group:
            # A row's group (ranking), its prior, or a batch's contexts and segments (group kind) travel in keys the
            # model's forward does not take.
            hf_kwargs["remove_unused_columns"] = False
        hf_args = TrainingArguments(**(hf_kwargs | args.extra))
        padding = dict(padding="max_length" if args.pad_to_max_length else "longest",
                       max_length=args.max_length if args.pad_to_max_length else None)
        common = dict(
            model=model,
            args=hf_args,
            train_dataset=train_tok,
            eval_dataset=eval_tok,
            processing_class=self.tokenizer,
            compute_metrics=self._compute_metrics if has_eval else None,
            callbacks=[start, SaveSettingsInCheckpoints(self.settings, self.lookup), *self.callbacks],
        )
        if ranking:
            from .ranking_objective import RankingCollator, RankingTrainer

            self.trainer = RankingTrainer(
                data_collator=RankingCollator(self.tokenizer, **padding), ranking_weight=args.ranking_weight,
                ranking_margin=args.ranking_margin, head=self.settings.head,
                head_max_steps=self.settings.head_max_steps, **common)
        elif group:
            self.trainer = GroupTrainer(
                data_collator=_one_batch,
                compute_loss_func=_distribution_loss(self.settings.head_max_steps, ordinal=args.ordinal_weight)
                if distribution else None,
                **common)
        else:
            weights = self._class_weights = class_weights(labels, self.settings.head_max_steps,
                                                          args.class_weighting) if distribution else None
            trainer_class = type("PriorTrainer", (_PriorTrainer, Trainer), {}) if prior else Trainer
            self.trainer = trainer_class(
                data_collator=DataCollatorWithPadding(self.tokenizer, **padding),
                compute_loss_func=_distribution_loss(self.settings.head_max_steps, weights, args.ordinal_weight)
                if distribution else None,
                **common)
        from transformers.trainer_callback import PrinterCallback

        if terminal:  # bars, with readable evaluation lines instead of the Trainer's raw dicts
            self.trainer.remove_callback(ProgressCallback)
            self.trainer.add_callback(ProgressBars())
        else:
            self.trainer.remove_callback(PrinterCallback)
            self.trainer.add_callback(ProgressLines())
        noise = _DropTrainerNoise()
        hf_utils_logger = logging.getLogger("transformers.trainer_utils")
        hf_utils_logger.addFilter(noise)
        try:
            with hf_progress_bars(terminal):
                result = self.trainer.train(resume_from_checkpoint=resume_from)
        finally:
            hf_utils_logger.removeFilter(noise)
        state = self.trainer.state
        kept_step = getattr(state, "best_global_step", None) or state.global_step
        kept_epoch = next((e["epoch"] for e in state.log_history if e.get("step") == kept_step and "epoch" in e),
                          state.epoch)
        train_metrics = dict(result.metrics)
        if group and train_metrics.get("train_runtime"):
            # The Trainer counts its items, which are whole batches here: report records, as for a cross-encoder.
            train_metrics["train_samples_per_second"] = round(
                len(self.train_dataset) * args.epochs / train_metrics["train_runtime"], 3)
        metrics = {"train": train_metrics, "precision": precision, "device": str(device), "kept": "best epoch",
                   "kept_epoch": kept_epoch, "selection_metric": args.selection_metric, "head": self.settings.head,
                   "encoder_kind": self.settings.encoder_kind,
                   "world_size": self.trainer.args.world_size}
        if ranking:
            metrics["ranking"] = {"weight": args.ranking_weight, "negatives_per_record": args.ranking_negatives,
                                  "negatives_from": args.ranking_negatives_from, "margin": args.ranking_margin,
                                  **self.ranking_stats.as_dict()}
        if has_eval:
            if precision == "bf16":
                # The reported figures come from the kept model in fp32, as `evaluate` computes them on the saved
                # model (bf16 only chose the epoch): remove accelerate's autocast wrapper from its forward.
                from accelerate.utils import extract_model_from_parallel

                extract_model_from_parallel(self.trainer.model, keep_fp32_wrapper=False)
            with hf_progress_bars(terminal):
                metrics["eval"] = self.trainer.evaluate()
            const_eval = self._constant_eval(constant, eval_tok.labels)
            metrics["learned_beyond_constant"] = self._check_learned(metrics["eval"], const_eval)
            if args.fallback_to_constant:
                key = f"eval_{metric}"
                model_value, const_value = metrics["eval"][key], const_eval[key]
                # "not better" so that a diverged (NaN) run falls back too.
                better = model_value > const_value if greater else model_value < const_value
                if not better and self._fall_back_to_constant(constant, const_eval, metrics["eval"], key):
                    metrics["eval"], metrics["kept"] = const_eval, "constant"
        if self.trainer.is_world_process_zero():
            self.save(out, metrics)
            if not args.keep_checkpoints:
                # The model is complete: its checkpoints (weights and optimizer state) only served an interrupted run.
                shutil.rmtree(ckpt_dir, ignore_errors=True)
        # Other processes return once the model is on disk.
        self.trainer.accelerator.wait_for_everyone()
        return json_safe(metrics)

    def _constant_eval(self, constant, eval_labels) -> dict:
        """Eval metrics of the constant predictor (a target, or class logits), as the trainer reports them."""
        from types import SimpleNamespace

        import torch

        labels = np.asarray(eval_labels, dtype=float)
        n = len(labels)
        if self.settings.head == "distribution":
            raw = np.tile(np.asarray(constant, dtype=float), (n, 1))
            prior = self.head_prior_of([r["tactic"] for r in self.eval_dataset.records])
            if prior is not None:
                raw = raw + prior
            # The same loss as the model's eval loss (weighted by class, with the ordinal term, as training was).
            head_loss = _distribution_loss(self.settings.head_max_steps, self._class_weights, self.args.ordinal_weight)
            loss = float(head_loss({"logits": torch.as_tensor(raw)}, torch.as_tensor(labels)))
        else:
            raw = np.full(n, float(constant))
            loss = float(np.mean((labels - float(constant)) ** 2))
        pred = SimpleNamespace(predictions=raw, label_ids=labels)
        return {f"eval_{k}": v for k, v in self._compute_metrics(pred).items()} | {"eval_loss": loss}

    # The kept model must cut the constant predictor's eval loss by at least this fraction to count as having
    # learned something from its inputs.
    _LEARNED_MARGIN = 0.01

    def _check_learned(self, best_eval: dict, constant_eval: dict) -> bool:
        """Whether the kept epoch's eval loss beats the constant predictor's (warns when it does not).

        A run whose training stalled at the label frequencies (as the distribution head did in some runs: every
        input gets the class prior) can still edge the constant on MAE by chance and be kept; its loss gives it
        away.
        """
        model_loss, const_loss = best_eval.get("eval_loss"), constant_eval["eval_loss"]
        if model_loss is None or not math.isfinite(model_loss):
            return False
        if model_loss < const_loss - self._LEARNED_MARGIN * abs(const_loss):
            return True
        logger.warning(
            "the kept model's eval loss (%.4g) is no better than the constant predictor's (%.4g): it learned "
            "nothing beyond the training labels' %s, so its predictions hardly depend on the input. Train "
            "longer, on more theorems, or with another learning rate or seed (the distribution head can stall "
            "at the class frequencies for whole runs).",
            model_loss, const_loss, "class frequencies" if self.settings.head == "distribution" else "mean")
        return False

    def _fall_back_to_constant(self, constant, constant_eval: dict, best_eval: dict, key: str = "eval_mse") -> bool:
        if self.settings.head_prior != "none":
            if not _make_constant(self.trainer.model, constant):
                return False
            logger.warning("no epoch beat the tactic-name lookup the head corrects on the eval set (%s %.4g against "
                           "%.4g): saving the lookup alone (a head of zeros)", _figure_name(key), constant_eval[key],
                           best_eval[key])
            return True
        steps = float(self.decode(np.atleast_2d(np.asarray(constant, dtype=float)))[0])
        if not _make_constant(self.trainer.model, constant):
            logger.warning(
                "no epoch beat the constant predictor of %.2f steps on the eval set (%s %.4g against %.4g), "
                "but %s has no output bias to make it one: keeping the best epoch",
                steps, _figure_name(key), best_eval[key], constant_eval[key], type(self.trainer.model).__name__,
            )
            return False
        logger.warning(
            "no epoch beat the constant predictor of %.2f steps on the eval set (%s %.4g against %.4g after "
            "the best epoch, whose eval Spearman was %.2f): saving that constant, which gives every input the same "
            "score. Train on more theorems, or pass fallback_to_constant=False (--no-fallback-to-constant) to keep "
            "the best epoch, for example when only the ranking of candidates matters.",
            steps, _figure_name(key), constant_eval[key], best_eval[key], best_eval.get("eval_spearman", float("nan")),
        )
        return True

    def save(self, out: Path, metrics: dict | None = None) -> None:
        """Write model, tokenizer and settings so a reader never sees a half-written model."""
        if self.trainer is None:
            raise RuntimeError("train() first")
        settings_path = out / SETTINGS_FILE
        staging = out / f".saving-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        with hf_progress_bars():
            self.trainer.model.save_pretrained(staging)
        self.tokenizer.save_pretrained(staging)
        from ..data.corpus import write_tactic_corpus  # what `leanprogress serve` offers LeanCopilot with this model

        write_tactic_corpus(self.train_dataset.records, staging)
        self.lookup.save(staging)  # the tactic-name baseline `evaluate` shows beside this model
        # The settings file marks a complete model: remove it before swapping
        # files in, write it back last.
        settings_path.unlink(missing_ok=True)
        for item in staging.iterdir():
            # The mode open() would give (the safetensors writer leaves weights 0600: unreadable to the other
            # accounts a shared model is for).
            publish(item, out / item.name)
        staging.rmdir()
        if metrics is not None:
            with atomic_output(out / "training_metrics.json") as f:
                # allow_nan=False: an undefined figure (Spearman of a constant) is null, never a bare NaN.
                f.write(json.dumps(json_safe(metrics), indent=2, default=str, allow_nan=False) + "\n")
        self.settings.save(out)
        (out / RUN_MARKER).unlink(missing_ok=True)  # the model is complete
