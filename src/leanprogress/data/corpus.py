"""The tactic corpus kept with a trained model: what a retrieval generator needs to serve it.

The trainer writes the goals and tactics it trained on next to the weights
(``tactic_corpus.jsonl``), so ``leanprogress serve`` with nothing but the model
offers LeanCopilot a working ``/generate``: the tactics used on the most similar
training goals, ranked by the model.

Example:
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> write_tactic_corpus([{"goal": "⊢ True", "tactic": "trivial", "steps_remaining": 0, "theorem": "t"}] * 2,
    ...                     folder)
    1
    >>> tactic_corpus_path(folder).name
    'tactic_corpus.jsonl'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from .records import write_records

TACTIC_CORPUS_FILE = "tactic_corpus.jsonl"


def write_tactic_corpus(records: Iterable[dict], folder: str | os.PathLike) -> int:
    """Write each distinct (goal, tactic) pair of ``records`` to ``folder/tactic_corpus.jsonl``, atomically.

    Lines are valid records (``goal``, ``tactic``, ``steps_remaining``); the
    other keys (prefix, theorem, source) are left out to keep the file small.
    Returns the number of lines written.
    """
    seen: set[tuple[str, str]] = set()

    def pairs():
        for r in records:
            key = (r["goal"], r["tactic"])
            if key not in seen:
                seen.add(key)
                yield {"goal": r["goal"], "tactic": r["tactic"], "steps_remaining": r["steps_remaining"]}

    return write_records(pairs(), Path(folder) / TACTIC_CORPUS_FILE)


def tactic_corpus_path(model_folder: str | os.PathLike) -> Path | None:
    """The tactic corpus saved with a model, or None (a model trained before the trainer kept one, a hub id)."""
    path = Path(model_folder) / TACTIC_CORPUS_FILE
    return path if path.is_file() else None
