import pytest

from conftest import make_theorem
from leanprogress.data.dataset import PUBLISHED_BALANCE, ProgressDataset, balance_by_length, parse_balance, split_by_theorem
from leanprogress.data.leandojo import records_from_theorem


def corpus(n=30):
    return [r for i in range(n) for r in records_from_theorem(make_theorem(f"T{i}", 1 + i % 7))]


def test_split_never_puts_a_theorem_on_both_sides():
    recs = corpus()
    train, held = split_by_theorem(recs, eval_ratio=0.2, seed=3)
    assert {r["theorem"] for r in train}.isdisjoint({r["theorem"] for r in held})
    assert len(train) + len(held) == len(recs)
    assert len({r["theorem"] for r in held}) == 6  # 20% of 30 theorems


def test_split_is_seeded_and_seed_changes_it():
    recs = corpus()
    a = split_by_theorem(recs, 0.2, seed=1)[1]
    assert a == split_by_theorem(recs, 0.2, seed=1)[1]
    assert {r["theorem"] for r in a} != {r["theorem"] for r in split_by_theorem(recs, 0.2, seed=2)[1]}


def test_same_theorem_name_in_two_files_is_two_theorems():
    a = records_from_theorem(make_theorem("same", 2, file_path="A.lean"))
    b = records_from_theorem(make_theorem("same", 2, file_path="B.lean"))
    train, held = split_by_theorem(a + b, eval_ratio=0.5, seed=0)
    assert len(train) == len(held) == 2


def test_split_rejects_bad_ratio():
    with pytest.raises(ValueError, match="eval_ratio"):
        split_by_theorem(corpus(2), eval_ratio=1.0)


def test_dataset_split_returns_datasets():
    train, held = ProgressDataset(corpus()).split(0.2, 0)
    assert isinstance(train, ProgressDataset) and len(train) + len(held) == len(corpus())


def test_balance_keeps_whole_theorems_by_length_bucket():
    recs = corpus(70)  # lengths 1..7, ten theorems each
    kept = balance_by_length(recs, {(1, 5): 0.0, (6, None): 1.0}, seed=0)
    lengths = {}
    for r in kept:
        lengths.setdefault(r["theorem"], []).append(r)
    assert lengths and all(len(v) >= 6 for v in lengths.values())
    assert len(lengths) == 20  # every theorem of length 6 and 7, whole
    half = balance_by_length(recs, {(1, None): 0.5}, seed=0)
    assert 0 < len({r["theorem"] for r in half}) < 70
    assert half == balance_by_length(recs, {(1, None): 0.5}, seed=0)


def test_parse_balance():
    assert parse_balance("published") == PUBLISHED_BALANCE
    assert parse_balance("1-5:0.1,6+:1") == {(1, 5): 0.1, (6, None): 1.0}
    with pytest.raises(ValueError, match="bad length-balance bucket"):
        parse_balance("1to5:0.1")
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        parse_balance("1-5:2")


def write(path, records):
    import json

    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return str(path)


def test_mixture_splits_on_the_union_and_weights_training_only(tmp_path):
    from leanprogress.data.dataset import load_mixture, parse_dataset_spec

    a = [dict(r, source="traced") for r in corpus(20)]
    b = [r for i in range(20) for r in records_from_theorem(make_theorem(f"W{i}", 2))]
    shared = records_from_theorem(make_theorem("T3", 4))  # the same theorem in both files
    pa, pb = write(tmp_path / "a.jsonl", a), write(tmp_path / "whole.jsonl", b + shared)
    assert parse_dataset_spec(pb + ":0.5") == (pb, 0.5) and parse_dataset_spec(pa) == (pa, 1.0)
    train, held, loaded = load_mixture([pa, pb + ":2"], eval_ratio=0.25, seed=0)
    train_thms = {r["theorem"] for r in train}
    held_thms = {r["theorem"] for r in held}
    assert train_thms.isdisjoint(held_thms)
    assert {r["source"] for r in held} == {"traced", "whole"}  # file stem fills a missing source
    n_whole_train = sum(1 for r in train if r["source"] == "whole")
    n_whole_total = len([r for r in b + shared if r["theorem"] not in held_thms])
    assert n_whole_train == 2 * n_whole_total  # weight 2 repeats, on the training side only
    assert len(held) == len({(r["theorem"], r["step"], r["source"]) for r in held})
    with pytest.raises(ValueError, match="weight must be >= 0"):
        parse_dataset_spec("x.jsonl:-1")


def test_weight_by_theorem_keeps_whole_theorems():
    from leanprogress.data.dataset import weight_by_theorem

    recs = corpus(40)
    half = weight_by_theorem(recs, 0.5, seed=1)
    groups = {}
    for r in half:
        groups.setdefault(r["theorem"], 0)
        groups[r["theorem"]] += 1
    assert 5 < len(groups) < 35
    assert all(n == 1 + int(t[1:]) % 7 for t, n in groups.items())
    assert weight_by_theorem(recs, 0.0) == []
