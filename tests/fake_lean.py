"""Faithful fakes of the lean_interact and lean_dojo APIs the backends use.

They follow the libraries' documented shapes: lean_interact's
``LeanServer.run(Command | ProofStep, timeout=...)`` returning
``CommandResponse`` (``env``, ``sorries[].goal/proof_state``, ``messages``) or
``ProofStepResponse`` (``proof_status``, ``proof_state``, ``goals``) or
``LeanError(message)``, raising ``TimeoutError``; lean_dojo's ``Dojo`` context
manager with ``run_tac`` returning ``TacticState(pp, id)``, ``ProofFinished``,
``LeanError(error)``, ``ProofGivenUp`` and raising ``DojoTacticTimeoutError``.
A tiny "Lean" behind them knows one theorem: ``p ∧ q`` from ``hp`` and ``hq``.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field

START = "p q : Prop\nhp : p\nhq : q\n⊢ p ∧ q"
AFTER_CONSTRUCTOR = "case left\np q : Prop\nhp : p\nhq : q\n⊢ p\n\ncase right\np q : Prop\nhp : p\nhq : q\n⊢ q"
AFTER_LEFT = "case right\np q : Prop\nhp : p\nhq : q\n⊢ q"
MOVES = {
    (START, "constructor"): AFTER_CONSTRUCTOR,
    (START, "exact ⟨hp, hq⟩"): None,
    (AFTER_CONSTRUCTOR, "exact hp"): AFTER_LEFT,
    (AFTER_LEFT, "exact hq"): None,
}


def step(state, tactic):
    """(kind, new_state): kind in ok/done/error/timeout."""
    if tactic == "sleep 100":
        return "timeout", None
    if (state, tactic) not in MOVES:
        return "error", None
    after = MOVES[(state, tactic)]
    return ("done", None) if after is None else ("ok", after)


def install_lean_interact(monkeypatch):
    m = types.ModuleType("lean_interact")

    @dataclass
    class Message:
        data: str
        severity: str = "error"

    @dataclass
    class Sorry:
        goal: str
        proof_state: int

    @dataclass
    class CommandResponse:
        env: int
        sorries: list = field(default_factory=list)
        messages: list = field(default_factory=list)

        def has_errors(self):
            return any(x.severity == "error" for x in self.messages)

    @dataclass
    class ProofStepResponse:
        proof_status: str
        proof_state: int
        goals: list = field(default_factory=list)
        messages: list = field(default_factory=list)

        def has_errors(self):
            return any(x.severity == "error" for x in self.messages)

    @dataclass
    class LeanError:
        message: str = ""

    @dataclass
    class Command:
        cmd: str
        env: int | None = None

    @dataclass
    class ProofStep:
        proof_state: int
        tactic: str

    class LeanREPLConfig:
        def __init__(self, project=None, **kw):
            self.project = project

    class LocalProject:
        def __init__(self, directory):
            self.directory = directory

    class AutoLeanServer:
        def __init__(self, config):
            self.config, self.states, self.killed, self.calls = config, {}, False, []

        def run(self, request, *, verbose=False, timeout=None):
            self.calls.append((request, timeout))
            if isinstance(request, Command):
                if request.cmd.startswith("import"):
                    return CommandResponse(env=0)
                if "p ∧ q" not in request.cmd or request.env != 0:
                    return CommandResponse(env=1, messages=[Message("unknown identifier")])
                self.states[0] = START
                return CommandResponse(env=1, sorries=[Sorry(START, 0)], messages=[Message("declaration uses 'sorry'", "warning")])
            if isinstance(request, ProofStep):
                if request.proof_state not in self.states:
                    return LeanError("Unknown proof state.")
                kind, after = step(self.states[request.proof_state], request.tactic)
                if kind == "timeout":
                    raise TimeoutError("The Lean server did not respond in time")
                if kind == "error":
                    return ProofStepResponse("Error", 99, messages=[Message(f"tactic '{request.tactic}' failed")])
                new = len(self.states)
                if kind == "done":
                    return ProofStepResponse("Completed", new, goals=[])
                self.states[new] = after
                return ProofStepResponse("Incomplete", new, goals=after.split("\n\n"))
            raise TypeError(request)

        def kill(self):
            self.killed = True

    for obj in (CommandResponse, ProofStepResponse, LeanError, Command, ProofStep, LeanREPLConfig, LocalProject,
                AutoLeanServer):
        setattr(m, obj.__name__, obj)
    m.LeanServer = AutoLeanServer
    monkeypatch.setitem(sys.modules, "lean_interact", m)
    return m


def install_lean_dojo(monkeypatch):
    m = types.ModuleType("lean_dojo")

    @dataclass(frozen=True)
    class TacticState:
        pp: str
        id: int = 0

    @dataclass(frozen=True)
    class ProofFinished:
        tactic_state_id: int

    @dataclass(frozen=True)
    class LeanError:
        error: str

    @dataclass(frozen=True)
    class ProofGivenUp:
        pass

    class DojoTacticTimeoutError(Exception):
        pass

    class DojoCrashError(Exception):
        pass

    @dataclass
    class LeanGitRepo:
        url: str
        commit: str

    @dataclass
    class Theorem:
        repo: LeanGitRepo
        file_path: str
        full_name: str

    class Dojo:
        opened = []

        def __init__(self, entry, timeout=600):
            self.entry, self.timeout, self.exited = entry, timeout, False

        def __enter__(self):
            if self.entry.full_name != "and_intro":
                raise RuntimeError("Failed to locate the theorem")
            Dojo.opened.append(self)
            return self, TacticState(START, 0)

        def __exit__(self, *exc):
            self.exited = True

        def run_tac(self, state, tactic):
            if not isinstance(state, TacticState):
                raise RuntimeError("Attempting to run a tactic on an invalid state")
            if tactic == "sorry":
                return ProofGivenUp()
            kind, after = step(state.pp, tactic)
            if kind == "timeout":
                raise DojoTacticTimeoutError()
            if kind == "error":
                return LeanError(f"unknown tactic {tactic}")
            if kind == "done":
                return ProofFinished(1)
            return TacticState(after, state.id + 1)

    for obj in (TacticState, ProofFinished, LeanError, ProofGivenUp, DojoTacticTimeoutError, DojoCrashError,
                LeanGitRepo, Theorem, Dojo):
        setattr(m, obj.__name__, obj)
    monkeypatch.setitem(sys.modules, "lean_dojo", m)
    return m
