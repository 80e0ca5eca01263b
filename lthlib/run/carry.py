"""What a bare GPU machine needs to train a profile offline, prepared here on the CPU.

    prepare_carry("paper", ["imdb"], ["cnn", "lstm"], ".carry", glove_dim=50)

A borrowed GPU machine has no internet, no dataset and no GloVe package, and takes at most
64 MiB of working tree with it (ignored folders named in ``carry`` included).  The carry folder:

    mirror/<dataset>/<file>, mirror/SHA256SUMS    the source files, as an offline mirror
        (LTH_DATA_MIRROR).  They must travel: the processed cache's key holds their checksums as
        a mirror states them, and with them the machine can rebuild a cache left out.
    data/processed/<corpus fingerprint>/           the processed cache, keyed as it will be there
    data/processed/glove/<vocab>_<dim>d_seed<s>.pt the GloVe matrix of each seed's θ0
    data/raw/glove/glove.6B.<dim>d.txt             the vocabularies' rows of GloVe 6B, in GloVe's
        text format: every other matrix (random re-init draws one per level) is made from them
        there, bit for bit as from the whole of GloVe (shortest float32 decimals round-trip)
    carry.json                                     the manifest: items, sizes, what was left out
                                                   and why, deviations, the environment to set

Sources and GloVe rows are required; GloVe matrices, then processed caches, are added while the
total stays within the limit (what is left out is made there from the sources, and the manifest
says so).  If the required items alone exceed the limit, :func:`prepare_carry` refuses.  On the
GPU machine: ``LTH_DATA_DIR=<a copy of .carry/data> LTH_DATA_MIRROR=$PWD/.carry/mirror``.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..core.config import ConfigError, ExperimentConfig, derive_seed, fingerprint
from ..data.datasets import DATASETS
from ..data.prepare import SPECIALS, Vocab, prepare
from ..data.sources import fetch, file_digest
from ..experiment.arms import TICKET
from ..experiment.grid import Grid
from ..machine import platform
from ..machine.files import save_json
from ..machine.platform import DATA_DIR_ENV, MIRROR_ENV
from . import deviations

DEFAULT_LIMIT_MIB = 60.0
MANIFEST = "carry.json"
OPTIONAL_ORDER = ("glove_matrix", "cache")  # what is added first while the limit allows


class CarryTooLarge(ConfigError):
    """The required part of a carry exceeds its size limit."""


@dataclass
class Item:
    """One file or folder of the carry, relative to its root."""
    path: str
    kind: str           # source | glove_rows | glove_matrix | cache
    required: bool
    bytes: int
    note: str = ""
    included: bool = True


def size_of(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def data_env(root: Path):
    """LTH_DATA_DIR and LTH_DATA_MIRROR pointed into a carry folder, as the GPU machine sets them."""
    return platform.data_dirs(root / "data", root / "mirror")


# ---------------------------------------------------------------------------------------------
# The items
# ---------------------------------------------------------------------------------------------

def copy_sources(configs: list[ExperimentConfig], root: Path) -> list[Item]:
    """Each dataset's source files, fetched as this machine can (mirror or download cache,
    verified), into ``root/mirror`` with their SHA256SUMS."""
    relpaths = dict.fromkeys(rel for cfg in configs for rel in DATASETS.get(cfg.data.dataset).files(cfg.data.protocol))
    mirror, lines, items = root / "mirror", [], []
    mirror.mkdir(parents=True, exist_ok=True)
    for relpath in relpaths:
        target = mirror / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fetch(relpath, progress=False), target)
        lines.append(f"{file_digest(target)}  {relpath}")
        items.append(Item(f"mirror/{relpath}", "source", True, size_of(target)))
    (mirror / "SHA256SUMS").write_text("".join(f"{line}\n" for line in lines))
    return items


def build_caches(configs: list[ExperimentConfig], root: Path) -> tuple[list[Item], dict[str, Vocab]]:
    """The processed caches, built from the carried mirror so their keys are the GPU machine's;
    and each data configuration's vocabulary (by the fingerprint of its DataConfig)."""
    items, vocabs = {}, {}
    with data_env(root):
        for cfg in configs:
            key = fingerprint(cfg.data)
            if key in vocabs:
                continue
            data = prepare(cfg.data, progress=False)
            vocabs[key] = data.vocab
            rel = f"data/processed/{data.corpus_fingerprint}"
            seconds = data.timings.get("total_s", 0.0)
            items.setdefault(rel, Item(rel, "cache", False, size_of(root / rel),
                                       f"made there from the carried sources (here {seconds:.0f} s)"))
    return list(items.values()), vocabs


def format_glove_row(word: str, vector: np.ndarray) -> str:
    """``word v1 ... vd`` with the shortest decimals that give back the same float32 values."""
    values = " ".join(np.format_float_positional(x, unique=True, trim="-") for x in vector.astype(np.float32))
    return f"{word} {values}\n"


