import json

from leanprogress.data.lean_source import iter_source_records
import pytest

from leanprogress.lean.declaration import parse_binders, render_state, statement_of
from leanprogress.data.proofs import SourceStats

PROJECT_FILE = '''/-
Copyright (c) 2026 Someone. All rights reserved.
-/
import Mathlib.Algebra.Group.Basic

/-!
# Module docstring with `theorem fake : False := by trivial` inside
-/

open Function

namespace MyLib

variable {G : Type*} [Group G] (a b : G)
variable {n : ℕ}

/-- A docstring. -/
@[simp]
theorem mul_inv_cancel' : a * a⁻¹ = 1 := by
  simp

section Helpers

variable (hn : 0 < n)

protected lemma pos_succ (m : ℕ)
    (hm : m ≤ n) :
    0 < n + 1 := by
  have : 0 ≤ n := Nat.zero_le _
  omega

theorem term_mode : (1 : ℕ) = 1 := rfl

theorem term_mode_multiline : (2 : ℕ) = 2 :=
  rfl

lemma uses_sorry : n = n := by
  sorry

end Helpers

theorem with_where (x : ℕ) : aux x = x := by
  unfold aux
  rfl
where
  aux (y : ℕ) : ℕ := y

theorem _root_.top_level {α : Type*} ⦃s t : Set α⦄ (h : s ⊆ t) [DecidableEq α] : s ∩ t = s := by
  ext x
  simp
  tauto

theorem shadows (a : ℕ) : a = a := by
  rfl

theorem decreasing (k : ℕ) : k ≤ k + 1 := by
  omega
termination_by k

def notATheorem : ℕ := 3

example : 2 + 2 = 4 := by norm_num

theorem broken (x : ℕ : x = x := by rfl

end MyLib
'''


def scan(tmp_path, text, name="Lib.lean"):
    (tmp_path / "proj").mkdir(exist_ok=True)
    (tmp_path / "proj" / name).write_text(text, encoding="utf-8")
    stats = SourceStats()
    recs = list(iter_source_records(tmp_path / "proj", stats, source="proj"))
    return recs, stats


def test_scanner_reads_real_project_constructs(tmp_path):
    recs, stats = scan(tmp_path, PROJECT_FILE)
    by_thm = {}
    for r in recs:
        by_thm.setdefault(r["theorem"], []).append(r)
    assert set(by_thm) == {"MyLib.mul_inv_cancel'", "MyLib.pos_succ", "MyLib.with_where", "top_level",
                           "MyLib.decreasing", "MyLib.shadows", f"example@Lib.lean:{PROJECT_FILE.split(chr(10)).index('example : 2 + 2 = 4 := by norm_num') + 1}"}
    assert by_thm["MyLib.mul_inv_cancel'"][0]["goal"] == "G : Type u_1\ninst✝ : Group G\na : G\n⊢ a * a⁻¹ = 1"
    pos = by_thm["MyLib.pos_succ"]
    assert pos[0]["goal"] == "n m : ℕ\nhm : m ≤ n\n⊢ 0 < n + 1"
    assert [r["tactic"] for r in pos] == ["have : 0 ≤ n := Nat.zero_le _", "omega"]
    assert [r["tactic"] for r in by_thm["MyLib.with_where"]] == ["unfold aux", "rfl"]
    assert [r["tactic"] for r in by_thm["MyLib.decreasing"]] == ["omega"]
    assert by_thm["MyLib.shadows"][0]["goal"] == "a : ℕ\n⊢ a = a"  # the binder shadows `variable (a b : G)`
    top = by_thm["top_level"][0]
    assert top["goal"] == "α : Type u_1\ns t : Set α\nh : s ⊆ t\ninst✝ : DecidableEq α\n⊢ s ∩ t = s"
    assert top["file_line"].startswith("Lib.lean:")
    assert stats.skipped["term-mode proof"] == 2 and stats.skipped["proof uses sorry"] == 1
    assert stats.skipped["unbalanced brackets in statement"] == 1
    assert stats.declarations == 11 and stats.used == 7


