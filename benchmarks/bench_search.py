"""Does ranking by predicted steps make search choose better? A branching replay at an equal budget.

Environment: :class:`ReplayEnvironment` over the miniF2F-valid search traces
(86 proofs of 70 theorems found by best-first search through LeanDojo, with
real states). A theorem with several recorded proofs is a graph whose proofs
share states: every recorded tactic from a state succeeds and leads to its
recorded state_after (here always the next step's state_before), so proofs of
different lengths compete; every other
tactic fails. 14 of the 70 theorems have several proofs.

Generator: each state's recorded tactics among 15 tactics of other theorems.
A recorded tactic's probability is the best of ``--generator-signal`` uniform
draws, a distractor's one draw (a generator that usually, not always, ranks
working tactics higher); it has no preference between two recorded tactics.

Rows (same candidates, same budget of environment calls per theorem):

- ``random order``: alpha 0 with a generator without signal (every order of
  the candidates equally likely).
- ``alpha 0``: the generator's log-probabilities alone.
- ``alpha 0.2 / 0.5 / 1.0`` in both score modes, with scorers trained here,
  cross-fitted by theorem (``--folds``; a scorer never scores a theorem it
  was trained on), on the other folds' miniF2F records plus the 100-theorem
  Mathlib sample: ``tactic`` mode from ``state_before`` records, ``state``
  mode from ``state_after`` records. The scorers are deliberately small and
  brief (the default encoder, ``--epochs`` over ~580 records, ``max_length``
  128, no eval split and no constant fallback, since the question is what the
  score does to search): on this 2-core machine each takes a few minutes.
- ``oracle``: alpha 1.0 with the true fewest steps left in the replay graph,
  the most any step-count model could buy here.

Every row is run over ``--seeds`` generator seeds (distractor sets and
log-probabilities); figures are the mean and standard deviation over seeds.

Scorer variants (``--variant``, repeatable; tactic mode, or the modes of
``--modes``): ``name``, ``head`` (regression|distribution), ``ranking`` (the
ranking objective's weight, 0: steps alone), ``negatives`` (per record),
``from`` (source|any), ``margin``, ``epochs``, ``seed``, and the data rules:
``order`` (leandojo|search: how Workbook and Mathlib steps are counted, see
``build-dataset --step-order``), ``canonical`` (1: canonical goals, the
default; 0: goals as printed), ``initial`` (read|mark|drop, ``train
--initial-goals``), and how the scorer is read, which needs no training of
its own: ``rank`` (``saved``: the model's rank score; ``mean``, ``median``,
``close``: that rank score, see ``leanprogress.heads.rank_score``; ``mode``:
its mode as a point estimate, how mode models ranked before rank scores
existed). Variants that differ only in ``name`` and ``rank`` share their
trained models (named by the training settings in ``--models``). Their training data
can hold ``--workbook N`` Lean Workbook Plus theorems (read as
``--from-lean-source`` does; a Workbook theorem whose initial target is that
of a held-out theorem is left out of that fold) and the training folds'
search traces ``--search-weight`` times. ``--lookup`` adds the tactic-name
lookup (median steps per tactic name, fit on each fold's training records of
the first variant) as a scorer beside them. Every scorer also gets, on the
held-out theorems of its fold, the ranking figure (pairs of recorded tactics
with different labels on one state) and the replay pairs: on every recorded
state and seed, how often it puts a recorded tactic before one of the
generator's distractors (ties half; the generator's own figure beside it).

What the replay can show: whether a score orders candidates (``tactic``
mode) and reached states (``state`` mode) so that a proof is found within
fewer environment calls, and whether it prefers the shorter of the recorded
proofs. What it cannot show: anything about tactics nobody recorded (they
always fail here, though Lean might accept them), so it says nothing about
finding *new* proofs; in ``state`` mode only states of recorded proofs are
ever scored, so only the 14 theorems with several proofs give the score a
choice; and the generator is a simulation, not a model.

    python benchmarks/bench_search.py [--budgets 32,64] [--seeds 5] [--folds 2] [--epochs 1] [--models DIR]
    python benchmarks/bench_search.py --budgets 16,32 --modes tactic --workbook 1500 --search-weight 4 --lookup \
        --variant name=steps --variant name=ranked,ranking=1,negatives=3 --alphas 0.2,0.5,0.8,1.0 --json out.json
    python benchmarks/bench_search.py --ray-speedup [--latency 0.05] [--ray-model DIR]   # Ray against one process
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time

from _shared import MATHLIB_SAMPLE, MINIF2F_SEARCH_TRACES, WORKBOOK_PROOFS, machine, require

# A scorer variant (--variant): training settings of the scorers of every fold. DEFAULT_VARIANT is what the
# benchmark trained before variants existed (the "trained" rows).
DEFAULT_VARIANT = {"name": "trained", "head": "regression", "ranking": 0.0, "negatives": 1, "from": "source",
                   "margin": 1.0, "epochs": 0.0, "seed": 0, "order": "leandojo", "canonical": 1, "initial": "read",
                   "rank": "saved"}
_VARIANT_TYPES = {"name": str, "head": str, "ranking": float, "negatives": int, "from": str, "margin": float,
                  "epochs": float, "seed": int, "order": str, "canonical": int, "initial": str, "rank": str}
_VARIANT_CHOICES = {"head": ("regression", "distribution"), "from": ("source", "any"), "order": ("leandojo", "search"),
                    "canonical": (0, 1), "initial": ("read", "mark", "drop"),
                    "rank": ("saved", "mean", "median", "close", "mode")}
# How a scorer is read, not trained: variants that differ only in these share their trained models.
_READ_KEYS = ("name", "rank")


def parse_variant(spec: str) -> dict:
    """``key=value,...`` over DEFAULT_VARIANT's keys (``epochs`` and ``seed`` 0: ``--epochs``, ``--train-seed``)."""
    out = dict(DEFAULT_VARIANT)
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in DEFAULT_VARIANT:
            raise SystemExit(f"bad --variant part {part!r}: expected KEY=VALUE with KEY one of {sorted(DEFAULT_VARIANT)}")
        try:
            out[key] = _VARIANT_TYPES[key](value)
        except ValueError:
            raise SystemExit(f"bad --variant value {part!r}: {key} takes a {_VARIANT_TYPES[key].__name__}") from None
    for key, choices in _VARIANT_CHOICES.items():
        if out[key] not in choices:
            raise SystemExit(f"bad --variant {spec!r}: {key} is one of {', '.join(map(str, choices))}, "
                             f"got {out[key]!r}")
    return out


