import pytest

from leanprogress.lean.expr import LeanSyntaxError, canonical_expr, parse_expr, render_expr


@pytest.mark.parametrize(
    "source, types, lean",
    [
        # notation Lean prints
        ("Real.sqrt (x * y) * (x - y) = x + y", {"x": "ℝ", "y": "ℝ"}, "√(x * y) * (x - y) = x + y"),
        ("abs (x - 2) = p", {"x": "ℝ", "p": "ℝ"}, "|x - 2| = p"),
        ("Int.floor (100 * r) = 743", {"r": "ℝ"}, "⌊100 * r⌋ = 743"),
        ("x < Real.pi", {"x": "ℝ"}, "x < π"),
        ("(∑ k in Finset.range 11, k) % 9 = 1", {}, "(∑ k ∈ Finset.range 11, k) % 9 = 1"),
        ("((∑ k in Finset.range 3, u k) - ∑ k in Finset.range 3, v k) = 3", {"u": "ℕ → ℕ", "v": "ℕ → ℕ"},
         "∑ k ∈ Finset.range 3, u k - ∑ k ∈ Finset.range 3, v k = 3"),
        ("Nat.gcd 180 168 = 12", {}, "Nat.gcd 180 168 = 12"),  # no field notation on a numeral
        ("Nat.Prime (a + b)", {"a": "ℕ", "b": "ℕ"}, "(a + b).Prime"),
        ("Real.logb a (a / b) + Real.log x", {"a": "ℝ", "b": "ℝ", "x": "ℝ"}, "a.logb (a / b) + x.log"),
        ("Nat.factorial 7 % 23 = 3", {}, "7! % 23 = 3"),
        ("n ^ 2 ≤ n !", {"n": "ℕ"}, "n ^ 2 ≤ n !"),
        ("List.Pairwise (· ≠ ·) [a, b, c]", {}, "List.Pairwise (fun x x_1 => x ≠ x_1) [a, b, c]"),
        # binders
        ("∀ x, f x = 2 * x", {"f": "ℝ → ℝ"}, "∀ (x : ℝ), f x = 2 * x"),
        ("∀ a b : ℕ, 0 < a ∧ 0 < b → s a b = a ^ b", {"s": "ℕ → ℕ → ℕ"}, "∀ (a b : ℕ), 0 < a ∧ 0 < b → s a b = a ^ b"),
        ("∀ x > 0, f x = 1", {"f": "ℝ → ℝ"}, "∀ x > 0, f x = 1"),
        ("∀ x ≠ 0, q x = 6 / x", {"q": "ℝ → ℝ"}, "∀ (x : ℝ), x ≠ 0 → q x = 6 / x"),
        ("∃ a b : ℝ, 1 < b ∧ b ≤ a", {}, "∃ a b, 1 < b ∧ b ≤ a"),
        ("{ n : ℕ | 0 < n }", {}, "{n | 0 < n}"),
        ("∀ k : ℕ, 0 < k → ∀ m : ℤ, x ≠ m * Real.pi / 2 ^ k", {"x": "ℝ"},
         "∀ (k : ℕ), 0 < k → ∀ (m : ℤ), x ≠ ↑m * π / 2 ^ k"),
        # coercions where Lean's binop% elaborator puts them
        ("(5 : ℚ) / 8 * b = 2 / 3 * a + 7", {"a": "ℕ", "b": "ℕ"}, "5 / 8 * ↑b = 2 / 3 * ↑a + 7"),
        ("(u + v : ℚ) / 2 = 64", {"u": "ℕ", "v": "ℕ"}, "(↑u + ↑v) / 2 = 64"),
        ("f a = 0", {"f": "ℝ → ℝ", "a": "ℕ"}, "f ↑a = 0"),
        ("3 * (7 * ↑j + 3) % 7 = 2", {"j": "ℕ"}, "3 * (7 * j + 3) % 7 = 2"),
        ("(4 * b ^ 2) ^ (-3 : ℤ) = 1", {"b": "ℝ"}, "(4 * b ^ 2) ^ (-3) = 1"),
    ],
)
def test_render_expr_writes_what_lean_prints(source, types, lean):
    assert render_expr(source, types) == lean


