"""Proving many theorems in parallel on Ray, one prover per actor.

Each worker actor builds its own environment (its own Lean REPL or Dojo)
and generator from a picklable *factory*, and proves the theorems handed to
it one at a time; the driver hands out theorems as workers finish, so slow
theorems do not hold up the rest. The scorer is either

- per worker (the default): every worker loads the model. No extra hop, but
  N copies of the model, and each forward pass only batches one state's
  candidates. Right on CPUs, or with one GPU per worker.
- shared (``shared_scorer``): one :class:`ScorerActor` holds the model (on a
  GPU where the cluster has one) and every worker sends it its batches; it
  merges the requests that arrive together into one forward pass. One copy
  of the model and larger batches, for a round trip per scoring call. Right
  when GPUs are fewer than workers: Lean runs on CPUs, scoring on the GPU.

A worker that dies (its Lean process took the machine's memory, the node
was lost) loses only the theorem it was proving: the driver starts a new
worker and tries that theorem again, up to ``retries`` times, then reports
it with status ``error``.

Example::

    from leanprogress.search.distributed import prove_on_ray
    for row in prove_on_ray(todo, factory, workers=8):   # todo: [(name, theorem)]
        print(row["theorem"], row["status"])
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from typing import Any, Callable, Iterator

RAY_MISSING = "--workers/--ray-address need Ray: pip install 'leanprogress[ray]'"


class RayUnavailable(RuntimeError):
    """Ray is not installed."""


def _ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable(RAY_MISSING) from None
    return ray


class BatchingScorer:
    """Merges concurrent ``predict_batch`` calls into one call of the wrapped scorer's ``method``.

    Calls that arrive within ``wait_s`` of each other (up to ``max_batch``
    candidates) are scored in one forward pass; each caller gets its own
    slice back. Used inside :class:`ScorerActor`; usable with any asyncio code.
    A caller that is cancelled while it waits is skipped; an exception from
    the scorer (or a result of the wrong length) reaches every caller of
    that batch, and the calls after it are still served.

    Args:
        scorer: anything with ``method(goals, tactics, prefixes)``.
        wait_s: how long the first call of a batch waits for others.
        max_batch: most candidates in one merged call.
        method: the scorer's method that merged calls go to: ``predict_batch`` (point estimates) or
            ``rank_batch`` (the scores search orders candidates by).

    Example:
        >>> class Len:
        ...     def predict_batch(self, goals, tactics, prefixes=None):
        ...         return [float(len(t)) for t in tactics]
        >>> b = BatchingScorer(Len())
        >>> async def two():
        ...     return await asyncio.gather(b.predict_batch("⊢ p", ["a", "bb"]), b.predict_batch(["⊢ q"], ["ccc"]))
        >>> asyncio.run(two())
        [[1.0, 2.0], [3.0]]
    """

    def __init__(self, scorer: Any, wait_s: float = 0.005, max_batch: int = 512, method: str = "predict_batch"):
        if wait_s < 0 or max_batch < 1:
            raise ValueError("wait_s must be >= 0 and max_batch >= 1")
        if not callable(getattr(scorer, method, None)):
            raise TypeError(f"{type(scorer).__name__} has no {method}() to batch")
        self.scorer, self.wait_s, self.max_batch = scorer, wait_s, max_batch
        self._score = getattr(scorer, method)
        self.calls = 0
        self._pending: list[tuple[list[str], list[str], list[str], asyncio.Future]] = []
        self._draining = False
        self._task: asyncio.Task | None = None  # held: the loop keeps only weak references to tasks

    async def predict_batch(self, goals: Any, tactics: list[str], prefixes: Any = None) -> list[float]:
        tactics = list(tactics)
        n = len(tactics)
        goals = [goals] * n if isinstance(goals, str) else list(goals)
        prefixes = [prefixes or ""] * n if prefixes is None or isinstance(prefixes, str) else list(prefixes)
        if not n:
            return []
        future = asyncio.get_running_loop().create_future()
        self._pending.append((goals, tactics, prefixes, future))
        if not self._draining:
            self._draining = True
            self._task = asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list = []
        try:
            while self._pending:
                await asyncio.sleep(self.wait_s)
                batch, size = [], 0
                while self._pending and (not batch or size + len(self._pending[0][1]) <= self.max_batch):
                    item = self._pending.pop(0)
                    if item[3].done():  # its caller was cancelled while it waited: nothing to score
                        continue
                    batch.append(item)
                    size += len(item[1])
                if not batch:
                    continue
                goals = [g for b in batch for g in b[0]]
                tactics = [t for b in batch for t in b[1]]
                prefixes = [p for b in batch for p in b[2]]
                self.calls += 1
                try:
                    scores = await asyncio.to_thread(self._score, goals, tactics, prefixes)
                    scores = list(scores)
                    if len(scores) != len(tactics):
                        raise RuntimeError(f"the scorer returned {len(scores)} score(s) for {len(tactics)} "
                                           "candidate(s)")
                except Exception as exc:  # every caller of this batch gets the error
                    for *_, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                start = 0
                for _, t, _, future in batch:
                    # A caller cancelled during the forward pass no longer wants its slice; the others do.
                    if not future.done():
                        future.set_result(scores[start : start + len(t)])
                    start += len(t)
        except BaseException as exc:
            # The loop itself stopped (its task was cancelled, the event loop is closing): no caller may be left
            # waiting on a future nobody will answer.
            failure = exc if isinstance(exc, Exception) else RuntimeError(
                f"the batching scorer stopped ({type(exc).__name__}) before answering")
            for *_, future in [*batch, *self._pending]:
                if not future.done():
                    future.set_exception(failure)
            self._pending.clear()
            raise
        finally:
            self._draining = False


class ScorerActor:
    """The shared scorer (a Ray actor): loads a model once and batches every worker's requests."""

    def __init__(self, model: str, device: str = "auto", wait_s: float = 0.005):
        from ..scoring import LeanProgressScorer

        self._scorer = LeanProgressScorer(model, device=device)
        self._batchers = {m: BatchingScorer(self._scorer, wait_s=wait_s, method=m)
                          for m in ("predict_batch", "rank_batch")}

    def describe(self) -> tuple[str, Any]:
        return self._scorer.model_name, self._scorer.settings

    async def predict_batch(self, goals: Any, tactics: list[str], prefixes: Any = None) -> list[float]:
        return await self._batchers["predict_batch"].predict_batch(goals, tactics, prefixes)

    async def rank_batch(self, goals: Any, tactics: list[str], prefixes: Any = None) -> list[float]:
        return await self._batchers["rank_batch"].predict_batch(goals, tactics, prefixes)


