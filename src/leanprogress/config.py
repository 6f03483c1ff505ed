"""Configuration: training arguments and the settings saved with a model.

Everything that decides how a record becomes a number lives in
:class:`ModelSettings` and is written to ``leanprogress_config.json`` next to
the weights, so a scorer reproduces the trainer's input exactly.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from .batch_layout import ENCODER_KINDS
from .files import atomic_output, json_error
from .heads import HEADS, POINT_ESTIMATES, RANK_BY, decode_regression
from .lean.expr import CANONICAL_FORMS
from .prompt import DEFAULT_TEMPLATE, TRUNCATIONS, PromptBuilder, PromptTemplate

SETTINGS_FILE = "leanprogress_config.json"
CHECKPOINTS = "checkpoints"
"""Folder inside a run's output folder that holds its epoch checkpoints (each with its own settings file)."""
RUN_MARKER = "training_in_progress.json"
"""Written into an output folder when training starts and removed once the model is saved: a folder holding it
is an unfinished run (interrupted, failed or still running), which the scorer refuses."""
LABEL_TRANSFORMS = ("none", "log1p")
GOAL_FROMS = ("", "state_before", "state_after", "mixed")
PRECISIONS = ("auto", "fp32", "bf16")
FORMAT_VERSION = 2
"""The newest settings format this version reads: 2 adds ``encoder_kind``. A cross-encoder is saved as format 1
(what earlier versions read, ignoring the new key); a group-kind model as 2, which they cannot score."""
SELECTION_METRICS = ("mae", "accuracy", "mse", "loss")
"""Figures the best epoch (and the constant fallback) can be chosen on; see ``ProgressTrainingArguments``."""
INITIAL_GOALS = ("read", "mark", "drop")
"""How training treats records whose goal is the initial state standing in (``goal_state: "initial"``)."""
HEAD_PRIORS = ("none", "lookup", "block-lookup")
"""What the distribution head's outputs are added to: nothing, or the log step distribution of the tactic-name
lookup or of the block lookup (keyed on the name and the multi-line ``by`` blocks the tactic opens)."""
NEGATIVE_SOURCES = ("source", "any")
"""Where the ranking objective draws negatives from (``ProgressTrainingArguments.ranking_negatives_from``)."""


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def newest_checkpoint(folder: str | os.PathLike) -> Path | None:
    """The ``checkpoint-N`` folder with the highest step N in ``folder`` (a run's ``checkpoints``), or None."""
    steps = []
    for path in Path(folder).glob("checkpoint-*"):
        step = path.name.split("-", 1)[1]
        if path.is_dir() and step.isdigit():
            steps.append((int(step), path))
    return max(steps)[1] if steps else None


def encode_label(steps: float, transform: str) -> float:
    """Map ``steps_remaining`` to the regression target."""
    return math.log1p(steps) if transform == "log1p" else float(steps)


def decode_prediction(value: float, transform: str) -> float:
    """Map a raw model output back to steps (non-negative).

    Never raises: an output too large for a float (``expm1`` of more than
    about 709) becomes ``inf`` and NaN stays NaN, so that callers can reject
    them by name (NaN would otherwise clamp to 0, "closes the goal").
    """
    return float(decode_regression([value], transform)[0])


def records_goal_from(records) -> str:
    """The ``goal_from`` a model trained on ``records`` gets (see :attr:`ModelSettings.goal_from`).

    Records built from LeanDojo traces carry ``goal_from``; records without
    the key (whole proofs, Lean source) read the state before their step, so
    they count as ``state_before`` beside records that say so, and as unknown
    (``""``) on their own.

    Example:
        >>> records_goal_from([{"goal_from": "state_after"}, {"goal_from": "state_after"}])
        'state_after'
        >>> records_goal_from([{"goal_from": "state_before"}, {}])
        'state_before'
    """
    kinds = {r.get("goal_from") or "" for r in records}
    known = kinds - {""}
    if not known:
        return ""
    if known == {"state_before"}:
        return "state_before"
    if known == {"state_after"} and "" not in kinds:
        return "state_after"
    return "mixed"


