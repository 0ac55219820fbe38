"""Read the ELAsTiCC2 Parquet files (``ELASTICC2_parquet/<model>.parquet``).

Each file has one row per object: ``SNID`` (Int64), 13 list columns with one element per
photometry point (``MJD``, ``BAND``, ``PHOTFLAG``, ``FLUXCAL``, ``FLUXCALERR``, ...) and the HEAD
columns. Three things to know:

* the files are large (SNIa-SALT3 is ~20 GB in memory): select objects and columns, and let the
  reader skip the row groups that cannot match;
* inside an object the lists are sorted by BAND, then MJD (``Y, g, i, r, u, z``), **not** by time;
  :func:`read_lightcurves` and :func:`explode` return the long form in time order;
* the readers (:func:`read_lightcurves`, :func:`read_objects`, :func:`read_object`,
  :func:`verify`) check every page against its CRC when the writer stored one (the sample's files
  have them; ``sample/parquet_writer.py``), so a flipped byte is an error, never a wrong flux.
  :func:`scan` is polars' lazy scan for exploration, which does not verify.

Light curves come in the schema every reader of the package shares
(:mod:`elasticc_tutorial.lightcurves`)::

    read_lightcurves(source, model=None, *, snids=None, columns=None, flags=False, ...)

``source`` is the Parquet directory (with ``model``), one file, or ``paths.locate()``'s locations.

Errors: :class:`ParquetFileNotFoundError` (a FileNotFoundError) for a missing file or model,
:class:`ParquetFormatError` for a file without the expected columns, :class:`ParquetError` for a
corrupt file (all name the file), and :class:`UnknownSnidError` when a requested object is absent.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from elasticc_tutorial.errors import ParquetError, ParquetFileNotFoundError
from elasticc_tutorial.lightcurves import (
    FLAG_COLUMNS,
    AnyFrame,
    Columns,
    ReaderArgumentError,
    columns_to_read,
    finish,
    resolve,
    snid_array,
    wanted_columns,
    with_flags,
)
from elasticc_tutorial.snana import UnknownSnidError
from elasticc_tutorial.snana.tree import check_snids_found

if TYPE_CHECKING:
    from elasticc_tutorial.paths import DataLocations

__all__ = [
    "ParquetError",
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
    "verify",
    "with_flags",
]

Frame = pl.DataFrame | pl.LazyFrame


class ParquetFormatError(ParquetError):
    """The Parquet file lacks the columns of the ELAsTiCC2 layout (SNID, list columns MJD, ...)."""


def list_models(directory: str | os.PathLike[str] | DataLocations) -> list[str]:
    """Model names of a Parquet directory (``<model>.parquet`` files)."""
    directory = Path(resolve(directory, "parquet"))
    if not directory.is_dir():
        raise ParquetFileNotFoundError(f"Parquet directory not found: {directory}")
    return sorted(p.stem for p in directory.glob("*.parquet"))


def parquet_path(source: str | os.PathLike[str] | DataLocations, model: str | None = None) -> Path:
    """``source`` itself if it is a file, else ``source/<model>.parquet``."""
    source = Path(resolve(source, "parquet"))
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


def scan(source: str | os.PathLike[str] | DataLocations, model: str | None = None) -> pl.LazyFrame:
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


def _model_arg(model: object) -> str | None:
    if model is not None and not isinstance(model, str):
        raise ReaderArgumentError(
            f"model must be a model name such as 'SNIa-SALT3', not {model!r}; pass SNIDs as snids="
        )
    return model


def _path(source: str | os.PathLike[str] | DataLocations, model: str | None) -> Path:
    return parquet_path(source, _model_arg(model))


def _file_schema(path: Path) -> pa.Schema:
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise ParquetFormatError(f"{path}: not a readable Parquet file ({exc})") from None
    mjd = schema.field("MJD").type if "MJD" in schema.names else None
    if "SNID" not in schema.names or (
        not pa.types.is_list(mjd) and not pa.types.is_large_list(mjd)
    ):
        raise ParquetFormatError(
            f"{path}: expected an SNID column and list columns (MJD, BAND, FLUXCAL, ...), "
            f"found {schema.names[:8]}..."
        )
    return schema


def _read_verified(path: Path, columns: Sequence[str], snids: np.ndarray | None) -> pl.DataFrame:
    """``columns`` of the rows with ``snids`` (all rows for None), every page checked against its
    CRC; the SNID filter skips the row groups whose statistics exclude it."""
    have = _file_schema(path).names
    missing = [c for c in columns if c not in have]
    if missing:
        raise ParquetFormatError(f"{path}: no column(s) {missing} (columns: {', '.join(have)})")
    filters = None if snids is None else [("SNID", "in", snids.tolist())]
    try:
        table = pq.read_table(
            path, columns=list(columns), filters=filters, page_checksum_verification=True
        )
    except (OSError, pa.ArrowException) as exc:
        raise ParquetError(f"{path}: corrupt Parquet data, nothing returned ({exc})") from None
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)  # a Table converts to a DataFrame (a Series: an Array)
    return frame


def _select(
    path: Path, columns: Sequence[str], snids: np.ndarray | None, where: pl.Expr | None
) -> pl.DataFrame:
    """Verified rows of ``columns`` for ``snids`` and/or the predicate ``where``: the predicate's
    (scalar) columns are read first, then only the matching objects' rows."""
    if where is not None:
        needed = ["SNID", *[c for c in where.meta.root_names() if c != "SNID"]]
        matched = _read_verified(path, needed, snids).filter(where)["SNID"].to_numpy()
        snids = np.unique(matched).astype(np.int64)
    return _read_verified(path, columns, snids)


