"""A real single-node SLURM for the batch-cluster tests: ``slurmctld`` and ``slurmd`` started
from a minimal configuration in a temporary folder, and stopped after.

It needs Debian's ``slurm-wlm`` and a running ``munged`` (``.ci/slurm-setup`` installs both, as
root). Without ``slurmctld`` the tests that use it are skipped with the reason, except under
``CI=true``, where a missing SLURM fails them: CI must not lose them silently.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from scans import wait_for

DAEMONS = ("/usr/sbin/slurmctld", "/usr/sbin/slurmd")


def require_slurm() -> None:
    """Skip (or, under CI, fail) unless SLURM's daemons and a running munged are here."""
    missing = [path for path in DAEMONS if not Path(path).exists()]
    munge_running = any(p.info["name"] == "munged" for p in psutil.process_iter(["name"]))
    if missing or not munge_running:
        reason = (f"SLURM is not installed ({', '.join(missing)} absent)" if missing else "munged is not running") + \
            "; run .ci/slurm-setup as root"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}: under CI the SLURM tests must run, not be skipped")
        pytest.skip(reason)


def configuration(folder: Path) -> str:
    """slurm.conf for one node: this machine's cores and most of its memory, one partition."""
    host = socket.gethostname().split(".")[0]
    memory = max(1024, psutil.virtual_memory().total // 2**20 - 2048)
    return "\n".join([
        "ClusterName=overparam-test", f"SlurmctldHost={host}", "SlurmUser=root", "AuthType=auth/munge",
        f"StateSaveLocation={folder}/state", f"SlurmdSpoolDir={folder}/spool",
        f"SlurmctldPidFile={folder}/slurmctld.pid", f"SlurmdPidFile={folder}/slurmd.pid",
        f"SlurmctldLogFile={folder}/slurmctld.log", f"SlurmdLogFile={folder}/slurmd.log",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none", "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core", "ReturnToService=2", "MpiDefault=none",
        "JobAcctGatherType=jobacct_gather/none", "SchedulerType=sched/builtin", "KillWait=2",
        f"NodeName={host} CPUs={os.cpu_count()} RealMemory={memory} State=UNKNOWN",
        f"PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP", ""])


def queue(conf: Path) -> list[str]:
    """The jobs SLURM holds (pending or running), one line each."""
    out = subprocess.run(["squeue", "-h", "-o", "%i %T %j"], capture_output=True, text=True,
                         env={**os.environ, "SLURM_CONF": str(conf)}, timeout=30)
    return [line for line in out.stdout.splitlines() if line.strip()]


@contextmanager
def partition_down(conf: Path) -> Iterator[None]:
    """The partition takes jobs but starts none (SLURM's State=DOWN): a job submitted meanwhile
    stays pending, its worker never joins. Up again on leaving."""
    environ = {**os.environ, "SLURM_CONF": str(conf)}
    subprocess.run(["scontrol", "update", "PartitionName=debug", "State=DOWN"], check=True, env=environ, timeout=30)
    try:
        yield
    finally:
        subprocess.run(["scontrol", "update", "PartitionName=debug", "State=UP"], check=True, env=environ, timeout=30)


@contextmanager
def slurm_cluster(folder: Path) -> Iterator[Path]:
    """Start slurmctld and slurmd on ``folder``'s configuration; yields the configuration's
    path (``SLURM_CONF`` for sbatch, squeue, scancel); stops both and waits for an empty queue."""
    require_slurm()
    for sub in ("state", "spool"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    conf = folder / "slurm.conf"
    conf.write_text(configuration(folder))
    environ = {**os.environ, "SLURM_CONF": str(conf)}
    subprocess.run([DAEMONS[0], "-c", "-f", str(conf)], check=True, env=environ, timeout=30)
    subprocess.run([DAEMONS[1], "-f", str(conf)], check=True, env=environ, timeout=30)
    try:
        wait_for(lambda: "idle" in subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                                                     env=environ).stdout, 30, "the SLURM node to be idle")
        yield conf
    finally:
        subprocess.run(["scancel", "--user", os.environ.get("USER", "root")], env=environ, timeout=30)
        for pid_file in ("slurmd.pid", "slurmctld.pid"):
            path = folder / pid_file
            if path.exists():
                try:
                    os.kill(int(path.read_text().split()[0]), signal.SIGTERM)
                except (OSError, ValueError):
                    pass
        time.sleep(1)
        shutil.rmtree(folder / "state", ignore_errors=True)
