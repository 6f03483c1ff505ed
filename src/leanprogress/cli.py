"""The ``leanprogress`` command line: a thin layer over the library."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from . import __version__

logger = logging.getLogger("leanprogress")


def _fail(message: str) -> int:
    print(f"leanprogress: error: {message}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------- build-dataset
def add_build_parser(sub) -> None:
    p = sub.add_parser(
        "build-dataset",
        help="build progress records (JSONL) from LeanDojo traces, whole proofs or Lean source",
        description="Build progress records from LeanDojo Benchmark 4 JSON (a file or a folder of them), "
        "whole-proof JSONL (--from-proofs) and Lean 4 source (--from-lean-source).",
    )
    p.add_argument("inputs", nargs="*", metavar="TRACE", help="LeanDojo JSON file or folder (repeatable)")
    p.add_argument("--from-leandojo", action="append", default=[], metavar="PATH", help="same as TRACE")
    p.add_argument("--from-proofs", action="append", default=[], metavar="JSONL",
                   help="whole proofs {name, goal, proof}: steps split from the proof text, goal = initial state")
    p.add_argument("--from-lean-source", action="append", default=[], metavar="PATH",
                   help="a folder of .lean files, a .lean file, or a JSONL of {name, text} declarations")
    p.add_argument("--output", required=True, help="JSONL file to write (written atomically)")
    p.add_argument("--source", default=None,
                   help="source name stored in every record (default: each input's folder and file name, "
                   "e.g. minif2f-valid-proofs/proofs, longer where two inputs would share a name)")
    p.add_argument("--step-order", choices=["leandojo", "source", "search"], default="leandojo",
                   help="how steps are counted: as LeanDojo lists traced tactics (default; whole proofs and Lean "
                   "source get the labels a trace of them has), source order (whole proofs and Lean source), or "
                   "search: as a step prover applies them (a nested `have ... := by` block belongs to its step, "
                   "`·` blocks are opened, the last step is 0; LeanDojo traces keep only the tactics not nested "
                   "in an earlier one)")
    p.add_argument(
        "--balance",
        default=None,
        metavar="SPEC",
        help="keep theorems by proof-length bucket (LeanDojo input only): 'published' "
        "(1-5:0.01,6-10:0.3,11-15:0.5,16-20:0.7,21+:1.0) "
        "or your own 'LO-HI:RATIO,...,LO+:RATIO'; off by default",
    )
    p.add_argument("--seed", type=int, default=42, help="seed for --balance (default 42)")
    p.add_argument("--goal-from", choices=["state_before", "state_after"], default="state_before",
                   help="state each record reads: before the tactic (scores candidates, default) or after it "
                   "(scores reached states, for prove --score-mode state)")
    p.set_defaults(func=cmd_build_dataset)


def cmd_build_dataset(args) -> int:
    import itertools

    from .data.dataset import keep_by_length, parse_balance
    from .data.lean_source import iter_source_records
    from .data.leandojo import BuildStats, iter_leandojo_records
    from .data.proofs import SourceStats, iter_proof_records
    from .data.records import default_source_names, write_records
    from .files import check_outputs, files_of

    traces = list(args.inputs) + list(args.from_leandojo)
    if not (traces or args.from_proofs or args.from_lean_source):
        return _fail("build-dataset needs LeanDojo traces, --from-proofs or --from-lean-source")
    if traces and args.step_order == "source":
        return _fail("--step-order source applies to whole proofs and Lean source only: LeanDojo traces carry no "
                     "source positions (use leandojo or search with traces)")
    # Before any work: a bad --output must not cost a long build, nor write over an input.
    inputs = [i for what, paths in (("TRACE", args.inputs), ("--from-leandojo", args.from_leandojo),
                                    ("--from-proofs", args.from_proofs), ("--from-lean-source", args.from_lean_source))
              for p in paths for i in files_of(what, p)]
    check_outputs(inputs, files=[("--output", args.output)])
    ratios = parse_balance(args.balance) if args.balance else None
    stats = BuildStats()
    proof_stats, source_stats = SourceStats(), SourceStats()
    inputs = traces + list(args.from_proofs) + list(args.from_lean_source)
    names = [args.source] * len(inputs) if args.source else default_source_names(inputs)
    source_of = dict(zip(inputs, names))

    streams = []
    if traces:
        keep = (lambda key, length: keep_by_length(key, length, ratios, args.seed)) if ratios is not None else None
        streams.append(iter_leandojo_records(traces, stats=stats, source=[source_of[t] for t in traces],
                                             goal_from=args.goal_from, keep=keep,
                                             order="search" if args.step_order == "search" else "leandojo"))
    streams += [iter_proof_records(p, proof_stats, source=source_of[p], order=args.step_order)
                for p in args.from_proofs]
    streams += [iter_source_records(p, source_stats, source=source_of[p], order=args.step_order)
                for p in args.from_lean_source]
    counts: dict[str, int] = {}

    def counted():
        for record in itertools.chain(*streams):
            counts[record.get("source", "")] = counts.get(record.get("source", ""), 0) + 1
            yield record

    def why_empty() -> str:  # every input read, and not one record
        parts = []
        if traces:
            if not stats.theorems:
                parts.append(f"{', '.join(traces)}: no theorems")
            elif stats.empty_theorems >= stats.theorems:
                parts.append(f"{', '.join(traces)}: none of the {stats.theorems} theorem(s) has traced tactics")
            elif stats.dropped_by_balance:
                parts.append(f"--balance dropped all {stats.dropped_by_balance} record(s)")
        for kind, paths, st in (("--from-proofs", args.from_proofs, proof_stats),
                                ("--from-lean-source", args.from_lean_source, source_stats)):
            if not paths:
                continue
            if not st.declarations:
                parts.append(f"{kind} {', '.join(paths)}: nothing to read (an empty file?)")
            else:
                reason, k = max(st.skipped.items(), key=lambda kv: kv[1]) if st.skipped else ("no steps", 0)
                parts.append(f"{kind}: all {st.declarations} declaration(s) skipped, {k} for {reason} "
                             f"(e.g. {st.examples.get(reason, '?')})")
            parts += [h for h in (_input_kind_hint(p, kind) for p in paths) if h]
        return "no records to write, " + "; ".join(parts) + f"; {args.output} not written"

    n = write_records(counted(), args.output, if_empty=why_empty)
    if traces:
        print(stats.summary())
        if ratios is not None:
            print(f"length balancing dropped {stats.dropped_by_balance} record(s)")
    if args.from_proofs:
        print("whole proofs: " + proof_stats.summary())
    if args.from_lean_source:
        print("Lean source: " + source_stats.summary())
    for name, k in counts.items():
        print(f"  source {name}: {k} record(s)")
    print(f"wrote {n} record(s) to {args.output}")
    return 0


def _input_kind_hint(path: str, given_as: str) -> str | None:
    """Which option a file given as ``given_as`` looks like it belongs to, from its first line, or None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            head = f.read(65536).lstrip("\ufeff \t\r\n")
    except OSError:
        return None
    if head.startswith("["):
        kind = "LeanDojo traces (give it without an option, as TRACE)"
    else:
        try:
            first = json.loads(head.split("\n", 1)[0])
        except ValueError:
            return None
        keys = set(first) if isinstance(first, dict) else set()
        if {"goal", "tactic", "steps_remaining"} <= keys:
            kind = "progress records already (give it to train or evaluate)"
        elif {"name", "goal", "proof"} <= keys:
            kind = "whole proofs (--from-proofs)"
        elif "text" in keys:
            kind = "Lean declarations (--from-lean-source)"
        else:
            return None
    if given_as in kind:
        return None
    return f"{path} looks like {kind}"


