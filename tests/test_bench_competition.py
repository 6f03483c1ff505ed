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
    variant = bench.parse_variant("")
    seen_held = set()
    for fold in range(2):
        train, inner, held = bench.fold_data(src, split, fold, variant)
        names = {r["theorem"] for r in train}
        held_search = {r["theorem"] for r in held["search"]}
        assert held_search and not names & held_search
        assert not names & {r["theorem"] for r in held["workbook"]}
        assert not names & {r["theorem"] for r in inner}
        # Both runs of mathd_0 fall on one side.
        assert ("mathd_0" in held_search) == (len([r for r in held["search"] if r["theorem"] == "mathd_0"]) == 2)
        if "mathd_3" in held_search:
            assert "lean_workbook_plus_dup_search" not in names
        seen_held |= held_search
    assert seen_held == {f"mathd_{i}" for i in range(10)}
    held_wb = set(split["wb_hold"]) | split["wb_inner"]
    if "lean_workbook_plus_7" in held_wb:
        assert all("lean_workbook_plus_dup_wb" not in {r["theorem"] for r in bench.fold_data(src, split, f, variant)[0]}
                   for f in range(2))


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


def test_selection_summary_reports_what_each_rule_keeps():
    def epoch(n, inner_mae, inner_mse, held_mae):
        figures = {"model": {"mae": held_mae, "accuracy": 1 - held_mae}}
        return {"epoch": n, "inner": {"eval_mae": inner_mae, "eval_accuracy": 1 - inner_mae, "eval_mse": inner_mse,
                                      "eval_loss": inner_mse},
                "search": figures, "workbook": figures}

    # MAE picks epoch 2 (the best held out), MSE epoch 1; a fold with one epoch cannot compare rules.
    report = {"variant": {"head": "regression"},
              "epochs": [[epoch(1, 0.5, 1.0, 0.7), epoch(2, 0.4, 2.0, 0.6), epoch(3, 0.45, 3.0, 0.65)],
                         [epoch(1, 0.5, 1.0, 0.7)]]}
    totals = bench.selection_summary([report])
    assert totals["mae"]["folds"] == 1 and totals["mae"]["search_mae"] == pytest.approx(0.6)
    assert totals["mae"]["best_search_mae_picked"] == 1
    assert totals["mse"]["search_mae"] == pytest.approx(0.7) and totals["mse"]["best_search_mae_picked"] == 0
    assert totals["last epoch"]["search_mae"] == pytest.approx(0.65)


def test_the_documented_recipe_is_the_benchmarks_recipe():
    """The training guide's recipe command trains what the benchmark measures (head, length, epochs, batch, weights)."""
    import shlex

    guide = (Path(__file__).resolve().parents[1] / "docs/guides/training.md").read_text(encoding="utf-8")
    line = next(l for l in guide.splitlines() if l.startswith("leanprogress train") and "runs/competition" in l)
    words = shlex.split(line)
    flags = {w: words[i + 1] for i, w in enumerate(words) if w.startswith("--") and w != "--dataset"}
    weights = {}
    for i, w in enumerate(words):
        if w == "--dataset":
            path, _, weight = words[i + 1].partition(":")
            weights[Path(path).stem] = float(weight or 1)
    r = bench.RECIPE
    assert flags["--head"] == r["head"] and int(flags["--max-length"]) == r["max_length"]
    assert float(flags["--epochs"]) == r["epochs"] and int(flags["--batch-size"]) == r["batch_size"]
    assert float(flags.get("--learning-rate", 1e-4)) == r["lr"]
    expected = {name: r[name] for name in ("workbook", "minif2f", "mathlib", "search") if r[name]}
    assert weights == expected
