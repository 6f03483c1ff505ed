"""A competition-math progress model: choose recipes by a protocol whose error bars hold, on real states.

The question is how well a model guides a step prover on competition problems, so every figure is measured on
real proof states, held out by theorem, in the scale a step prover counts (the last step is 0):

- ``search``: the 145 steps of the miniF2F-valid search traces (86 proofs of 70 theorems found by best-first
  search through LeanDojo; real states);
- ``first``: the first steps of the held-out Lean Workbook theorems and of the 221 miniF2F-valid whole proofs.
  A first step's goal is Lean's own initial state (rendered from the statement for Workbook), and its label is
  the number of steps a step prover applies after it (``--step-order search`` counting), whatever rule the
  variant trains with. A second real-state set that is not the search traces.

Training data (all from ``--data-dir``, default ``../shared/data``), each source with its own weight: ``workbook``
(Lean Workbook Plus read with ``--from-lean-source``), ``minif2f`` (the miniF2F-valid whole proofs,
``--from-proofs``), ``mathlib`` (the traced Mathlib sample), ``search`` (the search traces). Variant keys choose the
step rule of whole proofs and Lean source (``order``: leandojo|search) and of the Mathlib traces
(``mathlib_order``), canonical goals (``canonical``), how records whose goal is the initial state standing in are
used (``initial``: read|mark|drop), and the usual training settings.

Two kinds of held-out set. The *selection* sets above choose between variants; the *reporting* set is set aside
first, by each theorem's name alone (:func:`reporting_names`: a third of the search-trace theorems, a third of
the other miniF2F-valid problems, 5% of the Workbook theorems), never trained on, never selected on, and read
once, for the recipe the selection sets chose (``--summary FILE --report VARIANT``; the results file records that
it was read, and reading it for a second variant says so). ``search`` and ``first`` below name the selection
sets; ``report_search`` and ``report_first`` the same kinds of row in the reporting set.

What the ``first`` sets measure: agreement with the search-order count of whole proofs (a first step's label is
how many steps a step prover applies after it, counted by ``--step-order search``), so variants that train on
that rule start with part of their lead built in there; the search traces, labelled by the search that found
them, are the primary figure.

Held out, never trained on:

- a variant that trains on neither the search traces nor the miniF2F whole proofs predicts every held-out row
  from one run per seed (all 70 search-trace theorems, all 221 miniF2F problems and the held-out Workbook
  theorems are left out of its training);
- a variant that trains on either needs folds: the miniF2F-valid theorems (search traces and whole proofs carry
  the same names) are cut into ``--folds`` folds by bare theorem name and fold k's model trains on the others;
  with every fold run, each held-out row is predicted once per seed by a model that never saw its theorem;
- Workbook theorems stating the target of a held-out theorem (restatements) are dropped from training;
- the best epoch and the constant fallback are chosen on a separate inner set of Workbook theorems
  (``--inner-eval``), never on the figures reported here.

Every run (variant, seed, fold) is recorded in the ``--json`` results file with the command, its training figures
and its per-row predictions, merged with the runs already there, so variants can be run one at a time (one
training at a time on a shared machine) and compared later. ``--summary FILE`` prints, per variant and held-out
set, pooled over seeds and folds: exact-match, MAE and the ranking figure of the model, the tactic-name lookup
(median and mode, fit on that run's training records), the block lookup (the same keyed on the name and the
multi-line ``by`` blocks the tactic opens: ``TacticLookup.fit(key="name+blocks")``; for runs recorded before it,
fit at summary time on the run's training records rebuilt from the split) and the best constant, with 95%
bootstrap intervals over theorems; the paired difference model minus lookup; and the paired difference to
``--reference`` (a variant name), with the decision rule: a variant replaces the reference only when its
exact-match is higher on both sets with the paired interval above zero.

    python benchmarks/bench_competition.py --variant name=quick,workbook_theorems=3000,epochs=1 --seeds 42,7,1 \\
        --json results.json
    python benchmarks/bench_competition.py --summary results.json --reference default
    python benchmarks/bench_competition.py --selection-summary results.json   # which epoch each figure keeps

Variant keys (defaults = ``RECIPE``): ``head`` (regression|distribution), ``k`` (head_max_steps), ``point``
(point estimate saved with the model), ``epochs``, ``lr``, ``max_length``, ``batch_size``, ``warmup``,
``label_transform``, ``selection`` (mae|accuracy|mse|loss), ``canonical`` (0: goals as
printed; 1 and 2: canonical form 1, which dropped every coercion arrow, ascription and binder type, or form 2, the
current one, which keeps what decides a term's value), ``group`` (1: batches of similar length, 0: random), ``seed`` (overridden by ``--seeds``), ``order`` and
``mathlib_order`` (leandojo|search), ``initial`` (read|mark|drop), the ranking objective's ``ranking`` (weight; 0:
off), ``negatives``, ``negatives_from`` (source|any) and ``margin``, the source weights ``workbook``, ``minif2f``,
``mathlib``, ``search`` (0 leaves a source out; fractions subsample theorems, whole numbers repeat them),
``workbook_theorems`` (only this many Workbook training theorems, for cheap runs; 0: all), ``prior``
(none|lookup|block-lookup: ``train --head-prior``), ``class_weight`` (``train --class-weighting``), ``ordinal``
(``train --ordinal-weight``), ``kind`` (the encoder kind: cross, one prompt per record, or group, one copy of the
state for its candidates, each attending to it; see ``leanprogress.batch_layout``), ``name``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import shlex
import sys
import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _shared import SHARED, machine  # noqa: E402

# The recommended recipe (docs/guides/training.md, "A competition-math progress model"), chosen by this benchmark's
# protocol: the search order and the distribution head's mode replaced the default data rules and regression head.
RECIPE = {
    "name": "recipe",
    "head": "distribution",
    "k": 10,
    "point": "mode",
    "epochs": 1.0,
    "lr": 1e-4,
    "max_length": 128,
    "batch_size": 32,
    "warmup": 0.1,
    "label_transform": "log1p",
    "selection": "mae",
    "canonical": 2,
    "group": 1,
    "seed": 42,
    "order": "search",
    "mathlib_order": "leandojo",
    "initial": "read",
    "ranking": 0.0,
    "negatives": 1,
    "negatives_from": "source",
    "margin": 1.0,
    "workbook": 1.0,
    "minif2f": 0.0,
    "mathlib": 1.0,
    "search": 0.0,
    "workbook_theorems": 0,
    "prior": "none",
    "class_weight": 0.0,
    "ordinal": 0.0,
    "kind": "cross",
}
_TYPES = {k: type(v) for k, v in RECIPE.items()}
_CHOICES = {"head": ("regression", "distribution"), "point": ("median", "mode", "mean"),
            "selection": ("mae", "accuracy", "mse", "loss"), "label_transform": ("log1p", "none"),
            "order": ("leandojo", "search"), "mathlib_order": ("leandojo", "search"),
            "initial": ("read", "mark", "drop"), "negatives_from": ("source", "any"),
            "prior": ("none", "lookup", "block-lookup"), "kind": ("cross", "group")}
HELD_SETS = ("search", "first")
"""The selection sets: variants are compared and chosen on these."""
REPORT_SETS = ("report_search", "report_first")
"""The reporting sets: never trained on, never selected on; read once, for the chosen recipe (``--report``)."""
TITLES = {"search": "held-out search-trace steps (real states)",
          "first": "first steps of held-out Workbook theorems and miniF2F-valid whole proofs (real states)",
          "report_search": "REPORTING SET: search-trace steps (real states)",
          "report_first": "REPORTING SET: first steps of Workbook theorems and miniF2F-valid whole proofs"}
REPORT_FRACTION = 1 / 3
"""Share of the miniF2F-valid theorems (search traces and whole proofs) set aside for reporting."""


def parse_variant(spec: str) -> dict:
    """``key=value,key=value`` over RECIPE's keys."""
    out = dict(RECIPE)
    if spec.strip():
        for part in spec.split(","):
            key, sep, value = part.partition("=")
            key = key.strip()
            if not sep or key not in RECIPE:
                raise SystemExit(f"bad --variant part {part!r}: expected KEY=VALUE with KEY one of {sorted(RECIPE)}")
            kind = _TYPES[key]
            try:
                out[key] = kind(float(value)) if kind in (int, float) else value.strip()
            except ValueError:
                raise SystemExit(f"bad --variant value {part!r}: {key} takes a {kind.__name__}") from None
            if key == "canonical" and out[key] not in (0, 1, 2):
                raise SystemExit(f"bad --variant value {part!r}: canonical is 0 (as printed), 1 or 2 (the form)")
            if key in _CHOICES and out[key] not in _CHOICES[key]:
                raise SystemExit(f"bad --variant value {part!r}: {key} is one of {', '.join(_CHOICES[key])}")
    if "name=" not in spec:
        out["name"] = spec.replace(",", " ") or RECIPE["name"]
    return out


