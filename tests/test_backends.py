"""The Lean backends against the real lean_interact and lean_dojo packages; only the Lean process is a stand-in
(tests/lean_standin.py) that answers with the real protocols."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lean_standin as S
from leanprogress.lean.forbidden import ProofRule
from leanprogress.cli import main
from leanprogress.search import BestFirstProver, SearchConfig
from leanprogress.search.backends import BackendUnavailable, LeanDojoEnvironment, LeanInteractEnvironment

lean_interact = pytest.importorskip("lean_interact")  # in the `test` extra


class ListGenerator:
    kind = "list"

    def __init__(self, candidates):
        self.candidates = candidates

    def generate(self, state, prefix="", n=32):
        return [(t, -1.0) for t in self.candidates][:n]


class Spy:
    """Wraps a real LeanServer's `run` to record the requests the backend sends."""

    def __init__(self, server):
        self.requests = []
        real = server.run

        def run(request, **kwargs):
            self.requests.append(request)
            return real(request, **kwargs)

        server.run = run


@pytest.fixture
def repl_config(tmp_path):
    lake = S.install_lake(tmp_path / "bin")
    repl = S.make_repl_dir(tmp_path / "repl")
    return lean_interact.LeanREPLConfig(local_repl_path=str(repl), build_repl=False, lake_path=str(lake))


@pytest.fixture
def lean_env(repl_config):
    env = LeanInteractEnvironment(header="import Mathlib", timeout=10, config=repl_config)
    yield env
    env.close()


def test_lean_interact_counts_only_complete_proofs(lean_env):
    state, handle = lean_env.start(S.AND_STATEMENT + " := by sorry")
    assert state == S.AND_START
    r = lean_env.run_tactic(handle, "constructor")
    assert r.kind == "state" and r.state == f"{S.AND_LEFT}\n\n{S.AND_RIGHT}"
    # Lean recovers from a failing tactic with a sorry: no goals, status "Incomplete: contains sorry".
    simp = lean_env.run_tactic(handle, "simp")
    assert simp.kind == "error" and "simp made no progress" in simp.message and simp.message.startswith("0:0: ")
    sorry = lean_env.run_tactic(handle, "sorry")  # the REPL lists the `sorry` keyword among its sorries
    assert sorry.kind == "error" and "leaves a `sorry`" in sorry.message
    # sorryAx is no `sorry` keyword: only the proof status says the proof holds one.
    hidden = lean_env.run_tactic(handle, "exact sorryAx _ false")
    assert hidden.kind == "error" and "Incomplete: contains sorry" in hidden.message
    kernel = lean_env.run_tactic(handle, "exact and_swap p q hp hq")
    assert kernel.kind == "error" and "kernel type check failed" in kernel.message
    missing = lean_env.run_tactic(handle, "exact?")
    assert missing.kind == "error" and "could not close the goal" in missing.message  # a LeanError
    assert lean_env.run_tactic(handle, "exact ⟨hp, hq⟩").kind == "finished"
    assert lean_env.run_tactic(r.handle, "exact hq").kind == "error"
    with pytest.raises(ValueError, match="Lean rejected the statement: 1:8: unknown identifier"):
        lean_env.start("theorem other : 1 = 1")


def test_lean_interact_search_checks_the_whole_proof_as_one_command(lean_env):
    spy = Spy(lean_env.server)
    gen = ListGenerator(["sorry", "simp", "constructor", "exact hp", "exact hq"])
    r = BestFirstProver(lean_env, gen).prove(S.AND_STATEMENT)
    assert r.proved and r.proof == ["constructor", "exact hp", "exact hq"] and r.rejected_candidates == 3
    sent = [q.tactic for q in spy.requests if isinstance(q, lean_interact.ProofStep)]
    assert "sorry" not in sent and "simp" in sent
    check = spy.requests[-1]
    assert isinstance(check, lean_interact.Command)
    assert check.cmd == (S.AND_STATEMENT + " := by\n  constructor\n  exact hp\n  exact hq\n\n#print axioms and_swap")
    assert check.env == lean_env.env
    assert lean_env.verify(S.AND_STATEMENT, ["constructor", "exact hp"]).startswith("1:")  # unsolved goals
    # Lean's verdict beyond errors: the sorry warning (sorryAx is no `sorry` keyword) and the axioms.
    assert lean_env.verify(S.AND_STATEMENT, ["exact sorryAx _ false"]) == "Lean: declaration uses 'sorry'"
    assert "depends on trust_me" in lean_env.verify(S.AND_STATEMENT, ["exact trust_me p q hp hq"])
    native = lean_env.verify(S.ADD_STATEMENT, ["decide +native"])
    assert "Lean.ofReduceBool" in native
    assert lean_env.verify(S.ADD_STATEMENT, ["decide +native"], rule=ProofRule(native_decide=True)) is None


