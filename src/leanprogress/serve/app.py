"""The HTTP server: LeanCopilot-compatible ``/generate`` and ``/encode``, plus ``/score``.

LeanCopilot's external generator sends ``{"name", "input", "prefix"}`` and
reads ``outputs[i].output`` and ``outputs[i].score``; this server answers in
that shape and adds ``model_score``, ``steps_remaining`` and ``reward`` when
the candidates were scored. Inference runs in worker threads, so the event
loop keeps serving while a model computes.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ..ranking import mixed_priority
from .config import ServerConfig
from ..generators import GeneratorError, GeneratorTimeout, build_generator

logger = logging.getLogger(__name__)


class GenerateRequest(BaseModel):
    name: str
    input: str
    prefix: str | None = ""
    """LeanCopilot's target prefix: generated tactics must start with it."""
    history: str | None = ""
    """Tactics already written in this proof, one a line (the scorer's proof prefix)."""
    use_reward: bool | None = None
    alpha: float | None = Field(default=None, ge=0.0, le=1.0)
    num_candidates: int | None = Field(default=None, ge=1)


class Generation(BaseModel):
    output: str
    score: float
    model_score: float | None = None
    steps_remaining: float | None = None
    reward: float | None = None


class GenerateResponse(BaseModel):
    outputs: list[Generation]


class ScoreRequest(BaseModel):
    goal: str
    prefix: str | None = ""
    tactics: list[str]


class ScoredTactic(BaseModel):
    tactic: str
    steps_remaining: float
    reward: float


class ScoreResponse(BaseModel):
    outputs: list[ScoredTactic]


class EncodeRequest(BaseModel):
    name: str
    input: str


class EncodeResponse(BaseModel):
    outputs: list[float]


class HTTPProblem(Exception):
    def __init__(self, status: int, detail: str):
        self.status, self.detail = status, detail


def _finite(x: float) -> float:
    return x if math.isfinite(x) else (-1e9 if x < 0 else 1e9)


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
    if generators is None:
        generators = {name: build_generator(name, spec) for name, spec in config.generators.items()}
    scorer_lock = threading.Lock()  # one forward pass at a time; batches are where the speed is

    app = FastAPI(title="LeanProgress", version=__import__("leanprogress").__version__)
    app.state.config, app.state.scorer, app.state.generators = config, scorer, generators

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if config.api_key and request.url.path not in ("/health", "/docs", "/openapi.json"):
            supplied = request.headers.get("x-api-key") or ""
            auth = request.headers.get("authorization") or ""
            if auth.lower().startswith("bearer "):
                supplied = supplied or auth[7:]
            if not secrets.compare_digest(supplied.encode(), config.api_key.encode()):
                return JSONResponse({"detail": "missing or wrong API key (X-API-Key header)"}, status_code=401)
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > config.max_body_bytes:
            return JSONResponse(
                {"detail": f"request body of {length} bytes exceeds the limit of {config.max_body_bytes}"},
                status_code=413,
            )
        return await call_next(request)

    @app.exception_handler(HTTPProblem)
    async def problem(_: Request, exc: HTTPProblem):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

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

    def score(goal: str, tactics: list[str], prefix: str) -> list[float]:
        with scorer_lock:
            return scorer.predict_batch(goal, tactics, prefix)

    @app.get("/health")
    async def health():
        return {"status": "ok", "scorer": scorer is not None, "generators": sorted(generators)}

    @app.get("/models")
    async def models():
        return {
            "scorer": {"model": config.model, "device": str(scorer.device), "precision": scorer.precision}
            if scorer is not None else None,
            "generators": [
                {"name": n, "kind": g.kind, "scorer_attached": scorer is not None,
                 "reward_by_default": n in config.reward_by_default, "can_encode": hasattr(g, "encode")}
                for n, g in sorted(generators.items())
            ],
        }

    @app.post("/generate", response_model=GenerateResponse, response_model_exclude_none=True)
    async def generate(req: GenerateRequest):
        gen = generators.get(req.name)
        if gen is None:
            raise HTTPProblem(404, f"unknown model {req.name!r}; known: {sorted(generators)}")
        check_size(input=req.input, prefix=req.prefix, history=req.history)
        n = req.num_candidates or config.num_candidates
        if n > config.max_candidates:
            raise HTTPProblem(413, f"num_candidates {n} exceeds the limit of {config.max_candidates}")
        use_reward = req.use_reward if req.use_reward is not None else req.name in config.reward_by_default
        if use_reward and scorer is None:
            raise HTTPProblem(400, "use_reward needs a scorer: start the server with LEANPROGRESS_MODEL or --model")
        try:
            candidates = await run_in_threadpool(gen.generate, req.input, req.prefix or "", n)
        except GeneratorTimeout as exc:
            raise HTTPProblem(504, f"generator {req.name!r} timed out: {exc}") from None
        except GeneratorError as exc:
            raise HTTPProblem(502, f"generator {req.name!r} failed: {exc}") from None
        if not use_reward or not candidates:
            return {"outputs": [{"output": t, "score": _finite(s)} for t, s in candidates]}
        tactics = [t for t, _ in candidates]
        steps = await run_in_threadpool(score, req.input, tactics, req.history or "")
        alpha = req.alpha if req.alpha is not None else config.alpha
        outputs = []
        for (tactic, model_score), s in zip(candidates, steps):
            rank = -s if alpha is None else mixed_priority(s, model_score, alpha, config.n_max)
            outputs.append({"output": tactic, "score": _finite(rank), "model_score": _finite(model_score),
                            "steps_remaining": s, "reward": -s})
        outputs.sort(key=lambda o: -o["score"])
        return {"outputs": outputs}

    @app.post("/score", response_model=ScoreResponse)
    async def score_endpoint(req: ScoreRequest):
        if scorer is None:
            raise HTTPProblem(400, "no scorer attached: start the server with LEANPROGRESS_MODEL or --model")
        if len(req.tactics) > config.max_candidates:
            raise HTTPProblem(413, f"{len(req.tactics)} tactics exceed the limit of {config.max_candidates}")
        check_size(goal=req.goal, prefix=req.prefix)
        for i, t in enumerate(req.tactics):
            check_size(**{f"tactics[{i}]": t})
        steps = await run_in_threadpool(score, req.goal, req.tactics, req.prefix or "") if req.tactics else []
        return {"outputs": [{"tactic": t, "steps_remaining": s, "reward": -s} for t, s in zip(req.tactics, steps)]}

    @app.post("/encode", response_model=EncodeResponse)
    async def encode(req: EncodeRequest):
        gen = generators.get(req.name)
        if gen is None:
            raise HTTPProblem(404, f"unknown model {req.name!r}; known: {sorted(generators)}")
        check_size(input=req.input)
        if not hasattr(gen, "encode"):
            raise HTTPProblem(400, f"generator {req.name!r} ({gen.kind}) cannot encode")
        try:
            vector = await run_in_threadpool(gen.encode, req.input)
        except NotImplementedError as exc:
            raise HTTPProblem(400, f"generator {req.name!r} cannot encode: {exc}") from None
        return {"outputs": vector}

    return app
