import pytest

from conftest import make_theorem
from leanprogress.data.dataset import (PUBLISHED_BALANCE, ProgressDataset, balance_by_length, group_by_theorem,
                                       parse_balance, shared_theorems, split_by_theorem)
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


def test_same_theorem_name_in_two_files_is_one_theorem():
    # file_path is not part of the identity: a whole proof of a theorem carries none, and a name seen in two
    # files is merged (never leaks) rather than split (would leak).
    a = records_from_theorem(make_theorem("same", 2, file_path="A.lean"))
    b = records_from_theorem(make_theorem("same", 3, file_path="B.lean"))
    for seed in range(10):
        train, held = split_by_theorem(a + b + corpus(6), eval_ratio=0.5, seed=seed)
        sides = {"train" for r in train if r["theorem"] == "same"} | {"held" for r in held if r["theorem"] == "same"}
        assert len(sides) == 1


def test_proofs_that_start_from_the_same_state_are_one_theorem():
    first = records_from_theorem(make_theorem("Lib.foo", 3))
    renamed = [dict(r, theorem="lean_workbook_17") for r in first]  # the same problem restated under another name
    groups = group_by_theorem(first + renamed + corpus(4))
    assert next(v for v in groups.values() if 0 in v) == [0, 1, 2, 3, 4, 5] and len(groups) == 5
    # canonically equal starts merge too: Lean's printing and a rendering of the same statement
    lean = {"goal": "n : ℕ\nh : ∀ (x : ℕ), f ↑x = 1\n⊢ (∑ k ∈ Finset.range n, k) = 3", "prefix": "", "tactic": "simp",
            "steps_remaining": 0, "theorem": "a"}
    rendered = dict(lean, goal="n : ℕ\nh : ∀ x : ℕ, f x = 1\n⊢ (∑ k in Finset.range n, k) = 3", theorem="b")
    assert len(group_by_theorem([lean, rendered])) == 1


def test_records_without_a_theorem_group_by_their_goal():
    rows = [{"goal": "x : ℕ\n⊢ x + 0 = x", "prefix": "", "tactic": "t", "steps_remaining": 1},
            {"goal": "x : ℕ\n⊢ x + 0 = x", "prefix": "t", "tactic": "u", "steps_remaining": 0},
            {"goal": "x : ℕ\n⊢ 0 + x = x", "prefix": "", "tactic": "t", "steps_remaining": 0},
            # a trivial goal says nothing about which proof a record is from: each such record stands alone
            {"goal": "no goals", "prefix": "t", "tactic": "u", "steps_remaining": 0, "goal_from": "state_after"},
            {"goal": "no goals", "prefix": "v", "tactic": "w", "steps_remaining": 0, "goal_from": "state_after"}]
    assert sorted(map(len, group_by_theorem(rows).values())) == [1, 1, 1, 2]


def _after_records(n):
    """n one-step theorems as `build-dataset --goal-from state_after` writes them: every goal is `no goals`."""
    return [r for i in range(n) for r in records_from_theorem(make_theorem(f"A.t{i}", 1), goal_from="state_after")]


def test_state_after_records_are_never_merged_by_the_state_their_first_tactic_reached():
    # The 70 miniF2F search-trace theorems built with --goal-from state_after fell into 28 groups (one of 43).
    recs = _after_records(10) + [r for i in range(5) for r in records_from_theorem(
        make_theorem(f"B.t{i}", 3), goal_from="state_after")]
    assert {r["goal"] for r in recs if not r["prefix"]} >= {"no goals"}
    groups = group_by_theorem(recs)
    assert len(groups) == 15 and all(len({recs[i]["theorem"] for i in idx}) == 1 for idx in groups.values())
    train, held = split_by_theorem(recs, eval_ratio=0.2, seed=0)
    assert len({r["theorem"] for r in held}) == 3
    assert shared_theorems(_after_records(4), _after_records(8)[4:]) == []