def _target(goal: str) -> str:
    """The ``⊢`` target of a state without whitespace (hypothesis names differ between restatements)."""
    import re

    i = goal.rfind("⊢")
    return re.sub(r"\s+", "", goal[i:]) if i >= 0 else ""


def workbook_theorems(n: int, order: str = "leandojo") -> list[list[dict]]:
    """The records of ``n`` Lean Workbook Plus theorems (a fixed random choice of the names that give records),
    read in the step ``order``, one list per theorem."""
    from leanprogress.data.lean_source import iter_source_records
    from leanprogress.data.proofs import SourceStats

    by_name: dict[str, list[dict]] = {}
    for r in iter_source_records(WORKBOOK_PROOFS, SourceStats(), source="workbook", order=order):
        by_name.setdefault(r["theorem"], []).append(r)
    names = sorted(by_name)
    random.Random(0).shuffle(names)
    return [by_name[k] for k in names[:n]]


class LookupScorer:
    """The tactic-name lookup as a search scorer: its median steps for each candidate's first word."""

    settings = None

    def __init__(self, lookup, statistic="median"):
        self.lookup, self.statistic, self.model_name = lookup, statistic, f"lookup ({statistic})"

    def predict_batch(self, goals, tactics, prefixes=None):
        return self.lookup.predict(list(tactics), self.statistic)


