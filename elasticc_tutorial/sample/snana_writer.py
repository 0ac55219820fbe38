"""Write a :class:`ModelSample` as an SNANA FITS data version, laid out like ELAsTiCC2.

One directory ``<prefix><model>/`` holds ``<prefix>NONIaMODEL0-NNNN_HEAD.FITS.gz`` /
``_PHOT.FITS.gz`` pairs, ``<prefix><model>.DUMP`` (truth), ``.README`` and ``.LIST``. As in the
real campaign (one pair per core, 40 cores) there are exactly 40 pairs, numbered 0001-0040, the
objects split into 40 contiguous chunks, so each pair holds at least one object; only a sample
with fewer than 40 objects in a model (tests) has one pair per object.

Layout facts reproduced from the real files: an empty primary HDU (BITPIX -32, NAXIS 1,
NAXIS1 0) carrying the global SNANA keywords, one BINTABLE with EXTNAME ``Header`` or
``Photometry``; 1-based inclusive ``PTROBS_MIN``/``PTROBS_MAX``; one ``MJD = -777`` separator row
after every light curve; fixed-width, space-padded strings. Files are gzipped with mtime 0 and no
file name, so the same sample gives byte-identical files.
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

import numpy as np
import polars as pl

from elasticc_tutorial.photometry import BANDS
from elasticc_tutorial.sample.campaign import ModelSample
from elasticc_tutorial.sample.layouts import DUMP_INT_COLUMNS, HEAD_LAYOUTS, PHOT_COLUMNS
from elasticc_tutorial.sample.specs import MODELS

__all__ = ["N_FILES", "file_groups", "pointers", "write_dump", "write_model"]

#: HEAD/PHOT pairs per model directory, as in ELAsTiCC2 (generated on 40 cores).
N_FILES = 40

_SEPARATOR = {
    "MJD": -777.0,
    "BAND": "-",
    "CCDNUM": -9,
    "FIELD": "XXXX",
    "PHOTFLAG": 0,
    "PHOTPROB": 0.0,
    "FLUXCAL": -777.0,
    "FLUXCALERR": -777.0,
    "PSF_SIG1": -9.0,
    "PSF_SIG2": 0.0,
    "PSF_RATIO": 0.0,
    "SKY_SIG": -9.0,
    "SKY_SIG_T": 0.0,
    "RDNOISE": -9.0,
    "ZEROPT": -9.0,
    "ZEROPT_ERR": 0.0,
    "GAIN": -9.0,
    "XPIX": -9.0,
    "YPIX": -9.0,
    "SIM_FLUXCAL_HOSTERR": 0.0,
    "SIM_MAGOBS": 99.0,
}
_NUMPY_OF_TFORM = {"1D": ">f8", "1E": ">f4", "1J": ">i4", "1I": ">i2", "1K": ">i8"}
_TFORM_COMMENT = {
    "1D": "8-byte DOUBLE",
    "1E": "4-byte REAL",
    "1J": "4-byte INTEGER",
    "1I": "2-byte INTEGER",
    "1K": "8-byte INTEGER",
}
_DUMP_MJD = {"PEAKMJD", "MJD_DETECT_FIRST", "MJD_DETECT_LAST"}


def file_groups(n_objects: int) -> list[np.ndarray]:
    """Object indices of each HEAD/PHOT pair: :data:`N_FILES` contiguous, non-empty chunks
    (one per object if there are fewer objects)."""
    if n_objects < 1:
        raise ValueError(f"a model directory needs at least one object, got {n_objects}")
    return np.array_split(np.arange(n_objects), min(N_FILES, n_objects))


def pointers(nobs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """1-based inclusive (PTROBS_MIN, PTROBS_MAX) of consecutive light curves, each followed by
    one separator row."""
    nobs = np.asarray(nobs, dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(nobs + 1)[:-1]]) + 1
    return start, start + nobs - 1


def _card(key: str, value: object = None, comment: str = "") -> bytes:
    """One 80-character header card, formatted the way cfitsio/SNANA write them."""
    if key == "COMMENT":
        text = f"COMMENT   {comment}"
    else:
        if isinstance(value, bool):
            val = "T" if value else "F"
        elif isinstance(value, str):
            val = "'" + value.replace("'", "''").ljust(8) + "'"
        else:
            val = str(value)
        if key.startswith("HIERARCH "):
            prefix = f"{key} = "
            if not isinstance(value, str):
                val = val.rjust(max(0, 30 - len(prefix)))
        else:
            prefix = f"{key:<8}= "
            val = val.ljust(20) if isinstance(value, str) else val.rjust(20)
        text = prefix + val + (f" / {comment}" if comment else "")
    if len(text) > 80:
        text = text[:80]
    return text.ljust(80).encode("ascii")


def _header(cards: list[bytes]) -> bytes:
    block = b"".join(cards) + b"END".ljust(80)
    return block + b" " * (-len(block) % 2880)


def _primary(model: str, version: str, photfile: str, *, head: bool) -> bytes:
    """The empty primary HDU with the global SNANA keywords of the real ELAsTiCC2 files."""
    cards = list(_primary_cards(model, head))
    cards[cards.index(b"VERSION")] = _card("VERSION", version)
    cards[cards.index(b"PHOTFILE")] = _card("PHOTFILE", photfile, "Photometry")
    return _header(cards)


@functools.lru_cache(maxsize=128)
def _primary_cards(model: str, head: bool) -> tuple[bytes, ...]:
    """The primary header cards of a model's HEAD or PHOT files; ``VERSION`` and ``PHOTFILE``
    (which name the file) are placeholders."""
    spec = MODELS[model]
    cards = [
        _card("SIMPLE", True, "file does conform to FITS standard"),
        _card("BITPIX", -32, "number of bits per data pixel"),
        _card("NAXIS", 1, "number of data axes"),
        _card("NAXIS1", 0, "length of data axis 1"),
        _card("EXTEND", True, "FITS dataset may contain extensions"),
        _card(
            "COMMENT",
            comment="  FITS (Flexible Image Transport System) format is defined in 'Astronomy",
        ),
        _card(
            "COMMENT",
            comment="  and Astrophysics', volume 376, page 359; bibcode: 2001A&A...376..359H",
        ),
        _card("HIERARCH CODE_IVERSION", 22, "Internal SNFTSIO code version"),
        _card("HIERARCH SNANA_PATH", "elasticc_tutorial.sample", "SNANA"),
        _card("HIERARCH SNANA_VERSION", "synthetic", "SNANA version"),
        _card("SURVEY", "LSST", "Survey"),
        _card("HIERARCH SUBSURVEY_FLAG", 0, "SUBSURVEY_FLAG"),
        _card("HIERARCH MWEBV_APPLYFLAG", 0, "1 -> Apply MWEBV cor to FLUXCAL"),
        _card("HIERARCH PHOTFLAG_DETECT", 4096, "PHOTFLAG mask for detection"),
        _card("FILTERS", "".join(BANDS), "List of Filters"),
        b"VERSION",
        b"PHOTFILE",
    ]
    if head:
        nq = 0 if spec.layout == "lclib" else 11
        cards += [
            _card("NPRIVATE", 0, "Number of private variables"),
            _card("NZPHOT_Q", nq, "number of Q zphot quantiles"),
        ]
        cards += [
            _card(f"HIERARCH PERCENTILE_ZPHOT_Q{i:02d}", 10 * i, f"PERCENTILE_ZPHOT_Q{i:02d}")
            for i in range(nq)
        ]
    cards += [
        _card("DATATYPE", "SIM_SNANA", "SNANA Simulation"),
        _card("LONGSTRN", "OGIP 1.0", "The HEASARC Long String Convention may be used."),
        _card(
            "COMMENT", comment="  This FITS file may contain long string keyword values that are"
        ),
        _card(
            "COMMENT",
            comment="  continued over multiple keywords.  The HEASARC convention uses the &",
        ),
        _card(
            "COMMENT", comment="  character at the end of each substring which is then continued"
        ),
        _card("COMMENT", comment="  on the next keyword which has the name CONTINUE."),
        _card("HIERARCH SIMLIB_FILE", "synthetic_wfd.simlib", "SIMLIB Cadence/conditions File"),
        _card("HIERARCH KCOR_FILE", "synthetic_kcor_LSST.fits", "KCOR/calibration file"),
        _card("HIERARCH SIMLIB_MSKOPT", 128, "SIMLIB options mask"),
        _card(
            "HIERARCH HOSTLIB_FILE",
            "NONE" if spec.galactic else "synthetic.HOSTLIB",
            "name of HOSTLIB file",
        ),
        _card("HIERARCH SIM_MODEL_INDEX", spec.model_index, "SIM MODEL index"),
        _card("HIERARCH SIMOPT_MWCOLORLAW", 99, "option for MW color law"),
        _card("SIM_MWRV", 3.1, "RV for Galactic extinction"),
        _card("HIERARCH SIMOPT_MWEBV", 3, "option for MWEBV_SFD"),
        _card("HIERARCH SIMOPT_FLUXERR", 0, "option for fudgeing fluxErrors"),
    ]
    hostpars = {
        "host": ["SIM_HOSTLIB(LOGMASS_TRUE)", "SIM_HOSTLIB(LOG_SFR)"],
        "salt": ["SIM_HOSTLIB(LOGMASS_TRUE)", "SIM_HOSTLIB(LOG_SFR)"],
        "kn": ["SIM_HOSTLIB(g_obs)", "SIM_HOSTLIB(r_obs)", "SIM_HOSTLIB(i_obs)"],
        "lclib": [],
    }[spec.layout]
    if hostpars:
        cards.append(
            _card("HIERARCH SIM_HOSTLIB_NPAR", len(hostpars), "Number of SIM_HOSTLIB params")
        )
        cards += [
            _card(f"HIERARCH SIM_HOSTLIB_PAR{i:02d}", name, "HOSTLIB column name")
            for i, name in enumerate(hostpars)
        ]
    cards += [
        _card("HIERARCH SIM_NSUBSAMPLE_MARK", 0, "Number of marked subSamples"),
        _card("HIERARCH SIM_VARNAME_SNRMON", "", "PHOT varName for SNR(MAGMONITOR)"),
        _card("HIERARCH SIM_SL_FLAG", 0, "Strong lens flag"),
        _card("HIERARCH SIM_BIASCOR_MASK", 0, "biasCor mask"),
    ]
    return tuple(cards)


def _fixed_width(values: np.ndarray, tform: str) -> np.ndarray:
    """A string column as the space-padded fixed-width bytes FITS stores (``nA``)."""
    width = int(tform[:-1])
    return np.char.ljust(np.asarray(values).astype(str), width).astype(f"S{width}")


@functools.lru_cache(maxsize=16)
def _column_cards(name: str, layout: tuple[tuple[str, str], ...]) -> bytes:
    """The TTYPE/TFORM/TUNIT cards and EXTNAME of a table layout (the same for every file)."""
    cards = []
    for i, (col, tform) in enumerate(layout, start=1):
        kind = "ASCII Character" if tform.endswith("A") else _TFORM_COMMENT[tform]
        cards += [
            _card(f"TTYPE{i}", col, f"label for field {i:3d}"),
            _card(f"TFORM{i}", tform, f"data format of field: {kind}"),
            _card(f"TUNIT{i}", "", "physical unit of field"),
        ]
    cards.append(_card("EXTNAME", name, "name of this binary table extension"))
    return b"".join(cards)


def _table(name: str, layout: list[tuple[str, str]], data: dict[str, np.ndarray], n: int) -> bytes:
    """A BINTABLE HDU (header + big-endian rows) written directly, without per-column overhead.

    String columns must already be fixed-width bytes (:func:`_fixed_width`)."""
    dtype = [(c, f"S{int(t[:-1])}" if t.endswith("A") else _NUMPY_OF_TFORM[t]) for c, t in layout]
    rows = np.empty(n, dtype=dtype)
    for col, _tform in layout:
        rows[col] = data[col]
    cards = [
        _card("XTENSION", "BINTABLE", "binary table extension"),
        _card("BITPIX", 8, "8-bit bytes"),
        _card("NAXIS", 2, "2-dimensional binary table"),
        _card("NAXIS1", rows.dtype.itemsize, "width of table in bytes"),
        _card("NAXIS2", n, "number of rows in table"),
        _card("PCOUNT", 0, "size of special data area"),
        _card("GCOUNT", 1, "one data group (required keyword)"),
        _card("TFIELDS", len(layout), "number of fields in each row"),
        _column_cards(name, tuple(layout)),
    ]
    body = rows.tobytes()
    return _header(cards) + body + b"\0" * (-len(body) % 2880)


def _gzip_to(path: Path, *parts: bytes) -> None:
    path.write_bytes(gzip.compress(b"".join(parts), compresslevel=6, mtime=0))


def write_model(
    sample: ModelSample, directory: Path, prefix: str, dump_varnames: tuple[str, ...], *, seed: int
) -> list[Path]:
    """Write ``sample`` into ``directory`` (created) as ``prefix``-named SNANA files.

    ``prefix`` is e.g. ``"ELASTICC2_FINAL_"``; returns the paths written.
    """
    directory.mkdir(parents=True, exist_ok=True)
    layout = HEAD_LAYOUTS[MODELS[sample.model].layout]
    head = sample.head
    phot = sample.phot
    nobs = head["NOBS"].to_numpy()
    # row offsets of each object's photometry in ``phot`` (objects in HEAD order)
    snid_int = head["SNID"].cast(pl.Int64).to_numpy()
    if not np.array_equal(phot["SNID"].unique(maintain_order=True).to_numpy(), snid_int):
        raise ValueError(f"{sample.model}: phot objects are not in HEAD order")
    row_start = np.concatenate([[0], np.cumsum(nobs)[:-1]])
    written: list[Path] = []
    head_names: list[str] = []
    # columns as numpy arrays once, strings already fixed-width bytes, sliced per file below
    phot_np = {
        c: _fixed_width(phot[c].to_numpy(), t) if t.endswith("A") else phot[c].to_numpy()
        for c, t in PHOT_COLUMNS
    }
    head_np = {
        c: _fixed_width(head[c].to_numpy(), t) if t.endswith("A") else head[c].to_numpy()
        for c, t in layout
    }
    separator = {
        c: _fixed_width(np.array([_SEPARATOR[c]]), t)[0] if t.endswith("A") else _SEPARATOR[c]
        for c, t in PHOT_COLUMNS
    }
    for k, objs in enumerate(file_groups(head.height), start=1):
        base = f"{prefix}NONIaMODEL0-{k:04d}"
        version = f"{prefix}{sample.model}_NONIaMODEL0-{k:04d}"
        sub_nobs = nobs[objs]
        pmin, pmax = pointers(sub_nobs)
        hdata = {c: head_np[c][objs] for c, _ in layout}
        hdata["PTROBS_MIN"], hdata["PTROBS_MAX"] = pmin, pmax
        # PHOT rows with one separator after each light curve
        n_rows = int(sub_nobs.sum()) + len(objs)
        src = (
            np.concatenate([np.arange(row_start[o], row_start[o] + nobs[o]) for o in objs])
            if len(objs)
            else np.zeros(0, int)
        )
        dest = (
            np.concatenate([np.arange(a - 1, b) for a, b in zip(pmin, pmax, strict=True)])
            if len(objs)
            else np.zeros(0, int)
        )
        sep = pmax  # 0-based index of the row after each light curve
        pdata = {}
        for c, _tform in PHOT_COLUMNS:
            arr = np.empty(n_rows, dtype=phot_np[c].dtype)
            arr[dest] = phot_np[c][src]
            arr[sep] = separator[c]
            pdata[c] = arr
        photfile = f"{base}_PHOT.FITS"
        _gzip_to(
            directory / f"{base}_HEAD.FITS.gz",
            _primary(sample.model, version, photfile, head=True),
            _table("Header", layout, hdata, len(objs)),
        )
        _gzip_to(
            directory / f"{base}_PHOT.FITS.gz",
            _primary(sample.model, version, photfile, head=False),
            _table("Photometry", PHOT_COLUMNS, pdata, n_rows),
        )
        written += [directory / f"{base}_HEAD.FITS.gz", directory / f"{base}_PHOT.FITS.gz"]
        head_names.append(f"{base}_HEAD.FITS")
    name = f"{prefix}{sample.model}"
    dump = directory / f"{name}.DUMP"
    write_dump(sample.truth.select(dump_varnames), dump, model=sample.model)
    (directory / f"{name}.LIST").write_text("".join(f"{n}\n" for n in head_names))
    (directory / f"{name}.README").write_text(_readme(sample, name, seed, dump_varnames))
    return [*written, dump, directory / f"{name}.LIST", directory / f"{name}.README"]


def _fmt_column(name: str, values: np.ndarray) -> list[str]:
    if name in DUMP_INT_COLUMNS:
        return [str(int(v)) for v in values]
    if name in ("RA", "DEC"):
        return [f"{v:.6f}" for v in values]
    if name in _DUMP_MJD:
        return [f"{v:.3f}" if v != -9 else "-9" for v in values]
    return [str(int(v)) if float(v).is_integer() and abs(v) < 1e6 else f"{v:.5e}" for v in values]


def write_dump(truth: pl.DataFrame, path: Path, *, model: str) -> None:
    """Write a SIMGEN_DUMP file: 4 comment lines, blank, VARNAMES, blank, one ``SN:`` row per object."""
    columns = [_fmt_column(c, truth[c].to_numpy()) for c in truth.columns]
    rows = [" ".join(vals) for vals in zip(*columns, strict=True)] if columns else []
    text = (
        "# Simulation SUMMARY: one row per event. \n"
        f"#  MODEL:     {MODELS[model].sim_model_name} \n"
        "#  PRESCALE:  1 \n"
        "#  SELECTION: Pass Trigger + Cuts\n"
        "\n"
        f"VARNAMES:  {' '.join(truth.columns)}\n"
        "\n" + "".join(f"SN:  {r}\n" for r in rows)
    )
    path.write_text(text)


def _readme(sample: ModelSample, name: str, seed: int, varnames: tuple[str, ...]) -> str:
    spec = MODELS[sample.model]
    n = sample.head.height
    gen = max(sample.n_generated, n)
    zr = "0  0" if spec.galactic else f"{spec.zrange[0]:.4f}  {spec.zrange[1]:.4f}"
    return (
        "DOCUMENTATION:\n"
        f"  GENVERSION: {name} \n\n"
        "#                   NLC_GEN   NLC_WRITE  NSPEC_WRITE  CPU(minutes)\n"
        "  STAT_SUMMARY: \n"
        f"  - TOTAL          {gen:8d}   {n:8d}          0        0.0\n"
        f"  - NONIaMODEL0    {gen:8d}   {n:8d}          0        0.0\n\n"
        "  INPUT_FILES:\n"
        "  - SIMULATOR elasticc_tutorial.sample (synthetic ELAsTiCC2-like campaign) \n\n"
        "# - - - - - - - - - - - - - - - - - - - - - - - - - - - - \n\n"
        "  INPUT_KEYS_NONIaMODEL0: \n"
        "# Output data\n"
        "    FORMAT_MASK:             48  #  += 2,32,16 -> TEXT, FITS, randomCID\n"
        f"    GENTYPE:                 {sample.gentype}  # true type\n"
        "    SNTYPE:                  1  101  # spec Type, photID type\n"
        "# Source model\n"
        f"    GENMODEL:                {spec.sim_model_name} ({sample.model}, see elasticc_tutorial.sample.specs) \n"
        "# Cosmology inputs\n"
        "    OMEGA_MATTER:            0.3000  \n"
        "    OMEGA_LAMBDA:            0.7000  \n"
        "    H0:                      70.0  \n"
        "# Instrumental inputs\n"
        f"    GENFILTERS:          {''.join(BANDS)} \n"
        "    SIMLIB_FILE:             synthetic LSST WFD + DDF cadence (elasticc_tutorial.sample.cadence) \n"
        "    SIMLIB_MSKOPT:           128 \n"
        "    SMEARFLAG_FLUX:      1  # 1->add Poisson noise\n"
        "# Redshift inputs\n"
        f"    GENRANGE_REDSHIFT:       {zr}  \n"
        "# Epoch & sky coverage inputs\n"
        "    GENRANGE_MJD:            60796.0000  61896.0000  \n"
        "# Misc inputs\n"
        f"    RANSEED:                 {seed}  \n"
        f"    SIMGEN_DUMP:             {len(varnames)} {' '.join(varnames)}\n"
        "# CUTWIN inputs\n"
        "    APPLY_CUTWIN_OPT:        1  \n"
        "    CUTWIN_NOBS_NOSATURATE:  10 9999 grizY \n"
        "# \n"
        "DOCUMENTATION_END:\n"
    )
