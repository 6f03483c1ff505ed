"""Does whole-proof data help? Mathlib traces alone, Lean Workbook alone, both.

Training sets: the traced Mathlib sample (theorem split, 80%), Lean Workbook
Plus declarations (``--from-lean-source``, a seeded sample of theorems), and
both mixed. Every model is evaluated on the same held-out data: 20% of the
Mathlib theorems (real intermediate states) and all miniF2F-valid proofs
(``--from-proofs``, initial state + prefix; never trained on). Figures are per
evaluation source, beside that source's best constant.

    python benchmarks/bench_sources.py [--workbook-theorems 1000] [--epochs 3] [--head distribution]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time

from _shared import MATHLIB_SAMPLE, MINIF2F_PROOFS, WORKBOOK_PROOFS, add_head_argument, machine, require


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--workbook-theorems", type=int, default=1000)
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--precision", default="bf16", help="scoring precision for evaluation")
    add_head_argument(ap)
    opts = ap.parse_args()
    require(MATHLIB_SAMPLE, MINIF2F_PROOFS, WORKBOOK_PROOFS)
    from leanprogress import ProgressTrainer, ProgressTrainingArguments
    from leanprogress.data.dataset import ProgressDataset, split_by_theorem
    from leanprogress.data.lean_source import iter_source_records
    from leanprogress.data.leandojo import iter_leandojo_records
    from leanprogress.data.proofs import SourceStats, iter_proof_records
    from leanprogress.evaluation import evaluate_model

    print(f"machine: {machine()}")
    mathlib = list(iter_leandojo_records([MATHLIB_SAMPLE], source="mathlib"))
    m_train, m_held = split_by_theorem(mathlib, 0.2, seed=42)
    wb_stats, mf_stats = SourceStats(), SourceStats()
    workbook = list(iter_source_records(WORKBOOK_PROOFS, wb_stats, source="workbook"))
    names = sorted({r["theorem"] for r in workbook})
    keep = set(random.Random(0).sample(names, min(opts.workbook_theorems, len(names))))
    workbook = [r for r in workbook if r["theorem"] in keep]
    minif2f = list(iter_proof_records(MINIF2F_PROOFS, mf_stats, source="minif2f"))
    print(f"mathlib: {len(m_train)} train / {len(m_held)} held-out records; workbook: {len(workbook)} records "
          f"from {len(keep)} theorems; minif2f: {len(minif2f)} records from {mf_stats.used} proofs (eval only)")
    evals = {"mathlib (held-out)": ProgressDataset(m_held), "minif2f": ProgressDataset(minif2f)}
    sets = {"mathlib": m_train, "workbook": workbook, "both": m_train + workbook}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, recs in sets.items():
            inner_train, inner_eval = split_by_theorem(recs, 0.1, seed=1)
            out = f"{tmp}/{name}"
            t0 = time.perf_counter()
            # The question is what training on a source teaches, so the trained model is kept even where the
            # default would save the constant predictor instead.
            targs = ProgressTrainingArguments(output_dir=out, epochs=opts.epochs, fallback_to_constant=False,
                                              head=opts.head)
            ProgressTrainer(targs, inner_train, inner_eval).train()
            wall = time.perf_counter() - t0
            for ev_name, ev in evals.items():
                m, _, _ = evaluate_model(out, ev, precision=opts.precision)
                results[(name, ev_name)] = m
            print(f"trained on {name} ({len(inner_train)} records) in {wall:.0f}s")
    print(f"\n{'trained on':12}{'evaluated on':20}{'MAE':>7}{'const':>7}{'acc':>7}{'const':>7}{'Spearman':>10}")
    for (name, ev_name), m in results.items():
        bc = m["best_constant"]
        sp = m["spearman"]
        print(f"{name:12}{ev_name:20}{m['mae']:>7.2f}{bc['mae']['value']:>7.2f}{m['accuracy']:>7.3f}"
              f"{bc['accuracy']['value']:>7.3f}{(f'{sp:.3f}' if sp is not None else 'n/a'):>10}")
    print("(const: the best constant predictor on the same rows: median for MAE, mode for accuracy)")
    print(json.dumps({f"{a} -> {b}": {k: m[k] for k in ("mae", "accuracy", "spearman")} for (a, b), m in results.items()}))


if __name__ == "__main__":
    main()
