import json
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

STATE_1 = "a b : ℕ\nh₀ : a ≤ b\n⊢ a < b + 1"


def make_theorem(name, n, file_path="Test/File.lean"):
    """A LeanDojo-style theorem with n traced tactics and distinct states."""
    states = [f"x y : ℕ\nh{i} : x + {i} ≤ y\n⊢ {name} x * {i} ≤ y ∧ ∀ z : ℕ, z ∣ {i}" for i in range(n)]
    steps = []
    for i in range(n):
        after = "no goals" if i == n - 1 else states[i + 1]
        steps.append({"tactic": f"tac_{name}_{i} [lemma{i}]", "state_before": states[i], "state_after": after})
    return {"full_name": name, "file_path": file_path, "traced_tactics": steps}


def state_after_copy(model, folder):
    """A copy of a trained model folder (without checkpoints) that says it was trained on build-dataset
    --goal-from state_after records; returns its path as a string."""
    import shutil

    shutil.copytree(model, folder, ignore=shutil.ignore_patterns("checkpoints"))
    settings = json.loads((folder / "leanprogress_config.json").read_text(encoding="utf-8"))
    settings["goal_from"] = "state_after"
    (folder / "leanprogress_config.json").write_text(json.dumps(settings), encoding="utf-8")
    return str(folder)



def distribution_copy(model, folder, max_steps=10, more_steps=14.0):
    """A model folder with the distribution head (``max_steps`` + 2 outputs, untrained) on a trained model's
    encoder, as the trainer saves one: for tests that need the head's API, not its skill. Returns ``folder``."""
    from leanprogress.config import ModelSettings
    from leanprogress.encoder import load_regression_model, load_tokenizer

    load_regression_model(str(model), role="encoder", num_labels=max_steps + 2).save_pretrained(folder)
    load_tokenizer(str(model)).save_pretrained(folder)
    settings = ModelSettings.load(model)
    settings.head, settings.head_max_steps, settings.head_more_steps = "distribution", max_steps, more_steps
    settings.save(folder)
    return folder

def link_to(kind, target, link):
    """``target`` itself (``same``), or ``link`` made a symbolic or hard link to it."""
    if kind == "symlink":
        link.symlink_to(target)
    elif kind == "hardlink":
        os.link(target, link)
    return link if kind != "same" else target


def refused(capsys, argv, output, given_input, protected):
    """Run the CLI on ``argv``: it must fail with one line naming ``output`` and ``given_input``, and leave every
    file of ``protected`` as it was (byte for byte), with no temporary file beside it."""
    before = {p: p.read_bytes() for p in protected}
    listing = {p.parent: sorted(p.parent.iterdir()) for p in protected}
    from leanprogress.cli import main

    assert main([str(a) for a in argv]) == 2
    cap = capsys.readouterr()
    assert cap.err.count("\n") == 1 and cap.err.startswith("leanprogress: error: "), cap.err
    assert str(output) in cap.err and str(given_input) in cap.err, cap.err
    assert {p: p.read_bytes() for p in protected} == before
    assert {d: sorted(d.iterdir()) for d in listing} == listing


@pytest.fixture
def traces(tmp_path):
    """A LeanDojo Benchmark 4 style file: 12 theorems of lengths 1..6 and one with no tactics."""
    theorems = [make_theorem(f"T.thm{i}", 1 + i % 6) for i in range(12)]
    theorems.append({"full_name": "T.empty", "file_path": "Test/File.lean", "traced_tactics": []})
    path = tmp_path / "traces.json"
    path.write_text(json.dumps(theorems, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def bundled_tokenizer_path():
    from leanprogress.encoder import default_encoder_path

    return default_encoder_path()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, bundled_tokenizer_path):
    """A randomly initialised 2-layer BERT with the bundled MiniLM tokenizer (fast tests)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(bundled_tokenizer_path)
    config = BertConfig(
        vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=512, num_labels=1, problem_type="regression",
    )
    model = BertForSequenceClassification(config)
    out = tmp_path_factory.mktemp("tiny-bert")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory, tiny_model):
    """The tiny model trained for two epochs on generated records, as ProgressTrainer saves it."""
    from leanprogress import ProgressTrainer, ProgressTrainingArguments
    from leanprogress.data.leandojo import records_from_theorem

    records = [r for i in range(10) for r in records_from_theorem(make_theorem(f"T.t{i}", 1 + i % 4), source="gen")]
    held = [r for i in range(10, 13) for r in records_from_theorem(make_theorem(f"T.t{i}", 1 + i % 4), source="gen")]
    out = tmp_path_factory.mktemp("trained")
    # Tests downstream need outputs that depend on the input, so a tiny random BERT keeps its best epoch even
    # where the constant predictor would have done better; and some score its checkpoints.
    args = ProgressTrainingArguments(output_dir=str(out), model_name=str(tiny_model), epochs=2, batch_size=4,
                                     learning_rate=1e-3, max_length=128, precision="fp32",
                                     fallback_to_constant=False, keep_checkpoints=True)
    metrics = ProgressTrainer(args, records, held).train()
    return out, metrics, held


def save_bert(folder, tokenizer_path, head=None, seed=0, init=0.3, settings=True):
    """A tiny random BERT whose output depends strongly on the input (large initial weights), saved with the
    bundled tokenizer; ``head(model)`` may then set the classifier."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from leanprogress.config import ModelSettings

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(tokenizer_path)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=512, num_labels=1, problem_type="regression",
                        initializer_range=init)
    model = BertForSequenceClassification(config)
    if head is not None:
        with torch.no_grad():
            head(model)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    if settings:
        ModelSettings(max_length=128).save(folder)
    return model
