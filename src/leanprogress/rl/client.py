"""The reward model as a service: steps remaining from a ``leanprogress serve`` server's ``/score``.

RL clusters keep the reward model on a GPU of its own and call it over HTTP.
:class:`RemoteScorer` is what :class:`~leanprogress.rl.ProgressReward` uses for
a server URL. One call scores many (state, prefix, tactic) triples:

- batching: ``/score`` takes one state and prefix with many tactics, so the
  triples are grouped by (state, prefix, goal state), each group sent as one
  request, split so that no request carries more than ``max_batch`` tactics or
  ``max_request_bytes`` bytes of JSON (below the server's ``max_body_bytes``,
  1,000,000 by default: 128 completions of 8,000 characters on one state are
  two requests, not one the server refuses with 413), up to ``concurrency``
  requests at a time;
- the API key goes in ``X-API-Key`` (the server also takes a bearer token);
- a 429 (the server's bound on work in flight) is retried after its
  ``Retry-After`` seconds (at most ``max_wait_s``); a 504 (the request's time
  limit), 502, 503 and a connection error are retried with exponential backoff
  (1, 2, 4, ... s, at most ``max_wait_s``); after ``retries`` retries, or at
  once for any other error (401: wrong key; 413: a state longer than the
  server's limit; 500: the model failed), :class:`RewardServiceError` says
  which request failed and what the server answered.

Example:
    >>> scorer = RemoteScorer("http://127.0.0.1:23337", api_key="KEY")       # doctest: +SKIP
    >>> scorer.steps(["n : ℕ\\n⊢ n + 0 = n"] * 2, ["simp", "omega"], ["", ""])   # doctest: +SKIP
    [0.4, 1.3]
"""

from __future__ import annotations

import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import httpx

logger = logging.getLogger(__name__)

RETRIED_STATUSES = (429, 502, 503, 504)


class RewardServiceError(RuntimeError):
    """The reward server could not score a request (after the retries, or at once for errors retrying cannot
    fix); the message names the server, the status and the server's reason."""


