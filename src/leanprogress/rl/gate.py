"""Lean gating for rewards: run each tactic, or each whole proof, in Lean before the model scores it.

With a gate, :class:`~leanprogress.rl.ProgressReward` gives the failure reward
to a tactic Lean rejects (or that runs out of time), the reward of 0 steps to a
tactic that finishes the proof, and scores the rest; a model trained on
``state_after`` records (score mode ``state``) reads the state the tactic
produced. Each completion needs its theorem's statement
(``theorem t (n : ℕ) : n + 0 = n``) and the proof so far (the prefix).

**What Lean must say for a proof to count** (the proof rule,
:mod:`leanprogress.lean.forbidden`): no error, no ``sorry`` (neither in Lean's
list of sorries nor in the warning "declaration uses 'sorry'", which is all
``exact sorryAx _ false`` leaves), and, where the backend can answer ``#print
axioms`` for the finished theorem, no axiom beyond ``propext``,
``Classical.choice`` and ``Quot.sound`` (plus the compiler's where
``native_decide`` is allowed). A finished proof Lean reports otherwise gets the
failure reward with status ``forbidden``.

**When the Lean service fails** for a whole call (the server is down, answers
with an error, the key is wrong, or every snippet of a call of several timed
out), the gate raises :class:`LeanServiceError`: a training run must not learn
from rewards that say nothing about the completions. A tactic that times out
on its own gets the failure reward (status ``timeout``).

The prefix is replayed as Lean source: its top-level tactics in order (the
project's step rule splits it; a tactic with a nested block is one tactic), so
it must be the proof text as written so far (what a policy wrote in earlier
turns, or a trace's first steps). A prefix taken from a LeanDojo listing of a
proof with nested blocks (listed out of source order) does not replay; its
completions get status ``prefix_failed`` and the failure reward.

Two gates:

- :class:`EnvironmentGate`: any search environment, such as
  :class:`~leanprogress.search.backends.LeanInteractEnvironment` (the Lean REPL
  through ``lean-interact``): the theorem is started once, the state after each
  (statement, prefix) is kept (up to ``cache_size``), and each tactic runs as a
  proof step from it; a tactic the REPL reports as finishing the proof is
  checked once more as a whole theorem with ``#print axioms``.
- :class:`KiminaGate`: a Kimina Lean Server, through the ``kimina-client``
  package (``pip install 'leanprogress[kimina]'``): each completion is one
  snippet, ``<header>`` then ``<statement> := by``, the prefix, the tactic and
  ``all_goals sorry``, then ``#print axioms <theorem>``, all of a call checked
  in one request. Lean errors on the tactic's lines reject it; errors before
  them mean the prefix failed; no ``sorry`` left to elaborate means the tactic
  finished the proof (then Lean's warnings and axioms decide whether it counts);
  otherwise the goals the ``sorry`` closed are the state it produced.

Both also check whole proofs (:meth:`~KiminaGate.check_proofs`): the proof's
top-level tactics after the statement; Lean's verdict, and how many tactics
Lean accepted before its first error (the partial credit of
:class:`~leanprogress.rl.ProgressReward` reads the model there).

Example (needs Lean)::

    from leanprogress.rl import ProgressReward
    from leanprogress.rl.gate import EnvironmentGate
    from leanprogress.search.backends import LeanInteractEnvironment

    gate = EnvironmentGate(LeanInteractEnvironment(project_dir="path/to/mathlib-project"))
    reward = ProgressReward("runs/state-model", lean=gate)
    reward.score([state], ["simp"], statements=["theorem t (n : ℕ) : n + 0 = n"])
"""

from __future__ import annotations

import inspect
import logging
import sys
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Sequence

from ..lean.declaration import named_statement
from ..lean.forbidden import DEFAULT_RULE, ProofRule, print_axioms, uses_sorry
from ..lean.syntax import parse_tactic_block

logger = logging.getLogger(__name__)

PROOF_STATUSES = ("verified", "incomplete", "rejected", "forbidden", "timeout", "statement_failed")


