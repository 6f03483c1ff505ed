"""alpha = 0 against alpha > 0 at an equal budget, on replayed Mathlib traces.

Environment: :class:`ReplayEnvironment` over the Mathlib4 LeanDojo sample
(real states, real transitions). Generator: each state's recorded tactic
among 15 tactics of other proofs, with random log-probabilities. Scorers are
trained here with 2-fold cross-fitting (a model never scores theorems it was
trained on): one on (state, candidate) records for ``score_mode=tactic``,
one on (state after, tactic) records for ``score_mode=state``.

What replay cannot show: a wrong tactic is always an error here, so every
expansion has at most one child and the frontier never branches; the order
of the queue, and so alpha in ``state`` mode, cannot change the outcome. The
measurable effect is in ``tactic`` mode, where the score orders which
candidates are run first under a budget of environment calls. The real
comparison needs Lean (see the README's "Search" section).

    python benchmarks/bench_search.py [--budget 48] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from _shared import MATHLIB_SAMPLE, machine, require


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--budget", type=int, default=48, help="environment calls per theorem")
    ap.add_argument("--epochs", type=float, default=3.0)
    ap.add_argument("--alphas", default="0,0.2,0.5,1.0")
    opts = ap.parse_args()
    require(MATHLIB_SAMPLE)
    from leanprogress import LeanProgressScorer, ProgressTrainer, ProgressTrainingArguments
    from leanprogress.data.dataset import split_by_theorem
    from leanprogress.data.leandojo import records_from_theorem
    from leanprogress.generators import ReplayGenerator
    from leanprogress.search import BestFirstProver, ReplayEnvironment, SearchConfig

    print(f"machine: {machine()}")
    theorems = [t for t in json.load(open(MATHLIB_SAMPLE, encoding="utf-8")) if t["traced_tactics"]]
    env = ReplayEnvironment(theorems)
    gen = ReplayGenerator(env, distractors=15, seed=0)
    names = sorted(env.theorems)
    import random

    random.Random(0).shuffle(names)
    folds = [names[: len(names) // 2], names[len(names) // 2:]]
    alphas = [float(a) for a in opts.alphas.split(",")]
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        scorers = {}
        for k, held in enumerate(folds):
            train_thms = [env.theorems[n] for n in names if n not in set(held)]
            for mode, goal_from in (("tactic", "state_before"), ("state", "state_after")):
                recs = [r for t in train_thms for r in records_from_theorem(t, goal_from=goal_from)]
                tr, ev = split_by_theorem(recs, 0.2, seed=1)
                out = f"{tmp}/{mode}{k}"
                ProgressTrainer(ProgressTrainingArguments(output_dir=out, epochs=opts.epochs), tr, ev).train()
                scorers[(mode, k)] = LeanProgressScorer(out)
        for mode in ("tactic", "state"):
            for alpha in alphas:
                results = []
                t0 = time.perf_counter()
                for k, held in enumerate(folds):
                    cfg = SearchConfig(alpha=alpha, score_mode=mode, num_candidates=32, max_expansions=200,
                                       max_env_calls=opts.budget)
                    prover = BestFirstProver(env, gen, scorers[(mode, k)] if alpha > 0 else None, cfg)
                    results += [prover.prove(n) for n in held]
                proved = [r for r in results if r.proved]
                rows[(mode, alpha)] = {
                    "proved": len(proved), "theorems": len(results),
                    "pass_rate": len(proved) / len(results),
                    "median_env_calls_to_proof": statistics.median(r.env_calls for r in proved) if proved else None,
                    "median_expansions_to_proof": statistics.median(r.expansions for r in proved) if proved else None,
                    "scorer_s_per_expansion": sum(r.scorer_time_s for r in results) / max(1, sum(r.expansions for r in results)),
                    "wall_s": time.perf_counter() - t0,
                }
    print(f"\n{len(names)} replayed theorems, 16 candidates per state (1 recorded + 15 distractors), "
          f"budget {opts.budget} environment calls per theorem, 2-fold cross-fitted scorers")
    print(f"{'mode':8}{'alpha':>6}{'proved':>10}{'pass':>8}{'env calls':>11}{'expansions':>12}{'scorer s/exp':>14}")
    for (mode, alpha), r in rows.items():
        calls = r["median_env_calls_to_proof"]
        exps = r["median_expansions_to_proof"]
        print(f"{mode:8}{alpha:>6.1f}{r['proved']:>5}/{r['theorems']:<4}{r['pass_rate']:>8.1%}"
              f"{(f'{calls:g}' if calls is not None else '-'):>11}{(f'{exps:g}' if exps is not None else '-'):>12}"
              f"{r['scorer_s_per_expansion']:>14.3f}")
    print("(env calls and expansions: medians over proved theorems)")


if __name__ == "__main__":
    main()
