import json
import math
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import make_theorem
from leanprogress import LeanProgressScorer
from leanprogress.data.leandojo import records_from_theorem
from leanprogress.generators import GeneratorError, GeneratorTimeout, RetrievalGenerator
from leanprogress.serve import ServerConfig, create_app
from serve_util import RunningServer

GOAL = "x y : ℕ\nh1 : x + 1 ≤ y\n⊢ x * 1 ≤ y ∧ ∀ z : ℕ, z ∣ 2"


class Failing:
    kind = "test"

    def __init__(self, exc):
        self.exc = exc

    def generate(self, state, prefix="", n=32):
        raise self.exc


@pytest.fixture(scope="module")
def corpus():
    return [r for i in range(8) for r in records_from_theorem(make_theorem(f"S{i}", 1 + i % 4))]


@pytest.fixture(scope="module")
def server(trained_tiny, corpus):
    scorer = LeanProgressScorer(str(trained_tiny[0]), device="cpu", precision="fp32")
    gens = {"retrieval": RetrievalGenerator(corpus), "broken": Failing(GeneratorError("backend down")),
            "slow": Failing(GeneratorTimeout("no answer in 1s"))}
    config = ServerConfig(model=str(trained_tiny[0]), generators={k: {} for k in gens},
                          reward_by_default=["retrieval"], max_candidates=40, max_input_chars=5000)
    with RunningServer(create_app(config, scorer=scorer, generators=gens)) as s:
        yield s


def test_health_and_models(server):
    assert httpx.get(server.url + "/health").json()["status"] == "ok"
    models = httpx.get(server.url + "/models").json()
    retrieval = next(g for g in models["generators"] if g["name"] == "retrieval")
    assert retrieval == {"name": "retrieval", "kind": "retrieval", "scorer_attached": True,
                         "reward_by_default": True, "can_encode": False}


def test_generate_with_reward_is_sorted_and_complete(server):
    r = httpx.post(server.url + "/generate", json={"name": "retrieval", "input": GOAL, "use_reward": True})
    assert r.status_code == 200
    outs = r.json()["outputs"]
    assert len(outs) > 1
    assert [o["score"] for o in outs] == sorted((o["score"] for o in outs), reverse=True)
    for o in outs:
        assert o["reward"] == pytest.approx(-o["steps_remaining"]) and o["score"] == pytest.approx(o["reward"])
        assert math.isfinite(o["model_score"]) and o["model_score"] <= 0


def test_target_prefix_filters_and_history_reaches_the_scorer(server):
    plain = httpx.post(server.url + "/generate", json={"name": "retrieval", "input": GOAL, "use_reward": True}).json()
    wanted = plain["outputs"][0]["output"][:5]
    outs = httpx.post(server.url + "/generate", json={"name": "retrieval", "input": GOAL, "prefix": wanted,
                                                      "use_reward": True}).json()["outputs"]
    assert outs and all(o["output"].startswith(wanted) for o in outs)
    with_history = httpx.post(server.url + "/generate", json={"name": "retrieval", "input": GOAL, "use_reward": True,
                                                              "history": "intro x\nsimp at h"}).json()["outputs"]
    first = {o["output"]: o["steps_remaining"] for o in plain["outputs"]}
    assert any(abs(first[o["output"]] - o["steps_remaining"]) > 1e-6 for o in with_history)


def test_generate_with_alpha_uses_the_published_mix(server):
    outs = httpx.post(server.url + "/generate",
                      json={"name": "retrieval", "input": GOAL, "use_reward": True, "alpha": 0.2}).json()["outputs"]
    for o in outs:
        assert o["score"] == pytest.approx(0.2 * (-2 * o["steps_remaining"] / 20) + 0.8 * o["model_score"], abs=1e-6)
    assert [o["score"] for o in outs] == sorted((o["score"] for o in outs), reverse=True)


def test_generate_without_reward_keeps_generator_scores(server):
    outs = httpx.post(server.url + "/generate",
                      json={"name": "retrieval", "input": GOAL, "use_reward": False}).json()["outputs"]
    assert all(set(o) == {"output", "score"} for o in outs)


