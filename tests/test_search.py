import io
import json
import socket
import time
from dataclasses import asdict

import pytest

from conftest import make_theorem, refused, state_after_copy
from leanprogress.cli import build_parser, main
from leanprogress.config import ModelSettings
from leanprogress.data.dataset import ProgressDataset
from leanprogress.generators import GeneratorError, ReplayGenerator
from leanprogress.search import (BestFirstProver, NotReplayable, ReplayEnvironment, SearchConfig, TacticResult,
                                 audit_replayed_proofs, forbidden_word, proof_records)
from leanprogress.search.progress import ProveProgress


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

    def __init__(self, table, goal_from=""):
        self.table, self.calls = table, []
        self.settings = ModelSettings(goal_from=goal_from)

    def predict_batch(self, goals, tactics, prefixes=None):
        self.calls.append(list(tactics))
        return [self.table.get(t, 5.0) for t in tactics]


class Branching:
    """A small state graph: two routes to the goal, one longer than the other; records what it was sent."""

    kind = "graph"
    graph = {
        "s0": {"long": "a1", "short": "b1"},
        "a1": {"step": "a2"}, "a2": {"step": "a3"}, "a3": {"done": None},
        "b1": {"done": None},
    }

    def __init__(self, verdict=None):
        self.sent, self.timeouts, self.verdict, self.verified = [], [], verdict, []

    def start(self, theorem, timeout=None):
        return "s0", "s0"

    def run_tactic(self, handle, tactic, timeout=None):
        self.sent.append(tactic)
        self.timeouts.append(timeout)
        moves = self.graph.get(handle, {})
        if tactic not in moves:
            return TacticResult("error", message=f"unknown tactic {tactic}")
        after = moves[tactic]
        return TacticResult("finished") if after is None else TacticResult("state", state=after, handle=after)

    def verify(self, theorem, proof, timeout=None):
        self.verified.append(list(proof))
        return self.verdict

    def close(self):
        pass


def test_replay_environment_follows_the_trace():
    thm = make_theorem("R.a", 3)
    env = ReplayEnvironment([thm])
    state, handle = env.start("R.a")
    assert state == thm["traced_tactics"][0]["state_before"]
    bad = env.run_tactic(handle, "simp")
    assert bad.kind == "error" and "not recorded" in bad.message
    r = env.run_tactic(handle, "tac_R.a_0   [lemma0]")  # whitespace differences do not matter
    assert r.kind == "state" and r.state == thm["traced_tactics"][1]["state_before"]
    assert env.run_tactic(r.handle, "tac_R.a_2 [lemma2]").kind == "error"  # out of order
    r = env.run_tactic(env.run_tactic(r.handle, "tac_R.a_1 [lemma1]").handle, "tac_R.a_2 [lemma2]")
    assert r.kind == "finished"
    assert env.verify("R.a", [s["tactic"] for s in thm["traced_tactics"]]) is None
    assert "gave error" in env.verify("R.a", ["tac_R.a_0 [lemma0]", "tac_R.a_2 [lemma2]"])
    with pytest.raises(KeyError):
        env.start("missing")


def _proof(name, states, tactics):
    """A recorded proof: states[i] -tactics[i]-> states[i + 1], the last tactic closing it."""
    steps = [{"tactic": t, "state_before": s, "state_after": states[i + 1] if i + 1 < len(states) else "no goals"}
             for i, (s, t) in enumerate(zip(states, tactics))]
    return {"full_name": name, "file_path": "F.lean", "traced_tactics": steps}


def test_replay_branches_between_recorded_proofs_of_a_theorem():
    long = _proof("B.t", ["⊢ s0", "⊢ s1", "⊢ s2"], ["intro", "simp", "ring"])
    short = _proof("B.t", ["⊢ s0", "⊢ s3"], ["norm_num", "linarith"])
    env = ReplayEnvironment([long, short])
    assert env.names() == ["B.t"]
    _, root = env.start("B.t")
    assert env.run_tactic(root, "intro").state == "⊢ s1" and env.run_tactic(root, "norm_num").state == "⊢ s3"
    assert env.run_tactic(env.run_tactic(root, "intro").handle, "linarith").kind == "error"
    gen = ReplayGenerator(env, distractors=0)
    assert sorted(t for t, _ in gen.generate("⊢ s0")) == ["intro", "norm_num"]
    # A step-count model that knows the shorter route takes it; one that prefers the long route takes that.
    to_short = StepsByTactic({"norm_num": 1.0, "intro": 2.0})
    to_long = StepsByTactic({"norm_num": 9.0, "intro": 2.0})
    cfg = SearchConfig(alpha=1.0, score_mode="state")
    assert BestFirstProver(env, gen, to_short, cfg).prove("B.t").proof == ["norm_num", "linarith"]
    assert BestFirstProver(env, gen, to_long, cfg).prove("B.t").proof == ["intro", "simp", "ring"]


def _steps(name, *steps):
    """A LeanDojo entry from (tactic, state_before, state_after) triples, in LeanDojo's order."""
    return {"full_name": name, "file_path": "F.lean",
            "traced_tactics": [{"tactic": t, "state_before": b, "state_after": a} for t, b, a in steps]}


