import shutil

import pytest

from leanprogress import LeanProgressScorer, reward
from leanprogress.config import SETTINGS_FILE

GOAL = "x y : ℕ\nh0 : x + 0 ≤ y\n⊢ x * 0 ≤ y"


@pytest.fixture(scope="module")
def scorer(trained_tiny):
    return LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32", batch_size=3)


def test_predict_matches_predict_batch(scorer):
    tactics = ["simp", "omega", "exact Nat.zero_le _", "induction x with\n| zero => simp\n| succ n ih => omega"]
    batch = scorer.predict_batch(GOAL, tactics, "intro x")
    single = [scorer.predict(GOAL, t, "intro x") for t in tactics]
    assert batch == pytest.approx(single, abs=1e-4)
    assert all(p >= 0 for p in batch)
    assert len(set(round(p, 6) for p in batch)) > 1  # the tactic reaches the model


def test_predictions_follow_the_training_labels(trained_tiny, scorer):
    _, _, held = trained_tiny
    from leanprogress.evaluation import evaluate_model

    metrics, preds, labels = evaluate_model(scorer, held)
    assert len(preds) == len(labels) == len(held)
    assert metrics["spearman"] is None or metrics["spearman"] > -1.0


def test_per_item_goals_and_prefixes(scorer):
    preds = scorer.predict_batch([GOAL, "⊢ True"], ["simp", "trivial"], ["", "intro h"])
    assert len(preds) == 2
    with pytest.raises(ValueError, match="goals"):
        scorer.predict_batch([GOAL], ["a", "b"])
    with pytest.raises(TypeError, match="list of strings"):
        scorer.predict_batch(GOAL, "simp")
    assert scorer.predict_batch(GOAL, []) == []


def test_rank_sorts_fewest_steps_first(scorer):
    ranking = scorer.rank(GOAL, ["simp", "omega", "ring_nf", "aesop"])
    steps = [s for _, s in ranking]
    assert steps == sorted(steps) and {t for t, _ in ranking} == {"simp", "omega", "ring_nf", "aesop"}


def test_template_saved_with_model_is_used_unless_overridden(trained_tiny, scorer):
    assert scorer.template.template == scorer.settings.template
    other = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32", template="{tactic} || {goal}")
    assert other.builder.build("⊢ p", "exact h", "").startswith("exact h ||")
    assert other.predict(GOAL, "simp") != pytest.approx(scorer.predict(GOAL, "simp"), abs=1e-7)


def test_bf16_and_int8_stay_close_to_fp32(trained_tiny, scorer):
    tactics = ["simp", "omega", "linarith", "exact le_refl _"]
    ref = scorer.predict_batch(GOAL, tactics)
    for precision in ("bf16", "int8"):
        other = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision=precision)
        assert other.predict_batch(GOAL, tactics) == pytest.approx(ref, abs=0.15)


def test_reward_is_negative_steps():
    assert reward(3.5) == -3.5 and LeanProgressScorer.reward(0) == 0


def test_interrupted_training_folder_is_refused(trained_tiny, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(trained_tiny[0], broken)
    (broken / SETTINGS_FILE).unlink()
    with pytest.raises(ValueError, match="training did not finish"):
        LeanProgressScorer(str(broken))


def test_missing_model_folder_says_so(tmp_path):
    from leanprogress.encoder import ModelLoadError

    with pytest.raises(ModelLoadError, match="not found|could not load"):
        LeanProgressScorer(str(tmp_path / "nope"))


def test_hub_id_offline_explains_what_to_do():
    from leanprogress.encoder import ModelLoadError

    # The scorer's message suits the scorer: it names a trained model folder, not the trainer's --model-name.
    with pytest.raises(ModelLoadError, match="hub could not provide it") as err:
        LeanProgressScorer("some-org/some-model-that-is-not-here")
    assert "leanprogress train --output-dir" in str(err.value) and "--model-name" not in str(err.value)
