"""One Ray task per payload, on a running Ray cluster or on a Ray started here for one command.

A task whose worker process or node dies is retried (``max_retries``); the retry resumes its
level from the last checkpoint, and finished levels are not trained again.  A task that raises
(a bug, bad data) is not retried: the grid stops with :class:`~lthlib.machine.executors.JobFailed`
naming it.  ``import ray`` happens only here, when the executor is built.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ...core.config import ConfigError
from .. import platform
from .jobs import RAY_PIN, JobFailed, call, failure, positive

#: seconds an address has to answer as Ray (gRPC) once it takes the connection: ray.init itself
#: keeps retrying for ten minutes wherever something else listens
ANSWER_SECONDS = 10.0
#: an HTTP/2 client's connection preface and an empty SETTINGS frame: a gRPC server (Ray's GCS,
#: its client server) answers them with a SETTINGS frame of its own
_HTTP2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])
_SETTINGS_FRAME = 4


@dataclass
class RayExecutor:
    """One Ray task per payload, at most ``max_in_flight`` at once (default: the cluster's CPUs,
    or GPUs when tasks take one), each with ``cpus_per_task`` CPUs and ``gpus_per_task`` GPUs."""
    address: str | None = None
    max_in_flight: int | None = None
    max_retries: int = 3
    cpus_per_task: float = 1.0
    gpus_per_task: float = 0.0
    name: str = "ray"
    _started: bool = field(default=False, repr=False)
    _temp: str | None = field(default=None, repr=False)
    _shared_existed: bool = field(default=True, repr=False)

    def check(self) -> None:
        positive("ray", max_in_flight=self.max_in_flight, cpus_per_task=self.cpus_per_task)
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ConfigError(f"ray: max_retries must be a whole number >= 0, got {self.max_retries!r}")
        self._connect()

    def _connect(self):
        try:
            import ray
        except ImportError:
            raise ConfigError(f"the ray executor needs Ray: pip install '{RAY_PIN}'") from None
        if ray.is_initialized():
            return ray
        _reachable(self.address)
        extra = {}
        if self.address is None:  # a Ray of our own: its sessions in a folder close() removes
            import tempfile
            self._temp = tempfile.mkdtemp(prefix="lthray")
            self._shared_existed = (Path(tempfile.gettempdir()) / "ray").exists()
            extra["_temp_dir"] = self._temp
        try:
            ray.init(address=self.address, include_dashboard=False, log_to_driver=True,
                     logging_level="WARNING", configure_logging=True, **extra)
        except (ConnectionError, RuntimeError, ValueError) as error:
            where = "a new local Ray" if self.address is None else f"a Ray cluster at {self.address!r}"
            raise ConfigError(f"ray: could not reach {where}: {str(error).splitlines()[0]} (start one with "
                              "`ray start --head`, or leave --address out to start one here)") from None
        self._started = True
        return ray

    def close(self) -> None:
        """Disconnect (and stop the Ray this executor started, if any)."""
        if self._started:
            import ray
            ray.shutdown()
            self._started = False
        if self._temp:  # what the Ray started here left in the temporary folder
            import shutil
            import tempfile
            shutil.rmtree(self._temp, ignore_errors=True)
            if not self._shared_existed:  # Ray writes its address file to <tmp>/ray whatever _temp_dir says
                shutil.rmtree(Path(tempfile.gettempdir()) / "ray", ignore_errors=True)
            self._temp = None

    def in_flight(self, ray) -> int:
        if self.max_in_flight:
            return int(self.max_in_flight)
        resources = ray.cluster_resources()
        if self.gpus_per_task:
            return max(1, int(resources.get("GPU", 1) // self.gpus_per_task))
        return max(1, int(resources.get("CPU", 1) // self.cpus_per_task))

    def map(self, payloads: list[dict], on_done: Callable[[int], None] | None = None) -> list[Any]:
        if not payloads:
            return []
        ray = self._connect()
        env = {**platform.forwarded_env(), **platform.child_env(max(1, int(self.cpus_per_task)))}
        task = ray.remote(call).options(num_cpus=self.cpus_per_task, num_gpus=self.gpus_per_task,
                                        max_retries=self.max_retries, retry_exceptions=False,
                                        runtime_env={"env_vars": env})
        limit, waiting, running, results = self.in_flight(ray), list(enumerate(payloads)), {}, {}
        failures = []
        while waiting or running:
            while waiting and not failures and len(running) < limit:
                index, payload = waiting.pop(0)
                running[task.remote(payload)] = index
            if not running:
                break
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                index = running.pop(ref)
                try:
                    results[index] = ray.get(ref)
                except Exception as error:  # noqa: BLE001 - a task's error, reported with its name
                    failures.append(failure(payloads[index], error))
                    continue
                if on_done is not None:
                    on_done(index)
        if failures:
            raise JobFailed("\n".join(failures))
        return [results[i] for i in range(len(payloads))]


def _reachable(address: str | None, timeout: float = 5.0) -> None:
    """A ConfigError within ``timeout`` + :data:`ANSWER_SECONDS` when ``address`` (host:port, or
    ray://host:port) takes no connection or does not answer as Ray does (gRPC): ray.init would
    otherwise keep retrying for minutes (ten, where something else listens)."""
    if address in (None, "auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"ray: --address takes 'auto' or host:port, got {address!r}")
    advice = "(start one with `ray start --head`, or leave --address out to start one here)"
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as connection:
            answered = _answers_as_grpc(connection, ANSWER_SECONDS)
    except OSError as error:
        raise ConfigError(f"ray: could not reach a Ray cluster at {address!r}: {error} {advice}") from None
    if not answered:
        raise ConfigError(f"ray: {address!r} takes connections but did not answer as a Ray cluster within "
                          f"{ANSWER_SECONDS:.0f} s (something else listens there?) {advice}")


def _answers_as_grpc(connection: socket.socket, seconds: float) -> bool:
    """Whether the other end speaks HTTP/2, as a Ray cluster's gRPC servers do: it answers a
    client's preface with a SETTINGS frame within ``seconds``.  Not asked over TLS (RAY_USE_TLS)."""
    if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
        return True
    deadline, header = time.monotonic() + seconds, b""
    try:
        connection.sendall(_HTTP2_HELLO)
        while len(header) < 9 and time.monotonic() < deadline:
            connection.settimeout(max(deadline - time.monotonic(), 0.01))
            chunk = connection.recv(9 - len(header))
            if not chunk:
                return False
            header += chunk
    except OSError:  # a timeout, a reset
        return False
    return len(header) == 9 and header[3] == _SETTINGS_FRAME
