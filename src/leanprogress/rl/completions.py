"""What a policy's completion says: the tactic to reward, or why there is none.

A step-level policy is asked for one tactic, and emits text around it. The
cleaning, in this order:

1. a conversational completion (a list of ``{"role", "content"}`` messages, as
   TRL passes them) is the ``content`` of its last assistant message;
2. text from the first end-of-turn marker on is dropped (``<|im_end|>``,
   ``<|eot_id|>``, any ``<|...|>`` token, ``</s>``, ``<eos>``,
   ``<end_of_turn>``): frameworks that decode with special tokens leave them in;
3. if the text has a code fence (```` ```lean ````, ```` ``` ````), only the
   first fenced block is kept (a fence left open by a cut-off completion runs
   to the end); the prose around it is dropped;
4. a leading ``by`` is dropped (``by simp`` is the tactic ``simp``);
5. the rest is split into tactics with the project's step rule
   (:func:`leanprogress.lean.syntax.split_tactic_steps`'s parser: a tactic with
   a nested ``by`` block, ``·`` arms or ``<;>`` is one tactic; ``t1; t2`` and
   ``t1`` / ``t2`` on two lines are two).

Several tactics in one completion (``multiple``):

- ``first`` (default): the first tactic is rewarded and the rest ignored,
  which is also what drops trailing prose on the lines after the tactic;
- ``all``: the whole block is rewarded as one step (its text, tactics on their
  own lines, as a tactic with a nested block reads);
- ``reject``: the completion gets the failure reward (status ``multiple``),
  which teaches a policy to emit one tactic.

A completion gets no tactic, and so the failure reward, when it is empty after
cleaning (``empty``), its brackets do not match (``unparsable``), it uses
``sorry``, ``admit`` or ``stop`` (``forbidden``: they "close" any goal, a
reward hack a policy finds fast), it is longer than ``max_chars`` after
cleaning (``too_long``), or it has several tactics under ``reject``.

Example:
    >>> clean_completion("```lean\\nby simp\\n```\\nThis closes the goal.").tactic
    'simp'
    >>> clean_completion("intro n\\nsimp").tactic, clean_completion("intro n\\nsimp", multiple="all").tactic
    ('intro n', 'intro n\\nsimp')
    >>> clean_completion("exact (foo").status
    'unparsable'
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Any

from ..lean.forbidden import DEFAULT_RULE, ProofRule
from ..lean.syntax import brackets_balanced, parse_tactic_block, strip_comments

MULTIPLE = ("first", "all", "reject")
DEFAULT_MAX_CHARS = 8192
"""Longest cleaned completion that is scored (a tactic longer than this is runaway generation); below the
server's default input limit (32,000 characters), so a completion never makes a request fail."""

# End-of-turn and other special tokens that decoders keep when asked to (verl, OpenRLHF decode with them).
_END_MARKER = re.compile(r"<\|[^|<>\s]{1,40}\|>|</s>|<eos>|<end_of_turn>|<\|?endoftext\|?>")
_FENCE = re.compile(r"```[^\n`]*\n?")
_LEADING_BY = re.compile(r"\A\s*by(?![\w'!?])")
# Prose where a tactic should be: a capitalized word then a space or punctuation ("The next tactic is", "Tactic:",
# "SYSTEM:"), or markdown (a heading, a list, bold). No Lean tactic starts so.
_PROSE = re.compile(r"\A(?:[A-Z][A-Za-z]*(?:[ ,:;!?]|\.(?:\s|\Z)|\Z)|#+\s|\*\*|[-*>]\s|\d+[.)]\s)")


@dataclass(frozen=True)
class Cleaned:
    """One completion after cleaning.

    Attributes:
        tactic: the tactic to reward, or None (then ``status`` says why).
        status: ``ok``, or why there is no tactic: ``empty``, ``unparsable``, ``forbidden``, ``too_long``,
            ``multiple``.
        n_tactics: how many tactics the cleaned text held (0 when it could not be split).
        reason: for a failure, what the cleaning found (the forbidden word, ...).
    """

    tactic: str | None
    status: str
    n_tactics: int = 0
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.tactic is not None


def completion_text(completion: Any) -> str:
    """The text of a completion: a string as it is; a conversational completion (a list of messages, or one
    message dict) the ``content`` of its last assistant message (its last message if none says its role).

    Raises:
        TypeError: for anything else (a framework bug, not a policy's output: reported, not rewarded).
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, dict):
        completion = [completion]
    if isinstance(completion, (list, tuple)) and all(isinstance(m, dict) for m in completion):
        if not completion:
            return ""
        said = [m for m in completion if m.get("role") == "assistant"] or list(completion)
        content = said[-1].get("content", "")
        if isinstance(content, list):  # multimodal content parts: keep the text parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        return content if isinstance(content, str) else str(content)
    raise TypeError(f"a completion must be a string or a list of chat messages, got {type(completion).__name__}")


def _unfence(text: str) -> str:
    m = _FENCE.search(text)
    if not m:
        return text
    end = text.find("```", m.end())
    return text[m.end():] if end < 0 else text[m.end():end]


def clean_completion(completion: Any, multiple: str = "first", max_chars: int = DEFAULT_MAX_CHARS,
                     rule: ProofRule = DEFAULT_RULE) -> Cleaned:
    """The tactic a completion proposes, by the rules of the module doc.

    Args:
        completion: a string or a conversational completion (list of messages).
        multiple: what several tactics mean: ``first``, ``all`` or ``reject``.
        max_chars: longest cleaned text scored; longer is ``too_long``.
        rule: what is not a proof (:class:`~leanprogress.lean.forbidden.ProofRule`; ``native_decide`` is off).
    """
    if multiple not in MULTIPLE:
        raise ValueError(f"multiple must be one of {MULTIPLE}, got {multiple!r}")
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    text = completion_text(completion)
    m = _END_MARKER.search(text)
    if m:
        text = text[: m.start()]
    text = _unfence(text)
    m = _LEADING_BY.match(text)
    if m:
        text = " " * m.end() + text[m.end():]  # keep every column where it was
    raw = text  # what Lean would read, comments included: the proof rule reads this
    text = textwrap.dedent(strip_comments(text).expandtabs(2)).strip("\n")
    if not text.strip():
        return Cleaned(None, "empty")
    if len(text) > max_chars:
        return Cleaned(None, "too_long")
    word = rule.forbidden(raw)
    if word:
        return Cleaned(None, "forbidden", reason=f"uses {word!r}")
    if _PROSE.match(text):
        return Cleaned(None, "prose", reason=f"prose, not a tactic: {text.splitlines()[0][:80]!r}")
    if not brackets_balanced(text):
        return Cleaned(None, "unparsable")
    # Top-level tactics; a `·` arm (which LeanDojo does not list) is one tactic here, the dot and its block.
    nodes = parse_tactic_block(text)
    if not nodes:
        return Cleaned(None, "empty")
    if len(nodes) == 1 or multiple == "all":
        return Cleaned(text.strip() if multiple == "all" else nodes[0].text, "ok", len(nodes))
    if multiple == "reject":
        return Cleaned(None, "multiple", len(nodes))
    return Cleaned(nodes[0].text, "ok", len(nodes))
