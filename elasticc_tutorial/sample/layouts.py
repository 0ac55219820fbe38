"""SNANA column layouts of the ELAsTiCC2 files: HEAD and PHOT columns with their TFORMs, DUMP VARNAMES.

These are facts read off the real ELAsTiCC2 training files (the tom_desc test data: SNIb-Templates,
KN_K17 and Mdwarf-flare HEAD/PHOT files) and the ELAsTiCC2 documentation (formats.md §6.2 of the
project's reference notes). The package does not ship the real files, so the lists are data here;
``tests/test_sample.py`` checks them against the real files whenever those are available.

Four HEAD layouts exist:

* ``host``: extragalactic models with the standard host library (SNIb-Templates: 170 columns);
* ``salt``: as ``host`` plus ``SIM_SALT2x0 .. SIM_SALT2gammaDM`` after ``SIM_RV`` (SNIa-SALT3: 177);
* ``kn``: as ``host`` but with ``SIM_HOSTLIB(g_obs|r_obs|i_obs)`` host parameters (KN_K17: 171);
* ``lclib``: galactic LCLIB models (Mdwarf-flare: 146): no photo-z quantiles, no SIM_HOSTLIB,
  no SIM_GALFRAC, plus ``SIM_TEMPLATEMAG_*``.
"""

from __future__ import annotations

from typing import Literal

from elasticc_tutorial.photometry import BANDS

__all__ = [
    "DUMP_VARNAMES_FINAL",
    "DUMP_VARNAMES_TRAIN",
    "HEAD_LAYOUTS",
    "PARQUET_DROPPED",
    "PARQUET_PHOT_COLUMNS",
    "PHOT_COLUMNS",
    "Layout",
    "head_columns",
]

Layout = Literal["host", "salt", "kn", "lclib"]

_Q = ("000", "010", "020", "030", "040", "050", "060", "070", "080", "090", "100")


def _per_band(prefix: str, tform: str) -> list[tuple[str, str]]:
    return [(f"{prefix}{b}", tform) for b in BANDS]


def _hostgal(pre: str, *, first: bool) -> list[tuple[str, str]]:
    """The HOSTGAL / HOSTGAL2 block up to (not including) the magnitudes and quantiles."""
    cols = [(f"{pre}_OBJID", "1K")]
    if first:
        cols = [("HOSTGAL_NMATCH", "1I"), ("HOSTGAL_NMATCH2", "1I"), *cols]
    cols += [
        (f"{pre}_FLAG", "1I"),
        (f"{pre}_PHOTOZ", "1E"),
        (f"{pre}_PHOTOZ_ERR", "1E"),
        (f"{pre}_SPECZ", "1E"),
        (f"{pre}_SPECZ_ERR", "1E"),
        (f"{pre}_RA", "1D"),
        (f"{pre}_DEC", "1D"),
        (f"{pre}_SNSEP", "1E"),
        (f"{pre}_DDLR", "1E"),
    ]
    if first:
        cols.append(("HOSTGAL_CONFUSION", "1E"))
    for q in ("LOGMASS", "LOGSFR", "LOGsSFR", "COLOR"):
        cols += [(f"{pre}_{q}", "1E"), (f"{pre}_{q}_ERR", "1E")]
    cols += [
        (f"{pre}_ELLIPTICITY", "1E"),
        (f"{pre}_OBJID2", "1K"),
        (f"{pre}_SQRADIUS", "1E"),
        (f"{pre}_OBJID_UNIQUE", "1K"),
    ]
    return cols


