"""``leanprogress prove``, ``predict-steps`` and ``export-proofs``."""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from pathlib import Path


def add_parsers(sub) -> None:
    p = sub.add_parser("prove", help="progress-guided best-first proof search over a list of theorems")
    p.add_argument("--theorems", required=True,
                   help="LeanDojo benchmark JSON (replay, lean-dojo) or JSONL of {name, statement} (lean-interact)")
    p.add_argument("--output", required=True, help="results JSONL, one line per theorem; reruns skip written ones")
    p.add_argument("--backend", choices=["replay", "lean-interact", "lean-dojo"], default="replay")
    p.add_argument("--generator", choices=["replay", "retrieval", "config"], default=None,
                   help="replay (recorded tactic among distractors; replay backend only), retrieval (--corpus), "
                   "or config (--generator-config). Default: replay for the replay backend, else retrieval")
    p.add_argument("--corpus", default=None, help="records JSONL for the retrieval generator")
    p.add_argument("--generator-config", default=None,
                   help="JSON generator spec as for the server, e.g. {\"kind\": \"hf\", \"model\": \"/models/tacgen\"}")
    p.add_argument("--model", default=None, help="trained LeanProgress model (needed for --alpha > 0)")
    p.add_argument("--alpha", type=float, default=0.2, help="weight of predicted steps (0: log-probability only)")
    p.add_argument("--score-mode", choices=["state", "tactic"], default="state")
    p.add_argument("--num-candidates", type=int, default=32)
    p.add_argument("--max-expansions", type=int, default=100)
    p.add_argument("--max-env-calls", type=int, default=None)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per theorem")
    p.add_argument("--device", default="auto")
    p.add_argument("--header", default="import Mathlib", help="lean-interact: commands before each theorem")
    p.add_argument("--project-dir", default=None, help="lean-interact: local Lake project")
    p.add_argument("--repo-url", default=None, help="lean-dojo: repository URL (default: from the benchmark file)")
    p.add_argument("--commit", default=None, help="lean-dojo: commit (default: from the benchmark file)")
    p.set_defaults(func=cmd_prove)

    q = sub.add_parser(
        "predict-steps", help="how many tactic steps are left from a proof state",
        description="Steps left from a proof state. With --tactic: steps left after that candidate. Without it the "
        "state is scored as search's state mode does: with the last --prefix line as the tactic that produced it, "
        "or, for an initial state (no --prefix, or an empty one), on its own.")
    q.add_argument("--model", required=True, help="trained model folder (written by `leanprogress train`)")
    q.add_argument("--state", required=True, help="the proof state as Lean prints it")
    q.add_argument("--prefix", default="", help="tactics that led here, one a line (empty: an initial state)")
    q.add_argument("--tactic", default=None, help="a candidate tactic: steps left after it")
    q.add_argument("--device", default="auto", help="where the model runs: auto, cpu, cuda, cuda:N (default auto)")
    q.set_defaults(func=cmd_predict_steps)

    e = sub.add_parser("export-proofs", help="turn solved searches into training records")
    e.add_argument("--results", required=True, help="JSONL written by prove")
    e.add_argument("--output", required=True, help="records JSONL")
    e.add_argument("--source", default="search")
    e.set_defaults(func=cmd_export)


def _load_theorems(path: str, backend: str) -> list:
    from ..data.leandojo import iter_json_array, trace_files

    if backend == "lean-interact":
        out = []
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    out.append((obj["name"], obj["statement"]))
                except (ValueError, KeyError, TypeError):
                    raise ValueError(f"{path}:{lineno}: expected JSON with 'name' and 'statement'") from None
        return out
    return [(t["full_name"], t) for f in trace_files(path) for _, t in iter_json_array(f)
            if t.get("traced_tactics") or backend != "replay"]


def _environment(args, theorems):
    if args.backend == "replay":
        from .environment import ReplayEnvironment

        return ReplayEnvironment(t for _, t in theorems)
    if args.backend == "lean-interact":
        from .backends import LeanInteractEnvironment

        return LeanInteractEnvironment(header=args.header, project_dir=args.project_dir, timeout=min(args.timeout, 60))
    from .backends import LeanDojoEnvironment

    first = theorems[0][1] if theorems else {}
    url, commit = args.repo_url or first.get("url"), args.commit or first.get("commit")
    if not url or not commit:
        raise ValueError("lean-dojo needs --repo-url and --commit (or 'url'/'commit' in the benchmark file)")
    return LeanDojoEnvironment(url, commit)


