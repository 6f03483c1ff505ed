"""The results file ``prove`` writes: one JSON line per theorem, as each search finishes.

Two commands read it: ``prove`` (a rerun skips the theorems already there) and ``export-proofs`` (proved
searches become training records). Both read it through :func:`read_result_rows`, so a line cut off by a killed
run is handled the same way by both: dropped, with a note. Any other line that is not a result is an error
naming the file and line.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "results.jsonl"
    >>> _ = path.write_text('{"theorem": "t", "status": "proved"}\\n{"theorem": "u", "sta')
    >>> [r["theorem"] for r in read_result_rows(path)]  # doctest: +SKIP
    note: ...results.jsonl:2: dropping an incomplete last line (a run stopped while writing it)
    ['t']
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..files import atomic_output, check_input_file, json_error, read_text


def read_result_rows(path: str | os.PathLike, repair: bool = False, missing_ok: bool = False) -> list[dict]:
    """The result rows of a ``prove`` output file, in file order.

    Args:
        path: the results JSONL.
        repair: rewrite the file without an incomplete last line (``prove`` appends to it next).
        missing_ok: a file that does not exist has no rows (a first run); otherwise it is an error.

    Raises:
        ValueError: a line other than the last one (or a complete last line) that is not JSON with a
            ``theorem``, naming the file, the line and the JSON error's column.
    """
    path = Path(path)
    if missing_ok and not path.exists():
        return []
    check_input_file(path, "results file")
    text = read_text(path)
    lines = text.split("\n")
    rows: list[dict] = []
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            why = None if isinstance(row, dict) and isinstance(row.get("theorem"), str) else "no 'theorem'"
        except ValueError as exc:
            row, why = None, json_error(exc, one_line=True)
        if why is None:
            rows.append(row)
            continue
        if lineno == len(lines) and not text.endswith("\n"):
            print(f"note: {path}:{lineno}: dropping an incomplete last line (a run stopped while writing it)",
                  file=sys.stderr)
            if repair:
                with atomic_output(path) as f:
                    f.write("\n".join(lines[:-1]) + ("\n" if len(lines) > 1 else ""))
            break
        raise ValueError(f"{path}:{lineno}: not a result line of prove: {why}")
    return rows