class CachedScorer:
    """Scores are deterministic: compute each (goal, tactic, prefix) once across alphas and seeds.

    Search orders candidates by the wrapped scorer's rank score (``rank_batch``, where it has one); with
    ``by_point_estimate`` by its point estimate instead (how a mode-reading model ranked before rank scores)."""

    def __init__(self, scorer, by_point_estimate=False):
        from leanprogress.ranking import rank_scores

        self.scorer, self.cache = scorer, {}
        self.settings, self.model_name = scorer.settings, scorer.model_name
        self._score = scorer.predict_batch if by_point_estimate else (
            lambda g, t, p: rank_scores(scorer, g, t, p))

    def predict_batch(self, goals, tactics, prefixes=None):
        n = len(tactics)
        goals = [goals] * n if isinstance(goals, str) else list(goals)
        prefixes = [prefixes or ""] * n if prefixes is None or isinstance(prefixes, str) else list(prefixes)
        keys = list(zip(goals, tactics, prefixes))
        todo = [k for k in dict.fromkeys(keys) if k not in self.cache]
        if todo:
            for k, v in zip(todo, self._score(*map(list, zip(*todo)))):
                self.cache[k] = v
        return [self.cache[k] for k in keys]


class OracleScorer:
    """The true fewest steps left in the replay graph (n_max for a tactic that fails)."""

    model_name = "oracle"
    settings = None

    def __init__(self, env, n_max=20.0):
        from leanprogress.search.environment import norm_tactic

        self.norm, self.n_max, self.env = norm_tactic, n_max, env
        self.dist, self.owner = {}, {}
        for name in env.names():
            for state, d in env.distances(name).items():
                self.dist[state] = min(d, self.dist.get(state, d))
                self.owner.setdefault(state, name)

    def steps_after(self, state, tactic):
        name = self.owner.get(state)
        if name is None:
            return self.n_max
        r = self.env.run_tactic((name, state), tactic)
        if r.kind == "finished":
            return 0.0
        return float(self.dist.get(r.state, self.n_max)) if r.kind == "state" else self.n_max

    def predict_batch(self, goals, tactics, prefixes=None):
        goals = [goals] * len(tactics) if isinstance(goals, str) else list(goals)
        return [self.steps_after(g, t) for g, t in zip(goals, tactics)]


class OracleStateScorer(OracleScorer):
    """Oracle for ``state`` mode: the goals it gets are the reached states."""

    def predict_batch(self, goals, tactics, prefixes=None):
        goals = [goals] * len(tactics) if isinstance(goals, str) else list(goals)
        return [float(self.dist.get(g, self.n_max)) for g in goals]