def test_instance_names_follow_lean(tmp_path):
    binders, rest = parse_binders("{R : Type*} [CommRing R] [IsDomain R] (x : R) : x = x")
    assert rest == ": x = x"
    assert render_state(binders, "x = x") == "R : Type u_1\ninst✝¹ : CommRing R\ninst✝ : IsDomain R\nx : R\n⊢ x = x"


LATIN_1 = (b"-- caf\xe9 in a comment is no problem\ntheorem ok (p : Prop) (hp : p) : p := by\n  exact hp\n"
           b"theorem bad (p : Prop) (hp : p) : p := by\n  exact hp\n  simp [na\xefve]\n"
           b"theorem also_ok (q : Prop) (hq : q) : q := by\n  exact hq\n")


def test_a_byte_that_is_not_utf8_skips_its_declaration_only(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "Bad.lean").write_bytes(LATIN_1)
    (tmp_path / "proj" / "Good.lean").write_text("theorem good (p : Prop) (hp : p) : p := by\n  exact hp\n")
    for path, where in ((tmp_path / "proj", "Bad.lean"), (tmp_path / "proj" / "Bad.lean", str(tmp_path / "proj" /
                                                                                               "Bad.lean"))):
        stats = SourceStats()
        recs = list(iter_source_records(path, stats))
        # the same reading in a folder and alone: the file's valid theorems are kept
        assert {r["theorem"] for r in recs} == {"ok", "also_ok"} | ({"good"} if path.is_dir() else set())
        assert stats.skipped == {"not valid UTF-8": 1}
        assert stats.examples["not valid UTF-8"] == f"{where}:4 (byte 0xef at line 6)"


