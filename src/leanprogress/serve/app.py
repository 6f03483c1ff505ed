"""The HTTP server: LeanCopilot-compatible ``/generate`` and ``/encode``, plus ``/score``.

LeanCopilot's external generator sends ``{"name", "input", "prefix"}`` (with
curl, no other headers) and reads ``outputs[i].output`` and
``outputs[i].score``; its ``search_proof`` hands each ``score`` to aesop as a
success probability, and aesop rejects a tactic whose score is outside
[0, 1]. So by default ``score`` is a probability in (0, 1]
(:func:`~leanprogress.ranking.success_probability`), and ``model_score``,
``steps_remaining`` and ``reward`` are added in their own fields when the
candidates were scored.

Request bodies are counted as they arrive, chunked ones included, and
refused past ``max_body_bytes`` (:mod:`leanprogress.serve.body_limit`). At
most ``max_in_flight`` requests are worked on at once, each in a worker
thread with a time limit (:mod:`leanprogress.serve.limits`); one more gets 429
with ``Retry-After``. ``/get_reward`` queues instead, for clients that cannot
retry (:mod:`leanprogress.serve.reward`). The model runs one batch at a time.

Example:
    >>> from leanprogress.serve import ServerConfig, create_app
    >>> app = create_app(ServerConfig(), generators={})  # no scorer, no generators
    >>> sorted(r.path for r in app.routes if r.path.startswith(("/gen", "/sc", "/he")))
    ['/generate', '/health', '/score']
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import math
import secrets
import threading
import time
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import AfterValidator, BaseModel, Field

from ..config import goal_from_mismatch
from ..generators import GeneratorError, GeneratorTimeout, build_generator
from ..lean.forbidden import ProofRule
from ..ranking import finite_logprob, mixed_priority, normalized_steps, probability_of
from ..scoring import Scores, ScoringError
from .body_limit import BodyLimit
from .config import ServerConfig
from .limits import Busy, DeadlineExceeded, WorkLimiter
from .reward import add_openrlhf_route

logger = logging.getLogger(__name__)

OPEN_PATHS = ("/health",)
"""Paths that answer without the API key: only the liveness probe."""


def _valid_unicode(text: str) -> str:
    # JSON may carry "\ud800": Python accepts it, tokenizers and UTF-8 encoders do not.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"contains a lone surrogate {text[exc.start]!r} at character {exc.start}: "
                         "not valid Unicode text") from None
    return text


Text = Annotated[str, AfterValidator(_valid_unicode)]


class GenerateRequest(BaseModel):
    name: Text
    """Generator to ask (see /models)."""
    input: Text
    """The proof state, as Lean prints it."""
    prefix: Text | None = ""
    """LeanCopilot's target prefix: generated tactics must start with it."""
    history: Text | None = ""
    """Tactics already written in this proof, one a line (the scorer's proof prefix)."""
    use_reward: bool | None = None
    """Rank by the scorer (default: on for the generators in the server's reward_by_default)."""
    alpha: float | None = Field(default=None, ge=0.0, le=1.0, allow_inf_nan=False)
    """Mix weight of predicted steps against the generator's log-probability (default: the server's)."""
    num_candidates: int | None = Field(default=None, ge=1)
    score_format: Literal["probability", "log"] | None = None
    """What ``score`` holds (default: the server's, ``probability``)."""


class Generation(BaseModel):
    output: str
    score: float
    """The ranking priority (a probability in (0, 1] by default); candidates come best first."""
    model_score: float | None = None
    """The generator's own score (log-probability)."""
    steps_remaining: float | None = None
    """The model's point estimate of steps remaining (shown to users; it can tie)."""
    rank_score: float | None = None
    """What the candidates were ordered by (lower is better, in steps; for a distribution head the expected
    steps): continuous, so candidates do not tie where the point estimate does."""
    reward: float | None = None
    """``-rank_score``."""


class GenerateResponse(BaseModel):
    outputs: list[Generation]


class ScoreRequest(BaseModel):
    goal: Text
    prefix: Text | None = ""
    tactics: list[Text]
    goal_state: Literal["initial"] | None = None
    """``initial``: the goal is the theorem's initial state standing in for the real one (records from whole
    proofs), laid out as a model trained with ``--initial-goals mark`` read such records."""
    native_decide: bool = False
    """Allow ``native_decide`` (the proof rule of :mod:`leanprogress.lean.forbidden` forbids it by default)."""


