"""Original LeanProgress recipe against this project's default, on real Mathlib traces.

Both train the same encoder (bundled all-MiniLM-L6-v2) and are evaluated on
the same held-out theorems (20% of the Mathlib4 LeanDojo sample, split by
theorem). The original recipe pads every prompt to 512 tokens, cuts long
prompts from the right, reads Lean symbols as [UNK], trains on raw steps with
lr 1e-5 for 3 epochs and picks its best epoch on a row-level random split (of
the training theorems here, so it never sees the held-out ones).

Prints MAE, accuracy, Spearman beside the best constant, training examples/s
and scoring throughput for 32 candidates of one state.

    python benchmarks/bench_training.py [--folds 5] [--only ours|original] [--head distribution] [--set KEY=VALUE]
    python benchmarks/bench_training.py --only original --json original.json      # ~40 min on 2 cores
    python benchmarks/bench_training.py --only ours --reuse original.json         # ~8 min, full comparison
    python benchmarks/bench_training.py --throughput-only                          # ~7 min, speed only
    python benchmarks/bench_training.py --kinds                                    # the recipe's data, ~25 min

``--kinds`` times training on the competition recipe's data (``bench_competition.py``'s recipe: Lean Workbook Plus
in the search order, 2,000 theorems, and the Mathlib sample; docs/guides/training.md, "A competition-math progress
model"): the original recipe against the recipe as a cross-encoder and as the group encoder kind, in fp32 and bf16,
one epoch each on the same sample of records (the original on fewer: it pads every record to 512 tokens, so its
cost per record does not depend on how many), in alternating rounds.

A single 20% hold-out of a 100-theorem sample is small (60-160 rows, one long
proof can double its MAE), so the comparison is a k-fold cross-validation by
theorem: every theorem is held out exactly once, each recipe is trained k
times, and the figures are computed on the predictions pooled over all folds
(all 469 rows), beside the per-fold ones.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time

from _shared import MATHLIB_SAMPLE, add_head_argument, machine, require


# The original LeanProgress recipe: every prompt padded to 512 tokens and cut from the right, Lean symbols read as
# [UNK], raw steps as the target, learning rate 1e-5, batch 8, fp32.
ORIGINAL = dict(max_length=512, pad_to_max_length=True, truncation="right", normalize_symbols="no",
                label_transform="none", learning_rate=1e-5, precision="fp32", group_by_length=False,
                init_head_bias=False, fallback_to_constant=False, epochs=3.0, batch_size=8)

# The original scores one candidate per forward pass; this project batches them, in each precision.
SCORING_MODES = {"original": ["one-by-one fp32"], "ours": ["batched fp32", "batched bf16", "batched int8"]}


def load_records():
    from leanprogress.data.leandojo import iter_leandojo_records

    return list(iter_leandojo_records([MATHLIB_SAMPLE], source="mathlib4"))


def train(name, train_recs, inner_eval, out, **overrides):
    from leanprogress import ProgressTrainer, ProgressTrainingArguments

    args = ProgressTrainingArguments(output_dir=out, **overrides)
    metrics = ProgressTrainer(args, train_recs, inner_eval).train()
    return metrics["train"]["train_samples_per_second"], metrics


def score_throughput(model_dir, goal, prefix, tactics, mode, repeats=3):
    import torch

    from leanprogress import LeanProgressScorer

    precision = {"one-by-one fp32": "fp32", "batched fp32": "fp32"}.get(mode, mode.split()[-1])
    scorer = LeanProgressScorer(model_dir, device="cpu", precision=precision)
    if mode.startswith("one-by-one"):
        fn = lambda: [scorer.predict(goal, t, prefix) for t in tactics]  # noqa: E731
    else:
        fn = lambda: scorer.predict_batch(goal, tactics, prefix)  # noqa: E731
    fn()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        preds = fn()
        best = min(best, time.perf_counter() - t0)
    del scorer
    torch.set_num_threads(torch.get_num_threads())
    return len(tactics) / best, preds


def _set_value(value: str):
    """A ``--set`` value: JSON where it reads as JSON (numbers, true, lists), else the string (fp32, none)."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def theorem_folds(records, k, seed):
    """Yield (train, held_out) k times; each theorem is held out in exactly one fold."""
    from leanprogress.data.records import theorem_key

    keys = sorted({theorem_key(r) for r in records})
    random.Random(seed).shuffle(keys)
    fold_of = {key: i % k for i, key in enumerate(keys)}
    for fold in range(k):
        yield ([r for r in records if fold_of[theorem_key(r)] != fold],
               [r for r in records if fold_of[theorem_key(r)] == fold])


