"""A competition-math progress model: train recipes on everything in the style we search, measure on held-out theorems.

Training data (all from ``--data-dir``, default ``../shared/data``), each source with its own weight:

- ``workbook``: every Lean Workbook Plus declaration read with ``--from-lean-source`` (20,527 records),
  except the held-out Workbook theorems below;
- ``minif2f``: the miniF2F-valid whole proofs (``--from-proofs``: initial state + prefix, long ``have`` chains;
  weight 0 in the recipe);
- ``mathlib``: the traced Mathlib sample;
- ``search``: the miniF2F-valid search traces (real intermediate states), except the held-out fold.

Held-out theorems, never trained on:

- search traces: the theorems are cut into ``--folds`` folds by theorem *name*; fold k's model trains on the
  other folds and is evaluated on fold k, so with every fold run each of the 145 steps is predicted once by a
  model that never saw its theorem (``--only-fold`` runs one fold: half the time, half the rows). The
  whole proofs of the same theorems (miniF2F-valid proofs carry the same names: they are proofs of the same
  problems) are dropped from fold k's training too, and so is any Workbook theorem whose initial ``⊢``
  target is the target of a held-out theorem (two such duplicates exist);
- Workbook: ``--workbook-holdout`` of the Workbook theorems (split among the folds the same way), with
  Workbook theorems stating the same target dropped from training;
- the best epoch and the constant fallback are chosen on a separate inner set of Workbook theorems
  (``--inner-eval``), never on the figures reported here.

For every recipe variant it prints, on both held-out sets, MAE and exact-match of the model, the tactic-name
lookup (median and mode, fit on that model's training records), and the best constant (chosen knowing the
held-out labels), plus the ranking figure (pairs of tactics on a shared state ordered as their labels), all
with 95% bootstrap intervals over theorems, the difference model minus lookup with its paired interval, and
training time and examples/s. Per epoch it also scores the held-out sets, so that the figure used to pick
the best epoch can be judged: the table "which epoch each selection figure picks" shows what each choice
would have given.

Variants (``--variant``, repeatable; one process, prompts tokenized once per prompt setting):

    python benchmarks/bench_competition.py                                   # the recommended recipe
    python benchmarks/bench_competition.py --variant name=recipe \\
        --variant name=reg,head=regression,max_length=256,epochs=3,minif2f=0.3 --json results.json
    python benchmarks/bench_competition.py --variant name=quick,workbook_theorems=1500,epochs=1,max_length=128 \\
        --only-fold 0 --device cpu

Variant keys (defaults = ``RECIPE``): ``head`` (regression|distribution), ``k`` (head_max_steps),
``point`` (point estimate saved with the model), ``epochs``, ``lr``, ``max_length``, ``batch_size``,
``warmup``, ``label_transform``, ``selection`` (mae|accuracy|mse|loss), ``canonical`` (1: goals in canonical
form, 0: as printed), ``group`` (1: batches of similar length, 0: random batches), ``seed``, the source weights
``workbook``, ``minif2f``, ``mathlib``, ``search`` (0 leaves a source out; fractions subsample theorems,
whole numbers repeat them), ``workbook_theorems`` (use only this many Workbook training theorems, for
quick runs), ``name``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import SHARED, machine  # noqa: E402

# The recommended recipe (docs/guides/training.md, "A competition-math progress model"): chosen on both held-out sets against the
# regression head at length 256 with 3 epochs and 30% of the miniF2F whole proofs (the previous recipe).
RECIPE = {
    "name": "recipe",
    "head": "distribution",
    "k": 10,
    "point": "median",
    "epochs": 2.0,
    "lr": 1e-4,
    "max_length": 128,
    "batch_size": 64,
    "warmup": 0.1,
    "label_transform": "log1p",
    "selection": "mae",
    "canonical": 1,
    "group": 1,
    "seed": 42,
    "workbook": 1.0,
    "minif2f": 0.0,
    "mathlib": 1.0,
    "search": 4.0,
    "workbook_theorems": 0,
}
_TYPES = {k: type(v) for k, v in RECIPE.items()}


def parse_variant(spec: str) -> dict:
    """``key=value,key=value`` over RECIPE's keys."""
    out = dict(RECIPE)
    if spec.strip():
        for part in spec.split(","):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in RECIPE:
                raise SystemExit(f"bad --variant part {part!r}: expected KEY=VALUE with KEY one of {sorted(RECIPE)}")
            kind = _TYPES[key]
            try:
                out[key] = kind(float(value)) if kind in (int, float) else value.strip()
            except ValueError:
                raise SystemExit(f"bad --variant value {part!r}: {key} takes a {kind.__name__}") from None
    if "name=" not in spec:
        out["name"] = spec.replace(",", " ") or RECIPE["name"]
    return out


