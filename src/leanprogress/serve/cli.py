"""``leanprogress serve``."""

from __future__ import annotations

import errno
import socket
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "serve",
        help="HTTP server: LeanCopilot-compatible /generate (ranked by the model), /score, /encode",
        description="Serve candidate tactics ranked by predicted steps remaining. With only a model folder "
        "written by `leanprogress train`, offers the generator 'retrieval' over the tactics the model was trained "
        "on, ranked by the model. Environment: LEANPROGRESS_MODEL, LEANPROGRESS_DEVICE, LEANPROGRESS_TEMPLATE, "
        "LEANPROGRESS_API_KEY.",
    )
    p.add_argument("--config", default=None, help="JSON or TOML server config (generators, defaults)")
    p.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="(default 23337, LeanCopilot's)")
    p.add_argument("--model", default=None, help="trained model folder (overrides LEANPROGRESS_MODEL)")
    p.add_argument("--device", default=None, help="where the scorer runs: auto, cpu, cuda, cuda:N (default auto)")
    p.add_argument("--retrieval-corpus", default=None, metavar="JSONL",
                   help="serve the 'retrieval' generator over this records file instead of the model's own tactics")
    p.add_argument("--reward-default", action="append", default=None, metavar="NAME",
                   help="rank this generator's /generate by predicted steps even without use_reward (repeatable; "
                   "on by default for the model's own 'retrieval')")
    p.add_argument("--alpha", type=float, default=None,
                   help="rank by alpha*N + (1-alpha)*P (N: predicted steps, P: generator log-probability) "
                   "instead of predicted steps alone")
    p.add_argument("--score-format", choices=["probability", "log"], default=None,
                   help="what /generate's score holds: probability in (0, 1] (default; LeanCopilot's aesop needs it) "
                   "or log (log-probability, -steps, or the alpha mix)")
    p.add_argument("--num-candidates", type=int, default=None, help="candidates per /generate (default 32)")
    p.add_argument("--max-in-flight", type=int, default=None,
                   help="requests worked on at once; more get 429 with Retry-After (default 8)")
    p.add_argument("--request-timeout", type=float, default=None, metavar="SECONDS",
                   help="time limit per request; past it 504 (default 60)")
    p.add_argument("--reward-queue", type=int, default=None, metavar="QUERIES",
                   help="/get_reward queries that may wait to be scored; more get 429 (default 4096)")
    p.add_argument("--reward-timeout", type=float, default=None, metavar="SECONDS",
                   help="longest a /get_reward request waits for its batch; past it 504 (default 170)")
    p.set_defaults(func=cmd_serve)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or OSError (port taken, address not local, no permission)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does; a live listener still blocks
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def cmd_serve(args) -> int:
    import uvicorn

    from .app import create_app
    from .config import ServerConfig

    generators = {"retrieval": {"kind": "retrieval", "corpus": args.retrieval_corpus}} if args.retrieval_corpus else None
    config = ServerConfig.from_sources(
        args.config, host=args.host, port=args.port, model=args.model, device=args.device, generators=generators,
        reward_by_default=args.reward_default, alpha=args.alpha, score_format=args.score_format,
        num_candidates=args.num_candidates, max_in_flight=args.max_in_flight, request_timeout_s=args.request_timeout,
        reward_queue=args.reward_queue, reward_timeout_s=args.reward_timeout,
    )
    host = f"[{config.host}]" if ":" in config.host else config.host  # an IPv6 address, as a URL writes it
    # Take the port before the (slow) model load, so a port in use fails at once and alone.
    try:
        sock = bind(config.host, config.port)
    except OSError as exc:
        reason = ("address already in use (another server on it? pick --port)" if exc.errno == errno.EADDRINUSE
                  else exc.strerror or str(exc))
        print(f"leanprogress: error: cannot listen on {host}:{config.port}: {reason}", file=sys.stderr)
        return 2
    with sock:
        app = create_app(config)
        if not app.state.generators:
            print("leanprogress serve: no generators, so /generate answers 404: give --retrieval-corpus or --config, "
                  "or a model folder written by `leanprogress train` (it keeps the tactics it was trained on)",
                  file=sys.stderr)
        port = sock.getsockname()[1]
        ranked = [n for n in sorted(app.state.generators) if n in config.reward_by_default]
        print(f"LeanProgress server on http://{host}:{port} (scorer: {config.model or 'none'}; "
              f"generators: {', '.join(sorted(app.state.generators)) or 'none'}; "
              f"ranked by the scorer: {', '.join(ranked) or 'none'})", flush=True)
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        try:
            server.run(sockets=[sock])
        except KeyboardInterrupt:  # uvicorn shut down cleanly and re-raised Ctrl-C; as uvicorn.run, stop quietly
            pass
    print("LeanProgress server stopped", flush=True)
    return 0
