"""Lean 4 terms as text: a small parser and a printer that writes them as Lean's pretty-printer does.

No Lean runs here. The parser reads the notation of competition mathematics
and everyday Mathlib statements (arithmetic, relations, logic, binders, big
operators, sets, absolute values, floors, coercions, application, field
access); anything else raises :class:`LeanSyntaxError` and callers keep the
text as it was.

The printer has two modes:

``lean`` (:func:`render_expr`, used to render a statement as the state Lean
shows, see :mod:`leanprogress.lean.declaration`): writes what Lean 4 with
Mathlib prints where the text allows it:

- notation: ``Real.sqrt x`` -> ``√x``, ``abs x`` -> ``|x|``, ``Int.floor x`` ->
  ``⌊x⌋`` (``Int.ceil``, ``Nat.floor``, ``Nat.ceil`` likewise), ``Real.pi`` ->
  ``π``, ``Real.exp x`` -> ``rexp x``, ``Nat.factorial n`` -> ``n !``,
  ``∑ x in s, f`` -> ``∑ x ∈ s, f``, ``fun x ↦ e``/``λ x, e`` -> ``fun x => e``,
  ``(· ≠ ·)`` -> ``fun x x_1 => x ≠ x_1``, ASCII operators to their symbols;
- generalized field notation for known functions: ``Real.log x`` -> ``x.log``,
  ``Nat.Prime (a + b)`` -> ``(a + b).Prime``, ``Finset.card s`` -> ``s.card``
  (not on numerals: ``Nat.gcd 6 4`` stays);
- binders: ``∀`` shows binder types, grouped (``∀ (x y : ℝ), P``), inferred
  from the context when the source leaves them out (argument of a function
  variable, other leaves of an arithmetic expression, else ``ℕ`` next to
  numerals); ``∃``, ``fun``, set-builder and big-operator binders show none;
  ``∀ x, x > 0 → P`` is ``∀ x > 0, P``; nested ``∀`` merge; an anonymous or
  unused typed binder is an arrow;
- numerals lose their type ascription (``(8 : ℝ)`` -> ``8``) and coercion
  arrows appear where Lean's ``binop%`` elaborator puts them: in an
  arithmetic expression or relation, leaves of a smaller number type than the
  largest one (ℕ < ℤ < ℚ < ℝ < ℂ) get ``↑`` (``(n : ℝ) / (n + k)`` with ``n k :
  ℕ`` -> ``↑n / (↑n + ↑k)``), and so do arguments of a known function whose
  domain is larger;
- parentheses only where precedence needs them.

``canonical`` (:func:`canonical_expr`, used by
:func:`leanprogress.lean.canonical.canonical_state`): the same, then drops
what the state shows again, so that Lean's printing and a rendering of the
same statement meet without merging statements that mean different things: a
coercion arrow or ascription goes only where the types in scope decide it,
``∀`` keeps number binder types, other binder types go (see :class:`_Canon`).

Example:
    >>> render_expr("(∑ k in Finset.range n, abs (a k)) = 19 + Real.sqrt 2")
    '∑ k ∈ Finset.range n, |a k| = 19 + √2'
    >>> canonical_expr("∀ (n : ℕ), ↑n / (↑n + 1) < 1")
    '∀ (n : ℕ), ↑n / (↑n + 1) < 1'
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, Iterable

MAX = 1024
LEAD = 1022
INF = 10**6


class LeanSyntaxError(ValueError):
    """Text the parser does not read (callers keep the text unchanged)."""


# ---------------------------------------------------------------- tokens
_IDENT_START = r"[^\W\d_λΠΣ]|_|[ℕℤℚℝℂ𝕜𝔽]"
_IDENT_CHAR = r"(?:[\w'ₐ-ₜᵢ-ᵪ!?]|✝[⁰¹²³⁴⁵⁶⁷⁸⁹]*)"
_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>\d+(?:\.\d+)?(?![\w]))
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<nnreal>ℝ≥0∞|ℝ≥0)
  | (?P<op>⁻¹'|⁻¹|//|→₀|→\+\*|→\*|→\+|≃\+\*|≃\*|≃\+|→ₗ|≃ₗ|∑'|∏'|⋂₀|⋃₀|\[MOD|\[ZMOD|\[PMOD|<;>|<->|->|<=|>=|!=|:=|=>|\|>\.|<\||\|>|\+\+|×ˢ|''|⌋₊|⌉₊|∃!|[-+*/%^=<>≤≥≠∧∨¬→↔∈∉⊆⊂⊇⊃∩∪\\∣•∘↑⇑↥√∑∏⋃⋂⨆⨅∀∃λ↦,:|⌊⌋⌈⌉‖()\[\]{}⟨⟩⦃⦄·ᶜ!$×≡▸∆⊤⊥∅∞⊔⊓])
  | (?P<sym>[○≈⟶≪≫⋖~□⊗⊕≅≃⊣⊢⇒⊨⊩∼≺≼≻≽⊑⊒⊏⊐∝∥⟂ᗮ∗⋆])
  | (?P<qm>\?_|\?[^\W\d][\w']*)
  | (?P<ident>(?:IDENT_START)(?:IDENT_CHAR)*(?:\.(?:(?:IDENT_START)(?:IDENT_CHAR)*|\d+))*)
  | (?P<proj>\.(?:(?:IDENT_START)(?:IDENT_CHAR)*|\d+))
    """.replace("IDENT_START", _IDENT_START).replace("IDENT_CHAR", _IDENT_CHAR),
    re.X,
)
_ASCII_OPS = {"->": "→", "<->": "↔", "<=": "≤", ">=": "≥", "!=": "≠", "λ": "fun", "↦": "=>", "$": "<|"}


@dataclass
class Tok:
    kind: str  # num, str, ident, op, proj, qm
    text: str
    space_before: bool


def tokenize(text: str) -> list[Tok]:
    toks: list[Tok] = []
    pos, space = 0, False
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise LeanSyntaxError(f"unexpected character {text[pos]!r}")
        kind = m.lastgroup
        value = m.group(0)
        pos = m.end()
        if kind == "ws":
            space = True
            continue
        if kind == "nnreal":
            kind = "ident"
        if kind == "sym":
            kind = "op"
            _INFIX.setdefault(value, (50, 51, 51))  # an operator without a known precedence
        if kind == "ident" and value in ("fun", "if", "then", "else", "in", "with", "at", "by", "let", "have",
                                         "show", "from", "match", "do", "sorry"):
            kind = "op"
        if kind == "ident" and value.endswith(("!", "?")) and value not in ("!", "?"):
            # `n!` is factorial notation, not a name ending in `!`
            toks.append(Tok("ident", value[:-1], space))
            toks.append(Tok("op", value[-1], False))
            space = False
            continue
        toks.append(Tok(kind, _ASCII_OPS.get(value, value) if kind == "op" else value, space))
        space = False
    return toks


# ---------------------------------------------------------------- syntax tree
@dataclass
class Node:
    pass


@dataclass
class Atom(Node):
    text: str


@dataclass
class App(Node):
    fn: Node
    args: list[Node]


@dataclass
class Proj(Node):
    base: Node
    name: str


@dataclass
class Ascr(Node):
    expr: Node
    type: Node


@dataclass
class Seq(Node):
    """``(a, b)``, ``⟨a, b⟩``, ``[a, b]``, ``{a, b}``."""

    open: str
    items: list[Node]


@dataclass
class Wrap(Node):
    """``|e|``, ``⌊e⌋``, ``⌈e⌉``, ``⌊e⌋₊``, ``⌈e⌉₊``, ``‖e‖``."""

    open: str
    inner: Node
    close: str


@dataclass
class Binop(Node):
    op: str
    left: Node
    right: Node
    tail: Node | None = None  # `[MOD n]` of `a ≡ b [MOD n]`
    tail_op: str = ""


@dataclass
class Prefix(Node):
    op: str
    arg: Node


@dataclass
class Postfix(Node):
    op: str
    arg: Node


@dataclass
class Binder:
    names: list[Node]  # Atom names, `_`, or patterns such as ⟨a, b⟩
    type: Node | None = None
    bracket: str = ""  # "", "(", "{", "⦃", "["
    pred: tuple[str, Node] | None = None  # `x > 0`, `x ∈ s`


@dataclass
class BinderExpr(Node):
    kind: str  # ∀ ∃ ∃! fun ∑ ∏ ⋃ ⋂ ⨆ ⨅
    binders: list[Binder]
    body: Node
    domain: Node | None = None  # `∑ x ∈ s, f`
    filter: Node | None = None  # `∑ x ∈ s with p x, f`