def test_a_single_lean_file_with_a_latin1_byte_says_where_through_the_cli(tmp_path, capsys):
    from leanprogress.cli import main

    bad = tmp_path / "Bad.lean"
    bad.write_bytes(b"theorem bad (p : Prop) (hp : p) : p := by\n  simp [na\xefve]\n")
    assert main(["build-dataset", "--from-lean-source", str(bad), "--output", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    # before: "nothing to read (an empty file?)", while the same file in a folder said where the bad byte was
    assert err.count("\n") == 1 and "all 1 declaration(s) skipped, 1 for not valid UTF-8" in err
    assert f"{bad}:1 (byte 0xef at line 2)" in err


def test_jsonl_declarations(tmp_path):
    path = tmp_path / "decls.jsonl"
    rows = [
        {"name": "wb_1", "text": "theorem wb_1 (a b : ℝ) (hab : a > 0 ∧ b > 0) : a * b > 0   := by\n  nlinarith [hab.1,\n    hab.2]"},
        {"name": "wb_2", "text": "theorem wb_2 (x : ℝ) (h : 2 * x = 4) :\nx = 2 := by\n  linarith"},
        {"name": "wb_3", "text": "theorem wb_3 : True := trivial"},
        {"name": "wb_4"},
    ]
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    stats = SourceStats()
    recs = list(iter_source_records(path, stats, source="workbook"))
    assert [(r["theorem"], r["tactic"], r["steps_remaining"]) for r in recs] == [
        ("wb_1", "nlinarith [hab.1,\n  hab.2]", 0), ("wb_2", "linarith", 0)]
    assert recs[0]["goal"] == "a b : ℝ\nhab : a > 0 ∧ b > 0\n⊢ a * b > 0"
    assert recs[1]["goal"] == "x : ℝ\nh : 2 * x = 4\n⊢ x = 2"
    assert stats.skipped == {"term-mode proof": 1, "needs a string 'text'": 1}


def test_a_byte_order_mark_does_not_drop_the_first_declaration(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "A.lean").write_bytes(
        b"\xef\xbb\xbftheorem first (p : Prop) (hp : p) : p := by\n  exact hp\n"
        b"theorem second : True := by\n  trivial\n")
    stats = SourceStats()
    recs = list(iter_source_records(tmp_path / "proj", stats))
    assert [r["theorem"] for r in recs] == ["first", "second"] and stats.declarations == 2


def test_statements_render_as_lean_prints_them(tmp_path):
    # Statements in the style of miniF2F, with the state Lean prints for each (from the shared data's
    # pairs of formal statement and Lean's initial state).
    cases = [
        ("theorem t1 (n : ℕ) (a : ℕ → ℝ) (h₀ : ∀ n, abs (a n) < 1)\n"
         "  (h₁ : (∑ k in Finset.range n, abs (a k)) = 19 + abs (∑ k in Finset.range n, a k)) : 20 ≤ n",
         "n : ℕ\na : ℕ → ℝ\nh₀ : ∀ (n : ℕ), |a n| < 1\n"
         "h₁ : ∑ k ∈ Finset.range n, |a k| = 19 + |∑ k ∈ Finset.range n, a k|\n⊢ 20 ≤ n"),
        ("theorem t2 : IsGreatest { n : ℕ | 0 < n ∧ ∃! k : ℕ, (8 : ℝ) / 15 < n / (n + k) ∧ (n : ℝ) / (n + k) < 7 / 13 } 112",
         "⊢ IsGreatest {n | 0 < n ∧ ∃! k, 8 / 15 < ↑n / (↑n + ↑k) ∧ ↑n / (↑n + ↑k) < 7 / 13} 112"),
        ("theorem t3 (x : ℝ) (h₀ : 0 < x ∧ x < Real.pi) : 12 ≤ (9 * (x ^ 2 * Real.sin x ^ 2) + 4) / (x * Real.sin x)",
         "x : ℝ\nh₀ : 0 < x ∧ x < π\n⊢ 12 ≤ (9 * (x ^ 2 * x.sin ^ 2) + 4) / (x * x.sin)"),
        ("theorem t4 (f : ℝ → ℝ → ℝ) (h₀ : ∀ x, ∀ (y) (_ : y ≠ 0), f x y = x - y * Int.floor (x / y)) :"
         " f (3 / 8) (-(2 / 5)) = -(1 / 40)",
         "f : ℝ → ℝ → ℝ\nh₀ : ∀ (x y : ℝ), y ≠ 0 → f x y = x - y * ↑⌊x / y⌋\n⊢ f (3 / 8) (-(2 / 5)) = -(1 / 40)"),
        ("theorem t5 (t s : ℝ) (n : ℤ) (h₁ : s = n ^ 2 - 2 ^ n + 1) (n : ℕ) (h : n = 3) : t = 0",
         "t s : ℝ\nn✝ : ℤ\nh₁ : s = ↑n✝ ^ 2 - 2 ^ n✝ + 1\nn : ℕ\nh : n = 3\n⊢ t = 0"),
    ]
    text = "\n".join(stmt + " := by\n  simp\n" for stmt, _ in cases)
    recs, _ = scan(tmp_path, text)
    assert [r["goal"] for r in recs] == [goal for _, goal in cases]


@pytest.mark.parametrize("text, statement", [
    ("theorem t (n : ℕ) : n + 0 = n := by sorry", "theorem t (n : ℕ) : n + 0 = n"),
    ("theorem t : P := by\n  sorry", "theorem t : P"),
    ("theorem t : P :=\n  by\n    sorry\n", "theorem t : P"),
    ("theorem t : P := by\t sorry", "theorem t : P"),
    ("theorem t : P := by -- to do\n  sorry", "theorem t : P"),
    ("theorem t : P := by /- a -/ sorry /- b -/", "theorem t : P"),
    ("theorem t : P := by sorry -- a := b", "theorem t : P"),
    ("theorem t : P := sorry", "theorem t : P"),
    ("theorem t : P := by", "theorem t : P"),
    ("theorem t : P :=", "theorem t : P"),
    ("theorem t : P -- the statement", "theorem t : P"),  # `:= by sorry` appended would be in the comment
    ("theorem t (h : a := b) : P", "theorem t (h : a := b) : P"),
    ("theorem t : s = \":= by sorry\"", "theorem t : s = \":= by sorry\""),
    ("/- x := by sorry -/ theorem t : P", "/- x := by sorry -/ theorem t : P"),
    ("/-- doc -/\ntheorem t :\n    P := by\n  sorry", "/-- doc -/\ntheorem t :\n    P"),
    ("theorem t : P := by sorryAx", "theorem t : P := by sorryAx"),
])
def test_statement_of_strips_the_sorry_tail_whatever_the_whitespace_and_comments(text, statement):
    assert statement_of(text) == statement
