"""ONNX Runtime against torch for the cross-encoder's encoder forward on the CPU.

Whether ONNX Runtime would be worth offering as a scoring backend: the encoder body of a cross-kind model (the
part that costs; the head is one linear layer) on the candidates of one real state (a miniF2F search-trace state,
--candidates tactics of the Mathlib sample and the traces, one padded batch as the scorer passes it), timed in
torch fp32 and bf16 (the scorer's precisions) and in ONNX Runtime fp32 (the model exported with
``torch.onnx.export``) and, with ``onnxruntime.quantization``, its dynamic int8 quantization. Rounds alternate
over the backends; the table gives the median. Agreement: the head applied to each backend's pooled output,
Spearman against torch fp32 over the candidates.

onnxruntime is not a LeanProgress dependency: ``pip install onnxruntime onnx`` (onnx for the int8 row); without
onnxruntime the script says so and exits 0.

    python benchmarks/bench_onnx.py --model runs/model [--candidates 32] [--rounds 5] [--json onnx.json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
import warnings
from pathlib import Path

from _shared import MATHLIB_SAMPLE, SEARCH_TRACES, machine, require


def encoder_body(base):
    """The encoder of a sequence-classification model as a module of tensors: hidden states and pooled output."""
    import torch

    class Body(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.base = base

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.base(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            return out.last_hidden_state, out.pooler_output

    return Body().eval()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a cross-kind model folder (any weights: speed does not depend on "
                   "them)")
    p.add_argument("--candidates", type=int, default=32, help="candidate tactics of the one state (default 32)")
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument("--calls", type=int, default=3, help="forward passes per backend per round (default 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args()
    try:
        import onnxruntime as ort
    except ImportError:
        print("SKIPPED: onnxruntime is not installed (it is optional, not a LeanProgress dependency): "
              "pip install onnxruntime onnx")
        return 0
    require(MATHLIB_SAMPLE, SEARCH_TRACES)
    import numpy as np
    import torch
    from scipy.stats import spearmanr

    from leanprogress import LeanProgressScorer
    from leanprogress.data.leandojo import iter_leandojo_records

    scorer = LeanProgressScorer(args.model, device="cpu", precision="fp32")
    if scorer.settings.encoder_kind != "cross":
        raise SystemExit(f"{args.model} is a {scorer.settings.encoder_kind}-kind model: this times the cross-encoder")
    scorer16 = LeanProgressScorer(args.model, device="cpu", precision="bf16")
    mathlib = list(iter_leandojo_records([MATHLIB_SAMPLE], source="mathlib4"))
    traces = list(iter_leandojo_records([SEARCH_TRACES], source="search"))
    rng = random.Random(args.seed)
    state = rng.choice(traces)
    pool = sorted({r["tactic"] for r in mathlib + traces})
    tactics = rng.sample(pool, args.candidates)
    n = len(tactics)
    prompts = scorer.layout.build([state["goal"]] * n, tactics, [state["prefix"]] * n)
    enc = scorer.builder.encode(prompts, padding=True, return_tensors="pt")
    if "token_type_ids" not in enc:
        enc["token_type_ids"] = torch.zeros_like(enc["input_ids"])
    inputs = (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
    feeds = {k: enc[k].numpy() for k in ("input_ids", "attention_mask", "token_type_ids")}
    body32, body16 = encoder_body(scorer.model.base_model), encoder_body(scorer16.model.base_model)
    threads = torch.get_num_threads()

    tmp = tempfile.TemporaryDirectory()
    fp32_path = str(Path(tmp.name) / "encoder.onnx")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation and tracer warnings (shapes are fixed here)
        torch.onnx.export(body32, inputs, fp32_path, dynamo=False, opset_version=17,
                          input_names=list(feeds), output_names=["last_hidden_state", "pooler_output"],
                          dynamic_axes={k: {0: "batch", 1: "tokens"} for k in feeds})
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL

    def session(path):
        return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])

    def torch_run(body):
        def run():
            with torch.inference_mode():
                return body(*inputs)[1].float().numpy()
        return run

    backends = {"torch fp32": torch_run(body32), "torch bf16": torch_run(body16)}
    ort32 = session(fp32_path)
    backends["onnxruntime fp32"] = lambda: ort32.run(["pooler_output"], feeds)[0]
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8_path = str(Path(tmp.name) / "encoder-int8.onnx")
        quantize_dynamic(fp32_path, int8_path, weight_type=QuantType.QInt8)
        ort8 = session(int8_path)
        backends["onnxruntime int8 (dynamic)"] = lambda: ort8.run(["pooler_output"], feeds)[0]
    except ImportError as e:
        print(f"note: no int8 row ({e}; pip install onnx)")

    head = scorer.model.classifier
    scores = {}
    for name, run in backends.items():  # warm-up, and what each backend scores
        with torch.inference_mode():
            scores[name] = head(torch.as_tensor(run(), dtype=torch.float32)).numpy()[:, 0]
    times: dict[str, list[float]] = {name: [] for name in backends}
    for k in range(args.rounds):
        for name, run in (backends.items() if k % 2 == 0 else list(backends.items())[::-1]):
            t0 = time.perf_counter()
            for _ in range(args.calls):
                run()
            times[name].append((time.perf_counter() - t0) / args.calls)
    print(f"machine: {machine()}; onnxruntime {ort.__version__} ({threads} threads)")
    print(f"model: {args.model}; one state of the miniF2F search traces, {n} candidates, one padded batch of "
          f"{tuple(enc['input_ids'].shape)} tokens; median of {args.rounds} alternating rounds of {args.calls} passes")
    print()
    print("| encoder forward | candidates/s | x torch bf16 | x torch fp32 | Spearman against torch fp32 |")
    print("| --- | --- | --- | --- | --- |")
    base16, base32 = statistics.median(times["torch bf16"]), statistics.median(times["torch fp32"])
    rows = []
    for name in backends:
        t = statistics.median(times[name])
        rho = float(spearmanr(scores["torch fp32"], scores[name]).statistic) if len(set(scores[name])) > 1 else None
        rows.append({"backend": name, "candidates_per_s": n / t, "vs_torch_bf16": base16 / t,
                     "vs_torch_fp32": base32 / t, "spearman_vs_fp32": rho, "rounds_s": times[name]})
        print(f"| {name} | {n / t:.1f} | {base16 / t:.2f}x | {base32 / t:.2f}x | "
              f"{'n/a' if rho is None else f'{rho:.4f}'} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "onnxruntime": ort.__version__,
                                               "tokens": list(enc["input_ids"].shape), "rows": rows}, indent=2)
                                   + "\n", encoding="utf-8")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
