"""Read ELAsTiCC2 SNANA FITS trees: models, HEAD tables, ``.DUMP`` truth and light curves, as polars.

A tree is a directory of model directories ``<prefix><model>/`` (``ELASTICC2_FINAL_AGN``,
``ELASTICC2_TRAIN_02_SNIa-SALT3``, ``ELASTICC2_TRAIN_01_1percent_KN_K17``, ...), each holding up to
40 pairs ``*-NNNN_HEAD.FITS[.gz]`` / ``*-NNNN_PHOT.FITS[.gz]``, a ``<prefix><model>.DUMP`` truth file,
``.README`` and ``.LIST``.

What the readers take care of (the pitfalls of the SNANA format):

* PTROBS_MIN/PTROBS_MAX are 1-based and inclusive: an object's rows are ``phot[MIN-1 : MAX]``;
  each light curve is followed by one separator row (MJD = -777) that belongs to no object;
* FITS is big-endian (converted to native before polars sees it); strings are fixed-width and
  blank-padded (``BAND`` ``'u '`` -> ``'u'``); ``SNID`` is a 16-character string (-> Int64);
* the legacy spellings ``FLT`` and ``DECL`` are renamed to ``BAND`` and ``DEC``;
* ``FLUXCAL`` is on the zero point given by the ``ZP_FLUXCAL`` header key, 27.5 when absent (all
  ELAsTiCC files); pass ``zp=`` to rescale to another zero point;
* HEAD MJDs (``PEAKMJD``, ``MJD_TRIGGER``, ...) are float32 as stored (a 0.004 d step at MJD 6e4).

Errors (all name the file or argument and what was expected):

* :class:`SnanaFileNotFoundError` (a FileNotFoundError): tree, model directory, HEAD/PHOT or DUMP
  file missing;
* :class:`SnanaError` (a ValueError) and its subclasses :class:`UnknownModelError`,
  :class:`UnknownSnidError`, :class:`PointerError`; and
  :class:`~elasticc_tutorial.fitstable.FitsFormatError` (a ValueError) for a corrupt or truncated
  file, a missing HDU or missing columns.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from elasticc_tutorial.errors import SnanaError, SnanaFileNotFoundError
from elasticc_tutorial.fitstable import FitsFormatError, UnsupportedFitsError, read_bintable
from elasticc_tutorial.photometry import ZP_FLUXCAL

__all__ = [
    "SEPARATOR_MJD",
    "FitsFormatError",
    "PointerError",
    "SnanaError",
    "SnanaFileNotFoundError",
    "UnknownModelError",
    "UnknownSnidError",
    "detect_prefix",
    "file_pairs",
    "list_models",
    "model_dir",
    "read_dump",
    "read_head",
    "read_head_file",
    "read_lightcurve",
    "read_lightcurves",
    "read_lightcurves_file",
    "read_phot_file",
    "read_truth",
]

SEPARATOR_MJD = -777.0
_RENAMES = {"FLT": "BAND", "DECL": "DEC"}
_HEAD_FILE_RE = re.compile(r"^(?P<base>.*)-(?P<num>\d+)_HEAD\.FITS(?P<gz>\.gz)?$", re.IGNORECASE)
_POINTER_COLUMNS = ("SNID", "PTROBS_MIN", "PTROBS_MAX")


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


class UnknownModelError(SnanaError):
    """The requested model is not in the tree (the message lists the models that are)."""


class UnknownSnidError(SnanaError):
    """The requested SNID is not in the model's HEAD tables."""


class PointerError(SnanaError):
    """HEAD pointers (PTROBS_MIN/PTROBS_MAX) outside the PHOT table or covering separator rows."""


# --------------------------------------------------------------------------------------------------
# Tree layout


def _model_dirs(root: Path) -> list[Path]:
    if not root.is_dir():
        raise SnanaFileNotFoundError(f"SNANA tree not found (expected a directory): {root}")
    return sorted(
        d
        for d in root.iterdir()
        if d.is_dir() and any(_HEAD_FILE_RE.match(f.name) for f in os.scandir(d))
    )


