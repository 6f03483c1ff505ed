import json

import pytest

from conftest import make_theorem
from leanprogress import ProgressTrainer, ProgressTrainingArguments
from leanprogress.config import SETTINGS_FILE, ModelSettings
from leanprogress.data.leandojo import records_from_theorem


def last_state(folder):
    ckpts = sorted((folder / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    return json.loads((ckpts[-1] / "trainer_state.json").read_text())


def test_training_arguments_validate():
    with pytest.raises(ValueError, match="learning_rate"):
        ProgressTrainingArguments(output_dir="x", learning_rate=0)
    with pytest.raises(ValueError, match="label_transform"):
        ProgressTrainingArguments(output_dir="x", label_transform="sqrt")
    with pytest.raises(ValueError, match="unknown field"):
        ProgressTrainingArguments(output_dir="x", template="{goal} {tactic} {oops}")


def test_trained_folder_is_complete_and_records_settings(trained_tiny):
    out, metrics, _ = trained_tiny
    names = {p.name for p in out.iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", SETTINGS_FILE, "training_metrics.json"} <= names
    assert not any(n.startswith(".saving") for n in names)
    assert not any(n.endswith((".bin", ".pt", ".pkl")) for n in names)
    settings = ModelSettings.load(out)
    assert settings.max_length == 128 and settings.normalize_symbols is True and settings.label_transform == "log1p"
    assert {"eval_mse", "eval_mae", "eval_accuracy", "eval_spearman"} <= set(metrics["eval"])


def test_best_epoch_is_the_one_kept(trained_tiny):
    out, metrics, _ = trained_tiny
    state = last_state(out)
    evals = [h["eval_mse"] for h in state["log_history"] if "eval_mse" in h]
    assert len(evals) == 2
    assert metrics["eval"]["eval_mse"] == pytest.approx(min(evals), rel=1e-4)


def test_resume_continues_from_checkpoint(tmp_path, tiny_model):
    records = [r for i in range(6) for r in records_from_theorem(make_theorem(f"R{i}", 2))]
    common = dict(output_dir=str(tmp_path), model_name=str(tiny_model), batch_size=4, max_length=64,
                  precision="fp32", learning_rate=1e-3)
    ProgressTrainer(ProgressTrainingArguments(epochs=1, **common), records).train()
    metrics = ProgressTrainer(ProgressTrainingArguments(epochs=2, resume=True, **common), records).train()
    state = last_state(tmp_path)
    # 12 records, batch 4: 3 steps an epoch; a resumed run only adds the second epoch's steps.
    assert state["global_step"] == 6 and metrics["train"]["epoch"] == pytest.approx(2.0)
    assert metrics["train"]["train_samples_per_second"] > 0


def test_empty_training_set_is_refused(tmp_path, tiny_model):
    with pytest.raises(ValueError, match="no records"):
        ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model)), [])
