import json

import pytest

from leanprogress.baselines import LOOKUP_FILE, TacticLookup, tactic_name


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