class RemoteScorer:
    """A worker's view of the shared :class:`ScorerActor`: same ``predict_batch`` and ``rank_batch`` as a local
    scorer."""

    def __init__(self, actor: Any):
        ray = _ray()
        self._actor, self._ray = actor, ray
        self.model_name, self.settings = ray.get(actor.describe.remote())

    def predict_batch(self, goals: Any, tactics: list[str], prefixes: Any = None) -> list[float]:
        return self._ray.get(self._actor.predict_batch.remote(goals, list(tactics), prefixes))

    def rank_batch(self, goals: Any, tactics: list[str], prefixes: Any = None) -> list[float]:
        return self._ray.get(self._actor.rank_batch.remote(goals, list(tactics), prefixes))


class ProveWorker:
    """One prover in a Ray actor: its own environment, generator and (unless shared) scorer.

    Args:
        factory: a picklable callable returning ``(env, generator, scorer,
            config)`` (scorer None when shared or when alpha is 0).
        scorer_actor: the shared :class:`ScorerActor` handle, or None.
    """

    def __init__(self, factory: Callable[[], tuple], scorer_actor: Any = None):
        from .prover import BestFirstProver

        env, generator, scorer, config = factory()
        if scorer_actor is not None:
            scorer = RemoteScorer(scorer_actor)
        self.env = env
        self.prover = BestFirstProver(env, generator, scorer, config)

    def ready(self) -> int:
        return os.getpid()

    def prove(self, name: str, theorem: Any) -> dict:
        from dataclasses import asdict

        return asdict(self.prover.prove(theorem, name=name))

    def close(self) -> None:
        self.env.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [l for l in text.splitlines() if l.strip()]
    # Ray's errors end with the remote exception's own last line, which names the cause.
    return lines[-1].strip() if lines else type(exc).__name__


def _error_row(name: str, message: str) -> dict:
    from dataclasses import asdict

    from .prover import SearchResult

    return asdict(SearchResult(theorem=name, status="error", error=message))