class LeanServiceError(RuntimeError):
    """The Lean service failed for a whole call (down, an error answer, a wrong key, every snippet timed out):
    the message says which and how; no completion of the call can be judged."""


@dataclass(frozen=True)
class GateOutcome:
    """What Lean did with one tactic.

    Attributes:
        kind: ``state`` (accepted; ``state`` is what it produced), ``finished`` (it ends the proof and Lean's
            verdict is clean), ``error`` (rejected, forbidden, or the prefix failed) or ``timeout``.
        status: the reward status of a failure: ``rejected``, ``forbidden`` (Lean's own answer shows a sorry or
            an axiom the rule does not allow), ``timeout``, ``prefix_failed`` or ``lean_error`` (the Lean process
            failed on this one snippet); empty otherwise.
    """

    kind: str
    state: str | None = None
    message: str = ""
    status: str = ""


@dataclass(frozen=True)
class ProofOutcome:
    """What Lean did with one whole proof.

    Attributes:
        status: ``verified`` (Lean accepts it under the proof rule), ``incomplete`` (every tactic accepted, goals
            left), ``rejected`` (an error), ``forbidden`` (Lean finished it but reports a sorry or an axiom the
            rule does not allow), ``timeout``, ``statement_failed`` (the statement itself does not elaborate).
        accepted: how many top-level tactics Lean accepted before its first error (all of them for ``verified``
            and ``incomplete``; 0 for ``forbidden``, ``timeout`` and ``statement_failed``).
        state: the goals left after the accepted tactics, where the gate knows them (None otherwise).
        message: Lean's reason, for failures.
    """

    status: str
    accepted: int = 0
    state: str | None = None
    message: str = ""

    @property
    def verified(self) -> bool:
        return self.status == "verified"


def prefix_tactics(prefix: str) -> list[str]:
    """The top-level tactics of a proof prefix (or of a whole proof), in source order, each with its nested
    blocks."""
    return [node.text for node in parse_tactic_block(prefix)] if prefix.strip() else []


def _all_timed_out(timed_out: list[bool], what: str, first: str) -> None:
    """A call of several in which everything timed out says more about the Lean service than about them."""
    if len(timed_out) > 1 and all(timed_out):
        raise LeanServiceError(f"every one of {len(timed_out)} {what}s of the call timed out (first: {first[:200]}); "
                               "the Lean service is overloaded or stuck, or its time limit too short")


def _indented(text: str, indent: str = "  ") -> str:
    return "\n".join(indent + line if line.strip() else line for line in text.split("\n"))


def _statement_and_name(statement: str) -> tuple[str, str]:
    try:
        return named_statement(statement.rstrip())
    except ValueError as exc:  # a dataset's statement: no completion of it can be judged
        raise ValueError(f"a Lean gate needs a theorem statement ('theorem t (n : ℕ) : n + 0 = n'): {exc}") from None


