"""verl on LeanProgress rewards: write the dataset verl trains on, and check the reward function on it.

Writes OUTPUT_DIR/train.parquet (and val.parquet): one row per distinct (state, prefix) of a LeanProgress records
file, in verl's layout (data_source, prompt as chat messages, ability, reward_model, extra_info with the state and
prefix that leanprogress.rl.verl.compute_score reads). Then it calls compute_score on the rows' recorded tactics
the way verl's batch reward manager does, and prints the mean reward, so that a wrong model path or a reward
server that does not answer shows here, before a cluster run.

    python examples/verl_reward.py --dataset data/mathlib.jsonl --reward-model runs/model --output-dir data/verl

Then train with verl (examples/verl_grpo.sh shows the reward settings).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", required=True, help="LeanProgress records (JSONL)")
    p.add_argument("--reward-model", required=True, help="LeanProgress model folder or server URL")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--val-ratio", type=float, default=0.1, help="share of the theorems written to val.parquet")
    p.add_argument("--seed", type=int, default=42)
    args = p.parse_args(argv)

    from pathlib import Path

    from datasets import Dataset

    from leanprogress.data.dataset import split_by_theorem
    from leanprogress.data.records import read_records
    from leanprogress.files import atomic_path, check_outputs
    from leanprogress.rl import policy_messages
    from leanprogress.rl.verl import compute_score, verl_row

    try:  # the parquet folder must hold no input
        check_outputs([(flag, path) for flag, path in (("--dataset", args.dataset), ("--reward-model",
                                                                                    args.reward_model))
                       if Path(path).exists()], folders=[("--output-dir", args.output_dir)])
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    records, _ = read_records(args.dataset)
    train, val = split_by_theorem(records, eval_ratio=args.val_ratio, seed=args.seed) if args.val_ratio else (records, [])
    out = Path(args.output_dir)
    for split, recs in (("train", train), ("val", val)):
        seen, rows = set(), []
        for r in recs:
            key = (r["goal"], r.get("prefix") or "", r.get("goal_state") or "")
            if key not in seen:
                seen.add(key)
                rows.append(verl_row(r, policy_messages(*key), index=len(rows), split=split))
        if not rows:
            continue
        with atomic_path(out / f"{split}.parquet") as tmp:
            Dataset.from_list(rows).to_parquet(str(tmp))
        print(f"{split}: {len(rows)} prompts -> {out / f'{split}.parquet'}")
        if split == "train":
            sample = rows[:64]
            scores = compute_score(data_sources=[r["data_source"] for r in sample],
                                   solution_strs=[r["reward_model"]["ground_truth"] for r in sample],
                                   ground_truths=[r["reward_model"]["ground_truth"] for r in sample],
                                   extra_infos=[r["extra_info"] for r in sample], model=args.reward_model)
            print(f"reward of the recorded tactics on {len(sample)} train prompts: mean {sum(scores) / len(scores):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
