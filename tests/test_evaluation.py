
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
