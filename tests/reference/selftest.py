#!/usr/bin/python3
"""Checks of the reference itself, needing no pipeshard binary: the safetensors codec against
hand-built bytes, and the model math against hand-derived values and invariants (so a mistake in
the reference cannot silently agree with the same mistake in the engine).
"""

import sys

try:
    import numpy as np
except ImportError:
    print(f"FAIL: numpy is not importable by {sys.executable}; install it with `apt-get install python3-numpy`")
    sys.exit(1)

import json
import math
import os
import struct
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_reference as ref  # noqa: E402
import safetensors_np as st  # noqa: E402

RNG = np.random.default_rng(1234)


def close(a, b, tol=1e-12):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) <= tol * max(1.0, np.max(np.abs(b)))


# --------------------------------------------------------------------------------------------
# safetensors


def test_bf16_rounding():
    # 1 + 2^-8 lies halfway between bf16 1.0 (0x3F80) and 1 + 2^-7 (0x3F81): ties go to even.
    values = np.array([1.0, -2.0, 1 + 2**-8, 1 + 3 * 2**-8, 1 + 2**-8 + 2**-20, np.inf], dtype=np.float32)
    assert list(st.f32_to_bf16_bits(values)) == [0x3F80, 0xC000, 0x3F80, 0x3F82, 0x3F81, 0x7F80]
    bits = np.arange(65536, dtype=np.uint32).astype(np.uint16)
    finite = ~np.isnan(st.bf16_bits_to_f32(bits))
    assert np.array_equal(st.f32_to_bf16_bits(st.bf16_bits_to_f32(bits))[finite], bits[finite])
    assert st.bf16_bits_to_f32(np.array([0x3F80, 0x4049]))[1] == np.float32(3.140625)


def test_reads_hand_built_file():
    # Built byte by byte, independently of write_file.
    header = {"b": {"dtype": "BF16", "shape": [2], "data_offsets": [8, 12]},
              "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
              "__metadata__": {"format": "pt"}}
    text = json.dumps(header).encode()
    data = struct.pack("<2f", 1.5, -0.25) + struct.pack("<2H", 0x3FC0, 0xBE80)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "x.safetensors")
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + data)
        t = st.read_file(path)
    assert list(t["a"]) == [1.5, -0.25] and list(t["b"]) == [1.5, -0.25]


def test_round_trip_and_shards():
    tensors = {"w": RNG.standard_normal((3, 5)).astype(np.float32), "b": RNG.standard_normal(7).astype(np.float32),
               "s": np.array(2.5, dtype=np.float32), "e": np.zeros((0, 4), np.float32)}
    with tempfile.TemporaryDirectory() as d:
        for dtype, cast in (("F32", np.float32), ("F16", np.float16)):
            st.write_folder(os.path.join(d, dtype), tensors, dtype)
            back = st.load_folder(os.path.join(d, dtype))
            assert all(np.array_equal(back[k], v.astype(cast)) for k, v in tensors.items())
        st.write_folder(os.path.join(d, "bf16"), tensors, "BF16", shards=3)
        assert len(st.checkpoint_files(os.path.join(d, "bf16"))[0]) == 3
        back = st.load_folder(os.path.join(d, "bf16"))
        for k, v in tensors.items():
            assert np.array_equal(back[k], st.bf16_bits_to_f32(st.f32_to_bf16_bits(v)).reshape(v.shape))


def test_rejects_bad_files():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "bad.safetensors")
        too_long = b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,9]}}'  # 9 bytes for 2 floats
        past_end = b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'  # only 4 bytes follow
        cases = [struct.pack("<Q", 1000) + b"{}",  # header past the end of the file
                 struct.pack("<Q", 3) + b"{x}",  # not JSON
                 struct.pack("<Q", len(too_long)) + too_long + b"\0" * 9,
                 struct.pack("<Q", len(past_end)) + past_end + b"\0" * 4]
        for raw in cases:
            with open(path, "wb") as f:
                f.write(raw)
            try:
                st.read_file(path)
            except st.SafetensorsError:
                continue
            raise AssertionError(f"accepted a malformed file: {raw[:40]!r}")


# --------------------------------------------------------------------------------------------
# Building blocks