def train_scorers(entries, names, folds, opts, tmp, variant=DEFAULT_VARIANT, modes=("tactic", "state"),
                  workbook=()):
    """Per fold and mode: a scorer trained on every theorem outside the fold (plus the Mathlib sample, and the
    Workbook theorems whose initial target is no held-out theorem's), with the variant's settings: its step
    ``order`` for the Mathlib traces (``workbook`` was read in the same order; the search traces are one tactic
    per step either way), canonical goals or not, and its ``initial`` rule for Workbook steps whose goal is the
    initial state standing in.

    A model already in ``tmp`` (``--models``, from an earlier run with the same folds) is reused. Returns the
    scorers, the training times and, per fold, the tactic-mode training records (for the lookup)."""
    import shutil
    from pathlib import Path

    from leanprogress import LeanProgressScorer, ProgressTrainer, ProgressTrainingArguments
    from leanprogress.config import SETTINGS_FILE
    from leanprogress.data.dataset import weight_by_theorem
    from leanprogress.data.leandojo import records_from_theorem

    mathlib = json.load(open(MATHLIB_SAMPLE, encoding="utf-8")) if opts.mathlib else []
    scorers, timings, training = {}, [], {}
    trained_as = {k: v for k, v in variant.items() if k not in _READ_KEYS}
    default = {k: v for k, v in DEFAULT_VARIANT.items() if k not in _READ_KEYS}
    # Named by the training settings, so that variants read differently (``rank``) share one model per fold.
    tag = "" if trained_as == default else "v" + hashlib.sha256(
        json.dumps(trained_as, sort_keys=True).encode()).hexdigest()[:10] + "-"
    for k, held in enumerate(folds):
        held = set(held)
        held_targets = {_target(t["traced_tactics"][0]["state_before"]) for t in entries if t["full_name"] in held}
        for mode, goal_from in (("tactic", "state_before"), ("state", "state_after")):
            if mode not in modes:
                continue
            search = [r for t in entries if t["full_name"] not in held
                      for r in records_from_theorem(t, source="search", goal_from=goal_from)]
            recs = weight_by_theorem(search, opts.search_weight) if opts.search_weight != 1 else search
            recs += [r for t in mathlib if t.get("traced_tactics")
                     for r in records_from_theorem(t, source="mathlib", goal_from=goal_from, order=variant["order"])]
            if mode == "tactic":  # whole-proof records read the state before a step; none for state mode
                recs += [r for thm in workbook if _target(thm[0]["goal"]) not in held_targets for r in thm]
                training[k] = recs
            assert not {r["theorem"] for r in recs} & held  # no held-out theorem is trained on
            out = f"{tmp}/{tag}{mode}{k}"
            if not (Path(out) / SETTINGS_FILE).is_file():
                args = ProgressTrainingArguments(
                    output_dir=out, model_name=opts.model_name, epochs=variant["epochs"] or opts.epochs,
                    max_length=128, batch_size=16,
                    seed=variant["seed"] or opts.train_seed, fallback_to_constant=False, head=variant["head"],
                    ranking_weight=variant["ranking"], ranking_negatives=variant["negatives"],
                    ranking_negatives_from=variant["from"], ranking_margin=variant["margin"],
                    canonicalize_goals=bool(variant["canonical"]), initial_goals=variant["initial"])
                t0 = time.perf_counter()
                ProgressTrainer(args, recs).train()
                shutil.rmtree(Path(out) / "checkpoints", ignore_errors=True)
                timings.append((mode, k, len(recs), time.perf_counter() - t0))
            rank = variant["rank"]
            read = {} if rank == "saved" else {"point_estimate": "mode"} if rank == "mode" else {"rank_by": rank}
            scorers[(mode, k)] = CachedScorer(LeanProgressScorer(out, device="cpu", **read),
                                              by_point_estimate=rank == "mode")
    return scorers, timings, training


def replay_figures(env, gens, seeds, names, scorer_for):
    """On every recorded state of ``names`` (its first recorded prefix) and seed: how often ``scorer_for(name)``
    puts a recorded tactic before a distractor of the generator (ties half), and the generator's own figure.
    Returns ``{"pairs", "scorer", "generator"}``."""
    from leanprogress.evaluation import pair_agreement

    agree, gen_agree = [], []
    for name in names:
        seen = set()
        for thm in env.theorems[name]:
            prefix = []
            for step in thm["traced_tactics"]:
                state = step["state_before"]
                if state not in seen:
                    seen.add(state)
                    recorded = set(env.recorded_tactics(name, state))
                    for seed in seeds:
                        cands = gens(seed).generate(state, "", 32)
                        tactics = [t for t, _ in cands]
                        scores = scorer_for(name).predict_batch([state] * len(tactics), tactics, "\n".join(prefix))
                        good = [i for i, t in enumerate(tactics) if t in recorded]
                        bad = [i for i, t in enumerate(tactics) if t not in recorded]
                        pairs = [(i, j) for i in good for j in bad]
                        agree += list(pair_agreement(scores, pairs))
                        gen_agree += list(pair_agreement([-lp for _, lp in cands], pairs))
                prefix.append(step["tactic"])
    mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
    return {"pairs": len(agree), "scorer": mean(agree), "generator": mean(gen_agree)}