@pytest.mark.parametrize("tail", [" := by\n  sorry", " :=\n  by sorry\n", " := by -- to do\n  sorry", " := by sorry -- a := b"])
def test_lean_interact_statement_with_a_sorry_tail_across_lines(lean_env, tail):
    """A statement as a file writes it (`:= by`, then `sorry` on the next line) reaches Lean as the statement
    with one `:= by sorry`, not `... sorry := by sorry`; its proof is checked against the bare statement."""
    spy = Spy(lean_env.server)
    state, handle = lean_env.start(S.AND_STATEMENT + tail)
    assert state == S.AND_START
    assert spy.requests[-1].cmd == S.AND_STATEMENT + " := by sorry"
    r = BestFirstProver(lean_env, ListGenerator(["constructor", "exact hp", "exact hq"])).prove(S.AND_STATEMENT + tail)
    assert r.proved and spy.requests[-1].cmd.startswith(S.AND_STATEMENT + " := by\n  constructor")


def test_lean_interact_proof_rejected_as_a_whole_is_unverified(lean_env):
    r = BestFirstProver(lean_env, ListGenerator(["omega"])).prove(S.ADD_STATEMENT)
    assert r.status == "unverified" and "deep recursion" in r.error and r.proof == ["omega"]
    # native_decide (forbidden by the default proof rule) is never sent
    assert BestFirstProver(lean_env, ListGenerator(["native_decide"])).prove(S.ADD_STATEMENT).status == "failed"


def test_lean_interact_recreates_states_lost_when_a_timeout_restarts_the_repl(repl_config):
    env = LeanInteractEnvironment(header="import Mathlib", timeout=0.5, config=repl_config)
    try:
        _, root = env.start(S.AND_STATEMENT)
        child = env.run_tactic(root, "constructor").handle
        slow = env.run_tactic(child, "sleep 3000")
        assert slow.kind == "timeout" and not env.server.is_alive()
        # The new REPL numbers its states from 0 again: the old handles would name other states (or none).
        right = env.run_tactic(child, "exact hp")
        assert right.kind == "state" and right.state == S.AND_RIGHT and env.restarts == 1
        assert "timed out" in env.last_restart
        assert env.run_tactic(right.handle, "exact hq").kind == "finished"
        assert env.run_tactic(root, "exact ⟨hp, hq⟩").kind == "finished"
        # Through the prover: a slow candidate costs a restart, not the search.
        r = BestFirstProver(env, ListGenerator(["sleep 3000", "constructor", "exact hp", "exact hq"]),
                            config=SearchConfig(timeout_s=30)).prove(S.AND_STATEMENT)
        assert r.proved and r.restarts >= 1
    finally:
        env.close()


def test_lean_interact_notices_restarts_it_did_not_cause(lean_env):
    _, root = lean_env.start(S.AND_STATEMENT)
    child = lean_env.run_tactic(root, "constructor").handle
    lean_env.server.restart()  # as AutoLeanServer does on its own when memory runs short
    assert lean_env.run_tactic(root, "exact ⟨hp, hq⟩").kind == "finished" and lean_env.restarts == 1
    # A restart inside a request (AutoLeanServer checks memory before sending): the answer is about a dead state.
    real, calls = lean_env.server.run, []

    def restart_once(request, **kwargs):
        calls.append(request)
        if len(calls) == 1:
            lean_env.server.restart()
        return real(request, **kwargs)

    lean_env.server.run = restart_once
    right = lean_env.run_tactic(child, "exact hp")
    assert right.kind == "state" and right.state == S.AND_RIGHT and lean_env.restarts == 2


def test_lean_interact_plain_server_gets_its_header_back_after_a_restart(repl_config):
    server = lean_interact.LeanServer(repl_config)
    spy = Spy(server)
    env = LeanInteractEnvironment(header="import Mathlib", timeout=0.5, server=server)
    try:
        _, root = env.start(S.AND_STATEMENT)
        assert env.run_tactic(root, "sleep 3000").kind == "timeout"
        assert env.run_tactic(root, "constructor").kind == "state"
        headers = [q for q in spy.requests if isinstance(q, lean_interact.Command) and q.cmd == "import Mathlib"]
        assert len(headers) == 2 and env.restarts == 1
    finally:
        env.close()


