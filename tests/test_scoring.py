import shutil

import pytest

from conftest import STATE_1, save_bert
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
    with pytest.raises(ValueError, match="1 goal for 2 tactics"):
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

    with pytest.raises(ModelLoadError, match="model folder not found"):
        LeanProgressScorer(str(tmp_path / "nope"))


def test_hub_id_offline_explains_what_to_do():
    from leanprogress.encoder import ModelLoadError

    # The scorer's message suits the scorer: it names a trained model folder, not the trainer's --model-name.
    with pytest.raises(ModelLoadError, match="hub could not provide it") as err:
        LeanProgressScorer("some-org/some-model-that-is-not-here")
    assert "leanprogress train --output-dir" in str(err.value) and "--model-name" not in str(err.value)


TACTICS = ["simp", "omega", "linarith", "exact le_refl _", "rfl", "ring_nf", "aesop", "norm_num", "decide",
           "positivity", "exact Nat.zero_le _", "intro h", "induction x", "cases y", "simp_all",
           "nlinarith [sq_nonneg x]", "exact h0", "apply Nat.le_of_lt_succ", "constructor", "trivial", "gcongr",
           "field_simp", "push_cast", "tauto"]


@pytest.fixture(scope="module")
def ranking_model(tmp_path_factory, bundled_tokenizer_path):
    """Outputs spread like a trained model's over candidates of one state: log1p targets around 1.5 (3.5 steps),
    standard deviation 0.03, so bf16's 8 significant bits (steps of 0.008 there) would tie many of them."""
    import numpy as np
    import torch

    folder = tmp_path_factory.mktemp("ranking-bert")
    model = save_bert(folder, bundled_tokenizer_path)
    scorer = LeanProgressScorer(str(folder), device="cpu", precision="fp32")
    enc = scorer.builder.encode(scorer.builder.build_many([GOAL] * len(TACTICS), TACTICS, [""] * len(TACTICS)),
                                padding=True, return_tensors="pt")
    with torch.no_grad():
        raw = model.eval()(**enc).logits.reshape(-1).numpy()
        scale = 0.03 / float(np.std(raw))
        model.classifier.weight.mul_(scale)
        model.classifier.bias.copy_((model.classifier.bias - float(np.mean(raw))) * scale + 1.5)
    model.save_pretrained(folder)
    return folder


def test_bf16_and_int8_rank_distinct_candidates_like_fp32(ranking_model):
    from scipy.stats import spearmanr

    ref = LeanProgressScorer(str(ranking_model), device="cpu", precision="fp32").predict_batch(GOAL, TACTICS)
    assert len(set(ref)) == len(TACTICS)  # fp32 has no ties
    # Measured on this model: bf16 0.996, int8 0.94 (a whole-model bf16 cast gave 14 distinct scores of 24).
    for precision, bound in (("bf16", 0.98), ("int8", 0.85)):
        other = LeanProgressScorer(str(ranking_model), device="cpu", precision=precision).predict_batch(GOAL, TACTICS)
        assert len(set(other)) == len(TACTICS), f"{precision} ties candidates that fp32 tells apart"
        assert spearmanr(ref, other).statistic >= bound, precision


