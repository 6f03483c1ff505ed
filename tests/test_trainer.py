import json
import math
import random

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
    assert metrics["kept"] == "best epoch"


def learnable_records(names, seed=0):
    # The tactic alone gives the answer: "finish" closes the goal, "work" leaves five steps.
    rng = random.Random(seed)
    return [{"goal": f"⊢ p{rng.randrange(9)}", "prefix": "", "tactic": tactic, "steps_remaining": steps,
             "theorem": f"{name}{tactic}"} for name in names for tactic, steps in (("finish", 0), ("work", 5))]


def constant_of(records):
    return math.expm1(sum(math.log1p(r["steps_remaining"]) for r in records) / len(records))


def test_trained_model_is_kept_when_it_beats_the_constant(tmp_path, tiny_model):
    train, held = learnable_records([f"L{i}" for i in range(24)]), learnable_records(["H0", "H1", "H2"], seed=1)
    args = ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model), epochs=8, batch_size=8,
                                     max_length=32, precision="fp32", learning_rate=1e-2)
    metrics = ProgressTrainer(args, train, held).train()
    c = constant_of(train)
    constant_mse = sum((r["steps_remaining"] - c) ** 2 for r in held) / len(held)
    assert metrics["kept"] == "best epoch"
    assert metrics["eval"]["eval_mse"] < 0.5 * constant_mse


def diverging_run(tmp_path, tiny_model, **overrides):
    train = [r for i in range(8) for r in records_from_theorem(make_theorem(f"D{i}", 1 + i % 4))]
    held = [r for i in range(8, 11) for r in records_from_theorem(make_theorem(f"D{i}", 1 + i % 4))]
    # A learning rate this large wrecks the model in the first steps.
    args = ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model), epochs=1, batch_size=4,
                                     max_length=64, precision="fp32", learning_rate=50.0, warmup_ratio=0.0,
                                     **overrides)
    return train, held, ProgressTrainer(args, train, held).train()


def test_constant_is_saved_when_no_epoch_beats_it(tmp_path, tiny_model, caplog):
    from leanprogress import LeanProgressScorer

    with caplog.at_level("WARNING"):
        train, held, metrics = diverging_run(tmp_path, tiny_model)
    assert metrics["kept"] == "constant"
    assert "no epoch beat the constant predictor" in caplog.text
    c = constant_of(train)
    assert metrics["eval"]["eval_mae"] == pytest.approx(sum(abs(r["steps_remaining"] - c) for r in held) / len(held),
                                                        rel=1e-6)
    caplog.clear()
    with caplog.at_level("WARNING"):
        scorer = LeanProgressScorer(str(tmp_path), device="cpu")
    assert "predicts the same steps for every input" in caplog.text
    preds = scorer.predict_batch(
        [r["goal"] for r in train[:5]], [r["tactic"] for r in train[:5]], [r["prefix"] for r in train[:5]])
    assert len(set(preds)) == 1 and preds[0] == pytest.approx(c, rel=1e-3)  # float32 bias
    assert json.loads((tmp_path / "training_metrics.json").read_text())["kept"] == "constant"


def test_best_epoch_is_kept_when_asked_even_if_worse(tmp_path, tiny_model):
    _, _, metrics = diverging_run(tmp_path, tiny_model, fallback_to_constant=False)
    assert metrics["kept"] == "best epoch"


def test_a_head_without_bias_cannot_become_the_constant():
    import torch

    from leanprogress.encoder import is_constant_model
    from leanprogress.training.trainer import _make_constant

    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 1, bias=False))
    before = model[1].weight.detach().clone()
    assert _make_constant(model, 2.0) is False
    assert torch.equal(model[1].weight, before)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Linear(3, 1))
    assert not is_constant_model(model)
    assert _make_constant(model, 2.0) is True
    assert is_constant_model(model)
    assert torch.equal(model(torch.randn(5, 4)), torch.full((5, 1), 2.0))


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


def test_the_tactics_trained_on_are_kept_with_the_model(trained_tiny):
    from leanprogress.data.corpus import TACTIC_CORPUS_FILE
    from leanprogress.data.records import read_records

    out, _, held = trained_tiny
    rows, _ = read_records(out / TACTIC_CORPUS_FILE)
    pairs = [(r["goal"], r["tactic"]) for r in rows]
    assert len(pairs) == len(set(pairs)) == 23  # the 23 distinct training steps of conftest's trained_tiny
    assert {t for _, t in pairs} == {f"tac_T.t{i}_{j} [lemma{j}]" for i in range(10) for j in range(1 + i % 4)}
    assert not {(r["goal"], r["tactic"]) for r in held} & set(pairs)  # held-out theorems stay out
