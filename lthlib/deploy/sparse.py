"""The sparse checkpoint: each tensor's surviving values and where they sit, in a safetensors file.

A pruned tensor is stored as its non-zero values in row-major order (fp32, or fp16 for the half
size) and their positions, in whichever encoding is smallest for that tensor:

- ``bitmask``  one bit per entry (``numpy.packbits``): ``ceil(n / 8)`` bytes;
- ``indices``  the flat positions of the non-zeros, in the narrowest unsigned integer that holds
  ``n - 1`` (uint8, uint16 or uint32): ``nnz × width`` bytes, smaller below ~1/(8 × width) density;
- ``dense``    every value, zeros included, and no positions: smaller where almost nothing was
  pruned (a dense level, or a tensor the mask leaves alone).

Positions come from the values themselves (``!= 0``), not from the mask: a surviving weight
that is exactly zero (the padding row of an embedding) costs nothing, and the rebuilt tensor is
the stored one bit for bit (up to the sign of a pruned zero, ``-0.0`` against ``0.0``, which no
product or sum can tell apart from the other in a logit).

Why safetensors and not ``torch.save``: the file is a flat table of named arrays with a JSON
header and no pickle, so it loads without executing anything, maps into memory, and is read by
any language (Rust, C++, JavaScript, numpy) without PyTorch; its header is a few hundred bytes,
where ``torch.save``'s zip container spends about as much per tensor, which is not negligible
against a small pruned network.  The encodings are per tensor, named in the header's metadata
(``lthlib_sparse``: shape, encoding and stored dtype of each tensor), so a reader needs nothing
else.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file, save

from ..machine.files import atomic_write

FORMAT = "lthlib-sparse-v1"
ENCODINGS = ("bitmask", "indices", "dense")
VALUE_DTYPES = {"float32": np.float32, "float16": np.float16}


def index_dtype(n: int) -> np.dtype:
    """The narrowest unsigned integer that holds every flat position of ``n`` entries."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n - 1 <= np.iinfo(dtype).max:
            return np.dtype(dtype)
    return np.dtype(np.uint64)


def encoding_sizes(n: int, nnz: int, value_bytes: int) -> dict[str, int]:
    """The bytes each encoding takes for a tensor of ``n`` entries with ``nnz`` non-zeros."""
    return {"bitmask": -(-n // 8) + nnz * value_bytes,
            "indices": nnz * (index_dtype(n).itemsize + value_bytes),
            "dense": n * value_bytes}


def encode_tensor(name: str, tensor: torch.Tensor, dtype: str) -> tuple[dict[str, np.ndarray], dict]:
    """One tensor's arrays (``<name>.values`` and ``<name>.bitmask`` or ``<name>.indices``) and
    its header entry, in the smallest encoding."""
    flat = tensor.detach().to("cpu", torch.float32).reshape(-1).numpy()
    survives = flat != 0
    value_type = np.dtype(VALUE_DTYPES[dtype])
    sizes = encoding_sizes(flat.size, int(survives.sum()), value_type.itemsize)
    encoding = min(ENCODINGS, key=lambda e: (sizes[e], ENCODINGS.index(e)))
    entry = {"shape": list(tensor.shape), "encoding": encoding, "dtype": dtype}
    if encoding == "dense":
        return {f"{name}.values": flat.astype(value_type)}, entry
    arrays = {f"{name}.values": flat[survives].astype(value_type)}
    if encoding == "bitmask":
        arrays[f"{name}.bitmask"] = np.packbits(survives)
    else:
        arrays[f"{name}.indices"] = np.flatnonzero(survives).astype(index_dtype(flat.size))
    return arrays, entry


def decode_tensor(name: str, entry: dict, arrays: dict[str, np.ndarray]) -> torch.Tensor:
    """The fp32 tensor one header entry and its arrays describe."""
    shape = tuple(entry["shape"])
    n = int(np.prod(shape, dtype=np.int64))
    values = arrays[f"{name}.values"].astype(np.float32)
    if entry["encoding"] == "dense":
        flat = values
    else:
        flat = np.zeros(n, dtype=np.float32)
        if entry["encoding"] == "bitmask":
            where = np.unpackbits(arrays[f"{name}.bitmask"], count=n).astype(bool)
        else:
            where = arrays[f"{name}.indices"].astype(np.int64)
        flat[where] = values
    return torch.from_numpy(flat.reshape(shape).copy())


def save_sparse(state: dict[str, torch.Tensor], path: Path, dtype: str = "float32") -> dict:
    """Write ``state`` (floating tensors) as a sparse checkpoint; return its header entries."""
    if dtype not in VALUE_DTYPES:
        raise ValueError(f"sparse checkpoint values are {' or '.join(VALUE_DTYPES)}, not {dtype!r}")
    arrays, header = {}, {}
    for name, tensor in state.items():
        tensor_arrays, header[name] = encode_tensor(name, tensor, dtype)
        arrays.update(tensor_arrays)
    data = save(arrays, metadata={"format": FORMAT, "lthlib_sparse": json.dumps(header)})
    atomic_write(path, lambda handle: handle.write(data))  # safetensors' own writer makes it 0600
    return header


def read_header(path: Path) -> dict:
    """The per-tensor entries of a sparse checkpoint's header (shape, encoding, dtype)."""
    from safetensors import safe_open
    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path} is not an lthlib sparse checkpoint (format {metadata.get('format')!r}, "
                         f"want {FORMAT!r})")
    return json.loads(metadata["lthlib_sparse"])


def load_sparse(path: Path) -> dict[str, torch.Tensor]:
    """The fp32 state dict a sparse checkpoint holds (fp16 values widened to fp32)."""
    header = read_header(path)
    arrays = load_file(str(path))
    return {name: decode_tensor(name, entry, arrays) for name, entry in header.items()}
