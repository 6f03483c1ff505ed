import numpy as np
import pytest

from leanprogress import heads


def test_classes_cut_at_k():
    assert [heads.step_class(s, 3) for s in (0, 2, 3, 4, 40)] == [0, 2, 3, 4, 4]
    assert heads.num_labels("regression", 10) == 1 and heads.num_labels("distribution", 10) == 12
    assert heads.more_steps_of([0, 1, 5, 9], 3) == 7.0 and heads.more_steps_of([0, 1], 3) == 4.0


def test_point_estimates():
    p = np.array([[0.7, 0.2, 0.1, 0.0],    # median and mode 0
                  [0.1, 0.3, 0.5, 0.1],    # median 2 (cdf 0.1, 0.4, 0.9), mode 2
                  [0.0, 0.0, 0.2, 0.8]])   # median and mode: "more" -> more_steps
    median = heads.point_estimate(p, "median", 7.5)
    assert median[0] == pytest.approx(-0.5 + 0.5 / 0.7) and np.rint(median[0]) == 0
    assert median[1] == pytest.approx(1.5 + 0.1 / 0.5) and np.rint(median[1]) == 2
    assert median[2] == 7.5
    assert heads.point_estimate(p, "mode", 7.5).tolist() == [0.0, 2.0, 7.5]
    assert heads.point_estimate(p, "mean", 7.5)[2] == pytest.approx(0.4 + 6.0)
    assert (median >= 0).all()
    with pytest.raises(ValueError, match="point_estimate"):
        heads.point_estimate(p, "max", 1.0)


def test_interpolated_median_orders_candidates_the_class_median_ties():
    a = np.array([[0.9, 0.1, 0.0, 0.0]])
    b = np.array([[0.6, 0.4, 0.0, 0.0]])
    ma, mb = heads.point_estimate(a, "median", 5)[0], heads.point_estimate(b, "median", 5)[0]
    assert np.rint(ma) == np.rint(mb) == 0 and ma < mb


def test_prior_logits_are_smoothed_log_frequencies():
    logits = heads.prior_logits([0, 0, 0, 1, 9], max_steps=2)
    probs = heads.softmax(logits[None])[0]
    assert probs.sum() == pytest.approx(1.0)
    assert probs.tolist() == pytest.approx([4 / 9, 2 / 9, 1 / 9, 2 / 9])


def test_softmax_is_stable():
    assert heads.softmax(np.array([[1000.0, 1000.0]])).tolist() == [[0.5, 0.5]]


def test_rank_score_orders_candidates_the_mode_ties():
    # Three candidates whose most likely count is 0: the mode gives one value, the rank scores three.
    p = np.array([[0.9, 0.05, 0.05, 0.0], [0.6, 0.3, 0.1, 0.0], [0.5, 0.1, 0.1, 0.3]])
    assert len(set(heads.point_estimate(p, "mode", 8.0).tolist())) == 1
    mean = heads.rank_score(p, "mean", 8.0)
    assert mean.tolist() == pytest.approx([0.15, 0.5, 0.1 + 0.2 + 2.4])
    assert np.all(np.diff(mean) > 0)
    assert heads.rank_score(p, "close", 8.0).tolist() == pytest.approx([0.1, 0.4, 0.5])
    assert heads.rank_score(p, "median", 8.0).tolist() == pytest.approx(heads.point_estimate(p, "median", 8.0))
    with pytest.raises(ValueError, match="rank_by must be one of"):
        heads.rank_score(p, "mode", 8.0)
