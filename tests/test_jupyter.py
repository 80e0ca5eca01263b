"""Exploring in JupyterLab: folders given relative to the repository, scratch folders for a kernel
that no report run started, tables and figures written only when they hold something, notebooks
saved without outputs, the reader's HTML; and, end to end, a Jupyter server on 127.0.0.1 that runs
notebook 03 on the smoke profile through its own kernel (marked ``jupyter``)."""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import matplotlib
import nbformat
import pandas as pd
import pytest

from lthlib.machine import platform
from lthlib.report import lab
from lthlib.report import notebook as report

from conftest import imdb_targz, write_mirror

matplotlib.use("Agg")
ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# Folders and where a kernel writes
# ---------------------------------------------------------------------------------------------

def test_relative_folders_are_read_from_the_repository_root(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LTH_DATA_MIRROR", "../shared/data")
    monkeypatch.setenv("LTH_RESULTS_DIR", "elsewhere/results")
    assert platform.mirror_dir() == (platform.ROOT.parent / "shared" / "data").resolve()
    assert platform.results_dir("smoke") == platform.ROOT / "elsewhere" / "results" / "smoke"
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path / "data"))
    assert platform.data_dir() == tmp_path / "data"


def test_the_missing_data_message_names_the_absolute_mirror(monkeypatch, tmp_path, no_network):
    from lthlib.data.sources import DataUnavailable, fetch
    monkeypatch.setenv("LTH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LTH_DATA_MIRROR", "no/such/mirror")
    with pytest.raises(DataUnavailable) as error:
        fetch("imdb/aclImdb_v1.tar.gz", progress=False)
    assert str(platform.ROOT / "no" / "such" / "mirror") in str(error.value)


def test_a_kernel_no_report_run_started_writes_scratch_folders(monkeypatch):
    monkeypatch.delenv("LTH_REPORT", raising=False)
    monkeypatch.delenv("LTH_RESULTS_DIR", raising=False)
    assert platform.profile_folder("quick") == "quick"          # a shell: lth run fills the store
    monkeypatch.setattr(platform, "in_jupyter_kernel", lambda: True)
    assert platform.profile_folder("quick") == "quick-scratch"
    assert platform.results_dir("quick") == platform.ROOT / "results" / "quick-scratch"
    monkeypatch.setenv("LTH_REPORT", "1")
    assert platform.figures_dir("quick") == platform.ROOT / "figures" / "quick"


def test_empty_tables_and_figures_replace_nothing(monkeypatch, tmp_path):
    import matplotlib.pyplot as plt
    monkeypatch.setenv("LTH_RESULTS_DIR", str(tmp_path / "results"))
    monkeypatch.setenv("LTH_FIGURES_DIR", str(tmp_path / "figures"))
    good = report.save_table(pd.DataFrame({"a": [1]}), "smoke", "t")
    assert good is not None and report.save_table(pd.DataFrame(columns=["a"]), "smoke", "t") is None
    assert pd.read_csv(good)["a"].tolist() == [1]
    fig, ax = plt.subplots()
    assert report.save_figure(fig, "smoke", "f") is None and not (tmp_path / "figures").exists()
    ax.plot([0, 1], [0, 1])
    assert report.save_figure(fig, "smoke", "f").exists()
    plt.close(fig)


def test_readable_puts_each_interval_beside_its_estimate_and_names_from_registries():
    frame = pd.DataFrame({"dataset": ["imdb"], "model": ["cnn"], "arm": ["winning_ticket"],
                          "vs_dense": [-2.2], "vs_dense_low": [-3.9], "vs_dense_high": [-0.6],
                          "test_acc": [78.4], "test_acc_ci": [1.47]})
    shown = report.readable(frame)
    assert list(shown.columns) == ["dataset × model", "arm", "vs dense", "test acc"]
    row = shown.iloc[0]
    assert row["dataset × model"] == "IMDb CNN" and row["arm"] != "winning_ticket"
    assert row["vs dense"] == "-2.20 [-3.90, -0.60]" and row["test acc"] == "78.40 ± 1.47"