def test_parentheses_follow_precedence():
    for text in ["a - (b - c)", "a - b - c", "-(2 / 5)", "(a + b) * c", "2 * ∑ k ∈ s, f k", "(∑ k ∈ s, f k) * 2",
                 "¬a = b ∧ c", "(∀ x, p x) → q", "f (g x) (-y)", "2 ^ 3 ^ 2", "(2 ^ 3) ^ 2"]:
        assert render_expr(text) == text
    assert render_expr("↑(a 2019).den + (a 2019).num", {"a": "ℕ → ℚ"}) == "↑(a 2019).den + (a 2019).num"
    assert render_expr("((a + b)) = (c)") == "a + b = c"


@pytest.mark.parametrize(
    "lean, rendered",
    [
        ("∀ (n : ℕ), ↑n / (↑n + 1) < 1", "∀ n : ℕ, (n : ℝ) / (n + 1) < 1"),
        ("∑ k ∈ Finset.Icc 1 n, ↑k * Complex.I ^ k = 1", "(∑ k in Finset.Icc 1 n, (k : ℂ) * Complex.I ^ k) = 1"),
        ("Fintype ↑(f ⁻¹' {7})", "Fintype (f ⁻¹' {7})"),
        ("(x * y).log = 3 / 5", "Real.log (x * y) = 3 / 5"),
    ],
)
def test_canonical_expr_meets_both_printings(lean, rendered):
    assert canonical_expr(lean) == canonical_expr(rendered)


def test_unreadable_terms_raise():
    for text in ["(a + b", "∀ , p", "a +", "{ x | }"]:
        with pytest.raises(LeanSyntaxError):
            parse_expr(text)


@pytest.mark.parametrize(
    "source, lean",
    [
        ("-(-a) = a", "- -a = a"),  # not `--a`, a comment
        ("-(-(-2)) < 0", "- - -2 < 0"),
        ("x - -y = x + y", "x - -y = x + y"),
        ("abs (-x) = abs x", "|(-x)| = |x|"),  # not `|-`, the ASCII `⊢` token (Mathlib's unexpander adds these)
        ("abs (abs x - 1) = 2", "|(|x| - 1)| = 2"),  # not `||`, boolean or
        ("abs (x - abs y) = 2", "|(x - |y|)| = 2"),
    ],
)
def test_printed_terms_never_form_a_comment_or_another_token(source, lean):
    assert render_expr(source) == lean and canonical_expr(source) == lean
    assert render_expr(lean) == lean  # and they read back as the same term


def test_no_printed_term_contains_a_comment_or_a_merged_token():
    import random

    from leanprogress.lean.syntax import strip_comments

    rng = random.Random(0)

    def term(depth):
        if depth == 0:
            return rng.choice(["a", "b", "2", "x.log"])
        kind = rng.randrange(6)
        if kind == 0:
            return f"-({term(depth - 1)})"
        if kind == 1:
            return f"abs ({term(depth - 1)})"
        if kind == 2:
            return f"({term(depth - 1)}) {rng.choice(['-', '/', '*', '+', '^'])} ({term(depth - 1)})"
        if kind == 3:
            return f"({term(depth - 1)}) = ({term(depth - 1)})"
        if kind == 4:
            return f"Int.floor ({term(depth - 1)})"
        return f"f ({term(depth - 1)})"

    for _ in range(300):
        text = render_expr(term(rng.randrange(1, 5)))
        assert strip_comments(text) == text, text
        assert "|-" not in text and "||" not in text and "-/" not in text, text
        assert render_expr(text) == text and canonical_expr(text) == canonical_expr(canonical_expr(text)), text
