"""How a run gets its workers, as the command line states it: kept apart from
``framework.execution.cluster`` so that reading the options imports no Dask."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

LOCALHOST = "127.0.0.1"
DEFAULT_TIMEOUT = 5.0  # seconds to reach a scheduler and to see its first worker
JOB_QUEUE_TIMEOUT = 600.0  # seconds to wait for a batch job's first worker: jobs may queue a while
WORKERLESS_GRACE = 10.0  # seconds without any worker before a batch scan of fixed jobs ends
CLOCK = re.compile(r"^\d+(-\d+)?(:\d+)+$")  # 02:00:00, 1-12:00: times, whatever YAML makes of them
CLUSTER_SYSTEMS = ("slurm", "pbs", "sge", "lsf", "htcondor")  # the batch systems --cluster starts (dask-jobqueue)


class ClusterError(Exception):
    """A cluster that cannot be reached or used; the message names the address and what was tried."""


@dataclass(frozen=True)
class JobQueueOptions:
    """A batch cluster (``framework.execution.jobqueue``): the batch ``system`` (slurm, pbs,
    sge, lsf, htcondor), ``jobs`` to ask for or an ``adapt`` range of jobs, the ``settings``
    given on the command line over Dask's ``jobqueue.SYSTEM`` configuration, GPUs per job
    (one worker each), the ``host`` the scheduler listens on (None: dask-jobqueue's choice),
    and ``insecure`` to run without TLS."""

    system: str
    jobs: int = 1
    adapt: tuple[int, int] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    gpus_per_job: int = 0
    host: str | None = None
    insecure: bool = False


@dataclass(frozen=True)
class ClusterOptions:
    """How to get workers: ``scheduler`` (an address, reached within ``timeout`` seconds) or a
    local cluster of ``workers`` × ``threads`` (defaults from the cores or GPUs) listening on
    ``host``; ``dashboard`` starts Dask's dashboard on the same interface; or ``client``, a Dask
    client the caller already has (``distributed.Client``), used as it is and left open; or
    ``jobqueue``, a batch cluster started for the run. A local cluster on a ``host`` other than
    the loopback interface talks TLS unless ``insecure``."""

    scheduler: str | None = None
    workers: int | None = None
    threads: int | None = None
    dashboard: bool = False
    host: str = LOCALHOST
    timeout: float = DEFAULT_TIMEOUT
    client: Any = None
    jobqueue: JobQueueOptions | None = None
    insecure: bool = False

    @property
    def workerless_grace(self) -> float | None:
        """Seconds a run goes on waiting once every worker has left, before it ends: on a batch
        cluster of a fixed number of jobs, whose ended jobs (walltime, ``scancel``) nobody
        replaces. None, waiting on, elsewhere: a local cluster restarts its workers, an adaptive
        one submits new jobs, a remote one's workers may be restarted by hand."""
        return WORKERLESS_GRACE if self.jobqueue is not None and self.jobqueue.adapt is None else None


def wait_timeout(timeout: float | None, queue: JobQueueOptions | None) -> float:
    """``--timeout`` when given; else ``JOB_QUEUE_TIMEOUT`` for a batch job's first worker (jobs
    may queue a while), ``DEFAULT_TIMEOUT`` to reach a scheduler and see a worker."""
    return timeout or (JOB_QUEUE_TIMEOUT if queue is not None else DEFAULT_TIMEOUT)


def parse_cluster_options(items: Sequence[str]) -> dict[str, Any]:
    """``--cluster-option key=value`` items as settings, values read as YAML (``cores=4``,
    ``job-extra-directives=[--exclusive]``), keys with ``-`` as Dask's configuration writes them."""
    settings: dict[str, Any] = {}
    for item in items:
        key, separator, text = item.partition("=")
        if not separator or not key.strip():
            raise ClusterError(f"--cluster-option {item}: expected KEY=VALUE, such as walltime=02:00:00")
        try:  # a time such as 02:00:00 stays text (YAML 1.1 would read it as the number 7200)
            value = text.strip() if CLOCK.match(text.strip()) else yaml.safe_load(text) if text.strip() else ""
            settings[key.strip().replace("_", "-")] = value
        except yaml.YAMLError as error:
            raise ClusterError(f"--cluster-option {item}: the value is not YAML ({error.__class__.__name__})") from None
    return settings


def job_queue_options(system: str | None, jobs: int | None, adapt: str | None,
                      settings: Sequence[str] | Mapping[str, Any], gpus_per_job: int | None, host: str | None,
                      insecure: bool) -> JobQueueOptions | None:
    """The batch cluster the command line asks for, or None; raises ``ClusterError`` for
    options that need ``--cluster`` without it, or that contradict each other. ``settings`` are
    ``--cluster-option`` items, or a mapping (the Python API's ``cluster_options``)."""
    if system is None:
        given = [name for name, value in (("--jobs", jobs), ("--adapt", adapt), ("--cluster-option", settings),
                                          ("--gpus-per-job", gpus_per_job)) if value]
        if given:
            raise ClusterError(f"{', '.join(given)} needs --cluster SYSTEM ({', '.join(CLUSTER_SYSTEMS)})")
        return None
    if jobs is not None and adapt is not None:
        raise ClusterError("--jobs and --adapt: give one (a fixed number of jobs, or MIN:MAX as the scan needs)")
    bounds = None
    if adapt is not None:
        low, separator, high = adapt.partition(":")
        if not separator or not low.strip().isdigit() or not high.strip().isdigit() \
                or not 0 <= int(low) <= int(high) or int(high) < 1:
            raise ClusterError(f"--adapt {adapt}: expected MIN:MAX, whole numbers with 0 <= MIN <= MAX and MAX >= 1")
        bounds = (int(low), int(high))
    given = {str(k).replace("_", "-"): v for k, v in settings.items()} if isinstance(settings, Mapping) \
        else parse_cluster_options(settings)
    return JobQueueOptions(system, jobs or 1, bounds, given, gpus_per_job or 0, host, insecure)