def head_columns(layout: Layout) -> list[tuple[str, str]]:
    """(name, TFORM) of every HEAD column of ``layout``, in file order."""
    if layout not in ("host", "salt", "kn", "lclib"):
        raise ValueError(f"unknown HEAD layout {layout!r}; expected host, salt, kn or lclib")
    zq = layout != "lclib"
    cols: list[tuple[str, str]] = [
        ("SNID", "16A"),
        ("IAUC", "16A"),
        ("FAKE", "1I"),
        ("RA", "1D"),
        ("DEC", "1D"),
        ("PIXSIZE", "1E"),
        ("NXPIX", "1I"),
        ("NYPIX", "1I"),
        ("SNTYPE", "1J"),
        ("NOBS", "1J"),
        ("PTROBS_MIN", "1J"),
        ("PTROBS_MAX", "1J"),
        ("MWEBV", "1E"),
        ("MWEBV_ERR", "1E"),
        ("REDSHIFT_HELIO", "1E"),
        ("REDSHIFT_HELIO_ERR", "1E"),
        ("REDSHIFT_FINAL", "1E"),
        ("REDSHIFT_FINAL_ERR", "1E"),
        ("VPEC", "1E"),
        ("VPEC_ERR", "1E"),
    ]
    cols += _hostgal("HOSTGAL", first=True)
    if zq:
        cols += [(f"HOSTGAL_ZPHOT_Q{q}", "1E") for q in _Q]
    cols += _per_band("HOSTGAL_MAG_", "1E") + _per_band("HOSTGAL_MAGERR_", "1E")
    cols += _hostgal("HOSTGAL2", first=False)
    cols += _per_band("HOSTGAL2_MAG_", "1E") + _per_band("HOSTGAL2_MAGERR_", "1E")
    if zq:
        cols += [(f"HOSTGAL2_ZPHOT_Q{q}", "1E") for q in _Q]
    cols += _per_band("HOSTGAL_SB_FLUXCAL_", "1E")
    cols += [
        ("PEAKMJD", "1E"),
        ("MJD_TRIGGER", "1E"),
        ("MJD_DETECT_FIRST", "1E"),
        ("MJD_DETECT_LAST", "1E"),
        ("SEARCH_TYPE", "1J"),
        ("SIM_MODEL_NAME", "32A"),
        ("SIM_MODEL_INDEX", "1I"),
        ("SIM_TYPE_INDEX", "1I"),
        ("SIM_TYPE_NAME", "8A"),
        ("SIM_TEMPLATE_INDEX", "1J"),
        ("SIM_LIBID", "1J"),
        ("SIM_NGEN_LIBID", "1J"),
        ("SIM_NOBS_UNDEFINED", "1J"),
        ("SIM_SEARCHEFF_MASK", "1J"),
        ("SIM_REDSHIFT_HELIO", "1E"),
        ("SIM_REDSHIFT_CMB", "1E"),
        ("SIM_REDSHIFT_HOST", "1E"),
        ("SIM_REDSHIFT_FLAG", "1I"),
        ("SIM_VPEC", "1E"),
        ("SIM_HOSTLIB_GALID", "1K"),
    ]
    if layout in ("host", "salt"):
        cols += [("SIM_HOSTLIB(LOGMASS_TRUE)", "1E"), ("SIM_HOSTLIB(LOG_SFR)", "1E")]
    elif layout == "kn":
        cols += [(f"SIM_HOSTLIB({b}_obs)", "1E") for b in ("g", "r", "i")]
    cols += [
        ("SIM_DLMU", "1E"),
        ("SIM_LENSDMU", "1E"),
        ("SIM_RA", "1D"),
        ("SIM_DEC", "1D"),
        ("SIM_MWEBV", "1E"),
        ("SIM_PEAKMJD", "1E"),
        ("SIM_MJD_EXPLODE", "1E"),
        ("SIM_MAGSMEAR_COH", "1E"),
        ("SIM_AV", "1E"),
        ("SIM_RV", "1E"),
    ]
    if layout == "salt":
        cols += [
            (f"SIM_SALT2{p}", "1E") for p in ("x0", "x1", "c", "mB", "alpha", "beta", "gammaDM")
        ]
    cols += _per_band("SIM_PEAKMAG_", "1E")
    if layout == "lclib":
        cols += _per_band("SIM_TEMPLATEMAG_", "1E")
    cols += _per_band("SIM_EXPOSURE_", "1E")
    if layout != "lclib":
        cols += _per_band("SIM_GALFRAC_", "1E")
    cols += [("SIM_SUBSAMPLE_INDEX", "1I")]
    return cols