@dataclass
class SetOf(Node):
    binder: Binder
    body: Node
    sep: str = "|"  # `//` for a subtype `{ x // p }`


@dataclass
class Ite(Node):
    cond: Node
    then: Node
    other: Node


# precedence, left operand, right operand
_INFIX: dict[str, tuple[int, int, int]] = {}


def _infix(ops: Iterable[str], prec: int, assoc: str) -> None:
    for op in ops:
        _INFIX[op] = (prec, prec if assoc == "left" else prec + 1, prec if assoc == "right" else prec + 1)


_infix([":="], 1, "none")
_infix(["<|"], 10, "right")
_infix(["|>"], 10, "left")
_infix(["↔"], 20, "none")
_infix(["⟶", "≅"], 10, "right")
_infix(["≫"], 80, "right")
_infix(["→₀", "→", "≃", "→+*", "→*", "→+", "≃+*", "≃*", "≃+", "→ₗ", "≃ₗ"], 25, "right")
_infix(["∨"], 30, "right")
_infix(["∧", "×"], 35, "right")
_infix(["=", "≠", "<", ">", "≤", "≥", "∈", "∉", "⊆", "⊂", "⊇", "⊃", "∣", "≡"], 50, "none")
_infix(["+", "-", "∪", "++", "⊔"], 65, "left")
_infix(["*", "/", "%", "∩", "\\", "⊓"], 70, "left")
_infix(["•"], 73, "right")
_infix(["^", "▸"], 75, "right")
_infix(["''", "⁻¹'"], 80, "left")
_infix(["×ˢ"], 82, "right")
_infix(["∘"], 90, "right")
_infix(["∆"], 100, "left")
# prefix operator: (precedence of the node, precedence of its argument)
_PREFIX = {"⋂₀": (110, 110), "⋃₀": (110, 110), "¬": (MAX, 40), "-": (75, 75), "↑": (MAX, MAX), "⇑": (MAX, MAX),
           "↥": (MAX, MAX), "√": (MAX, MAX)}
_POSTFIX = ("⁻¹", "ᶜ", "!")
_BINDERS = ("∀", "∃", "∃!", "fun", "∑", "∏", "∑'", "∏'", "⋃", "⋂", "⨆", "⨅")
_BODY_PREC = {"∑": 67, "∏": 67, "∑'": 67, "∏'": 67}
_WRAPS = {"|": "|", "⌊": "⌋", "⌈": "⌉", "‖": "‖"}
_PRED_OPS = (">", "<", "≥", "≤", "≠", "∈", "∉", "⊆", "⊂", "⊇", "⊃")
_SHOWN_PREDS = (">", "<", "≥", "≤", "∈")  # binder predicates Lean's delaborator shows (`∀ x ≠ 0` it expands)
_CLOSERS = {")", "]", "}", "⟩", "⦄", ",", ":", "⌋", "⌉", "⌋₊", "⌉₊", "‖", "then", "else", "=>", ":=",
            "[MOD", "[ZMOD", "[PMOD", "with", "in", "<;>"}


