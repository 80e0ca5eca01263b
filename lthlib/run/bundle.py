"""A compact bundle of everything the report reads: the store's tidy tables, never weights.

    export_bundle("paper", "paper.tar.gz")      on the machine that trained (the weights are there)
    import_bundle("paper.tar.gz", "paper")      where the report renders

The bundle is a ``.tar.gz`` of :data:`TABLE_FILES` that exist in ``results/<profile>/`` (the
runs, epochs, layers, collapse, early-bird and status tables, ``campaign.json``, the data
summary) and ``mask_overlap.csv``, which :func:`export_bundle` computes from the masks first:
the report renders from tables alone, so what needs masks is computed where the masks are.
Per-layer sparsity is in ``layers.csv`` already (recorded from each level's mask).  A manifest,
``bundle.json``, holds each file's size, rows and sha256.  The bundle must fit
:data:`MAX_BYTES` (what one file brought back from a borrowed GPU machine may weigh).

:func:`import_bundle` checks every file against the manifest and merges the tables into
``results/<profile>/`` (a bundle's rows replace the local rows of the same run level, status
cell or overlap pair; other local rows stay), never touching ``runs/``.  Imported rows have no
``metrics.json`` here, so :meth:`lthlib.experiment.store.Store.rebuild_tables` would drop them: keep the
bundle.
"""
from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from pathlib import Path

import pandas as pd

from ..core.config import ConfigError
from ..experiment.overlap import mask_overlap
from ..experiment.store import ROW_KEYS, TABLES, Store, read_csv, save_csv
from ..machine.files import atomic_write, save_json
from ..machine.platform import results_dir

MASK_OVERLAP = "mask_overlap"
MANIFEST = "bundle.json"
MAX_BYTES = 16 * 2**20
#: Tables merged row by row on import, by these keys; any other file replaces its local copy.
MERGE_KEYS = {**{name: list(ROW_KEYS) for name in TABLES},
              "status": ["dataset", "model", "arm", "seed"],
              MASK_OVERLAP: ["dataset", "model", "kind", "level", "pair"]}
TABLE_FILES = (*(f"{name}.csv" for name in (*TABLES, "status", MASK_OVERLAP, "data_summary")), "campaign.json")


class BundleError(ConfigError):
    """A bundle that cannot be written (too large) or read (damaged, another profile's)."""


# ---------------------------------------------------------------------------------------------
# Mask overlap, where the masks are
# ---------------------------------------------------------------------------------------------

def has_mask(store: Store, config_hash: str, level: int) -> bool:
    return (store.root / "runs" / str(config_hash) / f"level_{int(level):02d}" / "mask.pt").is_file()


def mask_overlap_table(store: Store) -> pd.DataFrame:
    """Jaccard overlap of the winning-ticket masks between seeds at the same level and between
    consecutive levels (:func:`lthlib.experiment.overlap.mask_overlap`), from the levels whose masks are here."""
    runs = store.runs()
    if not runs.empty:
        runs = runs[[has_mask(store, r.config_hash, r.level) for r in runs.itertuples(index=False)]]
    return mask_overlap(runs, store.load_mask)


def write_mask_overlap(store: Store) -> Path | None:
    """Merge the overlap computed here into ``mask_overlap.csv`` (rows computed elsewhere stay)."""
    table = mask_overlap_table(store)
    if table.empty:
        return None
    path = store.table_path(MASK_OVERLAP)
    save_csv(merge_tables(read_csv(path) if path.exists() else None, table, MERGE_KEYS[MASK_OVERLAP]), path)
    return path


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------

def _describe(name: str, data: bytes) -> dict:
    rows = None
    if name.endswith(".csv"):
        rows = max(data.count(b"\n") - 1, 0)  # a header line, then one line per row (no quoted newlines)
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "rows": rows}


def _add(archive: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(mtime), 0o644
    archive.addfile(info, io.BytesIO(data))


def export_bundle(profile: str, out_path: Path | str, *, store: Store | None = None,
                  max_bytes: int = MAX_BYTES) -> Path:
    """Write the bundle of ``results/<profile>/`` to ``out_path``; return its path."""
    store = store or Store(results_dir(profile))
    write_mask_overlap(store)
    files = {name: (store.root / name).read_bytes() for name in TABLE_FILES if (store.root / name).is_file()}
    if not files:
        raise BundleError(f"nothing to bundle: {store.root} holds none of {', '.join(TABLE_FILES)}")
    now = time.time()
    manifest = {"profile": profile, "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "files": {name: _describe(name, data) for name, data in files.items()}}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        _add(archive, MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode(), now)
        for name, data in files.items():
            _add(archive, name, data, now)
    blob = buffer.getvalue()
    if len(blob) > max_bytes:
        largest = sorted(files, key=lambda n: -len(files[n]))[:3]
        raise BundleError(f"the bundle of {store.root} is {len(blob) / 2**20:.1f} MiB, over the "
                          f"{max_bytes / 2**20:.0f} MiB limit; largest files: "
                          + ", ".join(f"{n} {len(files[n]) / 2**20:.1f} MiB" for n in largest))
    out_path = Path(out_path)
    atomic_write(out_path, lambda handle: handle.write(blob))
    return out_path


# ---------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------

def read_bundle(path: Path | str, max_bytes: int = MAX_BYTES) -> tuple[dict, dict[str, bytes]]:
    """The manifest and the files of a bundle, each checked against the manifest."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"no bundle at {path}")
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            for member in archive.getmembers():
                if member.name not in (MANIFEST, *TABLE_FILES) or not member.isfile() or member.size > max_bytes:
                    raise BundleError(f"{path} holds {member.name!r}, which no bundle holds; not a bundle")
                files[member.name] = archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError) as error:
        raise BundleError(f"{path} is not a readable .tar.gz bundle ({type(error).__name__}: {error})") from error
    if MANIFEST not in files:
        raise BundleError(f"{path} has no {MANIFEST}; not a bundle")
    manifest = json.loads(files.pop(MANIFEST))
    for name, meta in manifest["files"].items():
        if name not in files or hashlib.sha256(files[name]).hexdigest() != meta["sha256"]:
            raise BundleError(f"{path}: {name} is missing or differs from the manifest's checksum")
    return manifest, files


def merge_tables(local: pd.DataFrame | None, new: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``new``'s rows, and ``local``'s rows whose keys ``new`` does not have, sorted by the keys."""
    if local is None or local.empty:
        return new
    if not set(keys) <= set(local.columns) | set(new.columns):
        return new
    have = pd.MultiIndex.from_frame(new[keys].astype(str))
    keep = ~pd.MultiIndex.from_frame(local[keys].astype(str)).isin(have)
    merged = pd.concat([local[keep], new], ignore_index=True)
    return merged.sort_values(keys, kind="stable").reset_index(drop=True)


def import_bundle(path: Path | str, profile: str, *, store: Store | None = None) -> list[str]:
    """Merge a bundle's tables into ``results/<profile>/``; return the files written."""
    manifest, files = read_bundle(path)
    if manifest.get("profile") != profile:
        raise BundleError(f"{path} holds profile {manifest.get('profile')!r}, not {profile!r}")
    store = store or Store(results_dir(profile))
    for name, data in files.items():
        target, table = store.root / name, name.removesuffix(".csv")
        if table in MERGE_KEYS and target.exists():
            save_csv(merge_tables(read_csv(target), read_csv(io.BytesIO(data)), MERGE_KEYS[table]), target)
        else:
            atomic_write(target, lambda handle, data=data: handle.write(data))
    save_json({**manifest, "imported_from": str(path)}, store.root / MANIFEST)
    return sorted(files)
