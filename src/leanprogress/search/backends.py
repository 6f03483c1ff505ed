"""Real Lean backends: LeanInteract (the Lean REPL) and LeanDojo.

Both are optional extras, imported when a backend is created::

    pip install 'leanprogress[lean-interact]'   # or: [lean-dojo]

and both need a Lean 4 toolchain (elan) on the machine.

What counts as a finished proof: Lean reports no goals left, no message of
severity ``error``, no ``sorry`` and a complete proof status (the REPL's
``proofStatus`` is ``"Completed"``; ``"Incomplete: contains sorry"``,
``"Incomplete: contains metavariable(s)"`` and ``"Error: kernel type check
failed: ..."`` are errors; LeanDojo's own REPL runs the same checks and
answers ``ProofFinished`` only when they pass). :meth:`verify` then checks
the whole proof once more as a user would paste it; through LeanInteract it
also asks Lean which axioms the proof uses (``#print axioms``) and applies
the proof rule of :mod:`leanprogress.lean.forbidden` to Lean's answer (a
warning that the theorem uses ``sorry``, an axiom beyond ``propext``,
``Classical.choice`` and ``Quot.sound``: not a proof).

Restarts: after a tactic timeout LeanInteract kills the REPL (and
``AutoLeanServer`` restarts it, also when memory runs short); a LeanDojo
``Dojo`` whose tactic timed out is busy and is closed. Proof states of the
old process are then dead, and their numbers may name other states in the
new one. Handles therefore carry the process generation; a handle from an
older generation is re-created by starting the theorem again and replaying
its tactics (within the caller's timeout), and ``restarts`` counts what
happened so the search can report it.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..lean.declaration import named_statement, statement_of
from ..lean.forbidden import DEFAULT_RULE, ProofRule, print_axioms
from ..network import unreachable
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
    except Exception as exc:  # lean_dojo runs `git --version` and may call GitHub at import
        raise BackendUnavailable(f"could not import {module!r}: {type(exc).__name__}: {exc}") from None


def _one_line(exc: BaseException) -> str:
    """An exception as one line: its type and the last non-empty line of its text (GitPython's and LeanInteract's
    errors carry the command and its whole output; the last line says what went wrong)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip(" '\"")]
    return f"{type(exc).__name__}: {lines[-1] if lines else ''}".rstrip(": ")


def require_lake(backend: str, lake: str | None = None) -> str:
    """The ``lake`` executable both Lean backends run Lean through; BackendUnavailable in one line without it."""
    lake = lake or "lake"
    found = shutil.which(lake)
    if found is None:
        raise BackendUnavailable(
            f"the {backend} backend runs Lean through `lake`, and {lake!r} was not found"
            + (" on PATH" if os.sep not in lake else "") + ": install a Lean 4 toolchain with elan "
            "(https://leanprover-community.github.io/get_started.html)"
            + (", or pass --lake-path" if backend == "lean-interact" else ""))
    return found


def require_reachable(url: str, what: str, offline_fix: str) -> None:
    """BackendUnavailable in one line when ``url``, which ``what`` needs, cannot be reached from here."""
    why = unreachable(url)
    if why is not None:
        raise BackendUnavailable(f"{what}, and {why}: {offline_fix}")


def _repl_config(li: Any, project_dir: str | None, lake_path: str | None, repl_dir: str | None) -> Any:
    """LeanInteract's ``LeanREPLConfig``, after the checks that fail at once (no ``lake``; the REPL to download and
    no network), and without leaving a failed download in LeanInteract's cache."""
    lake = require_lake("lean-interact", lake_path)
    kwargs: dict[str, Any] = {"lake_path": lake}
    if repl_dir:
        kwargs.update(local_repl_path=repl_dir, build_repl=False)
        clone = None
    else:
        from lean_interact import utils

        # Where LeanREPLConfig keeps its clean clone of the REPL (config.py, _prepare_git_repl): the cache folder,
        # the repository's owner and name, repl_clean_copy; inside the installed package by default.
        url = utils.DEFAULT_REPL_GIT_URL
        kwargs.update(repl_git=url, cache_dir=utils.DEFAULT_CACHE_DIR)
        clone = Path(utils.DEFAULT_CACHE_DIR).joinpath(*url.rstrip("/").split("/")[-2:]) / "repl_clean_copy"
        if clone.exists() and not (clone / ".git").exists():
            shutil.rmtree(clone)  # what a failed clone of an earlier version left: it broke every later try
        if not clone.exists():
            require_reachable(url, f"LeanInteract downloads the Lean REPL from {url} on its first use", "on a "
                              "machine without the network, pass --repl-dir (a built checkout of the Lean REPL)")
    existed = clone is not None and clone.exists()
    quiet = logging.getLogger("lean_interact")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # its error is the long one GitPython raises, reported below in one line
    try:
        if project_dir:
            kwargs["project"] = li.LocalProject(directory=project_dir)
        return li.LeanREPLConfig(**kwargs)
    except Exception as exc:  # a failed download or REPL build
        if clone is not None and not existed:
            shutil.rmtree(clone, ignore_errors=True)  # a partial clone would break the next try
        raise BackendUnavailable(f"could not set up the Lean REPL: {_one_line(exc)}") from exc
    finally:
        quiet.setLevel(level)


