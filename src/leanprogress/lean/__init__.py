"""Lean text: what LeanProgress reads of Lean 4 without running Lean.

One package for the one concern that data converters, the prompt and the
search backends share:

- :mod:`~leanprogress.lean.syntax`: comments, brackets and the step rule
  (how a tactic block splits into the steps a record counts);
- :mod:`~leanprogress.lean.expr`: a parser and printer of Lean terms that
  writes them as Lean's pretty-printer does;
- :mod:`~leanprogress.lean.declaration`: a declaration's binders, the initial
  state Lean would show for them, its proof block and its bare statement;
- :mod:`~leanprogress.lean.canonical`: one canonical form for proof states,
  whoever printed them;
- :mod:`~leanprogress.lean.symbols`: Lean notation rewritten into words a
  word-piece vocabulary knows, for the model's tokenizer;
- :mod:`~leanprogress.lean.forbidden`: the one rule for what is not a proof
  (``sorry``, ``sorryAx``, declarations, ``native_decide``, ...), in text and
  in Lean's own answer (its warnings and ``#print axioms``), that cleaning,
  search, data and every Lean gate apply.
"""

from .canonical import canonical_state
from .declaration import parse_binders, proof_block, render_state, statement_of
from .expr import LeanSyntaxError, canonical_expr, parse_expr, render_expr
from .forbidden import DEFAULT_RULE, ProofRule, forbidden
from .symbols import LeanTextNormalizer
from .syntax import split_tactic_steps, strip_comments

__all__ = [
    "DEFAULT_RULE",
    "LeanSyntaxError",
    "LeanTextNormalizer",
    "ProofRule",
    "canonical_expr",
    "canonical_state",
    "forbidden",
    "parse_binders",
    "parse_expr",
    "proof_block",
    "render_expr",
    "render_state",
    "split_tactic_steps",
    "statement_of",
    "strip_comments",
]