# ---------------------------------------------------------------- split
def add_split_parser(sub) -> None:
    p = sub.add_parser("split", help="split records into train/eval by theorem")
    p.add_argument("--dataset", required=True, help="JSONL records")
    p.add_argument("--output-dir", required=True, help="writes train.jsonl and eval.jsonl here")
    p.add_argument("--eval-ratio", type=float, default=0.2, help="fraction of theorems held out (default 0.2)")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--skip-invalid", action="store_true", help="skip malformed lines (they are counted)")
    p.set_defaults(func=cmd_split)


def cmd_split(args) -> int:
    from .data.dataset import ProgressDataset, one_theorem_message
    from .data.records import write_records

    from .files import check_outputs

    out = Path(args.output_dir)
    check_outputs([("--dataset", args.dataset)], folders=[("--output-dir", out)])
    ds = ProgressDataset(args.dataset, skip_invalid=args.skip_invalid)  # logs how many lines it skipped
    if not len(ds):
        return _fail(f"{args.dataset}: no records to split")
    train, held = ds.split(args.eval_ratio, args.seed)
    if args.eval_ratio > 0 and not held:
        print(f"warning: {one_theorem_message(ds.records)}", file=sys.stderr)
    write_records(train, out / "train.jsonl")
    write_records(held, out / "eval.jsonl")
    print(f"train: {len(train)} records, eval: {len(held)} records (split by theorem) in {out}")
    return 0


