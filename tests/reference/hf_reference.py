"""An independent NumPy reference of the Hugging Face forward passes, computed in float64.

Follows transformers' GPT2LMHeadModel, LlamaForCausalLM (and its Mistral / Qwen2 variants) and
our own `mlp` family from the checkpoint alone (config.json + safetensors), with no code shared
with pipeshard. It is deliberately the plain, whole-sequence formulation (no KV cache, no
batching): one sequence in, logits at every position out.

Anything in config.json that would change the math and is not implemented here raises
`Unsupported`, so the reference never silently computes a different model than HF would.
"""

import json
import math
import os
from dataclasses import dataclass

import numpy as np

import safetensors_np


class Unsupported(ValueError):
    """A config key or value this reference does not implement."""


class CheckpointMismatch(ValueError):
    """A tensor the config requires is missing or has the wrong shape."""


# --------------------------------------------------------------------------------------------
# Checkpoint access


class Weights:
    """Tensors as float64, looked up with or without a module prefix, remembering what was used.

    HF checkpoints name GPT-2 tensors with or without "transformer." and Llama ones with
    "model." (the LM head never has the prefix). Tracking use lets a test notice a tensor that
    the config does not explain, which HF would silently ignore with a warning.
    """

    def __init__(self, tensors, prefix, folder):
        self._tensors = tensors
        self._prefix = prefix
        self._folder = folder
        self._used = set()

    def _resolve(self, name):
        for candidate in (self._prefix + name, name):
            if candidate in self._tensors:
                return candidate
        return None

    def has(self, name):
        return self._resolve(name) is not None

    def get(self, name, shape):
        key = self._resolve(name)
        if key is None:
            raise CheckpointMismatch(f"{self._folder}: tensor '{name}' (or '{self._prefix}{name}') is missing")
        value = self._tensors[key]
        if tuple(value.shape) != tuple(shape):
            raise CheckpointMismatch(f"{self._folder}: tensor '{key}' has shape {list(value.shape)}, expected {list(shape)}")
        self._used.add(key)
        return value.astype(np.float64)

    def ignore(self, predicate):
        """Marks tensors HF would load but never use in the forward (e.g. GPT-2's mask buffers)."""
        self._used.update(k for k in self._tensors if predicate(k))

    def unused(self):
        return sorted(set(self._tensors) - self._used)


@dataclass
class Checkpoint:
    folder: str
    config: dict
    family: str  # "gpt2", "llama" (also mistral and qwen2) or "mlp"
    tensors: dict  # raw {name: ndarray} as stored (bf16/f16 widened to float32)


LLAMA_TYPES = ("llama", "mistral", "qwen2")


def load_checkpoint(folder):
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    model_type = config.get("model_type")
    if model_type == "gpt2" or model_type == "mlp":
        family = model_type
    elif model_type in LLAMA_TYPES:
        family = "llama"
    else:
        raise Unsupported(f"{folder}/config.json: model_type {model_type!r}")
    return Checkpoint(folder, config, family, safetensors_np.load_folder(folder))


# --------------------------------------------------------------------------------------------
# Building blocks (all float64)


def layer_norm(x, weight, bias, eps):
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)  # biased variance, as torch.nn.LayerNorm
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def rms_norm(x, weight, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * weight


def gelu_tanh(x):
    # transformers' "gelu_new" / torch's gelu(approximate="tanh").
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


_erf = np.vectorize(math.erf, otypes=[np.float64])  # NumPy has no erf; sizes here are tiny


def gelu_erf(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def silu(x):
    return x / (1.0 + np.exp(-x))


ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0.0),
    "gelu": gelu_erf,
    "gelu_tanh": gelu_tanh,
    "gelu_new": gelu_tanh,
    "gelu_pytorch_tanh": gelu_tanh,
    "silu": silu,
    "tanh": np.tanh,
}


