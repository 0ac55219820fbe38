"""Run an analysis over many units: a Dask cluster (local, or SLURM at NERSC), the map/gather
helpers, the equivalent sbatch script, and the time estimate for the whole campaign.

SLURM settings (Perlmutter) come from the arguments, else from the environment variables Slurm's
own ``sbatch`` reads, so one setting serves both the Dask cluster and the batch script:

* ``SBATCH_ACCOUNT``: the NERSC project to charge (required; e.g. your DESC allocation);
* ``SBATCH_QOS``: ``regular`` by default (``debug`` for tests of up to 30 minutes, ``shared`` for
  part of a node);
* ``SBATCH_CONSTRAINT``: ``cpu`` by default (Perlmutter's CPU nodes: 2 x 64-core AMD EPYC 7763,
  512 GB; ``gpu`` for the GPU nodes).

NERSC is recognised by ``NERSC_HOST`` (set on every NERSC login and compute node).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from elasticc_tutorial.errors import ScaleError
from elasticc_tutorial.scale.units import Unit

__all__ = [
    "CAMPAIGN",
    "PERLMUTTER_CPU_CORES",
    "SlurmSettings",
    "at_nersc",
    "batch_script",
    "campaign_seconds",
    "cluster",
    "gather_frames",
    "map_units",
    "slurm_cluster",
    "slurm_settings",
    "write_batch_script",
]

#: Sizes of the ELAsTiCC2 campaign (sprint-week slides 2 and 9, Oct 2024; see formats.md §7).
CAMPAIGN: dict[str, int] = {
    "objects": 4_100_000,
    "detections": 62_000_000,
    "forced_points": 990_000_000,
    "broker_messages": 377_000_000,
}
PERLMUTTER_CPU_CORES = 128  # physical cores of one Perlmutter CPU node (256 hardware threads)

_WALLTIME_RE = re.compile(r"^(\d+-)?\d{1,2}:\d{2}:\d{2}$")
_PLAIN_WORD_RE = re.compile(r"^[A-Za-z0-9_@%+=:,./-]+$")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_.,&|-]+$")


def at_nersc(env: Mapping[str, str] | None = None) -> bool:
    """True on a NERSC system (``NERSC_HOST`` is set, e.g. to ``perlmutter``)."""
    return bool((os.environ if env is None else env).get("NERSC_HOST"))


@dataclass(frozen=True)
class SlurmSettings:
    """One SLURM job's request on Perlmutter: where to charge it and what node to get."""

    account: str
    qos: str = "regular"
    constraint: str = "cpu"
    walltime: str = "00:30:00"
    nodes: int = 1
    cores: int = PERLMUTTER_CPU_CORES
    processes: int = 32  # Dask worker processes per node (4 cores each)
    memory: str = "480GiB"  # of the node's 512 GB, leaving room for the OS
    setup: tuple[str, ...] = field(default=())  # shell lines before the run (module load, ...)


