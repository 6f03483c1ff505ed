import json
import sys

import pytest

from conftest import make_theorem
from fake_lean import AFTER_CONSTRUCTOR, START, install_lean_dojo, install_lean_interact
from leanprogress.cli import main
from leanprogress.generators import ReplayGenerator
from leanprogress.search import BestFirstProver, ReplayEnvironment, SearchConfig, proof_records
from leanprogress.search.backends import BackendUnavailable, LeanDojoEnvironment, LeanInteractEnvironment


class ListGenerator:
    """Fixed candidates with fixed log-probabilities, whatever the state."""

    kind = "list"

    def __init__(self, candidates):
        self.candidates = candidates
        self.calls = 0

    def generate(self, state, prefix="", n=32):
        self.calls += 1
        return self.candidates[:n]


class StepsByTactic:
    """A scorer stand-in: predicted steps looked up by the tactic's text."""

    model_name = "lookup"

    def __init__(self, table):
        self.table, self.calls = table, []

    def predict_batch(self, goals, tactics, prefixes=None):
        self.calls.append(list(tactics))
        return [self.table.get(t, 5.0) for t in tactics]


def test_replay_environment_follows_the_trace():
    thm = make_theorem("R.a", 3)
    env = ReplayEnvironment([thm])
    state, handle = env.start("R.a")
    assert state == thm["traced_tactics"][0]["state_before"]
    bad = env.run_tactic(handle, "simp")
    assert bad.kind == "error"
    r = env.run_tactic(handle, "tac_R.a_0   [lemma0]")  # whitespace differences do not matter
    assert r.kind == "state" and r.state == thm["traced_tactics"][1]["state_before"]
    assert env.run_tactic(r.handle, "tac_R.a_2 [lemma2]").kind == "error"  # out of order
    r = env.run_tactic(env.run_tactic(r.handle, "tac_R.a_1 [lemma1]").handle, "tac_R.a_2 [lemma2]")
    assert r.kind == "finished"
    with pytest.raises(KeyError):
        env.start("missing")


def test_search_proves_replayed_theorems_and_exports_labels():
    theorems = [make_theorem(f"R.t{i}", 1 + i % 4) for i in range(6)]
    env = ReplayEnvironment(theorems)
    prover = BestFirstProver(env, ReplayGenerator(env, distractors=5), config=SearchConfig(alpha=0.0))
    results = [prover.prove(t["full_name"]) for t in theorems]
    assert all(r.proved for r in results)
    r = results[3]
    assert r.proof == [s["tactic"] for s in theorems[3]["traced_tactics"]]
    recs = proof_records(r)
    assert [x["steps_remaining"] for x in recs] == [3, 2, 1, 0]
    assert [x["goal"] for x in recs] == [s["state_before"] for s in theorems[3]["traced_tactics"]]


def test_budget_and_failure_statuses():
    env = ReplayEnvironment([make_theorem("R.long", 5)])
    assert BestFirstProver(env, ListGenerator([("nope", -1.0)])).prove("R.long").status == "failed"
    gen = ReplayGenerator(env, distractors=0)
    r = BestFirstProver(env, gen, config=SearchConfig(max_expansions=2)).prove("R.long")
    assert r.status == "budget" and r.expansions == 2 and not r.proof


class Branching:
    """A small state graph: two routes to the goal, one longer than the other."""

    kind = "graph"
    graph = {
        "s0": {"long": "a1", "short": "b1"},
        "a1": {"step": "a2"}, "a2": {"step": "a3"}, "a3": {"done": None},
        "b1": {"done": None},
    }

    def start(self, theorem):
        return "s0", "s0"

    def run_tactic(self, handle, tactic):
        from leanprogress.search import TacticResult

        moves = self.graph.get(handle, {})
        if tactic not in moves:
            return TacticResult("error", message="no")
        after = moves[tactic]
        return TacticResult("finished") if after is None else TacticResult("state", state=after, handle=after)

    def close(self):
        pass


def test_alpha_zero_follows_log_probability_and_alpha_one_follows_steps():
    gen = ListGenerator([("long", -0.1), ("step", -0.1), ("short", -3.0), ("done", -0.1)])
    scorer = StepsByTactic({"long": 6.0, "short": 0.0, "step": 1.0})
    plain = BestFirstProver(Branching(), gen, config=SearchConfig(alpha=0.0)).prove("x")
    guided = BestFirstProver(Branching(), gen, scorer, SearchConfig(alpha=1.0)).prove("x")
    assert plain.proved and guided.proved
    assert guided.proof == ["short", "done"] and plain.proof[0] == "long"
    assert guided.expansions < plain.expansions and guided.scorer == "lookup"


def test_tactic_mode_scores_before_running_and_orders_env_calls():
    gen = ListGenerator([("long", -0.1), ("short", -0.1)])
    scorer = StepsByTactic({"long": 9.0, "short": 0.0})
    prover = BestFirstProver(Branching(), gen, scorer, SearchConfig(alpha=1.0, score_mode="tactic", max_env_calls=1))
    r = prover.prove("x")
    assert r.env_calls == 1 and r.status == "budget"  # the one call went to the better-ranked tactic
    assert scorer.calls[0] == ["long", "short"]
    assert BestFirstProver(Branching(), gen, None, SearchConfig(alpha=0.0, max_env_calls=1)).prove("x").env_calls == 1