def run_fold(opts, records, fold, train_recs, held_out):
    from leanprogress.data.dataset import split_by_theorem
    from leanprogress.evaluation import evaluate_model, format_report

    print(f"\n##### fold {fold}: train {len(train_recs)} / held-out {len(held_out)} records (split by theorem)")
    inner_train, inner_eval = split_by_theorem(train_recs, eval_ratio=0.2, seed=1)
    rows = list(train_recs)
    random.Random(1).shuffle(rows)
    cut = int(0.8 * len(rows))
    row_train, row_eval = rows[:cut], rows[cut:]

    # Candidates for one state: the recorded tactic among tactics of other proofs.
    state = max(held_out, key=lambda r: len(r["prefix"]) if len(r["goal"]) < 1200 else 0)
    others = sorted({r["tactic"] for r in records if r["tactic"] != state["tactic"]})
    random.Random(0).shuffle(others)
    tactics = [state["tactic"]] + others[:31]

    configs = {
        "original": dict(train=row_train, inner=row_eval, args=dict(ORIGINAL)),
        "ours": dict(train=inner_train, inner=inner_eval, args=dict(epochs=opts.epochs, head=opts.head)),
    }
    for item in opts.set:
        key, _, value = item.partition("=")
        configs["ours"]["args"][key] = _set_value(value)
    if opts.throughput_only:
        return measure_throughput(opts, configs, state, tactics)
    results = {}
    for name, cfg in configs.items():
        if opts.only and name != opts.only:
            continue
        with tempfile.TemporaryDirectory() as out:
            print(f"\n=== {name}: {cfg['args']}")
            t0 = time.perf_counter()
            speed, _ = train(name, cfg["train"], cfg["inner"], out, **cfg["args"])
            wall = time.perf_counter() - t0
            metrics, preds, labels = evaluate_model(out, held_out, device="cpu", precision="fp32")
            print(format_report(metrics, title=f"{name}: held-out Mathlib theorems (fold {fold})"))
            throughput = {}
            if fold == 0:  # one state's candidates are enough to time the scorer
                for mode in SCORING_MODES[name]:
                    cps, _ = score_throughput(out, state["goal"], state["prefix"], tactics, mode)
                    throughput[mode] = cps
                    print(f"scoring 32 candidates, {mode}: {cps:.1f} candidates/s")
            results[name] = {
                "train_examples_per_s": speed, "train_wall_s": wall, "rows": metrics["n"],
                "mae": metrics["mae"], "accuracy": metrics["accuracy"], "spearman": metrics["spearman"],
                "constant_mae": metrics["best_constant"]["mae"]["value"],
                "constant_accuracy": metrics["best_constant"]["accuracy"]["value"],
                "scoring": throughput, "predictions": list(map(float, preds)), "labels": list(map(int, labels)),
            }
            print(f"training: {speed:.2f} examples/s ({wall:.0f} s wall)")
    return results


def measure_throughput(opts, configs, state, tactics):
    """Time both recipes back to back (one epoch each, no evaluation), alternating, so that both see the
    machine in the same state; a cross-validation run takes an hour, long enough for the machine to change."""
    speeds = {name: [] for name in configs}
    scoring = {name: {} for name in configs}
    for round_ in range(opts.rounds):
        order = list(configs) if round_ % 2 == 0 else list(configs)[::-1]
        for name in order:
            cfg = configs[name]
            with tempfile.TemporaryDirectory() as out:
                speed, _ = train(name, cfg["train"], None, out, **(cfg["args"] | {"epochs": 1.0}))
                speeds[name].append(speed)
                print(f"round {round_}, {name}: {speed:.2f} training examples/s")
                for mode in SCORING_MODES[name]:
                    cps, _ = score_throughput(out, state["goal"], state["prefix"], tactics, mode)
                    scoring[name][mode] = max(cps, scoring[name].get(mode, 0.0))
                    print(f"round {round_}, {name}: scoring 32 candidates, {mode}: {cps:.1f} candidates/s")
    print("\n=== throughput (best of the rounds)")
    for name in configs:
        print(f"{name:9} training {max(speeds[name]):.2f} examples/s (rounds: "
              f"{', '.join(f'{v:.2f}' for v in speeds[name])}); scoring "
              + ", ".join(f"{m} {v:.1f}/s" for m, v in scoring[name].items()))
    tr = max(speeds["ours"]) / max(speeds["original"])
    sc = max(scoring["ours"].values()) / scoring["original"]["one-by-one fp32"]
    print(f"training throughput: {tr:.1f}x the original; scoring throughput: {sc:.1f}x")
    return None