class ScoredTactic(BaseModel):
    tactic: str
    steps_remaining: float | None
    """The model's point estimate of steps remaining (shown to users; it can tie); None for a tactic the proof rule
    forbids (not scored)."""
    rank_score: float | None = None
    """The score to order candidates by (lower is better, in steps; for a distribution head the expected steps);
    None for a forbidden tactic."""
    reward: float
    """``-rank_score``, or ``-(2 * n_max + 1)`` (below every scored tactic) for a forbidden one."""
    status: str = "scored"
    """``scored``, or ``forbidden`` (``sorry``, ``sorryAx``, declarations, ...: see ``reason``)."""
    reason: str | None = None


class ScoreResponse(BaseModel):
    outputs: list[ScoredTactic]


class EncodeRequest(BaseModel):
    name: Text
    input: Text


class EncodeResponse(BaseModel):
    outputs: list[float]


_SUGGESTIONS_RULE = ProofRule(native_decide=True)
"""What /generate never offers: the proof rule (:mod:`leanprogress.lean.forbidden`) with native_decide allowed."""


class HTTPProblem(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        self.status, self.detail, self.headers = status, detail, headers


def _supplied_key(request: Request) -> str:
    """The key a client sent: ``X-API-Key``, a bearer token, or the password of HTTP basic auth.

    Basic auth is what a URL with credentials (``http://lp:KEY@host:port``)
    makes curl send, which is how LeanCopilot's external generator can carry a key.
    """
    if key := request.headers.get("x-api-key"):
        return key
    auth = request.headers.get("authorization") or ""
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return ""
    return ""


def create_app(config: ServerConfig, scorer: Any = None, generators: dict[str, Any] | None = None) -> FastAPI:
    """Build the FastAPI app.

    Args:
        config: :class:`ServerConfig`.
        scorer: a ready :class:`~leanprogress.scoring.LeanProgressScorer`;
            if None and ``config.model`` is set, one is loaded from it.
        generators: ready generators by name; if None they are built from
            ``config.generators``.
    """
    if scorer is None and config.model:
        from ..scoring import LeanProgressScorer

        scorer = LeanProgressScorer(config.model, device=config.device, template=config.template)
    if scorer is not None:
        # The server scores candidates before they run (LeanCopilot asks for tactics to try on a state).
        why = goal_from_mismatch(getattr(getattr(scorer, "settings", None), "goal_from", ""), "state_before",
                                 getattr(scorer, "model_name", "the model"), "the server (/score, /generate)")
        if why:
            logger.warning("%s: its scores of candidates are not what it was trained to predict; serve a model "
                           "trained on build-dataset's default state_before records", why)
    if generators is None:
        generators = {name: build_generator(name, spec) for name, spec in config.generators.items()}
    scorer_lock = threading.Lock()  # one forward pass at a time; batches are where the speed is
    limiter = WorkLimiter(config.max_in_flight, config.request_timeout_s)
    model_path = config.model or getattr(scorer, "model_name", None)
    started = time.time()

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        limiter.shutdown()
        _app.state.reward_queue.shutdown()

    app = FastAPI(title="LeanProgress", version=__import__("leanprogress").__version__, lifespan=lifespan)
    app.state.config, app.state.scorer, app.state.generators, app.state.limiter = config, scorer, generators, limiter

    # Added before the guard below, so it runs inside it: a request without the key gets 401 unread.
    app.add_middleware(BodyLimit, max_bytes=config.max_body_bytes)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if config.api_key and request.url.path not in OPEN_PATHS:
            if not secrets.compare_digest(_supplied_key(request).encode(), config.api_key.encode()):
                return JSONResponse(
                    {"detail": "missing or wrong API key (X-API-Key header, bearer token, or basic-auth password)"},
                    status_code=401, headers={"WWW-Authenticate": 'Basic realm="leanprogress"'},
                )
        return await call_next(request)

    @app.exception_handler(HTTPProblem)
    async def problem(_: Request, exc: HTTPProblem):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError):
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception):
        logger.exception("unexpected error")
        return JSONResponse({"detail": f"internal error ({type(exc).__name__}); see the server log"}, status_code=500)

    def check_size(**texts: str | None) -> None:
        for field_name, text in texts.items():
            if text and len(text) > config.max_input_chars:
                raise HTTPProblem(413, f"'{field_name}' has {len(text)} characters; the limit is {config.max_input_chars}")

    def generator(name: str):
        gen = generators.get(name)
        if gen is not None:
            return gen
        hint = ""
        if not generators:
            hint = ("; this server has no generators: give it a model folder written by `leanprogress train` "
                    "(it holds the tactics the model was trained on), --retrieval-corpus or --config")
        elif model_path and name in (model_path, Path(model_path).name):
            hint = "; that is the scorer, which ranks the generators' candidates: name a generator"
        raise HTTPProblem(404, f"unknown generator {name!r}; known generators: {sorted(generators)}{hint}")

    async def run(work):
        try:
            return await limiter.run(work)
        except Busy as exc:
            raise HTTPProblem(429, str(exc), headers={"Retry-After": str(exc.retry_after_s)}) from None
        except DeadlineExceeded as exc:
            raise HTTPProblem(504, str(exc)) from None

    def score_both(deadline, goal, tactics: list[str], prefix, initial_goals: list[bool] | None = None) -> Scores:
        """The point estimates and rank scores of ``tactics``, through the model's lock and the deadline."""
        limiter.waiting(+1)
        try:
            deadline.acquire(scorer_lock, "the model")
        finally:
            limiter.waiting(-1)
        try:
            marks = (initial_goals,) if initial_goals is not None and any(initial_goals) else ()
            if hasattr(scorer, "score_batch"):
                scores = scorer.score_batch(goal, tactics, prefix, *marks)
            else:  # any object with predict_batch can serve: its prediction is its rank score
                steps = list(scorer.predict_batch(goal, tactics, prefix, *marks))
                scores = Scores(steps, steps)
        except ScoringError as exc:
            logger.error("scoring failed: %s", exc)
            raise HTTPProblem(500, f"the scorer failed: {exc}") from None
        finally:
            scorer_lock.release()
        # A scorer that lets a NaN through must not rank it first (NaN compares false with everything).
        bad = [i for i, (s, r) in enumerate(zip(*scores)) if not (math.isfinite(s) and math.isfinite(r))]
        if bad:
            i = bad[0]
            logger.error("scorer gave %r (rank score %r) for %r", scores.steps[i], scores.rank[i], tactics[i])
            raise HTTPProblem(500, f"the scorer failed: no finite step count for {len(bad)} of {len(tactics)} "
                                   f"candidate(s) (first: {tactics[i]!r} gave {scores.steps[i]})")
        return scores

    def score(deadline, goal, tactics: list[str], prefix, initial_goals: list[bool] | None = None) -> list[float]:
        """The rank scores of ``tactics`` (what candidates are ordered and rewarded by; /get_reward's steps)."""
        return score_both(deadline, goal, tactics, prefix, initial_goals).rank

    @app.get("/health")
    async def health():
        model = None
        if scorer is not None:
            model = {"name": Path(str(model_path)).name if model_path else None,
                     "device": str(getattr(scorer, "device", "")), "precision": getattr(scorer, "precision", None)}
        return {"status": "ok", "model": model, "generators": sorted(generators), "queue": limiter.stats(),
                "reward_queue": app.state.reward_queue.stats(), "uptime_s": round(time.time() - started, 1)}

    @app.get("/models")
    async def models():
        ranked = [n for n in sorted(generators) if n in config.reward_by_default]
        return {
            "generators": [
                {"name": n, "role": "generator", "kind": getattr(g, "kind", type(g).__name__),
                 "ranked_by_scorer": n in config.reward_by_default and scorer is not None,
                 "can_encode": hasattr(g, "encode")}
                for n, g in sorted(generators.items())
            ],
            "scorer": {"role": "scorer", "model": model_path, "device": str(getattr(scorer, "device", "")),
                       "precision": getattr(scorer, "precision", None), "ranks_by_default": ranked,
                       "note": "not a generator: it ranks the generators' candidates (use_reward)"}
            if scorer is not None else None,
            "score_format": config.score_format, "alpha": config.alpha, "n_max": config.n_max,
        }

    @app.post("/generate", response_model=GenerateResponse, response_model_exclude_none=True)
    async def generate(req: GenerateRequest):
        gen = generator(req.name)
        check_size(input=req.input, prefix=req.prefix, history=req.history)
        n = req.num_candidates or config.num_candidates
        if n > config.max_candidates:
            raise HTTPProblem(413, f"num_candidates {n} exceeds the limit of {config.max_candidates}")
        use_reward = req.use_reward if req.use_reward is not None else req.name in config.reward_by_default
        if use_reward and scorer is None:
            raise HTTPProblem(400, "use_reward needs a scorer: start the server with LEANPROGRESS_MODEL or --model")
        alpha = req.alpha if req.alpha is not None else config.alpha
        probability = (req.score_format or config.score_format) == "probability"

        def work(deadline):
            try:
                candidates = gen.generate(req.input, req.prefix or "", n)
            except GeneratorTimeout as exc:
                raise HTTPProblem(504, f"generator {req.name!r} timed out: {exc}") from None
            except GeneratorError as exc:
                raise HTTPProblem(502, f"generator {req.name!r} failed: {exc}") from None
            # A NaN or infinite generator score ranks last (ranking.finite_logprob), with or without the scorer.
            # A candidate that is no proof step (sorry, sorryAx, a declaration: the proof rule) is not offered: a
            # prover would "close" goals with it. native_decide is a project's choice, so it stays.
            candidates = [(t, finite_logprob(s)) for t, s in candidates if not _SUGGESTIONS_RULE.forbidden(t)]
            if not use_reward or not candidates:
                candidates.sort(key=lambda c: -c[1])  # stable: a generator's own order among equal scores stays
                return {"outputs": [{"output": t, "score": probability_of(s) if probability else s}
                                    for t, s in candidates]}
            deadline.check("scoring the candidates")
            tactics = [t for t, _ in candidates]
            scores = score_both(deadline, req.input, tactics, req.history or "")
            ranked = []
            for (tactic, model_score), s, r in zip(candidates, scores.steps, scores.rank):
                # Ordered by the rank score (continuous), shown with the point estimate.
                if alpha is None:
                    priority = normalized_steps(r, config.n_max) if probability else -r
                else:
                    priority = mixed_priority(r, model_score, alpha, config.n_max)
                out = {"output": tactic, "score": probability_of(priority) if probability else priority,
                       "model_score": model_score, "steps_remaining": s, "rank_score": r, "reward": -r}
                ranked.append((priority, out))
            # Sort on the priority itself: probabilities clamped at the floor would tie.
            ranked.sort(key=lambda p: -p[0])
            return {"outputs": [out for _, out in ranked]}

        return await run(work)

    @app.post("/score", response_model=ScoreResponse)
    async def score_endpoint(req: ScoreRequest):
        if scorer is None:
            raise HTTPProblem(400, "no scorer attached: start the server with LEANPROGRESS_MODEL or --model")
        if len(req.tactics) > config.max_candidates:
            raise HTTPProblem(413, f"{len(req.tactics)} tactics exceed the limit of {config.max_candidates}")
        check_size(goal=req.goal, prefix=req.prefix)
        for i, t in enumerate(req.tactics):
            check_size(**{f"tactics[{i}]": t})
        if not req.tactics:
            return {"outputs": []}

        rule = ProofRule(native_decide=req.native_decide)
        words = [rule.forbidden(t) for t in req.tactics]
        kept = [t for t, w in zip(req.tactics, words) if not w]
        failure = -(2.0 * config.n_max + 1.0)  # ProgressReward's neg_steps failure reward: below any capped tactic

        def work(deadline):
            marks = [True] * len(kept) if req.goal_state == "initial" else None
            scores = score_both(deadline, req.goal, kept, req.prefix or "", marks) if kept else Scores([], [])
            scored = iter(zip(scores.steps, scores.rank))
            outputs = []
            for t, w in zip(req.tactics, words):
                if w:
                    outputs.append({"tactic": t, "steps_remaining": None, "reward": failure, "status": "forbidden",
                                    "reason": f"uses {w!r}"})
                else:
                    steps, rank = next(scored)
                    outputs.append({"tactic": t, "steps_remaining": steps, "rank_score": rank, "reward": -rank})
            return {"outputs": outputs}

        return await run(work)

    reward_queue = add_openrlhf_route(app, score=score, check_size=check_size, config=config, scorer=scorer,
                                      problem=HTTPProblem)
    app.state.reward_queue = reward_queue

    @app.post("/encode", response_model=EncodeResponse)
    async def encode(req: EncodeRequest):
        gen = generator(req.name)
        check_size(input=req.input)
        if not hasattr(gen, "encode"):
            raise HTTPProblem(400, f"generator {req.name!r} ({gen.kind}) cannot encode")

        def work(deadline):
            try:
                return {"outputs": gen.encode(req.input)}
            except NotImplementedError as exc:
                raise HTTPProblem(400, f"generator {req.name!r} cannot encode: {exc}") from None

        return await run(work)

    return app
