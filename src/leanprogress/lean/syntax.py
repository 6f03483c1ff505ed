"""Light-weight Lean 4 text handling: comments, brackets, and the step rule.

No Lean parser runs here, so the rules are textual and documented.

The step rule
=============

:func:`split_tactic_steps` lists the tactics of a tactic block (the text after
``by``) the way LeanDojo lists the traced tactics of a proof, so that a whole
proof and a LeanDojo trace of the same proof give the same steps, in the same
order, with the same labels.

What LeanDojo lists (read from ``lean_dojo/data_extraction/traced_data.py``
and ``ExtractData.lean``, and checked on the shared Mathlib sample): every
tactic that sits directly in a tactic sequence (a ``by`` block, the body of
``·``, ``case``, an ``induction ... with`` arm, ``all_goals``, ``first``
alternatives, ...), with its full text, nested blocks included. The order is
*not* source order and not the order in which Lean runs the tactics:
``_get_traced_tactics_lean4`` walks the syntax tree in pre-order and, at each
tactic sequence, appends all tactics of that sequence before descending into
them. So a sequence's own tactics come first, then the tactics of the blocks
nested in its first tactic (recursively, the same way), then those nested in
its second tactic, and so on. Example::

    obtain ⟨x, hx⟩ : ∃ x, p x := by      -- 0  (its text includes the two lines below)
      use 1                              -- 3
      simp                               -- 4
    exact foo (by simp) hx               -- 1
    linarith                             -- 2
                                         -- 5: `simp` inside `(by simp)`

This module reproduces that listing from text:

- A tactic starts on a line at the block's indentation; deeper lines, lines
  inside open brackets, ``|`` arms and ``<;>`` continue it; ``t1; t2`` is two
  tactics and ``t1 <;> t2`` one. Each listed tactic is its full source text
  (comments removed, continuation lines dedented by the tactic's column, as
  LeanDojo prints it).
- Nested tactic sequences are: every ``by`` block inside a tactic (``have h :
  T := by ...``, ``exact foo (by simp)``, ``fun x => by ...``, ``calc`` steps
  ``_ = b := by ...``), the arms of ``induction``/``cases``/``match ... with |
  p => ...``, the alternatives of ``first | ... | ...``, and the argument of
  ``all_goals``, ``any_goals``, ``repeat``, ``try``, ``focus``, ``iterate n``,
  ``on_goal n =>``, ``classical`` (on its own line it scopes the rest of the
  block), ``open ... in`` and ``set_option ... in``.
- ``·`` focusing blocks are not listed themselves, only their tactics (as in
  the sample: none of its ``·`` blocks is listed); an ASCII ``.``
  block *is* listed before its tactics (as the sample lists the two it has).
  ``case ... =>`` and ``next =>`` headers are treated like ``·`` (none occurs
  in the sample).
- ``calc`` and ``conv`` are one tactic each; ``by`` blocks inside their steps
  are nested sequences.

What text cannot see, and LeanDojo drops: tactics that leave the printed
state unchanged, tactics run on no goals, branches of ``first``/``try`` that
failed, and repeated ``(state, tactic, state)`` triples. On the Mathlib sample
the rule reproduces LeanDojo's listing exactly for most theorems (figures in
docs/benchmarks.md and ``benchmarks/bench_data.py``).

``order="source"`` lists the same tactics in source order instead (each
tactic followed by its nested blocks), for comparison.

The search order
================

A step prover (best-first search through LeanDojo or the REPL) counts steps
differently: it sends one tactic at a time to the current state, so
``have h : T := by nlinarith [...]`` is one step, tactics run in execution
order, and the step that closes the proof is its last one (0 steps left).
``order="search"`` lists a block that way:

- the block's tactics in source order, each one step with its full text:
  a nested sequence (``have ... := by``, ``exact f (by simp)``, ``calc``
  steps, ``induction ... with`` arms, ``first``/``try``/``all_goals``/
  ``repeat`` arguments, ``t1 <;> t2``, ``open ... in t``) belongs to its step
  and is not listed;
- focusing blocks (``·``, ASCII ``.``, ``case tag =>``, ``next =>``, and
  ``classical`` alone on a line) are not steps: their tactics are, in order.
  A ``case`` or ``next`` header that names hypotheses (``case inl h =>``,
  ``next x hx =>``) is kept: the block is one step with its header, since its
  tactics use names that the state outside it does not have (Lean prints
  them ``h✝`` there) and a step prover cannot send the header alone.
  That is how the shared search traces (proofs found by best-first search
  through LeanDojo) handle several goals: after ``refine' ⟨_, _⟩`` the next
  tactics act on the first goal, one step each, and no tactic of theirs is a
  ``·`` block.

Example (labels: steps left)::

    have h : 0 < a := by positivity     -- 3
    constructor                         -- 2
    · nlinarith [mul_pos h (by simp)]   -- 1
    · simp                              -- 0
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

OPENING = "([{⟨⦃"
CLOSING = ")]}⟩⦄"
ORDERS = ("leandojo", "source", "search")
MAX_NESTING = 100
"""Deepest nesting of tactic blocks (and of brackets) a block may have: the listing of a block nested deeper
(a machine-written line of 1,200 nested ``(by exact ...)``) is not read, so that reading stays fast and never
exhausts Python's recursion limit; callers skip and count such a proof."""


