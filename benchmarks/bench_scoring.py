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
    python benchmarks/bench_scoring.py --kinds             # encoder kinds at 8, 32, 64 and 256 candidates (~20 min)

``--kinds`` trains MiniLM 1 epoch on the Mathlib sample as a cross-encoder and as a group-kind model
(``leanprogress.batch_layout``) and prints candidates/s per encoder kind and precision at 8, 32, 64 and 256
candidates per state, beside the original (one fp32 cross-encoder pass per candidate, as the original
LeanProgress scored), with Spearman against the same model in fp32. More rows measure the group kind's layout
against its alternatives: rows of 32 and 128 tokens instead of 64, and the first group layout (rows of 512 tokens,
each a context and its segments under one block mask: ``first_group_layout.py``; same outputs).

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
from first_group_layout import first_layout_logits

TRACES = SHARED / "minif2f-valid-search-traces" / "traces.json"


def cpu_flags() -> str:
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return "unknown"
    wanted = ["avx512f", "avx512_bf16", "amx_bf16", "amx_int8", "avx512_vnni", "avx_vnni"]
    return ", ".join(f"{f} {'yes' if f in flags else 'no'}" for f in wanted)


def train_briefly(out: str, records, head: str = "regression", kind: str = "cross") -> None:
    from leanprogress import ProgressTrainer, ProgressTrainingArguments
    from leanprogress.data.dataset import split_by_theorem

    train, held = split_by_theorem(records, eval_ratio=0.2, seed=0)
    args = ProgressTrainingArguments(output_dir=out, epochs=1, precision="fp32", fallback_to_constant=False,
                                     head=head, encoder_kind=kind)
    t0 = time.perf_counter()
    ProgressTrainer(args, train, held).train()
    print(f"trained the bundled all-MiniLM-L6-v2 ({head} head, {kind} kind) for 1 epoch on {len(train)} Mathlib "
          f"records in {time.perf_counter() - t0:.0f}s")


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


# ---------------------------------------------------------------- encoder kinds
def kinds_table(opts, mathlib, traces) -> dict:
    """Candidates/s per encoder kind and precision at several candidates per state, alternating (see --kinds)."""
    import numpy as np
    from scipy.stats import spearmanr

    from leanprogress import LeanProgressScorer, heads

    sizes = [int(x) for x in opts.sizes.split(",")]
    rng = random.Random(opts.seed)
    states = rng.sample(traces, min(opts.states, len(traces)))
    pool = sorted({r["tactic"] for r in mathlib + traces})
    work = {n: [(s["goal"], s["prefix"], rng.sample(pool, n)) for s in states] for n in sizes}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        cross_dir, group_dir = opts.model or str(Path(tmp) / "cross"), opts.group_model or str(Path(tmp) / "group")
        if not opts.model:
            train_briefly(cross_dir, mathlib, opts.head, "cross")
        if not opts.group_model:
            train_briefly(group_dir, mathlib, opts.head, "group")

        def scorer(folder, precision):
            return LeanProgressScorer(folder, device="cpu", precision=precision)

        def decode(sc, raw):
            s = sc.settings
            if s.head == "distribution":
                return heads.point_estimate(heads.softmax(raw), s.point_estimate, s.head_more_steps).tolist()
            return heads.decode_regression(raw[:, 0], s.label_transform).tolist()

        cross32, cross16 = scorer(cross_dir, "fp32"), scorer(cross_dir, "bf16")
        group32, group16 = scorer(group_dir, "fp32"), scorer(group_dir, "bf16")
        drawn = sorted({t for n in sizes for *_, tactics in work[n] for t in tactics})
        tokens = [len(ids) for ids in group32.tokenizer(drawn)["input_ids"]]
        contexts = group32.layout.encode(group32.layout.build([s["goal"] for s in states], ["x"] * len(states),
                                                              [s["prefix"] for s in states]))[0]
        print(f"candidates: {statistics.mean(tokens):.1f} tokens each with [CLS] and [SEP] (mean of {len(drawn)} "
              f"tactics); contexts {[len(c) for c in contexts]} tokens", flush=True)
        rows32, rows128 = scorer(group_dir, "bf16"), scorer(group_dir, "bf16")
        rows32.layout.row_tokens, rows128.layout.row_tokens = 32, 128
        rows = {  # name -> (reference scorer for Spearman, function(goal, prefix, tactics) -> steps, states timed)
            "original: cross fp32, one pass per candidate": (
                cross32, lambda g, p, t: [cross32.predict(g, x, p) for x in t], opts.original_states),
            "cross fp32": (cross32, lambda g, p, t: cross32.predict_batch(g, t, p), None),
            "cross bf16": (cross32, lambda g, p, t: cross16.predict_batch(g, t, p), None),
            "group fp32": (group32, lambda g, p, t: group32.predict_batch(g, t, p), None),
            "group bf16": (group32, lambda g, p, t: group16.predict_batch(g, t, p), None),
            "group bf16, rows of 32 tokens": (group32, lambda g, p, t: rows32.predict_batch(g, t, p), None),
            "group bf16, rows of 128 tokens": (group32, lambda g, p, t: rows128.predict_batch(g, t, p), None),
            "group bf16, first layout (rows of 512)": (
                group32, lambda g, p, t: decode(group16, first_layout_logits(group16, g, p, t)), None),
        }
        ref = {n: {name: [sc.predict_batch(g, t, p) for g, p, t in work[n]] for name, sc in
                   (("cross", cross32), ("group", group32))} for n in sizes}
        times = {(name, n): [] for name in rows for n in sizes}
        preds = {}
        for name, (_, fn, limit) in rows.items():  # warm-up (oneDNN builds kernels per shape), scores compared
            for n in sizes:
                preds[name, n] = [fn(g, p, t) for g, p, t in work[n][:limit]]
        for round_ in range(opts.repeats):
            for name, (_, fn, limit) in (rows.items() if round_ % 2 == 0 else list(rows.items())[::-1]):
                for n in sizes:
                    t0 = time.perf_counter()
                    for g, p, t in work[n][:limit]:
                        fn(g, p, t)
                    times[name, n].append(time.perf_counter() - t0)
            print(f"round {round_ + 1} of {opts.repeats} done", flush=True)
    print(f"\n{len(states)} states of the miniF2F search traces (the original on {opts.original_states}); "
          f"candidates/s, median of {opts.repeats} alternating rounds (speed-up against cross bf16); Spearman against "
          "the same kind in fp32, mean over states")
    print(f"{'':44}" + "".join(f"{f'{n} per state':>24}" for n in sizes))
    for name, (reference, _, limit) in rows.items():
        kind = "group" if name.startswith("group") else "cross"
        cells = []
        for n in sizes:
            done = len(work[n][:limit]) * n
            rate = done / statistics.median(times[name, n])
            base = len(work[n]) * n / statistics.median(times["cross bf16", n])
            rho = [float(spearmanr(a, b).statistic) for a, b in zip(ref[n][kind], preds[name, n])
                   if len(set(b)) > 1]
            results.setdefault(name, {})[n] = {"candidates_per_s": rate, "vs_cross_bf16": rate / base,
                                               "spearman": float(np.mean(rho)) if rho else None,
                                               "rounds_s": times[name, n]}
            cells.append(f"{rate:8.1f} ({rate / base:4.2f}x) {np.mean(rho) if rho else float('nan'):6.4f}")
        print(f"{name:44}" + "".join(f"{c:>24}" for c in cells))
    return results