@pytest.mark.parametrize("bias, cause", [(float("nan"), "NaN output"), (1000.0, "output too large to be a step count")])
def test_broken_outputs_raise_scoring_error_naming_the_cause(tmp_path, bundled_tokenizer_path, capsys, bias, cause):
    from leanprogress import ScoringError
    from leanprogress.cli import main

    def broken_head(model):
        model.classifier.weight.zero_()
        model.classifier.bias.fill_(bias)

    folder = tmp_path / "broken"
    save_bert(folder, bundled_tokenizer_path, head=broken_head)
    for precision in ("fp32", "bf16", "int8"):
        scorer = LeanProgressScorer(str(folder), device="cpu", precision=precision)
        with pytest.raises(ScoringError, match=cause) as err:
            scorer.predict_batch(GOAL, ["simp", "rfl"])
        assert str(folder) in str(err.value)
    data = tmp_path / "eval.jsonl"
    data.write_text('{"goal": "⊢ True", "tactic": "trivial", "steps_remaining": 0}\n', encoding="utf-8")
    capsys.readouterr()
    assert main(["evaluate", "--model", str(folder), "--dataset", str(data)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and cause in err[0] and "Traceback" not in err[0]


def test_checkpoints_score_with_the_runs_settings(trained_tiny):
    from leanprogress.config import ModelSettings, newest_checkpoint

    out = trained_tiny[0]
    ckpt = newest_checkpoint(out / "checkpoints")
    assert ModelSettings.load(ckpt) == ModelSettings.load(out)  # log1p, not the default "none"
    scorer = LeanProgressScorer(str(ckpt), device="cpu", precision="fp32")
    assert scorer.settings.label_transform == "log1p"


def test_a_checkpoint_without_settings_is_refused(trained_tiny, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_tiny[0], run)
    from leanprogress.config import newest_checkpoint

    newest = newest_checkpoint(run / "checkpoints")
    for ckpt in (run / "checkpoints").iterdir():
        (ckpt / SETTINGS_FILE).unlink()
    with pytest.raises(ValueError, match="training checkpoint without leanprogress_config.json.*copy"):
        LeanProgressScorer(str(newest))
    # An unfinished run points at a checkpoint that can be scored, when there is one.
    (run / SETTINGS_FILE).unlink()
    with pytest.raises(ValueError, match="training did not finish") as err:
        LeanProgressScorer(str(run))
    assert "score its newest checkpoint" not in str(err.value)
    shutil.copy(trained_tiny[0] / SETTINGS_FILE, newest / SETTINGS_FILE)
    with pytest.raises(ValueError, match=f"score its newest checkpoint, {newest}"):
        LeanProgressScorer(str(run))


def test_a_folder_that_is_not_a_model_says_what_it_lacks(tmp_path, tiny_model):
    from leanprogress.encoder import ModelLoadError

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelLoadError, match="is not a model folder: it has no config.json"):
        LeanProgressScorer(str(empty))
    no_tokenizer = tmp_path / "no-tokenizer"
    no_tokenizer.mkdir()
    shutil.copy(tiny_model / "config.json", no_tokenizer)
    shutil.copy(tiny_model / "model.safetensors", no_tokenizer)
    with pytest.raises(ModelLoadError, match="no tokenizer files"):
        LeanProgressScorer(str(no_tokenizer))


def test_a_missing_local_path_is_not_looked_up_on_the_hub(tmp_path, monkeypatch):
    import transformers

    from leanprogress.encoder import ModelLoadError

    def hub(*args, **kwargs):
        raise AssertionError("the hub was contacted")

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", hub)
    monkeypatch.setattr(transformers.AutoModelForSequenceClassification, "from_pretrained", hub)
    (tmp_path / "runs").mkdir()
    monkeypatch.chdir(tmp_path)
    for name in ("runs/model", "runs/x/checkpoints/checkpoint-9", "./model"):
        with pytest.raises(ModelLoadError, match="model folder not found") as err:
            LeanProgressScorer(name)
        assert "leanprogress train --output-dir" in str(err.value) and "--model-name" not in str(err.value)


def test_a_distribution_model_ranks_by_a_score_that_does_not_tie(trained_tiny, tmp_path):
    import numpy as np

    from conftest import distribution_copy
    from leanprogress import ModelSettings
    from leanprogress.heads import class_values

    folder = distribution_copy(trained_tiny[0], tmp_path / "dist", max_steps=3, more_steps=6.0)
    settings = ModelSettings.load(folder)
    settings.point_estimate = "mode"
    settings.save(folder)
    tactics = [f"tac_{i} [lemma{i}]" for i in range(12)] + ["simp", "omega", "ring", "linarith"]
    scorer = LeanProgressScorer(str(folder), device="cpu", precision="fp32")
    scores = scorer.score_batch(STATE_1, tactics)
    assert scores.steps == scorer.predict_batch(STATE_1, tactics)
    # The mode gives these candidates fewer distinct values than the rank score, which gives each its own.
    assert len(set(scores.steps)) < len(tactics) and len(set(scores.rank)) == len(tactics)
    # The default rank score is the expected steps of the same distribution.
    probs = scorer.predict_distribution(STATE_1, tactics)
    assert scores.rank == pytest.approx((probs @ class_values(3, 6.0)).tolist(), rel=1e-6)
    assert scorer.rank_batch(STATE_1, tactics) == scores.rank
    # rank() orders by it and shows the point estimate.
    ranked = scorer.rank(STATE_1, tactics)
    order = sorted(range(len(tactics)), key=lambda i: scores.rank[i])
    assert ranked == [(tactics[i], scores.steps[i]) for i in order]
    close = LeanProgressScorer(str(folder), device="cpu", precision="fp32", rank_by="close")
    assert close.rank_batch(STATE_1, tactics) == pytest.approx(1 - probs[:, 0], rel=1e-6)
    with pytest.raises(ValueError, match="rank_by must be one of"):
        LeanProgressScorer(str(folder), device="cpu", rank_by="mode")


def test_a_settings_file_without_rank_by_ranks_by_the_expected_steps(trained_tiny, tmp_path):
    import json

    from conftest import distribution_copy

    folder = distribution_copy(trained_tiny[0], tmp_path / "old", max_steps=3, more_steps=6.0)
    path = folder / "leanprogress_config.json"
    saved = json.loads(path.read_text(encoding="utf-8"))
    del saved["rank_by"]  # as written before the field existed
    saved["point_estimate"] = "mode"
    path.write_text(json.dumps(saved), encoding="utf-8")
    scorer = LeanProgressScorer(str(folder), device="cpu", precision="fp32")
    assert scorer.settings.rank_by == "mean"
    assert len(set(scorer.rank_batch(STATE_1, ["simp", "omega", "ring"]))) == 3


def test_a_regression_models_rank_score_is_its_prediction(trained_tiny):
    scorer = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")
    scores = scorer.score_batch(STATE_1, ["simp", "omega"], "intro x")
    assert scores.rank == scores.steps == scorer.predict_batch(STATE_1, ["simp", "omega"], "intro x")
