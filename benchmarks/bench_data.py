"""What the data layer makes of the shared data: records, labels, splits, rendering.

Measures, with the code on ``PYTHONPATH`` (or this checkout):

- records and labels per source (Mathlib LeanDojo sample, miniF2F-valid whole
  proofs, Lean Workbook Plus declarations), and how many whole proofs a rule
  change touched;
- the step rule against LeanDojo: on each of the 100 Mathlib theorems the
  proof is rebuilt from LeanDojo's own tactic texts (the tactics not nested in
  an earlier one, joined) and split again; how many listings come out exactly
  as LeanDojo's;
- theorem identity of ``--goal-from state_after`` records (the miniF2F search
  traces and the Mathlib sample): how many groups the theorems form, the
  largest, and how many theorems a 0.2 split holds out;
- leakage: the Mathlib sample mixed with the same theorems as ``export-proofs``
  writes them (no ``file_path``), and the miniF2F search traces mixed with the
  miniF2F whole proofs, each split by theorem: theorems on both sides and eval
  rows that copy a training row;
- the search order (``--step-order search``) of the LeanDojo traces: how many
  theorems' records follow the recorded state chain (checked by this script's
  own reading of the states), and, with ``--before``, how many records got
  another label or prefix;
- a LeanDojo benchmark-style folder (the sample under ``random/`` and
  ``novel_premises/`` plus a ``metadata.json``);
- rendering: on the 221 miniF2F-valid problems, how many states rendered from
  ``formal_statement`` equal Lean's initial state, as is and after
  canonicalisation of both sides; and Lean's own printing of the 86 search-trace
  starts (early-2024 Mathlib) against the newer printing in the proofs file;
- machine-written nesting: how long reading one line of 300 or 1,200 nested
  ``(by exact ...)`` blocks, or of 10,000 blocks side by side, takes, and
  what it gives;
- the stored prefix of a 50,000-step machine-written proof.

``--before REV`` also measures the code at git revision ``REV`` (default: the
commit before issue 9) in a subprocess and prints both side by side.

    python benchmarks/bench_data.py [--before b9aedb3]
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
import tracemalloc
from pathlib import Path

from _shared import MATHLIB_SAMPLE, MINIF2F_PROOFS, SHARED, WORKBOOK_PROOFS, json_at_revision, require

SEARCH_TRACES = SHARED / "minif2f-valid-search-traces" / "traces.json"
BEFORE = "b9aedb3"


def _norm(s: str) -> str:
    return " ".join(s.split())


def _nested(x: str, y: str) -> bool:
    """Whether tactic text ``x`` sits inside tactic text ``y`` as a nested tactic (after `by`, `=>`, `;`, ...)."""
    nx, ny = _norm(x), _norm(y)
    if len(ny) <= len(nx):
        return False
    for m in re.finditer(re.escape(nx), ny):
        before = ny[: m.start()].rstrip()
        if m.start() and re.search(r"(\bby|=>|;|\||·|\ball_goals|\bclassical|\bfirst|\brepeat'?|\btry|\bin)$", before):
            return True
    rest = y.split("\n", 1)[1] if "\n" in y else ""
    return any(_norm(line).startswith(nx.split(" ")[0]) for line in y.split("\n")[1:]) and nx in _norm(rest)


def measure() -> dict:
    from leanprogress.data.dataset import group_by_theorem, load_mixture, split_by_theorem
    from leanprogress.data.lean_source import iter_source_records, scan_lean_text
    from leanprogress.lean.syntax import split_tactic_steps
    from leanprogress.data.leandojo import TraceFormatError, iter_leandojo_records
    from leanprogress.data.proofs import SourceStats, iter_proof_records
    from leanprogress.data.records import write_records

    try:
        from leanprogress.lean.canonical import canonical_state
    except ImportError:
        canonical_state = None
    out: dict = {}

    def label_figures(name: str, recs: list[dict], used: int) -> None:
        labels = [r["steps_remaining"] for r in recs]
        out[name] = {"proofs": used, "records": len(recs), "mean_label": round(sum(labels) / max(1, len(labels)), 2),
                     "max_label": max(labels, default=0), "max_prefix_chars": max((len(r["prefix"]) for r in recs), default=0)}

    mathlib = list(iter_leandojo_records([MATHLIB_SAMPLE], source="mathlib"))
    label_figures("mathlib", mathlib, len({r["theorem"] for r in mathlib}))
    st = SourceStats()
    minif2f = list(iter_proof_records(MINIF2F_PROOFS, st, source="minif2f"))
    label_figures("minif2f", minif2f, st.used)
    out["minif2f"]["skipped"] = dict(st.skipped)
    per_proof = {}
    for r in minif2f:
        per_proof[r["theorem"]] = per_proof.get(r["theorem"], 0) + 1
    out["minif2f"]["steps_per_proof"] = per_proof
    st = SourceStats()
    workbook = list(iter_source_records(WORKBOOK_PROOFS, st, source="workbook"))
    label_figures("workbook", workbook, st.used)
    out["workbook"]["skipped"] = dict(st.skipped)

    # the step rule against LeanDojo's own listing
    theorems = json.loads(MATHLIB_SAMPLE.read_text(encoding="utf-8"))
    exact = same_count = 0
    for t in theorems:
        listed = [s["tactic"] for s in t["traced_tactics"]]
        outer = [x for i, x in enumerate(listed) if not any(_nested(x, listed[j]) for j in range(i))]
        block = "\n".join("\n".join("  " + line for line in x.split("\n")) for x in outer)
        got = split_tactic_steps(block)
        exact += [_norm(g) for g in got] == [_norm(x) for x in listed]
        same_count += len(got) == len(listed)
    out["leandojo_listing"] = {"theorems": len(theorems), "exact": exact, "same_count": same_count}

    # leakage through theorem identity
    with tempfile.TemporaryDirectory() as tmp:
        traced = Path(tmp) / "mathlib" / "traced.jsonl"
        exported = Path(tmp) / "search" / "exported.jsonl"
        write_records(mathlib, traced)
        write_records([{k: v for k, v in r.items() if k not in ("file_path", "source")} for r in mathlib], exported)
        train, held, _ = load_mixture([str(traced), str(exported)], eval_ratio=0.2, seed=42)
        train_thms = {r["theorem"] for r in train}
        pairs = {(r["goal"], r["tactic"]) for r in train}
        out["mix_export"] = {"eval_rows": len(held), "theorems_both_sides": len({r["theorem"] for r in held} & train_thms),
                             "eval_rows_copied": sum((r["goal"], r["tactic"]) in pairs for r in held)}
    traces = list(iter_leandojo_records([SEARCH_TRACES], source="search"))
    train, held = split_by_theorem(traces + minif2f, eval_ratio=0.2, seed=42)
    out["mix_minif2f"] = {"theorems_both_sides": len({r["theorem"] for r in held} & {r["theorem"] for r in train}),
                          "trace_names_in_proofs": len({r["theorem"] for r in traces} & {r["theorem"] for r in minif2f})}

    # theorem identity of records that read the state after each tactic (--goal-from state_after)
    for label, path in (("search", SEARCH_TRACES), ("mathlib", MATHLIB_SAMPLE)):
        try:
            recs = list(iter_leandojo_records([path], goal_from="state_after"))
        except TypeError:  # code from before goal_from
            continue
        groups = group_by_theorem(recs, warn=False)
        held = split_by_theorem(recs, eval_ratio=0.2, seed=42)[1]
        out[f"after_{label}"] = {"theorems": len({r["theorem"] for r in recs}), "groups": len(groups),
                                 "largest": max(len({recs[i]["theorem"] for i in idx}) for idx in groups.values()),
                                 "eval_theorems": len({r["theorem"] for r in held})}

    out.update(search_order_figures())

    # a LeanDojo benchmark-style folder
    with tempfile.TemporaryDirectory() as tmp:
        for split in ("random", "novel_premises"):
            (Path(tmp) / split).mkdir()
            (Path(tmp) / split / "test.json").write_bytes(MATHLIB_SAMPLE.read_bytes())
        n_twice = len(list(iter_leandojo_records([tmp])))
        (Path(tmp) / "metadata.json").write_text('{"commit": "5a919533"}')
        try:
            n_meta = len(list(iter_leandojo_records([tmp])))
        except TraceFormatError as exc:
            n_meta = f"error: {str(exc).split(': ', 1)[1]}"
    out["benchmark_folder"] = {"records_random_and_novel": n_twice, "with_metadata_json": n_meta}

    # rendering
    problems = [json.loads(line) for line in MINIF2F_PROOFS.read_text(encoding="utf-8").splitlines()]
    equal = canon_equal = rendered = 0
    for p in problems:
        recs = list(scan_lean_text(p["formal_statement"] + "\n  simp\n", p["name"], SourceStats()))
        if not recs:
            continue
        rendered += 1
        equal += recs[0]["goal"] == p["goal"]
        if canonical_state is not None:
            canon_equal += canonical_state(recs[0]["goal"]) == canonical_state(p["goal"])
    out["rendering"] = {"problems": len(problems), "rendered": rendered, "equal": equal,
                        "canonical_equal": canon_equal if canonical_state else None}
    goals = {p["name"]: p["goal"] for p in problems}
    starts = [(t["traced_tactics"][0]["state_before"], goals[t["full_name"]])
              for t in json.loads(SEARCH_TRACES.read_text(encoding="utf-8")) if t["full_name"] in goals]
    out["lean_versions"] = {"pairs": len(starts), "equal": sum(a == b for a, b in starts),
                            "canonical_equal": sum(canonical_state(a) == canonical_state(b) for a, b in starts)
                            if canonical_state else None}

    # machine-written nesting: one line of n nested `(by exact ...)`, and one line of n blocks side by side
    shapes = {"nested_300": "(by exact " * 300 + "trivial" + ")" * 300,
              "nested_1200": "(by exact " * 1200 + "trivial" + ")" * 1200,
              "wide_10000": "⟨" + ", ".join(["by simp"] * 10_000) + "⟩"}
    out["deep_proofs"] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, term in shapes.items():
            path = Path(tmp) / f"{label}.jsonl"
            path.write_text(json.dumps({"name": label, "goal": "⊢ True",
                                        "proof": "theorem t : True := by\n  exact " + term}) + "\n")
            stats = SourceStats()
            t0 = time.perf_counter()
            try:
                n_recs = sum(1 for _ in iter_proof_records(path, stats))
                what = f"{n_recs} records" if n_recs else "skipped: " + ", ".join(stats.skipped)
            except RecursionError:
                what = "RecursionError (nothing written)"
            out["deep_proofs"][label] = f"{what}, {time.perf_counter() - t0:.2f} s"

    # the stored prefix of a huge machine-written proof (not run on code without the cap: it would need
    # tens of gigabytes)
    try:
        from leanprogress.data.records import MAX_PREFIX_CHARS  # noqa: F401
    except ImportError:
        out["huge_proof"] = None
        return out
    n = 50_000
    steps = [f"nlinarith [sq_nonneg (x - {i}), sq_nonneg (y + {i})]" for i in range(n)]
    proof = "theorem huge (x y : ℝ) : x ^ 2 + y ^ 2 ≥ 0 := by\n" + "\n".join("  " + s for s in steps)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "huge.jsonl"
        path.write_text(json.dumps({"name": "huge", "goal": "x y : ℝ\n⊢ x ^ 2 + y ^ 2 ≥ 0", "proof": proof}) + "\n")
        tracemalloc.start()
        t0 = time.perf_counter()
        written = 0
        for rec in iter_proof_records(path, SourceStats()):
            written += len(json.dumps(rec, ensure_ascii=False)) + 1
        wall = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    full_prefix = sum(len(s) + 1 for s in steps) * (n - 1) // 2  # what an uncapped prefix would add, roughly
    out["huge_proof"] = {"steps": n, "proof_mb": round(len(proof) / 1e6, 2), "output_mb": round(written / 1e6, 1),
                         "uncapped_prefix_mb": round(full_prefix / 1e6), "peak_python_mb": round(peak / 1e6, 1),
                         "seconds": round(wall, 1)}
    return out


def follows_state_chain(steps: list[dict], order: list[int]) -> bool:
    """Whether running the traced tactics ``order`` (indices) one after another is what the recorded states say:
    each tactic starts from the current state or from its first goals (the state's text begins with the tactic's
    ``state_before`` and a blank line: a tactic of a ``·`` block), the state after it is its ``state_after``
    followed by the goals it did not see, and the last leaves no goals.

    This reads the recorded states as text, on purpose apart from the code it checks (no goal splitting, no focus
    rule of the package), so that it checks the search order's order rather than repeating it."""
    state = steps[order[0]]["state_before"] if order else "no goals"
    for i in order:
        before, after = steps[i]["state_before"], steps[i]["state_after"]
        if state == before:
            rest = ""
        elif state.startswith(before + "\n\n"):
            rest = state[len(before) + 2:]
        else:
            return False
        state = (rest or "no goals") if after == "no goals" else after + ("\n\n" + rest if rest else "")
    return state == "no goals"


