"""What a policy's completion says: the tactic (or the whole proof) to reward, or why there is none.

Policies write more than a tactic: reasoning, drafts, code fences, prose, the
special tokens of their chat template. The cleaning reads the *final answer*,
as the provers' own evaluation scripts do (DeepSeek-Prover-V1.5 cuts at the
closing fence; Kimina-Prover and Goedel-Prover-V2 take the last ``lean4``
block after the reasoning), in this order:

1. a conversational completion (a list of ``{"role", "content"}`` messages, as
   TRL passes them) is the ``content`` of its last assistant message;
2. special tokens: only *end* tokens end the turn, and the text from the first
   one on is dropped (Qwen's ``<|im_end|>``, ``<|endoftext|>``, Llama 3's
   ``<|eot_id|>`` and ``<|end_of_text|>``, DeepSeek's full-width
   ``<｜end▁of▁sentence｜>``, ``</s>``, Gemma's ``<end_of_turn>``, ``<eos>``,
   ``<|end|>``, ``<|EOT|>``, and the start of a new user or system turn);
   every other special token (``<|begin_of_text|>``,
   ``<｜begin▁of▁sentence｜>``, ``<|im_start|>assistant``, a Llama 3 header,
   ``<｜Assistant｜>``, ``<s>``) is removed where it stands;
3. reasoning: the answer is what follows the last ``</think>`` (a template that
   opens ``<think>`` in the prompt, as DeepSeek-R1's distills do, leaves only
   the closing tag); reasoning that is never closed has no answer (status
   ``unfinished``): drafts inside it (Kimina-Prover's ```` ```tactics ````
   blocks) are never rewarded;
4. code fences: the answer is the last fenced block (a ``lean``/``lean4`` one
   when there are several kinds); a fence left open by a cut-off completion
   runs to the end; a closing fence with no opener closes a block the prompt
   opened (DeepSeek-Prover-V1.5's prompt ends inside ```` ```lean4 ````), so
   the text before it is the block;
5. a Lean declaration in the answer (``theorem … := by …``, with imports
   around it, as whole-proof provers write) gives its proof: the declaration
   named as the statement (another theorem is status ``other_theorem``), else
   the last one; a term-mode proof ``:= t`` is ``exact t``; only the proof is
   kept, never the statement or the text around it (which could change what
   the statement means), and an answer that declares more than its theorem
   (helper lemmas, an injected ``theorem``) is ``forbidden``;
6. a leading ``by`` is dropped, and the rest is split into top-level tactics
   with the project's step rule (:func:`leanprogress.lean.syntax.parse_tactic_block`:
   a tactic with a nested ``by`` block, ``·`` arms or ``<;>`` is one tactic;
   ``t1; t2`` and ``t1`` / ``t2`` on two lines are two).

A completion gets no tactic, and so the failure reward, when the answer is
empty (``empty``), reasoning never ends (``unfinished``), the answer proves
another theorem (``other_theorem``), the answer is prose
where a tactic should be (``prose``: ``Tactic: simp``, ``The next tactic is
`simp`.``, a claim that the proof is done), its brackets do not match
(``unparsable``), the proof rule forbids it (``forbidden``:
:mod:`leanprogress.lean.forbidden`, checked on the final answer only, so a
proof sketch with ``sorry`` before the complete proof does not fail it), it is
longer than ``max_chars`` (``too_long``), or it has several tactics under
``multiple="reject"``.

:func:`clean_completion` gives one tactic (step-level policies);
:func:`clean_proof` the whole proof (whole-proof policies). Several tactics in
one step-level completion (``multiple``): ``first`` (default) rewards the first
and ignores the rest, which also drops trailing prose; ``all`` rewards the
block as one step; ``reject`` gives the failure reward (status ``multiple``).

Example:
    >>> clean_completion("```lean\\nby simp\\n```\\nThis closes the goal.").tactic
    'simp'
    >>> clean_completion("<think>maybe ```lean\\nring\\n```</think>\\n```lean\\nsimp\\n```<|im_end|>").tactic
    'simp'
    >>> clean_completion("  nlinarith [sq_nonneg (a - b)]\\n```<｜end▁of▁sentence｜>").tactic
    'nlinarith [sq_nonneg (a - b)]'
    >>> clean_proof("```lean4\\ntheorem t (n : ℕ) : n + 0 = n := by\\n  simp\\n```").tactics
    ('simp',)
    >>> clean_completion("Tactic: simp").status
    'prose'
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Any

from ..lean.declaration import written_proof
from ..lean.forbidden import DEFAULT_RULE, ProofRule
from ..lean.syntax import TooDeeplyNested, brackets_balanced, parse_tactic_block, strip_comments

MULTIPLE = ("first", "all", "reject")
DEFAULT_MAX_CHARS = 8192
"""Longest cleaned tactic that is scored (a tactic longer than this is runaway generation); below the server's
default input limit (32,000 characters), so a completion never makes a request fail."""
DEFAULT_MAX_PROOF_CHARS = 24_000
"""Longest cleaned whole proof that is checked and scored; below the server's default input limit too."""

