"""Server configuration: environment variables, a config file, flags.

Environment (as in the original server): ``LEANPROGRESS_MODEL`` (trained
model folder; without it no scorer is attached), ``LEANPROGRESS_DEVICE``
(auto, cpu, cuda), ``LEANPROGRESS_TEMPLATE`` (prompt override),
``LEANPROGRESS_API_KEY`` (required ``X-API-Key`` / bearer token / HTTP basic
password when set).

Config file (JSON, or TOML by suffix)::

    {"generators": {"retrieval": {"kind": "retrieval", "corpus": "data/mathlib.jsonl"},
                    "reprover": {"kind": "hf", "model": "/models/byt5-tacgen", "num_beams": 8},
                    "vllm": {"kind": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "deepseek"}},
     "reward_by_default": ["retrieval"], "alpha": null, "num_candidates": 32}

Sources are merged before anything is checked: file, then environment (fills
what the file left out), then flags (win; generators and
``reward_by_default`` given as flags are added to the file's). A file's values
are checked first, each against its shape (:data:`FIELD_SHAPES`; generator
entries by :func:`~leanprogress.generators.factory.check_spec`): a value of
the wrong shape, or out of range, is one line naming the file, the key and
what it must be (:class:`ConfigError`). A model folder
written by the trainer holds the tactics it was trained on
(``tactic_corpus.jsonl``); unless a generator is already called
``retrieval``, the server offers one over them, ranked by the model.

Example:
    >>> c = ServerConfig(generators={"retrieval": {"kind": "retrieval", "corpus": "d.jsonl"}},
    ...                  reward_by_default=["retrieval"])
    >>> c.host, c.port, c.score_format
    ('127.0.0.1', 23337, 'probability')
"""

from __future__ import annotations

import difflib
import json
import math
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..files import check_input_file, read_text
from ..generators.factory import check_spec, describe_value, has_type

SCORE_FORMATS = ("probability", "log")
MODEL_GENERATOR = "retrieval"
"""Name of the generator over the tactics saved with the model."""


