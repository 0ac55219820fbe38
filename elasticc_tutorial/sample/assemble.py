"""Turn simulated, observed objects into the SNANA tables: HEAD, PHOT and the ``.DUMP`` truth.

:func:`assemble` is called by :func:`elasticc_tutorial.sample.simulate.simulate_model` with the
objects that passed the trigger. Each concern has its own function:

* :func:`trigger_flags`: the first detection of each object gets TRIGGER|DETECT (6144);
* :func:`detection_epochs`: ``MJD_DETECT_FIRST`` (= ``MJD_TRIGGER``, as in the real files) and
  ``MJD_DETECT_LAST``;
* :func:`measured_peak`: ``PEAKMJD``, the epoch of the largest detected flux;
* :func:`snr_maxima`: ``SNRMAX``/``SNRMAX2``/``SNRMAX3``, the best S/N in the best, second and
  third band;
* :func:`true_peak`: ``SIM_PEAKMJD`` and ``SIM_PEAKMAG_<band>`` (the true peak of a transient, the
  visit with the largest true difference flux of a variable);
* :func:`head_values`: the HEAD columns, in blocks (identity and measurements, redshift and
  distance, SALT parameters, host galaxy);
* :func:`phot_frame` and :func:`truth_frame`: the PHOT rows and the DUMP rows.

``DTSEASON_PEAK`` is the distance of the true peak from the nearest season edge (positive inside a
season); ``WIDTH_<band>`` the observer-frame days above half peak flux (transients, -9 otherwise);
``PERIOD`` the period of periodic variables (-9 otherwise).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from elasticc_tutorial.photometry import (
    BANDS,
    PHOTFLAG_DETECT,
    PHOTFLAG_TRIGGER,
    ZP_FLUXCAL,
    mag_to_flux,
)
from elasticc_tutorial.sample import cadence, models
from elasticc_tutorial.sample.campaign import ModelSample
from elasticc_tutorial.sample.layouts import (
    DUMP_INT_COLUMNS,
    DUMP_VARNAMES_FINAL,
    HEAD_LAYOUTS,
    PHOT_COLUMNS,
)
from elasticc_tutorial.taxonomy import MODEL_GENTYPES

__all__ = [
    "assemble",
    "detection_epochs",
    "head_values",
    "measured_peak",
    "phot_frame",
    "polars_dtype",
    "snr_maxima",
    "trigger_flags",
    "true_peak",
    "truth_frame",
]

_NB = len(BANDS)
_ZQ_NAMES = ("000", "010", "020", "030", "040", "050", "060", "070", "080", "090", "100")
_POLARS_OF_TFORM = {
    "1D": pl.Float64,
    "1E": pl.Float32,
    "1J": pl.Int32,
    "1I": pl.Int16,
    "1K": pl.Int64,
}


def polars_dtype(tform: str) -> type[pl.DataType]:
    """The polars dtype of a FITS TFORM (``nA`` -> String)."""
    return pl.String if tform.endswith("A") else _POLARS_OF_TFORM[tform]


# ------------------------------------------------------------------- per-object statistics
def trigger_flags(obj: np.ndarray, photflag: np.ndarray) -> np.ndarray:
    """``photflag`` with TRIGGER added to the first detection of each object (rows in time order)."""
    det = np.nonzero(photflag & PHOTFLAG_DETECT)[0]
    _, first = np.unique(obj[det], return_index=True)
    out = photflag.astype(np.int32)
    out[det[first]] |= PHOTFLAG_TRIGGER
    return out


def _per_object_first(
    obj: np.ndarray, mask: np.ndarray, values: np.ndarray, n: int, *, last: bool = False
) -> np.ndarray:
    out = np.full(n, -9.0)
    idx = np.nonzero(mask)[0]
    if last:
        idx = idx[::-1]
    o = obj[idx]
    _, first = np.unique(o, return_index=True)
    out[o[first]] = values[idx[first]]
    return out


def detection_epochs(
    obj: np.ndarray, det: np.ndarray, mjd: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) detection MJD of each of ``n`` objects (-9 without detections)."""
    return _per_object_first(obj, det, mjd, n), _per_object_first(obj, det, mjd, n, last=True)


