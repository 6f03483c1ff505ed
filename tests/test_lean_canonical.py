from leanprogress.lean.canonical import canonical_state

LEAN = """x y z a : ℝ
h₀ : 0 < x ∧ 0 < y ∧ 0 < z
h₁ : ∀ (n : ℕ), f ↑n = x.log - y.log
h₂ : ∑ k ∈ Finset.range 3,
    ↑k * x = a
⊢ a = -8"""
RENDERED = """x y z a : ℝ
h₀ : 0 < x ∧ 0 < y ∧ 0 < z
h₁ : ∀ n, f n = Real.log x - Real.log y
h₂ : (∑ k in Finset.range 3, (k : ℝ) * x) = a
⊢ a = -8"""


def test_lean_printed_and_rendered_states_meet():
    assert LEAN != RENDERED
    assert canonical_state(LEAN) == canonical_state(RENDERED)
    assert canonical_state(LEAN).split("\n")[2:4] == ["h₁ : ∀ n, f n = x.log - y.log", "h₂ : ∑ k ∈ Finset.range 3, k * x = a"]


def test_canonical_form_is_stable_and_keeps_structure():
    state = "case inr\nx : ℕ\nlet_val : ℕ := ↑x + 1\nh : Foo ⟪x⟫ ↑x\n⊢ x = x\n\ncase inl\n⊢ True"
    out = canonical_state(state)
    assert canonical_state(out) == out
    lines = out.split("\n")
    assert lines[0] == "case inr" and lines[2] == "let_val : ℕ := x + 1" and lines[-2:] == ["case inl", "⊢ True"]
    assert lines[3] == "h : Foo ⟪x⟫ x"  # not parsed: kept, without coercion arrows
