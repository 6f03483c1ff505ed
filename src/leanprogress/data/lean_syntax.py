"""Light-weight Lean 4 text handling: comments, tactic blocks, steps.

No Lean parser runs here, so the rules are textual and documented.

Step rule (:func:`split_tactic_steps`), applied to a tactic block (the text
after ``by``) with comments removed:

- A step starts on a line at the block's indentation; deeper-indented lines
  and lines starting with ``|`` or ``<;>`` continue it (multi-line
  arguments, ``induction ... with`` arms at the same indentation).
- ``tac1; tac2`` on one line is two steps; ``t1 <;> t2`` is one.
- A step that ends in ``<;>`` or ``=>``, and ``open ... in`` or
  ``set_option ... in``, continue on the next line, and
  ``calc`` steps (``_ = ...``) continue a ``calc`` at the same indentation.
- Nested blocks are flattened in source order, as LeanDojo lists traced
  tactics, so labels match traced data:
  ``have h : T := by`` (or any step ending in ``by``) counts one step for the
  header, then the steps of its block; a focusing dot ``·`` and
  ``case x =>`` / ``next =>`` headers count nothing themselves, their
  tactics count; ``induction``/``cases``/``rcases``/``match ... with`` count
  one step, then each arm's tactics (``| zero => simp`` adds ``simp``).
- ``calc`` and ``conv`` blocks are one step each (their lines are terms and
  conversion-mode moves, not goal-level tactics).
- A ``by`` inside a one-line step (``exact foo (by simp)``) stays part of it.
"""

from __future__ import annotations

import re

_BLOCK_OPENERS = ("calc", "conv", "conv_lhs", "conv_rhs")
_CASE_RE = re.compile(r"^(case\b[^=]*|next\b[^=]*)=>\s*(.*)$", re.S)
_ARM_RE = re.compile(r"^\|\s*[^=]*?=>\s*(.*)$", re.S)
_SCOPED_IN_RE = re.compile(r"^(open|set_option)\b.*\bin$")
_ENDS_WITH_BY_RE = re.compile(r"(:=|=>|\bfrom|\bexact|\brefine|\bapply|\bhave|\bshow|\(|\s|^)\s*by$")


def strip_comments(text: str) -> str:
    """Remove ``--`` line comments and nested ``/- ... -/`` block comments (docstrings too).

    String literals are left alone; line breaks inside block comments are
    kept so line numbers stay right.
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
        if c in "([{⟨⦃":
            depth += 1
        elif c in ")]}⟩⦄":
            depth = max(0, depth - 1)
        elif depth == 0 and text.startswith(token, i):
            if token == ":" and text.startswith(":=", i):
                i += 2
                continue
            return i
        i += 1
    return -1


def _split_semicolons(text: str) -> list[str]:
    """Split on top-level ``;`` (not inside brackets, not part of ``<;>``)."""
    parts, start, pos = [], 0, 0
    while (i := find_top_level(text, ";", pos)) >= 0:
        pos = i + 1
        if text[i - 1 : i + 2] != "<;>":
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


def bracket_balance(text: str) -> int:
    """Opening minus closing brackets in ``text``."""
    return sum(text.count(c) for c in "([{⟨⦃") - sum(text.count(c) for c in ")]}⟩⦄")


def _open_calc(group: list[str], line: str) -> bool:
    """``calc`` steps may sit at the ``calc`` line's own indentation."""
    if group[0].strip().split(None, 1)[0:1] != ["calc"]:
        return False
    return line.startswith("_") or (len(group) == 1 and group[0].strip() == "calc")


def _group(lines: list[str]) -> list[list[str]]:
    """Group lines into steps: deeper lines, ``|``/``<;>`` lines and lines inside open brackets continue."""
    base = min(_indent(l) for l in lines)
    groups: list[list[str]] = []
    depth = 0
    for line in lines:
        stripped = line.strip()
        continues = groups and (
            depth > 0
            or _indent(line) > base
            or stripped.startswith(("|", "<;>"))
            or groups[-1][-1].rstrip().endswith("<;>")
            or _SCOPED_IN_RE.match(groups[-1][-1].strip()) is not None
            or _open_calc(groups[-1], stripped)
            or (groups[-1][-1].rstrip().endswith("=>") and not _CASE_RE.match(groups[-1][0].strip())
                and not groups[-1][-1].strip().startswith("|"))
        )
        if continues:
            groups[-1].append(line)
        else:
            groups.append([line])
            depth = 0
        depth = max(0, depth + bracket_balance(stripped))
    return groups


def _sub_block(header: str, first: str, rest: list[str]) -> list[str]:
    """Steps of a nested block whose first tactic may sit on the header line.

    As in Lean, the column of that first tactic is the block's column: rest
    lines at it are new tactics, lines further right continue one.
    """
    lines = [l for l in rest if l.strip()]
    first = first.strip()
    if first:
        col = header.find(first) if first in header else min((_indent(l) for l in lines), default=0)
        lines = [" " * col + first] + lines
    return _steps(lines)


def _steps(lines: list[str]) -> list[str]:
    lines = [l.rstrip() for l in lines if l.strip()]
    if not lines:
        return []
    steps: list[str] = []
    for group in _group(lines):
        line0 = group[0]
        head, body = line0.strip(), group[1:]
        word = head.split(None, 1)[0] if head.split() else ""
        if head[:1] in ("·", ".") and (len(head) == 1 or head[1] in " \t"):
            steps += _sub_block(line0, head[1:], body)
        elif (m := _CASE_RE.match(head)) is not None:
            steps += _sub_block(line0, m.group(2), body)
        elif word in _BLOCK_OPENERS:
            steps.append("\n".join([head] + [l.strip() for l in body]))
        elif head.endswith(" with") and body and body[0].strip().startswith("|"):
            steps.append(head)
            arms: list[list[str]] = []
            for line in body:
                if line.strip().startswith("|") and (not arms or _indent(line) <= _indent(arms[0][0])):
                    arms.append([line])
                elif arms:
                    arms[-1].append(line)
            for arm in arms:
                m = _ARM_RE.match(arm[0].strip())
                steps += _sub_block(arm[0], m.group(1) if m else "", arm[1:])
        elif _ENDS_WITH_BY_RE.search(head) and body and bracket_balance(head) <= 0:
            steps.append(head)
            steps += _steps(body)
        else:
            text = " ".join([head] + [l.strip() for l in body]) if body else head
            steps += _split_semicolons(text) if ";" in text else [text]
    return steps


def split_tactic_steps(block: str) -> list[str]:
    """The steps of a tactic block (text after ``by``), by the module's step rule.

    Example:
        >>> split_tactic_steps('''
        ...   have h : 0 < 2 := by
        ...     norm_num
        ...   constructor
        ...   · linarith
        ...   · simp; ring''')
        ['have h : 0 < 2 := by', 'norm_num', 'constructor', 'linarith', 'simp', 'ring']
    """
    text = strip_comments(block)
    stripped = text.lstrip()
    if stripped.startswith("by") and (len(stripped) == 2 or not stripped[2].isalnum() and stripped[2] != "_"):
        text = stripped[2:]
        if text.strip() and "\n" not in text.strip():
            return _steps([text.strip()])
    return _steps(text.split("\n"))