def causal_attention(q, k, v, scale, window=None):
    """q, k, v: [heads, T, head_dim] -> [heads, T, head_dim].

    Query i sees keys j <= i, and with a sliding window only those with i - j < window (HF's
    Mistral mask). Masked scores are -inf before a max-subtracted softmax.
    """
    t = q.shape[1]
    scores = (q @ k.transpose(0, 2, 1)) * scale
    i, j = np.arange(t)[:, None], np.arange(t)[None, :]
    visible = j <= i
    if window is not None:
        visible &= (i - j) < window
    scores = np.where(visible, scores, -np.inf)
    scores -= scores.max(-1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(-1, keepdims=True)
    return probs @ v


def split_heads(x, heads):
    """[T, heads*head_dim] -> [heads, T, head_dim]."""
    t = x.shape[0]
    return x.reshape(t, heads, -1).transpose(1, 0, 2)


def merge_heads(x):
    """[heads, T, head_dim] -> [T, heads*head_dim]."""
    return x.transpose(1, 0, 2).reshape(x.shape[1], -1)


def log_softmax(logits):
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


# --------------------------------------------------------------------------------------------
# GPT-2 (GPT2LMHeadModel)


def _check_positions(ck, ids, limit):
    if len(ids) == 0 or len(ids) > limit:
        raise ValueError(f"{ck.folder}: sequence of {len(ids)} tokens, context is {limit}")
    vocab = ck.config["vocab_size"]
    bad = [t for t in ids if not 0 <= t < vocab]
    if bad:
        raise ValueError(f"{ck.folder}: token ids {bad} outside the vocabulary of {vocab}")


def gpt2_logits(ck, ids):
    c = ck.config
    act_name = c.get("activation_function", "gelu_new")
    if act_name not in ACTIVATIONS:
        raise Unsupported(f"{ck.folder}: activation_function {act_name!r}")
    if c.get("add_cross_attention"):
        raise Unsupported(f"{ck.folder}: add_cross_attention")
    act = ACTIVATIONS[act_name]
    e, heads, n_layer, vocab = c["n_embd"], c["n_head"], c["n_layer"], c["vocab_size"]
    inner = c.get("n_inner") or 4 * e
    eps = c.get("layer_norm_epsilon", 1e-5)
    head_dim = e // heads
    _check_positions(ck, ids, c["n_positions"])

    w = Weights(ck.tensors, "transformer.", ck.folder)
    # The causal-mask buffers of old checkpoints, and a stored copy of the tied head, are not
    # parameters of the forward.
    w.ignore(lambda n: n.endswith(".attn.bias") or n.endswith(".attn.masked_bias"))
    if c.get("tie_word_embeddings", True):
        w.ignore(lambda n: n == "lm_head.weight")

    def ln(name, x):
        return layer_norm(x, w.get(name + ".weight", [e]), w.get(name + ".bias", [e]), eps)

    def conv1d(name, x, n_in, n_out):  # Conv1D stores W as [in, out]: y = x W + b
        return x @ w.get(name + ".weight", [n_in, n_out]) + w.get(name + ".bias", [n_out])

    t = len(ids)
    x = w.get("wte.weight", [vocab, e])[ids] + w.get("wpe.weight", [c["n_positions"], e])[:t]
    for layer in range(n_layer):
        p = f"h.{layer}."
        qkv = conv1d(p + "attn.c_attn", ln(p + "ln_1", x), e, 3 * e)
        q, k, v = (split_heads(part, heads) for part in np.split(qkv, 3, axis=-1))
        scale = 1.0 / math.sqrt(head_dim) if c.get("scale_attn_weights", True) else 1.0
        if c.get("scale_attn_by_inverse_layer_idx", False):
            scale /= layer + 1
        x = x + conv1d(p + "attn.c_proj", merge_heads(causal_attention(q, k, v, scale)), e, e)
        hidden = act(conv1d(p + "mlp.c_fc", ln(p + "ln_2", x), e, inner))
        x = x + conv1d(p + "mlp.c_proj", hidden, inner, e)
    x = ln("ln_f", x)
    head = w.get("wte.weight", [vocab, e]) if c.get("tie_word_embeddings", True) else w.get("lm_head.weight", [vocab, e])
    return x @ head.T, w.unused()


# --------------------------------------------------------------------------------------------
# Llama / Mistral / Qwen2 (LlamaForCausalLM and friends)

# HF's per-architecture defaults for keys a config may omit.
_LLAMA_DEFAULTS = {
    "llama": {"num_key_value_heads": None, "sliding_window": None},
    "mistral": {"num_key_value_heads": 8, "sliding_window": 4096},
    "qwen2": {"num_key_value_heads": 32, "sliding_window": None},
}


def rope_inv_freq(config, head_dim, folder=""):
    """Inverse frequencies [head_dim/2] after `rope_scaling` (default, linear, llama3).

    Scaling the positions by 1/factor ("linear") is the same as scaling the frequencies, which
    is how current transformers computes it.
    """
    theta = config.get("rope_theta", 10000.0)
    inv_freq = 1.0 / theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim)
    scaling = config.get("rope_scaling")
    if not scaling:
        return inv_freq
    kind = scaling.get("rope_type", scaling.get("type"))
    if kind == "default":
        return inv_freq
    if kind == "linear":
        return inv_freq / scaling["factor"]
    if kind == "llama3":
        return llama3_inv_freq(inv_freq, scaling)
    raise Unsupported(f"{folder}: rope_scaling type {kind!r}")