def test_lean_interact_deadline_bounds_a_slow_tactic(lean_env):
    r = BestFirstProver(lean_env, ListGenerator(["sleep 8000", "constructor"]),
                        config=SearchConfig(timeout_s=1.0)).prove(S.AND_STATEMENT)
    assert r.status == "timeout" and r.time_s < 5 and "deadline of 1s" in r.error


def test_prove_cli_on_lean_interact(tmp_path, capsys):
    lake = S.install_lake(tmp_path / "bin")
    repl = S.make_repl_dir(tmp_path / "repl")
    statements = tmp_path / "statements.jsonl"
    statements.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"name": "and_swap", "statement": S.AND_STATEMENT}, {"name": "add_zero'", "statement": S.ADD_STATEMENT},
        {"name": "bad", "statement": "theorem bad : 1 = 2"}]) + "\n", encoding="utf-8")
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"goal": S.AND_START, "tactic": "sorry", "steps_remaining": 0},
        {"goal": S.AND_START, "tactic": "exact ⟨hp, hq⟩", "steps_remaining": 0},
        {"goal": S.ADD_START, "tactic": "rfl", "steps_remaining": 0}]) + "\n", encoding="utf-8")
    out = tmp_path / "results.jsonl"
    assert main(["prove", "--backend", "lean-interact", "--theorems", str(statements), "--repl-dir", str(repl),
                 "--lake-path", str(lake), "--generator", "retrieval", "--corpus", str(corpus),
                 "--output", str(out)]) == 0
    rows = {r["theorem"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert rows["and_swap"]["status"] == "proved" and rows["and_swap"]["proof"] == ["exact ⟨hp, hq⟩"]
    assert rows["add_zero'"]["status"] == "proved"
    assert rows["bad"]["status"] == "error" and "Lean rejected the statement" in rows["bad"]["error"]
    assert "proved 2/3" in capsys.readouterr().out


def test_missing_backend_package_is_one_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "lean_interact", None)
    with pytest.raises(BackendUnavailable, match=r"pip install 'leanprogress\[lean-interact\]'"):
        LeanInteractEnvironment()
    statements = tmp_path / "s.jsonl"
    statements.write_text(json.dumps({"name": "t", "statement": S.ADD_STATEMENT}) + "\n")
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"goal": "⊢ p", "tactic": "simp", "steps_remaining": 0}) + "\n")
    assert main(["prove", "--backend", "lean-interact", "--theorems", str(statements), "--generator", "retrieval",
                 "--corpus", str(corpus), "--output", str(tmp_path / "r.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'leanprogress[lean-interact]'" in err
    monkeypatch.setitem(sys.modules, "lean_dojo", None)
    with pytest.raises(BackendUnavailable, match=r"leanprogress\[lean-dojo\]"):
        LeanDojoEnvironment("https://github.com/a/b", "abc")


# ---------------------------------------------------------------- lean_dojo
class StandinTracedTheorem:
    """What Dojo and check_proof read of a traced theorem: where it starts and where its proof lies."""

    def __init__(self, lean_file, name):
        from lean_dojo.data_extraction.lean import Pos

        lines = lean_file.code
        i = next(k for k, line in enumerate(lines) if line.startswith(f"theorem {name} "))
        j = i + 1
        while j < len(lines) and lines[j].startswith("  "):
            j += 1
        self.start = Pos(i + 1, 1)
        self._proof = (Pos(i + 1, lines[i].index(":=") + 3), Pos(j, len(lines[j - 1]) + 1))

    def locate_proof(self):
        return self._proof


class StandinTracedFile:
    """A traced file (LeanDojo builds it from the *.ast.json its tracing writes, which needs Lean)."""

    def __init__(self, root, path):
        from lean_dojo.data_extraction.lean import LeanFile

        self.root_dir, self.path = root, path
        self.lean_file, self.comments, self.has_prelude = LeanFile(root, path), [], False

    @property
    def abs_path(self):
        return self.root_dir / self.path

    def get_traced_theorem(self, thm):
        return StandinTracedTheorem(self.lean_file, thm.full_name)


@pytest.fixture
def dojo_repo(tmp_path, monkeypatch):
    """A real LeanGitRepo over a local git repository, with tracing (which needs Lean) replaced by its result."""
    lean_dojo = pytest.importorskip("lean_dojo")
    from lean_dojo.data_extraction import cache as cache_mod
    from lean_dojo.data_extraction import lean as lean_mod
    from lean_dojo.data_extraction import traced_data
    from lean_dojo.interaction import dojo as dojo_mod

    S.install_lake(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{__import__('os').environ['PATH']}")
    repo_dir = tmp_path / "toy"
    (repo_dir / "Toy").mkdir(parents=True)
    (repo_dir / "lean-toolchain").write_text("leanprover/lean4:v4.19.0\n")
    (repo_dir / "Toy" / "Basic.lean").write_text(
        f"import Mathlib\n\n{S.AND_STATEMENT} := by\n  exact ⟨hp, hq⟩\n\n{S.ADD_STATEMENT} := by\n  simp\n",
        encoding="utf-8")
    git = ["git", "-c", "user.email=t@example.invalid", "-c", "user.name=t"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "toy"]):
        subprocess.run(git + cmd, cwd=repo_dir, check=True, capture_output=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_dir, check=True, capture_output=True,
                            text=True).stdout.strip()
    monkeypatch.setattr(lean_mod, "repo_cache", cache_mod.Cache(tmp_path / "cache"))
    monkeypatch.setattr(cache_mod, "DISABLE_REMOTE_CACHE", True)
    repo = lean_dojo.LeanGitRepo(str(repo_dir), commit)
    traced = tmp_path / "traced" / "toy"
    shutil.copytree(repo_dir, traced)
    (traced / "Lean4Repl.lean").write_text("-- LeanDojo's REPL; the stand-in Lean speaks its protocol\n")

    def from_traced_file(cls, root_dir, json_path, repo):
        # LeanDojo keeps Toy/Basic.lean's trace at .lake/build/ir/Toy/Basic.ast.json.
        rel = Path(json_path)
        rel = rel.relative_to(root_dir) if rel.is_absolute() else rel
        lean_path = rel.relative_to(".lake/build/ir").with_suffix("").with_suffix(".lean")
        return StandinTracedFile(Path(root_dir), lean_path)

    monkeypatch.setattr(dojo_mod, "get_traced_repo_path", lambda repo, build_deps=True: traced)
    monkeypatch.setattr(traced_data.TracedFile, "from_traced_file", classmethod(from_traced_file))
    return repo


AND_THM = {"file_path": "Toy/Basic.lean", "full_name": "and_swap"}
ADD_THM = {"file_path": "Toy/Basic.lean", "full_name": "add_zero'"}


def test_lean_dojo_backend_runs_tactics_and_checks_proofs(dojo_repo):
    env = LeanDojoEnvironment(repo=dojo_repo, timeout=10)
    try:
        state, handle = env.start(AND_THM)
        assert state == S.AND_START
        r = env.run_tactic(handle, "constructor")
        assert r.kind == "state" and r.state == f"{S.AND_LEFT}\n\n{S.AND_RIGHT}"
        assert env.run_tactic(handle, "sorry").message == "proof given up: it contains `sorry`"
        assert "kernel type check failed" in env.run_tactic(handle, "exact and_swap p q hp hq").message
        assert env.run_tactic(handle, "exact ⟨hp, hq⟩").kind == "finished"
        gen = ListGenerator(["simp", "constructor", "exact hp", "exact hq"])
        res = BestFirstProver(env, gen).prove(AND_THM)
        assert res.proved and res.proof == ["constructor", "exact hp", "exact hq"]
        assert env.verify(AND_THM, ["constructor", "exact hp"]) is not None
        bad = BestFirstProver(env, ListGenerator(["omega"])).prove(ADD_THM)
        assert bad.status == "unverified" and "check_proof rejected" in bad.error
        missing = BestFirstProver(env, gen).prove({"file_path": "Toy/Basic.lean", "full_name": "nope"})
        assert missing.status == "error" and "could not start" in missing.error
    finally:
        env.close()


def test_lean_dojo_timeout_restarts_the_dojo_and_recreates_states(dojo_repo):
    env = LeanDojoEnvironment(repo=dojo_repo, timeout=10)
    try:
        _, root = env.start(AND_THM)
        child = env.run_tactic(root, "constructor").handle
        slow = env.run_tactic(child, "sleep 3000", timeout=0.5)
        assert slow.kind == "timeout" and env.restarts == 1
        right = env.run_tactic(child, "exact hp")
        assert right.kind == "state" and right.state == S.AND_RIGHT
        assert env.run_tactic(right.handle, "exact hq").kind == "finished"
    finally:
        env.close()


# ---------------------------------------------------------------- without Lean or the network
def _prove(backend, theorems, tmp_path, *extra):
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"goal": "⊢ p", "tactic": "simp", "steps_remaining": 0}) + "\n")
    return main(["prove", "--backend", backend, "--theorems", str(theorems), "--generator", "retrieval", "--corpus",
                 str(corpus), "--output", str(tmp_path / "r.jsonl"), *extra])