def needs_folds(variant: dict) -> bool:
    """Whether the variant trains on miniF2F-valid theorems (search traces or whole proofs): then it needs folds."""
    return variant["search"] > 0 or variant["minif2f"] > 0


# ---------------------------------------------------------------- data and the explicit split
def _target(goal: str) -> str:
    """The ``⊢`` target of a state with spaces removed (hypothesis names differ between restatements)."""
    i = goal.rfind("⊢")
    return re.sub(r"\s+", "", goal[i:]) if i >= 0 else ""


class Sources:
    """The shared data's records per source and step rule, read once each (``sources[name]`` or
    ``sources[name, order]``; ``search`` has one listing)."""

    def __init__(self, data_dir: Path | None = None, records: dict | None = None):
        self.paths = {
            "workbook": data_dir / "lean-workbook-plus-proofs" / "proofs.jsonl",
            "minif2f": data_dir / "minif2f-valid-proofs" / "proofs.jsonl",
            "mathlib": data_dir / "mathlib4-leandojo-sample" / "random_test.json",
            "search": data_dir / "minif2f-valid-search-traces" / "traces.json",
        } if data_dir is not None else {}
        self._cache: dict[tuple[str, str], list[dict]] = {}
        for key, value in (records or {}).items():  # tests: {name: records} or {(name, order): records}
            self._cache[key if isinstance(key, tuple) else (key, "leandojo")] = value

    def missing(self) -> list[str]:
        return [str(p) for p in self.paths.values() if not p.exists()]

    def __getitem__(self, key) -> list[dict]:
        name, order = key if isinstance(key, tuple) else (key, "leandojo")
        if name == "search":
            order = "leandojo"  # one tactic per search step: both rules list the same records
        if (name, order) not in self._cache:
            if not self.paths:
                if (name, "leandojo") in self._cache:  # test data written in one order serves both
                    return self._cache[(name, "leandojo")]
                raise KeyError(key)
            self._cache[(name, order)] = self._read(name, order)
        return self._cache[(name, order)]

    def _read(self, name: str, order: str) -> list[dict]:
        from leanprogress.data.lean_source import iter_source_records
        from leanprogress.data.leandojo import iter_leandojo_records
        from leanprogress.data.proofs import SourceStats, iter_proof_records

        path = self.paths[name]
        if name == "workbook":
            return list(iter_source_records(path, SourceStats(), source="workbook", order=order))
        if name == "minif2f":
            return list(iter_proof_records(path, SourceStats(), source="minif2f-proofs", order=order))
        return list(iter_leandojo_records([path], source=name, order=order))


def _first_steps(records: list[dict]) -> dict[str, dict]:
    """The first-step record of each theorem (a whole proof's first step has an empty prefix)."""
    out: dict[str, dict] = {}
    for r in records:
        if r["prefix"] == "":
            out.setdefault(r["theorem"], r)
    return out


def _stable_order(names, salt: str) -> list[str]:
    """``names`` in an order fixed by their text alone (not by ``--seed`` or by which other names exist)."""
    import hashlib

    return sorted(names, key=lambda n: hashlib.sha256(f"{salt}:{n}".encode("utf-8")).hexdigest())


def reporting_names(names, fraction: float, salt: str) -> set[str]:
    """The ``fraction`` of ``names`` set aside for reporting: fixed by each name's text, so that no choice made
    later (a split seed, a variant, the folds) can move a theorem between choosing and reporting."""
    names = sorted(set(names))
    return set(_stable_order(names, salt)[:round(fraction * len(names))])