# As LeanDojo lists Nat.succ_sub_succ_eq_sub of the Mathlib sample: the outer tactic with its arms, then the arms.
INDUCTION = _steps(
    "Nat.succ_sub_succ_eq_sub",
    ("induction m with\n| zero      => exact rfl\n| succ m ih => apply congrArg pred ih",
     "n m : Nat\n⊢ succ n - succ m = n - m", "no goals"),
    ("exact rfl", "case zero\nn : Nat\n⊢ succ n - succ zero = n - zero", "no goals"),
    ("apply congrArg pred ih", "case succ\nn m : Nat\nih : succ n - succ m = n - m\n⊢ succ n - succ (succ m) = n - succ m",
     "no goals"))
# As Finsupp.prod_filter_mul_prod_filter_not: `classical` holds a tactic that starts from the same state.
CLASSICAL = _steps("Finsupp.t", ("classical simp_rw [prod_filter_index,\n  Finsupp.prod]", "⊢ p", "no goals"),
                   ("simp_rw [prod_filter_index,\nFinsupp.prod]", "⊢ p", "no goals"))
# `constructor` then two `·` blocks: each block's tactic was recorded on the goal it focuses.
FOCUSED = _steps("Focus.t", ("constructor", "⊢ p ∧ q", "case left\n⊢ p\n\ncase right\n⊢ q"),
                 ("simp", "case left\n⊢ p", "no goals"), ("ring", "case right\n⊢ q", "no goals"))


def _replay(*theorems, name=None):
    env = ReplayEnvironment(theorems)
    return env, BestFirstProver(env, ReplayGenerator(env, distractors=3)).prove(name or theorems[0]["full_name"])


def test_replay_finishes_a_tactic_recorded_as_closing_the_goal_and_never_runs_its_nested_tactics():
    env, r = _replay(INDUCTION)
    _, root = env.start("Nat.succ_sub_succ_eq_sub")
    assert env.run_tactic(root, INDUCTION["traced_tactics"][0]["tactic"]).kind == "finished"
    assert env.run_tactic(root, "exact rfl").kind == "error"
    assert r.proved and r.proof == [INDUCTION["traced_tactics"][0]["tactic"]] and env.nested == 2
    # the nested arm's own state is no start of anything either
    assert env.run_tactic(("Nat.succ_sub_succ_eq_sub", INDUCTION["traced_tactics"][1]["state_before"]),
                          "exact rfl").kind == "error"


def test_replay_never_runs_a_nested_tactic_without_its_outer_tactic():
    env, r = _replay(CLASSICAL)
    _, root = env.start("Finsupp.t")
    assert env.run_tactic(root, "simp_rw [prod_filter_index, Finsupp.prod]").kind == "error"
    assert r.proved and r.proof == [CLASSICAL["traced_tactics"][0]["tactic"]]


def test_replay_runs_a_focused_tactic_on_the_first_goal_and_keeps_the_others():
    env, r = _replay(FOCUSED)
    assert r.proved and r.proof == ["constructor", "simp", "ring"]
    assert r.states == ["⊢ p ∧ q", "case left\n⊢ p\n\ncase right\n⊢ q", "case right\n⊢ q"]
    _, root = env.start("Focus.t")
    two = env.run_tactic(root, "constructor").handle
    assert env.run_tactic(two, "ring").kind == "error"  # recorded on the second goal, not the first
    assert [t for t, _ in ReplayGenerator(env, distractors=0).generate(two[1])] == ["simp"]


def test_replay_runs_a_tactic_that_acts_on_other_goals_only_where_it_was_recorded():
    # `all_goals simp` ran inside a `·` block on the block's two goals; on three goals it would act on the third too.
    thm = _steps("AllGoals.t", ("constructor", "⊢ p ∧ q ∧ r", "⊢ p\n\n⊢ q ∧ r"),
                 ("constructor", "⊢ p", "⊢ p₁\n\n⊢ p₂"), ("all_goals simp", "⊢ p₁\n\n⊢ p₂", "no goals"),
                 ("simp", "⊢ q ∧ r", "no goals"))
    whole = _steps("AllGoals.u", ("constructor", "⊢ a ∧ b", "⊢ a\n\n⊢ b"), ("all_goals simp", "⊢ a\n\n⊢ b", "no goals"))
    env, r = _replay(whole, thm, name="AllGoals.u")
    assert r.proved and r.proof == ["constructor", "all_goals simp"]  # run on exactly the goals it was recorded on
    assert env.run_tactic(("AllGoals.u", "⊢ a\n\n⊢ b\n\n⊢ c"), "all_goals simp").kind == "error"
    with pytest.raises(NotReplayable, match="not reached from its first state"):
        env.start("AllGoals.t")


def test_replay_does_not_skip_a_tactic_that_leaves_the_printed_state_unchanged():
    # `classical` adds an instance the printed state does not show: what was recorded after it may need it.
    thm = _proof("U.t", ["⊢ p", "⊢ p", "⊢ q"], ["classical", "intro h", "exact h"])
    env, r = _replay(thm)
    assert r.status == "error" and "leaves the printed state unchanged" in r.error and "'classical'" in r.error
    with pytest.raises(NotReplayable):
        env.start("U.t")


def test_replay_does_not_take_the_first_block_of_a_term_proof_for_the_theorem():
    # As TopCat.pullbackIsoProdSubtype_hom_apply: `⟨by simpa ..., by apply ...; exacts ...⟩`, two separate blocks.
    thm = _steps("Term.t", ("simpa using h", "x : α\n⊢ f x = g x", "no goals"),
                 ("apply Subtype.ext", "x : α\n⊢ y = z", "x : α\n⊢ ↑y = ↑z"), ("rfl", "x : α\n⊢ ↑y = ↑z", "no goals"))
    env, r = _replay(thm)
    assert r.status == "error" and "2 of its 3 outer recorded tactics" in r.error
    assert "several `by` blocks" in r.error