# Tokens that end the assistant's turn: the text from the first one on is not the answer.
_END_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "<｜end▁of▁sentence｜>", "</s>",
               "<eos>", "<end_of_turn>", "<|end|>", "<|EOT|>", "<｜User｜>", "<|user|>", "<|system|>")
_END = re.compile("|".join(re.escape(t) for t in _END_TOKENS)
                  + r"|<\|im_start\|>(?:user|system|tool)\b|<\|start_header_id\|>(?:user|system|ipython)")
# Tokens that open a turn or mark its role: removed, with the role they name.
_ROLE_TOKENS = re.compile(r"<\|im_start\|>[a-z_]*\n?|<\|start_header_id\|>[a-z_]*<\|end_header_id\|>\n*"
                          r"|<start_of_turn>[a-z_]*\n?")
_OTHER_TOKENS = re.compile(r"<\|[^|<>\s]{1,40}\|>|<｜[^｜<>\s]{1,40}｜>|<s>|<bos>|<pad>|\[UNUSED_TOKEN_\d+\]")
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_FENCE = re.compile(r"(?m)^[ \t]*(`{3,})[ \t]*([\w+-]*)[ \t]*$|(`{3,})")
_LEAN_INFOS = ("", "lean", "lean4", "tactic", "tactics")
_LEADING_BY = re.compile(r"\A\s*by(?![\w'!?])")
# What a whole-file answer may hold besides its declaration (never sent to Lean: the gate writes its own header).
_PREAMBLE = re.compile(r"\s*(?:import|open|set_option)\s")
# Prose where a tactic should be: a capitalized word then a space or punctuation ("The next tactic is", "Tactic:",
# "SYSTEM:"), or markdown (a heading, a list, bold). No Lean tactic starts so.
_PROSE = re.compile(r"\A(?:[A-Z][A-Za-z]*(?:[ ,:;!?]|\.(?:\s|\Z)|\Z)|#+\s|\*\*|[-*>]\s|\d+[.)]\s)")


@dataclass(frozen=True)
class Cleaned:
    """One completion after cleaning.

    Attributes:
        tactic: the tactic to reward (for :func:`clean_proof`, the whole proof), or None (then ``status`` says
            why).
        status: ``ok``, or why there is none: ``empty``, ``unfinished``, ``prose``, ``other_theorem``,
            ``unparsable``, ``forbidden``, ``too_long``, ``multiple``.
        n_tactics: how many top-level tactics the answer held (0 when it could not be split).
        reason: for a failure, what the cleaning found (the forbidden word, the prose, ...).
        tactics: the answer's top-level tactics, in order (empty for a failure).
    """

    tactic: str | None
    status: str
    n_tactics: int = 0
    reason: str = ""
    tactics: tuple[str, ...] = ()

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


