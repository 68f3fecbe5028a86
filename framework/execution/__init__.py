"""Execution: running a plan's jobs as ensemble tasks on Dask and writing what they leave.

One task's stages run in the DAG's order (``task``), the training loop (``training``), the
Dask cluster and its workers (``cluster``, ``cluster_options``, ``worker_setup``), batch
clusters through dask-jobqueue (``jobqueue``), the run itself
(``orchestrator``), progress (``progress``) and the memory estimate of a run (``memory``).

Imports: the layers below (up to storage).
"""