# ---------------------------------------------------------------- train
def add_train_arguments(p: argparse.ArgumentParser) -> None:
    from .config import ProgressTrainingArguments as A

    d = A(output_dir="-")
    p.add_argument("--dataset", required=True, action="append",
                   help="JSONL progress records; repeat to mix sources, PATH:WEIGHT to weight one "
                   "(e.g. --dataset mathlib.jsonl --dataset workbook.jsonl:0.3)")
    p.add_argument("--output-dir", required=True, help="folder for the trained model")
    p.add_argument("--model-name", default=None, help="HF hub id or local folder (default: bundled all-MiniLM-L6-v2)")
    p.add_argument("--eval-dataset", default=None, help="held-out JSONL; default: split --dataset by theorem")
    p.add_argument("--max-length", type=int, default=d.max_length, help=f"token budget (default {d.max_length})")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"(default {d.batch_size})")
    p.add_argument("--epochs", type=float, default=d.epochs, help=f"(default {d.epochs})")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate, help=f"(default {d.learning_rate})")
    p.add_argument("--eval-ratio", type=float, default=0.2, help="theorems held out when no --eval-dataset (default 0.2)")
    p.add_argument("--seed", type=int, default=d.seed, help=f"(default {d.seed})")
    p.add_argument("--template", default=d.template, help="prompt format with {goal}, {prefix}, {tactic}")
    p.add_argument("--label-transform", choices=["log1p", "none"], default=d.label_transform,
                   help=f"regression target (default {d.label_transform})")
    p.add_argument("--normalize-symbols", choices=["auto", "yes", "no"], default=d.normalize_symbols,
                   help="rewrite Lean notation for word-piece vocabularies (default auto)")
    p.add_argument("--truncation", choices=["structured", "right"], default=d.truncation,
                   help="how over-long prompts are cut (default structured: tactic and target survive)")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default=d.precision, help="(default auto)")
    p.add_argument("--pad-to-max-length", action="store_true", help="pad every example to --max-length (original)")
    p.add_argument("--fallback-to-constant", action=argparse.BooleanOptionalAction, default=d.fallback_to_constant,
                   help="save the constant predictor of the mean target if no epoch beats it on the eval set "
                   "(default on)")
    p.add_argument("--head", choices=["regression", "distribution"], default=d.head,
                   help="regression: one number (default); distribution: probabilities of 0..K and more steps")
    p.add_argument("--head-max-steps", type=int, default=d.head_max_steps,
                   help=f"K of the distribution head (default {d.head_max_steps})")
    p.add_argument("--point-estimate", choices=["median", "mode", "mean"], default=d.point_estimate,
                   help="distribution head: the number predict returns (default median: MAE; mode: exact-match)")
    p.add_argument("--head-prior", choices=["none", "lookup", "block-lookup"], default=d.head_prior,
                   help="distribution head: lookup trains it as a correction to the step distribution of the "
                   "tactic's name in the training records (it starts as the tactic-name lookup); block-lookup the "
                   "same keyed on the name and the multi-line `by` blocks the tactic opens; default none")
    p.add_argument("--class-weighting", type=float, default=d.class_weighting, metavar="W",
                   help="distribution head: weigh each record by its class's frequency to the power -W (0 to 1; "
                   "default 0: off), so records far from the end are not drowned by one-step proofs")
    p.add_argument("--ordinal-weight", type=float, default=d.ordinal_weight, metavar="W",
                   help="distribution head: add W times an ordinal term (each tail probability P(steps > k) against "
                   "the label) to the cross-entropy, so mass near the label costs less than mass far from it "
                   "(default 0: off)")
    p.add_argument("--rank-by", choices=["mean", "median", "close"], default=d.rank_by,
                   help="distribution head: the score search, serve, rank and RL rewards order candidates by "
                   f"(default {d.rank_by}: expected steps; close: 1 - P(0 steps)); continuous, unlike the mode")
    p.add_argument("--selection-metric", choices=["mae", "accuracy", "mse", "loss"], default=d.selection_metric,
                   help=f"held-out figure that picks the best epoch and the constant fallback "
                   f"(default {d.selection_metric})")
    p.add_argument("--canonicalize-goals", action=argparse.BooleanOptionalAction, default=d.canonicalize_goals,
                   help="map every goal to one canonical form before the model reads it, so that states Lean "
                   "printed and states rendered from source text look alike (default on; saved with the model)")
    p.add_argument("--initial-goals", choices=["read", "mark", "drop"], default=d.initial_goals,
                   help="records whose goal is the initial state standing in for the state before their tactic "
                   "(goal_state 'initial': whole-proof and Lean-source steps after the first): read them like the "
                   "others, mark them (their prompt says 'Initial goal:'), or drop them (real states only) "
                   f"(default {d.initial_goals}; saved with the model)")
    p.add_argument("--ranking-weight", type=float, default=d.ranking_weight,
                   help="weight of the ranking objective: each record is also compared with tactics of other "
                   "theorems read on its state, and with the other recorded tactics of its state (default "
                   f"{d.ranking_weight:g}: steps alone; saved with the model)")
    p.add_argument("--ranking-negatives", type=int, default=d.ranking_negatives,
                   help="ranking objective: tactics of other theorems per record; each costs one more sequence "
                   f"per training step (default {d.ranking_negatives})")
    p.add_argument("--ranking-negatives-from", choices=["source", "any"], default=d.ranking_negatives_from,
                   help="ranking objective: draw negatives from the record's own source or from every source "
                   f"(default {d.ranking_negatives_from})")
    p.add_argument("--ranking-margin", type=float, default=d.ranking_margin,
                   help=f"ranking objective: the gap asked between scores, in log-steps (default {d.ranking_margin:g})")
    p.add_argument("--encoder-kind", choices=["cross", "group"], default=d.encoder_kind,
                   help="cross: goal, prefix and tactic read as one prompt (default); group: goal and prefix read "
                   "once per state, each candidate tactic attending to them, so scoring the candidates of one state "
                   "costs their tokens only (saved with the model)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --output-dir "
                   "(without it, an earlier run's checkpoints there are removed)")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep the epoch checkpoints (weights and optimizer state, about three times the model's "
                   "size) once training has finished, to --resume with more epochs or score an earlier epoch "
                   "(default: a finished run keeps only the model)")
    p.add_argument("--skip-invalid", action="store_true", help="skip malformed lines (they are counted)")


