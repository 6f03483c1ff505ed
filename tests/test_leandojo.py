import json

import pytest

from conftest import make_theorem
from leanprogress.data import leandojo
from leanprogress.data.leandojo import BuildStats, TraceFormatError, iter_json_array, iter_leandojo_records, records_from_theorem


def test_labels_prefix_and_ids_follow_the_trace():
    thm = make_theorem("Foo.bar", 3)
    recs = records_from_theorem(thm, source="mathlib")
    assert [r["steps_remaining"] for r in recs] == [2, 1, 0]
    assert [r["goal"] for r in recs] == [s["state_before"] for s in thm["traced_tactics"]]
    assert recs[0]["prefix"] == ""
    assert recs[2]["prefix"] == "\n".join(s["tactic"] for s in thm["traced_tactics"][:2])
    assert all(r["theorem"] == "Foo.bar" and r["source"] == "mathlib" for r in recs)


def test_streaming_reader_matches_json_load_with_tiny_chunks(traces, monkeypatch):
    monkeypatch.setattr(leandojo, "_CHUNK", 7)  # force objects to straddle many reads
    streamed = [obj for _, obj in iter_json_array(traces)]
    assert streamed == json.loads(traces.read_text(encoding="utf-8"))


def test_empty_theorems_are_skipped_and_counted(traces):
    stats = BuildStats()
    recs = list(iter_leandojo_records([traces], stats=stats))
    assert stats.theorems == 13 and stats.empty_theorems == 1
    assert stats.records == len(recs) == sum(1 + i % 6 for i in range(12))


