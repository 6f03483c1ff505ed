"""Scoring speed beside rank agreement with fp32, for every scorer precision.

A reduced precision is only worth its speed if it ranks the candidates of a
state as fp32 does. For real proof states (the miniF2F search traces, states
as Lean printed them) and 32 distinct candidate tactics each (drawn from the
tactics of the Mathlib sample and the traces), this prints per precision:
candidates/s, Spearman against fp32 (mean and worst state), distinct scores
per state and tied pairs. The reference rows "before" are the old casts (the
whole model in bf16; int8 per-tensor with the head quantized), which tied
candidates; --ablation adds the variants measured to decide what stays fp32.

    python benchmarks/bench_scoring.py                     # trains MiniLM 1 epoch on the Mathlib sample (~2-4 min)
    python benchmarks/bench_scoring.py --model runs/model  # any trained model folder, either head
    python benchmarks/bench_scoring.py --head distribution # train the distribution head briefly instead
    python benchmarks/bench_scoring.py --ablation --json scoring.json

Timings are the median over --repeats rounds that run every precision back
to back, so that other load on a shared machine falls on all of them alike;
compare speeds only within one run.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from _shared import MATHLIB_SAMPLE, SHARED, add_head_argument, machine, require

TRACES = SHARED / "minif2f-valid-search-traces" / "traces.json"


def cpu_flags() -> str:
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "unknown"
    wanted = ["avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni", "avx_vnni"]
    return ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in wanted)


def train_briefly(out: str, records, head: str = "regression") -> None:
    from leanprogress import ProgressTrainer, ProgressTrainingArguments
    from leanprogress.data.dataset import split_by_theorem

    train, held = split_by_theorem(records, eval_ratio=0.2, seed=0)
    args = ProgressTrainingArguments(output_dir=out, epochs=1, precision="fp32", fallback_to_constant=False,
                                     head=head)
    t0 = time.perf_counter()
    ProgressTrainer(args, train, held).train()
    print(f"trained the bundled all-MiniLM-L6-v2 ({head} head) for 1 epoch on {len(train)} Mathlib records "
          f"in {time.perf_counter() - t0:.0f}s")


def workload(n_states: int, n_candidates: int, seed: int):
    from leanprogress.data.leandojo import iter_leandojo_records

    mathlib = list(iter_leandojo_records([MATHLIB_SAMPLE], source="mathlib4"))
    traces = list(iter_leandojo_records([TRACES], source="search"))
    rng = random.Random(seed)
    states = rng.sample(traces, min(n_states, len(traces)))
    pool = sorted({r["tactic"] for r in mathlib + traces})
    batches = []
    for s in states:
        others = [t for t in pool if t != s["tactic"]]
        batches.append((s["goal"], s["prefix"], [s["tactic"]] + rng.sample(others, n_candidates - 1)))
    return mathlib, batches


def variants(ablation: bool):
    """name -> function(model folder) -> a ready scorer."""
    import torch

    from leanprogress import LeanProgressScorer
    from leanprogress.encoder import _run_in_fp32, head_modules, load_regression_model

    def plain(precision):
        return lambda m: LeanProgressScorer(m, device="cpu", precision=precision)

    def swapped(prepare):
        def make(m):
            scorer = LeanProgressScorer(m, device="cpu", precision="fp32")
            # The model's own head, whatever it is (a distribution head has K + 2 outputs, not one).
            model = load_regression_model(m, role="model", num_labels=scorer.settings.num_labels)
            scorer.model = prepare(model.eval())
            return scorer
        return make

    def bf16_keeping(names):
        def prepare(model):
            model.to(torch.bfloat16)
            for name in names(model):
                _run_in_fp32(model.get_submodule(name))
            return model
        return prepare

    def int8(per_channel, keep):
        from torch.ao.quantization import default_dynamic_qconfig, per_channel_dynamic_qconfig

        def prepare(model):
            skip = tuple(f"{n}." for n in keep(model))
            qconfig = per_channel_dynamic_qconfig if per_channel else default_dynamic_qconfig
            spec = {n: qconfig for n, mod in model.named_modules()
                    if isinstance(mod, torch.nn.Linear) and not f"{n}.".startswith(skip)}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)
        return prepare

    def last_layer(model):
        layers = [n for n, _ in model.named_modules() if n.split(".")[-1].isdigit() and ".layer." in n]
        return [layers[-1]] if layers else []

    def ffn_out(model):
        return [n for n, _ in model.named_modules() if n.endswith(".output") and ".attention." not in n
                and ".layer." in n]

    rows = {
        "fp32": plain("fp32"),
        "bf16": plain("bf16"),
        "int8": plain("int8"),
        "bf16 before (whole model cast)": swapped(bf16_keeping(lambda m: [])),
        "int8 before (per-tensor, head too)": swapped(int8(False, lambda m: [])),
    }
    if ablation:
        rows.update({
            "bf16, only the classifier fp32": swapped(bf16_keeping(lambda m: ["classifier"])),
            "bf16, head + last layer fp32": swapped(bf16_keeping(lambda m: list(head_modules(m)) + last_layer(m))),
            "int8 per-tensor, head fp32": swapped(int8(False, lambda m: list(head_modules(m)))),
            "int8, head + FFN outputs fp32": swapped(int8(True, lambda m: list(head_modules(m)) + ffn_out(m))),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="trained model folder, either head (default: train MiniLM "
                        "briefly, with --head)")
    parser.add_argument("--states", type=int, default=12, help="proof states from the search traces (default 12)")
    parser.add_argument("--candidates", type=int, default=32, help="distinct candidate tactics per state (default 32)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds over all precisions (default 3)")
    parser.add_argument("--ablation", action="store_true", help="also the variants that decided what stays fp32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the figures here")
    add_head_argument(parser)
    opts = parser.parse_args()
    require(MATHLIB_SAMPLE, TRACES)
    import numpy as np
    from scipy.stats import spearmanr

    print(f"machine: {machine()}")
    print(f"CPU bf16/int8 units: {cpu_flags()}")
    print("note: the machine is shared with other work; speeds are comparable only within this run")
    mathlib, batches = workload(opts.states, opts.candidates, opts.seed)
    with tempfile.TemporaryDirectory() as tmp:
        model = opts.model
        if model is None:
            model = tmp
            train_briefly(tmp, mathlib, opts.head)
        print(f"model: {opts.model or 'MiniLM trained 1 epoch (temporary)'}; {len(batches)} states x "
              f"{opts.candidates} candidates")
        scorers = {name: make(model) for name, make in variants(opts.ablation).items()}

        def run(scorer):
            # What candidates are ordered by: the rank score (for a distribution head, not its point estimate).
            return [scorer.rank_batch(goal, tactics, prefix) for goal, prefix, tactics in batches]

        preds = {name: run(s) for name, s in scorers.items()}  # warm-up, and the scores compared
        points = [scorers["fp32"].predict_batch(goal, tactics, prefix) for goal, prefix, tactics in batches]
        times = {name: [] for name in scorers}
        for _ in range(opts.repeats):
            for name, scorer in scorers.items():
                t0 = time.perf_counter()
                run(scorer)
                times[name].append(time.perf_counter() - t0)

    n = len(batches) * opts.candidates
    ref = preds["fp32"]
    results = {}
    print(f"\n{'precision':38}{'cand/s':>8}{'speed-up':>9}{'Spearman':>10}{'worst':>8}{'distinct':>10}"
          f"{'tied pairs':>12}")
    base = statistics.median(times["fp32"])
    for name, scores in preds.items():
        # A state whose scores all tie has no Spearman: left out of the mean, and "n/a" if every state ties.
        rho = [float(spearmanr(a, b).statistic) for a, b in zip(ref, scores) if len(set(b)) > 1]
        distinct = [len(set(s)) for s in scores]
        ties = sum(sum(c * (c - 1) // 2 for c in np.unique(s, return_counts=True)[1]) for s in scores)
        t = statistics.median(times[name])
        results[name] = {"candidates_per_s": n / t, "speedup_vs_fp32": base / t,
                         "spearman_mean": float(np.mean(rho)) if rho else None,
                         "spearman_min": float(np.min(rho)) if rho else None,
                         "distinct_mean": float(np.mean(distinct)), "tied_pairs": int(ties)}
        r = results[name]
        mean = "n/a" if r["spearman_mean"] is None else f"{r['spearman_mean']:.4f}"
        worst = "n/a" if r["spearman_min"] is None else f"{r['spearman_min']:.3f}"
        print(f"{name:38}{r['candidates_per_s']:>8.1f}{r['speedup_vs_fp32']:>8.2f}x{mean:>10}{worst:>8}"
              f"{r['distinct_mean']:>7.1f}/{opts.candidates:<2}{r['tied_pairs']:>12}")
    pairs = len(batches) * opts.candidates * (opts.candidates - 1) // 2
    point_ties = sum(sum(c * (c - 1) // 2 for c in np.unique(s, return_counts=True)[1]) for s in points)
    results["fp32 point estimate"] = {"distinct_mean": float(np.mean([len(set(s)) for s in points])),
                                      "tied_pairs": int(point_ties)}
    print(f"{'fp32, the point estimate (shown, not ranked by)':47}"
          f"{results['fp32 point estimate']['distinct_mean']:>10.1f}/{opts.candidates:<2}{point_ties:>12}")
    print(f"\nScores: the rank score candidates are ordered by (LeanProgressScorer.rank_batch; for the regression head "
          f"its prediction). Spearman: against fp32 per state (mean, worst); distinct: scores per state (mean); tied "
          f"pairs: pairs of candidates of one state with the same score, over all states, of {pairs} (fp32 ties "
          "where the prompts are the same).")
    if opts.json:
        Path(opts.json).write_text(json.dumps({"machine": machine(), "cpu": cpu_flags(), "results": results},
                                              indent=2) + "\n")


if __name__ == "__main__":
    main()
