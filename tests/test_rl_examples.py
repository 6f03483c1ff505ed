"""The verl and OpenRLHF commands of the docs and examples use keys and flags those frameworks have: verl's PPO
trainer config at volcengine/verl b178a3cd and OpenRLHF's train_ppo_ray flags at 3c3be623, listed in
tests/verl_ppo_trainer_keys.txt and tests/openrlhf_train_ppo_ray_flags.txt (read from those commits' sources)."""

import re
import shlex
from pathlib import Path

from test_readme import all_commands

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent


def listed(name):
    return {line.strip() for line in (HERE / name).read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")}


def verl_commands():
    commands = [c for c in all_commands() if c.startswith("python3 -m verl.trainer.main_ppo")]
    script = (ROOT / "examples/verl_grpo.sh").read_text(encoding="utf-8").replace("\\\n", " ")
    commands.append(script[script.index("python3 -m verl.trainer.main_ppo"):])
    return commands


def test_verl_commands_use_keys_of_verls_config():
    keys = listed("verl_ppo_trainer_keys.txt")
    commands = verl_commands()
    assert len(commands) == 3
    for command in commands:
        overrides = [w for w in shlex.split(command) if "=" in w and not w.startswith("-")]
        assert overrides
        for override in overrides:
            key = override.split("=", 1)[0]
            if key.startswith("+"):  # adds a key: its parent must exist
                assert key[1:].rsplit(".", 2)[0] in keys, override
            else:
                assert key in keys, f"{key} is not a key of verl's config (b178a3cd)"
        # The reward loop (on by default) has no batch manager: batch needs the loop off.
        if "reward_manager=batch" in command:
            assert "reward_model.use_reward_loop=False" in command
        else:
            assert re.search(r"reward_model\.reward_manager=(naive|dapo|rate_limited|remote)\b", command)


def test_openrlhf_commands_use_flags_openrlhf_has():
    flags = listed("openrlhf_train_ppo_ray_flags.txt")
    commands = [c for c in all_commands() if "openrlhf.cli.train_ppo_ray" in c]
    assert commands
    for command in commands:
        used = [w for w in shlex.split(command) if w.startswith("--")]
        assert "--reward.remote_url" in used and "--data.label_key" in used
        assert [f for f in used if f not in flags] == []
