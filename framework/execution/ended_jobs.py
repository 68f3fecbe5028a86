"""Jobs an adaptive batch cluster still counts that its batch system has already ended.

dask-jobqueue learns that a job ended only from its worker leaving the scheduler. A job
cancelled, failed or ended before its worker joined (cancelled while pending, a broken
environment on the compute node) stays in the cluster's plan for ever; an adaptive cluster
whose target equals that plan submits nothing more, and the scan waits on a job that no longer
exists. ``EndedJobs`` asks the batch system which jobs it still holds and makes the cluster
forget, on its own event loop, the ones it no longer does and whose worker never joined: the
next adaptive step then submits their replacements, as it does for a worker that left.

Only SLURM's listing is here (``squeue``, tested against a real SLURM); on the other systems
an adaptive cluster keeps dask-jobqueue's own behaviour.
"""
from __future__ import annotations

import getpass
import subprocess
import time
from typing import Any

LOOK_INTERVAL = 5.0  # seconds between two listings of the batch system's jobs
QUEUE_LISTINGS: dict[str, tuple[str, ...]] = {"slurm": ("squeue", "--noheader", "--format=%i", "--user")}


class EndedJobs:
    """Looks at most every ``LOOK_INTERVAL`` seconds for ``cluster``'s jobs that ``system`` no
    longer holds, and has the cluster forget them."""

    def __init__(self, cluster: Any, system: str):
        self.cluster = cluster
        self.listing = QUEUE_LISTINGS.get(system)
        self.looked = 0.0
        self.joined: set[str] = set()  # ids of jobs whose worker was seen: dask-jobqueue replaces those

    def check(self) -> list[str]:
        """The ids of the jobs found ended now (the cluster forgets them); usually none."""
        submitted = self._submitted_jobs()  # before the listing: a job submitted after it is not judged by it
        workers = {str(worker.get("name")) for worker in self.cluster.scheduler_info.get("workers", {}).values()}
        self.joined.update(job_id for name, job_id in submitted.items()
                           if any(worker == name or worker.startswith(f"{name}-") for worker in workers))
        now = time.monotonic()
        if self.listing is None or now - self.looked < LOOK_INTERVAL:
            return []
        self.looked = now
        held = self._held_job_ids()
        if held is None:
            return []
        ended = {name: job_id for name, job_id in submitted.items() if job_id not in held | self.joined}
        if ended:
            self.cluster.loop.add_callback(_forget, self.cluster, ended)
        return sorted(ended.values())

    def _submitted_jobs(self) -> dict[str, str]:
        """The cluster's jobs that have a job id, by worker name (a copy taken from another thread)."""
        for _ in range(3):
            try:
                jobs = list(self.cluster.workers.items())
                break
            except RuntimeError:  # the event loop changed the dict while it was copied
                continue
        else:
            return {}
        return {str(name): str(job.job_id) for name, job in jobs if getattr(job, "job_id", None)}

    def _held_job_ids(self) -> set[str] | None:
        """The job ids the batch system holds for this user (pending, running, completing);
        None when it could not be asked: nothing is judged on a listing that failed."""
        assert self.listing is not None
        try:
            out = subprocess.run([*self.listing, getpass.getuser()], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if out.returncode != 0:
            return None
        return {line.strip() for line in out.stdout.splitlines() if line.strip()}


def _forget(cluster: Any, ended: dict[str, str]) -> None:
    """On the cluster's event loop: drop each ended job still held under its name, as
    SpecCluster drops a job whose worker left; its spec stays, so the cluster opens another."""
    for name, job_id in ended.items():
        job = cluster.workers.get(name)
        if job is not None and str(getattr(job, "job_id", None)) == job_id:
            del cluster.workers[name]