def kinds_throughput(opts) -> dict:
    """Training examples/s on the recipe's data: the original recipe, and the recipe as each encoder kind in fp32
    and bf16, one epoch each, alternating rounds (see --kinds)."""
    import statistics

    from leanprogress import ProgressTrainer, ProgressTrainingArguments

    from _shared import SHARED
    from bench_competition import RECIPE, Sources, fold_data, make_split, training_arguments

    sources = Sources(SHARED)
    split = make_split(sources, 5, 0.05, 0.02, 42)
    variant = dict(RECIPE, workbook_theorems=opts.workbook_theorems)
    train, _, _ = fold_data(sources, split, None, variant)
    sample = random.Random(0).sample(train, min(opts.records, len(train)))
    print(f"recipe data: {len(train)} training records ({opts.workbook_theorems} Workbook theorems in the search order "
          f"and the Mathlib sample); timing on {len(sample)} of them (the original on {opts.original_records})",
          flush=True)

    def run(name: str, out: str) -> float:
        if name == "original":
            args = ProgressTrainingArguments(output_dir=out, **(ORIGINAL | {"epochs": 1.0}))
            records = sample[:opts.original_records]
        else:
            kind, precision = name.split()[1:]
            args = training_arguments(dict(variant, kind=kind, epochs=1.0), out, precision=precision,
                                      extra={"save_total_limit": 1})
            records = sample
        metrics = ProgressTrainer(args, records).train()
        return metrics["train"]["train_samples_per_second"]

    names = ["original", "recipe cross fp32", "recipe cross bf16", "recipe group fp32", "recipe group bf16"]
    speeds: dict[str, list[float]] = {n: [] for n in names}
    for round_ in range(opts.rounds):
        for name in (names if round_ % 2 == 0 else names[::-1]):
            with tempfile.TemporaryDirectory() as out:
                speeds[name].append(run(name, out))
            print(f"round {round_ + 1}, {name}: {speeds[name][-1]:.2f} training examples/s", flush=True)
    print(f"\n| training, examples/s (median of {opts.rounds} rounds; the rounds) | against the original | against "
          "recipe cross bf16 |")
    print("| --- | --- | --- |")
    base, cross = statistics.median(speeds["original"]), statistics.median(speeds["recipe cross bf16"])
    for name in names:
        v = statistics.median(speeds[name])
        print(f"| {name}: {v:.2f} ({', '.join(f'{x:.2f}' for x in speeds[name])}) | {v / base:.1f}x | "
              f"{v / cross:.2f}x |")
    return speeds


def fmt(x):
    return "n/a" if x is None else f"{x:.3f}"


