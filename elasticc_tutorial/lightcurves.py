"""The one light-curve schema that every reader returns, and the helpers the readers share.

:func:`elasticc_tutorial.snana.read_lightcurves`, :func:`elasticc_tutorial.parquet.read_lightcurves`
and :func:`elasticc_tutorial.alerts.read_lightcurves` have the same signature::

    read_lightcurves(source, model=None, *, snids=None, columns=None, flags=False)

* ``source``: where the data are: a path, a :class:`~elasticc_tutorial.paths.Location`, or the
  :class:`~elasticc_tutorial.paths.DataLocations` of :func:`elasticc_tutorial.paths.locate` (each
  reader takes its own form from it: ``.snana``, ``.parquet`` or ``.alerts``);
* ``model``: the SNANA model (``"SNIa-SALT3"``); alert tars are not split by model, so the alert
  reader refuses one;
* ``snids``: only these objects (an iterable of ints; None = every object);
* ``columns``: the per-point columns after ``SNID`` (None = :data:`COLUMNS`; ``"all"`` = every
  per-point column the form has);
* ``flags``: add ``SNR`` and the PHOTFLAG bits ``DETECTED``, ``TRIGGER``, ``SATURATED``
  (:func:`with_flags`).

They return one long polars frame, one row per photometry point, **objects by increasing SNID,
points in time order**, with the dtypes of :data:`SCHEMA` (those of the SNANA FITS columns):

==========  =======  ==============================================================
SNID        Int64    object id (= diaObjectId of the alerts and the TOM)
MJD         Float64  time of the point (= midPointTai)
BAND        String   ``u g r i z Y``
PHOTFLAG    Int32    SNANA bit mask: 4096 detected, 2048 trigger, 1024 saturated
FLUXCAL     Float32  flux at zero point 27.5 (``photometry.ZP_FLUXCAL``)
FLUXCALERR  Float32  its error
==========  =======  ==============================================================
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Literal, TypeVar

import numpy as np
import polars as pl

from elasticc_tutorial.errors import ElasticcTutorialError
from elasticc_tutorial.photometry import (
    PHOTFLAG_DETECT,
    PHOTFLAG_SATURATE,
    PHOTFLAG_TRIGGER,
    snr,
)

__all__ = [
    "COLUMNS",
    "FLAG_COLUMNS",
    "FLAG_INPUTS",
    "SCHEMA",
    "Columns",
    "LightcurveColumnsError",
    "ReaderArgumentError",
    "columns_to_read",
    "conform",
    "finish",
    "resolve",
    "snid_array",
    "wanted_columns",
    "with_flags",
]

#: The dtypes of the common light-curve columns (as stored in the SNANA FITS files).
#: A DataFrame or a LazyFrame: functions taking one return the same kind.
AnyFrame = TypeVar("AnyFrame", pl.DataFrame, pl.LazyFrame)

SCHEMA: dict[str, pl.DataType] = {
    "SNID": pl.Int64(),
    "MJD": pl.Float64(),
    "BAND": pl.String(),
    "PHOTFLAG": pl.Int32(),
    "FLUXCAL": pl.Float32(),
    "FLUXCALERR": pl.Float32(),
}
#: The per-point columns every form has, returned by default.
COLUMNS: tuple[str, ...] = ("MJD", "BAND", "PHOTFLAG", "FLUXCAL", "FLUXCALERR")
#: The columns the flags are computed from (``flags=True`` reads them even if not asked for).
FLAG_INPUTS: tuple[str, ...] = ("PHOTFLAG", "FLUXCAL", "FLUXCALERR")
#: The columns ``flags=True`` adds.
FLAG_COLUMNS: tuple[str, ...] = ("SNR", "DETECTED", "TRIGGER", "SATURATED")


class LightcurveColumnsError(ElasticcTutorialError, ValueError):
    """A frame lacks the light-curve columns an operation needs (the message lists them)."""


class ReaderArgumentError(ElasticcTutorialError, TypeError):
    """A reader argument of the wrong kind (``source``, ``model``, ``snids`` or ``columns``)."""


#: What a reader's ``columns`` may be.
Columns = Sequence[str] | Literal["all"] | None


def resolve(source: object, form: str) -> os.PathLike[str] | str:
    """The path of ``form`` (``"snana"``, ``"parquet"``, ``"alerts"``) inside a
    :class:`~elasticc_tutorial.paths.DataLocations`, or ``source`` itself (a path or Location)."""
    from elasticc_tutorial.paths import DataLocations

    if isinstance(source, DataLocations):
        return getattr(source, form)
    if isinstance(source, str | os.PathLike):
        return source
    raise ReaderArgumentError(
        f"source must be a path, a paths.Location or paths.DataLocations, not {type(source).__name__}"
    )


def snid_array(snids: Iterable[int] | int | None, what: str = "snids") -> np.ndarray | None:
    """``snids`` as a sorted, unique int64 array (None stays None); a bare int is refused so that
    ``read_lightcurves(src, 42)`` cannot be mistaken for a model."""
    if snids is None:
        return None
    if isinstance(snids, int | str | bytes):
        raise ReaderArgumentError(
            f"{what} must be an iterable of SNIDs (e.g. [{snids!r}]), not {snids!r}"
        )
    try:
        return np.unique(np.fromiter((int(s) for s in snids), dtype=np.int64))
    except (TypeError, ValueError) as exc:
        raise ReaderArgumentError(f"{what} must hold integer SNIDs ({exc})") from None


def wanted_columns(columns: Columns, available: Sequence[str]) -> list[str]:
    """The per-point columns to return: the default :data:`COLUMNS`, every available one for
    ``"all"``, or the requested ones (the reader checks they exist)."""
    if columns is None:
        return list(COLUMNS)
    if isinstance(columns, str):
        if columns != "all":
            raise ReaderArgumentError(
                f"columns must be a list of names, None or 'all', not {columns!r}"
            )
        return [c for c in available if c != "SNID"]
    return [c for c in columns if c != "SNID"]


def columns_to_read(wanted: Sequence[str], flags: bool) -> list[str]:
    """``wanted`` and, with ``flags``, the :data:`FLAG_INPUTS` it lacks: what a reader reads."""
    return [*wanted, *(c for c in FLAG_INPUTS if flags and c not in wanted)]


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Cast the common columns to their :data:`SCHEMA` dtypes; only those that differ (a cast to
    the same dtype still copies the column)."""
    casts = [
        pl.col(c).cast(t) for c, t in SCHEMA.items() if c in frame.columns and frame.schema[c] != t
    ]
    return frame.with_columns(casts) if casts else frame