def test_replay_keeps_a_flat_proof_flat_when_a_tactic_repeats_one_nested_in_an_earlier_one():
    # A search's proof as LeanDojo records it (miniF2F search traces): only the tactics the search ran.
    thm = _steps("Flat.t", ("have h : 0 < 2 := by norm_num", "⊢ p", "h : 0 < 2\n⊢ p"),
                 ("norm_num", "h : 0 < 2\n⊢ p", "no goals"))
    env, r = _replay(thm)
    assert r.proved and r.proof == ["have h : 0 < 2 := by norm_num", "norm_num"] and env.nested == 0


def test_search_proves_replayed_theorems_and_exports_labels():
    theorems = [make_theorem(f"R.t{i}", 1 + i % 4) for i in range(6)]
    env = ReplayEnvironment(theorems)
    prover = BestFirstProver(env, ReplayGenerator(env, distractors=5), config=SearchConfig(alpha=0.0))
    results = [prover.prove(t["full_name"]) for t in theorems]
    assert all(r.proved and r.error == "" for r in results)
    r = results[3]
    assert r.proof == [s["tactic"] for s in theorems[3]["traced_tactics"]]
    recs = proof_records(r)
    assert [x["steps_remaining"] for x in recs] == [3, 2, 1, 0]
    assert [x["goal"] for x in recs] == [s["state_before"] for s in theorems[3]["traced_tactics"]]


def test_every_failed_search_says_why():
    env = ReplayEnvironment([make_theorem("R.long", 5)])
    failed = BestFirstProver(env, ListGenerator([("nope", -1.0)])).prove("R.long")
    assert failed.status == "failed" and "no open state left" in failed.error and "not recorded" in failed.error
    gen = ReplayGenerator(env, distractors=0)
    r = BestFirstProver(env, gen, config=SearchConfig(max_expansions=2)).prove("R.long")
    assert r.status == "budget" and r.expansions == 2 and not r.proof and "expansion budget of 2" in r.error
    r = BestFirstProver(env, gen, config=SearchConfig(max_env_calls=3)).prove("R.long")
    assert r.status == "budget" and r.env_calls == 3 and "environment-call budget of 3" in r.error
    missing = BestFirstProver(env, gen).prove("R.other")
    assert missing.status == "error" and "could not start" in missing.error


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
    env = Branching()
    r = BestFirstProver(env, gen, scorer, SearchConfig(alpha=1.0, score_mode="tactic", max_env_calls=1)).prove("x")
    assert r.env_calls == 1 and r.status == "budget" and env.sent == ["short"]  # the better-ranked tactic
    assert scorer.calls[0] == ["long", "short"]
    assert BestFirstProver(Branching(), gen, None, SearchConfig(alpha=0.0, max_env_calls=1)).prove("x").env_calls == 1


class TiedPointEstimates(StepsByTactic):
    """A distribution-head stand-in: its point estimates tie (a mode of 0 for both), its rank scores do not."""

    def predict_batch(self, goals, tactics, prefixes=None):
        return [0.0 for _ in tactics]

    def rank_batch(self, goals, tactics, prefixes=None):
        self.calls.append(list(tactics))
        return [self.table.get(t, 5.0) for t in tactics]


def test_search_orders_candidates_by_the_rank_score_not_the_point_estimate():
    gen = ListGenerator([("long", -0.1), ("short", -0.1)])
    scorer = TiedPointEstimates({"long": 0.9, "short": 0.2})
    env = Branching()
    r = BestFirstProver(env, gen, scorer, SearchConfig(alpha=1.0, score_mode="tactic", max_env_calls=1)).prove("x")
    assert env.sent == ["short"] and scorer.calls == [["long", "short"]]
    assert r.status == "budget"


def test_alpha_needs_a_scorer_and_a_matching_score_mode():
    with pytest.raises(ValueError, match="needs a scorer"):
        BestFirstProver(Branching(), ListGenerator([]), None, SearchConfig(alpha=0.2))
    with pytest.raises(ValueError, match="score_mode"):
        SearchConfig(score_mode="both")
    after = StepsByTactic({}, goal_from="state_after")
    with pytest.raises(ValueError, match="for --score-mode state, not tactic"):
        BestFirstProver(Branching(), ListGenerator([]), after, SearchConfig(alpha=0.2, score_mode="tactic"))
    before = StepsByTactic({}, goal_from="state_before")
    with pytest.raises(ValueError, match="for --score-mode tactic, not state"):
        BestFirstProver(Branching(), ListGenerator([]), before, SearchConfig(alpha=0.2, score_mode="state"))
    BestFirstProver(Branching(), ListGenerator([]), StepsByTactic({}), SearchConfig(alpha=0.2))  # unknown: allowed


def test_candidates_with_sorry_admit_or_stop_are_never_sent():
    gen = ListGenerator([("sorry", 0.0), ("· admit", 0.0), ("constructor\n  stop", 0.0), ("short", -1.0),
                         ("done", -1.0)])
    env = Branching()
    r = BestFirstProver(env, gen).prove("x")
    assert r.proved and r.proof == ["short", "done"]
    assert not any(forbidden_word(t) for t in env.sent) and r.rejected_candidates == 6  # 3 per expansion
    assert forbidden_word("exact Nat.stop_lt h") is None and forbidden_word("exact sorry_lemma h") is None
    assert forbidden_word("exact sorryAx _") == "sorryAx"  # the axiom behind sorry, in any position
    assert forbidden_word("simp; admit") == "admit"


