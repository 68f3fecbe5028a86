"""Batch clusters: SLURM, PBS, SGE, LSF and HTCondor through dask-jobqueue (docs/cluster.md).

A run with ``--cluster SYSTEM`` starts the matching dask-jobqueue cluster, asks for ``--jobs N``
jobs (or adapts between ``--adapt MIN:MAX``), runs its scan and closes the cluster, which
cancels every job it submitted. Each job's settings come from Dask's configuration, the
ecosystem's convention (``jobqueue.SYSTEM.cores``, ``memory``, ``walltime``, ``queue``, ... in
``~/.config/dask/jobqueue.yaml`` or the files ``DASK_CONFIG`` names), overridden by
``--cluster-option key=value``; every setting is checked here, before a job is submitted.

The scheduler runs in the client's process and listens on the network the compute nodes
reach, where anyone who reaches its port could run code as the user: so the scheduler,
workers and client talk over TLS with certificates made for the run (Dask's
``Security.temporary()``), which only the run's processes hold (the workers' copy is written,
readable by the user alone, to ``shared-temp-directory``, by default a private folder in the
home directory, which batch clusters share with their nodes). ``--insecure`` opts out.
"""
from __future__ import annotations

import os
import re
import signal
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import dask
import yaml
from dask.utils import parse_bytes

from framework.contract.messages import did_you_mean
from framework.execution.ended_jobs import LOOK_INTERVAL, EndedJobs
from framework.execution.cluster_options import ClusterError, JobQueueOptions, job_queue_options

CLUSTER_CLASSES = {"slurm": "SLURMCluster", "pbs": "PBSCluster", "sge": "SGECluster", "lsf": "LSFCluster",
                   "htcondor": "HTCondorCluster"}
WALLTIME = re.compile(r"^(\d+-)?\d{1,3}:\d{2}(:\d{2})?$")  # [D-]HH:MM[:SS], as the batch systems read it
GPU_DIRECTIVE = {"slurm": "--gres=gpu:{}", "pbs": "-l ngpus={}", "lsf": '-gpu "num={}"', "sge": "-l gpu={}",
                 "htcondor": "request_gpus = {}"}
PRIVATE_TLS_FOLDER = Path("~/.cache/overparam/tls")
ALL_JOBS_WAIT = 30.0  # seconds to wait for every asked-for job's workers once the first one joined


def _positive_int(value: Any) -> str:
    return "" if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else "a whole number >= 1"


def _bytes(value: Any) -> str:
    try:
        return "" if parse_bytes(str(value)) > 0 else "a memory size such as 4GB"
    except (ValueError, TypeError):
        return "a memory size such as 4GB"


def _walltime(value: Any) -> str:
    return "" if isinstance(value, str) and WALLTIME.match(value) else "a walltime such as 02:00:00 ([D-]HH:MM:SS)"


def _seconds(value: Any) -> str:
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0
    return "" if number or isinstance(value, str) and _is_duration(value) else "a duration in seconds such as 60"


def _is_duration(text: str) -> bool:
    try:
        return dask.utils.parse_timedelta(text) > 0
    except (ValueError, KeyError):
        return False


def _text(value: Any) -> str:
    return "" if isinstance(value, str) and value else "a text"


def _texts(value: Any) -> str:
    ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
    return "" if ok else "a list of texts such as [--exclusive]"


# what each setting must be; a setting not named here is passed on as given
CHECKS = {"cores": _positive_int, "processes": _positive_int, "memory": _bytes, "walltime": _walltime,
          "death-timeout": _seconds, "queue": _text, "account": _text, "project": _text,
          "job-extra-directives": _texts, "worker-extra-args": _texts, "job-script-prologue": _texts,
          "job-directives-skip": _texts, "log-directory": _text, "shared-temp-directory": _text,
          "local-directory": _text, "interface": _text, "python": _text}
REQUIRED = ("cores", "memory")


