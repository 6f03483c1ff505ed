"""Helpers for benchmarks: where the real data lies, and skipping without it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

SHARED = Path(os.environ.get("LEANPROGRESS_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
MATHLIB_SAMPLE = SHARED / "mathlib4-leandojo-sample" / "random_test.json"
MINIF2F_PROOFS = SHARED / "minif2f-valid-proofs" / "proofs.jsonl"
MINIF2F_SEARCH_TRACES = SHARED / "minif2f-valid-search-traces" / "traces.json"
WORKBOOK_PROOFS = SHARED / "lean-workbook-plus-proofs" / "proofs.jsonl"
SEARCH_TRACES = SHARED / "minif2f-valid-search-traces" / "traces.json"


def json_at_revision(rev: str, script: str, args: list[str], out: str | None = None) -> dict | None:
    """Run ``script args`` on the package as it was at git revision ``rev`` (its ``src`` unpacked in a temporary
    folder, first on ``PYTHONPATH``) and read the JSON it prints, or the file ``out`` it writes there (``{tmp}``
    in ``args`` is that folder). For the "before" figures of a benchmark; None, with a line saying why, where the
    revision or its code cannot give them."""
    import json
    import subprocess
    import tempfile

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(["git", "-C", str(root), "archive", rev, "src"], capture_output=True)
        if archive.returncode:
            print(f"(no 'before' figures: git archive {rev} failed: {archive.stderr.decode().strip()})")
            return None
        subprocess.run(["tar", "-x", "-C", tmp], input=archive.stdout, check=True)
        env = dict(os.environ, PYTHONPATH=str(Path(tmp) / "src"))
        run = subprocess.run([sys.executable, script, *(a.format(tmp=tmp) for a in args)], env=env,
                             capture_output=True, text=True)
        if run.returncode:
            print(f"(no 'before' figures: the code at {rev} failed: {run.stderr.strip().splitlines()[-1]})")
            return None
        return json.loads((Path(tmp) / out).read_text(encoding="utf-8") if out else run.stdout)


def require(*paths: Path) -> None:
    """Exit 0 with a message if the shared data is missing."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"SKIPPED: shared data not found ({', '.join(map(str, missing))}); "
              "set LEANPROGRESS_SHARED_DATA to the folder holding it")
        sys.exit(0)


def add_head_argument(parser) -> None:
    """``--head``: the head of the models a benchmark trains (every benchmark takes both)."""
    parser.add_argument("--head", choices=["regression", "distribution"], default="regression",
                        help="head of the models trained here: regression (one number) or distribution "
                        "(probabilities of 0..K and more steps) (default regression)")


def machine() -> str:
    import platform

    import torch

    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), {gpu}, {platform.python_version()}"
