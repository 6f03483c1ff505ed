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


# ------------------------------------------------------------------ every generator honours LeanCopilot's prefix
@pytest.fixture(scope="module")
def byte_level_tokenizer(tmp_path_factory):
    """A small byte-level BPE tokenizer (as GPT-2 and Llama-style models use: a leading space lives in the token,
    ``Ġh``), trained here on a few tactics."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<pad>", "<eos>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(["exact h", "rw [h]", "⊢ a = b", "exact h.symm", "simp [h] at h"] * 5, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<pad>")


def _always(token_id, logits):
    """Make ``logits`` (a 1-d tensor over the vocabulary) pick ``token_id`` whatever the input."""
    import torch

    with torch.no_grad():
        logits.zero_()
        logits[token_id] = 50.0


def _causal_always(folder, tok, token):
    """A tiny GPT-2 that writes ``token`` at every step: its last layer norm outputs a constant vector that the
    tied output embedding maps to ``token``."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=len(tok), n_embd=32, n_layer=1, n_head=2, n_positions=256,
                                       bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id))
    t = tok.convert_tokens_to_ids(token)
    with torch.no_grad():
        emb = model.transformer.wte.weight
        emb[t] *= 20.0
        model.transformer.ln_f.weight.zero_()
        model.transformer.ln_f.bias.copy_(emb[t])
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _seq2seq_always(folder, tok, token):
    """A tiny BART whose decoder writes ``token`` at every step (zero output weights, one logit bias)."""
    import torch
    from transformers import BartConfig, BartForConditionalGeneration

    torch.manual_seed(0)
    config = BartConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=256,
                        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id,
                        decoder_start_token_id=tok.eos_token_id, forced_bos_token_id=None, forced_eos_token_id=None,
                        tie_word_embeddings=False)
    model = BartForConditionalGeneration(config)
    with torch.no_grad():
        model.lm_head.weight.zero_()
    _always(tok.convert_tokens_to_ids(token), model.final_logits_bias[0])
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.mark.parametrize("kind", ["causal", "seq2seq"])
@pytest.mark.parametrize("num_beams", [0, 4])
def test_hf_generator_returns_the_whole_tactic_after_the_prefix(tmp_path, byte_level_tokenizer, kind, num_beams):
    from leanprogress.generators import HFGenerator

    build = _causal_always if kind == "causal" else _seq2seq_always
    # The model's next token is " h" (one token with its space): after the prefix "exact" that is "exact h".
    gen = HFGenerator(str(build(tmp_path, byte_level_tokenizer, "Ġh")), device="cpu", max_new_tokens=1,
                      num_beams=num_beams)
    assert gen.seq2seq is (kind == "seq2seq")
    # (Beam search also returns a second, unlikely beam: every other token ties far below " h".)
    for prefix, best in (("exact", "exact h"), ("rw [", "rw [ h"), ("", "h")):  # no prefix: the text, stripped
        out = gen.generate("⊢ a = b", prefix=prefix, n=2)
        assert out[0][0] == best and all(t.startswith(prefix) for t, _ in out), prefix
        assert out[-1][1] <= out[0][1] and (num_beams or len(out) == 1)


def test_hf_causal_generator_keeps_the_prefix_when_the_state_is_too_long(tmp_path, byte_level_tokenizer):
    from leanprogress.generators import HFGenerator

    gen = HFGenerator(str(_causal_always(tmp_path, byte_level_tokenizer, "Ġh")), device="cpu", max_new_tokens=1)
    # Truncated at 2,048 tokens from the left, the prompt still ends with the prefix the model continues.
    long_state = "⊢ a = b " * 1500
    assert gen.tokenizer(gen.prompt.format(state=long_state, prefix="exact"), truncation=True, max_length=2048,
                         )["input_ids"][-1] == byte_level_tokenizer.convert_tokens_to_ids("exact")