class SlowEnv(Branching):
    """Every tactic takes 0.1 s (or the timeout it is given, if shorter) and fails."""

    def run_tactic(self, handle, tactic, timeout=None):
        self.timeouts.append(timeout)
        time.sleep(min(0.1, timeout))
        return TacticResult("timeout" if timeout < 0.1 else "error", message="slow")


def test_the_deadline_bounds_every_environment_call():
    env = SlowEnv()
    gen = ListGenerator([(f"t{i}", -1.0) for i in range(32)])
    r = BestFirstProver(env, gen, config=SearchConfig(timeout_s=0.3)).prove("x")
    assert r.status == "timeout" and "deadline of 0.3s" in r.error
    assert r.env_calls <= 4 and r.time_s < 1.0  # not 32 calls, 3.2 s
    assert all(t is not None and t <= 0.3 for t in env.timeouts)
    assert env.timeouts == sorted(env.timeouts, reverse=True)  # each call gets what is left


class Failing(Branching):
    def run_tactic(self, handle, tactic, timeout=None):
        raise ConnectionAbortedError("The Lean server closed unexpectedly.")


class FlakyGenerator(ListGenerator):
    def generate(self, state, prefix="", n=32):
        raise GeneratorError("http://127.0.0.1:1/v1/chat/completions: ConnectError: connection refused")


def test_a_backend_exception_ends_that_theorem_with_its_message():
    r = BestFirstProver(Branching(), FlakyGenerator([])).prove("x")
    assert r.status == "error" and "GeneratorError" in r.error and "connection refused" in r.error
    r = BestFirstProver(Failing(), ListGenerator([("short", 0.0)])).prove("x")
    assert r.status == "error" and r.error.startswith("ConnectionAbortedError: The Lean server closed")


def test_a_proof_that_fails_the_whole_proof_check_is_reported_unverified(tmp_path):
    env = Branching(verdict="3:2: error: unknown identifier 'h'")
    r = BestFirstProver(env, ListGenerator([("short", 0.0), ("done", 0.0)])).prove("x")
    assert r.status == "unverified" and "unknown identifier" in r.error and r.proof == ["short", "done"]
    assert env.verified == [["short", "done"]] and proof_records(r) == []
    ok = BestFirstProver(Branching(), ListGenerator([("short", 0.0), ("done", 0.0)])).prove("x")
    assert ok.proved and ok.error == ""


def _bench(tmp_path, n=5):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps([make_theorem(f"P.t{i}", 1 + i % 3) for i in range(n)]))
    return bench


def test_prove_cli_writes_resumes_and_exports(tmp_path, capsys):
    bench = _bench(tmp_path)
    out = tmp_path / "results.jsonl"
    assert main(["prove", "--theorems", str(bench), "--output", str(out)]) == 0  # no --model: alpha 0
    assert "proved 5/5 (100.0%)" in capsys.readouterr().out
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(rows) == 5 and all(r["status"] == "proved" and r["alpha"] == 0 for r in rows)
    assert main(["prove", "--theorems", str(bench), "--output", str(out), "--alpha", "0"]) == 0
    assert "5 theorem(s) already in" in capsys.readouterr().out and len(out.read_text().splitlines()) == 5
    recs = tmp_path / "recs.jsonl"
    assert main(["export-proofs", "--results", str(out), "--output", str(recs)]) == 0
    assert len(recs.read_text().splitlines()) == sum(1 + i % 3 for i in range(5))
    assert main(["prove", "--theorems", str(bench), "--output", str(tmp_path / "o2.jsonl"), "--alpha", "0.5"]) == 2
    err = capsys.readouterr().err
    assert "--alpha 0.5 needs --model" in err and "Traceback" not in err


def test_prove_resumes_after_a_run_killed_mid_line(tmp_path, capsys):
    bench = _bench(tmp_path, 3)
    out = tmp_path / "results.jsonl"
    first = json.dumps({"theorem": "P.t0", "status": "proved", "proof": ["x"], "states": ["s"]})
    out.write_text(first + "\n" + '{"theorem": "P.t1", "sta')
    out.chmod(0o640)
    assert main(["prove", "--theorems", str(bench), "--output", str(out)]) == 0
    cap = capsys.readouterr()
    assert "dropping an incomplete last line" in cap.err and "1 theorem(s) already in" in cap.out
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert [r["theorem"] for r in rows] == ["P.t0", "P.t1", "P.t2"] and out.stat().st_mode & 0o777 == 0o640
    out.write_text("not json\n" + first + "\n")
    assert main(["prove", "--theorems", str(bench), "--output", str(out)]) == 2
    assert f"{out}:1: not a result line" in capsys.readouterr().err


def test_a_rerun_with_other_settings_warns_and_counts_only_the_requested_theorems(tmp_path, capsys, trained_tiny):
    out = tmp_path / "results.jsonl"
    assert main(["prove", "--theorems", str(_bench(tmp_path, 5)), "--output", str(out)]) == 0  # alpha 0, no model
    capsys.readouterr()
    (tmp_path / "fewer").mkdir()
    fewer = _bench(tmp_path / "fewer", 2)
    assert main(["prove", "--theorems", str(fewer), "--output", str(out), "--model", str(trained_tiny[0]),
                 "--device", "cpu"]) == 0
    cap = capsys.readouterr()
    assert (f"warning: 2 of the theorem(s) already in {out} were searched with other settings (2 with alpha 0 "
            f"without a model; this run: alpha 0.2, model {trained_tiny[0]}, score mode tactic)") in cap.err
    assert "proved 2/2 (100.0%)" in cap.out and "3 other theorem(s) there, not in --theorems, not counted" in cap.out
    assert main(["prove", "--theorems", str(fewer), "--output", str(out), "--alpha", "0"]) == 0
    assert "other settings" not in capsys.readouterr().err  # the same settings: no warning