def proof_block(proof: list[str], indent: str = "  ") -> str:
    """Tactics as the lines of a ``by`` block (every line of every tactic indented)."""
    return "\n".join(indent + line for tactic in proof for line in tactic.split("\n"))


@dataclass(frozen=True)
class BackendHandle:
    """A proof state of a backend process: the process generation, the backend's own handle, and the tactics
    that led to it from the theorem's start (to re-create it after a restart)."""

    generation: int
    raw: Any
    path: tuple[str, ...]


class _Retry(Exception):
    """The backend restarted during the call: run it again on a re-created state."""


class _RestartingBackend:
    """Handles that survive backend restarts (see the module doc). Subclasses implement ``_start_raw``,
    ``_run_raw`` (returning a TacticResult whose ``handle`` is the raw handle) and ``_discard``."""

    def __init__(self, timeout: float):
        if not timeout > 0:
            raise ValueError(f"timeout must be > 0, got {timeout}")
        self.timeout = float(timeout)
        self.restarts = 0
        self.last_restart = ""
        self._generation = 0
        self._theorem: Any = None
        self._fresh: dict[tuple[str, ...], Any] = {}

    def _limit(self, timeout: float | None, t0: float | None = None) -> float:
        if timeout is None:
            return self.timeout
        if t0 is not None:
            timeout -= time.monotonic() - t0
        return max(0.0, min(self.timeout, timeout))

    def _lost(self, why: str) -> None:
        """The backend process restarted (or must be): every state handed out so far is dead."""
        self._generation += 1
        self.restarts += 1
        self.last_restart = why
        self._fresh = {}
        self._discard()

    def _discard(self) -> None:
        pass

    def _before_call(self) -> None:
        pass

    def start(self, theorem: Any, timeout: float | None = None) -> tuple[str, Any]:
        self._theorem = theorem
        state, raw = self._start_raw(theorem, self._limit(timeout))
        self._fresh = {(): raw}
        return state, BackendHandle(self._generation, raw, ())

    def _revive(self, handle: BackendHandle, timeout: float | None, t0: float) -> Any:
        """The raw handle for ``handle`` in the current process, re-created by replay if it is stale."""
        if handle.generation == self._generation:
            return handle.raw
        if handle.path in self._fresh:
            return self._fresh[handle.path]
        generation = self._generation
        if () not in self._fresh:
            _, raw = self._start_raw(self._theorem, self._limit(timeout, t0))
            self._fresh[()] = raw
        raw = self._fresh[()]
        for i in range(len(handle.path)):
            path = handle.path[: i + 1]
            if path in self._fresh:
                raw = self._fresh[path]
                continue
            result = self._run_raw(raw, handle.path[i], self._limit(timeout, t0))
            if self._generation != generation or result.kind != "state":
                raise _Lost(f"re-creating a state lost in a restart ({self.last_restart}): step {i + 1} "
                            f"({handle.path[i]!r}) gave {result.kind}: {result.message}", result.kind)
            raw = self._fresh[path] = result.handle
        return raw

    def run_tactic(self, handle: BackendHandle, tactic: str, timeout: float | None = None) -> TacticResult:
        t0 = time.monotonic()
        for _ in range(3):
            self._before_call()
            try:
                raw = self._revive(handle, timeout, t0)
                result = self._run_raw(raw, tactic, self._limit(timeout, t0))
            except _Lost as lost:
                return TacticResult("timeout" if lost.kind == "timeout" else "error", message=str(lost))
            except _Retry:  # the process restarted under the call: its state was dead; re-create and run again
                continue
            if result.kind == "state":
                return TacticResult("state", state=result.state,
                                    handle=BackendHandle(self._generation, result.handle, handle.path + (tactic,)))
            return result
        return TacticResult("error", message=f"the backend restarted during every try ({self.last_restart})")


class _Lost(Exception):
    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def _first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0]


def _format_messages(messages) -> str:
    return "; ".join(f"{m.start_pos.line}:{m.start_pos.column}: {m.data}" for m in messages)


