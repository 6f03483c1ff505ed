"""``leanprogress serve``."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="HTTP server: LeanCopilot-compatible /generate (with use_reward), /score, /encode",
        description="Serve candidate tactics ranked by predicted steps remaining. "
        "Environment: LEANPROGRESS_MODEL, LEANPROGRESS_DEVICE, LEANPROGRESS_TEMPLATE, LEANPROGRESS_API_KEY.",
    )
    p.add_argument("--config", default=None, help="JSON or TOML server config (generators, defaults)")
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="(default 23337, LeanCopilot's)")
    p.add_argument("--model", default=None, help="trained model folder (overrides LEANPROGRESS_MODEL)")
    p.add_argument("--device", default=None)
    p.add_argument("--retrieval-corpus", default=None, metavar="JSONL",
                   help="add the offline 'retrieval' generator over this records file")
    p.add_argument("--reward-default", action="append", default=None, metavar="NAME",
                   help="rank this generator's /generate by predicted steps even without use_reward (repeatable)")
    p.add_argument("--alpha", type=float, default=None, help="mix alpha*N + (1-alpha)*P instead of reward alone")
    p.add_argument("--num-candidates", type=int, default=None, help="candidates per /generate (default 32)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    import uvicorn

    from .app import create_app
    from .config import ServerConfig

    generators = None
    if args.retrieval_corpus:
        generators = {"retrieval": {"kind": "retrieval", "corpus": args.retrieval_corpus}}
    config = ServerConfig.from_sources(
        args.config, host=args.host, port=args.port, model=args.model, device=args.device,
        reward_by_default=args.reward_default, alpha=args.alpha, num_candidates=args.num_candidates,
    )
    if generators:
        config.generators = {**config.generators, **generators}
    if not config.generators:
        print("leanprogress serve: no generators configured; /generate answers 404 (give --retrieval-corpus or --config)")
    app = create_app(config)
    print(f"LeanProgress server on http://{config.host}:{config.port} "
          f"(scorer: {config.model or 'none'}; generators: {sorted(app.state.generators) or 'none'})")
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning")
    return 0
