"""SNANA light curves: HEAD pointers + PHOT rows -> the common long frame (see
:mod:`elasticc_tutorial.lightcurves`).

The unit of work is one HEAD/PHOT file pair (:func:`read_lightcurves_file`); a model is its 40
pairs, read by a small thread pool (gzip inflation releases the GIL) and scattered straight into
the output arrays at their SNID-sorted place, so no concatenation or sort copy is ever made and at
most ``threads + 1`` decompressed files are alive at once.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import polars as pl

from elasticc_tutorial.errors import SnanaError, SnanaFileNotFoundError
from elasticc_tutorial.fitstable import FitsFormatError
from elasticc_tutorial.lightcurves import (
    COLUMNS,
    Columns,
    columns_to_read,
    conform,
    finish,
    snid_array,
    wanted_columns,
    with_flags,
)
from elasticc_tutorial.photometry import ZP_FLUXCAL
from elasticc_tutorial.snana.tables import (
    ColumnParts,
    RawTable,
    frames,
    native,
    read_dump,
    read_raw,
    rescale,
    series,
    snid_column,
    snid_to_int,
    string_views,
    zp_scale,
)
from elasticc_tutorial.snana.tree import (
    FilePair,
    PointerError,
    UnknownSnidError,
    check_snids_found,
    file_pairs,
    phot_path_of,
    select_pairs,
    source_dir,
)

if TYPE_CHECKING:
    from elasticc_tutorial.paths import DataLocations

__all__ = [
    "SEPARATOR_MJD",
    "default_threads",
    "read_lightcurve",
    "read_lightcurves",
    "read_lightcurves_file",
]

SEPARATOR_MJD = -777.0
T = TypeVar("T")
R = TypeVar("R")


def default_threads(n_files: int) -> int:
    """Threads for ``n_files`` pairs: one per core, at most 4 (inflation is the only parallel
    part; more threads only hold more decompressed files in memory)."""
    return max(1, min(n_files, os.cpu_count() or 1, 4))


# --------------------------------------------------------------------------------------------------
# HEAD pointers


@dataclass
class _Pointers:
    """The validated pointers of one HEAD file: per object its SNID, first PHOT row (0-based) and
    number of points."""

    pair: FilePair
    snid: np.ndarray
    start: np.ndarray
    count: np.ndarray


def _int_column(head: RawTable, name: str) -> np.ndarray:
    stored = head.names([name])[0][1]
    if head.data.dtype[stored].kind not in "iu":
        raise FitsFormatError(f"{head.path}: column {name} is not an integer column")
    return head.data[stored].astype(np.int64)


def check_pointers(
    path: Path, snid: np.ndarray, pmin: np.ndarray, pmax: np.ndarray, nobs: np.ndarray | None
) -> None:
    """PointerError unless every object's 1-based inclusive range PTROBS_MIN..PTROBS_MAX is valid,
    holds NOBS rows, and no two objects' ranges share a row (pointers that alias another
    object's rows would silently hand one object's photometry to another)."""
    count = pmax - pmin + 1
    bad = (pmin < 1) | (count < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PointerError(
            f"{path}: SNID {snid[i]} has PTROBS_MIN={pmin[i]}, PTROBS_MAX={pmax[i]} "
            "(expected 1 <= PTROBS_MIN <= PTROBS_MAX + 1)"
        )
    if nobs is not None and (nobs != count).any():
        i = int(np.flatnonzero(nobs != count)[0])
        raise PointerError(
            f"{path}: SNID {snid[i]} has NOBS={nobs[i]} but PTROBS_MIN..PTROBS_MAX = "
            f"{pmin[i]}..{pmax[i]} spans {count[i]} rows"
        )
    used = np.flatnonzero(count > 0)
    order = used[np.argsort(pmin[used], kind="stable")]
    if len(order) > 1:
        reach = np.maximum.accumulate(pmax[order])  # last row claimed by the objects so far
        clash = np.flatnonzero(pmin[order[1:]] <= reach[:-1])
        if len(clash):
            k = int(clash[0])
            j = order[int(np.argmax(pmax[order[: k + 1]]))]  # the earlier object that reaches it
            i = order[k + 1]
            raise PointerError(
                f"{path}: the PHOT rows of SNID {snid[i]} (PTROBS {pmin[i]}..{pmax[i]}) overlap "
                f"those of SNID {snid[j]} (PTROBS {pmin[j]}..{pmax[j]}); the HEAD pointers alias "
                "another object's rows"
            )


def _pointers(pair: FilePair) -> _Pointers:
    head = read_raw(pair.head, "Header")
    snid = snid_column(head)
    pmin, pmax = _int_column(head, "PTROBS_MIN"), _int_column(head, "PTROBS_MAX")
    has_nobs = "NOBS" in (head.data.dtype.names or ())
    nobs = _int_column(head, "NOBS") if has_nobs else None
    check_pointers(head.path, snid, pmin, pmax, nobs)
    return _Pointers(pair, snid, pmin - 1, pmax - pmin + 1)


# --------------------------------------------------------------------------------------------------
# One PHOT file -> native column arrays of the selected objects


@dataclass
class _Part:
    """The points of the selected objects of one file, objects in HEAD order, each in time order."""

    snid: np.ndarray
    count: np.ndarray
    arrays: dict[str, np.ndarray]


def _gather(
    ptr: _Pointers, keep: np.ndarray | None, columns: Sequence[str], zp: float | None
) -> _Part:
    pair = ptr.pair
    if not pair.phot.exists():
        raise SnanaFileNotFoundError(f"PHOT file not found: {pair.phot} (for {pair.head})")
    phot = read_raw(pair.phot, "Photometry")
    objs = np.arange(len(ptr.snid)) if keep is None else np.flatnonzero(keep)
    start, count, snid = ptr.start[objs], ptr.count[objs], ptr.snid[objs]
    outside = start + count > phot.nrows
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise PointerError(
            f"{phot.path}: SNID {snid[i]} has PTROBS_MIN={start[i] + 1}, "
            f"PTROBS_MAX={start[i] + count[i]}, outside the PHOT table's rows 1..{phot.nrows} "
            "(1-based, inclusive)"
        )
    obj = np.repeat(np.arange(len(count)), count)
    idx = np.arange(int(count.sum()), dtype=np.int64)
    idx += np.repeat(start - (np.cumsum(count) - count), count)
    mjd = phot.data[phot.names(["MJD"])[0][1]][idx]
    sep = mjd == SEPARATOR_MJD
    if sep.any():
        i = int(obj[np.flatnonzero(sep)[0]])
        raise PointerError(
            f"{phot.path}: pointer range of SNID {snid[i]} (PTROBS {start[i] + 1}.."
            f"{start[i] + count[i]}) covers a separator row (MJD=-777); HEAD and PHOT disagree"
        )
    # SNANA writes each light curve in time order; a stable sort fixes any exception.
    if len(mjd) > 1 and ((np.diff(mjd) < 0) & (obj[1:] == obj[:-1])).any():
        idx = idx[np.lexsort((mjd, obj))]
    arrays = {}
    for c, stored in phot.names(columns):
        arrays[c] = native(phot.data[stored], idx, f"{phot.path} column {c}")
        if arrays[c].dtype.kind == "S" and 0 < arrays[c].dtype.itemsize <= 12:
            # Short strings become their final Arrow views here, in the worker thread.
            arrays[c] = string_views(arrays[c])
    scale = zp_scale(phot.primary, zp)
    if scale != 1.0:
        for c in ("FLUXCAL", "FLUXCALERR"):
            if c in arrays:
                arrays[c] *= arrays[c].dtype.type(scale)
    return _Part(snid, count, arrays)


def _in_order(fn: Callable[[T], R], items: Sequence[T], threads: int) -> Iterator[R]:
    """``map(fn, items)`` on ``threads`` threads, in order, with at most ``threads`` results
    waiting: a consumer that is slower than the pool never piles up decompressed files."""
    if threads <= 1 or len(items) <= 1:
        yield from map(fn, items)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="snana") as pool:
        pending: deque[Future[R]] = deque()
        todo = iter(items)
        try:
            for item in todo:
                pending.append(pool.submit(fn, item))
                if len(pending) == threads:
                    break
            while pending:
                result = pending.popleft().result()
                for item in todo:
                    pending.append(pool.submit(fn, item))
                    break
                yield result
                del result
        finally:
            for future in pending:
                future.cancel()


# --------------------------------------------------------------------------------------------------
# Parts -> one SNID-sorted frame


class _Output:
    """Output column arrays filled in place at each object's SNID-sorted position."""

    def __init__(self, ptrs: Sequence[_Pointers], keeps: Sequence[np.ndarray | None]) -> None:
        snids = [p.snid if k is None else p.snid[k] for p, k in zip(ptrs, keeps, strict=True)]
        counts = [p.count if k is None else p.count[k] for p, k in zip(ptrs, keeps, strict=True)]
        all_snid = np.concatenate(snids) if snids else np.zeros(0, np.int64)
        all_count = np.concatenate(counts) if counts else np.zeros(0, np.int64)
        order = np.argsort(all_snid, kind="stable")
        dup = np.flatnonzero(np.diff(all_snid[order]) == 0)
        if len(dup):
            s = all_snid[order[dup[0]]]
            where = [str(p.pair.head) for p, n in zip(ptrs, snids, strict=True) if s in n]
            raise SnanaError(f"SNID {s} appears more than once in the HEAD files {where}")
        sorted_count = all_count[order]
        dest = np.empty_like(all_count)
        dest[order] = np.cumsum(sorted_count) - sorted_count
        self.snid = np.repeat(all_snid[order], sorted_count)
        self.total = int(all_count.sum())
        self._dest = np.split(dest, np.cumsum([len(n) for n in snids])[:-1])
        self.arrays: dict[str, np.ndarray] = {}

    def put(self, k: int, part: _Part) -> None:
        """Scatter file ``k``'s points to their place (byte-swapped copies become native here)."""
        count = part.count
        rows = np.arange(int(count.sum()), dtype=np.int64) + np.repeat(
            self._dest[k] - (np.cumsum(count) - count), count
        )
        for c, arr in part.arrays.items():
            out = self.arrays.get(c)
            if out is None or np.result_type(out.dtype, arr.dtype) != out.dtype:
                # First file, or a wider type than before (e.g. longer strings): (re)allocate.
                dtype = arr.dtype if out is None else np.result_type(out, arr)
                grown = np.zeros((self.total, *arr.shape[1:]), dtype)
                if out is not None:
                    grown[...] = out
                self.arrays[c] = out = grown
            out[rows] = arr

    def frame(self, columns: Sequence[str]) -> pl.DataFrame:
        cols = [pl.Series("SNID", self.snid, dtype=pl.Int64)]
        for c in columns:
            arr = self.arrays.pop(c)  # hand each array over, so it is not held twice
            cols.append(series(c, arr))
            del arr
        frame = pl.DataFrame(cols)
        return conform(frame)