def test_attention_matches_loops():
    heads, t, dim, window = 2, 6, 3, 3
    q, k, v = (RNG.standard_normal((heads, t, dim)) for _ in range(3))
    for win in (None, window):
        got = ref.causal_attention(q, k, v, 0.7, win)
        for h in range(heads):
            for i in range(t):
                keys = [j for j in range(i + 1) if win is None or i - j < win]
                s = [0.7 * sum(q[h, i, c] * k[h, j, c] for c in range(dim)) for j in keys]
                e = [math.exp(x - max(s)) for x in s]
                want = [sum(e[n] * v[h, j, c] for n, j in enumerate(keys)) / sum(e) for c in range(dim)]
                assert close(got[h, i], want)


def test_rope_layout_and_relative_positions():
    inv_freq = np.array([0.3, 0.05])
    x = np.zeros((1, 4, 4))
    x[0, :, 0] = 1.0  # the first coordinate of pair 0, whose partner is coordinate 2 (rotate-half)
    out = ref.apply_rope(x, inv_freq)
    for p in range(4):
        assert close(out[0, p], [math.cos(0.3 * p), 0, math.sin(0.3 * p), 0])
    # <R(p) q, R(p') k> depends on p - p' only.
    q = np.repeat(RNG.standard_normal((1, 1, 8)), 10, axis=1)
    k = np.repeat(RNG.standard_normal((1, 1, 8)), 10, axis=1)
    freqs = ref.rope_inv_freq({"rope_theta": 100.0}, 8)
    rq, rk = ref.apply_rope(q, freqs)[0], ref.apply_rope(k, freqs)[0]
    assert close(rq[7] @ rk[4], rq[3] @ rk[0]) and not close(rq[7] @ rk[4], rq[4] @ rk[4])


def test_rope_scaling():
    base = ref.rope_inv_freq({"rope_theta": 10000.0}, 16)
    assert close(base, [10000.0 ** (-i / 8) for i in range(8)])
    linear = ref.rope_inv_freq({"rope_theta": 10000.0, "rope_scaling": {"type": "linear", "factor": 4.0}}, 16)
    assert close(linear, base / 4)
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}
    got = ref.rope_inv_freq({"rope_theta": 10000.0, "rope_scaling": scaling}, 16)
    wavelen = 2 * math.pi / base
    for g, b, wl in zip(got, base, wavelen):
        if wl < 16:  # shorter than original / high_freq_factor: kept
            assert g == b
        elif wl > 64:  # longer than original / low_freq_factor: divided by the factor
            assert close(g, b / 8)
        else:  # between: 1/wavelength blended, s = (64 / wl - 1) / 3
            s = (64 / wl - 1) / 3
            assert close(g, (1 - s) * b / 8 + s * b)
    assert np.any((wavelen > 16) & (wavelen < 64))  # the blend branch was exercised
    # The blend is continuous at both edges.
    edges = 2 * math.pi / np.array([16.0, 64.0])
    assert close(ref.llama3_inv_freq(edges, scaling), [edges[0], edges[1] / 8])


# --------------------------------------------------------------------------------------------
# Whole models on hand-made checkpoints


def checkpoint(config, tensors, family):
    return ref.Checkpoint("<hand-made>", config, family, tensors)


def gpt2_checkpoint(e=8, heads=2, layers=2, vocab=11, positions=16, zero_blocks=False):
    t = {"wte.weight": RNG.standard_normal((vocab, e)), "wpe.weight": RNG.standard_normal((positions, e)),
         "ln_f.weight": RNG.standard_normal(e), "ln_f.bias": RNG.standard_normal(e)}
    for i in range(layers):
        p = f"transformer.h.{i}."
        for name, shape in (("ln_1.weight", [e]), ("ln_1.bias", [e]), ("ln_2.weight", [e]), ("ln_2.bias", [e]),
                            ("attn.c_attn.weight", [e, 3 * e]), ("attn.c_attn.bias", [3 * e]),
                            ("attn.c_proj.weight", [e, e]), ("attn.c_proj.bias", [e]),
                            ("mlp.c_fc.weight", [e, 4 * e]), ("mlp.c_fc.bias", [4 * e]),
                            ("mlp.c_proj.weight", [4 * e, e]), ("mlp.c_proj.bias", [e])):
            zero = zero_blocks and "c_proj" in name
            t[p + name] = np.zeros(shape) if zero else 0.5 * RNG.standard_normal(shape)
    config = {"model_type": "gpt2", "n_embd": e, "n_head": heads, "n_layer": layers, "vocab_size": vocab,
              "n_positions": positions, "layer_norm_epsilon": 1e-5}
    return checkpoint(config, t, "gpt2")


