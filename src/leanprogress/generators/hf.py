"""``hf``: a local HuggingFace seq2seq or causal tactic generator (e.g. ReProver's ByT5)."""

from __future__ import annotations

import threading
from typing import Any

from .base import GeneratorError


class HFGenerator:
    """A local HuggingFace seq2seq or causal tactic generator.

    Args:
        model_path: local folder (or hub id where the hub is reachable).
        device: ``auto``, ``cpu``, ``cuda``.
        num_beams: beam search width; 0 means sample ``n`` sequences instead.
        max_new_tokens: tactic length limit.
        temperature: sampling temperature (sampling only).
        prompt: for causal models, the text fed to the model; ``{state}``
            and ``{prefix}`` are filled in (default: ReProver-style
            ``"[GOAL]{state}[PROOFSTEP]{prefix}"``).

    The returned score is the sequence log-probability (sum of token
    log-probabilities of the generated tokens). Every returned tactic is
    whole and starts with the requested ``prefix``.
    """

    kind = "hf"

    def __init__(self, model_path: str, device: str = "auto", num_beams: int = 0, max_new_tokens: int = 128,
                 temperature: float = 1.0, prompt: str = "[GOAL]{state}[PROOFSTEP]{prefix}"):
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSeq2SeqLM

        from ..encoder import ModelLoadError, load_tokenizer, resolve_device

        self.device = resolve_device(device)
        self.tokenizer = load_tokenizer(model_path)
        try:
            config = AutoConfig.from_pretrained(model_path, trust_remote_code=False)
            self.seq2seq = bool(getattr(config, "is_encoder_decoder", False))
            cls = AutoModelForSeq2SeqLM if self.seq2seq else AutoModelForCausalLM
            self.model = cls.from_pretrained(model_path, use_safetensors=True, trust_remote_code=False)
        except Exception as exc:
            raise ModelLoadError(f"could not load generator {model_path!r}: {exc}") from exc
        self.model.to(self.device).eval()
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if not self.seq2seq:
            # A long state must not cut off the end of the prompt: the prefix the model is to continue is there.
            self.tokenizer.truncation_side = "left"
        self.num_beams, self.max_new_tokens, self.temperature = num_beams, max_new_tokens, temperature
        self.prompt = prompt
        self._lock = threading.Lock()
        self._torch = torch

    def generate(self, state: str, prefix: str = "", n: int = 32) -> list[tuple[str, float]]:
        """Up to ``n`` whole tactics that start with ``prefix``, best first, with their log-probabilities.

        The model continues the prefix: a causal model reads it at the end of
        its prompt, a seq2seq model's decoder starts from it (as LeanCopilot's
        target prefix does for its own models); either way the prefix is put
        back in front of what the model wrote.
        """
        torch = self._torch
        given = None  # the decoder's first tokens, for a seq2seq model given a prefix
        if self.seq2seq:
            enc = self.tokenizer(state, return_tensors="pt", truncation=True, max_length=2048).to(self.device)
            if prefix:
                start = self.model.generation_config.decoder_start_token_id
                if start is None:
                    start = self.model.config.decoder_start_token_id
                if start is None:
                    raise GeneratorError("the model's config has no decoder_start_token_id, so its decoder cannot "
                                         "be started from the prefix")
                prefix_ids = self.tokenizer(prefix, add_special_tokens=False)["input_ids"]
                given = torch.tensor([[start, *prefix_ids]], device=self.device)
        else:
            enc = self.tokenizer(self.prompt.format(state=state, prefix=prefix), return_tensors="pt",
                                 truncation=True, max_length=2048).to(self.device)
        beams = self.num_beams > 0
        kwargs: dict[str, Any] = dict(
            max_new_tokens=self.max_new_tokens, num_return_sequences=n, output_scores=True,
            return_dict_in_generate=True, pad_token_id=self.tokenizer.pad_token_id,
        )
        if given is not None:
            kwargs["decoder_input_ids"] = given
        if beams:
            kwargs.update(num_beams=max(self.num_beams, n), do_sample=False)
        else:
            kwargs.update(do_sample=True, temperature=self.temperature, top_k=0)
        with self._lock, torch.inference_mode():
            out = self.model.generate(**enc, **kwargs)
            trans = self.model.compute_transition_scores(
                out.sequences, out.scores, getattr(out, "beam_indices", None), normalize_logits=not beams
            )
        if given is not None:
            n_given = given.shape[1]
        else:  # a seq2seq output starts with the decoder's start token; a causal one repeats the prompt
            n_given = 1 if self.seq2seq else enc["input_ids"].shape[1]
        results: dict[str, float] = {}
        for seq, scores in zip(out.sequences, trans):
            tactic = (prefix + self._continuation(seq, n_given)).rstrip()
            if not prefix:
                tactic = tactic.lstrip()
            if not tactic or not tactic.startswith(prefix):  # a prefix ending in a space, with nothing after it
                continue
            finite = scores[torch.isfinite(scores)]
            logprob = float(finite.sum()) if len(finite) else 0.0
            if tactic not in results or logprob > results[tactic]:
                results[tactic] = logprob
        return sorted(results.items(), key=lambda kv: -kv[1])[:n]

    def _continuation(self, seq, n_given: int) -> str:
        """The text the model added after the ``n_given`` tokens it was given.

        Decoded with the given tokens and cut after their text, so that a
        space the tokenizer keeps in the first new token (``▁h``, ``Ġh``)
        stays: ``exact`` + `` h``, not ``exacth``.
        """
        decode = self.tokenizer.decode
        whole = decode(seq, skip_special_tokens=True)
        head = decode(seq[:n_given], skip_special_tokens=True)
        if whole.startswith(head):
            return whole[len(head):]
        return decode(seq[n_given:], skip_special_tokens=True)

    def encode(self, text: str) -> list[float]:
        """Mean-pooled encoder states (seq2seq models only), as LeanCopilot's ``/encode``."""
        if not self.seq2seq:
            raise NotImplementedError("only seq2seq generators can encode")
        torch = self._torch
        enc = self.tokenizer(text, return_tensors="pt", truncation=True, max_length=2048).to(self.device)
        with self._lock, torch.inference_mode():
            hidden = self.model.get_encoder()(**enc).last_hidden_state
        mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return ((hidden * mask).sum(1) / mask.sum(1))[0].float().tolist()
