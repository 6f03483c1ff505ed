"""``leanprogress prove``, ``predict-steps`` and ``export-proofs``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
from dataclasses import asdict
from pathlib import Path

from ..files import check_outputs, files_of, json_error
from .results import read_result_rows

logger = logging.getLogger("leanprogress.search")

DEFAULT_ALPHA_WITH_MODEL = 0.2


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "prove", help="progress-guided best-first proof search over a list of theorems",
        description="Best-first proof search over a list of theorems, ranking states by "
        "alpha * N + (1 - alpha) * P (N: a LeanProgress model's predicted steps, P: the generator's summed "
        "log-probability). Writes one JSON line per theorem as it finishes; a rerun skips the theorems already "
        "written. Progress goes to stderr: a bar on a terminal, a plain line every 30 s in a file or pipe.",
    )
    p.add_argument("--theorems", required=True,
                   help="replay, lean-dojo: LeanDojo benchmark JSON (a theorem listed several times is several "
                   "recorded proofs for the replay); lean-interact: JSONL of {\"name\", \"statement\"}. Required")
    p.add_argument("--output", required=True,
                   help="results JSONL, one line per theorem; a rerun skips the theorems already in it. Required")
    p.add_argument("--backend", choices=["replay", "lean-interact", "lean-dojo"], default="replay",
                   help="replay: recorded proofs, offline; lean-interact: the Lean REPL; lean-dojo: LeanDojo's "
                   "Dojo (default: replay)")
    p.add_argument("--generator", choices=["replay", "retrieval", "config"], default=None,
                   help="replay (recorded tactics among distractors; replay backend only), retrieval (--corpus) "
                   "or config (--generator-config) (default: replay for the replay backend, else retrieval)")
    p.add_argument("--corpus", default=None, help="records JSONL for the retrieval generator (default: none)")
    p.add_argument("--generator-config", default=None,
                   help="JSON generator spec as for the server, e.g. {\"kind\": \"hf\", \"model\": \"/models/tacgen\"} "
                   "(default: none)")
    p.add_argument("--model", default=None,
                   help="trained LeanProgress model that predicts steps remaining (default: none: search by the "
                   "generator's log-probabilities alone)")
    p.add_argument("--alpha", type=float, default=None,
                   help=f"weight of predicted steps, 0 to 1 (default: {DEFAULT_ALPHA_WITH_MODEL} with --model, "
                   "0 without)")
    p.add_argument("--score-mode", choices=["state", "tactic"], default=None,
                   help="state: score the state a tactic produced (models trained with build-dataset --goal-from "
                   "state_after); tactic: score each candidate before it runs (models trained on state_before, "
                   "build-dataset's default) (default: what the model was trained for; tactic for a model that "
                   "does not record it)")
    p.add_argument("--num-candidates", type=int, default=32, help="tactics asked of the generator per state "
                   "(default 32)")
    p.add_argument("--max-expansions", type=int, default=100, help="states expanded per theorem (default 100)")
    p.add_argument("--max-env-calls", type=int, default=None,
                   help="tactics run per theorem (default: no limit)")
    p.add_argument("--timeout", type=float, default=600.0,
                   help="seconds per theorem; bounds every call to Lean (default 600)")
    p.add_argument("--tactic-timeout", type=float, default=60.0,
                   help="lean-interact, lean-dojo: seconds one tactic may take (default 60)")
    p.add_argument("--device", default="auto", help="device of the model: auto, cpu, cuda (default auto)")
    p.add_argument("--header", default="import Mathlib",
                   help="lean-interact: commands run before the theorems (default \"import Mathlib\")")
    p.add_argument("--project-dir", default=None,
                   help="lean-interact: a local Lake project whose dependencies the REPL uses, e.g. a Mathlib "
                   "checkout (default: LeanInteract's own)")
    p.add_argument("--repl-dir", default=None,
                   help="lean-interact: a local, built Lean REPL checkout to use instead of LeanInteract's download "
                   "(default: none)")
    p.add_argument("--lake-path", default=None, help="lean-interact: the lake executable (default: lake on PATH)")
    p.add_argument("--repo-url", default=None, help="lean-dojo: repository URL (default: from the benchmark file)")
    p.add_argument("--commit", default=None, help="lean-dojo: commit (default: from the benchmark file)")
    p.add_argument("--workers", type=int, default=1,
                   help="theorems proved in parallel; more than 1 runs on Ray (pip install 'leanprogress[ray]'), "
                   "each worker with its own Lean process and generator (default 1: this process, no Ray)")
    p.add_argument("--ray-address", default=None,
                   help="an existing Ray cluster to run the workers on, e.g. auto or ray://head:10001 (default: a "
                   "local Ray started for this run when --workers > 1)")
    p.add_argument("--shared-scorer", action="store_true",
                   help="with Ray: one scorer actor that batches every worker's requests, instead of a model in "
                   "every worker (default: off)")
    p.add_argument("--scorer-gpus", type=float, default=0.0,
                   help="with --shared-scorer: GPUs the scorer actor reserves (default 0)")
    p.add_argument("--worker-cpus", type=float, default=1.0, help="with Ray: CPUs each worker reserves (default 1)")
    p.add_argument("--retries", type=int, default=1,
                   help="with Ray: times a theorem is tried again when its worker dies (default 1)")
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


def load_theorems(path: str, backend: str) -> tuple[list[tuple[str, object]], list]:
    """``(todo, entries)``: one ``(name, theorem)`` per distinct name, and every entry read (the replay
    builds its state graph from all recorded proofs of a theorem)."""
    from ..data.leandojo import iter_json_array, trace_files

    if backend == "lean-interact":
        entries = []
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    raise ValueError(f"{path}:{lineno}: {json_error(exc, one_line=True)}") from None
                if not (isinstance(obj, dict) and isinstance(obj.get("name"), str)
                        and isinstance(obj.get("statement"), str)):
                    raise ValueError(f"{path}:{lineno}: expected a JSON object with string 'name' and 'statement'")
                entries.append((obj["name"], obj["statement"]))
    else:
        entries = []
        for f in trace_files(path):
            for lineno, t in iter_json_array(f):
                if not isinstance(t, dict) or "full_name" not in t:
                    raise ValueError(f"{f}:{lineno}: expected a theorem object with 'full_name'")
                if t.get("traced_tactics") or backend != "replay":
                    entries.append((t["full_name"], t))
    todo, seen = [], set()
    for name, theorem in entries:
        if name not in seen:
            seen.add(name)
            todo.append((name, theorem))
    return todo, [t for _, t in entries]


def _score_mode(args) -> str:
    """The score mode for ``args``, from the model's recorded ``goal_from`` unless given; refuses a mismatch."""
    from ..config import model_settings
    from .prover import check_score_mode, score_mode_for

    if args.alpha == 0 or not args.model:
        return args.score_mode or "state"
    settings = model_settings(args.model)  # an unfinished run is refused before anything is said about it
    goal_from = settings.goal_from if settings else ""
    if args.score_mode:
        check_score_mode(goal_from, args.score_mode, args.model)
        return args.score_mode
    mode = score_mode_for(goal_from)
    if mode:
        return mode
    if goal_from == "mixed":
        raise ValueError(f"{args.model} was trained on records that mix states before and after tactics: "
                         "choose --score-mode state or tactic")
    print(f"note: {args.model} does not record which state its training records read (saved before LeanProgress "
          "recorded it, or trained on records without goal_from); scoring candidates before they run "
          "(--score-mode tactic, for build-dataset's default state_before records)", file=sys.stderr)
    return "tactic"


