"""The branching-replay benchmark's pieces that do not need the shared data: variants, figures, the lookup scorer."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
bench = pytest.importorskip("bench_search")


def theorem(name, steps):
    return {"full_name": name, "traced_tactics": [
        {"tactic": t, "state_before": s, "state_after": a} for t, s, a in steps]}


def env_and_generator():
    from leanprogress.generators import ReplayGenerator
    from leanprogress.search import ReplayEnvironment

    entries = [theorem(f"t{i}", [(f"intro h{i}", f"⊢ p{i} → q{i}", f"h{i} : p{i}\n⊢ q{i}"),
                                 (f"exact f{i} h{i}", f"h{i} : p{i}\n⊢ q{i}", "no goals")]) for i in range(6)]
    entries.append(theorem("t0", [("tauto", "⊢ p0 → q0", "no goals")]))  # a second, shorter proof of t0
    env = ReplayEnvironment(entries)
    return entries, env, lambda seed: ReplayGenerator(env, distractors=4, seed=seed, recorded_draws=3)


def test_variants_parse_and_reject_unknown_keys():
    v = bench.parse_variant("name=ranked,ranking=1,negatives=3,from=any,head=distribution")
    assert (v["name"], v["ranking"], v["negatives"], v["from"], v["head"]) == ("ranked", 1.0, 3, "any", "distribution")
    assert bench.parse_variant("") == bench.DEFAULT_VARIANT
    v = bench.parse_variant("name=recipe,order=search,canonical=0,initial=mark")
    assert (v["order"], v["canonical"], v["initial"]) == ("search", 0, "mark")
    for bad in ("ranking", "weight=1", "negatives=two", "head=tree", "from=elsewhere", "order=source", "canonical=2",
                "initial=keep"):
        with pytest.raises(SystemExit):
            bench.parse_variant(bad)


def test_replay_pairs_put_recorded_tactics_before_distractors():
    entries, env, gens = env_and_generator()
    names = env.names()
    oracle = bench.OracleScorer(env)
    perfect = bench.replay_figures(env, gens, [0, 1], names, lambda n: oracle)
    # 7 recorded states of 6 theorems (t0's start has 2 recorded tactics), 4 distractors each, 2 seeds.
    assert perfect["pairs"] == 2 * 4 * (6 + 1 + 6) and perfect["scorer"] == 1.0

    class Constant:
        def predict_batch(self, goals, tactics, prefixes=None):
            return [1.0] * len(tactics)

    assert bench.replay_figures(env, gens, [0, 1], names, lambda n: Constant())["scorer"] == 0.5
    assert 0.5 < perfect["generator"] <= 1.0  # the generator's signal: recorded tactics usually first


def test_lookup_scorer_and_held_out_ranking():
    from leanprogress.baselines import TacticLookup
    from leanprogress.data.leandojo import records_from_theorem

    entries, env, _ = env_and_generator()
    lookup = bench.LookupScorer(TacticLookup.fit([r for t in entries for r in records_from_theorem(t)]))
    assert lookup.predict_batch("⊢ x", ["intro h", "exact f h", "tauto"]) == [1.0, 0.0, 0.0]
    # On t0's shared start, "tauto" (0 left) and "intro h0" (1 left) are one pair; the lookup orders it.
    figure = bench.held_out_ranking(entries, [["t0"], ["t1"]], lambda name: lookup)
    assert (figure["pairs"], figure["states"], figure["agreement"]) == (1, 1, 1.0)


def test_a_variants_data_rules_reach_its_scorers(tmp_path, tiny_model):
    # order, canonical and initial were fixed before: every scorer trained on LeanDojo-listed, canonical records
    # read like real states, whatever the recipe being compared.
    from types import SimpleNamespace

    from leanprogress.config import ModelSettings

    entries, _, _ = env_and_generator()
    whole = [{"goal": "x : ℕ\n⊢ x + 0 = x", "prefix": p, "tactic": t, "steps_remaining": n, "theorem": "w",
              **({"goal_state": "initial"} if p else {})} for p, t, n in (("", "simp", 1), ("simp", "rfl", 0))]
    opts = SimpleNamespace(mathlib=False, search_weight=1, model_name=str(tiny_model), epochs=1, train_seed=42)
    variant = bench.parse_variant("name=recipe,order=search,canonical=0,initial=mark")
    folds = [["t0", "t1", "t2"], ["t3", "t4", "t5"]]
    scorers, timings, training = bench.train_scorers(entries, None, folds, opts, tmp_path, variant, ("tactic",),
                                                     [whole])
    settings = ModelSettings.load(scorers[("tactic", 0)].scorer.model_name)
    assert settings.canonicalize_goals is False and settings.initial_goals == "mark"
    assert [n for _, k, n, _ in timings] == [len(training[0]), len(training[1])] and whole[1] in training[0]
    assert {r["theorem"] for r in training[0]}.isdisjoint(folds[0])


def test_variants_read_differently_share_their_models_and_rank_by_their_read(tmp_path, tiny_model):
    from types import SimpleNamespace

    entries, _, _ = env_and_generator()
    opts = SimpleNamespace(mathlib=False, search_weight=1, model_name=str(tiny_model), epochs=1, train_seed=42)
    folds = [["t0", "t1", "t2"], ["t3", "t4", "t5"]]
    read = {}
    for spec in ("name=dist-mean,head=distribution", "name=dist-mode,head=distribution,rank=mode",
                 "name=dist-close,head=distribution,rank=close"):
        variant = bench.parse_variant(spec)
        scorers, timings, _ = bench.train_scorers(entries, None, folds, opts, tmp_path, variant, ("tactic",))
        read[variant["rank"]] = (scorers[("tactic", 0)], timings)
    assert len(read["saved"][1]) == 2 and read["mode"][1] == [] and read["close"][1] == []  # trained once
    state, tactics = "x : ℕ\n⊢ x = x", ["simp", "rfl", "omega", "ring", "decide", "norm_num"]
    inner = read["saved"][0].scorer
    assert read["saved"][0].predict_batch(state, tactics) == inner.rank_batch(state, tactics)
    mode = read["mode"][0]
    assert mode.predict_batch(state, tactics) == mode.scorer.predict_batch(state, tactics)
    assert mode.scorer.settings.point_estimate == "mode"
    probs = inner.predict_distribution(state, tactics)
    assert read["close"][0].predict_batch(state, tactics) == pytest.approx((1 - probs[:, 0]).tolist(), rel=1e-6)
