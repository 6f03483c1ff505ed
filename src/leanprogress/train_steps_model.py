"""Train a steps-remaining model: ``python -m leanprogress.train_steps_model --dataset F --output-dir D``.

The same as ``leanprogress train``; the flags of the original LeanProgress
script (``--dataset``, ``--output-dir``, ``--model-name``, ``--max-length``,
``--batch-size``, ``--epochs``, ``--learning-rate``, ``--eval-ratio``,
``--seed``) keep their meaning.
"""

from __future__ import annotations

import sys

from .cli import main as cli_main


def main(argv: list[str] | None = None) -> int:
    return cli_main(["train", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
