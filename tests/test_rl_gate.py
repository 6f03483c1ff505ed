"""Lean gating of rewards: the real lean_interact against the Lean stand-in (tests/lean_standin.py), and the real
kimina-client against a stand-in Kimina Lean Server that answers /api/check as the Kimina server does
(project-numina/kimina-lean-server at fb2393de: server/routers/check.py, server/auth.py; REPL answers as in
leanprover-community/repl's test/*.expected.out)."""

import pytest

import lean_standin as S
from kimina_standin import kimina_standin
from leanprogress import LeanProgressScorer
from leanprogress.rl import ProgressReward
from leanprogress.rl.gate import EnvironmentGate, KiminaGate, LeanServiceError, prefix_tactics
from rl_util import lean_interact_gate
from serve_util import RunningServer

lean_interact = pytest.importorskip("lean_interact")  # in the `test` extra


@pytest.fixture(scope="module")
def scorer(trained_tiny):
    return LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")


@pytest.fixture
def lean_gate(tmp_path):
    gate = lean_interact_gate(tmp_path)
    yield gate
    gate.close()


COMPLETIONS = ["constructor", "simp", "```lean\nexact ⟨hp, hq⟩\n```", "exact?", "sorry", "exact hp"]


def check_gated(results, scorer, state_mode):
    assert [r.status for r in results] == ["scored", "rejected", "finished", "rejected", "forbidden", "scored"]
    assert "simp made no progress" in results[1].message and "could not close the goal" in results[3].message
    assert results[2].reward == 1.0 and results[2].steps == 0.0  # Lean finished the proof: 0 steps, no model
    assert results[1].reward == results[3].reward == results[4].reward == 0.0
    # The accepted tactics are scored on the state before (tactic mode) or the state Lean produced (state mode).
    goals = [f"{S.AND_LEFT}\n\n{S.AND_RIGHT}", S.AND_RIGHT] if state_mode else [S.AND_START, f"{S.AND_LEFT}\n\n{S.AND_RIGHT}"]
    want = scorer.predict_batch(goals, ["constructor", "exact hp"], ["", "constructor"])
    assert [results[0].steps, results[5].steps] == pytest.approx(want)


def test_lean_interact_gate_rejects_what_lean_rejects(lean_gate, scorer):
    reward = ProgressReward(scorer, lean=lean_gate)
    prefixes = [""] * 5 + ["constructor"]
    states = [S.AND_START] * 5 + [f"{S.AND_LEFT}\n\n{S.AND_RIGHT}"]
    check_gated(reward.evaluate(states, COMPLETIONS, prefixes, [S.AND_STATEMENT] * 6), scorer, state_mode=False)


def test_lean_interact_gate_scores_the_state_produced_in_state_mode(lean_gate, scorer):
    reward = ProgressReward(scorer, lean=lean_gate, score_mode="state")
    prefixes = [""] * 5 + ["constructor"]
    check_gated(reward.evaluate([S.AND_START] * 6, COMPLETIONS, prefixes, [S.AND_STATEMENT] * 6), scorer,
                state_mode=True)


def test_lean_interact_gate_replays_each_prefix_once_and_reports_bad_ones(lean_gate, scorer):
    calls = []
    real = lean_gate.env.run_tactic
    lean_gate.env.run_tactic = lambda h, t, timeout=None: calls.append(t) or real(h, t, timeout=timeout)
    reward = ProgressReward(scorer, lean=lean_gate)
    results = reward.evaluate([S.AND_START] * 4, ["exact hp", "exact hq", "exact hp", "simp"],
                              ["constructor", "constructor", "constructor", "intro x"], [S.AND_STATEMENT] * 4)
    assert calls.count("constructor") == 1  # the group's prefix replayed once, then from the cache
    assert [r.status for r in results] == ["scored", "rejected", "scored", "prefix_failed"]
    assert "prefix tactic 1 ('intro x') gave error" in results[3].message
    bad = reward.evaluate([S.AND_START], ["simp"], [""], ["theorem unknown : 1 = 1"])[0]
    assert bad.status == "prefix_failed" and "did not start" in bad.message and bad.reward == 0.0