class TooDeeplyNested(ValueError):
    """A tactic block whose blocks or brackets nest more than :data:`MAX_NESTING` deep."""

# Tactics whose argument is a tactic sequence (the sequence is nested in them).
_COMBINATORS = ("all_goals", "any_goals", "repeat", "repeat'", "try", "focus", "classical", "iterate",
                "on_goal", "with_reducible", "fail_if_success", "success_if_fail")
_CASE_RE = re.compile(r"(case'?|next)(?![\w'])")
_SCOPED_IN_RE = re.compile(r"^(open|set_option)\b.*\bin$")
_BY_RE = re.compile(r"(?<![\w.'])by(?![\w'?!])")
_WITH_RE = re.compile(r"(?<![\w.'])with(?![\w'])")


# A character literal: 'a', '\n', '\'', '\x41', '\u{3b1}' (a quote after an identifier character is part of the
# name instead: h', foo'').
_CHAR_LITERAL = re.compile(r"'(?:\\(?:u\{[0-9a-fA-F]+\}|x[0-9a-fA-F]{2}|.)|[^'\\\n])'")


def _ident_char(c: str) -> bool:
    return c.isalnum() or c in "_'!?"


def strip_comments(text: str) -> str:
    """Remove ``--`` line comments and nested ``/- ... -/`` block comments (docstrings too).

    String and character literals are left alone (``'"'`` does not open a string, so a ``--`` after it is
    read as Lean reads it); line breaks inside block comments are kept so line numbers stay right.
    """
    out: list[str] = []
    i, n, depth = 0, len(text), 0
    in_string = False
    while i < n:
        c = text[i]
        two = text[i : i + 2]
        if depth:
            if two == "/-":
                depth += 1
                i += 2
            elif two == "-/":
                depth -= 1
                i += 2
            else:
                if c == "\n":
                    out.append("\n")
                i += 1
            continue
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
            continue
        if c == '"':
            in_string = True
            out.append(c)
            i += 1
        elif c == "'" and (m := _CHAR_LITERAL.match(text, i)) and not (i and _ident_char(text[i - 1])):
            out.append(m.group())
            i = m.end()
        elif two == "/-":
            depth = 1
            i += 2
        elif two == "--":
            while i < n and text[i] != "\n":
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def find_top_level(text: str, token: str, start: int = 0) -> int:
    """Index of ``token`` outside brackets, or -1."""
    depth = 0
    i = start
    while i < len(text):
        c = text[i]
        if c in OPENING:
            depth += 1
        elif c in CLOSING:
            depth = max(0, depth - 1)
        elif depth == 0 and text.startswith(token, i):
            if token == ":" and text.startswith(":=", i):
                i += 2
                continue
            return i
        i += 1
    return -1


def bracket_balance(text: str) -> int:
    """Opening minus closing brackets in ``text``."""
    return sum(text.count(c) for c in OPENING) - sum(text.count(c) for c in CLOSING)


