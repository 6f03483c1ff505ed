"""Real Lean backends: LeanInteract (the Lean REPL) and LeanDojo.

Both are optional extras, imported when a backend is created::

    pip install 'leanprogress[lean-interact]'   # or: [lean-dojo]

and both need a Lean 4 toolchain (elan) on the machine.
"""

from __future__ import annotations

from typing import Any

from .environment import TacticResult


class BackendUnavailable(RuntimeError):
    """The backend's Python package or a Lean toolchain is missing."""


def _require(module: str, extra: str):
    try:
        return __import__(module, fromlist=["*"])
    except ImportError:
        raise BackendUnavailable(
            f"this backend needs the {module!r} package: pip install 'leanprogress[{extra}]' "
            "(and a Lean 4 toolchain, installed with elan)"
        ) from None


class LeanInteractEnvironment:
    """Search through the Lean REPL via ``lean-interact``.

    Args:
        header: commands run once before every theorem (imports, ``open``).
        project_dir: a local Lake project whose dependencies the REPL uses
            (e.g. a Mathlib checkout); None: LeanInteract's default.
        timeout: seconds per tactic before it counts as a timeout.
        server: an existing ``LeanServer``/``AutoLeanServer`` (then header and
            project settings are the caller's).

    Theorems are statements such as ``"theorem t (n : ℕ) : n + 0 = n"``; each
    is sent as ``<statement> := by sorry`` and searched from the sorry's
    proof state.
    """

    def __init__(self, header: str = "import Mathlib", project_dir: str | None = None, timeout: float = 60.0,
                 server: Any = None):
        li = _require("lean_interact", "lean-interact")
        self._li = li
        self.timeout = timeout
        if server is None:
            try:
                if project_dir:
                    config = li.LeanREPLConfig(project=li.LocalProject(directory=project_dir))
                else:
                    config = li.LeanREPLConfig()
                server = li.AutoLeanServer(config)
            except Exception as exc:  # missing elan/lake, failed REPL build
                raise BackendUnavailable(f"could not start the Lean REPL: {exc}") from exc
        self.server = server
        self.env = None
        if header:
            resp = self.server.run(li.Command(cmd=header), timeout=None)
            if isinstance(resp, li.LeanError) or resp.has_errors():
                raise BackendUnavailable(f"header failed in Lean: {_messages(resp)}")
            self.env = resp.env

    def start(self, theorem: str) -> tuple[str, Any]:
        statement = theorem.strip()
        for tail in (":= by sorry", ":= sorry", ":= by", ":="):
            if statement.endswith(tail):
                statement = statement[: -len(tail)].rstrip()
                break
        resp = self.server.run(self._li.Command(cmd=f"{statement} := by sorry", env=self.env), timeout=self.timeout)
        if isinstance(resp, self._li.LeanError) or resp.has_errors() or not resp.sorries:
            raise ValueError(f"Lean rejected the statement: {_messages(resp)}")
        sorry = resp.sorries[0]
        return sorry.goal, sorry.proof_state

    def run_tactic(self, handle: Any, tactic: str) -> TacticResult:
        try:
            resp = self.server.run(self._li.ProofStep(proof_state=handle, tactic=tactic), timeout=self.timeout)
        except TimeoutError:
            return TacticResult("timeout", message=f"no answer within {self.timeout:g}s")
        if isinstance(resp, self._li.LeanError):
            return TacticResult("error", message=resp.message)
        if resp.has_errors():
            return TacticResult("error", message=_messages(resp))
        if resp.proof_status == "Completed" or (not resp.goals and resp.proof_status != "Error"):
            return TacticResult("finished")
        if resp.proof_status == "Error":
            return TacticResult("error", message=_messages(resp) or "proof status: Error")
        return TacticResult("state", state="\n\n".join(resp.goals), handle=resp.proof_state)

    def close(self) -> None:
        kill = getattr(self.server, "kill", None)
        if kill:
            kill()


def _messages(resp: Any) -> str:
    if hasattr(resp, "message") and not hasattr(resp, "messages"):
        return resp.message
    return "; ".join(m.data for m in getattr(resp, "messages", []) if m.severity == "error")


class LeanDojoEnvironment:
    """Search through LeanDojo's ``Dojo`` on theorems of a traced repository.

    Args:
        repo_url: the git URL of the Lean repository (as traced by LeanDojo).
        commit: its commit.
        timeout: seconds per tactic (LeanDojo's ``Dojo(timeout=...)``).

    Theorems are LeanDojo benchmark entries (``full_name``, ``file_path``)
    or ``(file_path, full_name)`` pairs.
    """

    def __init__(self, repo_url: str, commit: str, timeout: int = 600):
        ld = _require("lean_dojo", "lean-dojo")
        self._ld = ld
        self.repo = ld.LeanGitRepo(repo_url, commit)
        self.timeout = timeout
        self._dojo = None

    def start(self, theorem: Any) -> tuple[str, Any]:
        self.close()
        if isinstance(theorem, dict):
            file_path, name = theorem["file_path"], theorem["full_name"]
        else:
            file_path, name = theorem
        dojo = self._ld.Dojo(self._ld.Theorem(self.repo, file_path, name), timeout=self.timeout)
        try:
            entered, state = dojo.__enter__()
        except Exception as exc:
            raise ValueError(f"LeanDojo could not start {name}: {exc}") from exc
        self._dojo = entered
        return state.pp, state

    def run_tactic(self, handle: Any, tactic: str) -> TacticResult:
        ld = self._ld
        try:
            res = self._dojo.run_tac(handle, tactic)
        except ld.DojoTacticTimeoutError:
            return TacticResult("timeout", message="LeanDojo tactic timeout")
        except ld.DojoCrashError as exc:
            return TacticResult("error", message=f"Lean crashed: {exc}")
        if isinstance(res, ld.ProofFinished):
            return TacticResult("finished")
        if isinstance(res, ld.TacticState):
            return TacticResult("state", state=res.pp, handle=res)
        if isinstance(res, ld.LeanError):
            return TacticResult("error", message=res.error)
        return TacticResult("error", message=f"proof given up ({type(res).__name__})")

    def close(self) -> None:
        if self._dojo is not None:
            try:
                self._dojo.__exit__(None, None, None)
            finally:
                self._dojo = None
