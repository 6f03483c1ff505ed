"""The competition benchmark's split: no held-out theorem is trained on through any source."""

import sys
from pathlib import Path

import pytest

from leanprogress.baselines import TacticLookup

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
bench = pytest.importorskip("bench_competition")


def rec(theorem, goal, steps, source, prefix="", step=None):
    r = {"goal": goal, "prefix": prefix, "tactic": "simp", "steps_remaining": steps, "theorem": theorem,
         "source": source}
    if step is not None:
        r["step"] = step
    return r


def sources(restated=11, dup="lean_workbook_plus_dup_wb"):
    search = [rec(f"mathd_{i}", f"x : ℕ\n⊢ x + {i} = {i} + x", 0, "search", step=0) for i in range(10)]
    # A second search run of the same theorem (another file_path): the same theorem for the split.
    search.append({**rec("mathd_0", "x : ℕ\n⊢ x + 0 = 0 + x", 0, "search", step=0), "file_path": "run2.json"})
    minif2f = [rec(f"mathd_{i}", f"x : ℕ\n⊢ x + {i} = {i} + x", 3, "minif2f-proofs") for i in range(10)]
    workbook = [rec(f"lean_workbook_plus_{i}", f"y : ℕ\n⊢ y * {i} = {i} * y", 0, "workbook") for i in range(60)]
    # Restatements: a Workbook theorem with the target of search theorem mathd_3 (other hypotheses), and one with the
    # target (other spacing) of Workbook theorem `restated`.
    workbook.append(rec("lean_workbook_plus_dup_search", "x : ℕ\nh : 0 < x\n⊢ x + 3 = 3 + x", 0, "workbook"))
    workbook.append(rec(dup, f"y : ℕ\nh : y = y\n⊢ y  * {restated} = {restated} * y", 0, "workbook"))
    mathlib = [rec("Nat.foo", "⊢ True", 0, "mathlib")]
    return {"workbook": workbook, "minif2f": minif2f, "mathlib": mathlib, "search": search}


def test_folds_hold_out_theorems_from_every_source():
    # A restatement the split would train on, of a Workbook theorem it holds out (the split reads names only).
    for j in range(50):
        dup = f"lean_workbook_plus_{j}_restated"  # names that sort at other places of the shuffle
        split = bench.make_split(sources(dup=dup), folds=2, workbook_holdout=0.2, inner_eval=0.1, seed=0)
        if dup in split["wb_train_order"]:
            break
    k = int(sorted(n for n in split["wb_hold"] if n[len("lean_workbook_plus_"):].isdigit())[0].rsplit("_", 1)[1])
    src = sources(restated=k, dup=dup)
    split = bench.make_split(src, folds=2, workbook_holdout=0.2, inner_eval=0.1, seed=0)
    variant = bench.parse_variant("search=4,minif2f=1")  # trains on both miniF2F-valid sources: folds
    assert bench.needs_folds(variant)
    seen_held, seen_first = set(), []
    for fold in range(2):
        train, inner, held = bench.fold_data(src, split, fold, variant)
        names = {r["theorem"] for r in train}
        held_search = {r["theorem"] for r in held["search"]}
        assert held_search and not names & held_search
        assert not names & {r["theorem"] for r in held["first"]}
        assert not names & {r["theorem"] for r in inner} and not names & split["wb_hold"]
        # Both runs of mathd_0 fall on one side.
        assert ("mathd_0" in held_search) == (len([r for r in held["search"] if r["theorem"] == "mathd_0"]) == 2)
        if "mathd_3" in held_search:
            assert "lean_workbook_plus_dup_search" not in names
        seen_held |= held_search
        seen_first += bench.held_rows(src, split, fold)["first"]
    # every selection theorem is held out once over the folds; the reporting third never
    assert seen_held == {f"mathd_{i}" for i in range(10)} - split["report_mf"]
    # every first step (held-out Workbook theorems, miniF2F whole proofs) is predicted once over the folds
    assert sorted(seen_first) == list(range(len(split["first"])))
    assert {r["source"] for r in split["first"]} == {"workbook", "minif2f-proofs"}
    assert all(r["prefix"] == "" for r in split["first"])
    # The restatement of a held-out Workbook theorem, itself one the split would train on, is trained on by no fold.
    held_wb = split["wb_hold"] | split["wb_inner"]
    assert f"lean_workbook_plus_{k}" in split["wb_hold"] and dup not in held_wb and dup in split["wb_train_order"]
    assert all(dup not in {r["theorem"] for r in bench.fold_data(src, split, f, variant)[0]} for f in range(2))


