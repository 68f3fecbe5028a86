"""Choosing a batch cluster and keeping a scheduler to the run (framework/execution/jobqueue.py,
framework/execution/cluster.py): every job setting is checked before anything is submitted,
with one line naming the setting, where it came from and what it must be; GPU jobs get one
worker per GPU; a local cluster that listens beyond loopback talks TLS and refuses a client
without the run's credentials. None of these needs SLURM: dask-jobqueue writes job scripts
without submitting them."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import dask
import psutil
import pytest
from distributed import Client
from distributed.security import Security

from click.testing import CliRunner

from framework.cli.commands import main
from framework.execution.cluster_options import JobQueueOptions, job_queue_options
from framework.execution.jobqueue import cluster_arguments, dask_jobqueue_module, job_settings
from scans import ROOT, TINY, assert_same_results, overparam, results, write_pipeline

CLUSTER_DOC = (ROOT / "docs" / "cluster.md").read_text()



@pytest.mark.parametrize("options,expected", [
    (("--cluster-option", "walltime=2h"),
     "--cluster-option walltime=2h: expected a walltime such as 02:00:00 ([D-]HH:MM:SS), got '2h'"),
    (("--cluster-option", "waltime=01:00:00"),
     "--cluster-option waltime: not a setting of jobqueue.slurm; did you mean 'walltime'?"),
    (("--cluster-option", "cores=0"), "--cluster-option cores=0: expected a whole number >= 1, got 0"),
    (("--cluster-option", "memory=lots"), "--cluster-option memory=lots: expected a memory size such as 4GB"),
    (("--cluster-option", "job-extra-directives=--exclusive"),
     "expected a list of texts such as [--exclusive], got '--exclusive'"),
    (("--adapt", "3:1"), "--adapt 3:1: expected MIN:MAX, whole numbers with 0 <= MIN <= MAX and MAX >= 1"),
    (("--jobs", "2", "--adapt", "1:2"), "--jobs and --adapt: give one"),
])
def test_a_bad_job_setting_is_one_line_naming_it_and_nothing_is_written(tmp_path, options, expected):
    pipeline = write_pipeline(tmp_path, TINY)
    with dask.config.set({"jobqueue.slurm.cores": 1, "jobqueue.slurm.memory": "1GB"}):
        out = CliRunner().invoke(main, ["run", str(pipeline), "--cluster", "slurm", *options,
                                        "--store", str(tmp_path / "s.zarr")])
    assert out.exit_code == 2, out.output
    assert expected in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stderr.startswith(f"{pipeline}: ") and isinstance(out.exception, SystemExit)  # no traceback
    assert not (tmp_path / "s.zarr").exists()
    if "walltime=2h" in options:  # docs/cluster.md shows this one
        assert f"million.yaml: {expected}\n" in CLUSTER_DOC


def test_a_setting_missing_from_dasks_configuration_names_where_to_give_it(tmp_path):
    (tmp_path / "dask.yaml").write_text("jobqueue:\n  slurm:\n    memory: 1GB\n")
    pipeline = write_pipeline(tmp_path, TINY)
    out = overparam("run", str(pipeline), "--cluster", "slurm", env={"DASK_CONFIG": str(tmp_path / "dask.yaml")})
    assert out.returncode == 2
    assert (f"jobqueue.slurm.cores in Dask's configuration ({tmp_path / 'dask.yaml'}, ~/.config/dask/*.yaml): "
            "expected set (a whole number >= 1), not set; give it there or with --cluster-option cores=...") \
        in out.stderr
    shown = out.stderr.strip().replace(str(pipeline), "million.yaml").replace(f"{tmp_path / 'dask.yaml'}, ", "")
    assert f"{shown}\n" in CLUSTER_DOC  # docs/cluster.md's sample, as a user without DASK_CONFIG sees it


def test_batch_options_need_a_batch_cluster(tmp_path):
    pipeline = write_pipeline(tmp_path, TINY)
    out = CliRunner().invoke(main, ["run", str(pipeline), "--jobs", "2", "--gpus-per-job", "1"])
    assert out.exit_code == 2
    assert "--jobs, --gpus-per-job needs --cluster SYSTEM (slurm, pbs, sge, lsf, htcondor)" in out.stderr


def job_script(options: JobQueueOptions, look: Path | None = None) -> tuple[str, list[tuple[Path, int]]]:
    """The job script dask-jobqueue would submit for ``options`` (nothing is submitted), and the
    files in ``look`` with their modes while the cluster is open."""
    arguments = cluster_arguments(options, job_settings(options))
    classes = dask_jobqueue_module(options.system)
    cluster = getattr(classes, {"slurm": "SLURMCluster", "pbs": "PBSCluster"}[options.system])(**arguments)
    try:
        return cluster.job_script(), [(p, p.stat().st_mode) for p in sorted(look.iterdir())] if look else []
    finally:
        cluster.close()


@pytest.mark.parametrize("system,directive", [("slurm", "#SBATCH --gres=gpu:2"), ("pbs", "#PBS -l ngpus=2")])
def test_a_gpu_job_runs_one_worker_per_gpu_each_holding_a_gpu_resource(system, directive):
    with dask.config.set({f"jobqueue.{system}.cores": 8, f"jobqueue.{system}.memory": "32GB"}):
        options = job_queue_options(system, 3, None, ["walltime=01:00:00"], 2, "127.0.0.1", True)
        script, _ = job_script(options)
    assert directive in script
    assert "--nworkers 2" in script and "--resources GPU=1" in script and "--nthreads 4" in script
    assert "01:00:00" in script


def test_the_jobs_of_a_secure_cluster_get_the_runs_certificates_readable_by_the_user_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    with dask.config.set({"jobqueue.slurm.cores": 1, "jobqueue.slurm.memory": "1GB"}):
        folder = tmp_path / ".cache" / "overparam" / "tls"
        script, certificates = job_script(job_queue_options("slurm", 1, None, [], None, "127.0.0.1", False), folder)
    assert len(certificates) == 3 and all(f"--tls-{part} {folder}" in script for part in ("ca-file", "cert", "key"))
    assert all(mode & 0o077 == 0 for _, mode in certificates) and folder.stat().st_mode & 0o077 == 0  # the user's alone
    assert "tls://127.0.0.1:" in script
    assert not list(folder.iterdir())  # gone with the cluster


def non_loopback_address() -> str | None:
    """An IPv4 address of this machine that other machines could reach, if it has one."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family.name == "AF_INET" and not address.address.startswith("127."):
                return address.address
    return None


