"""Records from Lean 4 source: theorems and lemmas proved by tactics.

Reads a folder of ``.lean`` files (a Lake project) or a JSONL of
declarations ``{name, text}``. For each ``theorem``/``lemma``/``example``
proved by ``by``, the statement is rendered as the state Lean would show at
the start (binders as hypotheses, then ``⊢`` type), and the proof is split
into steps by :func:`~leanprogress.lean.syntax.split_tactic_steps`.

Rendering, as close as text allows: explicit, implicit and strict-implicit
binders become ``x y : T`` lines (``Type*``/``Sort*`` become ``Type u_1``,
``Sort u_2``, ...); instance binders ``[Group G]`` become ``inst✝ : Group G``
(the last one unnumbered, earlier ones ``inst✝¹``, ``inst✝²``, as Lean names
them); a name bound twice hides the earlier binding as ``h✝`` (``h✝¹``
further back), and hypotheses that mention it then say ``h✝``;
``variable``\\ s in scope are included when the statement mentions them
(and instance variables when they mention an included name). Every type and
the target are written as Lean's printer writes them
(:func:`leanprogress.lean.expr.render_expr`: notation, field notation,
``∀`` binder types, coercion arrows, minimal parentheses); what text cannot
recover is left to :func:`leanprogress.lean.canonical.canonical_state`. How
many rendered states equal Lean's on the miniF2F-valid problems is measured by
``benchmarks/bench_data.py`` (docs/benchmarks.md).

Namespaces qualify names. Term-mode proofs, ``sorry``, proofs whose brackets
do not match, and declarations the scanner cannot read are skipped and
counted by reason; a file never stops the scan (a declaration holding a byte
that is not UTF-8 is skipped and counted with its line, and the file's other
declarations are read; a byte-order mark is ignored).
Steps are listed as LeanDojo lists traced tactics (or in source order, with
``order="source"``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..files import BOM, check_input_file, iter_text_lines
from ..lean.declaration import Binder, parse_binders, render_state, select_variables
from ..lean.syntax import bracket_balance, find_top_level, strip_comments
from .proofs import SourceStats, iter_step_records, tactic_steps

_MODIFIERS = r"(?:(?:private|protected|noncomputable|nonrec|unsafe|partial)\s+)*"
_DECL_START = re.compile(rf"^(?:@\[[^\]]*\]\s*)*{_MODIFIERS}(theorem|lemma|example)\b(.*)$", re.S)
_COMMAND_RE = re.compile(
    r"^(@\[|/-|#|theorem|lemma|def|example|instance|structure|class|inductive|abbrev|namespace|section|end|"
    r"variable|open|universe|attribute|set_option|noncomputable|private|protected|macro|syntax|notation|"
    r"infix|infixl|infixr|prefix|postfix|elab|axiom|opaque|mutual|import|export|deriving|initialize)\b"
)
_END_OF_TACTICS = re.compile(r"^\s*(where|termination_by|decreasing_by)\b", re.M)


@dataclass
class _Scope:
    kind: str  # namespace, section, file
    name: str
    variables: list[Binder]


def _declarations(text: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of each top-level command: a command starts at column 0."""
    lines = text.split("\n")
    start, buf = None, []
    for lineno, line in enumerate(lines, 1):
        starts_command = line and not line[0].isspace() and not line.startswith((")", "]", "}", "|", "⟩"))
        # A statement may wrap to column 0; a declaration goes on until its ':='.
        if (starts_command and buf and _DECL_START.match(buf[0]) and not _COMMAND_RE.match(line)
                and find_top_level("\n".join(buf), ":=") < 0):
            starts_command = False
        if starts_command:
            if buf:
                yield start, "\n".join(buf)
            start, buf = lineno, [line]
        elif buf:
            buf.append(line)
    if buf:
        yield start, "\n".join(buf)


def scan_lean_text(text: str, where: str, stats: SourceStats, source: str | None = None,
                   default_name: str | None = None, order: str = "leandojo") -> Iterator[dict]:
    """Records from one Lean file's (or declaration's) text; problems are counted, never raised."""
    clean = strip_comments(text[1:] if text.startswith(BOM) else text)
    scopes = [_Scope("file", "", [])]
    for lineno, cmd in _declarations(clean):
        head = cmd.split(None, 1)
        word = head[0] if head else ""
        rest = head[1].strip() if len(head) > 1 else ""
        if word in ("namespace", "section", "noncomputable") and not _DECL_START.match(cmd):
            if word == "noncomputable" and not rest.startswith("section"):
                continue
            scopes.append(_Scope("namespace" if word == "namespace" else "section",
                                 rest.split()[0] if word == "namespace" and rest else "", []))
            continue
        if word == "end":
            if len(scopes) > 1:
                scopes.pop()
            continue
        if word == "variable":
            try:
                binders, tail = parse_binders(rest)
                scopes[-1].variables.extend(binders)
            except ValueError:
                stats.skip("unreadable variable block", f"{where}:{lineno}")
            continue
        m = _DECL_START.match(cmd)
        if m is None:
            continue
        stats.declarations += 1
        loc = f"{where}:{lineno}"
        bad = _NOT_UTF8.search(cmd)
        if bad:
            line = lineno + cmd.count("\n", 0, bad.start())
            stats.skip("not valid UTF-8", f"{loc} (byte 0x{ord(bad.group()) - 0xDC00:02x} at line {line})")
            continue
        try:
            yield from _declaration(m.group(1), m.group(2), scopes, loc, lineno, stats, source, default_name, order)
        except Exception as exc:  # a scanner bug must not stop a corpus
            stats.skip(f"unreadable declaration ({type(exc).__name__})", loc)


