"""Build the offline sample: simulate every model, write all four forms, publish atomically.

Steps (into a temporary directory next to ``out``, renamed into place at the end):

1. per model (one at a time, so memory stays bounded by the largest model): simulate the test
   set, write ``ELASTICC2/ELASTICC2_FINAL_<model>/`` (SNANA FITS) and
   ``ELASTICC2_parquet/<model>.parquet``; simulate and write the training set
   ``ELASTICC2_TRAINING_SAMPLE_2/ELASTICC2_TRAIN_02_<model>/`` (own seed offset, own SNIDs).
   How many objects each model gets is :mod:`.scaling`'s business (the real class balance,
   at least ``objects_per_model`` per model);
2. alerts, broker messages and the TOM database
   (:func:`elasticc_tutorial.sample.alerts_writer.write_alerts_and_database`) from the test set,
   streamed over :func:`alert_window` of the survey only (alerts carry up to a year of
   history each: for a default-size sample the whole survey would blow the size budget); the
   training set goes to the database as well. Not for ``scale`` builds: they exist to benchmark
   the file readers, so a scale build writes the SNANA FITS and Parquet forms only, one model at
   a time, in memory bounded by one model;
3. ``MANIFEST.json`` (build parameters, the model scaling, the alert window, and the sha256 and
   size of every file except ``tomdb/``), last; :func:`.verify.verify` checks a sample against it;
4. rename the temporary directory to ``out`` (with ``force``, the old ``out`` is moved aside
   first and deleted after the rename). Any error or interrupt removes the temporary directory,
   so ``out`` is either the previous content or a complete sample.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
from pathlib import Path

from tqdm import tqdm

from elasticc_tutorial import __version__
from elasticc_tutorial.errors import SampleError
from elasticc_tutorial.paths.sample import generator_fingerprint
from elasticc_tutorial.rundir import owned_mkdtemp
from elasticc_tutorial.sample.cadence import MJD_MAX, MJD_MIN
from elasticc_tutorial.sample.campaign import ModelSample
from elasticc_tutorial.sample.layouts import DUMP_VARNAMES_FINAL, DUMP_VARNAMES_TRAIN
from elasticc_tutorial.sample.parquet_writer import write_parquet
from elasticc_tutorial.sample.scaling import TRAIN_FRACTION, sample_counts, scaling_table
from elasticc_tutorial.sample.simulate import simulate_model
from elasticc_tutorial.sample.snana_writer import write_model
from elasticc_tutorial.sample.specs import MODELS as _SPECS
from elasticc_tutorial.sample.verify import file_sha256

__all__ = [
    "ALERT_WINDOW",
    "DEFAULT_OBJECTS_PER_MODEL",
    "DEFAULT_SEED",
    "MANIFEST",
    "MODELS",
    "alert_window",
    "build",
    "model_counts",
]

log = logging.getLogger(__name__)

#: The 38 ELAsTiCC2 SNANA model (directory) names, sorted.
MODELS: tuple[str, ...] = tuple(_SPECS)
#: Objects in each of the rarest models: one per HEAD/PHOT file.
DEFAULT_OBJECTS_PER_MODEL = 40
#: The part of the survey (MJD, half-open) streamed as alerts, broker messages and the TOM's
#: source tables: 300 of the survey's 1100 nights, which keeps the default sample under 250 MB
#: (every alert carries up to a year of history, so the alert tars grow faster than the survey),
#: placed so the book's "now" (MJD 61200 .. 61450) falls inside it.
ALERT_WINDOW: tuple[float, float] = (61160.0, 61460.0)
DEFAULT_SEED = 20231115  # ELAsTiCC2 started streaming in mid-November 2023
MANIFEST = "MANIFEST.json"
FINAL_DIR = "ELASTICC2"
TRAIN_DIR = "ELASTICC2_TRAINING_SAMPLE_2"
PARQUET_DIR = "ELASTICC2_parquet"
FINAL_PREFIX = "ELASTICC2_FINAL_"
TRAIN_PREFIX = "ELASTICC2_TRAIN_02_"
_TRAIN_SNID_OFFSET = 1_000_000_000


def alert_window(objects_per_model: int) -> tuple[float, float]:
    """The MJD range (start, end) a build streams: :data:`ALERT_WINDOW` for a sample of the
    default size or larger, the whole survey for a smaller one (its alerts are small anyway)."""
    if objects_per_model >= DEFAULT_OBJECTS_PER_MODEL:
        return ALERT_WINDOW
    return (MJD_MIN, MJD_MAX)


def model_counts(objects_per_model: int, *, scale: int | None = None) -> dict[str, tuple[int, int]]:
    """model -> (test-set objects, training-set objects).

    A normal build follows :func:`.scaling.sample_counts` (at least ``objects_per_model`` each, the
    common models more); a ``scale`` build has ``scale`` test objects in every model.
    """
    if scale is not None:
        return {m: (scale, max(1, math.ceil(scale * TRAIN_FRACTION))) for m in MODELS}
    return sample_counts(objects_per_model)


def _manifest(root: Path, params: dict) -> None:
    files, sizes = {}, {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == MANIFEST or rel.split("/")[0] == "tomdb":
            continue
        files[rel] = file_sha256(path)
        sizes[rel] = path.stat().st_size
    data = {**params, "files": files, "sizes": sizes}
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
    counts = model_counts(n, scale=scale)
    window = alert_window(n)
    try:
        files_only = scale is not None
        samples, training = _write_snana_and_parquet(
            tmp, counts, seed, keep=not files_only, progress=progress
        )
        if not files_only:
            from elasticc_tutorial.sample.alerts_writer import write_alerts_and_database

            write_alerts_and_database(
                samples,
                tmp,
                seed=seed,
                database_url=database_url,
                progress=progress,
                training=training,
                window=window,
            )
        del samples, training
        params = {
            "format": "elasticc-tutorial-sample",
            "package_version": __version__,
            "generator": generator_fingerprint(),
            "seed": seed,
            "objects_per_model": n,
            "scale": scale,
            "models": list(MODELS),
            "objects": {m: {"test": a, "training": b} for m, (a, b) in counts.items()},
            "scaling": None if files_only else scaling_table(n).to_dicts(),
            "alert_window": None if files_only else list(window),
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
    root: Path, counts: dict[str, tuple[int, int]], seed: int, *, keep: bool, progress: bool
) -> tuple[list[ModelSample], list[ModelSample]]:
    """Simulate and write every model of ``counts`` (model -> (test, training) objects).

    Returns the test-set and training-set samples when ``keep`` (for the alert and database
    writers), else two empty lists, so only one model is in memory at a time.
    """
    samples: list[ModelSample] = []
    training: list[ModelSample] = []
    bar = tqdm(MODELS, desc="simulate models", unit="model", disable=not progress)
    for ordinal, model in enumerate(bar):
        if model not in counts:
            continue
        bar.set_postfix_str(model)
        n_test, n_train = counts[model]
        base = (ordinal + 1) * 10_000_000
        s = simulate_model(model, n_test, seed, snid_base=base)
        final_dir = root / FINAL_DIR / f"{FINAL_PREFIX}{model}"
        write_model(s, final_dir, FINAL_PREFIX, DUMP_VARNAMES_FINAL, seed=seed)
        write_parquet(s, root / PARQUET_DIR / f"{model}.parquet")
        t = simulate_model(model, n_train, seed, snid_base=_TRAIN_SNID_OFFSET + base, seed_offset=1)
        train_dir = root / TRAIN_DIR / f"{TRAIN_PREFIX}{model}"
        write_model(t, train_dir, TRAIN_PREFIX, DUMP_VARNAMES_TRAIN, seed=seed)
        if keep:
            samples.append(s)
            training.append(t)
        del s, t
    log.info("simulated %d models", len(counts))
    return samples, training
