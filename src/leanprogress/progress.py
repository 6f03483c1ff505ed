"""Progress output that suits a terminal and a log file.

On a terminal, HuggingFace's progress bars (tokenization, training,
loading and writing weights) redraw in place. Written to a file or a pipe,
every redraw is a new line: a training run floods its log with thousands of
them. :func:`hf_progress_bars` turns those bars off while stderr is not a
terminal; the trainer then prints sparse progress lines of its own instead.

Example:
    >>> with hf_progress_bars():        # bars only if stderr is a terminal
    ...     pass
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Iterator


def stderr_is_terminal() -> bool:
    """True when stderr is an interactive terminal (not a file, a pipe or captured by a test runner)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


@contextlib.contextmanager
def hf_progress_bars(enabled: bool | None = None) -> Iterator[bool]:
    """Switch the progress bars of transformers, datasets and huggingface_hub on or off for a block.

    Args:
        enabled: None (default) shows them only when stderr is a terminal.

    Yields whether bars are shown. The previous global state is restored on exit;
    bars a user switched off (for example with ``HF_DATASETS_DISABLE_PROGRESS_BARS``)
    stay off.
    """
    if enabled is None:
        enabled = stderr_is_terminal()
    if enabled:
        yield True
        return
    try:  # training runs without the datasets package (GPU images often lack it): then it has no bars to hide
        from datasets.utils.tqdm import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars
    except ImportError:
        are_progress_bars_disabled, disable_progress_bars, enable_progress_bars = (lambda: True), None, None
    from transformers.utils import logging as hf_logging

    restore = []
    with warnings.catch_warnings():  # datasets warns when an environment variable has the last word
        warnings.simplefilter("ignore")
        if hf_logging.is_progress_bar_enabled():
            hf_logging.disable_progress_bar()  # also huggingface_hub's
            restore.append(hf_logging.enable_progress_bar)
        if not are_progress_bars_disabled():
            disable_progress_bars()
            restore.append(enable_progress_bars)
    try:
        yield False
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for undo in restore:
                undo()