class _Parser:
    def __init__(self, text: str):
        self.toks = tokenize(text)
        self.i = 0
        self.abs_depth = 0

    def peek(self, k: int = 0) -> Tok | None:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else None

    def at(self, *texts: str) -> bool:
        t = self.peek()
        return t is not None and t.kind in ("op", "ident") and t.text in texts

    def take(self, *texts: str) -> Tok:
        t = self.peek()
        if t is None or (texts and t.text not in texts):
            raise LeanSyntaxError(f"expected {' or '.join(texts) or 'a term'}, got {t.text if t else 'end'!r}")
        self.i += 1
        return t

    def parse(self) -> Node:
        node = self.expr(0)
        if self.peek() is not None:
            raise LeanSyntaxError(f"unexpected {self.peek().text!r}")
        return node

    # -- expressions
    def expr(self, min_prec: int) -> Node:
        left = self.leading()
        while True:
            t = self.peek()
            if t is None:
                return left
            if t.kind == "proj" and not t.space_before:
                self.i += 1
                left = Proj(left, t.text[1:])
                continue
            if t.kind == "op" and t.text in ("⁻¹", "ᶜ") and MAX >= min_prec:
                self.i += 1
                left = Postfix(t.text, left)
                continue
            if t.kind == "op" and t.text == "!" and min_prec <= MAX:
                nxt = self.peek(1)
                if nxt is None or nxt.kind == "op" and nxt.text in _CLOSERS | set(_INFIX):
                    self.i += 1
                    left = Postfix("!", left)
                    continue
            if t.kind == "op" and t.text == "|" and self.abs_depth and not self._opens_abs():
                return left  # closes |...|
            if t.kind == "op" and t.text in _INFIX:
                prec, lp, rp = _INFIX[t.text]
                if prec < min_prec:
                    return left
                self.i += 1
                right = self.expr(rp)
                node = Binop(t.text, left, right)
                if t.text == "≡" and self.at("[MOD", "[ZMOD", "[PMOD"):
                    node.tail_op = self.take().text
                    node.tail = self.expr(0)
                    self.take("]")
                left = node
                continue
            if self._starts_argument(t) and min_prec <= LEAD:
                args = []
                while (t := self.peek()) is not None and self._starts_argument(t):
                    args.append(self.argument())
                left = App(left.fn, left.args + args) if isinstance(left, App) else App(left, args)
                continue
            return left

    def _opens_abs(self) -> bool:
        """Whether the ``|`` at the cursor opens ``|x|`` (Mathlib's notation: no space after the opening bar) rather
        than closing one (no space before the closing bar)."""
        t, nxt = self.peek(), self.peek(1)
        return (t is not None and t.text == "|" and nxt is not None and not nxt.space_before
                and (self.abs_depth == 0 or t.space_before))

    def _starts_argument(self, t: Tok) -> bool:
        if t.kind in ("num", "str", "ident", "qm"):
            return True
        if t.kind != "op":
            return False
        if t.text == "|":
            return t is self.peek() and self._opens_abs()  # `f |x|`
        return t.text in ("(", "⟨", "[", "{", "⌊", "⌈", "↑", "⇑", "↥", "·", "fun", "√", "⊤", "⊥", "∅", "∞")

    def argument(self) -> Node:
        t = self.peek()
        if t.kind == "op" and t.text == "|":
            return self.leading()
        if t.kind == "op" and t.text in ("↑", "⇑", "↥", "√"):
            self.i += 1
            node = Prefix(t.text, self.argument())
        elif t.kind == "op" and t.text == "fun":
            return self.leading()
        else:
            node = self.atom()
        while (t := self.peek()) is not None and (
            (t.kind == "proj" and not t.space_before)
            or (t.kind == "op" and t.text in ("⁻¹", "ᶜ", "!") and not t.space_before)
        ):
            self.i += 1
            node = Proj(node, t.text[1:]) if t.kind == "proj" else Postfix(t.text, node)
        return node

    def leading(self) -> Node:
        t = self.peek()
        if t is None:
            raise LeanSyntaxError("expression ends early")
        if t.kind == "op":
            if t.text in _PREFIX:
                self.i += 1
                return Prefix(t.text, self.expr(_PREFIX[t.text][1]))
            if t.text in _BINDERS:
                return self.binder_expr()
            if t.text == "if":
                self.i += 1
                name = None
                if self.peek() is not None and self.peek().kind == "ident" and self.peek(1) is not None and (
                        self.peek(1).text == ":"):
                    name = self.take().text  # `if h : c then ...`
                    self.i += 1
                cond = self.expr(0)
                if name is not None:
                    cond = Ascr(Atom(name), cond)
                self.take("then")
                then = self.expr(0)
                self.take("else")
                return Ite(cond, then, self.expr(0))
            if t.text == "|":
                self.i += 1
                self.abs_depth += 1
                inner = self.expr(0)
                self.abs_depth -= 1
                self.take("|")
                return Wrap("|", inner, "|")
        return self.atom()

    def atom(self) -> Node:
        t = self.take()
        if t.kind in ("num", "str", "ident", "qm"):
            return Atom(t.text)
        if t.text in ("·", "⊤", "⊥", "∅", "∞"):
            return Atom(t.text)
        if t.text in ("⌊", "⌈", "‖"):
            saved, self.abs_depth = self.abs_depth, 0
            inner = self.expr(0)
            self.abs_depth = saved
            close = self.take(*(("⌋", "⌋₊") if t.text == "⌊" else ("⌉", "⌉₊") if t.text == "⌈" else ("‖",))).text
            return Wrap(t.text, inner, close)
        if t.text == "(":
            saved, self.abs_depth = self.abs_depth, 0
            try:
                if self.at(")"):
                    self.i += 1
                    return Seq("(", [])
                first = self.expr(0)
                if self.at(":"):
                    self.i += 1
                    typ = self.expr(0)
                    self.take(")")
                    return Ascr(first, typ)
                items = [first]
                while self.at(","):
                    self.i += 1
                    items.append(self.expr(0))
                self.take(")")
                return Seq("(", items) if len(items) > 1 else _cdot_fun(first)
            finally:
                self.abs_depth = saved
        if t.text in ("⟨", "["):
            close = "⟩" if t.text == "⟨" else "]"
            saved, self.abs_depth = self.abs_depth, 0
            items = []
            if not self.at(close):
                items.append(self.expr(0))
                while self.at(","):
                    self.i += 1
                    items.append(self.expr(0))
            self.take(close)
            self.abs_depth = saved
            return Seq(t.text, items)
        if t.text == "{":
            saved, self.abs_depth = self.abs_depth, 0
            try:
                return self.braces()
            finally:
                self.abs_depth = saved
        raise LeanSyntaxError(f"unexpected {t.text!r}")

    def braces(self) -> Node:
        if self.at("}"):
            self.i += 1
            return Seq("{", [])
        if self.peek() is None:
            raise LeanSyntaxError("unclosed {")
        if self.peek().kind == "ident" and self.peek(1) is not None and self.peek(1).text == ":=":
            fields = []
            while True:
                name = self.take().text
                self.take(":=")
                fields.append(Binop(":=", Atom(name), self.expr(0)))
                if not self.at(","):
                    break
                self.i += 1
            self.take("}")
            return Seq("{ ", fields)
        # `{x | p}`, `{x : T | p}`, `{x ∈ s | p}`, `{(a, b) | p}` or `{a, b, c}`
        start = self.i
        try:
            binder = self.set_binder()
            if self.at("|", "//"):
                sep = self.take().text
                body = self.expr(0)
                self.take("}")
                return SetOf(binder, body, sep)
        except LeanSyntaxError:
            pass
        self.i = start
        items = [self.expr(0)]
        while self.at(","):
            self.i += 1
            items.append(self.expr(0))
        self.take("}")
        return Seq("{", items)

    def set_binder(self) -> Binder:
        t = self.peek()
        if t is None or t.kind != "ident":
            name = self.atom()
            return Binder([name])
        self.i += 1
        b = Binder([Atom(t.text)])
        if self.at(":"):
            self.i += 1
            self.abs_depth += 1
            b.type = self.expr(0)
            self.abs_depth -= 1
        elif self.peek() is not None and self.peek().text in _PRED_OPS:
            op = self.take().text
            self.abs_depth += 1
            b.pred = (op, self.expr(51))
            self.abs_depth -= 1
        return b

    def binder_expr(self) -> Node:
        kind = self.take().text
        binders: list[Binder] = []
        plain: list[Node] = []
        while True:
            t = self.peek()
            if t is None:
                raise LeanSyntaxError("binder without a body")
            if t.kind == "ident" or (t.kind == "op" and t.text == "·"):
                self.i += 1
                plain.append(Atom(t.text))
            elif t.kind == "op" and t.text in ("(", "{", "⦃", "[") and not self._is_pattern():
                if plain:
                    binders.append(Binder(plain))
                    plain = []
                binders.append(self.bracket_binder())
            elif t.kind == "op" and t.text == "⟨":
                plain.append(self.atom())
            else:
                break
        if plain:
            binders.append(Binder(plain))
        if not binders:
            raise LeanSyntaxError("binder without names")
        if self.at(":"):
            self.i += 1
            if binders[-1].bracket or binders[-1].type is not None:
                raise LeanSyntaxError("type after bracketed binders")
            binders[-1].type = self.expr(26 if kind != "fun" else 0)
        domain = filt = None
        if self.peek() is not None and self.peek().text in _PRED_OPS and kind not in ("fun",):
            op = self.take().text
            bound = self.expr(51)
            if kind in ("∑", "∏") and op == "∈":
                domain = bound
            else:
                binders[-1].pred = (op, bound)
        elif self.at("in") and kind in ("∑", "∏"):
            self.i += 1
            domain = self.expr(51)
        if self.at("with") and kind in ("∑", "∏"):
            self.i += 1
            filt = self.expr(0)
        self.take("=>" if kind == "fun" else ",")
        body = self.expr(_BODY_PREC.get(kind, 0))
        return BinderExpr(kind, binders, body, domain, filt)

    def _is_pattern(self) -> bool:
        """``(a, b)`` after ``fun`` is a pattern, not a typed binder group."""
        depth = 0
        for j in range(self.i, len(self.toks)):
            s = self.toks[j].text
            if s in ("(", "{", "⦃", "[", "⟨"):
                depth += 1
            elif s in (")", "}", "⦄", "]", "⟩"):
                depth -= 1
                if depth == 0:
                    return False
            elif depth == 1 and s == ":":
                return False
            elif depth == 1 and s == ",":
                return True
        return False

    def bracket_binder(self) -> Binder:
        open_ = self.take().text
        close = {"(": ")", "{": "}", "⦃": "⦄", "[": "]"}[open_]
        if open_ == "[":
            start = self.i
            if self.peek() and self.peek().kind == "ident" and self.peek(1) and self.peek(1).text == ":":
                name = Atom(self.take().text)
                self.i += 1
                typ = self.expr(0)
                self.take(close)
                return Binder([name], typ, "[")
            self.i = start
            typ = self.expr(0)
            self.take(close)
            return Binder([], typ, "[")
        names = []
        while self.peek() is not None and (self.peek().kind == "ident" or self.peek().text == "·"):
            names.append(Atom(self.take().text))
        if not names:
            raise LeanSyntaxError("binder group without names")
        typ = None
        if self.at(":"):
            self.i += 1
            typ = self.expr(0)
        self.take(close)
        return Binder(names, typ, open_)


def _cdot_fun(node: Node) -> Node:
    """``(· ≠ ·)`` is ``fun x x_1 => x ≠ x_1``."""
    names: list[str] = []

    def sub(n: Node) -> Node:
        if isinstance(n, Atom) and n.text == "·":
            names.append("x" if not names else f"x_{len(names)}")
            return Atom(names[-1])
        return _map_children(n, sub, into_parens=False)

    body = sub(node)
    if not names:
        return node
    return BinderExpr("fun", [Binder([Atom(n) for n in names])], body)


def _map_children(n: Node, f: Callable[[Node], Node], into_parens: bool = True) -> Node:
    """``n`` with ``f`` applied to each direct child."""
    if isinstance(n, App):
        return App(f(n.fn), [f(a) for a in n.args])
    if isinstance(n, Proj):
        return Proj(f(n.base), n.name)
    if isinstance(n, Ascr):
        return Ascr(f(n.expr), n.type)
    if isinstance(n, Seq):
        return Seq(n.open, [f(a) for a in n.items]) if into_parens or n.open != "(" else n
    if isinstance(n, Wrap):
        return Wrap(n.open, f(n.inner), n.close)
    if isinstance(n, Binop):
        return Binop(n.op, f(n.left), f(n.right), f(n.tail) if n.tail else None, n.tail_op)
    if isinstance(n, Prefix):
        return Prefix(n.op, f(n.arg))
    if isinstance(n, Postfix):
        return Postfix(n.op, f(n.arg))
    if isinstance(n, BinderExpr):
        binders = [Binder(b.names, f(b.type) if b.type else None, b.bracket,
                          (b.pred[0], f(b.pred[1])) if b.pred else None) for b in n.binders]
        return BinderExpr(n.kind, binders, f(n.body), f(n.domain) if n.domain else None,
                          f(n.filter) if n.filter else None)
    if isinstance(n, SetOf):
        b = n.binder
        return SetOf(Binder(b.names, f(b.type) if b.type else None, b.bracket,
                            (b.pred[0], f(b.pred[1])) if b.pred else None), f(n.body), n.sep)
    if isinstance(n, Ite):
        return Ite(f(n.cond), f(n.then), f(n.other))
    return n


def parse_expr(text: str) -> Node:
    """The syntax tree of a term. Raises :class:`LeanSyntaxError` on text the parser does not read."""
    try:
        return _Parser(text).parse()
    except (AttributeError, IndexError, KeyError, TypeError) as exc:  # a parser gap is unreadable text
        raise LeanSyntaxError(f"unreadable term ({type(exc).__name__})") from None


