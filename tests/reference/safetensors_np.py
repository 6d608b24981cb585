"""A minimal safetensors reader/writer in pure Python + NumPy.

Written from the format description, independently of pipeshard's C++ loader, so the reference
reads checkpoints through a second implementation:

    [u64 little-endian N][N bytes of JSON header][data]
    header: {"<name>": {"dtype": "F32"|"F16"|"BF16"|..., "shape": [...],
                        "data_offsets": [begin, end]}, "__metadata__": {...}}

Offsets are relative to the start of the data section. A sharded checkpoint adds
`model.safetensors.index.json` whose "weight_map" maps each tensor name to its shard file.

NumPy has no bfloat16: BF16 values are the upper 16 bits of an IEEE float32, so they are widened
exactly by shifting them into the high half of a uint32 and viewing it as float32.
"""

import json
import os
import struct

import numpy as np

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"

# safetensors dtype -> (numpy storage dtype, bytes per element). BF16 is stored as raw uint16.
_STORAGE = {
    "F64": (np.dtype("<f8"), 8),
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),
    "I64": (np.dtype("<i8"), 8),
    "I32": (np.dtype("<i4"), 4),
}


class SafetensorsError(ValueError):
    """A malformed file; the message names the file and the tensor."""


# --------------------------------------------------------------------------------------------
# bfloat16 <-> float32


def bf16_bits_to_f32(bits):
    """uint16 BF16 bit patterns -> float32 (exact)."""
    bits = np.asarray(bits, dtype=np.uint16)
    # view() needs at least one dimension to reinterpret; go through a flat copy.
    return (bits.reshape(-1).astype(np.uint32) << 16).view(np.float32).reshape(bits.shape)


def f32_to_bf16_bits(values):
    """float32 -> uint16 BF16 bit patterns, rounding to nearest, ties to even (as torch does)."""
    values = np.asarray(values, dtype=np.float32)
    u = values.reshape(-1).view(np.uint32).astype(np.uint64)
    bits = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    # NaN must stay NaN (rounding could carry a NaN's payload into the infinity pattern).
    bits[np.isnan(values.reshape(-1))] = 0x7FC0
    return bits.reshape(values.shape)


# --------------------------------------------------------------------------------------------
# Reading


def read_header(path):
    """Returns (header dict without __metadata__, byte offset of the data section, file size)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        prefix = f.read(8)
        if len(prefix) != 8:
            raise SafetensorsError(f"{path}: shorter than the 8-byte header length")
        (n,) = struct.unpack("<Q", prefix)
        if n > size - 8:
            raise SafetensorsError(f"{path}: header length {n} runs past the end of the file ({size} bytes)")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SafetensorsError(f"{path}: header is not JSON: {e}") from e
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    header.pop("__metadata__", None)
    return header, 8 + n, size


def _decode_tensor(path, name, entry, raw):
    dtype = entry.get("dtype")
    if dtype not in _STORAGE:
        raise SafetensorsError(f"{path}: tensor '{name}': unsupported dtype {dtype!r}")
    storage, width = _STORAGE[dtype]
    shape = [int(d) for d in entry["shape"]]
    begin, end = (int(o) for o in entry["data_offsets"])
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if not 0 <= begin <= end <= len(raw):
        raise SafetensorsError(f"{path}: tensor '{name}': data_offsets {[begin, end]} outside the data ({len(raw)} bytes)")
    if end - begin != count * width:
        raise SafetensorsError(f"{path}: tensor '{name}': {end - begin} bytes for shape {shape} of {dtype}")
    values = np.frombuffer(raw, dtype=storage, count=count, offset=begin).reshape(shape)
    return bf16_bits_to_f32(values).reshape(shape) if dtype == "BF16" else values.copy()


def read_file(path):
    """All tensors of one .safetensors file: {name: ndarray}. BF16 comes back as float32."""
    header, data_start, _ = read_header(path)
    with open(path, "rb") as f:
        f.seek(data_start)
        raw = f.read()
    return {name: _decode_tensor(path, name, entry, raw) for name, entry in header.items()}


def read_dtypes(path):
    """{name: safetensors dtype string} of one file, without reading the data."""
    header, _, _ = read_header(path)
    return {name: entry["dtype"] for name, entry in header.items()}


def checkpoint_files(folder):
    """The .safetensors files of an HF folder: the shards named by the index, or the single file."""
    index_path = os.path.join(folder, INDEX_NAME)
    if os.path.exists(index_path):
        with open(index_path) as f:
            weight_map = json.load(f)["weight_map"]
        return sorted(set(weight_map.values())), weight_map
    return [SINGLE_NAME], None


def load_folder(folder):
    """All tensors of an HF checkpoint folder, single-file or sharded: {name: ndarray}.

    With an index, every tensor must live in the shard the index names, and every tensor of every
    shard must be in the index (a stale index would otherwise hide a tensor from one reader).
    """
    files, weight_map = checkpoint_files(folder)
    tensors = {}
    for file_name in files:
        path = os.path.join(folder, file_name)
        for name, value in read_file(path).items():
            if name in tensors:
                raise SafetensorsError(f"{path}: tensor '{name}' appears in more than one shard")
            if weight_map is not None and weight_map.get(name) != file_name:
                raise SafetensorsError(f"{path}: tensor '{name}' is not mapped to this shard by {INDEX_NAME}")
            tensors[name] = value
    if weight_map is not None:
        missing = sorted(set(weight_map) - set(tensors))
        if missing:
            raise SafetensorsError(f"{folder}/{INDEX_NAME}: tensors in the weight_map but in no shard: {missing}")
    return tensors


# --------------------------------------------------------------------------------------------
# Writing (for hand-made test checkpoints)


def _encode(value, dtype):
    if dtype == "BF16":
        return f32_to_bf16_bits(value).tobytes()
    storage, _ = _STORAGE[dtype]
    return np.ascontiguousarray(value, dtype=storage).tobytes()


def write_file(path, tensors, dtype="F32", metadata=None):
    """Writes {name: ndarray} with every tensor stored as `dtype` (header padded to 8 bytes)."""
    header, chunks, offset = {}, [], 0
    for name, value in tensors.items():
        data = _encode(value, dtype)
        header[name] = {"dtype": dtype, "shape": list(np.shape(value)), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)


def write_folder(folder, tensors, dtype="F32", shards=1):
    """Writes tensors as model.safetensors, or as `shards` files plus the index when shards > 1."""
    os.makedirs(folder, exist_ok=True)
    if shards <= 1:
        write_file(os.path.join(folder, SINGLE_NAME), tensors, dtype, {"format": "pt"})
        return
    names = list(tensors)
    groups = [names[i::shards] for i in range(shards)]
    weight_map = {}
    for k, group in enumerate(groups):
        file_name = f"model-{k + 1:05d}-of-{shards:05d}.safetensors"
        write_file(os.path.join(folder, file_name), {n: tensors[n] for n in group}, dtype, {"format": "pt"})
        weight_map.update({n: file_name for n in group})
    with open(os.path.join(folder, INDEX_NAME), "w") as f:
        json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)