class EnvironmentGate:
    """Gate tactics through a search environment (see the module doc).

    Args:
        env: an environment with ``start(statement, timeout)``, ``run_tactic(handle, tactic, timeout)`` and
            ``verify(statement, tactics, timeout)`` (:class:`~leanprogress.search.backends.LeanInteractEnvironment`,
            whose ``verify`` also checks the axioms).
        timeout_s: seconds per tactic.
        cache_size: (statement, prefix) states kept, so that a group of completions replays its prefix once.

    A gate pickles (for RL workers) when its environment does; its lock and its cache are made anew.
    """

    def __init__(self, env: Any, timeout_s: float = 60.0, cache_size: int = 1024):
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if cache_size < 1:
            raise ValueError(f"cache_size must be >= 1, got {cache_size}")
        self.env, self.timeout_s, self.cache_size = env, float(timeout_s), cache_size
        self._states: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()  # one Lean process: one call at a time

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_states")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._states, self._lock = OrderedDict(), threading.Lock()

    def _call(self, what: str, fn, *args, **kwargs):
        """A call of the environment; any exception is the service's failure, not a tactic's."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise LeanServiceError(f"the Lean environment failed while {what}: {type(exc).__name__}: {exc}") \
                from exc

    def _start(self, statement: str, prefix: str) -> tuple[Any, GateOutcome | None]:
        """The handle after ``prefix`` (None and why, when the theorem or the prefix fails)."""
        key = (statement, prefix)
        if key in self._states:
            self._states.move_to_end(key)
            return self._states[key], None
        try:
            _, handle = self.env.start(statement, timeout=self.timeout_s)
        except ValueError as exc:  # Lean rejected the statement: no tactic of it can be rewarded
            return None, GateOutcome("error", message=f"the theorem did not start: {exc}", status="prefix_failed")
        except Exception as exc:
            raise LeanServiceError(f"the Lean environment failed while starting a theorem: {type(exc).__name__}: "
                                   f"{exc}") from exc
        for i, tactic in enumerate(prefix_tactics(prefix)):
            result = self._call("replaying a prefix", self.env.run_tactic, handle, tactic, timeout=self.timeout_s)
            if result.kind != "state":
                return None, GateOutcome("error", status="prefix_failed",
                                         message=f"prefix tactic {i + 1} ({tactic!r}) gave {result.kind}: "
                                                 f"{result.message}")
            handle = result.handle
        self._states[key] = handle
        if len(self._states) > self.cache_size:
            self._states.popitem(last=False)
        return handle, None

    def _verify(self, statement: str, tactics: list[str], rule: ProofRule) -> str | None:
        """Lean's verdict on a finished proof as a whole (None: it counts)."""
        kwargs = {"timeout": self.timeout_s}
        if "rule" in inspect.signature(self.env.verify).parameters:
            kwargs["rule"] = rule
        return self._call("checking a finished proof", self.env.verify, statement, tactics, **kwargs)

    def run(self, statements: Sequence[str], prefixes: Sequence[str], tactics: Sequence[str],
            rule: ProofRule = DEFAULT_RULE) -> list[GateOutcome]:
        """Run each tactic after its statement's prefix; one outcome per tactic.

        Raises:
            LeanServiceError: the environment failed (not Lean rejecting a tactic).
        """
        out = []
        with self._lock:
            for statement, prefix, tactic in zip(statements, prefixes, tactics):
                handle, failed = self._start(statement, prefix)
                if failed is not None:
                    out.append(failed)
                    continue
                result = self._call("running a tactic", self.env.run_tactic, handle, tactic, timeout=self.timeout_s)
                if result.kind == "finished":
                    why = self._verify(statement, prefix_tactics(prefix) + [tactic], rule)
                    if why:
                        out.append(GateOutcome("error", message=why, status="forbidden"))
                        continue
                status = {"error": "rejected", "timeout": "timeout"}.get(result.kind, "")
                out.append(GateOutcome(result.kind, result.state, result.message, status))
        _all_timed_out([o.kind == "timeout" for o in out], "tactic", out[0].message if out else "")
        return out

    def check_proofs(self, statements: Sequence[str], proofs: Sequence[str],
                     rule: ProofRule = DEFAULT_RULE) -> list[ProofOutcome]:
        """Check whole proofs (tactic blocks for their statements), tactic by tactic; one outcome per proof.

        Raises:
            LeanServiceError: the environment failed.
        """
        out = []
        with self._lock:
            for statement, proof in zip(statements, proofs):
                tactics = prefix_tactics(proof)
                handle, failed = self._start(statement, "")
                if failed is not None:
                    out.append(ProofOutcome("statement_failed", message=failed.message))
                    continue
                outcome, state = None, None
                for i, tactic in enumerate(tactics):
                    result = self._call("running a tactic", self.env.run_tactic, handle, tactic,
                                        timeout=self.timeout_s)
                    if result.kind == "finished" and i == len(tactics) - 1:
                        why = self._verify(statement, tactics, rule)
                        outcome = (ProofOutcome("forbidden", message=why) if why else
                                   ProofOutcome("verified", accepted=len(tactics)))
                    elif result.kind == "timeout":
                        outcome = ProofOutcome("timeout", accepted=i, message=result.message)
                    elif result.kind != "state":  # an error, or finished with tactics left (Lean: no goals)
                        message = result.message or "no goals are left for the tactics after it"
                        outcome = ProofOutcome("rejected", accepted=i + (result.kind == "finished"),
                                               message=f"tactic {i + 1} ({tactic!r}): {message}")
                    if outcome is not None:
                        break
                    handle, state = result.handle, result.state
                if outcome is None:
                    outcome = ProofOutcome("incomplete", accepted=len(tactics), state=state, message="goals are left")
                out.append(outcome)
        _all_timed_out([o.status == "timeout" for o in out], "proof", out[0].message if out else "")
        return out

    def close(self) -> None:
        self.env.close()


