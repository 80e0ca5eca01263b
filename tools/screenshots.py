"""Screenshots of the report as a reader and an explorer see it: headless Chromium (Debian's
``chromium``) over the HTML reports and over JupyterLab, started as ``lth lab`` starts it (on
127.0.0.1, with a token, in a copy-free run on this checkout).  Not run by the tests; look at the
pictures before committing a change to the report's look.

    python tools/screenshots.py --out /tmp/lth-shots --profile quick --notebooks 03,05
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    raise SystemExit("no chromium found (Debian: apt-get install -y chromium)")


def shoot(url: str, out: Path, width: int = 1280, height: int = 2000, wait_ms: int = 15000) -> Path:
    """One page, ``width`` × ``height`` pixels from its top, taken ``wait_ms`` after navigating to
    it, over the DevTools protocol: JupyterLab draws itself in JavaScript after the load event,
    which chromium's own ``--screenshot`` does not wait for (it gave blank pages)."""
    import base64
    import json

    from websocket import create_connection
    port = free_port()
    browser = subprocess.Popen([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                f"--remote-debugging-port={port}", "--remote-allow-origins=*",
                                f"--window-size={width},{height}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        page = _first_page(port)
        ws = create_connection(page["webSocketDebuggerUrl"], timeout=120)
        calls = iter(range(1, 1000))

        def call(method: str, **params) -> dict:
            number = next(calls)
            ws.send(json.dumps({"id": number, "method": method, "params": params}))
            while True:
                message = json.loads(ws.recv())
                if message.get("id") == number:
                    return message.get("result", {})

        call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        call("Page.navigate", url=url)
        time.sleep(wait_ms / 1000)
        out.write_bytes(base64.b64decode(call("Page.captureScreenshot", format="png")["data"]))
        ws.close()
    finally:
        os.killpg(browser.pid, signal.SIGKILL)
    print(f"{out}  <-  {url.split('?')[0]}")
    return out


def _first_page(port: int, seconds: float = 60) -> dict:
    import json
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pages = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=2).read())
            found = [p for p in pages if p.get("type") == "page"]
            if found:
                return found[0]
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("chromium's DevTools endpoint did not answer")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lab(port: int, token: str, log: Path) -> subprocess.Popen:
    from lthlib.report.lab import lab_env
    command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
               f"--port={port}",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={ROOT}"]
    process = subprocess.Popen(command, cwd=ROOT, env=lab_env(), stdout=log.open("wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
            return process
        except OSError:
            time.sleep(0.5)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
    raise SystemExit(f"JupyterLab did not start; see {log}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/lth-screenshots")
    parser.add_argument("--profile", default="quick")
    parser.add_argument("--notebooks", default="03,05", help="numbers of the notebooks to show")
    parser.add_argument("--no-lab", action="store_true", help="only the HTML reports")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = args.notebooks.split(",")
    for html in sorted((ROOT / "reports" / args.profile).glob("[0-9][0-9]_*.html")):
        if html.name[:2] in wanted:
            shoot(html.as_uri(), out / f"report_{html.stem}.png", height=2400, wait_ms=20000)
    if args.no_lab:
        return 0
    port, token = free_port(), secrets.token_hex(16)
    lab = start_lab(port, token, out / "lab.log")
    try:
        tree = f"http://127.0.0.1:{port}/lab/tree/notebooks?token={token}"
        shoot(tree, out / "lab_tree.png", height=900, wait_ms=30000)
        for script in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
            if script.name[:2] in wanted:
                url = f"http://127.0.0.1:{port}/lab/tree/notebooks/{script.name}?token={token}"
                shoot(url, out / f"lab_{script.stem}.png", height=1100, wait_ms=40000)
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main())