def _common_prefix(names: Iterable[str]) -> str:
    prefix = os.path.commonprefix(list(names))  # noqa: RUF071 - character-wise on purpose
    return prefix[: prefix.rfind("_") + 1]


def _dir_prefix(d: Path) -> str:
    # The HEAD files are named after the generic "NONIaMODEL0", not after the model, so the
    # directory name and a HEAD file name share exactly the prefix.
    head = next(f.name for f in os.scandir(d) if _HEAD_FILE_RE.match(f.name))
    return _common_prefix([d.name, head])


def detect_prefix(root: str | Path) -> str:
    """The model-directory prefix of a SNANA tree, e.g. ``ELASTICC2_FINAL_``.

    Raises SnanaError if the tree holds no model directories or several prefixes.
    """
    root = Path(root)
    dirs = _model_dirs(root)
    prefixes = sorted({_dir_prefix(d) for d in dirs})
    if not prefixes or prefixes == [""]:
        raise SnanaError(
            f"{root}: no SNANA model directories (<prefix><model>/ with *_HEAD.FITS[.gz] files)"
        )
    if len(prefixes) > 1:
        raise SnanaError(f"{root}: several model prefixes {prefixes}; pass prefix= to choose one")
    return prefixes[0]


def list_models(root: str | Path, prefix: str | None = None) -> list[str]:
    """Sorted model names of the tree (directory names without the prefix)."""
    return sorted(_models(Path(root), prefix))


def _models(root: Path, prefix: str | None) -> dict[str, Path]:
    if prefix is None:
        prefix = detect_prefix(root)
    dirs = _model_dirs(root)
    models = {d.name[len(prefix) :]: d for d in dirs if d.name.startswith(prefix)}
    if not models:
        found = sorted({_dir_prefix(d) for d in dirs})
        raise SnanaError(
            f"{root}: no model directories with prefix {prefix!r} (prefixes found: {found or 'none'})"
        )
    return models


def model_dir(root: str | Path, model: str, prefix: str | None = None) -> Path:
    """The directory of ``model``; UnknownModelError lists the available models."""
    models = _models(Path(root), prefix)
    if model not in models:
        raise UnknownModelError(
            f"{root}: unknown model {model!r}; available models: {', '.join(sorted(models))}"
        )
    return models[model]


@dataclass(frozen=True)
class FilePair:
    """One HEAD file, its PHOT file and its file number (1..40)."""

    num: int
    head: Path
    phot: Path


