"""Lean declarations as text: a statement's binders, the state Lean shows at its start, its proof block.

What a ``theorem``/``lemma``/``example`` declaration says, read without Lean:

- :func:`parse_binders` and :func:`render_state`: the leading binders of a
  signature and the initial proof state Lean would print for them (binders as
  hypotheses, then ``⊢`` type, every type written by
  :func:`leanprogress.lean.expr.render_expr`);
- :func:`select_variables`: the ``variable``\\ s Lean includes in a statement;
- :func:`proof_block`: the tactic block of a declaration in a whole file;
- :func:`statement_of`: a statement without its ``:= by sorry``, for a Lean
  process to prove;
- :func:`theorem_name` and :func:`named_statement`: the name a statement
  declares (an ``example`` gets one), so that Lean can be asked about it;
- :func:`written_proof`: the proof of a declaration as written (comments
  kept), from a whole-file answer of a prover.

Example:
    >>> binders, rest = parse_binders("(n : ℕ) (h : 0 < n) : n ≠ 0")
    >>> render_state(binders, rest.lstrip(": "))
    'n : ℕ\\nh : 0 < n\\n⊢ n ≠ 0'
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .expr import LeanSyntaxError, render_expr
from .syntax import find_top_level, strip_comments

BOM = "\ufeff"
_OPEN = {"(": ")", "{": "}", "[": "]", "⦃": "⦄"}
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
_STARRED = re.compile(r"\b(Type|Sort)\*")
_DECL_RE = r"(?:theorem|lemma|example)"
_DECLARATION = re.compile(rf"(?m)^[ \t]*(?:@\[[^\]]*\][ \t\n]*)*(?:(?:private|protected|noncomputable|nonrec)\s+)*"
                          rf"{_DECL_RE}(?![\w'])(?:[ \t]+(?P<name>[^\s:({{\[⦃]+))?")


@dataclass
class Binder:
    names: list[str]
    type: str
    kind: str  # explicit, implicit, strict, instance


def parse_binders(text: str) -> tuple[list[Binder], str]:
    """Leading bracketed binders of a signature, and what follows them."""
    binders: list[Binder] = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text) or text[i] not in _OPEN:
            return binders, text[i:]
        opener = text[i]
        double = opener == "{" and text.startswith("{{", i)
        depth, j = 0, i
        while j < len(text):
            c = text[j]
            if c in "([{⟨⦃":
                depth += 1
            elif c in ")]}⟩⦄":
                depth -= 1
                if depth == 0:
                    break
            j += 1
        if j >= len(text):
            raise ValueError("unbalanced binder brackets")
        inner = text[i + (2 if double else 1) : j - (1 if double else 0)].strip()
        kind = {"(": "explicit", "{": "strict" if double else "implicit", "⦃": "strict", "[": "instance"}[opener]
        colon = find_top_level(inner, ":")
        if kind == "instance":
            if colon >= 0 and re.fullmatch(r"[\w✝'.]+", inner[:colon].strip()):
                binders.append(Binder([inner[:colon].strip()], inner[colon + 1 :].strip(), kind))
            else:
                binders.append(Binder([], inner, kind))
        elif colon < 0:
            binders.append(Binder(inner.split(), "_", kind))  # `(x)`: type left to inference
        else:
            default = find_top_level(inner, ":=", colon)
            type_ = inner[colon + 1 : default if default >= 0 else None].strip()
            binders.append(Binder(inner[:colon].split(), type_, kind))
        i = j + 1


def render_state(binders: list[Binder], statement: str, lean_printing: bool = True) -> str:
    """The initial proof state Lean would print for these binders and statement.

    Binders become hypotheses (consecutive names of one type share a line),
    anonymous instances are ``inst✝¹``, ``inst✝`` (numbered from the last), a
    name bound again hides the earlier one as ``h✝`` (``h✝¹``, ... further
    back), and, with ``lean_printing``, every type and the target are written
    as Lean prints them (:func:`leanprogress.lean.expr.render_expr`).
    """
    universe = iter(range(1, 1000))

    def fix(t: str) -> str:
        return _STARRED.sub(lambda m: f"{m.group(1)} u_{next(universe)}", " ".join(t.split()))

    types: dict[str, str] = {}

    def render(t: str) -> str:
        if not lean_printing:
            return t
        try:
            return render_expr(t, types)
        except (LeanSyntaxError, RecursionError):
            return t
        except Exception:  # noqa: BLE001 - a gap in the printer keeps the text as written
            return t

    entries: list[list] = []  # [name, type, kind]
    n_inst = sum(1 for b in binders if b.kind == "instance" and not b.names)
    seen_inst = 0
    for b in binders:
        type_ = fix(b.type)
        shown = render(type_)
        if b.kind == "instance" and not b.names:
            seen_inst += 1
            k = n_inst - seen_inst
            entries.append(["inst✝" + (str(k).translate(_SUPERSCRIPTS) if k else ""), shown, b.kind])
            continue
        for name in b.names:
            entries.append([name, shown, b.kind])
            types[name] = type_
    # A name bound again hides the earlier binding, as Lean shows it: h✝ (the latest hidden), h✝¹, ...
    hidden: dict[str, int] = {}
    later: set[str] = set()
    for i in reversed(range(len(entries))):
        name = entries[i][0]
        if name == "_" or name in later:
            base = "x" if name == "_" else name
            k = hidden.get(base, 0)
            hidden[base] = k + 1
            entries[i][0] = base + "✝" + (str(k).translate(_SUPERSCRIPTS) if k else "")
            if name != "_":  # the hypotheses up to the next binding of the name mean the hidden one
                word = re.compile(rf"(?<![\w.'✝]){re.escape(name)}(?![\w'✝])")
                for later_entry in entries[i + 1 :]:
                    if later_entry[0] == name:
                        break
                    later_entry[1] = word.sub(entries[i][0], later_entry[1])
        later.add(name)
    lines: list[tuple[list[str], str]] = []
    for name, type_, kind in entries:
        if lines and lines[-1][1] == type_ and kind != "instance" and not lines[-1][0][-1].startswith("inst✝"):
            lines[-1][0].append(name)
        else:
            lines.append(([name], type_))
    hyps = [f"{' '.join(n)} : {t}" for n, t in lines]
    return "\n".join(hyps + [f"⊢ {render(fix(statement))}"])


def select_variables(variables: list[Binder], header: str, shadowed: set[str] = frozenset()) -> list[Binder]:
    """The variables Lean would include: those the statement mentions, what their
    types mention in turn, and instance variables about included names."""

    def words(text: str) -> set[str]:
        return set(re.findall(r"[\w'.✝]+", text))

    single = [Binder([n], v.type, v.kind) for v in variables for n in v.names]
    wanted, chosen = words(header), set()
    changed = True
    while changed:
        changed = False
        for i, v in enumerate(single):
            if i not in chosen and v.kind != "instance" and v.names[0] in wanted and v.names[0] not in shadowed:
                chosen.add(i)
                wanted |= words(v.type)
                changed = True
    names = {single[i].names[0] for i in chosen}
    keep = iter(single)
    out = []
    for v in variables:  # source order, each name on its own
        if v.names:
            for _ in v.names:
                b = next(keep)
                i = single.index(b)
                if i in chosen or (b.kind == "instance" and words(b.type) & names):
                    out.append(b)
        elif words(v.type) & names:
            out.append(v)
    return out


def proof_block(proof: str, name: str | None = None) -> str | None:
    """The tactic block of a proof text (after ``by``), or None for a term-mode proof.

    ``proof`` may be a bare tactic block (``by`` optional) or a whole Lean
    file with imports and comments; then the declaration named ``name`` (or
    the first theorem) is used.
    """
    text = strip_comments(proof.lstrip(BOM))
    decl = None
    if name:
        decl = re.search(rf"^[ \t]*(?:@\[[^\]]*\][ \t\n]*)*(?:private |protected )?{_DECL_RE}\s+{re.escape(name)}(?=[\s:({{\[⦃])",
                         text, re.M)
    if decl is None:
        decl = re.search(rf"^[ \t]*(?:@\[[^\]]*\][ \t\n]*)*(?:private |protected )?{_DECL_RE}\b", text, re.M)
    if decl is None:
        stripped = text.strip()
        return stripped[2:] if stripped.startswith("by") else stripped
    assign = find_top_level(text, ":=", decl.end())
    if assign < 0:
        return None
    body = text[assign + 2 :]
    stripped = body.lstrip()
    if not re.match(r"by(\s|$)", stripped):
        return None
    body = stripped[2:]
    # The declaration ends where a new top-level command starts.
    end = re.search(r"^(?=\S)(?!\|)", body, re.M)
    if end is not None and end.start() > 0:
        body = body[: end.start()]
    return body



# The tail a statement may carry for a Lean process: `:= by sorry`, `:= sorry`, `:= by` or `:=`, with any
# whitespace (line breaks included) between its words; matched on the text without comments.
_SORRY_TAIL = re.compile(r":=\s*(?:by(?![\w'?!])\s*)?(?:sorry(?![\w'?!]))?\s*")


def statement_of(theorem: str) -> str:
    """A theorem statement without a trailing ``:= by sorry`` / ``:= sorry`` / ``:= by`` / ``:=``.

    The tail is found whatever the whitespace between its words (``:= by\n  sorry``, as a file writes it) and
    with comments in or after it; the statement itself is returned as written, comments included.

    Example:
        >>> statement_of("theorem t (n : ℕ) : n + 0 = n := by sorry")
        'theorem t (n : ℕ) : n + 0 = n'
        >>> statement_of("theorem t (n : ℕ) :\n    n + 0 = n := by\n  sorry  -- to do\n")
        'theorem t (n : ℕ) :\n    n + 0 = n'
    """
    statement = _without_trailing_comments(theorem.strip())
    whole = strip_comments(statement)
    # From the last `:=` back: the first one whose rest is only the tail, and that is not inside a comment or
    # a string (cutting there must not change what the comment scan sees).
    for m in reversed(list(re.finditer(":=", statement))):
        head, tail = statement[: m.start()], statement[m.start():]
        if not head.strip() or not _SORRY_TAIL.fullmatch(strip_comments(tail)):
            continue
        if strip_comments(head) + strip_comments(tail) == whole:
            return _without_trailing_comments(head.rstrip())
    return statement


def _without_trailing_comments(text: str) -> str:
    """``text`` without the comments at its end: a caller appends ``:= by ...``, which a last ``-- ...`` would
    swallow."""
    whole = strip_comments(text)
    for m in re.finditer(r"--|/-", text):
        head, rest = text[: m.start()], text[m.start():]
        if not strip_comments(rest).strip() and strip_comments(head) + strip_comments(rest) == whole:
            return head.rstrip()
    return text


_NAMED = re.compile(r"^(?P<head>\s*(?:@\[[^\]]*\]\s*)*(?:(?:private|protected|noncomputable|nonrec)\s+)*)"
                    r"(?P<kw>theorem|lemma|example)(?![\w'])(?P<name>[ \t]+[^\s:({\[⦃]+)?")


def theorem_name(statement: str) -> str | None:
    """The name a ``theorem``/``lemma`` statement declares (None for an ``example`` or anything else).

    Example:
        >>> theorem_name("theorem add_zero' (n : ℕ) : n + 0 = n"), theorem_name("example : 1 = 1")
        ("add_zero'", None)
    """
    m = _NAMED.match(strip_comments(statement))
    return m.group("name").strip() if m and m.group("kw") != "example" and m.group("name") else None


def named_statement(statement: str, name: str = "leanprogress_checked") -> tuple[str, str]:
    """(statement, its name): an ``example`` becomes ``theorem <name>``, so that ``#print axioms`` can name it.

    Raises:
        ValueError: the text is not a ``theorem``, ``lemma`` or ``example`` statement.

    Example:
        >>> named_statement("example (n : ℕ) : n + 0 = n")
        ('theorem leanprogress_checked (n : ℕ) : n + 0 = n', 'leanprogress_checked')
    """
    found = theorem_name(statement)
    if found:
        return statement, found
    m = _NAMED.match(statement)
    if m is None or m.group("kw") != "example":
        raise ValueError(f"not a theorem, lemma or example statement: {statement[:200]!r}")
    return statement[: m.start("kw")] + f"theorem {name}" + statement[m.end("kw"):], name


@dataclass(frozen=True)
class WrittenProof:
    """A declaration's proof as written in a text (see :func:`written_proof`).

    Attributes:
        proof: the proof, comments kept, ``by`` included (``exact (<term>)`` for a term-mode proof).
        name: the declaration's name (None for an ``example``).
        outside: the rest of the text: every line but the declaration's (imports, other declarations, prose).
    """

    proof: str
    name: str | None
    outside: str


def written_proof(text: str, name: str | None = None) -> WrittenProof | None:
    """The proof of the declaration in ``text`` named ``name`` (else the last one) as written, comments kept (a
    checker reads what Lean would); None when ``text`` holds no ``theorem``/``lemma``/``example``, or none named
    ``name``.

    Example:
        >>> written_proof("import Mathlib\\n\\ntheorem t (n : ℕ) : n + 0 = n := by\\n  simp -- done\\n").proof
        ' by\\n  simp -- done\\n'
    """
    plain = strip_comments(text)  # same lines as `text`: block comments keep their line breaks
    found = [m for m in _DECLARATION.finditer(plain) if not name or m.group("name") == name]
    if not found:
        return None
    decl = found[-1]
    lines = text.split("\n")
    first_line = plain.count("\n", 0, decl.start())
    assign = find_top_level(plain, ":=", decl.end())
    if assign < 0:
        return WrittenProof("", decl.group("name"), "\n".join(lines[:first_line]))
    line = plain.count("\n", 0, assign)
    k = plain[plain.rfind("\n", 0, assign) + 1:assign].count(":=")  # the k-th `:=` of its line
    m = list(re.finditer(r":=", lines[line]))
    head = lines[line][m[k].end():] if len(m) > k else lines[line]
    end = re.search(r"^(?=\S)(?!\|)", plain[plain.find("\n", assign) + 1:] if "\n" in plain[assign:] else "", re.M)
    last = line + (plain[assign:].count("\n") if end is None else
                   plain[assign:plain.find("\n", assign) + 1 + end.start()].count("\n") - 1)
    body = "\n".join([head] + lines[line + 1:last + 1])
    stripped = body.strip()
    if stripped and not re.match(r"by(?![\w'!?])", stripped):
        body = f"exact ({stripped})"
    return WrittenProof(body, decl.group("name"), "\n".join(lines[:first_line] + lines[last + 1:]))
