import json
import math
import random

import pytest

from conftest import make_theorem, save_bert
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
    evals = [h["eval_mae"] for h in state["log_history"] if "eval_mae" in h]
    assert len(evals) == 2
    assert metrics["eval"]["eval_mae"] == pytest.approx(min(evals), rel=1e-4)
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
    assert metrics["learned_beyond_constant"] is True


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
    assert "no epoch beat the constant predictor" in caplog.text and "on the eval set (eval MAE " in caplog.text
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
    # Valid JSON: the constant's undefined Spearman is null, not a bare NaN.
    saved = json.loads((tmp_path / "training_metrics.json").read_text(),
                       parse_constant=lambda c: pytest.fail(f"training_metrics.json holds {c}"))
    assert saved["kept"] == "constant" and saved["eval"]["eval_spearman"] is None
    assert metrics["eval"]["eval_spearman"] is None


def test_best_epoch_is_kept_when_asked_even_if_worse(tmp_path, tiny_model, caplog):
    with caplog.at_level("WARNING"):
        _, _, metrics = diverging_run(tmp_path, tiny_model, fallback_to_constant=False)
    assert metrics["kept"] == "best epoch"
    # Kept although it learned nothing: the metrics and the log say so.
    assert metrics["learned_beyond_constant"] is False
    assert "no better than the constant predictor's" in caplog.text


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
                  precision="fp32", learning_rate=1e-3, keep_checkpoints=True)  # a finished run continued
    ProgressTrainer(ProgressTrainingArguments(epochs=1, **common), records).train()
    metrics = ProgressTrainer(ProgressTrainingArguments(epochs=2, resume=True, **common), records).train()
    state = last_state(tmp_path)
    # 12 records, batch 4: 3 steps an epoch; a resumed run only adds the second epoch's steps.
    assert state["global_step"] == 6 and metrics["train"]["epoch"] == pytest.approx(2.0)
    assert metrics["train"]["train_samples_per_second"] > 0


def test_empty_training_set_is_refused(tmp_path, tiny_model):
    with pytest.raises(ValueError, match="no records"):
        ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model)), [])


def test_lookup_is_fit_on_the_training_records_and_saved(trained_tiny):
    from leanprogress.baselines import TacticLookup

    out, _, _ = trained_tiny
    records = [r for i in range(10) for r in records_from_theorem(make_theorem(f"T.t{i}", 1 + i % 4), source="gen")]
    assert TacticLookup.load(out).to_dict() == TacticLookup.fit(records).to_dict()


def test_distribution_head_trains_and_scores(tmp_path, tiny_model):
    import numpy as np

    from leanprogress import LeanProgressScorer

    train, held = learnable_records([f"L{i}" for i in range(24)]), learnable_records(["H0", "H1", "H2"], seed=1)
    args = ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model), epochs=8, batch_size=8,
                                     max_length=32, precision="fp32", learning_rate=1e-2, head="distribution",
                                     head_max_steps=3)
    metrics = ProgressTrainer(args, train, held).train()
    settings = ModelSettings.load(tmp_path)
    # Labels 5 are above K = 3: the "more" class stands for their mean.
    assert (settings.head, settings.head_max_steps, settings.head_more_steps) == ("distribution", 3, 5.0)
    assert metrics["kept"] == "best epoch" and metrics["eval"]["eval_accuracy"] == 1.0
    scorer = LeanProgressScorer(str(tmp_path), device="cpu", precision="fp32")
    dist = scorer.predict_distribution("⊢ p1", ["finish", "work"])
    assert dist.shape == (2, 5) and np.allclose(dist.sum(axis=1), 1.0)
    assert scorer.step_values.tolist() == [0, 1, 2, 3, 5.0]
    close = scorer.close_probability("⊢ p1", ["finish", "work"])
    assert close[0] > 0.5 > close[1]
    finish, work = scorer.predict_batch("⊢ p1", ["finish", "work"])
    assert round(finish) == 0 and round(work) == 5 and finish >= 0
    mode = LeanProgressScorer(str(tmp_path), device="cpu", precision="fp32", point_estimate="mode")
    assert mode.predict_batch("⊢ p1", ["finish", "work"]) == [0.0, 5.0]


def test_regression_scorer_has_no_distribution(trained_tiny):
    from leanprogress import LeanProgressScorer

    scorer = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")
    with pytest.raises(ValueError, match="regression head"):
        scorer.predict_distribution("⊢ p", ["simp"])


def test_constant_fallback_of_the_distribution_head_is_the_training_prior(tmp_path, tiny_model):
    import numpy as np

    from leanprogress import LeanProgressScorer

    train, held, metrics = diverging_run(tmp_path, tiny_model, head="distribution", head_max_steps=2)
    assert metrics["kept"] == "constant"
    scorer = LeanProgressScorer(str(tmp_path), device="cpu", precision="fp32")
    dist = scorer.predict_distribution(["⊢ a", "x : ℕ\n⊢ b"], ["simp", "ring"])
    counts = np.bincount([min(r["steps_remaining"], 3) for r in train], minlength=4) + 1.0
    assert np.allclose(dist, counts / counts.sum(), atol=1e-5)