def file_pairs(directory: str | Path) -> list[FilePair]:
    """The HEAD/PHOT pairs of a model directory, by file number (an uncompressed file wins over
    its ``.gz``, as in lib_elasticc2)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SnanaFileNotFoundError(f"SNANA model directory not found: {directory}")
    pairs: dict[int, FilePair] = {}
    for name in sorted(os.listdir(directory)):
        m = _HEAD_FILE_RE.match(name)
        if not m:
            continue
        num = int(m.group("num"))
        if num in pairs and not m.group("gz") and pairs[num].head.name.endswith(".gz"):
            pass  # the uncompressed file replaces the .gz below
        elif num in pairs:
            continue
        head = directory / name
        phot = directory / f"{m.group('base')}-{m.group('num')}_PHOT.FITS{m.group('gz') or ''}"
        if not phot.exists():
            alt = (
                phot.with_name(phot.name[:-3]) if phot.name.endswith(".gz") else Path(f"{phot}.gz")
            )
            if alt.exists():
                phot = alt
        pairs[num] = FilePair(num, head, phot)
    if not pairs:
        raise SnanaFileNotFoundError(f"{directory}: no *_HEAD.FITS[.gz] files")
    return [pairs[k] for k in sorted(pairs)]


def _select_pairs(directory: Path, file_num: int | Sequence[int] | None) -> list[FilePair]:
    pairs = file_pairs(directory)
    if file_num is None:
        return pairs
    wanted = [file_num] if isinstance(file_num, int) else list(file_num)
    by_num = {p.num: p for p in pairs}
    missing = [n for n in wanted if n not in by_num]
    if missing:
        raise SnanaError(
            f"{directory}: no file number(s) {missing}; available: {min(by_num)}..{max(by_num)}"
        )
    return [by_num[n] for n in wanted]


# --------------------------------------------------------------------------------------------------
# FITS table -> polars


def _native(col: np.ndarray, idx: np.ndarray | None) -> np.ndarray:
    """A contiguous, native-endian copy of a stored column (optionally gathered at ``idx``)."""
    if col.dtype.kind == "S":
        return np.ascontiguousarray(col if idx is None else col[idx])
    native = col.dtype.newbyteorder("=")
    if idx is None:
        return col.astype(native)
    out = col[idx]  # one gathered copy, byte-swapped in place
    return out.byteswap(inplace=True).view(native) if out.dtype != native else out


def _series(name: str, arr: np.ndarray) -> pl.Series:
    if arr.dtype.kind == "S":
        # Fixed-width, blank-padded ASCII: wrap the bytes as an Arrow fixed-size binary array
        # (no copy) and strip with Arrow compute; ~10x faster than going through polars Binary.
        fixed = pa.FixedSizeBinaryArray.from_buffers(
            pa.binary(arr.dtype.itemsize), len(arr), [None, pa.py_buffer(arr)]
        )
        text = pc.utf8_rtrim(fixed.cast(pa.binary()).cast(pa.string()), characters=" \0")
        return pl.Series(name, pl.from_arrow(text), dtype=pl.String)
    return pl.Series(name, arr)


class _Columns:
    """Accumulates native copies of the selected columns file by file (each decompressed file can
    be dropped right after), then builds one polars frame: the per-column conversion and string
    stripping happen once for all files. With ``total`` (the number of rows to come), the output
    arrays are allocated once and filled in place: no concatenation copy."""

    def __init__(self, columns: Sequence[str] | None, total: int | None = None) -> None:
        self.columns = None if columns is None else list(columns)
        self.total = total
        self.parts: dict[str, list[np.ndarray]] = {}
        self.out: dict[str, np.ndarray] = {}
        self.filled = 0

    def add(self, raw: _Raw, idx: np.ndarray | None = None) -> None:
        names = raw.names(self.columns)
        if self.columns is None:
            self.columns = [c for c, _ in names]
        if self.total is None:
            for c, stored in names:
                self.parts.setdefault(c, []).append(_native(raw.data[stored], idx))
            return
        n = raw.data.shape[0] if idx is None else len(idx)
        lo, hi = self.filled, self.filled + n
        for c, stored in names:
            col = raw.data[stored]
            dtype = col.dtype if col.dtype.kind == "S" else col.dtype.newbyteorder("=")
            out = self.out.get(c)
            if out is None or np.result_type(out.dtype, dtype) != out.dtype:
                # First file, or a later file with a wider type (e.g. longer strings): (re)allocate.
                grown = np.empty(self.total, dtype if out is None else np.result_type(out, dtype))
                if out is not None:
                    grown[:lo] = out[:lo]
                self.out[c] = out = grown
            out[lo:hi] = col if idx is None else col[idx]  # gather + byte swap into place
        self.filled = hi

    def frame(self) -> pl.DataFrame:
        if self.total is not None:
            if self.filled != self.total:
                raise AssertionError(f"filled {self.filled} of {self.total} rows")
            return pl.DataFrame([_series(c, a) for c, a in self.out.items()])
        return pl.DataFrame(
            [_series(c, p[0] if len(p) == 1 else np.concatenate(p)) for c, p in self.parts.items()]
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
class _Raw:
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


def _read_raw(path: Path, extname: str, rows: tuple[int, int] | None = None) -> _Raw:
    if not path.exists():
        raise SnanaFileNotFoundError(f"{extname} FITS file not found: {path}")
    try:
        table = read_bintable(path, extname, rows=rows)
        return _Raw(path, extname, table.primary, table.data, table.nrows)
    except UnsupportedFitsError:
        primary, full = _astropy_table(path, extname)
        data = full if rows is None else full[rows[0] : rows[1]]
        return _Raw(path, extname, primary, data, len(full))


def _frames(raws: Sequence[_Raw], columns: Sequence[str] | None) -> pl.DataFrame:
    """Convert and concatenate whole tables (see :class:`_Columns`)."""
    acc = _Columns(columns)
    for raw in raws:
        acc.add(raw)
    return acc.frame()


def _snid_to_int(frame: pl.DataFrame, where: object) -> pl.DataFrame:
    if "SNID" not in frame.columns or frame.schema["SNID"] == pl.Int64:
        return frame
    snid = frame["SNID"].cast(pl.String).str.strip_chars()
    as_int = snid.str.to_integer(strict=False)
    if as_int.null_count() > snid.null_count():
        bad = snid.filter(as_int.is_null()).head(3).to_list()
        raise SnanaError(f"{where}: SNID values are not integers (e.g. {bad})")
    return frame.with_columns(as_int.alias("SNID"))


def _snid_array(raw: _Raw) -> np.ndarray:
    """SNID column as int64 (numpy parses the blank-padded 16A strings directly)."""
    stored = raw.names(["SNID"])[0][1]
    try:
        return raw.data[stored].astype(np.int64)
    except ValueError:
        return _snid_to_int(_frames([raw], ["SNID"]), raw.path)["SNID"].to_numpy()


def read_head_file(path: str | Path, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """The HEAD table of one file (``EXTNAME='Header'``), SNID as Int64, strings stripped."""
    path = Path(path)
    return _snid_to_int(_frames([_read_raw(path, "Header")], columns), path)


def _zp_scale(primary: dict[str, Any], zp: float | None) -> float:
    stored = primary.get("ZP_FLUXCAL")
    stored = ZP_FLUXCAL if stored is None else float(stored)
    return 1.0 if zp is None else 10 ** ((zp - stored) / 2.5)


def _rescale(frame: pl.DataFrame, scale: float | np.ndarray) -> pl.DataFrame:
    """Multiply FLUXCAL/FLUXCALERR by ``scale`` (a number or one factor per row), keeping float32."""
    if np.all(np.asarray(scale) == 1.0):
        return frame
    factor = pl.lit(float(scale)) if np.ndim(scale) == 0 else pl.Series(np.asarray(scale))
    cols = [c for c in ("FLUXCAL", "FLUXCALERR") if c in frame.columns]
    return frame.with_columns((pl.col(c) * factor).cast(frame.schema[c]) for c in cols)


def read_phot_file(
    path: str | Path, columns: Sequence[str] | None = None, *, zp: float | None = ZP_FLUXCAL
) -> pl.DataFrame:
    """The raw PHOT table of one file (``EXTNAME='Photometry'``), separators included."""
    raw = _read_raw(Path(path), "Photometry")
    return _rescale(_frames([raw], columns), _zp_scale(raw.primary, zp))


# --------------------------------------------------------------------------------------------------
# HEAD and truth


def read_head(
    root: str | Path,
    model: str,
    *,
    prefix: str | None = None,
    file_num: int | Sequence[int] | None = None,
    columns: Sequence[str] | None = None,
    with_file_num: bool = False,
) -> pl.DataFrame:
    """The HEAD table of a model (all files, or ``file_num``), in file order.

    ``with_file_num`` adds a ``FILE_NUM`` (Int16) column: the file each object comes from.
    """
    directory = model_dir(root, model, prefix)
    pairs = _select_pairs(directory, file_num)
    raws = [_read_raw(p.head, "Header") for p in pairs]
    frame = _snid_to_int(_frames(raws, columns), directory)
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


def read_truth(root: str | Path, model: str, *, prefix: str | None = None) -> pl.DataFrame:
    """The model's ``.DUMP`` truth table (``<dir>/<dirname>.DUMP``); see :func:`read_dump`."""
    directory = model_dir(root, model, prefix)
    return read_dump(directory / f"{directory.name}.DUMP")