def glove_rows(configs: list[ExperimentConfig], root: Path, vocabs: dict[str, Vocab]) -> list[Item]:
    """Each GloVe size's rows for the words of the vocabularies that read it (required)."""
    from ..data.embeddings import load_glove
    wanted: dict[int, set[str]] = {}
    for cfg in configs:
        if cfg.model.embedding == "glove":
            words = wanted.setdefault(cfg.model.embed_dim, set())
            words.update(w for w in vocabs[fingerprint(cfg.data)].itos if w not in SPECIALS)
    items = []
    for dim, words in sorted(wanted.items()):
        vectors, source = load_glove(dim, words, progress=False)
        rel = f"data/raw/glove/glove.6B.{dim}d.txt"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        with open(root / rel, "w", encoding="utf-8") as out:
            out.writelines(format_glove_row(word, vectors[word]) for word in sorted(vectors))
        items.append(Item(rel, "glove_rows", True, size_of(root / rel),
                          f"{len(vectors)} of the vocabularies' {len(words)} words, from {source}"))
    return items


def glove_matrices(configs: list[ExperimentConfig], root: Path, vocabs: dict[str, Vocab]) -> list[Item]:
    """The GloVe matrix of each seed's θ0 (the seeds :func:`lthlib.experiment.runner.Runner.theta0` draws)."""
    from ..data.embeddings import _matrix_cache_path as matrix_path
    from ..data.embeddings import glove_matrix
    items = {}
    with data_env(root):
        for cfg in configs:
            if cfg.model.embedding != "glove":
                continue
            vocab, dim, seed = vocabs[fingerprint(cfg.data)], cfg.model.embed_dim, derive_seed(cfg.seed, "init")
            glove_matrix(vocab, dim, seed=seed, progress=False)
            rel = str(matrix_path(vocab, dim, seed).relative_to(root))
            items[rel] = Item(rel, "glove_matrix", False, size_of(root / rel),
                              f"seed {cfg.seed}'s θ0; made there from the GloVe rows")
    return list(items.values())


# ---------------------------------------------------------------------------------------------
# Within the limit
# ---------------------------------------------------------------------------------------------

def choose(items: list[Item], limit_mib: float) -> int:
    """Mark the optional items that fit; refuse if the required ones alone do not.  The total."""
    limit_bytes = limit_mib * 2**20
    total = sum(item.bytes for item in items if item.required)
    if total > limit_bytes:
        parts = ", ".join(f"{item.path} {item.bytes / 2**20:.1f} MiB" for item in items if item.required)
        raise CarryTooLarge(f"the carry needs {total / 2**20:.1f} MiB ({parts}), over its "
                            f"{limit_mib:g} MiB limit; carry fewer datasets or models at once")
    for item in sorted((i for i in items if not i.required), key=lambda i: OPTIONAL_ORDER.index(i.kind)):
        if total + item.bytes <= limit_bytes:
            total += item.bytes
        else:
            item.included = False
            item.note = (f"left out: {item.bytes / 2**20:.1f} MiB would take the carry over "
                         f"{limit_mib:g} MiB; {item.note}")
    return total


def _replace_folder(folder: Path, built: Path) -> None:
    """Put ``built`` where ``folder`` is; an existing folder is removed only if it is a carry."""
    if folder.exists():
        if not (folder / MANIFEST).is_file() and any(folder.iterdir()):
            raise ConfigError(f"{folder} exists and is not a carry folder (no {MANIFEST}); choose another")
        shutil.rmtree(folder)
    os.replace(built, folder)


def prepare_carry(profile: str, datasets=None, models=None, folder: Path | str = ".carry", *,
                  seeds=None, glove_dim: int | None = None, limit_mib: float = DEFAULT_LIMIT_MIB,
                  **overrides: Any) -> dict:
    """Write the carry folder for a profile's (dataset, model) configurations; return its manifest.

    ``glove_dim`` and ``overrides`` as :func:`lthlib.run.campaign.run_campaign` takes them (the GPU
    command must use the same).  Refuses (:class:`CarryTooLarge`) above ``limit_mib``.
    """
    grid = Grid.of(profile, datasets, models, [TICKET], seeds, glove_dim=glove_dim, **overrides)
    configs = [grid.config(*cell) for cell in grid.cells()]
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        items = copy_sources(configs, built)
        caches, vocabs = build_caches(configs, built)
        items += glove_rows(configs, built, vocabs) + glove_matrices(configs, built, vocabs) + caches
        total = choose(items, limit_mib)
        for item in items:
            if not item.included:
                shutil.rmtree(built / item.path) if (built / item.path).is_dir() else (built / item.path).unlink()
        manifest = _manifest(grid.profile, configs, items, total, limit_mib, folder)
        save_json(manifest, built / MANIFEST)
        _replace_folder(folder, built)
    finally:
        shutil.rmtree(built, ignore_errors=True)
    return manifest


def _manifest(profile: str, configs: list[ExperimentConfig], items: list[Item], total: int,
              limit_mib: float, folder: Path) -> dict:
    pairs = {(c.data.dataset, c.model.name): c for c in configs}
    return {"profile": profile, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "configs": [{"dataset": d, "model": m, "protocol": c.data.protocol, "max_vocab": c.data.max_vocab,
                         "embedding": c.model.embedding, "embed_dim": c.model.embed_dim}
                        for (d, m), c in pairs.items()],
            "seeds": sorted({c.seed for c in configs}),
            "deviations": [row for c in pairs.values() for row in deviations.deviations(profile, c)],
            "items": [asdict(item) for item in items], "total_bytes": total,
            "limit_bytes": int(limit_mib * 2**20),
            "env": {DATA_DIR_ENV: str(folder / "data"), MIRROR_ENV: str(folder / "mirror")}}