class ProverFactory:
    """Builds ``(env, generator, scorer, config)`` from ``prove``'s arguments; picklable, so that every Ray
    worker builds its own."""

    def __init__(self, args: argparse.Namespace, entries: list, with_scorer: bool = True):
        self.args, self.entries, self.with_scorer = args, entries, with_scorer

    def config(self):
        from .prover import SearchConfig

        a = self.args
        return SearchConfig(alpha=a.alpha, num_candidates=a.num_candidates, max_expansions=a.max_expansions,
                            max_env_calls=a.max_env_calls, timeout_s=a.timeout, score_mode=a.score_mode)

    def environment(self):
        a = self.args
        if a.backend == "replay":
            from .environment import ReplayEnvironment

            return ReplayEnvironment(self.entries)
        if a.backend == "lean-interact":
            from .backends import LeanInteractEnvironment

            return LeanInteractEnvironment(header=a.header, project_dir=a.project_dir, timeout=a.tactic_timeout,
                                           lake_path=a.lake_path, repl_dir=a.repl_dir)
        from .backends import LeanDojoEnvironment

        first = self.entries[0] if self.entries else {}
        url, commit = a.repo_url or first.get("url"), a.commit or first.get("commit")
        if not url or not commit:
            raise ValueError("lean-dojo needs --repo-url and --commit (or 'url'/'commit' in the benchmark file)")
        return LeanDojoEnvironment(url, commit, timeout=a.tactic_timeout)

    def generator(self, env):
        a = self.args
        kind = a.generator or ("replay" if a.backend == "replay" else "retrieval")
        if kind == "replay":
            if a.backend != "replay":
                raise ValueError("the replay generator works with the replay backend only")
            from ..generators import ReplayGenerator

            return ReplayGenerator(env)
        from ..generators import build_generator

        if kind == "retrieval":
            if not a.corpus:
                raise ValueError("--generator retrieval needs --corpus (a records JSONL)")
            return build_generator("retrieval", {"kind": "retrieval", "corpus": a.corpus})
        if not a.generator_config:
            raise ValueError("--generator config needs --generator-config")
        try:
            spec = json.loads(a.generator_config)
        except ValueError as exc:
            raise ValueError(f"--generator-config is not valid JSON: {exc}") from None
        return build_generator("config", spec)

    def scorer(self):
        if not self.with_scorer or self.args.alpha == 0:
            return None
        from ..scoring import LeanProgressScorer

        return LeanProgressScorer(self.args.model, device=self.args.device)

    def __call__(self):
        config = self.config()
        # The generator and scorer fail fast on bad settings before a Lean process is started.
        scorer = self.scorer()
        env = self.environment()
        try:
            generator = self.generator(env)
        except BaseException:
            env.close()
            raise
        return env, generator, scorer, config


