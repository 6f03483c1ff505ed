"""Lean gating for rewards: run each tactic in Lean before the model scores it.

With a gate, :class:`~leanprogress.rl.ProgressReward` gives the failure reward
to a tactic Lean rejects (or that runs out of time), the reward of 0 steps to a
tactic that finishes the proof, and scores the rest; a model trained on
``state_after`` records (score mode ``state``) reads the state the tactic
produced. Each completion needs its theorem's statement
(``theorem t (n : ℕ) : n + 0 = n``) and the proof so far (the prefix).

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
  proof step from it.
- :class:`KiminaGate`: a Kimina Lean Server, through the ``kimina-client``
  package (``pip install 'leanprogress[kimina]'``): each completion is one
  snippet, ``<header>`` then ``<statement> := by``, the prefix, the tactic and
  ``all_goals sorry``, all of a call checked in one request. Lean errors on the
  tactic's lines reject it; errors before them mean the prefix failed; no error
  and no ``sorry`` left to elaborate means the tactic finished the proof;
  otherwise the goals the ``sorry`` closed are the state it produced.

Example (needs Lean)::

    from leanprogress.rl import ProgressReward
    from leanprogress.rl.gate import EnvironmentGate
    from leanprogress.search.backends import LeanInteractEnvironment

    gate = EnvironmentGate(LeanInteractEnvironment(project_dir="path/to/mathlib-project"))
    reward = ProgressReward("runs/state-model", lean=gate)
    reward.score([state], ["simp"], statements=["theorem t (n : ℕ) : n + 0 = n"])
"""

from __future__ import annotations

import logging
import sys
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Sequence

from ..lean.syntax import parse_tactic_block

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateOutcome:
    """What Lean did with one tactic.

    Attributes:
        kind: ``state`` (accepted; ``state`` is what it produced), ``finished`` (it ends the proof), ``error``
            (rejected, or the prefix failed) or ``timeout``.
        status: the reward status of a failure: ``rejected``, ``timeout``, ``prefix_failed`` or ``lean_error``
            (the Lean service itself failed on it); empty otherwise.
    """

    kind: str
    state: str | None = None
    message: str = ""
    status: str = ""


def prefix_tactics(prefix: str) -> list[str]:
    """The top-level tactics of a proof prefix, in source order (each with its nested blocks)."""
    return [node.text for node in parse_tactic_block(prefix)] if prefix.strip() else []


def _indented(text: str, indent: str = "  ") -> str:
    return "\n".join(indent + line if line.strip() else line for line in text.split("\n"))


class EnvironmentGate:
    """Gate tactics through a search environment (see the module doc).

    Args:
        env: an environment with ``start(statement, timeout)`` and ``run_tactic(handle, tactic, timeout)``
            (:class:`~leanprogress.search.backends.LeanInteractEnvironment`).
        timeout_s: seconds per tactic.
        cache_size: (statement, prefix) states kept, so that a group of completions replays its prefix once.
    """

    def __init__(self, env: Any, timeout_s: float = 60.0, cache_size: int = 1024):
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        if cache_size < 1:
            raise ValueError(f"cache_size must be >= 1, got {cache_size}")
        self.env, self.timeout_s, self.cache_size = env, float(timeout_s), cache_size
        self._states: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()  # one Lean process: one call at a time

    def _start(self, statement: str, prefix: str) -> tuple[Any, GateOutcome | None]:
        """The handle after ``prefix`` (None and why, when the theorem or the prefix fails)."""
        key = (statement, prefix)
        if key in self._states:
            self._states.move_to_end(key)
            return self._states[key], None
        try:
            _, handle = self.env.start(statement, timeout=self.timeout_s)
        except Exception as exc:  # a statement Lean rejects: no tactic of it can be rewarded
            return None, GateOutcome("error", message=f"the theorem did not start: {exc}", status="prefix_failed")
        for i, tactic in enumerate(prefix_tactics(prefix)):
            result = self.env.run_tactic(handle, tactic, timeout=self.timeout_s)
            if result.kind != "state":
                return None, GateOutcome("error", status="prefix_failed",
                                         message=f"prefix tactic {i + 1} ({tactic!r}) gave {result.kind}: "
                                                 f"{result.message}")
            handle = result.handle
        self._states[key] = handle
        if len(self._states) > self.cache_size:
            self._states.popitem(last=False)
        return handle, None

    def run(self, statements: Sequence[str], prefixes: Sequence[str], tactics: Sequence[str]) -> list[GateOutcome]:
        """Run each tactic after its statement's prefix; one outcome per tactic."""
        out = []
        with self._lock:
            for statement, prefix, tactic in zip(statements, prefixes, tactics):
                handle, failed = self._start(statement, prefix)
                if failed is not None:
                    out.append(failed)
                    continue
                try:
                    result = self.env.run_tactic(handle, tactic, timeout=self.timeout_s)
                except Exception as exc:  # a backend failure is this tactic's, not the training run's
                    out.append(GateOutcome("error", message=f"{type(exc).__name__}: {exc}", status="lean_error"))
                    continue
                status = {"error": "rejected", "timeout": "timeout"}.get(result.kind, "")
                out.append(GateOutcome(result.kind, result.state, result.message, status))
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


