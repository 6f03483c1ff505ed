"""Every command the README and the documentation pages show runs, on tiny data and the tiny models of conftest.py.

How it works: every fenced block of README.md and of every docs/**/*.md page is read (indented fences too, as in
an admonition or a tab). Every ```bash (sh, shell, console) block is cut into commands (continuation lines joined,
comments dropped, `a && b` split, a `for ... done` loop kept whole), and every ```python block is taken whole. Each
command must be a key of COMMANDS (how the test runs it) or of NOT_RUN (why it cannot run here: Lean, a GPU,
installing packages); each python block must be a key of PYTHON_BLOCKS (by its first line; blocks of several pages
that share a first line all run). A command that is in neither table fails `test_every_readme_command_is_in_a_table`,
naming the page and line that shows it, and so does a table entry no page shows any more. A fenced block without a
language, or with a language in neither SHELL_LANGUAGES, PYTHON_LANGUAGES nor OTHER_LANGUAGES, fails too, so that no
command slips past the tables.

To cover a new command: copy it, exactly as the page writes it (one line, single spaces), into COMMANDS with a
`Run`: `extra` arguments make it fast here (the tiny model, one epoch, `{tiny}` stands for the tiny model's
folder), and `check` says what must hold afterwards. A command shown on several pages is one entry. Commands run in
a workspace that holds every file the pages assume you have (traces/random/train.json, proofs.jsonl, runs/model,
...; see `workspace`), in-process through `leanprogress.cli.main` (or `runpy` for `python -m`); `leanprogress
serve` runs for real in a subprocess: it starts, answers LeanCopilot's request, and stops. A command that talks to
a server (`curl ... :23337`) runs with one started for it.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import httpx
import pytest

from conftest import distribution_copy, make_theorem, state_after_copy
from serve_util import free_port

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

README_VARIABLES = {"STATE": "n : ℕ\n⊢ n + 0 = n", "SHARED": "shared/data"}
"""Shell variables the pages' commands use, as a reader would set them."""

SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
PYTHON_LANGUAGES = {"python", "py"}
OTHER_LANGUAGES = {"json", "jsonl", "lean", "text", "toml", "yaml", "ini", "html", "diff"}
"""Blocks in these languages show data, Lean or output: nothing the test runs."""