def make_split(sources, folds: int, workbook_holdout: float, inner_eval: float, seed: int,
               report_workbook: float = 0.05) -> dict:
    """Theorem-level folds by bare theorem name, the held-out row lists, and the reporting set.

    Set aside first, before anything else is drawn: the reporting set, :data:`REPORT_FRACTION` of the search-trace
    theorems and of the other miniF2F-valid whole-proof theorems, and ``report_workbook`` of the Workbook theorems,
    chosen by each name's text (:func:`reporting_names`). No variant trains on them
    (nor on a Workbook restatement of their targets) and no summary of the selection sets reads them.

    The other miniF2F-valid theorems (search traces and whole proofs: the same problems under the same names) are
    cut into ``folds`` folds; search-trace theorems first, round-robin, then the other whole-proof theorems.
    ``workbook_holdout`` of the Workbook theorems are held out (their first steps are part of the ``first``
    set), ``inner_eval`` of them choose the best epoch, the rest, shuffled, are the training order (a prefix of
    it is a random subsample).
    """
    if not isinstance(sources, Sources):
        sources = Sources(records=sources)
    all_search = sorted({r["theorem"] for r in sources["search"]})
    all_mf = sorted({r["theorem"] for r in sources["minif2f"]} - set(all_search))
    report_mf = reporting_names(all_search, REPORT_FRACTION, "report") | reporting_names(all_mf, REPORT_FRACTION,
                                                                                         "report")
    all_wb = sorted({r["theorem"] for r in sources["workbook"]})
    report_wb = reporting_names(all_wb, report_workbook, "report-workbook")
    rng = random.Random(seed)
    search_names = [n for n in all_search if n not in report_mf]
    rng.shuffle(search_names)
    mf_names = [n for n in all_mf if n not in report_mf]
    rng.shuffle(mf_names)
    fold_of = {name: i % folds for i, name in enumerate(search_names + mf_names)}
    wb_names = [n for n in all_wb if n not in report_wb]
    rng.shuffle(wb_names)
    n_hold, n_inner = round(workbook_holdout * len(all_wb)), round(inner_eval * len(all_wb))
    wb_hold = set(wb_names[:n_hold])
    wb_inner = set(wb_names[n_hold:n_hold + n_inner])
    wb_train_order = wb_names[n_hold + n_inner:]
    wb_target = {name: _target(r["goal"]) for name, r in _first_steps(sources["workbook"]).items()}
    targets: dict[str, set] = {}
    for r in sources["search"]:
        if r.get("step") == 0:
            targets.setdefault(r["theorem"], set()).add(_target(r["goal"]))
    for name, r in _first_steps(sources["minif2f"]).items():
        targets.setdefault(name, set()).add(_target(r["goal"]))
    # The `first` sets: first steps in the search scale (the rule's last step is 0), whatever the variant trains on.
    wb_first = _first_steps(sources["workbook", "search"])
    mf_first = _first_steps(sources["minif2f", "search"])
    first = [wb_first[n] for n in sorted(wb_hold) if n in wb_first] + \
        [mf_first[n] for n in sorted(mf_first) if n not in report_mf]
    report_first = [wb_first[n] for n in sorted(report_wb) if n in wb_first] + \
        [mf_first[n] for n in sorted(mf_first) if n in report_mf]
    return {"fold_of": fold_of, "search_fold": {n: fold_of[n] for n in search_names}, "wb_hold": wb_hold,
            "wb_inner": wb_inner, "wb_train_order": wb_train_order, "wb_target": wb_target, "targets": targets,
            "first": first, "folds": folds, "report_mf": report_mf, "report_wb": report_wb,
            "report_first": report_first}


def set_records(sources, split: dict) -> dict[str, list[dict]]:
    """The records of every held-out set, selection and reporting, by set name (row i is records[i])."""
    search = sources["search"]
    return {"search": [r for r in search if r["theorem"] not in split["report_mf"]], "first": split["first"],
            "report_search": [r for r in search if r["theorem"] in split["report_mf"]],
            "report_first": split["report_first"]}


def held_rows(sources, split: dict, fold: int | None) -> dict[str, list[int]]:
    """Indices of the held-out rows of each set (:func:`set_records`) for ``fold`` (None: every row).

    Held-out Workbook theorems and the reporting set are never trained on; their rows are spread over the folds
    by name, so that with every fold run each row is predicted once per seed, as the miniF2F rows are.
    """
    def in_fold(r: dict) -> bool:
        if fold is None:
            return True
        if r["theorem"] in split["fold_of"]:
            return split["fold_of"][r["theorem"]] == fold
        return _stable_fold(r["theorem"], split["folds"]) == fold

    return {name: [i for i, r in enumerate(records) if in_fold(r)]
            for name, records in set_records(sources, split).items()}


def _stable_fold(name: str, folds: int) -> int:
    import hashlib

    return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16) % folds


def fold_data(sources, split: dict, fold: int | None, variant: dict) -> tuple[list, list, dict]:
    """(training records with weights applied, inner eval records, held-out records per set) for one fold
    (``fold=None``: one run that holds out every miniF2F-valid theorem)."""
    from leanprogress.data.dataset import weight_by_theorem

    if not isinstance(sources, Sources):
        sources = Sources(records=sources)
    held_mf = {n for n, f in split["fold_of"].items() if fold is None or f == fold} | split["report_mf"]
    banned = set().union(*(split["targets"].get(n, set()) for n in held_mf))
    banned |= {split["wb_target"].get(n) for n in split["wb_hold"] | split["wb_inner"] | split["report_wb"]}
    wb_train_names = split["wb_train_order"]
    if variant["workbook_theorems"]:
        wb_train_names = wb_train_names[:variant["workbook_theorems"]]
    wb_train_names = {n for n in wb_train_names if split["wb_target"].get(n) not in banned}
    order, mathlib_order = variant["order"], variant["mathlib_order"]
    parts = {
        "workbook": [r for r in sources["workbook", order] if r["theorem"] in wb_train_names],
        "minif2f": [r for r in sources["minif2f", order] if r["theorem"] not in held_mf],
        "mathlib": sources["mathlib", mathlib_order],
        "search": [r for r in sources["search"] if r["theorem"] not in held_mf],
    }
    train = []
    for name, records in parts.items():
        if variant[name] > 0 and records:
            train += weight_by_theorem(records, variant[name], seed=variant["seed"])
    inner = [r for r in sources["workbook", order] if r["theorem"] in split["wb_inner"]]
    rows = held_rows(sources, split, fold)
    records = set_records(sources, split)
    held = {name: [records[name][i] for i in idx] for name, idx in rows.items()}
    # The guarantee this benchmark rests on: no held-out or reporting theorem is trained on under any source.
    trained = {r["theorem"] for r in train}
    assert not trained & {r["theorem"] for s in held.values() for r in s}
    assert not trained & (split["wb_hold"] | split["report_wb"] | split["report_mf"])
    return train, inner, held


# ---------------------------------------------------------------- scoring held-out sets with the live model
def raw_outputs(progress_trainer, model, records: list[dict], device, batch_size: int = 64):
    """Head outputs (n, num_labels) of ``model`` on records, laid out as the trainer lays them out and the scorer
    reads the saved model (``progress_trainer.layout``, either encoder kind)."""
    from leanprogress.data.records import has_initial_goal

    layout = progress_trainer.layout
    built = layout.build([r["goal"] for r in records], [r["tactic"] for r in records], [r["prefix"] for r in records],
                         [has_initial_goal(r) for r in records])
    was_training = model.training
    model.eval()
    try:
        out = layout.logits(model, built, batch_size, device, progress_trainer.settings.num_labels)
    finally:
        if was_training:
            model.train()
    prior = progress_trainer.head_prior_of([r["tactic"] for r in records])
    return out if prior is None else out + prior


def predictions_of(progress_trainer, raw) -> dict[str, list[float]]:
    """Every point estimate the head offers (regression: one), and P(close) for the distribution head."""
    from leanprogress import heads

    s = progress_trainer.settings
    if s.head == "regression":
        return {"model": heads.decode_regression(raw, s.label_transform).tolist()}
    probs = heads.softmax(raw)
    out = {f"model ({how})": heads.point_estimate(probs, how, s.head_more_steps).tolist()
           for how in heads.POINT_ESTIMATES}
    out["p_close"] = probs[:, 0].tolist()
    return out