class LeanInteractEnvironment(_RestartingBackend):
    """Search through the Lean REPL via ``lean-interact``.

    Args:
        header: commands run once before the theorems (imports, ``open``);
            re-run after a REPL restart.
        project_dir: a local Lake project whose dependencies the REPL uses
            (e.g. a Mathlib checkout); None: LeanInteract's default.
        timeout: seconds per tactic before it counts as a timeout (the
            prover passes less when less of its deadline is left).
        server: an existing ``LeanServer``/``AutoLeanServer``.
        config: a ``LeanREPLConfig`` for the server created here (instead of
            ``project_dir``, ``lake_path`` and ``repl_dir``).
        lake_path: the ``lake`` executable (default: ``lake`` on PATH).
        repl_dir: a local, built Lean REPL checkout to use instead of the one
            LeanInteract downloads on first use.

    Before LeanInteract is asked for a REPL, Lean's ``lake`` must be there and, on the first use of its
    downloaded REPL, the REPL's git host reachable: otherwise one line says so at once (instead of GitPython's
    error after a clone attempt). A download that fails leaves nothing in LeanInteract's cache that would break
    the next try.

    An environment that started its own REPL pickles as its recipe (header,
    project, timeout, config): a worker process that unpickles it starts a
    REPL of its own (RL workers, through a Lean gate). One built on a given
    ``server`` does not pickle.

    Theorems are statements such as ``"theorem t (n : ℕ) : n + 0 = n"``; each
    is sent as ``<statement> := by sorry`` and searched from the sorry's
    proof state.

    Example (needs Lean and a Mathlib project)::

        env = LeanInteractEnvironment(project_dir="path/to/mathlib-project")
        state, handle = env.start("theorem t (n : ℕ) : n + 0 = n")
        env.run_tactic(handle, "simp").kind      # 'finished'
    """

    kind = "lean-interact"

    def __init__(self, header: str = "import Mathlib", project_dir: str | None = None, timeout: float = 60.0,
                 server: Any = None, config: Any = None, lake_path: str | None = None, repl_dir: str | None = None):
        super().__init__(timeout)
        self._recipe = (None if server is not None else
                        dict(header=header, project_dir=project_dir, timeout=timeout, config=config))
        li = _require("lean_interact", "lean-interact")
        from lean_interact.interface import LeanError

        self._li, self._LeanError = li, LeanError
        if server is None:
            if config is None:
                config = _repl_config(li, project_dir, lake_path, repl_dir)
            try:
                server = li.AutoLeanServer(config)
            except Exception as exc:  # a REPL that does not start
                raise BackendUnavailable(f"could not start the Lean REPL: {_one_line(exc)}") from exc
        self.server = server
        self.header = header
        # AutoLeanServer replays cached commands after its own restarts (timeouts, memory); a plain LeanServer
        # does not, so the header is re-run here after a restart.
        self._auto = isinstance(server, li.AutoLeanServer)
        self.env: int | None = None
        self._run_header()
        self._process = self._proc()
        self._death = ""

    def __getstate__(self) -> dict:
        if self._recipe is None:
            raise TypeError("a LeanInteractEnvironment built on a given server cannot be pickled: give it "
                            "project_dir= or config= instead, so that each worker process starts a REPL of its own")
        return {"_recipe": self._recipe}

    def __setstate__(self, state: dict) -> None:
        self.__init__(**state["_recipe"])

    def _proc(self) -> Any:
        # LeanInteract's server keeps its REPL process in `_proc` and replaces it on every (re)start: a new
        # object means the REPL restarted, also on its own (AutoLeanServer does so when memory runs short).
        return getattr(self.server, "_proc", None)

    def _run_header(self) -> None:
        self.env = None
        if self.header:
            extra = {"add_to_session_cache": True} if self._auto else {}
            resp = self.server.run(self._li.Command(cmd=self.header), timeout=None, **extra)
            if isinstance(resp, self._LeanError) or resp.has_errors():
                raise BackendUnavailable(f"the header failed in Lean: {self._why(resp)}")
            self.env = resp.env

    def _before_call(self) -> None:
        """Restart a dead REPL (and its header); if the process changed, every proof state is lost."""
        if not self.server.is_alive():
            self.server.restart()
            if not self._auto:
                self._run_header()
        if self._proc() is not self._process:
            self._process = self._proc()
            self._lost(self._death or "the REPL process was restarted")
        self._death = ""

    def _call(self, request: Any, timeout: float) -> Any:
        """Run one request; raises _Retry if the REPL restarted during it (the request's states were dead)."""
        self._before_call()
        generation = self._generation
        try:
            resp = self.server.run(request, timeout=timeout)
        except TimeoutError:
            self._death = f"a request timed out after {timeout:g}s and LeanInteract killed the REPL"
            raise
        except (ConnectionAbortedError, ChildProcessError, BrokenPipeError) as exc:
            self._death = f"the REPL died: {_first_line(str(exc))}"
            raise
        if self._proc() is not self._process:
            self._process = self._proc()
            self._lost("the REPL process was restarted during a request")
        if self._generation != generation:
            raise _Retry
        return resp

    def _why(self, resp: Any) -> str:
        if isinstance(resp, self._LeanError):
            return resp.message
        return _format_messages(resp.get_errors()) or "no error message"

    def _start_raw(self, theorem: Any, timeout: float) -> tuple[str, Any]:
        statement = statement_of(theorem)
        for attempt in range(2):
            try:
                resp = self._call(self._li.Command(cmd=f"{statement} := by sorry", env=self.env), timeout)
                break
            except _Retry:
                if attempt:
                    raise RuntimeError(f"the REPL restarted twice while starting the theorem ({self.last_restart})")
        if isinstance(resp, self._LeanError) or resp.has_errors():
            raise ValueError(f"Lean rejected the statement: {self._why(resp)}")
        if not resp.sorries or resp.sorries[0].proof_state is None:
            raise ValueError("Lean gave no proof state for the statement's `sorry`")
        sorry = resp.sorries[0]
        return sorry.goal, sorry.proof_state

    def _run_raw(self, raw: Any, tactic: str, timeout: float) -> TacticResult:
        try:
            resp = self._call(self._li.ProofStep(proof_state=raw, tactic=tactic), timeout)
        except TimeoutError:
            return TacticResult("timeout", message=f"no answer within {timeout:g}s (the REPL was restarted)")
        except (ConnectionAbortedError, ChildProcessError, BrokenPipeError) as exc:
            return TacticResult("error", message=f"the REPL died: {_first_line(str(exc))}")
        return self._outcome(resp)

    def _outcome(self, resp: Any) -> TacticResult:
        if isinstance(resp, self._LeanError):
            return TacticResult("error", message=resp.message)
        if resp.has_errors():
            # After an error Lean recovers with a `sorry`, so the goals may be empty: never a proof.
            return TacticResult("error", message=_format_messages(resp.get_errors()))
        if resp.sorries:
            return TacticResult("error", message="the tactic leaves a `sorry`")
        status = resp.proof_status
        if not resp.goals:
            if status == "Completed":
                return TacticResult("finished")
            return TacticResult("error", message=f"no goals left, but Lean's proof status is {status!r}")
        if status.startswith("Error"):
            return TacticResult("error", message=f"proof status {status!r}")
        return TacticResult("state", state="\n\n".join(resp.goals), handle=resp.proof_state)

    def verify(self, theorem: Any, proof: list[str], timeout: float | None = None,
               rule: ProofRule | None = None) -> str | None:
        """Check ``proof`` as one command, ``<statement> := by`` and the tactics, as a user would paste it, then
        ``#print axioms`` for it; None if Lean accepts it under ``rule`` (default: the default proof rule), else
        why not."""
        statement, name = named_statement(statement_of(theorem))
        source = f"{statement} := by\n{proof_block(proof)}\n\n{print_axioms(name)}"
        limit = self._limit(timeout)
        for attempt in range(2):
            try:
                resp = self._call(self._li.Command(cmd=source, env=self.env), limit)
                break
            except TimeoutError:
                return f"the check of the whole proof timed out after {limit:g}s"
            except (ConnectionAbortedError, ChildProcessError, BrokenPipeError) as exc:
                return f"the REPL died during the check: {_first_line(str(exc))}"
            except _Retry:
                if attempt:
                    return f"the REPL restarted twice during the check ({self.last_restart})"
        if isinstance(resp, self._LeanError):
            return resp.message
        if resp.has_errors():
            return _format_messages(resp.get_errors())
        if resp.sorries:
            return "the proof uses `sorry`"
        return (rule or DEFAULT_RULE).lean_verdict([(m.severity, m.data) for m in resp.messages], name,
                                                   axioms_expected=True)

    def close(self) -> None:
        kill = getattr(self.server, "kill", None)
        if kill:
            kill()