def prove_on_ray(todo: list[tuple[str, Any]], factory: Callable[[], tuple], workers: int, address: str | None = None,
                 shared_scorer: dict | None = None, worker_cpus: float = 1.0, retries: int = 1,
                 init_kwargs: dict | None = None) -> Iterator[dict]:
    """Prove ``todo`` on ``workers`` Ray actors; yields result rows (``SearchResult`` dicts) as they finish.

    Args:
        todo: ``(name, theorem)`` pairs.
        factory: picklable; called once in every worker (see :class:`ProveWorker`).
        workers: actors to start.
        address: an existing cluster (``ray.init(address=...)``, e.g. ``auto``); None starts a local Ray with
            ``workers`` CPUs for the workers (and none of the machine's other resources reserved).
        shared_scorer: ``{"model": path, "device": ..., "num_gpus": ...}`` for one shared scorer actor; None:
            the factory's scorer in every worker.
        worker_cpus: CPUs each worker reserves on the cluster.
        retries: how many times a theorem whose worker died is tried again.
        init_kwargs: extra ``ray.init`` arguments.
    """
    ray = _ray()
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING",
                                  "log_to_driver": True}
        if address:
            kwargs["address"] = address
        else:
            kwargs["num_cpus"] = int(max(1, workers * worker_cpus + (1 if shared_scorer else 0)))
        kwargs.update(init_kwargs or {})
        try:
            ray.init(**kwargs)
        except ConnectionError as exc:
            # Ray's own message names its CLI's `--address` flag; here the option is --ray-address.
            where = f"--ray-address {address}" if address else "RAY_ADDRESS"
            raise RuntimeError(f"no Ray cluster found at {where} ({_first_line(exc).split('. Please')[0]}): start one "
                               "with `ray start --head` on the head node, or leave --ray-address out to run a local "
                               "Ray with --workers N") from None
        started = True
    scorer_actor = None
    actors: list[Any] = []
    try:
        if shared_scorer:
            spec = dict(shared_scorer)
            gpus = float(spec.pop("num_gpus", 0) or 0)
            options = {"num_gpus": gpus, "num_cpus": 0 if gpus else 1, "max_concurrency": 1000}
            scorer_actor = ray.remote(ScorerActor).options(**options).remote(**spec)
            try:
                ray.get(scorer_actor.describe.remote())
            except Exception as exc:
                raise RuntimeError(f"the shared scorer could not start: {_first_line(exc)}") from None
        worker_cls = ray.remote(ProveWorker).options(num_cpus=worker_cpus, max_restarts=0)

        def new_worker():
            return worker_cls.remote(factory, scorer_actor)

        actors = [new_worker() for _ in range(workers)]
        try:
            ray.get([a.ready.remote() for a in actors])
        except Exception as exc:
            raise RuntimeError(f"a prove worker could not start: {_first_line(exc)}") from None
        queue = deque((name, theorem, 0) for name, theorem in todo)
        pending: dict[Any, tuple[int, str, Any, int]] = {}

        def submit(i: int) -> None:
            if queue:
                name, theorem, attempt = queue.popleft()
                pending[actors[i].prove.remote(name, theorem)] = (i, name, theorem, attempt)

        for i in range(len(actors)):
            submit(i)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            i, name, theorem, attempt = pending.pop(ref)
            try:
                row = ray.get(ref)
            except ray.exceptions.RayActorError as exc:
                # The worker process is gone with whatever it was doing; replace it.
                try:
                    ray.kill(actors[i])
                except Exception:
                    pass
                actors[i] = new_worker()
                if attempt < retries:
                    queue.appendleft((name, theorem, attempt + 1))
                    submit(i)
                    continue
                row = _error_row(name, f"the worker proving it died {attempt + 1} time(s): {_first_line(exc)}")
            except ray.exceptions.RayTaskError as exc:
                row = _error_row(name, f"the worker failed: {_first_line(exc)}")
            submit(i)
            yield row
    finally:
        for a in actors:
            try:
                ray.get(a.close.remote(), timeout=30)
            except Exception:
                pass
            try:
                ray.kill(a)
            except Exception:
                pass
        if scorer_actor is not None:
            try:
                ray.kill(scorer_actor)
            except Exception:
                pass
        if started:
            ray.shutdown()
