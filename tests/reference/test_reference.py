#!/usr/bin/python3
"""Compares the real `pipeshard` binary against the NumPy reference (hf_reference.py).

One case per invocation (one ctest each): generate a tiny seeded model with `pipeshard
make-model`, check its config.json holds what the case is about, then

  1. `forward --logits-out`: logits at every position of every request within
     max|d| / max|ref| <= 1e-4 (per request);
  2. `forward --top-logprobs 5`: next_token is the reference argmax at the last position and the
     top-5 log-probabilities are within 1e-4 of the reference log-softmax;
  3. `generate` (greedy, 32 new tokens): each token is the reference argmax of the sequence so
     far, teacher-forced on pipeshard's own tokens.

A token may differ from the reference argmax only where the reference itself cannot tell them
apart: its logit is within 1e-4 of the maximum. Such steps are printed, never hidden.
`mlp` cases compare `forward` outputs instead (max|d| / max|ref| <= 1e-4).

Usage: test_reference.py --pipeshard BIN --case NAME --workdir DIR    (--list: the cases)
"""

import sys

try:
    import numpy as np
except ImportError:
    # CI installs python3-numpy; a missing numpy must fail the test, not skip it.
    print(f"FAIL: numpy is not importable by {sys.executable}; install it with "
          "`apt-get install python3-numpy` (the reference tests run under Debian's /usr/bin/python3)")
    sys.exit(1)

import argparse
import json
import math
import os
import shutil
import subprocess
import zlib
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference as ref  # noqa: E402
import safetensors_np  # noqa: E402

REL_TOL = 1e-4  # max|d| / max|ref| for logits and mlp outputs
LOGPROB_TOL = 1e-4  # absolute, on log-probabilities
TIE_MARGIN = 1e-4  # a token whose reference logit is this close to the maximum is a tie
TOP_K = 5
NEW_TOKENS = 32
PROMPT_LENGTHS = (1, 5, 17, 40)
MLP_REQUESTS = 4
COMMAND_TIMEOUT_S = 240


class CheckFailed(Exception):
    pass


def require(condition, message):
    if not condition:
        raise CheckFailed(message)


# --------------------------------------------------------------------------------------------
# Cases: make-model arguments, and what config.json / the tensors must show for the case to
# test what its name says.

LM_COMMON = ["--preset", "tiny", "--max-positions", "128"]


def expect_config(**pairs):
    def check(ck):
        for key, want in pairs.items():
            got = ck.config.get(key)
            require(got == want, f"config.json: {key} is {got!r}, the case needs {want!r}")
    return check


def expect_tensor(name, present=True):
    def check(ck):
        found = any(n == name or n.endswith("." + name) for n in ck.tensors)
        require(found == present, f"checkpoint {'lacks' if present else 'holds'} tensor '{name}'")
    return check


def expect_dtype(dtype):
    def check(ck):
        files, _ = safetensors_np.checkpoint_files(ck.folder)
        for file_name in files:
            dtypes = set(safetensors_np.read_dtypes(os.path.join(ck.folder, file_name)).values())
            require(dtypes == {dtype}, f"{file_name} stores {sorted(dtypes)}, the case needs {dtype}")
    return check


def expect_shards(minimum):
    def check(ck):
        files, weight_map = safetensors_np.checkpoint_files(ck.folder)
        require(weight_map is not None, f"no {safetensors_np.INDEX_NAME} despite --shard-size")
        require(len(files) >= minimum, f"{len(files)} shard(s), the case needs at least {minimum}")
    return check


def expect_rope_scaling(kind, factor):
    """The scaling must be in config.json AND matter at the test's positions: the reference
    without it must miss the tolerance by far, or an engine ignoring it would pass unnoticed."""
    def check(ck):
        scaling = ck.config.get("rope_scaling") or {}
        got = scaling.get("rope_type", scaling.get("type"))
        require(got == kind and scaling.get("factor") == factor,
                f"config.json rope_scaling is {scaling}, the case needs type {kind} factor {factor}")
        if kind == "llama3":
            require("original_max_position_embeddings" in scaling,
                    "config.json rope_scaling lacks original_max_position_embeddings")
        ids = [i % ck.config["vocab_size"] for i in range(max(PROMPT_LENGTHS) + NEW_TOKENS)]
        unscaled = ref.Checkpoint(ck.folder, dict(ck.config, rope_scaling=None), ck.family, ck.tensors)
        with_scaling = ref.sequence_logits(ck, ids)[0]
        effect = relative_error(ref.sequence_logits(unscaled, ids)[0], with_scaling)
        print(f"  rope_scaling {scaling}: ignoring it would change the logits by {effect:.2e} (relative)")
        require(effect > 10 * REL_TOL, f"rope_scaling {scaling} changes the logits by only {effect:.2e} within "
                                       f"{len(ids)} positions: too little for the test to see it")
    return check


