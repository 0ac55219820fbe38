"""SNANA FITS tables and truth as polars: one HEAD or PHOT table, a model's HEAD, the ``.DUMP`` truth.

FITS is big-endian (converted to native before polars sees it); strings are fixed-width and
blank-padded (``BAND`` ``'u '`` -> ``'u'``); ``SNID`` is a 16-character string (-> Int64); the
legacy spellings ``FLT`` and ``DECL`` are renamed to ``BAND`` and ``DEC``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from elasticc_tutorial.errors import SnanaError, SnanaFileNotFoundError
from elasticc_tutorial.fitstable import FitsFormatError, UnsupportedFitsError, read_bintable
from elasticc_tutorial.photometry import ZP_FLUXCAL
from elasticc_tutorial.snana.tree import select_pairs, source_dir

if TYPE_CHECKING:
    from elasticc_tutorial.paths import DataLocations

__all__ = ["read_dump", "read_head", "read_head_file", "read_phot_file", "read_truth"]

_RENAMES = {"FLT": "BAND", "DECL": "DEC"}

# Types of the ELAsTiCC DUMP columns (SIMGEN_DUMP lists of the training and test sets); a column
# such as ZCMB can hold only integer-looking values (0 for galactic models) yet is a float.
_DUMP_INTEGER = frozenset(
    {"CID", "LIBID", "SIM_SEARCHEFF_MASK", "GENTYPE", "NON1A_INDEX", "GALID", "NOBS"}
    | {"NOBS_SATURATE", "GALNMATCH"}
)
_DUMP_FLOAT = frozenset(
    """ZCMB ZHELIO ZCMB_SMEAR RA DEC MWEBV GALZPHOT GALZPHOTERR GALSNSEP GALSNDDLR RV AV MU LENSDMU
    PEAKMJD MJD_DETECT_FIRST MJD_DETECT_LAST DTSEASON_PEAK PEAKMAG_u PEAKMAG_g PEAKMAG_r PEAKMAG_i
    PEAKMAG_z PEAKMAG_Y SNRMAX SNRMAX2 SNRMAX3 VPEC MAGSMEAR_COH GALRANDOM_RADIUS GALRANDOM_PHI
    PERIOD WIDTH_u WIDTH_g WIDTH_r WIDTH_i WIDTH_z WIDTH_Y""".split()  # noqa: SIM905
)


# --------------------------------------------------------------------------------------------------
# FITS table -> polars


def native(col: np.ndarray, idx: np.ndarray | None, where: object = "") -> np.ndarray:
    """A contiguous, native-endian copy of a stored column (optionally gathered at ``idx``);
    SnanaError naming ``where`` if a string column is not ASCII, as FITS requires."""
    if col.dtype.kind == "S":
        out = np.ascontiguousarray(col if idx is None else col[idx])
        if out.dtype.itemsize and (out.view(np.uint8) >= 0x80).any():
            raise SnanaError(
                f"{where}: non-ASCII bytes in a character column (FITS strings are ASCII text)"
            )
        return out
    native = col.dtype.newbyteorder("=")
    if idx is None:
        return col.astype(native)
    out = col[idx]  # one gathered copy, byte-swapped in place
    return out.byteswap(inplace=True).view(native) if out.dtype != native else out


def string_views(arr: np.ndarray) -> np.ndarray:
    """Arrow string views (one 16-byte row each: length, then the bytes inline) of a fixed-width
    ASCII column of at most 12 bytes (``BAND``, ``FIELD``), blank padding stripped; see
    :func:`series`. Built column by column, so the temporaries are one byte per row."""
    width = arr.dtype.itemsize
    raw = np.ascontiguousarray(arr).view(np.uint8).reshape(len(arr), width)
    views = np.zeros((len(arr), 16), dtype=np.uint8)
    length = views.view("<u4")[:, 0]
    # The length is the position after the last byte that is neither blank nor NUL.
    for j in range(width - 1, -1, -1):
        byte = raw[:, j]
        length[(length == 0) & (byte != 0x20) & (byte != 0)] = j + 1
    views[:, 4 : 4 + width] = raw
    for j in range(width):
        views[length <= j, 4 + j] = 0  # the padding is not part of the string
    return views


def series(name: str, arr: np.ndarray) -> pl.Series:
    """A native numpy column as a polars Series: numbers without a copy; Arrow string views
    (a 2-D ``uint8`` array of :func:`string_views`) handed over as they are; other fixed-width
    ASCII strings stripped of their blank padding."""
    if arr.ndim == 2:
        views = pa.StringViewArray.from_buffers(
            pa.string_view(), len(arr), [None, pa.py_buffer(np.ascontiguousarray(arr))]
        )
        return pl.Series(name, pl.from_arrow(views), dtype=pl.String)
    if arr.dtype.kind == "S" and 0 < arr.dtype.itemsize <= 12:
        return series(name, string_views(arr))
    if arr.dtype.kind == "S":
        # Wider strings: wrap the bytes as an Arrow fixed-size binary array (no copy) and strip
        # with Arrow compute; ~10x faster than going through polars Binary.
        fixed = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(arr.dtype.itemsize), len(arr), [None, pa.py_buffer(arr)]
        )
        text = pc.utf8_rtrim(fixed.cast(pa.binary()).cast(pa.string()), characters=" \0")
        return pl.Series(name, pl.from_arrow(text), dtype=pl.String)
    return pl.Series(name, arr)


class ColumnParts:
    """Accumulates native copies of the selected columns table by table (each decompressed file
    can be dropped right after), then builds one polars frame."""

    def __init__(self, columns: Sequence[str] | None) -> None:
        self.columns = None if columns is None else list(columns)
        self.parts: dict[str, list[np.ndarray]] = {}

    def add(self, raw: RawTable, idx: np.ndarray | None = None) -> None:
        names = raw.names(self.columns)
        if self.columns is None:
            self.columns = [c for c, _ in names]
        for c, stored in names:
            self.parts.setdefault(c, []).append(
                native(raw.data[stored], idx, f"{raw.path} column {c}")
            )

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            [series(c, p[0] if len(p) == 1 else np.concatenate(p)) for c, p in self.parts.items()]
        )


def _astropy_table(path: Path, extname: str) -> tuple[dict[str, Any], np.ndarray]:
    """Fallback for FITS tables outside the fast reader's subset."""
    from astropy.io import fits

    with fits.open(path, memmap=False) as hdul:
        try:
            hdu = hdul[extname]
        except KeyError:
            raise FitsFormatError(f"{path}: no HDU with EXTNAME={extname!r}") from None
        if not isinstance(hdu, fits.BinTableHDU):
            raise FitsFormatError(f"{path}: HDU {extname!r} is not a binary table")
        # Column access applies TZERO/TSCAL (np.asarray(hdu.data) would give the raw storage).
        names = hdu.columns.names
        arrays = [np.asarray(hdu.data[n]) for n in names]
        return dict(hdul[0].header), np.rec.fromarrays(arrays, names=names)