# ---------------------------------------------------------------- rewriting
_NOTATION_WRAP = {"abs": ("|", "|"), "Int.floor": ("⌊", "⌋"), "Int.ceil": ("⌈", "⌉"), "Nat.floor": ("⌊", "⌋₊"),
                  "Nat.ceil": ("⌈", "⌉₊")}
_RENAMES = {"Real.pi": "π", "Real.exp": "rexp", "Real.sqrt": "√", "Nat.factorial": "!"}
# Functions Lean prints with generalized field notation (their first explicit argument has the namespace's type).
_FIELD = {
    "Real": {"log", "logb", "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh", "cot",
             "sec", "csc", "arsinh", "nnabs", "toNNReal"},
    "Nat": {"Prime", "gcd", "lcm", "sqrt", "choose", "divisors", "properDivisors", "succ", "pred", "Coprime",
            "factorization", "primeFactors", "factors", "digits", "log", "totient", "descFactorial",
            "ascFactorial", "minFac", "dist", "bodd", "div2", "size"},
    "Int": {"natAbs", "gcd", "lcm", "toNat", "sign", "emod", "ediv", "fdiv", "fmod", "natMod"},
    "Finset": {"card", "sum", "prod", "max'", "min'", "Nonempty", "toList", "max", "min"},
    "Set": {"ncard", "encard", "Finite", "Infinite", "toFinset", "Nonempty", "indicator"},
    "Polynomial": {"roots", "degree", "natDegree", "coeff", "leadingCoeff", "derivative", "Monic", "eval₂"},
    "Complex": {"re", "im", "arg", "conj"},
    "Rat": {"num", "den"},
    "Equiv": {"toFun", "invFun", "symm", "trans"},
    "List": {"sum", "prod", "length", "Nodup"},
    "Multiset": {"card", "sum", "prod"},
}
_NUMBER_TYPES = {"ℕ": 0, "Nat": 0, "ℤ": 1, "Int": 1, "ℚ": 2, "Rat": 2, "ℝ": 3, "Real": 3, "ℂ": 4, "Complex": 4}
_CANON_TYPE = {"Nat": "ℕ", "Int": "ℤ", "Rat": "ℚ", "Real": "ℝ", "Complex": "ℂ"}
# Result types of functions whose type the text does not give.
_RESULT_TYPES = {"√": "ℝ", "π": "ℝ", "Complex.I": "ℂ", "rexp": "ℝ", "⌊⌋": "ℤ", "⌈⌉": "ℤ", "⌊⌋₊": "ℕ", "⌈⌉₊": "ℕ"}
_RESULT_BY_NAMESPACE = {"Real": "ℝ", "Nat": "ℕ", "Int": "ℤ"}
_ARITH = {"+", "-", "*", "/", "%"}
_RELATIONS = {"=", "≠", "<", ">", "≤", "≥"}


def _is_numeral(n: Node) -> bool:
    return isinstance(n, Atom) and n.text[:1].isdigit()


def _notation(n: Node) -> Node:
    """Lean's notations and field notation, bottom-up."""
    n = _map_children(n, _notation)
    if isinstance(n, BinderExpr) and n.kind in ("∑", "∏") and n.domain is not None:
        for b in n.binders:
            b.type = None  # `∑ k : ℤ in s, f` prints as `∑ k ∈ s, f`
    if isinstance(n, Binop) and n.op == "<|":
        return _apply(n.left, [n.right])
    if isinstance(n, Binop) and n.op == "|>":
        return _apply(n.right, [n.left])
    if isinstance(n, Atom) and n.text in ("Real.pi",):
        return Atom("π")
    if isinstance(n, App) and isinstance(n.fn, Atom):
        name, args = n.fn.text, n.args
        if name in _NOTATION_WRAP and args:
            o, c = _NOTATION_WRAP[name]
            return _apply(Wrap(o, args[0], c), args[1:])
        if name == "Real.sqrt" and args:
            return _apply(Prefix("√", args[0]), args[1:])
        if name == "Nat.factorial" and args:
            return _apply(Postfix("!", args[0]), args[1:])
        if name == "Real.exp":
            return App(Atom("rexp"), args)
        if name == "Equiv" and len(args) == 2:
            return Binop("≃", args[0], args[1])
        ns, _, fn = name.rpartition(".")
        if fn in _FIELD.get(ns, ()) and args and not _is_numeral(args[0]):
            return _apply(Proj(args[0], fn), args[1:])
    return n


def _apply(fn: Node, args: list[Node]) -> Node:
    if not args:
        return fn
    return App(fn.fn, fn.args + args) if isinstance(fn, App) else App(fn, args)


def _binder_preds(n: Node) -> Node:
    """``∀ x, x > 0 → P`` prints as ``∀ x > 0, P``; ``∃ x, x > 0 ∧ P`` as ``∃ x > 0, P``; nested ``∀`` merge."""
    n = _map_children(n, _binder_preds)
    if not isinstance(n, BinderExpr) or n.kind not in ("∀", "∃"):
        return n
    joint = "→" if n.kind == "∀" else "∧"
    for k, b in enumerate(n.binders):
        if b.pred is not None and b.pred[0] not in _SHOWN_PREDS and len(b.names) == 1:
            # `∀ x ≠ 0, P` is shown as `∀ x, x ≠ 0 → P`
            rest = n.binders[k + 1 :]
            body = BinderExpr(n.kind, rest, n.body) if rest else n.body
            body = Binop(joint, Binop(b.pred[0], b.names[0], b.pred[1]), body)
            return _binder_preds(BinderExpr(n.kind, n.binders[:k] + [Binder(b.names, b.type, b.bracket)], body))
    if n.kind == "∀" and isinstance(n.body, BinderExpr) and n.body.kind == "∀" and not any(
            b.pred for b in n.binders + n.body.binders):
        n = BinderExpr("∀", n.binders + n.body.binders, n.body.body)
    last = n.binders[-1]
    if (len(last.names) == 1 and last.pred is None and last.bracket in ("", "(") and isinstance(n.body, Binop)
            and n.body.op == joint and isinstance(n.body.left, Binop) and n.body.left.op in _SHOWN_PREDS
            and n.body.left.left == last.names[0] and len(n.binders) == 1):
        return BinderExpr(n.kind, [Binder(last.names, last.type, "", (n.body.left.op, n.body.left.right))],
                          n.body.right)
    return n


@dataclass
class _Scope:
    types: dict[str, Node] = field(default_factory=dict)

    def child(self, extra: dict[str, Node]) -> "_Scope":
        return _Scope({**self.types, **extra})


def _type_key(t: Node | None) -> str | None:
    if isinstance(t, Atom):
        return _CANON_TYPE.get(t.text, t.text)
    return None


def _rank(t: Node | None) -> int | None:
    key = _type_key(t)
    return _NUMBER_TYPES.get(key) if key else None


def _fun_domains(t: Node | None) -> tuple[list[Node], Node | None]:
    """``A → B → C`` as ``([A, B], C)``."""
    doms = []
    while isinstance(t, Binop) and t.op == "→":
        doms.append(t.left)
        t = t.right
    return doms, t


