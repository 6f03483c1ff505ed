"""Original LeanProgress recipe against this project's default, on real Mathlib traces.

Both train the same encoder (bundled all-MiniLM-L6-v2) and are evaluated on
the same held-out theorems (20% of the Mathlib4 LeanDojo sample, split by
theorem). The original recipe pads every prompt to 512 tokens, cuts long
prompts from the right, reads Lean symbols as [UNK], trains on raw steps with
lr 1e-5 for 3 epochs and picks its best epoch on a row-level random split (of
the training theorems here, so it never sees the held-out ones).

Prints MAE, accuracy, Spearman beside the best constant, training examples/s
and scoring throughput for 32 candidates of one state.

    python benchmarks/bench_training.py [--split-seeds 42,1,2] [--only ours|original] [--set KEY=VALUE]

The held-out part of a 100-theorem sample is small (60-160 rows, a few long
proofs weigh heavily), so the script repeats the comparison on several
theorem splits and prints each and the mean.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time

from _shared import MATHLIB_SAMPLE, machine, require


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


def run_split(opts, records, split_seed):
    from leanprogress.data.dataset import split_by_theorem
    from leanprogress.evaluation import evaluate_model, format_report

    train_recs, held_out = split_by_theorem(records, eval_ratio=0.2, seed=split_seed)
    print(f"\n##### split seed {split_seed}: train {len(train_recs)} / held-out {len(held_out)} records "
          f"(split by theorem)")
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
        "original": dict(
            train=row_train, inner=row_eval,
            args=dict(max_length=512, pad_to_max_length=True, truncation="right", normalize_symbols="no",
                      label_transform="none", learning_rate=1e-5, precision="fp32", group_by_length=False,
                      init_head_bias=False, epochs=3.0, batch_size=8),
        ),
        "ours": dict(train=inner_train, inner=inner_eval, args=dict(epochs=opts.epochs)),
    }
    for item in opts.set:
        key, _, value = item.partition("=")
        configs["ours"]["args"][key] = json.loads(value) if value[:1] in "0123456789-[{tf" else value
    results = {}
    for name, cfg in configs.items():
        if opts.only and name != opts.only:
            continue
        with tempfile.TemporaryDirectory() as out:
            print(f"\n=== {name}: {cfg['args']}")
            t0 = time.perf_counter()
            speed, _ = train(name, cfg["train"], cfg["inner"], out, **cfg["args"])
            wall = time.perf_counter() - t0
            metrics, _, _ = evaluate_model(out, held_out, device="cpu", precision="fp32")
            print(format_report(metrics, title=f"{name}: held-out Mathlib theorems (split seed {split_seed})"))
            modes = ["one-by-one fp32"] if name == "original" else ["batched fp32", "batched bf16", "batched int8"]
            throughput = {}
            for mode in modes:
                cps, _ = score_throughput(out, state["goal"], state["prefix"], tactics, mode)
                throughput[mode] = cps
                print(f"scoring 32 candidates, {mode}: {cps:.1f} candidates/s")
            results[name] = {
                "train_examples_per_s": speed, "train_wall_s": wall, "rows": metrics["n"],
                "mae": metrics["mae"], "accuracy": metrics["accuracy"], "spearman": metrics["spearman"],
                "constant_mae": metrics["best_constant"]["mae"]["value"],
                "constant_accuracy": metrics["best_constant"]["accuracy"]["value"],
                "scoring": throughput,
            }
            print(f"training: {speed:.2f} examples/s ({wall:.0f} s wall)")
    return results


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", choices=["ours", "original"], default=None)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override one of our ProgressTrainingArguments (ablations), e.g. --set label_transform=none")
    ap.add_argument("--split-seeds", default="42,1,2", help="seeds of the held-out theorem splits, comma-separated")
    ap.add_argument("--json", default=None, help="also write results here")
    opts = ap.parse_args()
    require(MATHLIB_SAMPLE)

    print(f"machine: {machine()}")
    records = load_records()
    print(f"{len(records)} records from {MATHLIB_SAMPLE.name}")
    seeds = [int(s) for s in opts.split_seeds.split(",")]
    per_seed = {seed: run_split(opts, records, seed) for seed in seeds}

    print("\n=== summary (held-out theorems; 'const' is the best constant predictor on the same rows)")
    print(f"{'seed':>5}{'rows':>6}  {'recipe':9}{'MAE':>7}{'const':>7}{'acc':>7}{'const':>7}{'Spearman':>10}"
          f"{'train ex/s':>12}{'score cand/s':>14}")
    for seed, res in per_seed.items():
        for name, r in res.items():
            sp = r["spearman"]
            print(f"{seed:>5}{r['rows']:>6}  {name:9}{r['mae']:>7.3f}{r['constant_mae']:>7.3f}{r['accuracy']:>7.3f}"
                  f"{r['constant_accuracy']:>7.3f}{(f'{sp:.3f}' if sp is not None else 'n/a'):>10}"
                  f"{r['train_examples_per_s']:>12.2f}{max(r['scoring'].values()):>14.1f}")
    names = sorted({n for res in per_seed.values() for n in res})
    if len(seeds) > 1:
        for name in names:
            rs = [res[name] for res in per_seed.values() if name in res]
            mean = lambda k: sum(r[k] for r in rs) / len(rs)  # noqa: E731
            sps = [r["spearman"] for r in rs if r["spearman"] is not None]
            print(f"mean over {len(rs)} splits, {name}: MAE {mean('mae'):.3f} (const {mean('constant_mae'):.3f}), "
                  f"accuracy {mean('accuracy'):.3f} (const {mean('constant_accuracy'):.3f}), "
                  f"Spearman {sum(sps) / len(sps) if sps else float('nan'):.3f}")
    if set(names) == {"original", "ours"}:
        o = [res["original"] for res in per_seed.values()]
        u = [res["ours"] for res in per_seed.values()]
        tr = sum(x["train_examples_per_s"] for x in u) / sum(x["train_examples_per_s"] for x in o)
        sc = sum(max(x["scoring"].values()) for x in u) / sum(x["scoring"]["one-by-one fp32"] for x in o)
        print(f"training throughput: {tr:.1f}x the original; scoring throughput (32 candidates of one state, "
              f"best batched mode against one pass per candidate): {sc:.1f}x")
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump({str(k): v for k, v in per_seed.items()}, f, indent=2)


if __name__ == "__main__":
    main()