def test_gating_needs_statements(lean_gate, scorer):
    with pytest.raises(ValueError, match="statement of its theorem"):
        ProgressReward(scorer, lean=lean_gate).score([S.AND_START], ["simp"])


def test_prefixes_replay_by_top_level_tactic():
    assert prefix_tactics("intro n\nhave h : n = n := by\n  rfl\nsimp; ring") == [
        "intro n", "have h : n = n := by\n  rfl", "simp", "ring"]
    assert prefix_tactics("  ") == []


# ---------------------------------------------------------------- Kimina
@pytest.fixture(scope="module")
def kimina_server():
    app = kimina_standin(api_key="kimina-key")
    with RunningServer(app) as server:
        server.app = app
        yield server


def test_kimina_gate_rejects_what_lean_rejects(kimina_server, scorer):
    gate = KiminaGate(url=kimina_server.url, api_key="kimina-key", timeout_s=5)
    reward = ProgressReward(scorer, lean=gate)
    prefixes = [""] * 5 + ["constructor"]
    states = [S.AND_START] * 5 + [f"{S.AND_LEFT}\n\n{S.AND_RIGHT}"]
    kimina_server.app.state.requests.clear()
    check_gated(reward.evaluate(states, COMPLETIONS, prefixes, [S.AND_STATEMENT] * 6), scorer, state_mode=False)
    sent = [s for r in kimina_server.app.state.requests for s in r["snippets"]]
    assert len(sent) == 5 and kimina_server.app.state.requests[0]["timeout"] == 5  # `sorry` never sent
    assert sent[0]["code"] == (f"import Mathlib\n{S.AND_STATEMENT} := by\n  constructor\n  all_goals sorry\n\n"
                               "#print axioms and_swap")
    assert sent[4]["code"].endswith(":= by\n  constructor\n  exact hp\n  all_goals sorry\n\n#print axioms and_swap")


def test_kimina_gate_state_mode_timeouts_and_prefix_failures(kimina_server, scorer):
    gate = KiminaGate(url=kimina_server.url, api_key="kimina-key", timeout_s=3)
    reward = ProgressReward(scorer, lean=gate, score_mode="state")
    results = reward.evaluate([S.AND_START] * 4, ["constructor", "sleep 10000", "exact hp", "exact hp"],
                              ["", "", "intro x", "constructor"], [S.AND_STATEMENT] * 4)
    assert [r.status for r in results] == ["scored", "timeout", "prefix_failed", "scored"]
    assert "timed out in 3 seconds" in results[1].message and results[2].message == "3:2: tactic 'intro x' failed"
    want = scorer.predict_batch([f"{S.AND_LEFT}\n\n{S.AND_RIGHT}", S.AND_RIGHT], ["constructor", "exact hp"],
                                ["", "constructor"])
    assert [results[0].steps, results[3].steps] == pytest.approx(want)


def test_kimina_gate_with_a_wrong_key_raises_instead_of_rewarding_zeros(kimina_server, scorer):
    kimina = pytest.importorskip("leanprogress.rl.gate").import_kimina()
    client = kimina.KiminaClient(api_url=kimina_server.url, api_key="wrong", n_retries=1)
    gate = KiminaGate(client=client, timeout_s=3)
    with pytest.raises(LeanServiceError, match="1 of 1 snippet.*failed on the server's side.*Request failed.*key"):
        ProgressReward(scorer, lean=gate).evaluate([S.AND_START], ["constructor"], [""], [S.AND_STATEMENT])


def test_a_kimina_server_that_is_down_raises_instead_of_rewarding_zeros(scorer):
    from serve_util import free_port

    kimina = pytest.importorskip("leanprogress.rl.gate").import_kimina()
    gate = KiminaGate(client=kimina.KiminaClient(api_url=f"http://127.0.0.1:{free_port()}", n_retries=1))
    with pytest.raises(LeanServiceError, match="3 of 3 snippet"):
        ProgressReward(scorer, lean=gate).score([S.AND_START] * 3, ["constructor", "simp", "exact hp"], [""] * 3,
                                                [S.AND_STATEMENT] * 3)


