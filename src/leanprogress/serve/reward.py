"""``POST /get_reward``: the server as an OpenRLHF remote reward model (``--reward.remote_url``).

OpenRLHF's single-turn rollout (``openrlhf/utils/agent.py``,
``SingleTurnAgentExecutor``, read at OpenRLHF commit 3c3be623) posts one
request per sample as soon as it is generated,
``{"query": [q], "prompts": [p], "labels": [l]}``: ``query`` the prompt and
response decoded together (special tokens kept), ``prompts`` the prompt text,
``labels`` the dataset's ``--data.label_key`` column; and reads ``rewards`` (for
the advantages), ``scores`` (values in [0, 1] for its dynamic filtering) and
``extra_logs``, lists with one value per query, as OpenRLHF's own reward server
(``openrlhf/cli/serve_rm.py``) answers. It sends no header of its own, retries a
failed request 5 times 1 s apart (ignoring ``Retry-After``), gives each try 180 s
in all, and then leaves that sample's reward at None, logging at INFO.

So ``/get_reward`` does not turn work away the way ``/score`` does (429 past
``max_in_flight``): requests wait in a queue of ``reward_queue`` queries, and a
worker scores all that wait in one batch (up to ``reward_batch`` queries, under
the model lock the other endpoints share): a rollout's samples, arriving one
request each, are scored together. Only a full queue answers 429, and a request
that waited ``reward_timeout_s`` (170 s, below OpenRLHF's 180) answers 504.

Each label carries the state: a JSON object ``{"state": ..., "prefix": ...,
"form": ..., "task": ..., "statement": ..., "goal_state": ...,
"native_decide": ...}`` (``form``: ``bounded``, the default, or ``neg_steps``;
``task``: ``step``, the default, or ``proof`` for whole proofs, scored without
Lean: partial credit, status ``unverified``), or the state itself as a string.
The response is the query after its prompt: the prompt is found in the query
as the tokenizer's decode may have changed it (whitespace, a begin token), and a
query that does not hold its prompt gets the failure reward (``extra_logs``
``prompt_mismatch``), never a score of the prompt; then it is cleaned as
:mod:`leanprogress.rl.completions` says. Every field is bounded as ``/score``'s
are (``max_input_chars``: 413 naming the field). ``rewards`` are in the label's
form, ``scores`` always the bounded form, ``extra_logs`` has ``steps_remaining``
(-1 where the failure reward was given), ``failed``, ``unverified`` and
``prompt_mismatch`` (1 where so).
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import re
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel

from ..rl.reward import ProgressReward
from .limits import Deadline, DeadlineExceeded

logger = logging.getLogger(__name__)

TASKS = ("step", "proof")
FORMS = ("bounded", "neg_steps")


class RewardRequest(BaseModel):
    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None


@dataclass(frozen=True)
class _Row:
    """One query, read: what to score and how."""

    state: str
    prefix: str
    form: str
    task: str
    statement: str | None
    goal_state: str | None
    native_decide: bool
    response: str | None  # None: the query does not hold its prompt


def _label(label: Any, i: int) -> dict:
    """The fields of one label; ValueError naming the label when it has no state or a bad field."""
    if isinstance(label, str):
        try:
            parsed = json.loads(label)
        except ValueError:
            parsed = None
        label = parsed if isinstance(parsed, dict) else label
    if isinstance(label, str):
        label = {"state": label}
    if not isinstance(label, dict) or not isinstance(label.get("state", label.get("goal")), str):
        raise ValueError(f"labels[{i}] must be the proof state or a JSON object with 'state' (and 'prefix', 'form', "
                         f"'task', 'statement', 'goal_state'), got {str(label)[:200]!r}")
    fields = {"state": label.get("state", label.get("goal"))}
    for key in ("prefix", "statement", "goal_state"):
        value = label.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"labels[{i}]: '{key}' must be a string, got {type(value).__name__}")
        fields[key] = value
    for key, allowed in (("form", FORMS), ("task", TASKS)):
        value = label.get(key) or allowed[0]
        if value not in allowed:
            raise ValueError(f"labels[{i}]: {key} must be one of {allowed}, got {value!r}")
        fields[key] = value
    fields["native_decide"] = bool(label.get("native_decide", False))
    return fields


_BEGIN = re.compile(r"\A(?:<\|begin_of_text\|>|<｜begin▁of▁sentence｜>|<s>|<bos>)")


def response_of(query: str, prompt: str | None) -> str | None:
    """The response part of a query: the text after its prompt, found as a decode may have changed it (whitespace
    moved or added, a begin token in front); None when the query does not hold the prompt.

    Example:
        >>> response_of("A\\n \\nB simp", "A\\n\\nB")
        ' simp'
        >>> response_of("something else", "A\\n\\nB") is None
        True
    """
    if not prompt:
        return query
    if query.startswith(prompt):
        return query[len(prompt):]
    q = _BEGIN.sub("", query, count=1)
    want = [c for c in _BEGIN.sub("", prompt, count=1) if not c.isspace()]
    i = k = 0
    while k < len(want):  # walk the query, skipping whitespace on both sides
        while i < len(q) and q[i].isspace():
            i += 1
        if i >= len(q) or q[i] != want[k]:
            return None
        i += 1
        k += 1
    return q[i:]


class RewardQueue:
    """Queries waiting to be scored, and the worker thread that scores all that wait in one batch.

    Args:
        work: ``work(rows, deadline)``: one answer per row, computed in one batch.
        max_waiting: queries that may wait at once; one more is refused (:class:`QueueFull`).
        max_batch: most queries scored in one batch.
        timeout_s: longest a request waits for its answer.
    """

    def __init__(self, work: Callable[[list, Deadline], list], max_waiting: int, max_batch: int, timeout_s: float):
        self._work, self.max_waiting, self.max_batch, self.timeout_s = work, max_waiting, max_batch, timeout_s
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self.waiting = 0
        self.batches = self.scored = 0
        self._thread = threading.Thread(target=self._run, name="leanprogress-reward-queue", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            items, size = [item], len(item[0])
            while size < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                items.append(nxt)
                size += len(nxt[0])
            rows = [row for group, _ in items for row in group]
            try:
                answers = self._work(rows, Deadline(self.timeout_s))
            except BaseException as exc:  # every request of the batch gets the failure, not the worker
                for _, future in items:
                    future.set_exception(exc)
            else:
                k = 0
                for group, future in items:
                    future.set_result(answers[k:k + len(group)])
                    k += len(group)
            finally:
                with self._lock:
                    self.waiting -= size
                    self.batches += 1
                    self.scored += size

    async def submit(self, rows: list) -> list:
        """The answers to ``rows``, once a batch that holds them is scored.

        Raises:
            QueueFull: ``max_waiting`` queries wait already.
            DeadlineExceeded: no answer within ``timeout_s``.
        """
        with self._lock:
            if self.waiting + len(rows) > self.max_waiting:
                raise QueueFull(self.waiting)
            self.waiting += len(rows)
        future: Future = Future()
        self._queue.put((rows, future))
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout=self.timeout_s)
        except asyncio.TimeoutError:
            raise DeadlineExceeded(f"no reward within {self.timeout_s:g} s: the queue holds more than the model "
                                   "scores in that time (see the serving guide's capacity settings)") from None

    def stats(self) -> dict:
        with self._lock:
            return {"waiting": self.waiting, "capacity": self.max_waiting, "batches": self.batches,
                    "scored": self.scored}

    def shutdown(self) -> None:
        self._queue.put(None)


class QueueFull(Exception):
    def __init__(self, waiting: int):
        super().__init__(f"{waiting} queries wait to be scored, the most this server queues; retry later")


class _ServerScorer:
    """The server's scorer, called through its lock and the batch's deadline."""

    def __init__(self, score: Callable, deadline: Any, scorer: Any):
        self._score, self._deadline = score, deadline
        self.settings = getattr(scorer, "settings", None)
        self.name = getattr(scorer, "model_name", "the server's model")

    def steps(self, goals, tactics, prefixes, initial_goals=None):
        return self._score(self._deadline, goals, tactics, prefixes, initial_goals)


def score_rows(rows: list[_Row], backend: Any, n_max: float) -> list[dict]:
    """One answer per row (reward in its form, bounded score, steps, flags), every row of a kind in one pass."""
    answers: list[dict | None] = [None] * len(rows)
    kinds: dict[tuple[str, bool], list[int]] = {}
    for i, row in enumerate(rows):
        if row.response is None:
            answers[i] = {"bounded": 0.0, "neg": -(2.0 * n_max + 1.0), "steps": None, "status": "prompt_mismatch"}
        else:
            kinds.setdefault((row.task, row.native_decide), []).append(i)
    for (task, native), idx in kinds.items():
        bounded = ProgressReward(backend, form="bounded", n_max=n_max, score_mode="tactic", task=task,
                                 native_decide=native)
        neg = ProgressReward(backend, form="neg_steps", n_max=n_max, score_mode="tactic", task=task,
                             native_decide=native)
        results = bounded.evaluate([rows[i].state for i in idx], [rows[i].response for i in idx],
                                   [rows[i].prefix for i in idx], [rows[i].statement for i in idx],
                                   [rows[i].goal_state for i in idx])
        for i, r in zip(idx, results):
            if r.failed:
                value = neg.failure_reward
            elif r.status in ("partial", "unverified"):
                value = neg.partial_reward(r.steps)
            else:
                value = neg.reward_of(r.steps)
            answers[i] = {"bounded": r.reward, "neg": value, "steps": r.steps, "status": r.status}
    return answers  # type: ignore[return-value]


def add_openrlhf_route(app: Any, *, score: Callable, check_size: Callable, config: Any, scorer: Any,
                       problem: type) -> RewardQueue:
    """Add ``POST /get_reward`` to the server's ``app`` (called by :func:`~leanprogress.serve.app.create_app`);
    returns its queue (the app shuts it down and reports it in /health).

    Args:
        score: the app's ``score(deadline, goals, tactics, prefixes, initial_goals)`` (model lock, NaN check).
        check_size: the app's input-size check; problem: its HTTP error class.
    """

    def work(rows: list[_Row], deadline: Deadline) -> list[dict]:
        return score_rows(rows, _ServerScorer(score, deadline, scorer), config.n_max)

    reward_queue = RewardQueue(work, config.reward_queue, config.reward_batch, config.reward_timeout_s)

    @app.post("/get_reward")
    async def get_reward(req: RewardRequest):
        if scorer is None:
            raise problem(400, "no scorer attached: start the server with LEANPROGRESS_MODEL or --model")
        n = len(req.query)
        for what, items in (("prompts", req.prompts), ("labels", req.labels)):
            if items is None or len(items) != n:
                raise problem(422, f"'{what}' must have one entry per query ({n}), got "
                                   f"{'none' if items is None else len(items)}")
        if n > config.max_candidates:
            raise problem(413, f"{n} queries exceed the limit of {config.max_candidates}")
        rows = []
        for i, (query, prompt, label) in enumerate(zip(req.query, req.prompts, req.labels)):
            _check_text(problem, f"query[{i}]", query)
            _check_text(problem, f"prompts[{i}]", prompt)
            try:
                fields = _label(label, i)
            except ValueError as exc:
                raise problem(422, str(exc)) from None
            for key in ("state", "prefix", "statement", "goal_state"):
                if fields.get(key):
                    _check_text(problem, f"labels[{i}].{key}", fields[key])
            # The whole query may be long (prompt + response); each part is bounded as /score bounds its fields.
            check_size(**{f"prompts[{i}]": prompt, f"labels[{i}].state": fields["state"],
                          f"labels[{i}].prefix": fields.get("prefix"),
                          f"labels[{i}].statement": fields.get("statement")})
            response = response_of(query, prompt)  # its length is the policy's: too_long, not 413, past max_chars
            rows.append(_Row(fields["state"], fields.get("prefix") or "", fields["form"], fields["task"],
                             fields.get("statement"), fields.get("goal_state"), fields["native_decide"], response))
        mismatched = sum(r.response is None for r in rows)
        if mismatched:
            logger.warning("/get_reward: %d of %d queries do not hold their prompt: failure reward given "
                           "(extra_logs.prompt_mismatch)", mismatched, n)
        try:
            answers = await reward_queue.submit(rows)
        except QueueFull as exc:
            raise problem(429, str(exc), headers={"Retry-After": "1"}) from None
        except DeadlineExceeded as exc:
            raise problem(504, str(exc)) from None
        return {"rewards": [a["bounded"] if r.form == "bounded" else a["neg"] for r, a in zip(rows, answers)],
                "scores": [a["bounded"] for a in answers],
                "extra_logs": {"steps_remaining": [-1.0 if a["steps"] is None else a["steps"] for a in answers],
                               "failed": [float(a["steps"] is None) for a in answers],
                               "unverified": [float(a["status"] == "unverified") for a in answers],
                               "prompt_mismatch": [float(a["status"] == "prompt_mismatch") for a in answers]}}

    return reward_queue


def _check_text(problem: type, field: str, text: str) -> None:
    # JSON may carry a lone surrogate ("\ud800"), which tokenizers refuse: a 422 naming the field, not a 500.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise problem(422, f"'{field}' contains a lone surrogate at character {exc.start}: not valid Unicode") \
            from None