def test_hf_generator_with_a_random_model_still_starts_every_tactic_with_the_prefix(tmp_path, bundled_tokenizer_path):
    import torch
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    from leanprogress.generators import HFGenerator

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(bundled_tokenizer_path)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=tok.vocab_size, n_embd=32, n_layer=1, n_head=2,
                                       bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id))
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    out = HFGenerator(str(tmp_path), device="cpu", max_new_tokens=4).generate("⊢ a = b", prefix="rw [", n=6)
    assert out and all(t.startswith("rw [") and len(t) > len("rw [") for t, _ in out)


def test_openai_generator_keeps_only_replies_that_start_with_the_prefix():
    from fastapi import FastAPI

    fake = FastAPI()

    @fake.post("/v1/chat/completions")
    async def chat(body: dict):
        return {"choices": [{"message": {"content": c}, "logprobs": {"content": [{"logprob": lp}]}}
                            for c, lp in (("rw [h]", -0.5), ("h]", -0.1), ("simp", -0.2), ("```lean\nrw [h.symm]\n```", -0.9))]}

    with RunningServer(fake) as s:
        gen = OpenAIGenerator(base_url=s.url + "/v1", model="m", timeout=5)
        assert [t for t, _ in gen.generate("⊢ a = b", prefix="rw [", n=4)] == ["rw [h]", "rw [h.symm]"]
        assert len(gen.generate("⊢ a = b", n=4)) == 4


def test_retrieval_and_replay_generators_return_whole_tactics_with_the_prefix():
    from leanprogress.generators import ReplayGenerator
    from leanprogress.search import ReplayEnvironment

    recs = [{"goal": "⊢ a = b", "tactic": t} for t in ("rw [h]", "rw [h.symm]", "simp", "exact h")]
    out = RetrievalGenerator(recs).generate("⊢ a = b", prefix="rw [", n=8)
    assert sorted(t for t, _ in out) == sorted(["rw [h]", "rw [h.symm]"])
    env = ReplayEnvironment([{"full_name": f"t{i}", "traced_tactics": [
        {"tactic": t, "state_before": f"⊢ a{i} = b", "state_after": "no goals"}]} for i, t in enumerate(
        ("rw [h]", "rw [h.symm]", "simp", "exact h"))])
    out = ReplayGenerator(env, distractors=3).generate("⊢ a0 = b", prefix="rw [", n=8)
    assert sorted(t for t, _ in out) == sorted(["rw [h]", "rw [h.symm]"])


def test_the_factory_knows_every_option_of_every_generator_and_no_other():
    import dataclasses
    import inspect

    from leanprogress.generators import HFGenerator
    from leanprogress.generators.factory import KINDS

    def options(kind):
        return set(KINDS[kind]["required"]) | set(KINDS[kind]["optional"])

    hf = set(inspect.signature(HFGenerator.__init__).parameters) - {"self", "model_path"}
    assert options("hf") == hf | {"model"}
    retrieval = set(inspect.signature(RetrievalGenerator.__init__).parameters) - {"self", "records"}
    assert options("retrieval") == retrieval | {"corpus"}
    assert options("openai") == {f.name for f in dataclasses.fields(OpenAIGenerator)} - {"kind"}


@pytest.mark.parametrize("spec, message", [
    ({"kind": "hf", "model": "/m", "beams": 4}, "unknown option 'beams' for kind hf"),
    ({"kind": "openai", "base_url": "u", "model": "m", "max_tokens": 1.5}, "'max_tokens' must be an integer, got the number 1.5"),
    ({"kind": "retrieval", "corpus": ""}, "retrieval needs 'corpus'"),
    (["retrieval"], "must be a mapping with 'kind'"),
])
def test_build_generator_refuses_a_bad_entry_in_one_line_before_loading_anything(spec, message):
    from leanprogress.generators import build_generator

    with pytest.raises(ValueError, match="^generator 'g'") as exc:
        build_generator("g", spec)
    assert message in str(exc.value) and "\n" not in str(exc.value)
