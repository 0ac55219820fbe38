"""Read the ELAsTiCC2 Parquet files (``ELASTICC2_parquet/<model>.parquet``) lazily with polars.

Each file has one row per object: ``SNID`` (Int64), 13 list columns with one element per
photometry point (``MJD``, ``BAND``, ``PHOTFLAG``, ``FLUXCAL``, ``FLUXCALERR``, ...) and the HEAD
columns. Two things to know:

* the files are large (SNIa-SALT3 is ~20 GB in memory), so start from :func:`scan` and let polars
  push the SNID filter and the column selection down into the Parquet reader;
* inside an object the lists are sorted by BAND, then MJD (``Y, g, i, r, u, z``), **not** by time;
  :func:`explode` returns the long form in time order.

Errors: :class:`ParquetFileNotFoundError` (a FileNotFoundError) for a missing file or model,
:class:`ParquetFormatError` (a ValueError) for a file without the expected columns, and
:class:`elasticc_tutorial.snana.UnknownSnidError` when a requested object is absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import polars as pl

from elasticc_tutorial.errors import ParquetError, ParquetFileNotFoundError
from elasticc_tutorial.photometry import PHOTFLAG_DETECT, PHOTFLAG_SATURATE, PHOTFLAG_TRIGGER
from elasticc_tutorial.snana import UnknownSnidError

__all__ = [
    "ParquetFileNotFoundError",
    "ParquetFormatError",
    "UnknownSnidError",
    "explode",
    "list_columns",
    "list_models",
    "parquet_path",
    "read_lightcurves",
    "read_object",
    "read_objects",
    "scan",
    "with_flags",
]

Frame = pl.DataFrame | pl.LazyFrame


class ParquetFormatError(ParquetError):
    """The Parquet file lacks the columns of the ELAsTiCC2 layout (SNID, list columns MJD, ...)."""


def list_models(directory: str | Path) -> list[str]:
    """Model names of a Parquet directory (``<model>.parquet`` files)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ParquetFileNotFoundError(f"Parquet directory not found: {directory}")
    return sorted(p.stem for p in directory.glob("*.parquet"))


def parquet_path(source: str | Path, model: str | None = None) -> Path:
    """``source`` itself if it is a file, else ``source/<model>.parquet``."""
    source = Path(source)
    if model is None:
        if source.is_dir():
            raise ParquetFileNotFoundError(
                f"{source} is a directory: pass model= (one of {list_models(source)})"
            )
        path = source
    else:
        path = source / f"{model}.parquet"
        if not path.exists() and source.is_dir():
            raise ParquetFileNotFoundError(
                f"no Parquet file for model {model!r} in {source} "
                f"(available: {', '.join(list_models(source)) or 'none'})"
            )
    if not path.is_file():
        raise ParquetFileNotFoundError(f"Parquet file not found: {path}")
    return path


def scan(source: str | Path, model: str | None = None) -> pl.LazyFrame:
    """A lazy frame over one model's Parquet file (nothing is read until ``collect``).

    Raises ParquetFormatError if the file does not have the ELAsTiCC2 layout.
    """
    path = parquet_path(source, model)
    try:
        lazy = pl.scan_parquet(path)
        schema = lazy.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ParquetFormatError(f"{path}: not a readable Parquet file ({exc})") from None
    if "SNID" not in schema or not isinstance(schema.get("MJD"), pl.List):
        raise ParquetFormatError(
            f"{path}: expected an SNID column and list columns (MJD, BAND, FLUXCAL, ...), "
            f"found {list(schema)[:8]}..."
        )
    return lazy


def list_columns(frame: Frame) -> list[str]:
    """Names of the per-point (list) columns of a frame in the Parquet layout."""
    schema = frame.collect_schema()
    return [name for name, dtype in schema.items() if isinstance(dtype, pl.List)]


def read_objects(
    source: str | Path,
    snids: Iterable[int] | None = None,
    *,
    model: str | None = None,
    columns: Sequence[str] | None = None,
    where: pl.Expr | None = None,
) -> pl.DataFrame:
    """Objects (one row each, list columns) selected by SNID and/or a polars predicate.

    Only the requested ``columns`` (SNID is always included) and the row groups that can match are
    read. Missing SNIDs are ignored here; use :func:`read_object` for a single, required object.
    """
    lazy = scan(source, model)
    if snids is not None:
        lazy = lazy.filter(pl.col("SNID").is_in([int(s) for s in snids]))
    if where is not None:
        lazy = lazy.filter(where)
    if columns is not None:
        wanted = ["SNID", *[c for c in columns if c != "SNID"]]
        _check_columns(lazy, wanted, source, model)
        lazy = lazy.select(wanted)
    return lazy.collect()


