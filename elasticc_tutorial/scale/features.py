"""The worked whole-campaign analysis: light-curve features of every object, and the one-node
polars recipes that compute them out of core.

:func:`features` is the ONE definition of the features; the streaming path, the Dask path and the
batch job all call it (the database path is its translation to SQL, :func:`features_sql`).
Per object (``SNID``):

* ``n_points``: photometry points (forced photometry, every visit);
* ``n_detections``: points with ``PHOTFLAG & 4096`` (the diaSources);
* ``peak_flux_<band>`` for u g r i z Y: the largest ``FLUXCAL`` in that band (null: no point);
* ``duration_snr5``: days from the first to the last point with S/N = FLUXCAL/FLUXCALERR >= 5
  (null: no such point);
* ``colour_gr_peak``: g - r colour at peak, ``-2.5 log10(peak_flux_g / peak_flux_r)`` (null unless
  both peak fluxes are positive).

Every feature is order-independent, so no sort of the points is needed (the Parquet lists are in
band-then-time order).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import polars as pl

from elasticc_tutorial import parquet
from elasticc_tutorial.errors import ScaleError
from elasticc_tutorial.photometry import BANDS, FLUXCAL_TO_NJY, PHOTFLAG_DETECT
from elasticc_tutorial.scale.units import LIGHTCURVE_COLUMNS, Unit, read_unit

__all__ = [
    "FEATURE_COLUMNS",
    "SNR_THRESHOLD",
    "features",
    "features_in_slices",
    "features_of_unit",
    "features_sql",
    "features_streaming",
    "scan_lightcurves",
]

SNR_THRESHOLD = 5.0
FEATURE_COLUMNS: tuple[str, ...] = (
    "SNID",
    "n_points",
    "n_detections",
    *(f"peak_flux_{b}" for b in BANDS),
    "duration_snr5",
    "colour_gr_peak",
)

F = TypeVar("F", pl.DataFrame, pl.LazyFrame)
PathLike = str | os.PathLike[str]


def features(points: F) -> F:
    """Per-object features (:data:`FEATURE_COLUMNS`, sorted by SNID) of a long light-curve table
    with columns ``SNID``, ``MJD``, ``BAND``, ``PHOTFLAG``, ``FLUXCAL``, ``FLUXCALERR``. Lazy in,
    lazy out: on a LazyFrame nothing runs until ``collect``."""
    missing = [c for c in ("SNID", *LIGHTCURVE_COLUMNS) if c not in points.collect_schema()]
    if missing:
        raise ScaleError(f"features need the columns {missing} (have {points.collect_schema()})")
    err = pl.col("FLUXCALERR").cast(pl.Float64)
    bright = (err > 0) & (pl.col("FLUXCAL").cast(pl.Float64) / err >= SNR_THRESHOLD)
    per_object = points.group_by("SNID").agg(
        pl.len().cast(pl.Int64).alias("n_points"),
        ((pl.col("PHOTFLAG") & PHOTFLAG_DETECT) != 0).sum().cast(pl.Int64).alias("n_detections"),
        *(
            pl.col("FLUXCAL")
            .filter(pl.col("BAND") == b)
            .max()
            .cast(pl.Float64)
            .alias(f"peak_flux_{b}")
            for b in BANDS
        ),
        (pl.col("MJD").filter(bright).max() - pl.col("MJD").filter(bright).min()).alias(
            "duration_snr5"
        ),
    )
    g, r = pl.col("peak_flux_g"), pl.col("peak_flux_r")
    colour = pl.when((g > 0) & (r > 0)).then(-2.5 * (g / r).log10()).alias("colour_gr_peak")
    return per_object.with_columns(colour).select(FEATURE_COLUMNS).sort("SNID")


def features_of_unit(unit: Unit) -> pl.DataFrame:
    """The features of the objects of one SNANA or Parquet unit (what a Dask worker or SLURM task
    runs). Alert tars are refused: an object's alerts are spread over many nights' tars."""
    if unit.form == "alerts":
        raise ScaleError(
            f"unit {unit}: features need whole light curves; an alert tar holds one night of "
            "alerts (use the SNANA or Parquet units)"
        )
    points = read_unit(unit, LIGHTCURVE_COLUMNS)
    assert isinstance(points, pl.DataFrame)  # SNANA and Parquet units read to one long table
    return features(points)


def scan_lightcurves(source: PathLike | Sequence[PathLike]) -> pl.LazyFrame:
    """A lazy long table (SNID + :data:`LIGHTCURVE_COLUMNS`) over Parquet files: a directory of
    ``<model>.parquet``, one file, or a list of files. Only those columns are read (projection
    push-down) and the lists are exploded as the streaming engine goes, batch by batch."""
    if isinstance(source, str | os.PathLike):
        source = Path(source)
        paths = (
            [parquet.parquet_path(source, m) for m in parquet.list_models(source)]
            if source.is_dir()
            else [parquet.parquet_path(source)]
        )
    else:
        paths = [parquet.parquet_path(p) for p in source]
    if not paths:
        raise ScaleError(f"no Parquet files in {source}")
    # one scan per file (models have different HEAD columns); parquet.scan checks each layout
    lazy = pl.concat([parquet.scan(p).select("SNID", *LIGHTCURVE_COLUMNS) for p in paths])
    return lazy.explode(LIGHTCURVE_COLUMNS)


def features_streaming(
    source: PathLike | Sequence[PathLike], where: pl.Expr | None = None
) -> pl.DataFrame:
    """Features of every object of the Parquet ``source`` on one node with polars' streaming
    engine: memory follows the batch size and the number of objects, not the number of points.
    ``where`` (on the per-object columns, e.g. ``pl.col("SNID") % 10 == 3``) is pushed into the
    scan and applied before the explode."""
    lazy = scan_lightcurves(source)
    if where is not None:
        lazy = lazy.filter(where)
    return features(lazy).collect(engine="streaming")


def features_in_slices(source: PathLike | Sequence[PathLike], nslices: int) -> pl.DataFrame:
    """The same features, ``nslices`` passes over the files, each on the objects with
    ``SNID % nslices == k``: the fallback when even the per-object state is too big (each pass
    holds 1/nslices of it; the Parquet statistics cannot skip row groups, so each pass re-reads
    the columns)."""
    if not isinstance(nslices, int) or nslices < 1:
        raise ScaleError(f"nslices must be a positive integer, got {nslices!r}")
    parts = [
        features_streaming(source, where=pl.col("SNID") % nslices == k) for k in range(nslices)
    ]
    return pl.concat(parts).sort("SNID")


def features_sql(*, table_prefix: str = "elasticc2_ppdb") -> str:
    """The same features as one SQL query on the TOM's database, in FLUXCAL units (the database
    holds nJy, zero point 31.4), plus ``n_messages``: the broker messages about the object's alerts.

    Runs on PostgreSQL (``max(...) FILTER (WHERE ...)``); written for the TOM's long-query
    interface, which needs ``%%`` for a literal percent (there is none here)."""
    to_fluxcal = f"{1 / FLUXCAL_TO_NJY!r}"
    peaks = ",\n           ".join(
        f"max(psflux) FILTER (WHERE filtername = '{b}') * {to_fluxcal} AS \"peak_flux_{b}\""
        for b in BANDS
    )
    bright = f"psfluxerr > 0 AND psflux / psfluxerr >= {SNR_THRESHOLD}"
    return f"""WITH f AS (
    SELECT diaobject_id,
           count(*) AS n_points,
           {peaks},
           max(midpointtai) FILTER (WHERE {bright})
             - min(midpointtai) FILTER (WHERE {bright}) AS duration_snr5
    FROM {table_prefix}diaforcedsource
    GROUP BY diaobject_id
), d AS (
    SELECT diaobject_id, count(*) AS n_detections
    FROM {table_prefix}diasource GROUP BY diaobject_id
), m AS (
    SELECT a.diaobject_id, count(*) AS n_messages
    FROM elasticc2_brokermessage b
    JOIN {table_prefix}alert a ON a.alert_id = b.alert_id
    GROUP BY a.diaobject_id
)
SELECT f.diaobject_id AS "SNID", f.n_points, coalesce(d.n_detections, 0) AS n_detections,
       {", ".join(f'f."peak_flux_{b}"' for b in BANDS)}, f.duration_snr5,
       CASE WHEN f."peak_flux_g" > 0 AND f."peak_flux_r" > 0
            THEN -2.5 * log(f."peak_flux_g" / f."peak_flux_r") END AS colour_gr_peak,
       coalesce(m.n_messages, 0) AS n_messages
FROM f
LEFT JOIN d ON d.diaobject_id = f.diaobject_id
LEFT JOIN m ON m.diaobject_id = f.diaobject_id
ORDER BY f.diaobject_id"""
