
import pytest

from leanprogress.evaluation import best_constants, bucket_of, compute_metrics, format_report, plot_predictions


def test_metrics_on_known_values():
    m = compute_metrics([0.2, 2.6, 4.0, 12.0], [0, 3, 7, 12])
    assert m["mae"] == pytest.approx((0.2 + 0.4 + 3.0 + 0.0) / 4)
    assert m["mse"] == pytest.approx((0.04 + 0.16 + 9.0) / 4)
    assert m["accuracy"] == pytest.approx(0.75)  # 0, 3 and 12 rounded right
    assert m["within_one"] == pytest.approx(0.75)
    assert m["spearman"] == pytest.approx(1.0)


def test_negative_predictions_round_to_zero_for_accuracy():
    assert compute_metrics([-0.7], [0])["accuracy"] == 1.0


def test_best_constant_per_metric():
    import numpy as np

    c = best_constants(np.array([0, 0, 0, 1, 10], dtype=float))
    assert c["accuracy"] == {"constant": 0, "value": 0.6}
    assert c["mae"]["constant"] == 0 and c["mae"]["value"] == pytest.approx(11 / 5)
    assert c["mse"]["constant"] == pytest.approx(2.2)
    assert c["within_one"] == {"constant": 0, "value": 0.8}


def test_buckets_and_per_source():
    labels = [0, 0, 3, 7, 12, 18, 30]
    m = compute_metrics([0, 1, 3, 7, 12, 18, 25], labels, sources=["a", "a", "a", "b", "b", "b", "b"])
    assert list(m["buckets"]) == ["0", "1-5", "6-10", "11-15", "16-20", "21+"]
    assert m["buckets"]["0"]["n"] == 2 and m["buckets"]["0"]["accuracy"] == 0.5
    assert m["buckets"]["21+"]["mae"] == 5
    assert set(m["per_source"]) == {"a", "b"}
    assert m["per_source"]["a"]["best_constant"]["accuracy"]["constant"] == 0
    assert m["per_source"]["b"]["n"] == 4


def test_constant_predictions_have_no_spearman():
    m = compute_metrics([1, 1, 1], [0, 1, 2])
    assert m["spearman"] is None and "n/a" in format_report(m)


def test_bucket_of_and_errors():
    assert [bucket_of(x) for x in (0, 1, 5, 6, 21, 400)] == ["0", "1-5", "1-5", "6-10", "21+", "21+"]
    with pytest.raises(ValueError):
        compute_metrics([1.0], [1, 2])
    with pytest.raises(ValueError):
        compute_metrics([], [])


def test_plot_writes_png(tmp_path):
    path = plot_predictions([0.1, 2.0, 3.5], [0, 2, 4], str(tmp_path / "p" / "plot.png"))
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000