def _check_columns(
    lazy: pl.LazyFrame, columns: Sequence[str], source: str | Path, model: str | None
) -> None:
    have = lazy.collect_schema().names()
    missing = [c for c in columns if c not in have]
    if missing:
        raise ParquetFormatError(
            f"{parquet_path(source, model)}: no column(s) {missing} (columns: {', '.join(have)})"
        )


def read_object(
    source: str | Path,
    snid: int,
    *,
    model: str | None = None,
    columns: Sequence[str] | None = None,
    long: bool = True,
) -> pl.DataFrame:
    """One object: its light curve in long, time-ordered form (default) or its single row."""
    row = read_objects(source, [snid], model=model, columns=columns)
    if row.height == 0:
        raise UnknownSnidError(f"{parquet_path(source, model)}: no object with SNID {snid}")
    return explode(row) if long else row


def explode(frame: Frame, columns: Sequence[str] | None = None) -> Frame:
    """Long form: one row per point, sorted by SNID then MJD (time order; the files' lists are in
    BAND-then-MJD order). ``columns``: the list columns to keep (all by default); the object
    columns are repeated on every row. Works on DataFrames and LazyFrames."""
    lists = list_columns(frame)
    if not lists:
        raise ParquetFormatError("frame has no list columns to explode")
    if columns is not None:
        unknown = [c for c in columns if c not in lists]
        if unknown:
            raise ParquetFormatError(f"not list columns: {unknown} (list columns: {lists})")
        frame = frame.drop([c for c in lists if c not in columns])
        lists = [c for c in lists if c in columns]
    long = frame.explode(lists)
    if "MJD" in lists:
        # Objects with no points explode to one null row; drop them.
        long = long.filter(pl.col("MJD").is_not_null()).sort(["SNID", "MJD"], maintain_order=True)
    return long


def with_flags(frame: Frame) -> Frame:
    """Add S/N and the PHOTFLAG bits to a long frame: ``SNR`` (FLUXCAL/FLUXCALERR), ``DETECTED``
    (bit 4096: the point is a diaSource), ``TRIGGER`` (2048) and ``SATURATED`` (1024)."""
    cols = frame.collect_schema().names()
    exprs = []
    if "FLUXCAL" in cols and "FLUXCALERR" in cols:
        exprs.append(
            pl.when(pl.col("FLUXCALERR") > 0)
            .then(pl.col("FLUXCAL") / pl.col("FLUXCALERR"))
            .otherwise(float("nan"))
            .alias("SNR")
        )
    if "PHOTFLAG" in cols:
        flag = pl.col("PHOTFLAG")
        exprs += [
            ((flag & PHOTFLAG_DETECT) != 0).alias("DETECTED"),
            ((flag & PHOTFLAG_TRIGGER) != 0).alias("TRIGGER"),
            ((flag & PHOTFLAG_SATURATE) != 0).alias("SATURATED"),
        ]
    if not exprs:
        raise ParquetFormatError("with_flags needs FLUXCAL/FLUXCALERR and/or PHOTFLAG columns")
    return frame.with_columns(exprs)


def read_lightcurves(
    source: str | Path,
    snids: Iterable[int] | None = None,
    *,
    model: str | None = None,
    columns: Sequence[str] | None = ("MJD", "BAND", "PHOTFLAG", "FLUXCAL", "FLUXCALERR"),
    head_columns: Sequence[str] = (),
    where: pl.Expr | None = None,
    flags: bool = True,
) -> pl.DataFrame:
    """Long, time-ordered light curves of the selected objects in one lazy query: SNID, the
    ``head_columns`` (per object), the list ``columns`` (None = all) and, with ``flags``, SNR and
    DETECTED/TRIGGER/SATURATED."""
    lazy = scan(source, model)
    if snids is not None:
        lazy = lazy.filter(pl.col("SNID").is_in([int(s) for s in snids]))
    if where is not None:
        lazy = lazy.filter(where)
    lists = list_columns(lazy) if columns is None else list(columns)
    if "MJD" not in lists:
        lists = ["MJD", *lists]
    wanted = ["SNID", *head_columns, *lists]
    _check_columns(lazy, wanted, source, model)
    lazy = lazy.select(wanted)
    long = explode(lazy)
    if flags:
        long = with_flags(long)
    return long.collect()
