"""Build a tiny causal LM offline, to run GRPO end to end where no model hub is reachable.

A GPT-2 of two small layers with random weights and a byte-level BPE tokenizer trained here on the dataset's
states and tactics (so that Lean text takes few tokens), with a chat template for conversational prompts. It writes
noise until it is trained: it is for checking a pipeline (TRL, the reward, the logs), not for proving anything. On
a machine with internet, take a real policy instead, e.g. `huggingface-cli download Qwen/Qwen2.5-0.5B-Instruct
--local-dir runs/policy`.

    python examples/tiny_policy.py --dataset data/mathlib.jsonl --output runs/policy
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")


def build_policy(folder: str | Path, texts: list[str], vocab_size: int = 400, n_layer: int = 2, n_embd: int = 32,
                 extra_tokens: list[str] | None = None, seed: int = 0) -> Path:
    """Write a tiny random GPT-2 and a BPE tokenizer trained on ``texts`` to ``folder``; returns it.

    Args:
        extra_tokens: strings made single tokens of the vocabulary (besides ``<pad>`` and the end token).
    """
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE())
    raw.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    raw.decoder = decoders.ByteLevel()
    raw.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<|end|>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=raw, pad_token="<pad>", eos_token="<|end|>", padding_side="left")
    if extra_tokens:
        tok.add_tokens(extra_tokens)
    tok.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(tok), n_positions=1024, n_embd=n_embd, n_layer=n_layer, n_head=2,
                        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=tok.eos_token_id)
    folder = Path(folder)
    GPT2LMHeadModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, help="LeanProgress records (JSONL): the text the tokenizer learns")
    p.add_argument("--output", required=True, help="folder to write (must not exist, or be empty)")
    args = p.parse_args(argv)
    out = Path(args.output)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        print(f"error: {out} exists and is not an empty folder; choose another --output", file=sys.stderr)
        return 2
    from leanprogress.data.records import read_records

    records, _ = read_records(args.dataset)
    texts = [r["goal"] + "\n" + (r.get("prefix") or "") + "\n" + r["tactic"] for r in records]
    build_policy(out, texts + ["simp omega rfl exact intro by", "```lean"])
    print(f"tiny random policy written to {out}: for plumbing only (it writes noise until trained)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
