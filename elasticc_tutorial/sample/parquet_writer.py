"""Write a :class:`ModelSample` as an ELAsTiCC2 Parquet file (``ELASTICC2_parquet/<model>.parquet``).

The layout reproduces ``lib_elasticc2/write_snana_parquet.py`` (``get_all_ltcvs(agg=True,
include_header=True)``): one row per object, sorted by SNID (Int64); the 13 photometry list
columns; then every HEAD column except SNID and the six constant ones lib_elasticc2 drops (IAUC,
FAKE, PIXSIZE, NXPIX, NYPIX, SEARCH_TYPE), with the FITS TFORM dtypes. Including its quirk: the
frame is sorted on [SNID, BAND, MJD] before aggregation, so the lists are ordered by band
(plain string order: ``Y`` before the lower-case bands), then time -- *not* in time order.
PTROBS_MIN/MAX are the pointers of the SNANA files, as the real files got them from the HEADs.

Unlike the real files, every page carries a CRC (``write_page_checksum``), which the readers of
:mod:`elasticc_tutorial.parquet` verify: a corrupted page is an error, never a wrong value.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from elasticc_tutorial.errors import SampleError
from elasticc_tutorial.sample.campaign import ModelSample
from elasticc_tutorial.sample.layouts import PARQUET_DROPPED, PARQUET_PHOT_COLUMNS
from elasticc_tutorial.sample.snana_writer import file_groups, pointers

__all__ = ["parquet_frame", "write_frame", "write_parquet"]


def _with_pointers(head: pl.DataFrame) -> pl.DataFrame:
    """HEAD with the PTROBS_MIN/MAX the SNANA writer puts in the files."""
    nobs = head["NOBS"].to_numpy()
    pmin = nobs.copy()
    pmax = nobs.copy()
    for objs in file_groups(head.height):
        pmin[objs], pmax[objs] = pointers(nobs[objs])
    return head.with_columns(
        pl.Series("PTROBS_MIN", pmin, dtype=pl.Int32), pl.Series("PTROBS_MAX", pmax, dtype=pl.Int32)
    )


def parquet_frame(sample: ModelSample) -> pl.DataFrame:
    """The Parquet table of ``sample`` (see module docstring)."""
    lists = (
        sample.phot.select("SNID", *PARQUET_PHOT_COLUMNS)
        .sort(["SNID", "BAND", "MJD"])
        .group_by("SNID", maintain_order=True)
        .agg(pl.col(c) for c in PARQUET_PHOT_COLUMNS)
    )
    head = (
        _with_pointers(sample.head)
        .drop(PARQUET_DROPPED)
        .with_columns(pl.col("SNID").cast(pl.Int64))
        .with_columns(pl.col(pl.String).str.strip_chars_end(" "))
    )
    return lists.join(head, on="SNID", how="inner").sort("SNID")


def write_parquet(sample: ModelSample, path: Path) -> Path:
    """Write ``sample`` to ``path`` (``<dir>/<model>.parquet``); returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = parquet_frame(sample)
    if frame.height != sample.head.height:
        raise SampleError(
            f"{sample.model}: {sample.head.height} objects but {frame.height} Parquet rows"
        )
    return write_frame(frame, path)


def write_frame(frame: pl.DataFrame, path: Path, *, row_group_size: int | None = None) -> Path:
    """Write ``frame`` as zstd Parquet with statistics and a CRC on every page, atomically (a
    temporary file in the same directory, renamed into place only once complete)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(
            frame.to_arrow(),
            tmp,
            compression="zstd",
            write_statistics=True,
            write_page_checksum=True,
            row_group_size=row_group_size,
        )
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
