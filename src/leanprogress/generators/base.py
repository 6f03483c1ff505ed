"""What every tactic generator is: ``generate(state, prefix, n) -> [(tactic, logprob)]``.

Candidates come best first; ``logprob`` is a finite log-probability-like
score (higher is better). Some generators can also ``encode(text) -> [float]``.
Search asks a generator for the candidates it runs in Lean; the server hands
them to LeanCopilot. Backend failures raise :class:`GeneratorError` (the
server answers 502) or :class:`GeneratorTimeout` (504).
"""

from __future__ import annotations

from typing import Protocol


class GeneratorError(RuntimeError):
    """The generator's backend failed (the server answers 502)."""


class GeneratorTimeout(GeneratorError):
    """The generator's backend did not answer in time (the server answers 504)."""


class Generator(Protocol):
    kind: str

    def generate(self, state: str, prefix: str = "", n: int = 32) -> list[tuple[str, float]]: ...
