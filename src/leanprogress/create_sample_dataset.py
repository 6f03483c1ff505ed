"""Write three illustrative records: ``python -m leanprogress.create_sample_dataset --output PATH``."""

from __future__ import annotations

import argparse
import os
import sys

from .data.examples import SAMPLE_RECORDS
from .data.records import write_records
from .files import check_outputs


def write_sample(output: str | os.PathLike) -> int:
    """Write the three sample records to ``output`` (folders are created); returns how many were written.

    Raises:
        OSError: ``output`` cannot be written (named in the error).
    """
    check_outputs([], files=[("--output", output)])  # nothing is read: only a place it cannot write is refused
    return write_records(SAMPLE_RECORDS, output)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leanprogress.create_sample_dataset", description=__doc__)
    parser.add_argument("--output", required=True, help="JSONL file to write (folders are created)")
    args = parser.parse_args(argv)
    try:
        n = write_sample(args.output)
    except OSError as exc:
        print(f"{parser.prog}: error: {exc.filename}: {exc.strerror}" if exc.filename else f"{parser.prog}: error: "
              f"{exc}", file=sys.stderr)
        return 2
    print(f"wrote {n} records to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
