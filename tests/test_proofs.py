import json

from leanprogress.data.proofs import SourceStats, iter_proof_records, iter_step_records
from leanprogress.lean.declaration import proof_block
from leanprogress.data.records import MAX_PREFIX_CHARS

WHOLE_FILE = '''import Mathlib
import Aesop

set_option maxHeartbeats 400000

open BigOperators Real Nat

/-- Show that for every real x, x^2 - 2x + 1 ≥ 0. The answer is -- not a comment. -/
theorem toy_square (x : ℝ) : x ^ 2 - 2 * x + 1 ≥ 0 := by
  -- complete the square
  have h : x ^ 2 - 2 * x + 1 = (x - 1) ^ 2 := by
    ring
  rw [h]
  /- the square is nonnegative -/
  positivity

theorem other (y : ℕ) : y = y := by rfl
'''


def test_proof_block_finds_the_named_theorem_in_a_whole_file():
    block = proof_block(WHOLE_FILE, "toy_square")
    assert "positivity" in block and "rfl" not in block
    assert proof_block(WHOLE_FILE, "other").strip() == "rfl"
    assert proof_block("by\n  simp\n  ring").split() == ["simp", "ring"]
    assert proof_block("theorem t : 1 = 1 := rfl", "t") is None


def test_records_from_whole_proofs(tmp_path):
    path = tmp_path / "proofs.jsonl"
    rows = [
        {"name": "toy_square", "goal": "x : ℝ\n⊢ x ^ 2 - 2 * x + 1 ≥ 0", "proof": WHOLE_FILE},
        {"name": "term", "goal": "⊢ 1 = 1", "proof": "theorem term : 1 = 1 := rfl"},
        {"name": "gave_up", "goal": "⊢ p", "proof": "theorem gave_up : p := by\n  sorry"},
        {"name": "broken"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\nnot json\n")
    stats = SourceStats()
    recs = list(iter_proof_records(path, stats, source="minif2f"))
    have = "have h : x ^ 2 - 2 * x + 1 = (x - 1) ^ 2 := by\n  ring"
    assert [r["tactic"] for r in recs] == [have, "rw [h]", "positivity", "ring"]  # as LeanDojo would list them
    assert [r["steps_remaining"] for r in recs] == [3, 2, 1, 0]
    assert all(r["goal"] == rows[0]["goal"] and r["theorem"] == "toy_square" for r in recs)
    assert recs[3]["prefix"] == have + "\nrw [h]\npositivity"
    assert stats.used == 1 and stats.declarations == 5
    assert stats.skipped == {"term-mode proof (no tactic block)": 1, "proof uses sorry": 1,
                             "needs string 'name', 'goal' and 'proof'": 1, "not valid JSON (Expecting value)": 1}
    assert f"{path}:4" in stats.examples["needs string 'name', 'goal' and 'proof'"]
    assert "skipped 1: proof uses sorry" in stats.summary()


def test_a_wrapped_have_counts_its_block(tmp_path):
    proof = ("theorem t (a b : ℕ) (h0 : a = b) : b = a := by\n  have h :\n      a = b := by\n    simp [h0]\n"
             "    omega\n  exact h.symm\n")
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"name": "t", "goal": "⊢ b = a", "proof": proof}) + "\n")
    recs = list(iter_proof_records(path))
    assert [r["tactic"].split("\n")[0] for r in recs] == ["have h :", "exact h.symm", "simp [h0]", "omega"]
    assert recs[0]["steps_remaining"] == 3


def test_unbalanced_brackets_skip_the_proof_and_are_counted(tmp_path):
    path = tmp_path / "p.jsonl"
    broken = "theorem b : True := by\n  have h : (1 = 1 := by rfl\n  exact ⟨trivial"
    good = "theorem g : True := by\n  trivial"
    path.write_text(json.dumps({"name": "b", "goal": "⊢ True", "proof": broken}) + "\n"
                    + json.dumps({"name": "g", "goal": "⊢ True", "proof": good}) + "\n")
    stats = SourceStats()
    recs = list(iter_proof_records(path, stats))
    assert [r["theorem"] for r in recs] == ["g"]
    assert stats.skipped == {"unbalanced brackets in proof": 1} and stats.examples["unbalanced brackets in proof"] == f"{path}:1"


def test_bad_utf8_and_a_byte_order_mark_in_proofs_jsonl(tmp_path):
    path = tmp_path / "p.jsonl"
    line = json.dumps({"name": "g", "goal": "⊢ True", "proof": "by trivial"})
    path.write_bytes(b"\xef\xbb\xbf" + line.encode() + b"\n{\"name\": \"\xff\"}\n" + line.encode() + b"\n")
    stats = SourceStats()
    recs = list(iter_proof_records(path, stats))
    assert len(recs) == 2 and stats.skipped == {"not valid UTF-8": 1} and stats.examples["not valid UTF-8"] == f"{path}:2"


