"""The documentation site: it builds strictly, its CLI reference is the parsers', and the README leads into it.

The site is MkDocs with the Material theme (the ``docs`` extra, also in ``test``). ``mkdocs build --strict`` fails
on any warning: a link to a page or an anchor that does not exist, a docstring that names a parameter the function
does not have, a reference mkdocstrings cannot resolve. The commands the pages show are run by test_readme.py.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
GUIDES = ["data", "training", "scoring", "evaluation", "serving", "search", "rl"]


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


cli_reference = _load("cli_reference", DOCS / "_hooks" / "cli_reference.py")
griffe_docstrings = _load("griffe_docstrings", DOCS / "_hooks" / "griffe_docstrings.py")


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    """``mkdocs build --strict`` of ``config`` into ``site``, as a user runs it."""
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail("mkdocs is not installed: pip install -e '.[docs]' (the test extra includes it)")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about its successor, not a warning
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], cwd=config.parent, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT / "mkdocs.yml", out)
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{result.stdout}\n{result.stderr}"
    return out


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&quot;", '"').replace("&gt;", ">")


# ---------------------------------------------------------------- the build
def test_site_builds_strictly_with_every_page(site):
    for page in ["", "getting-started/", *[f"guides/{g}/" for g in GUIDES], "reference/api/", "reference/cli/",
                 *[f"reference/api/{p.stem}/" for p in (DOCS / "reference" / "api").glob("*.md")],
                 "benchmarks/", "changelog/"]:
        assert (site / page / "index.html").is_file(), f"{page or 'index'} was not built"


def test_a_broken_link_or_anchor_fails_the_build(tmp_path):
    """What --strict is for: the copied site with a dead link, a dead anchor and a dead API reference does not build."""
    shutil.copytree(DOCS, tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    (tmp_path / "src").symlink_to(ROOT / "src")
    page = tmp_path / "docs" / "guides" / "data.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n[gone](nowhere.md), [no heading](training.md#no-such-heading), "
                    "[no object][leanprogress.data.no_such_function]\n", encoding="utf-8")
    result = build(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    log = result.stdout + result.stderr
    assert "nowhere.md" in log and "no-such-heading" in log and "leanprogress.data.no_such_function" in log, log


def test_cli_reference_page_shows_every_subcommand_and_flag(site):
    from leanprogress.cli import build_parser

    page = _text((site / "reference" / "cli" / "index.html").read_text(encoding="utf-8"))
    assert cli_reference.MARKER not in page
    for name, _, parser in cli_reference._subcommands(build_parser()):
        assert f"leanprogress {name}" in page, name
        for action in cli_reference._arguments(parser):
            for option in action.option_strings:
                assert option in page, f"{name} {option}"


def test_api_reference_reads_the_project_docstrings(site):
    html = "".join(p.read_text(encoding="utf-8") for p in (site / "reference" / "api").rglob("index.html"))
    assert "leanprogress.scoring.LeanProgressScorer" in html and "leanprogress.lean.syntax" in html
    # Every `Example:` doctest is a console block; read as an admonition, its `>>>` would become nested quotes.
    assert not re.search(r"<blockquote>\s*<blockquote>\s*<blockquote>", html)
    assert html.count('class="gp">&gt;&gt;&gt; </span>') >= 20
    # Sphinx roles are links to the objects' entries, not literal `:class:` text.
    assert not re.search(r":(class|func|meth|mod|attr|exc):", _text(html))
    assert re.search(r'<a class="autorefs autorefs-internal"[^>]*href="[^"]*#leanprogress\.lean\.canonical\.canonical_state"',
                     html)


# ---------------------------------------------------------------- the CLI reference hook
def test_cli_reference_renders_what_the_parser_says():
    parser = argparse.ArgumentParser(prog="tool")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("go", help="go somewhere", description="Go, with *care*.")
    p.add_argument("place", help="where to")
    p.add_argument("--speed", type=float, default=1.5, help="km/h (default %(default)s)")
    p.add_argument("--mode", choices=["walk", "run"], default="walk", help="how")
    p.add_argument("--tag", action="append", default=[], help="repeatable tag")
    p.add_argument("--dry-run", action="store_true", help="print only | do not go")
    p.add_argument("--template", default="a\nb", help="two lines")
    p.add_argument("--name", required=True, help="who")
    text = cli_reference.render_cli(parser)
    assert "## go" in text and "`tool go`: go somewhere" in text and r"Go, with \*care\*." in text
    assert "usage: tool go [-h] [--speed SPEED]" in text
    rows = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| `")}
    assert rows["| `place`"] == "| `place` | required | where to |"
    assert rows["| `--speed SPEED`"] == "| `--speed SPEED` | 1.5 | km/h (default 1.5) |"
    assert rows["| `--mode {walk,run}`"] == "| `--mode {walk,run}` | `walk` | how |"
    assert rows["| `--tag TAG`"] == "| `--tag TAG` | repeatable | repeatable tag |"
    assert rows["| `--dry-run`"] == r"| `--dry-run` | off | print only \| do not go |"
    assert rows["| `--template TEMPLATE`"] == r"| `--template TEMPLATE` | `a\nb` | two lines |"
    assert rows["| `--name NAME`"] == "| `--name NAME` | required | who |"


def test_cli_reference_covers_the_real_parsers():
    from leanprogress.cli import build_parser

    text = cli_reference.render_cli()
    names = [name for name, _, _ in cli_reference._subcommands(build_parser())]
    assert {"build-dataset", "split", "train", "evaluate", "score", "quickstart", "serve", "prove",
            "predict-steps", "export-proofs"} <= set(names)
    assert all(f"\n## {name}\n" in text for name in names)
    assert "| `--max-in-flight MAX_IN_FLIGHT` |" in text and "| `--head {regression,distribution}` | `regression` |" in text


def test_cli_reference_page_without_its_marker_fails_the_build():
    class File:
        src_uri = cli_reference.PAGE

    class Page:
        file = File()

    with pytest.raises(RuntimeError, match="marker"):
        cli_reference.on_page_markdown("# CLI reference\n", Page(), None, None)
    assert "## train" in cli_reference.on_page_markdown(cli_reference.MARKER, Page(), None, None)


def test_example_sections_are_renamed_for_griffe():
    text = "Do it.\n\nExample:\n    >>> 1 + 1\n    2\n\n    Example: not a header\n"
    assert griffe_docstrings._as_examples(text) == "Do it.\n\nExamples:\n    >>> 1 + 1\n    2\n\n    Example: not a header\n"


def test_sphinx_roles_become_cross_references():
    paths = {"LeanProgressScorer": "leanprogress.scoring.LeanProgressScorer", "leanprogress.heads": "leanprogress.heads"}
    text = ("Use :class:`LeanProgressScorer` (see :mod:`leanprogress.heads`), :meth:`~a.b.predict()` "
            "and :func:`nowhere`.")
    assert griffe_docstrings._roles(text, paths.get) == (
        'Use <autoref identifier="leanprogress.scoring.LeanProgressScorer" optional><code>LeanProgressScorer</code>'
        '</autoref> (see <autoref identifier="leanprogress.heads" optional><code>leanprogress.heads</code></autoref>), '
        "`predict` and `nowhere`.")


def test_args_entries_naming_several_parameters_are_one_entry_each():
    text = ("Do.\n\n    Args:\n        tokenizer: the tokenizer.\n        padding, max_length: as for\n"
            "            the collator.\n        *args, **kwargs: those of Trainer.\n\n    Returns:\n        x, y: kept.\n")
    assert griffe_docstrings._one_entry_per_name(text) == (
        "Do.\n\n    Args:\n        tokenizer: the tokenizer.\n        padding: as for\n            the collator.\n"
        "        max_length: as for\n            the collator.\n        *args: those of Trainer.\n"
        "        **kwargs: those of Trainer.\n\n    Returns:\n        x, y: kept.\n")


def test_hook_examples_hold():
    import doctest

    for module in (cli_reference, griffe_docstrings):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_roles_resolve_through_griffe():
    import griffe

    package = griffe.load("leanprogress", search_paths=[str(ROOT / "src")])
    resolve = griffe_docstrings._resolver(package["scoring"]["LeanProgressScorer"])
    assert resolve("PromptTemplate") == "leanprogress.prompt.PromptTemplate"  # imported into scoring
    assert resolve("leanprogress.search.ReplayEnvironment") == "leanprogress.search.environment.ReplayEnvironment"
    assert resolve("predict_batch") == "leanprogress.scoring.LeanProgressScorer.predict_batch"
    assert resolve("no_such_name") is None


# ---------------------------------------------------------------- the README as a front page
SETUP_COMMANDS = [
    "python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 -e . && .venv/bin/leanprogress quickstart",
    "python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 -e '.[test]' && .venv/bin/python -m pytest -q",
]


def test_readme_is_a_front_page():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250, "the README is the front page; the manual lives in docs/"
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)
    assert [body.strip() for _, body in blocks[:2]] == SETUP_COMMANDS, "the two set-up commands come first, unchanged"


def test_readme_links_every_task_page_in_one_click():
    text = README.read_text(encoding="utf-8")
    targets = {t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if "://" not in t}
    expected = {"docs/getting-started.md", "docs/reference/api.md", "docs/reference/cli.md", "docs/benchmarks.md",
                "docs/changelog.md", *[f"docs/guides/{g}.md" for g in GUIDES]}
    assert expected <= targets, f"README does not link {sorted(expected - targets)}"
    assert {f"docs/guides/{p.name}" for p in (DOCS / "guides").glob("*.md")} <= targets, "a guide the README misses"


def test_readme_links_resolve():
    from markdown.extensions.toc import slugify

    text = README.read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if "://" in target:
            continue
        path, _, anchor = target.partition("#")
        page = ROOT / path if path else README
        assert page.is_file(), f"README links {target}, which does not exist"
        if anchor:
            headings = re.findall(r"^#+\s+(.*?)\s*$", page.read_text(encoding="utf-8"), re.M)
            assert anchor in {slugify(h, "-") for h in headings}, f"README links {target}: no such heading"


def test_docstrings_cite_no_figures_of_the_shared_data():
    # Figures measured on the shared data go stale in docstrings: "keeps 409 of the 469 traced tactics" and
    # "219 rendered states equal Lean's" stayed after the code moved them. They live on the benchmarks page.
    import ast

    data = re.compile(r"Mathlib sample|the sample\b|miniF2F|Workbook|search traces|shared data", re.I)
    number = re.compile(r"(?<![\w.])\d{2,}(?:[.,]\d+)*(?:x|%)?(?![\w])")
    found = []
    for path in sorted((ROOT / "src" / "leanprogress").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            doc = ast.get_docstring(node) or ""
            for paragraph in doc.split("\n\n"):
                text = re.sub(r"``.*?``", "", " ".join(paragraph.split()))  # code says what code does
                if ">>>" not in text and data.search(text) and number.search(text):
                    found.append(f"{path.relative_to(ROOT)}: {number.findall(text)} in {text[:100]}")
    assert not found, "figures of the shared data in docstrings (cite docs/benchmarks.md instead):\n" + "\n".join(found)
