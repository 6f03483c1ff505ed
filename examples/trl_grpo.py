"""GRPO with TRL on LeanProgress rewards: a tactic policy learns to propose tactics the model says finish sooner.

Each distinct (state, prefix) of a LeanProgress records file becomes a prompt (leanprogress.rl.grpo_rows); the
policy writes one tactic per completion; leanprogress.rl.trl.TRLReward scores the completions in one batch per
step (in this process from a model folder, or on a `leanprogress serve` server from its URL).

    python examples/trl_grpo.py --reward-model runs/model --dataset data/mathlib.jsonl --policy runs/policy \
        --output-dir runs/grpo

--policy is a causal LM: a folder, or a hub id already in the Hugging Face cache. Offline, build a tiny one with
`python examples/tiny_policy.py --dataset data/mathlib.jsonl --output runs/policy` (random weights: it checks the
pipeline); with internet, download one first (`huggingface-cli download Qwen/Qwen2.5-0.5B-Instruct --local-dir
runs/policy`). --reward-model is a model folder written by `leanprogress train`, or http://HOST:23337 (with
--api-key). Runs on a GPU in bf16 where there is one, else on the CPU. Needs `pip install 'leanprogress[rl]'`.
"""

from __future__ import annotations

import argparse
import sys


def policy_problem(policy: str) -> str | None:
    """Why ``policy`` cannot be loaded without a network (one line), or None: it must be a folder or a hub id in the
    local Hugging Face cache (no download is tried: offline, the hub client retries for half a minute)."""
    from pathlib import Path

    if Path(policy).is_dir():
        return None if (Path(policy) / "config.json").is_file() else f"--policy {policy}: no config.json in it"
    if "/" in policy and not Path(policy).exists():
        from huggingface_hub import try_to_load_from_cache

        if isinstance(try_to_load_from_cache(policy, "config.json"), str):
            return None
    return (f"--policy {policy} is not a model folder here, nor a hub id in the Hugging Face cache; offline, build "
            "a tiny one: python examples/tiny_policy.py --dataset DATA --output runs/policy; with internet, download "
            "one first: huggingface-cli download Qwen/Qwen2.5-0.5B-Instruct --local-dir runs/policy")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--reward-model", required=True, help="LeanProgress model folder or server URL")
    p.add_argument("--api-key", default=None, help="the reward server's API key")
    p.add_argument("--dataset", required=True, help="LeanProgress records (JSONL): the states to prompt with")
    p.add_argument("--policy", required=True, help="causal LM to train (a folder, or a hub id in the local cache)")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--form", default="bounded", choices=["bounded", "neg_steps", "close_probability"])
    p.add_argument("--conversational", action="store_true", help="chat prompts (the policy needs a chat template)")
    p.add_argument("--max-steps", type=int, default=100)
    p.add_argument("--num-generations", type=int, default=8, help="completions per prompt (GRPO's group)")
    p.add_argument("--batch-size", type=int, default=8, help="completions per device and step")
    p.add_argument("--max-completion-length", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=1e-6)
    args = p.parse_args(argv)

    from leanprogress.rl.trl import require_trl

    try:
        trl = require_trl()
    except ImportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    problem = policy_problem(args.policy)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    from pathlib import Path

    from datasets import Dataset

    from leanprogress.data.records import read_records
    from leanprogress.files import check_outputs
    from leanprogress.rl import grpo_rows
    from leanprogress.rl.trl import TRLReward

    import torch

    try:  # the policy's folder must hold no input: not the records, not a model it reads
        check_outputs([(flag, path) for flag, path in (("--dataset", args.dataset), ("--policy", args.policy),
                                                       ("--reward-model", args.reward_model)) if Path(path).exists()],
                      folders=[("--output-dir", args.output_dir)])
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    records, _ = read_records(args.dataset)
    rows = grpo_rows(records, conversational=args.conversational)
    reward = TRLReward(args.reward_model, form=args.form, api_key=args.api_key)
    config = trl.GRPOConfig(output_dir=args.output_dir, max_steps=args.max_steps, learning_rate=args.learning_rate,
                            per_device_train_batch_size=args.batch_size, num_generations=args.num_generations,
                            max_completion_length=args.max_completion_length, logging_steps=1, report_to="none",
                            save_strategy="no", beta=0.0,
                            # GRPOConfig defaults to bf16, which the Trainer refuses on a machine without a GPU.
                            use_cpu=not torch.cuda.is_available(),
                            bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    trainer = trl.GRPOTrainer(model=args.policy, reward_funcs=[reward], args=config,
                              train_dataset=Dataset.from_list(rows))
    trainer.train()
    trainer.save_model(args.output_dir)
    means = [h["rewards/leanprogress/mean"] for h in trainer.state.log_history if "rewards/leanprogress/mean" in h]
    print(f"{len(rows)} prompts, {len(means)} steps; mean reward per step: "
          + " ".join(f"{m:.3f}" for m in means))
    print(f"policy saved to {args.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
