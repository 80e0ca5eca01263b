"""Progress of a grid, wherever its workers train: networks trained and left, and an ETA.

A network is one trained level: the dense network of a (data, model, training, seed), or one
pruned level of a run.  Each is done when its ``metrics.json`` exists and is whole (the store's
completion marker: a damaged one is a level to train again), so the coordinating process counts
them on the shared store while local processes, Ray tasks or Slurm jobs train, and one bar shows
them all.  tqdm.auto draws it: a widget in
JupyterLab (with ipywidgets), text in a shell.  Which markers a configuration's networks have is
its lineage's (:meth:`lthlib.experiment.lineage.Lineage.markers`).

Where stderr is neither a terminal nor a Jupyter kernel (a log file, a pipe, a CI job) no bar is
drawn, as a redraw a second would fill the file: one plain line says how many are trained, at
most every :data:`LOG_SECONDS` and only when the count moved.
"""
from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from ..machine.platform import in_jupyter_kernel
from .store import is_whole

#: seconds between two looks at the store
POLL_SECONDS = 1.0
#: without a terminal, at most one progress line this often
LOG_SECONDS = 60.0


def draws_bars(stream=None) -> bool:
    """Whether a live bar can be drawn: in a Jupyter kernel (a widget) or on a terminal."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return in_jupyter_kernel() or bool(isatty and isatty())


def count_done(markers: list[Path], known: set[Path] | None = None) -> int:
    """How many markers are whole; ``known``: those found whole before, not read again (a marker
    is written whole, and once, so it stays so), and where the new ones are added."""
    known = set() if known is None else known
    known.update(marker for marker in markers if marker not in known and is_whole(marker))
    return sum(1 for marker in markers if marker in known)


class NetworkProgress:
    """A bar of networks trained out of ``markers``, updated from a thread while the block runs;
    ``show=False`` draws nothing and keeps the counts (:meth:`summary`)."""

    def __init__(self, markers: list[Path], show: bool = True, desc: str = "networks"):
        self.markers, self.show, self.desc = markers, show, desc
        self._whole: set[Path] = set()
        self.before = count_done(markers, self._whole)
        self.done = self.before
        self._stop = threading.Event()
        self._bar = None
        self._thread = None
        self._logged_at = time.monotonic()
        self._logged = self.before

    def __enter__(self) -> "NetworkProgress":
        if self.show and self.markers:
            if draws_bars():
                from tqdm.auto import tqdm
                self._bar = tqdm(total=len(self.markers), initial=self.before, desc=self.desc, unit="net",
                                 smoothing=0.1, dynamic_ncols=True)
                self._refresh()
            self._thread = threading.Thread(target=self._poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._update(log=False)  # the caller prints the summary
        if self._bar is not None:
            self._bar.close()

    def _poll(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self._update()

    def _update(self, log: bool = True) -> None:
        done = count_done(self.markers, self._whole)
        if self._bar is not None and done != self.done:
            self._bar.update(done - self.done)
        self.done = done
        self._refresh()
        if (log and self._bar is None and self.show and done != self._logged
                and time.monotonic() - self._logged_at >= LOG_SECONDS):
            print(f"{self.desc}: {self.summary()}", file=sys.stderr, flush=True)
            self._logged, self._logged_at = done, time.monotonic()

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(f"trained {self.done - self.before}, left {len(self.markers) - self.done}",
                                      refresh=True)

    def summary(self) -> str:
        """'trained 12 of 36 networks (24 were in the store); none left'."""
        left = len(self.markers) - self.done
        return (f"trained {self.done - self.before} of {len(self.markers)} networks ({self.before} were in the "
                f"store); {left if left else 'none'} left")