def dask_jobqueue_module(system: str) -> ModuleType:
    """dask-jobqueue, imported with Ctrl-C left as it was and its configuration defaults in
    place: importing it sets a SIGINT handler that exits the process (its ``runner`` module),
    which would turn a notebook's or a run's Ctrl-C into ``SystemExit`` and skip the run's
    orderly stop."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    try:
        import dask_jobqueue
    except ImportError:
        raise ClusterError(f"--cluster {system} needs dask-jobqueue: pip install 'overparam[cluster]'") from None
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGINT, previous)
    # its defaults are added to Dask's configuration once, at import: an import inside a
    # `dask.config.set` block loses them when the block ends, so they are put back where missing
    defaults = yaml.safe_load((Path(dask_jobqueue.__file__).parent / "jobqueue.yaml").read_text())
    dask.config.update(dask.config.config, defaults, priority="old")
    return dask_jobqueue


def job_settings(options: JobQueueOptions) -> dict[str, Any]:
    """Every setting of the jobs: Dask's configuration for the system with ``options.settings``
    on top, each one checked; raises ``ClusterError`` with one line per problem, naming where
    the setting came from and what it must be."""
    if options.system not in CLUSTER_CLASSES:
        raise ClusterError(f"--cluster {options.system}: expected one of {', '.join(CLUSTER_CLASSES)}"
                           f"{did_you_mean(options.system, list(CLUSTER_CLASSES))}")
    dask_jobqueue_module(options.system)  # its import adds the jobqueue.* defaults to Dask's configuration
    configured = dict(dask.config.get(f"jobqueue.{options.system}", {}) or {})
    problems = []
    for key in options.settings:
        if key not in configured:
            problems.append(f"--cluster-option {key}: not a setting of jobqueue.{options.system}"
                            f"{did_you_mean(key, list(configured))}")
    merged = {**configured, **{k: v for k, v in options.settings.items() if k in configured}}
    for key, value in merged.items():
        check = CHECKS.get(key)
        expected = check(value) if check is not None and value is not None else ""
        if key in REQUIRED and value is None:
            expected = f"set ({CHECKS[key](value)})"
        if expected:
            where = (f"--cluster-option {key}={options.settings[key]}" if key in options.settings
                     else f"jobqueue.{options.system}.{key} in Dask's configuration ({_config_places()})")
            got = "not set" if value is None else f"got {value!r}"
            problems.append(f"{where}: expected {expected}, {got}"
                            + (f"; give it there or with --cluster-option {key}=..." if value is None else ""))
    if problems:
        raise ClusterError("\n".join(problems))
    return merged


def _config_places() -> str:
    """Where Dask reads its configuration from here, as a reader would look for it."""
    places = [os.environ["DASK_CONFIG"]] if os.environ.get("DASK_CONFIG") else []
    return ", ".join(places + ["~/.config/dask/*.yaml"])


def checked_job_queue(system: str | None, jobs: int | None, adapt: str | None,
                      settings: Sequence[str] | Mapping[str, Any], gpus_per_job: int | None, host: str | None,
                      insecure: bool) -> JobQueueOptions | None:
    """The batch cluster the command line or the Python API asks for (``job_queue_options``),
    with every job setting checked (``job_settings``) before the pipeline is read and long
    before a job is submitted; None without ``system``. Raises ``ClusterError``."""
    queue = job_queue_options(system, jobs, adapt, settings, gpus_per_job, host, insecure)
    if queue is not None:
        job_settings(queue)
    return queue


def cluster_arguments(options: JobQueueOptions, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of the dask-jobqueue class: the settings given on the command line
    (the class reads the rest from Dask's configuration itself), one worker per GPU with a
    ``GPU`` resource when ``gpus_per_job``, the jobs' logs and TLS."""
    arguments = {key.replace("-", "_"): value for key, value in options.settings.items()}
    if options.gpus_per_job:
        directive = GPU_DIRECTIVE[options.system].format(options.gpus_per_job)
        arguments["job_extra_directives"] = [*settings.get("job-extra-directives", []), directive]
        arguments["processes"] = options.gpus_per_job
        arguments["worker_extra_args"] = [*settings.get("worker-extra-args", []), "--resources", "GPU=1"]
    if settings.get("log-directory") is None:  # never the current folder, where sbatch would put them
        arguments["log_directory"] = tempfile.mkdtemp(prefix="overparam-jobs-")
    if options.host:
        arguments["scheduler_options"] = {**settings.get("scheduler-options", {}), "host": options.host}
    if not options.insecure:
        arguments["security"] = True
        if settings.get("shared-temp-directory") is None:
            folder = PRIVATE_TLS_FOLDER.expanduser()
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            arguments["shared_temp_directory"] = str(folder)
    return arguments


def start_job_queue_cluster(options: JobQueueOptions, timeout: float) -> tuple[Any, Any]:
    """The job-queue cluster, scaled or adaptive, and a client on it that has seen a worker
    within ``timeout`` seconds; raises ``ClusterError`` for a setting, a submission or a wait
    that fails (no job left queued)."""
    from distributed import Client

    settings = job_settings(options)
    cluster_class = getattr(dask_jobqueue_module(options.system), CLUSTER_CLASSES[options.system])
    try:
        cluster = cluster_class(**cluster_arguments(options, settings))
    except Exception as error:  # the class's own checks: one line, not its traceback
        raise ClusterError(f"--cluster {options.system}: {type(error).__name__}: {error}") from None
    try:
        if options.adapt is not None:
            cluster.adapt(minimum_jobs=options.adapt[0], maximum_jobs=options.adapt[1])
        else:
            cluster.scale(jobs=options.jobs)
        client = Client(cluster)
        _wait_for_first_worker(client, options, timeout)
    except Exception as error:
        cluster.close()
        raise ClusterError(f"--cluster {options.system}: no worker joined within {timeout:g} s "
                           f"({type(error).__name__}: {error}); the jobs' output is in "
                           f"{cluster._job_kwargs.get('log_directory')}; pass --timeout SECONDS to wait longer") from None
    if options.adapt is None:  # the scan is packed for the workers there are: give the other jobs a moment
        try:
            client.wait_for_workers(options.jobs * cluster._dummy_job.worker_processes, timeout=ALL_JOBS_WAIT)
        except TimeoutError:
            pass
    return cluster, client


def _wait_for_first_worker(client: Any, options: JobQueueOptions, timeout: float) -> None:
    """Wait up to ``timeout`` seconds for a worker; an adaptive cluster meanwhile replaces the
    jobs its batch system ended before their worker joined (``EndedJobs``; the run's first
    line already says it is waiting for them)."""
    if options.adapt is None:
        client.wait_for_workers(1, timeout=timeout)
        return
    ended_jobs = EndedJobs(client.cluster, options.system)
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.wait_for_workers(1, timeout=max(0.1, min(LOOK_INTERVAL, deadline - time.monotonic())))
            return
        except TimeoutError:
            if time.monotonic() >= deadline:
                raise
            ended_jobs.check()


def job_queue_note(client: Any) -> str:
    """Where a batch cluster's scheduler listens and where its jobs write their output."""
    cluster = client.cluster
    return (f"dask-jobqueue scheduler at {client.scheduler.address}; the jobs' output is in "
            f"{cluster._job_kwargs.get('log_directory') or 'the current folder'}")