def _generator(args, env):
    kind = args.generator or ("replay" if args.backend == "replay" else "retrieval")
    if kind == "replay":
        if args.backend != "replay":
            raise ValueError("the replay generator works with the replay backend only")
        from ..generators import ReplayGenerator

        return ReplayGenerator(env)
    from ..generators import build_generator

    if kind == "retrieval":
        if not args.corpus:
            raise ValueError("--generator retrieval needs --corpus (a records JSONL)")
        return build_generator("retrieval", {"kind": "retrieval", "corpus": args.corpus})
    if not args.generator_config:
        raise ValueError("--generator config needs --generator-config")
    return build_generator("config", json.loads(args.generator_config))


def cmd_prove(args) -> int:
    from tqdm import tqdm

    from .prover import BestFirstProver, SearchConfig

    config = SearchConfig(alpha=args.alpha, num_candidates=args.num_candidates, max_expansions=args.max_expansions,
                          max_env_calls=args.max_env_calls, timeout_s=args.timeout, score_mode=args.score_mode)
    scorer = None
    if args.alpha > 0:
        if not args.model:
            raise ValueError("--alpha > 0 needs --model (a trained LeanProgress model); use --alpha 0 without one")
        from ..scoring import LeanProgressScorer

        scorer = LeanProgressScorer(args.model, device=args.device)
    theorems = _load_theorems(args.theorems, args.backend)
    out = Path(args.output)
    done: dict[str, dict] = {}
    if out.exists():
        for line in out.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                done[row["theorem"]] = row
    todo = [(n, t) for n, t in theorems if n not in done]
    if done:
        print(f"resuming: {len(done)} theorem(s) already in {out}, {len(todo)} to go")
    env = _environment(args, theorems)
    prover = BestFirstProver(env, _generator(args, env), scorer, config)
    out.parent.mkdir(parents=True, exist_ok=True)
    results = list(done.values())
    try:
        with out.open("a", encoding="utf-8") as f, tqdm(todo, desc="proving", unit="thm") as bar:
            for name, theorem in bar:
                res = prover.prove(theorem, name=name)
                row = asdict(res)
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                f.flush()
                results.append(row)
                bar.set_postfix(proved=sum(r["status"] == "proved" for r in results))
    finally:
        env.close()
    proved = [r for r in results if r["status"] == "proved"]
    rate = len(proved) / len(results) if results else 0.0
    med = statistics.median(r["expansions"] for r in proved) if proved else float("nan")
    print(f"proved {len(proved)}/{len(results)} ({rate:.1%}); median expansions to proof {med:g}; results in {out}")
    return 0


def cmd_predict_steps(args) -> int:
    # Arguments first: loading a model takes seconds.
    if not args.state.strip():
        raise ValueError("--state is empty: give the proof state as Lean prints it")
    if args.tactic is not None and not args.tactic.strip():
        raise ValueError("--tactic is empty: give a candidate tactic, or leave --tactic out to score the state")
    lines = [l for l in args.prefix.split("\n") if l.strip()]
    if args.tactic:
        goal, tactic, prefix = args.state, args.tactic, args.prefix
        what = f"after `{args.tactic}`"
    elif lines:  # the state reached by the last prefix line
        goal, tactic, prefix = args.state, lines[-1], "\n".join(lines[:-1])
        what = "from this state"
    else:  # an initial state: no tactic produced it
        goal, tactic, prefix = args.state, "", ""
        what = "from this initial state"
    from ..scoring import LeanProgressScorer

    steps = LeanProgressScorer(args.model, device=args.device).predict(goal, tactic, prefix)
    print(f"{steps:.2f} steps left {what}")
    return 0


def cmd_export(args) -> int:
    from ..data.records import write_records
    from .prover import SearchResult, proof_records

    fields = set(SearchResult.__dataclass_fields__)
    records = []
    with open(args.results, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise ValueError(f"{args.results}:{lineno}: not valid JSON") from None
            records += proof_records(SearchResult(**{k: v for k, v in row.items() if k in fields}), args.source)
    n = write_records(records, args.output)
    print(f"wrote {n} record(s) from solved searches to {args.output}")
    return 0