def strip_special_tokens(text: str) -> str:
    """``text`` up to its first end-of-turn token, with every other special token removed (steps 2 of the module
    doc).

    Example:
        >>> strip_special_tokens("<|begin_of_text|>simp<|eot_id|><|start_header_id|>user")
        'simp'
    """
    m = _END.search(text)
    if m:
        text = text[: m.start()]
    return _OTHER_TOKENS.sub("", _ROLE_TOKENS.sub("", text))


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, content) of each fenced block, in order (step 4 of the module doc)."""
    markers = []  # (start, end, info or None for a fence that can only close)
    for m in _FENCE.finditer(text):
        if m.group(1) is not None:
            markers.append((m.start(), m.end(), m.group(2).lower()))
        else:
            markers.append((m.start(), m.end(), None))
    blocks: list[tuple[str, str]] = []
    inside, start, info = False, 0, ""
    for k, (a, b, tag) in enumerate(markers):
        if k == 0 and text[:a].strip() and (tag is None or tag == ""):
            blocks.append(("", text[:a]))  # the prompt opened this fence
            continue
        if inside:
            blocks.append((info, text[start:a]))
            inside = False
        elif tag is not None:
            inside, start, info = True, b + (1 if text[b:b + 1] == "\n" else 0), tag
    if inside:
        blocks.append((info, text[start:]))  # cut off inside the block
    return blocks


def final_answer(completion: Any) -> tuple[str | None, str]:
    """The final answer of a completion (steps 1-4 of the module doc), or None and why there is none."""
    text = strip_special_tokens(completion_text(completion))
    close = text.rfind(_THINK_CLOSE)
    if close >= 0:
        text = text[close + len(_THINK_CLOSE):]
    elif _THINK_OPEN in text:
        return None, "unfinished"
    blocks = _fenced_blocks(text)
    if blocks:
        lean = [content for info, content in blocks if info in _LEAN_INFOS]
        text = (lean or [content for _, content in blocks])[-1]
    return text, ""


def _answer_tactics(completion: Any, rule: ProofRule, max_chars: int, name: str | None
                    ) -> tuple[list[str] | None, str, str, str]:
    """(top-level tactics, status, reason, the answer's text) of a completion."""
    answer, why = final_answer(completion)
    if answer is None:
        return None, why, "the reasoning never ends: no final answer", ""
    written = written_proof(answer, name)
    if written is None and name and written_proof(answer) is not None:
        other = written_proof(answer).name
        return None, "other_theorem", f"the answer proves {other!r}, not {name!r}", ""
    outside = written.outside if written is not None else ""
    text = answer if written is None else written.proof
    m = _LEADING_BY.match(text)
    if m:
        text = " " * m.end() + text[m.end():]  # keep every column where it was
    raw = textwrap.dedent(text.expandtabs(2)).strip("\n")  # what Lean would read: the rule reads this
    code = textwrap.dedent(strip_comments(text).expandtabs(2)).strip("\n")
    if not code.strip():
        return None, "empty", "no tactic in the answer", raw
    if len(code) > max_chars:
        return None, "too_long", f"{len(code)} characters, more than {max_chars}", raw
    if _PROSE.match(code):
        return None, "prose", f"prose, not a tactic: {code.splitlines()[0][:80]!r}", raw
    word = rule.forbidden(raw)
    if word:
        return None, "forbidden", f"uses {word!r}", raw
    word = rule.forbidden(outside)  # helper lemmas are not carried, and what else the answer declares is no proof
    if word:
        return None, "forbidden", f"besides its proof, the answer holds {word!r}", raw
    stray = [line for line in strip_comments(outside).split("\n") if line.strip() and not _PREAMBLE.match(line)]
    if stray:  # a tactic or prose outside the declaration: which part was the answer is anyone's guess
        return None, "forbidden", f"besides its declaration, the answer holds {stray[0].strip()[:80]!r}", raw
    if not brackets_balanced(code):
        return None, "unparsable", "brackets do not match", raw
    try:
        nodes = parse_tactic_block(code)
    except TooDeeplyNested as exc:
        return None, "unparsable", str(exc), raw
    if not nodes:
        return None, "empty", "no tactic in the answer", raw
    return [node.text for node in nodes], "ok", "", raw


def clean_completion(completion: Any, multiple: str = "first", max_chars: int = DEFAULT_MAX_CHARS,
                     rule: ProofRule = DEFAULT_RULE, name: str | None = None) -> Cleaned:
    """The tactic a completion proposes, by the rules of the module doc.

    Args:
        completion: a string or a conversational completion (list of messages).
        multiple: what several tactics mean: ``first``, ``all`` or ``reject``.
        max_chars: longest cleaned text scored; longer is ``too_long``.
        rule: what is not a proof (:class:`~leanprogress.lean.forbidden.ProofRule`; ``native_decide`` is off).
        name: the theorem's name, to pick its declaration when the answer holds several.
    """
    if multiple not in MULTIPLE:
        raise ValueError(f"multiple must be one of {MULTIPLE}, got {multiple!r}")
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    tactics, status, reason, raw = _answer_tactics(completion, rule, max_chars, name)
    if tactics is None:
        return Cleaned(None, status, reason=reason)
    n = len(tactics)
    if multiple == "all":
        return Cleaned("\n".join(tactics), "ok", n, tactics=tuple(tactics))
    if multiple == "reject" and n > 1:
        return Cleaned(None, "multiple", n, reason=f"{n} tactics where one was asked for")
    return Cleaned(tactics[0], "ok", n, tactics=tuple(tactics))


def clean_proof(completion: Any, max_chars: int = DEFAULT_MAX_PROOF_CHARS, rule: ProofRule = DEFAULT_RULE,
                name: str | None = None) -> Cleaned:
    """The whole proof a completion proposes (its final answer's tactics, the proof of its declaration when it
    writes one), by the rules of the module doc; ``tactic`` is the proof as one block, ``tactics`` its
    top-level tactics.

    Args:
        completion: a string or a conversational completion.
        max_chars: longest cleaned proof checked.
        rule: what is not a proof.
        name: the theorem's name, to pick its declaration when the answer holds several (helper lemmas first).
    """
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    tactics, status, reason, _ = _answer_tactics(completion, rule, max_chars, name)
    if tactics is None:
        return Cleaned(None, status, reason=reason)
    return Cleaned("\n".join(tactics), "ok", len(tactics), tactics=tuple(tactics))