class _Types:
    """The little type inference the renderer needs: number types of leaves and bound variables."""

    def __init__(self, scope: dict[str, Node]):
        self.root = _Scope(dict(scope))

    def of(self, n: Node, scope: _Scope) -> Node | None:
        if isinstance(n, Atom):
            if n.text in scope.types:
                return scope.types[n.text]
            return Atom(_RESULT_TYPES[n.text]) if n.text in _RESULT_TYPES else None
        if isinstance(n, Ascr):
            return n.type
        if isinstance(n, Prefix):
            if n.op == "√":
                return Atom("ℝ")
            if n.op == "-":
                return self.of(n.arg, scope)
            return None
        if isinstance(n, Wrap):
            key = n.open + n.close
            return Atom(_RESULT_TYPES[key]) if key in _RESULT_TYPES else self.of(n.inner, scope)
        if isinstance(n, Postfix) and n.op == "!":
            return Atom("ℕ")
        if isinstance(n, Binop) and n.op in _ARITH | {"^"}:
            if n.op == "^":
                return self.of(n.left, scope)
            return self._max(self.of(n.left, scope), self.of(n.right, scope))
        if isinstance(n, BinderExpr) and n.kind in ("∑", "∏"):
            return self.of(n.body, self._bind(n, scope))
        if isinstance(n, App):
            if isinstance(n.fn, Atom):
                t = scope.types.get(n.fn.text)
                if t is not None:
                    doms, cod = _fun_domains(t)
                    return cod if len(doms) == len(n.args) else None
                ns = n.fn.text.rpartition(".")[0]
                if n.fn.text == "rexp":
                    return Atom("ℝ")
                if ns in _RESULT_BY_NAMESPACE and n.fn.text.split(".")[-1][:1].islower():
                    return Atom(_RESULT_BY_NAMESPACE[ns])
            return None
        if isinstance(n, Proj):
            base = self.of(n.base, scope)
            if isinstance(base, Binop) and base.op == "≃" and n.name in ("toFun", "invFun", "1", "2"):
                a, b = (base.left, base.right) if n.name in ("toFun", "1") else (base.right, base.left)
                return Binop("→", a, b)
            if n.name in ("card", "natAbs", "den", "toNat") or (n.name in ("gcd", "lcm") and _rank(base) == 0):
                return Atom("ℕ")
            if n.name == "num":
                return Atom("ℤ")
            if _type_key(base) == "ℝ" and n.name in _FIELD["Real"]:
                return Atom("ℝ")
            return None
        return None

    @staticmethod
    def _max(a: Node | None, b: Node | None) -> Node | None:
        ra, rb = _rank(a), _rank(b)
        if ra is None:
            return b if rb is not None else None
        if rb is None:
            return a
        return a if ra >= rb else b

    def _bind(self, n: BinderExpr, scope: _Scope) -> _Scope:
        extra: dict[str, Node] = {}
        for b in n.binders:
            t = b.type
            if t is None and n.domain is not None:
                t = self._element_type(n.domain, scope)
            if t is None and b.pred is not None:
                t = self.of(b.pred[1], scope) if b.pred[0] not in ("∈", "∉", "⊆", "⊂") else None
            if t is None:
                t = self._infer(b, n, scope)
            for name in b.names:
                if isinstance(name, Atom) and t is not None:
                    extra[name.text] = t
                    if n.kind == "∀" and b.type is None and b.pred is None:
                        b.type = t  # shown, as Lean shows ∀ binder types
        return scope.child(extra)

    def _element_type(self, domain: Node, scope: _Scope) -> Node | None:
        if isinstance(domain, App) and isinstance(domain.fn, Atom) and domain.fn.text.startswith("Finset."):
            kinds = {"Finset.range": "ℕ"}
            if domain.fn.text in kinds:
                return Atom(kinds[domain.fn.text])
            if domain.fn.text in ("Finset.Icc", "Finset.Ico", "Finset.Ioc", "Finset.Ioo", "Finset.Iic", "Finset.Iio"):
                for a in domain.args:
                    t = self.of(a, scope)
                    if t is not None:
                        return t
                return Atom("ℕ")
        return None

    def _infer(self, b: Binder, n: BinderExpr, scope: _Scope) -> Node | None:
        """The type of an untyped ∀ binder from how the body uses it (see the module docstring)."""
        if n.kind != "∀":
            return None
        names = {x.text for x in b.names if isinstance(x, Atom)}
        found: list[Node] = []
        numeric = []

        def visit(m: Node, sc: _Scope) -> None:
            fn_type = self.of(m.fn, sc) if isinstance(m, App) else None
            if fn_type is not None:
                doms, _ = _fun_domains(fn_type)
                for dom, arg in zip(doms, m.args):
                    if _leaves_mention(arg, names):
                        found.append(dom)
            if isinstance(m, Binop) and m.op in _ARITH | _RELATIONS:
                leaves = _arith_leaves(m)
                if any(isinstance(l, Atom) and l.text in names for l in leaves):
                    for l in leaves:
                        if not (isinstance(l, Atom) and l.text in names):
                            t = self.of(l, sc)
                            if t is not None:
                                found.append(t)
                            elif _is_numeral(l):
                                numeric.append(l)
            for c in _children(m):
                visit(c, sc)

        visit(n.body, scope.child({}))
        ranked = [t for t in found if _rank(t) is not None]
        if ranked:
            return max(ranked, key=_rank)
        if found:
            return found[0]
        return Atom("ℕ") if numeric else None


def _children(n: Node) -> list[Node]:
    out: list[Node] = []
    _map_children(n, lambda c: (out.append(c), c)[1])
    return out


def _leaves_mention(n: Node, names: set[str]) -> bool:
    if isinstance(n, Atom):
        return n.text in names
    if isinstance(n, Binop) and n.op in _ARITH:
        return any(_leaves_mention(l, names) for l in _arith_leaves(n))
    return False


def _arith_leaves(n: Node) -> list[Node]:
    """Leaves of the ``binop%`` tree rooted at ``n`` (``^`` contributes only its base)."""
    if isinstance(n, Binop) and n.op in _ARITH | _RELATIONS:
        return _arith_leaves(n.left) + _arith_leaves(n.right)
    if isinstance(n, Binop) and n.op == "^":
        return _arith_leaves(n.left)
    if isinstance(n, Prefix) and n.op == "-":
        return _arith_leaves(n.arg)
    return [n]


def _coerce(n: Node, types: _Types, scope: _Scope, target: Node | None = None) -> Node:
    """Insert ``↑`` where Lean's elaborator would, drop numeral ascriptions, show ∀ binder types."""
    if isinstance(n, BinderExpr):
        inner = types._bind(n, scope)
        binders = [Binder(b.names, _coerce(b.type, types, scope) if b.type else None, b.bracket,
                          (b.pred[0], _coerce(b.pred[1], types, scope)) if b.pred else None) for b in n.binders]
        return BinderExpr(n.kind, binders, _coerce(n.body, types, inner),
                          _coerce(n.domain, types, scope) if n.domain else None,
                          _coerce(n.filter, types, inner) if n.filter else None)
    if isinstance(n, SetOf):
        t = n.binder.type
        extra = {x.text: t for x in n.binder.names if isinstance(x, Atom) and t is not None}
        return SetOf(n.binder, _coerce(n.body, types, scope.child(extra)), n.sep)
    if isinstance(n, Binop) and (n.op in _ARITH or n.op in _RELATIONS):
        leaves = _arith_leaves(n)
        top = target
        for leaf in leaves:
            top = types._max(top, types.of(leaf, scope))
        return _coerce_tree(n, types, scope, top)
    if isinstance(n, Ascr):
        if _is_numeral(n.expr):
            return n.expr
        inner_t = types.of(n.expr, scope)
        inner = _coerce(n.expr, types, scope, target=n.type)
        if isinstance(n.expr, Binop) and n.expr.op in _ARITH:
            return inner  # `(u + v : ℚ)`: binop% puts the coercions on the leaves
        if _rank(inner_t) is not None and _rank(n.type) is not None and _rank(inner_t) < _rank(n.type):
            return Prefix("↑", inner)
        return inner
    if (isinstance(n, App) and isinstance(n.fn, Atom) and n.fn.text in ("Fintype", "Finite", "Infinite")
            and len(n.args) == 1 and _is_set(n.args[0], scope)):
        return App(n.fn, [Prefix("↑", _coerce(n.args[0], types, scope))])  # a set used as a type
    if isinstance(n, Proj) and n.name in ("1", "2"):
        base_t = types.of(n.base, scope)
        if isinstance(base_t, Binop) and base_t.op == "≃":  # Lean names the fields of an equivalence
            return Proj(_coerce(n.base, types, scope), "toFun" if n.name == "1" else "invFun")
    if isinstance(n, App) and (isinstance(n.fn, Atom) and n.fn.text in scope.types or isinstance(n.fn, Proj)) and (
            isinstance(types.of(n.fn, scope), Binop)):
        doms, _ = _fun_domains(types.of(n.fn, scope))
        fn = _coerce(n.fn, types, scope)
        args = []
        for i, a in enumerate(n.args):
            dom = doms[i] if i < len(doms) else None
            a2 = _coerce(a, types, scope, target=dom)
            if dom is not None and _needs_up(types.of(a, scope), dom) and not isinstance(a2, Prefix):
                a2 = Prefix("↑", a2)
            args.append(a2)
        return App(fn, args)
    if isinstance(n, (App, Proj)) and _calls_real(n):
        # Real functions take reals: a smaller number type gets ↑
        fn_args = n.args if isinstance(n, App) else [n.base]
        new = []
        for a in fn_args:
            a2 = _coerce(a, types, scope, target=Atom("ℝ"))
            if _needs_up(types.of(a, scope), Atom("ℝ")) and not isinstance(a2, Prefix):
                a2 = Prefix("↑", a2)
            new.append(a2)
        return App(n.fn, new) if isinstance(n, App) else Proj(new[0], n.name)
    if isinstance(n, Prefix) and n.op == "√":
        a2 = _coerce(n.arg, types, scope, target=Atom("ℝ"))
        if _needs_up(types.of(n.arg, scope), Atom("ℝ")) and not isinstance(a2, Prefix):
            a2 = Prefix("↑", a2)
        return Prefix("√", a2)
    return _map_children(n, lambda c: _coerce(c, types, scope))


