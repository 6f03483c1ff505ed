"""Tactic generators: where search and the server get candidate tactics.

- :class:`RetrievalGenerator` (``retrieval``): offline, no weights. Proposes
  the tactics used on the most similar goals of a tactic corpus (any
  LeanProgress JSONL file), scored by TF-IDF cosine similarity.
- :class:`HFGenerator` (``hf``): a local HuggingFace seq2seq or causal model
  (e.g. ReProver's ByT5 tactic generator), beam search or sampling.
- :class:`OpenAIGenerator` (``openai``): any OpenAI-compatible endpoint
  (vLLM, Ollama, TGI, a hosted service).
- :class:`ReplayGenerator` (``replay``): recorded tactics among distractors,
  for offline search benchmarks over replayed traces.

:func:`build_generator` makes one from a config entry.
"""

from .base import Generator, GeneratorError, GeneratorTimeout
from .factory import build_generator
from .hf import HFGenerator
from .openai import OpenAIGenerator
from .replay import ReplayGenerator
from .retrieval import RetrievalGenerator, goal_tokens

__all__ = ["Generator", "GeneratorError", "GeneratorTimeout", "HFGenerator", "OpenAIGenerator", "ReplayGenerator",
           "RetrievalGenerator", "build_generator", "goal_tokens"]