def held_out_ranking(entries, folds, scorer_for):
    """The ranking figure (pairs of recorded tactics with different labels on one state) of the held-out
    theorems' state_before records, each scored by its fold's scorer."""
    from leanprogress.data.leandojo import records_from_theorem
    from leanprogress.evaluation import ranking_figure

    recs = [r for fold in folds for t in entries if t["full_name"] in set(fold) for r in records_from_theorem(t)]
    scores = [scorer_for(r["theorem"]).predict_batch([r["goal"]], [r["tactic"]], r["prefix"])[0] for r in recs]
    return ranking_figure(scores, [r["goal"] for r in recs], [r["tactic"] for r in recs],
                          [r["steps_remaining"] for r in recs], [r["prefix"] for r in recs])


def run(env, names, prover_for, seeds):
    """Results of every seed: {seed: [SearchResult]}."""
    return {seed: [prover_for(seed, name).prove(name) for name in names] for seed in seeds}


def summarise(results, budget, subset=None):
    per_seed = []
    for rs in results.values():
        rs = [r for r in rs if subset is None or r.theorem in subset]
        proved = [r for r in rs if r.proved]
        per_seed.append({
            "pass": len(proved) / len(rs),
            "calls": statistics.mean(r.env_calls for r in proved) if proved else float("nan"),
            "calls_all": statistics.mean(r.env_calls if r.proved else budget for r in rs),
            "length": statistics.mean(len(r.proof) for r in proved) if proved else float("nan"),
        })

    def ms(key):
        xs = [s[key] for s in per_seed]
        return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)

    return {key: ms(key) for key in ("pass", "calls", "calls_all", "length")}


def fmt(pair, pct=False, width=15):
    m, s = pair
    text = f"{m:.1%} ± {s:.1%}" if pct else f"{m:.1f} ± {s:.1f}"
    return f"{text:>{width}}"


