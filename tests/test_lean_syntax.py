import pytest

from leanprogress.lean.syntax import brackets_balanced, parse_tactic_block, split_tactic_steps, strip_comments


def test_comments_are_removed_but_strings_and_lines_kept():
    text = 'a -- note\n/- block /- nested -/\n still -/ b\n/-- doc -/ c "x -- y" d'
    out = strip_comments(text)
    assert out.split("\n") == ["a ", "", " b", ' c "x -- y" d']


@pytest.mark.parametrize(
    "block, steps",
    [
        ("by simp", ["simp"]),
        ("by\n  intro x\n  simp at x\n  exact x", ["intro x", "simp at x", "exact x"]),
        # `·` blocks are not listed, their tactics are (after the sequence's own tactics)
        ("  constructor\n  · linarith\n  · intro h\n    exact h", ["constructor", "linarith", "intro h", "exact h"]),
        # `;` splits, `<;>` does not; a trailing `<;>` continues on the next line (kept as written)
        ("  simp; ring\n  constructor <;> norm_num\n  cases h <;>\n  simp",
         ["simp", "ring", "constructor <;> norm_num", "cases h <;>\nsimp"]),
        # case / next headers are not listed, their tactics are
        ("  cases h\n  case inl h1 => exact h1\n  next =>\n    simp\n    ring", ["cases h", "exact h1", "simp", "ring"]),
        # have ... := by: the have with its block, the rest of the sequence, then the block's tactics
        ("  have h : 0 < 2 := by\n    norm_num\n  linarith", ["have h : 0 < 2 := by\n  norm_num", "linarith", "norm_num"]),
        # one-line `by` terms are nested sequences too, as LeanDojo lists them
        ("  exact foo (by simp) (by ring)", ["exact foo (by simp) (by ring)", "simp", "ring"]),
        ("  exact absurd ij' (by decide)", ["exact absurd ij' (by decide)", "decide"]),
        ("  nlinarith [sq_nonneg (a - b), (by norm_num : (0:ℝ) < 2)]",
         ["nlinarith [sq_nonneg (a - b), (by norm_num : (0:ℝ) < 2)]", "norm_num"]),
        # induction arms: the induction, then each arm's tactics
        ("  induction n with\n  | zero => simp\n  | succ k ih =>\n    rw [pow_succ]\n    omega",
         ["induction n with\n| zero => simp\n| succ k ih =>\n  rw [pow_succ]\n  omega", "simp", "rw [pow_succ]", "omega"]),
        # an rcases pattern with `|` has no arms
        ("  rcases h with ⟨a, b⟩ | ⟨c, d⟩\n  simp", ["rcases h with ⟨a, b⟩ | ⟨c, d⟩", "simp"]),
        # calc is one tactic; the `by` blocks of its steps are nested sequences
        ("  calc a = b := by rw [h]\n    _ = c := by simp\n  exact le_rfl",
         ["calc a = b := by rw [h]\n  _ = c := by simp", "exact le_rfl", "rw [h]", "simp"]),
        ("  calc\n  a = b := h\n  _ = c := h'", ["calc\na = b := h\n_ = c := h'"]),
        # conv is one tactic
        ("  conv =>\n    lhs\n    rw [mul_comm]\n  simp", ["conv =>\n  lhs\n  rw [mul_comm]", "simp"]),
        # tactics spanning lines: open brackets and deeper indentation
        ("  nlinarith [sq_nonneg (a - b),\n  sq_nonneg (a + b)]\n  simp only [foo,\n      bar] at h",
         ["nlinarith [sq_nonneg (a - b),\nsq_nonneg (a + b)]", "simp only [foo,\n    bar] at h"]),
        # `open ... in` / `set_option ... in` scope a nested sequence
        ("  open Real in\n  simp [pi_pos]\n  set_option maxRecDepth 1000 in\n  decide",
         ["open Real in\nsimp [pi_pos]", "set_option maxRecDepth 1000 in\ndecide", "simp [pi_pos]", "decide"]),
        # `fun h =>` continued on the next line
        ("  exact fun h =>\n  by linarith", ["exact fun h =>\nby linarith", "linarith"]),
        # comments anywhere
        ("  -- first\n  intro x /- why -/\n  /- long\n  comment -/\n  simp", ["intro x", "simp"]),
        # a `by` inside brackets spanning lines ends at the bracket
        ("  rw [show x = 1 by\n      simp\n    ] at h\n  simp", ["rw [show x = 1 by\n    simp\n  ] at h", "simp", "simp"]),
        # combinators take a sequence
        ("  all_goals norm_num", ["all_goals norm_num", "norm_num"]),
        ("  first | rfl | exact foo", ["first | rfl | exact foo", "rfl", "exact foo"]),
        # `classical` alone on a line scopes the rest of the block
        ("  classical\n  rintro b\n  exact b", ["classical\nrintro b\nexact b", "rintro b", "exact b"]),
    ],
)
def test_step_rule(block, steps):
    assert split_tactic_steps(block) == steps