# ---------------------------------------------------------------- data and the explicit split
def _target(goal: str) -> str:
    """The ``⊢`` target of a state with spaces removed (hypothesis names differ between restatements)."""
    i = goal.rfind("⊢")
    return re.sub(r"\s+", "", goal[i:]) if i >= 0 else ""


def load_sources(data_dir: Path) -> dict[str, list[dict]]:
    from leanprogress.data.lean_source import iter_source_records
    from leanprogress.data.leandojo import iter_leandojo_records
    from leanprogress.data.proofs import SourceStats, iter_proof_records

    paths = {
        "workbook": data_dir / "lean-workbook-plus-proofs" / "proofs.jsonl",
        "minif2f": data_dir / "minif2f-valid-proofs" / "proofs.jsonl",
        "mathlib": data_dir / "mathlib4-leandojo-sample" / "random_test.json",
        "search": data_dir / "minif2f-valid-search-traces" / "traces.json",
    }
    missing = [str(p) for p in paths.values() if not p.exists()]
    if missing:
        print(f"SKIPPED: shared data not found ({', '.join(missing)}); pass --data-dir or set LEANPROGRESS_SHARED_DATA")
        sys.exit(0)
    return {
        "workbook": list(iter_source_records(paths["workbook"], SourceStats(), source="workbook")),
        "minif2f": list(iter_proof_records(paths["minif2f"], SourceStats(), source="minif2f-proofs")),
        "mathlib": list(iter_leandojo_records([paths["mathlib"]], source="mathlib")),
        "search": list(iter_leandojo_records([paths["search"]], source="search")),
    }


def make_split(sources: dict[str, list[dict]], folds: int, workbook_holdout: float, inner_eval: float,
               seed: int) -> dict:
    """Theorem-level folds, by bare theorem name (search traces of one theorem from several runs stay together,
    and the miniF2F whole proofs of a held-out theorem are left out with it)."""
    rng = random.Random(seed)
    search_names = sorted({r["theorem"] for r in sources["search"]})
    rng.shuffle(search_names)
    search_fold = {name: i % folds for i, name in enumerate(search_names)}
    wb_names = sorted({r["theorem"] for r in sources["workbook"]})
    rng.shuffle(wb_names)
    n_hold, n_inner = round(workbook_holdout * len(wb_names)), round(inner_eval * len(wb_names))
    wb_hold = {name: i % folds for i, name in enumerate(wb_names[:n_hold])}
    wb_inner = set(wb_names[n_hold:n_hold + n_inner])
    wb_train_order = wb_names[n_hold + n_inner:]  # shuffled: a prefix is a random subsample
    first_target = {}
    for r in sources["workbook"]:
        if r["prefix"] == "":
            first_target.setdefault(r["theorem"], _target(r["goal"]))
    search_targets = {}
    for r in sources["search"]:
        if r.get("step") == 0:
            search_targets.setdefault(r["theorem"], set()).add(_target(r["goal"]))
    return {"search_fold": search_fold, "wb_hold": wb_hold, "wb_inner": wb_inner, "wb_train_order": wb_train_order,
            "wb_target": first_target, "search_targets": search_targets, "folds": folds}