# Checkpoints not (only) written by make-model: through the independent writer of
# safetensors_np, so the engine also reads files it did not produce itself.


def gpt2_hub_layout(model_dir):
    """Rewrites a make-model GPT-2 in the layout of the Hub's `gpt2` checkpoint: names without
    the "transformer." prefix, plus each block's causal-mask buffer `h.N.attn.bias`, which HF
    loads but which is not a parameter of the forward."""
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    files, _ = safetensors_np.checkpoint_files(model_dir)
    require(files == [safetensors_np.SINGLE_NAME], f"expected one f32 model.safetensors, got {files}")
    tensors = {name.removeprefix("transformer."): value for name, value in safetensors_np.load_folder(model_dir).items()}
    positions = config["n_positions"]
    mask = np.tril(np.ones((positions, positions), np.float32))[None, None]
    for layer in range(config["n_layer"]):
        tensors[f"h.{layer}.attn.bias"] = mask
    safetensors_np.write_folder(model_dir, tensors, "F32")


def mlp_every_layer_kind(model_dir):
    """A hand-written mlp (as a user would write one) using every layer kind and activation,
    with and without bias, stored as BF16."""
    rng = np.random.default_rng(41)
    width = 10
    layers = [{"type": "linear", "in_features": 6, "out_features": width, "bias": True},
              {"type": "activation", "function": "gelu"},
              {"type": "linear", "in_features": width, "out_features": width, "bias": False},
              {"type": "activation", "function": "silu"},
              {"type": "layer_norm", "size": width, "eps": 1e-5},
              {"type": "linear", "in_features": width, "out_features": width, "bias": True},
              {"type": "activation", "function": "tanh"},
              {"type": "rms_norm", "size": width, "eps": 1e-6},
              {"type": "linear", "in_features": width, "out_features": width, "bias": True},
              {"type": "activation", "function": "gelu_tanh"},
              {"type": "linear", "in_features": width, "out_features": width, "bias": True},
              {"type": "activation", "function": "relu"},
              {"type": "linear", "in_features": width, "out_features": 3, "bias": True}]
    tensors = {}
    for i, layer in enumerate(layers):
        if layer["type"] == "linear":
            fan_in = layer["in_features"]
            tensors[f"layers.{i}.weight"] = rng.standard_normal((layer["out_features"], fan_in)) / math.sqrt(fan_in)
            if layer["bias"]:
                tensors[f"layers.{i}.bias"] = 0.1 * rng.standard_normal(layer["out_features"])
        elif layer["type"] in ("layer_norm", "rms_norm"):
            tensors[f"layers.{i}.weight"] = 1.0 + 0.1 * rng.standard_normal(width)
            if layer["type"] == "layer_norm":
                tensors[f"layers.{i}.bias"] = 0.1 * rng.standard_normal(width)
    safetensors_np.write_folder(model_dir, tensors, "BF16")
    with open(os.path.join(model_dir, "config.json"), "w") as f:
        json.dump({"model_type": "mlp", "input_size": 6, "layers": layers}, f, indent=2)


@dataclass
class Case:
    make_model: list  # make-model arguments; None: `prepare` writes the whole folder
    checks: list = field(default_factory=list)
    family: str = "llama"
    prepare: object = None  # callable(model_dir), run after make-model


def _llama(*extra, dtype="f32", seed):
    return ["--family", "llama", *LM_COMMON, "--dtype", dtype, "--seed", str(seed), *extra]


def _gpt2(*extra, dtype="f32", seed):
    return ["--family", "gpt2", *LM_COMMON, "--dtype", dtype, "--seed", str(seed), *extra]