@pytest.mark.parametrize("metric,pick", [("accuracy", max), ("mse", min), ("mae", min)])
def test_best_epoch_follows_the_selection_metric(tmp_path, tiny_model, metric, pick):
    records = [r for i in range(10) for r in records_from_theorem(make_theorem(f"S{i}", 1 + i % 4))]
    held = [r for i in range(10, 14) for r in records_from_theorem(make_theorem(f"S{i}", 1 + i % 4))]
    args = ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model), epochs=3, batch_size=4,
                                     learning_rate=3e-3, max_length=64, precision="fp32", selection_metric=metric,
                                     fallback_to_constant=False, extra={"save_total_limit": None}, keep_checkpoints=True)
    metrics = ProgressTrainer(args, records, held).train()
    history = [h for h in last_state(tmp_path)["log_history"] if f"eval_{metric}" in h]
    assert len(history) == 3
    assert metrics["eval"][f"eval_{metric}"] == pytest.approx(pick(h[f"eval_{metric}"] for h in history), rel=1e-4)
    assert metrics["selection_metric"] == metric


def test_prompt_cache_builds_each_prompt_once(tmp_path, tiny_model):
    from leanprogress.training.trainer import PromptCache

    records = [r for i in range(4) for r in records_from_theorem(make_theorem(f"C{i}", 3))]
    cache = PromptCache()
    common = dict(model_name=str(tiny_model), max_length=64, precision="fp32")
    first = ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path / "a"), **common), records,
                            prompt_cache=cache)
    ids = [r["input_ids"] for r in first._tokenize(first.train_dataset, "t").rows]
    assert cache.misses == len(records) and cache.hits == 0
    second = ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path / "b"), head="distribution", **common),
                             records, prompt_cache=cache)
    assert [r["input_ids"] for r in second._tokenize(second.train_dataset, "t").rows] == ids
    assert cache.hits == len(records) and len(cache) == len(records)
    uncached = ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path / "c"), **common), records)
    assert [r["input_ids"] for r in uncached._tokenize(uncached.train_dataset, "t").rows] == ids
    other_length = ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path / "d"), **{**common,
                                   "max_length": 32}), records, prompt_cache=cache)
    other_length._tokenize(other_length.train_dataset, "t")
    assert len(cache) == 2 * len(records)


@pytest.mark.parametrize("launcher, kind", [("torchrun", "cross"), ("accelerate", "cross"), ("torchrun", "group")])
def test_two_processes_train_one_model(tmp_path, tiny_model, launcher, kind):
    """DDP with 2 CPU processes (gloo): same split and lookup on both ranks, only rank 0 writes; a group-kind model
    too (each process takes whole batches, through the model's own forward: the DDP call that synchronizes)."""
    import os
    import subprocess
    import sys

    from leanprogress.baselines import TacticLookup
    from leanprogress.data.dataset import load_mixture

    data = tmp_path / "data.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in learnable_records([f"P{i}" for i in range(20)])))
    out = tmp_path / "model"
    train_args = ["--dataset", str(data), "--model-name", str(tiny_model), "--output-dir", str(out), "--epochs", "1",
                  "--max-length", "32", "--batch-size", "4", "--precision", "fp32", "--keep-checkpoints",
                  "--encoder-kind", kind]
    if launcher == "torchrun":
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    else:
        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(sys.path))
    run = subprocess.run(cmd + ["-m", "leanprogress.train_steps_model", *train_args], env=env, capture_output=True,
                         text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    metrics = json.loads((out / "training_metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["encoder_kind"] == kind
    assert run.stdout.count("model saved to") == 1  # the report comes from rank 0 only
    assert not [p.name for p in out.iterdir() if p.name.startswith(".saving")]
    train, held, _ = load_mixture([str(data)], eval_ratio=0.2, seed=42)
    assert [json.loads(l) for l in (out / "eval_split.jsonl").read_text().splitlines()] == held.records
    assert TacticLookup.load(out).to_dict() == TacticLookup.fit(train.records).to_dict()
    # 2 processes x batch 4: each process takes half the records, so half the optimizer steps of one process.
    n = len(train.records)
    if kind == "group":  # each process takes half the batches
        one = ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path / "x"), model_name=str(tiny_model),
                                                        max_length=32, batch_size=4, encoder_kind="group"), train)
        batches = len(one._tokenize_groups(one.train_dataset, seed=42))
        assert last_state(out)["global_step"] == math.ceil(batches / 2) < batches
    else:
        assert last_state(out)["global_step"] == math.ceil(math.ceil(n / 2) / 4) < math.ceil(n / 4)