def import_kimina():
    """The ``kimina_client`` module, or ImportError naming the extra to install.

    kimina-client 0.2.1 (the newest release) declares its response types with ``typing.TypedDict``, which
    pydantic refuses on Python < 3.12, so the package does not import there (fixed in the Kimina repository,
    project-numina/kimina-lean-server, commit 285f142, not yet released). On those Pythons it is imported with
    ``typing_extensions``' TypedDict in place of ``typing``'s, for the duration of the import only.
    """
    try:
        import kimina_client

        return kimina_client
    except ImportError:
        raise ImportError("the Kimina gate needs the kimina-client package: pip install 'leanprogress[kimina]'") \
            from None
    except Exception as exc:
        if sys.version_info >= (3, 12) or type(exc).__name__ != "PydanticUserError":
            raise
    import typing

    import typing_extensions

    for name in [m for m in sys.modules if m == "kimina_client" or m.startswith("kimina_client.")]:
        del sys.modules[name]  # the failed import's half-built modules
    saved = typing.TypedDict, typing.NotRequired
    typing.TypedDict, typing.NotRequired = typing_extensions.TypedDict, typing_extensions.NotRequired
    try:
        import kimina_client
    finally:
        typing.TypedDict, typing.NotRequired = saved
    return kimina_client


_LEAN_TIMEOUT = "Lean REPL command timed out"
"""How the Kimina server words a snippet's own time-out (server/routers/check.py); any other error is the
server's."""


@dataclass(frozen=True)
class _Snippet:
    """One snippet's code and where its parts are (1-based lines of the whole snippet)."""

    code: str
    name: str
    first: int  # first line of what is judged (the tactic, or the proof's first tactic)
    last: int  # the `all_goals sorry` line (step snippets), or the proof's last line
    axioms_line: int
    tactic_lines: tuple[tuple[int, int], ...] = ()  # (first, last) line of each top-level tactic of a proof