class ConfigError(ValueError):
    """A setting of the wrong shape or out of range; ``key`` names it."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def _of(kind: type, nullable: bool = False) -> Callable[[Any], bool]:
    return lambda v: (nullable and v is None) or has_type(v, kind)


def _names(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


FIELD_SHAPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "host": (_of(str), "a string (a bind address such as 127.0.0.1)"),
    "port": (_of(int), "an integer (a port, 0-65535)"),
    "model": (_of(str, True), "a string (a model folder) or null"),
    "device": (_of(str), "a string (auto, cpu, cuda or cuda:N)"),
    "template": (_of(str, True), "a string (a prompt template) or null"),
    "api_key": (_of(str, True), "a string or null"),
    "generators": (_of(dict), 'a mapping of generator names to entries such as {"kind": "retrieval", '
                              '"corpus": "data.jsonl"}'),
    "reward_by_default": (_names, 'a list of generator names, such as ["retrieval"]'),
    "model_generator": (_of(bool), "true or false"),
    "alpha": (_of(float, True), "a number in [0, 1] or null"),
    "score_format": (_of(str), "a string (probability or log)"),
    "n_max": (_of(float), "a number (> 0)"),
    "num_candidates": (_of(int), "an integer (>= 1)"),
    "max_candidates": (_of(int), "an integer (>= 1)"),
    "max_input_chars": (_of(int), "an integer (>= 1)"),
    "max_body_bytes": (_of(int), "an integer (>= 1)"),
    "max_in_flight": (_of(int), "an integer (>= 1)"),
    "request_timeout_s": (_of(float), "a number of seconds (> 0)"),
    "reward_queue": (_of(int), "an integer (>= 1)"),
    "reward_batch": (_of(int), "an integer (>= 1)"),
    "reward_timeout_s": (_of(float), "a number of seconds (> 0)"),
}
"""What every setting must be: a check and its shape in words (JSON names; TOML has no null: leave the key out)."""


def check_field(key: str, value: Any) -> None:
    """Raise :class:`ConfigError` unless ``value`` has the shape of setting ``key``."""
    ok, shape = FIELD_SHAPES[key]
    if not ok(value):
        raise ConfigError(key, f"{key!r} must be {shape}, got {describe_value(value)}")


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    """Bind address; loopback unless told otherwise."""
    port: int = 23337
    """LeanCopilot's default port for external models."""
    model: str | None = None
    """Trained LeanProgress model folder; None: no scorer."""
    device: str = "auto"
    """Where the scorer runs: auto, cpu, cuda, cuda:N."""
    template: str | None = None
    """Prompt format overriding the one saved with the model."""
    api_key: str | None = None
    """When set, every endpoint but /health needs it (X-API-Key, bearer token or HTTP basic password)."""
    generators: dict[str, dict] = field(default_factory=dict)
    """name -> spec with ``kind`` (retrieval, hf, openai) and its options."""
    reward_by_default: list[str] = field(default_factory=list)
    """Generators whose /generate ranks by predicted steps even without ``use_reward`` (LeanCopilot cannot send it)."""
    model_generator: bool = True
    """Offer ``retrieval`` over the tactics saved with the model (its ``tactic_corpus.jsonl``), ranked by the model,
    when no generator has that name."""
    alpha: float | None = None
    """Default mix weight: None ranks by predicted steps alone; a value uses alpha*N + (1-alpha)*P."""
    score_format: str = "probability"
    """What ``score`` holds in /generate answers: ``probability`` (in (0, 1], what LeanCopilot's aesop reads) or
    ``log`` (log-probability, reward = -steps, or the alpha mix, unbounded)."""
    n_max: float = 20.0
    """Steps that map to N = -2 in the mix."""
    num_candidates: int = 32
    """Candidates asked of a generator per request."""
    max_candidates: int = 256
    """Most tactics one /score request may carry (413 beyond)."""
    max_input_chars: int = 32_000
    """Longest state, prefix or tactic accepted (413 beyond)."""
    max_body_bytes: int = 1_000_000
    """Largest request body (413 beyond)."""
    max_in_flight: int = 8
    """Requests worked on at once (generating, scoring, or waiting for the model); past it, 429 with Retry-After."""
    request_timeout_s: float = 60.0
    """Time limit of one request (504 beyond); work past it stops at its next step."""
    reward_queue: int = 4096
    """Queries ``/get_reward`` lets wait to be scored (429 beyond): it queues rather than refuses, since OpenRLHF
    cannot retry a refusal properly (5 tries 1 s apart)."""
    reward_batch: int = 256
    """Most ``/get_reward`` queries scored in one batch (all that wait, up to this)."""
    reward_timeout_s: float = 170.0
    """Longest a ``/get_reward`` request waits for its batch (504 beyond): below OpenRLHF's 180 s a try."""

    def __post_init__(self) -> None:
        for key in FIELD_SHAPES:
            check_field(key, getattr(self, key))
        checks = [
            ("alpha", self.alpha is None or 0.0 <= self.alpha <= 1.0, f"must be in [0, 1], got {self.alpha}"),
            ("score_format", self.score_format in SCORE_FORMATS,
             f"must be one of {SCORE_FORMATS}, got {self.score_format!r}"),
            ("n_max", math.isfinite(self.n_max) and self.n_max > 0, f"must be a finite number > 0, got {self.n_max}"),
            ("max_candidates", 1 <= self.max_candidates, f"must be >= 1, got {self.max_candidates}"),
            ("num_candidates", 1 <= self.num_candidates <= self.max_candidates,
             f"must be in [1, max_candidates={self.max_candidates}], got {self.num_candidates}"),
            ("port", 0 <= self.port <= 65535, f"must be in [0, 65535], got {self.port}"),
            ("max_in_flight", self.max_in_flight >= 1, f"must be >= 1, got {self.max_in_flight}"),
            ("request_timeout_s", math.isfinite(self.request_timeout_s) and self.request_timeout_s > 0,
             f"must be a finite number > 0, got {self.request_timeout_s}"),
            ("max_input_chars", self.max_input_chars >= 1, f"must be >= 1, got {self.max_input_chars}"),
            ("max_body_bytes", self.max_body_bytes >= 1, f"must be >= 1, got {self.max_body_bytes}"),
            ("reward_queue", self.reward_queue >= 1, f"must be >= 1, got {self.reward_queue}"),
            ("reward_batch", self.reward_batch >= 1, f"must be >= 1, got {self.reward_batch}"),
            ("reward_timeout_s", math.isfinite(self.reward_timeout_s) and self.reward_timeout_s > 0,
             f"must be a finite number > 0, got {self.reward_timeout_s}"),
        ]
        for key, ok, message in checks:
            if not ok:
                raise ConfigError(key, f"{key} {message}")
        if self.model and self.model_generator and MODEL_GENERATOR not in self.generators:
            from ..data.corpus import tactic_corpus_path

            corpus = tactic_corpus_path(self.model)
            if corpus is not None:
                self.generators = {**self.generators, MODEL_GENERATOR: {"kind": "retrieval", "corpus": str(corpus)}}
                if MODEL_GENERATOR not in self.reward_by_default:
                    self.reward_by_default = [*self.reward_by_default, MODEL_GENERATOR]
        for name in self.reward_by_default:
            if name not in self.generators:
                raise ConfigError("reward_by_default", f"reward_by_default names unknown generator {name!r}; "
                                  f"generators: {sorted(self.generators) or 'none'}")

    @classmethod
    def from_sources(cls, config_file: str | None = None, **overrides) -> "ServerConfig":
        """Merge a config file, the environment and flag values (None: not given), then check the result.

        Raises:
            ConfigError: a setting of the wrong shape or out of range; one that
                came from the file names the file.
            OSError: the file is missing or a folder.
        """
        data: dict = {}
        origin: dict[str, str] = {}  # where each setting came from, for messages
        if config_file:
            path = check_input_file(config_file, "server config")
            data = _read_config(path)
            origin = {key: str(path) for key in data}
        env = {
            "model": os.environ.get("LEANPROGRESS_MODEL"),
            "device": os.environ.get("LEANPROGRESS_DEVICE"),
            "template": os.environ.get("LEANPROGRESS_TEMPLATE"),
            "api_key": os.environ.get("LEANPROGRESS_API_KEY"),
        }
        for key, value in env.items():
            if value and key not in data:
                data[key] = value
                origin[key] = f"LEANPROGRESS_{key.upper()}"
        for key, value in overrides.items():
            if value is None:
                continue
            if key in FIELD_SHAPES:
                check_field(key, value)
            if key == "generators":
                data[key] = {**data.get(key, {}), **value}
            elif key == "reward_by_default":
                data[key] = list(dict.fromkeys([*data.get(key, []), *value]))
            else:
                data[key] = value
                origin.pop(key, None)
        try:
            return cls(**data)
        except ConfigError as exc:
            if exc.key in origin:
                raise ConfigError(exc.key, f"{origin[exc.key]}: {exc}") from None
            raise


def _read_config(path: Path) -> dict:
    """The settings of a JSON or TOML (by suffix) config file, each checked against its shape."""
    try:
        text = read_text(path)
    except UnicodeDecodeError as exc:
        raise ConfigError("", f"{path}: {exc.reason}") from None
    toml = path.suffix.lower() == ".toml"
    try:
        data = tomllib.loads(text) if toml else json.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError("", f"{path}: cannot parse {'TOML' if toml else 'JSON'} ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError("", f"{path}: expected a JSON object of settings at the top level, "
                              f"got {describe_value(data)}")
    for key, value in data.items():
        if key not in FIELD_SHAPES:
            close = difflib.get_close_matches(key, FIELD_SHAPES, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"settings: {', '.join(FIELD_SHAPES)}"
            raise ConfigError(key, f"{path}: unknown key {key!r}; {hint}")
        try:
            check_field(key, value)
        except ConfigError as exc:
            raise ConfigError(key, f"{path}: {exc}") from None
    for name, spec in data.get("generators", {}).items():
        try:
            check_spec(name, spec)
        except ValueError as exc:
            raise ConfigError("generators", f"{path}: 'generators': {exc}") from None
    return data