# --------------------------------------------------------------------------------------------------
# Light curves


def _row_index(
    ptr_min: np.ndarray, ptr_max: np.ndarray, nrows: int, path: Path, snids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """0-based PHOT row indices of every object's points (in HEAD order) and the object index of
    each row; checks the pointers lie inside the table."""
    lo = ptr_min.astype(np.int64) - 1
    n = ptr_max.astype(np.int64) - lo
    bad = (lo < 0) | (n < 0) | (lo + n > nrows)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise PointerError(
            f"{path}: SNID {snids[i]} has PTROBS_MIN={ptr_min[i]}, PTROBS_MAX={ptr_max[i]}, "
            f"outside the PHOT table's rows 1..{nrows} (1-based, inclusive)"
        )
    obj = np.repeat(np.arange(len(n)), n)
    starts = np.cumsum(n) - n
    idx = np.arange(int(n.sum()), dtype=np.int64) + np.repeat(lo - starts, n)
    return idx, obj


def _light_curves(
    pairs: Sequence[FilePair], columns: Sequence[str] | None, zp: float | None
) -> pl.DataFrame:
    """Long table of every object of ``pairs``: per file, gather the rows by pointer (which drops
    the separators) into native column arrays; convert to polars once at the end."""
    heads = [_read_raw(p.head, "Header") for p in pairs]
    for head in heads:
        for c, n in head.names(_POINTER_COLUMNS):
            if c != "SNID" and head.data.dtype[n].kind not in "iu":
                raise FitsFormatError(f"{head.path}: column {c} is not an integer column")
    total = sum(
        int((h.data["PTROBS_MAX"].astype(np.int64) - h.data["PTROBS_MIN"] + 1).clip(0).sum())
        for h in heads
    )
    acc = _Columns(columns, total)
    snids, scales = [], []
    for pair, head in zip(pairs, heads, strict=True):
        phot = _read_raw(pair.phot, "Photometry")
        snid = _snid_array(head)
        idx, obj = _row_index(
            head.data["PTROBS_MIN"], head.data["PTROBS_MAX"], phot.nrows, phot.path, snid
        )
        mjd = phot.data[phot.names(["MJD"])[0][1]][idx]
        sep = mjd == SEPARATOR_MJD
        if sep.any():
            i = int(obj[np.flatnonzero(sep)[0]])
            raise PointerError(
                f"{phot.path}: pointer range of SNID {snid[i]} (PTROBS {head.data['PTROBS_MIN'][i]}.."
                f"{head.data['PTROBS_MAX'][i]}) covers a separator row (MJD=-777); "
                "HEAD and PHOT disagree"
            )
        # SNANA writes each light curve in time order; a stable sort fixes any exception.
        if len(mjd) > 1 and ((np.diff(mjd) < 0) & (obj[1:] == obj[:-1])).any():
            order = np.lexsort((mjd, obj))
            idx, obj = idx[order], obj[order]
        acc.add(phot, idx)
        snids.append(snid[obj])
        scales.append(np.full(len(idx), _zp_scale(phot.primary, zp)))
        del phot  # release this file's decompressed bytes before the next one
    frame = acc.frame()
    frame = frame.insert_column(0, pl.Series("SNID", np.concatenate(snids), dtype=pl.Int64))
    return _rescale(frame, np.concatenate(scales))


def read_lightcurves_file(
    head_path: str | Path,
    phot_path: str | Path | None = None,
    *,
    columns: Sequence[str] | None = None,
    zp: float | None = ZP_FLUXCAL,
) -> pl.DataFrame:
    """All light curves of one HEAD/PHOT pair: long table ``SNID`` + PHOT columns, separators
    dropped, objects in HEAD order, points in time order."""
    head_path = Path(head_path)
    if phot_path is None:
        m = _HEAD_FILE_RE.match(head_path.name)
        if not m:
            raise SnanaError(f"{head_path}: not a *-NNNN_HEAD.FITS[.gz] name; pass phot_path")
        phot_path = head_path.with_name(
            f"{m.group('base')}-{m.group('num')}_PHOT.FITS{m.group('gz') or ''}"
        )
    if not Path(phot_path).exists():
        raise SnanaFileNotFoundError(f"PHOT file not found: {phot_path} (for {head_path})")
    return _light_curves([FilePair(0, head_path, Path(phot_path))], columns, zp)


def read_lightcurves(
    root: str | Path,
    model: str,
    *,
    prefix: str | None = None,
    file_num: int | Sequence[int] | None = None,
    columns: Sequence[str] | None = None,
    agg: bool = False,
    include_head: bool = False,
    include_truth: bool = False,
    zp: float | None = ZP_FLUXCAL,
) -> pl.DataFrame:
    """All light curves of a model (or of the files ``file_num``) in one vectorised pass.

    Long form (default): one row per point, ``SNID`` then the PHOT ``columns`` (all by default),
    objects in file order and points in time order, separator rows dropped. ``agg=True``: one row
    per object with list columns. ``include_head``/``include_truth`` join the HEAD columns and/or
    the DUMP truth (truth columns that clash with HEAD/PHOT names get a ``_TRUTH`` suffix).
    """
    directory = model_dir(root, model, prefix)
    pairs = _select_pairs(directory, file_num)
    for pair in pairs:
        if not pair.phot.exists():
            raise SnanaFileNotFoundError(f"PHOT file not found: {pair.phot} (for {pair.head})")
    frame = _light_curves(pairs, columns, zp)
    if agg:
        frame = frame.group_by("SNID", maintain_order=True).agg(pl.all())
    if include_head:
        raws = [_read_raw(p.head, "Header") for p in pairs]
        head = _snid_to_int(_frames(raws, None), directory).drop(
            [c for c in frame.columns if c != "SNID"], strict=False
        )
        frame = frame.join(head, on="SNID", how="left", maintain_order="left")
    if include_truth:
        truth = read_dump(directory / f"{directory.name}.DUMP")
        frame = frame.join(truth, on="SNID", how="left", suffix="_TRUTH", maintain_order="left")
    return frame


def _pointer_index(directory: Path) -> tuple[list[FilePair], pl.DataFrame]:
    """SNID -> (file, PTROBS_MIN, PTROBS_MAX) for a model directory, cached until a HEAD file
    changes (repeated single-object reads then touch only the PHOT file)."""
    pairs = file_pairs(directory)
    key = tuple((p.head, p.head.stat().st_mtime_ns) for p in pairs)
    return pairs, _pointer_index_cached(key)


@lru_cache(maxsize=32)
def _pointer_index_cached(key: tuple[tuple[Path, int], ...]) -> pl.DataFrame:
    raws = [_read_raw(path, "Header") for path, _ in key]
    frame = _snid_to_int(_frames(raws, _POINTER_COLUMNS), key[0][0].parent)
    position = np.repeat(np.arange(len(raws)), [r.data.shape[0] for r in raws])
    return frame.with_columns(pl.Series("PAIR", position, dtype=pl.Int32))


def read_lightcurve(
    root: str | Path,
    model: str,
    snid: int,
    *,
    prefix: str | None = None,
    columns: Sequence[str] | None = None,
    zp: float | None = ZP_FLUXCAL,
) -> pl.DataFrame:
    """One object's light curve by SNID, in time order (same columns as :func:`read_lightcurves`).

    Finds the object's HEAD row, then decodes only PHOT rows PTROBS_MIN-1..PTROBS_MAX-1; a gzip
    PHOT file is decompressed only up to the last of those rows.
    """
    directory = model_dir(root, model, prefix)
    snid = int(snid)
    pairs, index = _pointer_index(directory)
    hit = index.filter(pl.col("SNID") == snid)
    if hit.height > 1:
        raise SnanaError(f"{directory}: SNID {snid} appears {hit.height} times in the HEAD files")
    if hit.height == 1:
        pair = pairs[int(hit["PAIR"][0])]
        lo, hi = int(hit["PTROBS_MIN"][0]), int(hit["PTROBS_MAX"][0])
        if not pair.phot.exists():
            raise SnanaFileNotFoundError(f"PHOT file not found: {pair.phot} (for {pair.head})")
        if lo < 1 or hi < lo - 1:
            raise PointerError(f"{pair.head}: SNID {snid} has PTROBS_MIN={lo}, PTROBS_MAX={hi}")
        try:
            raw = _read_raw(pair.phot, "Photometry", rows=(lo - 1, hi))
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
        acc = _Columns(columns)
        acc.add(raw, np.argsort(mjd, kind="stable"))
        frame = acc.frame()
        frame = frame.insert_column(0, pl.Series("SNID", [snid] * frame.height, dtype=pl.Int64))
        return _rescale(frame, _zp_scale(raw.primary, zp))
    raise UnknownSnidError(f"{directory}: no object with SNID {snid} in model {model!r}")