def test_prove_without_a_model_records_no_score_mode(tmp_path):
    out = tmp_path / "results.jsonl"
    assert main(["prove", "--theorems", str(_bench(tmp_path, 2)), "--output", str(out)]) == 0
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert [(r["alpha"], r["score_mode"], r["scorer"]) for r in rows] == [(0.0, "", "")] * 2


def test_a_prove_start_that_fails_leaves_no_file(tmp_path, capsys):
    out = tmp_path / "new" / "results.jsonl"
    assert main(["prove", "--theorems", str(_bench(tmp_path, 2)), "--output", str(out), "--generator", "config"]) == 2
    assert "--generator config needs --generator-config" in capsys.readouterr().err
    assert not out.exists() and not out.parent.exists()


def test_export_proofs_drops_a_cut_last_line_as_prove_does(tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    assert main(["prove", "--theorems", str(_bench(tmp_path, 3)), "--output", str(out)]) == 0
    text = out.read_text()
    out.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 40])  # a run killed while writing the last line
    recs = tmp_path / "recs.jsonl"
    capsys.readouterr()
    assert main(["export-proofs", "--results", str(out), "--output", str(recs)]) == 0
    cap = capsys.readouterr()
    assert f"note: {out}:3: dropping an incomplete last line" in cap.err
    assert "wrote 3 record(s) from 2 solved search(es)" in cap.out and len(recs.read_text().splitlines()) == 3
    assert out.read_text().count("\n") == 2  # a reader only: the results file is left for prove to repair


def test_export_proofs_with_nothing_to_export_fails_and_writes_nothing(tmp_path, capsys):
    recs = tmp_path / "recs.jsonl"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["export-proofs", "--results", str(empty), "--output", str(recs)]) == 2
    assert f"{empty} holds no complete result line: nothing to export; {recs} not written" in capsys.readouterr().err
    failed = tmp_path / "failed.jsonl"
    failed.write_text("".join(json.dumps({"theorem": f"t{i}", "status": s}) + "\n"
                              for i, s in enumerate(["failed", "budget", "failed"])))
    assert main(["export-proofs", "--results", str(failed), "--output", str(recs)]) == 2
    err = capsys.readouterr().err
    assert f"none of the 3 result(s) in {failed} is a proof (budget 1, failed 2)" in err and err.count("\n") == 1
    assert not recs.exists()


def test_prove_goes_on_after_a_generator_endpoint_fails(tmp_path, capsys):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = json.dumps({"kind": "openai", "base_url": f"http://127.0.0.1:{port}/v1", "model": "m", "timeout": 2})
    out = tmp_path / "r.jsonl"
    assert main(["prove", "--theorems", str(_bench(tmp_path, 2)), "--output", str(out), "--generator", "config",
                 "--generator-config", spec]) == 0
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert len(rows) == 2 and all(r["status"] == "error" and "GeneratorError" in r["error"] for r in rows)
    assert "not proved: error 2" in capsys.readouterr().out


def test_prove_progress_in_a_log_file_is_a_few_plain_lines(tmp_path, capsys):
    assert main(["prove", "--theorems", str(_bench(tmp_path, 5)), "--output", str(tmp_path / "r.jsonl")]) == 0
    err = capsys.readouterr().err  # not a terminal
    assert "\r" not in err and err.count("proving:") == 1 and "proving: 5/5 theorems, 5 proved (100.0%)" in err
    log = io.StringIO()
    p = ProveProgress(1000, stream=log, interval=3600)
    for i in range(1000):
        p.update(proved=i % 2 == 0)
    p.close()
    assert log.getvalue().count("\n") == 1 and "1000/1000 theorems, 500 proved" in log.getvalue()


def test_prove_help_documents_every_flag_and_its_default(capsys):
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    prove = sub.choices["prove"]
    for action in prove._actions:
        if action.option_strings and action.dest != "help":
            text = action.help or ""
            assert "default" in text or "Required" in text, f"{action.option_strings[0]} has no default in its help"
    with pytest.raises(SystemExit):
        main(["prove", "--help"])
    assert "--ray-address" in capsys.readouterr().out


def test_trained_model_records_its_goal_from_and_prove_uses_the_matching_mode(tmp_path, capsys, trained_tiny):
    model = str(trained_tiny[0])
    assert ModelSettings.load(model).goal_from == "state_before"
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps([make_theorem(f"P.t{i}", 2) for i in range(2)]))
    out = tmp_path / "r.jsonl"
    assert main(["prove", "--theorems", str(bench), "--output", str(out), "--model", model, "--device", "cpu"]) == 0
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert all(r["alpha"] == 0.2 and r["scorer"] and r["score_mode"] == "tactic" for r in rows)
    assert main(["prove", "--theorems", str(bench), "--output", str(tmp_path / "r2.jsonl"), "--model", model,
                 "--score-mode", "state"]) == 2
    err = capsys.readouterr().err
    assert "trained on state_before records" in err and "--goal-from state_after" in err and "Traceback" not in err