@dataclass
class RawTable:
    """One table as stored: primary header, big-endian records, total rows in the file."""

    path: Path
    extname: str
    primary: dict[str, Any]
    data: np.ndarray
    nrows: int

    def names(self, columns: Sequence[str] | None) -> list[tuple[str, str]]:
        """(output name, stored name) of ``columns`` (all by default), checking they exist."""
        available = {_RENAMES.get(n, n): n for n in self.data.dtype.names or ()}
        wanted = list(available) if columns is None else list(columns)
        missing = [c for c in wanted if c not in available]
        if missing:
            raise FitsFormatError(
                f"{self.path}: {self.extname} table lacks column(s) {missing} "
                f"(has {', '.join(available)})"
            )
        return [(c, available[c]) for c in wanted]


def read_raw(path: Path, extname: str, rows: tuple[int, int] | None = None) -> RawTable:
    """One table (``extname``) of a SNANA FITS file: the fast reader, astropy for the rest."""
    if not path.exists():
        raise SnanaFileNotFoundError(f"{extname} FITS file not found: {path}")
    try:
        table = read_bintable(path, extname, rows=rows)
        return RawTable(path, extname, table.primary, table.data, table.nrows)
    except UnsupportedFitsError:
        primary, full = _astropy_table(path, extname)
        data = full if rows is None else full[rows[0] : rows[1]]
        return RawTable(path, extname, primary, data, len(full))


def frames(raws: Sequence[RawTable], columns: Sequence[str] | None) -> pl.DataFrame:
    """Convert and concatenate whole tables (see :class:`ColumnParts`)."""
    acc = ColumnParts(columns)
    for raw in raws:
        acc.add(raw)
    return acc.frame()


def snid_to_int(frame: pl.DataFrame, where: object) -> pl.DataFrame:
    """``SNID`` (a blank-padded string in the files) as Int64; SnanaError if it is not an integer."""
    if "SNID" not in frame.columns or frame.schema["SNID"] == pl.Int64:
        return frame
    snid = frame["SNID"].cast(pl.String).str.strip_chars()
    as_int = snid.str.to_integer(strict=False)
    if as_int.null_count() > snid.null_count():
        bad = snid.filter(as_int.is_null()).head(3).to_list()
        raise SnanaError(f"{where}: SNID values are not integers (e.g. {bad})")
    return frame.with_columns(as_int.alias("SNID"))


def snid_column(raw: RawTable) -> np.ndarray:
    """SNID column as int64 (numpy parses the blank-padded 16A strings directly)."""
    stored = raw.names(["SNID"])[0][1]
    try:
        return raw.data[stored].astype(np.int64)
    except ValueError:
        return snid_to_int(frames([raw], ["SNID"]), raw.path)["SNID"].to_numpy()


