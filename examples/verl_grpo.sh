#!/bin/sh
# GRPO with verl on LeanProgress rewards (needs verl, GPUs, and the dataset from examples/verl_reward.py).
# The reward model runs as a server on its own GPU (`LEANPROGRESS_MODEL=runs/model leanprogress serve --host 0.0.0.0`);
# REWARD_URL points at it. The batch reward manager scores a whole batch in one request per (state, prefix); it is
# a manager of verl's legacy reward path, so the reward loop (on by default in verl) is turned off. Keys checked
# against verl b178a3cd's config by tests/test_rl_examples.py.
set -eu
REWARD_URL=${REWARD_URL:-http://127.0.0.1:23337}
POLICY=${POLICY:-Qwen/Qwen2.5-0.5B-Instruct}
python3 -m verl.trainer.main_ppo \
    algorithm.adv_estimator=grpo \
    data.train_files=data/verl/train.parquet \
    data.val_files=data/verl/val.parquet \
    data.train_batch_size=64 \
    data.max_prompt_length=1024 \
    data.max_response_length=128 \
    actor_rollout_ref.model.path="$POLICY" \
    actor_rollout_ref.actor.optim.lr=1e-6 \
    actor_rollout_ref.actor.ppo_mini_batch_size=32 \
    actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=8 \
    actor_rollout_ref.rollout.name=vllm \
    actor_rollout_ref.rollout.n=8 \
    actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=8 \
    actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=8 \
    algorithm.use_kl_in_reward=False \
    reward_model.use_reward_loop=False \
    reward_model.reward_manager=batch \
    custom_reward_function.path=pkg://leanprogress.rl.verl \
    custom_reward_function.name=compute_score \
    +custom_reward_function.reward_kwargs.model="$REWARD_URL" \
    +custom_reward_function.reward_kwargs.form=bounded \
    trainer.logger='["console"]' \
    trainer.n_gpus_per_node=1 \
    trainer.nnodes=1 \
    trainer.total_epochs=1
