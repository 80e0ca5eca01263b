"""A deployable ticket: one stored level's trained weights in every form, and a manifest.

``export_ticket(stored)`` writes into one folder (by default
``results/<profile>/exports/<dataset>_<model>_<arm>_s<seed>_L<level>_<hash>/``, git-ignored)::

    sparse_fp32.safetensors   the surviving values and their positions (lthlib.deploy.sparse)
    sparse_fp16.safetensors   the same with fp16 values
    model.onnx                the dense graph, pruned weights as zeros (lthlib.deploy.forms)
    model_int8.onnx           onnxruntime's dynamic int8 version of it
    <each of them>.zst        zstd-compressed (level ZSTD_LEVEL), to ship
    predict.py                a standalone script (numpy and onnxruntime, no lthlib): rebuilds
                              the text pipeline from the official raw file, scores the test rows
                              and prints the accuracy beside the stored ``final_test_acc``
                              (:mod:`lthlib.deploy.predict`)
    manifest.json             the run key, sizes and SHA-256 of every file, the reference sizes
                              of the dense fp32 checkpoint, the whole text pipeline (``data``:
                              the raw files, their reader, the fields and cleaning that make the
                              text, the label mapping; ``tokenizer``: its rule, vocabulary,
                              unknown and pad ids, truncation), the test split's row ids and
                              a warning wherever a file mixes them with rows that trained the
                              model, the inputs and outputs, and how to load each form.  Paths
                              in it are relative (to the export folder or the repository).

``load_ticket(folder)`` rebuilds the PyTorch network from the sparse checkpoint (from its .zst
copy when the plain file is absent): fp32 gives exactly the stored network's weights, so its
logits are the stored network's.
"""
from __future__ import annotations

import copy
import hashlib
import io
import os
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import torch
import zstandard

from ..core.config import ConfigError, ExperimentConfig, fingerprint
from ..data.datasets import dataset
from ..data.prepare import UNK, PreparedData, loaded_rows, prepared, tokenize, tokenizer_spec
from ..data.sources import SOURCES, DataUnavailable, source_identity
from ..machine.files import load_json, load_torch, save_json
from ..machine.platform import ROOT, results_dir
from ..nets.models import build_model, flatten_rnns, n_outputs
from .forms import INPUT_NAMES, OPSET, OUTPUT_NAME, export_onnx, quantize_int8
from .sparse import FORMAT, load_sparse, save_sparse
from .stored import StoredLevel

MANIFEST = "manifest.json"
MANIFEST_VERSION = 2   # 2: data (the text pipeline, test rows, warnings), script, relative paths
#: the standalone script, written into every export
SCRIPT = "predict.py"
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


def check_out_folder(folder: Path) -> Path:
    """``folder`` if an export can be written there, checked before anything trains: an
    existing folder, or one that can be made under its nearest existing parent (probed with a
    temporary folder, removed at once).  ConfigError naming the path and why not."""
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"--out {folder}: it is a file, not a folder")
    parent = folder if folder.exists() else folder.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"--out {folder}: {parent} is a file, so no folder can be made under it")
    try:
        probe = tempfile.mkdtemp(prefix=".lth-export-probe-", dir=parent)
    except OSError as error:
        raise ConfigError(f"--out {folder}: cannot write under {parent} ({error.strerror or error})") from None
    shutil.rmtree(probe, ignore_errors=True)
    return folder


