"""Build the offline sample: simulate every model, write all four forms, publish atomically.

Steps (into a temporary directory next to ``out``, renamed into place at the end):

1. per model (one at a time, so memory stays bounded by the largest model): simulate the test
   set, write ``ELASTICC2/ELASTICC2_FINAL_<model>/`` (SNANA FITS) and
   ``ELASTICC2_parquet/<model>.parquet``; simulate and write the smaller training set
   ``ELASTICC2_TRAINING_SAMPLE_2/ELASTICC2_TRAIN_02_<model>/`` (own seed offset, own SNIDs);
2. alerts, broker messages and the TOM database from the test set
   (:func:`elasticc_tutorial.sample.alerts_writer.write_alerts_and_database`). Not for ``scale``
   builds: they exist to benchmark the file readers, and at 10^5-10^6 objects the alerts alone
   would take tens of GB (each carries up to a year of history), so a scale build writes the
   SNANA FITS and Parquet forms only, one model at a time, in memory bounded by one model;
3. ``MANIFEST.json`` (build parameters and the sha256 of every file except ``tomdb/``), last;
4. rename the temporary directory to ``out`` (with ``force``, the old ``out`` is moved aside
   first and deleted after the rename). Any error or interrupt removes the temporary directory,
   so ``out`` is either the previous content or a complete sample.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
from pathlib import Path

from tqdm import tqdm

from elasticc_tutorial import __version__
from elasticc_tutorial.errors import SampleError
from elasticc_tutorial.rundir import owned_mkdtemp
from elasticc_tutorial.sample.campaign import ModelSample
from elasticc_tutorial.sample.layouts import DUMP_VARNAMES_FINAL, DUMP_VARNAMES_TRAIN
from elasticc_tutorial.sample.models import MODELS as _SPECS
from elasticc_tutorial.sample.parquet_writer import write_parquet
from elasticc_tutorial.sample.simulate import simulate_model
from elasticc_tutorial.sample.snana_writer import write_model

__all__ = [
    "DEFAULT_OBJECTS_PER_MODEL",
    "DEFAULT_SEED",
    "MANIFEST",
    "MODELS",
    "build",
    "training_objects",
]

log = logging.getLogger(__name__)

#: The simulated SNANA model names (one or two per ELAsTiCC2 leaf class with a model).
MODELS: tuple[str, ...] = tuple(_SPECS)
DEFAULT_OBJECTS_PER_MODEL = 20
DEFAULT_SEED = 20231115  # ELAsTiCC2 started streaming in mid-November 2023
MANIFEST = "MANIFEST.json"
FINAL_DIR = "ELASTICC2"
TRAIN_DIR = "ELASTICC2_TRAINING_SAMPLE_2"
PARQUET_DIR = "ELASTICC2_parquet"
FINAL_PREFIX = "ELASTICC2_FINAL_"
TRAIN_PREFIX = "ELASTICC2_TRAIN_02_"
_TRAIN_SNID_OFFSET = 1_000_000_000


def training_objects(objects_per_model: int) -> int:
    """Objects per model in the training set: a quarter of the test set, at least 2."""
    return max(2, math.ceil(objects_per_model / 4))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def generator_fingerprint() -> str:
    """sha256 over the source of everything that decides a sample's content (the simulator, the
    writers, the schemas, the taxonomy and the photometry constants).

    Stored in MANIFEST.json: a sample whose fingerprint differs from the installed code's is
    outdated, and :func:`elasticc_tutorial.paths.locate` rebuilds it (notebook outputs would not
    match it otherwise).
    """
    pkg = Path(__file__).resolve().parents[1]
    sources = [
        *sorted((pkg / "sample").glob("*.py")),
        *sorted((pkg / "schema").glob("*.avsc")),
        pkg / "taxonomy.py",
        pkg / "photometry.py",
        pkg / "pg" / "cluster.py",  # makes tomdb/: a cluster of another PostgreSQL cannot be opened
    ]
    h = hashlib.sha256()
    for path in sources:
        h.update(path.relative_to(pkg).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _manifest(root: Path, params: dict) -> None:
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == MANIFEST or rel.split("/")[0] == "tomdb":
            continue
        files[rel] = _sha256(path)
    data = {**params, "files": files}
    (root / MANIFEST).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise FileExistsError(
            f"--out {out} is not empty; use --force to replace it (its content will be deleted)"
        )
    if (out / "tomdb").is_dir():
        from elasticc_tutorial import pg

        users = pg.cluster_users(out / "tomdb")
        if users:
            raise SampleError(
                f"{out} is in use: its PostgreSQL cluster serves process(es) "
                f"{', '.join(map(str, users))} (elasticc-tutorial lab, tom serve, or a Python "
                "session that called tom.connect()); stop them, then build again"
            )
        if force:
            pg.stop_cluster(out / "tomdb")  # a server nobody uses any more must not outlive it


def _remove_stale_builds(parent: Path) -> None:
    """Remove what killed builds left in ``parent`` (their owner process is gone), stopping any
    PostgreSQL server still running on such a leftover first."""
    from elasticc_tutorial import pg
    from elasticc_tutorial.rundir import stale

    for leftover in stale(parent, ".bld-") + stale(parent, ".old-"):
        for cluster in (leftover / "tomdb", leftover / "x" / "tomdb"):
            if (cluster / "PG_VERSION").is_file():
                pg.stop_cluster(cluster)
        shutil.rmtree(leftover, ignore_errors=True)


def build(
    out: Path,
    *,
    objects_per_model: int = DEFAULT_OBJECTS_PER_MODEL,
    seed: int = DEFAULT_SEED,
    force: bool = False,
    database_url: str | None = None,
    scale: int | None = None,
    progress: bool = True,
) -> Path:
    """Build the synthetic ELAsTiCC2 sample into ``out`` and return ``out``.

    ``scale`` (benchmarks) overrides ``objects_per_model``. Raises ``FileExistsError`` for a
    non-empty ``out`` without ``force`` and ``ValueError`` for bad arguments.
    """
    out = Path(out).expanduser().absolute()
    n = scale if scale is not None else objects_per_model
    if not isinstance(n, int) or n < 1:
        what = "scale" if scale is not None else "objects_per_model"
        raise ValueError(f"{what} must be a positive integer, got {n!r}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    _check_out(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_builds(out.parent)
    tmp = owned_mkdtemp(".bld-", out.parent)
    try:
        files_only = scale is not None
        samples = _write_snana_and_parquet(tmp, n, seed, keep=not files_only, progress=progress)
        if not files_only:
            from elasticc_tutorial.sample.alerts_writer import write_alerts_and_database

            write_alerts_and_database(
                samples, tmp, seed=seed, database_url=database_url, progress=progress
            )
        del samples
        params = {
            "format": "elasticc-tutorial-sample",
            "package_version": __version__,
            "generator": generator_fingerprint(),
            "seed": seed,
            "objects_per_model": n,
            "training_objects_per_model": training_objects(n),
            "scale": scale,
            "models": list(MODELS),
            "forms": ["snana", "train", "parquet"]
            if files_only
            else ["snana", "train", "parquet", "alerts", "broker_messages", "database"],
            "database": None if files_only else ("external" if database_url else "tomdb"),
        }
        _manifest(tmp, params)
        _publish(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _publish(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an existing ``out`` is moved aside first, deleted after."""
    old = None
    if out.exists():
        old = owned_mkdtemp(".old-", out.parent)
        os.replace(out, old / "x")
    os.replace(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write_snana_and_parquet(
    root: Path, n: int, seed: int, *, keep: bool, progress: bool
) -> list[ModelSample]:
    """Simulate and write every model; return the test-set samples when ``keep`` (for the alert
    and database writers), else an empty list, so only one model is in memory at a time."""
    samples: list[ModelSample] = []
    n_train = training_objects(n)
    bar = tqdm(MODELS, desc="simulate models", unit="model", disable=not progress)
    for ordinal, model in enumerate(bar):
        bar.set_postfix_str(model)
        base = (ordinal + 1) * 10_000_000
        s = simulate_model(model, n, seed, snid_base=base)
        write_model(
            s,
            root / FINAL_DIR / f"{FINAL_PREFIX}{model}",
            FINAL_PREFIX,
            DUMP_VARNAMES_FINAL,
            seed=seed,
        )
        write_parquet(s, root / PARQUET_DIR / f"{model}.parquet")
        t = simulate_model(model, n_train, seed, snid_base=_TRAIN_SNID_OFFSET + base, seed_offset=1)
        write_model(
            t,
            root / TRAIN_DIR / f"{TRAIN_PREFIX}{model}",
            TRAIN_PREFIX,
            DUMP_VARNAMES_TRAIN,
            seed=seed,
        )
        del t
        if keep:
            samples.append(s)
        del s
    log.info("simulated %d models x %d objects", len(MODELS), n)
    return samples
