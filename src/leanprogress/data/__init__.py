"""Data: progress records, LeanDojo traces, whole proofs, Lean source, splits by theorem, length balancing."""

from ..lean.canonical import canonical_state
from .dataset import (ProgressDataset, balance_by_length, group_by_theorem, parse_balance, shared_theorems,
                      split_by_theorem)
from ..lean.syntax import split_tactic_steps
from .leandojo import BuildStats, iter_leandojo_records, records_from_theorem
from .records import RecordError, iter_records, read_records, theorem_key, validate_record, write_records

__all__ = [
    "BuildStats",
    "ProgressDataset",
    "RecordError",
    "balance_by_length",
    "canonical_state",
    "group_by_theorem",
    "iter_leandojo_records",
    "iter_records",
    "parse_balance",
    "read_records",
    "records_from_theorem",
    "shared_theorems",
    "split_by_theorem",
    "split_tactic_steps",
    "theorem_key",
    "validate_record",
    "write_records",
]