def _is_set(n: Node, scope: _Scope) -> bool:
    if isinstance(n, Binop) and n.op in ("''", "⁻¹'", "∩", "∪", "\\"):
        return True
    if isinstance(n, SetOf):
        return True
    if isinstance(n, Atom) and n.text in scope.types:
        t = scope.types[n.text]
        return isinstance(t, App) and isinstance(t.fn, Atom) and t.fn.text == "Set"
    return False


def _split_projections(n: Node, names: set[str]) -> Node:
    """``σ.1`` lexes as one name; when ``σ`` is a variable in scope it is a projection of ``σ``."""
    if isinstance(n, Atom) and "." in n.text and n.text.split(".", 1)[0] in names:
        head, *fields = n.text.split(".")
        out: Node = Atom(head)
        for f in fields:
            out = Proj(out, f)
        return out
    return _map_children(n, lambda c: _split_projections(c, names))


def _calls_real(n: Node) -> bool:
    if isinstance(n, App) and isinstance(n.fn, Atom):
        return n.fn.text.startswith("Real.") or n.fn.text == "rexp"
    return isinstance(n, Proj) and n.name in _FIELD["Real"] and n.name not in ("nnabs", "toNNReal")


def _needs_up(t: Node | None, target: Node | None) -> bool:
    r, rt = _rank(t), _rank(target)
    return r is not None and rt is not None and r < rt


def _coerce_tree(n: Node, types: _Types, scope: _Scope, top: Node | None) -> Node:
    if isinstance(n, Binop) and n.op in _ARITH | _RELATIONS:
        return Binop(n.op, _coerce_tree(n.left, types, scope, top), _coerce_tree(n.right, types, scope, top),
                     n.tail, n.tail_op)
    if isinstance(n, Binop) and n.op == "^":
        return Binop("^", _coerce_tree(n.left, types, scope, top), _coerce(n.right, types, scope))
    if isinstance(n, Prefix) and n.op == "-":
        return Prefix("-", _coerce_tree(n.arg, types, scope, top))
    if isinstance(n, Prefix) and n.op == "↑":
        inner_t = types.of(n.arg, scope)
        if _rank(inner_t) is not None and (top is None or _rank(top) is None or _rank(top) <= _rank(inner_t)):
            n = n.arg  # a coercion to the type it already has is no coercion: Lean shows `j`
    leaf_t = types.of(n, scope)
    out = _coerce(n, types, scope, target=top)
    if _needs_up(leaf_t, top) and not (isinstance(out, Prefix) and out.op == "↑"):
        return Prefix("↑", out)
    return out


def _show_binders(n: Node) -> Node:
    """Lean's binder display: ∀ shows types (grouped), an unused or anonymous typed ∀ binder is an arrow;
    ∃, fun, set-builder and big operators show none."""
    n = _map_children(n, _show_binders)
    if isinstance(n, SetOf):
        return SetOf(Binder(n.binder.names, None, "", n.binder.pred), n.body, n.sep)
    if not isinstance(n, BinderExpr):
        return n
    if n.kind in ("∃", "∃!", "fun", "∑", "∏"):
        plain = [Binder(b.names, None, "", b.pred) for b in n.binders if b.bracket != "["]
        if n.kind in ("∑", "∏") and n.domain is None:
            plain = n.binders  # `∑ x : Fin 3, f x` keeps its type
        return BinderExpr(n.kind, plain, n.body, n.domain, n.filter)
    if n.kind != "∀":
        return n
    body_text = _free_text(n.body)
    singles: list[Binder] = []
    for b in n.binders:
        for name in b.names or [Atom("_")]:
            singles.append(Binder([name], b.type, b.bracket, b.pred))
    # Trailing binders that are anonymous (or unused, with a type) become arrows: `∀ x, P → Q`.
    arrows: list[Node] = []
    while singles:
        last = singles[-1]
        nm = last.names[0].text if isinstance(last.names[0], Atom) else None
        later = body_text + " ".join(_free_text(a) for a in arrows)
        if last.type is not None and last.pred is None and last.bracket in ("", "(") and nm is not None and (
                nm == "_" or not re.search(rf"(?<![\w.'✝]){re.escape(nm)}(?![\w'✝])", later)):
            arrows.insert(0, last.type)
            singles.pop()
        else:
            break
    body = n.body
    for t in reversed(arrows):
        body = Binop("→", t, body)
    if not singles:
        return body
    grouped: list[Binder] = []
    for b in singles:
        prev = grouped[-1] if grouped else None
        if (prev is not None and b.pred is None and prev.pred is None
                and (b.bracket or "(") == (prev.bracket or "(")
                and b.type is not None and prev.type is not None and _eq(b.type, prev.type)):
            prev.names = prev.names + b.names
        else:
            grouped.append(Binder(list(b.names), b.type, b.bracket or ("(" if b.type is not None else ""), b.pred))
    return BinderExpr("∀", grouped, body)


def _eq(a: Node, b: Node) -> bool:
    return _print(a, "canonical") == _print(b, "canonical")


def _free_text(n: Node) -> str:
    return _print(n, "lean")


_ARROWS = ("↑", "⇑", "↥")


def _drop_all_coercions(n: Node) -> Node:
    """Canonical form 1 (models trained before form 2 read it): every coercion arrow, ascription and binder type
    dropped, meaning with them (``↑(a - b)`` reads ``a - b``)."""
    n = _map_children(n, _drop_all_coercions)
    if isinstance(n, Prefix) and n.op in _ARROWS:
        return n.arg
    if isinstance(n, Ascr):
        return n.expr
    if isinstance(n, BinderExpr):
        binders = [Binder(b.names, None, "", b.pred) for b in n.binders if b.bracket != "["]
        if not binders:
            return n.body
        return BinderExpr(n.kind, binders, n.body, n.domain, n.filter)
    if isinstance(n, SetOf):
        return SetOf(Binder(n.binder.names, None, "", n.binder.pred), n.body, n.sep)
    return n


def _compound(n: Node) -> bool:
    """A term whose value depends on the type it is computed in (``a - b``, ``-a``, ``∑ i ∈ s, f i``)."""
    return (isinstance(n, Binop) and n.op in _ARITH | {"^"}) or (isinstance(n, Prefix) and n.op == "-") or (
        isinstance(n, BinderExpr) and n.kind in ("∑", "∏"))


def _above(a: Node | None, b: Node | None) -> bool:
    """Whether number type ``a`` is known and larger than ``b`` (or ``b`` is unknown)."""
    ra, rb = _rank(a), _rank(b)
    return ra is not None and (rb is None or ra > rb)