def test_a_variant_without_minif2f_theorems_predicts_every_row_from_one_run():
    src = sources()
    split = bench.make_split(src, folds=2, workbook_holdout=0.2, inner_eval=0.1, seed=0)
    variant = bench.parse_variant("search=0,minif2f=0")
    assert not bench.needs_folds(variant)
    train, _, held = bench.fold_data(src, split, None, variant)
    records = bench.set_records(src, split)
    assert len(held["search"]) + len(held["report_search"]) == len(src["search"])
    assert all(len(held[s]) == len(records[s]) for s in records)
    assert {r["source"] for r in train} == {"workbook", "mathlib"}
    # a Workbook restatement of any miniF2F-valid theorem is left out too
    assert "lean_workbook_plus_dup_search" not in {r["theorem"] for r in train}


def test_weights_and_subsampling():
    src = sources()
    split = bench.make_split(src, folds=2, workbook_holdout=0.2, inner_eval=0.1, seed=0)
    base, _, _ = bench.fold_data(src, split, 0, bench.parse_variant("minif2f=0,search=3"))
    assert not [r for r in base if r["source"] == "minif2f-proofs"]
    n_search = len([r for r in src["search"] if split["search_fold"].get(r["theorem"], 0) != 0])
    assert len([r for r in base if r["source"] == "search"]) == 3 * n_search
    small, _, _ = bench.fold_data(src, split, 0, bench.parse_variant("workbook_theorems=5"))
    assert len({r["theorem"] for r in small if r["source"] == "workbook"}) <= 5


def test_the_reporting_set_is_set_aside_by_name_and_never_trained_or_selected_on():
    src = sources()
    split = bench.make_split(src, folds=2, workbook_holdout=0.2, inner_eval=0.1, seed=0)
    search_names = {r["theorem"] for r in src["search"]}
    # a third of the search-trace theorems, and a share of the Workbook theorems
    assert len(split["report_mf"] & search_names) == round(len(search_names) / 3)
    assert split["report_wb"] and not split["report_wb"] & (split["wb_hold"] | split["wb_inner"])
    # fixed by the names alone: another split seed, other folds or other held-out shares do not move it
    other = bench.make_split(src, folds=3, workbook_holdout=0.1, inner_eval=0.05, seed=99)
    assert (other["report_mf"], other["report_wb"]) == (split["report_mf"], split["report_wb"])
    records = bench.set_records(src, split)
    assert {r["theorem"] for r in records["report_search"]} == split["report_mf"] & search_names
    assert not {r["theorem"] for r in records["search"]} & split["report_mf"]
    assert {r["theorem"] for r in records["report_first"]} <= split["report_mf"] | split["report_wb"]
    reported_targets = {bench._target(r["goal"]) for r in records["report_search"]}
    for spec in ("search=4,minif2f=1", "search=0,minif2f=0", "workbook=2"):
        variant = bench.parse_variant(spec)
        for fold in ([None] if not bench.needs_folds(variant) else range(2)):
            train, inner, _ = bench.fold_data(src, split, fold, variant)
            names = {r["theorem"] for r in train} | {r["theorem"] for r in inner}
            assert not names & (split["report_mf"] | split["report_wb"])
            # nor a Workbook restatement of a reporting target
            assert not {bench._target(r["goal"]) for r in train if r["source"] == "workbook"} & reported_targets
    # with every fold run, each reporting row is predicted exactly once
    seen = sorted(i for f in range(2) for i in bench.held_rows(src, split, f)["report_search"])
    assert seen == list(range(len(records["report_search"])))