def test_predict_steps_applies_the_score_mode_rule_of_prove(tmp_path, capsys, trained_tiny):
    # A state on its own is state mode, which prove refuses for a state_before model; --tactic is tactic mode.
    before = str(trained_tiny[0])
    for argv in (["--prefix", "intro h"], []):
        assert main(["predict-steps", "--model", before, "--state", "⊢ p", *argv]) == 2
        err = capsys.readouterr().err
        assert ("trained on state_before records, which pair a candidate tactic with the state it runs in; "
                "predict-steps without --tactic pairs a tactic with the state it produced: give a candidate with "
                "--tactic") in err and err.count("\n") == 1
    assert main(["predict-steps", "--model", before, "--state", "⊢ p", "--prefix", "intro h", "--tactic", "simp"]) == 0
    assert "steps left after `simp`" in capsys.readouterr().out
    after = state_after_copy(trained_tiny[0], tmp_path / "after")
    assert main(["predict-steps", "--model", after, "--state", "⊢ p", "--prefix", "intro h"]) == 0
    assert "steps left from this state" in capsys.readouterr().out
    assert main(["predict-steps", "--model", after, "--state", "⊢ p", "--tactic", "simp"]) == 2
    assert "predict-steps --tactic pairs a candidate tactic with the state it runs in" in capsys.readouterr().err


def test_evaluate_and_serve_warn_when_the_records_are_of_the_other_kind(tmp_path, trained_tiny, caplog):
    from leanprogress import LeanProgressScorer
    from leanprogress.evaluation import evaluate_model
    from leanprogress.serve import ServerConfig, create_app

    held = trained_tiny[2]
    after = [dict(r, goal_from="state_after") for r in held]
    with caplog.at_level("WARNING"):
        evaluate_model(str(trained_tiny[0]), ProgressDataset(after), device="cpu", n_resamples=0)
    assert "trained on state_before records" in caplog.text and "(state_after records)" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING"):
        evaluate_model(str(trained_tiny[0]), ProgressDataset(held), device="cpu", n_resamples=0)
        create_app(ServerConfig(), scorer=LeanProgressScorer(str(trained_tiny[0]), device="cpu"), generators={})
    assert "records" not in caplog.text  # the matching kind: no warning
    model = state_after_copy(trained_tiny[0], tmp_path / "after")
    with caplog.at_level("WARNING"):
        create_app(ServerConfig(), scorer=LeanProgressScorer(model, device="cpu"), generators={})
    assert "trained on state_after records" in caplog.text and "the server (/score, /generate)" in caplog.text


def test_model_without_goal_from_defaults_to_tactic_mode_with_a_note(tmp_path, capsys, trained_tiny):
    import shutil

    old = tmp_path / "old-model"
    shutil.copytree(trained_tiny[0], old)
    settings = json.loads((old / "leanprogress_config.json").read_text())
    del settings["goal_from"]  # a model saved before the field existed
    (old / "leanprogress_config.json").write_text(json.dumps(settings))
    assert ModelSettings.load(old).goal_from == ""
    out = tmp_path / "r.jsonl"
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps([make_theorem("P.t0", 2)]))
    assert main(["prove", "--theorems", str(bench), "--output", str(out), "--model", str(old), "--device", "cpu"]) == 0
    assert "does not record which state" in capsys.readouterr().err
    assert json.loads(out.read_text())["score_mode"] == "tactic"


def test_build_dataset_state_after_records_say_so(traces, tmp_path):
    out = tmp_path / "after.jsonl"
    assert main(["build-dataset", str(traces), "--output", str(out), "--goal-from", "state_after"]) == 0
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    finals = [r for r in rows if r["steps_remaining"] == 0]
    assert finals and all(r["goal"] == "no goals" for r in finals)
    assert {r["goal_from"] for r in rows} == {"state_after"}


def test_audit_counts_replayed_proofs_that_no_recording_supports():
    theorems = [INDUCTION, CLASSICAL, FOCUSED]
    root = INDUCTION["traced_tactics"][0]["state_before"]
    induction = [s["tactic"] for s in INDUCTION["traced_tactics"]]
    rows = [  # what the replay before this fix found: each step's successor was the next listed state_before
        {"theorem": "Nat.succ_sub_succ_eq_sub", "status": "proved", "proof": induction,
         "states": [s["state_before"] for s in INDUCTION["traced_tactics"]]},
        {"theorem": "Finsupp.t", "status": "proved", "proof": ["simp_rw [prod_filter_index, Finsupp.prod]"],
         "states": ["⊢ p"]},
        {"theorem": "Focus.t", "status": "proved", "proof": ["constructor", "simp", "ring"],
         "states": ["⊢ p ∧ q", "case left\n⊢ p", "case right\n⊢ q"]},
        {"theorem": "Nat.succ_sub_succ_eq_sub", "status": "proved", "proof": ["omega"], "states": [root]},
        {"theorem": "Focus.t", "status": "failed", "proof": [], "states": []},
    ]
    audit = audit_replayed_proofs(theorems, rows)
    assert (audit.proved, audit.contradicting, audit.nested_alone, audit.shorter, audit.unrecorded) == (4, 2, 2, 2, 1)
    assert audit.examples["contradicting"] == ["Nat.succ_sub_succ_eq_sub", "Focus.t"]
    assert audit.examples["nested_alone"] == ["Nat.succ_sub_succ_eq_sub", "Finsupp.t"]
    env = ReplayEnvironment(theorems)
    prover = BestFirstProver(env, ReplayGenerator(env, distractors=3))
    found = [asdict(prover.prove(t["full_name"])) for t in theorems]
    clean = audit_replayed_proofs(theorems, found)
    assert clean.proved == 3 and clean.summary().startswith("3 proved: 0 contradict a recorded state_after, 0 are "
                                                            "shorter than every recorded proof, 0 run a nested")