def brackets_balanced(text: str) -> bool:
    """True if every bracket in ``text`` is closed by the matching kind, in order."""
    stack: list[str] = []
    for c in text:
        if c in OPENING:
            stack.append(CLOSING[OPENING.index(c)])
        elif c in CLOSING:
            if not stack or stack.pop() != c:
                return False
    return not stack


# ---------------------------------------------------------------- tactic tree
@dataclass
class TacticNode:
    """One tactic of a sequence, as LeanDojo would list it.

    ``text`` is the tactic's source (comments removed, continuation lines
    dedented by its column); ``listed`` is False for ``·``/``case``/``next``
    wrappers, which LeanDojo does not list; ``focus`` is True for focusing
    wrappers (``·``, ``.``, ``case``/``next`` headers that name no hypothesis,
    ``classical`` alone on a line), whose tactics are steps of the search order
    in their place; ``children``
    are the tactic sequences nested in it, in source order.
    """

    text: str
    listed: bool = True
    children: list[list["TacticNode"]] = field(default_factory=list)
    focus: bool = False


def _depths(s: str, start: int = 0, end: int | None = None):
    """Yield ``(index, depth before the char)`` over ``s[start:end]``, skipping string literals."""
    end = len(s) if end is None else end
    depth, i, in_string = 0, start, False
    while i < end:
        c = s[i]
        if in_string:
            if c == "\\":
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
            continue
        if c == '"':
            in_string = True
        yield i, depth
        if c in OPENING:
            depth += 1
        elif c in CLOSING:
            depth -= 1
        i += 1


def _column(s: str, i: int) -> int:
    return i - (s.rfind("\n", 0, i) + 1)


def _region(s: str, a: int, b: int) -> list[str]:
    """``s[a:b]`` as lines that keep their columns (the first one padded with spaces; a region within one line
    needs no column, and padding every block of a long line would make reading it quadratic)."""
    parts = s[a:b].split("\n")
    if len(parts) > 1:
        parts[0] = " " * _column(s, a) + parts[0]
    return parts


def _open_calc(group: list[str], line: str) -> bool:
    """``calc`` steps may sit at the ``calc`` line's own indentation."""
    if group[0].strip().split(None, 1)[0:1] != ["calc"]:
        return False
    return line.startswith("_") or (len(group) == 1 and group[0].strip() == "calc")


def _group(lines: list[str]) -> list[list[str]]:
    """Group lines into tactics: deeper lines, ``|``/``<;>`` lines and lines inside open brackets continue."""
    base = min(_indent(l) for l in lines)
    groups: list[list[str]] = []
    depth = 0
    for line in lines:
        stripped = line.strip()
        last = groups[-1][-1].rstrip() if groups else ""
        continues = groups and (
            depth > 0
            or _indent(line) > base
            or stripped.startswith(("|", "<;>"))
            or last.endswith(("<;>", "=>"))
            or _SCOPED_IN_RE.match(last.strip()) is not None
            or _open_calc(groups[-1], stripped)
        )
        if continues:
            groups[-1].append(line)
        else:
            groups.append([line])
            depth = 0
        depth = max(0, depth + bracket_balance(stripped))
    return groups


def _first_opener(s: str, start: int) -> int:
    """Where the first nested sequence of the tactic at ``start`` may begin (``by``, ``=>``, ``|``), or len(s)."""
    for i, depth in _depths(s, start):
        if depth:
            continue
        if s.startswith("=>", i) or (s[i] == "|" and not s.startswith("||", i)):
            return i
        if s.startswith("by", i) and _BY_RE.match(s, i):
            return i
    return len(s)


def _split_semicolons(s: str, start: int) -> list[int]:
    """Start indices of the ``;``-separated tactics of a group (``;`` after a nested opener belongs to it)."""
    m = re.compile(r"\S+").search(s, start)
    word = m.group(0) if m else ""
    # a combinator's argument is all nested: no `;` of its own (and no scan of the text it holds)
    stop = start if word in _COMBINATORS or word in ("·", ".") or word == "first" else _first_opener(s, start)
    starts = [start]
    for i, depth in _depths(s, start, stop):
        if depth == 0 and s[i] == ";" and s[i - 1 : i + 2] != "<;>":
            starts.append(i + 1)
    return starts