def test_summaries_read_the_reporting_set_only_when_asked_for_one_variant():
    src = sources()
    split = bench.make_split(src, folds=2, workbook_holdout=0.2, inner_eval=0.1, seed=0)
    records = bench.set_records(src, split)

    def run(name):
        preds = {s: {"rows": list(range(len(rs))), "preds": {"model": [float(r["steps_remaining"]) for r in rs],
                                                             "lookup median": [1.0] * len(rs),
                                                             "lookup mode": [0.0] * len(rs)}}
                 for s, rs in records.items()}
        return {"variant": {**bench.parse_variant(f"name={name},head=regression,search=0,minif2f=0"), "seed": 1},
                "seed": 1, "fold": None, "train_seconds": 1.0, "kept": "best epoch", "predictions": preds}

    results = {"runs": [run("a"), run("b")]}
    summary = bench.summarize(results, bench.Sources(records=src), split, None, 50, 0)
    assert set(summary["a"]["sets"]) == set(bench.HELD_SETS)
    report = bench.summarize(results, bench.Sources(records=src), split, None, 50, 0, bench.REPORT_SETS, only="b")
    assert set(report) == {"b"} and set(report["b"]["sets"]) == set(bench.REPORT_SETS)
    assert report["b"]["sets"]["report_search"]["rows"] == len(records["report_search"])


def test_variant_parsing():
    v = bench.parse_variant("name=d,head=distribution,epochs=2,lr=5e-5,max_length=128")
    assert (v["name"], v["head"], v["epochs"], v["lr"], v["max_length"]) == ("d", "distribution", 2.0, 5e-5, 128)
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        bench.parse_variant("nonsense=1")
    with pytest.raises(SystemExit, match="takes a int"):
        bench.parse_variant("max_length=long")
    assert bench.parse_variant("order=search,initial=mark")["order"] == "search"
    with pytest.raises(SystemExit, match="initial is one of read, mark, drop"):
        bench.parse_variant("initial=weigh")
    assert bench.parse_variant("canonical=1")["canonical"] == 1
    with pytest.raises(SystemExit, match="canonical is 0"):
        bench.parse_variant("canonical=3")


def test_intervals_resample_seeds_as_well_as_theorems():
    import numpy as np

    groups = [f"t{i}" for i in range(40)]
    rng = np.random.default_rng(0)
    base = (rng.random((40, 1)) < 0.6).astype(float)
    steady = np.repeat(base, 3, axis=1)  # three seeds that agree
    shaky = steady.copy()
    shaky[:, 0] = 1.0  # one seed far off
    lo1, hi1 = bench.two_level_interval(groups, [(1.0, steady)], 500, seed=1)
    lo2, hi2 = bench.two_level_interval(groups, [(1.0, shaky)], 500, seed=1)
    assert lo1 <= steady.mean() <= hi1 and lo2 <= shaky.mean() <= hi2
    assert hi2 - lo2 > hi1 - lo1  # disagreement between seeds widens the interval
    # a difference of a figure with itself, paired on the same theorems, is exactly zero
    assert bench.two_level_interval(groups, [(1.0, base), (-1.0, base)], 200) == (0.0, 0.0)


