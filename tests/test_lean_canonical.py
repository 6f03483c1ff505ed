import pytest

from leanprogress.lean.canonical import canonical_state

LEAN = """x y z a : ℝ
h₀ : 0 < x ∧ 0 < y ∧ 0 < z
h₁ : ∀ (n : ℕ), f ↑n = x.log - y.log
h₂ : ∑ k ∈ Finset.range 3,
    ↑k * x = a
⊢ a = -8"""
RENDERED = """x y z a : ℝ
h₀ : 0 < x ∧ 0 < y ∧ 0 < z
h₁ : ∀ n : ℕ, f n = Real.log x - Real.log y
h₂ : (∑ k in Finset.range 3, (k : ℝ) * x) = a
⊢ a = -8"""


def test_lean_printed_and_rendered_states_meet():
    assert LEAN != RENDERED
    assert canonical_state(LEAN) == canonical_state(RENDERED)
    assert canonical_state(LEAN).split("\n")[2:4] == ["h₁ : ∀ (n : ℕ), f n = x.log - y.log", "h₂ : ∑ k ∈ Finset.range 3, k * x = a"]


def test_canonical_form_is_stable_and_keeps_structure():
    state = "case inr\nx : ℕ\nlet_val : ℕ := ↑x + 1\nh : Foo ⟪x⟫ ↑x\n⊢ x = x\n\ncase inl\n⊢ True"
    out = canonical_state(state)
    assert canonical_state(out) == out
    lines = out.split("\n")
    assert lines[0] == "case inr" and lines[2] == "let_val : ℕ := x + 1" and lines[-2:] == ["case inl", "⊢ True"]
    assert lines[3] == "h : Foo ⟪x⟫ ↑x"  # not parsed: kept as it is (an arrow can decide what a term means)