def verify(source: str | os.PathLike[str] | DataLocations, model: str | None = None) -> int:
    """Read every page of a model's file, checking each against its CRC; returns the number of
    objects. ParquetError names the file when a page is corrupt (pages written without a CRC, as
    by polars, can only be checked for decodability)."""
    path = _path(source, model)
    _file_schema(path)
    try:
        reader = pq.ParquetFile(path, page_checksum_verification=True)
        for i in range(reader.num_row_groups):
            reader.read_row_group(i)
    except (OSError, pa.ArrowException) as exc:
        raise ParquetError(f"{path}: corrupt Parquet data ({exc})") from None
    return reader.metadata.num_rows


def read_objects(
    source: str | os.PathLike[str] | DataLocations,
    model: str | None = None,
    *,
    snids: Iterable[int] | None = None,
    columns: Sequence[str] | None = None,
    where: pl.Expr | None = None,
) -> pl.DataFrame:
    """Objects (one row each, list columns as stored), selected by SNID and/or a polars predicate
    on the scalar columns, sorted by SNID; pages are verified (see the module docstring).

    Only the requested ``columns`` (SNID is always included; None = all) are read. Missing SNIDs
    are not an error here; use :func:`read_object` for a single, required object.
    """
    path = _path(source, model)
    names = (
        _file_schema(path).names
        if columns is None
        else ["SNID", *[c for c in columns if c != "SNID"]]
    )
    return _select(path, names, snid_array(snids), where).sort("SNID")


def read_object(
    source: str | os.PathLike[str] | DataLocations,
    model: str | None,
    snid: int,
    *,
    columns: Sequence[str] | None = None,
    long: bool = True,
) -> pl.DataFrame:
    """One object: its light curve in long, time-ordered form (default) or its single row."""
    row = read_objects(source, model, snids=[snid], columns=columns)
    if row.height == 0:
        raise UnknownSnidError(f"{_path(source, model)}: no object with SNID {snid}")
    return explode(row) if long else row


def explode(frame: AnyFrame, columns: Sequence[str] | None = None) -> AnyFrame:
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


with_flags = with_flags  # the common flags of elasticc_tutorial.lightcurves, re-exported


def read_lightcurves(
    source: str | os.PathLike[str] | DataLocations,
    model: str | None = None,
    *,
    snids: Iterable[int] | None = None,
    columns: Columns = None,
    flags: bool = False,
    head_columns: Sequence[str] = (),
    where: pl.Expr | None = None,
) -> pl.DataFrame:
    """The light curves of a model in the common schema of :mod:`elasticc_tutorial.lightcurves`:
    one row per point, ``SNID`` then ``columns``, objects by SNID, points in time order.

    Parquet extras: ``head_columns`` (object columns such as ``SIM_REDSHIFT_CMB``, repeated on
    each point, after the point columns) and ``where`` (a polars predicate on object columns,
    e.g. ``pl.col("SIM_REDSHIFT_CMB") < 0.5``). Every page read is verified.
    """
    path = _path(source, model)
    schema = _file_schema(path)
    lists = [f.name for f in schema if pa.types.is_list(f.type) or pa.types.is_large_list(f.type)]
    wanted = wanted_columns(columns, lists)
    unknown = [c for c in wanted if c not in lists]
    if unknown:
        raise ParquetFormatError(f"{path}: not list columns: {unknown} (list columns: {lists})")
    # The flags' inputs follow the requested columns (as in the SNANA reader); MJD is always read,
    # to sort by time, and dropped again unless asked for.
    read = columns_to_read(wanted, flags)
    if "MJD" not in read:
        read.append("MJD")
    head = [c for c in head_columns if c not in ("SNID", *read)]
    wanted_snids = snid_array(snids)
    objects = _select(path, ["SNID", *read, *head], wanted_snids, where)
    if wanted_snids is not None:
        missing = np.setdiff1d(wanted_snids, objects["SNID"].to_numpy())
        if where is None:
            check_snids_found(missing, path)
    long = (
        objects.explode(read)
        .filter(pl.col("MJD").is_not_null())  # an object without points explodes to a null row
        .sort(["SNID", "MJD"], maintain_order=True)
    )
    long = finish(long, flags)
    points = [c for c in read if c != "MJD" or "MJD" in wanted]
    return long.select("SNID", *points, *(FLAG_COLUMNS if flags else ()), *head)