def with_flags(frame: AnyFrame) -> AnyFrame:
    """Add ``SNR`` (FLUXCAL/FLUXCALERR, NaN where the error is not positive) and the PHOTFLAG bits
    ``DETECTED`` (4096: the point is a diaSource), ``TRIGGER`` (2048) and ``SATURATED`` (1024).

    Needs ``FLUXCAL``, ``FLUXCALERR`` and ``PHOTFLAG``; works on DataFrames and LazyFrames."""
    have = frame.collect_schema().names()
    missing = [c for c in ("FLUXCAL", "FLUXCALERR", "PHOTFLAG") if c not in have]
    if missing:
        raise LightcurveColumnsError(f"flags need column(s) {missing}; the frame has {have}")
    flag = pl.col("PHOTFLAG")
    return frame.with_columns(
        snr(pl.col("FLUXCAL"), pl.col("FLUXCALERR")).cast(pl.Float32).alias("SNR"),
        ((flag & PHOTFLAG_DETECT) != 0).alias("DETECTED"),
        ((flag & PHOTFLAG_TRIGGER) != 0).alias("TRIGGER"),
        ((flag & PHOTFLAG_SATURATE) != 0).alias("SATURATED"),
    )


def finish(frame: pl.DataFrame, flags: bool) -> pl.DataFrame:
    """A reader's last step: :func:`conform` the dtypes, then add the flags if asked for."""
    frame = conform(frame)
    return with_flags(frame) if flags else frame