def bench_alpha(opts):
    from leanprogress.generators import ReplayGenerator
    from leanprogress.search import BestFirstProver, ReplayEnvironment, SearchConfig

    entries = [t for t in json.load(open(MINIF2F_SEARCH_TRACES, encoding="utf-8")) if t.get("traced_tactics")]
    env = ReplayEnvironment(entries)
    names = env.names()
    branching = {n for n in names if len(env.theorems[n]) > 1}
    shuffled = list(names)
    random.Random(0).shuffle(shuffled)
    folds = [shuffled[k:: opts.folds] for k in range(opts.folds)]
    fold_of = {n: k for k, f in enumerate(folds) for n in f}
    seeds = list(range(opts.seeds))
    alphas = [float(a) for a in opts.alphas.split(",")]
    print(f"machine: {machine()}")
    print(f"{len(entries)} recorded proofs of {len(names)} theorems; {len(branching)} theorems with several proofs; "
          f"{env.conflicts} conflicting transitions")

    def gens(signal):
        cache = {}

        def get(seed):
            if seed not in cache:
                cache[seed] = ReplayGenerator(env, distractors=15, seed=seed, recorded_draws=signal)
            return cache[seed]
        return get

    signal, noise = gens(opts.generator_signal), gens(1)

    budgets = [int(b) for b in opts.budgets.split(",")]

    def config(alpha, mode, budget):
        return SearchConfig(alpha=alpha, score_mode=mode, num_candidates=32, max_expansions=10_000,
                            max_env_calls=budget, timeout_s=3600)

    rows = {b: [] for b in budgets}

    def add(budget, scorer, mode, alpha, gen, model):
        cfg = config(alpha, "state" if mode == "-" else mode, budget)
        res = run(env, names, lambda s, n: BestFirstProver(env, gen(s), model(n), cfg), seeds)
        rows[budget].append((scorer, mode, alpha, res))

    t0 = time.perf_counter()
    oracles = {"tactic": OracleScorer(env), "state": OracleStateScorer(env)}
    for b in budgets:
        add(b, "random order", "-", 0.0, noise, lambda n: None)
        add(b, "generator", "-", 0.0, signal, lambda n: None)
        for mode in ("tactic", "state"):
            add(b, "oracle", mode, 1.0, signal, lambda n, m=mode: oracles[m])
    print(f"baselines and oracle: {time.perf_counter() - t0:.0f}s")
    figures = []
    if not opts.skip_training:
        variants = [parse_variant(v) for v in opts.variant] or [DEFAULT_VARIANT]
        modes = tuple(m.strip() for m in opts.modes.split(","))
        workbooks = {order: workbook_theorems(opts.workbook, order) if opts.workbook else []
                     for order in dict.fromkeys(v["order"] for v in variants)}
        for order, workbook in workbooks.items():
            if workbook:
                print(f"Workbook ({order} order): {len(workbook)} theorems, {sum(map(len, workbook))} records")
        with tempfile.TemporaryDirectory() as tmp:
            lookups = None
            for variant in variants:
                t1 = time.perf_counter()
                scorers, timings, training = train_scorers(entries, names, folds, opts, opts.models or tmp, variant,
                                                           modes, workbooks[variant["order"]])
                for mode, k, n, secs in timings:
                    print(f"trained the {variant['name']} {mode}-mode scorer of fold {k} on {n} records in {secs:.0f}s")
                if opts.lookup and lookups is None:
                    from leanprogress.baselines import TacticLookup

                    lookups = {k: CachedScorer(LookupScorer(TacticLookup.fit(recs))) for k, recs in training.items()}
                    candidates = [("lookup", lookups)]
                else:
                    candidates = []
                candidates.append((variant["name"], {k: scorers[("tactic", k)] for k in range(opts.folds)}
                                   if "tactic" in modes else None))
                for label, per_fold in candidates:
                    if per_fold is None:
                        continue
                    scorer_for = lambda n, f=per_fold: f[fold_of[n]]  # noqa: E731
                    fig = {"scorer": label, "ranking": held_out_ranking(entries, folds, scorer_for),
                           "replay_pairs": replay_figures(env, signal, seeds, names, scorer_for)}
                    figures.append(fig)
                for mode in modes:
                    for alpha in alphas:
                        t2 = time.perf_counter()
                        for b in budgets:
                            if mode == "tactic" and lookups is not None and variant is variants[0]:
                                add(b, "lookup", mode, alpha, signal, lambda n: lookups[fold_of[n]])
                            add(b, variant["name"], mode, alpha, signal,
                                lambda n, m=mode: scorers[(m, fold_of[n])])
                        print(f"searched with the {variant['name']} {mode}-mode scorers at alpha {alpha}: "
                              f"{time.perf_counter() - t2:.0f}s")
                print(f"variant {variant['name']}: {time.perf_counter() - t1:.0f}s in all")
    table = []
    for b in budgets:
        print(f"\nbranching replay of {len(names)} miniF2F-valid theorems ({len(branching)} with several recorded "
              f"proofs), 16 candidates per state, budget {b} environment calls per theorem, generator signal "
              f"{opts.generator_signal}, {len(seeds)} seeds, scorers cross-fitted over {opts.folds} folds "
              f"(mean ± sd over seeds)")
        print(f"{'scorer':16}{'mode':7}{'alpha':>6}{'pass (70)':>17}{'calls to proof':>17}"
              f"{'calls (unproved=budget)':>25}{'pass (14 with several)':>24}{'calls to proof (14)':>21}"
              f"{'proof length (14)':>19}")
        for scorer, mode, alpha, res in rows[b]:
            a, s = summarise(res, b), summarise(res, b, branching)
            table.append({"budget": b, "scorer": scorer, "mode": mode, "alpha": alpha, "all": a, "several": s})
            print(f"{scorer:16}{mode:7}{alpha:>6.2f}{fmt(a['pass'], True, 17)}{fmt(a['calls'], width=17)}"
                  f"{fmt(a['calls_all'], width=25)}{fmt(s['pass'], True, 24)}{fmt(s['calls'], width=21)}"
                  f"{fmt(s['length'], width=19)}")
    print("calls to proof and proof length: means over proved theorems; calls (unproved=budget) counts every "
          "theorem, an unproved one at the full budget. An expansion runs all 16 candidates of a state (as in "
          "ReProver's search), so a proof of n steps needs about 16 (n - 1) calls plus those of its last state.")
    if figures:
        print("\nheld-out theorems, each scored by its fold's scorer: ranking figure (pairs of recorded tactics with "
              "different labels on one state) and replay pairs (recorded tactic before a generator distractor, on "
              "every recorded state and seed; ties half)")
        for fig in figures:
            r, p = fig["ranking"], fig["replay_pairs"]
            agreement = "n/a" if r["agreement"] is None else f"{r['agreement']:.3f}"
            print(f"{fig['scorer']:16} ranking {agreement} ({r['pairs']} pairs, {r['states']} states)   replay pairs "
                  f"{p['scorer']:.3f} ({p['pairs']} pairs; generator {p['generator']:.3f})")
    if opts.json:
        with open(opts.json, "w", encoding="utf-8") as f:
            json.dump({"rows": table, "figures": figures, "argv": sys.argv[1:]}, f, indent=2)