def test_a_saved_notebook_under_notebooks_loses_its_outputs():
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1", execution_count=3, outputs=[
        nbformat.v4.new_output("stream", text="1")])], metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"},
        "language_info": {"name": "python", "version": "3.11"}})
    model = {"type": "notebook", "content": json.loads(nbformat.writes(notebook))}
    lab.strip_before_save(model, "notebooks/03_winning_tickets.ipynb")
    cell = model["content"]["cells"][0]
    assert cell["outputs"] == [] and cell["execution_count"] is None
    assert list(model["content"]["metadata"]) == ["kernelspec"]
    committed = (ROOT / "notebooks" / "03_winning_tickets.ipynb").read_text()
    as_text = nbformat.reads(committed, as_version=4)
    code = next(cell for cell in as_text.cells if cell.cell_type == "code")
    code.outputs, code.execution_count = [nbformat.v4.new_output("stream", text="x")], 7
    as_text.metadata["language_info"] = {"name": "python"}
    text_model = {"type": "file", "format": "text", "content": nbformat.writes(as_text) + "\n"}
    lab.strip_before_save(text_model, "/notebooks/03_winning_tickets.ipynb")   # jupytext's way: as text
    assert text_model["content"] == committed
    other = {"type": "notebook", "content": json.loads(nbformat.writes(notebook))}
    lab.strip_before_save(other, "reports/quick/03_winning_tickets.ipynb")
    assert other["content"]["cells"][0]["outputs"]


@pytest.mark.parametrize("root_user", [False, True])
def test_lth_lab_passes_every_option_to_jupyterlab_and_runs_as_root(monkeypatch, capsys, root_user):
    from lthlib import cli
    started = []
    monkeypatch.setattr(lab.subprocess, "call", lambda command, **kwargs: started.append((command, kwargs)) or 0)
    monkeypatch.setattr(lab.os, "geteuid", lambda: 0 if root_user else 1000)
    for argv in (["lab", "--no-browser", "--port", "8899"], ["lab", "--port=8899", "--allow-root"], ["lab"]):
        assert cli.main(argv) == 0, capsys.readouterr().err
    commands = [command for command, _ in started]
    assert all(command[:4] == [sys.executable, "-m", "jupyter", "lab"] for command in commands)
    assert commands[0][-2:] == ["--port", "8899"] and "--no-browser" in commands[0]
    assert commands[1].count("--allow-root") == 1 and commands[1][-2:] == ["--port=8899", "--allow-root"]
    assert [("--allow-root" in command) for command in (commands[0], commands[2])] == [root_user] * 2
    assert all(kwargs["cwd"] == platform.ROOT for _, kwargs in started)
    assert cli.main(["lab", "--help"]) == 0 and "passed to jupyter lab" in capsys.readouterr().out
    assert cli.main(["tables", "--no-browser"]) == 2          # other commands still refuse what they lack
    assert "unrecognized arguments: --no-browser" in capsys.readouterr().err


def test_the_html_hides_code_and_says_once_what_it_ran_with(tmp_path):
    from lthlib.report.render import export_html
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 03 · Title"),
        nbformat.v4.new_code_cell("secret_code_line = 1", outputs=[nbformat.v4.new_output("stream", text="shown")])])
    notebook.metadata["papermill"] = {"parameters": {"profile": "quick"}}
    path = tmp_path / "03_winning_tickets.ipynb"
    nbformat.write(notebook, path)
    html = export_html(path).read_text()
    assert "secret_code_line" not in html and "shown" in html
    assert html.count("Run with profile=&#x27;quick&#x27;") + html.count("Run with profile='quick'") == 1
    assert "../../notebooks/03_winning_tickets.py" in html


def test_network_progress_counts_the_store_markers(tmp_path):
    from lthlib.experiment.progress import NetworkProgress
    markers = [tmp_path / f"level_{i}" / "metrics.json" for i in range(3)]
    for marker in markers:
        marker.parent.mkdir()
    whole = json.dumps({"row": {"level": 0}})
    markers[0].write_text(whole)
    markers[2].write_text(whole[:7])   # damaged: a level to train again, not a network done
    with NetworkProgress(markers, show=False) as watch:
        markers[1].write_text(whole)
    assert watch.summary() == "trained 1 of 3 networks (1 were in the store); 1 left"