# ---------------------------------------------------------------- reading the pages
def doc_pages() -> list[Path]:
    """README.md and every page of the documentation site."""
    return [README, *sorted(DOCS.rglob("*.md"))]


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its language (the info string's first word, "" for none) and its text."""

    where: str
    language: str
    text: str


_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`\n]*)$")


def fenced_blocks(text: str, name: str = "<text>") -> list[Block]:
    """Every fenced code block of a markdown text, indented ones included, dedented."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, start = m.group("fence"), i
        language = (m.group("info").split() or [""])[0].lower().lstrip(".{").rstrip("}")
        body = []
        i += 1
        while i < len(lines):
            close = _FENCE.match(lines[i])
            if close and close.group("fence")[0] == fence[0] and len(close.group("fence")) >= len(fence) \
                    and not close.group("info").strip():
                break
            body.append(lines[i])
            i += 1
        blocks.append(Block(f"{name}:{start + 1}", language, textwrap.dedent("\n".join(body) + "\n")))
        i += 1
    return blocks


def block_commands(block: str) -> list[str]:
    """The shell commands of one bash block, one string each, whitespace collapsed."""
    commands: list[str] = []
    logical, pending = [], ""
    for raw in block.splitlines():
        line = _strip_comment(raw)
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        if line.strip():
            logical.append(" ".join(line.split()))
    loop: list[str] = []
    for line in logical:
        if loop or line.startswith(("for ", "while ")):
            loop.append(line)
            if line == "done":
                commands.append(" ".join(loop[:-1]) + "; done")
                loop = []
            continue
        commands += [part.strip() for part in line.split(" && ")]
    return commands


def _strip_comment(line: str) -> str:
    """``line`` without a trailing ``# comment`` (a ``#`` inside quotes stays)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def readme_commands(text: str) -> list[str]:
    """The shell commands of a page's bash blocks, one string each, whitespace collapsed."""
    return [c for b in fenced_blocks(text) if b.language in SHELL_LANGUAGES for c in block_commands(b.text)]


def readme_python_blocks(text: str) -> list[str]:
    return [b.text for b in fenced_blocks(text) if b.language in PYTHON_LANGUAGES]


def all_blocks() -> list[Block]:
    """The fenced blocks of README.md and every docs page."""
    return [b for page in doc_pages()
            for b in fenced_blocks(page.read_text(encoding="utf-8"), str(page.relative_to(ROOT)))]


def all_commands() -> dict[str, list[str]]:
    """Every shell command of the pages -> where it is shown (``page:line`` of its block)."""
    shown: dict[str, list[str]] = {}
    for b in all_blocks():
        if b.language in SHELL_LANGUAGES:
            for c in block_commands(b.text):
                shown.setdefault(c, []).append(b.where)
    return shown


def all_python_blocks() -> dict[str, list[Block]]:
    """Every python block of the pages, by its first line."""
    blocks: dict[str, list[Block]] = {}
    for b in all_blocks():
        if b.language in PYTHON_LANGUAGES:
            blocks.setdefault(b.text.strip().splitlines()[0], []).append(b)
    return blocks


# ---------------------------------------------------------------- the tables
@dataclass(frozen=True)
class Run:
    """How the test runs one README command.

    Attributes:
        extra: arguments appended to keep it fast on tiny data; ``{tiny}`` is the tiny model's folder.
        check: ``check(workspace, output)`` asserts what must hold after the command ran.
        server: a ``leanprogress serve`` command: started in a subprocess, asked LeanCopilot's request, stopped.
        client: a command that talks to a server on 127.0.0.1:23337; it runs against one started for it.
    """

    extra: tuple[str, ...] = ()
    check: Callable[[Path, str], None] | None = None
    server: bool = False
    client: bool = False


def records(path: str, at_least: int = 1) -> Callable[[Path, str], None]:
    def check(ws: Path, out: str) -> None:
        rows = [json.loads(l) for l in (ws / path).read_text(encoding="utf-8").splitlines()]
        assert len(rows) >= at_least and all({"goal", "tactic", "steps_remaining"} <= set(r) for r in rows)

    return check


def model_folder(path: str) -> Callable[[Path, str], None]:
    def check(ws: Path, out: str) -> None:
        names = {p.name for p in (ws / path).iterdir()}
        assert {"model.safetensors", "leanprogress_config.json", "tactic_corpus.jsonl"} <= names
        assert f"model saved to {path}" in out

    return check


def output_has(*texts: str) -> Callable[[Path, str], None]:
    def check(ws: Path, out: str) -> None:
        for text in texts:
            assert text in out, f"{text!r} not in the output:\n{out}"

    return check


def file_of(path: str, min_bytes: int) -> Callable[[Path, str], None]:
    def check(ws: Path, out: str) -> None:
        assert (ws / path).stat().st_size >= min_bytes

    return check


def json_keys(*keys: str) -> Callable[[Path, str], None]:
    def check(ws: Path, out: str) -> None:
        assert set(keys) <= set(json.loads(out))

    return check


def encoder_kind(path: str, kind: str) -> Callable[[Path, str], None]:
    def check(ws: Path, out: str) -> None:
        assert json.loads((ws / path / "leanprogress_config.json").read_text())["encoder_kind"] == kind

    return check


def all_of(*checks: Callable[[Path, str], None]) -> Callable[[Path, str], None]:
    def check(ws: Path, out: str) -> None:
        for c in checks:
            c(ws, out)

    return check


def ranked_json(ws: Path, out: str) -> None:
    ranked = json.loads(out)
    assert sorted(r["tactic"] for r in ranked) == ["induction n", "omega", "simp"]
    assert [r["steps_remaining"] for r in ranked] == sorted(r["steps_remaining"] for r in ranked)


def quickstart_table(out: str) -> None:
    """The ranking quickstart prints: one row per candidate, no trailing padding, a multi-line tactic says so."""
    assert "1 epochs" not in out
    table = out[out.index("rank  steps left"):].split("\n\n")[0].splitlines()
    assert len(table) == 6 and not [line for line in table if line != line.rstrip()], table
    assert any(line.endswith("induction c with  (+2 more lines)") for line in table), table


def leancopilot_answer(ws: Path, out: str) -> None:
    outputs = json.loads(out)["outputs"]
    assert outputs and all(isinstance(o["output"], str) and 0 < o["score"] <= 1 for o in outputs)


TINY_TRAIN = ("--model-name", "{tiny}", "--epochs", "1", "--max-length", "64", "--batch-size", "8",
              "--precision", "fp32")

COMMANDS: dict[str, Run] = {
    # top of the README
    ".venv/bin/leanprogress quickstart": Run(
        extra=("--model-name", "{tiny}", "--epochs", "1"),
        check=all_of(output_has("== 4/4 rank candidate tactics", "steps left", " for 1 epoch -> "),
                     lambda ws, out: quickstart_table(out))),
    # Data
    "leanprogress build-dataset traces/random/train.json --output data/mathlib.jsonl": Run(
        check=records("data/mathlib.jsonl", at_least=40)),
    "leanprogress build-dataset --from-proofs proofs.jsonl --output data/minif2f.jsonl": Run(
        check=records("data/minif2f.jsonl", at_least=2)),
    "leanprogress build-dataset --from-lean-source path/to/project --output data/project.jsonl": Run(
        check=records("data/project.jsonl", at_least=2)),
    "leanprogress split --dataset data/mathlib.jsonl --output-dir data/split --eval-ratio 0.2": Run(
        check=all_of(records("data/split/train.jsonl"), records("data/split/eval.jsonl"))),
    "python -m leanprogress.create_sample_dataset --output data/sample.jsonl": Run(
        check=records("data/sample.jsonl", at_least=3)),
    # Training
    "leanprogress train --dataset data/mathlib.jsonl --output-dir runs/model": Run(
        extra=TINY_TRAIN, check=model_folder("runs/model")),
    "python -m leanprogress.train_steps_model --dataset data/mathlib.jsonl --output-dir runs/model": Run(
        extra=TINY_TRAIN, check=model_folder("runs/model")),
    "leanprogress train --dataset data/mathlib.jsonl --dataset data/workbook.jsonl:0.3 --output-dir runs/mixed": Run(
        extra=TINY_TRAIN, check=model_folder("runs/mixed")),
    "leanprogress train --dataset data/mathlib.jsonl --ranking-weight 1 --ranking-negatives 3 --output-dir "
    "runs/ranked": Run(extra=TINY_TRAIN, check=all_of(model_folder("runs/ranked"), output_has("ranking objective"))),
    # Training: the competition recipe
    "leanprogress build-dataset --from-lean-source $SHARED/lean-workbook-plus-proofs/proofs.jsonl --step-order search "
    "--output data/workbook.jsonl": Run(check=records("data/workbook.jsonl", at_least=12)),
    "leanprogress build-dataset $SHARED/mathlib4-leandojo-sample/random_test.json --output data/mathlib.jsonl": Run(
        check=records("data/mathlib.jsonl", at_least=40)),
    "leanprogress train --dataset data/workbook.jsonl --dataset data/mathlib.jsonl --head distribution "
    "--point-estimate mode --max-length 128 --epochs 1 --batch-size 32 --output-dir runs/competition": Run(
        extra=TINY_TRAIN, check=model_folder("runs/competition")),
    "leanprogress train --dataset data/workbook.jsonl --dataset data/mathlib.jsonl --head distribution "
    "--point-estimate mode --max-length 128 --epochs 1 --batch-size 32 --encoder-kind group --output-dir "
    "runs/competition-group": Run(extra=TINY_TRAIN, check=all_of(model_folder("runs/competition-group"),
                                                                 encoder_kind("runs/competition-group", "group"))),
    # Scoring
    'leanprogress score --model runs/model --state "$STATE" --tactic simp --tactic omega --tactic "induction n" '
    '--json': Run(check=ranked_json),
    # Evaluation
    "leanprogress evaluate --model runs/model --dataset runs/model/eval_split.jsonl --plot eval.png": Run(
        check=all_of(output_has("best constant", "plot written to eval.png"), file_of("eval.png", 1000))),
    "leanprogress evaluate --model runs/model --dataset data/minif2f.jsonl --json": Run(
        check=json_keys("mae", "spearman", "best_constant")),
    # Serving
    "LEANPROGRESS_MODEL=runs/model leanprogress serve": Run(server=True),
    "LEANPROGRESS_MODEL=runs/model leanprogress serve --retrieval-corpus data/mathlib.jsonl --reward-default "
    "retrieval": Run(server=True),
    "curl -s -X POST http://127.0.0.1:23337/generate -H 'Content-Type: application/json' -d '{\"name\": "
    "\"retrieval\", \"input\": \"n : ℕ\\n⊢ n + 0 = n\", \"prefix\": \"\"}'": Run(client=True, check=leancopilot_answer),
    # Search
    "leanprogress prove --theorems traces/random/test.json --output results.jsonl": Run(
        extra=("--max-expansions", "8"), check=output_has("proved")),
    "leanprogress prove --theorems traces/random/test.json --output results.jsonl --model runs/model": Run(
        extra=("--max-expansions", "8"), check=output_has("proved")),
    "leanprogress prove --theorems traces/random/test.json --output results-ray.jsonl --workers 2": Run(
        extra=("--max-expansions", "8"), check=output_has("proved 12/12")),
    "leanprogress export-proofs --results results.jsonl --output data/found.jsonl": Run(
        check=records("data/found.jsonl")),
    'leanprogress predict-steps --model runs/model --state "$STATE" --tactic simp': Run(
        check=output_has("steps left after `simp`")),
    'leanprogress predict-steps --model runs/state-model --state "$STATE" --prefix "intro n"': Run(
        check=output_has("steps left from this state")),
    # Benchmarks
    "leanprogress build-dataset leandojo_benchmark_4/random/train.json --goal-from state_after --output "
    "data/after.jsonl": Run(check=records("data/after.jsonl", at_least=40)),
    "leanprogress train --dataset data/after.jsonl --output-dir runs/state-model": Run(
        extra=TINY_TRAIN, check=model_folder("runs/state-model")),
    # RL rewards (runs/policy: the tiny GPT-2 of tests/rl_util.py)
    # runs/policy exists in the workspace (the example refuses to write over a folder): the last --output wins.
    "python examples/tiny_policy.py --dataset data/mathlib.jsonl --output runs/policy": Run(
        extra=("--output", "runs/policy-new"),
        check=all_of(output_has("tiny random policy written to runs/policy-new"),
                     file_of("runs/policy-new/model.safetensors", 1000))),
    "python examples/trl_grpo.py --reward-model runs/model --dataset data/mathlib.jsonl --policy runs/policy "
    "--output-dir runs/grpo": Run(
        extra=("--max-steps", "2", "--num-generations", "4", "--batch-size", "4", "--max-completion-length", "8"),
        check=all_of(output_has("policy saved to runs/grpo", "2 steps; mean reward per step"),
                     file_of("runs/grpo/model.safetensors", 1000))),
    "python examples/verl_reward.py --dataset data/mathlib.jsonl --reward-model runs/model --output-dir data/verl": Run(
        check=all_of(output_has("reward of the recorded tactics"), file_of("data/verl/train.parquet", 1000),
                     file_of("data/verl/val.parquet", 1000))),
}

NOT_RUN: dict[str, str] = {
    "python3 -m venv .venv": "sets up the environment; CI runs it on a clean clone",
    ".venv/bin/pip install torch==2.13.0 -e .": "installs packages; CI installs the same on a clean clone",
    ".venv/bin/pip install torch==2.13.0 -e '.[test]'": "installs packages; CI runs it on a clean clone",
    ".venv/bin/python -m pytest -q": "runs this test suite",
    "pip install 'leanprogress[lean-dojo]'": "installs packages (LeanDojo, which needs Lean)",
    "pip install 'leanprogress[ray]'": "installs packages (Ray; the test extra has it)",
    "pip install 'leanprogress[rl]'": "installs packages (TRL; the test extra has it)",
    "python3 -m verl.trainer.main_ppo algorithm.adv_estimator=grpo data.train_files=data/verl/train.parquet "
    "data.val_files=data/verl/val.parquet actor_rollout_ref.model.path=Qwen/Qwen2.5-0.5B-Instruct "
    "actor_rollout_ref.rollout.n=8 reward_model.reward_manager=naive custom_reward_function.path=pkg://leanprogress."
    "rl.verl custom_reward_function.name=compute_score +custom_reward_function.reward_kwargs.model=http://reward-node:"
    "23337": "needs verl, GPUs and a model hub; tests/test_rl_verl.py calls compute_score as verl's reward managers do, "
    "tests/test_rl_examples.py checks its keys against verl's config",
    "python3 -m verl.trainer.main_ppo algorithm.adv_estimator=grpo data.train_files=data/verl/train.parquet "
    "data.val_files=data/verl/val.parquet actor_rollout_ref.model.path=Qwen/Qwen2.5-0.5B-Instruct "
    "actor_rollout_ref.rollout.n=8 reward_model.use_reward_loop=False reward_model.reward_manager=batch "
    "custom_reward_function.path=pkg://leanprogress.rl.verl custom_reward_function.name=compute_score "
    "+custom_reward_function.reward_kwargs.model=http://reward-node:23337": "needs verl, GPUs and a model hub; "
    "tests/test_rl_verl.py calls compute_score as verl's reward managers do, tests/test_rl_examples.py checks its "
    "keys against verl's config",
    "python3 -m openrlhf.cli.train_ppo_ray --actor.model_name_or_path Qwen/Qwen2.5-0.5B-Instruct --reward.remote_url "
    "http://lp:KEY@reward-node:23337/get_reward --data.prompt_dataset data/openrlhf.jsonl --data.input_key prompt "
    "--data.label_key label --data.apply_chat_template --algo.advantage.estimator group_norm "
    "--rollout.n_samples_per_prompt 8": "needs OpenRLHF, Ray and GPUs; tests/test_rl_service.py posts to /get_reward "
    "as OpenRLHF does (aiohttp, the key in the URL), tests/test_rl_examples.py checks its flags against OpenRLHF's",
    "leanprogress prove --backend lean-interact --theorems statements.jsonl --project-dir path/to/mathlib-project "
    "--generator config --generator-config '{\"kind\": \"hf\", \"model\": \"/models/tacgen\", \"num_beams\": 32}' "
    "--model runs/model --output results.jsonl": "needs Lean (a Lake project with Mathlib); tests/test_backends.py runs "
    "this backend against a stand-in Lean process",
    "leanprogress prove --backend lean-dojo --theorems leandojo_benchmark_4/random/test.json --generator retrieval "
    "--corpus data/mathlib.jsonl --model runs/model --output results.jsonl": "needs Lean (LeanDojo)",
    "leanprogress prove --backend lean-dojo --theorems leandojo_benchmark_4/random/test.json --generator config "
    "--generator-config '{\"kind\": \"hf\", \"model\": \"/models/tacgen\", \"num_beams\": 32}' --model runs/model "
    "--workers 64 --ray-address auto --shared-scorer --scorer-gpus 1 --output results.jsonl":
        "needs Lean (LeanDojo) and a Ray cluster with a GPU",
    "torchrun --nproc_per_node 4 -m leanprogress.train_steps_model --dataset data/mathlib.jsonl --output-dir "
    "runs/model": "needs 4 GPUs; tests/test_trainer.py runs torchrun with 2 CPU processes (gloo)",
    "accelerate launch --multi_gpu --num_processes 4 -m leanprogress.train_steps_model --dataset data/mathlib.jsonl "
    "--output-dir runs/model": "needs 4 GPUs; tests/test_trainer.py runs accelerate launch with 2 CPU processes",
    "python benchmarks/bench_search.py --budgets 16,32 --seeds 5 --modes tactic --workbook 700 --search-weight 4 "
    "--lookup --variant name=steps --variant name=search-dist,order=search,head=distribution --variant "
    "name=search-dist-ranked,order=search,head=distribution,ranking=1,negatives=1 --alphas "
    "0.1,0.2,0.3,0.5,0.7,0.8,0.9,1.0 --json out.json": "a benchmark on the shared data (about 20 min on the 2-core "
    "machine); tests/test_bench_search.py checks its variants, figures and scorers",
    "python benchmarks/bench_competition.py --seeds 42,7,1 --json results.json --variant name=default,"
    "workbook_theorems=2000,head=regression,order=leandojo --variant name=recipe,workbook_theorems=2000": "a "
    "benchmark on the shared data (about 25 min on the 2-core machine); tests/test_bench_competition.py checks its "
    "split, runs and summary",
    "python benchmarks/bench_competition.py --summary results.json --reference default": "reads the --json of the "
    "benchmark above; tests/test_bench_competition.py checks the summary and the decision",
    "python benchmarks/bench_competition.py --selection-summary results.json": "reads the --json of the benchmark "
    "above; tests/test_bench_competition.py checks the summary",
    "python benchmarks/bench_competition.py --seeds 42,7,1 --json protocol.json --variant name=recipe,"
    "workbook_theorems=2000": "a benchmark on the shared data (about 15-25 min a run on the 2-core machine); "
    "tests/test_bench_competition.py checks its selection and reporting sets, runs and summary",
    "python benchmarks/bench_competition.py --seeds 42 --json protocol.json --variant name=prior,workbook_theorems=2000,"
    "prior=lookup --variant name=cw05,workbook_theorems=2000,class_weight=0.5": "a benchmark on the shared data; "
    "tests/test_trainer.py trains a head-prior model and checks the class weights",
    "python benchmarks/bench_competition.py --summary protocol.json": "reads the --json of the benchmark above; "
    "tests/test_bench_competition.py checks the summary",
    "python benchmarks/bench_competition.py --summary protocol.json --report recipe": "reads the --json of the "
    "benchmark above; tests/test_bench_competition.py checks that the reporting set is printed for one variant and "
    "recorded as read",
    "python benchmarks/bench_scoring.py --model runs/model --repeats 1": "a benchmark on the shared data's search "
    "states; tests/test_benchmarks.py runs its scorers on a tiny distribution-head model",
    "python benchmarks/bench_search.py --budgets 16,32 --seeds 5 --modes tactic --workbook 700 --search-weight 4 "
    "--lookup --variant name=dist-mode,order=search,head=distribution,rank=mode --variant name=dist-mean,order=search,"
    "head=distribution,rank=mean --variant name=dist-median,order=search,head=distribution,rank=median --variant "
    "name=dist-close,order=search,head=distribution,rank=close --alphas 0.5,0.9,1.0 --json out.json --models "
    "runs/replay-models": "a benchmark on the shared data (about 40 min on the 2-core machine); "
    "tests/test_bench_search.py checks the rank variants and that one scorer serves them",
    "python benchmarks/bench_competition.py --export-encoder runs/gpu/encoder": "a benchmark helper that writes "
    "45 MB; the encoder it exports is the bundled one the other tests load",
    "for a in 0 0.2 1.0; do leanprogress prove --backend lean-dojo --theorems leandojo_benchmark_4/random/test.json "
    "--generator config --generator-config '{\"kind\": \"hf\", \"model\": \"/models/reprover-tacgen\", "
    "\"num_beams\": 64}' --num-candidates 64 --model runs/state-model --alpha $a --max-env-calls 512 --workers 32 "
    "--ray-address auto --output results-alpha$a.jsonl; done": "needs Lean (LeanDojo), a Ray cluster and, at this "
    "size, a GPU",
}

PYTHON_BLOCKS: dict[str, dict[str, str]] = {
    # first line of the block -> {text in the block: what the test runs instead} (each must be found)
    "from leanprogress import ProgressDataset, ProgressTrainer, ProgressTrainingArguments": {
        'ProgressTrainingArguments(output_dir="runs/model")':
            'ProgressTrainingArguments(output_dir="runs/model", model_name=TINY, epochs=1, max_length=64, '
            'precision="fp32")',
    },
    "from leanprogress import LeanProgressScorer, reward": {},
    "from leanprogress.rl import ProgressReward": {},
    "from leanprogress.rl import ProgressReward, RewardServiceError": {  # scored in process: no server in this test
        '"http://127.0.0.1:23337"': '"runs/model"'},
    "from leanprogress.rl.gate import KiminaGate": {},
    "import torch": {},  # runs as printed: the page's own settings run on a CPU
    "import json": {},
    "from leanprogress import LeanProgressScorer": {},
    "from leanprogress import (LeanProgressScorer, ProgressDataset, ProgressTrainer, ProgressTrainingArguments,": {},
}


# ---------------------------------------------------------------- the workspace
@pytest.fixture(scope="module")
def workspace(tmp_path_factory, trained_tiny):
    """A folder holding every file the pages' commands assume the reader has."""
    from leanprogress.data.leandojo import records_from_theorem
    from leanprogress.data.records import write_records
    from leanprogress.search.prover import SearchResult

    ws = tmp_path_factory.mktemp("readme")
    theorems = [make_theorem(f"T.thm{i}", 1 + i % 6) for i in range(12)]
    for folder in ("traces/random", "leandojo_benchmark_4/random"):
        (ws / folder).mkdir(parents=True)
        for split in ("train", "test"):
            (ws / folder / f"{split}.json").write_text(json.dumps(theorems, ensure_ascii=False), encoding="utf-8")
    (ws / "proofs.jsonl").write_text("".join(json.dumps(
        {"name": f"p{i}", "goal": f"x : ℕ\n⊢ x + {i} = {i} + x",
         "proof": f"theorem p{i} (x : ℕ) : x + {i} = {i} + x := by\n  rw [Nat.add_comm]\n  rfl\n"},
        ensure_ascii=False) + "\n" for i in range(3)), encoding="utf-8")
    (ws / "path/to/project").mkdir(parents=True)
    (ws / "path/to/project/A.lean").write_text(
        "theorem a (p : Prop) (hp : p) : p := by\n  have h := hp\n  exact h\n", encoding="utf-8")
    records = [r for t in theorems for r in records_from_theorem(t, source="mathlib")]
    write_records(records, ws / "data/mathlib.jsonl")
    # The shared data's layout, for the recipe's commands ($SHARED).
    shared = ws / "shared/data"
    for folder in ("lean-workbook-plus-proofs", "mathlib4-leandojo-sample", "minif2f-valid-search-traces"):
        (shared / folder).mkdir(parents=True)
    (shared / "lean-workbook-plus-proofs/proofs.jsonl").write_text("".join(json.dumps(
        {"name": f"lean_workbook_plus_{i}", "text": f"theorem lean_workbook_plus_{i} (x : ℕ) : x * {i} = {i} * x "
         f":= by\n  rw [Nat.mul_comm]\n  rfl"}, ensure_ascii=False) + "\n" for i in range(6)), encoding="utf-8")
    for name in ("mathlib4-leandojo-sample/random_test.json", "minif2f-valid-search-traces/traces.json"):
        shutil.copy(ws / "traces/random/test.json", shared / name)
    write_records([dict(r, theorem=f"W.{r['theorem']}", source="workbook") for r in records], ws / "data/workbook.jsonl")
    write_records([dict(r, source="minif2f") for r in records[:8]], ws / "data/minif2f.jsonl")
    shutil.copytree(trained_tiny[0], ws / "runs/model", ignore=shutil.ignore_patterns("checkpoints"))
    distribution_copy(trained_tiny[0], ws / "runs/dist-model")  # the README snippet needs its API, not skill
    state_after_copy(trained_tiny[0], ws / "runs/state-model")  # what `train --dataset data/after.jsonl` writes
    write_records(trained_tiny[2], ws / "runs/model/eval_split.jsonl")
    from rl_util import build_policy

    build_policy(ws / "runs/policy")
    t = theorems[2]
    steps = t["traced_tactics"]
    proved = SearchResult(theorem=t["full_name"], status="proved", proof=[s["tactic"] for s in steps],
                          states=[s["state_before"] for s in steps])
    (ws / "results.jsonl").write_text(json.dumps(asdict(proved), ensure_ascii=False) + "\n", encoding="utf-8")
    return ws


# ---------------------------------------------------------------- running commands
def _words(command: str, tiny: Path, extra: tuple[str, ...] = ()) -> tuple[dict[str, str], list[str]]:
    """Environment assignments and argv of a README command, ``$VARS`` expanded, ``extra`` appended."""
    words = shlex.split(command)
    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    expand = lambda w: re.sub(r"\$\{?([A-Z_][A-Z0-9_]*)\}?", lambda m: README_VARIABLES[m.group(1)], w)
    return env, [expand(w) for w in words] + [e.format(tiny=tiny) for e in extra]


def _run_in_process(argv: list[str], env: dict[str, str], monkeypatch) -> int:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    program = Path(argv[0]).name
    if program == "leanprogress":
        from leanprogress.cli import main

        return main(argv[1:])
    if program in ("python", "python3") and argv[1].startswith("examples/"):
        monkeypatch.setattr(sys, "argv", argv[1:])
        try:
            runpy.run_path(str(ROOT / argv[1]), run_name="__main__")
        except SystemExit as exc:
            return exc.code or 0
        return 0
    if program in ("python", "python3") and argv[1] == "-m":
        monkeypatch.setattr(sys, "argv", [argv[2], *argv[3:]])
        try:
            with warnings.catch_warnings():  # "found in sys.modules": the test process imported it already
                warnings.simplefilter("ignore", RuntimeWarning)
                runpy.run_module(argv[2], run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            return exc.code or 0
        return 0
    raise AssertionError(f"the test cannot run {argv[0]!r}: add how to COMMANDS' runner")


class Server:
    """A README ``serve`` command running for real, on a free port."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        assert Path(argv[0]).name == "leanprogress" and argv[1] == "serve"
        command = [sys.executable, "-m", "leanprogress.cli", *argv[1:], "--port", str(self.port)]
        self.process = subprocess.Popen(command, cwd=cwd, env={**os.environ, **env}, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True)

    def wait_until_up(self, timeout: float = 240) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited with {self.process.returncode}:\n{self.process.stdout.read()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise AssertionError("the server did not come up")

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError("the server did not stop on SIGINT")
        return self.process.stdout.read()


@pytest.fixture(scope="module")
def model_server(workspace, trained_tiny):
    """``leanprogress serve`` with the README's model, for commands that talk to a server."""
    server = Server(["leanprogress", "serve"], {"LEANPROGRESS_MODEL": "runs/model"}, workspace)
    try:
        server.wait_until_up()
        yield server
    finally:
        server.stop()


# ---------------------------------------------------------------- the tests
def test_every_readme_command_is_in_a_table():
    shown = all_commands()
    assert shown, "no commands found in the README and the docs pages"
    both = sorted(set(COMMANDS) & set(NOT_RUN))
    assert not both, f"in both COMMANDS and NOT_RUN: {both}"
    missing = [f"{c}\n    (shown at {', '.join(where)})" for c, where in shown.items()
               if c not in COMMANDS and c not in NOT_RUN]
    assert not missing, ("commands of the README or the docs that no test runs; add each to COMMANDS (how to run "
                         "it here) or NOT_RUN (why it cannot run: Lean, a GPU, installing):\n" + "\n".join(missing))
    stale = [c for c in [*COMMANDS, *NOT_RUN] if c not in shown]
    assert not stale, "table entries no page shows any more:\n" + "\n".join(stale)
    blocks = all_python_blocks()
    unlisted = [f"{first} (at {', '.join(b.where for b in bs)})" for first, bs in blocks.items()
                if first not in PYTHON_BLOCKS]
    assert not unlisted, "python blocks no test runs; add their first line to PYTHON_BLOCKS:\n" + "\n".join(unlisted)
    stale = [first for first in PYTHON_BLOCKS if first not in blocks]
    assert not stale, "PYTHON_BLOCKS entries no page shows any more:\n" + "\n".join(stale)


def test_every_fenced_block_names_a_known_language():
    known = SHELL_LANGUAGES | PYTHON_LANGUAGES | OTHER_LANGUAGES
    unknown = [f"{b.where}: {b.language or '(no language)'}" for b in all_blocks() if b.language not in known]
    assert not unknown, ("fenced blocks the command tables cannot classify; give each a language (bash for "
                         "commands, python for code, text for output), or add a new language to "
                         "SHELL_LANGUAGES or OTHER_LANGUAGES:\n" + "\n".join(unknown))


def test_every_docs_page_is_read():
    names = {str(p.relative_to(ROOT)) for p in doc_pages()}
    assert {"README.md", "docs/index.md", "docs/guides/data.md", "docs/reference/cli.md"} <= names
    assert all(b.where.split(":")[0] in names for b in all_blocks())


def test_readme_commands_are_split_as_a_shell_would():
    text = ("```bash\n# comment\nleanprogress a --x 1   # trailing\nleanprogress b \\\n    --y '#not a comment'\n"
            "python3 -m venv .venv && .venv/bin/pip install -e .\nfor a in 0 1; do\n  leanprogress c --a $a\ndone\n```\n"
            "```lean\nnot a command\n```\n")
    assert readme_commands(text) == ["leanprogress a --x 1", "leanprogress b --y '#not a comment'",
                                     "python3 -m venv .venv", ".venv/bin/pip install -e .",
                                     "for a in 0 1; do leanprogress c --a $a; done"]