def _by_block_end(s: str, i: int, bracketed: bool) -> int:
    """End of the ``by`` block whose ``by`` ends at ``i``: a bracket it did not open, a ``,`` (inside
    brackets), or a line indented left of the block's first tactic."""
    j = i
    while j < len(s) and s[j] in " \t":
        j += 1
    if j < len(s) and s[j] != "\n":
        col = _column(s, j)
    else:
        nxt = re.compile(r"\n([ \t]*)(?=\S)").search(s, i)
        col = len(nxt.group(1)) if nxt else 0
    depth = 0
    for k, _ in _depths(s, i):
        c = s[k]
        if c in OPENING:
            depth += 1
        elif c in CLOSING:
            depth -= 1
            if depth < 0:
                return k
        elif bracketed and depth == 0 and (c == "," or (c == ":" and s[k - 1] in " \t" and s[k + 1 : k + 2] != "=")):
            return k  # `⟨by simp, h⟩`, `(by norm_num : (0 : ℝ) < 2)`
        elif c == "\n" and depth == 0:
            m = re.compile(r"[ \t]*(?=\S)").match(s, k + 1)
            if m and len(m.group(0)) < col:
                return k
    return len(s)


def _nested_by_blocks(s: str, a: int, b: int, level: int = 0) -> list[list[TacticNode]]:
    """Tactic sequences of the ``by`` blocks in ``s[a:b]``, outermost only, in source order."""
    out = []
    i = a
    depth, counted = 0, a  # bracket depth at `counted`, kept as the scan moves on (one pass over the text)
    while i < b:
        m = _BY_RE.search(s, i, b)
        if m is None:
            break
        depth += bracket_balance(s[counted : m.start()])
        counted = m.start()
        end = min(_by_block_end(s, m.end(), bracketed=depth > 0), b)
        out.append(_sequence(_region(s, m.end(), end), level + 1))
        i = max(end, m.end())
    return out


def _dojo_text(s: str, a: int, b: int) -> str:
    """The tactic ``s[a:b]`` as LeanDojo prints it: continuation lines lose up to the tactic's column."""
    col = _column(s, a)
    lines = s[a:b].split("\n")
    out = [lines[0].strip()]
    for line in lines[1:]:
        if line.strip():
            out.append(line[min(col, _indent(line)) :].rstrip())
    return "\n".join(out)


def _arms(s: str, a: int, b: int) -> list[tuple[int, int]]:
    """``(body start, body end)`` of the ``| pattern => body`` arms of a ``with`` in ``s[a:b]``."""
    w = None
    for i, depth in _depths(s, a, b):
        if depth == 0 and s.startswith("with", i) and _WITH_RE.match(s, i):
            w = i + 4
            break
    if w is None:
        return []
    bars = [i for i, depth in _depths(s, w, b)
            if depth == 0 and s[i] == "|" and s[i - 1] in " \t\n" and (i + 1 == b or s[i + 1] in " \t\n")]
    if not bars:
        return []

    def at_line_start(i: int) -> bool:
        return not s[s.rfind("\n", 0, i) + 1 : i].strip()

    # The arms of this `with` are the bars in the first bar's column (nested `with`s sit further right),
    # or, for arms written on one line, the bars of that line.
    if at_line_start(bars[0]):
        bars = [i for i in bars if at_line_start(i) and _column(s, i) == _column(s, bars[0])]
    else:
        line_end = s.find("\n", bars[0])
        bars = [i for i in bars if line_end < 0 or i < line_end]
    arms = []
    for k, bar in enumerate(bars):
        end = bars[k + 1] if k + 1 < len(bars) else b
        arrow = next((i for i, depth in _depths(s, bar, end) if depth == 0 and s.startswith("=>", i)), None)
        if arrow is None:
            return []  # an `rcases ... with a | b` pattern, not tactic arms
        arms.append((arrow + 2, end))
    return arms