# ---------------------------------------------------------------- Ray speed-up
class SlowReplay:
    """Picklable factory for Ray workers: the replay, each environment call taking ``latency`` seconds (waiting
    on Lean, as a worker does), or a scorer doing real CPU work when ``model`` is set."""

    def __init__(self, entries, latency, model=None):
        self.entries, self.latency, self.model = entries, latency, model

    def __call__(self):
        from leanprogress.generators import ReplayGenerator
        from leanprogress.search import ReplayEnvironment, SearchConfig

        latency = self.latency

        class Env(ReplayEnvironment):
            def run_tactic(self, handle, tactic, timeout=None):
                time.sleep(latency)
                return super().run_tactic(handle, tactic, timeout)

        env = Env(self.entries)
        scorer = None
        if self.model:
            from leanprogress import LeanProgressScorer

            scorer = LeanProgressScorer(self.model, device="cpu")
        from leanprogress.config import score_mode_for

        # The mode the model was trained for (a state_after model is for state mode), tactic when it does not say.
        mode = (score_mode_for(scorer.settings.goal_from) if scorer else None) or "tactic"
        cfg = SearchConfig(alpha=0.2 if scorer else 0.0, score_mode=mode, max_env_calls=32, max_expansions=10_000)
        return env, ReplayGenerator(env, seed=0, recorded_draws=3), scorer, cfg