def fold_data(sources: dict, split: dict, fold: int, variant: dict) -> tuple[list, list, dict]:
    """(training records with weights applied, inner eval records, held-out records per set) for one fold."""
    from leanprogress.data.dataset import weight_by_theorem

    held_search = {n for n, f in split["search_fold"].items() if f == fold}
    held_wb = {n for n, f in split["wb_hold"].items() if f == fold}
    all_held_wb = set(split["wb_hold"])
    banned_targets = set().union(*(split["search_targets"].get(n, set()) for n in held_search))
    banned_targets |= {split["wb_target"].get(n) for n in all_held_wb | split["wb_inner"]}
    wb_train_names = split["wb_train_order"]
    if variant["workbook_theorems"]:
        wb_train_names = wb_train_names[:variant["workbook_theorems"]]
    wb_train_names = {n for n in wb_train_names if split["wb_target"].get(n) not in banned_targets}
    parts = {
        "workbook": [r for r in sources["workbook"] if r["theorem"] in wb_train_names],
        "minif2f": [r for r in sources["minif2f"] if r["theorem"] not in held_search],
        "mathlib": sources["mathlib"],
        "search": [r for r in sources["search"] if r["theorem"] not in held_search],
    }
    train = []
    for name, records in parts.items():
        if variant[name] > 0 and records:
            train += weight_by_theorem(records, variant[name], seed=variant["seed"])
    inner = [r for r in sources["workbook"] if r["theorem"] in split["wb_inner"]]
    held = {
        "search": [r for r in sources["search"] if r["theorem"] in held_search],
        "workbook": [r for r in sources["workbook"] if r["theorem"] in held_wb],
    }
    # The guarantee this benchmark rests on: no held-out theorem is trained on under any source.
    trained_names = {r["theorem"] for r in train}
    assert not trained_names & held_search and not trained_names & all_held_wb
    return train, inner, held


# ---------------------------------------------------------------- scoring held-out sets with the live model
def raw_outputs(progress_trainer, model, records: list[dict], device, batch_size: int = 64):
    """Head outputs (n, num_labels) of ``model`` on records, prompts as the trainer builds them."""
    import numpy as np
    import torch

    ids = progress_trainer._encode_prompts([r["goal"] for r in records], [r["tactic"] for r in records],
                                           [r["prefix"] for r in records])
    pad = progress_trainer.tokenizer.pad_token_id or 0
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = np.zeros((len(ids), progress_trainer.settings.num_labels))
    was_training = model.training
    model.eval()
    types = "token_type_ids" in progress_trainer.tokenizer.model_input_names
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            width = max(len(ids[i]) for i in idx)
            x = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                x[row, :len(ids[i])] = torch.as_tensor(ids[i], dtype=torch.long)
                mask[row, :len(ids[i])] = 1
            batch = {"input_ids": x.to(device), "attention_mask": mask.to(device)}
            if types:
                batch["token_type_ids"] = torch.zeros_like(batch["input_ids"])
            out[idx] = model(**batch).logits.float().reshape(len(idx), -1).cpu().numpy()
    if was_training:
        model.train()
    return out


def predictions_of(progress_trainer, raw) -> dict[str, list[float]]:
    """Every point estimate the head offers (regression: one), and P(close) for the distribution head."""
    from leanprogress import heads

    s = progress_trainer.settings
    if s.head == "regression":
        return {"model": heads.decode_regression(raw, s.label_transform).tolist()}
    probs = heads.softmax(raw)
    out = {f"model ({how})": heads.point_estimate(probs, how, s.head_more_steps).tolist()
           for how in heads.POINT_ESTIMATES}
    out["p_close"] = probs[:, 0].tolist()
    return out


class HeldOutEachEpoch(TrainerCallback):
    """Scores the held-out sets after every epoch's evaluation (recorded, never used to select)."""

    def __init__(self, held: dict[str, list[dict]]):
        self.held = held
        self.progress_trainer = None
        self.epochs: list[dict] = []
        self.seconds = 0.0  # spent here, to take out of the training time

    def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
        from leanprogress.evaluation import compute_metrics

        if any(e["epoch"] == state.epoch for e in self.epochs):
            return  # the trainer's final evaluation of the kept epoch, already recorded
        t0 = time.perf_counter()
        entry = {"epoch": state.epoch, "inner": {k: v for k, v in (metrics or {}).items() if k.startswith("eval_")}}
        device = next(model.parameters()).device
        for name, records in self.held.items():
            preds = predictions_of(self.progress_trainer, raw_outputs(self.progress_trainer, model, records, device))
            labels = [r["steps_remaining"] for r in records]
            entry[name] = {k: {f: compute_metrics(v, labels)[f] for f in ("mae", "accuracy")}
                           for k, v in preds.items() if k != "p_close"}
        self.epochs.append(entry)
        self.seconds += time.perf_counter() - t0