def _tactic(s: str, a: int, b: int, level: int = 0) -> TacticNode:
    """One tactic ``s[a:b]`` (``a`` at its first character) and the sequences nested in it; ``level``: how many
    blocks it is nested in."""
    head = s[a:b]
    inner = level + 1
    if head[:1] in ("·", ".") and (len(head) == 1 or head[1] in " \t\n"):
        return TacticNode(_dojo_text(s, a, b), listed=head[0] == ".",
                          children=[_sequence(_region(s, a + 1, b), inner)], focus=True)
    case = _CASE_RE.match(head)
    if case:
        arrow = next((i for i, depth in _depths(s, a, b) if depth == 0 and s.startswith("=>", i)), None)
        if arrow is not None:
            # A header that names hypotheses (`case inl h =>`, `next x hx =>`) is kept with its block: its tactics
            # use those names, which the state outside the block does not have (Lean prints `h✝` there).
            names = _case_names(case.group(1), s[case.end() + a : arrow])
            return TacticNode(_dojo_text(s, a, b), listed=False, children=[_sequence(_region(s, arrow + 2, b), inner)],
                              focus=not names)
    node = TacticNode(_dojo_text(s, a, b))
    word = head.split(None, 1)[0]
    if word in _COMBINATORS:
        rest = a + len(word)
        if word == "iterate":
            m = re.compile(r"\s*\d+").match(s, rest)
            rest = m.end() if m else rest
        elif word == "on_goal":
            arrow = s.find("=>", rest, b)
            rest = arrow + 2 if arrow >= 0 else rest
        node.children.append(_sequence(_region(s, rest, b), inner))
        return node
    if word == "first":
        bars = [i for i, depth in _depths(s, a, b) if depth == 0 and s[i] == "|" and s[i - 1] in " \t\n"]
        for k, bar in enumerate(bars):
            node.children.append(_sequence(_region(s, bar + 1, bars[k + 1] if k + 1 < len(bars) else b), inner))
        return node
    scoped = re.compile(r"(open|set_option)\b[^\n]*?\bin\b").match(s, a)
    if scoped is not None:
        node.children.append(_sequence(_region(s, scoped.end(), b), inner))
        return node
    arms = _arms(s, a, b)
    head_end = s.rfind("|", a, arms[0][0]) if arms else b
    node.children += _nested_by_blocks(s, a, head_end, level)
    for start, end in arms:
        node.children.append(_sequence(_region(s, start, end), inner))
    return node


def _case_names(keyword: str, header: str) -> list[str]:
    """The hypothesis names a ``case``/``next`` header gives (``case inl h | inr h``: ``h``, ``h``; ``next x hx``:
    ``x``, ``hx``); ``_`` names nothing."""
    names = []
    for alternative in header.split("|"):
        words = alternative.split()
        names += [w for w in (words if keyword == "next" else words[1:]) if w != "_"]
    return names


def _sequence(lines: list[str], level: int = 0) -> list[TacticNode]:
    """The tactics of a sequence given as lines that keep their columns, nested in ``level`` blocks."""
    if level > MAX_NESTING:
        raise TooDeeplyNested(f"tactic blocks nested more than {MAX_NESTING} deep")
    lines = [l.rstrip() for l in lines if l.strip()]
    if not lines:
        return []
    out: list[TacticNode] = []
    groups = _group(lines)
    for g, group in enumerate(groups):
        if group[0].strip() == "classical" and len(group) == 1 and g + 1 < len(groups):
            # `classical` alone on a line takes the rest of the block as its argument.
            s = "\n".join(group + [l for rest in groups[g + 1 :] for l in rest])
            out.append(TacticNode(_dojo_text(s, _indent(s), len(s)),
                                  children=[_sequence(_region(s, len(group[0]), len(s)), level + 1)], focus=True))
            break
        s = "\n".join(group)
        starts = _split_semicolons(s, _indent(group[0]))
        for k, start in enumerate(starts):
            end = starts[k + 1] - 1 if k + 1 < len(starts) else len(s)
            m = re.compile(r"\s*").match(s, start)
            a = m.end()
            piece_end = len(s[:end].rstrip())
            if a < piece_end:
                out.append(_tactic(s, a, piece_end, level))
    return out


def max_bracket_depth(text: str) -> int:
    """The deepest bracket nesting in ``text`` (one pass; string literals are not skipped)."""
    depth = deepest = 0
    for c in text:
        if c in OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif c in CLOSING:
            depth -= 1
    return deepest