def test_training_does_not_need_the_datasets_package(tmp_path, tiny_model):
    """GPU images often ship torch and transformers only; training and scoring run without ``datasets``."""
    import subprocess
    import sys

    code = f"""
import sys
sys.modules["datasets"] = None  # import datasets now fails, as where it is not installed
from leanprogress import ProgressTrainer, ProgressTrainingArguments, LeanProgressScorer
records = [{{"goal": "⊢ p", "tactic": t, "steps_remaining": s, "theorem": f"T{{i}}{{t}}"}}
           for i in range(6) for t, s in (("finish", 0), ("work", 2))]
args = ProgressTrainingArguments(output_dir={str(tmp_path)!r}, model_name={str(tiny_model)!r}, epochs=1,
                                 max_length=32, precision="fp32")
ProgressTrainer(args, records[:8], records[8:]).train()
print(LeanProgressScorer({str(tmp_path)!r}, device="cpu").predict("⊢ p", "work") >= 0)
assert "datasets" not in sys.modules or sys.modules["datasets"] is None
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240,
                         env={**__import__("os").environ, "PYTHONPATH": __import__("os").pathsep.join(sys.path)})
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().endswith("True")


def test_resume_never_restores_an_earlier_runs_checkpoint(tmp_path, tiny_model, monkeypatch):
    # The sequence from issue 10: train a finished run A into a folder, train a new run B into it without --resume
    # and interrupt it, then --resume: B must continue, not A's last checkpoint be restored.
    from safetensors.torch import load_file

    from transformers.trainer_callback import CallbackHandler

    records = [r for i in range(6) for r in records_from_theorem(make_theorem(f"R{i}", 2))]
    common = dict(output_dir=str(tmp_path), model_name=str(tiny_model), batch_size=4, max_length=64,
                  precision="fp32", epochs=2, keep_checkpoints=True)
    ProgressTrainer(ProgressTrainingArguments(learning_rate=1e-3, **common), records).train()
    run_a = load_file(tmp_path / "model.safetensors")
    assert {p.name for p in (tmp_path / "checkpoints").iterdir()} == {"checkpoint-3", "checkpoint-6"}

    saved = CallbackHandler.on_save

    def interrupted(self, args, state, control):  # Ctrl-C right after the first checkpoint of run B
        saved(self, args, state, control)
        raise KeyboardInterrupt

    monkeypatch.setattr(CallbackHandler, "on_save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ProgressTrainer(ProgressTrainingArguments(learning_rate=3e-3, seed=7, **common), records).train()
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["checkpoint-3"]  # B's only

    metrics = ProgressTrainer(ProgressTrainingArguments(learning_rate=3e-3, seed=7, resume=True, **common),
                              records).train()
    state = last_state(tmp_path)
    assert state["global_step"] == 6 and metrics["train"]["train_runtime"] > 0
    resumed = load_file(tmp_path / "model.safetensors")
    assert any(not resumed[k].equal(run_a[k]) for k in run_a)  # not A's model saved again


def test_summary_spearman_is_what_evaluate_computes_under_bf16(tmp_path, bundled_tokenizer_path):
    # Under bf16 autocast the head rounded every eval prediction to 8 significant bits: the training summary said
    # "Spearman nan" or 0.000 where `evaluate` (fp32, on the saved model) gave another figure.
    from leanprogress.evaluation import evaluate_model

    base = tmp_path / "base"
    save_bert(base, bundled_tokenizer_path, settings=False)
    train = [r for i in range(10) for r in records_from_theorem(make_theorem(f"S{i}", 1 + i % 5))]
    held = [r for i in range(10, 16) for r in records_from_theorem(make_theorem(f"S{i}", 1 + i % 5))]
    out = tmp_path / "run"
    args = ProgressTrainingArguments(output_dir=str(out), model_name=str(base), epochs=1, batch_size=4, max_length=64,
                                     precision="bf16", learning_rate=1e-3, fallback_to_constant=False)
    metrics = ProgressTrainer(args, train, held).train()
    evaluated, _, _ = evaluate_model(str(out), held, device="cpu")
    assert evaluated["spearman"] is not None
    assert metrics["eval"]["eval_spearman"] == pytest.approx(evaluated["spearman"], abs=0.01)
    assert metrics["eval"]["eval_mae"] == pytest.approx(evaluated["mae"], abs=1e-3)


def test_training_output_suits_a_log_file(tmp_path, bundled_tokenizer_path, capfd, caplog):
    # stderr is not a terminal here: no progress bars, no transformers LOAD REPORT table, one head message of ours.
    from transformers import BertModel

    encoder = tmp_path / "encoder"
    save_bert(encoder, bundled_tokenizer_path, settings=False)
    BertModel.from_pretrained(encoder, add_pooling_layer=True).save_pretrained(encoder)  # no classifier: an encoder
    # Enough records (over 512) that tokenizing them would show a bar on a terminal.
    records = [r for i in range(180) for r in records_from_theorem(make_theorem(f"O{i}", 3))]
    held = [r for i in range(180, 182) for r in records_from_theorem(make_theorem(f"O{i}", 2))]
    assert len(records) > 512
    capfd.readouterr()
    caplog.clear()
    args = ProgressTrainingArguments(output_dir=str(tmp_path / "run"), model_name=str(encoder), epochs=1,
                                     batch_size=64, max_length=64, precision="fp32", fallback_to_constant=False)
    with caplog.at_level("INFO", logger="leanprogress"):
        ProgressTrainer(args, records, held).train()
    out, err = capfd.readouterr()
    text = out + err + caplog.text
    assert "LOAD REPORT" not in text and "\r" not in text and "it/s]" not in text
    # A new head is what fine-tuning an encoder always starts with: one note, not a warning on every run.
    notes = [r for r in caplog.records if "starting a new regression head (one output)" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelname == "INFO"
    assert "has no regression head" not in text
    assert f"training: {-(-len(records) // 64)} steps, 1 epoch(s)" in err and "epoch 1 eval: MSE" in err
    assert "best epoch (1) eval: MSE" in err  # the evaluation after training names the epoch it measures


def test_a_new_distribution_head_is_a_note_that_names_it(tmp_path, tiny_model, caplog):
    """Fine-tuning with --head distribution replaces the encoder's saved one-output head: one note naming the new
    head, no warning and no transformers message about the label map."""
    from leanprogress.encoder import load_regression_model

    with caplog.at_level("INFO"):
        load_regression_model(str(tiny_model), role="encoder", num_labels=12)
    messages = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert [m for m in messages if "starting a new" in m[1]] == [
        ("INFO", f"{tiny_model}: starting a new distribution head (12 classes), as expected when fine-tuning an "
                 "encoder (its saved head has another size (classifier.bias, classifier.weight))")]
    assert not [m for m in messages if m[0] == "WARNING"], messages


def test_the_tactics_trained_on_are_kept_with_the_model(trained_tiny):
    from leanprogress.data.corpus import TACTIC_CORPUS_FILE
    from leanprogress.data.records import read_records

    out, _, held = trained_tiny
    rows, _ = read_records(out / TACTIC_CORPUS_FILE)
    pairs = [(r["goal"], r["tactic"]) for r in rows]
    assert len(pairs) == len(set(pairs)) == 23  # the 23 distinct training steps of conftest's trained_tiny
    assert {t for _, t in pairs} == {f"tac_T.t{i}_{j} [lemma{j}]" for i in range(10) for j in range(1 + i % 4)}
    assert not {(r["goal"], r["tactic"]) for r in held} & set(pairs)  # held-out theorems stay out


def test_a_saved_model_and_its_checkpoints_have_the_usual_file_mode(tmp_path, tiny_model):
    # The safetensors writer leaves weights 0600: another account could not load a shared model. Every file of
    # the model and of its checkpoints gets the mode open() gives (0o666 less the umask; 0o002 here, so that a
    # fixed 0o644 would fail too).
    import os
    import stat

    records = [r for i in range(6) for r in records_from_theorem(make_theorem(f"M{i}", 2))]
    held = [r for i in range(6, 8) for r in records_from_theorem(make_theorem(f"M{i}", 2))]
    out = tmp_path / "run"
    old = os.umask(0o002)
    try:
        ProgressTrainer(ProgressTrainingArguments(output_dir=str(out), model_name=str(tiny_model), epochs=1,
                                                  batch_size=4, max_length=64, precision="fp32",
                                                  keep_checkpoints=True), records, held).train()
    finally:
        os.umask(old)
    files = [p for p in [*out.iterdir(), *out.glob("checkpoints/checkpoint-*/*")] if p.is_file()]
    assert {p.name for p in files} >= {"model.safetensors", SETTINGS_FILE, "training_metrics.json", "optimizer.pt"}
    modes = {str(p.relative_to(out)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {oct(0o664)}, modes


def test_a_run_into_a_finished_model_marks_it_unfinished_until_saved(tmp_path, tiny_model, monkeypatch, caplog):
    # A finished model A in the folder; run B into it is interrupted after its first checkpoint. The folder must
    # not pass for a model (A's weights and settings beside B's files), and --resume must still finish B.
    from transformers.trainer_callback import CallbackHandler

    from leanprogress import LeanProgressScorer

    records = [r for i in range(6) for r in records_from_theorem(make_theorem(f"R{i}", 2))]
    common = dict(output_dir=str(tmp_path), model_name=str(tiny_model), batch_size=4, max_length=64,
                  precision="fp32", epochs=2, learning_rate=1e-3, keep_checkpoints=True)
    ProgressTrainer(ProgressTrainingArguments(**common), records).train()
    LeanProgressScorer(str(tmp_path), device="cpu")  # A is a model

    saved = CallbackHandler.on_save

    def interrupted(self, args, state, control):  # Ctrl-C right after the first checkpoint of run B
        saved(self, args, state, control)
        raise KeyboardInterrupt

    monkeypatch.setattr(CallbackHandler, "on_save", interrupted)
    with caplog.at_level("WARNING"), pytest.raises(KeyboardInterrupt):
        ProgressTrainer(ProgressTrainingArguments(seed=7, **common), records).train()
    monkeypatch.undo()
    with pytest.raises(ValueError, match=r"holds a training run that has not finished \(started .*--resume.*"
                                         r"or score its newest checkpoint, .*checkpoint-3"):
        LeanProgressScorer(str(tmp_path), device="cpu")
    assert f"{tmp_path} holds a finished model: this run replaces it" in caplog.text
    from leanprogress.config import RUN_MARKER

    assert (tmp_path / RUN_MARKER).is_file() and not (tmp_path / SETTINGS_FILE).exists()
    LeanProgressScorer(str(tmp_path / "checkpoints" / "checkpoint-3"), device="cpu")  # B's checkpoint scores

    ProgressTrainer(ProgressTrainingArguments(seed=7, resume=True, **common), records).train()
    assert last_state(tmp_path)["global_step"] == 6
    assert not (tmp_path / RUN_MARKER).exists() and (tmp_path / SETTINGS_FILE).is_file()
    LeanProgressScorer(str(tmp_path), device="cpu")


def test_a_start_that_fails_leaves_no_folder(tmp_path, tiny_model):
    # An encoder folder with a tokenizer but no weights: the trainer gets as far as loading the weights.
    import shutil

    broken = tmp_path / "broken-encoder"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").unlink()
    records = [r for i in range(4) for r in records_from_theorem(make_theorem(f"F{i}", 2))]
    out = tmp_path / "new" / "run"
    trainer = ProgressTrainer(ProgressTrainingArguments(output_dir=str(out), model_name=str(broken), epochs=1,
                                                        max_length=64, precision="fp32"), records)
    with pytest.raises(Exception, match="no model.safetensors"):
        trainer.train()
    assert not out.exists()


def test_training_on_a_terminal_prints_readable_evaluation_lines(tmp_path, tiny_model, capfd, monkeypatch):
    # On a terminal the bars stay, but evaluations are the lines a log file gets, not the Trainer's raw dicts.
    import leanprogress.training.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "stderr_is_terminal", lambda: True)
    records = [r for i in range(6) for r in records_from_theorem(make_theorem(f"P{i}", 2))]
    held = [r for i in range(6, 8) for r in records_from_theorem(make_theorem(f"P{i}", 2))]
    capfd.readouterr()
    ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model), epochs=2,
                                              batch_size=4, max_length=64, precision="fp32", logging_steps=1,
                                              fallback_to_constant=False), records, held).train()
    out, err = capfd.readouterr()
    text = out + err
    assert "{'" not in text and "eval_loss" not in text and "train_runtime" not in text
    assert "epoch 1 eval: MSE" in err and "epoch 2 eval: MSE" in err and "best epoch (" in err
    assert "mtime may not be reliable" not in text


def test_the_evaluation_after_training_names_the_epoch_and_precision(tmp_path, tiny_model, capfd):
    # Under bf16 the epochs are evaluated under autocast and the kept epoch again in fp32: the two lines for the
    # same epoch differ, so the second says what it is.
    records = [r for i in range(6) for r in records_from_theorem(make_theorem(f"Q{i}", 2))]
    held = [r for i in range(6, 8) for r in records_from_theorem(make_theorem(f"Q{i}", 2))]
    capfd.readouterr()
    metrics = ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model),
                                                        epochs=2, batch_size=4, max_length=64, precision="bf16",
                                                        fallback_to_constant=False), records, held).train()
    err = capfd.readouterr().err
    kept = metrics["kept_epoch"]
    assert kept in (1.0, 2.0) and f"best epoch ({kept:g}) in fp32 eval: MSE" in err
    assert "kept model eval" not in err


def stand_in_records(names):
    # The same goal, prefix and tactic: 0 steps left when the goal is the real state, 5 when it is the initial
    # state standing in. Only the mark can tell them apart.
    return [{"goal": "⊢ p", "prefix": "", "tactic": "finish", "steps_remaining": steps, "theorem": f"{name}{kind}",
             **({"goal_state": "initial"} if kind == "i" else {})}
            for name in names for kind, steps in (("r", 0), ("i", 5))]


def test_marked_initial_goals_are_read_apart_and_scored_as_trained(tmp_path, tiny_model):
    from leanprogress import LeanProgressScorer

    train, held = stand_in_records([f"L{i}" for i in range(24)]), stand_in_records(["H0", "H1"])
    common = dict(model_name=str(tiny_model), epochs=8, batch_size=8, max_length=32, precision="fp32",
                  learning_rate=1e-2, fallback_to_constant=False)
    marked = ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path / "mark"), initial_goals="mark",
                                                       **common), train, held)
    prompts = marked.builder.build_many(["⊢ p"] * 2, ["finish"] * 2, None, [False, True])
    assert prompts[0].startswith("Goal:") and prompts[1].startswith("Initial goal:")
    assert marked.train()["eval"]["eval_accuracy"] == 1.0
    assert ModelSettings.load(tmp_path / "mark").initial_goals == "mark"
    scorer = LeanProgressScorer(str(tmp_path / "mark"), device="cpu", precision="fp32")
    real, stand_in = scorer.predict_batch("⊢ p", ["finish", "finish"], initial_goals=[False, True])
    assert round(real) == 0 and round(stand_in) == 5
    # search states are real: scored alone, the real state's prediction, not the stand-in's (5 steps away). Batch
    # shapes differ (one prompt against two, padded), so the floats agree only to rounding on some CPUs.
    assert scorer.predict_batch("⊢ p", ["finish"]) == pytest.approx([real], abs=1e-3)
    # read like any other record, the two kinds are one input with two labels
    read = ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path / "read"), **common), train, held)
    assert read.train()["eval"]["eval_accuracy"] <= 0.5


def test_dropped_initial_goals_are_not_trained_on(tmp_path, tiny_model):
    train, held = stand_in_records([f"L{i}" for i in range(6)]), stand_in_records(["H0"])
    args = ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model), epochs=1, batch_size=4,
                                     max_length=32, precision="fp32", initial_goals="drop")
    trainer = ProgressTrainer(args, train, held)
    assert len(trainer.train_dataset) == 6 and len(trainer.eval_dataset) == 1
    assert all("goal_state" not in r for r in trainer.train_dataset)
    assert trainer.lookup.predict(["finish"], "median") == [0.0]
    trainer.train()
    assert ModelSettings.load(tmp_path).initial_goals == "drop"
    with pytest.raises(ValueError, match="initial_goals='drop' left no training records"):
        ProgressTrainer(args, [r for r in train if r.get("goal_state")])
    with pytest.raises(ValueError, match="initial_goals"):
        ProgressTrainingArguments(output_dir="x", initial_goals="weight")


def prior_task(names, seed=0):
    # The name says most: "finish" closes the goal; "work" leaves 1 step on goals with q and 3 on the others,
    # so the lookup's mode for "work" is right half the time and only the state tells the rest.
    rng = random.Random(seed)
    out = []
    for name in names:
        q = rng.random() < 0.5
        out.append({"goal": f"⊢ {'q' if q else 'r'}{rng.randrange(9)}", "prefix": "", "tactic": "work",
                    "steps_remaining": 1 if q else 3, "theorem": f"{name}w"})
        out.append({"goal": f"⊢ p{rng.randrange(9)}", "prefix": "", "tactic": "finish", "steps_remaining": 0,
                    "theorem": f"{name}f"})
    return out


def test_a_head_prior_model_corrects_the_lookup_and_scores_as_it_was_trained(tmp_path, tiny_model):
    import numpy as np

    from leanprogress import LeanProgressScorer
    from leanprogress.baselines import TacticLookup
    from leanprogress.encoder import load_regression_model

    train, held = prior_task([f"L{i}" for i in range(40)]), prior_task(["H0", "H1", "H2", "H3", "H4"], seed=1)
    args = ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model), epochs=10, batch_size=8,
                                     max_length=32, precision="fp32", learning_rate=1e-2, head="distribution",
                                     head_max_steps=3, head_prior="lookup", point_estimate="mode")
    metrics = ProgressTrainer(args, train, held).train()
    assert ModelSettings.load(tmp_path).head_prior == "lookup"
    lookup = TacticLookup.load(tmp_path)
    lookup_right = np.mean([lookup.predict([r["tactic"]], "mode")[0] == r["steps_remaining"] for r in held])
    assert lookup_right < 0.9 and metrics["kept"] == "best epoch"
    assert metrics["eval"]["eval_accuracy"] > lookup_right
    # The scorer adds the same prior to the head's outputs as training did.
    scorer = LeanProgressScorer(str(tmp_path), device="cpu", precision="fp32")
    goals, tactics = [r["goal"] for r in held], [r["tactic"] for r in held]
    dist = scorer.predict_distribution(goals, tactics)
    model = load_regression_model(str(tmp_path), role="model", num_labels=5).eval()
    import torch

    with torch.no_grad():
        enc = scorer.builder.encode(scorer.builder.build_many(goals, tactics, [""] * len(goals)), padding=True,
                                    return_tensors="pt")
        raw = model(**enc).logits.double().numpy()
    expected = np.exp(raw + lookup.class_log_prior(tactics, 3))
    assert np.allclose(dist, expected / expected.sum(axis=1, keepdims=True), atol=1e-4)
    assert np.mean(np.array(scorer.predict_batch(goals, tactics)) == [r["steps_remaining"] for r in held]) == \
        pytest.approx(metrics["eval"]["eval_accuracy"])


@pytest.mark.parametrize("prior,key", [("lookup", "name"), ("block-lookup", "name+blocks")])
def test_a_head_prior_model_that_learns_nothing_falls_back_to_the_lookup(tmp_path, tiny_model, prior, key):
    import numpy as np

    from leanprogress import LeanProgressScorer
    from leanprogress.baselines import TacticLookup

    train, held, metrics = diverging_run(tmp_path, tiny_model, head="distribution", head_max_steps=2,
                                         head_prior=prior)
    assert metrics["kept"] == "constant"
    assert ModelSettings.load(tmp_path).head_prior == prior and TacticLookup.load(tmp_path).key == key
    scorer = LeanProgressScorer(str(tmp_path), device="cpu", precision="fp32")
    tactics = [r["tactic"] for r in held] + ["never seen"]
    dist = scorer.predict_distribution(["⊢ a"] * len(tactics), tactics)
    assert np.allclose(dist, np.exp(TacticLookup.load(tmp_path).class_log_prior(tactics, 2)), atol=1e-5)


def test_class_weighting_weighs_each_record_by_its_class():
    import numpy as np
    import torch

    from leanprogress.training.trainer import _distribution_loss, class_weights

    labels = [0] * 8 + [1] * 2 + [4]
    w = class_weights(labels, max_steps=2, power=1.0)
    assert w[0] < w[1] < w[3] and np.mean(w[[min(x, 3) for x in labels]]) == pytest.approx(1.0)
    assert class_weights(labels, 2, 0.0) is None
    logits = torch.randn(len(labels), 4)
    target = torch.tensor(labels, dtype=torch.float32)
    plain = torch.nn.functional.cross_entropy(logits, target.clamp(max=3).long(), reduction="none")
    weighted = _distribution_loss(2, w)({"logits": logits}, target)
    assert float(weighted) == pytest.approx(float((plain * torch.as_tensor(w)[target.clamp(max=3).long()]).mean()),
                                            rel=1e-5)
    assert float(_distribution_loss(2)({"logits": logits}, target)) == pytest.approx(float(plain.mean()), rel=1e-5)


def test_the_ordinal_term_charges_each_threshold_between_prediction_and_label():
    """Against a direct sum over thresholds of the binary cross-entropy of P(steps > k); a distribution peaked one
    step from the label costs less than one peaked four steps away, where cross-entropy charges both alike."""
    import numpy as np
    import torch

    from leanprogress.training.trainer import _distribution_loss, _ordinal_terms

    logits = torch.randn(6, 5, dtype=torch.float64)
    classes = torch.tensor([0, 1, 2, 3, 4, 2])
    p = torch.softmax(logits, dim=-1).numpy()
    tail = np.cumsum(p[:, ::-1], axis=1)[:, ::-1][:, 1:]  # P(class > k), k = 0..3
    above = classes.numpy()[:, None] > np.arange(4)[None, :]
    expected = -np.where(above, np.log(tail), np.log(1 - tail)).sum(axis=1)
    np.testing.assert_allclose(_ordinal_terms(logits, classes).numpy(), expected, rtol=1e-9)
    near, far = torch.full((2, 5), -8.0), torch.tensor([4])
    near[0, 3], near[1, 0] = 8.0, 8.0  # peaked at 3 and at 0; the label is 4
    ce = torch.nn.functional.cross_entropy(near, far.expand(2), reduction="none")
    assert float(ce[0]) == pytest.approx(float(ce[1]))
    terms = _ordinal_terms(near, far.expand(2))
    assert float(terms[0]) < float(terms[1]) / 3
    target = torch.tensor([4.0, 4.0])
    both = _distribution_loss(3, ordinal=0.5)({"logits": near}, target)
    assert float(both) == pytest.approx(float((ce + 0.5 * terms).mean()), rel=1e-6)
    # A head confident beyond float range stays finite (log-probabilities throughout).
    assert torch.isfinite(_ordinal_terms(torch.tensor([[200.0, -200.0, -200.0]]), torch.tensor([2]))).all()


def test_an_ordinal_run_compares_its_model_with_the_constant_on_the_same_loss(tmp_path, tiny_model):
    """The constant predictor's eval loss includes the ordinal term, as the model's does: a model that learned
    nothing would otherwise look better than the constant by the term's size alone."""
    import numpy as np
    import torch

    from leanprogress.training.trainer import _distribution_loss

    records = learnable_records([f"T{i}" for i in range(10)])
    args = ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model), epochs=1, batch_size=8,
                                     max_length=32, precision="fp32", head="distribution", head_max_steps=3,
                                     ordinal_weight=1.0)
    trainer = ProgressTrainer(args, records[:16], records[16:])
    labels = [r["steps_remaining"] for r in trainer.eval_dataset.records]
    constant = np.log(np.array([0.4, 0.3, 0.15, 0.1, 0.05]))  # 0..3 and "more"
    got = trainer._constant_eval(constant, labels)["eval_loss"]
    logits = torch.as_tensor(np.tile(constant, (len(labels), 1)))
    target = torch.as_tensor(np.asarray(labels, dtype=float))
    assert got == pytest.approx(float(_distribution_loss(3, ordinal=1.0)({"logits": logits}, target)))
    assert got > float(_distribution_loss(3)({"logits": logits}, target)) + 0.1


