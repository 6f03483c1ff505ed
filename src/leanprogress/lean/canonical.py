"""One canonical form for proof states, whoever printed them.

Search reads states that Lean printed; whole-proof and Lean-source records
carry a state rendered from the statement's text
(:mod:`leanprogress.data.lean_source`, :mod:`leanprogress.lean.declaration`). Text cannot recover everything Lean
prints (``↑`` coercions come from type inference, binder types of ``∀`` from
elaboration), so :func:`canonical_state` maps both to one form, and the
prompt builder applies it to every goal before a model reads it when the
model's settings say so (``ModelSettings.canonicalize_goals``; trainer and
scorer share that builder, so a model always sees goals the way it was
trained on them). Theorem identity uses the same function to merge proofs
that start from the same state.

What it does, line by line:

- a hypothesis or target that Lean wrapped onto indented continuation lines
  is joined into one line;
- each hypothesis type and target goes through
  :func:`leanprogress.lean.expr.canonical_expr`, with the types of the
  hypotheses above it: Lean's notations (``√x``, ``|x|``, ``⌊x⌋``, ``π``,
  ``∑ x ∈ s, f``, field notation ``x.log``), minimal parentheses,
  ``∀ x, x > 0 → P`` as ``∀ x > 0, P``; a coercion arrow or type ascription
  goes only where the types the state shows decide it (``↑n + x`` with
  ``x : ℝ`` is ``n + x``; ``↑n - 2 = 0``, ``↑(a - b)`` and ``(2 : ℤ) - 3 = 0``
  keep theirs); ``∀`` keeps number binder types, other binder types go;
- a term the parser does not read keeps its text (arrows included), with
  ``∑ x in`` written ``∑ x ∈``;
- ``case`` lines, hypothesis names and the order of goals are kept.

This is canonical form 2 (:data:`~leanprogress.lean.expr.CANONICAL_FORM`). Form 1, the form before it, dropped
every ``↑``, ascription and binder type; a model records the form it was trained with
(``ModelSettings.canonical_form``), and models saved before form 2 read form 1, as they were trained.

Canonical form 2 unifies printing, never meaning: two states that mean
different things (``↑(a - b)`` and ``↑a - ↑b`` over ℕ, ``(2 : ℕ) - 3`` and
``(2 : ℤ) - 3``, ``∀ (n : ℕ)`` and ``∀ (n : ℤ)``) stay different; the test
set of pairs that must stay distinct and pairs that must meet is in
``tests/test_lean_canonical.py``.

Example:
    >>> canonical_state("x : ℝ\\nh₀ : ∀ (n : ℕ), f ↑n = Real.sqrt x\\n⊢ (8 : ℝ) / 15 < x")
    'x : ℝ\\nh₀ : ∀ (n : ℕ), f n = √x\\n⊢ 8 / 15 < x'
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache

from .expr import CANONICAL_FORM, CANONICAL_FORMS, LeanSyntaxError, canonical_expr

logger = logging.getLogger(__name__)
_HYP_RE = re.compile(r"^((?:[^\s:]+ )*[^\s:]+) : (.*)$", re.S)
_BIGOP_IN_RE = re.compile(r"([∑∏][^,]*?)\bin\b")
_PROPOSITION_RE = re.compile(r"[=<>≤≥≠∧∨¬∣∈∉⊆⊂↔∀∃≡]")


def _fallback(text: str, form: int = CANONICAL_FORM) -> str:
    """An unread term: its text with ``∑ x in`` written ``∑ x ∈`` and spacing collapsed, nothing else (a
    coercion arrow may decide what it means; form 1 dropped the arrows)."""
    if form == 1:
        text = re.sub(r"[↑⇑↥]", "", text)
    text = _BIGOP_IN_RE.sub(r"\1∈", text)
    return " ".join(text.split())


def _expr(text: str, types: dict[str, str] | None = None, expected: str | None = None,
          form: int = CANONICAL_FORM) -> str:
    try:
        return canonical_expr(text, types, expected, form)
    except (LeanSyntaxError, RecursionError):
        return _fallback(text, form)
    except Exception:  # noqa: BLE001 - a gap in the printer must never stop training or scoring
        logger.debug("canonical form failed on %r", text[:200], exc_info=True)
        return _fallback(text, form)


def _logical_lines(state: str) -> list[str]:
    """Lines of a state with Lean's wrapped continuation lines joined to the line they continue."""
    out: list[str] = []
    for line in state.split("\n"):
        if line[:1] in (" ", "\t") and out and out[-1].strip():
            out[-1] = out[-1].rstrip() + " " + line.strip()
        else:
            out.append(line.rstrip())
    return out


def _top_level_assign(text: str) -> int:
    depth = 0
    for i, c in enumerate(text):
        if c in "([{⟨⦃":
            depth += 1
        elif c in ")]}⟩⦄":
            depth -= 1
        elif depth == 0 and text.startswith(":=", i):
            return i
    return -1


@lru_cache(maxsize=8192)
def canonical_state(state: str, form: int = CANONICAL_FORM) -> str:
    """The canonical form of a pretty-printed (or rendered) proof state; see the module docstring.

    Args:
        state: the state, hypotheses then ``⊢`` target (several goals separated by blank lines).
        form: :data:`~leanprogress.lean.expr.CANONICAL_FORM` (2: keeps what decides the value), or 1, the earlier
            form that dropped every arrow, ascription and binder type (for models trained with it).
    """
    if form not in CANONICAL_FORMS:
        raise ValueError(f"form must be one of {CANONICAL_FORMS}, got {form!r}")
    lines = []
    types: dict[str, str] = {}  # the hypotheses' types, per goal: they decide which arrows can go
    for line in _logical_lines(state):
        if line.startswith("⊢"):
            lines.append("⊢ " + _expr(line[1:].strip(), types, None, form))
        elif not line.strip() or line.startswith("case ") or line in ("no goals",):
            if not line.strip():
                types = {}  # the next goal has its own hypotheses
            lines.append(line)
        else:
            m = _HYP_RE.match(line)
            if m is None:
                lines.append(_fallback(line, form))
                continue
            type_, value = m.group(2), None
            cut = _top_level_assign(type_)
            if cut >= 0:  # a let-bound hypothesis `x : T := v`
                type_, value = type_[:cut], type_[cut + 2 :]
            text = f"{m.group(1)} : {_expr(type_, types, None, form)}"
            lines.append(text + (f" := {_expr(value, types, type_.strip(), form)}" if value is not None else ""))
            if not _PROPOSITION_RE.search(type_):  # the type of a variable, not a hypothesis' statement
                for name in m.group(1).split():
                    types[name] = type_.strip()
    return "\n".join(lines)
