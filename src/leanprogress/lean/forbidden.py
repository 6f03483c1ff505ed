"""What is not a proof: the one rule that cleaning, search, data and every Lean gate apply.

Two halves, one for text and one for Lean's own answer.

**Text** (:meth:`ProofRule.forbidden`): a proof or tactic may not contain

- ``sorry``, ``admit``, ``sorryAx`` (in any position: ``exact sorryAx _ false``, ``nlinarith [sorry]``,
  ``«sorryAx»``, ``warn.sorry``) or ``stop`` (it runs ``repeat sorry``): they close any goal without a proof;
- what adds declarations or axioms, or leaves the proof for Lean's command level: ``axiom``, ``theorem``,
  ``lemma``, ``def``, ``instance``, ``example`` and the other declaration keywords, ``unsafe``,
  ``implemented_by``, ``extern``, ``namespace``, ``section``, ``notation``, ``macro``, ``syntax``, ``elab``,
  ``run_tac``, ``run_cmd``, ``by_elab`` (meta code can build a ``sorry`` no text rule sees), ``#exit``,
  ``#eval``, ``#print``, ``#guard_msgs`` (they stop, fake or swallow Lean's messages);
- options that turn checks off: ``debug.skipKernelTC``, ``debug.byAsSorry``, ``debug.proofAsSorry``,
  ``allowUnsafeReducibility``;
- unless ``native_decide=True`` (a setting; some benchmarks allow it, most forbid it): ``native_decide``,
  ``decide +native``, ``bv_decide``, ``Lean.ofReduceBool``, ``Lean.ofReduceNat``, ``Lean.trustCompiler``
  (they trust compiled code instead of the kernel).

Words are whole Lean identifiers (``sorry_lemma`` and ``Nat.stop_lt`` pass), found after the text is
normalized the way a reader's eye reads it: NFKC (``ｓｏｒｒｙ`` is ``sorry``), invisible characters and
accents removed (``so\\u200brry``, ``śorry``), and Cyrillic and Greek look-alikes read as the Latin letters
they mimic (``ѕоrrу``). Lean itself rejects such spellings; a reward model reading text would not, so they are
refused here. The words of the first group count anywhere, comments and strings included (a text rule cannot
be fooled about what is a comment if it does not try); the others count outside comments (``-- for example``
is prose, not a declaration).

**Lean's answer** (what a gate trusts; :meth:`ProofRule.lean_verdict`): a proof Lean reports as finished still
fails when Lean warns that a declaration uses ``sorry`` (a warning, not an error: ``exact sorryAx _ false``
elaborates without error), and, where the backend answers ``#print axioms`` for the theorem
(:func:`print_axioms`), when the proof depends on any axiom beyond ``propext``, ``Classical.choice`` and
``Quot.sound`` (and ``Lean.ofReduceBool``, ``Lean.ofReduceNat``, ``Lean.trustCompiler`` where
``native_decide`` is allowed). Lean prints ``'t' depends on axioms: [propext, sorryAx, Classical.choice,
Quot.sound]`` (:func:`parse_axioms`).

Example:
    >>> rule = ProofRule()
    >>> rule.forbidden("exact sorryAx _ false"), rule.forbidden("nlinarith [sq_nonneg (a - b)]")
    ('sorryAx', None)
    >>> rule.forbidden("native_decide"), ProofRule(native_decide=True).forbidden("native_decide")
    ('native_decide', None)
    >>> rule.bad_axioms(["propext", "sorryAx", "Quot.sound"])
    ['sorryAx']
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable

from .syntax import strip_comments

STANDARD_AXIOMS = ("propext", "Classical.choice", "Quot.sound")
"""The axioms every Mathlib proof may use."""
NATIVE_AXIOMS = ("Lean.ofReduceBool", "Lean.ofReduceNat", "Lean.trustCompiler")
"""What ``native_decide`` (and ``bv_decide``, ``decide +native``) adds: trust in compiled code."""

# Identifier characters of Lean (letters, digits, subscripts, _, ' and a trailing ! or ?): a word is forbidden
# only as a whole identifier or a whole component of a dotted name.
_BEFORE = r"(?<![\w'!?])"
_BEFORE_NO_DOT = r"(?<![\w'!?.])"  # keywords: `Foo.def`, a field or lemma name, is not the keyword `def`
_AFTER = r"(?![\w'!?])"

_SORRY_WORDS = ("sorryAx", "sorry", "admit")
_OTHER_WORDS = (
    # the rest of the sorry family
    "stop", "admitGoal", "mkSorry", "mkLabeledSorry",
    # declarations and commands: a proof that contains one has left the proof
    "axiom", "axioms", "theorem", "lemma", "def", "abbrev", "instance", "example", "opaque", "structure",
    "inductive", "class", "namespace", "section", "universe", "variable", "unsafe", "implemented_by", "extern",
    "initialize", "builtin_initialize", "notation", "infix", "infixl", "infixr", "postfix", "macro",
    "macro_rules", "syntax", "declare_syntax_cat", "elab", "elab_rules", "run_tac", "run_cmd", "run_elab",
    "run_meta", "by_elab",
)
# Options that turn checks off.
_OPTION_WORDS = ("skipKernelTC", "byAsSorry", "proofAsSorry", "allowUnsafeReducibility")
_NATIVE_WORDS = ("native_decide", "bv_decide", "ofReduceBool", "ofReduceNat", "trustCompiler", "reduceBool",
                 "reduceNat")

_SORRY_RE = re.compile(_BEFORE + "(" + "|".join(_SORRY_WORDS) + ")" + _AFTER)
_OTHER_RE = re.compile(_BEFORE_NO_DOT + "(" + "|".join(_OTHER_WORDS) + ")" + _AFTER
                       + "|" + _BEFORE + "(" + "|".join(_OPTION_WORDS) + ")" + _AFTER
                       + r"|(#(?:exit|eval|print|guard_msgs|reduce|check_failure))" + _AFTER)
_NATIVE_RE = re.compile(_BEFORE + "(" + "|".join(_NATIVE_WORDS) + ")" + _AFTER
                        + r"|(\+\s*native)" + _AFTER + r"|" + _BEFORE + r"(native\s*:=\s*true)" + _AFTER)

# Letters of other scripts that look like Latin ones (Unicode's confusables for the letters the words use).
_LOOK_ALIKES = str.maketrans({
    # Cyrillic
    "а": "a", "в": "b", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s", "і": "i", "ј": "j",
    "ԁ": "d", "һ": "h", "ӏ": "l", "ԛ": "q", "ԝ": "w", "к": "k", "м": "m", "н": "h", "т": "t", "г": "r", "п": "n",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "Х": "X",
    "Ѕ": "S", "І": "I", "Ј": "J", "У": "Y",
    # Greek
    "ο": "o", "ν": "v", "ρ": "p", "υ": "u", "ι": "i", "κ": "k", "α": "a", "ε": "e", "τ": "t", "η": "n",
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P",
    "Τ": "T", "Υ": "Y", "Χ": "X",
    # Latin letters of other alphabets
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɡ": "g", "ꜱ": "s", "ʀ": "r", "ᴏ": "o", "ʏ": "y", "ᴅ": "d", "ᴍ": "m", "ɪ": "i",
    "ᴛ": "t", "ᴀ": "a",
})


def normalize(text: str) -> str:
    """``text`` as the rule reads it: NFKC, without invisible characters (format characters, combining marks),
    look-alike letters of other scripts replaced by the Latin letters they mimic."""
    text = unicodedata.normalize("NFKD", text)  # decomposed: accents become marks of their own, then dropped
    text = "".join(c for c in text if unicodedata.category(c) not in ("Cf", "Mn", "Me"))
    return unicodedata.normalize("NFKC", text).translate(_LOOK_ALIKES)


@dataclass(frozen=True)
class ProofRule:
    """The rule for what is not a proof (see the module doc).

    Args:
        native_decide: allow ``native_decide`` and what it implies (the compiler's axioms); off by default.
    """

    native_decide: bool = False

    def forbidden(self, text: str) -> str | None:
        """What in ``text`` makes it no proof (the word as written after normalization), or None.

        Example:
            >>> ProofRule().forbidden("constructor <;> simp\\nall_goals sorry")
            'sorry'
        """
        plain = normalize(text)
        m = _SORRY_RE.search(plain)
        if m:
            return m.group(1)
        code = normalize(strip_comments(text))
        m = _OTHER_RE.search(code) or (None if self.native_decide else _NATIVE_RE.search(code))
        if m:
            return " ".join(next(g for g in m.groups() if g).split())
        return None

    @property
    def allowed_axioms(self) -> frozenset[str]:
        """The axioms a proof may depend on."""
        return frozenset(STANDARD_AXIOMS + (NATIVE_AXIOMS if self.native_decide else ()))

    def bad_axioms(self, axioms: Iterable[str]) -> list[str]:
        """The axioms of ``axioms`` this rule does not allow, in their order."""
        return [a for a in axioms if a not in self.allowed_axioms]

    def lean_verdict(self, messages: Iterable[tuple[str, str]], name: str | None = None,
                     axioms_expected: bool = False) -> str | None:
        """Why a proof Lean finished is still not a proof, from Lean's messages; None if it is one.

        Args:
            messages: (severity, text) of every message Lean gave for the checked source.
            name: the theorem whose ``#print axioms`` answer is among the messages (see :func:`print_axioms`).
            axioms_expected: the source asked for that answer: its absence is a failure (a source that stops
                Lean, such as ``#exit``, leaves no answer).
        """
        found = None
        for severity, text in messages:
            if severity == "error":
                return f"Lean: {text.strip().splitlines()[0] if text.strip() else 'error'}"
            if uses_sorry(text):
                return "Lean: declaration uses 'sorry'"
            parsed = parse_axioms(text) if severity == "info" else None
            if parsed is not None and (name is None or parsed[0] == name):
                found = parsed[1]
        if found is None:
            return f"Lean gave no axioms for {name!r}" if axioms_expected else None
        bad = self.bad_axioms(found)
        if bad:
            return f"Lean: the proof depends on {', '.join(bad)} (allowed: {', '.join(sorted(self.allowed_axioms))})"
        return None


DEFAULT_RULE = ProofRule()
"""The rule with its defaults (``native_decide`` forbidden)."""


def forbidden(text: str, native_decide: bool = False) -> str | None:
    """What in ``text`` makes it no proof, or None (:meth:`ProofRule.forbidden`)."""
    return ProofRule(native_decide).forbidden(text)


_SORRY_WARNING = re.compile(r"declaration uses ['`]sorry['`]")
_AXIOMS = re.compile(r"'(?P<name>.+)' depends on axioms:\s*\[(?P<axioms>[^\]]*)\]\s*\Z", re.S)
_NO_AXIOMS = re.compile(r"'(?P<name>.+)' does not depend on any axioms\s*\Z", re.S)


def uses_sorry(message: str) -> bool:
    """Whether a Lean message is the warning that a declaration uses ``sorry`` (quoted as Lean versions do)."""
    return bool(_SORRY_WARNING.search(message))


def parse_axioms(message: str) -> tuple[str, list[str]] | None:
    """(theorem, axioms) from Lean's answer to ``#print axioms``, or None for any other message.

    Example:
        >>> parse_axioms("'t' depends on axioms: [propext,\\n Classical.choice,\\n Quot.sound]")
        ('t', ['propext', 'Classical.choice', 'Quot.sound'])
        >>> parse_axioms("'add_zero'' does not depend on any axioms")
        ("add_zero'", [])
    """
    m = _AXIOMS.match(message.strip())
    if m:
        return m.group("name"), [a.strip() for a in m.group("axioms").split(",") if a.strip()]
    m = _NO_AXIOMS.match(message.strip())
    if m:
        return m.group("name"), []
    return None


def print_axioms(name: str) -> str:
    """The command whose answer :func:`parse_axioms` reads."""
    return f"#print axioms {name}"