def selection_table(epochs: list[dict]) -> dict:
    """For each selection figure: the epoch it picks on the inner set and that epoch's held-out figures."""
    out = {}
    rules = {"mae": ("eval_mae", min), "accuracy": ("eval_accuracy", max), "mse": ("eval_mse", min),
             "loss": ("eval_loss", min)}
    for name, (key, pick) in rules.items():
        scored = [e for e in epochs if key in e["inner"] and not math.isnan(e["inner"][key])]
        if not scored:
            continue
        best = pick(scored, key=lambda e: e["inner"][key])
        out[name] = {"epoch": best["epoch"], **{k: v for k, v in best.items() if k not in ("epoch", "inner")}}
    return out


def _model_key(variant: dict) -> str:
    """The held-out predictions' name for the variant's saved point estimate."""
    return "model" if variant["head"] == "regression" else f"model ({variant['point']})"


def selection_summary(reports: list[dict]) -> dict:
    """For each selection figure, the held-out figures of the epochs it picks, averaged over every variant and fold
    in ``reports`` (this script's JSON ``variants``), beside the last epoch and the best epoch in hindsight.

    Only folds with at least two epochs count; every rule sees the same folds. Held-out figures are the model's
    with the variant's saved point estimate. Returns ``{rule: {"folds": n, "search_mae": ..., "search_accuracy":
    ..., "workbook_mae": ..., "workbook_accuracy": ..., "best_search_mae_picked": k}}`` where the last counts the
    folds in which the rule picked (one of) the epochs with the lowest held-out search MAE.
    """
    # rule -> (figure of the inner evaluation, which extreme it keeps)
    rules = {"mae": ("eval_mae", min), "accuracy": ("eval_accuracy", max), "mse": ("eval_mse", min),
             "loss": ("eval_loss", min)}
    totals: dict[str, dict] = {}
    for report in reports:
        key = _model_key(report["variant"])
        for epochs in report["epochs"]:
            usable = [e for e in epochs if all(e["inner"].get(f) is not None and not math.isnan(e["inner"][f])
                                              for f, _ in rules.values())]
            if len(usable) < 2 or not all(key in e.get(s, {}) for e in usable for s in ("search", "workbook")):
                continue
            best_mae = min(e["search"][key]["mae"] for e in usable)
            picks = {name: pick(usable, key=lambda e, f=field: e["inner"][f]) for name, (field, pick) in rules.items()}
            picks["last epoch"] = max(usable, key=lambda e: e["epoch"])
            picks["best in hindsight (search MAE)"] = min(usable, key=lambda e: e["search"][key]["mae"])
            for name, e in picks.items():
                t = totals.setdefault(name, {"folds": 0, "search_mae": 0.0, "search_accuracy": 0.0,
                                             "workbook_mae": 0.0, "workbook_accuracy": 0.0,
                                             "best_search_mae_picked": 0})
                t["folds"] += 1
                for s in ("search", "workbook"):
                    t[f"{s}_mae"] += e[s][key]["mae"]
                    t[f"{s}_accuracy"] += e[s][key]["accuracy"]
                t["best_search_mae_picked"] += e["search"][key]["mae"] <= best_mae + 1e-12
    for t in totals.values():
        for k in ("search_mae", "search_accuracy", "workbook_mae", "workbook_accuracy"):
            t[k] /= t["folds"]
    return totals