SCORE_MODE_GOAL_FROM = {"state": "state_after", "tactic": "state_before"}
"""The records a score mode needs: ``state`` scores a state a tactic produced (``state_after`` records),
``tactic`` scores a candidate before it runs (``state_before`` records)."""
_PAIRS = {"state_before": "a candidate tactic with the state it runs in",
          "state_after": "a tactic with the state it produced"}


def goal_from_mismatch(model_goal_from: str, used: str, model: str = "the model", use: str = "this use") -> str | None:
    """The one rule for which state a model may read: why a model trained on ``model_goal_from`` records must not
    be given ``used`` pairs, or None when it may (the same kind, or either kind unknown or mixed).

    Every reader of a model applies it: ``prove --score-mode`` and ``predict-steps`` refuse a mismatch,
    ``evaluate`` and ``serve`` warn.

    Args:
        model_goal_from: :attr:`ModelSettings.goal_from` of the model.
        used: ``state_before`` or ``state_after``: what the caller pairs (see :data:`SCORE_MODE_GOAL_FROM`).
        model: the model's name, and ``use`` what gives it those pairs, for the message.

    Example:
        >>> goal_from_mismatch("state_before", "state_after", "runs/m", "--score-mode state")
        'runs/m was trained on state_before records, which pair a candidate tactic with the state it runs in; --score-mode state pairs a tactic with the state it produced'
        >>> goal_from_mismatch("", "state_after") is None
        True
    """
    if model_goal_from not in _PAIRS or used not in _PAIRS or model_goal_from == used:
        return None
    return (f"{model} was trained on {model_goal_from} records, which pair {_PAIRS[model_goal_from]}; "
            f"{use} pairs {_PAIRS[used]}")


def score_mode_for(goal_from: str) -> str | None:
    """The score mode a model trained on ``goal_from`` records is for (None when unknown or mixed)."""
    return {v: k for k, v in SCORE_MODE_GOAL_FROM.items()}.get(goal_from)


def check_score_mode(goal_from: str, score_mode: str, model: str = "the model") -> None:
    """Raise ValueError when a model trained on ``goal_from`` records would be used in the other score mode
    (:func:`goal_from_mismatch`)."""
    why = goal_from_mismatch(goal_from, SCORE_MODE_GOAL_FROM[score_mode], model, f"--score-mode {score_mode}")
    if why:
        raise ValueError(f"{why}: it is for --score-mode {score_mode_for(goal_from)}, not {score_mode} (train on "
                         "records built with "
                         f"build-dataset --goal-from {SCORE_MODE_GOAL_FROM[score_mode]} for --score-mode "
                         f"{score_mode})")