def test_gpt2_zero_blocks_reduce_to_embeddings():
    # With both c_proj layers zero every block is the identity: logits = ln_f(wte + wpe) wte^T.
    ck = gpt2_checkpoint(zero_blocks=True)
    ids = [3, 1, 4, 1, 5]
    logits, unused = ref.sequence_logits(ck, ids)
    t = ck.tensors
    x = t["wte.weight"][ids] + t["wpe.weight"][:5]
    mu, var = x.mean(1, keepdims=True), x.var(1, keepdims=True)
    want = ((x - mu) / np.sqrt(var + 1e-5) * t["ln_f.weight"] + t["ln_f.bias"]) @ t["wte.weight"].T
    assert close(logits, want) and unused == []


def test_gpt2_single_token_by_hand():
    # One token attends only to itself, so attention returns its own value vector.
    ck = gpt2_checkpoint(layers=1)
    t, e = ck.tensors, 8
    p = "transformer.h.0."

    def ln(x, name):
        return (x - x.mean()) / math.sqrt(x.var() + 1e-5) * t[name + ".weight"] + t[name + ".bias"]

    x = t["wte.weight"][7] + t["wpe.weight"][0]
    v = (ln(x, p + "ln_1") @ t[p + "attn.c_attn.weight"] + t[p + "attn.c_attn.bias"])[2 * e:]
    x = x + v @ t[p + "attn.c_proj.weight"] + t[p + "attn.c_proj.bias"]
    h = ln(x, p + "ln_2") @ t[p + "mlp.c_fc.weight"] + t[p + "mlp.c_fc.bias"]
    h = np.array([0.5 * u * (1 + math.tanh(math.sqrt(2 / math.pi) * (u + 0.044715 * u**3))) for u in h])
    x = x + h @ t[p + "mlp.c_proj.weight"] + t[p + "mlp.c_proj.bias"]
    assert close(ref.sequence_logits(ck, [7])[0][0], ln(x, "ln_f") @ t["wte.weight"].T)


def llama_checkpoint(heads=4, kv_heads=2, hidden=16, head_dim=None, layers=2, vocab=13, inter=24, tied=False):
    hd = head_dim or hidden // heads
    t = {"model.embed_tokens.weight": RNG.standard_normal((vocab, hidden)),
         "model.norm.weight": 1 + 0.1 * RNG.standard_normal(hidden)}
    if not tied:
        t["lm_head.weight"] = RNG.standard_normal((vocab, hidden))
    for i in range(layers):
        p = f"model.layers.{i}."
        for name, shape in (("input_layernorm.weight", [hidden]), ("post_attention_layernorm.weight", [hidden]),
                            ("self_attn.q_proj.weight", [heads * hd, hidden]),
                            ("self_attn.k_proj.weight", [kv_heads * hd, hidden]),
                            ("self_attn.v_proj.weight", [kv_heads * hd, hidden]),
                            ("self_attn.o_proj.weight", [hidden, heads * hd]),
                            ("mlp.gate_proj.weight", [inter, hidden]), ("mlp.up_proj.weight", [inter, hidden]),
                            ("mlp.down_proj.weight", [hidden, inter])):
            t[p + name] = 0.4 * RNG.standard_normal(shape)
    config = {"model_type": "llama", "hidden_size": hidden, "num_attention_heads": heads,
              "num_key_value_heads": kv_heads, "num_hidden_layers": layers, "intermediate_size": inter,
              "vocab_size": vocab, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 64,
              "tie_word_embeddings": tied}
    if head_dim:
        config["head_dim"] = head_dim
    return checkpoint(config, t, "llama")


def test_gqa_equals_repeated_kv_heads():
    # A GQA model equals the multi-head model whose kv head h is GQA's kv head h // group.
    gqa = llama_checkpoint(heads=4, kv_heads=2)
    mha_tensors = dict(gqa.tensors)
    for i in range(2):
        for proj in ("k_proj", "v_proj"):
            name = f"model.layers.{i}.self_attn.{proj}.weight"
            w = gqa.tensors[name].reshape(2, 4, 16)  # [kv_heads, head_dim, hidden]
            mha_tensors[name] = np.repeat(w, 2, axis=0).reshape(16, 16)
    mha = checkpoint(dict(gqa.config, num_key_value_heads=4), mha_tensors, "llama")
    ids = [1, 5, 9, 2, 2, 7]
    assert close(ref.sequence_logits(gqa, ids)[0], ref.sequence_logits(mha, ids)[0], 1e-10)


