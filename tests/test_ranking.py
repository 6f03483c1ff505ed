import pytest

from leanprogress.ranking import DEFAULT_N_MAX, mixed_priority, normalized_steps


def test_published_mix():
    assert normalized_steps(DEFAULT_N_MAX) == -2.0 and normalized_steps(0) == 0.0
    assert mixed_priority(5, -1.5, alpha=0.2) == pytest.approx(0.2 * (-2 * 5 / 20) + 0.8 * -1.5)
    assert mixed_priority(5, -1.5, alpha=0.0) == -1.5
    assert mixed_priority(5, -1.5, alpha=1.0) == pytest.approx(-0.5)


def test_fewer_steps_rank_higher_at_equal_logprob():
    assert mixed_priority(1, -2.0, 0.2) > mixed_priority(6, -2.0, 0.2)


def test_bounds_are_checked():
    with pytest.raises(ValueError, match="alpha"):
        mixed_priority(1, 0, 1.5)
    with pytest.raises(ValueError, match="n_max"):
        normalized_steps(1, n_max=0)