@dataclass
class ModelSettings:
    """How a trained model reads its input; saved as ``leanprogress_config.json``."""

    template: str = DEFAULT_TEMPLATE
    """Prompt format string with ``{goal}``, ``{prefix}``, ``{tactic}``."""
    max_length: int = 512
    """Token budget the prompt was fitted to."""
    normalize_symbols: bool = True
    """Whether Lean notation was rewritten for a word-piece vocabulary."""
    label_transform: str = "log1p"
    """Target the head regresses: ``none`` (steps) or ``log1p`` (log(1 + steps))."""
    truncation: str = "structured"
    """How over-long prompts were cut: ``structured`` or ``right`` (see PromptBuilder)."""
    base_model: str = ""
    """The encoder the model was fine-tuned from (informational)."""
    head: str = "regression"
    """``regression`` (one number; every model saved before this field) or ``distribution`` (classes 0..K and
    "more"; see :mod:`leanprogress.heads`)."""
    head_max_steps: int = 0
    """K of the distribution head (its classes are 0..K and "more than K"); 0 for regression."""
    head_more_steps: float = 0.0
    """Steps the distribution head's "more than K" class stands for (mean training label above K)."""
    point_estimate: str = "median"
    """How the distribution head's prediction becomes one number: ``median``, ``mode`` or ``mean``."""
    rank_by: str = "mean"
    """Distribution head: the score candidates are ordered by (search, ``/generate``, ``rank``, RL rewards):
    ``mean`` (expected steps), ``median`` or ``close`` (1 - P(0 steps)); see :func:`leanprogress.heads.rank_score`.
    Models saved before this field rank by the expected steps too, not by their point estimate, which can tie."""
    goal_from: str = ""
    """Which state the training records' ``goal`` was: ``state_before`` (the state a candidate tactic runs in:
    the model scores candidates before they run, ``prove --score-mode tactic``), ``state_after`` (the state a
    tactic produced, ``build-dataset --goal-from state_after``: the model scores reached states, ``prove
    --score-mode state``), ``mixed``, or ``""`` (unknown: records without a ``goal_from`` key, or a model saved
    before this field existed)."""
    canonicalize_goals: bool = False
    """Whether goals were mapped to :func:`leanprogress.lean.canonical.canonical_state` before the model read
    them. False when absent: models saved before the setting existed read goals as they are."""
    initial_goals: str = "read"
    """How training treated records whose goal is the initial state standing in for the real one
    (``goal_state: "initial"``, see :mod:`leanprogress.data.records`): ``read`` like any other (every model
    saved before this field), ``mark`` (laid out with ``Initial goal:``, see
    :meth:`leanprogress.prompt.PromptTemplate.for_initial_goal`; the scorer lays out such records the same
    way) or ``drop`` (not trained on)."""
    canonical_form: int = 1
    """Which canonical form the goals were mapped to (with ``canonicalize_goals``): 2 keeps what decides a term's
    value (the trainer saves :data:`leanprogress.lean.expr.CANONICAL_FORM`); 1 when absent: models saved before
    the field existed were trained on the earlier form, which dropped every arrow, ascription and binder type."""
    head_prior: str = "none"
    """Distribution head: ``lookup`` when its outputs are a correction added to the log step distribution of the
    tactic's name (:meth:`leanprogress.baselines.TacticLookup.class_log_prior`, from the ``tactic_lookup.json``
    saved with the model), ``block-lookup`` the same keyed on the name and the multi-line ``by`` blocks the tactic
    opens (the saved lookup says its key); ``none`` (every model saved before this field): the outputs are the
    logits."""
    ranking_weight: float = 0.0
    """Weight of the ranking objective the model was trained with (:mod:`leanprogress.training.ranking_objective`;
    0: steps alone, also for models saved before it existed). Scoring reads the model the same way either way;
    with a weight > 0 the scores of tactics recorded on other theorems were trained to lie above those of the
    tactics that worked on a state, which is what search compares."""
    encoder_kind: str = "cross"
    """How the encoder reads a record (:mod:`leanprogress.batch_layout`): ``cross`` (goal, prefix and tactic as
    one prompt, every token attending to every other; every model saved before this field) or ``group`` (goal
    and prefix as a context that attends only to itself, each candidate tactic attending to it and to itself:
    one copy of the state serves its candidates, which cost their own tokens)."""
    format_version: int = 1
    """Settings format: 1, or 2 for a ``group``-kind model (which earlier versions would misread as a
    cross-encoder; they ignore keys they do not know)."""

    def __post_init__(self) -> None:
        template = PromptTemplate(self.template)
        if self.encoder_kind not in ENCODER_KINDS:
            raise ValueError(f"encoder_kind must be one of {ENCODER_KINDS}, got {self.encoder_kind!r}")
        if self.encoder_kind == "group":
            template.check_splits_at_tactic()
            if self.truncation != "structured":
                raise ValueError("encoder_kind 'group' fits contexts structurally: truncation must be 'structured'")
            self.format_version = max(self.format_version, 2)
        if not isinstance(self.format_version, int) or self.format_version > FORMAT_VERSION:
            raise ValueError(f"settings format {self.format_version!r} is newer than this version of LeanProgress "
                             f"reads ({FORMAT_VERSION}): upgrade leanprogress to score this model")
        if self.label_transform not in LABEL_TRANSFORMS:
            raise ValueError(f"label_transform must be one of {LABEL_TRANSFORMS}, got {self.label_transform!r}")
        if self.max_length < 16:
            raise ValueError(f"max_length must be >= 16, got {self.max_length}")
        if self.truncation not in TRUNCATIONS:
            raise ValueError(f"truncation must be one of {TRUNCATIONS}, got {self.truncation!r}")
        if self.goal_from not in GOAL_FROMS:
            raise ValueError(f"goal_from must be one of {GOAL_FROMS}, got {self.goal_from!r}")
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.head == "distribution" and self.head_max_steps < 1:
            raise ValueError(f"head_max_steps must be >= 1 for the distribution head, got {self.head_max_steps}")
        if self.point_estimate not in POINT_ESTIMATES:
            raise ValueError(f"point_estimate must be one of {POINT_ESTIMATES}, got {self.point_estimate!r}")
        if self.rank_by not in RANK_BY:
            raise ValueError(f"rank_by must be one of {RANK_BY}, got {self.rank_by!r}")
        if self.initial_goals not in INITIAL_GOALS:
            raise ValueError(f"initial_goals must be one of {INITIAL_GOALS}, got {self.initial_goals!r}")
        if self.canonical_form not in CANONICAL_FORMS:
            raise ValueError(f"canonical_form must be one of {CANONICAL_FORMS}, got {self.canonical_form!r}")
        if not (_finite_number(self.ranking_weight) and self.ranking_weight >= 0):
            raise ValueError(f"ranking_weight must be a number >= 0, got {self.ranking_weight!r}")
        if self.head_prior not in HEAD_PRIORS:
            raise ValueError(f"head_prior must be one of {HEAD_PRIORS}, got {self.head_prior!r}")
        if self.head_prior != "none" and self.head != "distribution":
            raise ValueError(f"head_prior {self.head_prior!r} needs the distribution head, got head {self.head!r}")

    @property
    def num_labels(self) -> int:
        """Outputs of the model's head."""
        return 1 if self.head == "regression" else self.head_max_steps + 2

    def prompt_builder(self, tokenizer, template: str | None = None) -> PromptBuilder:
        """The builder that turns records into this model's input text."""
        return PromptBuilder(
            tokenizer,
            PromptTemplate(template or self.template),
            max_length=self.max_length,
            normalize=self.normalize_symbols,
            truncation=self.truncation,
            canonicalize=self.canonicalize_goals,
            mark_initial=self.initial_goals == "mark",
            canonical_form=self.canonical_form,
        )

    def layout(self, tokenizer, template: str | None = None):
        """How a batch of this model's records becomes encoder passes (:func:`leanprogress.batch_layout.layout_for`):
        the prompt builder's texts laid out for ``encoder_kind``."""
        from .batch_layout import layout_for

        return layout_for(self.encoder_kind, self.prompt_builder(tokenizer, template))

    def save(self, folder: str | os.PathLike) -> Path:
        path = Path(folder) / SETTINGS_FILE
        with atomic_output(path) as f:
            f.write(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")
        return path

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "ModelSettings | None":
        path = Path(folder) / SETTINGS_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: {json_error(exc)}") from None
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None


def refuse_unfinished_run(folder: Path) -> None:
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


def model_settings(model: str | os.PathLike) -> "ModelSettings | None":
    """The settings saved with a model folder; None for a hub id or a folder without them (not a LeanProgress
    model). A folder that holds an unfinished training run, or checkpoints without a finished model, is refused
    (:func:`refuse_unfinished_run`): every command that reads a model asks here first, so that the refusal is
    the first thing said.
    """
    folder = Path(model)
    if not folder.is_dir():
        return None
    if (folder / RUN_MARKER).is_file():
        refuse_unfinished_run(folder)
    settings = ModelSettings.load(folder)
    if settings is None:
        refuse_unfinished_run(folder)
    return settings


@dataclass
class ProgressTrainingArguments:
    """Arguments of :class:`leanprogress.training.ProgressTrainer`.

    Defaults are this project's measured recipe (see docs/guides/training.md,
    "Flags and defaults"); the original LeanProgress recipe is ``max_length=512,
    learning_rate=1e-5, pad_to_max_length=True, label_transform="none"``.
    """

    output_dir: str
    """Folder for the trained model (``checkpoints/`` inside it holds epoch checkpoints)."""
    model_name: str | None = None
    """HF hub id or local folder of the encoder; None uses the bundled all-MiniLM-L6-v2."""
    max_length: int = 256
    """Token budget per prompt (the original used 512). Prompts are fitted structurally, dropping old
    prefix lines and middle hypotheses first, so the tactic and target survive at 256 too."""
    batch_size: int = 8
    """Per-device training batch size."""
    epochs: float = 3.0
    """Training epochs."""
    learning_rate: float = 1e-4
    """Peak learning rate (linear decay after warm-up)."""
    warmup_ratio: float = 0.1
    """Fraction of steps spent warming the learning rate up."""
    weight_decay: float = 0.01
    """AdamW weight decay."""
    seed: int = 42
    """Seed for shuffling, head initialisation and the theorem split."""
    template: str = DEFAULT_TEMPLATE
    """Prompt format (see :class:`leanprogress.prompt.PromptTemplate`)."""
    normalize_symbols: str = "auto"
    """``auto`` (rewrite Lean notation only if the tokenizer maps it to [UNK]), ``yes`` or ``no``."""
    label_transform: str = "log1p"
    """Regression target: ``log1p`` or ``none`` (raw steps, the original)."""
    precision: str = "auto"
    """``auto`` (bf16 where the hardware runs it fast), ``fp32`` or ``bf16``."""
    truncation: str = "structured"
    """``structured`` keeps tactic and target; ``right`` cuts from the end like the original."""
    pad_to_max_length: bool = False
    """Pad every example to ``max_length`` as the original did (slow; for comparison)."""
    init_head_bias: bool = True
    """Start the regression head's bias at the mean training target instead of 0."""
    canonicalize_goals: bool = True
    """Map every goal to one canonical form before the model reads it (see :mod:`leanprogress.lean.canonical`),
    in training and, through the saved settings, in scoring: states Lean printed and states rendered from
    source text then look alike."""
    initial_goals: str = "read"
    """Records whose goal is the theorem's initial state standing in for the state before their tactic
    (``goal_state: "initial"``: whole-proof and Lean-source steps after the first): ``read`` them like any
    other record, ``mark`` them (their prompt says ``Initial goal:`` instead of ``Goal:``, so the model can
    tell them from the real states search shows it), or ``drop`` them (train on real states only: of a
    whole proof, its first step). Saved with the model."""
    fallback_to_constant: bool = True
    """With an eval set: if no epoch beats the constant predictor (the mean training target; for the
    distribution head, the training labels' class frequencies) on ``selection_metric``, save that constant
    instead (with a warning), so that a run on too little data never ships a model that is worse than
    predicting one number."""
    head: str = "regression"
    """``regression`` (one number, MSE on ``label_transform``) or ``distribution`` (cross-entropy over
    0..``head_max_steps`` and "more"; see :mod:`leanprogress.heads`)."""
    head_max_steps: int = 10
    """K of the distribution head: classes 0..K and "more than K"."""
    point_estimate: str = "median"
    """Distribution head: the number ``predict`` returns (``median`` for MAE, ``mode`` for exact-match,
    ``mean``); saved with the model, and the scorer can override it."""
    rank_by: str = "mean"
    """Distribution head: the score candidates are ordered by (``mean``: expected steps, ``median``, ``close``:
    1 - P(0 steps)); saved with the model, and the scorer can override it. Not a point estimate: it is continuous,
    so candidates rarely tie."""
    selection_metric: str = "mae"
    """The held-out figure that picks the best epoch and decides the constant fallback: ``mae`` (steps,
    default: what a steps-remaining estimate is judged on, and robust to a few long proofs), ``accuracy``
    (exact-match), ``mse`` (steps; what the trainer used before, dominated by long proofs) or ``loss``
    (the training loss on the eval set)."""
    head_prior: str = "none"
    """Distribution head: ``lookup`` trains the head as a correction to the tactic-name lookup (stacking): its
    outputs are added to the log step distribution of the tactic's name among the training records
    (:meth:`leanprogress.baselines.TacticLookup.class_log_prior`), with a zero bias and small random weights, so
    that the model starts near the lookup and learns what the state adds (the fallback, where no epoch beats
    the lookup, is the lookup itself); ``block-lookup`` the same from the lookup keyed on the tactic's name and the
    multi-line ``by`` blocks it opens (``TacticLookup.fit(key="name+blocks")``: on whole proofs it tells the first
    ``have`` of a long proof from a one-line ``have``); ``none`` (default): the head's outputs are the logits. Saved
    with the model, with its lookup; the scorer adds the same prior."""
    class_weighting: float = 0.0
    """Distribution head: weight each training record's loss by its class's frequency to the power ``-w`` (0:
    off; 1: every class weighs the same in all; 0.5 in between), normalized to a mean weight of 1, so that the
    few records far from the end are not drowned by the many one-step proofs."""
    ordinal_weight: float = 0.0
    """Distribution head: add this weight times an ordinal term to the cross-entropy (0: off): the binary
    cross-entropy of every tail probability ``P(steps > k)`` against whether the label is above ``k``, so that
    probability near the label costs less than probability far from it (cross-entropy alone charges 1 step for a
    4-step state as much as 0)."""
    ranking_weight: float = 0.0
    """Weight of the ranking objective (:mod:`leanprogress.training.ranking_objective`): besides its steps, each
    training record is compared with tactics recorded on other theorems, read on its state (taken to fail
    there), and with the other recorded tactics of its state (ordered by their labels), by a logistic loss on
    how far the model puts the worse candidate behind (regression: in predicted log-steps; distribution head:
    in the log-odds of needing at most the better one's steps). The loss is the head's loss plus this weight
    times the mean pair loss. 0 (default) trains on steps alone. Saved with the model."""
    ranking_negatives: int = 1
    """With ``ranking_weight > 0``: tactics of other theorems drawn per record (and the most other tactics of
    its state compared with it). Each is one more sequence through the encoder: a training step costs about
    ``1 + ranking_negatives`` times as much."""
    ranking_negatives_from: str = "source"
    """Where negatives are drawn from: ``source`` (records of the record's own ``source``: distractors in the
    same style, so the model cannot tell them apart by style alone) or ``any`` (every training record).
    Drawn once per run with ``seed``, as often as each tactic is recorded."""
    ranking_margin: float = 1.0
    """Gap the pair loss asks between a worse and a better candidate (the loss is ``softplus(margin - gap)``):
    regression head, in its target's units (``log1p(steps)``; steps with ``label_transform="none"``);
    distribution head, in log-odds (nats)."""
    encoder_kind: str = "cross"
    """``cross`` (one prompt per record) or ``group`` (goal and prefix read once for the candidates of a state,
    each tactic attending to them; records sharing a goal and prefix are trained as one group): see
    :mod:`leanprogress.batch_layout`. Saved with the model; the scorer reads it the same way."""
    group_by_length: bool = True
    """Batch prompts of similar length together so padding stays small."""
    device: str = "auto"
    """``auto`` (CUDA, MPS, else CPU) or ``cpu`` to train on the CPU on a machine with a GPU. Under
    ``torchrun`` / ``accelerate launch`` each process takes its own GPU."""
    resume: bool = False
    """Continue from the newest checkpoint in ``output_dir/checkpoints``. Without it, checkpoints of an earlier
    run there are removed first (with a warning), so that a later resume cannot restore them into this run."""
    keep_checkpoints: bool = False
    """Keep the epoch checkpoints (``output_dir/checkpoints``: the last two epochs' weights with their optimizer
    state, three times the model's size) once the run has finished, to continue it with ``--resume`` and more
    epochs or to score an earlier epoch. By default a finished run keeps only the model: while it trains, the
    checkpoints are what an interrupted run resumes from."""
    logging_steps: int = 10
    """Log training loss every this many steps."""
    eval_batch_size: int = 32
    """Batch size for evaluation."""
    extra: dict = field(default_factory=dict)
    """Extra keyword arguments passed to ``transformers.TrainingArguments``."""

    def __post_init__(self) -> None:
        if not self.output_dir:
            raise ValueError("output_dir is required")
        checks = [
            (self.max_length >= 16, f"max_length must be >= 16, got {self.max_length}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.eval_batch_size >= 1, f"eval_batch_size must be >= 1, got {self.eval_batch_size}"),
            (self.epochs > 0, f"epochs must be > 0, got {self.epochs}"),
            (self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}"),
            (0 <= self.warmup_ratio < 1, f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}"),
            (self.normalize_symbols in ("auto", "yes", "no"),
             f"normalize_symbols must be auto, yes or no, got {self.normalize_symbols!r}"),
            (self.label_transform in LABEL_TRANSFORMS,
             f"label_transform must be one of {LABEL_TRANSFORMS}, got {self.label_transform!r}"),
            (self.truncation in TRUNCATIONS, f"truncation must be one of {TRUNCATIONS}, got {self.truncation!r}"),
            (self.precision in PRECISIONS, f"precision must be one of {PRECISIONS}, got {self.precision!r}"),
            (self.head in HEADS, f"head must be one of {HEADS}, got {self.head!r}"),
            (self.head_max_steps >= 1, f"head_max_steps must be >= 1, got {self.head_max_steps}"),
            (self.point_estimate in POINT_ESTIMATES,
             f"point_estimate must be one of {POINT_ESTIMATES}, got {self.point_estimate!r}"),
            (self.rank_by in RANK_BY, f"rank_by must be one of {RANK_BY}, got {self.rank_by!r}"),
            (self.selection_metric in SELECTION_METRICS,
             f"selection_metric must be one of {SELECTION_METRICS}, got {self.selection_metric!r}"),
            (self.initial_goals in INITIAL_GOALS,
             f"initial_goals must be one of {INITIAL_GOALS}, got {self.initial_goals!r}"),
            (_finite_number(self.ranking_weight) and self.ranking_weight >= 0,
             f"ranking_weight must be a number >= 0, got {self.ranking_weight!r}"),
            (isinstance(self.ranking_negatives, int) and not isinstance(self.ranking_negatives, bool)
             and self.ranking_negatives >= 1,
             f"ranking_negatives must be an integer >= 1, got {self.ranking_negatives!r}"),
            (self.head_prior in HEAD_PRIORS, f"head_prior must be one of {HEAD_PRIORS}, got {self.head_prior!r}"),
            (self.head_prior == "none" or self.head == "distribution",
             f"head_prior {self.head_prior!r} needs the distribution head (head='distribution'), got {self.head!r}"),
            (self.head_prior == "none" or self.ranking_weight == 0,
             "head_prior 'lookup' and the ranking objective (ranking_weight > 0) cannot be combined yet"),
            (_finite_number(self.class_weighting) and 0 <= self.class_weighting <= 1,
             f"class_weighting must be a number in [0, 1], got {self.class_weighting!r}"),
            (self.class_weighting == 0 or self.head == "distribution",
             f"class_weighting needs the distribution head (head='distribution'), got {self.head!r}"),
            (_finite_number(self.ordinal_weight) and self.ordinal_weight >= 0,
             f"ordinal_weight must be a number >= 0, got {self.ordinal_weight!r}"),
            (self.ordinal_weight == 0 or self.head == "distribution",
             f"ordinal_weight needs the distribution head (head='distribution'), got {self.head!r}"),
            (self.ranking_negatives_from in NEGATIVE_SOURCES,
             f"ranking_negatives_from must be one of {NEGATIVE_SOURCES}, got {self.ranking_negatives_from!r}"),
            (_finite_number(self.ranking_margin) and self.ranking_margin >= 0,
             f"ranking_margin must be a number >= 0, got {self.ranking_margin!r}"),
            (self.encoder_kind in ENCODER_KINDS,
             f"encoder_kind must be one of {ENCODER_KINDS}, got {self.encoder_kind!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        template = PromptTemplate(self.template)
        if self.encoder_kind == "group":
            template.check_splits_at_tactic()
            for unsupported, why in ((self.truncation != "structured", "truncation 'right' (contexts are fitted "
                                      "structurally)"),
                                     (self.pad_to_max_length, "pad_to_max_length (nothing is padded to a length)"),
                                     (self.ranking_weight > 0, "the ranking objective (ranking_weight > 0) yet"),
                                     (self.head_prior != "none", "a head prior (head_prior) yet"),
                                     (self.class_weighting > 0, "class weighting (class_weighting > 0) yet"),
                                     # Recomputed layers would run outside the pass whose attention they need.
                                     (bool(self.extra.get("gradient_checkpointing")), "gradient checkpointing "
                                      "(extra gradient_checkpointing)")):
                if unsupported:
                    raise ValueError(f"encoder_kind 'group' does not take {why}")
