"""MkDocs hook: the CLI reference, rendered from the ``leanprogress`` argparse parsers at build time.

``docs/reference/cli.md`` holds the marker ``<!-- cli-reference -->``; :func:`on_page_markdown` replaces it with
every subcommand's usage, arguments, defaults and help, read from :func:`leanprogress.cli.build_parser` (which
registers the serving and search subcommands too). The page therefore cannot drift from the code: a flag added to
a parser appears at the next build, and a build without the marker fails.

Example (what a build does with one parser)::

    >>> import argparse
    >>> p = argparse.ArgumentParser(prog="tool")
    >>> _ = p.add_argument("--n", type=int, default=3, help="how many")
    >>> "| `--n N` | 3 | how many |" in render_arguments(p)
    True
"""

from __future__ import annotations

import argparse
import functools
import re

MARKER = "<!-- cli-reference -->"
PAGE = "reference/cli.md"
WIDTH = 100
"""Columns of the rendered usage lines (argparse would otherwise read the terminal's width)."""


def _escape(text: str) -> str:
    """``text`` safe inside a markdown table cell; code spans (`...`) are kept as they are."""
    parts = re.split(r"(`[^`]*`)", text)
    out = []
    for part in parts:
        if part.startswith("`") and part.endswith("`") and len(part) > 1:
            out.append(part.replace("|", "\\|"))
        else:
            out.append(re.sub(r"([\\*_\[\]<>|])", r"\\\1", part))
    return " ".join("".join(out).split())


def _help(action: argparse.Action, parser: argparse.ArgumentParser) -> str:
    """An action's help with argparse's ``%(default)s``-style fields filled in, as ``--help`` prints it."""
    if not action.help:
        return ""
    formatter = parser._get_formatter()
    return formatter._expand_help(action)


def _names(action: argparse.Action) -> str:
    """How the argument is written: ``--output OUTPUT``, ``-v, --verbose``, ``TRACE ...``."""
    metavar = action.metavar or (action.dest.upper() if action.option_strings else action.dest)
    if isinstance(metavar, tuple):
        metavar = " ".join(metavar)
    if not action.option_strings:
        return f"`{metavar}{' ...' if action.nargs in ('*', '+') else ''}`"
    if action.nargs == 0:
        return ", ".join(f"`{o}`" for o in action.option_strings)
    value = "{" + ",".join(map(str, action.choices)) + "}" if action.choices else metavar
    return ", ".join(f"`{o} {value}`" for o in action.option_strings)


def _default(action: argparse.Action) -> str:
    """The default as a user reads it: required, a flag, repeatable, or the value."""
    if action.default == argparse.SUPPRESS:  # --version
        return ""
    if action.required and action.nargs not in ("*", "?"):  # argparse marks a bare `*` positional required
        return "required"
    if action.nargs == 0:
        return "off" if action.default in (False, None) else "on"
    if isinstance(action, argparse._AppendAction):
        return "repeatable" if not action.default else f"`{action.default!r}`, repeatable"
    if action.default is None or (isinstance(action.default, list) and not action.default):
        return ""
    if action.default == "":
        return '`""`'
    if isinstance(action.default, str):
        # Line breaks as \n, so that a multi-line default (a prompt template) stays in its table cell.
        return "`" + action.default.replace("\n", "\\n").replace("|", "\\|") + "`"
    return _escape(str(action.default))


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions
            if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction)) and a.help != argparse.SUPPRESS]


def render_arguments(parser: argparse.ArgumentParser) -> str:
    """A markdown table of ``parser``'s arguments: how to write each, its default, its help."""
    rows = ["| argument | default | help |", "| --- | --- | --- |"]
    for action in _arguments(parser):
        rows.append(f"| {_names(action)} | {_default(action)} | {_escape(_help(action, parser))} |")
    return "\n".join(rows)


def _usage(parser: argparse.ArgumentParser) -> str:
    parser.formatter_class = functools.partial(argparse.HelpFormatter, width=WIDTH)
    return parser.format_usage().strip()


def _subcommands(parser: argparse.ArgumentParser) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """``(name, one-line help, parser)`` of every subcommand, in the order ``--help`` lists them."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help or "" for choice in sub._choices_actions}
    return [(name, helps.get(name, ""), p) for name, p in sub.choices.items()]


def render_cli(parser: argparse.ArgumentParser | None = None) -> str:
    """The whole reference: the global options, then one section per subcommand."""
    if parser is None:
        try:
            from leanprogress.cli import build_parser
        except ImportError as exc:
            raise RuntimeError(f"the CLI reference reads leanprogress's parsers, which cannot be imported ({exc}): "
                               "build the site where the package is installed, pip install -e '.[docs]'") from exc
        parser = build_parser()
    lines = [f"```text\n{_usage(parser)}\n```", "", render_arguments(parser), ""]
    for name, help_text, sub in _subcommands(parser):
        lines += [f"## {name}", "", f"`{sub.prog}`: {_escape(help_text)}", ""]
        if sub.description:
            lines += [_escape(sub.description), ""]
        lines += [f"```text\n{_usage(sub)}\n```", "", render_arguments(sub), ""]
    return "\n".join(lines)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_uri != PAGE:
        return markdown
    if MARKER not in markdown:
        raise RuntimeError(f"{PAGE} has lost its marker {MARKER}: the CLI reference would not be generated")
    return markdown.replace(MARKER, render_cli())
