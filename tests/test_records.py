import json

import pytest

from leanprogress.data.records import RecordError, iter_records, read_records, validate_record, write_records
from leanprogress.data import ProgressDataset


def write_lines(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


GOOD = json.dumps({"goal": "⊢ True", "tactic": "trivial", "steps_remaining": 0, "theorem": "t", "extra": 5})


def test_prefix_defaults_to_empty_and_extra_keys_are_kept():
    r = validate_record({"goal": "⊢ True", "tactic": "trivial", "steps_remaining": 2, "theorem": "t"})
    assert r["prefix"] == "" and r["theorem"] == "t" and r["steps_remaining"] == 2
    assert validate_record({"goal": "g", "tactic": "t", "steps_remaining": 3.0, "prefix": None})["steps_remaining"] == 3


@pytest.mark.parametrize(
    "line, reason",
    [
        ("{not json", "not valid JSON"),
        ('{"goal": "g", "steps_remaining": 1}', "missing key 'tactic'"),
        ('{"goal": "g", "tactic": "t", "steps_remaining": -1}', "must be >= 0"),
        ('{"goal": "g", "tactic": "t", "steps_remaining": 1.5}', "must be an integer"),
        ('{"goal": "g", "tactic": "t", "steps_remaining": "3"}', "must be an integer"),
        ('{"goal": "g", "tactic": "t", "steps_remaining": true}', "must be an integer"),
        ('{"goal": 7, "tactic": "t", "steps_remaining": 1}', "'goal' must be a string"),
        ('{"goal": "g", "tactic": "t", "prefix": ["a"], "steps_remaining": 1}', "'prefix' must be a string"),
        ('{"goal": "g", "tactic": "  ", "steps_remaining": 1}', "'tactic' is empty"),
        ("[1, 2]", "expected a JSON object"),
    ],
)
def test_bad_line_names_file_line_and_reason(tmp_path, line, reason):
    path = write_lines(tmp_path / "d.jsonl", [GOOD, line, GOOD])
    with pytest.raises(RecordError) as err:
        list(iter_records(path))
    assert err.value.line == 2 and reason in str(err.value)
    assert str(err.value).startswith(f"{path}:2:")


def test_skip_invalid_counts_every_skipped_line(tmp_path):
    path = write_lines(tmp_path / "d.jsonl", [GOOD, "oops", GOOD, '{"goal": "g"}', "", GOOD])
    records, stats = read_records(path, skip_invalid=True)
    assert len(records) == 3 and stats.kept == 3 and stats.skipped == 2
    assert "d.jsonl:2" in stats.first_errors[0] and "d.jsonl:4" in stats.first_errors[1]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset file not found"):
        ProgressDataset(tmp_path / "nope.jsonl")


def test_write_records_is_atomic(tmp_path):
    path = tmp_path / "out" / "d.jsonl"
    assert write_records([json.loads(GOOD)], path) == 1
    before = path.read_text()

    def broken():
        yield json.loads(GOOD)
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_records(broken(), path)
    assert path.read_text() == before  # the old file survives an interrupted write
    assert [p.name for p in path.parent.iterdir()] == ["d.jsonl"]  # no temp file left


def test_progress_dataset_exposes_hf_dataset_with_all_keys():
    ds = ProgressDataset([
        {"goal": "g1", "tactic": "t1", "steps_remaining": 1, "theorem": "a"},
        {"goal": "g2", "tactic": "t2", "steps_remaining": 0, "theorem": "a", "source": "x"},
    ])
    hf = ds.dataset
    assert len(hf) == 2 and set(hf.column_names) >= {"goal", "prefix", "tactic", "steps_remaining", "theorem", "source"}
    assert hf[0]["source"] is None and hf[1]["source"] == "x"
    assert ds.labels == [1, 0]