class HeldOutEachEpoch(TrainerCallback):
    """Scores the held-out sets after every epoch's evaluation (recorded, never used to select)."""

    def __init__(self, held: dict[str, list[dict]]):
        self.held = held
        self.progress_trainer = None
        self.epochs: list[dict] = []
        self.seconds = 0.0  # spent here, to take out of the training time

    def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
        from leanprogress.evaluation import compute_metrics

        if any(e["epoch"] == state.epoch for e in self.epochs):
            return  # the trainer's final evaluation of the kept epoch, already recorded
        t0 = time.perf_counter()
        entry = {"epoch": state.epoch, "inner": {k: v for k, v in (metrics or {}).items() if k.startswith("eval_")}}
        device = next(model.parameters()).device
        for name, records in self.held.items():
            if not records:
                continue
            preds = predictions_of(self.progress_trainer, raw_outputs(self.progress_trainer, model, records, device))
            labels = [r["steps_remaining"] for r in records]
            entry[name] = {k: {f: compute_metrics(v, labels)[f] for f in ("mae", "accuracy")}
                           for k, v in preds.items() if k != "p_close"}
        self.epochs.append(entry)
        self.seconds += time.perf_counter() - t0


def selection_table(epochs: list[dict]) -> dict:
    """For each selection figure: the epoch it picks on the inner set and that epoch's held-out figures."""
    out = {}
    rules = {"mae": ("eval_mae", min), "accuracy": ("eval_accuracy", max), "mse": ("eval_mse", min),
             "loss": ("eval_loss", min)}
    for name, (key, pick) in rules.items():
        scored = [e for e in epochs if key in e["inner"] and e["inner"][key] is not None
                  and not math.isnan(e["inner"][key])]
        if not scored:
            continue
        best = pick(scored, key=lambda e: e["inner"][key])
        out[name] = {"epoch": best["epoch"], **{k: v for k, v in best.items() if k not in ("epoch", "inner")}}
    return out


def _model_key(variant: dict) -> str:
    """The held-out predictions' name for the variant's saved point estimate."""
    return "model" if variant["head"] == "regression" else f"model ({variant['point']})"


def selection_summary(reports: list[dict]) -> dict:
    """For each selection figure, the held-out figures of the epochs it picks, averaged over every run in
    ``reports`` (this script's JSON ``runs``, or ``variants`` of older files), beside the last epoch and the best
    epoch in hindsight.

    Only runs with at least two epochs count; every rule sees the same runs. Held-out figures are the model's
    with the variant's saved point estimate. Returns ``{rule: {"folds": n, "search_mae": ..., "search_accuracy":
    ..., "first_mae": ..., "first_accuracy": ..., "best_search_mae_picked": k}}`` where the last counts the
    runs in which the rule picked (one of) the epochs with the lowest held-out search MAE.
    """
    rules = {"mae": ("eval_mae", min), "accuracy": ("eval_accuracy", max), "mse": ("eval_mse", min),
             "loss": ("eval_loss", min)}
    totals: dict[str, dict] = {}
    for report in reports:
        key = _model_key(report["variant"])
        runs = [report["epochs"]] if report["epochs"] and isinstance(report["epochs"][0], dict) else report["epochs"]
        for epochs in runs:
            sets = [s for s in ("search", "first", "workbook") if all(s in e for e in epochs)][:2]
            usable = [e for e in epochs if all(e["inner"].get(f) is not None and not math.isnan(e["inner"][f])
                                              for f, _ in rules.values())]
            if len(usable) < 2 or "search" not in sets or not all(key in e[s] for e in usable for s in sets):
                continue
            best_mae = min(e["search"][key]["mae"] for e in usable)
            picks = {name: pick(usable, key=lambda e, f=field: e["inner"][f]) for name, (field, pick) in rules.items()}
            picks["last epoch"] = max(usable, key=lambda e: e["epoch"])
            picks["best in hindsight (search MAE)"] = min(usable, key=lambda e: e["search"][key]["mae"])
            for name, e in picks.items():
                t = totals.setdefault(name, {"folds": 0, "best_search_mae_picked": 0})
                t["folds"] += 1
                for s in sets:
                    label = "first" if s == "workbook" else s
                    t[f"{label}_mae"] = t.get(f"{label}_mae", 0.0) + e[s][key]["mae"]
                    t[f"{label}_accuracy"] = t.get(f"{label}_accuracy", 0.0) + e[s][key]["accuracy"]
                t["best_search_mae_picked"] += e["search"][key]["mae"] <= best_mae + 1e-12
    for t in totals.values():
        for k in list(t):
            if k.endswith(("_mae", "_accuracy")):
                t[k] /= t["folds"]
    return totals


def print_selection_summary(totals: dict) -> None:
    if not totals:
        print("no run with two or more epochs: nothing to compare")
        return
    n = next(iter(totals.values()))["folds"]
    print(f"held-out figures of the epoch each selection figure keeps, mean over {n} runs:")
    print(f"{'kept by':32} {'search MAE':>10} {'exact':>7} {'first MAE':>10} {'exact':>7} {'best search MAE':>16}")
    for name, t in totals.items():
        print(f"{name:32} {t['search_mae']:10.3f} {t['search_accuracy']:7.1%} {t.get('first_mae', math.nan):10.3f} "
              f"{t.get('first_accuracy', math.nan):7.1%} {t['best_search_mae_picked']:>10d} of {t['folds']}")


# ---------------------------------------------------------------- one run
def training_arguments(variant: dict, output_dir, model_name=None, device: str = "auto", precision: str = "auto",
                       extra: dict | None = None):
    """The ``ProgressTrainingArguments`` of a variant (``bench_training.py`` times the recipe with them too)."""
    from leanprogress import ProgressTrainingArguments

    return ProgressTrainingArguments(
        output_dir=str(output_dir), model_name=model_name, max_length=variant["max_length"],
        batch_size=variant["batch_size"], epochs=variant["epochs"], learning_rate=variant["lr"],
        warmup_ratio=variant["warmup"], seed=variant["seed"], label_transform=variant["label_transform"],
        head=variant["head"], head_max_steps=variant["k"], point_estimate=variant["point"],
        selection_metric=variant["selection"], canonicalize_goals=bool(variant["canonical"]),
        initial_goals=variant["initial"], ranking_weight=variant["ranking"], ranking_negatives=variant["negatives"],
        ranking_negatives_from=variant["negatives_from"], ranking_margin=variant["margin"],
        head_prior=variant["prior"], class_weighting=variant["class_weight"],
        ordinal_weight=variant["ordinal"],
        group_by_length=bool(variant["group"]), encoder_kind=variant["kind"], device=device,
        precision=precision, eval_batch_size=64, logging_steps=50, extra=extra or {},
    )


