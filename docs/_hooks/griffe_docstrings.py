"""Griffe extension: read this project's docstrings as mkdocstrings renders them.

The docstrings are Google style with three habits that griffe does not read:

- a short doctest under ``Example:``; griffe's Google parser knows ``Examples:`` as the examples section and reads
  the singular as an admonition, whose ``>>>`` lines would be rendered as nested quotes (and output such as
  ``[0.214, 0.0]`` taken for a markdown link). The section is renamed before parsing.
- Sphinx roles such as ``:class:`~leanprogress.scoring.LeanProgressScorer``` or ``:meth:`predict_batch```. Each
  becomes a code span that links to the object's entry in the API reference where that entry exists (an optional
  cross-reference of mkdocs-autorefs: a name the reference does not render stays plain code instead of failing
  the build). A leading ``~`` shows the last part of the name only, as in Sphinx.
- one ``Args:`` entry for several parameters (``padding, max_length: as for ...``, ``*args, **kwargs: ...``);
  griffe would take ``padding, max_length`` for one parameter the signature lacks. The entry is repeated for each
  name, so that a parameter that really is missing from the signature still fails the strict build.

Named in ``mkdocs.yml`` under the mkdocstrings handler's ``extensions``.

Example:
    >>> _as_examples("Add.\\n\\nExample:\\n    >>> 1 + 1\\n    2\\n")
    'Add.\\n\\nExamples:\\n    >>> 1 + 1\\n    2\\n'
    >>> _roles("See :func:`~pkg.mod.f`.", lambda name: "pkg.mod.f")
    'See <autoref identifier="pkg.mod.f" optional><code>f</code></autoref>.'
    >>> print(_one_entry_per_name("Args:\\n    a, b: ints.\\n    c: a str."))
    Args:
        a: ints.
        b: ints.
        c: a str.
"""

from __future__ import annotations

import html
import re
from typing import Callable

import griffe

_EXAMPLE_HEADER = re.compile(r"^([ \t]*)Example:[ \t]*$", re.M)
_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`(~?)([\w.]+)(?:\(\))?`")


def _as_examples(text: str) -> str:
    """``Example:`` section headers renamed ``Examples:``."""
    return _EXAMPLE_HEADER.sub(r"\1Examples:", text)


_ARGS_HEADER = re.compile(r"^([ \t]*)(?:Args|Arguments|Parameters|Keyword Args|Other Parameters):[ \t]*$")
_SEVERAL_NAMES = re.compile(r"^([ \t]+)(\*{0,2}\w+(?:,[ \t]*\*{0,2}\w+)+)([ \t]*(?:\([^)]*\))?:.*)$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _one_entry_per_name(text: str) -> str:
    """``a, b: text`` entries of an Args section written as one entry per name, continuation lines included."""
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        out.append(lines[i])
        header = _ARGS_HEADER.match(lines[i])
        i += 1
        if not header:
            continue
        level = len(header.group(1))
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > level):
            entry = _SEVERAL_NAMES.match(lines[i])
            start = i
            i += 1
            while i < len(lines) and lines[i].strip() and entry and _indent(lines[i]) > len(entry.group(1)):
                i += 1
            if not entry:
                out += lines[start:i]
                continue
            for name in (n.strip() for n in entry.group(2).split(",")):
                out += [entry.group(1) + name + entry.group(3), *lines[start + 1:i]]
    return "\n".join(out)


def _roles(text: str, resolve: Callable[[str], str | None]) -> str:
    """Sphinx roles replaced by code spans, linked where ``resolve`` finds the object's full path."""

    def replace(m: re.Match) -> str:
        short, name = m.group(1), m.group(2)
        shown = html.escape(name.rsplit(".", 1)[-1] if short else name)
        path = resolve(name)
        if path is None:
            return f"`{name.rsplit('.', 1)[-1] if short else name}`"
        return f'<autoref identifier="{html.escape(path)}" optional><code>{shown}</code></autoref>'

    return _ROLE.sub(replace, text)


def _resolver(obj: griffe.Object) -> Callable[[str], str | None]:
    """Full, canonical path of a name as written in ``obj``'s docstring, or None."""

    def resolve(name: str) -> str | None:
        first, _, rest = name.partition(".")
        try:
            if name.startswith("leanprogress."):
                found = obj.modules_collection[name]
            else:
                base = obj.modules_collection[obj.resolve(first)]
                found = base[rest] if rest else base
            return found.canonical_path
        except Exception:  # noqa: BLE001 - any name griffe cannot follow is shown as plain code
            return None

    return resolve


class ProjectDocstrings(griffe.Extension):
    """In every docstring: ``Example:`` sections as examples, one Args entry per name, Sphinx roles as links."""

    def on_object(self, *, obj, loader, **kwargs) -> None:
        if obj.docstring is not None:
            text = _one_entry_per_name(_as_examples(obj.docstring.value))
            obj.docstring.value = _roles(text, _resolver(obj))
