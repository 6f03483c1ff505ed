from leanprogress.lean.symbols import LeanTextNormalizer, tokenizer_needs_normalization, unknown_token_rate

LEAN = [
    "ι : Type u_1\nI✝ J✝ : Box ι\nx y : ι → ℝ\nh₀ : ∀ ε > 0, ∃ δ, δ ≤ ε\n⊢ ↑I = ↑J ↔ I = J",
    "n : ℕ\nhn : 2 ∣ n\n⊢ ⌊(n : ℚ) / 2⌋ = n / 2 ∧ n ≠ 0 → ∑ i ∈ Finset.range n, i ≥ 0",
    "f : 𝕜 → E\n⊢ Tendsto f (𝓝 0) (𝓝 (f 0)) ∧ ‖f 0‖ ≤ ⊤ ∨ ℵ = ⊥",
]


def test_bundled_tokenizer_loses_lean_symbols_without_normalization(bundled_tokenizer_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(bundled_tokenizer_path)
    assert tokenizer_needs_normalization(tok)
    assert unknown_token_rate(tok, LEAN) > 0.05


def test_normalization_brings_unknown_tokens_to_zero(bundled_tokenizer_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(bundled_tokenizer_path)
    norm = LeanTextNormalizer(tok)
    assert unknown_token_rate(tok, [norm(t) for t in LEAN]) == 0.0


def test_distinct_symbols_stay_distinct():
    norm = LeanTextNormalizer()
    pairs = [("a ≤ b", "a ≥ b"), ("a ∧ b", "a ∨ b"), ("x : ℕ", "x : ℤ"), ("∀ x, p x", "∃ x, p x"), ("⊤", "⊥")]
    for a, b in pairs:
        assert norm(a) != norm(b)


def test_layout_is_kept():
    norm = LeanTextNormalizer()
    out = norm("h₀ : ∀ n : ℕ, n ≤ n + 1\n⊢ True")
    assert out == "h0 : forall n : nat, n <= n + 1\n|- True"
    assert norm("x✝ : ℕ") == "x_ : nat"
    assert norm("  indented ⊢ x") == "  indented |- x"


def test_fallback_uses_unicode_name_for_unknown_characters(bundled_tokenizer_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(bundled_tokenizer_path)
    assert LeanTextNormalizer()("a ☃ b") == "a ☃ b"  # without a tokenizer only the table applies
    assert "snowman" in LeanTextNormalizer(tok)("a ☃ b")


def test_byte_level_tokenizers_are_left_alone():
    class ByteLevel:
        unk_token_id = None

    assert not tokenizer_needs_normalization(ByteLevel())