def test_export_proofs_turns_only_recorded_transitions_into_labels(tmp_path, capsys):
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps([INDUCTION, CLASSICAL, FOCUSED], ensure_ascii=False))
    out = tmp_path / "results.jsonl"
    assert main(["prove", "--theorems", str(bench), "--output", str(out)]) == 0
    rows = [json.loads(l) for l in out.read_text().splitlines()]
    assert all(r["status"] == "proved" and r["environment"] == "replay" for r in rows)
    # a proof by the replay before it followed state_after (no "environment"): it may hold invented steps
    stale = {"theorem": "Finsupp.t", "status": "proved", "proof": ["simp_rw [prod_filter_index, Finsupp.prod]"],
             "states": ["⊢ p"], "generator": "ReplayGenerator"}
    out.write_text(out.read_text() + json.dumps(stale) + "\n")
    recs = tmp_path / "recs.jsonl"
    assert main(["export-proofs", "--results", str(out), "--output", str(recs)]) == 0
    assert "skipped 1 proof(s) found by the replay of an earlier version" in capsys.readouterr().err
    got = [(r["theorem"], r["tactic"].split()[0], r["steps_remaining"])
           for r in map(json.loads, recs.read_text().splitlines())]
    assert got == [("Nat.succ_sub_succ_eq_sub", "induction", 0), ("Finsupp.t", "classical", 0),
                   ("Focus.t", "constructor", 2), ("Focus.t", "simp", 1), ("Focus.t", "ring", 0)]


def test_a_bad_line_of_a_statements_file_keeps_its_json_error(tmp_path):
    from leanprogress.search.cli import load_theorems

    path = tmp_path / "statements.jsonl"
    path.write_text('{"name": "t1", "statement": "theorem t1 : True"}\n{"name": "t2" "statement": "x"}\n')
    with pytest.raises(ValueError, match=r"statements.jsonl:2: not valid JSON \(Expecting ',' delimiter at column 15\)"):
        load_theorems(str(path), "lean-interact")
    path.write_text('{"name": "t1", "statement": 3}\n')
    with pytest.raises(ValueError, match="statements.jsonl:1: expected a JSON object with string 'name' and 'statement'"):
        load_theorems(str(path), "lean-interact")


def test_a_nan_log_probability_is_expanded_last_not_first():
    # The NaN candidate leads to the long route; expanded first, it costs an expansion the short route does not.
    nan = float("nan")
    gen = ListGenerator([("long", nan), ("short", -3.0), ("step", -0.1), ("done", -0.1)])
    r = BestFirstProver(Branching(), gen, config=SearchConfig(alpha=0.0)).prove("x")
    assert r.proof == ["short", "done"] and r.expansions == 2
    # Under the mix as well (the NaN used to make the whole priority NaN), in both score modes.
    scorer = StepsByTactic({"long": 0.0, "short": 1.0})
    for mode in ("state", "tactic"):
        env = Branching()
        r = BestFirstProver(env, gen, scorer, SearchConfig(alpha=0.5, score_mode=mode)).prove("x")
        assert r.proof == ["short", "done"] and r.expansions == 2, mode
        if mode == "tactic":
            assert env.sent[3] == "long"  # of the four candidates at the start, the NaN one is tried last


def test_a_scorer_giving_nan_steps_ends_the_theorem_with_a_clear_error():
    gen = ListGenerator([("long", -0.1), ("short", -3.0)])
    for mode in ("state", "tactic"):
        r = BestFirstProver(Branching(), gen, StepsByTactic({"short": float("nan")}),
                            SearchConfig(alpha=0.5, score_mode=mode)).prove("x")
        assert r.status == "error" and "predicted steps must be a finite number, got nan" in r.error, mode


def test_no_cluster_at_ray_address_names_the_option_of_this_command(monkeypatch, tmp_path, capsys):
    # Ray's ConnectionError tells the user to set its own CLI's `--address` flag; prove's option is --ray-address.
    # Only Ray's search for running clusters is replaced (other clusters may run on a shared machine).
    ray = pytest.importorskip("ray")
    import ray._private.services as services

    # Here, not in test_distributed.py, whose module-wide local Ray would be joined instead.
    assert not ray.is_initialized()
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    nothing = lambda: []  # noqa: E731
    nothing.cache_clear = lambda: None  # Ray clears its cache of the search
    monkeypatch.setattr(services, "find_gcs_addresses", nothing)
    monkeypatch.setattr(services, "find_bootstrap_address", lambda temp_dir: None)
    out = tmp_path / "r.jsonl"
    assert main(["prove", "--theorems", str(_bench(tmp_path, 2)), "--output", str(out), "--ray-address", "auto"]) == 2
    err = capsys.readouterr().err
    assert "no Ray cluster found at --ray-address auto" in err and "`--address`" not in err
    assert err.count("\n") == 1 and not out.exists()