def test_llama_single_token_by_hand():
    # At position 0 RoPE is the identity and attention returns v: checks the norms, the head
    # mapping of v (head h reads kv head h // 2), o_proj, the SwiGLU MLP and the tied head.
    ck = llama_checkpoint(heads=4, kv_heads=2, head_dim=6, layers=1, tied=True)
    t, p = ck.tensors, "model.layers.0."

    def rms(x, w):
        return x / math.sqrt((x * x).mean() + 1e-6) * w

    x = t["model.embed_tokens.weight"][4]
    v = t[p + "self_attn.v_proj.weight"] @ rms(x, t[p + "input_layernorm.weight"])
    o = np.concatenate([v[(h // 2) * 6:(h // 2 + 1) * 6] for h in range(4)])
    x = x + t[p + "self_attn.o_proj.weight"] @ o
    m = rms(x, t[p + "post_attention_layernorm.weight"])
    g, u = t[p + "mlp.gate_proj.weight"] @ m, t[p + "mlp.up_proj.weight"] @ m
    x = x + t[p + "mlp.down_proj.weight"] @ (g / (1 + np.exp(-g)) * u)
    want = t["model.embed_tokens.weight"] @ rms(x, t["model.norm.weight"])
    logits, unused = ref.sequence_logits(ck, [4])
    assert close(logits[0], want) and unused == []


def test_llama_is_causal():
    ck = llama_checkpoint()
    full = ref.sequence_logits(ck, [3, 1, 4, 1, 5, 9])[0]
    assert close(full[:3], ref.sequence_logits(ck, [3, 1, 4])[0], 1e-10)


def test_unused_and_missing_tensors_are_reported():
    ck = llama_checkpoint()
    ck.tensors["model.layers.0.self_attn.q_proj.bias"] = np.zeros(16)
    assert ref.sequence_logits(ck, [1])[1] == ["model.layers.0.self_attn.q_proj.bias"]
    del ck.tensors["lm_head.weight"]
    try:
        ref.sequence_logits(ck, [1])
    except ref.CheckpointMismatch:
        return
    raise AssertionError("a missing lm_head.weight was not reported")


def test_mlp_by_hand():
    config = {"model_type": "mlp", "input_size": 3, "layers": [
        {"type": "linear", "in_features": 3, "out_features": 2, "bias": True},
        {"type": "activation", "function": "gelu"},
        {"type": "layer_norm", "size": 2, "eps": 1e-5},
        {"type": "linear", "in_features": 2, "out_features": 2, "bias": False},
        {"type": "rms_norm", "size": 2, "eps": 1e-6}]}
    t = {"layers.0.weight": np.array([[1.0, 0.0, -1.0], [0.5, 2.0, 0.0]]), "layers.0.bias": np.array([0.1, -0.2]),
         "layers.2.weight": np.array([2.0, 3.0]), "layers.2.bias": np.array([0.0, 1.0]),
         "layers.3.weight": np.array([[1.0, 1.0], [0.0, -1.0]]), "layers.4.weight": np.array([1.0, 0.5])}
    x = [1.0, 2.0, 3.0]
    h = [1 - 3 + 0.1, 0.5 + 4 - 0.2]  # -1.9, 4.3
    h = [0.5 * u * (1 + math.erf(u / math.sqrt(2))) for u in h]
    mu = sum(h) / 2
    sd = math.sqrt(((h[0] - mu) ** 2 + (h[1] - mu) ** 2) / 2 + 1e-5)
    h = [(h[0] - mu) / sd * 2.0, (h[1] - mu) / sd * 3.0 + 1.0]
    h = [h[0] + h[1], -h[1]]
    r = math.sqrt((h[0] ** 2 + h[1] ** 2) / 2 + 1e-6)
    out, unused = ref.mlp_forward(checkpoint(config, t, "mlp"), x)
    assert close(out, [h[0] / r, h[1] / r * 0.5]) and unused == []


def test_every_case_is_registered_with_ctest():
    # One ctest per case: a case added to test_reference.py but not to CMakeLists.txt would never run.
    import re
    import test_reference
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "CMakeLists.txt")) as f:
        listed = re.search(r"set\(reference_cases(.*?)\)", f.read(), re.S).group(1).split()
    assert sorted(listed) == sorted(test_reference.CASES), f"CMakeLists.txt {sorted(listed)} vs {sorted(test_reference.CASES)}"


def main():
    tests = [(name, fn) for name, fn in globals().items() if name.startswith("test_")]
    failed = 0
    for name, fn in tests:
        try:
            fn()
            print(f"ok   {name}")
        except Exception as e:  # report every failing check, not just the first
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e}")
    print(f"{'FAIL' if failed else 'PASS'} reference_selftest: {len(tests) - failed}/{len(tests)} checks passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
