"""Generators from config entries ``{"kind": ..., ...}`` (server config files, ``prove --generator-config``).

An entry is checked before anything is built (:func:`check_spec`): its kind,
the options that kind needs, that every option is one the kind has, and that
each has the right type, each failure one line naming the generator and the
option.

Example:
    >>> check_spec("reprover", {"kind": "hf", "model": "/models/tacgen", "num_beams": "8"})
    Traceback (most recent call last):
    ...
    ValueError: generator 'reprover': 'num_beams' must be an integer, got the string '8'
"""

from __future__ import annotations

from typing import Any

# What each kind takes: required and optional options, with the type each must have (the constructors' parameters;
# a test keeps the two the same). ``float`` accepts integers too.
KINDS: dict[str, dict[str, dict[str, type]]] = {
    "retrieval": {"required": {"corpus": str}, "optional": {"neighbours": int}},
    "hf": {"required": {"model": str},
           "optional": {"device": str, "num_beams": int, "max_new_tokens": int, "temperature": float, "prompt": str}},
    "openai": {"required": {"base_url": str, "model": str},
               "optional": {"api_key_env": str, "timeout": float, "temperature": float, "max_tokens": int,
                            "system_prompt": str}},
}
_NEEDS = {"corpus": "a JSONL records file", "model": "a local folder", "base_url": "the endpoint's URL"}
_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def describe_value(value: Any) -> str:
    """A value read from JSON or TOML, in the words of its format, for a message.

    Example:
        >>> describe_value("retrieval"), describe_value([1]), describe_value(None), describe_value(True)
        ("the string 'retrieval'", 'a list', 'null', 'true')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {shown!r}"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping (JSON object, TOML table)"
    return f"a {type(value).__name__}"


def has_type(value: Any, kind: type) -> bool:
    """``value`` is of JSON type ``kind``: booleans are not numbers, integers are numbers."""
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def check_spec(name: str, spec: Any) -> None:
    """Raise ValueError (one line, naming ``name`` and the option) unless ``spec`` is a usable generator entry."""
    kinds = ", ".join(list(KINDS)[:-1]) + f" or {list(KINDS)[-1]}"
    if not isinstance(spec, dict):
        raise ValueError(f"generator {name!r} must be a mapping with 'kind' ({kinds}) and its options, "
                         f"got {describe_value(spec)}")
    kind = spec.get("kind")
    if kind not in KINDS:
        what = "has no 'kind'" if "kind" not in spec else f"unknown kind {kind!r}"
        raise ValueError(f"generator {name!r}: {what}; use {kinds}")
    options = KINDS[kind]
    for key, needed in options["required"].items():
        if key not in spec:
            raise ValueError(f"generator {name!r}: {kind} needs {key!r} ({_NEEDS.get(key, _TYPE_NAMES[needed])})")
    known = {**options["required"], **options["optional"]}
    for key, value in spec.items():
        if key == "kind":
            continue
        if key not in known:
            raise ValueError(f"generator {name!r}: unknown option {key!r} for kind {kind}; its options: "
                             f"{', '.join(sorted(known))}")
        if not has_type(value, known[key]):
            raise ValueError(f"generator {name!r}: {key!r} must be {_TYPE_NAMES[known[key]]}, "
                             f"got {describe_value(value)}")
    if kind == "retrieval" and not spec["corpus"]:
        raise ValueError(f"generator {name!r}: retrieval needs 'corpus' (a JSONL records file)")


def build_generator(name: str, spec: dict) -> Any:
    """A generator from a config entry ``{"kind": ..., ...}`` (checked first, see :func:`check_spec`)."""
    check_spec(name, spec)
    spec = dict(spec)
    kind = spec.pop("kind")
    if kind == "retrieval":
        from ..data.dataset import ProgressDataset
        from .retrieval import RetrievalGenerator

        return RetrievalGenerator(ProgressDataset(spec.pop("corpus"), skip_invalid=True).records, **spec)
    if kind == "hf":
        from .hf import HFGenerator

        return HFGenerator(spec.pop("model"), **spec)
    from .openai import OpenAIGenerator

    return OpenAIGenerator(**spec)
