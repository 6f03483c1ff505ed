import json
import os
import stat

import pytest

from leanprogress.data.records import (MAX_STEPS_REMAINING, RecordError, default_source_names, iter_records,
                                       read_records, theorem_key, validate_record, write_records)
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
        ('{"goal": "g", "tactic": "t", "steps_remaining": 1, "goal_state": "guessed"}',
         "'goal_state' must be one of 'real', 'initial' (absent: 'real'), got 'guessed'"),
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


def test_a_line_that_is_not_utf8_names_file_and_line_and_can_be_skipped(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes((GOOD + "\n").encode() + b'{"goal": "\xff\xfe", "tactic": "t", "steps_remaining": 0}\n'
                     + (GOOD + "\n").encode())
    with pytest.raises(RecordError) as err:
        list(iter_records(path))
    assert str(err.value).startswith(f"{path}:2: not valid UTF-8")
    records, stats = read_records(path, skip_invalid=True)
    assert len(records) == 2 and stats.skipped == 1 and f"{path}:2" in stats.first_errors[0]


def test_a_byte_order_mark_does_not_reject_the_first_record(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + (GOOD + "\n" + GOOD + "\n").encode())
    records, stats = read_records(path)
    assert len(records) == 2 and stats.skipped == 0


@pytest.mark.parametrize("field", ["goal", "tactic", "prefix", "theorem"])
def test_lone_surrogates_are_rejected_naming_the_field(tmp_path, field):
    obj = json.loads(GOOD)
    obj[field] = "x \ud800 y"
    path = tmp_path / "d.jsonl"
    path.write_text(GOOD + "\n" + json.dumps(obj) + "\n", encoding="utf-8")  # json escapes it as \ud800
    with pytest.raises(RecordError) as err:
        list(iter_records(path))
    assert str(err.value).startswith(f"{path}:2: '{field}' holds a lone surrogate")


def test_labels_have_a_documented_upper_bound():
    assert validate_record({"goal": "g", "tactic": "t", "steps_remaining": MAX_STEPS_REMAINING})["steps_remaining"] \
        == MAX_STEPS_REMAINING
    for huge in (10**30, 1e30, MAX_STEPS_REMAINING + 1):
        with pytest.raises(RecordError, match="above the limit"):
            validate_record({"goal": "g", "tactic": "t", "steps_remaining": huge})


def test_a_folder_given_as_the_dataset_says_so(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory; expected a dataset file"):
        read_records(tmp_path)


def test_written_files_get_the_mode_a_plain_open_would_give(tmp_path):
    old = os.umask(0o027)
    try:
        fresh = tmp_path / "fresh.jsonl"
        write_records([json.loads(GOOD)], fresh)
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o640  # 0o666 less the umask, not mkstemp's 0o600
    finally:
        os.umask(old)
    kept = tmp_path / "kept.jsonl"
    kept.write_text("old\n")
    kept.chmod(0o664)
    write_records([json.loads(GOOD)], kept)
    assert stat.S_IMODE(kept.stat().st_mode) == 0o664  # the user's file keeps its mode


def test_writing_to_a_folder_fails_before_reading_anything(tmp_path):
    consumed = []

    def records():
        consumed.append(1)
        yield json.loads(GOOD)

    with pytest.raises(IsADirectoryError, match="is a directory"):
        write_records(records(), tmp_path)
    assert not consumed and [p.name for p in tmp_path.iterdir()] == []


def test_theorem_identity_is_the_normalised_name_only():
    a = {"theorem": "_root_.Nat.foo", "file_path": "Mathlib/A.lean"}
    b = {"theorem": " Nat.foo", "source": "proofs"}
    assert theorem_key(a) == theorem_key(b) == "Nat.foo"
    assert theorem_key({"goal": "g"}) is None


def test_default_source_names_are_distinct_and_descriptive():
    names = default_source_names(["/d/minif2f-valid-proofs/proofs.jsonl", "/d/lean-workbook-plus-proofs/proofs.jsonl",
                                  "/x/a/data/t.json", "/y/b/data/t.json"])
    assert names == ["minif2f-valid-proofs/proofs", "lean-workbook-plus-proofs/proofs", "a/data/t", "b/data/t"]


def test_goal_state_says_whether_the_goal_is_real_and_absent_means_real():
    from leanprogress.data.records import has_initial_goal

    old = validate_record({"goal": "⊢ p", "tactic": "simp", "steps_remaining": 0})
    assert not has_initial_goal(old) and "goal_state" not in old  # files written before the field read as real
    assert not has_initial_goal(validate_record({**old, "goal_state": "real"}))
    assert has_initial_goal(validate_record({**old, "goal_state": "initial"}))