def run_once(variant: dict, fold: int | None, sources, split: dict, opts, cache, workdir: Path) -> dict:
    """Train one variant on one fold (None: all held out) with the variant's seed; its record for the results."""
    from leanprogress import ProgressTrainer
    from leanprogress.baselines import TacticLookup

    train, inner, held = fold_data(sources, split, fold, variant)
    rows = held_rows(sources, split, fold)
    tag = f"{variant['name']}-seed{variant['seed']}-fold{'all' if fold is None else fold}"
    out = workdir / re.sub(r"[^\w.-]", "_", tag)
    args = training_arguments(variant, out, model_name=opts.model_name, device=opts.device, precision=opts.precision,
                              extra={"save_total_limit": 1, "dataloader_num_workers": opts.workers,
                                     "disable_tqdm": not opts.progress})
    callback = HeldOutEachEpoch({k: held[k] for k in HELD_SETS})  # per epoch: the selection sets only
    t0 = time.perf_counter()
    pt = ProgressTrainer(args, train, inner, callbacks=[callback], prompt_cache=cache)
    if variant["canonical"] and variant["canonical"] != pt.settings.canonical_form:
        # An earlier canonical form, for comparison: the trainer writes the current one; the settings (saved with
        # the model, and part of the prompt cache's key) and the prompt builder say which form was read.
        pt.settings.canonical_form = variant["canonical"]
        pt.layout = pt.settings.layout(pt.tokenizer)
        pt.builder = pt.layout.builder
    callback.progress_trainer = pt
    metrics = pt.train()
    wall = time.perf_counter() - t0
    t = metrics["train"]
    # Training time includes the inner evaluation after every epoch (part of the recipe), not the held-out
    # scoring this benchmark adds.
    seconds = t["train_runtime"] - callback.seconds
    trained = len(pt.train_dataset)
    model = pt.trainer.model
    device = next(model.parameters()).device
    # "lookup" is the tactic-name lookup whatever the model saved (a block-lookup prior saves the block lookup).
    lookups = {"lookup": pt.lookup if pt.lookup.key == "name" else TacticLookup.fit(pt.train_dataset.records),
               "block lookup": TacticLookup.fit(pt.train_dataset.records, key="name+blocks")}
    predictions = {}
    for name, records in held.items():
        if not records:
            predictions[name] = {"rows": [], "preds": {}}
            continue
        preds = predictions_of(pt, raw_outputs(pt, model, records, device))
        preds.update(lookup_predictions(lookups, records))
        predictions[name] = {"rows": rows[name], "preds": {k: [round(float(x), 5) for x in v] for k, v in preds.items()}}
    print(f"  {tag}: {trained} training records, trained in {seconds:.0f}s "
          f"({trained * variant['epochs'] / seconds:.1f} examples/s), kept {metrics['kept']}", flush=True)
    if not opts.keep_models:
        import shutil

        shutil.rmtree(out, ignore_errors=True)
    return {"variant": variant, "seed": variant["seed"], "fold": fold, "train_records": trained,
            "inner_eval_records": len(inner), "kept": metrics["kept"],
            "learned_beyond_constant": metrics.get("learned_beyond_constant"), "train_seconds": seconds,
            "held_out_scoring_seconds": callback.seconds, "wall_seconds": wall,
            "examples_per_second": trained * variant["epochs"] / seconds, "device": metrics["device"],
            "precision": metrics["precision"], "epochs": callback.epochs,
            # 0: goals as printed; else the canonical form (1 dropped every arrow and ascription, 2 keeps meaning)
            "canonical_form": pt.settings.canonical_form if pt.settings.canonicalize_goals else 0,
            "selection": selection_table(callback.epochs), "predictions": predictions}


def lookup_predictions(lookups: dict, records: list[dict]) -> dict[str, list[float]]:
    """``"{label} median"`` and ``"{label} mode"`` on ``records`` for each ``{label: TacticLookup}``."""
    tactics = [r["tactic"] for r in records]
    return {f"{label} {statistic}": lookup.predict(tactics, statistic)
            for label, lookup in lookups.items() for statistic in ("median", "mode")}


def with_block_lookup(runs: list[dict], sources, split: dict) -> list[dict]:
    """``runs``, those recorded before the block lookup existed given its predictions, fit on the run's training
    records rebuilt from the split and the variant (copies: the results file is not changed)."""
    from leanprogress.baselines import TacticLookup
    from leanprogress.data.records import has_initial_goal

    records = set_records(sources, split)
    out = []
    for run in runs:
        if all("block lookup mode" in p["preds"] or not p["rows"] for p in run["predictions"].values()):
            out.append(run)
            continue
        variant = dict(RECIPE, **run["variant"])
        train = fold_data(sources, split, run["fold"], variant)[0]
        if variant["initial"] == "drop":  # the trainer fits its lookups after dropping them
            train = [r for r in train if not has_initial_goal(r)]
        lookups = {"block lookup": TacticLookup.fit(train, key="name+blocks")}
        predictions = {}
        for s, p in run["predictions"].items():
            extra = lookup_predictions(lookups, [records[s][i] for i in p["rows"]]) if p["rows"] else {}
            predictions[s] = {"rows": p["rows"], "preds": {
                **p["preds"], **{k: [round(float(x), 5) for x in v] for k, v in extra.items()}}}
        out.append({**run, "predictions": predictions})
    return out


# ---------------------------------------------------------------- the results file
def load_results(path: Path | None) -> dict:
    if path is None or not path.exists():
        return {"runs": [], "commands": []}
    data = json.loads(path.read_text(encoding="utf-8"))
    if "runs" not in data:
        raise SystemExit(f"{path}: not a results file of this protocol (no 'runs'); use another --json")
    return data


def _run_key(run: dict) -> tuple:
    return run["variant"]["name"], run["seed"], run["fold"]


def add_run(results: dict, run: dict) -> None:
    """Add a run, replacing an earlier run of the same variant, seed and fold; a variant name must always mean the
    same settings."""
    name = run["variant"]["name"]

    def settings(variant: dict) -> dict:  # keys added since a run was recorded hold their default there
        return {k: v for k, v in {**RECIPE, **variant}.items() if k != "seed"}

    for other in results["runs"]:
        if other["variant"]["name"] == name and settings(other["variant"]) != settings(run["variant"]):
            raise SystemExit(f"variant {name!r} is already in the results with other settings: give it another name")
    results["runs"] = [r for r in results["runs"] if _run_key(r) != _run_key(run)] + [run]