class KiminaGate:
    """Gate tactics through a Kimina Lean Server (see the module doc).

    Args:
        url: the server (``http://host:8000``; default: kimina-client's, ``LEAN_SERVER_API_URL``).
        api_key: its key (default: kimina-client's, ``LEAN_SERVER_API_KEY``).
        header: the lines before the theorem (imports, ``open``).
        timeout_s: seconds per snippet (the server's time limit).
        batch_size: snippets per request (kimina-client splits one call into requests).
        max_workers: requests in flight at once.
        client: a ready ``kimina_client.KiminaClient`` (instead of url and key).
    """

    def __init__(self, url: str | None = None, api_key: str | None = None, header: str = "import Mathlib",
                 timeout_s: int = 60, batch_size: int = 8, max_workers: int = 5, client: Any = None):
        if timeout_s < 1:
            raise ValueError(f"timeout_s must be >= 1, got {timeout_s}")
        kimina = import_kimina()
        self._Snippet = kimina.Snippet
        self.client = client if client is not None else kimina.KiminaClient(api_url=url, api_key=api_key)
        self.header, self.timeout_s = header.rstrip("\n"), int(timeout_s)
        self.batch_size, self.max_workers = batch_size, max_workers

    def snippet(self, statement: str, prefix: str, tactic: str) -> tuple[str, int, int]:
        """The code checked for one tactic, and the 1-based lines where the tactic starts and the final sorry is."""
        lines = [self.header] if self.header else []
        lines.append(f"{statement.rstrip()} := by")
        body = "\n".join(prefix_tactics(prefix))
        if body:
            lines.append(_indented(body))
        code = "\n".join(lines)
        first = code.count("\n") + 2
        code += "\n" + _indented(tactic) + "\n  all_goals sorry"
        return code, first, code.count("\n") + 1

    def run(self, statements: Sequence[str], prefixes: Sequence[str], tactics: Sequence[str]) -> list[GateOutcome]:
        """Check every tactic in one call of the client; one outcome per tactic."""
        built = [self.snippet(s, p, t) for s, p, t in zip(statements, prefixes, tactics)]
        if not built:
            return []
        ids = [uuid.uuid4().hex for _ in built]
        snippets = [self._Snippet(id=i, code=code) for i, (code, _, _) in zip(ids, built)]
        response = self.client.check(snippets, timeout=self.timeout_s, batch_size=self.batch_size,
                                     max_workers=self.max_workers, show_progress=False)
        by_id = {r.id: r for r in response.results}
        outcomes = [self._outcome(by_id.get(i), first, last) for i, (_, first, last) in zip(ids, built)]
        failed = [o for o in outcomes if o.status == "lean_error"]
        if failed:  # the service, not the tactics: say so, since every such tactic gets the failure reward
            logger.warning("Kimina server: %d of %d snippet(s) failed on the server side (first: %s)",
                           len(failed), len(outcomes), failed[0].message[:300])
        return outcomes

    @staticmethod
    def _outcome(result: Any, first: int, last: int) -> GateOutcome:
        if result is None:
            return GateOutcome("error", message="the server gave no result for this snippet", status="lean_error")
        if result.error is not None:
            if "timed out" in result.error:
                return GateOutcome("timeout", message=result.error, status="timeout")
            return GateOutcome("error", message=result.error, status="lean_error")
        response = result.response or {}
        if "message" in response:  # the REPL itself failed on the snippet
            return GateOutcome("error", message=str(response["message"]), status="lean_error")
        errors = [m for m in response.get("messages") or [] if m.get("severity") == "error"]
        if errors:
            message = "; ".join(f"{m['pos']['line']}:{m['pos']['column']}: {m['data']}" for m in errors)
            in_prefix = min(m["pos"]["line"] for m in errors) < first
            return GateOutcome("error", message=message, status="prefix_failed" if in_prefix else "rejected")
        goals = [s["goal"] for s in response.get("sorries") or [] if s.get("pos", {}).get("line") == last]
        if not goals:
            return GateOutcome("finished")
        return GateOutcome("state", state="\n\n".join(goals))
