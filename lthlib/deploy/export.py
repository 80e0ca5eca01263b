"""A deployable ticket: one stored level's trained weights in every form, and a manifest.

``export_ticket(stored)`` writes into one folder (by default
``results/<profile>/exports/<dataset>_<model>_<arm>_s<seed>_L<level>_<hash>/``, git-ignored)::

    sparse_fp32.safetensors   the surviving values and their positions (lthlib.deploy.sparse)
    sparse_fp16.safetensors   the same with fp16 values
    model.onnx                the dense graph, pruned weights as zeros (lthlib.deploy.forms)
    model_int8.onnx           onnxruntime's dynamic int8 version of it
    <each of them>.zst        zstd-compressed (level ZSTD_LEVEL), to ship
    manifest.json             the run key, sizes and SHA-256 of every file, the reference sizes
                              of the dense fp32 checkpoint, the tokenizer and its vocabulary,
                              the inputs and outputs, and how to load each form

``load_ticket(folder)`` rebuilds the PyTorch network from the sparse checkpoint (from its .zst
copy when the plain file is absent): fp32 gives exactly the stored network's weights, so its
logits are the stored network's.
"""
from __future__ import annotations

import hashlib
import io
import tempfile
from pathlib import Path

import torch
import zstandard

from ..core.config import ExperimentConfig
from ..data.prepare import prepared, tokenizer_spec
from ..machine.files import load_json, load_torch, save_json
from ..machine.platform import display_path, results_dir
from ..nets.models import build_model, flatten_rnns, n_outputs
from .forms import INPUT_NAMES, OPSET, OUTPUT_NAME, export_onnx, quantize_int8
from .sparse import FORMAT, load_sparse, save_sparse
from .stored import StoredLevel

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
#: zstd's level for every compressed copy.  Measured on 2 MB and 20 MB of fp32 with 90% zeros
#: (the quick and paper networks' size): level 19 wrote files 7-8% smaller than level 10 in 20x
#: the time (2.6 s and 25 s a file against 0.13 s and 1.1 s), which would make the quick
#: profile's exports take minutes; decompression costs about the same at any level.
ZSTD_LEVEL = 10
#: file name and what it holds, for each form written
FILES = {
    "sparse_fp32": ("sparse_fp32.safetensors", "sparse checkpoint, fp32 values (safetensors)"),
    "sparse_fp16": ("sparse_fp16.safetensors", "sparse checkpoint, fp16 values (safetensors)"),
    "onnx_fp32": ("model.onnx", f"ONNX opset {OPSET}, dense graph with the pruned zeros, fp32"),
    "onnx_int8": ("model_int8.onnx", "ONNX, onnxruntime dynamic quantization: int8 weights"),
}


def default_folder(stored: StoredLevel) -> Path:
    cfg = stored.cfg
    name = f"{cfg.data.dataset}_{cfg.model.name}_{stored.arm}_s{cfg.seed}_L{stored.level}_{stored.run.hash[:8]}"
    return results_dir(stored.profile) / "exports" / name


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def compress(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)