def _settings_of(row: dict) -> tuple[float, str, str]:
    """What decides a search's ranking: alpha, the model (a normalized path, "" without one) and the score mode
    ("" without a model; rows of older versions wrote "state" there)."""
    alpha = float(row.get("alpha") or 0.0)
    model = str(row.get("scorer") or "") if alpha > 0 else ""
    return alpha, os.path.abspath(model) if model else "", str(row.get("score_mode") or "") if alpha > 0 else ""


def _describe(settings: tuple[float, str, str]) -> str:
    alpha, model, mode = settings
    return f"alpha {alpha:g}, model {model}, score mode {mode}" if model else f"alpha {alpha:g} without a model"


def cmd_prove(args) -> int:
    from .backends import BackendUnavailable
    from .distributed import RayUnavailable

    try:
        return _prove(args)
    except (BackendUnavailable, RayUnavailable, RuntimeError) as exc:
        print(f"leanprogress: error: {exc}", file=sys.stderr)
        return 2


def _prove(args) -> int:
    from .progress import ProveProgress

    if args.alpha is None:
        args.alpha = DEFAULT_ALPHA_WITH_MODEL if args.model else 0.0
    if not 0.0 <= args.alpha <= 1.0:
        raise ValueError(f"--alpha must be between 0 and 1, got {args.alpha}")
    if args.alpha > 0 and not args.model:
        raise ValueError(f"--alpha {args.alpha:g} needs --model (a trained LeanProgress model); "
                         "without one leave --alpha out (search by log-probability)")
    if args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    use_ray = args.workers > 1 or args.ray_address is not None
    if args.shared_scorer and not use_ray:
        raise ValueError("--shared-scorer needs --workers > 1 or --ray-address")
    if use_ray:
        from .distributed import _ray

        _ray()  # a one-line message before anything is read when Ray is missing
    # The output is read (a rerun resumes it) and appended to; it must be no other input, and writable.
    inputs = files_of("--theorems", args.theorems) + [("--corpus", args.corpus)]
    check_outputs(inputs, files=[("--output", args.output)])
    out = Path(args.output)
    args.score_mode = _score_mode(args)
    todo, entries = load_theorems(args.theorems, args.backend)
    # Only the requested theorems count: rows of other theorems in the file stay there, outside the summary.
    requested = {name for name, _ in todo}
    rows = read_result_rows(out, repair=True, missing_ok=True)
    done = {r["theorem"]: r for r in rows if r["theorem"] in requested}
    others = len({r["theorem"] for r in rows} - requested)
    todo = [(n, t) for n, t in todo if n not in done]
    if done:
        print(f"resuming: {len(done)} theorem(s) already in {out}, {len(todo)} to go")
        _warn_other_settings(list(done.values()), args, out)
    shared = use_ray and args.shared_scorer and args.alpha > 0
    factory = ProverFactory(args, entries if args.backend == "replay" else entries[:1], with_scorer=not shared)
    results = list(done.values())
    progress = ProveProgress(len(todo), done=len(done), proved=sum(r.get("status") == "proved" for r in results))
    f = None
    try:
        for row in _rows(args, factory, todo, use_ray, shared):
            if f is None:  # opened with the first result: a run that fails to start leaves no file behind
                out.parent.mkdir(parents=True, exist_ok=True)
                f = out.open("a", encoding="utf-8")
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            results.append(row)
            progress.update(row.get("status") == "proved")
    finally:
        if f is not None:
            f.close()
        progress.close()
    _summary(results, out, others)
    return 0


