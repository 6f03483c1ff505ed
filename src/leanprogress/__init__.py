"""LeanProgress: predict how many tactic steps remain in a Lean 4 proof.

Data (:mod:`leanprogress.data`) -> prompts (:mod:`leanprogress.prompt`) ->
training (:mod:`leanprogress.training`) -> scoring (:mod:`leanprogress.scoring`)
-> evaluation (:mod:`leanprogress.evaluation`); serving and search build on
the scorer.
"""

__version__ = "0.1.0"

from .config import ModelSettings, ProgressTrainingArguments
from .data import ProgressDataset, RecordError, split_by_theorem
from .prompt import DEFAULT_TEMPLATE, PromptBuilder, PromptTemplate


def __getattr__(name: str):
    # torch and transformers load only when a model is needed.
    if name == "ProgressTrainer":
        from .training import ProgressTrainer

        return ProgressTrainer
    if name in ("LeanProgressScorer", "ScoringError", "reward"):
        from . import scoring

        return getattr(scoring, name)
    raise AttributeError(f"module 'leanprogress' has no attribute {name!r}")


__all__ = [
    "DEFAULT_TEMPLATE",
    "LeanProgressScorer",
    "ModelSettings",
    "ProgressDataset",
    "ProgressTrainer",
    "ProgressTrainingArguments",
    "PromptBuilder",
    "PromptTemplate",
    "RecordError",
    "ScoringError",
    "reward",
    "split_by_theorem",
    "__version__",
]