@pytest.fixture
def repl_cache(tmp_path, monkeypatch):
    """LeanInteract's cache (inside the installed package by default) moved to a temporary folder, and its REPL
    repository URL to one that answers nothing (the discard port)."""
    from lean_interact import utils

    monkeypatch.setattr(utils, "DEFAULT_CACHE_DIR", tmp_path / "li-cache")
    monkeypatch.setattr(utils, "DEFAULT_REPL_GIT_URL", "http://127.0.0.1:9/owner/repl")
    return tmp_path / "li-cache"


def test_lean_interact_without_lean_or_network_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch,
                                                                              repl_cache):
    statements = tmp_path / "s.jsonl"
    statements.write_text(json.dumps({"name": "t", "statement": S.ADD_STATEMENT}) + "\n")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no lake
    assert _prove("lean-interact", statements, tmp_path) == 2
    err = capsys.readouterr().err
    assert err == ("leanprogress: error: the lean-interact backend runs Lean through `lake`, and 'lake' was not "
                   "found on PATH: install a Lean 4 toolchain with elan "
                   "(https://leanprover-community.github.io/get_started.html), or pass --lake-path\n")
    S.install_lake(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    clone = repl_cache / "owner" / "repl" / "repl_clean_copy"
    clone.mkdir(parents=True)  # an empty clone, as a failed first use of an earlier version left it
    for _ in range(2):  # before: a 26-line GitPython error, then another error on the next try
        assert _prove("lean-interact", statements, tmp_path) == 2
        err = capsys.readouterr().err
        assert err == ("leanprogress: error: LeanInteract downloads the Lean REPL from http://127.0.0.1:9/owner/repl "
                       "on its first use, and http://127.0.0.1:9/owner/repl cannot be reached from here "
                       "(ConnectError): on a machine without the network, pass --repl-dir (a built checkout of "
                       "the Lean REPL)\n")
        assert not clone.exists()


def test_a_failed_repl_download_leaves_no_partial_clone(tmp_path, capsys, monkeypatch, repl_cache):
    import http.server
    import threading

    from lean_interact import utils

    # A host that answers, but with no repository there: the clone starts and fails.
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(utils, "DEFAULT_REPL_GIT_URL", f"http://127.0.0.1:{server.server_port}/owner/repl")
        S.install_lake(tmp_path / "bin")
        monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
        statements = tmp_path / "s.jsonl"
        statements.write_text(json.dumps({"name": "t", "statement": S.ADD_STATEMENT}) + "\n")
        for _ in range(2):  # the same error both times: the first try left nothing behind
            assert _prove("lean-interact", statements, tmp_path) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1 and err.startswith(
                "leanprogress: error: could not set up the Lean REPL: GitCommandError: "), err
            assert not (repl_cache / "owner" / "repl" / "repl_clean_copy").exists()
    finally:
        server.shutdown()


def test_lean_dojo_without_lean_or_network_is_one_line(tmp_path, capsys, monkeypatch):
    from github import Consts

    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps([{"full_name": "t", "file_path": "A.lean", "traced_tactics": [],
                                  "url": "https://github.com/leanprover-community/mathlib4", "commit": "5a91953"}]))
    (tmp_path / "git-only").mkdir()
    (tmp_path / "git-only" / "git").symlink_to(shutil.which("git"))  # lean_dojo runs `git --version` at import
    monkeypatch.setenv("PATH", str(tmp_path / "git-only"))
    assert _prove("lean-dojo", bench, tmp_path) == 2
    assert capsys.readouterr().err == (
        "leanprogress: error: the lean-dojo backend runs Lean through `lake`, and 'lake' was not found on PATH: "
        "install a Lean 4 toolchain with elan (https://leanprover-community.github.io/get_started.html)\n")
    S.install_lake(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{tmp_path / 'git-only'}")
    monkeypatch.setattr(Consts, "DEFAULT_BASE_URL", "http://127.0.0.1:9")  # PyGithub's API address
    assert _prove("lean-dojo", bench, tmp_path) == 2
    # before: 30 lines of urllib3 retries, then the connection error
    assert capsys.readouterr().err == (
        "leanprogress: error: LeanDojo reads https://github.com/leanprover-community/mathlib4 through "
        "http://127.0.0.1:9, and http://127.0.0.1:9 cannot be reached from here (ConnectError): on a machine "
        "without the network, give --repo-url a local clone of the repository\n")
