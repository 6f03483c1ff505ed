import pytest

from leanprogress.data.lean_syntax import split_tactic_steps, strip_comments


def test_comments_are_removed_but_strings_and_lines_kept():
    text = 'a -- note\n/- block /- nested -/\n still -/ b\n/-- doc -/ c "x -- y" d'
    out = strip_comments(text)
    assert out.split("\n") == ["a ", "", " b", ' c "x -- y" d']


@pytest.mark.parametrize(
    "block, steps",
    [
        ("by simp", ["simp"]),
        ("by\n  intro x\n  simp at x\n  exact x", ["intro x", "simp at x", "exact x"]),
        # focusing dots: the dot counts nothing, its tactics count
        ("  constructor\n  · linarith\n  · intro h\n    exact h", ["constructor", "linarith", "intro h", "exact h"]),
        # `;` splits, `<;>` does not; a trailing `<;>` continues on the next line
        ("  simp; ring\n  constructor <;> norm_num\n  cases h <;>\n  simp", ["simp", "ring", "constructor <;> norm_num", "cases h <;> simp"]),
        # case / next headers
        ("  cases h\n  case inl h1 => exact h1\n  next =>\n    simp\n    ring", ["cases h", "exact h1", "simp", "ring"]),
        # have ... := by with a nested block: header, then its steps
        ("  have h : 0 < 2 := by\n    norm_num\n  linarith", ["have h : 0 < 2 := by", "norm_num", "linarith"]),
        # one-line `by` inside a step stays part of it
        ("  exact foo (by simp) (by ring)", ["exact foo (by simp) (by ring)"]),
        # induction arms at the same indentation
        ("  induction n with\n  | zero => simp\n  | succ k ih =>\n    rw [pow_succ]\n    omega",
         ["induction n with", "simp", "rw [pow_succ]", "omega"]),
        # calc is one step, also with steps at the calc's own indentation
        ("  calc a = b := by rw [h]\n    _ = c := by simp\n  exact le_rfl", ["calc a = b := by rw [h]\n_ = c := by simp", "exact le_rfl"]),
        ("  calc\n  a = b := h\n  _ = c := h'", ["calc\na = b := h\n_ = c := h'"]),
        # conv is one step
        ("  conv =>\n    lhs\n    rw [mul_comm]\n  simp", ["conv =>\nlhs\nrw [mul_comm]", "simp"]),
        # tactics spanning lines: open brackets and deeper indentation
        ("  nlinarith [sq_nonneg (a - b),\n  sq_nonneg (a + b)]\n  simp only [foo,\n      bar] at h",
         ["nlinarith [sq_nonneg (a - b), sq_nonneg (a + b)]", "simp only [foo, bar] at h"]),
        # `open ... in` / `set_option ... in` scope the next tactic
        ("  open Real in\n  simp [pi_pos]\n  set_option maxRecDepth 1000 in\n  decide",
         ["open Real in simp [pi_pos]", "set_option maxRecDepth 1000 in decide"]),
        # `fun h =>` continued on the next line
        ("  exact fun h =>\n  by linarith", ["exact fun h => by linarith"]),
        # comments anywhere
        ("  -- first\n  intro x /- why -/\n  /- long\n  comment -/\n  simp", ["intro x", "simp"]),
        # a `by` inside brackets spanning lines is one step
        ("  rw [show x = 1 by\n      simp\n    ] at h\n  simp", ["rw [show x = 1 by simp ] at h", "simp"]),
    ],
)
def test_step_rule(block, steps):
    assert split_tactic_steps(block) == steps


def test_nested_have_blocks_flatten_in_source_order():
    block = """
  have h1 : a = 1 := by
    have h2 : b = 2 := by
      norm_num [hb]
    linarith
  exact h1"""
    assert split_tactic_steps(block) == ["have h1 : a = 1 := by", "have h2 : b = 2 := by", "norm_num [hb]",
                                         "linarith", "exact h1"]
