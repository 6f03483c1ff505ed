"""Lean text for word-piece tokenizers.

BERT-style vocabularies know almost none of Lean's notation: ``⊢``, ``ℕ``,
``∀``, ``∃`` and an inaccessible name such as ``h✝`` all become ``[UNK]``, and
because WordPiece maps a whole word to ``[UNK]`` when one character is unknown,
``h₀`` or ``x✝`` vanish too. That erases what tells one goal from another.

:class:`LeanTextNormalizer` rewrites Lean notation into ASCII words the
tokenizer already has embeddings for (``ℕ`` -> ``nat``, ``⊢`` -> ``|-``), folds
compatibility characters with NFKC (``₀`` -> ``0``, ``𝕜`` -> ``k``) and, for
whatever the tokenizer still cannot encode, falls back to a word taken from
the character's Unicode name. It is applied to goal, prefix and tactic in
:class:`leanprogress.prompt.PromptTemplate`, so training and scoring see the
same text.

Example:
    >>> from leanprogress.lean.symbols import LeanTextNormalizer
    >>> LeanTextNormalizer()("h₀ : ∀ n : ℕ, n ≤ n + 1\\n⊢ True")
    'h0 : forall n : nat, n <= n + 1\\n|- True'
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

# Lean notation -> words a general-purpose English vocabulary encodes well.
# Chosen for meaning first (so pretrained embeddings help), brevity second.
SYMBOLS: dict[str, str] = {
    "⊢": "|-",
    "∀": "forall",
    "∃": "exists",
    "∃!": "exists!",
    "ℕ": "nat",
    "ℤ": "int",
    "ℚ": "rat",
    "ℝ": "real",
    "ℂ": "complex",
    "≠": "!=",
    "≤": "<=",
    "≥": ">=",
    "<": "<",
    "→": "->",
    "←": "<-",
    "↔": "<->",
    "⟶": "-->",
    "⇒": "=>",
    "↦": "=>",
    "∧": "and",
    "∨": "or",
    "¬": "not",
    "∈": "mem",
    "∉": "notmem",
    "∋": "ni",
    "⊆": "subset",
    "⊂": "ssubset",
    "⊇": "superset",
    "⊃": "ssuperset",
    "∪": "union",
    "∩": "inter",
    "⋃": "Union",
    "⋂": "Inter",
    "∅": "empty",
    "∘": "comp",
    "○": "circ",
    "⁻¹": "inv",
    "•": "smul",
    "∑": "sum",
    "∏": "prod",
    "∫": "integral",
    "∮": "integral",
    "√": "sqrt",
    "∞": "infinity",
    "⊤": "top",
    "⊥": "bot",
    "⊓": "inf",
    "⊔": "sup",
    "⨆": "iSup",
    "⨅": "iInf",
    "∣": "dvd",
    "∤": "notdvd",
    "≪": "<<",
    "≫": ">>",
    "⦃": "{{",
    "⦄": "}}",
    "⟨": "<",
    "⟩": ">",
    "⌊": "floor(",
    "⌋": ")",
    "⌈": "ceil(",
    "⌉": ")",
    "‖": "norm",
    "↑": "coe",
    "⇑": "coe",
    "↥": "coe",
    "≃": "equiv",
    "≅": "iso",
    "≡": "equiv",
    "≈": "approx",
    "⥤": "functor",
    "□": "box",
    "⧸": "/",
    "×": "times",
    "⊗": "tensor",
    "⊕": "oplus",
    "∂": "deriv",
    "∇": "nabla",
    "⋆": "star",
    "∗": "*",
    "ᗮ": "perp",
    "⟂": "perp",
    "⅟": "invOf",
    "∠": "angle",
    "∥": "parallel",
    "⊣": "adjoint",
    "⊨": "models",
    "ℵ": "aleph",
    "⋖": "covby",
    "⋯": "...",
    "…": "...",
    "✝": "_",
    "λ": "fun",
    "π": "pi",
    "𝓝": "nhds",
    "𝓤": "uniformity",
    "𝓟": "principal",
}

_SYMBOL_RE = re.compile("|".join(re.escape(s) for s in sorted(SYMBOLS, key=len, reverse=True)))
# A symbol glued to letters ("∀x", "h₀✝") must stay a separate word, but "✝"
# and "⁻¹" read as suffixes of the name before them.
_SUFFIXES = {"✝", "⁻¹"}
_SPACES_RE = re.compile(r"(?<=\S) {2,}")
_TRAILING_RE = re.compile(r" +(?=\n|$)")

# Probe text used to decide whether a tokenizer needs this at all.
PROBE = "⊢ ℕ ∀ ∃ ≤ ↔ ∣ h✝ h₀"


class LeanTextNormalizer:
    """Rewrite Lean notation so a word-piece tokenizer can see it.

    Args:
        tokenizer: optional HuggingFace tokenizer. When given, characters the
            table does not cover and that the tokenizer maps to its unknown
            token are replaced by a word from their Unicode name (``ℵ``-like
            rarities); without it only the table and NFKC apply.

    The rewrite is deterministic for a given tokenizer, which is what lets
    trainer and scorer agree: both build it from the tokenizer saved with the
    model.
    """

    def __init__(self, tokenizer: Any | None = None):
        self._tokenizer = tokenizer
        self._unk_id = getattr(tokenizer, "unk_token_id", None) if tokenizer is not None else None
        self._char_cache: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        if not text:
            return text
        text = _SYMBOL_RE.sub(_replace_symbol, text)
        text = unicodedata.normalize("NFKC", text)
        if self._unk_id is not None and not text.isascii():
            text = "".join(self._fallback(ch) if ord(ch) > 127 else ch for ch in text)
        # Padding symbols with spaces leaves runs of blanks; indentation stays.
        return _TRAILING_RE.sub("", _SPACES_RE.sub(" ", text))

    def _fallback(self, ch: str) -> str:
        cached = self._char_cache.get(ch)
        if cached is None:
            ids = self._tokenizer(ch, add_special_tokens=False)["input_ids"]
            if ids and self._unk_id not in ids:
                cached = ch
            else:
                cached = f" {_name_word(ch)} "
            self._char_cache[ch] = cached
        return cached


def _replace_symbol(match: re.Match[str]) -> str:
    sym = match.group(0)
    word = SYMBOLS[sym]
    if sym in _SUFFIXES:
        return word
    text, start, end = match.string, match.start(), match.end()
    lead = "" if start == 0 or text[start - 1].isspace() else " "
    trail = "" if end == len(text) or text[end].isspace() or text[end] in ",)]}" else " "
    return f"{lead}{word}{trail}"


@lru_cache(maxsize=4096)
def _name_word(ch: str) -> str:
    name = unicodedata.name(ch, "")
    if not name:
        return "sym"
    return name.split()[-1].lower()


def tokenizer_needs_normalization(tokenizer: Any) -> bool:
    """True if ``tokenizer`` turns common Lean notation into its unknown token.

    Byte-level tokenizers (GPT-2 style BPE, ByT5) have no unknown token and
    read Lean text as it is; they are left alone.
    """
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None:
        return False
    return unk in tokenizer(PROBE, add_special_tokens=False)["input_ids"]


def unknown_token_rate(tokenizer: Any, texts: list[str]) -> float:
    """Fraction of tokens that are the tokenizer's unknown token over ``texts``."""
    unk = getattr(tokenizer, "unk_token_id", None)
    if unk is None or not texts:
        return 0.0
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    total = sum(len(ids) for ids in encoded)
    return sum(ids.count(unk) for ids in encoded) / total if total else 0.0
