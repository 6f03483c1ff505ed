"""Small example data that ships with the package (written for this project)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SAMPLE_RECORDS = [
    {
        "goal": "n : ℕ\n⊢ n + 0 = n",
        "prefix": "",
        "tactic": "simp",
        "steps_remaining": 0,
        "theorem": "Sample.add_zero",
    },
    {
        "goal": "a b : ℕ\nh : a ≤ b\n⊢ a < b + 1",
        "prefix": "",
        "tactic": "have h' : a < b.succ := Nat.lt_succ_of_le h",
        "steps_remaining": 1,
        "theorem": "Sample.lt_succ_of_le",
    },
    {
        "goal": "a b : ℕ\nh : a ≤ b\nh' : a < b.succ\n⊢ a < b + 1",
        "prefix": "have h' : a < b.succ := Nat.lt_succ_of_le h",
        "tactic": "exact h'",
        "steps_remaining": 0,
        "theorem": "Sample.lt_succ_of_le",
    },
]
"""The three illustrative records of ``create_sample_dataset``."""


def example_traces_path() -> Path:
    """LeanDojo-format example traces bundled with the package (18 theorems, 48 steps)."""
    return Path(str(resources.files("leanprogress.data") / "examples" / "example_traces.json"))