def test_verl_compute_score_gates_through_kimina_from_reward_kwargs(kimina_server, trained_tiny):
    from leanprogress.rl.verl import compute_score

    extra = {"state": S.AND_START, "prefix": "", "statement": S.AND_STATEMENT}
    settings = {"model": str(trained_tiny[0]), "device": "cpu", "precision": "fp32", "kimina_url": kimina_server.url,
                "kimina_api_key": "kimina-key", "lean_header": "import Mathlib"}
    scores = compute_score(data_sources=["leanprogress"] * 3, solution_strs=["simp", "exact ⟨hp, hq⟩", "constructor"],
                           ground_truths=[""] * 3, extra_infos=[extra] * 3, **settings)
    assert scores[0] == 0.0 and scores[1] == 1.0 and 0.0 < scores[2] < 1.0  # rejected, finished, scored


def test_gates_and_rewards_with_gates_pickle_for_rl_workers(kimina_server, lean_gate, scorer, trained_tiny):
    import pickle

    kimina = KiminaGate(url=kimina_server.url, api_key="kimina-key", timeout_s=5)
    reward = ProgressReward(str(trained_tiny[0]), device="cpu", precision="fp32", lean=kimina)
    args = ([S.AND_START] * 2, ["constructor", "simp"], ["", ""], [S.AND_STATEMENT] * 2)
    copy = pickle.loads(pickle.dumps(reward))
    assert copy.lean is not reward.lean and copy.score(*args) == pytest.approx(reward.score(*args))
    # A scorer object travels with its lock made anew; an environment gate with a REPL of its own per worker.
    in_memory = pickle.loads(pickle.dumps(ProgressReward(scorer, lean=lean_gate)))
    try:
        assert in_memory.lean.env is not lean_gate.env and in_memory.lean._lock is not lean_gate._lock
        assert [r.status for r in in_memory.evaluate(*args)] == ["scored", "rejected"]
    finally:
        in_memory.lean.close()


def test_a_lean_repl_that_cannot_come_back_raises_instead_of_rewarding_zeros(tmp_path, scorer):
    from leanprogress.search.backends import LeanInteractEnvironment

    lake = S.install_lake(tmp_path / "bin")
    config = lean_interact.LeanREPLConfig(local_repl_path=str(S.make_repl_dir(tmp_path / "repl")), build_repl=False,
                                          lake_path=str(lake))
    gate = EnvironmentGate(LeanInteractEnvironment(header="import Mathlib", timeout=10, config=config), timeout_s=10)
    reward = ProgressReward(scorer, lean=gate)
    assert reward.evaluate([S.AND_START], ["constructor"], [""], [S.AND_STATEMENT])[0].status == "scored"
    lake.unlink()  # the toolchain is gone and the REPL dies: nothing can restart it
    gate.env.server.kill()
    with pytest.raises(LeanServiceError, match="the Lean environment failed"):
        reward.evaluate([S.AND_START], ["simp"], ["constructor"], [S.AND_STATEMENT])


def test_a_call_in_which_everything_times_out_raises_one_tactic_alone_does_not(kimina_server, scorer):
    gate = KiminaGate(url=kimina_server.url, api_key="kimina-key", timeout_s=2)
    reward = ProgressReward(scorer, lean=gate)
    alone = reward.evaluate([S.AND_START], ["sleep 10000"], [""], [S.AND_STATEMENT])[0]
    assert alone.status == "timeout" and alone.reward == 0.0
    with pytest.raises(LeanServiceError, match="every one of 2 snippets of the call timed out"):
        reward.evaluate([S.AND_START] * 2, ["sleep 10000", "sleep 20000"], ["", ""], [S.AND_STATEMENT] * 2)


def test_an_environment_gate_whose_every_tactic_times_out_raises(tmp_path):
    gate = lean_interact_gate(tmp_path, timeout=2)
    try:
        assert gate.run([S.AND_STATEMENT], [""], ["sleep 5000"])[0].status == "timeout"  # alone: its own failure
        # Both time out (or, on a loaded machine, the restarted REPL cannot even replay the theorem in time): the
        # call raises either way.
        with pytest.raises(LeanServiceError, match="every one of 2 tactics of the call timed out|did not respond"):
            gate.run([S.AND_STATEMENT] * 2, ["", ""], ["sleep 5000", "sleep 5000"])
    finally:
        gate.close()