def test_a_have_whose_statement_wraps_keeps_its_block_apart():
    # The statement continues on a second line that ends in `:= by`; the old rule joined the whole block
    # into one step ('have h : a = b := by simp ring'), text that is not Lean.
    block = "  have h :\n      a = b := by\n    simp\n    ring\n  exact h"
    steps = split_tactic_steps(block)
    assert steps == ["have h :\n    a = b := by\n  simp\n  ring", "exact h", "simp", "ring"]
    assert split_tactic_steps(block, order="source") == ["have h :\n    a = b := by\n  simp\n  ring", "simp", "ring",
                                                         "exact h"]


def test_nested_blocks_are_listed_after_the_sequence_as_leandojo_does():
    # From the Mathlib sample (MeasureTheory.Measure.InnerRegular.measurableSet_of_open): LeanDojo lists
    # step 1's `obtain` block after the outer tactics, and the `by` block of a calc step after that.
    block = """
  rintro s ⟨hs, hμs⟩ r hr
  obtain ⟨ε, hε, hεs, rfl⟩ : ∃ (ε : _)(_ : ε ≠ 0), ε + ε ≤ μ s ∧ r = μ s - (ε + ε) := by
    use (μ s - r) / 2
    simp [*, hr.le, ENNReal.add_halves, ENNReal.sub_sub_cancel, le_add_right]
  rcases hs.exists_isOpen_diff_lt hμs hε with ⟨U, hsU, hUo, hUt, hμU⟩
  calc
    μ s ≤ μ U := μ.mono hsU
    _ ≤ μ (K \\ U') + ε + ε := by
      apply add_le_add_right; apply add_le_add_left
      exact hμU'.le
    _ = μ (K \\ U') + (ε + ε) := add_assoc _ _ _"""
    steps = split_tactic_steps(block)
    assert [s.split("\n")[0] for s in steps] == [
        "rintro s ⟨hs, hμs⟩ r hr",
        "obtain ⟨ε, hε, hεs, rfl⟩ : ∃ (ε : _)(_ : ε ≠ 0), ε + ε ≤ μ s ∧ r = μ s - (ε + ε) := by",
        "rcases hs.exists_isOpen_diff_lt hμs hε with ⟨U, hsU, hUo, hUt, hμU⟩",
        "calc",
        "use (μ s - r) / 2",
        "simp [*, hr.le, ENNReal.add_halves, ENNReal.sub_sub_cancel, le_add_right]",
        "apply add_le_add_right",
        "apply add_le_add_left",
        "exact hμU'.le",
    ]
    # the listed text of a tactic with a block is its full source, as LeanDojo prints it
    assert steps[1].endswith(":= by\n  use (μ s - r) / 2\n  simp [*, hr.le, ENNReal.add_halves, "
                             "ENNReal.sub_sub_cancel, le_add_right]")


def test_nested_have_blocks_and_arms_follow_the_preorder():
    block = """
  have h1 : a = 1 := by
    have h2 : b = 2 := by
      norm_num [hb]
    linarith
  induction n with
  | zero => simp
  | succ n ih =>
    cases n with
    | zero => rfl
    | succ m => omega
  exact h1"""
    steps = split_tactic_steps(block)
    assert [s.split("\n")[0] for s in steps] == [
        "have h1 : a = 1 := by", "induction n with", "exact h1",  # the outer sequence
        "have h2 : b = 2 := by", "linarith", "norm_num [hb]",     # h1's block, then h2's
        "simp", "cases n with", "rfl", "omega",                   # the arms, nested arms last
    ]
    assert len(split_tactic_steps(block, order="source")) == len(steps)


def test_the_tree_marks_what_is_not_listed():
    tree = parse_tactic_block("  constructor\n  · simp\n  . ring")
    assert [(n.text.split("\n")[0], n.listed) for n in tree] == [("constructor", True), ("· simp", False),
                                                                  (". ring", True)]
    assert split_tactic_steps("  constructor\n  · simp\n  . ring") == ["constructor", ". ring", "simp", "ring"]
    with pytest.raises(ValueError, match="order"):
        split_tactic_steps("simp", order="random")