def decompress(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompress(data)


def file_entry(path: Path, what: str) -> dict:
    """A written file's name, size and checksum, and its zstd copy's (written beside it)."""
    data = path.read_bytes()
    packed = compress(data)
    packed_path = path.with_name(path.name + ".zst")
    packed_path.write_bytes(packed)
    return {"path": path.name, "what": what, "bytes": len(data), "sha256": sha256(data),
            "zstd": {"path": packed_path.name, "bytes": len(packed), "sha256": sha256(packed), "level": ZSTD_LEVEL}}


def dense_checkpoint_sizes(state: dict[str, torch.Tensor]) -> dict:
    """The reference: the dense fp32 state dict as ``torch.save`` writes it, and with zstd."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    data = buffer.getvalue()
    return {"what": "torch.save of the dense fp32 state dict (what final.pt holds)",
            "bytes": len(data), "zstd_bytes": len(compress(data))}


def trained_model(stored: StoredLevel) -> torch.nn.Module:
    """The stored level's network, rebuilt in PyTorch from its ``final.pt`` (fp32, eval mode)."""
    data = prepared(stored.cfg.data, progress=False)
    model = build_model(stored.cfg.model, len(data.vocab), data.n_classes, init_seed=0)
    model.load_state_dict(load_torch(stored.weights))
    flatten_rnns(model)
    return model.eval()


def export_ticket(stored: StoredLevel, folder: Path | None = None) -> dict:
    """Write every form of ``stored`` into ``folder`` and its manifest; return the manifest."""
    folder = Path(folder) if folder is not None else default_folder(stored)
    folder.mkdir(parents=True, exist_ok=True)
    data = prepared(stored.cfg.data, progress=False)
    model = trained_model(stored)
    state = {name: value for name, value in model.state_dict().items()}
    paths = {form: folder / name for form, (name, _) in FILES.items()}
    save_sparse(state, paths["sparse_fp32"], "float32")
    save_sparse(state, paths["sparse_fp16"], "float16")
    export_onnx(model, len(data.vocab), paths["onnx_fp32"])
    quantize_int8(paths["onnx_fp32"], paths["onnx_int8"])
    manifest = {
        "format": "lthlib-ticket", "version": MANIFEST_VERSION,
        "run": run_entry(stored),
        "model": {"name": stored.cfg.model.name, "vocab_size": len(data.vocab), "n_classes": data.n_classes,
                  "n_out": n_outputs(data.n_classes), "class_names": list(data.class_names)},
        "tokenizer": {**tokenizer_spec(), "max_len": stored.cfg.data.max_len, "vocabulary": list(data.vocab.itos)},
        "inputs": {INPUT_NAMES[0]: "int64 (batch, steps): token ids, each example followed by pad_id up to "
                                   "the batch's longest",
                   INPUT_NAMES[1]: "int64 (batch,): each example's number of tokens (at least 1)"},
        "outputs": {OUTPUT_NAME: "float32 (batch, n_out): one logit when n_out is 1 (class 1 when > 0), "
                                 "else one per class (the class is the largest)"},
        "files": {form: file_entry(paths[form], what) for form, (_, what) in FILES.items()},
        "reference": {"dense_fp32_checkpoint": dense_checkpoint_sizes(state)},
        "how_to_load": how_to_load(),
    }
    save_json(manifest, folder / MANIFEST)
    return manifest


def run_entry(stored: StoredLevel) -> dict:
    row = stored.row
    return {**stored.identity(), "profile": stored.profile, "requested_arm": stored.cfg.arm,
            "run_key": stored.run.key, "config": stored.cfg.to_dict(),
            "weights": {"path": display_path(stored.weights), "sha256": sha256(stored.weights.read_bytes()),
                        "what": "final.pt: the weights after the level's last epoch"},
            "stored": {k: row.get(k) for k in ("test_acc", "final_test_acc", "best_val_acc", "best_epoch",
                                               "epochs_run", "n_params", "n_nonzero")}}


def how_to_load() -> dict:
    return {
        "pytorch": "from lthlib.deploy import load_ticket; model = load_ticket('<folder>')  "
                   "# precision='fp16' for the fp16 checkpoint; logits = model(tokens, lengths)",
        "onnxruntime": "import onnxruntime as ort; s = ort.InferenceSession('<folder>/model.onnx'); "
                       "logits = s.run(['logits'], {'tokens': tokens, 'lengths': lengths})[0]",
        "zstd": "python -m zstandard -d <file>.zst, or zstd -d <file>.zst",
        "sparse_format": f"{FORMAT}: safetensors; per tensor '<name>.values' and '<name>.bitmask' "
                         "(numpy.packbits of the non-zero positions, row-major) or '<name>.indices' "
                         "(flat positions), or the values alone (dense); the header's 'lthlib_sparse' "
                         "metadata (JSON) gives each tensor's shape, encoding and dtype",
    }


def read_manifest(folder: Path) -> dict:
    return load_json(Path(folder) / MANIFEST)


def form_bytes(folder: Path, form: str, manifest: dict | None = None) -> bytes:
    """A form's file, from its .zst copy when the plain file is absent; its checksum verified."""
    entry = (manifest or read_manifest(folder))["files"][form]
    plain = Path(folder) / entry["path"]
    data = plain.read_bytes() if plain.exists() else decompress((Path(folder) / entry["zstd"]["path"]).read_bytes())
    if sha256(data) != entry["sha256"]:
        raise ValueError(f"{plain}: its SHA-256 is not the manifest's; the file is damaged or from another export")
    return data


def load_ticket(folder: Path, precision: str = "fp32") -> torch.nn.Module:
    """The exported network rebuilt in PyTorch (fp32, eval mode) from its sparse checkpoint."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    form = {"fp32": "sparse_fp32", "fp16": "sparse_fp16"}[precision]
    with tempfile.TemporaryDirectory() as tmp:  # safetensors reads its header from a file
        target = Path(tmp) / FILES[form][0]
        target.write_bytes(form_bytes(folder, form, manifest))
        state = load_sparse(target)
    spec = manifest["model"]
    model_cfg = ExperimentConfig.from_dict(manifest["run"]["config"]).model
    model = build_model(model_cfg, spec["vocab_size"], spec["n_classes"], init_seed=0)
    model.load_state_dict(state)
    flatten_rnns(model)
    return model.eval()
