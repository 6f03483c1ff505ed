"""Training: :class:`ProgressTrainer` on the HuggingFace ``Trainer``."""

from .trainer import ProgressTrainer

__all__ = ["ProgressTrainer"]
