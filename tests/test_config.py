import json

import pytest

from leanprogress.config import SETTINGS_FILE, ModelSettings, decode_prediction, encode_label


def test_settings_round_trip_and_unknown_keys(tmp_path):
    s = ModelSettings(template="{goal} || {tactic}", max_length=128, normalize_symbols=False, label_transform="none")
    s.save(tmp_path)
    data = json.loads((tmp_path / SETTINGS_FILE).read_text())
    data["added_in_a_later_version"] = 1
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(data))
    assert ModelSettings.load(tmp_path) == s
    assert ModelSettings.load(tmp_path / "missing") is None


def test_settings_reject_bad_values(tmp_path):
    with pytest.raises(ValueError, match="label_transform"):
        ModelSettings(label_transform="sqrt")
    with pytest.raises(ValueError, match="truncation"):
        ModelSettings(truncation="left")
    (tmp_path / SETTINGS_FILE).write_text("{broken")
    with pytest.raises(ValueError, match="not valid JSON"):
        ModelSettings.load(tmp_path)


def test_label_transform_round_trip():
    for steps in (0, 1, 7, 45):
        for t in ("none", "log1p"):
            assert decode_prediction(encode_label(steps, t), t) == pytest.approx(steps)
    assert decode_prediction(-0.3, "none") == 0.0 and decode_prediction(-0.3, "log1p") == 0.0


def test_settings_saved_before_heads_load_as_regression(tmp_path):
    (tmp_path / SETTINGS_FILE).write_text(json.dumps({"template": "{goal} {tactic}", "max_length": 256,
                                                      "normalize_symbols": True, "label_transform": "log1p"}))
    s = ModelSettings.load(tmp_path)
    assert s.head == "regression" and s.num_labels == 1


def test_head_settings_are_checked():
    from leanprogress.config import ProgressTrainingArguments

    assert ModelSettings(head="distribution", head_max_steps=10).num_labels == 12
    with pytest.raises(ValueError, match="head must be one of"):
        ModelSettings(head="ordinal")
    with pytest.raises(ValueError, match="head_max_steps"):
        ModelSettings(head="distribution")
    with pytest.raises(ValueError, match="point_estimate"):
        ModelSettings(point_estimate="max")
    with pytest.raises(ValueError, match="selection_metric"):
        ProgressTrainingArguments(output_dir="x", selection_metric="spearman")
    with pytest.raises(ValueError, match="head_max_steps"):
        ProgressTrainingArguments(output_dir="x", head_max_steps=0)


def test_goal_from_of_training_records():
    from leanprogress.config import records_goal_from

    after, before = {"goal_from": "state_after"}, {"goal_from": "state_before"}
    assert records_goal_from([after, after]) == "state_after"
    assert records_goal_from([before, {}]) == "state_before"  # whole-proof records read the state before
    assert records_goal_from([after, {}]) == records_goal_from([after, before]) == "mixed"
    assert records_goal_from([{}, {"goal_from": None}]) == ""
    with pytest.raises(ValueError, match="goal_from"):
        ModelSettings(goal_from="state_during")


def test_decode_prediction_never_overflows_and_keeps_nan():
    import math

    assert decode_prediction(1000.0, "log1p") == math.inf  # expm1 would raise OverflowError
    assert decode_prediction(-1000.0, "log1p") == 0.0
    assert math.isnan(decode_prediction(float("nan"), "log1p"))  # not clamped to 0 ("closes the goal")
    assert math.isnan(decode_prediction(float("nan"), "none"))
    assert decode_prediction(float("inf"), "none") == math.inf


def test_canonical_goals_setting_is_off_for_models_saved_before_it(tmp_path):
    from leanprogress.config import ProgressTrainingArguments

    old = {k: v for k, v in ModelSettings().__dict__.items() if k != "canonicalize_goals"}
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(old))
    assert ModelSettings.load(tmp_path).canonicalize_goals is False
    assert ProgressTrainingArguments(output_dir="x").canonicalize_goals is True  # new models: on


def test_trainer_and_scorer_share_the_canonical_goals_setting(trained_tiny):
    from leanprogress.scoring import LeanProgressScorer

    folder, _, _ = trained_tiny
    assert ModelSettings.load(folder).canonicalize_goals is True
    assert LeanProgressScorer(str(folder), device="cpu").builder.canonicalize is True
    assert ModelSettings.load(folder).canonical_form == 2  # the form that keeps what decides the value


def test_a_model_trained_with_the_earlier_canonical_form_keeps_reading_it(tmp_path):
    # Saved after canonical goals existed and before canonical form 2: it was trained on goals without any arrow.
    saved = {k: v for k, v in ModelSettings(canonicalize_goals=True, normalize_symbols=False).__dict__.items()
             if k != "canonical_form"}
    (tmp_path / SETTINGS_FILE).write_text(json.dumps(saved))
    settings = ModelSettings.load(tmp_path)
    assert settings.canonicalize_goals is True and settings.canonical_form == 1

    class Tok:  # counts characters as tokens: enough for the prompt builder
        def __call__(self, texts, add_special_tokens=False):
            return {"input_ids": [list(t) for t in texts]}

    goal = "a b : ℕ\n⊢ ↑(a - b) = ↑a - ↑b"
    assert "↑" not in settings.prompt_builder(Tok()).build(goal, "omega")
    now = ModelSettings(canonicalize_goals=True, canonical_form=2, normalize_symbols=False)
    assert "⊢ ↑(a - b) = ↑a - ↑b" in now.prompt_builder(Tok()).build(goal, "omega")
    with pytest.raises(ValueError, match="canonical_form"):
        ModelSettings(canonical_form=3)