def _columns_to_read(columns: Columns, first: FilePair, flags: bool) -> list[str]:
    """The PHOT columns to read (those asked for, and those the flags need); ``"all"`` looks at
    the first PHOT file's column list."""
    if columns == "all":
        names = [c for c, _ in read_raw(first.phot, "Photometry", rows=(0, 0)).names(None)]
        wanted = wanted_columns(columns, names)
    else:
        wanted = wanted_columns(columns, COLUMNS)
    return columns_to_read(wanted, flags)


def _read_pairs(
    pairs: Sequence[FilePair],
    snids: np.ndarray | None,
    columns: Columns,
    flags: bool,
    zp: float | None,
    threads: int | None,
    where: object,
) -> pl.DataFrame:
    threads = default_threads(len(pairs)) if threads is None else max(1, int(threads))
    for pair in pairs:
        if not pair.phot.exists():
            raise SnanaFileNotFoundError(f"PHOT file not found: {pair.phot} (for {pair.head})")
    ptrs = list(_in_order(_pointers, pairs, threads))
    keeps = [None if snids is None else np.isin(p.snid, snids) for p in ptrs]
    if snids is not None:
        found = np.concatenate([p.snid[k] for p, k in zip(ptrs, keeps, strict=True)])
        missing = np.setdiff1d(snids, found)
        check_snids_found(missing, where)
    read = _columns_to_read(columns, pairs[0], flags)
    out = _Output(ptrs, keeps)
    jobs = [(p, k) for p, k in zip(ptrs, keeps, strict=True)]
    parts = _in_order(lambda job: _gather(job[0], job[1], read, zp), jobs, threads)
    for k, part in enumerate(parts):
        out.put(k, part)
        del part
    frame = out.frame(read)
    return with_flags(frame) if flags else frame


