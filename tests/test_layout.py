"""The package layout: Lean text in leanprogress.lean, older import paths still working."""

import importlib

import pytest


@pytest.mark.parametrize("old, new", [
    ("leanprogress.leantext", "leanprogress.lean.symbols"),
    ("leanprogress.data.lean_syntax", "leanprogress.lean.syntax"),
    ("leanprogress.data.lean_expr", "leanprogress.lean.expr"),
    ("leanprogress.data.canonical", "leanprogress.lean.canonical"),
])
def test_old_module_names_are_the_moved_modules(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_names_moved_out_of_a_module_are_still_importable_from_it():
    from leanprogress import files
    from leanprogress.data import lean_source, proofs, records
    from leanprogress.lean import declaration
    from leanprogress.search import backends

    assert lean_source.render_state is declaration.render_state
    assert lean_source.parse_binders is declaration.parse_binders
    assert proofs.proof_block is declaration.proof_block
    assert backends.statement_of is declaration.statement_of
    assert records.atomic_output is files.atomic_output
    assert records.check_input_file is files.check_input_file


def test_lean_text_imports_nothing_of_the_layers_above_it():
    # leanprogress.lean is the bottom layer for Lean text (data, prompt and search build on it), so it may import
    # only itself and the standard library.
    import ast
    from pathlib import Path

    import leanprogress.lean

    offenders = []
    for path in Path(leanprogress.lean.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.level > 1 or (node.level == 0 and node.module
                                                                        and node.module.startswith("leanprogress"))):
                offenders.append(f"{path.name}: from {'.' * node.level}{node.module or ''}")
            if isinstance(node, ast.Import) and any(a.name.split(".")[0] in ("torch", "transformers", "leanprogress")
                                                    for a in node.names):
                offenders.append(f"{path.name}: import {', '.join(a.name for a in node.names)}")
    assert offenders == []