def main() -> None:
    from leanprogress.evaluation import compute_metrics

    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["ours", "original"], default=None)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override one of our ProgressTrainingArguments (ablations), e.g. --set label_transform=none")
    ap.add_argument("--folds", type=int, default=5, help="cross-validation folds (theorems held out once each)")
    add_head_argument(ap)
    ap.add_argument("--fold-seed", type=int, default=0, help="seed that assigns theorems to folds")
    ap.add_argument("--throughput-only", action="store_true",
                    help="only time training (one epoch) and scoring of both recipes on fold 0, alternating")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of --throughput-only and --kinds (default 2)")
    ap.add_argument("--kinds", action="store_true", help="time training on the competition recipe's data: the original "
                    "recipe against the recipe as each encoder kind, fp32 and bf16, alternating")
    ap.add_argument("--records", type=int, default=800, help="with --kinds: records timed per run (default 800)")
    ap.add_argument("--original-records", type=int, default=160,
                    help="with --kinds: records the original is timed on (default 160)")
    ap.add_argument("--workbook-theorems", type=int, default=2000,
                    help="with --kinds: Workbook training theorems of the recipe's data (default 2000, as the "
                    "protocol runs; 0: all)")
    ap.add_argument("--json", default=None, help="also write results (with per-row predictions) here")
    ap.add_argument("--reuse", default=None, metavar="JSON",
                    help="take the recipes this run skips (see --only) from an earlier run's --json, e.g. the "
                    "original recipe, which never changes and costs most of the time")
    opts = ap.parse_args()
    require(MATHLIB_SAMPLE)
    earlier = None
    if opts.reuse:
        with open(opts.reuse) as f:
            earlier = json.load(f)
        if (earlier.get("folds_k"), earlier.get("fold_seed")) != (opts.folds, opts.fold_seed):
            raise SystemExit(f"{opts.reuse} was run with --folds {earlier.get('folds_k')} --fold-seed "
                             f"{earlier.get('fold_seed')}; rerun it or pass the same")

    print(f"machine: {machine()}")
    if opts.kinds:
        speeds = kinds_throughput(opts)
        if opts.json:
            with open(opts.json, "w") as f:
                json.dump({"machine": machine(), "kinds": speeds}, f, indent=2)
        return
    records = load_records()
    print(f"{len(records)} records from {MATHLIB_SAMPLE.name}; {opts.folds}-fold cross-validation by theorem")
    if opts.throughput_only:
        train_recs, held_out = next(theorem_folds(records, opts.folds, opts.fold_seed))
        run_fold(opts, records, 0, train_recs, held_out)
        return
    per_fold = {fold: run_fold(opts, records, fold, tr, ho)
                for fold, (tr, ho) in enumerate(theorem_folds(records, opts.folds, opts.fold_seed))}
    if earlier:
        for fold, res in per_fold.items():
            for name, r in earlier["folds"][str(fold)].items():
                if name not in res:
                    res[name] = r | {"reused": opts.reuse}
        print(f"\nrecipes not run here are taken from {opts.reuse}")

    print("\n=== per fold (held-out theorems; 'const' is the best constant predictor on the same rows)")
    print(f"{'fold':>5}{'rows':>6}  {'recipe':9}{'MAE':>7}{'const':>7}{'acc':>7}{'const':>7}{'Spearman':>10}"
          f"{'train ex/s':>12}")
    for fold, res in per_fold.items():
        for name, r in res.items():
            print(f"{fold:>5}{r['rows']:>6}  {name:9}{r['mae']:>7.3f}{r['constant_mae']:>7.3f}{r['accuracy']:>7.3f}"
                  f"{r['constant_accuracy']:>7.3f}{fmt(r['spearman']):>10}{r['train_examples_per_s']:>12.2f}")
    names = sorted({n for res in per_fold.values() for n in res})
    print(f"\n=== pooled over all {opts.folds} folds (every row predicted by the model that never saw its theorem)")
    summary = {}
    for name in names:
        preds = [p for res in per_fold.values() for p in res[name]["predictions"]]
        labels = [y for res in per_fold.values() for y in res[name]["labels"]]
        m = compute_metrics(preds, labels)
        speed = sum(res[name]["train_examples_per_s"] for res in per_fold.values()) / len(per_fold)
        summary[name] = {"mae": m["mae"], "mse": m["mse"], "accuracy": m["accuracy"], "within_one": m["within_one"],
                         "spearman": m["spearman"], "constant_mae": m["best_constant"]["mae"]["value"],
                         "constant_accuracy": m["best_constant"]["accuracy"]["value"],
                         "train_examples_per_s": speed, "scoring": per_fold[0][name]["scoring"]}
        s = summary[name]
        print(f"{name:9} rows {m['n']}: MAE {s['mae']:.3f} (const {s['constant_mae']:.3f}), "
              f"accuracy {s['accuracy']:.3f} (const {s['constant_accuracy']:.3f}), within one {s['within_one']:.3f}, "
              f"Spearman {fmt(s['spearman'])}, training {speed:.2f} examples/s")
    if set(names) == {"original", "ours"}:
        o, u = summary["original"], summary["ours"]
        tr = u["train_examples_per_s"] / o["train_examples_per_s"]
        sc = max(u["scoring"].values()) / o["scoring"]["one-by-one fp32"]
        print(f"training throughput: {tr:.1f}x the original; scoring throughput (32 candidates of one state, "
              f"best batched mode against one pass per candidate): {sc:.1f}x")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({"folds_k": opts.folds, "fold_seed": opts.fold_seed,
                       "folds": {str(k): v for k, v in per_fold.items()}, "pooled": summary}, f, indent=2)


if __name__ == "__main__":
    main()