HEAD_LAYOUTS: dict[str, list[tuple[str, str]]] = {
    k: head_columns(k) for k in ("host", "salt", "kn", "lclib")
}

#: The 21 PHOT columns (name, TFORM), in file order.
PHOT_COLUMNS: list[tuple[str, str]] = [
    ("MJD", "1D"),
    ("BAND", "2A"),
    ("CCDNUM", "1I"),
    ("FIELD", "12A"),
    ("PHOTFLAG", "1J"),
    ("PHOTPROB", "1E"),
    ("FLUXCAL", "1E"),
    ("FLUXCALERR", "1E"),
    ("PSF_SIG1", "1E"),
    ("PSF_SIG2", "1E"),
    ("PSF_RATIO", "1E"),
    ("SKY_SIG", "1E"),
    ("SKY_SIG_T", "1E"),
    ("RDNOISE", "1E"),
    ("ZEROPT", "1E"),
    ("ZEROPT_ERR", "1E"),
    ("GAIN", "1E"),
    ("XPIX", "1E"),
    ("YPIX", "1E"),
    ("SIM_FLUXCAL_HOSTERR", "1E"),
    ("SIM_MAGOBS", "1E"),
]

#: The PHOT columns kept in the Parquet list columns (``lib_elasticc2``), in order.
PARQUET_PHOT_COLUMNS: tuple[str, ...] = (
    "MJD",
    "BAND",
    "PHOTFLAG",
    "PHOTPROB",
    "FLUXCAL",
    "FLUXCALERR",
    "PSF_SIG1",
    "SKY_SIG",
    "RDNOISE",
    "ZEROPT",
    "ZEROPT_ERR",
    "GAIN",
    "SIM_MAGOBS",
)

#: HEAD columns that ``lib_elasticc2`` drops (and so the Parquet files lack).
PARQUET_DROPPED: tuple[str, ...] = ("IAUC", "FAKE", "PIXSIZE", "NXPIX", "NYPIX", "SEARCH_TYPE")

#: The 35 SIMGEN_DUMP variables of the ELAsTiCC2 training sample (``ELASTICC2_TRAIN_0x``).
DUMP_VARNAMES_TRAIN: tuple[str, ...] = (
    "CID",
    "LIBID",
    "SIM_SEARCHEFF_MASK",
    "GENTYPE",
    "NON1A_INDEX",
    "ZCMB",
    "ZHELIO",
    "ZCMB_SMEAR",
    "RA",
    "DEC",
    "MWEBV",
    "GALID",
    "GALZPHOT",
    "GALZPHOTERR",
    "GALSNSEP",
    "GALSNDDLR",
    "RV",
    "AV",
    "MU",
    "LENSDMU",
    "PEAKMJD",
    "MJD_DETECT_FIRST",
    "MJD_DETECT_LAST",
    "DTSEASON_PEAK",
    *(f"PEAKMAG_{b}" for b in BANDS),
    "SNRMAX",
    "SNRMAX2",
    "SNRMAX3",
    "NOBS",
    "NOBS_SATURATE",
)

#: The 47 SIMGEN_DUMP variables of the ELAsTiCC2 test set (``ELASTICC2_FINAL_*``).
DUMP_VARNAMES_FINAL: tuple[str, ...] = (
    *DUMP_VARNAMES_TRAIN,
    "VPEC",
    "MAGSMEAR_COH",
    "GALNMATCH",
    "GALRANDOM_RADIUS",
    "GALRANDOM_PHI",
    "PERIOD",
    *(f"WIDTH_{b}" for b in BANDS),
)

#: DUMP columns written as integers (every other DUMP column is a float).
DUMP_INT_COLUMNS: frozenset[str] = frozenset(
    {
        "CID",
        "LIBID",
        "SIM_SEARCHEFF_MASK",
        "GENTYPE",
        "NON1A_INDEX",
        "GALID",
        "NOBS",
        "NOBS_SATURATE",
        "GALNMATCH",
    }
)