def tied_pairs(per_state) -> int:
    """Pairs of candidates of one state with the same score, over all states (``per_state``: a list of score lists)."""
    import numpy as np

    return int(sum(sum(c * (c - 1) // 2 for c in np.unique(s, return_counts=True)[1]) for s in per_state))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="trained model folder, either head (default: train MiniLM "
                        "briefly, with --head)")
    parser.add_argument("--states", type=int, default=None, help="proof states from the search traces (default 12; "
                        "4 with --kinds)")
    parser.add_argument("--candidates", type=int, default=32, help="distinct candidate tactics per state (default 32)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds over all precisions (default 3)")
    parser.add_argument("--ablation", action="store_true", help="also the variants that decided what stays fp32")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="write the figures here")
    parser.add_argument("--kinds", action="store_true", help="compare the encoder kinds at --sizes candidates per "
                        "state instead of the precisions (trains both kinds briefly)")
    parser.add_argument("--sizes", default="8,32,64,256", help="with --kinds: candidates per state (default "
                        "8,32,64,256)")
    parser.add_argument("--group-model", default=None, help="with --kinds: a trained group-kind model folder (default: "
                        "train MiniLM briefly; --model is then the cross-encoder)")
    parser.add_argument("--original-states", type=int, default=1, help="with --kinds: states the original (one "
                        "pass per candidate, whose cost per candidate does not depend on their number) is timed on "
                        "(default 1)")
    add_head_argument(parser)
    opts = parser.parse_args()
    require(MATHLIB_SAMPLE, TRACES)
    import numpy as np
    from scipy.stats import spearmanr

    print(f"machine: {machine()}")
    print(f"CPU bf16/int8 units: {cpu_flags()}")
    print("note: the machine is shared with other work; speeds are comparable only within this run")
    if opts.kinds:
        from leanprogress.data.leandojo import iter_leandojo_records

        opts.states = opts.states or 4
        mathlib = list(iter_leandojo_records([MATHLIB_SAMPLE], source="mathlib4"))
        traces = list(iter_leandojo_records([TRACES], source="search"))
        results = kinds_table(opts, mathlib, traces)
        if opts.json:
            Path(opts.json).write_text(json.dumps({"machine": machine(), "cpu": cpu_flags(), "kinds": results},
                                                  indent=2) + "\n")
        return
    opts.states = opts.states or 12
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
        ties = tied_pairs(scores)
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
    point_ties = tied_pairs(points)
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
