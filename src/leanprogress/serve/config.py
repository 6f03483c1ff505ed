"""Server configuration: environment variables, a config file, flags.

Environment (as in the original server): ``LEANPROGRESS_MODEL`` (trained
model folder; without it no scorer is attached), ``LEANPROGRESS_DEVICE``
(auto, cpu, cuda), ``LEANPROGRESS_TEMPLATE`` (prompt override),
``LEANPROGRESS_API_KEY`` (required ``X-API-Key`` / bearer token when set).

Config file (JSON, or TOML by suffix)::

    {"generators": {"retrieval": {"kind": "retrieval", "corpus": "data/mathlib.jsonl"},
                    "reprover": {"kind": "hf", "model": "/models/byt5-tacgen", "num_beams": 8},
                    "vllm": {"kind": "openai", "base_url": "http://127.0.0.1:8000/v1", "model": "deepseek"}},
     "reward_by_default": ["retrieval"], "alpha": null, "num_candidates": 32}
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    """Bind address; loopback unless told otherwise."""
    port: int = 23337
    """LeanCopilot's default port for external models."""
    model: str | None = None
    """Trained LeanProgress model folder; None: no scorer."""
    device: str = "auto"
    template: str | None = None
    api_key: str | None = None
    generators: dict[str, dict] = field(default_factory=dict)
    """name -> spec with ``kind`` (retrieval, hf, openai) and its options."""
    reward_by_default: list[str] = field(default_factory=list)
    """Generators whose /generate ranks by predicted steps even without ``use_reward`` (LeanCopilot cannot send it)."""
    alpha: float | None = None
    """Default mix weight: None ranks by reward alone; a value uses alpha*N + (1-alpha)*P."""
    n_max: float = 20.0
    num_candidates: int = 32
    """Candidates asked of a generator per request."""
    max_candidates: int = 256
    """Most tactics one /score request may carry (413 beyond)."""
    max_input_chars: int = 32_000
    """Longest state, prefix or tactic accepted (413 beyond)."""
    max_body_bytes: int = 1_000_000
    """Largest request body (413 beyond)."""

    def __post_init__(self) -> None:
        if self.alpha is not None and not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        if not 1 <= self.num_candidates <= self.max_candidates:
            raise ValueError(f"num_candidates must be in [1, max_candidates], got {self.num_candidates}")
        for name in self.reward_by_default:
            if name not in self.generators:
                raise ValueError(f"reward_by_default names unknown generator {name!r}")

    @classmethod
    def from_sources(cls, config_file: str | None = None, **overrides) -> "ServerConfig":
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
            if value is not None:
                data[key] = value
        return cls(**data)