def test_prove_and_export_refuse_to_write_over_their_inputs(tmp_path, capsys):
    import os

    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps([INDUCTION, CLASSICAL, FOCUSED], ensure_ascii=False))  # one line, no newline
    refused(capsys, ["prove", "--theorems", bench, "--output", bench], bench, bench, [bench])
    folder = tmp_path / "traces"
    folder.mkdir()
    inside = folder / "b.json"
    os.link(bench, inside)  # a hard link inside a folder of traces
    refused(capsys, ["prove", "--theorems", folder, "--output", inside], inside, folder, [bench])
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"goal": "⊢ p", "tactic": "simp", "steps_remaining": 0}) + "\n")
    refused(capsys, ["prove", "--theorems", bench, "--backend", "lean-interact", "--corpus", corpus, "--output",
                      corpus], corpus, corpus, [corpus])
    results = tmp_path / "results.jsonl"
    assert main(["prove", "--theorems", str(bench), "--output", str(results)]) == 0
    capsys.readouterr()
    refused(capsys, ["export-proofs", "--results", results, "--output", results], results, results, [results])
    link = tmp_path / "records.jsonl"
    link.symlink_to(results)
    refused(capsys, ["export-proofs", "--results", results, "--output", link], link, results, [results])


@pytest.mark.parametrize("command", ["prove", "predict-steps"])
def test_a_model_of_an_interrupted_run_is_refused_first_and_alone(tmp_path, capsys, trained_tiny, command):
    import shutil

    from leanprogress.config import RUN_MARKER, SETTINGS_FILE

    run = tmp_path / "run"
    shutil.copytree(trained_tiny[0], run, ignore=shutil.ignore_patterns("checkpoints"))
    (run / SETTINGS_FILE).unlink()  # as training leaves the folder while it runs
    (run / RUN_MARKER).write_text(json.dumps({"started": "2025-01-01 10:00"}))
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps([make_theorem("P.t0", 2)]))
    argv = (["prove", "--theorems", str(bench), "--output", str(tmp_path / "r.jsonl")] if command == "prove"
            else ["predict-steps", "--state", "⊢ p"])
    assert main(argv + ["--model", str(run)]) == 2
    err = capsys.readouterr().err
    # Before, prove first noted that the model 'does not record which state its training records read'.
    assert err.count("\n") == 1 and err.startswith(f"leanprogress: error: {run} holds a training run that has not "
                                                   "finished (started 2025-01-01 10:00)"), err
    assert not (tmp_path / "r.jsonl").exists()


def test_the_audit_reads_the_recordings_itself_and_catches_a_replay_that_misreads_them(monkeypatch):
    # A replay whose reading of the recordings is wrong (every tactic outer, every tactic runnable on a `·` block's
    # goal) invents proofs. The audit must not share that reading: it counts them.
    from leanprogress.data import leandojo
    from leanprogress.search import audit, environment

    all_goals = _steps("AllGoals.t", ("constructor", "⊢ p ∧ q", "⊢ p\n\n⊢ q"), ("all_goals simp", "⊢ p", "no goals"),
                       ("exact hq", "⊢ q", "no goals"))
    for module in (leandojo, environment, audit):
        monkeypatch.setattr(module, "outer_tactics", lambda steps: list(range(len(steps))), raising=False)
        monkeypatch.setattr(module, "focusable", lambda tactic: True, raising=False)
    theorems = [CLASSICAL, all_goals]
    env = ReplayEnvironment(theorems)
    nested = CLASSICAL["traced_tactics"][1]["tactic"]
    assert env.run_tactic(env.start("Finsupp.t")[1], nested).kind == "finished"  # invented: run without `classical`
    prover = BestFirstProver(env, ReplayGenerator(env, distractors=3))
    found = [{"theorem": "Finsupp.t", "status": "proved", "proof": [nested], "states": ["⊢ p"]},
             asdict(prover.prove("AllGoals.t"))]
    assert found[1]["proof"] == ["constructor", "all_goals simp", "exact hq"]  # invented: `all_goals` on one goal
    checked = audit_replayed_proofs(theorems, found)
    assert (checked.proved, checked.nested_alone, checked.unrecorded, checked.invented) == (2, 1, 1, 2)
    assert checked.examples == {"nested_alone": ["Finsupp.t"], "shorter": ["Finsupp.t"], "unrecorded": ["AllGoals.t"]}


def test_the_audit_tells_a_term_from_a_nested_tactic():
    # As Relation.reflTransGen_iff_eq_or_transGen of the Mathlib sample: the `rfl` of a `·` block after `rcases` is
    # a tactic of the proof, though the term `rfl` is written inside `exact Or.inl rfl` listed before it.
    theorem = _steps("Rel.t", ("constructor", "⊢ p ↔ q", "⊢ p → q\n\n⊢ q → p"),
                     ("exact fun h => Or.inl rfl", "⊢ p → q", "no goals"),
                     ("rcases h with (rfl | h)", "⊢ q → p", "case inl\n⊢ p\n\ncase inr\n⊢ p"),
                     ("rfl", "case inl\n⊢ p", "no goals"), ("exact h", "case inr\n⊢ p", "no goals"))
    states = ["⊢ p ↔ q", "⊢ p → q\n\n⊢ q → p", "⊢ q → p", "case inl\n⊢ p\n\ncase inr\n⊢ p", "case inr\n⊢ p"]
    rows = [{"theorem": "Rel.t", "status": "proved", "proof": [s["tactic"] for s in theorem["traced_tactics"]],
             "states": states}]
    audit = audit_replayed_proofs([theorem], rows)
    assert audit.proved == 1 and audit.invented == 0, audit.summary()