CASES = {
    "gpt2": Case(_gpt2(seed=11), [expect_config(model_type="gpt2"), expect_dtype("F32")], "gpt2"),
    "gpt2_sharded_bf16": Case(
        _gpt2("--shard-size", "65536", dtype="bf16", seed=12),
        [expect_config(model_type="gpt2"), expect_dtype("BF16"), expect_shards(3)], "gpt2"),
    "llama_gqa": Case(
        _llama("--hidden", "64", "--heads", "4", "--kv-heads", "2", seed=21),
        [expect_config(model_type="llama", num_attention_heads=4, num_key_value_heads=2,
                       tie_word_embeddings=False), expect_tensor("lm_head.weight")]),
    "llama_tied": Case(
        _llama("--tie-embeddings", dtype="f16", seed=22),
        [expect_config(tie_word_embeddings=True), expect_tensor("lm_head.weight", present=False),
         expect_dtype("F16")]),
    "llama_qkv_bias": Case(
        _llama("--qkv-bias", seed=23),
        [expect_config(model_type="llama", attention_bias=True), expect_tensor("q_proj.bias"),
         expect_tensor("o_proj.bias")]),
    "qwen2": Case(
        _llama("--model-type", "qwen2", seed=24),
        [expect_config(model_type="qwen2"), expect_tensor("q_proj.bias"),
         expect_tensor("o_proj.bias", present=False)]),
    "llama_rope_llama3": Case(
        _llama("--rope-scaling", "llama3", "--rope-factor", "8", seed=25),
        [expect_rope_scaling("llama3", 8)]),
    "llama_rope_linear": Case(
        _llama("--rope-scaling", "linear", "--rope-factor", "4", seed=26),
        [expect_rope_scaling("linear", 4)]),
    "llama_head_dim": Case(
        _llama("--hidden", "64", "--heads", "4", "--head-dim", "24", seed=27),
        [expect_config(head_dim=24, hidden_size=64, num_attention_heads=4)]),
    "mistral": Case(
        _llama("--model-type", "mistral", "--heads", "4", "--kv-heads", "2", seed=28),
        [expect_config(model_type="mistral")]),
    "gpt2_hub_layout": Case(_gpt2(seed=13), [expect_tensor("h.0.attn.bias")], "gpt2", prepare=gpt2_hub_layout),
    "mlp": Case(["--family", "mlp", "--preset", "tiny", "--dtype", "f32", "--seed", "31"],
                [expect_config(model_type="mlp")], "mlp"),
    "mlp_every_layer_kind": Case(None, [expect_dtype("BF16")], "mlp", prepare=mlp_every_layer_kind),
}


# --------------------------------------------------------------------------------------------
# Running pipeshard