def search_order_figures() -> dict:
    """The search order (``--step-order search``) on the LeanDojo traces: per file, how many recorded proofs'
    records follow the state chain (:func:`follows_state_chain`, by the records' ``listed_step``), and each
    record's label and prefix, so that two versions of the code can be compared record by record. Empty on code
    without the search order."""
    from leanprogress.data.leandojo import records_from_theorem

    out = {}
    for label, path in (("mathlib", MATHLIB_SAMPLE), ("search traces", SEARCH_TRACES)):
        entries = [t for t in json.loads(path.read_text(encoding="utf-8")) if t.get("traced_tactics")]
        chained, labels = 0, {}
        for e, theorem in enumerate(entries):
            try:
                recs = records_from_theorem(theorem, order="search")
            except ValueError:  # code from before the search order
                return {}
            chained += follows_state_chain(theorem["traced_tactics"], [r["listed_step"] for r in recs])
            labels.update({f"{theorem['full_name']}\x00{e}\x00{r['listed_step']}": [r["steps_remaining"], r["prefix"]]
                           for r in recs})
        out[f"search_{label}"] = {"proofs": len(entries), "records": len(labels), "chained": chained, "labels": labels}
    return out


def step_order_figures() -> dict | None:
    """Records, mean label and the share of first steps labelled 0, per source, under LeanDojo's listing and
    the search order (``--step-order search``); None on code without the search order."""
    from leanprogress.data.lean_source import iter_source_records
    from leanprogress.data.leandojo import iter_leandojo_records
    from leanprogress.data.proofs import SourceStats, iter_proof_records
    from leanprogress.lean.syntax import ORDERS

    if "search" not in ORDERS:
        return None
    out = {}
    for order in ("leandojo", "search"):
        sources = {"workbook": iter_source_records(WORKBOOK_PROOFS, SourceStats(), order=order),
                   "minif2f": iter_proof_records(MINIF2F_PROOFS, SourceStats(), order=order),
                   "mathlib": iter_leandojo_records([MATHLIB_SAMPLE], order=order),
                   "search traces": iter_leandojo_records([SEARCH_TRACES], order=order)}
        for name, recs in sources.items():
            recs = list(recs)
            first = [r for r in recs if r["prefix"] == ""]
            labels = [r["steps_remaining"] for r in recs]
            out.setdefault(name, {})[order] = {
                "records": len(recs), "mean_label": round(sum(labels) / len(labels), 2),
                "first_steps_closing": round(sum(r["steps_remaining"] == 0 for r in first) / len(first), 3),
                "initial_goal_records": sum(r.get("goal_state") == "initial" for r in recs)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", default=BEFORE, help=f"git revision to compare with (default {BEFORE}); '' for none")
    ap.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    opts = ap.parse_args()
    require(MATHLIB_SAMPLE, MINIF2F_PROOFS, WORKBOOK_PROOFS, SEARCH_TRACES)
    if opts.measure_only:
        print(json.dumps(measure()))
        return
    before = json_at_revision(opts.before, __file__, ["--measure-only"]) if opts.before else None
    after = measure()
    b = before or {}

    def row(label: str, key: str, field: str) -> None:
        old = b.get(key, {}).get(field, "n/a") if before else "n/a"
        print(f"| {label} | {old} | {after[key][field]} |")

    print(f"| figure | before ({opts.before or 'n/a'}) | after |")
    print("| --- | --- | --- |")
    for src in ("mathlib", "minif2f", "workbook"):
        for field in ("records", "mean_label", "max_label", "max_prefix_chars"):
            row(f"{src}: {field.replace('_', ' ')}", src, field)
    row("minif2f: skipped", "minif2f", "skipped")
    row("workbook: skipped", "workbook", "skipped")
    if before:
        a, o = after["minif2f"]["steps_per_proof"], b["minif2f"]["steps_per_proof"]
        changed = sum(1 for k in a if o.get(k) != a[k])
        print(f"| minif2f: proofs whose step count changed | | {changed} of {len(a)} "
              f"(aime_1987_p8: {o.get('aime_1987_p8')} -> {a.get('aime_1987_p8')}) |")
    row("LeanDojo listing reproduced exactly (of 100)", "leandojo_listing", "exact")
    row("LeanDojo listing, same number of steps (of 100)", "leandojo_listing", "same_count")
    row("Mathlib + exported copies: theorems on both sides", "mix_export", "theorems_both_sides")
    row("Mathlib + exported copies: eval rows copying a training row", "mix_export", "eval_rows_copied")
    row("Mathlib + exported copies: eval rows", "mix_export", "eval_rows")
    row("miniF2F traces + proofs: theorems on both sides", "mix_minif2f", "theorems_both_sides")
    for label, key in (("miniF2F search traces", "after_search"), ("Mathlib sample", "after_mathlib")):
        if key in after:
            n = after[key]["theorems"]
            row(f"{label} --goal-from state_after: theorem groups (of {n})", key, "groups")
            row("... theorems in the largest group", key, "largest")
            row("... theorems in eval at --eval-ratio 0.2", key, "eval_theorems")
    for label, key in (("Mathlib sample", "search_mathlib"), ("miniF2F search traces", "search_search traces")):
        if key in after:
            n = after[key]["proofs"]
            row(f"{label} --step-order search: records", key, "records")
            row(f"... recorded proofs whose records follow the recorded state chain (of {n})", key, "chained")
            if before and key in b:
                old, new = b[key]["labels"], after[key]["labels"]
                moved = [k for k in new if old.get(k) != new[k]]
                relabelled = [k for k in new if k in old and old[k][0] != new[k][0]]
                print(f"| ... records with another label or prefix than before | | {len(moved)} of {len(new)} "
                      f"({len(relabelled)} relabelled), in {len({k.split(chr(0))[0] for k in moved})} theorem(s) |")
    row("benchmark folder random/ + novel_premises/: records", "benchmark_folder", "records_random_and_novel")
    row("... with metadata.json", "benchmark_folder", "with_metadata_json")
    row("rendered states equal to Lean's (of 221)", "rendering", "equal")
    row("... after canonicalising both sides", "rendering", "canonical_equal")
    row("Lean 2024 vs newer printing, equal (of 86)", "lean_versions", "equal")
    row("... after canonicalising both sides", "lean_versions", "canonical_equal")
    for label, what in (("nested_300", "one line of 300 nested `(by exact ...)`"),
                        ("nested_1200", "... of 1,200"), ("wide_10000", "one line of 10,000 `by simp` side by side")):
        row(what, "deep_proofs", label)
    h = after["huge_proof"]
    print(f"\n{h['steps']:,}-step proof ({h['proof_mb']} MB): {h['output_mb']} MB of records in {h['seconds']} s, "
          f"peak Python memory {h['peak_python_mb']} MB; an uncapped prefix would add about {h['uncapped_prefix_mb']:,} MB")
    orders = step_order_figures()
    if orders:
        print("\n| records by step order | leandojo: records, mean label, first steps closing | search: same |")
        print("| --- | --- | --- |")
        for name, f in orders.items():
            cells = [f"{f[o]['records']:,}, {f[o]['mean_label']}, {f[o]['first_steps_closing']:.1%}" for o in f]
            print(f"| {name} | {' | '.join(cells)} |")
        print("(records whose goal is the initial state standing in, goal_state 'initial': "
              + ", ".join(f"{name} {f['search']['initial_goal_records']:,}" for name, f in orders.items()) + ")")
    if before and b.get("huge_proof") is None:
        print("(before: not run; every record carried the whole prefix, so the output and, since a proof's records "
              "were built as one list, the memory grew with the square of the proof length)")


if __name__ == "__main__":
    main()