class RemoteScorer:
    """Steps remaining from a LeanProgress server's ``/score`` (see the module doc).

    Args:
        url: the server, e.g. ``http://gpu-node:23337``.
        api_key: the server's ``LEANPROGRESS_API_KEY``, if it has one.
        timeout_s: seconds per HTTP request.
        retries: retries of one request (429, 502, 503, 504, connection errors) before giving up.
        max_batch: most tactics per request (the server's default limit is 256).
        max_request_bytes: most bytes of JSON per request (the server's default limit is 1,000,000).
        concurrency: requests in flight at once (the server's default bound is 8).
        max_wait_s: longest wait before a retry.
        native_decide: ask the server to allow ``native_decide`` (its proof rule forbids it by default).
        sleep: how to wait (tests pass a recorder).
    """

    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = 120.0, retries: int = 5,
                 max_batch: int = 256, max_request_bytes: int = 900_000, concurrency: int = 4,
                 max_wait_s: float = 60.0, native_decide: bool = False,
                 sleep: Callable[[float], None] = time.sleep, transport: httpx.BaseTransport | None = None):
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        if max_batch < 1 or concurrency < 1:
            raise ValueError(f"max_batch and concurrency must be >= 1, got {max_batch} and {concurrency}")
        if max_request_bytes < 1024:
            raise ValueError(f"max_request_bytes must be >= 1024, got {max_request_bytes}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.url = url.rstrip("/")
        self.name = self.url
        self.settings = None  # the server does not say how its model was trained
        self.retries, self.max_batch, self.concurrency = retries, max_batch, concurrency
        self.max_request_bytes = max_request_bytes
        self.max_wait_s, self._sleep, self.native_decide = max_wait_s, sleep, bool(native_decide)
        self._api_key, self._timeout_s, self._transport = api_key, timeout_s, transport
        self._client = self._new_client()
        self._pid = os.getpid()
        self.requests = 0
        self.retried = 0

    def _new_client(self) -> httpx.Client:
        headers = {"X-API-Key": self._api_key} if self._api_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=self._timeout_s, transport=self._transport)

    def __getstate__(self) -> dict:
        # An HTTP client does not cross processes (Ray workers, process pools): each builds its own.
        return {k: v for k, v in self.__dict__.items() if k not in ("_client", "_transport")}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _transport=None)
        self._client, self._pid = self._new_client(), os.getpid()

    def close(self) -> None:
        self._client.close()

    def steps(self, goals: list[str], tactics: list[str], prefixes: list[str],
              initial_goals: list[bool] | None = None) -> list[float]:
        """Predicted steps remaining per tactic, in the order given (``initial_goals``: per tactic, whether its
        goal is the theorem's initial state standing in for the real one)."""
        marks = initial_goals if initial_goals is not None else [False] * len(tactics)
        groups: dict[tuple[str, str, bool], list[int]] = {}
        for i, key in enumerate(zip(goals, prefixes, marks)):
            groups.setdefault(key, []).append(i)
        requests = [(goal, prefix, initial, part) for (goal, prefix, initial), idx in groups.items()
                    for part in self._split(self._body(goal, prefix, initial, []), [tactics[i] for i in idx], idx)]
        out = [0.0] * len(tactics)

        def one(request):
            goal, prefix, initial, idx = request
            steps = self._score(self._body(goal, prefix, initial, [tactics[i] for i in idx]))
            for i, s in zip(idx, steps):
                out[i] = s

        if len(requests) == 1 or self.concurrency == 1:
            for r in requests:
                one(r)
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests))) as pool:
                list(pool.map(one, requests))  # re-raises the first failure
        return out

    def _body(self, goal: str, prefix: str, initial: bool, tactics: list[str]) -> dict:
        body = {"goal": goal, "prefix": prefix, "tactics": tactics}
        if initial:
            body["goal_state"] = "initial"
        if self.native_decide:
            body["native_decide"] = True
        return body

    def _split(self, empty: dict, tactics: list[str], idx: list[int]) -> list[list[int]]:
        """``idx`` in runs of at most ``max_batch`` tactics and ``max_request_bytes`` bytes of JSON each."""
        base = len(_encode(empty))
        parts, current, size = [], [], base
        for i, tactic in zip(idx, tactics):
            extra = len(_encode(tactic)) + 1  # the string and its comma
            if current and (len(current) >= self.max_batch or size + extra > self.max_request_bytes):
                parts.append(current)
                current, size = [], base
            current.append(i)
            size += extra
        if current:
            parts.append(current)
        return parts

    def _http(self) -> httpx.Client:
        # A client's connections do not survive fork (verl's prime manager forks workers): build one per process.
        if self._pid != os.getpid():
            self._client, self._pid = self._new_client(), os.getpid()
        return self._client

    def _score(self, body: dict) -> list[float]:
        goal, tactics = body["goal"], body["tactics"]
        content = _encode(body)  # sent as measured: the split above counted these bytes
        attempt = 0
        while True:
            self.requests += 1
            try:
                resp = self._http().post("/score", content=content, headers={"Content-Type": "application/json"})
            except httpx.TransportError as exc:
                problem, wait = f"{type(exc).__name__}: {exc}", None
            else:
                if resp.status_code == 200:
                    outputs = resp.json()["outputs"]
                    if len(outputs) != len(tactics):
                        raise RewardServiceError(f"{self.url}/score answered {len(outputs)} outputs for "
                                                 f"{len(tactics)} tactics")
                    refused = [o for o in outputs if o.get("steps_remaining") is None]
                    if refused:  # the client's cleaning let through what the server's proof rule forbids
                        raise RewardServiceError(f"{self.url}/score refused {len(refused)} tactic(s) as "
                                                 f"{refused[0].get('status')} ({refused[0].get('reason')}): the "
                                                 "server's proof rule differs from this client's (versions?)")
                    # The rank score, as in process (a server from before it existed: its one number).
                    return [float(o.get("rank_score", o["steps_remaining"])) for o in outputs]
                problem = f"HTTP {resp.status_code}: {_detail(resp)}"
                if resp.status_code not in RETRIED_STATUSES:
                    hint = " (check the API key: LEANPROGRESS_API_KEY of the server)" if resp.status_code == 401 else ""
                    raise RewardServiceError(f"{self.url}/score failed for a state of {len(goal)} characters with "
                                             f"{len(tactics)} tactic(s) ({len(content):,} bytes): {problem}{hint}")
                wait = _retry_after(resp) if resp.status_code == 429 else None
            if attempt >= self.retries:
                raise RewardServiceError(f"{self.url}/score failed {attempt + 1} time(s), the last with {problem}")
            wait = min(self.max_wait_s, wait if wait is not None else 2.0 ** attempt)
            logger.info("reward server %s: %s; retrying in %.1f s", self.url, problem, wait)
            self.retried += 1
            self._sleep(wait)
            attempt += 1


def _encode(value) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _detail(resp: httpx.Response) -> str:
    try:
        detail = resp.json().get("detail", resp.text)
    except ValueError:
        detail = resp.text
    return str(detail)[:500]


def _retry_after(resp: httpx.Response) -> float | None:
    """``Retry-After`` in seconds (the server sends whole seconds), or None if absent or not a number."""
    value = resp.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
