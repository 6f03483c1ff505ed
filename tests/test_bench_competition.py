"""The competition benchmark's split: no held-out theorem is trained on through any source."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
bench = pytest.importorskip("bench_competition")


def rec(theorem, goal, steps, source, prefix="", step=None):
    r = {"goal": goal, "prefix": prefix, "tactic": "simp", "steps_remaining": steps, "theorem": theorem,
         "source": source}
    if step is not None:
        r["step"] = step
    return r


def sources():
    search = [rec(f"mathd_{i}", f"x : ℕ\n⊢ x + {i} = {i} + x", 0, "search", step=0) for i in range(10)]
    # A second search run of the same theorem (another file_path): the same theorem for the split.
    search.append({**rec("mathd_0", "x : ℕ\n⊢ x + 0 = 0 + x", 0, "search", step=0), "file_path": "run2.json"})
    minif2f = [rec(f"mathd_{i}", f"x : ℕ\n⊢ x + {i} = {i} + x", 3, "minif2f-proofs") for i in range(10)]
    workbook = [rec(f"lean_workbook_plus_{i}", f"y : ℕ\n⊢ y * {i} = {i} * y", 0, "workbook") for i in range(60)]
    # Restatements: a Workbook theorem with the target of search theorem mathd_3 (other hypotheses), and one with the target (other spacing)
    # of Workbook theorem 7.
    workbook.append(rec("lean_workbook_plus_dup_search", "x : ℕ\nh : 0 < x\n⊢ x + 3 = 3 + x", 0, "workbook"))
    workbook.append(rec("lean_workbook_plus_dup_wb", "y : ℕ\nh : y = y\n⊢ y  * 7 = 7 * y", 0, "workbook"))
    mathlib = [rec("Nat.foo", "⊢ True", 0, "mathlib")]
    return {"workbook": workbook, "minif2f": minif2f, "mathlib": mathlib, "search": search}


def test_folds_hold_out_theorems_from_every_source():
    src = sources()
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
    assert seen_held == {f"mathd_{i}" for i in range(10)}
    # every first step (held-out Workbook theorems, miniF2F whole proofs) is predicted once over the folds
    assert sorted(seen_first) == list(range(len(split["first"])))
    assert {r["source"] for r in split["first"]} == {"workbook", "minif2f-proofs"}
    assert all(r["prefix"] == "" for r in split["first"])
    held_wb = split["wb_hold"] | split["wb_inner"]
    if "lean_workbook_plus_7" in held_wb:
        assert all("lean_workbook_plus_dup_wb" not in {r["theorem"] for r in bench.fold_data(src, split, f, variant)[0]}
                   for f in range(2))


def test_a_variant_without_minif2f_theorems_predicts_every_row_from_one_run():
    src = sources()
    split = bench.make_split(src, folds=2, workbook_holdout=0.2, inner_eval=0.1, seed=0)
    variant = bench.parse_variant("search=0,minif2f=0")
    assert not bench.needs_folds(variant)
    train, _, held = bench.fold_data(src, split, None, variant)
    assert len(held["search"]) == len(src["search"]) and len(held["first"]) == len(split["first"])
    assert {r["source"] for r in train} == {"workbook", "mathlib"}
    # a Workbook restatement of any miniF2F-valid theorem is left out too
    assert "lean_workbook_plus_dup_search" not in {r["theorem"] for r in train}


def test_weights_and_subsampling():
    src = sources()
    split = bench.make_split(src, folds=2, workbook_holdout=0.2, inner_eval=0.1, seed=0)
    base, _, _ = bench.fold_data(src, split, 0, bench.parse_variant("minif2f=0,search=3"))
    assert not [r for r in base if r["source"] == "minif2f-proofs"]
    n_search = len([r for r in src["search"] if split["search_fold"][r["theorem"]] != 0])
    assert len([r for r in base if r["source"] == "search"]) == 3 * n_search
    small, _, _ = bench.fold_data(src, split, 0, bench.parse_variant("workbook_theorems=5"))
    assert len({r["theorem"] for r in small if r["source"] == "workbook"}) <= 5


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
    n_search, n_first = len(src["search"]), len(split["first"])
    truth = {"search": [r["steps_remaining"] for r in src["search"]],
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