def test_plot_gets_a_normal_file_mode_and_keeps_an_existing_ones(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        new = plot_predictions([0.1, 2.0], [0, 2], str(tmp_path / "new.png"))
        assert stat.S_IMODE(os.stat(new).st_mode) == 0o644  # not mkstemp's 0600
        kept = tmp_path / "kept.png"
        kept.write_bytes(b"old")
        kept.chmod(0o664)
        plot_predictions([0.1, 2.0], [0, 2], str(kept))
        assert stat.S_IMODE(kept.stat().st_mode) == 0o664 and kept.read_bytes()[:4] == b"\x89PNG"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.png", "new.png"]  # no temporary left
    finally:
        os.umask(old)


def test_ranking_pairs_need_a_shared_state_and_different_tactics_and_labels():
    from leanprogress.evaluation import ranking_figure, ranking_pairs

    goals = ["s1", "s1", "s1", "s1", "s2", "s3"]
    tactics = ["simp", "ring", "simp", "intro x", "simp", "ring"]
    labels = [0, 2, 1, 2, 0, 3]
    # (simp 0, ring 2), (simp 0, intro 2), (ring 2, simp 1) -> (2, 1), (simp 1, intro 2); not simp/simp,
    # not ring/intro (same label), nothing across states.
    pairs = ranking_pairs(goals, tactics, labels)
    assert sorted(pairs) == [(0, 1), (0, 3), (2, 1), (2, 3)]
    fig = ranking_figure([0.1, 3.0, 0.5, 0.5], goals[:4], tactics[:4], labels[:4])
    # pairs (0,1) right, (0,3) right, (2,1) right, (2,3): tie -> half
    assert fig == {"pairs": 4, "states": 1, "agreement": (3 + 0.5) / 4}
    assert ranking_figure([1, 2], ["a", "b"], ["x", "y"], [0, 1])["agreement"] is None


def test_bootstrap_resamples_theorems_not_rows():
    import numpy as np

    from leanprogress.evaluation import bootstrap_intervals

    # One theorem with 50 perfect rows and one with 50 wrong rows: resampling rows would give a narrow interval
    # around 0.5; resampling the two theorems gives 0, 0.5 or 1.
    groups = ["a"] * 50 + ["b"] * 50
    values = [1.0] * 50 + [0.0] * 50
    lo, hi = bootstrap_intervals({"acc": (groups, values, np.ones(100))}, n_resamples=400, seed=1)["acc"]
    assert lo == 0.0 and hi == 1.0
    rows = bootstrap_intervals({"acc": (list(range(100)), values, np.ones(100))}, n_resamples=400, seed=1)["acc"]
    assert 0.3 < rows[0] < 0.5 < rows[1] < 0.7
    assert bootstrap_intervals({"none": ([], [], [])})["none"] is None
    with pytest.raises(ValueError, match="level"):
        bootstrap_intervals({"acc": (groups, values, np.ones(100))}, level=1.5)


def test_compare_predictors_table():
    from leanprogress.evaluation import compare_predictors, format_comparison

    labels = [0, 0, 1, 2, 0, 3]
    groups = ["t1", "t1", "t2", "t2", "t3", "t3"]
    goals = ["s", "s", "u", "u", "v", "w"]
    tactics = ["simp", "ring", "a", "b", "c", "d"]
    comp = compare_predictors({"model": [0.2, 0.1, 1.2, 2.4, 0.0, 3.6], "lookup": [0, 0, 0, 0, 0, 0]},
                              labels, groups, goals, tactics, reference="model", n_resamples=200)
    m, lk, bc = comp["predictors"]["model"], comp["predictors"]["lookup"], comp["predictors"]["best constant"]
    assert m["accuracy"] == pytest.approx(5 / 6) and lk["accuracy"] == pytest.approx(3 / 6)
    assert m["mae"] == pytest.approx((0.2 + 0.1 + 0.2 + 0.4 + 0 + 0.6) / 6)
    assert bc["accuracy"] == pytest.approx(3 / 6) and comp["best_constant"] == {"mae": 0, "accuracy": 0}
    assert comp["ranking_pairs"] == 1 and m["ranking"] == 1.0 and lk["ranking"] == 0.5
    assert m["accuracy_ci"][0] <= m["accuracy"] <= m["accuracy_ci"][1]
    diff = comp["differences"]["model - lookup"]
    assert diff["accuracy"] == pytest.approx(2 / 6) and diff["accuracy_ci"][0] >= 0
    text = format_comparison(comp)
    assert "lookup" in text and "best constant (0/0)" in text and "+33.3%" in text
    with pytest.raises(ValueError, match="reference"):
        compare_predictors({"model": [0] * 6}, labels, groups, reference="nope")


def test_steps_of_one_whole_proof_are_not_candidates_on_one_state():
    from leanprogress.evaluation import ranking_pairs

    # Records built from a whole proof repeat the initial goal; the prefix tells the steps apart.
    goals, tactics, labels = ["⊢ p"] * 3, ["intro x", "simp", "ring"], [2, 1, 0]
    assert ranking_pairs(goals, tactics, labels, ["", "intro x", "intro x\nsimp"]) == []
    assert len(ranking_pairs(goals, tactics, labels, ["", "", ""])) == 3


def _brute_force_within_one(labels):
    # The definition: the smallest integer in the label range that is within one of the most labels.
    counts = {c: sum(abs(x - c) <= 1 for x in labels) for c in range(min(labels), max(labels) + 1)}
    best = max(counts, key=lambda c: (counts[c], -c))
    return best, counts[best] / len(labels)


def test_best_constants_are_exact_on_random_labels():
    import random

    import numpy as np

    rng = random.Random(0)
    for _ in range(200):
        labels = [rng.choice([0, 0, 1, 2, 3, 5, 8, 13, 14, 40]) + rng.randrange(3) for _ in range(rng.randrange(1, 30))]
        c = best_constants(np.array(labels, dtype=float))
        constant, value = _brute_force_within_one(labels)
        assert c["within_one"]["constant"] == constant and c["within_one"]["value"] == pytest.approx(value)
        mode = max(sorted(set(labels)), key=labels.count)
        assert c["accuracy"] == {"constant": mode, "value": pytest.approx(labels.count(mode) / len(labels))}


def test_a_huge_label_does_not_hang_the_best_constants():
    import signal

    def too_slow(*_):
        raise TimeoutError("best constants took more than 10 s: they depend on the label range")

    old = signal.signal(signal.SIGALRM, too_slow)
    signal.alarm(10)
    try:
        m = compute_metrics([0.0, 1.0, 1.2, 3.0], [0, 1, 1, 10**30])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    bc = m["best_constant"]
    assert bc["within_one"] == {"constant": 0, "value": 0.75}
    assert bc["accuracy"] == {"constant": 1, "value": 0.5}
    assert bc["mae"]["constant"] == 1 and m["buckets"]["21+"]["n"] == 1


def test_non_finite_predictions_are_refused_by_name():
    with pytest.raises(ValueError, match="prediction 1 is nan"):
        compute_metrics([0.0, float("nan"), 1.0], [0, 1, 2])
    with pytest.raises(ValueError, match="prediction 0 is inf"):
        compute_metrics([float("inf")], [0])


def test_a_checkpoint_is_evaluated_beside_the_tactic_lookup(tmp_path, tiny_model):
    # Checkpoints carry the run's lookup, so `evaluate` on one shows the same baselines as on the model (it used
    # to report "saved by an older version" for a checkpoint of the current one).
    from conftest import make_theorem
    from leanprogress import ProgressTrainer, ProgressTrainingArguments
    from leanprogress.data.leandojo import records_from_theorem
    from leanprogress.evaluation import evaluate_model, format_report

    records = [r for i in range(6) for r in records_from_theorem(make_theorem(f"C{i}", 2))]
    held = [r for i in range(6, 8) for r in records_from_theorem(make_theorem(f"C{i}", 2))]
    ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model), epochs=1,
                                              batch_size=4, max_length=64, precision="fp32",
                                              keep_checkpoints=True), records, held).train()
    checkpoint = next((tmp_path / "checkpoints").glob("checkpoint-*"))
    metrics, _, _ = evaluate_model(str(checkpoint), held, device="cpu", n_resamples=10)
    assert metrics["comparison"]["lookup"] == "saved with the model"
    report = format_report(metrics)
    assert "lookup median" in report and "older version" not in report


def test_report_columns_stay_apart_on_wide_values():
    from leanprogress.evaluation import compare_predictors, format_comparison

    # every row of one theorem: the model is always 2 steps off, the lookup always right (before:
    # "+1.934 [1.934, 1.934]-100.0% [-100.0, -100.0]", two columns run together)
    labels = [0, 1, 2, 3]
    comp = compare_predictors({"model": [2.0, 3.0, 4.0, 5.0], "lookup": [0.0, 1.0, 2.0, 3.0]}, labels, ["t"] * 4,
                              reference="model", n_resamples=50)
    text = format_comparison(comp)
    row = next(line for line in text.splitlines() if line.startswith("model - lookup"))
    assert row.split() == ["model", "-", "lookup", "+2.000", "[2.000,", "2.000]", "-100.0%", "[-100.0,", "-100.0]",
                           "n/a"]
    header = next(line for line in text.splitlines() if line.startswith("predictor"))
    assert header.index("exact-match") + len("exact-match") == row.index("-100.0]") + len("-100.0]")  # aligned