def _argmax_per_object(obj: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Row index of each object's largest ``values`` (objects 0..n-1, each with rows)."""
    order = np.lexsort((-values, obj))
    _, first = np.unique(obj[order], return_index=True)
    return order[first]


def measured_peak(
    obj: np.ndarray, det: np.ndarray, fluxcal: np.ndarray, mjd: np.ndarray
) -> np.ndarray:
    """PEAKMJD: the epoch of each object's largest detected flux."""
    return mjd[_argmax_per_object(obj, np.where(det, fluxcal, -np.inf))]


def snr_maxima(obj: np.ndarray, band: np.ndarray, snr: np.ndarray, n: int) -> np.ndarray:
    """(n, 3): the best S/N of the best, second-best and third-best band (-9 if fewer bands)."""
    best = np.full((n, _NB), -np.inf)
    np.maximum.at(best, (obj, band), snr)
    best = -np.sort(-best, axis=1)[:, :3]
    return np.where(np.isfinite(best), best, -9.0)


def true_peak(
    spec: models.ModelSpec, rng: np.random.Generator, p: dict, r: dict, n: int, mags
) -> tuple[np.ndarray, np.ndarray]:
    """(SIM_PEAKMJD, SIM_PEAKMAG (n, 6)). ``mags(spec, rng, p, obj, mjd, band)`` evaluates the
    model; transients peak at their drawn ``t_peak``, variables at the visit with the largest
    true difference flux (AGN: the mean magnitude, the template)."""
    obj_b = np.repeat(np.arange(n), _NB)
    band_b = np.tile(np.arange(_NB), n)
    if spec.galactic or spec.kind == "agn":
        peak = r["mjd"][_argmax_per_object(r["obj"], r["ftrue"])]
        if spec.kind == "agn":
            return peak, p["template"].copy()
        return peak, mags(spec, rng, p, obj_b, np.repeat(peak, _NB), band_b)[0].reshape(n, _NB)
    peak = p["t_peak"]
    assert spec.transient is not None  # neither galactic nor AGN: an explosive transient
    mag = models.transient_mags(spec.transient, p, obj_b, np.repeat(peak, _NB), band_b)
    return peak, mag.reshape(n, _NB)


def _widths(spec: models.ModelSpec, p: dict, n: int) -> np.ndarray:
    """Observer-frame days each band spends brighter than half its peak flux."""
    # transients have a window around their peak and a light-curve model
    assert spec.window is not None and spec.transient is not None
    lo, hi = spec.window
    k = 300
    frac = np.linspace(0.0, 1.0, k)
    out = np.empty((n, _NB))
    for b in range(_NB):
        t = p["t_peak"][:, None] + (lo + (hi - lo) * frac[None, :]) * (1.0 + p["z"][:, None])
        obj = np.repeat(np.arange(n), k)
        m = models.transient_mags(spec.transient, p, obj, t.ravel(), np.full(n * k, b))
        m = m.reshape(n, k)
        f = 10.0 ** (-0.4 * (m - m.min(axis=1, keepdims=True)))
        out[:, b] = (f > 0.5).sum(axis=1) * (hi - lo) / (k - 1) * (1.0 + p["z"])
    return out


def _dtseason(peak: np.ndarray, ra: np.ndarray) -> np.ndarray:
    season = cadence.in_season(peak, ra)
    ph = (peak - cadence.season_center(ra) + 182.625) % 365.25 - 182.625
    return np.where(season, 92.0 - np.abs(ph), -(np.abs(ph) - 92.0))


# ---------------------------------------------------------------------------- HEAD blocks
def _identity_columns(spec, p: dict, s: dict) -> dict:
    """Identity, measurements and simulation bookkeeping shared by every layout."""
    h = {
        "SNID": s["snid"].astype(str),
        "IAUC": "NULL",
        "FAKE": 2,
        "RA": np.round(p["ra"], 6),
        "DEC": np.round(p["dec"], 6),
        "PIXSIZE": 0.2,
        "NXPIX": -9,
        "NYPIX": -9,
        "SNTYPE": s["sntype"],
        "NOBS": s["nobs"],
        "PTROBS_MIN": -9,
        "PTROBS_MAX": -9,
        "MWEBV": s["mwebv_meas"],
        "MWEBV_ERR": 0.05 * s["mwebv_meas"],
        "HOSTGAL_CONFUSION": -99.0,
        "PEAKMJD": s["peakmjd"],
        "MJD_TRIGGER": s["mjd_first"],
        "MJD_DETECT_FIRST": s["mjd_first"],
        "MJD_DETECT_LAST": s["mjd_last"],
        "SEARCH_TYPE": -9,
        "SIM_MODEL_NAME": spec.sim_model_name,
        "SIM_MODEL_INDEX": spec.model_index,
        "SIM_TYPE_INDEX": s["gentype"],
        "SIM_TYPE_NAME": spec.sim_type_name[:8],
        "SIM_TEMPLATE_INDEX": s["template_index"],
        "SIM_LIBID": s["libid"],
        "SIM_NGEN_LIBID": 1,
        "SIM_NOBS_UNDEFINED": 0,
        "SIM_SEARCHEFF_MASK": s["searcheff_mask"],
        "SIM_RA": p["ra"],
        "SIM_DEC": p["dec"],
        "SIM_PEAKMJD": s["sim_peakmjd"],
        "SIM_SUBSAMPLE_INDEX": -9,
    }
    for i, b in enumerate(BANDS):
        h[f"SIM_PEAKMAG_{b}"] = s["peak_mag"][:, i]
        h[f"SIM_EXPOSURE_{b}"] = 1.0
    return h


def _galactic_columns(p: dict) -> dict:
    """LCLIB models: no redshift, no distance; the template magnitudes."""
    h = {f"SIM_TEMPLATEMAG_{b}": p["template"][:, i] for i, b in enumerate(BANDS)}
    h.update(dict.fromkeys(("REDSHIFT_HELIO", "REDSHIFT_HELIO_ERR"), -9.0))
    h.update(dict.fromkeys(("REDSHIFT_FINAL", "REDSHIFT_FINAL_ERR"), -9.0))
    h.update(dict.fromkeys(("VPEC", "VPEC_ERR", "SIM_REDSHIFT_HELIO", "SIM_REDSHIFT_CMB"), 0.0))
    h.update(dict.fromkeys(("SIM_REDSHIFT_HOST", "SIM_VPEC", "SIM_DLMU", "SIM_LENSDMU"), 0.0))
    h.update(dict.fromkeys(("SIM_MWEBV", "SIM_MAGSMEAR_COH"), 0.0))
    h.update(dict.fromkeys(("SIM_MJD_EXPLODE", "SIM_AV", "SIM_RV"), -9.0))
    h.update({"SIM_REDSHIFT_FLAG": 1, "SIM_HOSTLIB_GALID": -9})
    return h


def _redshift_columns(spec, p: dict, zhelio: np.ndarray, peak_mag: np.ndarray) -> dict:
    """Extragalactic models: measured and true redshift, distance, dust, host-library values.

    The measured redshift is the host's spec-z if it has one, else its photo-z; a hostless
    object has neither (-9), as in SNANA.
    """
    n = len(zhelio)
    if spec.hostless:
        zmeas, zerr, zfinal = np.full(n, -9.0), np.full(n, -9.0), np.full(n, -9.0)
    else:
        zmeas = np.where(p["has_specz"], p["specz"], p["zphot"])
        zerr = np.where(p["has_specz"], 1e-4, p["zphot_err"])
        zfinal = (1.0 + zmeas) * (1.0 + p["z"]) / (1.0 + zhelio) - 1.0
    av = p.get("av", np.zeros(n))
    h = {
        "REDSHIFT_HELIO": zmeas,
        "REDSHIFT_HELIO_ERR": zerr,
        "REDSHIFT_FINAL": zfinal,
        "REDSHIFT_FINAL_ERR": zerr,
        "VPEC": 0.0,
        "VPEC_ERR": 300.0,
        "SIM_REDSHIFT_HELIO": zhelio,
        "SIM_REDSHIFT_CMB": p["z"],
        "SIM_REDSHIFT_HOST": p["z"],
        "SIM_REDSHIFT_FLAG": 3,
        "SIM_VPEC": p["vpec"],
        "SIM_HOSTLIB_GALID": -9 if spec.hostless else p["galid"],
        "SIM_HOSTLIB(LOGMASS_TRUE)": p["logmass"],
        "SIM_HOSTLIB(LOG_SFR)": p["logsfr"],
        "SIM_DLMU": p["mu"],
        "SIM_LENSDMU": p["lensdmu"],
        "SIM_MWEBV": p["mwebv"],
        "SIM_MJD_EXPLODE": p.get("t_explode", np.full(n, -9.0)),
        "SIM_MAGSMEAR_COH": p.get("magsmear", np.zeros(n)),
        "SIM_AV": np.where(av > 0, av, -9.0),
        "SIM_RV": np.where(av > 0, 3.1, -9.0),
    }
    for i, b in enumerate(("g", "r", "i")):
        h[f"SIM_HOSTLIB({b}_obs)"] = p["host_mag"][:, i + 1]
    for i, b in enumerate(BANDS):
        h[f"SIM_GALFRAC_{b}"] = 10.0 ** (-0.4 * (p["host_mag"][:, i] - peak_mag[:, i])) * 0.05
    return h


def _salt_columns(p: dict) -> dict:
    """SALT2/3 parameters; mB is the observed-frame B peak: Tripp M_B (incl. beta c) + mu."""
    mb = p["m_abs"] + 3.1 * p["salt_c"] + p["mu"] + p.get("lens_mag", 0.0)
    return {
        "SIM_SALT2x0": 10.0 ** (-0.4 * (mb - 10.635)),
        "SIM_SALT2x1": p["salt_x1"],
        "SIM_SALT2c": p["salt_c"],
        "SIM_SALT2mB": mb,
        "SIM_SALT2alpha": 0.14,
        "SIM_SALT2beta": 3.1,
        "SIM_SALT2gammaDM": p["salt_gamma"],
    }


def _host_columns(p: dict, has_host: bool) -> dict:
    """HOSTGAL_* / HOSTGAL2_*; objects without a host get the no-host sentinels of the real files."""
    h: dict = {}
    for pre in ("HOSTGAL", "HOSTGAL2"):
        for q in ("LOGMASS", "LOGSFR", "LOGsSFR", "COLOR"):
            h[f"{pre}_{q}"] = h[f"{pre}_{q}_ERR"] = -9999.0
        h[f"{pre}_ELLIPTICITY"] = h[f"{pre}_SQRADIUS"] = -9999.0
        for c in ("OBJID2", "OBJID_UNIQUE", "OBJID", "FLAG"):
            h[f"{pre}_{c}"] = 0
        for c in ("PHOTOZ", "PHOTOZ_ERR", "SPECZ", "SPECZ_ERR", "SNSEP", "DDLR"):
            h[f"{pre}_{c}"] = -9.0
        h[f"{pre}_RA"] = h[f"{pre}_DEC"] = -999.0
        for b in BANDS:
            h[f"{pre}_MAG_{b}"] = h[f"{pre}_MAGERR_{b}"] = 999.0
        for q in _ZQ_NAMES:
            h[f"{pre}_ZPHOT_Q{q}"] = -9.0
    h["HOSTGAL_NMATCH"] = h["HOSTGAL_NMATCH2"] = 0
    for b in BANDS:
        h[f"HOSTGAL_SB_FLUXCAL_{b}"] = -999.0
    if not has_host:
        return h
    h.update(
        {
            "HOSTGAL_NMATCH": 1,
            "HOSTGAL_NMATCH2": 1,
            "HOSTGAL_OBJID": p["galid"],
            "HOSTGAL_PHOTOZ": p["zphot"],
            "HOSTGAL_PHOTOZ_ERR": p["zphot_err"],
            "HOSTGAL_SPECZ": p["specz"],
            "HOSTGAL_SPECZ_ERR": np.where(p["has_specz"], 1e-4, -9.0),
            "HOSTGAL_RA": p["host_ra"],
            "HOSTGAL_DEC": p["host_dec"],
            "HOSTGAL_SNSEP": p["host_sep"],
            "HOSTGAL_DDLR": p["host_ddlr"],
            "HOSTGAL_LOGMASS": p["logmass"],
            "HOSTGAL_ELLIPTICITY": p["host_ell"],
            "HOSTGAL_SQRADIUS": (p["host_size"] / 0.2) ** 2,
            "HOSTGAL_OBJID2": -9,
            "HOSTGAL_OBJID_UNIQUE": -9,
        }
    )
    for i, q in enumerate(_ZQ_NAMES):
        h[f"HOSTGAL_ZPHOT_Q{q}"] = p["zphot_q"][:, i]
    for i, b in enumerate(BANDS):
        h[f"HOSTGAL_MAG_{b}"] = p["host_mag"][:, i]
        h[f"HOSTGAL_MAGERR_{b}"] = p["host_magerr"][:, i]
        # surface brightness within the half-light radius, in FLUXCAL per arcsec^2
        h[f"HOSTGAL_SB_FLUXCAL_{b}"] = mag_to_flux(p["host_mag"][:, i], ZP_FLUXCAL) / (
            np.pi * p["host_size"] ** 2
        )
    return h


def head_values(spec: models.ModelSpec, p: dict, s: dict, zhelio: np.ndarray) -> dict:
    """Every HEAD column of ``spec``'s layout (scalars broadcast), from the drawn parameters ``p``
    and the per-object statistics ``s``."""
    h = _identity_columns(spec, p, s)
    h.update(_host_columns(p, has_host=not (spec.galactic or spec.hostless)))
    if spec.galactic:
        h.update(_galactic_columns(p))
    else:
        h.update(_redshift_columns(spec, p, zhelio, s["peak_mag"]))
        if spec.layout == "salt":
            h.update(_salt_columns(p))
    return h


def _frame(layout: list[tuple[str, str]], values: dict, n: int) -> pl.DataFrame:
    """A polars frame with exactly the ``layout`` columns, dtypes from the TFORMs."""
    cols = []
    for name, tform in layout:
        if name not in values:
            raise KeyError(f"simulator did not produce HEAD column {name!r}")
        v = np.broadcast_to(np.asarray(values[name]), (n,))
        dtype = polars_dtype(tform)
        if dtype == pl.String:
            cols.append(pl.Series(name, v.astype(str), dtype=pl.String))
        elif dtype in (pl.Float32, pl.Float64):
            cols.append(pl.Series(name, v.astype(np.float64)).cast(dtype))
        else:
            cols.append(pl.Series(name, np.round(v).astype(np.int64)).cast(dtype))
    return pl.DataFrame(cols)


# ------------------------------------------------------------------------ PHOT and truth
def phot_frame(snid: np.ndarray, r: dict) -> pl.DataFrame:
    """The PHOT rows (column ``SNID`` + the 21 SNANA columns), objects in order, time ordered."""
    m = r["mjd"].size

    def const(value, dtype):
        return pl.Series(np.full(m, value), dtype=dtype)

    sim_magobs = np.where(np.isfinite(r["mag"]), np.minimum(r["mag"], 99.0), 99.0)
    phot = pl.DataFrame(
        {
            "SNID": pl.Series(snid[r["obj"]], dtype=pl.Int64),
            "MJD": pl.Series(r["mjd"], dtype=pl.Float64),
            "BAND": pl.Series(np.array(BANDS)[r["band"]], dtype=pl.String),
            "CCDNUM": const(-9, pl.Int16),
            "FIELD": const("VOID", pl.String),
            "PHOTFLAG": pl.Series(r["photflag"], dtype=pl.Int32),
            "PHOTPROB": const(-9.0, pl.Float32),
            "FLUXCAL": pl.Series(r["fluxcal"], dtype=pl.Float32),
            "FLUXCALERR": pl.Series(r["fluxcalerr"], dtype=pl.Float32),
            "PSF_SIG1": pl.Series(r["psf"], dtype=pl.Float32),
            "PSF_SIG2": const(0.0, pl.Float32),
            "PSF_RATIO": const(0.0, pl.Float32),
            "SKY_SIG": pl.Series(r["sky"], dtype=pl.Float32),
            "SKY_SIG_T": const(0.0, pl.Float32),
            "RDNOISE": const(0.25, pl.Float32),
            "ZEROPT": pl.Series(r["zp"], dtype=pl.Float32),
            "ZEROPT_ERR": const(0.005, pl.Float32),
            "GAIN": const(1.0, pl.Float32),
            "XPIX": const(-9.0, pl.Float32),
            "YPIX": const(-9.0, pl.Float32),
            "SIM_FLUXCAL_HOSTERR": const(0.0, pl.Float32),
            "SIM_MAGOBS": pl.Series(sim_magobs, dtype=pl.Float32),
        }
    )
    if phot.columns[1:] != [c for c, _ in PHOT_COLUMNS]:  # pragma: no cover - programming error
        raise RuntimeError("PHOT columns out of step with layouts.PHOT_COLUMNS")
    return phot


def truth_frame(spec, p: dict, s: dict, h: dict, zhelio: np.ndarray, r: dict) -> pl.DataFrame:
    """The 47 FINAL ``.DUMP`` columns (the training DUMP is a subset), one row per object."""
    n = len(s["snid"])
    gal = spec.galactic
    t: dict = {
        "CID": s["snid"],
        "LIBID": s["libid"],
        "SIM_SEARCHEFF_MASK": s["searcheff_mask"],
        "GENTYPE": s["gentype"],
        "NON1A_INDEX": s["template_index"],
        "ZCMB": 0.0 if gal else p["z"],
        "ZHELIO": zhelio,
        "ZCMB_SMEAR": -9.0 if gal else h["REDSHIFT_FINAL"],
        "RA": p["ra"],
        "DEC": p["dec"],
        "MWEBV": 0.0 if gal else p["mwebv"],
        "GALID": -9 if gal or spec.hostless else p["galid"],
        "GALZPHOT": -9.0 if gal or spec.hostless else p["zphot"],
        "GALZPHOTERR": -9.0 if gal or spec.hostless else p["zphot_err"],
        "GALSNSEP": 0.0 if gal else p["host_sep"],
        "GALSNDDLR": 0.0 if gal else p["host_ddlr"],
        "RV": h["SIM_RV"],
        "AV": h["SIM_AV"],
        "MU": 0.0 if gal else p["mu"],
        "LENSDMU": 0.0 if gal else p["lensdmu"],
        "PEAKMJD": s["sim_peakmjd"],
        "MJD_DETECT_FIRST": s["mjd_first"],
        "MJD_DETECT_LAST": s["mjd_last"],
        "DTSEASON_PEAK": _dtseason(s["sim_peakmjd"], p["ra"]),
        "SNRMAX": s["snrmax"][:, 0],
        "SNRMAX2": s["snrmax"][:, 1],
        "SNRMAX3": s["snrmax"][:, 2],
        "NOBS": s["nobs"],
        "NOBS_SATURATE": np.bincount(r["obj"], weights=r["sat"], minlength=n).astype(int),
        "VPEC": 0.0 if gal else p["vpec"],
        "MAGSMEAR_COH": h["SIM_MAGSMEAR_COH"],
        "GALNMATCH": 0 if gal or spec.hostless else 1,
        "GALRANDOM_RADIUS": 0.0 if gal else p["host_sep"],
        "GALRANDOM_PHI": 0.0 if gal else p["host_phi"],
        "PERIOD": p.get("period", -9.0),
    }
    for i, b in enumerate(BANDS):
        t[f"PEAKMAG_{b}"] = s["peak_mag"][:, i]
        t[f"WIDTH_{b}"] = s["width"][:, i]
    return pl.DataFrame(
        {
            k: pl.Series(
                np.broadcast_to(np.asarray(t[k]), (n,)),
                dtype=pl.Int64 if k in DUMP_INT_COLUMNS else pl.Float64,
            )
            for k in DUMP_VARNAMES_FINAL
        }
    )


# ------------------------------------------------------------------------------ assembly
def assemble(
    spec: models.ModelSpec,
    rng: np.random.Generator,
    p: dict,
    r: dict,
    n: int,
    snid_base: int,
    *,
    mags,
    zhelio: np.ndarray,
    n_generated: int,
) -> ModelSample:
    """The :class:`ModelSample` of ``n`` kept objects: parameters ``p`` (one entry per object),
    visit rows ``r`` (``obj``, ``mjd``, ``band``, ``mag``, ``ftrue``, ``fluxcal``,
    ``fluxcalerr``, ``photflag``, ``psf``, ``sky``, ``zp``, ``sat``; time ordered per object)."""
    gentype = MODEL_GENTYPES[spec.name]
    obj, mjd = r["obj"], r["mjd"]
    r["photflag"] = trigger_flags(obj, r["photflag"])
    det = (r["photflag"] & PHOTFLAG_DETECT) > 0
    snr = np.where(r["sat"], 0.0, r["fluxcal"] / r["fluxcalerr"])
    s: dict = {"gentype": gentype, "nobs": np.bincount(obj, minlength=n)}
    s["snid"] = snid_base + rng.choice(9_000_000, size=n, replace=False)
    s["mjd_first"], s["mjd_last"] = detection_epochs(obj, det, mjd, n)
    s["peakmjd"] = measured_peak(obj, det, r["fluxcal"], mjd)
    s["snrmax"] = snr_maxima(obj, r["band"], snr, n)
    s["sim_peakmjd"], s["peak_mag"] = true_peak(spec, rng, p, r, n, mags)
    transient = not (spec.galactic or spec.kind == "agn")
    s["width"] = _widths(spec, p, n) if transient else np.full((n, _NB), -9.0)
    # bright objects are more often spectroscopically confirmed (SNTYPE = gentype, else +100)
    spec_conf = rng.random(n) < np.where(s["peak_mag"].min(axis=1) < 21.0, 0.5, 0.1)
    s["sntype"] = np.where(spec_conf, gentype, gentype + 100)
    s["searcheff_mask"] = np.where(spec_conf, 3, 1)
    s["libid"] = rng.integers(1, 50000, n)
    s["template_index"] = rng.integers(1, 1000, n) if spec.layout != "salt" else np.full(n, -9)
    s["mwebv_meas"] = p["mwebv"] * (1.0 + rng.normal(0.0, 0.05, n))
    h = head_values(spec, p, s, zhelio)
    return ModelSample(
        model=spec.name,
        gentype=gentype,
        head=_frame(HEAD_LAYOUTS[spec.layout], h, n),
        phot=phot_frame(s["snid"], r),
        truth=truth_frame(spec, p, s, h, zhelio, r),
        n_generated=n_generated,
    )