def llama3_inv_freq(inv_freq, scaling):
    """Llama 3.1 frequency scaling: keep short wavelengths, divide long ones by `factor`, and
    blend linearly (in 1/wavelength) in between."""
    factor = scaling["factor"]
    low, high = scaling.get("low_freq_factor", 1.0), scaling.get("high_freq_factor", 4.0)
    old_context = scaling.get("original_max_position_embeddings", 8192)
    wavelen = 2.0 * math.pi / inv_freq
    long_wave = wavelen > old_context / low  # low frequencies: interpolate fully
    short_wave = wavelen < old_context / high  # high frequencies: untouched
    smooth = (old_context / wavelen - low) / (high - low)
    blended = (1.0 - smooth) * inv_freq / factor + smooth * inv_freq
    return np.where(long_wave, inv_freq / factor, np.where(short_wave, inv_freq, blended))


def apply_rope(x, inv_freq):
    """Rotate-half RoPE on [heads, T, head_dim] at positions 0..T-1: the first and second halves
    of each head are the two coordinates of each rotated pair."""
    angles = np.arange(x.shape[1], dtype=np.float64)[:, None] * inv_freq[None, :]
    cos = np.concatenate([np.cos(angles)] * 2, axis=-1)
    sin = np.concatenate([np.sin(angles)] * 2, axis=-1)
    half = x.shape[-1] // 2
    rotated = np.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


@dataclass
class LlamaDims:
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    inter: int
    layers: int
    vocab: int
    eps: float
    window: object  # int or None
    qkv_bias: bool
    o_bias: bool
    mlp_bias: bool
    tied: bool


def llama_dims(ck):
    c, model_type = ck.config, ck.config["model_type"]
    defaults = _LLAMA_DEFAULTS[model_type]
    if c.get("hidden_act", "silu") != "silu":
        raise Unsupported(f"{ck.folder}: hidden_act {c['hidden_act']!r}")
    if c.get("partial_rotary_factor", 1.0) != 1.0:
        raise Unsupported(f"{ck.folder}: partial_rotary_factor")
    if model_type == "qwen2" and c.get("use_sliding_window", False):
        raise Unsupported(f"{ck.folder}: qwen2 use_sliding_window")
    heads = c["num_attention_heads"]
    kv_heads = c.get("num_key_value_heads", defaults["num_key_value_heads"]) or heads
    window = c.get("sliding_window", defaults["sliding_window"]) if model_type == "mistral" else None
    # Llama's attention_bias puts a bias on q, k, v and o_proj; Qwen2 always has q, k, v biases
    # and none on o_proj; Mistral has none.
    attention_bias = model_type == "llama" and c.get("attention_bias", False)
    return LlamaDims(
        hidden=c["hidden_size"], heads=heads, kv_heads=kv_heads,
        head_dim=c.get("head_dim") or c["hidden_size"] // heads,
        inter=c["intermediate_size"], layers=c["num_hidden_layers"], vocab=c["vocab_size"],
        eps=c.get("rms_norm_eps", 1e-6), window=window,
        qkv_bias=attention_bias or model_type == "qwen2", o_bias=attention_bias,
        mlp_bias=model_type == "llama" and c.get("mlp_bias", False),
        tied=c.get("tie_word_embeddings", False))