def test_leancopilot_curl_request(server):
    # Exactly what LeanCopilot's ExternalGenerator sends; it reads only output and score.
    if shutil.which("curl") is None:
        pytest.skip("curl not installed")
    body = json.dumps({"name": "retrieval", "input": GOAL, "prefix": ""})
    out = subprocess.run(["curl", "-s", "-X", "POST", server.url + "/generate", "-H", "accept: application/json",
                          "-H", "Content-Type: application/json", "-d", body],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    outputs = json.loads(out)["outputs"]
    assert outputs and all(isinstance(o["output"], str) and math.isfinite(o["score"]) for o in outputs)
    assert "steps_remaining" in outputs[0]  # reward_by_default applies to the Lean client


def test_score_endpoint(server):
    r = httpx.post(server.url + "/score", json={"goal": GOAL, "prefix": "intro x", "tactics": ["simp", "omega"]})
    outs = r.json()["outputs"]
    assert [o["tactic"] for o in outs] == ["simp", "omega"]
    assert all(o["steps_remaining"] >= 0 and o["reward"] == -o["steps_remaining"] for o in outs)


@pytest.mark.parametrize(
    "path, body, status, text",
    [
        ("/generate", {"name": "nope", "input": "⊢ p"}, 404, "known: ['broken', 'retrieval', 'slow']"),
        ("/generate", {"name": "broken", "input": "⊢ p"}, 502, "backend down"),
        ("/generate", {"name": "slow", "input": "⊢ p"}, 504, "timed out"),
        ("/generate", {"input": "⊢ p"}, 422, "name"),
        ("/generate", {"name": "retrieval", "input": "x" * 6000}, 413, "limit is 5000"),
        ("/generate", {"name": "retrieval", "input": "⊢ p", "num_candidates": 41}, 413, "limit of 40"),
        ("/score", {"goal": "⊢ p", "tactics": ["simp"] * 41}, 413, "exceed the limit"),
        ("/score", {"goal": "⊢ p", "tactics": "simp"}, 422, "tactics"),
        ("/encode", {"name": "retrieval", "input": "⊢ p"}, 400, "cannot encode"),
    ],
)
def test_error_paths_answer_clearly_and_server_survives(server, path, body, status, text):
    r = httpx.post(server.url + path, json=body)
    assert r.status_code == status
    assert text in json.dumps(r.json()["detail"]) and "Traceback" not in r.text
    assert httpx.get(server.url + "/health").status_code == 200


def test_malformed_json_is_422(server):
    r = httpx.post(server.url + "/generate", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422


def test_use_reward_without_scorer_is_400(corpus):
    app = create_app(ServerConfig(generators={"retrieval": {}}), generators={"retrieval": RetrievalGenerator(corpus)})
    with RunningServer(app) as s:
        r = httpx.post(s.url + "/generate", json={"name": "retrieval", "input": GOAL, "use_reward": True})
        assert r.status_code == 400 and "needs a scorer" in r.json()["detail"]
        assert httpx.post(s.url + "/score", json={"goal": "⊢ p", "tactics": ["a"]}).status_code == 400


def test_api_key_and_body_limit(corpus):
    config = ServerConfig(api_key="s3cret", max_body_bytes=2000, generators={"retrieval": {}})
    with RunningServer(create_app(config, generators={"retrieval": RetrievalGenerator(corpus)})) as s:
        assert httpx.get(s.url + "/health").status_code == 200  # health stays open
        assert httpx.get(s.url + "/models").status_code == 401
        assert httpx.get(s.url + "/models", headers={"X-API-Key": "wrong"}).status_code == 401
        assert httpx.get(s.url + "/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        big = {"name": "retrieval", "input": "x" * 5000}
        assert httpx.post(s.url + "/generate", json=big, headers={"X-API-Key": "s3cret"}).status_code == 413


def test_concurrent_requests_all_succeed(server):
    def call(i):
        if i % 2:
            return httpx.post(server.url + "/score", json={"goal": GOAL, "tactics": [f"simp [h{i}]", "omega"]},
                              timeout=60).status_code
        return httpx.post(server.url + "/generate", json={"name": "retrieval", "input": GOAL + f" + {i}",
                                                           "use_reward": True}, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        codes = list(pool.map(call, range(240)))
    assert codes == [200] * 240
    assert httpx.get(server.url + "/health").json()["status"] == "ok"


def test_config_defaults_are_loopback_and_leancopilot_port(monkeypatch, tmp_path):
    monkeypatch.setenv("LEANPROGRESS_MODEL", "/some/model")
    c = ServerConfig.from_sources()
    assert (c.host, c.port, c.model) == ("127.0.0.1", 23337, "/some/model")
    bad = tmp_path / "c.json"
    bad.write_text('{"generators": {}, "bogus": 1}')
    with pytest.raises(ValueError, match="unknown key"):
        ServerConfig.from_sources(str(bad))
    with pytest.raises(ValueError, match="unknown generator"):
        ServerConfig(reward_by_default=["x"])
