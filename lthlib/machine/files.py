"""Files written whole or not at all, and the few formats the library keeps (JSON, torch, CSV).

Every file the library writes goes through :func:`atomic_write`: a temporary file in the same
folder, flushed to disk, checked if asked, then renamed over the target (``os.replace``), so a
killed process never leaves half a file behind (and a reader never sees one), on a local disk or
a shared one (NFS) alike.  The file gets the mode an ``open()`` would have given it (0666 less
the umask), not the temporary file's private 0600.

What is read back is verified, not trusted: a file damaged outside the library (a partial copy
between hosts, a full disk) is a :class:`DamagedFile` naming the file, from :func:`load_torch` and
:func:`load_json`.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

import torch


def current_umask() -> int:
    """The process's umask, read without changing it where Linux tells it (``os.umask`` sets it
    for a moment, for every thread)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, write: Callable[[BinaryIO], Any],
                 check: Callable[[Path], Any] | None = None) -> None:
    """``write(handle)`` into a temporary file beside ``path``, ``check(tmp)`` it, rename it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())  # on the disk (or the NFS server) before the rename names it
        if check is not None:
            check(Path(tmp))
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp made it 0600
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_folder(folder: Path, fill: Callable[[Path], Any]) -> None:
    """``fill(tmp_folder)`` then rename it to ``folder``; if another process got there first with
    the same content, theirs is kept."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp made it 0700
        fill(tmp)
        try:
            os.replace(tmp, folder)
        except OSError:
            if not folder.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class DamagedFile(RuntimeError):
    """A file that exists but cannot be read whole (truncated, garbled); the message names it."""

    def __init__(self, path: Path | str, why: str, fix: str = ""):
        self.path = Path(path)
        super().__init__(f"damaged file {self.path}: {why}" + (f"; {fix}" if fix else ""))


class MissingFile(DamagedFile):
    """A file that should be there and is not (deleted, never copied); the message names it."""

    def __init__(self, path: Path | str, fix: str = ""):
        super().__init__(path, "", fix)
        self.args = (f"missing file {self.path}" + (f"; {fix}" if fix else ""),)


def save_torch(obj: Any, path: Path) -> None:
    atomic_write(path, lambda handle: torch.save(obj, handle))


def load_torch(path: Path, fix: str = "", missing: bool = False) -> Any:
    """A torch file; :class:`DamagedFile` (naming it, and ``fix``) if it cannot be read whole.
    A missing file is a FileNotFoundError (a missing file is not a damaged one), or with
    ``missing`` (a file that must be there) a :class:`MissingFile` naming it and ``fix``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        if missing:
            raise MissingFile(path, fix) from None
        raise
    except Exception as error:  # noqa: BLE001 - torch raises RuntimeError, EOFError, UnpicklingError...
        raise DamagedFile(path, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
                          fix) from error


def load_json(path: Path, fix: str = "") -> Any:
    """A JSON file; :class:`DamagedFile` (naming it, and ``fix``) if it does not parse."""
    text = Path(path).read_bytes()
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DamagedFile(path, f"not valid JSON ({len(text)} bytes; {error})", fix) from error


def save_json(obj: Any, path: Path) -> None:
    text = json.dumps(obj, indent=1, sort_keys=True, default=str).encode()
    atomic_write(path, lambda handle: handle.write(text))


def save_text(text: str, path: Path) -> None:
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


def cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a model's state dict."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