class _Canon:
    """The canonical tree: Lean's printing, less what the state's own types say again.

    A coercion arrow or type ascription is dropped only where the types the
    canonical text still shows decide it: a leaf of an arithmetic expression
    or relation (Lean's ``binop%`` tree) is coerced to the largest type among
    the leaves whose type the state gives (hypotheses, binders, known
    functions) or the type the context expects (a function's domain), so
    ``↑n + x`` with ``x : ℝ`` is ``n + x``. Where nothing shown decides it, the
    arrow stays (``↑n - 2 = 0`` is not ``n - 2 = 0``), and so does a numeral's
    ascription to a type other than ℕ (``(2 : ℤ) - 3 = 0``). An arrow on a
    compound term always stays (``↑(a - b)`` is computed in the smaller type).
    Binder types of ``∀`` stay when they are number types (``∀ (n : ℕ), n - 1 <
    n`` is not ``∀ (n : ℤ), ...``); other binder types, ``∃``/``fun``/set
    binder types (Lean shows none) and instance binders go.
    """

    def __init__(self, types: _Types):
        self.types = types

    def node(self, n: Node, scope: _Scope, fixed: Node | None = None, asc: Node | None = None) -> Node:
        """``n`` in canonical form; ``fixed``/``asc``: the type the context expects, shown by the canonical text
        (a function's domain) or not (an ascription that is dropped)."""
        if isinstance(n, Binop) and n.op in _ARITH | _RELATIONS | {"^"} or isinstance(n, Prefix) and n.op == "-":
            return self.tree(n, scope, fixed, asc)
        if isinstance(n, Prefix) and n.op in _ARROWS:
            if _compound(n.arg):
                return Prefix("↑", self.tree(n.arg, scope))
            if fixed is None and asc is None:  # outside arithmetic the context fixes what it is coerced to
                return self.node(n.arg, scope)
            return self.tree(n, scope, fixed, asc)
        if isinstance(n, Ascr):
            if _rank(n.type) is None:
                return self.node(n.expr, scope, fixed, asc)  # not a number type: a coercion to a set, a type...
            return self.tree(n, scope, fixed, asc)
        if isinstance(n, BinderExpr):
            inner = self.types._bind(n, scope)
            keep_types = n.kind == "∀"
            binders = [Binder(b.names, self.node(b.type, scope) if keep_types and _rank(b.type) is not None else None,
                              "", (b.pred[0], self.node(b.pred[1], scope)) if b.pred else None)
                       for b in n.binders if b.bracket != "["]
            body = self.tree(n.body, inner, fixed, asc) if n.kind in ("∑", "∏") else self.node(n.body, inner)
            if not binders:
                return body
            return BinderExpr(n.kind, binders, body, self.node(n.domain, scope) if n.domain else None,
                              self.node(n.filter, inner) if n.filter else None)
        if isinstance(n, SetOf):
            b = n.binder
            extra = {x.text: b.type for x in b.names if isinstance(x, Atom) and b.type is not None}
            inner = scope.child(extra)
            return SetOf(Binder(b.names, None, "", (b.pred[0], self.node(b.pred[1], scope)) if b.pred else None),
                         self.node(n.body, inner), n.sep)
        if isinstance(n, Wrap):
            same = n.open in ("|", "‖")  # |x| has x's type; ⌊x⌋ is an integer whatever x is
            return Wrap(n.open, self.tree(n.inner, scope, fixed if same else None, asc if same else None), n.close)
        if isinstance(n, Ite):
            return Ite(self.node(n.cond, scope), self.node(n.then, scope, fixed, asc),
                       self.node(n.other, scope, fixed, asc))
        if isinstance(n, Prefix) and n.op == "√":
            return Prefix("√", self.tree(n.arg, scope, Atom("ℝ")))
        if isinstance(n, App):
            fn_type = self.types.of(n.fn, scope)
            doms = _fun_domains(fn_type)[0] if isinstance(fn_type, Binop) else []
            real = _calls_real(n)
            args = []
            for i, a in enumerate(n.args):
                dom = doms[i] if i < len(doms) else (Atom("ℝ") if real else None)
                args.append(self.tree(a, scope, dom) if dom is not None or _compound(a) else self.node(a, scope))
            return App(self.node(n.fn, scope), args)
        if isinstance(n, Proj) and _calls_real(n):
            return Proj(self.tree(n.base, scope, Atom("ℝ")), n.name)
        return _map_children(n, lambda c: self.node(c, scope))

    def tree(self, root: Node, scope: _Scope, fixed: Node | None = None, asc: Node | None = None) -> Node:
        """An arithmetic term or relation (or one leaf in an arithmetic position) as one ``binop%`` tree."""
        leaves = _arith_leaves(root)
        shown, hidden = fixed, asc
        for leaf in leaves:
            if isinstance(leaf, Ascr) and _rank(leaf.type) is not None:
                hidden = self.types._max(hidden, leaf.type)
            elif not (isinstance(leaf, Prefix) and leaf.op in _ARROWS):
                shown = self.types._max(shown, self.types.of(leaf, scope))
        top = self.types._max(shown, hidden)
        return self._rebuild(root, scope, shown, top)

    def _rebuild(self, n: Node, scope: _Scope, shown: Node | None, top: Node | None) -> Node:
        if isinstance(n, Binop) and n.op in _ARITH | _RELATIONS:
            return Binop(n.op, self._rebuild(n.left, scope, shown, top), self._rebuild(n.right, scope, shown, top),
                         self.node(n.tail, scope) if n.tail else None, n.tail_op)
        if isinstance(n, Binop) and n.op == "^":
            return Binop("^", self._rebuild(n.left, scope, shown, top), self.tree(n.right, scope))
        if isinstance(n, Prefix) and n.op == "-":
            return Prefix("-", self._rebuild(n.arg, scope, shown, top))
        return self._leaf(n, scope, shown, top)

    def _lift(self, n: Node, scope: _Scope, target: Node | None, shown: Node | None) -> Node:
        """A leaf coerced to ``target`` (unknown: a bare ``↑``): the arrow goes where the shown types say it."""
        inner = self.node(n, scope)
        if _rank(shown) is not None and (target is None or _rank(target) is None or _rank(shown) >= _rank(target)):
            return inner  # the types shown make binop% coerce it anyway
        return Prefix("↑", inner)

    def _leaf(self, n: Node, scope: _Scope, shown: Node | None, top: Node | None) -> Node:
        if isinstance(n, Prefix) and n.op in _ARROWS:
            if _compound(n.arg):
                return Prefix("↑", self.tree(n.arg, scope))
            return self._lift(n.arg, scope, None, shown)
        if isinstance(n, Ascr) and _rank(n.type) is not None:
            if _is_numeral(n.expr):
                if _rank(shown) is not None and _rank(n.type) <= _rank(shown) or shown is None and _rank(n.type) == 0:
                    return n.expr
                return Ascr(n.expr, self.node(n.type, scope))
            if _compound(n.expr):
                if _rank(shown) is not None and _rank(shown) >= _rank(n.type):
                    return self.tree(n.expr, scope, shown)  # `(a - b : ℤ) + c`, c : ℤ, is `a - b + c`
                inner = self.tree(n.expr, scope, None, n.type)
                return Prefix("↑", inner) if _above(top, n.type) else inner
            inner_t = self.types.of(n.expr, scope)
            if _rank(inner_t) is not None and _rank(inner_t) == _rank(n.type):
                return self._leaf(n.expr, scope, shown, top)  # an ascription to the type it has
            return self._lift(n.expr, scope, n.type, shown)
        leaf_t = self.types.of(n, scope)
        if isinstance(n, Ascr):
            n = n.expr
        if _above(top, leaf_t) and _rank(leaf_t) is not None and not (_rank(shown) is not None and
                                                                      _rank(shown) >= _rank(top)):
            return Prefix("↑", self.node(n, scope))  # coerced by an ascription the canonical text drops
        return self.node(n, scope, top if _rank(shown) is not None else None, None if _rank(shown) is not None else top)


# ---------------------------------------------------------------- printing
def _prec(n: Node) -> int:
    if isinstance(n, Binop):
        return _INFIX[n.op][0]
    if isinstance(n, Prefix):
        return _PREFIX[n.op][0]
    if isinstance(n, BinderExpr) and n.kind == "fun":
        return MAX  # Lean writes a trailing `fun` argument without parentheses
    if isinstance(n, (BinderExpr, Ite)):
        return LEAD
    if isinstance(n, App):
        return LEAD
    return MAX


def _print(n: Node, mode: str) -> str:
    return _Printer(mode).show(n, 0, -1)[0]