def _is_main_process() -> bool:
    """False on the non-zero ranks of a torchrun / accelerate launch (they must not write files)."""
    import os

    return int(os.environ.get("RANK", "0")) == 0


def cmd_train(args) -> int:
    from .config import ProgressTrainingArguments
    from .data.dataset import ProgressDataset
    from .training import ProgressTrainer

    try:
        targs = ProgressTrainingArguments(
            output_dir=args.output_dir,
            model_name=args.model_name,
            max_length=args.max_length,
            batch_size=args.batch_size,
            epochs=args.epochs,
            learning_rate=args.learning_rate,
            seed=args.seed,
            template=args.template,
            label_transform=args.label_transform,
            normalize_symbols=args.normalize_symbols,
            truncation=args.truncation,
            precision=args.precision,
            pad_to_max_length=args.pad_to_max_length,
            fallback_to_constant=args.fallback_to_constant,
            head=args.head,
            head_max_steps=args.head_max_steps,
            point_estimate=args.point_estimate,
            rank_by=args.rank_by,
            head_prior=args.head_prior,
            class_weighting=args.class_weighting,
            ordinal_weight=args.ordinal_weight,
            selection_metric=args.selection_metric,
            canonicalize_goals=args.canonicalize_goals,
            initial_goals=args.initial_goals,
            ranking_weight=args.ranking_weight,
            ranking_negatives=args.ranking_negatives,
            ranking_negatives_from=args.ranking_negatives_from,
            ranking_margin=args.ranking_margin,
            encoder_kind=args.encoder_kind,
            resume=args.resume,
            keep_checkpoints=args.keep_checkpoints,
        )
    except ValueError as exc:
        return _fail(str(exc))
    from .data.dataset import load_mixture, one_theorem_message, parse_dataset_spec
    from .files import check_outputs

    # Before reading any data: the model folder must not hold an input (the records, the model trained from).
    inputs = [("--dataset", parse_dataset_spec(spec)[0]) for spec in args.dataset]
    inputs += [("--eval-dataset", args.eval_dataset), ("--model-name", args.model_name)]
    check_outputs([(what, p) for what, p in inputs if p is not None and Path(p).exists()],
                  folders=[("--output-dir", args.output_dir)])

    ratio = 0.0 if args.eval_dataset else args.eval_ratio
    # Skipped lines are logged by the datasets as they are read.
    train, held, loaded = load_mixture(args.dataset, eval_ratio=ratio, seed=args.seed, skip_invalid=args.skip_invalid)
    empty = [spec for spec, ds in zip(args.dataset, loaded) if not len(ds)]
    if empty and not (len(train) or len(held)):  # before anything is said about splitting nothing
        return _fail(f"--dataset {', '.join(empty)}: no records to train on")
    if ratio > 0 and not len(held):
        # Without held-out theorems there is no best epoch to pick and no constant to fall back to: say so and why.
        print(f"warning: {one_theorem_message(train.records)}; training without held-out figures (the last epoch is "
              "kept; give --eval-dataset to measure one)", file=sys.stderr)
    if args.eval_dataset:
        held = ProgressDataset(args.eval_dataset, skip_invalid=args.skip_invalid)
        _warn_overlap(train.records, held.records, args.eval_dataset)
    where = f"--eval-dataset {args.eval_dataset}" if args.eval_dataset else "held-out theorems, split by theorem"
    print(f"training on {len(train)} records, evaluating on {len(held)} ({where})")
    # eval_split.jsonl is written when training starts, not before: a start that fails leaves the folder as it
    # was, instead of a folder holding only the split.
    callbacks = [WriteEvalSplit(held.records, Path(args.output_dir) / "eval_split.jsonl")] if len(held) else []
    metrics = ProgressTrainer(targs, train, held if len(held) else None, callbacks=callbacks).train()
    if not _is_main_process():
        return 0
    t = metrics["train"]
    print(f"trained in {t.get('train_runtime', 0):.0f}s ({t.get('train_samples_per_second', 0):.2f} examples/s)")
    if "ranking" in metrics:
        r = metrics["ranking"]
        print(f"ranking objective (weight {r['weight']:g}): {r['negatives']} tactic(s) of other theorems and "
              f"{r['sibling_pairs']} other tactic(s) of the same state beside {r['records']} record(s), "
              f"{r['pairs']} pair(s)")
    if "eval" in metrics:
        e = metrics["eval"]

        def fig(key: str) -> str:  # None: undefined (Spearman of a constant) or a diverged run
            return "n/a" if e.get(key) is None else f"{e[key]:.3f}"

        kept = ("the constant predictor" if metrics["kept"] == "constant"
                else f"best epoch ({metrics['kept_epoch']:g})" if metrics.get("kept_epoch") is not None
                else "the kept model")
        print(
            f"held-out, {kept}: MAE {fig('eval_mae')} (best constant {fig('eval_constant_mae')}), "
            f"accuracy {fig('eval_accuracy')} (best constant {fig('eval_constant_accuracy')}), "
            f"Spearman {fig('eval_spearman')}"
        )
        if metrics["kept"] == "constant":
            print("no epoch beat the constant predictor on the held-out theorems: the saved model predicts that "
                  "constant (see the warning above)")
        print(f"full report: leanprogress evaluate --model {args.output_dir} --dataset {args.output_dir}/eval_split.jsonl")
    print(f"model saved to {args.output_dir} ({_folder_size(args.output_dir)}): "
          + ("the model and the epoch checkpoints (for --resume)" if args.keep_checkpoints else
             "the model only (weights, tokenizer, settings, tactic lookup); the epoch checkpoints were removed, "
             "--keep-checkpoints keeps them"))
    return 0


