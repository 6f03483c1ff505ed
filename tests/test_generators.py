import math

import pytest

from leanprogress.generators import GeneratorError, OpenAIGenerator, RetrievalGenerator
from serve_util import RunningServer


def test_retrieval_prefers_tactics_of_similar_goals():
    recs = [
        {"goal": "a b : ℝ\n⊢ 0 ≤ a ^ 2 + b ^ 2", "tactic": "nlinarith [sq_nonneg a, sq_nonneg b]"},
        {"goal": "s t : Set α\n⊢ s ∩ t ⊆ s", "tactic": "exact Set.inter_subset_left"},
        {"goal": "n : ℕ\n⊢ n + 0 = n", "tactic": "simp"},
    ]
    gen = RetrievalGenerator(recs)
    out = gen.generate("x y : ℝ\n⊢ 0 ≤ x ^ 2 + y ^ 2", n=3)
    assert out[0][0].startswith("nlinarith") and all(s <= 0 for _, s in out)
    assert [t for t, _ in gen.generate("⊢ s ∩ t ⊆ s", prefix="exact", n=3)] == ["exact Set.inter_subset_left"]


def test_openai_generator_against_a_compatible_server():
    from fastapi import FastAPI

    fake = FastAPI()
    seen = {}

    @fake.post("/v1/chat/completions")
    async def chat(body: dict):
        seen.update(body)
        return {"choices": [
            {"message": {"content": "```lean\nlinarith\n```"}, "logprobs": {"content": [{"logprob": -0.5}]}},
            {"message": {"content": "nlinarith [sq_nonneg x]"}, "logprobs": {"content": [{"logprob": -0.2}, {"logprob": -0.1}]}},
            {"message": {"content": "linarith"}, "logprobs": {"content": [{"logprob": -0.9}]}},
        ]}

    with RunningServer(fake) as s:
        gen = OpenAIGenerator(base_url=s.url + "/v1", model="m", timeout=5)
        out = gen.generate("⊢ 0 ≤ x ^ 2", n=3)
        assert out == [("nlinarith [sq_nonneg x]", pytest.approx(-0.3)), ("linarith", -0.5)]
        assert seen["n"] == 3 and seen["model"] == "m" and "0 ≤ x ^ 2" in seen["messages"][1]["content"]
        with pytest.raises(GeneratorError, match="404"):
            OpenAIGenerator(base_url=s.url + "/nope", model="m", timeout=5).generate("⊢ p")
    with pytest.raises(GeneratorError):
        OpenAIGenerator(base_url=s.url + "/v1", model="m", timeout=2).generate("⊢ p")  # server gone


def test_hf_generator_causal_returns_scored_candidates(tmp_path, bundled_tokenizer_path):
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from leanprogress.generators import HFGenerator

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(bundled_tokenizer_path)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=tok.vocab_size, n_embd=32, n_layer=1, n_head=2,
                                       bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id))
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    gen = HFGenerator(str(tmp_path), device="cpu", max_new_tokens=5)
    out = gen.generate("⊢ p", n=4)
    assert 1 <= len(out) <= 4 and all(isinstance(t, str) and t and math.isfinite(s) and s <= 0 for t, s in out)
    with pytest.raises(NotImplementedError):
        gen.encode("⊢ p")