def print_selection_summary(totals: dict) -> None:
    if not totals:
        print("no fold with two or more epochs: nothing to compare")
        return
    n = next(iter(totals.values()))["folds"]
    print(f"held-out figures of the epoch each selection figure keeps, mean over {n} variant-folds:")
    print(f"{'kept by':32} {'search MAE':>10} {'exact':>7} {'Workbook MAE':>13} {'exact':>7} {'best search MAE':>16}")
    for name, t in totals.items():
        print(f"{name:32} {t['search_mae']:10.3f} {t['search_accuracy']:7.1%} {t['workbook_mae']:13.3f} "
              f"{t['workbook_accuracy']:7.1%} {t['best_search_mae_picked']:>10d} of {t['folds']}")


# ---------------------------------------------------------------- one variant
def run_variant(variant: dict, sources: dict, split: dict, opts, cache, workdir: Path) -> dict:
    import numpy as np

    from leanprogress import ProgressTrainer, ProgressTrainingArguments
    from leanprogress.data.records import theorem_key

    folds = [opts.only_fold] if opts.only_fold is not None else list(range(split["folds"]))
    pooled = {name: {"records": [], "preds": {}, "lookup_median": [], "lookup_mode": []}
              for name in ("search", "workbook")}
    fold_reports, epochs_all = [], []
    train_seconds, tokenize_seconds, examples = 0.0, 0.0, 0
    for fold in folds:
        train, inner, held = fold_data(sources, split, fold, variant)
        out = workdir / f"{variant['name']}-fold{fold}".replace("/", "_").replace(" ", "_")
        args = ProgressTrainingArguments(
            output_dir=str(out), model_name=opts.model_name, max_length=variant["max_length"],
            batch_size=variant["batch_size"], epochs=variant["epochs"], learning_rate=variant["lr"],
            warmup_ratio=variant["warmup"], seed=variant["seed"], label_transform=variant["label_transform"],
            head=variant["head"], head_max_steps=variant["k"], point_estimate=variant["point"],
            selection_metric=variant["selection"], canonicalize_goals=bool(variant["canonical"]),
            group_by_length=bool(variant["group"]), device=opts.device, precision=opts.precision,
            eval_batch_size=64, logging_steps=50,
            extra={"save_total_limit": 1, "dataloader_num_workers": opts.workers, "disable_tqdm": not opts.progress},
        )
        callback = HeldOutEachEpoch(held)
        t0 = time.perf_counter()
        pt = ProgressTrainer(args, train, inner, callbacks=[callback], prompt_cache=cache)
        callback.progress_trainer = pt
        metrics = pt.train()
        wall = time.perf_counter() - t0
        t = metrics["train"]
        # Training time includes the inner evaluation after every epoch (part of the recipe), not the
        # held-out scoring this benchmark adds.
        seconds = t["train_runtime"] - callback.seconds
        train_seconds += seconds
        tokenize_seconds += wall - t["train_runtime"]
        examples += len(train) * variant["epochs"]
        model = pt.trainer.model
        device = next(model.parameters()).device
        for name, records in held.items():
            p = pooled[name]
            preds = predictions_of(pt, raw_outputs(pt, model, records, device))
            for k, v in preds.items():
                p["preds"].setdefault(k, []).extend(v)
            p["records"].extend(records)
            p["lookup_median"].extend(pt.lookup.predict([r["tactic"] for r in records], "median"))
            p["lookup_mode"].extend(pt.lookup.predict([r["tactic"] for r in records], "mode"))
        fold_reports.append({"fold": fold, "train_records": len(train), "inner_eval_records": len(inner),
                             "held_out": {k: len(v) for k, v in held.items()}, "kept": metrics["kept"],
                             "train_seconds": seconds, "held_out_scoring_seconds": callback.seconds,
                             "examples_per_second": len(train) * variant["epochs"] / seconds,
                             "wall_seconds": wall, "device": metrics["device"], "precision": metrics["precision"],
                             "selection": selection_table(callback.epochs)})
        epochs_all.append(callback.epochs)
        print(f"  {variant['name']} fold {fold}: {len(train)} training records, trained in {seconds:.0f}s "
              f"({len(train) * variant['epochs'] / seconds:.1f} examples/s), kept {metrics['kept']}", flush=True)
        if not opts.keep_models:
            import shutil

            shutil.rmtree(out, ignore_errors=True)
    from leanprogress.evaluation import compare_predictors, ranking_figure

    results = {}
    for name, p in pooled.items():
        recs = p["records"]
        labels = [r["steps_remaining"] for r in recs]
        # Bare theorem names for search traces (proofs of one theorem from several runs are one theorem).
        groups = [r["theorem"] if name == "search" else theorem_key(r) for r in recs]
        goals, tactics, prefixes = [r["goal"] for r in recs], [r["tactic"] for r in recs], [r["prefix"] for r in recs]
        model_preds = {k: v for k, v in p["preds"].items() if k != "p_close"}
        reference = "model" if "model" in model_preds else f"model ({variant['point']})"
        comp = compare_predictors({**model_preds, "lookup median": p["lookup_median"], "lookup mode": p["lookup_mode"]},
                                  labels, groups, goals, tactics, reference=reference, n_resamples=opts.bootstrap,
                                  seed=opts.seed, prefixes=prefixes)
        if "p_close" in p["preds"]:
            comp["ranking_by_p_close"] = ranking_figure([1 - x for x in p["preds"]["p_close"]], goals, tactics, labels,
                                                        prefixes)
        results[name] = comp
    return {"variant": variant, "folds": fold_reports, "held_out": results, "epochs": epochs_all,
            "train_seconds": train_seconds, "prompt_and_setup_seconds": tokenize_seconds,
            "examples_per_second": examples / train_seconds if train_seconds else None}