def _folder_size(folder: str) -> str:
    """The size of the files below ``folder``, in MB."""
    total = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
    return f"{total / 1e6:.0f} MB"


def WriteEvalSplit(records: list[dict], path: Path):
    """A ``transformers.TrainerCallback`` that writes ``records`` to ``path`` when training starts (main
    process only), so that a run whose start fails writes nothing."""
    from transformers import TrainerCallback

    from .data.records import write_records

    class _Write(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                write_records(records, path)

    return _Write()


def _warn_overlap(train: list[dict], held: list[dict], eval_path: str) -> None:
    """Say so when an explicit eval set shares theorems with the training data (its figures would be leaked)."""
    from .data.dataset import shared_theorems

    shared = shared_theorems(train, held)
    if shared:
        shown = ", ".join(shared[:5]) + (", ..." if len(shared) > 5 else "")
        print(f"warning: --eval-dataset {eval_path} shares {len(shared)} theorem(s) with the training data "
              f"(e.g. {shown}); its held-out figures and the best-epoch choice are then measured on theorems the "
              "model trained on. Remove them from one side (the split by theorem name and initial state is "
              "described under 'Theorem identity' in docs/guides/data.md).", file=sys.stderr)


def add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="fine-tune an encoder to predict steps remaining (train_steps_model)")
    add_train_arguments(p)
    p.set_defaults(func=cmd_train)