def test_fenced_blocks_inside_admonitions_and_longer_fences_are_read():
    text = ("!!! tip\n    Run:\n\n    ```bash\n    leanprogress a\n    ```\n\n"
            "````markdown\n```bash\nnot a block of its own\n```\n````\n"
            "~~~ python title=\"x.py\"\nprint(1)\n~~~\n```\nuntagged\n```\n")
    blocks = fenced_blocks(text, "page.md")
    assert [(b.where, b.language) for b in blocks] == [("page.md:4", "bash"), ("page.md:8", "markdown"),
                                                       ("page.md:13", "python"), ("page.md:16", "")]
    assert readme_commands(text) == ["leanprogress a"]
    assert blocks[1].text == "```bash\nnot a block of its own\n```\n"
    assert readme_python_blocks(text) == ["print(1)\n"]


@pytest.mark.parametrize("command", list(COMMANDS), ids=lambda c: c[:70])
def test_readme_command_runs(command, workspace, trained_tiny, tiny_model, monkeypatch, capsys, request):
    if command not in all_commands():
        pytest.fail("no page shows this command any more: remove it from COMMANDS")
    run = COMMANDS[command]
    env, argv = _words(command, tiny_model, run.extra)
    monkeypatch.chdir(workspace)
    if run.server:
        server = Server(argv, env, workspace)
        try:
            server.wait_until_up()
            state = make_theorem("T.thm3", 4)["traced_tactics"][1]["state_before"]
            r = httpx.post(server.url + "/generate", json={"name": "retrieval", "input": state, "prefix": ""},
                           timeout=60)
            assert r.status_code == 200, r.text
            leancopilot_answer(workspace, r.text)
            assert all("steps_remaining" in o for o in r.json()["outputs"])  # ranked by the model by default
        finally:
            out = server.stop()
        assert server.process.returncode == 0, out
        assert "LeanProgress server on" in out and "Traceback" not in out
        return
    if run.client:
        if shutil.which(argv[0]) is None:
            pytest.skip(f"{argv[0]} is not installed")
        server = request.getfixturevalue("model_server")
        argv = [w.replace("127.0.0.1:23337", f"127.0.0.1:{server.port}") for w in argv]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout
    else:
        rc = _run_in_process(argv, env, monkeypatch)
        out = capsys.readouterr().out
        assert rc == 0, out
    if run.check is not None:
        run.check(workspace, out)