def _warn_other_settings(rows: list[dict], args, out: Path) -> None:
    """Say so when rows kept from an earlier run were searched with other settings than this run's."""
    this = _settings_of({"alpha": args.alpha, "scorer": args.model or "", "score_mode": args.score_mode})
    other: dict[tuple, int] = {}
    for row in rows:
        settings = _settings_of(row)
        if settings != this:
            other[settings] = other.get(settings, 0) + 1
    if other:
        seen = "; ".join(f"{n} with {_describe(k)}" for k, n in sorted(other.items(), key=lambda kv: -kv[1]))
        print(f"warning: {sum(other.values())} of the theorem(s) already in {out} were searched with other settings "
              f"({seen}; this run: {_describe(this)}); they are kept and not searched again, so the results mix "
              "settings: write to another --output to compare settings", file=sys.stderr)


def _rows(args, factory: ProverFactory, todo: list, use_ray: bool, shared: bool):
    if not todo:
        return
    if use_ray:
        from .distributed import prove_on_ray

        spec = {"model": args.model, "device": args.device, "num_gpus": args.scorer_gpus} if shared else None
        for row in prove_on_ray(todo, factory, workers=args.workers, address=args.ray_address, shared_scorer=spec,
                                worker_cpus=args.worker_cpus, retries=args.retries):
            if not row.get("generator"):  # written by the driver for a worker that died: this run's settings
                row.update(alpha=args.alpha, score_mode=args.score_mode if args.alpha > 0 else "",
                           scorer=(args.model or "") if args.alpha > 0 else "")
            yield row
        return
    from .prover import BestFirstProver

    env, generator, scorer, config = factory()
    try:
        prover = BestFirstProver(env, generator, scorer, config)
        for name, theorem in todo:
            yield asdict(prover.prove(theorem, name=name))
    finally:
        env.close()