def test_head_prior_and_class_weighting_are_checked():
    with pytest.raises(ValueError, match="needs the distribution head"):
        ProgressTrainingArguments(output_dir="x", head_prior="lookup")
    with pytest.raises(ValueError, match="cannot be combined"):
        ProgressTrainingArguments(output_dir="x", head="distribution", head_prior="lookup", ranking_weight=1.0)
    with pytest.raises(ValueError, match="class_weighting must be"):
        ProgressTrainingArguments(output_dir="x", head="distribution", class_weighting=2.0)
    with pytest.raises(ValueError, match="ordinal_weight needs the distribution head"):
        ProgressTrainingArguments(output_dir="x", ordinal_weight=1.0)
    with pytest.raises(ValueError, match="ordinal_weight must be"):
        ProgressTrainingArguments(output_dir="x", head="distribution", ordinal_weight=float("nan"))
    with pytest.raises(ValueError, match="head_prior must be one of"):
        ModelSettings(head="distribution", head_max_steps=3, head_prior="table")


def test_progress_lines_of_a_resumed_run_time_its_own_steps(monkeypatch):
    import io
    from types import SimpleNamespace

    from leanprogress.training import trainer as trainer_module

    clock = [100.0]
    monkeypatch.setattr(trainer_module.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    lines = trainer_module.ProgressLines(every=0.0, stream=out)
    args = SimpleNamespace(num_train_epochs=4)
    state = SimpleNamespace(is_world_process_zero=True, global_step=30, max_steps=40, epoch=3.0)
    lines.on_train_begin(args, state, None)
    clock[0] += 20.0
    state.global_step, state.epoch = 35, 3.5  # 5 steps of this run in 20 s: 5 steps left, about 20 s
    lines.on_log(args, state, None, logs={"loss": 0.5})
    state.global_step, state.epoch = 40, 4.0
    lines.on_log(args, state, None, logs={"loss": 0.4})
    # before: 30 steps of the checkpoint counted as done in those 20 s, "about 0m03s left"; and at the end,
    # "about 0m00s left"
    assert out.getvalue().splitlines() == [
        "training: 40 steps, 4 epoch(s), resuming at step 30",
        "step 35/40 (epoch 3.50): loss 0.5, 0m20s elapsed, about 0m20s left",
        "step 40/40 (epoch 4.00): loss 0.4, 0m20s elapsed"]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_group_kind_trains_on_shared_states_and_scores_as_it_evaluated(tmp_path, tiny_model, precision):
    from leanprogress.evaluation import evaluate_model

    train, held = learnable_records([f"L{i}" for i in range(24)]), learnable_records(["H0", "H1", "H2"], seed=1)
    args = ProgressTrainingArguments(output_dir=str(tmp_path), model_name=str(tiny_model), epochs=8, batch_size=8,
                                     max_length=32, precision=precision, learning_rate=1e-2, encoder_kind="group")
    trainer = ProgressTrainer(args, train, held)
    batches = trainer._tokenize_groups(trainer.train_dataset, seed=42).batches
    assert sum(len(b["labels"]) for b in batches) == len(train)
    # The 48 records read 9 goals: records of one goal in a batch are read against one copy of its context.
    cls = trainer.tokenizer.cls_token_id  # a context and each segment start with one
    contexts = sum(int((b["pack_ids"] == cls).sum()) - len(b["labels"]) for b in batches)
    assert contexts < len(train) // 2
    metrics = trainer.train()
    assert ModelSettings.load(tmp_path).encoder_kind == "group" and metrics["encoder_kind"] == "group"
    assert metrics["kept"] == "best epoch" and metrics["eval"]["eval_accuracy"] == 1.0
    t = metrics["train"]  # records per second, as for a cross-encoder (the Trainer's items are whole batches)
    assert t["train_samples_per_second"] == pytest.approx(len(train) * 8 / t["train_runtime"], rel=0.01)
    evaluated, _, _ = evaluate_model(str(tmp_path), held, device="cpu", precision="fp32")
    # The trainer's evaluation (fp32 after bf16 training) and the scorer read the model through one layout.
    assert metrics["eval"]["eval_mae"] == pytest.approx(evaluated["mae"], abs=1e-4)


def test_group_kind_takes_no_options_it_cannot_honour(tmp_path):
    for bad, match in ((dict(truncation="right"), "truncation 'right'"), (dict(pad_to_max_length=True), "pad_to"),
                       (dict(ranking_weight=1.0), "ranking objective"), (dict(template="{tactic} {goal}"), "after"),
                       (dict(head="distribution", head_prior="lookup"), "head prior"),
                       (dict(head="distribution", class_weighting=0.5), "class weighting"),
                       (dict(extra={"gradient_checkpointing": True}), "gradient checkpointing")):
        with pytest.raises(ValueError, match=match):
            ProgressTrainingArguments(output_dir=str(tmp_path), encoder_kind="group", **bad)


def test_prompt_cache_serves_group_kind_contexts_and_segments(tmp_path, tiny_model):
    from leanprogress.training.trainer import PromptCache

    records = [r for i in range(4) for r in records_from_theorem(make_theorem(f"C{i}", 3))]
    cache = PromptCache()
    common = dict(model_name=str(tiny_model), max_length=64, precision="fp32", encoder_kind="group")
    first = ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path / "a"), **common), records,
                            prompt_cache=cache)
    cached = first._encode_groups(*_fields(records))
    assert cache.misses == len(records) and cache.hits == 0
    again = ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path / "b"), **common), records,
                            prompt_cache=cache)._encode_groups(*_fields(records))
    assert cache.hits == len(records)
    plain = ProgressTrainer(ProgressTrainingArguments(output_dir=str(tmp_path / "c"), **common),
                            records)._encode_groups(*_fields(records))
    for got in (again, plain):
        assert all((a == b).all() for x, y in zip(cached, got) for a, b in zip(x, y))


def _fields(records):
    return ([r["goal"] for r in records], [r["tactic"] for r in records], [r["prefix"] for r in records],
            [False] * len(records))
