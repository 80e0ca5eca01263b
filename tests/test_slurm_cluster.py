"""The grid on a real single-node Slurm (Debian's slurm-wlm: munged, slurmctld and slurmd started
here, as root, with a throw-away configuration), through ``lth run --executor slurm``.

Opt-in (marked ``slurm``, skipped unless asked for with ``-m slurm``): it needs root and the
slurm-wlm and munge packages (``apt-get install slurm-wlm munge``), and it starts daemons.

    python -m pytest -m slurm tests/test_slurm_cluster.py
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from lthlib import cli
from lthlib.experiment.store import Store

from helpers import CLI_GRID, same_rows

pytestmark = pytest.mark.slurm
DAEMONS = ("munged", "slurmctld", "slurmd")

CONF = """ClusterName=lthtest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MaxArraySize=1001
NodeName={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _wanted(config) -> bool:
    return "slurm" in (config.getoption("-m") or "")


@pytest.fixture(scope="module")
def slurm_cluster(request, tmp_path_factory):
    """A one-node Slurm cluster for this module; SLURM_CONF points sbatch, squeue and sacct at it."""
    if not _wanted(request.config):
        pytest.skip("a real Slurm is opt-in: python -m pytest -m slurm tests/test_slurm_cluster.py")
    missing = [d for d in DAEMONS if shutil.which(d) is None]
    if missing or os.geteuid() != 0:
        pytest.skip(f"needs root and slurm-wlm + munge (missing: {missing or 'root'})")
    folder = Path(tempfile.mkdtemp(prefix="lthslurm", dir="/tmp"))
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    host = socket.gethostname().split(".")[0]
    conf = folder / "slurm.conf"
    conf.write_text(CONF.format(host=host, folder=folder, cpus=os.cpu_count() or 1))
    env = dict(os.environ, SLURM_CONF=str(conf))
    started = time.time()
    procs = []
    our_munged = subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode != 0
    if our_munged:
        Path("/run/munge").mkdir(exist_ok=True)
        subprocess.run(["munged", "--force", "--pid-file", str(folder / "munged.pid")], check=True)
    procs.append(subprocess.Popen(["slurmctld", "-D", "-i", "-f", str(conf)], env=env))
    procs.append(subprocess.Popen(["slurmd", "-D", "-f", str(conf)], env=env))
    try:
        while time.time() - started < 60:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True).stdout
            if out.strip() in ("idle", "mixed"):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"Slurm did not come up in 60 s:\n{(folder / 'slurmctld.log').read_text()[-2000:]}")
        print(f"Slurm up in {time.time() - started:.1f} s", file=sys.stderr)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("SLURM_CONF", str(conf))
            yield folder
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=30)
        if our_munged and (folder / "munged.pid").exists():
            os.kill(int((folder / "munged.pid").read_text().split()[0]), 15)
        shutil.rmtree(folder, ignore_errors=True)


def test_a_real_slurm_gives_the_local_rows(slurm_cluster, grid_reference, grid_results, tmp_path):
    code = cli.main(["run", *CLI_GRID, "--executor", "slurm", "--slurm-folder", str(tmp_path / "submitit"),
                     "--slurm-time", "10", "--slurm-parallelism", "2"])
    assert code == 0
    same_rows(Store(grid_results / "smoke"), grid_reference)
    logs = "".join(p.read_text() for p in (tmp_path / "submitit").glob("*/*_log.out"))
    assert "SLURM" in logs or list((tmp_path / "submitit").glob("*/*_result.pkl"))