def _summary(results: list[dict], out: Path, others: int = 0) -> None:
    proved = [r for r in results if r.get("status") == "proved"]
    rate = len(proved) / len(results) if results else 0.0
    med = statistics.median(r.get("expansions", 0) for r in proved) if proved else float("nan")
    counts: dict[str, int] = {}
    for r in results:
        counts[r.get("status", "?")] = counts.get(r.get("status", "?"), 0) + 1
    not_proved = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if k != "proved")
    print(f"proved {len(proved)}/{len(results)} ({rate:.1%}); median expansions to proof {med:g}"
          + (f"; not proved: {not_proved}" if not_proved else "") + f"; results in {out}"
          + (f" ({others} other theorem(s) there, not in --theorems, not counted)" if others else ""))


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
    # The rule prove applies: --tactic scores a candidate before it runs (state_before pairs), a state on its
    # own is a state a tactic produced (state_after pairs).
    from ..config import goal_from_mismatch, model_settings

    settings = model_settings(args.model)
    if settings is not None:
        used, use = (("state_before", "predict-steps --tactic") if args.tactic
                     else ("state_after", "predict-steps without --tactic"))
        why = goal_from_mismatch(settings.goal_from, used, args.model, use)
        if why:
            fix = ("leave --tactic out: give the state the tactic produced, with the tactic as the last --prefix line"
                   if args.tactic else "give a candidate with --tactic (steps left after it), or score the state "
                   "with a model trained on build-dataset --goal-from state_after records")
            raise ValueError(f"{why}: {fix}")
    from ..scoring import LeanProgressScorer

    steps = LeanProgressScorer(args.model, device=args.device).predict(goal, tactic, prefix)
    print(f"{steps:.2f} steps left {what}")
    return 0


def stale_replay_proof(row: dict) -> bool:
    """Whether a result row is a proof by the replay written before results named their environment: that
    replay took each step's successor from the next listed step and ignored the recorded ``state_after``, so
    its proofs can hold steps no recording has (see :mod:`leanprogress.search.audit`)."""
    return row.get("generator") == "ReplayGenerator" and "environment" not in row


def cmd_export(args) -> int:
    from ..data.records import write_records
    from .prover import SearchResult, proof_records

    check_outputs([("--results", args.results)], files=[("--output", args.output)])
    fields = set(SearchResult.__dataclass_fields__)
    rows = read_result_rows(args.results)  # a cut last line is dropped with a note, as prove drops it
    records = []
    counts: dict[str, int] = {}
    stale = 0
    for row in rows:
        try:
            result = SearchResult(**{k: v for k, v in row.items() if k in fields})
        except TypeError as exc:
            raise ValueError(f"{args.results}: the result of {row.get('theorem')!r} is not one prove writes "
                             f"({exc})") from None
        counts[result.status] = counts.get(result.status, 0) + 1
        if result.proved and stale_replay_proof(row):
            stale += 1
            continue
        records += proof_records(result, args.source)
    if stale:
        print(f"note: skipped {stale} proof(s) found by the replay of an earlier version, which could take steps "
              "no recording has (it ignored the recorded state_after); prove again to export them", file=sys.stderr)

    def why_empty() -> str:
        if not rows:
            return f"{args.results} holds no complete result line: nothing to export; {args.output} not written"
        seen = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        what = "a proof" if not stale else "a proof this version exports (see the note above)"
        return (f"none of the {len(rows)} result(s) in {args.results} is {what} ({seen}): nothing to export; "
                f"{args.output} not written")

    n = write_records(records, args.output, if_empty=why_empty)
    print(f"wrote {n} record(s) from {counts.get('proved', 0) - stale} solved search(es) to {args.output}")
    return 0
