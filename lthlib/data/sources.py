"""Source files: pinned checksums, the offline mirror, the download cache, downloads.

:func:`fetch` finds a registered :class:`Source` in this order:

1. the offline mirror ``$LTH_DATA_MIRROR/<dataset>/<file>`` when that folder's ``SHA256SUMS``
   lists it (the mirror's checksum is authoritative: its IMDb archive is a rebuilt one with a
   different md5); the file is verified and read in place, not copied;
2. the download cache ``data/raw/<dataset>/<file>`` (under :func:`lthlib.machine.platform.data_dir`),
   verified against the official checksum;
3. a download of the official URL (urllib, tqdm progress bar) to a temporary name in the same
   folder, verified, then moved into place with ``os.replace``.

A checksum mismatch raises :class:`ChecksumError` naming the file, expected and got (the
temporary file is removed).  No mirror and no network raises :class:`DataUnavailable`, which
names the file, its URL and ``LTH_DATA_MIRROR``; the report catches it to skip a dataset.
Datasets (:mod:`lthlib.data.datasets`) and embeddings (:mod:`lthlib.data.embeddings`) register their files
in :data:`SOURCES`.
"""
from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable

from ..core.registry import Registry
from ..machine import platform
from ..machine.files import atomic_write
from ..machine.platform import MIRROR_ENV, ROOT, mirror_dir


class DataUnavailable(RuntimeError):
    """A source file can be neither found (cache, mirror) nor downloaded; the message says how."""


class ChecksumError(RuntimeError):
    """A file whose checksum differs from the pinned one."""


class CorruptSource(RuntimeError):
    """A source file that cannot be parsed (a truncated or damaged archive, a malformed CSV)."""


@dataclass(frozen=True)
class Source:
    dataset: str        # folder under data/raw and in the mirror
    filename: str
    url: str
    md5: str | None = None
    sha256: str | None = None
    note: str = ""      # said when the file cannot be had (e.g. what to use offline instead)

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.filename}"

    relpath = name

    @property
    def identity(self) -> str:
        """The pinned official checksum ('sha256:...' preferred)."""
        return f"sha256:{self.sha256}" if self.sha256 else f"md5:{self.md5}"


SOURCES: Registry[Source] = Registry("source file")


def raw_dir() -> Path:
    return platform.data_dir() / "raw"


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, identity: str, name: str | None = None) -> None:
    """Raise :class:`ChecksumError` unless ``path`` has checksum ``identity`` ('sha256:<hex>')."""
    algorithm, expected = identity.split(":", 1)
    got = file_digest(path, algorithm)
    if got != expected.lower():
        raise ChecksumError(f"checksum mismatch for {name or path}: expected {algorithm} {expected}, "
                            f"got {got} ({path})")


def mirror_checksums(mirror: Path) -> dict[str, str]:
    """``SHA256SUMS`` of a mirror: relative path -> sha256 (empty when the file is missing)."""
    sums = mirror / "SHA256SUMS"
    if not sums.is_file():
        return {}
    out = {}
    for line in sums.read_text().splitlines():
        parts = line.strip().split(maxsplit=1)
        if len(parts) == 2:
            out[parts[1].lstrip("*").strip()] = parts[0].lower()
    return out


def mirror_entry(relpath: str) -> tuple[Path, str] | None:
    mirror = mirror_dir()
    if mirror is None:
        return None
    sha = mirror_checksums(mirror).get(relpath)
    if sha is None or not (mirror / relpath).is_file():
        return None
    return mirror / relpath, f"sha256:{sha}"


def source_identity(relpath: str) -> str:
    """The checksum the file used for ``relpath`` will have: the mirror's when it lists the file,
    else the official one.  Known without reading the file, so a cache hit needs no source."""
    entry = mirror_entry(relpath)
    return entry[1] if entry else SOURCES.get(relpath).identity


def download(url: str, out: BinaryIO, *, progress: bool = True) -> None:
    """urllib download of ``url`` into the open file ``out``, with a tqdm bar."""
    from tqdm import tqdm
    request = urllib.request.Request(url, headers={"User-Agent": "lthlib"})
    with urllib.request.urlopen(request, timeout=60) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        with tqdm(total=total, unit="B", unit_scale=True, desc=url.rsplit("/", 1)[-1],
                  disable=not progress) as bar:
            for block in iter(lambda: response.read(1 << 20), b""):
                out.write(block)
                bar.update(len(block))


def _unavailable_message(source: Source, error: BaseException | None) -> str:
    mirror = mirror_dir()
    given = os.environ.get(MIRROR_ENV, "").strip()
    shown = str(mirror) if not given or Path(given).expanduser().is_absolute() else f"{given} (read as {mirror})"
    where = (f"{MIRROR_ENV}={shown} has no {source.relpath} listed in its SHA256SUMS"
             if mirror else f"{MIRROR_ENV} is not set")
    official = source.identity.replace(":", " ")
    msg = (f"{source.relpath} (official {official}) is unavailable: not in {raw_dir() / source.dataset}, {where}, "
           f"and downloading {source.url} failed ({error}). Put the file at "
           f"{raw_dir() / source.relpath}, or set {MIRROR_ENV} to a folder holding "
           f"{source.relpath} and SHA256SUMS (absolute, or relative to the repository root {ROOT}, "
           f"e.g. {MIRROR_ENV}=../shared/data).")
    return f"{msg} {source.note}" if source.note else msg


def files_missing(relpaths: Iterable[str]) -> list[str]:
    """The files found neither in LTH_DATA_MIRROR nor the download cache (they would have to be
    downloaded).  Looks only; downloads nothing."""
    return [relpath for relpath in relpaths
            if mirror_entry(relpath) is None and not (raw_dir() / relpath).is_file()]


def require_prepared(unavailable: dict[str, str]) -> None:
    """Stop (data prep notebook) when a selected dataset could not be had, saying how to go on."""
    if not unavailable:
        return
    reasons = "\n".join(f"- {dataset}: {reason}" for dataset, reason in unavailable.items())
    raise DataUnavailable(
        f"{len(unavailable)} selected dataset(s) could not be prepared:\n{reasons}\n"
        "Provide the files, or leave the dataset(s) out with the datasets parameter, "
        "e.g. ./run_all.sh -p datasets '[\"imdb\"]'.")


def fetch(relpath: str, *, progress: bool = True) -> Path:
    """The verified local path of a source file: mirror (in place), download cache, or download."""
    source = SOURCES.get(relpath)
    entry = mirror_entry(relpath)
    if entry is not None:
        path, identity = entry
        verify(path, identity, name=f"{relpath} in {MIRROR_ENV}")
        return path
    dest = raw_dir() / relpath
    if dest.is_file():
        verify(dest, source.identity, name=relpath)
        return dest
    try:
        atomic_write(dest, lambda handle: download(source.url, handle, progress=progress),
                     check=lambda tmp: verify(tmp, source.identity,
                                              name=f"{relpath} downloaded from {source.url}"))
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        raise DataUnavailable(_unavailable_message(source, error)) from error
    return dest