# ---------------------------------------------------------------- evaluate
def add_evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="MAE, accuracy, Spearman and per-bucket figures beside the best constant")
    p.add_argument("--model", required=True, help="trained model folder")
    p.add_argument("--dataset", required=True, help="JSONL records to evaluate on")
    p.add_argument("--json", action="store_true", help="print metrics as JSON")
    p.add_argument("--plot", default=None, metavar="IMAGE",
                   help="write a predicted-vs-true scatter plot here, in the image format of its extension (png, "
                   "pdf, svg, ...)")
    p.add_argument("--device", default="auto", help="where the model runs: auto (CUDA, MPS, else CPU), cpu, cuda, "
                   "cuda:N (default auto)")
    p.add_argument("--batch-size", type=int, default=32, help="records per forward pass (default 32)")
    p.add_argument("--skip-invalid", action="store_true",
                   help="skip malformed lines of --dataset (they are counted) instead of stopping at the first")
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args) -> int:
    from .evaluation import evaluate_model, format_report, plot_format, plot_predictions
    from .files import check_outputs

    if args.plot:  # before the model runs: a plot that cannot be written must not cost the evaluation
        plot_format(args.plot)
        check_outputs([("--model", args.model), ("--dataset", args.dataset)], files=[("--plot", args.plot)])
    metrics, preds, labels = evaluate_model(
        args.model, args.dataset, device=args.device, batch_size=args.batch_size, skip_invalid=args.skip_invalid
    )
    if args.plot:
        plot_predictions(preds, labels, args.plot, title=f"{Path(args.model).name} on {Path(args.dataset).name}")
    if args.json:
        print(json.dumps(metrics, indent=2))
    else:
        print(format_report(metrics, title=f"{args.model} on {args.dataset}"))
        if args.plot:
            print(f"plot written to {args.plot}")
    return 0


