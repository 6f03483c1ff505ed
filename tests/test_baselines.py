import json

import pytest

from leanprogress.baselines import LOOKUP_FILE, MIN_CELL_ROWS, TacticLookup, tactic_blocks, tactic_key, tactic_name


def test_tactic_name_is_the_first_word():
    assert tactic_name("nlinarith [sq_nonneg (a - b), sq_nonneg (a + b)]") == "nlinarith"
    assert tactic_name("rw[h₀] at h₁") == "rw"
    assert tactic_name("  · norm_num") == "norm_num"
    assert tactic_name("have h : 0 < x := by\n  positivity") == "have"
    assert tactic_name("simp_all only [h]") == "simp_all"
    assert tactic_name("⟨1, rfl⟩") == "⟨"


def records(*rows):
    return [{"tactic": t, "steps_remaining": s} for t, s in rows]


def test_median_mode_and_fallback():
    lookup = TacticLookup.fit(records(("linarith", 0), ("linarith", 0), ("linarith", 3), ("have h : p", 2),
                                      ("have h2 : q", 5)))
    assert lookup.predict(["linarith [h]"], "median") == [0.0]
    assert lookup.predict(["linarith [h]"], "mode") == [0.0]
    assert lookup.predict(["have x : y"], "median") == [3.5]
    assert lookup.predict(["have x : y"], "mode") == [2.0]  # 2 and 5 tie: the smaller
    # An unseen name gets the statistic over all training rows (0, 0, 3, 2, 5).
    assert lookup.predict(["omega"], "median") == [2.0]
    assert lookup.predict(["omega"], "mode") == [0.0]
    with pytest.raises(ValueError, match="statistic"):
        lookup.predict(["omega"], "mean")


def test_save_load_round_trip_and_bad_file(tmp_path):
    lookup = TacticLookup.fit(records(("simp", 1), ("ring", 0)))
    lookup.save(tmp_path)
    again = TacticLookup.load(tmp_path)
    assert again.predict(["simp", "ring", "x"], "mode") == lookup.predict(["simp", "ring", "x"], "mode")
    assert json.loads((tmp_path / LOOKUP_FILE).read_text())["tactics"]["simp"]["n"] == 1
    assert TacticLookup.load(tmp_path / "nothing-here") is None
    (tmp_path / LOOKUP_FILE).write_text("{}")
    with pytest.raises(ValueError, match="not a tactic lookup"):
        TacticLookup.load(tmp_path)
    with pytest.raises(ValueError, match="no records"):
        TacticLookup.fit([])


def test_tactic_blocks_counts_multi_line_by_blocks_only():
    assert tactic_blocks("nlinarith [sq_nonneg (a - b)]") == 0
    assert tactic_blocks("have h : 0 < x := by positivity") == 0  # a one-line proof
    assert tactic_blocks("have h : 0 < x := by\n  positivity") == 1
    assert tactic_blocks("have h : 0 < x := by  -- why\n  positivity") == 1
    assert tactic_blocks("have h : x = 1 := by\n  have h2 : x - 1 = 0 := by\n    linarith\n  linarith") == 2
    assert tactic_blocks("refine ⟨by norm_num, by simp⟩") == 0
    assert tactic_blocks("by_cases h : x = 0\n") == 0
    assert tactic_blocks("exact foo.by\n") == 0
    assert tactic_key("have h : p := by\n  simp", "name+blocks") == "have by1"
    three = "have h := by\n have a := by\n  simp\n have b := by\n  simp\n simp"
    assert tactic_key(three, "name+blocks") == "have by2"  # buckets: 0, 1, 2-3, 4 or more
    assert tactic_key(three + "\n have c := by\n  simp", "name+blocks") == "have by3"
    assert tactic_key("have h : p := by\n  simp", "name") == "have"


def test_name_and_blocks_key_separates_nested_proofs_and_backs_off():
    long_have = "have h : p := by\n  have a : q := by\n    simp\n  simp [a]"
    small_cell = "simp [h] at h2 ⊢ <;> exact by\n  simp\n  simp"
    rows = records(*[(long_have, 6)] * MIN_CELL_ROWS, *[("have h : p", 1)] * (MIN_CELL_ROWS + 1),
                   *[(small_cell, 3)] * (MIN_CELL_ROWS - 1), ("simp", 0), ("simp", 0))
    names = TacticLookup.fit(rows)
    blocks = TacticLookup.fit(rows, key="name+blocks")
    # The name alone puts every `have` at its mode, 1; the cell of `have` with two blocks knows better.
    assert names.predict([long_have], "mode") == [1.0]
    assert blocks.predict([long_have, "have h2 : r"], "mode") == [6.0, 1.0]
    # A cell seen on fewer than MIN_CELL_ROWS rows is dropped: its tactics get their name's statistics.
    assert "simp by1" not in blocks.table
    assert blocks.predict(["simp [x] <;> exact by\n  simp"], "mode") == names.predict(["simp"], "mode")
    # A name not seen at all: the overall statistics, as before.
    assert blocks.predict(["omega"], "median") == names.predict(["omega"], "median")
    # The prior reads the same entry as the prediction.
    prior = blocks.class_log_prior([long_have, "have h2 : r"], max_steps=10)
    assert prior[0].argmax() == 6 and prior[1].argmax() == 1
    with pytest.raises(ValueError, match="key must be one of"):
        TacticLookup.fit(rows, key="goal")


def test_key_survives_save_and_old_files_read_as_names(tmp_path):
    long_have = "have h : p := by\n  simp"
    rows = records(*[(long_have, 4)] * MIN_CELL_ROWS, *[("have h : p", 1)] * (MIN_CELL_ROWS + 1))
    TacticLookup.fit(rows, key="name+blocks").save(tmp_path)
    again = TacticLookup.load(tmp_path)
    assert again.key == "name+blocks" and again.predict([long_have], "mode") == [4.0]
    data = json.loads((tmp_path / LOOKUP_FILE).read_text())
    del data["lookup_key"]  # a lookup saved before keys existed
    (tmp_path / LOOKUP_FILE).write_text(json.dumps(data))
    assert TacticLookup.load(tmp_path).key == "name"