SLOWER = TINY.replace("steps: 60", "steps: 3000").replace("m: [16, 24]", "m: [64, 96]")


def test_a_local_cluster_beyond_loopback_talks_tls_and_refuses_an_intruder(tmp_path):
    host = non_loopback_address()
    if host is None:
        pytest.skip("this machine has no address beyond loopback")
    pipeline = write_pipeline(tmp_path, SLOWER)
    local = tmp_path / "loopback.zarr"
    assert overparam("run", str(pipeline), "--store", str(local), "--quiet").returncode == 0
    run = subprocess.Popen([sys.executable, "-m", "framework.cli.commands", "run", str(pipeline), "--host", host,
                            "--store", str(tmp_path / "open.zarr"), "--progress", "plain"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path)
    lines = []
    for line in run.stdout:
        lines.append(line)
        if "scheduler at " in line:
            break
    address = lines[-1].split("scheduler at ", 1)[1].split(";")[0].strip()
    assert address.startswith(f"tls://{host}:"), lines
    assert f"listening on {host} over TLS with certificates made for this run" in "".join(lines)
    for attempt, security in ((address, Security.temporary()), (address.replace("tls://", "tcp://"), None)):
        with pytest.raises((OSError, TimeoutError)):
            Client(attempt, security=security, timeout=3)
    output = run.communicate(timeout=240)[0]
    assert run.returncode == 0, "".join(lines) + output
    assert_same_results(results(tmp_path / "open.zarr"), results(local))


def in_a_new_interpreter(script: str) -> subprocess.CompletedProcess:
    """``script`` run by a Python that has imported nothing yet (dask-jobqueue's import-time effects)."""
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)


def test_choosing_a_batch_cluster_leaves_ctrl_c_as_it_was():
    """dask-jobqueue's import makes SIGINT exit the process; overparam imports it and puts the
    handler back, so Ctrl-C still raises KeyboardInterrupt and a run stops in order."""
    script = ("import signal\nbefore = signal.getsignal(signal.SIGINT)\n"
              "from framework.execution.jobqueue import dask_jobqueue_module\n"
              "dask_jobqueue_module('slurm')\nprint(signal.getsignal(signal.SIGINT) is before)\n"
              "import dask_jobqueue.runner, importlib\nimportlib.reload(dask_jobqueue.runner)\n"
              "print(signal.getsignal(signal.SIGINT) is before)\n")
    out = in_a_new_interpreter(script)
    assert out.stdout.split() == ["True", "False"], out.stderr  # kept by overparam; dask-jobqueue alone would not


def test_settings_are_checked_against_dask_jobqueues_defaults_after_an_import_inside_a_config_block():
    script = ("import dask\nfrom framework.execution.jobqueue import dask_jobqueue_module, job_settings\n"
              "from framework.execution.cluster_options import JobQueueOptions\n"
              "with dask.config.set({'jobqueue.pbs.cores': 8}):\n    dask_jobqueue_module('pbs')\n"
              "with dask.config.set({'jobqueue.pbs.cores': 8, 'jobqueue.pbs.memory': '8GB'}):\n"
              "    print(job_settings(JobQueueOptions('pbs', settings={'walltime': '01:00:00'}))['walltime'])\n")
    out = in_a_new_interpreter(script)
    assert out.stdout.split() == ["01:00:00"], out.stderr


def test_a_run_on_a_local_cluster_of_this_process_does_not_wait_for_workers_to_settle(dask_client):
    """``settle`` waits until no worker has joined for a second, for workers started by hand;
    a local cluster of this process started them all before its client was made."""
    import time

    from framework.execution.cluster import settle, workers_of

    start = time.monotonic()
    settle(dask_client)
    assert time.monotonic() - start < 0.5
    assert len(workers_of(dask_client)) == len(dask_client.cluster.workers)
