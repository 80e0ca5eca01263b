"""JupyterLab for this project: ``lth lab`` starts it from the repository root with the settings in
``jupyter/`` (a double-click opens a ``notebooks/NN_name.py`` script as a notebook; a notebook
under ``notebooks/`` is saved without outputs, :func:`strip_before_save`).  What a kernel writes
there goes to scratch folders (:func:`lthlib.machine.platform.profile_folder`)."""
from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

from ..machine.platform import REPORT_ENV, ROOT

#: the project's Jupyter settings (JUPYTER_CONFIG_PATH)
CONFIG_DIR = ROOT / "jupyter"
#: the notebook metadata a tracked notebook keeps (what jupytext.toml's filter keeps, and the pairing)
KEPT_METADATA = ("kernelspec", "jupytext")


def strip_notebook(notebook: dict) -> dict:
    """The notebook as it is tracked: no outputs, no execution counts, only :data:`KEPT_METADATA`."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        else:
            cell.pop("outputs", None), cell.pop("execution_count", None)
        for key in ("execution", "ExecuteTime", "collapsed", "scrolled"):
            cell.get("metadata", {}).pop(key, None)
    notebook["metadata"] = {k: v for k, v in notebook.get("metadata", {}).items() if k in KEPT_METADATA}
    return notebook


def strip_before_save(model: dict, path: str, **kwargs: Any) -> None:
    """Jupyter's ``pre_save_hook``: a notebook under ``notebooks/`` is stored stripped.  Through
    jupytext's contents manager (JupyterLab's here) the ``.ipynb`` arrives as text, already
    written out as JSON, so it is read, stripped and written the same way (nbformat's JSON)."""
    if not path.strip("/").startswith("notebooks/") or not model.get("content"):
        return
    if model.get("type") == "notebook":
        strip_notebook(model["content"])
    elif model.get("type") == "file" and path.endswith(".ipynb") and isinstance(model["content"], str):
        import nbformat
        text = model["content"]
        notebook = strip_notebook(nbformat.reads(text, as_version=nbformat.NO_CONVERT))
        model["content"] = nbformat.writes(notebook) + ("\n" if text.endswith("\n") else "")


def kernel_language_info() -> dict:
    """What a Python kernel of this interpreter reports as ``language_info``."""
    from ipykernel.ipkernel import IPythonKernel
    return dict(IPythonKernel.language_info)


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "lthlib.report.lab"}]


def _load_jupyter_server_extension(serverapp) -> None:
    """A notebook under ``notebooks/`` opens with its kernel's ``language_info``: the tracked
    files do not keep it (:data:`KEPT_METADATA`), and JupyterLab marks a notebook modified when
    the started kernel fills it in, so every notebook would open dirty."""
    from jupyter_core.utils import ensure_async
    manager = serverapp.contents_manager
    original = manager.get

    async def get(path: str, content: bool = True, type: str | None = None, format: str | None = None, **kwargs):
        model = await ensure_async(original(path, content=content, type=type, format=format, **kwargs))
        if content and model.get("type") == "notebook" and path.strip("/").startswith("notebooks/"):
            model["content"]["metadata"].setdefault("language_info", kernel_language_info())
        return model

    manager.get = get


def lab_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a project Jupyter server: its settings first, this checkout's lthlib
    first on the path (the server's save hook and its kernels import it), not a report run."""
    env = dict(os.environ if environ is None else environ)
    for name, first in (("JUPYTER_CONFIG_PATH", CONFIG_DIR), ("PYTHONPATH", ROOT)):
        env[name] = os.pathsep.join(p for p in (str(first), env.get(name)) if p)
    env.pop(REPORT_ENV, None)
    return env


def lab_command(args: list[str], root_user: bool | None = None) -> list[str]:
    """``jupyter lab`` at the repository root with ``args`` (any of its options), and
    ``--allow-root`` for root (a container's user), which JupyterLab otherwise refuses to run as."""
    root_user = os.geteuid() == 0 if root_user is None and hasattr(os, "geteuid") else bool(root_user)
    given = any(arg.startswith(("--allow-root", "--no-allow-root", "--ServerApp.allow_root")) for arg in args)
    extra = ["--allow-root"] if root_user and not given else []
    return [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={ROOT}", *extra, *args]


def main(args: list[str]) -> int:
    """``jupyter lab`` at the repository root (:func:`lab_command`), with :func:`lab_env`."""
    return subprocess.call(lab_command(args), env=lab_env(), cwd=ROOT)
