import pytest
import torch

from leanprogress.encoder import (ModelLoadError, default_encoder_path, load_regression_model, resolve_device,
                                  resolve_precision)


def test_default_encoder_ships_with_safetensors():
    path = default_encoder_path()
    assert (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file()


def test_regression_head_has_one_output(tiny_model):
    model = load_regression_model(str(tiny_model))
    assert model.config.num_labels == 1 and model.config.problem_type == "regression"
    out = model(input_ids=torch.tensor([[101, 2000, 102]])).logits
    assert out.shape == (1, 1)


def test_pickled_weights_are_refused(tmp_path, tiny_model):
    # A folder with only pytorch_model.bin (pickle) must not load.
    model = load_regression_model(str(tiny_model))
    model.config.save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="only pickle weights"):
        load_regression_model(str(tmp_path))


def test_devices_and_precision():
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu9")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    cpu = torch.device("cpu")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("auto", cpu) in ("fp32", "bf16")
    with pytest.raises(ValueError, match="precision"):
        resolve_precision("fp8", cpu)


def test_head_stays_fp32_in_a_bf16_model_and_under_autocast(tiny_model):
    from leanprogress.encoder import head_modules, keep_head_fp32

    model = load_regression_model(str(tiny_model)).eval()
    assert set(head_modules(model)) == {"classifier", "dropout", "bert.pooler"}
    ids = torch.tensor([[101, 2000, 2003, 102]])
    with torch.no_grad():
        hidden = model.bert(input_ids=ids).last_hidden_state
        model.to(torch.bfloat16)
        keep_head_fp32(model)
        assert model.classifier.weight.dtype == torch.float32 and model.bert.pooler.dense.weight.dtype == torch.float32
        assert model.bert.encoder.layer[0].output.dense.weight.dtype == torch.bfloat16
        out = model(input_ids=ids).logits
        assert out.dtype == torch.float32
        # Under autocast (the trainer's bf16) the head computes in fp32 too: same result for the same hidden state.
        with torch.autocast("cpu", dtype=torch.bfloat16):
            head = model.classifier(model.bert.pooler(hidden.to(torch.bfloat16)))
        assert head.dtype == torch.float32


def test_missing_encoder_path_message_fits_the_trainer(tmp_path):
    from leanprogress import ProgressTrainer, ProgressTrainingArguments

    args = ProgressTrainingArguments(output_dir=str(tmp_path / "out"), model_name=str(tmp_path / "no" / "encoder"))
    with pytest.raises(ModelLoadError, match="encoder folder not found: .* does not exist.*--model-name"):
        ProgressTrainer(args, [{"goal": "⊢ True", "tactic": "trivial", "steps_remaining": 0}])


def test_messages_about_an_encoder_folder_use_an(tmp_path):
    from leanprogress.encoder import ModelLoadError, load_tokenizer

    afile = tmp_path / "enc.txt"
    afile.write_text("x")
    with pytest.raises(ModelLoadError, match="is a file, not an encoder folder"):
        load_tokenizer(str(afile), role="encoder")
    with pytest.raises(ModelLoadError, match="is not an encoder folder: it has no config.json"):
        load_tokenizer(str(tmp_path), role="encoder")
    with pytest.raises(ModelLoadError, match="is not a model folder: it has no config.json"):
        load_tokenizer(str(tmp_path), role="model")