class KiminaGate:
    """Gate tactics through a Kimina Lean Server (see the module doc).

    Args:
        url: the server (``http://host:8000``; default: kimina-client's, ``LEAN_SERVER_API_URL``).
        api_key: its key (default: kimina-client's, ``LEAN_SERVER_API_KEY``).
        header: the lines before the theorem (imports, ``open``; no ``namespace``: the theorem's name is asked
            for as the statement writes it).
        timeout_s: seconds per snippet (the server's time limit).
        batch_size: snippets per request (kimina-client splits one call into requests).
        max_workers: requests in flight at once.
        client: a ready ``kimina_client.KiminaClient`` (instead of url and key).

    A gate pickles (for RL workers): its client is a URL, a key and settings.
    """

    def __init__(self, url: str | None = None, api_key: str | None = None, header: str = "import Mathlib",
                 timeout_s: int = 60, batch_size: int = 8, max_workers: int = 5, client: Any = None):
        if timeout_s < 1:
            raise ValueError(f"timeout_s must be >= 1, got {timeout_s}")
        kimina = import_kimina()
        self.client = client if client is not None else kimina.KiminaClient(api_url=url, api_key=api_key)
        self.header, self.timeout_s = header.rstrip("\n"), int(timeout_s)
        self.batch_size, self.max_workers = batch_size, max_workers

    def _lines(self, statement: str) -> tuple[list[str], str]:
        statement, name = _statement_and_name(statement)
        return ([self.header] if self.header else []) + [f"{statement} := by"], name

    def snippet(self, statement: str, prefix: str, tactic: str) -> tuple[str, int, int]:
        """The code checked for one tactic, and the 1-based lines where the tactic starts and the final sorry is."""
        s = self._step_snippet(statement, prefix, tactic)
        return s.code, s.first, s.last

    def _step_snippet(self, statement: str, prefix: str, tactic: str) -> _Snippet:
        lines, name = self._lines(statement)
        body = "\n".join(prefix_tactics(prefix))
        if body:
            lines.append(_indented(body))
        code = "\n".join(lines)
        first = code.count("\n") + 2
        code += "\n" + _indented(tactic) + "\n  all_goals sorry"
        last = code.count("\n") + 1
        code += "\n\n" + print_axioms(name)
        return _Snippet(code, name, first, last, last + 2)

    def _proof_snippet(self, statement: str, proof: str) -> _Snippet:
        lines, name = self._lines(statement)
        spans = []
        for tactic in prefix_tactics(proof):
            start = sum(part.count("\n") + 1 for part in lines) + 1
            lines.append(_indented(tactic))
            spans.append((start, start + tactic.count("\n")))
        code = "\n".join(lines)
        last = code.count("\n") + 1
        code += "\n\n" + print_axioms(name)
        first = spans[0][0] if spans else last + 1
        return _Snippet(code, name, first, last, last + 2, tuple(spans))

    def _check(self, snippets: list[_Snippet]) -> list[Any]:
        """The server's result for each snippet (one ``check`` call), or LeanServiceError."""
        kimina = import_kimina()
        ids = [uuid.uuid4().hex for _ in snippets]
        response = self.client.check([kimina.Snippet(id=i, code=s.code) for i, s in zip(ids, snippets)],
                                     timeout=self.timeout_s, batch_size=self.batch_size,
                                     max_workers=self.max_workers, show_progress=False)
        by_id = {r.id: r for r in response.results}
        results = [by_id.get(i) for i in ids]
        url = getattr(self.client, "api_url", "the Kimina server")
        down = [r for r in results if r is None or (r.error is not None and not r.error.startswith(_LEAN_TIMEOUT))]
        if down:
            first = "no result for a snippet" if down[0] is None else down[0].error
            raise LeanServiceError(f"{url}: {len(down)} of {len(results)} snippet(s) failed on the server's side "
                                   f"(first: {first[:300]}); no reward can be given for them (is the server up, "
                                   "and the key right? kimina-client logs each HTTP error)")
        _all_timed_out([r.error is not None for r in results], "snippet",
                       f"{url}: {results[0].error}" if results and results[0].error else "")
        repl = [r for r in results if r.error is None and "message" in (r.response or {})]
        if repl and len(repl) == len(results):
            raise LeanServiceError(f"{url}: the Lean REPL failed on every snippet of the call (first: "
                                   f"{str(repl[0].response['message'])[:300]})")
        return results

    def run(self, statements: Sequence[str], prefixes: Sequence[str], tactics: Sequence[str],
            rule: ProofRule = DEFAULT_RULE) -> list[GateOutcome]:
        """Check every tactic in one call of the client; one outcome per tactic.

        Raises:
            LeanServiceError: the server failed for the call (see the module doc).
        """
        built = [self._step_snippet(s, p, t) for s, p, t in zip(statements, prefixes, tactics)]
        if not built:
            return []
        return [self._outcome(r, s, rule) for r, s in zip(self._check(built), built)]

    def check_proofs(self, statements: Sequence[str], proofs: Sequence[str],
                     rule: ProofRule = DEFAULT_RULE) -> list[ProofOutcome]:
        """Check whole proofs (tactic blocks for their statements) in one call; one outcome per proof.

        Raises:
            LeanServiceError: the server failed for the call.
        """
        built = [self._proof_snippet(s, p) for s, p in zip(statements, proofs)]
        if not built:
            return []
        return [self._proof_outcome(r, s, rule) for r, s in zip(self._check(built), built)]

    @staticmethod
    def _messages(result: Any) -> tuple[list[dict], list[dict]]:
        response = result.response or {}
        return list(response.get("messages") or []), list(response.get("sorries") or [])

    @staticmethod
    def _outcome(result: Any, s: _Snippet, rule: ProofRule) -> GateOutcome:
        if result.error is not None:
            return GateOutcome("timeout", message=result.error, status="timeout")
        if "message" in (result.response or {}):  # the REPL itself failed on this snippet
            return GateOutcome("error", message=str(result.response["message"]), status="lean_error")
        messages, sorries = KiminaGate._messages(result)
        errors = [m for m in messages if m.get("severity") == "error" and m["pos"]["line"] <= s.last]
        if errors:
            message = "; ".join(f"{m['pos']['line']}:{m['pos']['column']}: {m['data']}" for m in errors)
            in_prefix = min(m["pos"]["line"] for m in errors) < s.first
            return GateOutcome("error", message=message, status="prefix_failed" if in_prefix else "rejected")
        own = [x for x in sorries if x.get("pos", {}).get("line") != s.last]
        if own:  # a `sorry` the prefix or the tactic wrote, not the gate's
            in_prefix = min(x["pos"]["line"] for x in own) < s.first
            return GateOutcome("error", message="Lean lists a `sorry` " + ("in the prefix" if in_prefix else
                                                                          "in the tactic"),
                               status="prefix_failed" if in_prefix else "forbidden")
        goals = [x["goal"] for x in sorries if x.get("pos", {}).get("line") == s.last]
        if goals:
            return GateOutcome("state", state="\n\n".join(goals))
        why = rule.lean_verdict([(m.get("severity", ""), m.get("data", "")) for m in messages], s.name,
                                axioms_expected=True)
        if why:
            return GateOutcome("error", message=why, status="forbidden")
        return GateOutcome("finished")

    @staticmethod
    def _proof_outcome(result: Any, s: _Snippet, rule: ProofRule) -> ProofOutcome:
        if result.error is not None:
            return ProofOutcome("timeout", message=result.error)
        if "message" in (result.response or {}):
            return ProofOutcome("rejected", message=str(result.response["message"]))
        messages, sorries = KiminaGate._messages(result)
        errors = [m for m in messages if m.get("severity") == "error" and m["pos"]["line"] <= s.last]
        if sorries or (not errors and any(uses_sorry(m.get("data", "")) for m in messages)):
            return ProofOutcome("forbidden", message="Lean: the proof uses `sorry`")
        if errors:
            first = min(m["pos"]["line"] for m in errors)
            where = "; ".join(f"{m['pos']['line']}:{m['pos']['column']}: {m['data']}" for m in errors)
            if first >= s.first:
                accepted = sum(1 for _, end in s.tactic_lines if end < first)
                return ProofOutcome("rejected", accepted=accepted, message=where)
            unsolved = [m for m in errors if m["data"].startswith("unsolved goals")]
            if unsolved and len(unsolved) == len(errors):  # Lean reports it at the `by`: every tactic ran
                return ProofOutcome("incomplete", accepted=len(s.tactic_lines),
                                    state=unsolved[0]["data"].split("\n", 1)[1] if "\n" in unsolved[0]["data"]
                                    else None, message=where)
            return ProofOutcome("statement_failed", message=where)
        why = rule.lean_verdict([(m.get("severity", ""), m.get("data", "")) for m in messages], s.name,
                                axioms_expected=True)
        if why:
            return ProofOutcome("forbidden", message=why)
        return ProofOutcome("verified", accepted=len(s.tactic_lines))