_BY_OR_BRACKET_RE = re.compile(r"(?<![\w.'])by(?![\w'?!])|[" + re.escape(OPENING + CLOSING) + ",]")


def max_inline_by_depth(text: str) -> int:
    """The deepest nesting of ``by`` blocks within one line of ``text`` (one pass): a ``by`` runs to the end of
    its line, or to the bracket (or ``,``) that closes the bracket it sits in, so each ``by`` before that point
    holds the next one."""
    deepest = 0
    for line in text.split("\n"):
        open_at: list[int] = []  # bracket depth of each open `by`
        depth = 0
        for m in _BY_OR_BRACKET_RE.finditer(line):
            c = m.group(0)
            if c == "by":
                open_at.append(depth)
                deepest = max(deepest, len(open_at))
            elif c in OPENING:
                depth += 1
            elif c in CLOSING or c == ",":
                depth -= c != ","
                while open_at and (open_at[-1] > depth or c == "," and open_at[-1] == depth and depth > 0):
                    open_at.pop()
    return deepest


def max_indent_depth(text: str) -> int:
    """How many lines, each indented deeper than the one before it, the deepest line of ``text`` sits under
    (one pass): a bound on how deep indented blocks nest."""
    stack: list[int] = []
    deepest = 0
    for line in text.split("\n"):
        if not line.strip():
            continue
        col = _indent(line)
        while stack and stack[-1] >= col:
            stack.pop()
        stack.append(col)
        deepest = max(deepest, len(stack))
    return deepest


def parse_tactic_block(block: str) -> list[TacticNode]:
    """The tactic tree of a tactic block (text after ``by``; a leading ``by`` is allowed).

    Raises:
        TooDeeplyNested: if blocks or brackets nest more than :data:`MAX_NESTING` deep (brackets and
            indentation are checked in one pass over the text before any nested block is read, so that
            such a block costs time linear in its length).
    """
    text = strip_comments(block)
    if max_bracket_depth(text) > MAX_NESTING:
        raise TooDeeplyNested(f"brackets nested more than {MAX_NESTING} deep")
    if max_indent_depth(text) > MAX_NESTING + 1 or max_inline_by_depth(text) > MAX_NESTING:
        raise TooDeeplyNested(f"tactic blocks nested more than {MAX_NESTING} deep")
    m = re.match(r"\s*by(?![\w'])", text)
    if m:
        text = text[: m.end() - 2] + "  " + text[m.end() :]  # keep every column where it was
    return _sequence(text.split("\n"))


def list_steps(sequence: list[TacticNode], order: str = "leandojo") -> list[str]:
    """The steps of a parsed block: in LeanDojo's order, in source order, or as a step prover applies them."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    out: list[str] = []
    if order == "search":
        for node in sequence:
            if node.focus:
                for child in node.children:
                    out += list_steps(child, order)
            else:
                out.append(node.text)
        return out
    if order == "source":
        for node in sequence:
            if node.listed:
                out.append(node.text)
            for child in node.children:
                out += list_steps(child, order)
        return out
    out += [node.text for node in sequence if node.listed]
    for node in sequence:
        for child in node.children:
            out += list_steps(child, order)
    return out


def split_tactic_steps(block: str, order: str = "leandojo") -> list[str]:
    """The steps of a tactic block (text after ``by``), by the module's step rule.

    Args:
        block: the tactic block; comments are ignored.
        order: ``leandojo`` (default: as LeanDojo lists traced tactics),
            ``source``, or ``search`` (as a step prover applies them: one step
            per tactic of the block, nested blocks inside their step, focusing
            blocks opened; see "The search order" above).

    Example:
        >>> split_tactic_steps('''
        ...   have h : 0 < 2 := by
        ...     norm_num
        ...   constructor
        ...   · linarith
        ...   · simp; ring''')
        ['have h : 0 < 2 := by\\n  norm_num', 'constructor', 'norm_num', 'linarith', 'simp', 'ring']
        >>> split_tactic_steps("  have h : 0 < 2 := by\\n    norm_num\\n  constructor\\n  · linarith", order="search")
        ['have h : 0 < 2 := by\\n  norm_num', 'constructor', 'linarith']
    """
    return list_steps(parse_tactic_block(block), order)

