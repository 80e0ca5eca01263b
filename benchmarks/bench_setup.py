"""What the benchmarks share: the model shapes they time, the batches they time them on
(synthetic, or IMDb prepared by lthlib), the device's short name, peak memory, and merging a
result into ``results/bench/<device>.json``.  Imported by bench_training.py, bench_data.py,
bench_determinism.py and grid_estimate.py.
"""
from __future__ import annotations

import gc
import json
import os
import re
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lthlib.core.config import DataConfig, ModelConfig  # noqa: E402

# the study's shapes ("paper") and a CPU-friendly one ("small", the quick profile's shapes)
SIZES = {
    "paper": {"cnn": dict(model=ModelConfig(name="cnn", embed_dim=100, n_filters=100), vocab=50_002, max_len=None),
              "lstm": dict(model=ModelConfig(name="lstm", embed_dim=100, hidden_dim=256, n_layers=2), vocab=25_002,
                           max_len=None)},
    "small": {"cnn": dict(model=ModelConfig(name="cnn", embed_dim=50, n_filters=32), vocab=20_002, max_len=200),
              "lstm": dict(model=ModelConfig(name="lstm", embed_dim=50, hidden_dim=64, n_layers=1), vocab=20_002,
                           max_len=200)},
}



def device_name(device: str | torch.device) -> str:
    """'cpu', or 'cuda-<short gpu name>' such as 'cuda-h100'."""
    device = torch.device(device)
    if device.type != "cuda":
        return "cpu"
    name = torch.cuda.get_device_name(device).lower()
    for short in ("h200", "h100", "a100", "l40s", "l4", "a10g", "v100", "t4", "4090", "3090"):
        if short in name:
            return f"cuda-{short}"
    return "cuda-" + re.sub(r"[^a-z0-9]+", "-", name).strip("-")


def merge_json(path: Path, payload: dict) -> dict:
    """Merge ``payload`` into the JSON at ``path`` (two levels deep) and write it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    for key, value in payload.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            current[key].update(value)
        else:
            current[key] = value
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(current, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)
    return current


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _status_kb(field: str) -> int | None:
    try:
        match = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
        return int(match.group(1)) if match else None
    except OSError:
        return None


class PeakMemory:
    """Peak memory of a block: CUDA allocator peak, or the process's peak RSS on CPU."""

    def __init__(self, device: torch.device):
        self.device = device
        self.peak_mb = self.base_mb = None
        self.how = ""

    def __enter__(self):
        gc.collect()
        if self.device.type == "cuda":
            sync(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base_mb = torch.cuda.memory_allocated(self.device) / 2**20
            self.how = "torch.cuda.max_memory_allocated"
        else:
            self._reset_ok = False
            try:  # Linux >= 4.0: writing 5 resets VmHWM (the peak RSS) to the current RSS
                Path("/proc/self/clear_refs").write_text("5")
                self._reset_ok = _status_kb("VmHWM") is not None
            except OSError:
                pass
            rss = _status_kb("VmRSS")
            self.base_mb = rss / 1024 if rss else None
            self.how = "VmHWM (peak RSS, reset per method)" if self._reset_ok else \
                "ru_maxrss (process-lifetime peak RSS; not reset between methods)"
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            sync(self.device)
            self.peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self._reset_ok:
            self.peak_mb = _status_kb("VmHWM") / 1024
        else:
            self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return False



class _Split:
    """The EncodedSplit contract (flat int32 tokens, int64 offsets (n+1), int64 labels)."""

    def __init__(self, tokens, offsets, labels):
        self.tokens, self.offsets, self.labels = tokens, offsets, labels

    def __len__(self):
        return int(self.labels.numel())


def synthetic_split(n: int, vocab: int, n_classes: int = 2, seed: int = 0, max_len: int | None = None):
    """Random tokens at IMDb-like lengths (log-normal, median ~175, mean ~230 words, 10..2500)."""
    g = np.random.default_rng(seed)
    lengths = np.clip(np.round(g.lognormal(np.log(175), 0.75, n)), 10, 2500).astype(np.int64)
    if max_len is not None:
        lengths = np.minimum(lengths, max_len)
    ranks = g.zipf(1.3, int(lengths.sum()))  # Zipf-like word frequencies over the vocabulary
    tokens = torch.from_numpy(((ranks - 1) % (vocab - 2) + 2).astype(np.int32))
    offsets = torch.zeros(n + 1, dtype=torch.int64)
    offsets[1:] = torch.from_numpy(np.cumsum(lengths))
    labels = torch.from_numpy(g.integers(0, n_classes, n).astype(np.int64))
    return _Split(tokens, offsets, labels)


def load_train_split(dataset: str, size: str, model_name: str, n_examples: int):
    """(split, n_classes, data vocab size, description) for the benchmark's batches."""
    spec = SIZES[size][model_name]
    if dataset == "imdb":
        from lthlib.data.prepare import prepare
        os.environ.setdefault("LTH_DATA_MIRROR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
        vocab = spec["vocab"] - 2
        cfg = DataConfig(dataset="imdb", protocol="study", max_vocab=vocab, max_len=spec["max_len"])
        t0 = time.perf_counter()
        data = prepare(cfg, progress=False)
        desc = {"dataset": "imdb", "prepare_seconds": round(time.perf_counter() - t0, 2),
                "n_train_full": len(data.train)}
        return data.train, data.n_classes, len(data.vocab), desc
    split = synthetic_split(n_examples, spec["vocab"], 2, seed=0, max_len=spec["max_len"])
    return split, 2, spec["vocab"], {"dataset": "synthetic (random tokens, IMDb-like lengths)"}