@pytest.mark.parametrize("first_line", list(PYTHON_BLOCKS), ids=lambda l: l[:50])
def test_readme_python_block_runs(first_line, workspace, tiny_model, monkeypatch):
    blocks = all_python_blocks().get(first_line)
    if not blocks:
        pytest.fail("no page has this python block any more: remove it from PYTHON_BLOCKS")
    replacements = PYTHON_BLOCKS[first_line]
    for old in replacements:
        assert any(old in b.text for b in blocks), f"{old!r} is no longer in the block: update PYTHON_BLOCKS"
    monkeypatch.chdir(workspace)
    for block in blocks:
        code = block.text
        for old, new in replacements.items():
            code = code.replace(old, new)
        # Only TINY is given (it stands in for a folder a replacement names): every block defines what it uses,
        # so a reader can paste it whole.
        exec(compile(code, block.where, "exec"), {"TINY": str(tiny_model)})


def test_the_tour_says_how_its_commands_run_and_where_its_traces_come_from():
    # A fresh clone's set-up command does not put `leanprogress` on PATH, and the tour's traces/random/train.json is
    # not shipped: the README says to activate the environment and where the traces come from.
    from leanprogress.data.examples import example_traces_path

    text = README.read_text(encoding="utf-8")
    tour = text[text.index("## A tour in commands"):]
    assert "source .venv/bin/activate" in tour and ".venv/bin/leanprogress" in tour
    assert "[LeanDojo Benchmark 4](https://zenodo.org/record/8040110)" in tour
    bundled = re.search(r"`(src/leanprogress/data/examples/[\w.]+\.json)`", tour).group(1)
    assert (ROOT / bundled).resolve() == example_traces_path().resolve()
    # still exactly two commands for a fresh machine, before the tour
    setup = [b for b in fenced_blocks(text[: text.index("## A tour in commands")], "README.md")
             if b.language in SHELL_LANGUAGES]
    assert [b.text.strip().split(" && ")[-1] for b in setup] == [".venv/bin/leanprogress quickstart",
                                                                  ".venv/bin/python -m pytest -q"]