def run_pipeshard(binary, *args):
    cmd = [binary, *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise CheckFailed(f"`{' '.join(cmd)}` did not finish within {COMMAND_TIMEOUT_S} s") from None
    require(proc.returncode == 0,
            f"`{' '.join(cmd)}` exited with {proc.returncode}:\n{proc.stderr.strip()}")
    return proc


def write_jsonl(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def read_results(path, requests):
    """Result lines, checked to come back one per request, in input order."""
    require(os.path.exists(path), f"{path} was not written")
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    got, want = [r.get("id") for r in rows], [r["id"] for r in requests]
    require(got == want, f"{path}: result ids {got}, expected {want} (one per request, in input order)")
    return rows


# --------------------------------------------------------------------------------------------
# Comparisons


def relative_error(got, want):
    return float(np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-30))


def token_gap(logits, token):
    """How far below the maximum the reference puts `token` (0 when it is an argmax)."""
    return float(logits.max() - logits[token])


def top2_margin(logits):
    top = np.sort(logits)[-2:]
    return float(top[1] - top[0]) if len(top) == 2 else float("inf")


def check_choice(logits, token, where, ties):
    """pipeshard chose `token` where the reference gives `logits`: it must be the argmax, or
    tied with it within TIE_MARGIN (recorded in `ties`)."""
    require(0 <= token < len(logits), f"{where}: token {token} outside the vocabulary of {len(logits)}")
    gap = token_gap(logits, token)
    best = int(np.argmax(logits))
    require(gap < TIE_MARGIN, f"{where}: pipeshard chose {token}, the reference argmax is {best} "
                              f"(its logit {logits[best]:.6f} vs {logits[token]:.6f}, gap {gap:.2e})")
    margin = top2_margin(logits)
    if margin < TIE_MARGIN:
        ties.append(f"{where}: reference top-2 margin {margin:.2e} (pipeshard {token}, reference argmax {best})")


def check_logits_file(path, requests, reference, vocab):
    """--logits-out: float32 [len(prompt), vocab] per request, in input order."""
    require(os.path.exists(path), f"--logits-out file {path} was not written")
    raw = np.fromfile(path, dtype="<f4")
    total = sum(len(r["prompt_ids"]) for r in requests)
    require(raw.size == total * vocab,
            f"{path}: {raw.size} floats, expected {total} positions x {vocab} vocab = {total * vocab}")
    worst, offset = 0.0, 0
    for req, want in zip(requests, reference):
        n = len(req["prompt_ids"])
        got = raw[offset:offset + n * vocab].reshape(n, vocab).astype(np.float64)
        offset += n * vocab
        require(np.all(np.isfinite(got)), f"request {req['id']}: non-finite logits")
        err = relative_error(got, want)
        print(f"  logits  {req['id']:>4} ({n:2d} tokens): max|d|/max|ref| = {err:.2e}")
        require(err <= REL_TOL, f"request {req['id']}: logits max|d|/max|ref| = {err:.2e} > {REL_TOL:g}")
        worst = max(worst, err)
    return worst


def check_scores(results, requests, reference, ties):
    """next_token and top_logprobs at the last position of each request."""
    worst = 0.0
    for res, req, logits in zip(results, requests, reference):
        last = logits[-1]
        where = f"forward {req['id']}"
        check_choice(last, int(res["next_token"]), where, ties)
        lsm = ref.log_softmax(last)
        top = res["top_logprobs"]
        require(len(top) == min(TOP_K, len(last)), f"{where}: {len(top)} top_logprobs, expected {TOP_K}")
        ids = [int(t) for t, _ in top]
        lps = [float(lp) for _, lp in top]
        require(len(set(ids)) == len(ids), f"{where}: repeated ids in top_logprobs {ids}")
        require(all(a >= b for a, b in zip(lps, lps[1:])), f"{where}: top_logprobs not in descending order {lps}")
        require(ids[0] == int(res["next_token"]), f"{where}: top_logprobs[0] is {ids[0]}, next_token {res['next_token']}")
        kth = np.sort(lsm)[-len(top)]
        for t, lp in zip(ids, lps):
            require(lsm[t] > kth - TIE_MARGIN,
                    f"{where}: token {t} (reference logprob {lsm[t]:.6f}) is not in the reference top-{TOP_K}")
            err = abs(lp - lsm[t])
            require(err <= LOGPROB_TOL, f"{where}: logprob of {t} is {lp:.7f}, reference {lsm[t]:.7f} (|d| {err:.2e})")
            worst = max(worst, err)
    return worst


def eos_ids(config):
    eos = config.get("eos_token_id")
    return set(eos) if isinstance(eos, list) else ({eos} if eos is not None else set())


def check_generation(ck, results, requests, ties):
    """Greedy continuation, teacher-forced on pipeshard's tokens.

    Causal attention makes the logits at position p of the whole sequence equal to those of a
    no-cache forward of its first p+1 tokens, so one forward of prompt + output[:-1] yields the
    reference for every step at once.
    """
    checked = 0
    for res, req in zip(results, requests):
        out = [int(t) for t in res["output_ids"]]
        reason = res.get("finish_reason")
        if reason == "stop":
            require(out and out[-1] in eos_ids(ck.config) and len(out) <= NEW_TOKENS,
                    f"generate {req['id']}: finish_reason stop after {out} without an eos token")
        else:
            require(reason == "length" and len(out) == NEW_TOKENS,
                    f"generate {req['id']}: {len(out)} tokens with finish_reason {reason!r}, expected {NEW_TOKENS}, 'length'")
        prompt = req["prompt_ids"]
        logits, _ = ref.sequence_logits(ck, prompt + out[:-1])
        for step, token in enumerate(out):
            check_choice(logits[len(prompt) - 1 + step], token, f"generate {req['id']} step {step}", ties)
            checked += 1
    return checked


# --------------------------------------------------------------------------------------------
# The two kinds of case


def make_requests(case_name, vocab):
    rng = np.random.default_rng(zlib.crc32(case_name.encode()))
    return [{"id": f"p{n}", "prompt_ids": [int(t) for t in rng.integers(0, vocab, n)]} for n in PROMPT_LENGTHS]


def run_lm_case(name, binary, ck, workdir):
    vocab = ck.config["vocab_size"]
    requests = make_requests(name, vocab)
    reference = []
    for req in requests:
        logits, unused = ref.sequence_logits(ck, req["prompt_ids"])
        require(not unused, f"checkpoint holds tensors the config does not use: {unused}")
        reference.append(logits)

    req_path, out_path, logits_path = (os.path.join(workdir, f) for f in ("forward.jsonl", "forward_out.jsonl", "logits.f32"))
    write_jsonl(req_path, requests)
    run_pipeshard(binary, "forward", "--model", ck.folder, "--input", req_path, "--output", out_path,
                  "--top-logprobs", str(TOP_K), "--logits-out", logits_path)
    ties = []
    logits_err = check_logits_file(logits_path, requests, reference, vocab)
    logprob_err = check_scores(read_results(out_path, requests), requests, reference, ties)
    print(f"  forward: next_token ok, top-{TOP_K} logprobs max |d| = {logprob_err:.2e}")

    gen_requests = [dict(r, max_new_tokens=NEW_TOKENS) for r in requests]
    gen_path, gen_out = os.path.join(workdir, "generate.jsonl"), os.path.join(workdir, "generate_out.jsonl")
    write_jsonl(gen_path, gen_requests)
    run_pipeshard(binary, "generate", "--model", ck.folder, "--input", gen_path, "--output", gen_out)
    steps = check_generation(ck, read_results(gen_out, gen_requests), gen_requests, ties)
    for line in ties:
        print(f"  near-tie (allowed): {line}")
    return (f"logits max|d|/max|ref| {logits_err:.2e}, top-{TOP_K} logprob |d| {logprob_err:.2e}, "
            f"{steps} greedy tokens match, {len(ties)} near-tie step(s)")


def run_mlp_case(name, binary, ck, workdir):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    size = ck.config["input_size"]
    requests = [{"id": f"x{i}", "input": [float(v) for v in rng.standard_normal(size)]} for i in range(MLP_REQUESTS)]
    req_path, out_path = os.path.join(workdir, "forward.jsonl"), os.path.join(workdir, "forward_out.jsonl")
    write_jsonl(req_path, requests)
    run_pipeshard(binary, "forward", "--model", ck.folder, "--input", req_path, "--output", out_path)
    worst = 0.0
    for res, req in zip(read_results(out_path, requests), requests):
        want, unused = ref.mlp_forward(ck, req["input"])
        require(not unused, f"checkpoint holds tensors the config does not use: {unused}")
        got = np.asarray(res["output"], dtype=np.float64)
        require(got.shape == want.shape, f"request {req['id']}: output of {got.shape[0]} values, expected {want.shape[0]}")
        err = relative_error(got, want)
        print(f"  output  {req['id']}: max|d|/max|ref| = {err:.2e}")
        require(err <= REL_TOL, f"request {req['id']}: output max|d|/max|ref| = {err:.2e} > {REL_TOL:g}")
        worst = max(worst, err)
    return f"outputs max|d|/max|ref| {worst:.2e} over {len(requests)} requests"


def run_case(name, binary, workdir):
    case = CASES[name]
    shutil.rmtree(workdir, ignore_errors=True)
    os.makedirs(workdir)
    model_dir = os.path.join(workdir, "model")
    if case.make_model is not None:
        run_pipeshard(binary, "make-model", *case.make_model, "--out", model_dir)
    if case.prepare is not None:
        case.prepare(model_dir)
    ck = ref.load_checkpoint(model_dir)
    require(ck.family == case.family, f"make-model wrote a {ck.family} model, the case needs {case.family}")
    for check in case.checks:
        check(ck)
    runner = run_mlp_case if case.family == "mlp" else run_lm_case
    return runner(name, binary, ck, workdir)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pipeshard", help="path to the pipeshard binary")
    parser.add_argument("--case", choices=sorted(CASES))
    parser.add_argument("--workdir", help="scratch folder (emptied first)")
    parser.add_argument("--list", action="store_true", help="print the case names and exit")
    args = parser.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    if not (args.pipeshard and args.case and args.workdir):
        parser.error("--pipeshard, --case and --workdir are required")
    case = CASES[args.case]
    made_by = f"make-model {' '.join(case.make_model)}" if case.make_model else "hand-written checkpoint"
    print(f"reference_{args.case}: {made_by}{f' + {case.prepare.__name__}' if case.prepare else ''}")
    try:
        summary = run_case(args.case, args.pipeshard, args.workdir)
    except (CheckFailed, ref.Unsupported, ref.CheckpointMismatch, safetensors_np.SafetensorsError) as e:
        print(f"FAIL reference_{args.case}: {e}")
        return 1
    print(f"PASS reference_{args.case}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