def bench_ray(opts):
    import ray

    from leanprogress.search import BestFirstProver
    from leanprogress.search.distributed import prove_on_ray

    entries = [t for t in json.load(open(MINIF2F_SEARCH_TRACES, encoding="utf-8")) if t.get("traced_tactics")]
    names = list(dict.fromkeys(t["full_name"] for t in entries))
    todo = [(n, n) for n in names]
    print(f"machine: {machine()}")
    what = (f"a per-worker scorer ({opts.ray_model}, alpha 0.2, tactic mode) doing the work on the CPU" if opts.ray_model
            else "no scorer")
    print(f"{len(names)} theorems, budget 32 calls, each environment call sleeping {opts.latency:g}s (a stand-in "
          f"for Lean's time; the replay itself is instantaneous), {what}")
    factory = SlowReplay(entries, opts.latency, opts.ray_model)

    def one_process():
        t0 = time.perf_counter()
        env, gen, scorer, cfg = factory()
        prover = BestFirstProver(env, gen, scorer, cfg)
        return [prover.prove(n) for n in names], time.perf_counter() - t0

    single, one = one_process()
    print(f"one process: {one:.1f}s, {sum(r.env_calls for r in single)} environment calls, "
          f"{sum(r.proved for r in single)} proved")
    baseline = {r.theorem: (r.status, r.proof) for r in single}
    for workers in [int(w) for w in opts.workers.split(",")]:
        t0 = time.perf_counter()
        ray.init(num_cpus=workers, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        start = time.perf_counter() - t0
        t1 = time.perf_counter()
        rows = list(prove_on_ray(todo, factory, workers=workers))
        run_s = time.perf_counter() - t1
        ray.shutdown()
        same = all(baseline[r["theorem"]] == (r["status"], r["proof"]) for r in rows) and len(rows) == len(names)
        print(f"{workers} Ray workers: {run_s:.1f}s proving (workers started inside), ray.init {start:.1f}s; "
              f"speed-up {one / run_s:.2f}x over one process; same results: {same}")
    # The machine's load drifts: time one process again after the Ray runs, to bracket them.
    _, again = one_process()
    print(f"one process again: {again:.1f}s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budgets", default="32,64", help="environment calls per theorem, one table each "
                    "(default 32,64)")
    ap.add_argument("--seeds", type=int, default=5, help="generator seeds (default 5)")
    ap.add_argument("--folds", type=int, default=2, help="cross-fitting folds (default 2)")
    ap.add_argument("--epochs", type=float, default=1.0, help="scorer training epochs (default 1)")
    ap.add_argument("--train-seed", type=int, default=42, help="scorer training seed (default 42)")
    ap.add_argument("--no-mathlib", dest="mathlib", action="store_false",
                    help="train the scorers on the other folds' miniF2F records only (default: plus the Mathlib "
                    "sample)")
    ap.add_argument("--generator-signal", type=int, default=3,
                    help="a recorded tactic's probability is the best of this many draws (default 3)")
    ap.add_argument("--alphas", default="0.2,0.5,1.0", help="alphas for the trained scorers (default 0.2,0.5,1.0)")
    ap.add_argument("--skip-training", action="store_true", help="baselines and oracle only")
    ap.add_argument("--variant", action="append", default=[],
                    help="a scorer variant, KEY=VALUE,... over name, head, ranking, negatives, from, margin, epochs, "
                    "seed, order, canonical, initial (repeatable; default: one variant 'trained', the regression head on steps alone)")
    ap.add_argument("--modes", default="tactic,state", help="score modes to train scorers for (default tactic,state)")
    ap.add_argument("--workbook", type=int, default=0,
                    help="Lean Workbook Plus theorems added to the tactic-mode scorers' training data (default 0)")
    ap.add_argument("--search-weight", type=float, default=1.0,
                    help="repeat the training folds' search traces this many times (default 1)")
    ap.add_argument("--model-name", default=None,
                    help="encoder the scorers are trained from (default: the bundled all-MiniLM-L6-v2)")
    ap.add_argument("--lookup", action="store_true",
                    help="add the tactic-name lookup (median, fit on each fold's training records) as a scorer")
    ap.add_argument("--models", default=None,
                    help="keep the trained scorers in this folder and reuse the ones already there (default: a "
                    "temporary folder)")
    ap.add_argument("--json", default=None, help="also write the table as JSON here")
    ap.add_argument("--ray-speedup", action="store_true", help="measure Ray workers against one process instead")
    ap.add_argument("--latency", type=float, default=0.05, help="--ray-speedup: seconds per environment call")
    ap.add_argument("--workers", default="2,4", help="--ray-speedup: worker counts (default 2,4)")
    ap.add_argument("--ray-model", default=None,
                    help="--ray-speedup: a trained model (either head) each worker scores with (CPU work; "
                    "default: none)")
    opts = ap.parse_args()
    require(MINIF2F_SEARCH_TRACES, MATHLIB_SAMPLE, *([WORKBOOK_PROOFS] if opts.workbook else []))
    if opts.ray_speedup:
        bench_ray(opts)
    else:
        bench_alpha(opts)


if __name__ == "__main__":
    main()