def test_the_stored_prefix_is_capped_and_says_what_it_dropped():
    steps = [f"nlinarith [sq_nonneg (x - {i})]" for i in range(5000)]  # a machine-written proof, 140 kB
    recs = iter_step_records(steps, "⊢ p", "huge", "gen")
    assert not isinstance(recs, list)  # streamed: memory does not grow with the proof
    last = None
    for i, rec in enumerate(recs):
        assert rec["steps_remaining"] == 4999 - i
        assert len(rec["prefix"]) <= MAX_PREFIX_CHARS
        last = rec
    head, _, rest = last["prefix"].partition("\n")
    kept = rest.split("\n")
    assert head == f"... ({4999 - len(kept)} earlier tactics)" and kept[-1] == steps[-2]


def test_steps_after_the_first_say_their_goal_is_the_initial_state(tmp_path):
    path = tmp_path / "proofs.jsonl"
    path.write_text(json.dumps({"name": "toy_square", "goal": "x : ℝ\n⊢ x ^ 2 - 2 * x + 1 ≥ 0",
                                "proof": WHOLE_FILE}, ensure_ascii=False) + "\n")
    recs = list(iter_proof_records(path, SourceStats()))
    assert "goal_state" not in recs[0]  # the first step reads the real initial state
    assert [r.get("goal_state") for r in recs[1:]] == ["initial"] * (len(recs) - 1)


def test_search_order_counts_a_nested_block_inside_its_step(tmp_path):
    path = tmp_path / "proofs.jsonl"
    path.write_text(json.dumps({"name": "toy_square", "goal": "x : ℝ\n⊢ x ^ 2 - 2 * x + 1 ≥ 0",
                                "proof": WHOLE_FILE}, ensure_ascii=False) + "\n")
    recs = list(iter_proof_records(path, SourceStats(), order="search"))
    have = "have h : x ^ 2 - 2 * x + 1 = (x - 1) ^ 2 := by\n  ring"
    assert [(r["tactic"], r["steps_remaining"]) for r in recs] == [(have, 2), ("rw [h]", 1), ("positivity", 0)]
    assert recs[2]["prefix"] == have + "\nrw [h]"


def _nested(n):
    """A machine-written one-line proof: ``exact (by exact (by exact ... trivial))``, n blocks deep."""
    return "theorem deep : True := by\n  exact " + "(by exact " * n + "trivial" + ")" * n


def test_a_proof_nested_too_deeply_is_skipped_and_counted_and_the_others_are_written(tmp_path, capsys):
    from leanprogress.cli import main

    path = tmp_path / "proofs.jsonl"
    rows = [{"name": "deep", "goal": "⊢ True", "proof": _nested(1200)},
            {"name": "fine", "goal": "⊢ 1 = 1", "proof": "theorem fine : 1 = 1 := by\n  rfl"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["build-dataset", "--from-proofs", str(path), "--output", str(out)]) == 0
    assert [json.loads(l)["theorem"] for l in out.read_text().splitlines()] == ["fine"]
    assert "skipped 1: tactic blocks or brackets nested more than 100 deep" in capsys.readouterr().out


def test_nesting_up_to_the_limit_is_read_and_every_kind_of_deeper_nesting_is_skipped(tmp_path):
    limit = 100  # leanprogress.lean.syntax.MAX_NESTING, as the README gives it
    indented = "theorem t : True := by\n" + "".join("  " * (i + 1) + f"have h{i} : True := by\n" for i in range(150))
    indented += "  " * 151 + "trivial\n  trivial"
    cases = {
        "at the limit": _nested(limit),
        "brackets": _nested(limit + 1),
        "indented blocks": indented,
        "blocks on one line": "theorem t : True := by\n  " + "have h : True := by " * 150 + "trivial",
        "combinators": "theorem t : True := by\n  " + "all_goals " * 150 + "trivial",
    }
    path = tmp_path / "proofs.jsonl"
    path.write_text("".join(json.dumps({"name": k, "goal": "⊢ True", "proof": v}) + "\n" for k, v in cases.items()))
    stats = SourceStats()
    written = {r["theorem"] for r in iter_proof_records(path, stats)}
    assert written == {"at the limit"} and stats.used == 1
    assert stats.skipped == {f"tactic blocks or brackets nested more than {limit} deep": 4}
    # a wide line (many blocks side by side, not nested) is read: its steps are its blocks
    wide = "theorem w : True := by\n  exact ⟨" + ", ".join(["by simp"] * 2000) + "⟩"
    path.write_text(json.dumps({"name": "wide", "goal": "⊢ True", "proof": wide}) + "\n")
    assert sum(1 for _ in iter_proof_records(path, SourceStats())) == 2001


def test_a_skipped_json_line_is_reported_with_its_column(tmp_path):
    path = tmp_path / "proofs.jsonl"
    path.write_text(json.dumps({"name": "a", "goal": "⊢ True", "proof": "by trivial"}) + "\n" + '{"name": "b" "goal"}\n')
    stats = SourceStats()
    assert len(list(iter_proof_records(path, stats))) == 1
    assert stats.examples == {"not valid JSON (Expecting ',' delimiter)": f"{path}:2, column 14"}
