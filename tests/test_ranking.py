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


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_generator_score_that_is_not_a_number_ranks_below_every_real_one(bad):
    from leanprogress.ranking import FLOOR_LOGPROB, finite_logprob, probability_of

    assert finite_logprob(bad) == FLOOR_LOGPROB and finite_logprob(-2.5) == -2.5
    for alpha in (0.0, 0.2, 0.5):
        worst_real = mixed_priority(DEFAULT_N_MAX * 10, -1e6, alpha)
        assert mixed_priority(0, bad, alpha) < worst_real, alpha
    # With alpha = 1 the generator's score does not count at all: the priority is the steps' alone.
    assert mixed_priority(3, bad, 1.0) == mixed_priority(3, -0.5, 1.0)
    assert probability_of(mixed_priority(0, bad, 0.2)) == pytest.approx(0.0, abs=1e-300)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_step_count_that_is_not_a_number_is_refused(bad):
    with pytest.raises(ValueError, match="predicted steps must be a finite number"):
        mixed_priority(bad, -1.0, 0.2)
    with pytest.raises(ValueError, match="predicted steps must be a finite number"):
        normalized_steps(bad)