# --------------------------------------------------------------------------------------------------
# Public readers


def read_lightcurves_file(
    head_path: str | os.PathLike[str],
    phot_path: str | os.PathLike[str] | None = None,
    *,
    snids: Iterable[int] | None = None,
    columns: Columns = None,
    flags: bool = False,
    zp: float | None = ZP_FLUXCAL,
) -> pl.DataFrame:
    """The light curves of one HEAD/PHOT file pair: the per-file unit that
    :func:`read_lightcurves` (and a Dask or multiprocessing layer) maps over a model's files.

    Same output as :func:`read_lightcurves` for the objects of this file; ``phot_path`` defaults
    to the HEAD file's partner (``*_PHOT.FITS[.gz]``).
    """
    head = Path(head_path)
    phot = phot_path_of(head) if phot_path is None else Path(phot_path)
    return _read_pairs([FilePair(0, head, phot)], snid_array(snids), columns, flags, zp, 1, head)


def read_lightcurves(
    source: str | os.PathLike[str] | DataLocations,
    model: str | None = None,
    *,
    snids: Iterable[int] | None = None,
    columns: Columns = None,
    flags: bool = False,
    prefix: str | None = None,
    file_num: int | Sequence[int] | None = None,
    agg: bool = False,
    include_head: bool = False,
    include_truth: bool = False,
    zp: float | None = ZP_FLUXCAL,
    threads: int | None = None,
) -> pl.DataFrame:
    """The light curves of a model, in the common schema of :mod:`elasticc_tutorial.lightcurves`:
    one row per point, ``SNID`` then ``columns``, objects by SNID, points in time order, the
    separator rows dropped.

    ``source``: a SNANA tree (with ``model``), a model directory, or ``paths.locate()``'s
    locations (its ``.snana``). SNANA extras: ``file_num`` reads only those files (1..40);
    ``agg=True`` gives one row per object with list columns; ``include_head``/``include_truth``
    join the HEAD columns and/or the DUMP truth (clashing truth names get a ``_TRUTH`` suffix);
    ``zp`` rescales FLUXCAL/FLUXCALERR to that zero point (None: as stored); ``threads``: file
    pairs read at once (default :func:`default_threads`).
    """
    directory = source_dir(source, model, prefix)
    pairs = select_pairs(directory, file_num)
    frame = _read_pairs(pairs, snid_array(snids), columns, flags, zp, threads, directory)
    if agg:
        frame = frame.group_by("SNID", maintain_order=True).agg(pl.all())
    if include_head:
        raws = [read_raw(p.head, "Header") for p in pairs]
        head = snid_to_int(frames(raws, None), directory).drop(
            [c for c in frame.columns if c != "SNID"], strict=False
        )
        frame = frame.join(head, on="SNID", how="left", maintain_order="left")
    if include_truth:
        truth = read_dump(directory / f"{directory.name}.DUMP")
        frame = frame.join(truth, on="SNID", how="left", suffix="_TRUTH", maintain_order="left")
    return frame


