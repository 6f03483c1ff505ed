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
``reward_by_default`` given as flags are added to the file's). A model folder
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

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

SCORE_FORMATS = ("probability", "log")
MODEL_GENERATOR = "retrieval"
"""Name of the generator over the tactics saved with the model."""


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

    def __post_init__(self) -> None:
        checks = [
            (self.alpha is None or 0.0 <= self.alpha <= 1.0, f"alpha must be in [0, 1], got {self.alpha}"),
            (self.score_format in SCORE_FORMATS,
             f"score_format must be one of {SCORE_FORMATS}, got {self.score_format!r}"),
            (self.n_max > 0, f"n_max must be > 0, got {self.n_max}"),
            (1 <= self.max_candidates, f"max_candidates must be >= 1, got {self.max_candidates}"),
            (1 <= self.num_candidates <= self.max_candidates,
             f"num_candidates must be in [1, max_candidates={self.max_candidates}], got {self.num_candidates}"),
            (0 <= self.port <= 65535, f"port must be in [0, 65535], got {self.port}"),
            (self.max_in_flight >= 1, f"max_in_flight must be >= 1, got {self.max_in_flight}"),
            (self.request_timeout_s > 0, f"request_timeout_s must be > 0, got {self.request_timeout_s}"),
            (self.max_input_chars >= 1, f"max_input_chars must be >= 1, got {self.max_input_chars}"),
            (self.max_body_bytes >= 1, f"max_body_bytes must be >= 1, got {self.max_body_bytes}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        if self.model and self.model_generator and MODEL_GENERATOR not in self.generators:
            from ..data.corpus import tactic_corpus_path

            corpus = tactic_corpus_path(self.model)
            if corpus is not None:
                self.generators = {**self.generators, MODEL_GENERATOR: {"kind": "retrieval", "corpus": str(corpus)}}
                if MODEL_GENERATOR not in self.reward_by_default:
                    self.reward_by_default = [*self.reward_by_default, MODEL_GENERATOR]
        for name in self.reward_by_default:
            if name not in self.generators:
                raise ValueError(f"reward_by_default names unknown generator {name!r}; "
                                 f"generators: {sorted(self.generators) or 'none'}")

    @classmethod
    def from_sources(cls, config_file: str | None = None, **overrides) -> "ServerConfig":
        """Merge a config file, the environment and flag values (None: not given), then check the result."""
        data: dict = {}
        if config_file:
            path = Path(config_file)
            if not path.is_file():
                raise FileNotFoundError(f"server config not found: {path}")
            text = path.read_text(encoding="utf-8")
            try:
                data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
            except (ValueError, tomllib.TOMLDecodeError) as exc:
                raise ValueError(f"{path}: cannot parse config ({exc})") from None
            if not isinstance(data, dict):
                raise ValueError(f"{path}: expected a JSON object or TOML table at the top level")
            known = set(cls.__dataclass_fields__)
            unknown = sorted(set(data) - known)
            if unknown:
                raise ValueError(f"{path}: unknown key(s) {unknown}")
        env = {
            "model": os.environ.get("LEANPROGRESS_MODEL"),
            "device": os.environ.get("LEANPROGRESS_DEVICE"),
            "template": os.environ.get("LEANPROGRESS_TEMPLATE"),
            "api_key": os.environ.get("LEANPROGRESS_API_KEY"),
        }
        for key, value in env.items():
            if value:
                data.setdefault(key, value)
        for key, value in overrides.items():
            if value is None:
                continue
            if key == "generators":
                data[key] = {**data.get(key, {}), **value}
            elif key == "reward_by_default":
                data[key] = list(dict.fromkeys([*data.get(key, []), *value]))
            else:
                data[key] = value
        return cls(**data)
