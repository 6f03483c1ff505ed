"""Write three illustrative records: ``python -m leanprogress.create_sample_dataset --output PATH``."""

from __future__ import annotations

import argparse
import sys

from .data.examples import SAMPLE_RECORDS
from .data.records import write_records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m leanprogress.create_sample_dataset", description=__doc__)
    parser.add_argument("--output", required=True, help="JSONL file to write (folders are created)")
    args = parser.parse_args(argv)
    n = write_records(SAMPLE_RECORDS, args.output)
    print(f"wrote {n} records to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
