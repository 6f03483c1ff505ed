"""``POST /get_reward``: the server as an OpenRLHF remote reward model (``--remote_rm_url``).

OpenRLHF's single-turn rollout (``openrlhf/utils/agent.py``,
``SingleTurnAgentExecutor._fetch_rewards_via_http``, read at OpenRLHF commit
3c3be623) posts ``{"query": [...], "prompts": [...], "labels": [...]}``:
``query`` the prompt and response decoded together (special tokens kept),
``prompts`` the prompt text, ``labels`` the dataset's label of each sample;
and reads ``rewards`` (for the advantages), ``scores`` (values in [0, 1] for
its dynamic filtering) and ``extra_logs`` from the answer, lists with one
value per query, as OpenRLHF's own reward server (``openrlhf/cli/serve_rm.py``)
answers. Point OpenRLHF at it with
``--remote_rm_url http://HOST:23337/get_reward``.

Each label carries the state: a JSON object ``{"state": ..., "prefix": ...,
"form": ...}`` (``form``: ``bounded``, the default, or ``neg_steps``), or the
state itself as a string. The response is the query after its prompt, cleaned
as :mod:`leanprogress.rl.completions` says (end-of-turn tokens dropped, first
tactic). ``rewards`` are in the label's form, ``scores`` always the bounded
form, ``extra_logs`` has ``steps_remaining`` (-1 where the failure reward was
given) and ``failed`` (1 for those). All queries of a request are scored in
one batch, under the server's bound on work in flight and time limit, as
``/score`` is.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from pydantic import BaseModel

from ..rl.reward import ProgressReward


class RewardRequest(BaseModel):
    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None


def _label(label: Any, i: int) -> tuple[str, str, str]:
    """(state, prefix, form) of one label; ValueError naming the label when it has no state."""
    if isinstance(label, str):
        try:
            parsed = json.loads(label)
        except ValueError:
            parsed = None
        label = parsed if isinstance(parsed, dict) else label
    if isinstance(label, str):
        return label, "", "bounded"
    if isinstance(label, dict) and isinstance(label.get("state", label.get("goal")), str):
        prefix = label.get("prefix") or ""
        return label.get("state", label.get("goal")), str(prefix), str(label.get("form") or "bounded")
    raise ValueError(f"labels[{i}] must be the proof state or a JSON object with 'state' (and 'prefix', 'form'), "
                     f"got {str(label)[:200]!r}")


def _check_text(problem: type, field: str, text: str) -> None:
    # JSON may carry a lone surrogate ("\ud800"), which tokenizers refuse: a 422 naming the field, not a 500.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise problem(422, f"'{field}' contains a lone surrogate at character {exc.start}: not valid Unicode") \
            from None


def _response(query: str, prompt: str | None) -> str:
    """The response part of a query: the text after its prompt (the whole query when the prompt is not in it)."""
    if not prompt:
        return query
    if query.startswith(prompt):
        return query[len(prompt):]
    at = query.rfind(prompt[-200:])  # a decoded prompt may differ at its start (a BOS token, spacing)
    return query[at + len(prompt[-200:]):] if at >= 0 else query


class _ServerScorer:
    """The server's scorer, called through its lock and the request's deadline."""

    def __init__(self, score: Callable, deadline: Any, scorer: Any):
        self._score, self._deadline = score, deadline
        self.settings = getattr(scorer, "settings", None)
        self.name = getattr(scorer, "model_name", "the server's model")

    def steps(self, goals, tactics, prefixes):
        return self._score(self._deadline, goals, tactics, prefixes)


def add_openrlhf_route(app: Any, *, score: Callable, run: Callable, check_size: Callable, config: Any,
                       scorer: Any, problem: type) -> None:
    """Add ``POST /get_reward`` to the server's ``app`` (called by :func:`~leanprogress.serve.app.create_app`).

    Args:
        score: the app's ``score(deadline, goals, tactics, prefixes)`` (lock, NaN check).
        run: the app's ``run(work)`` (the bound on work in flight, the time limit).
        check_size: the app's input-size check; problem: its HTTP error class.
    """

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
            check_size(**{f"query[{i}]": query})
            _check_text(problem, f"query[{i}]", query)
            _check_text(problem, f"prompts[{i}]", prompt)
            try:
                state, prefix, form = _label(label, i)
            except ValueError as exc:
                raise problem(422, str(exc)) from None
            if form not in ("bounded", "neg_steps"):
                raise problem(422, f"labels[{i}]: form must be 'bounded' or 'neg_steps', got {form!r}")
            rows.append((state, prefix, form, _response(query, prompt)))

        def work(deadline):
            backend = _ServerScorer(score, deadline, scorer)
            bounded = ProgressReward(backend, form="bounded", n_max=config.n_max, score_mode="tactic")
            results = bounded.evaluate([r[0] for r in rows], [r[3] for r in rows], [r[1] for r in rows])
            neg = ProgressReward(backend, form="neg_steps", n_max=config.n_max, score_mode="tactic")
            rewards = []
            for (_, _, form, _), r in zip(rows, results):
                if form == "bounded":
                    rewards.append(r.reward)
                else:
                    rewards.append(neg.failure_reward if r.failed else neg.reward_of(r.steps))
            return {"rewards": rewards, "scores": [r.reward for r in results],
                    "extra_logs": {"steps_remaining": [-1.0 if r.failed else r.steps for r in results],
                                   "failed": [float(r.failed) for r in results]}}

        return await run(work)