def llama_logits(ck, ids):
    d = llama_dims(ck)
    if d.heads % d.kv_heads:
        raise Unsupported(f"{ck.folder}: {d.heads} heads not a multiple of {d.kv_heads} kv heads")
    _check_positions(ck, ids, ck.config.get("max_position_embeddings", 2048))
    inv_freq = rope_inv_freq(ck.config, d.head_dim, ck.folder)
    w = Weights(ck.tensors, "model.", ck.folder)

    def linear(name, x, n_in, n_out, bias):  # nn.Linear stores W as [out, in]: y = x W^T + b
        y = x @ w.get(name + ".weight", [n_out, n_in]).T
        return y + w.get(name + ".bias", [n_out]) if bias else y

    x = w.get("embed_tokens.weight", [d.vocab, d.hidden])[ids]
    q_size, kv_size = d.heads * d.head_dim, d.kv_heads * d.head_dim
    for layer in range(d.layers):
        p = f"layers.{layer}."
        a = rms_norm(x, w.get(p + "input_layernorm.weight", [d.hidden]), d.eps)
        q = split_heads(linear(p + "self_attn.q_proj", a, d.hidden, q_size, d.qkv_bias), d.heads)
        k = split_heads(linear(p + "self_attn.k_proj", a, d.hidden, kv_size, d.qkv_bias), d.kv_heads)
        v = split_heads(linear(p + "self_attn.v_proj", a, d.hidden, kv_size, d.qkv_bias), d.kv_heads)
        q, k = apply_rope(q, inv_freq), apply_rope(k, inv_freq)
        # GQA: query head h reads kv head h // (heads / kv_heads) (HF's repeat_kv).
        group = d.heads // d.kv_heads
        k, v = np.repeat(k, group, axis=0), np.repeat(v, group, axis=0)
        o = merge_heads(causal_attention(q, k, v, 1.0 / math.sqrt(d.head_dim), d.window))
        x = x + linear(p + "self_attn.o_proj", o, q_size, d.hidden, d.o_bias)
        m = rms_norm(x, w.get(p + "post_attention_layernorm.weight", [d.hidden]), d.eps)
        gate = linear(p + "mlp.gate_proj", m, d.hidden, d.inter, d.mlp_bias)
        up = linear(p + "mlp.up_proj", m, d.hidden, d.inter, d.mlp_bias)
        x = x + linear(p + "mlp.down_proj", silu(gate) * up, d.inter, d.hidden, d.mlp_bias)
    x = rms_norm(x, w.get("norm.weight", [d.hidden]), d.eps)
    head_name = "embed_tokens.weight" if d.tied else "lm_head.weight"
    return x @ w.get(head_name, [d.vocab, d.hidden]).T, w.unused()


# --------------------------------------------------------------------------------------------
# mlp (pipeshard's own family)


def mlp_forward(ck, inputs):
    """inputs: [input_size] (or [batch, input_size]) -> outputs, and the unused tensor names."""
    w = Weights(ck.tensors, "", ck.folder)
    x = np.asarray(inputs, dtype=np.float64)
    width = ck.config["input_size"]
    if x.shape[-1] != width:
        raise ValueError(f"{ck.folder}: input of {x.shape[-1]} values, input_size is {width}")
    for i, layer in enumerate(ck.config["layers"]):
        p, kind = f"layers.{i}.", layer["type"]
        if kind == "linear":
            if layer["in_features"] != width:
                raise CheckpointMismatch(f"{ck.folder}: layers[{i}].in_features {layer['in_features']} != width {width}")
            width = layer["out_features"]
            x = x @ w.get(p + "weight", [width, layer["in_features"]]).T
            if layer.get("bias", True):
                x = x + w.get(p + "bias", [width])
        elif kind == "activation":
            if layer["function"] not in ("relu", "gelu", "gelu_tanh", "silu", "tanh"):
                raise Unsupported(f"{ck.folder}: layers[{i}].function {layer['function']!r}")
            x = ACTIVATIONS[layer["function"]](x)
        elif kind == "layer_norm":
            x = layer_norm(x, w.get(p + "weight", [width]), w.get(p + "bias", [width]), layer["eps"])
        elif kind == "rms_norm":
            x = rms_norm(x, w.get(p + "weight", [width]), layer["eps"])
        else:
            raise Unsupported(f"{ck.folder}: layers[{i}].type {kind!r}")
    return x, w.unused()


# --------------------------------------------------------------------------------------------
# Entry point


def sequence_logits(ck, ids):
    """Logits [len(ids), vocab] at every position for one sequence, and the unused tensors."""
    ids = [int(t) for t in ids]
    if ck.family == "gpt2":
        return gpt2_logits(ck, ids)
    if ck.family == "llama":
        return llama_logits(ck, ids)
    raise ValueError(f"{ck.folder}: family {ck.family} has no logits")