# ---------------------------------------------------------------- score
def add_score_parser(sub) -> None:
    p = sub.add_parser("score", help="rank candidate tactics for one proof state")
    p.add_argument("--model", required=True, help="trained model folder")
    p.add_argument("--state", "--goal", dest="state", required=True,
                   help="the proof state as Lean prints it (use $'...\\n...' for newlines); --goal is the same")
    p.add_argument("--tactic", action="append", required=True, help="candidate tactic (repeatable)")
    p.add_argument("--prefix", default="", help="tactics already written, one a line")
    p.add_argument("--device", default="auto", help="where the model runs: auto, cpu, cuda, cuda:N (default auto)")
    p.add_argument("--json", action="store_true",
                   help="print [{tactic, steps_remaining, rank_score, reward}] as JSON, best first")
    p.set_defaults(func=cmd_score)


def cmd_score(args) -> int:
    from .scoring import LeanProgressScorer, reward

    if not args.state.strip():
        return _fail("--state is empty: give the proof state as Lean prints it")
    blank = [i for i, t in enumerate(args.tactic, 1) if not t.strip()]
    if blank:
        return _fail(f"--tactic number {blank[0]} is empty")
    ranking = _ranked(LeanProgressScorer(args.model, device=args.device), args.state, args.tactic, args.prefix)
    if args.json:
        print(json.dumps([{"tactic": t, "steps_remaining": s, "rank_score": r, "reward": reward(r)}
                          for t, s, r in ranking]))
    else:
        _print_ranking(ranking)
    return 0


def _ranked(scorer, state: str, tactics: list[str], prefix: str = "") -> list[tuple[str, float, float]]:
    """(tactic, predicted steps, rank score) of every candidate, best first: ordered by the rank score, which
    breaks the ties of a point estimate (see LeanProgressScorer.rank_batch)."""
    scores = scorer.score_batch(state, tactics, prefix)
    return sorted(zip(tactics, scores.steps, scores.rank), key=lambda c: c[2])


def _print_ranking(ranking) -> None:
    print(f"{'rank':<5}{'steps left':>11}{'rank score':>12}  tactic")
    for i, (tactic, steps, rank) in enumerate(ranking, start=1):
        lines = tactic.splitlines()
        more = f"  (+{len(lines) - 1} more line{'s' if len(lines) > 2 else ''})" if len(lines) > 1 else ""
        print(f"{i:<5}{steps:>11.2f}{rank:>12.3f}  {lines[0]}{more}")


# ---------------------------------------------------------------- quickstart
QUICKSTART_GOAL = "a b c : ℕ\nhab : a ∣ b\nhbc : b ∣ c\n⊢ a ∣ c"
QUICKSTART_TACTICS = [
    "exact Nat.dvd_trans hab hbc",
    "obtain ⟨k, rfl⟩ := hab",
    "induction c with\n| zero => simp\n| succ n ih => sorry",
    "rw [Nat.dvd_iff_mod_eq_zero]",
    "simp",
]


def add_quickstart_parser(sub) -> None:
    p = sub.add_parser(
        "quickstart",
        help="build data from the bundled example traces, train briefly, evaluate, rank candidates",
    )
    p.add_argument("--output-dir", default="runs/quickstart", help="(default runs/quickstart)")
    p.add_argument("--epochs", type=float, default=4.0, help="(default 4)")
    p.add_argument("--model-name", default=None, help="encoder (default: bundled all-MiniLM-L6-v2)")
    p.set_defaults(func=cmd_quickstart)


