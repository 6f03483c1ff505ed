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
    with pytest.raises(ModelLoadError):
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