def read_head_file(path: str | Path, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """The HEAD table of one file (``EXTNAME='Header'``), SNID as Int64, strings stripped."""
    path = Path(path)
    return snid_to_int(frames([read_raw(path, "Header")], columns), path)


def zp_scale(primary: dict[str, Any], zp: float | None) -> float:
    """Factor from the file's FLUXCAL zero point (``ZP_FLUXCAL`` key, else 27.5) to ``zp``."""
    stored = primary.get("ZP_FLUXCAL")
    stored = ZP_FLUXCAL if stored is None else float(stored)
    return 1.0 if zp is None else 10 ** ((zp - stored) / 2.5)


def rescale(frame: pl.DataFrame, scale: float) -> pl.DataFrame:
    """Multiply FLUXCAL/FLUXCALERR by ``scale``, keeping float32."""
    if scale == 1.0:
        return frame
    factor = pl.lit(float(scale))
    cols = [c for c in ("FLUXCAL", "FLUXCALERR") if c in frame.columns]
    return frame.with_columns((pl.col(c) * factor).cast(frame.schema[c]) for c in cols)


def read_phot_file(
    path: str | Path, columns: Sequence[str] | None = None, *, zp: float | None = ZP_FLUXCAL
) -> pl.DataFrame:
    """The raw PHOT table of one file (``EXTNAME='Photometry'``), separators included."""
    raw = read_raw(Path(path), "Photometry")
    return rescale(frames([raw], columns), zp_scale(raw.primary, zp))


# --------------------------------------------------------------------------------------------------
# HEAD and truth


def read_head(
    source: str | os.PathLike[str] | DataLocations,
    model: str | None = None,
    *,
    prefix: str | None = None,
    file_num: int | Sequence[int] | None = None,
    columns: Sequence[str] | None = None,
    with_file_num: bool = False,
) -> pl.DataFrame:
    """The HEAD table of a model (all files, or ``file_num``), in file order.

    ``with_file_num`` adds a ``FILE_NUM`` (Int16) column: the file each object comes from.
    """
    directory = source_dir(source, model, prefix)
    pairs = select_pairs(directory, file_num)
    raws = [read_raw(p.head, "Header") for p in pairs]
    frame = snid_to_int(frames(raws, columns), directory)
    if with_file_num:
        nums = np.repeat([p.num for p in pairs], [r.data.shape[0] for r in raws])
        frame = frame.with_columns(pl.Series("FILE_NUM", nums, dtype=pl.Int16))
    return frame


def read_dump(path: str | Path, *, rename_cid: bool = True) -> pl.DataFrame:
    """Parse a SNANA ``.DUMP`` truth file (``VARNAMES:`` header, one ``SN:`` row per object).

    Known ELAsTiCC columns get their type (CID, GENTYPE, NOBS, ... Int64; ZCMB, PEAKMJD, ... Float64);
    other columns are Int64 when every value is an integer, else Float64. -9 ("n/a") stays a value.
    ``CID`` is renamed to ``SNID`` (as in the HEAD tables) unless ``rename_cid=False``.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SnanaFileNotFoundError(f"truth (.DUMP) file not found: {path}") from None
    varnames: list[str] | None = None
    rows: list[str] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, _, rest = stripped.partition(":")
        if key == "VARNAMES":
            varnames = rest.split()
        elif key == "SN":
            if varnames is None:
                raise SnanaError(f"{path}:{lineno}: SN: row before the VARNAMES: line")
            rows.append(rest)
    if varnames is None:
        raise SnanaError(f"{path}: no VARNAMES: line (not a SNANA DUMP file?)")
    tokens = " ".join(rows).split()
    ncol = len(varnames)
    if len(tokens) != ncol * len(rows):
        lengths = [len(r.split()) for r in rows]
        bad = next(i for i, n in enumerate(lengths) if n != ncol)
        raise SnanaError(
            f"{path}: SN: row {bad + 1} has {lengths[bad]} values, expected {ncol} (VARNAMES)"
        )
    table = np.array(tokens, dtype=object).reshape(len(rows), ncol) if rows else None
    columns = []
    for j, name in enumerate(varnames):
        col = pl.Series(name, [] if table is None else table[:, j].tolist(), dtype=pl.String)
        as_int = col.str.to_integer(strict=False)
        if name not in _DUMP_FLOAT and as_int.null_count() == 0:
            columns.append(as_int)
            continue
        if name in _DUMP_INTEGER:
            raise SnanaError(
                f"{path}: column {name} should hold integers "
                f"(e.g. {col.filter(as_int.is_null()).head(1).to_list()})"
            )
        as_float = col.cast(pl.Float64, strict=False)
        if as_float.null_count():
            raise SnanaError(
                f"{path}: column {name} has non-numeric values "
                f"(e.g. {col.filter(as_float.is_null()).head(1).to_list()})"
            )
        columns.append(as_float)
    frame = pl.DataFrame(columns)
    if rename_cid and "CID" in frame.columns:
        frame = frame.rename({"CID": "SNID"})
    return frame


def read_truth(
    source: str | os.PathLike[str] | DataLocations,
    model: str | None = None,
    *,
    prefix: str | None = None,
) -> pl.DataFrame:
    """The model's ``.DUMP`` truth table (``<dir>/<dirname>.DUMP``); see :func:`read_dump`."""
    directory = source_dir(source, model, prefix)
    return read_dump(directory / f"{directory.name}.DUMP")
