"""Data: progress records, LeanDojo traces, splits by theorem, length balancing."""

from .dataset import ProgressDataset, balance_by_length, parse_balance, split_by_theorem
from .leandojo import BuildStats, iter_leandojo_records, records_from_theorem
from .records import RecordError, iter_records, read_records, validate_record, write_records

__all__ = [
    "BuildStats",
    "ProgressDataset",
    "RecordError",
    "balance_by_length",
    "iter_leandojo_records",
    "iter_records",
    "parse_balance",
    "read_records",
    "records_from_theorem",
    "split_by_theorem",
    "validate_record",
    "write_records",
]
