import json

from leanprogress.data.proofs import SourceStats, iter_proof_records, proof_block

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
    assert [r["tactic"] for r in recs] == ["have h : x ^ 2 - 2 * x + 1 = (x - 1) ^ 2 := by", "ring", "rw [h]",
                                           "positivity"]
    assert [r["steps_remaining"] for r in recs] == [3, 2, 1, 0]
    assert all(r["goal"] == rows[0]["goal"] and r["theorem"] == "toy_square" for r in recs)
    assert recs[2]["prefix"] == "have h : x ^ 2 - 2 * x + 1 = (x - 1) ^ 2 := by\nring"
    assert stats.used == 1 and stats.declarations == 5
    assert stats.skipped == {"term-mode proof (no tactic block)": 1, "proof uses sorry": 1,
                             "needs string 'name', 'goal' and 'proof'": 1, "not valid JSON (Expecting value)": 1}
    assert f"{path}:4" in stats.examples["needs string 'name', 'goal' and 'proof'"]
    assert "skipped 1: proof uses sorry" in stats.summary()