def test_alpha_needs_a_scorer():
    with pytest.raises(ValueError, match="needs a scorer"):
        BestFirstProver(Branching(), ListGenerator([]), None, SearchConfig(alpha=0.2))
    with pytest.raises(ValueError, match="score_mode"):
        SearchConfig(score_mode="both")


def test_lean_interact_backend_against_fake_api(monkeypatch):
    li = install_lean_interact(monkeypatch)
    env = LeanInteractEnvironment(header="import Mathlib", timeout=7)
    state, handle = env.start("theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q := by sorry")
    assert state == START
    assert env.server.calls[1][0].cmd.endswith(":= by sorry") and env.server.calls[1][0].cmd.count("sorry") == 1
    r = env.run_tactic(handle, "constructor")
    assert r.kind == "state" and r.state == AFTER_CONSTRUCTOR and env.server.calls[-1][1] == 7
    assert env.run_tactic(handle, "simp").kind == "error"
    assert env.run_tactic(handle, "sleep 100").kind == "timeout"
    assert env.run_tactic(12345, "simp").kind == "error"  # LeanError from the REPL
    assert env.run_tactic(handle, "exact ⟨hp, hq⟩").kind == "finished"
    with pytest.raises(ValueError, match="rejected"):
        env.start("theorem u : r := by sorry")
    gen = ListGenerator([("constructor", -1.0), ("exact hp", -1.0), ("exact hq", -1.0)])
    res = BestFirstProver(env, gen).prove("theorem t (p q : Prop) (hp : p) (hq : q) : p ∧ q")
    assert res.proved and res.proof == ["constructor", "exact hp", "exact hq"]
    env.close()
    assert env.server.killed


def test_lean_dojo_backend_against_fake_api(monkeypatch):
    ld = install_lean_dojo(monkeypatch)
    env = LeanDojoEnvironment("https://example.invalid/repo", "abc", timeout=5)
    state, handle = env.start({"file_path": "A.lean", "full_name": "and_intro"})
    assert state == START
    assert env.run_tactic(handle, "sleep 100").kind == "timeout"
    assert env.run_tactic(handle, "sorry").kind == "error"
    gen = ListGenerator([("constructor", -1.0), ("exact hp", -1.0), ("exact hq", -1.0)])
    res = BestFirstProver(env, gen).prove({"file_path": "A.lean", "full_name": "and_intro"})
    assert res.proved and len(res.proof) == 3
    bad = BestFirstProver(env, gen).prove({"file_path": "A.lean", "full_name": "other"})
    assert bad.status == "error" and "could not start" in bad.error
    env.close()
    assert all(d.exited for d in ld.Dojo.opened)


def test_missing_backend_package_is_explained(monkeypatch):
    monkeypatch.setitem(sys.modules, "lean_interact", None)
    with pytest.raises(BackendUnavailable, match=r"pip install 'leanprogress\[lean-interact\]'"):
        LeanInteractEnvironment()


def test_prove_cli_writes_resumes_and_exports(tmp_path, capsys):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps([make_theorem(f"P.t{i}", 1 + i % 3) for i in range(5)]))
    out = tmp_path / "results.jsonl"
    assert main(["prove", "--theorems", str(bench), "--output", str(out), "--alpha", "0"]) == 0
    assert "proved 5/5 (100.0%)" in capsys.readouterr().out
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(rows) == 5 and all(r["status"] == "proved" for r in rows)
    assert main(["prove", "--theorems", str(bench), "--output", str(out), "--alpha", "0"]) == 0
    assert "5 theorem(s) already in" in capsys.readouterr().out and len(out.read_text().splitlines()) == 5
    recs = tmp_path / "recs.jsonl"
    assert main(["export-proofs", "--results", str(out), "--output", str(recs)]) == 0
    assert len(recs.read_text().splitlines()) == sum(1 + i % 3 for i in range(5))
    assert main(["prove", "--theorems", str(bench), "--output", str(tmp_path / "o2.jsonl")]) == 2
    assert "needs --model" in capsys.readouterr().err


def test_prove_and_predict_steps_with_a_trained_model(tmp_path, capsys, trained_tiny):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps([make_theorem(f"P.t{i}", 2) for i in range(2)]))
    out = tmp_path / "r.jsonl"
    assert main(["prove", "--theorems", str(bench), "--output", str(out), "--model", str(trained_tiny[0]),
                 "--alpha", "0.2", "--device", "cpu"]) == 0
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert all(r["alpha"] == 0.2 and r["scorer"] for r in rows)
    assert main(["predict-steps", "--model", str(trained_tiny[0]), "--state", "⊢ p", "--prefix", "intro h"]) == 0
    assert "steps left from this state" in capsys.readouterr().out


def test_build_dataset_state_after(traces, tmp_path):
    out = tmp_path / "after.jsonl"
    assert main(["build-dataset", str(traces), "--output", str(out), "--goal-from", "state_after"]) == 0
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    finals = [r for r in rows if r["steps_remaining"] == 0]
    assert finals and all(r["goal"] == "no goals" for r in finals)