def test_summary_compares_variants_row_by_row_and_decides_on_both_sets():
    src = sources()
    # Another recorded tactic on mathd_1's state, two steps from the end: a ranking pair.
    src["search"].append({**rec("mathd_1", "x : ℕ\n⊢ x + 1 = 1 + x", 2, "search", step=0), "tactic": "ring_nf"})
    split = bench.make_split(src, folds=2, workbook_holdout=0.2, inner_eval=0.1, seed=0)
    records = bench.set_records(src, split)
    n_search, n_first = len(records["search"]), len(split["first"])
    truth = {"search": [r["steps_remaining"] for r in records["search"]],
             "first": [r["steps_remaining"] for r in split["first"]]}

    def run(name, seed, right):
        # `right` of the rows predicted exactly, the others off by two steps
        preds = {s: {"rows": list(range(n)), "preds": {
            "model": [t if i < right * n else t + 2 for i, t in enumerate(truth[s])],
            "lookup median": [1.0] * n, "lookup mode": [0.0] * n}}
            for s, n in (("search", n_search), ("first", n_first))}
        return {"variant": {**bench.parse_variant(f"name={name},head=regression,search=0,minif2f=0"), "seed": seed},
                "seed": seed, "fold": None, "train_seconds": 1.0, "kept": "best epoch", "predictions": preds}

    results = {"runs": [run("base", 1, 0.3), run("base", 2, 0.3), run("better", 1, 1.0), run("better", 2, 1.0),
                        run("same", 1, 0.3)]}
    summary = bench.summarize(results, bench.Sources(records=src), split, "base", 200, 0)
    better = summary["better"]["sets"]["search"]
    assert better["predictors"]["model"]["accuracy"] == 1.0 and better["seeds_per_row"] == [2]
    base_right = sum(i < 0.3 * n_search for i in range(n_search)) / n_search
    assert better["differences"]["vs base"]["accuracy"] == pytest.approx(1.0 - base_right)
    # the ranking figure is paired against the reference too (its pairs: tactics of one state with other labels)
    assert better["ranking_pairs"] > 0
    base_ranking = summary["base"]["sets"]["search"]["predictors"]["model"]["ranking"]
    assert better["differences"]["vs base"]["ranking"] == pytest.approx(
        better["predictors"]["model"]["ranking"] - base_ranking)
    assert summary["better"]["replaces_reference"] is True
    assert summary["same"]["replaces_reference"] is False
    assert "replaces_reference" not in summary["base"]



def test_selection_summary_reports_what_each_rule_keeps():
    def epoch(n, inner_mae, inner_mse, held_mae):
        figures = {"model": {"mae": held_mae, "accuracy": 1 - held_mae}}
        return {"epoch": n, "inner": {"eval_mae": inner_mae, "eval_accuracy": 1 - inner_mae, "eval_mse": inner_mse,
                                      "eval_loss": inner_mse},
                "search": figures, "first": figures}

    # MAE picks epoch 2 (the best held out), MSE epoch 1; a fold with one epoch cannot compare rules.
    runs = [{"variant": {"head": "regression"},
             "epochs": [epoch(1, 0.5, 1.0, 0.7), epoch(2, 0.4, 2.0, 0.6), epoch(3, 0.45, 3.0, 0.65)]},
            {"variant": {"head": "regression"}, "epochs": [epoch(1, 0.5, 1.0, 0.7)]}]
    totals = bench.selection_summary(runs)
    assert totals["mae"]["folds"] == 1 and totals["mae"]["search_mae"] == pytest.approx(0.6)
    assert totals["mae"]["best_search_mae_picked"] == 1
    assert totals["mse"]["search_mae"] == pytest.approx(0.7) and totals["mse"]["best_search_mae_picked"] == 0
    assert totals["last epoch"]["search_mae"] == pytest.approx(0.65)
    assert totals["mae"]["first_accuracy"] == pytest.approx(0.4)


