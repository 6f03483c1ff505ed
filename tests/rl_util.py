"""Helpers for the RL tests: a tiny causal LM policy built from a config (examples/tiny_policy.py's builder), and
small records to prompt it with."""

import importlib.util
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def fixture_records():
    from conftest import make_theorem
    from leanprogress.data.leandojo import records_from_theorem

    return [r for i in range(3) for r in records_from_theorem(make_theorem(f"T.g{i}", 2), source="gen")]


def tiny_policy_module():
    """examples/tiny_policy.py as a module (the examples folder is not a package)."""
    spec = importlib.util.spec_from_file_location("tiny_policy", EXAMPLES / "tiny_policy.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_policy(folder):
    """A 1-layer GPT-2 with a byte-level BPE tokenizer trained here on the fixture's text (no hub)."""
    texts = [r["goal"] + "\n" + r["tactic"] for r in fixture_records()] + ["simp omega rfl exact intro by", "```lean"]
    return tiny_policy_module().build_policy(folder, texts, n_layer=1)


def lean_interact_gate(folder, timeout=10):
    """An EnvironmentGate over the real lean_interact with the Lean stand-in (tests/lean_standin.py) as its REPL."""
    import lean_interact

    import lean_standin as S
    from leanprogress.rl.gate import EnvironmentGate
    from leanprogress.search.backends import LeanInteractEnvironment

    folder = Path(folder)
    config = lean_interact.LeanREPLConfig(local_repl_path=str(S.make_repl_dir(folder / "repl")), build_repl=False,
                                          lake_path=str(S.install_lake(folder / "bin")))
    return EnvironmentGate(LeanInteractEnvironment(header="import Mathlib", timeout=timeout, config=config),
                           timeout_s=timeout)