def print_variant(report: dict) -> None:
    from leanprogress.evaluation import format_comparison

    v = report["variant"]
    print(f"\n=== {v['name']}: " + ", ".join(f"{k}={v[k]}" for k in RECIPE if k != "name"))
    print(f"training: {report['train_seconds']:.0f}s over {len(report['folds'])} fold(s) "
          f"({report['examples_per_second']:.1f} examples/s, per-epoch inner evaluation included; prompts, loading "
          f"and saving {report['prompt_and_setup_seconds']:.0f}s) on {report['folds'][0]['device']} "
          f"({report['folds'][0]['precision']})")
    for name, title in (("search", "held-out search-trace theorems"), ("workbook", "held-out Lean Workbook theorems")):
        print(format_comparison(report["held_out"][name], f"-- {title}"))
        if "ranking_by_p_close" in report["held_out"][name]:
            r = report["held_out"][name]["ranking_by_p_close"]
            print(f"ranking by P(closes the goal): {r['agreement'] if r['agreement'] is None else round(r['agreement'], 3)} "
                  f"over {r['pairs']} pairs")
    print("-- which epoch each selection figure picks (on the inner Workbook set) and what it gives held out:")
    for f in report["folds"]:
        for rule, pick in f["selection"].items():
            figures = "; ".join(f"{s} " + ", ".join(f"{k}: MAE {m['mae']:.3f} exact {m['accuracy']:.3f}"
                                                   for k, m in pick[s].items())
                                for s in ("search", "workbook") if s in pick)
            print(f"   fold {f['fold']} {rule:9} -> epoch {pick['epoch']:.0f}: {figures}")