def test_the_documented_recipe_is_the_benchmarks_recipe():
    """The training guide's recipe commands train what the benchmark measures: the step order the Workbook records
    are built in, head, point estimate, length, epochs, batch, learning rate, canonical goals, initial goals and
    the source weights."""
    import shlex

    from leanprogress.config import ProgressTrainingArguments

    guide = (Path(__file__).resolve().parents[1] / "docs/guides/training.md").read_text(encoding="utf-8")
    line = next(l for l in guide.splitlines() if l.startswith("leanprogress train") and "runs/competition" in l)
    workbook = next(l for l in guide.splitlines() if l.startswith("leanprogress build-dataset --from-lean-source")
                    and "data/workbook.jsonl" in l)
    words = shlex.split(line)
    flags = {w: words[i + 1] for i, w in enumerate(words) if w.startswith("--") and w != "--dataset"
             and i + 1 < len(words) and not words[i + 1].startswith("--")}
    weights = {}
    for i, w in enumerate(words):
        if w == "--dataset":
            path, _, weight = words[i + 1].partition(":")
            weights[Path(path).stem] = float(weight or 1)
    r, d = bench.RECIPE, ProgressTrainingArguments(output_dir="x")
    build = shlex.split(workbook)
    order = build[build.index("--step-order") + 1] if "--step-order" in build else "leandojo"
    assert order == r["order"]
    assert flags.get("--head", d.head) == r["head"] and flags.get("--point-estimate", d.point_estimate) == r["point"]
    assert int(flags.get("--max-length", d.max_length)) == r["max_length"]
    assert float(flags.get("--epochs", d.epochs)) == r["epochs"]
    assert int(flags.get("--batch-size", d.batch_size)) == r["batch_size"]
    assert float(flags.get("--learning-rate", d.learning_rate)) == r["lr"]
    assert ("--no-canonicalize-goals" not in words) == (r["canonical"] != 0)
    assert flags.get("--initial-goals", d.initial_goals) == r["initial"]
    expected = {name: r[name] for name in ("workbook", "minif2f", "mathlib", "search") if r[name]}
    assert weights == expected


def test_the_summary_says_how_many_states_far_from_the_end_are_predicted_far():
    src = sources()
    for r in src["search"][:4]:
        r["steps_remaining"] = 3  # four rows 2+ steps from the end
    split = bench.make_split(src, folds=2, workbook_holdout=0.2, inner_eval=0.1, seed=0)
    records = bench.set_records(src, split)
    rows = records["search"]
    far = [i for i, r in enumerate(rows) if r["steps_remaining"] >= 2]
    assert far
    # The model says 2 on the first far row and 0 everywhere else; the lookup says 0.
    preds = [2.0 if i == far[0] else 0.0 for i in range(len(rows))]
    run = {"variant": {**bench.parse_variant("name=m,head=regression,search=0,minif2f=0"), "seed": 1}, "seed": 1,
           "fold": None, "train_seconds": 1.0, "kept": "best epoch",
           "predictions": {s: {"rows": list(range(len(rs))), "preds": {
               "model": preds if s == "search" else [0.0] * len(rs), "lookup median": [0.0] * len(rs),
               "lookup mode": [0.0] * len(rs)}} for s, rs in records.items()}}
    comp = bench.summarize({"runs": [run]}, bench.Sources(records=src), split, None, 20, 0)["m"]["sets"]["search"]
    assert comp["far_rows"] == len(far)
    assert comp["predictors"]["model"]["far_predicted_far"] == pytest.approx(1 / len(far))
    assert comp["predictors"]["lookup mode"]["far_predicted_far"] == 0.0


def test_a_rerun_fold_keeps_each_seed_in_its_own_column():
    # Runs of one variant with folds: two seeds, two folds each. A rerun of one fold is stored last; the seed level
    # of the bootstrap draws whole columns, so every row's column k must be the same seed.
    def run(seed, fold, rows):
        return {"variant": {"name": "v", "seed": seed}, "seed": seed, "fold": fold,
                "predictions": {"search": {"rows": rows, "preds": {"model": [float(seed)] * len(rows)}}}}

    runs = [run(42, 0, [0, 1]), run(42, 1, [2, 3]), run(7, 0, [0, 1]), run(7, 1, [2, 3])]
    rerun = {"runs": list(runs)}
    bench.add_run(rerun, run(42, 0, [0, 1]))  # fold 0 of seed 42 again: it moves to the end
    assert [(r["seed"], r["fold"]) for r in rerun["runs"]] == [(42, 1), (7, 0), (7, 1), (42, 0)]
    per_row = bench._per_row(rerun["runs"], "search", 4)["model"]
    assert per_row == bench._per_row(runs, "search", 4)["model"] == {r: [7.0, 42.0] for r in range(4)}