def test_folder_input_reads_every_json_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.json").write_text(json.dumps([make_theorem("A", 2)]))
    (tmp_path / "sub" / "b.json").write_text(json.dumps([make_theorem("B", 1)]))
    stats = BuildStats()
    recs = list(iter_leandojo_records([tmp_path], stats=stats))
    assert stats.files == 2 and {r["theorem"] for r in recs} == {"A", "B"}


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"a": 1}', "expected a JSON list"),
        ('[{"full_name": "x", "traced_tactics": []},\n {"full_name": "y", ', "not valid JSON"),
        ('[{"full_name": "x"}]', "no 'traced_tactics'"),
        ('[{"full_name": "x", "traced_tactics": [{"tactic": 3, "state_before": "s"}]}]', "traced tactic 0"),
    ],
)
def test_bad_trace_files_name_file_and_line(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(TraceFormatError, match=message) as err:
        list(iter_leandojo_records([path]))
    assert str(path) in str(err.value)


def test_error_line_points_at_the_broken_theorem(tmp_path):
    path = tmp_path / "bad.json"
    good = json.dumps(make_theorem("ok", 1))
    path.write_text("[\n" + good + ",\n" + good + ",\n" + '{"full_name": "bad"}' + "\n]")
    with pytest.raises(TraceFormatError) as err:
        list(iter_leandojo_records([path]))
    assert f"{path}:4" in str(err.value)


def test_a_benchmark_folder_skips_non_list_json_and_reads_each_theorem_once(tmp_path):
    # The real benchmark ships metadata.json beside random/ and novel_premises/, which hold the same theorems.
    (tmp_path / "metadata.json").write_text(json.dumps({"commit": "abc", "from_repo": "mathlib4"}))
    theorems = [make_theorem(f"T{i}", 2 + i) for i in range(3)]
    for split in ("random", "novel_premises"):
        (tmp_path / split).mkdir()
        (tmp_path / split / "test.json").write_text(json.dumps(theorems))
    other_proof = make_theorem("T0", 1)  # a second, different proof of T0 is kept
    (tmp_path / "random" / "extra.json").write_text(json.dumps([other_proof]))
    stats = BuildStats()
    recs = list(iter_leandojo_records([tmp_path], stats=stats))
    assert len(recs) == 2 + 3 + 4 + 1
    assert stats.duplicates == 3 and stats.skipped_files == [str(tmp_path / "metadata.json")]
    assert "skipped 3 theorem(s) already read" in stats.summary() and "metadata.json" in stats.summary()
    with pytest.raises(TraceFormatError, match="expected a JSON list"):
        list(iter_leandojo_records([tmp_path / "metadata.json"]))  # named explicitly, it is an error


@pytest.mark.parametrize("chunk", [64, 1 << 20])
def test_syntax_errors_report_the_line_they_are_on(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(leandojo, "_CHUNK", chunk)
    good = [make_theorem(f"ok{i}", 3) for i in range(4)]
    text = json.dumps(good, indent=1)
    lines = text.split("\n")
    bad_line = len(lines) - 3
    lines[bad_line - 1] = lines[bad_line - 1] + " oops"  # a syntax error on line `bad_line`
    path = tmp_path / "bad.json"
    path.write_text("\n".join(lines))
    with pytest.raises(TraceFormatError) as err:
        list(iter_leandojo_records([path]))
    assert f"{path}:{bad_line}: not valid JSON" in str(err.value)


def test_a_byte_order_mark_and_bad_utf8_in_a_trace(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps([make_theorem("A", 2)]).encode())
    assert len(list(iter_leandojo_records([path]))) == 2
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'[\n{"full_name": "x\xff", "traced_tactics": []}\n]')
    with pytest.raises(TraceFormatError, match=f"{bad}:2: not valid UTF-8"):
        list(iter_leandojo_records([bad]))


def test_streamed_balancing_counts_each_theorem_once(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    theorems = [make_theorem(f"T{i}", 1 + i % 6) for i in range(30)]
    (tmp_path / "a" / "t.json").write_text(json.dumps(theorems))
    (tmp_path / "b" / "t.json").write_text(json.dumps(theorems))
    seen = []
    stats = BuildStats()
    recs = list(iter_leandojo_records([tmp_path], stats=stats, keep=lambda key, n: seen.append((key, n)) or n >= 4))
    assert sorted(seen) == sorted((f"T{i}", 1 + i % 6) for i in range(30))  # asked once per theorem
    assert {r["proof_length"] for r in recs} == {4, 5, 6} and stats.dropped_by_balance == 15 * 2


@pytest.mark.parametrize("indent", [None, 2])
def test_a_json_error_names_its_line_and_column_after_buffer_refills(tmp_path, monkeypatch, indent):
    # A one-line benchmark file (json.dump without indent) has every theorem on line 1: the column is what finds
    # the error, and the read buffer has been refilled many times before it.
    monkeypatch.setattr(leandojo, "_CHUNK", 64)
    good = json.dumps([make_theorem(f"T{i}", 2) for i in range(6)], indent=indent)
    text = good[:-1].rstrip() + ', {"full_name": "bad" "oops"}]'
    path = tmp_path / "bad.json"
    path.write_text(text)
    at = text.index('"oops"')
    line = text.count("\n", 0, at) + 1
    column = at - text.rfind("\n", 0, at)
    with pytest.raises(TraceFormatError, match=rf"bad.json:{line}: not valid JSON \(Expecting ',' delimiter at "
                                               rf"column {column}\)"):
        list(iter_json_array(path))


def test_search_order_keeps_the_tactics_a_step_prover_applies():
    # LeanDojo lists `have ... := by` with its block, then the outer tactics, then the block's tactics.
    def step(tactic, before, after):
        return {"tactic": tactic, "state_before": before, "state_after": after}

    have = "have h : 0 < 2 := by\n  norm_num\n  · simp"
    theorem = {"full_name": "T.t", "traced_tactics": [
        step(have, "⊢ p ∧ q", "h : 0 < 2\n⊢ p ∧ q"), step("constructor", "h : 0 < 2\n⊢ p ∧ q", "⊢ p\n\n⊢ q"),
        step("linarith", "⊢ p\n\n⊢ q", "⊢ q"), step("simp", "⊢ q", "no goals"),
        step("norm_num", "⊢ 0 < 2", "⊢ 0 < 2 ∨ False"), step("simp", "⊢ 0 < 2 ∨ False", "no goals")]}
    recs = records_from_theorem(theorem, order="search")
    # `norm_num` and the `simp` of the `·` block inside the `have` are nested; the `simp` listed before them
    # continues the outer proof from the state `linarith` left.
    assert [r["tactic"] for r in recs] == [have, "constructor", "linarith", "simp"]
    assert [r["steps_remaining"] for r in recs] == [3, 2, 1, 0]
    assert [r["goal"] for r in recs] == [s["state_before"] for s in theorem["traced_tactics"][:4]]  # real states
    assert [r["listed_step"] for r in recs] == [0, 1, 2, 3] and recs[3]["prefix"] == f"{have}\nconstructor\nlinarith"
    assert len(records_from_theorem(theorem)) == 6  # LeanDojo's listing stays the default
    with pytest.raises(ValueError, match="order"):
        records_from_theorem(theorem, order="source")
    no_after = {"full_name": "T.u", "traced_tactics": [{"tactic": "simp", "state_before": "⊢ p"}]}
    with pytest.raises(TraceFormatError, match="'state_after' for the search order"):
        records_from_theorem(no_after, order="search")


def _step(tactic, before, after):
    return {"tactic": tactic, "state_before": before, "state_after": after}


# `constructor` / `· exact hq` / `simp`, as LeanDojo lists it: the sequence's own tactics (`constructor`, `simp`)
# before the tactic of the `·` block, which was recorded on the goal it focuses.
LEFT, RIGHT = "case left\nhp : p\nhq : q\n⊢ p", "case right\nhp : p\nhq : q\n⊢ q"
TOP_LEVEL_DOT = {"full_name": "T.dot", "traced_tactics": [
    _step("constructor", "hp : p\nhq : q\n⊢ p ∧ q", f"{LEFT}\n\n{RIGHT}"),
    _step("simp", RIGHT, "no goals"),  # after the `·` block closed the first goal: it closes the proof
    _step("exact hq", LEFT, "no goals")]}  # recorded on the goal the `·` focuses


def test_search_order_follows_the_state_chain_through_a_top_level_focus_block():
    recs = records_from_theorem(TOP_LEVEL_DOT, order="search")
    # Lean runs `exact hq` inside the `·` block before `simp`: `simp` closes the proof. LeanDojo's listing order
    # gave `exact hq` 0 steps, with `simp` in its prefix.
    assert [(r["tactic"], r["steps_remaining"], r["prefix"]) for r in recs] == [
        ("constructor", 2, ""), ("exact hq", 1, "constructor"), ("simp", 0, "constructor\nexact hq")]
    assert [r["listed_step"] for r in recs] == [0, 2, 1]
    assert [r["goal"] for r in recs] == [TOP_LEVEL_DOT["traced_tactics"][i]["state_before"] for i in (0, 2, 1)]
    # the text rule gives the same steps for the proof's text
    from leanprogress.lean.syntax import split_tactic_steps

    assert [r["tactic"] for r in recs] == split_tactic_steps("  constructor\n  · exact hq\n  simp", order="search")
    # LeanDojo's listing stays the default
    assert [r["tactic"] for r in records_from_theorem(TOP_LEVEL_DOT)] == ["constructor", "simp", "exact hq"]


def test_search_order_keeps_the_listing_where_the_states_do_not_chain(tmp_path):
    from leanprogress.data.leandojo import execution_order

    # a tactic LeanDojo did not record (it left the printed state unchanged) breaks the chain
    broken = [_step("intro x", "⊢ ∀ x, p x", "x : α\n⊢ p x"), _step("exact h x", "x : α\nh : ∀ y, p y\n⊢ p x", "no goals")]
    assert execution_order(broken, [0, 1]) is None
    recs = records_from_theorem({"full_name": "T.b", "traced_tactics": broken}, order="search")
    assert [r["steps_remaining"] for r in recs] == [1, 0]
    path = tmp_path / "t.json"
    path.write_text(json.dumps([{"full_name": "T.b", "traced_tactics": broken}, TOP_LEVEL_DOT]))
    stats = BuildStats()
    assert len(list(iter_leandojo_records([path, path], stats=stats, order="search"))) == 5  # duplicates skipped
    assert stats.listing_order == 1 and "1 theorem(s) in LeanDojo's listing order" in stats.summary()
    # identical goals: either tactic may close the first; the listing decides between equals
    same = [_step("constructor", "⊢ p ∧ p", "⊢ p\n\n⊢ p"), _step("exact a", "⊢ p", "no goals"),
            _step("exact b", "⊢ p", "no goals")]
    assert execution_order(same, [0, 1, 2]) == [0, 1, 2]
