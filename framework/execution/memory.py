"""Refusing a scan that cannot fit: the memory its tasks would hold at once, estimated from
the shapes before anything starts, against the memory this machine has available.

A scan's tasks are sized as the run sizes them (``tasks.Packing``), counted from the
plan's distinct resolutions without making a job per grid point; on a CPU cluster of W workers (one task each) the W
largest tasks may run at once and share the machine's available RAM; on GPUs each worker
runs one task on its own device, so the largest task must fit one device's free memory. The
client's own bookkeeping, about ``CLIENT_BYTES_PER_POINT`` per grid point, is counted on top. A
remote cluster's memory is not this machine's, so nothing is estimated for one.
"""
from __future__ import annotations

from dataclasses import dataclass

import psutil
import torch

from framework.execution.cluster import ClusterOptions, local_gpus, local_workers
import numpy as np

from framework.planning.tasks import Packing, task_key
from framework.planning.plan import Job, Plan
from framework.configuration.source import Finding, KeyPath, PipelineError


@dataclass(frozen=True)
class MemoryEstimate:
    """What a scan would hold at once, and what there is."""

    peak_bytes: int
    available_bytes: int
    concurrent: int
    largest: Job
    largest_bytes: int
    dtype: str
    memory: str  # "RAM" or "GPU memory"

    @property
    def fits(self) -> bool:
        return self.peak_bytes <= self.available_bytes


CLIENT_BYTES_PER_POINT = 100  # the client's arrays per grid point: status, pending indices, resolution numbers


def gib(size: int) -> str:
    """A size in GiB, as the refusal prints it."""
    return f"{size / 1024**3:,.1f} GiB"


def available_memory(gpus: int) -> tuple[int, str]:
    """The bytes a scan may use: the smallest device's free memory on GPUs, else available RAM."""
    if gpus:
        return min(torch.cuda.mem_get_info(i)[0] for i in range(gpus)), "GPU memory"
    return psutil.virtual_memory().available, "RAM"


def task_sizes(plan: Plan, packing: Packing) -> list[int]:
    """The bytes of every task the plan's jobs group into, largest first (of each group, as
    many full tasks as could run at once and the last one): the jobs of each task key counted
    from the distinct resolutions, split into tasks as ``packing`` splits them."""
    templates = plan.jobs.distinct()
    per_template = np.bincount(plan.jobs.per_point()[0], minlength=len(templates))
    counts: dict[tuple, list] = {}
    for job, count in zip(templates, per_template.tolist()):
        entry = counts.setdefault(task_key(job), [job, 0])
        entry[1] += count
    sizes: list[int] = []
    for job, count in counts.values():
        shape = packing.task_shape(job, count, len(counts))
        full, rest = divmod(count, shape.members)
        sizes.extend([shape.members * shape.member_bytes] * min(full, packing.slots)
                     + ([rest * shape.member_bytes] if rest else []))
    return sorted(sizes, reverse=True)


def estimate_memory(plan: Plan, cluster: ClusterOptions, max_ensemble: int | None = None) -> MemoryEstimate | None:
    """The estimate for a run of ``plan`` on the local cluster that ``cluster`` describes, or
    None for a remote scheduler (its workers' memory is not this machine's)."""
    if cluster.scheduler or not len(plan.jobs):
        return None
    pipeline = plan.pipeline
    gpus = local_gpus(pipeline.device)
    workers, _ = local_workers(cluster, pipeline.device)
    packing = Packing(pipeline.dtype, max_ensemble or pipeline.max_ensemble, workers)
    sizes = task_sizes(plan, packing)
    concurrent = 1 if gpus else min(workers, len(sizes))
    member = {id(job): packing.task_shape(job, 1, 1).member_bytes for job in plan.jobs.distinct()}
    largest = max(plan.jobs.distinct(), key=lambda job: member[id(job)])
    available, memory = available_memory(gpus)
    client = 0 if gpus else CLIENT_BYTES_PER_POINT * len(plan.jobs)
    return MemoryEstimate(sum(sizes[:concurrent]) + client, available, concurrent, largest,
                          member[id(largest)], pipeline.dtype, memory)


def _blamed_key(job: Job) -> KeyPath:
    """The parameter that makes a member large: the width m when the m×m terms dominate, else
    the data (n sequences of length L)."""
    s = job.shape
    rows = s.n * s.L
    if 6 * s.m * s.m + 14 * rows * s.m >= 4 * rows * rows:
        return ("stages", job.init.stage, "params", "m")
    return ("stages", job.data.stage, "params")


def refuse_if_too_large(plan: Plan, cluster: ClusterOptions, max_ensemble: int | None = None) -> MemoryEstimate | None:
    """Raise ``PipelineError`` with the estimate when the scan would not fit; else the estimate."""
    estimate = estimate_memory(plan, cluster, max_ensemble)
    if estimate is None or estimate.fits:
        return estimate
    s = estimate.largest.shape
    message = (f"the scan would need about {gib(estimate.peak_bytes)} of {estimate.memory} at once "
               f"({estimate.concurrent} task{'s' if estimate.concurrent > 1 else ''} running together; the largest "
               f"member, m={s.m} with n·L={s.n * s.L}, needs {gib(estimate.largest_bytes)} in {estimate.dtype}), "
               f"more than the {gib(estimate.available_bytes)} available; use smaller shapes or fewer workers, "
               f"or pass --force to run anyway")
    raise PipelineError(plan.pipeline.source, [Finding(_blamed_key(estimate.largest), message)])