def test_runs_recorded_before_the_block_lookup_get_it_fit_on_their_own_training_records():
    src = sources()
    for r in src["workbook"][:40]:  # many training theorems open a multi-line block and have 4 steps left
        r.update(tactic="have h : p := by\n  simp", steps_remaining=4)
    for r in src["search"]:
        r["tactic"] = "have h : q := by\n  ring"
    split = bench.make_split(src, folds=2, workbook_holdout=0.2, inner_eval=0.1, seed=0)
    records = bench.set_records(src, split)
    old = {"variant": {**bench.parse_variant("name=old,head=regression,search=0,minif2f=0"), "seed": 1}, "seed": 1,
           "fold": None, "train_seconds": 1.0, "kept": "best epoch",
           "predictions": {s: {"rows": list(range(len(rs))), "preds": {
               "model": [0.0] * len(rs), "lookup median": [0.0] * len(rs), "lookup mode": [0.0] * len(rs)}}
               for s, rs in records.items()}}
    new = {**old, "variant": {**old["variant"], "name": "new"}, "predictions": {
        s: {"rows": p["rows"], "preds": {**p["preds"], "block lookup median": [0.0] * len(p["rows"]),
                                         "block lookup mode": [0.0] * len(p["rows"])}}
        for s, p in old["predictions"].items()}}
    filled, kept = bench.with_block_lookup([old, new], bench.Sources(records=src), split)
    assert kept is new  # recorded with it: left as it is
    assert "block lookup mode" not in old["predictions"]["search"]["preds"]  # a copy: the results are not changed
    train = bench.fold_data(src, split, None, dict(bench.RECIPE, **old["variant"]))[0]
    expected = TacticLookup.fit(train, key="name+blocks").predict(
        [records["search"][i]["tactic"] for i in old["predictions"]["search"]["rows"]], "mode")
    assert filled["predictions"]["search"]["preds"]["block lookup mode"] == expected == [4.0] * len(expected)
    summary = bench.summarize({"runs": [old]}, bench.Sources(records=src), split, None, 20, 0)
    assert summary["old"]["sets"]["search"]["predictors"]["block lookup mode"]["accuracy"] == pytest.approx(0.0)
    assert "model - block lookup mode" in summary["old"]["sets"]["search"]["differences"]


def test_a_run_records_the_name_lookup_and_the_block_lookup_whatever_prior_the_model_has(tmp_path, tiny_model):
    from types import SimpleNamespace

    from leanprogress.training.trainer import PromptCache

    src = sources()
    for r in src["workbook"][:15]:  # a multi-line block: 4 steps left; a plain `have` (more of them): 1
        r.update(tactic="have h : p := by\n  simp", steps_remaining=4)
    for r in src["workbook"][15:]:
        r.update(tactic="have h : p", steps_remaining=1)
    for r in src["search"]:
        r["tactic"] = "have h : q := by\n  ring"
    split = bench.make_split(src, folds=2, workbook_holdout=0.2, inner_eval=0.1, seed=0)
    variant = dict(bench.parse_variant("name=b,search=0,minif2f=0,prior=block-lookup,max_length=32,batch_size=8"),
                   seed=1)
    opts = SimpleNamespace(model_name=str(tiny_model), device="cpu", precision="fp32", workers=0, progress=False,
                           keep_models=False)
    run = bench.run_once(variant, None, bench.Sources(records=src), split, opts, PromptCache(), tmp_path)
    preds = run["predictions"]["search"]["preds"]
    train = bench.fold_data(src, split, None, variant)[0]
    tactics = [bench.set_records(src, split)["search"][i]["tactic"] for i in run["predictions"]["search"]["rows"]]
    assert preds["lookup mode"] == TacticLookup.fit(train).predict(tactics, "mode") == [1.0] * len(tactics)
    assert preds["block lookup mode"] == TacticLookup.fit(train, key="name+blocks").predict(tactics, "mode") \
        == [4.0] * len(tactics)