def test_trivial_starting_states_do_not_merge_unrelated_theorems():
    def start(name, goal):
        return {"goal": goal, "prefix": "", "tactic": "trivial", "steps_remaining": 0, "theorem": name}

    recs = [start("a", "⊢ True"), start("b", "⊢ True"), start("c", "⊢ 1 = 1"), start("d", "case h\n⊢ 1 = 1"),
            start("e", "x : ℕ\n⊢ True"), start("f", "x : ℕ\n⊢ True"), start("g", "⊢ ⌊√2021⌋ = 44"),
            start("h", "⊢ ⌊√2021⌋ = 44")]
    groups = sorted(sorted(recs[i]["theorem"] for i in idx) for idx in group_by_theorem(recs).values())
    # a hypothesis or a target of more than three tokens is specific enough: the same problem under two names
    assert groups == [["a"], ["b"], ["c"], ["d"], ["e", "f"], ["g", "h"]]


def test_split_says_which_shared_start_merged_every_theorem_into_one(tmp_path, capsys):
    from leanprogress.cli import main
    from leanprogress.data.records import write_records

    path = tmp_path / "recs.jsonl"
    write_records([{"goal": "x : ℝ\nh₀ : 2 * x = 4\n⊢ x = 2", "prefix": "", "tactic": "linarith", "steps_remaining": 0,
                    "theorem": f"P.t{i}"} for i in range(10)], path)
    assert main(["split", "--dataset", str(path), "--output-dir", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "every record belongs to one theorem" in err and "its 10 theorem names (P.t0, P.t1, P.t2, ...)" in err
    assert "start from 'x : ℝ h₀ : 2 * x = 4 ⊢ x = 2'" in err


def test_shared_theorems_uses_the_same_identity():
    traced = records_from_theorem(make_theorem("Foo.bar", 2, file_path="Mathlib/Foo.lean"))
    exported = [{k: v for k, v in r.items() if k != "file_path"} for r in traced]  # what export-proofs writes
    assert shared_theorems(traced + corpus(3), exported) == ["Foo.bar"]
    assert shared_theorems(corpus(3), exported) == []


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

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return str(path)


def test_mixture_never_puts_a_theorem_on_both_sides_whatever_file_it_came_through(tmp_path):
    from leanprogress.data.dataset import load_mixture, parse_dataset_spec

    # Traced records carry file_path; the same theorems exported from search (or written as whole proofs)
    # do not. The old key `file_path::theorem` made them two theorems and leaked them into evaluation.
    traced = [r for i in range(20) for r in records_from_theorem(make_theorem(f"T{i}", 1 + i % 4, "Mathlib/T.lean"))]
    exported = [{k: v for k, v in r.items() if k != "file_path"} for r in traced if int(r["theorem"][1:]) < 10]
    extra = [r for i in range(10) for r in records_from_theorem(make_theorem(f"W{i}", 2))]
    pa = write(tmp_path / "mathlib" / "traced.jsonl", traced)
    pb = write(tmp_path / "search" / "found.jsonl", [{k: v for k, v in r.items() if k != "source"}
                                                     for r in exported + extra])
    assert parse_dataset_spec(pb + ":0.5") == (pb, 0.5) and parse_dataset_spec(pa) == (pa, 1.0)
    for seed in range(4):
        train, held, loaded = load_mixture([pa, pb + ":2"], eval_ratio=0.25, seed=seed)
        assert {r["theorem"] for r in train}.isdisjoint({r["theorem"] for r in held})
        assert not {(r["goal"], r["tactic"]) for r in held} & {(r["goal"], r["tactic"]) for r in train}
    assert {r["source"] for r in loaded[1]} == {"search/found"}  # a missing source is named after the file
    held_thms = {r["theorem"] for r in held}
    n_found_train = sum(1 for r in train if r["source"] == "search/found")
    assert n_found_train == 2 * sum(1 for r in exported + extra if r["theorem"] not in held_thms)  # weight 2
    with pytest.raises(ValueError, match="weight after .:. must be a number >= 0"):
        parse_dataset_spec("x.jsonl:-1")


def test_balance_counts_a_theorem_read_several_times_once():
    long_once = records_from_theorem(make_theorem("L", 3))
    thrice = long_once * 3  # the same theorem read three times (random/ and novel_premises/, or copies)
    kept = balance_by_length(thrice + corpus(10), {(1, 5): 1.0, (6, None): 0.0}, seed=0)
    assert sum(1 for r in kept if r["theorem"] == "L") == 9  # length 3, not 9: kept


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