def test_brackets_balanced():
    assert brackets_balanced("f (a [b]) ⟨c, {d}⟩")
    assert not brackets_balanced("have h : (1 = 1 := by rfl\n exact ⟨trivial")
    assert not brackets_balanced("f (a ]")


SEARCH_PROOF = """
  have h : 0 < a := by
    nlinarith [mul_pos (by positivity) (by positivity)]
  constructor
  · have h2 : a ≠ 0 := by
      positivity
    field_simp
  · induction n with
    | zero => simp
    | succ k ih => omega
  case right =>
    calc a = b := by rw [hab]
      _ = c := by simp
  next =>
    all_goals norm_num
    linarith [h, (by norm_num : (0:ℝ) < 2)]"""


def test_search_order_counts_steps_as_a_step_prover_applies_them():
    # A nested block belongs to its step; `·`, `case` and `next` blocks are opened, their tactics are steps in
    # execution order; the closing tactic is the last step.
    steps = split_tactic_steps(SEARCH_PROOF, order="search")
    assert [s.split("\n")[0] for s in steps] == [
        "have h : 0 < a := by",
        "constructor",
        "have h2 : a ≠ 0 := by",
        "field_simp",
        "induction n with",
        "calc a = b := by rw [hab]",
        "all_goals norm_num",
        "linarith [h, (by norm_num : (0:ℝ) < 2)]",
    ]
    assert steps[0] == "have h : 0 < a := by\n  nlinarith [mul_pos (by positivity) (by positivity)]"
    assert steps[4] == "induction n with\n| zero => simp\n| succ k ih => omega"
    # LeanDojo's listing of the same proof has more tactics, and the closing `linarith` is not last in it
    dojo = split_tactic_steps(SEARCH_PROOF)
    assert len(dojo) > len(steps) and dojo[-1] != steps[-1]


@pytest.mark.parametrize(
    "block, steps",
    [
        ("  nlinarith [sq_nonneg (a - b), (by norm_num : (0:ℝ) < 2)]",
         ["nlinarith [sq_nonneg (a - b), (by norm_num : (0:ℝ) < 2)]"]),
        ("  exact foo (by simp) (by ring)", ["exact foo (by simp) (by ring)"]),
        ("  simp; ring\n  constructor <;> norm_num", ["simp", "ring", "constructor <;> norm_num"]),
        ("  first | rfl | exact foo\n  try simp\n  repeat rw [h]", ["first | rfl | exact foo", "try simp", "repeat rw [h]"]),
        # an ASCII `.` block is opened like `·`
        ("  constructor\n  . simp\n  . ring", ["constructor", "simp", "ring"]),
        # `classical` alone on a line scopes the rest of the block: its tactics are the steps
        ("  classical\n  rintro b\n  exact b", ["rintro b", "exact b"]),
        ("  open Real in\n  simp [pi_pos]\n  linarith", ["open Real in\nsimp [pi_pos]", "linarith"]),
        ("  conv =>\n    lhs\n    rw [mul_comm]\n  simp", ["conv =>\n  lhs\n  rw [mul_comm]", "simp"]),
        # nested focusing blocks
        ("  constructor\n  · constructor\n    · simp\n    · ring\n  · omega", ["constructor", "constructor", "simp",
                                                                          "ring", "omega"]),
        # a top-level `·` block runs before the tactics after it
        ("  constructor\n  · exact hq\n  simp", ["constructor", "exact hq", "simp"]),
        # a header that names hypotheses stays with its block (its tactics use the names); one that names none
        # (or only `_`) is opened
        ("  cases h\n  case inl h1 => exact h1\n  case inr h2 =>\n    simp\n    exact h2",
         ["cases h", "case inl h1 => exact h1", "case inr h2 =>\n  simp\n  exact h2"]),
        ("  rcases h with ⟨x, hx⟩ | h\n  next x hx => exact hx\n  next => simp",
         ["rcases h with ⟨x, hx⟩ | h", "next x hx => exact hx", "simp"]),
        ("  cases h\n  case inl _ => simp\n  case inr => rfl", ["cases h", "simp", "rfl"]),
        ("  induction n\n  case zero | succ k ih => simp [ih]", ["induction n", "case zero | succ k ih => simp [ih]"]),
    ],
)
def test_search_order_rule(block, steps):
    assert split_tactic_steps(block, order="search") == steps


def test_the_tree_marks_focusing_blocks():
    tree = parse_tactic_block("  constructor\n  · simp\n  . ring\n  case h => rfl\n  have h : p := by\n    · simp")
    assert [n.focus for n in tree] == [False, True, True, True, False]