def export_encoder(model_name, folder: Path) -> None:
    """The encoder with bf16 weights and an fp32 ``dtype`` in its config, so it trains in fp32 as usual."""
    import torch
    from transformers import AutoModel

    from leanprogress.encoder import load_tokenizer, resolve_model_name

    name = resolve_model_name(model_name)
    model = AutoModel.from_pretrained(name, use_safetensors=True, trust_remote_code=False)
    model.to(torch.bfloat16).save_pretrained(folder)
    load_tokenizer(name).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    config["dtype"] = "float32"
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    print(f"encoder {name} written to {folder} ({size / 2**20:.0f} MiB, bf16 weights)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=SHARED, help=f"shared data folder (default {SHARED})")
    ap.add_argument("--variant", action="append", default=[], metavar="SPEC",
                    help="recipe variant KEY=VALUE,... over the recipe's keys (repeatable; default: the recipe)")
    ap.add_argument("--model-name", default=None, help="encoder folder or hub id (default: bundled all-MiniLM-L6-v2)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--folds", type=int, default=2, help="folds of the search-trace theorems (default 2)")
    ap.add_argument("--only-fold", type=int, default=None, help="train and evaluate this fold only")
    ap.add_argument("--workbook-holdout", type=float, default=0.05, help="Workbook theorems held out (default 0.05)")
    ap.add_argument("--inner-eval", type=float, default=0.02,
                    help="Workbook theorems that pick the best epoch (default 0.02)")
    ap.add_argument("--bootstrap", type=int, default=1000, help="bootstrap draws (default 1000)")
    ap.add_argument("--seed", type=int, default=42, help="seed of the split and the bootstrap (default 42)")
    ap.add_argument("--workers", type=int, default=0, help="dataloader workers (default 0)")
    ap.add_argument("--progress", action="store_true", help="show the Trainer's progress bars")
    ap.add_argument("--keep-models", action="store_true", help="keep the trained models in --out-dir")
    ap.add_argument("--out-dir", type=Path, default=None, help="where models are trained (default: a temporary folder)")
    ap.add_argument("--json", type=Path, default=None, help="write every variant's figures here")
    ap.add_argument("--selection-summary", type=Path, nargs="+", default=None, metavar="JSON",
                    help="read --json files of earlier runs and print which epoch each selection figure keeps and "
                    "what it gives held out, averaged over their variants and folds, and exit")
    ap.add_argument("--export-encoder", type=Path, default=None, metavar="DIR",
                    help="write the encoder (--model-name, default the bundled one) to DIR with bf16 weights (45 MB "
                    "for all-MiniLM-L6-v2, half the size, loaded back as fp32) for carrying to a GPU machine, and exit")
    opts = ap.parse_args(argv)
    if opts.selection_summary:
        reports = []
        for path in opts.selection_summary:
            try:
                reports += json.loads(path.read_text(encoding="utf-8"))["variants"]
            except (OSError, ValueError, KeyError) as exc:
                ap.error(f"{path}: not a --json file of this benchmark ({exc})")
        print_selection_summary(selection_summary(reports))
        return
    if opts.export_encoder:
        export_encoder(opts.model_name, opts.export_encoder)
        return
    if opts.folds < 2:
        ap.error("--folds must be >= 2 (each fold's model trains on the other folds' search traces)")
    if opts.only_fold is not None and not 0 <= opts.only_fold < opts.folds:
        ap.error(f"--only-fold must be in 0..{opts.folds - 1}")
    variants = [parse_variant(v) for v in opts.variant] or [dict(RECIPE)]
    names = [v["name"] for v in variants]
    if len(set(names)) != len(names):
        ap.error(f"variant names must differ: {names}")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.logging.set_verbosity_error()
    from leanprogress.training.trainer import PromptCache

    print(f"machine: {machine()}", flush=True)
    t0 = time.perf_counter()
    sources = load_sources(opts.data_dir)
    split = make_split(sources, opts.folds, opts.workbook_holdout, opts.inner_eval, opts.seed)
    print(f"data: " + ", ".join(f"{k} {len(v)} records" for k, v in sources.items())
          + f" (read in {time.perf_counter() - t0:.0f}s); search theorems {len(split['search_fold'])} in "
          f"{opts.folds} folds; Workbook held out {len(split['wb_hold'])} theorems, inner eval {len(split['wb_inner'])}",
          flush=True)
    cache = PromptCache()
    reports = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = opts.out_dir or Path(tmp)
        for variant in variants:
            report = run_variant(variant, sources, split, opts, cache, workdir)
            reports.append(report)
            print_variant(report)
            if opts.json:  # after every variant, so a run cut short keeps what it measured
                payload = {"machine": machine(), "options": {k: str(v) for k, v in vars(opts).items()},
                           "variants": reports}
                tmp_json = opts.json.with_name(opts.json.name + ".tmp")
                tmp_json.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")
                os.replace(tmp_json, opts.json)
    print(f"\nprompt cache: {len(cache)} prompts built, {cache.hits} reused; total {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