def slurm_settings(
    account: str | None = None,
    qos: str | None = None,
    constraint: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> SlurmSettings:
    """SLURM settings from the arguments, else ``SBATCH_ACCOUNT``/``SBATCH_QOS``/
    ``SBATCH_CONSTRAINT``, else the defaults (QOS ``regular``, constraint ``cpu``). The account has
    no default. Other keywords (walltime, nodes, cores, processes, memory, setup) are checked too."""
    env = os.environ if env is None else env
    account = account or env.get("SBATCH_ACCOUNT")
    if not account:
        raise ScaleError(
            "a SLURM account is needed: pass account= or set SBATCH_ACCOUNT to your NERSC project"
        )
    qos = qos or env.get("SBATCH_QOS") or "regular"
    constraint = constraint or env.get("SBATCH_CONSTRAINT") or "cpu"
    for name, value in (("account", account), ("qos", qos), ("constraint", constraint)):
        if not _TOKEN_RE.match(value):
            raise ScaleError(f"SLURM {name} {value!r}: expected letters, digits, '_', '-', '.'")
    settings = SlurmSettings(account=account, qos=qos, constraint=constraint, **kwargs)
    if not _WALLTIME_RE.match(settings.walltime):
        raise ScaleError(f"walltime {settings.walltime!r}: expected [D-]HH:MM:SS")
    for name in ("nodes", "cores", "processes"):
        if not isinstance(getattr(settings, name), int) or getattr(settings, name) < 1:
            raise ScaleError(f"{name} must be a positive integer, got {getattr(settings, name)!r}")
    if settings.processes > settings.cores:
        raise ScaleError(f"processes ({settings.processes}) > cores ({settings.cores})")
    return settings


def slurm_cluster(settings: SlurmSettings, **kwargs: Any):
    """A ``dask_jobqueue.SLURMCluster`` whose every job is one Perlmutter node of ``settings``
    (no job is submitted until ``scale``; ``job_script()`` shows what would be)."""
    import dask
    from dask_jobqueue import SLURMCluster

    class _SLURMCluster(SLURMCluster):
        """Removes the scheduler's scratch directory when closed (or at exit, if never closed)."""

        scratch = ""

        def close(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().close(*args, **kwargs)
            finally:
                shutil.rmtree(self.scratch, ignore_errors=True)

    # the scheduler (in this process) gets its own scratch directory, removed with the cluster
    scratch = tempfile.mkdtemp(prefix="elasticc-dask-")
    try:
        with dask.config.set({"temporary-directory": scratch}):
            made = _slurm_cluster(_SLURMCluster, settings, **kwargs)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    made.scratch = scratch
    weakref.finalize(made, shutil.rmtree, scratch, True)
    return made


def _slurm_cluster(cluster_cls: Any, settings: SlurmSettings, **kwargs: Any) -> Any:
    return cluster_cls(
        account=settings.account,
        cores=settings.cores,
        processes=settings.processes,
        memory=settings.memory,
        walltime=settings.walltime,
        job_cpu=2 * settings.cores,  # Perlmutter's --cpus-per-task counts hardware threads
        job_extra_directives=[f"--qos={settings.qos}", f"--constraint={settings.constraint}"],
        job_script_prologue=list(settings.setup),
        **kwargs,
    )


def cluster(
    n_workers: int | None = None,
    *,
    threads_per_worker: int = 1,
    processes: bool = True,
    memory_limit: str | float = "auto",
    slurm: bool | None = None,
    jobs: int = 1,
    settings: SlurmSettings | None = None,
    env: Mapping[str, str] | None = None,
):
    """A ``dask.distributed.Client`` on a new cluster that closes with the client (use it in a
    ``with`` block).

    Locally (default): a ``LocalCluster`` of ``n_workers`` (default: one per core) processes
    (or threads with ``processes=False``), no dashboard. At NERSC (``NERSC_HOST`` set, or
    ``slurm=True``): a ``SLURMCluster`` of ``jobs`` nodes with ``settings`` (default:
    :func:`slurm_settings` from the environment); call it from a login node or a Jupyter session,
    not from inside a batch job.
    """
    import dask
    from distributed import Client, LocalCluster

    class _OwningClient(Client):
        """Closes its cluster too (as ``Client(n_workers=...)`` does for the cluster it makes)."""

        scratch: str | None = None

        def close(self, *args: Any, **kwargs: Any) -> Any:
            try:
                return super().close(*args, **kwargs)
            finally:
                if self.cluster is not None:
                    self.cluster.close()
                if self.scratch:
                    shutil.rmtree(self.scratch, ignore_errors=True)

    if slurm is None:
        slurm = at_nersc(env)
    if slurm:
        if not isinstance(jobs, int) or jobs < 1:
            raise ScaleError(f"jobs must be a positive integer, got {jobs!r}")
        made = slurm_cluster(settings or slurm_settings(env=env))
        made.scale(jobs=jobs)
    else:
        if n_workers is not None and (not isinstance(n_workers, int) or n_workers < 1):
            raise ScaleError(f"n_workers must be a positive integer, got {n_workers!r}")
        # the workers' spill directory is ours, and goes with the cluster (Dask's default is a
        # shared /tmp/dask-scratch-space that outlives the session)
        scratch = tempfile.mkdtemp(prefix="elasticc-dask-")
        try:
            with dask.config.set({"temporary-directory": scratch}):
                made = LocalCluster(
                    n_workers=n_workers or os.cpu_count() or 1,
                    threads_per_worker=threads_per_worker,
                    processes=processes,
                    memory_limit=memory_limit,
                    dashboard_address=None,
                    local_directory=scratch,
                )
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        client = _OwningClient(made)
        client.scratch = scratch
        return client
    return _OwningClient(made)


def map_units(
    func: Callable[[Unit], Any], units: Sequence[Unit], client: Any = None, **kwargs: Any
) -> list[Any]:
    """``func(unit, **kwargs)`` for every unit, in the units' order: on the Dask ``client``'s
    workers (each unit is one task), or in this process when ``client`` is None. A failed unit
    re-raises its error here, with the unit named."""
    units = list(units)
    if client is None:
        return [_run_unit(func, u, kwargs) for u in units]
    futures = client.map(_run_unit, [func] * len(units), units, [kwargs] * len(units), pure=False)
    try:
        return client.gather(futures)
    finally:
        client.cancel(futures)


def _run_unit(func: Callable[..., Any], unit: Unit, kwargs: dict[str, Any]) -> Any:
    try:
        return func(unit, **kwargs)
    except Exception as exc:
        exc.add_note(f"while processing unit {unit}")
        raise


def gather_frames(
    func: Callable[[Unit], pl.DataFrame],
    units: Sequence[Unit],
    client: Any = None,
    *,
    sort: str | None = "SNID",
    **kwargs: Any,
) -> pl.DataFrame:
    """Map ``func`` over the units (see :func:`map_units`) and concatenate the polars frames it
    returns (sorted by ``sort``)."""
    frames = map_units(func, units, client, **kwargs)
    if not frames:
        raise ScaleError("no units to process")
    out = pl.concat(frames, how="vertical")
    return out.sort(sort) if sort else out


def batch_script(
    source: str | Path,
    out: str | Path,
    settings: SlurmSettings,
    *,
    form: str | None = None,
    workers: int | None = None,
    python: str = "python",
    log: str = "elasticc-features-%j.log",
) -> str:
    """The sbatch script that runs the feature analysis on ``source`` in a batch job: one task per
    node (``srun``), each processing its share of the units on a local Dask cluster and writing
    ``out/features-part-<i>of<n>.parquet``; the last step combines them into
    ``out/features.parquet``. Same code as the notebook, no notebook. Paths may use environment
    variables of the job (``$PSCRATCH/features``); they are expanded when the job runs."""
    workers = workers or settings.processes
    args = [python, "-m", "elasticc_tutorial.scale", "features", str(source), "--out", str(out)]
    args += ["--workers", str(workers)]
    if form:
        args += ["--form", form]
    lines = [
        "#!/bin/bash",
        f"#SBATCH --account={settings.account}",
        f"#SBATCH --qos={settings.qos}",
        f"#SBATCH --constraint={settings.constraint}",
        f"#SBATCH --nodes={settings.nodes}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --cpus-per-task={2 * settings.cores}",  # Perlmutter counts hardware threads
        f"#SBATCH --time={settings.walltime}",
        "#SBATCH --job-name=elasticc-features",
        f"#SBATCH --output={log}",
        "set -euo pipefail",
        *settings.setup,
        "# each task takes its share of the units from SLURM_PROCID / SLURM_NTASKS",
        "srun " + " ".join(map(_shell_word, args)),
        " ".join(map(_shell_word, [python, "-m", "elasticc_tutorial.scale", "combine", str(out)])),
        "",
    ]
    return "\n".join(lines)


def _shell_word(word: str) -> str:
    """Quote for bash, but leave ``$VAR`` / ``${VAR}`` expandable (``$PSCRATCH/out`` must reach
    the job as the expanded path): such words go in double quotes."""
    if _PLAIN_WORD_RE.match(word):
        return word
    if "$" in word and not re.search(r'["\\`]|\$\(', word):
        return f'"{word}"'
    return shlex.quote(word)


def write_batch_script(path: str | Path, *args: Any, **kwargs: Any) -> Path:
    """Write :func:`batch_script` to ``path`` (executable, via a temporary file and a rename)."""
    path = Path(path)
    text = batch_script(*args, **kwargs)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def campaign_seconds(
    seconds_per_point: float,
    *,
    points: int = CAMPAIGN["forced_points"],
    nodes: int = 1,
    cores_per_node: int = PERLMUTTER_CPU_CORES,
    efficiency: float = 0.8,
) -> float:
    """Wall time to process ``points`` photometry points on ``nodes`` nodes, from a cost of
    ``seconds_per_point`` measured on ONE core; ``efficiency`` (0-1] discounts imperfect scaling
    (I/O contention, stragglers). An estimate, not a promise: measure on the real files."""
    if seconds_per_point <= 0 or nodes < 1 or cores_per_node < 1 or not 0 < efficiency <= 1:
        raise ScaleError(
            "campaign_seconds needs seconds_per_point > 0, nodes >= 1, cores_per_node >= 1 and "
            f"0 < efficiency <= 1 (got {seconds_per_point}, {nodes}, {cores_per_node}, {efficiency})"
        )
    return seconds_per_point * points / (nodes * cores_per_node * efficiency)