def cmd_quickstart(args) -> int:
    from .data.examples import example_traces_path

    from .files import check_outputs

    out = Path(args.output_dir)
    data = out / "example_records.jsonl"
    model = out / "model"
    base = args.model_name if args.model_name and Path(args.model_name).exists() else None
    check_outputs([("the bundled example traces", example_traces_path()), ("--model-name", base)],
                  folders=[("--output-dir", out)])
    print(f"== 1/4 build-dataset from the bundled example traces -> {data}")
    rc = main(["build-dataset", str(example_traces_path()), "--output", str(data), "--source", "examples"])
    if rc:
        return rc
    encoder = args.model_name or "the default encoder"
    print(f"\n== 2/4 train {encoder} for {args.epochs:g} epoch{'' if args.epochs == 1 else 's'} -> {model}")
    train_argv = ["train", "--dataset", str(data), "--output-dir", str(model), "--epochs", str(args.epochs),
                  "--batch-size", "8", "--learning-rate", "1e-4", "--eval-ratio", "0.25",
                  # A handful of held-out rows cannot tell a trained model from a constant; the demo shows
                  # what training produced (the caveat printed below says what it is worth).
                  "--no-fallback-to-constant"]
    if args.model_name:
        train_argv += ["--model-name", args.model_name]
    rc = main(train_argv)
    if rc:
        return rc
    print(f"\n== 3/4 evaluate with a plot -> {out / 'eval.png'}")
    rc = main(["evaluate", "--model", str(model), "--dataset", str(model / "eval_split.jsonl"),
               "--plot", str(out / "eval.png")])
    if rc:
        return rc
    print("\n== 4/4 rank candidate tactics for a goal:")
    print("   " + QUICKSTART_GOAL.replace("\n", "\n   "))
    from .scoring import LeanProgressScorer

    _print_ranking(_ranked(LeanProgressScorer(str(model)), QUICKSTART_GOAL, QUICKSTART_TACTICS))
    print(
        "\nThis model was trained on a few dozen example steps: the ranking shows the pipeline, not a useful prover."
        "\nTrain on real traces: leanprogress build-dataset <LeanDojo JSON> --output data.jsonl && "
        "leanprogress train --dataset data.jsonl --output-dir runs/model"
    )
    return 0


# ---------------------------------------------------------------- create-sample
def add_sample_parser(sub) -> None:
    p = sub.add_parser("create-sample", help="write three illustrative records")
    p.add_argument("--output", required=True)
    p.set_defaults(func=cmd_create_sample)


def cmd_create_sample(args) -> int:
    from .create_sample_dataset import write_sample

    n = write_sample(args.output)
    print(f"wrote {n} records to {args.output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leanprogress", description="Predict steps remaining in Lean 4 proofs.")
    parser.add_argument("--version", action="version", version=f"leanprogress {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="more logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (add_build_parser, add_split_parser, add_train_parser, add_evaluate_parser, add_score_parser,
                add_quickstart_parser, add_sample_parser):
        add(sub)
    for add in _extra_parsers():
        add(sub)
    return parser


def _extra_parsers():
    """Subcommands of the optional parts (serving, search), registered lazily."""
    adders = []
    for module, name in (("leanprogress.serve.cli", "add_parser"), ("leanprogress.search.cli", "add_parsers")):
        try:
            mod = __import__(module, fromlist=[name])
        except ImportError:
            continue
        adders.append(getattr(mod, name))
    return adders


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from .data.records import RecordError
    from .encoder import ModelLoadError

    try:
        return args.func(args) or 0
    except KeyboardInterrupt:
        # Outputs are written to a temporary name and renamed when complete, so nothing half-written is left.
        extra = "; finished checkpoints stay for --resume" if getattr(args, "command", "") == "train" else ""
        print(f"leanprogress: interrupted; no output file was left half-written{extra}", file=sys.stderr)
        return 130
    except (RecordError, ModelLoadError, ValueError) as exc:
        return _fail(str(exc))
    except RuntimeError as exc:
        # leanprogress.scoring.ScoringError, looked up lazily: importing the scorer loads torch.
        scoring = sys.modules.get("leanprogress.scoring")
        if scoring is not None and isinstance(exc, scoring.ScoringError):
            return _fail(str(exc))
        raise
    except OSError as exc:  # missing file, a folder where a file was expected, permissions, full disk
        return _fail(str(exc) if exc.filename is None else f"{exc.filename}: {exc.strerror}")


if __name__ == "__main__":
    sys.exit(main())