def _declaration(keyword, body, scopes, loc, lineno, stats, source, default_name, order):
    body = body.strip()
    if keyword == "example":
        name = f"example@{loc}"
        sig = body
    else:
        m = re.match(r"^([^\s(\[{⦃:]+)(.*)$", body, re.S)
        if m is None:
            stats.skip("declaration without a name", loc)
            return
        name, sig = m.group(1), m.group(2)
    assign = find_top_level(sig, ":=")
    if assign < 0:
        stats.skip("unbalanced brackets in statement" if bracket_balance(sig) else "no ':=' (pattern-matching or missing proof)", loc)
        return
    header, proof = sig[:assign], sig[assign + 2 :]
    try:
        binders, tail = parse_binders(header)
    except ValueError:
        stats.skip("unbalanced brackets in statement", loc)
        return
    tail = tail.strip()
    if not tail.startswith(":"):
        stats.skip("statement without ': type'", loc)
        return
    statement = tail[1:].strip()
    proof = proof.lstrip()
    if not re.match(r"by(\s|$)", proof):
        stats.skip("term-mode proof", loc)
        return
    block = proof[2:]
    end = _END_OF_TACTICS.search(block)
    if end is not None:
        block = block[: end.start()]
    steps, reason = tactic_steps(block, order)
    if reason:
        stats.skip(reason, loc)
        return
    variables = [v for s in scopes for v in s.variables]
    own = {n for b in binders for n in b.names}  # a binder of the theorem shadows a variable
    state = render_state(select_variables(variables, header, shadowed=own) + binders, statement)
    namespace = ".".join(s.name for s in scopes if s.kind == "namespace" and s.name)
    if name.startswith("_root_."):
        full = name[len("_root_."):]
    elif keyword == "example":
        full = name
    else:
        full = f"{namespace}.{name}" if namespace else name
    if default_name and keyword == "example":
        full = default_name
    stats.used += 1
    for rec in iter_step_records(steps, state, full, source, file_line=loc):
        stats.records += 1
        yield rec


def iter_source_records(path: str | os.PathLike, stats: SourceStats | None = None,
                        source: str | None = None, order: str = "leandojo") -> Iterator[dict]:
    """Records from a folder of ``.lean`` files, one ``.lean`` file, or a ``{name, text}`` JSONL.

    A declaration of a file, or a line of a JSONL, that is not valid UTF-8 is
    skipped and counted (with where), the rest is read; a byte-order mark at
    the start of a file is ignored.
    """
    stats = stats if stats is not None else SourceStats()
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.lean") if p.is_file() and ".lake" not in p.parts)
        if not files:
            raise FileNotFoundError(f"no .lean files under {path}")
        for f in files:
            yield from _scan_file(f, str(f.relative_to(path)), stats, source, order)
        return
    path = check_input_file(path, "Lean source")
    if path.suffix == ".lean":
        yield from _scan_file(path, str(path), stats, source, order)
        return
    stats.files += 1
    for lineno, line, problem in iter_text_lines(path):
        if line is not None and not line.strip():
            continue
        where = f"{path}:{lineno}"
        if problem:
            stats.declarations += 1
            stats.skip("not valid UTF-8", where)
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            stats.declarations += 1
            stats.skip(f"not valid JSON ({exc.msg})", f"{where}, column {exc.colno}")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            stats.declarations += 1
            stats.skip("needs a string 'text'", where)
            continue
        name = obj.get("name") if isinstance(obj.get("name"), str) else None
        yield from scan_lean_text(obj["text"], where, stats, source, default_name=name, order=order)


def _scan_file(path: Path, where: str, stats: SourceStats, source: str | None, order: str) -> Iterator[dict]:
    stats.files += 1
    try:
        # Bytes that are not UTF-8 are kept as lone surrogates: the declarations that hold one are skipped and
        # counted with their line (scan_lean_text), the others are read.
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    except OSError as exc:
        stats.skip(f"unreadable file ({type(exc).__name__})", where)
        return
    yield from scan_lean_text(text, where, stats, source, order=order)


_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, decoded with errors="surrogateescape"