def test_committed_notebooks_name_the_kernel_the_readme_installs():
    from jupyter_client.kernelspec import KernelSpecManager
    installed = KernelSpecManager().get_kernel_spec("python3").display_name
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert nbformat.read(path, as_version=4).metadata.kernelspec.display_name == installed, path.name


# ---------------------------------------------------------------------------------------------
# End to end: a Jupyter server, its kernel, notebook 03 on the smoke profile
# ---------------------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and ".ipynb_checkpoints" not in p.parts}


class Server:
    """``jupyter server`` on 127.0.0.1 with a token, the project's settings, in ``repo``; or
    ``lth lab`` with the same options (``lth_lab``: at the repository root, ``--allow-root`` left
    to it), its log in ``logs``."""

    def __init__(self, repo: Path, env: dict[str, str], lth_lab: bool = False, logs: Path | None = None):
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        log_path = (logs or repo.parent) / "server.log"
        self.log = open(log_path, "wb")
        options = ["--no-browser", "--ip=127.0.0.1", "--port", str(self.port), f"--IdentityProvider.token={self.token}"]
        server = ["jupyter", "server", "--allow-root", *options, f"--ServerApp.root_dir={repo}"]
        command = [sys.executable, "-m", *(["lthlib.cli", "lab", *options] if lth_lab else server)]
        self.process = subprocess.Popen(command, cwd=repo, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        deadline = time.monotonic() + 240  # a loaded 2-core machine takes minutes to import the extensions
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                self.api("GET", "/api/status")
                return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("the Jupyter server did not start: " + log_path.read_text()[-2000:])

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(self.base + path, method=method,
                                         data=None if body is None else json.dumps(body).encode(),
                                         headers={"Authorization": f"token {self.token}",
                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else {}

    def stop(self) -> None:
        if self.process.poll() is not None:
            self.log.close()
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def execute(ws, code: str, timeout: float = 600) -> list[dict]:
    """Run ``code`` in the kernel behind the websocket; its iopub messages until it is idle."""
    msg_id = uuid.uuid4().hex
    ws.send(json.dumps({"header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test",
                                   "session": uuid.uuid4().hex, "version": "5.3", "date": ""},
                        "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                        "content": {"code": code, "silent": False, "store_history": True,
                                    "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
    messages, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(ws.recv())
        if message.get("parent_header", {}).get("msg_id") != msg_id or message["channel"] != "iopub":
            continue
        if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
            return messages
        messages.append(message)
    raise TimeoutError(f"no idle after {timeout} s running {code[:60]!r}")


def _texts(messages: list[dict]) -> str:
    parts = []
    for m in messages:
        content = m["content"]
        parts.append(content.get("text", ""))
        parts.extend(str(v) for v in content.get("data", {}).values())
    return "\n".join(parts)


def _errors(messages: list[dict]) -> list[str]:
    return [f"{m['content']['ename']}: {m['content']['evalue']}" for m in messages if m["msg_type"] == "error"]


@pytest.fixture
def lab_repo(tmp_path):
    """A copy of the repository (lthlib, notebooks, jupyter settings), committed-looking quick
    results and figures in it, and an offline mirror beside it, at ../shared/data."""
    repo = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in ("lthlib", "notebooks", "jupyter"):
        shutil.copytree(ROOT / name, repo / name, ignore=ignore)
    for folder in ("results/quick/tables", "figures/quick"):
        (repo / folder).mkdir(parents=True)
        (repo / folder / "committed.txt").write_text("committed\n")
    write_mirror(tmp_path / "shared" / "data", {"imdb/aclImdb_v1.tar.gz": imdb_targz()})
    return repo


@pytest.mark.jupyter
def test_lth_lab_starts_jupyterlab_with_its_options(tmp_path):
    """``lth lab --no-browser --ip=127.0.0.1 --port N --IdentityProvider.token=…`` serves
    JupyterLab on that port (as root too: --allow-root is added)."""
    env = lab.lab_env({k: v for k, v in os.environ.items() if not k.startswith(("LTH_", "JUPYTER"))})
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "ws"))
    server = Server(ROOT, env, lth_lab=True, logs=tmp_path)
    try:
        assert server.api("GET", "/api/status")["started"]
        request = urllib.request.Request(f"{server.base}/lab", headers={"Authorization": f"token {server.token}"})
        with urllib.request.urlopen(request, timeout=60) as page:
            assert page.status == 200 and b"JupyterLab" in page.read()
    finally:
        server.stop()


@pytest.mark.jupyter
@pytest.mark.slow
def test_jupyter_server_runs_notebook_03_on_smoke_without_touching_the_report(lab_repo, tmp_path):
    from websocket import create_connection
    env = lab.lab_env({k: v for k, v in os.environ.items() if not k.startswith(("LTH_", "JUPYTER_"))})
    env.update(JUPYTER_CONFIG_PATH=str(lab_repo / "jupyter"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               PYTHONPATH=str(lab_repo), LTH_DATA_MIRROR="../shared/data")
    before = _digest(lab_repo / "notebooks"), _digest(lab_repo / "results"), _digest(lab_repo / "figures")
    start = time.monotonic()
    server = Server(lab_repo, env)
    try:
        path = "notebooks/03_winning_tickets.ipynb"
        session = server.api("POST", "/api/sessions", {"path": path, "type": "notebook", "name": "",
                                                       "kernel": {"name": "python3"}})
        ws = create_connection(f"ws://127.0.0.1:{server.port}/api/kernels/{session['kernel']['id']}/channels"
                               f"?token={server.token}", timeout=600)
        model = server.api("GET", f"/api/contents/{path}")
        assert model["content"]["metadata"]["language_info"] == lab.kernel_language_info()  # opens clean
        outputs = []
        for cell in model["content"]["cells"]:
            if cell["cell_type"] != "code":
                continue
            messages = execute(ws, cell["source"])
            assert not _errors(messages), (cell["source"][:80], _errors(messages))
            outputs.append(messages)
            if "parameters" in cell["metadata"].get("tags", []):   # one arm, one seed, as README shows
                assert not _errors(execute(ws, "profile = 'smoke'; seeds = '[0]'; levels = 1"))
        found = execute(ws, "from lthlib.data.sources import fetch\nprint(fetch('imdb/aclImdb_v1.tar.gz'))")
        assert not _errors(found)
        assert str((tmp_path / "shared" / "data" / "imdb").resolve()) in _texts(found)
        shown = "\n".join(_texts(m) for m in outputs)
        assert "networks" in shown and "left" in shown, "no progress output"
        assert "**Answer.**" in shown

        # autosave of the run notebook, outputs and all: the tracked pair stays as it is
        code = next(cell for cell in model["content"]["cells"] if cell["cell_type"] == "code")
        code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "x"}]
        code["execution_count"] = 7
        model["content"]["metadata"]["language_info"] = {"name": "python"}
        server.api("PUT", f"/api/contents/{path}", {"type": "notebook", "format": "json",
                                                    "content": model["content"]})
        server.api("DELETE", f"/api/sessions/{session['id']}")
        ws.close()
    finally:
        server.stop()
    print(f"notebook 03 (smoke) through a Jupyter server: {time.monotonic() - start:.0f} s")
    assert _digest(lab_repo / "notebooks") == before[0], "a notebook file changed"
    assert {k: v for k, v in _digest(lab_repo / "results").items() if k.startswith("quick")} == before[1]
    assert {k: v for k, v in _digest(lab_repo / "figures").items() if k.startswith("quick")} == before[2]
    assert not (lab_repo / "results" / "smoke").exists() and not (lab_repo / "figures" / "smoke").exists()
    assert (lab_repo / "results" / "smoke-scratch" / "tables" / "sound_view_winning_ticket.csv").exists()
    assert (lab_repo / "figures" / "smoke-scratch" / "accuracy_winning_ticket.png").exists()