def _pointer_index(directory: Path) -> tuple[list[FilePair], pl.DataFrame]:
    """SNID -> (file, PTROBS_MIN, PTROBS_MAX) for a model directory, checked like every read and
    cached until a HEAD file changes (repeated single-object reads then touch only the PHOT file)."""
    pairs = file_pairs(directory)
    key = tuple((p, p.head.stat().st_mtime_ns) for p in pairs)
    return pairs, _pointer_index_cached(key)


@lru_cache(maxsize=32)
def _pointer_index_cached(key: tuple[tuple[FilePair, int], ...]) -> pl.DataFrame:
    ptrs = [_pointers(pair) for pair, _ in key]
    return pl.DataFrame(
        {
            "SNID": np.concatenate([p.snid for p in ptrs]),
            "PTROBS_MIN": np.concatenate([p.start + 1 for p in ptrs]),
            "PTROBS_MAX": np.concatenate([p.start + p.count for p in ptrs]),
            "PAIR": np.repeat(np.arange(len(ptrs), dtype=np.int32), [len(p.snid) for p in ptrs]),
        }
    )


def read_lightcurve(
    source: str | os.PathLike[str] | DataLocations,
    model: str | None,
    snid: int,
    *,
    columns: Columns = None,
    flags: bool = False,
    prefix: str | None = None,
    zp: float | None = ZP_FLUXCAL,
) -> pl.DataFrame:
    """One object's light curve by SNID, in time order (same columns as :func:`read_lightcurves`).

    Finds the object's HEAD row, then decodes only PHOT rows PTROBS_MIN-1..PTROBS_MAX-1; a gzip
    PHOT file is decompressed only up to the last of those rows.
    """
    directory = source_dir(source, model, prefix)
    snid = int(snid)
    pairs, index = _pointer_index(directory)
    hit = index.filter(pl.col("SNID") == snid)
    if hit.height > 1:
        raise SnanaError(f"{directory}: SNID {snid} appears {hit.height} times in the HEAD files")
    if hit.height == 0:
        raise UnknownSnidError(f"{directory}: no object with SNID {snid}")
    pair = pairs[int(hit["PAIR"][0])]
    lo, hi = int(hit["PTROBS_MIN"][0]), int(hit["PTROBS_MAX"][0])
    if not pair.phot.exists():
        raise SnanaFileNotFoundError(f"PHOT file not found: {pair.phot} (for {pair.head})")
    if lo < 1 or hi < lo - 1:
        raise PointerError(f"{pair.head}: SNID {snid} has PTROBS_MIN={lo}, PTROBS_MAX={hi}")
    try:
        raw = read_raw(pair.phot, "Photometry", rows=(lo - 1, hi))
    except FitsFormatError as exc:
        if "outside the table" in str(exc):
            raise PointerError(
                f"{pair.head}: SNID {snid} points to PHOT rows {lo}..{hi}, outside {pair.phot}"
            ) from None
        raise
    mjd = raw.data[raw.names(["MJD"])[0][1]]
    if (mjd == SEPARATOR_MJD).any():
        raise PointerError(
            f"{pair.phot}: pointer range {lo}..{hi} of SNID {snid} covers a separator row"
        )
    read = _columns_to_read(columns, pair, flags)
    acc = ColumnParts(read)
    acc.add(raw, np.argsort(mjd, kind="stable"))
    frame = acc.frame()
    frame = frame.insert_column(0, pl.Series("SNID", [snid] * frame.height, dtype=pl.Int64))
    frame = rescale(frame, zp_scale(raw.primary, zp))
    return finish(frame, flags)