class _Printer:
    def __init__(self, mode: str):
        self.mode = mode

    def child(self, n: Node, req: int, follow: int) -> tuple[str, int]:
        text, right = self.show(n, req, follow)
        if _prec(n) < req or right <= follow:
            return f"({self.show(n, 0, -1)[0]})", INF
        return text, right

    def show(self, n: Node, req: int, follow: int) -> tuple[str, int]:
        """Text of ``n`` and the lowest precedence its right end still reads (INF if closed)."""
        if isinstance(n, Atom):
            return n.text, INF
        if isinstance(n, App):
            fn, _ = self.child(n.fn, LEAD, MAX)
            parts, right = [fn], INF
            for i, a in enumerate(n.args):
                text, right = self.child(a, MAX, MAX if i + 1 < len(n.args) else follow)
                parts.append(text)
            return " ".join(parts), right
        if isinstance(n, Proj):
            base, _ = self.child(n.base, MAX, MAX)
            return f"{base}.{n.name}", INF
        if isinstance(n, Ascr):
            return f"({self.show(n.expr, 0, -1)[0]} : {self.show(n.type, 0, -1)[0]})", INF
        if isinstance(n, Seq):
            close = {"(": ")", "⟨": "⟩", "[": "]", "{": "}", "{ ": " }"}[n.open]
            return n.open + ", ".join(self.show(i, 0, -1)[0] for i in n.items) + close, INF
        if isinstance(n, Wrap):
            inner = self.show(n.inner, 0, -1)[0]
            if n.open == "|" and (inner.startswith(("-", "|")) or inner.endswith("|")):
                # `|-` and `||` are tokens of their own (`at h |-`, boolean or): Mathlib's unexpander writes
                # `|(-a)|` and `|(|a|)|`
                inner = f"({inner})"
            return n.open + inner + n.close, INF
        if isinstance(n, Binop):
            prec, lp, rp = _INFIX[n.op]
            if n.op == "^" and isinstance(n.right, Prefix) and n.right.op == "-":
                rp = MAX  # Lean writes `x ^ (-3)`
            left, _ = self.child(n.left, lp, prec)
            right_text, right = self.child(n.right, rp, follow if n.tail is None else -1)
            text = f"{left} {n.op} {right_text}"
            if n.tail is not None:
                text += f" {n.tail_op} {self.show(n.tail, 0, -1)[0]}]"
                right = INF
            return text, right
        if isinstance(n, Prefix):
            arg, right = self.child(n.arg, _PREFIX[n.op][1], follow)
            # `-` then `-a` would start a comment: Lean prints `- -a`
            sep = " " if n.op == "-" and arg.startswith("-") else ""
            return n.op + sep + arg, min(right, _PREFIX[n.op][1])
        if isinstance(n, Postfix):
            arg, _ = self.child(n.arg, MAX, MAX)
            # `n !` (a name before `!` would swallow it) but `7!` and `(n + 1)!`
            space = n.op == "!" and not _is_numeral(n.arg) and re.search(r"[\w'✝⁰-⁹]$", arg)
            return arg + (" " if space else "") + n.op, INF
        if isinstance(n, BinderExpr):
            return self.binder_expr(n, follow)
        if isinstance(n, SetOf):
            if n.sep == "//":
                return "{ " + self.binder(n.binder, bare=True) + " // " + self.show(n.body, 0, -1)[0] + " }", INF
            return "{" + self.binder(n.binder, bare=True) + " | " + self.show(n.body, 0, -1)[0] + "}", INF
        if isinstance(n, Ite):
            c = self.show(n.cond, 0, -1)[0]
            if isinstance(n.cond, Ascr) and isinstance(n.cond.expr, Atom):
                c = f"{n.cond.expr.text} : {self.show(n.cond.type, 0, -1)[0]}"
            a = self.show(n.then, 0, -1)[0]
            b, right = self.child(n.other, 0, follow)
            return f"if {c} then {a} else {b}", min(right, 0)
        raise LeanSyntaxError(f"cannot print {type(n).__name__}")

    def binder(self, b: Binder, bare: bool = False) -> str:
        names = " ".join(self.show(x, 0, -1)[0] for x in b.names)
        if b.bracket == "[":
            return f"[{names + ' : ' if names else ''}{self.show(b.type, 0, -1)[0]}]"
        text = names
        if b.type is not None and b.pred is None:  # `∀ x > 0, P` shows no type
            text = f"{names} : {self.show(b.type, 0, -1)[0]}"
            if b.bracket or not bare:
                close = {"(": ")", "{": "}", "⦃": "⦄", "": ")"}[b.bracket]
                text = f"{b.bracket or '('}{text}{close}"
        elif b.bracket in ("{", "⦃"):
            text = f"{b.bracket}{names}{'}' if b.bracket == '{' else '⦄'}"
        if b.pred is not None:
            text += f" {b.pred[0]} {self.child(b.pred[1], 51, -1)[0]}"
        return text

    def binder_expr(self, n: BinderExpr, follow: int) -> tuple[str, int]:
        one = len(n.binders) == 1 and n.binders[0].type is not None and not n.binders[0].bracket
        binders = " ".join(self.binder(b, bare=one and n.kind != "∀") for b in n.binders)
        head = f"{n.kind} {binders}"
        if n.domain is not None:
            head += f" ∈ {self.child(n.domain, 51, -1)[0]}"
        if n.filter is not None:
            head += f" with {self.show(n.filter, 0, -1)[0]}"
        body_prec = _BODY_PREC.get(n.kind, 0)
        body, right = self.child(n.body, body_prec, follow)
        sep = " =>" if n.kind == "fun" else ","
        return f"{head}{sep} {body}", min(right, body_prec)


# ---------------------------------------------------------------- entry points
def render_expr(text: str, types: dict[str, str] | None = None) -> str:
    """``text`` as Lean's pretty-printer shows it (see the module docstring).

    Args:
        text: a term, e.g. a statement's type.
        types: types of the names in scope (``{"n": "ℕ", "f": "ℕ → ℝ"}``),
            used to place ``↑`` and to show ∀ binder types.

    Raises:
        LeanSyntaxError: if the parser does not read ``text``.
    """
    tree = parse_expr(text)
    scope = {}
    for name, t in (types or {}).items():
        try:
            scope[name] = _notation(parse_expr(t))
        except LeanSyntaxError:
            continue
    tree = _binder_preds(_notation(_split_projections(tree, set(scope))))
    tree = _coerce(tree, _Types(scope), _Scope(scope))
    tree = _show_binders(tree)
    return _print(tree, "lean")


_CANON_WORK_RE = re.compile(r"[↑⇑↥∀]| : ")


def _drop_binder_types(n: Node) -> Node:
    """Binder types of ``∃``, ``fun``, set-builder and big operators go (Lean shows none), instance binders too."""
    n = _map_children(n, _drop_binder_types)
    if isinstance(n, BinderExpr):
        binders = [Binder(b.names, None, "", b.pred) for b in n.binders if b.bracket != "["]
        return BinderExpr(n.kind, binders, n.body, n.domain, n.filter) if binders else n.body
    if isinstance(n, SetOf):
        return SetOf(Binder(n.binder.names, None, "", n.binder.pred), n.body, n.sep)
    return n


@lru_cache(maxsize=4096)
def _type_node(text: str) -> Node | None:
    """A hypothesis type as a tree (None if unread); cached: every line of a state reads the types above it.
    Nothing modifies the trees it returns."""
    try:
        return _notation(parse_expr(text))
    except (LeanSyntaxError, RecursionError):
        return None


CANONICAL_FORMS = (1, 2)
CANONICAL_FORM = 2
"""The canonical form models are trained with now: 2 keeps what decides a term's value (:class:`_Canon`); 1, the
form before it, dropped every arrow, ascription and binder type. Models record the form they were trained with."""


def canonical_expr(text: str, types: dict[str, str] | None = None, expected: str | None = None,
                   form: int = CANONICAL_FORM) -> str:
    """``text`` in the canonical form both a Lean-printed and a rendered term map to (see :class:`_Canon`).

    Args:
        text: a term, e.g. a hypothesis type or a target.
        types: types of the names in scope (the state's hypotheses, ``{"x": "ℝ"}``): they decide which coercion
            arrows and ascriptions the canonical form can leave out without changing what the term means.
        expected: the type the term has, where the state shows it (the value of ``x : T := v`` has type ``T``).
        form: :data:`CANONICAL_FORM` (2), or 1 for models trained with the earlier form.

    Raises:
        LeanSyntaxError: if the parser does not read ``text``.

    Example:
        >>> canonical_expr("↑x + y = 2", {"x": "ℕ", "y": "ℝ"}), canonical_expr("↑(a - b) = ↑a - ↑b")
        ('x + y = 2', '↑(a - b) = ↑a - ↑b')
    """
    scope = {}
    for name, t in (types or {}).items():
        parsed = _type_node(t)
        if parsed is not None:
            scope[name] = parsed
    if form not in CANONICAL_FORMS:
        raise ValueError(f"form must be one of {CANONICAL_FORMS}, got {form!r}")
    tree = _notation(parse_expr(text))
    if form == 1:
        return _print(_binder_preds(_drop_all_coercions(tree)), "canonical")
    if not _CANON_WORK_RE.search(text):  # no arrow, ascription or ∀: nothing the types in scope could decide
        return _print(_binder_preds(_drop_binder_types(tree)), "canonical")
    target = _type_node(expected) if expected else None
    canon = _Canon(_Types(scope))
    tree = canon.tree(tree, _Scope(scope), target) if _rank(target) is not None else canon.node(tree, _Scope(scope))
    tree = _binder_preds(tree)
    return _print(tree, "canonical")