# Pairs that must meet: Lean's printing and a rendering (or another printing) of the same statement.
MERGE_PAIRS = [
    ("lean and rendered state", LEAN, RENDERED),
    ("∑ x in / ∑ x ∈", "n : ℕ\n⊢ ∑ k in Finset.range n, k = 3", "n : ℕ\n⊢ ∑ k ∈ Finset.range n, k = 3"),
    ("wrapped line", "a b c : ℝ\nh : a ^ 2 + b ^ 2 +\n    c ^ 2 = 1\n⊢ a ≤ 1", "a b c : ℝ\nh : a ^ 2 + b ^ 2 + c ^ 2 = 1\n⊢ a ≤ 1"),
    ("notation", "x : ℝ\nh : 0 < x\n⊢ Real.sqrt x * Real.log x = |x|", "x : ℝ\nh : 0 < x\n⊢ √x * x.log = abs x"),
    ("arrow the hypotheses decide", "n : ℕ\nx : ℝ\n⊢ ↑n + x = 1", "n : ℕ\nx : ℝ\n⊢ n + x = 1"),
    ("ascription the hypotheses decide", "n : ℕ\nx : ℝ\n⊢ (n : ℝ) + x = 1", "n : ℕ\nx : ℝ\n⊢ ↑n + x = 1"),
    ("numeral ascription a hypothesis fixes", "x : ℝ\n⊢ (8 : ℝ) / 15 < x", "x : ℝ\n⊢ 8 / 15 < x"),
    ("numeral ascribed its default type", "⊢ (2 : ℕ) - 3 = 0", "⊢ 2 - 3 = 0"),
    ("ascription on a sum written as arrows on its leaves", "a b : ℕ\n⊢ (a - b : ℤ) = 0", "a b : ℕ\n⊢ ↑a - ↑b = 0"),
    ("arrow on a function argument", "n : ℕ\n⊢ f ↑n = 1", "n : ℕ\n⊢ f n = 1"),
    ("arrow a function's domain decides", "f : ℝ → ℝ\nn : ℕ\n⊢ f (↑n - 1) = 0", "f : ℝ → ℝ\nn : ℕ\n⊢ f (n - 1) = 0"),
    ("binder written two ways", "⊢ ∀ (n : ℕ), ↑n / (↑n + 1) < 1", "⊢ ∀ n : ℕ, (n : ℝ) / (n + 1) < 1"),
    ("∃ shows no binder type", "⊢ ∃ x, x ^ 2 = 4", "⊢ ∃ x : ℤ, x ^ 2 = 4"),
    ("let value of the let's type", "x : ℕ\ny : ℕ := ↑x + 1\n⊢ y = x + 1", "x : ℕ\ny : ℕ := x + 1\n⊢ y = x + 1"),
    ("arrow a summand's type decides", "n : ℕ\n⊢ ∑ k ∈ Finset.Icc 1 n, ↑k * Complex.I ^ k = 1",
     "n : ℕ\n⊢ ∑ k in Finset.Icc 1 n, (k : ℂ) * Complex.I ^ k = 1"),
]
# Pairs that must stay distinct: printed alike once arrows, ascriptions or binder types are dropped, but they
# mean different things.
DISTINCT_PAIRS = [
    ("coercion scope", "a b : ℕ\nh : b ≤ a\n⊢ ↑(a - b) = ↑a - ↑b", "a b : ℕ\nh : b ≤ a\n⊢ a - b = a - b"),
    ("coercion scope, two arrows", "a b : ℕ\n⊢ ↑(a - b) = 0", "a b : ℕ\n⊢ ↑a - ↑b = 0"),
    ("numeral type no hypothesis fixes", "⊢ (2 : ℕ) - 3 = 0", "⊢ (2 : ℤ) - 3 = 0"),
    ("numeral type, real division", "⊢ (7 : ℝ) / 2 = 3", "⊢ 7 / 2 = 3"),
    ("numeral type in a hypothesis", "h : (2 : ℤ) - 3 < 0\n⊢ False", "h : 2 - 3 < 0\n⊢ False"),
    ("ascription on a variable", "x : ℕ\n⊢ (x : ℝ) / 2 = 1", "x : ℕ\n⊢ x / 2 = 1"),
    ("an arrow only the arrow shows", "n : ℕ\n⊢ ↑n - 2 = 0", "n : ℕ\n⊢ n - 2 = 0"),
    ("Nat and Int subtraction by binder type", "⊢ ∀ (n : ℕ), n - 1 < n", "⊢ ∀ (n : ℤ), n - 1 < n"),
    ("Nat and Int division by binder type", "⊢ ∀ (a b : ℕ), a / b * b ≤ a", "⊢ ∀ (a b : ℤ), a / b * b ≤ a"),
    ("Nat and real division by hypothesis", "a b : ℕ\n⊢ a / b = 2", "a b : ℝ\n⊢ a / b = 2"),
    ("arrow on a compound term", "n : ℕ\n⊢ ↑(n / 2) = 3", "n : ℕ\n⊢ ↑n / 2 = 3"),
    ("arrow on a sum", "n : ℕ\n⊢ ↑(∑ i ∈ Finset.range n, (i - 1)) = 0", "n : ℕ\n⊢ ∑ i ∈ Finset.range n, (↑i - 1) = 0"),
    ("arrow inside a sum that is then subtracted", "n : ℕ\n⊢ (∑ i ∈ Finset.range n, ↑i) - 5 = 0",
     "n : ℕ\n⊢ (∑ i ∈ Finset.range n, i) - 5 = 0"),
    ("arrow inside a floor", "n : ℕ\n⊢ ⌊↑n / 2⌋ = 1", "n : ℕ\n⊢ ⌊n / 2⌋ = 1"),
    ("∀ over a different type", "⊢ ∀ (n : ℕ), ↑n / (↑n + 1) < 1", "⊢ ∀ n, (n : ℝ) / (n + 1) < 1"),
    ("arrow in an unread term", "h : Foo ⟪x⟫ ↑(a - b)\n⊢ True", "h : Foo ⟪x⟫ (a - b)\n⊢ True"),
]


@pytest.mark.parametrize("what, a, b", MERGE_PAIRS, ids=[p[0] for p in MERGE_PAIRS])
def test_states_printed_differently_that_mean_the_same_meet(what, a, b):
    assert a != b and canonical_state(a) == canonical_state(b)


@pytest.mark.parametrize("what, a, b", DISTINCT_PAIRS, ids=[p[0] for p in DISTINCT_PAIRS])
def test_states_that_mean_different_things_stay_apart(what, a, b):
    assert canonical_state(a) != canonical_state(b)
    assert canonical_state(canonical_state(a)) == canonical_state(a)  # and the form is stable