class LeanDojoEnvironment(_RestartingBackend):
    """Search through LeanDojo's ``Dojo`` on theorems of a traced repository.

    Args:
        repo_url: the git URL of the Lean repository (as traced by LeanDojo).
        commit: its commit.
        timeout: seconds per tactic (the prover passes less when less of its
            deadline is left).
        repo: an existing ``lean_dojo.LeanGitRepo`` (instead of URL and commit).

    Theorems are LeanDojo benchmark entries (``full_name``, ``file_path``)
    or ``(file_path, full_name)`` pairs. A found proof is checked with
    LeanDojo's ``check_proof`` (the file compiled with the proof pasted in);
    LeanDojo gives that check no time limit and no reason when it fails.

    Example (needs Lean and a traced repository)::

        env = LeanDojoEnvironment("https://github.com/leanprover-community/mathlib4", "29dcec07...")
        state, handle = env.start({"file_path": "Mathlib/Logic/Basic.lean", "full_name": "not_not_intro"})
    """

    kind = "lean-dojo"

    def __init__(self, repo_url: str | None = None, commit: str | None = None, timeout: float = 600.0,
                 repo: Any = None):
        super().__init__(timeout)
        ld = _require("lean_dojo", "lean-dojo")
        self._ld = ld
        if repo is None:
            if not repo_url or not commit:
                raise ValueError("LeanDojoEnvironment needs repo_url and commit (or repo)")
            require_lake("lean-dojo")
            if repo_url.startswith(("https://", "http://", "git@")):
                # LeanDojo reads a GitHub repository through GitHub's API (PyGithub) and clones other remotes;
                # both retry for a long while when the network is missing.
                from github import Consts

                api = Consts.DEFAULT_BASE_URL if "github.com" in repo_url else repo_url
                require_reachable(api, f"LeanDojo reads {repo_url} through {api}", "on a machine without the "
                                  "network, give --repo-url a local clone of the repository")
            try:
                repo = ld.LeanGitRepo(repo_url, commit)
            except Exception as exc:
                raise BackendUnavailable(f"LeanDojo could not read {repo_url} at {commit}: {_one_line(exc)}") from exc
        self.repo = repo
        self._dojo = None

    def _entry(self, theorem: Any) -> Any:
        if isinstance(theorem, dict):
            file_path, name = theorem["file_path"], theorem["full_name"]
        else:
            file_path, name = theorem
        return self._ld.Theorem(self.repo, file_path, name)

    def _discard(self) -> None:
        if self._dojo is not None:
            try:
                self._dojo.__exit__(None, None, None)
            finally:
                self._dojo = None

    def _start_raw(self, theorem: Any, timeout: float) -> tuple[str, Any]:
        self._discard()
        entry = self._entry(theorem)
        dojo = self._ld.Dojo(entry, timeout=max(1, math.ceil(timeout)))
        try:
            entered, state = dojo.__enter__()
        except Exception as exc:
            raise ValueError(f"LeanDojo could not start {entry.full_name}: {type(exc).__name__}: {exc}") from exc
        self._dojo = entered
        return state.pp, state

    def _run_raw(self, raw: Any, tactic: str, timeout: float) -> TacticResult:
        ld = self._ld
        # Dojo reads answers through pexpect, whose `timeout` bounds each read: lower it to what is left.
        self._dojo.proc.timeout = max(timeout, 0.001)
        try:
            res = self._dojo.run_tac(raw, tactic)
        except ld.DojoTacticTimeoutError:
            self._lost(f"a tactic timed out after {timeout:g}s and the busy Dojo was closed")
            return TacticResult("timeout", message=f"no answer within {timeout:g}s (LeanDojo was restarted)")
        except ld.DojoCrashError as exc:
            self._lost(f"Lean crashed: {exc}")
            return TacticResult("error", message=f"Lean crashed: {exc}")
        if isinstance(res, ld.ProofFinished):
            return TacticResult("finished")
        if isinstance(res, ld.TacticState):
            return TacticResult("state", state=res.pp, handle=res)
        if isinstance(res, ld.LeanError):
            return TacticResult("error", message=res.error)
        if isinstance(res, ld.ProofGivenUp):
            return TacticResult("error", message="proof given up: it contains `sorry`")
        return TacticResult("error", message=f"unexpected LeanDojo result {type(res).__name__}")

    def verify(self, theorem: Any, proof: list[str], timeout: float | None = None) -> str | None:
        """Check ``proof`` with LeanDojo's ``check_proof``: the theorem's file compiled with ``by`` and the
        tactics pasted in as its proof."""
        entry = self._entry(theorem)
        if self._ld.check_proof(entry, "by\n" + proof_block(proof)):
            return None
        return ("LeanDojo's check_proof rejected it (the file with the proof pasted in does not compile cleanly "
                "or uses sorry; LeanDojo reports no reason)")

    def close(self) -> None:
        self._discard()
