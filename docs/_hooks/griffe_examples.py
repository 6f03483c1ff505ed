"""Griffe extension: read this project's ``Example:`` docstring sections as examples.

The project's docstrings write a short doctest under ``Example:``. Griffe's Google-style parser knows
``Examples:`` as the examples section and reads the singular as an admonition, whose ``>>>`` lines would be
rendered as prose (and output such as ``[0.214, 0.0]`` taken for a markdown link). This extension renames the
section before parsing, so the API reference shows each example as a console snippet. Named in ``mkdocs.yml``
under the mkdocstrings handler's ``extensions``.

Example:
    >>> _as_examples("Add.\\n\\nExample:\\n    >>> 1 + 1\\n    2\\n")
    'Add.\\n\\nExamples:\\n    >>> 1 + 1\\n    2\\n'
"""

from __future__ import annotations

import re

import griffe

_EXAMPLE_HEADER = re.compile(r"^([ \t]*)Example:[ \t]*$", re.M)


def _as_examples(text: str) -> str:
    return _EXAMPLE_HEADER.sub(r"\1Examples:", text)


class ExampleSections(griffe.Extension):
    """Rename ``Example:`` to ``Examples:`` in every docstring griffe loads."""

    def on_instance(self, *, node, obj, agent, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = _as_examples(obj.docstring.value)
