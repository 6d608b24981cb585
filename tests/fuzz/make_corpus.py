#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (corpus/<target>/): a few small valid inputs, so that
the fuzzers start from the shapes the readers accept, and a few invalid ones next to them.
Re-run after a format change: python3 tests/fuzz/make_corpus.py (it rewrites corpus/ only;
regressions/ holds the crashing inputs and is never touched)."""
import json
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# ---- safetensors ---------------------------------------------------------------------------
def st(header, data=b"", pad=True, declared=None):
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * (-len(h) % 8)
    n = len(h) if declared is None else declared
    return struct.pack("<Q", n) + h + data


def safetensors():
    two = {"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
           "b": {"dtype": "F32", "shape": [3], "data_offsets": [16, 28]},
           "__metadata__": {"format": "pt"}}
    put("safetensors", "valid_two_f32", st(two, bytes(28)))
    put("safetensors", "valid_half", st({"h": {"dtype": "F16", "shape": [2], "data_offsets": [0, 4]},
                                         "g": {"dtype": "BF16", "shape": [1, 2], "data_offsets": [4, 8]}}, bytes(8)))
    put("safetensors", "valid_unsupported_i64_rank5",
        st({"ids": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]},
            "r5": {"dtype": "U8", "shape": [1, 1, 1, 1, 2], "data_offsets": [16, 18]}}, bytes(18)))
    put("safetensors", "valid_empty_tensor", st({"e": {"dtype": "F32", "shape": [0, 4], "data_offsets": [0, 0]}}))
    put("safetensors", "valid_no_tensors", st({}))
    put("safetensors", "bad_overlap", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                          "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)))
    put("safetensors", "bad_offsets_past_end", st({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8)))
    put("safetensors", "bad_header_len", st(two, bytes(28), declared=1 << 40))
    put("safetensors", "bad_not_json", struct.pack("<Q", 8) + b"{\"a\": [1")
    put("safetensors", "bad_short", b"\x10\x00\x00")


# ---- config.json ---------------------------------------------------------------------------
LLAMA = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "torch_dtype": "float32",
         "vocab_size": 64, "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "intermediate_size": 32, "max_position_embeddings": 32,
         "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
         "bos_token_id": 1, "eos_token_id": [2, 3]}
GPT2 = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "n_embd": 16, "n_layer": 2, "n_head": 2,
        "n_positions": 32, "n_inner": None, "vocab_size": 64, "layer_norm_epsilon": 1e-5,
        "activation_function": "gelu_new", "torch_dtype": "float32"}
MLP = {"model_type": "mlp", "architectures": ["PipeshardMLP"], "input_size": 4,
       "layers": [{"type": "linear", "in_features": 4, "out_features": 8, "bias": True},
                  {"type": "activation", "function": "gelu_tanh"},
                  {"type": "layer_norm", "size": 8, "eps": 1e-5},
                  {"type": "rms_norm"},
                  {"type": "linear", "in_features": 8, "out_features": 2, "bias": False}]}


def config():
    put("config", "llama.json", json.dumps(LLAMA))
    put("config", "llama_rope_llama3.json", json.dumps(dict(LLAMA, rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 16}, attention_bias=True, head_dim=8)))
    put("config", "llama_rope_parameters.json", json.dumps(dict(LLAMA, rope_parameters={
        "rope_theta": 500000.0, "rope_type": "linear", "factor": 2.0})))
    put("config", "mistral.json", json.dumps(dict(LLAMA, model_type="mistral", architectures=["MistralForCausalLM"],
                                                   sliding_window=None)))
    put("config", "qwen2.json", json.dumps(dict(LLAMA, model_type="qwen2", architectures=["Qwen2ForCausalLM"],
                                                 use_sliding_window=False, tie_word_embeddings=True)))
    put("config", "gpt2.json", json.dumps(GPT2))
    put("config", "mlp.json", json.dumps(MLP))
    put("config", "bad_string_dim.json", json.dumps(dict(LLAMA, hidden_size="16")))
    put("config", "bad_yarn.json", json.dumps(dict(LLAMA, rope_scaling={"rope_type": "yarn", "factor": 4.0})))
    put("config", "bad_truncated.json", json.dumps(GPT2)[:40])


# ---- plans (against the targets' fixed tiny llama: 4 layers; tiny mlp: 3 layers) ----------
def plan():
    put("plan", "two_stages.json", json.dumps({"model": "models/tiny", "stages": [
        {"layers": "0-1", "device": "cpu"}, {"layers": "2-3", "device": "cuda:0"}]}))
    put("plan", "full.json", json.dumps({
        "version": 1, "model": "models/tiny", "dtype": "f32", "replicas": 1, "batch": 4, "micro_batches": 2,
        "workload": {"mode": "generate", "prompt_len": 8, "max_new_tokens": 4},
        "stages": [{"layers": "0", "device": "cuda:0", "node": 0, "dtype": "bf16"},
                   {"layers": "1-2", "device": "cpu", "threads": 2}, {"layers": 3, "device": "cuda:1"}],
        "predictions": {"method": "optimal", "cluster": "fixture", "profiled": False, "bottleneck_s": 0.1,
                        "makespan_s": 0.5, "sequences_per_s": 8, "tokens_per_s": 32, "bubble": 0.2,
                        "stages": [{"params": 10, "memory_bytes": 100, "capacity_bytes": 1000, "compute_s": 0.1,
                                    "send_s": 0.01, "busy_s": 0.3}]}}))
    put("plan", "mlp_replicas.json", json.dumps({"model": "mlp", "replicas": 2, "stages": [
        {"layers": "0-1", "device": "cuda:0"}, {"layers": "2", "device": "cuda:1"}]}))
    put("plan", "bad_gap.json", json.dumps({"model": "m", "stages": [
        {"layers": "0-1", "device": "cpu"}, {"layers": "3", "device": "cpu"}]}))
    put("plan", "bad_reserved.json", json.dumps({"model": "m", "model_fingerprint": "x", "stages": [
        {"layers": "0-3", "devices": ["cuda:0", "cuda:1"]}]}))
    put("plan", "bad_memory.json", json.dumps({"model": "m", "batch": 100000, "micro_batches": 1,
                                               "workload": {"prompt_len": 32}, "stages": [{"layers": "0-3", "device": "cpu"}]}))


# ---- cluster specs ------------------------------------------------------------------------
def cluster():
    src = os.path.join(HERE, "..", "..", "configs", "clusters")
    for name in sorted(os.listdir(src)):
        if name.endswith(".json"):
            shutil.copyfile(os.path.join(src, name), os.path.join(CORPUS, "cluster", name))
    put("cluster", "bad_count.json", json.dumps({"nodes": [{"devices": [
        {"device": "cpu", "count": 2, "cores": 1, "memory_gib": 1, "peak_tflops": {"f32": 1}, "memory_bandwidth_gb_s": 1}]}]}))
    put("cluster", "bad_reserved_all.json", json.dumps({"nodes": [{"devices": [
        {"device": "cuda:0", "memory_gib": 1, "reserved_gib": 1, "peak_tflops": {"f32": 1}, "memory_bandwidth_gb_s": 1}]}]}))


# ---- request lines ------------------------------------------------------------------------
def requests():
    put("requests", "llama.jsonl", "\n".join([
        '{"id": "a", "prompt_ids": [1, 2, 3]}',
        '{"id": 7, "prompt_ids": [63], "max_new_tokens": 4, "stop_ids": [2], "temperature": 0.7, '
        '"top_k": 5, "top_p": 0.9, "seed": 18446744073709551615}',
        "", '{"id": "c", "prompt_ids": [0], "temperature": 0}']) + "\n")
    put("requests", "mlp.jsonl", '{"id": "m", "input": [0.5, -1, 2e3, 0]}\n{"id": "n", "input": [1, 2, 3, 4]}\n')
    put("requests", "bad.jsonl", "\n".join([
        '{"id": "a", "prompt_ids": [64]}', '{"id": "b", "prompt_ids": []}', '{"id": "c", "prompt_ids": [1], "top_p": 1.5}',
        '{"id": "d", "prompt_ids": [1], "max_new_token": 3}', '{"id": "e", "input": [1, 2]}', '{"id": "f", "prompt_ids": [1, 2',
        '[1, 2]']) + "\n")


# ---- store frames (runtime/comm/store_protocol.h) ------------------------------------------
def frame(op, body=b""):
    return struct.pack("<IB", 1 + len(body), op) + body


def s(b):
    b = b if isinstance(b, bytes) else b.encode()
    return struct.pack("<I", len(b)) + b


def keys(ks):
    return struct.pack("<I", len(ks)) + b"".join(s(k) for k in ks)


def store_decode():
    hello = frame(0x01, struct.pack("<II", 0x54535350, 1) + s("job-token"))
    put("store_decode", "hello", hello)
    put("store_decode", "session", hello + frame(0x02, s("rank0/addr") + s(b"\x01\x02\x03")) +
        frame(0x03, struct.pack("<I", 1000) + s("rank0/addr")) + frame(0x04, struct.pack("<I", 50) + keys(["a", "b"])) +
        frame(0x05, s("counter") + struct.pack("<q", -3)) + frame(0x06, keys(["a"])))
    put("store_decode", "replies", frame(0x81) + frame(0x82, s(b"value")) + frame(0x83, struct.pack("<q", 42)) +
        frame(0x84, b"\x01") + frame(0x85, keys(["missing"])) + frame(0x86, s("no such key")))
    put("store_decode", "partial", hello[:7])
    put("store_decode", "bad_magic", frame(0x01, struct.pack("<II", 0x12345678, 1) + s("t")))
    put("store_decode", "bad_trailing", frame(0x81, b"\x00"))
    put("store_decode", "bad_huge_length", struct.pack("<IB", 0xFFFFFFF0, 0x02))


if __name__ == "__main__":
    shutil.rmtree(CORPUS, ignore_errors=True)
    os.makedirs(os.path.join(CORPUS, "cluster"))
    for f in (safetensors, config, plan, cluster, requests, store_decode):
        f()