def export_ticket(stored: StoredLevel, folder: Path | None = None) -> dict:
    """Write every form of ``stored`` into ``folder`` and its manifest; return the manifest."""
    folder = check_out_folder(Path(folder) if folder is not None else default_folder(stored))
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"cannot make the export folder {folder} ({error.strerror or error})") from None
    data = prepared(stored.cfg.data, progress=False)
    model = trained_model(stored)
    state = {name: value for name, value in model.state_dict().items()}
    paths = {form: folder / name for form, (name, _) in FILES.items()}
    save_sparse(state, paths["sparse_fp32"], "float32")
    save_sparse(state, paths["sparse_fp16"], "float16")
    export_onnx(model, len(data.vocab), paths["onnx_fp32"])
    quantize_int8(paths["onnx_fp32"], paths["onnx_int8"])
    script = folder / SCRIPT
    script.write_bytes(Path(__file__).with_name("predict.py").read_bytes())
    n_out = n_outputs(data.n_classes)
    manifest = {
        "format": "lthlib-ticket", "version": MANIFEST_VERSION,
        "run": run_entry(stored, folder),
        "model": {"name": stored.cfg.model.name, "vocab_size": len(data.vocab), "n_classes": data.n_classes,
                  "n_out": n_out, "class_names": list(data.class_names),
                  "decision": "class 1 where the one logit > 0, else class 0" if n_out == 1 else
                              "the class of the largest logit"},
        "data": data_entry(stored, data),
        "tokenizer": {**tokenizer_spec(), "max_len": stored.cfg.data.max_len,
                      "truncation": {"max_len": stored.cfg.data.max_len, "keep": "first",
                                     "what": "an example longer than max_len token ids keeps its first max_len "
                                             "(the start of the text); null: no truncation"},
                      "vocabulary": list(data.vocab.itos)},
        "inputs": {INPUT_NAMES[0]: "int64 (batch, steps): token ids, each example followed by pad_id up to "
                                   "the batch's longest",
                   INPUT_NAMES[1]: "int64 (batch,): each example's number of tokens (at least 1)"},
        "outputs": {OUTPUT_NAME: "float32 (batch, n_out): one logit when n_out is 1 (class 1 when > 0), "
                                 "else one per class (the class is the largest)"},
        "input_names": list(INPUT_NAMES), "output_name": OUTPUT_NAME,   # in order (the JSON's keys are sorted)
        "files": {form: file_entry(paths[form], what) for form, (_, what) in FILES.items()},
        "script": {"path": SCRIPT, "bytes": script.stat().st_size, "sha256": sha256(script.read_bytes()),
                   "needs": "Python 3.8+, numpy, onnxruntime (not lthlib, not PyTorch)",
                   "run": f"python {SCRIPT} --data DIR, DIR holding each of data.files as DIR/<path> (an lthlib "
                          "data mirror, data/raw) or DIR/<file name>; --help for more"},
        "reference": {"dense_fp32_checkpoint": dense_checkpoint_sizes(state)},
        "how_to_load": how_to_load(),
    }
    save_json(manifest, folder / MANIFEST)
    return manifest


#: data_entry's answers in this process, by data configuration and corpus (notebook 08 exports
#: several levels of one run: the raw files are parsed once)
_DATA_ENTRIES: dict[tuple[str, str], dict] = {}


def data_entry(stored: StoredLevel, data: PreparedData) -> dict:
    """The dataset's text pipeline as its registry entry describes it, its raw files, the test
    split's row ids (each file's, in the order the test split holds them) and a warning for each
    file that mixes test rows with rows that trained or validated the network."""
    key = (fingerprint(stored.cfg.data), data.corpus_fingerprint)
    if key not in _DATA_ENTRIES:
        _DATA_ENTRIES[key] = _data_entry(stored, data)
    return copy.deepcopy(_DATA_ENTRIES[key])