def save_results(results: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=None, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# ---------------------------------------------------------------- pooled figures and the decision rule
def _per_row(runs: list[dict], set_name: str, n_rows: int) -> dict[str, dict[int, list[float]]]:
    """Predictor -> row -> predictions over seeds, in the order of the seeds (each seed's folds cover distinct
    rows).

    Ordered by seed, not by where the runs are stored: a rerun is stored last, and the bootstrap's seed level
    draws a column of every row at once, so a column must be one seed on every row."""
    out: dict[str, dict[int, dict[int, float]]] = {}
    for run in runs:
        p = run["predictions"].get(set_name, {"rows": [], "preds": {}})
        for name, values in p["preds"].items():
            d = out.setdefault(name, {})
            for row, v in zip(p["rows"], values):
                d.setdefault(row, {})[run["seed"]] = v
    return {name: {row: [by_seed[s] for s in sorted(by_seed)] for row, by_seed in rows.items()}
            for name, rows in out.items()}


def two_level_interval(groups: list, parts: list[tuple[float, "np.ndarray"]], n_resamples: int = 1000,
                       level: float = 0.95, seed: int = 0) -> tuple[float, float] | None:
    """Bootstrap interval of ``sum(sign * mean over rows of the seed-averaged values)`` that resamples theorems
    and, for every part on its own, seeds.

    A figure pooled over a few training seeds varies with the theorems drawn *and* with the seeds (one run
    moves exact-match by a few points): each draw resamples the theorems (one draw shared by all parts, so
    differences on the same rows are paired) and each part's seeds with replacement.

    Args:
        groups: the theorem of every row.
        parts: ``(sign, values)`` with ``values`` of shape (rows, seeds): a per-row figure per seed (an
            indicator of exact-match, an absolute error, a pair's agreement).
    """
    import numpy as np

    if not len(groups):
        return None
    keys: dict = {}
    idx = np.array([keys.setdefault(g, len(keys)) for g in groups])
    t = len(keys)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(t, np.full(t, 1.0 / t), size=n_resamples).astype(float)  # draws x theorems
    rows_per = np.bincount(idx, minlength=t).astype(float)
    denom = counts @ rows_per
    total = np.zeros(n_resamples)
    for sign, values in parts:
        per_theorem = np.zeros((t, values.shape[1]))
        np.add.at(per_theorem, idx, values)
        picks = rng.integers(0, values.shape[1], size=(n_resamples, values.shape[1]))
        avg = per_theorem[:, picks].mean(axis=2)  # theorems x draws
        total += sign * (counts * avg.T).sum(axis=1) / denom
    tail = (1 - level) / 2 * 100
    return float(np.percentile(total, tail)), float(np.percentile(total, 100 - tail))


def pooled_comparison(records: list[dict], per_row: dict, reference: str, others: dict | None = None,
                      n_resamples: int = 1000, seed: int = 0) -> dict:
    """Exact-match, MAE and ranking figure per predictor, averaged over seeds per row, with 95% intervals that
    resample theorems and seeds (:func:`two_level_interval`); paired differences ``reference - X`` for every
    other predictor (paired by run) and against ``others`` (other variants' references, on the rows both have).

    Args:
        records: the set's records (row i is records[i]).
        per_row: predictor -> row -> predictions over seeds (:func:`_per_row`).
        reference: the predictor the differences are taken from.
        others: name -> row -> predictions, compared to ``reference`` on the rows they share with it.
    """
    import numpy as np

    from leanprogress.evaluation import best_constants, pair_agreement, ranking_pairs

    rows = sorted(per_row[reference])
    labels = np.array([records[i]["steps_remaining"] for i in rows], dtype=float)
    groups = [records[i]["theorem"] for i in rows]
    pairs = ranking_pairs([records[i]["goal"] for i in rows], [records[i]["tactic"] for i in rows], list(labels),
                          [records[i]["prefix"] for i in rows])
    pair_groups = [groups[i] for i, _ in pairs]
    consts = best_constants(labels)

    def matrices(preds: dict[int, list[float]], use_rows: list[int], probability: bool = False) -> dict:
        """Per figure, a (rows or pairs, seeds) matrix."""
        n_seeds = min(len(preds[r]) for r in use_rows)
        p = np.array([preds[r][:n_seeds] for r in use_rows], dtype=float)
        lab = np.array([records[r]["steps_remaining"] for r in use_rows], dtype=float)[:, None]
        out = {}
        if not probability:
            out["accuracy"] = (np.maximum(np.rint(p), 0) == lab).astype(float)
            out["mae"] = np.abs(p - lab)
        if pairs and use_rows == rows:
            scores = 1 - p if probability else p  # P(close) ranks the likeliest to close first
            out["ranking"] = np.stack([pair_agreement(scores[:, s], pairs) for s in range(n_seeds)], axis=1)
        return out

    def block(parts_of: dict) -> dict:
        out = {}
        for k, parts in parts_of.items():
            g = pair_groups if k == "ranking" else groups_of[k]
            out[k] = float(sum(sign * v.mean() for sign, v in parts)) if parts[0][1].size else None
            out[f"{k}_ci"] = list(two_level_interval(g, parts, n_resamples, seed=seed)) if n_resamples and len(g) \
                else None
        return out

    groups_of = {"accuracy": groups, "mae": groups}
    table: dict[str, dict] = {}
    for name, preds in per_row.items():
        if set(preds) != set(rows):
            continue
        m = matrices(preds, rows, probability=name == "p_close")
        if m:
            table["ranking by P(close)" if name == "p_close" else name] = m
    table["best constant"] = {"accuracy": (labels == consts["accuracy"]["constant"]).astype(float)[:, None],
                              "mae": np.abs(labels - consts["mae"]["constant"])[:, None]}
    result_predictors = {name: block({k: [(1.0, v)] for k, v in m.items()}) for name, m in table.items()}
    # How far a state is from the end: of the rows 2 or more steps from it, the share predicted 2 or more.
    far = labels >= 2
    for name, preds in per_row.items():
        if name in result_predictors and far.any():
            hits = [np.mean([np.rint(v) >= 2 for v in preds[rows[i]]]) for i in np.flatnonzero(far)]
            result_predictors[name]["far_predicted_far"] = float(np.mean(hits))
    diffs = {}
    for name, m in table.items():
        if name == reference or name.startswith("ranking by"):
            continue
        parts = {}
        for k, v in m.items():
            if k not in table[reference]:
                continue
            mine = table[reference][k]
            n = min(mine.shape[1], v.shape[1]) if v.shape[1] > 1 else mine.shape[1]
            # Paired by run: the same seed's model and lookup; a constant is the same in every run.
            parts[k] = [(1.0, mine[:, :n] - (v[:, :n] if v.shape[1] > 1 else v))]
        diffs[f"{reference} - {name}"] = block(parts)
    for name, preds in (others or {}).items():
        shared = [r for r in rows if r in preds]
        if not shared:
            continue
        at = [rows.index(r) for r in shared]
        mine = {k: v[at] for k, v in table[reference].items() if k != "ranking"}
        theirs = matrices(preds, shared)
        saved = groups_of
        groups_of = {"accuracy": [groups[i] for i in at], "mae": [groups[i] for i in at]}
        figures = ("accuracy", "mae", "ranking") if "ranking" in theirs and "ranking" in table[reference] else (
            "accuracy", "mae")  # the ranking pairs only where both predicted every row of the set
        mine["ranking"] = table[reference].get("ranking")
        diffs[f"vs {name}"] = block({k: [(1.0, mine[k]), (-1.0, theirs[k])] for k in figures})
        groups_of = saved
    seeds = sorted({len(v) for v in per_row[reference].values()})
    return {"rows": len(rows), "theorems": len(set(groups)), "seeds_per_row": seeds, "ranking_pairs": len(pairs),
            "far_rows": int(far.sum()),
            "best_constant": {"mae": consts["mae"]["constant"], "accuracy": consts["accuracy"]["constant"]},
            "predictors": result_predictors, "differences": diffs}


def summarize(results: dict, sources, split: dict, reference: str | None, n_resamples: int, seed: int,
              sets: tuple[str, ...] = HELD_SETS, only: str | None = None) -> dict:
    """Per variant and held-out set: :func:`pooled_comparison`, and the decision against ``reference``.

    ``sets`` are the selection sets unless a report asks for :data:`REPORT_SETS`; ``only`` limits the summary to
    one variant (a report reads the reporting set for the chosen recipe alone)."""
    by_variant: dict[str, list[dict]] = {}
    for run in with_block_lookup(results["runs"], sources, split):
        by_variant.setdefault(run["variant"]["name"], []).append(run)
    if only is not None and only not in by_variant:
        raise SystemExit(f"{only!r} is not a variant of the results ({', '.join(by_variant)})")
    records = set_records(sources, split)
    ref_rows = {}
    if reference is not None:
        if reference not in by_variant:
            raise SystemExit(f"--reference {reference!r} is not a variant of the results ({', '.join(by_variant)})")
        ref_runs = by_variant[reference]
        for s in sets:
            ref_rows[s] = _per_row(ref_runs, s, len(records[s])).get(_model_key(ref_runs[0]["variant"]), {})
    out = {}
    for name, runs in by_variant.items():
        if only is not None and name != only:
            continue
        variant = runs[0]["variant"]
        key = _model_key(variant)
        forms = sorted({r.get("canonical_form", "unrecorded") for r in runs}, key=str)
        entry = {"variant": {k: v for k, v in variant.items() if k != "seed"}, "canonical_forms": forms,
                 "seeds": sorted({r["seed"] for r in runs}), "runs": len(runs),
                 "train_seconds_per_run": sum(r["train_seconds"] for r in runs) / len(runs),
                 "kept_constant": sum(r["kept"] == "constant" for r in runs), "sets": {}}
        for s in sets:
            per_row = _per_row(runs, s, len(records[s]))
            if key not in per_row or not per_row[key]:
                continue
            others = {reference: ref_rows[s]} if reference is not None and name != reference and ref_rows.get(s) else None
            entry["sets"][s] = pooled_comparison(records[s], per_row, key, others, n_resamples, seed)
        if reference is not None and name != reference:
            wins = []
            for s in sets:
                d = entry["sets"].get(s, {}).get("differences", {}).get(f"vs {reference}")
                wins.append(bool(d and d["accuracy_ci"] and d["accuracy_ci"][0] > 0))
            entry["replaces_reference"] = all(wins)
        out[name] = entry
    return out


def _fmt(value, ci, percent: bool, signed: bool = False) -> str:
    if value is None:
        return "n/a"
    scale = 100.0 if percent else 1.0
    sign = "+" if signed else ""
    text = f"{value * scale:{sign}.1f}" if percent else f"{value:{sign}.3f}"
    if ci:
        text += f" [{ci[0] * scale:.1f}, {ci[1] * scale:.1f}]" if percent else f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def print_summary(summary: dict, reference: str | None) -> None:
    for name, entry in summary.items():
        v = entry["variant"]
        print(f"\n=== {name}: " + ", ".join(f"{k}={v.get(k, RECIPE[k])}" for k in RECIPE if k not in ("name", "seed")))
        print(f"seeds {entry['seeds']}, {entry['runs']} run(s), {entry['train_seconds_per_run']:.0f}s training per run, "
              f"canonical form {entry['canonical_forms']}"
              + (f", {entry['kept_constant']} run(s) kept the constant" if entry["kept_constant"] else ""))
        for s, comp in entry["sets"].items():
            print(f"-- {TITLES[s]}: {comp['rows']} rows of {comp['theorems']} theorems, predictions per row "
                  f"{comp['seeds_per_row']}; ranking over {comp['ranking_pairs']} pairs")
            print(f"   {'predictor':34}{'exact-match %':>24}{'MAE':>24}{'ranking':>24}"
                  f"{'2+ as 2+':>10}")
            for p, f in comp["predictors"].items():
                if "accuracy" not in f:
                    print(f"   {p:34}{'':>48}{_fmt(f.get('ranking'), f.get('ranking_ci'), False):>24}")
                    continue
                label = p if p != "best constant" else f"best constant ({comp['best_constant']['accuracy']}/" \
                                                       f"{comp['best_constant']['mae']})"
                far = f"{f['far_predicted_far']:.0%}" if "far_predicted_far" in f else ""
                print(f"   {label:34}{_fmt(f['accuracy'], f['accuracy_ci'], True):>24}"
                      f"{_fmt(f['mae'], f['mae_ci'], False):>24}{_fmt(f.get('ranking'), f.get('ranking_ci'), False):>24}"
                      f"{far:>10}")
            for p, f in comp["differences"].items():
                if (p.startswith("vs ") or "lookup" in p or "constant" in p) and "accuracy" in f:
                    print(f"   {p:34}{_fmt(f['accuracy'], f['accuracy_ci'], True, True):>24}"
                          f"{_fmt(f['mae'], f['mae_ci'], False, True):>24}"
                          f"{_fmt(f.get('ranking'), f.get('ranking_ci'), False, True):>24}")
        if "replaces_reference" in entry:
            print(f"decision: {'replaces' if entry['replaces_reference'] else 'does not replace'} {reference} "
                  "(the rule: exact-match higher on both held-out sets, each paired 95% interval above zero)")
    print("\n(95% bootstrap intervals that resample theorems and seeds; figures per row averaged over seeds; lookup "
          "fit on each run's training records; best constant chosen knowing the labels; 2+ as 2+: of the rows 2 or "
          "more steps from the end, the share predicted 2 or more, over seeds)")


# ---------------------------------------------------------------- helpers
def export_encoder(model_name, folder: Path) -> None:
    """The encoder with bf16 weights and an fp32 ``dtype`` in its config, so it trains in fp32 as usual."""
    import torch
    from transformers import AutoModel

    from leanprogress.encoder import load_tokenizer, resolve_model_name

    name = resolve_model_name(model_name)
    model = AutoModel.from_pretrained(name, use_safetensors=True, trust_remote_code=False)
    model.to(torch.bfloat16).save_pretrained(folder)
    load_tokenizer(name).save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    config["dtype"] = "float32"
    (folder / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    size = sum(p.stat().st_size for p in folder.iterdir() if p.is_file())
    print(f"encoder {name} written to {folder} ({size / 2**20:.0f} MiB, bf16 weights)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", type=Path, default=SHARED, help=f"shared data folder (default {SHARED})")
    ap.add_argument("--variant", action="append", default=[], metavar="SPEC",
                    help="recipe variant KEY=VALUE,... over the recipe's keys (repeatable; default: the recipe)")
    ap.add_argument("--seeds", default=None, help="training seeds, comma-separated (default: the variant's seed)")
    ap.add_argument("--model-name", default=None, help="encoder folder or hub id (default: bundled all-MiniLM-L6-v2)")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--folds", type=int, default=5, help="folds of the miniF2F-valid theorems (default 5)")
    ap.add_argument("--only-fold", type=int, default=None, help="train and evaluate this fold only")
    ap.add_argument("--workbook-holdout", type=float, default=0.05, help="Workbook theorems held out (default 0.05)")
    ap.add_argument("--inner-eval", type=float, default=0.02,
                    help="Workbook theorems that pick the best epoch (default 0.02)")
    ap.add_argument("--bootstrap", type=int, default=1000, help="bootstrap draws (default 1000)")
    ap.add_argument("--seed", type=int, default=42, help="seed of the split and the bootstrap (default 42)")
    ap.add_argument("--workers", type=int, default=0, help="dataloader workers (default 0)")
    ap.add_argument("--progress", action="store_true", help="show the Trainer's progress bars")
    ap.add_argument("--keep-models", action="store_true", help="keep the trained models in --out-dir")
    ap.add_argument("--out-dir", type=Path, default=None, help="where models are trained (default: a temporary folder)")
    ap.add_argument("--json", type=Path, default=None,
                    help="results file: every run is added to the runs already there (same variant, seed and fold: "
                    "replaced)")
    ap.add_argument("--summary", type=Path, default=None, metavar="JSON",
                    help="print the pooled figures of every variant in a results file and exit")
    ap.add_argument("--reference", default=None, help="with --summary: the variant every other one is compared to")
    ap.add_argument("--report", default=None, metavar="VARIANT",
                    help="with --summary: print the REPORTING set's figures of this one variant (the recipe chosen on "
                    "the selection sets), and record in the results file that the reporting set was read for it; "
                    "reading it for a second variant is choosing on it, and is said so")
    ap.add_argument("--selection-summary", type=Path, nargs="+", default=None, metavar="JSON",
                    help="read results files and print which epoch each selection figure keeps and what it gives held "
                    "out, averaged over their runs, and exit")
    ap.add_argument("--export-encoder", type=Path, default=None, metavar="DIR",
                    help="write the encoder (--model-name, default the bundled one) to DIR with bf16 weights (45 MB "
                    "for all-MiniLM-L6-v2, half the size, loaded back as fp32) for carrying to a GPU machine, and exit")
    opts = ap.parse_args(argv)
    if opts.selection_summary:
        reports = []
        for path in opts.selection_summary:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                reports += data["runs"] if "runs" in data else data["variants"]
            except (OSError, ValueError, KeyError) as exc:
                ap.error(f"{path}: not a --json file of this benchmark ({exc})")
        print_selection_summary(selection_summary(reports))
        return
    if opts.export_encoder:
        export_encoder(opts.model_name, opts.export_encoder)
        return
    if opts.folds < 2:
        ap.error("--folds must be >= 2 (each fold's model trains on the other folds' theorems)")
    if opts.only_fold is not None and not 0 <= opts.only_fold < opts.folds:
        ap.error(f"--only-fold must be in 0..{opts.folds - 1}")
    variants = [parse_variant(v) for v in opts.variant] or [dict(RECIPE)]
    names = [v["name"] for v in variants]
    if len(set(names)) != len(names):
        ap.error(f"variant names must differ: {names}")
    try:
        seeds = [int(s) for s in opts.seeds.split(",")] if opts.seeds else None
    except ValueError:
        ap.error(f"--seeds takes integers separated by commas, got {opts.seeds!r}")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.logging.set_verbosity_error()
    from leanprogress.training.trainer import PromptCache

    sources = Sources(opts.data_dir)
    if sources.missing():
        print(f"SKIPPED: shared data not found ({', '.join(sources.missing())}); pass --data-dir or set "
              "LEANPROGRESS_SHARED_DATA")
        return
    t0 = time.perf_counter()
    split = make_split(sources, opts.folds, opts.workbook_holdout, opts.inner_eval, opts.seed)
    if opts.summary:
        results = load_results(opts.summary)
        if opts.report is None:
            print_summary(summarize(results, sources, split, opts.reference, opts.bootstrap, opts.seed),
                          opts.reference)
            return
        summary = summarize(results, sources, split, opts.reference, opts.bootstrap, opts.seed, REPORT_SETS,
                            only=opts.report)
        if not summary[opts.report]["sets"]:
            raise SystemExit(f"{opts.report!r} has no predictions on the reporting set (runs recorded before it "
                             "existed): train it again")
        read_before = sorted({r["variant"] for r in results.get("reported", []) if r["variant"] != opts.report})
        if read_before:
            print(f"NOTE: the reporting set was read before for {', '.join(read_before)}: comparing variants on it is "
                  "choosing on it, and its figures no longer come from a set that did not choose")
        print_summary(summary, opts.reference)
        results.setdefault("reported", []).append({"variant": opts.report, "date": time.strftime("%Y-%m-%d %H:%M")})
        save_results(results, opts.summary)
        return
    if opts.report:
        ap.error("--report goes with --summary")
    print(f"machine: {machine()}", flush=True)
    sets = set_records(sources, split)
    print(f"data: selection sets: search {len(sets['search'])} steps of {len(split['search_fold'])} theorems; first "
          f"steps {len(split['first'])} ({len(split['wb_hold'])} held-out Workbook theorems, the other miniF2F-valid "
          f"whole proofs); {opts.folds} folds of {len(split['fold_of'])} miniF2F-valid theorems; inner eval "
          f"{len(split['wb_inner'])} Workbook theorems. Reporting set (never trained or selected on): search "
          f"{len(sets['report_search'])} steps of {len({r['theorem'] for r in sets['report_search']})} theorems, first "
          f"steps {len(sets['report_first'])} ({len(split['report_wb'])} Workbook theorems, "
          f"{len(split['report_mf'])} miniF2F-valid problems) (split in {time.perf_counter() - t0:.0f}s)", flush=True)
    results = load_results(opts.json)
    results.setdefault("commands", []).append({"argv": " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
                                               "machine": machine(), "started": time.strftime("%Y-%m-%d %H:%M")})
    cache = PromptCache()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = opts.out_dir or Path(tmp)
        for variant in variants:
            for s in seeds or [variant["seed"]]:
                v = dict(variant, seed=s)
                folds = [None] if not needs_folds(v) else (
                    [opts.only_fold] if opts.only_fold is not None else list(range(opts.folds)))
                for fold in folds:
                    run = run_once(v, fold, sources, split, opts, cache, workdir)
                    run["split"] = {"folds": opts.folds, "seed": opts.seed, "workbook_holdout": opts.workbook_holdout,
                                    "inner_eval": opts.inner_eval}
                    add_run(results, run)
                    if opts.json:  # after every run, so a run cut short keeps what it measured
                        save_results(results, opts.json)
    summary = summarize({"runs": [r for r in results["runs"] if r["variant"]["name"] in names]}, sources, split,
                        None, opts.bootstrap, opts.seed)
    print_summary(summary, None)
    print(f"\nprompt cache: {len(cache)} prompts built, {cache.hits} reused; total {time.perf_counter() - t0:.0f}s")


if __name__ == "__main__":
    main()