def _data_entry(stored: StoredLevel, data: PreparedData) -> dict:
    cfg = stored.cfg.data
    entry = dataset(cfg.dataset)
    out = {"dataset": cfg.dataset, "display": entry.display_name(cfg.protocol), "protocol": cfg.protocol,
           "split": {"split_seed": cfg.split_seed, "val_fraction": cfg.val_fraction,
                     "train_subsample": cfg.train_subsample, "eval_subsample": cfg.eval_subsample},
           "n_test": len(data.test), "warnings": [], "notes": []}
    if entry.pipeline is None:
        return {**out, "pipeline": None, "files": [], "test_rows": None,
                "note": f"{entry.display} is generated in code (lthlib.data.datasets), from no raw file"}
    try:
        examples, rows = loaded_rows(cfg)
    except DataUnavailable as error:
        warning = f"the raw files could not be read at export, so the test rows are not listed: {error}"
        return {**out, "pipeline": entry.pipeline.describe(), "files": [], "test_rows": None, "warnings": [warning]}
    check_test_rows(stored, data, examples, rows["test"])
    where = [entry.pipeline.identify(example) for example in examples]
    test_rows: dict[str, list] = {relpath: [] for relpath in entry.files(cfg.protocol)}
    for i in rows["test"]:
        test_rows.setdefault(where[i][0], []).append(where[i][1])
    counts = {name: Counter(where[i][0] for i in rows[name]) for name in ("pool", "train", "val", "test", "test_all")}
    in_file = Counter(relpath for relpath, _ in where)
    files = []
    for relpath in test_rows:
        source = SOURCES.get(relpath) if relpath in SOURCES else None
        n = {name: counts[name][relpath] for name in counts}
        files.append({"path": relpath, "checksum": source_identity(relpath), "url": source.url if source else None,
                      "labelled_rows": in_file[relpath], "test_rows": n["test"], "pool_rows": n["pool"],
                      "trained_rows": n["train"], "validated_rows": n["val"]})
        if n["test"] and n["pool"]:
            out["warnings"].append(
                f"{relpath} mixes this run's test rows with rows that trained or validated the network: "
                f"{n['pool']:,} of its {in_file[relpath]:,} labelled rows are the protocol's training and "
                f"validation pool ({n['train']:,} trained the network, {n['val']:,} validated it); only the "
                f"{n['test']:,} rows listed in data.test_rows are its test set. Scoring the whole file "
                f"overstates the accuracy.")
        if n["test"] < n["test_all"]:
            out["notes"].append(f"{relpath}: the test set is a seeded {n['test']:,} of the protocol's "
                                f"{n['test_all']:,} test rows (eval_subsample {cfg.eval_subsample})")
    return {**out, "pipeline": entry.pipeline.describe(), "files": files, "test_rows": test_rows}


def check_test_rows(stored: StoredLevel, data: PreparedData, examples: list, test: list[int]) -> None:
    """The test rows read again from the raw files must be, token for token and label for label,
    the test split the network was evaluated on (else the row ids would name other rows)."""
    ids = [data.vocab.encode(tokenize(examples[i].text)) or [UNK] for i in test]
    max_len = stored.cfg.data.max_len
    ids = [row[:max_len] if max_len else row for row in ids]
    same = (len(ids) == len(data.test)
            and [examples[i].label for i in test] == data.test.labels.tolist()
            and all(row == data.test.example(k).tolist() for k, row in enumerate(ids)))
    if not same:
        raise ConfigError(f"{stored.label}: the test rows read from the raw files are not the prepared test split "
                          f"(corpus {data.corpus_fingerprint}); the prepared data under data/processed/ is stale: "
                          f"delete data/processed/{data.corpus_fingerprint}/ and export again")


def relative_path(path: Path, folder: Path) -> dict:
    """``path`` relative to the repository when inside it, else to the export folder."""
    path = Path(path).resolve()
    try:
        return {"path": path.relative_to(ROOT).as_posix(), "relative_to": "repository"}
    except ValueError:
        pass
    try:
        return {"path": Path(os.path.relpath(path, Path(folder).resolve())).as_posix(), "relative_to": "export folder"}
    except ValueError:  # another drive
        return {"path": path.name, "relative_to": "its run folder"}


def run_entry(stored: StoredLevel, folder: Path) -> dict:
    row = stored.row
    return {**stored.identity(), "profile": stored.profile, "requested_arm": stored.cfg.arm,
            "run_key": stored.run.key, "config": stored.cfg.to_dict(),
            "weights": {**relative_path(stored.weights, folder), "sha256": sha256(stored.weights.read_bytes()),
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
        "standalone": f"python {SCRIPT} --data DIR: the test rows of the official file scored with onnxruntime "
                      "alone (python predict.py --help)",
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
