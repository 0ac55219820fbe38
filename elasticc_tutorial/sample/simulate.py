"""Simulate one SNANA model: draw objects, observe them, keep those that pass the trigger.

The procedure mirrors a SNANA catalogue simulation: objects are generated with random sky
positions, epochs and (for extragalactic models) redshifts from the comoving volume, observed with
the LSST-like cadence of :mod:`~elasticc_tutorial.sample.cadence`, and *written only if they pass
the trigger* (at least one detection and at least 10 unsaturated epochs, SNANA's
``CUTWIN_NOBS_NOSATURATE: 10``), which builds in the Malmquist bias of the real sample.

Extragalactic redshifts follow dN/dz proportional to dV_c/dz / (1+z) (a constant volumetric rate
in the rest frame). Galactic objects are concentrated towards the Galactic plane
(acceptance exp(-|b| / 15 deg) + 0.05). Galactic extinction: E(B-V) = 0.025 / sin|b| (a
plane-parallel dust slab, capped at 1.5) times a log-normal 30 % scatter; reddening coefficients
R_b of Schlafly & Finkbeiner (2011) for the LSST bands. ``MWEBV_APPLYFLAG = 0``: FLUXCAL is *not*
corrected for Galactic extinction, exactly as in ELAsTiCC2.

Derived columns: the first detection of each object is flagged TRIGGER|DETECT (6144) and gives
``MJD_TRIGGER`` (= ``MJD_DETECT_FIRST``, as in the real files); ``PEAKMJD`` is the epoch of the
largest detected flux, ``SIM_PEAKMJD`` the true peak (transients) or the visit with the largest
true difference flux (variables); ``SNRMAX``/``SNRMAX2``/``SNRMAX3`` are the best S/N in the best,
second and third band; ``DTSEASON_PEAK`` is the distance of the true peak from the nearest season
edge (positive inside a season); ``WIDTH_<band>`` the observer-frame days above half peak flux
(transients, -9 otherwise); ``PERIOD`` the period of periodic variables (-9 otherwise). The
training set's ``.DUMP`` has the 35 ELAsTiCC2 training VARNAMES, the test set's the 47 FINAL ones.

Each model uses its own ``numpy.random.Generator(PCG64)`` seeded with ``seed`` and a stable hash
of the model name (:func:`model_seed`), so models are independent and reproducible one by one.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl
from astropy import units as u
from astropy.coordinates import SkyCoord

from elasticc_tutorial.sample import cadence, models
from elasticc_tutorial.sample.campaign import ModelSample
from elasticc_tutorial.sample.layouts import (
    BANDS,
    DUMP_INT_COLUMNS,
    DUMP_VARNAMES_FINAL,
    HEAD_LAYOUTS,
    PHOT_COLUMNS,
)
from elasticc_tutorial.taxonomy import MODEL_GENTYPES

__all__ = ["model_seed", "simulate_model"]

R_MW = np.array([4.145, 3.237, 2.273, 1.684, 1.323, 1.088])
_C_KMS = 299792.458
_DIPOLE_V, _DIPOLE_RA, _DIPOLE_DEC = 369.82, 168.01, -6.98
_ZQ = np.array(
    [-2.5758, -1.2816, -0.8416, -0.5244, -0.2533, 0.0, 0.2533, 0.5244, 0.8416, 1.2816, 2.5758]
)
_HOST_COLOUR = np.array([1.8, 0.6, 0.0, -0.3, -0.45, -0.6])
DDF_FRACTION = 0.03
#: candidates simulated at once; bounds the memory of one model whatever the sample size
MAX_BATCH = 2000

_POLARS_OF_TFORM = {
    "1D": pl.Float64,
    "1E": pl.Float32,
    "1J": pl.Int32,
    "1I": pl.Int16,
    "1K": pl.Int64,
}


def model_seed(seed: int, model: str, *, offset: int = 0) -> np.random.Generator:
    """A Generator(PCG64) for ``model``: seed plus a stable (process-independent) hash of its name."""
    digest = hashlib.sha256(model.encode()).digest()
    return np.random.Generator(
        np.random.PCG64([int(seed), int(offset), int.from_bytes(digest[:8], "little")])
    )


def polars_dtype(tform: str) -> pl.DataType:
    """The polars dtype of a FITS TFORM (``nA`` -> String)."""
    return pl.String if tform.endswith("A") else _POLARS_OF_TFORM[tform]


# ------------------------------------------------------------------------------ sky and redshift
def _sky(
    rng: np.random.Generator, n: int, galactic: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """RA, Dec (deg, LSST southern footprint) and Galactic latitude of ``n`` positions."""
    ra_all, dec_all, b_all = [], [], []
    got = 0
    while got < n:
        m = 4 * (n - got) + 8
        ra = rng.uniform(0.0, 360.0, m)
        dec = np.degrees(
            np.arcsin(rng.uniform(np.sin(np.radians(-75.0)), np.sin(np.radians(5.0)), m))
        )
        b = SkyCoord(ra=ra * u.deg, dec=dec * u.deg, frame="icrs").galactic.b.deg
        keep = rng.random(m) < (np.exp(-np.abs(b) / 15.0) + 0.05 if galactic else np.abs(b) > 10.0)
        ra_all.append(ra[keep])
        dec_all.append(dec[keep])
        b_all.append(b[keep])
        got += int(keep.sum())
    return (np.concatenate(ra_all)[:n], np.concatenate(dec_all)[:n], np.concatenate(b_all)[:n])


_Z_GRID: dict[tuple[float, float], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def _z_tables(zrange: tuple[float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if zrange not in _Z_GRID:
        z = np.linspace(zrange[0], zrange[1], 512)
        w = models.COSMOLOGY.differential_comoving_volume(z).value / (1.0 + z)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(z))])
        mu = models.COSMOLOGY.distmod(np.clip(z, 1e-4, None)).value
        _Z_GRID[zrange] = (z, cdf / cdf[-1], mu)
    return _Z_GRID[zrange]


# ------------------------------------------------------------------------------------ a batch
def _draw(spec: models.ModelSpec, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Draw ``n`` candidate objects of ``spec``."""
    p: dict[str, np.ndarray] = {}
    p["ra"], p["dec"], b = _sky(rng, n, spec.galactic)
    sinb = np.maximum(np.abs(np.sin(np.radians(b))), 0.02)
    p["mwebv"] = np.clip(0.025 / sinb, 0.0, 1.5) * rng.lognormal(0.0, 0.3, n)
    if spec.galactic:
        p["mw_ext"] = np.zeros((n, 6))  # LCLIB magnitudes include the extinction already
        models.draw_galactic(spec, rng, p)
        return p
    p["mw_ext"] = R_MW[None, :] * p["mwebv"][:, None]
    zgrid, cdf, mugrid = _z_tables(spec.zrange)
    p["z_cos"] = np.interp(rng.random(n), cdf, zgrid)
    p["mu"] = np.interp(p["z_cos"], zgrid, mugrid)
    p["vpec"] = rng.normal(0.0, 300.0, n)
    p["z"] = (1.0 + p["z_cos"]) * (1.0 + p["vpec"] / _C_KMS) - 1.0  # CMB frame incl. vpec
    p["lensdmu"] = rng.normal(0.0, 0.05 * p["z_cos"])
    _host(rng, p)
    if spec.kind == "agn":
        models.draw_agn(rng, p)
        return p
    post = spec.window[1] if spec.window else 100.0
    p["t_peak"] = rng.uniform(cadence.MJD_MIN - 0.3 * post, cadence.MJD_MAX + 20.0, n)
    models.draw_transient(spec, rng, p)
    return p


def _host(rng: np.random.Generator, p: dict[str, np.ndarray]) -> None:
    """Host-galaxy properties (HOSTGAL_* columns) and photometric redshifts."""
    n = len(p["z"])
    logm = np.clip(rng.normal(10.0, 0.6, n), 7.0, 12.0)
    p["logmass"] = logm
    p["logsfr"] = logm - 10.0 + rng.normal(0.0, 0.5, n)
    m_r = -20.8 - 1.8 * (logm - 10.5) + p["mu"] + 2.5 * np.log10(1.0 + p["z"])
    p["host_mag"] = (
        m_r[:, None]
        + _HOST_COLOUR[None, :] * (1.0 + 0.5 * p["z"][:, None])
        + rng.normal(0, 0.1, (n, 6))
    )
    p["host_magerr"] = 0.01 + 10.0 ** (0.4 * (p["host_mag"] - 27.0))
    size = rng.lognormal(0.0, 0.5, n)  # half-light radius, arcsec
    sep = size * rng.lognormal(-0.3, 0.7, n)
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    p["host_sep"], p["host_ddlr"], p["host_phi"], p["host_size"] = sep, sep / size, phi, size
    p["host_ra"] = p["ra"] - sep / 3600.0 * np.cos(phi) / np.cos(np.radians(p["dec"]))
    p["host_dec"] = p["dec"] - sep / 3600.0 * np.sin(phi)
    p["host_ell"] = rng.uniform(0.0, 0.8, n)
    sigz = 0.03 * (1.0 + p["z"]) * rng.lognormal(0.0, 0.5, n)
    zphot = p["z"] + sigz * rng.standard_normal(n)
    outlier = rng.random(n) < 0.05
    zphot = np.where(outlier, rng.uniform(0.01, 3.0, n), zphot).clip(0.001, None)
    p["zphot"], p["zphot_err"] = zphot, sigz
    p["zphot_q"] = np.clip(zphot[:, None] + sigz[:, None] * _ZQ[None, :], 0.0001, None)
    p["has_specz"] = (rng.random(n) < 0.25) & (p["host_mag"][:, 2] < 21.5)
    p["specz"] = np.where(p["has_specz"], p["z"] + rng.normal(0.0, 1e-4, n), -9.0)
    p["galid"] = rng.integers(10**9, 2 * 10**10, n)


def _helio(z_cmb: np.ndarray, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Heliocentric redshift of a CMB-frame redshift (CMB dipole, Planck 2018)."""
    sep = SkyCoord(ra=ra * u.deg, dec=dec * u.deg).separation(
        SkyCoord(ra=_DIPOLE_RA * u.deg, dec=_DIPOLE_DEC * u.deg)
    )
    cosang = np.cos(sep.radian)
    return (1.0 + z_cmb) / (1.0 + _DIPOLE_V * cosang / _C_KMS) - 1.0


def _mags(spec, rng, p, obj, mjd, band):
    """(true AB magnitude of the source at the visits, whether it has a template to subtract)."""
    if spec.galactic:
        return models.galactic_mags(spec, p, obj, mjd, band), True
    if spec.kind == "agn":
        return models.agn_mags(rng, p, obj, mjd, band), True
    return models.transient_mags(spec.transient, p, obj, mjd, band), False


def _observe_batch(spec: models.ModelSpec, rng: np.random.Generator, p: dict[str, np.ndarray]):
    n = len(p["ra"])
    if spec.window is None:
        lo = np.full(n, cadence.MJD_MIN)
        hi = np.full(n, cadence.MJD_MAX)
        ddf = np.zeros(n, bool)
    else:
        lo = p["t_peak"] + spec.window[0] * (1.0 + p["z"])
        hi = p["t_peak"] + spec.window[1] * (1.0 + p["z"])
        ddf = rng.random(n) < DDF_FRACTION
    obj, mjd, band = cadence.schedule(rng, p["ra"], lo, hi, ddf)
    mag, has_template = _mags(spec, rng, p, obj, mjd, band)
    flux_src = 10.0 ** (-0.4 * (mag - cadence.ZP_FLUXCAL))
    if has_template:
        tmpl_flux = 10.0 ** (-0.4 * (p["template"][obj, band] - cadence.ZP_FLUXCAL))
        flux_true, flux_total, mag_total = flux_src - tmpl_flux, flux_src, mag
    else:
        flux_true, flux_total, mag_total = flux_src, flux_src, mag
    vis = cadence.observe(rng, band, flux_true, flux_total, mag_total)
    return obj, mjd, band, mag, flux_true, vis, ddf


def simulate_model(
    model: str, n_objects: int, seed: int, *, snid_base: int, seed_offset: int = 0
) -> ModelSample:
    """Simulate ``n_objects`` objects of ``model`` that pass the trigger.

    ``snid_base`` + a random unique offset below 10^7 gives the SNIDs (unique per model and set).
    """
    if model not in models.MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of {sorted(models.MODELS)}")
    if n_objects < 1:
        raise ValueError(f"n_objects must be >= 1, got {n_objects}")
    spec = models.MODELS[model]
    rng = model_seed(seed, model, offset=seed_offset)
    parts = []
    kept = 0
    batch = min(max(32, 2 * n_objects), MAX_BATCH)
    for _ in range(200):
        p = _draw(spec, rng, batch)
        obj, mjd, band, mag, ftrue, vis, ddf = _observe_batch(spec, rng, p)
        det = (vis.photflag & cadence.PHOTFLAG_DETECT) > 0
        ndet = np.bincount(obj, weights=det, minlength=batch)
        nok = np.bincount(obj, weights=(~vis.saturated) & (band > 0), minlength=batch)
        passed = np.nonzero((ndet >= 1) & (nok >= 10))[0][: n_objects - kept]
        if passed.size:
            parts.append(_collect(spec, p, passed, obj, mjd, band, mag, ftrue, vis, ddf))
            kept += passed.size
        if kept >= n_objects:
            break
        batch = min(4 * batch, MAX_BATCH)
    else:  # pragma: no cover - only with absurd model parameters
        raise RuntimeError(f"{model}: only {kept} of {n_objects} objects passed the trigger")
    return _assemble(spec, rng, parts, n_objects, snid_base)


def _collect(spec, p, passed, obj, mjd, band, mag, ftrue, vis, ddf):
    """Subset a batch to the objects ``passed`` (renumbered 0..k-1)."""
    remap = np.full(len(p["ra"]), -1)
    remap[passed] = np.arange(passed.size)
    rows = remap[obj] >= 0
    sub = {
        k: v[passed]
        for k, v in p.items()
        if isinstance(v, np.ndarray) and v.shape[:1] == (len(p["ra"]),)
    }
    sub["ddf"] = ddf[passed]
    sub["_rows"] = {
        "obj": remap[obj[rows]],
        "mjd": mjd[rows],
        "band": band[rows],
        "mag": mag[rows],
        "ftrue": ftrue[rows],
        "fluxcal": vis.fluxcal[rows],
        "fluxcalerr": vis.fluxcalerr[rows],
        "photflag": vis.photflag[rows],
        "psf": vis.psf_sig1[rows],
        "sky": vis.sky_sig[rows],
        "zp": vis.zeropt[rows],
        "sat": vis.saturated[rows],
    }
    return sub


def _concat(parts: list[dict]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    p = {k: np.concatenate([q[k] for q in parts]) for k in parts[0] if k != "_rows"}
    offs = np.cumsum([0] + [len(q["ra"]) for q in parts[:-1]])
    rows = {k: np.concatenate([q["_rows"][k] for q in parts]) for k in parts[0]["_rows"]}
    rows["obj"] = np.concatenate([q["_rows"]["obj"] + o for q, o in zip(parts, offs, strict=True)])
    return p, rows


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


def _assemble(spec, rng, parts, n, snid_base) -> ModelSample:
    p, r = _concat(parts)
    gentype = MODEL_GENTYPES[spec.name]
    obj, mjd = r["obj"], r["mjd"]
    det = (r["photflag"] & cadence.PHOTFLAG_DETECT) > 0
    # trigger: the first detection of each object gets TRIGGER|DETECT
    first_det = np.zeros(mjd.size, bool)
    di = np.nonzero(det)[0]
    _, fi = np.unique(obj[di], return_index=True)
    first_det[di[fi]] = True
    r["photflag"] = np.where(
        first_det, r["photflag"] | cadence.PHOTFLAG_TRIGGER, r["photflag"]
    ).astype(np.int32)
    nobs = np.bincount(obj, minlength=n)
    snid = snid_base + rng.choice(9_000_000, size=n, replace=False)
    snr = np.where(r["sat"], 0.0, r["fluxcal"] / r["fluxcalerr"])

    mjd_first = _per_object_first(obj, det, mjd, n)
    mjd_last = _per_object_first(obj, det, mjd, n, last=True)
    # PEAKMJD (measured): epoch of the largest detected flux; SIM_PEAKMJD (truth) below
    order = np.lexsort((-np.where(det, r["fluxcal"], -np.inf), obj))
    _, fo = np.unique(obj[order], return_index=True)
    peakmjd = mjd[order[fo]]
    # per-band maximum S/N -> SNRMAX, SNRMAX2, SNRMAX3
    best = np.full((n, 6), -np.inf)
    np.maximum.at(best, (obj, r["band"]), snr)
    best = -np.sort(-best, axis=1)
    best = np.where(np.isfinite(best), best, -9.0)

    galactic = spec.galactic
    if galactic or spec.kind == "agn":
        order = np.lexsort((-r["ftrue"], obj))
        _, fo = np.unique(obj[order], return_index=True)
        sim_peakmjd = mjd[order[fo]]
        peak_obj = np.repeat(np.arange(n), 6)
        peak_mag = _mags(
            spec, rng, p, peak_obj, np.repeat(sim_peakmjd, 6), np.tile(np.arange(6), n)
        )[0].reshape(n, 6)
        if spec.kind == "agn":
            peak_mag = p["template"].copy()
    else:
        sim_peakmjd = p["t_peak"]
        peak_mag = models.transient_mags(
            spec.transient,
            p,
            np.repeat(np.arange(n), 6),
            np.repeat(sim_peakmjd, 6),
            np.tile(np.arange(6), n),
        ).reshape(n, 6)
    width = _widths(spec, p, n) if not (galactic or spec.kind == "agn") else np.full((n, 6), -9.0)

    spec_conf = rng.random(n) < np.where(peak_mag.min(axis=1) < 21.0, 0.5, 0.1)
    sntype = np.where(spec_conf, gentype, gentype + 100)
    libid = rng.integers(1, 50000, n)
    template_index = rng.integers(1, 1000, n) if spec.name != "SNIa-SALT3" else np.full(n, -9)
    mwebv_meas = p["mwebv"] * (1.0 + rng.normal(0.0, 0.05, n))

    h: dict[str, np.ndarray | float | str] = {
        "SNID": snid.astype(str),
        "IAUC": "NULL",
        "FAKE": 2,
        "RA": np.round(p["ra"], 6),
        "DEC": np.round(p["dec"], 6),
        "PIXSIZE": 0.2,
        "NXPIX": -9,
        "NYPIX": -9,
        "SNTYPE": sntype,
        "NOBS": nobs,
        "PTROBS_MIN": -9,
        "PTROBS_MAX": -9,
        "MWEBV": mwebv_meas,
        "MWEBV_ERR": 0.05 * mwebv_meas,
        "HOSTGAL_CONFUSION": -99.0,
        "PEAKMJD": peakmjd,
        "MJD_TRIGGER": mjd_first,
        "MJD_DETECT_FIRST": mjd_first,
        "MJD_DETECT_LAST": mjd_last,
        "SEARCH_TYPE": -9,
        "SIM_MODEL_NAME": spec.sim_model_name,
        "SIM_MODEL_INDEX": spec.model_index,
        "SIM_TYPE_INDEX": gentype,
        "SIM_TYPE_NAME": spec.sim_type_name[:8],
        "SIM_TEMPLATE_INDEX": template_index,
        "SIM_LIBID": libid,
        "SIM_NGEN_LIBID": 1,
        "SIM_NOBS_UNDEFINED": 0,
        "SIM_SEARCHEFF_MASK": np.where(spec_conf, 3, 1),
        "SIM_RA": p["ra"],
        "SIM_DEC": p["dec"],
        "SIM_PEAKMJD": sim_peakmjd,
        "SIM_SUBSAMPLE_INDEX": -9,
    }
    for i, b in enumerate(BANDS):
        h[f"SIM_PEAKMAG_{b}"] = peak_mag[:, i]
        h[f"SIM_EXPOSURE_{b}"] = 1.0
    _host_columns(h, p, galactic, n)
    if galactic:
        for i, b in enumerate(BANDS):
            h[f"SIM_TEMPLATEMAG_{b}"] = p["template"][:, i]
        h.update(
            {
                "REDSHIFT_HELIO": -9.0,
                "REDSHIFT_HELIO_ERR": -9.0,
                "REDSHIFT_FINAL": -9.0,
                "REDSHIFT_FINAL_ERR": -9.0,
                "VPEC": 0.0,
                "VPEC_ERR": 0.0,
                "SIM_REDSHIFT_HELIO": 0.0,
                "SIM_REDSHIFT_CMB": 0.0,
                "SIM_REDSHIFT_HOST": 0.0,
                "SIM_REDSHIFT_FLAG": 1,
                "SIM_VPEC": 0.0,
                "SIM_HOSTLIB_GALID": -9,
                "SIM_DLMU": 0.0,
                "SIM_LENSDMU": 0.0,
                "SIM_MWEBV": 0.0,
                "SIM_MJD_EXPLODE": -9.0,
                "SIM_MAGSMEAR_COH": 0.0,
                "SIM_AV": -9.0,
                "SIM_RV": -9.0,
            }
        )
        zhelio = np.zeros(n)
    else:
        zhelio = _helio(p["z"], p["ra"], p["dec"])
        zmeas = np.where(p["has_specz"], p["specz"], p["zphot"])
        zerr = np.where(p["has_specz"], 1e-4, p["zphot_err"])
        zfinal = (1.0 + zmeas) * (1.0 + p["z"]) / (1.0 + zhelio) - 1.0
        h.update(
            {
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
                "SIM_HOSTLIB_GALID": p["galid"],
                "SIM_HOSTLIB(LOGMASS_TRUE)": p["logmass"],
                "SIM_HOSTLIB(LOG_SFR)": p["logsfr"],
                "SIM_DLMU": p["mu"],
                "SIM_LENSDMU": p["lensdmu"],
                "SIM_MWEBV": p["mwebv"],
                "SIM_MJD_EXPLODE": p.get("t_explode", np.full(n, -9.0)),
                "SIM_MAGSMEAR_COH": p.get("magsmear", np.zeros(n)),
                "SIM_AV": np.where(p.get("av", np.zeros(n)) > 0, p.get("av", np.zeros(n)), -9.0),
                "SIM_RV": np.where(p.get("av", np.zeros(n)) > 0, 3.1, -9.0),
            }
        )
        for i, b in enumerate(("g", "r", "i")):
            h[f"SIM_HOSTLIB({b}_obs)"] = p["host_mag"][:, i + 1]
        for i, b in enumerate(BANDS):
            h[f"SIM_GALFRAC_{b}"] = 10.0 ** (-0.4 * (p["host_mag"][:, i] - peak_mag[:, i])) * 0.05
        if spec.name == "SNIa-SALT3":
            # observed-frame B peak: Tripp M_B (incl. beta c) + distance modulus
            mb = p["m_abs"] + 3.1 * p["salt_c"] + p["mu"]
            h.update(
                {
                    "SIM_SALT2x0": 10.0 ** (-0.4 * (mb - 10.635)),
                    "SIM_SALT2x1": p["salt_x1"],
                    "SIM_SALT2c": p["salt_c"],
                    "SIM_SALT2mB": mb,
                    "SIM_SALT2alpha": 0.14,
                    "SIM_SALT2beta": 3.1,
                    "SIM_SALT2gammaDM": p["salt_gamma"],
                }
            )

    head = _frame(HEAD_LAYOUTS[spec.layout], h, n)

    band_names = np.array(BANDS)[r["band"]]
    sim_magobs = np.where(np.isfinite(r["mag"]), np.minimum(r["mag"], 99.0), 99.0)
    phot = pl.DataFrame(
        {
            "SNID": pl.Series(snid[obj], dtype=pl.Int64),
            "MJD": pl.Series(mjd, dtype=pl.Float64),
            "BAND": pl.Series(band_names, dtype=pl.String),
            "CCDNUM": pl.Series(np.full(mjd.size, -9), dtype=pl.Int16),
            "FIELD": pl.Series(np.full(mjd.size, "VOID"), dtype=pl.String),
            "PHOTFLAG": pl.Series(r["photflag"], dtype=pl.Int32),
            "PHOTPROB": pl.Series(np.full(mjd.size, -9.0), dtype=pl.Float32),
            "FLUXCAL": pl.Series(r["fluxcal"], dtype=pl.Float32),
            "FLUXCALERR": pl.Series(r["fluxcalerr"], dtype=pl.Float32),
            "PSF_SIG1": pl.Series(r["psf"], dtype=pl.Float32),
            "PSF_SIG2": pl.Series(np.zeros(mjd.size), dtype=pl.Float32),
            "PSF_RATIO": pl.Series(np.zeros(mjd.size), dtype=pl.Float32),
            "SKY_SIG": pl.Series(r["sky"], dtype=pl.Float32),
            "SKY_SIG_T": pl.Series(np.zeros(mjd.size), dtype=pl.Float32),
            "RDNOISE": pl.Series(np.full(mjd.size, 0.25), dtype=pl.Float32),
            "ZEROPT": pl.Series(r["zp"], dtype=pl.Float32),
            "ZEROPT_ERR": pl.Series(np.full(mjd.size, 0.005), dtype=pl.Float32),
            "GAIN": pl.Series(np.ones(mjd.size), dtype=pl.Float32),
            "XPIX": pl.Series(np.full(mjd.size, -9.0), dtype=pl.Float32),
            "YPIX": pl.Series(np.full(mjd.size, -9.0), dtype=pl.Float32),
            "SIM_FLUXCAL_HOSTERR": pl.Series(np.zeros(mjd.size), dtype=pl.Float32),
            "SIM_MAGOBS": pl.Series(sim_magobs, dtype=pl.Float32),
        }
    )
    assert phot.columns[1:] == [c for c, _ in PHOT_COLUMNS]

    season = cadence.in_season(sim_peakmjd, p["ra"])
    ph = (sim_peakmjd - cadence.season_center(p["ra"]) + 182.625) % 365.25 - 182.625
    dtseason = np.where(season, 92.0 - np.abs(ph), -(np.abs(ph) - 92.0))
    t: dict[str, np.ndarray | float] = {
        "CID": snid,
        "LIBID": libid,
        "SIM_SEARCHEFF_MASK": h["SIM_SEARCHEFF_MASK"],
        "GENTYPE": gentype,
        "NON1A_INDEX": template_index,
        "ZCMB": 0.0 if galactic else p["z"],
        "ZHELIO": zhelio,
        "ZCMB_SMEAR": -9.0 if galactic else h["REDSHIFT_FINAL"],
        "RA": p["ra"],
        "DEC": p["dec"],
        "MWEBV": 0.0 if galactic else p["mwebv"],
        "GALID": -9 if galactic else p["galid"],
        "GALZPHOT": -9.0 if galactic else p["zphot"],
        "GALZPHOTERR": -9.0 if galactic else p["zphot_err"],
        "GALSNSEP": 0.0 if galactic else p["host_sep"],
        "GALSNDDLR": 0.0 if galactic else p["host_ddlr"],
        "RV": h["SIM_RV"],
        "AV": h["SIM_AV"],
        "MU": 0.0 if galactic else p["mu"],
        "LENSDMU": 0.0 if galactic else p["lensdmu"],
        "PEAKMJD": sim_peakmjd,
        "MJD_DETECT_FIRST": mjd_first,
        "MJD_DETECT_LAST": mjd_last,
        "DTSEASON_PEAK": dtseason,
        "SNRMAX": best[:, 0],
        "SNRMAX2": best[:, 1],
        "SNRMAX3": best[:, 2],
        "NOBS": nobs,
        "NOBS_SATURATE": np.bincount(obj, weights=r["sat"], minlength=n).astype(int),
        "VPEC": 0.0 if galactic else p["vpec"],
        "MAGSMEAR_COH": h["SIM_MAGSMEAR_COH"],
        "GALNMATCH": 0 if galactic else 1,
        "GALRANDOM_RADIUS": 0.0 if galactic else p["host_sep"],
        "GALRANDOM_PHI": 0.0 if galactic else p["host_phi"],
        "PERIOD": p.get("period", -9.0),
    }
    for i, b in enumerate(BANDS):
        t[f"PEAKMAG_{b}"] = peak_mag[:, i]
        t[f"WIDTH_{b}"] = width[:, i]
    truth = pl.DataFrame(
        {
            k: pl.Series(
                np.broadcast_to(np.asarray(t[k]), (n,)),
                dtype=pl.Int64 if k in DUMP_INT_COLUMNS else pl.Float64,
            )
            for k in DUMP_VARNAMES_FINAL
        }
    )
    return ModelSample(model=spec.name, gentype=gentype, head=head, phot=phot, truth=truth)


def _host_columns(h: dict, p: dict, galactic: bool, n: int) -> None:
    """HOSTGAL_* / HOSTGAL2_* columns; galactic models get the no-host sentinels of the real files."""
    for pre in ("HOSTGAL", "HOSTGAL2"):
        for q in ("LOGMASS", "LOGSFR", "LOGsSFR", "COLOR"):
            h[f"{pre}_{q}"] = -9999.0
            h[f"{pre}_{q}_ERR"] = -9999.0
        h[f"{pre}_ELLIPTICITY"] = -9999.0
        h[f"{pre}_SQRADIUS"] = -9999.0
        h[f"{pre}_OBJID2"] = 0
        h[f"{pre}_OBJID_UNIQUE"] = 0
        h[f"{pre}_OBJID"] = 0
        h[f"{pre}_FLAG"] = 0
        for c in ("PHOTOZ", "PHOTOZ_ERR", "SPECZ", "SPECZ_ERR", "SNSEP", "DDLR"):
            h[f"{pre}_{c}"] = -9.0
        h[f"{pre}_RA"] = -999.0
        h[f"{pre}_DEC"] = -999.0
        for b in BANDS:
            h[f"{pre}_MAG_{b}"] = 999.0
            h[f"{pre}_MAGERR_{b}"] = 999.0
        for q in ("000", "010", "020", "030", "040", "050", "060", "070", "080", "090", "100"):
            h[f"{pre}_ZPHOT_Q{q}"] = -9.0
    h["HOSTGAL_NMATCH"] = 0
    h["HOSTGAL_NMATCH2"] = 0
    for b in BANDS:
        h[f"HOSTGAL_SB_FLUXCAL_{b}"] = -999.0
    if galactic:
        return
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
    for i, q in enumerate(
        ("000", "010", "020", "030", "040", "050", "060", "070", "080", "090", "100")
    ):
        h[f"HOSTGAL_ZPHOT_Q{q}"] = p["zphot_q"][:, i]
    for i, b in enumerate(BANDS):
        h[f"HOSTGAL_MAG_{b}"] = p["host_mag"][:, i]
        h[f"HOSTGAL_MAGERR_{b}"] = p["host_magerr"][:, i]
        h[f"HOSTGAL_SB_FLUXCAL_{b}"] = 10.0 ** (-0.4 * (p["host_mag"][:, i] - 27.5)) / (
            np.pi * p["host_size"] ** 2
        )


def _frame(layout: list[tuple[str, str]], values: dict, n: int) -> pl.DataFrame:
    """A polars frame with exactly the ``layout`` columns, dtypes from the TFORMs."""
    cols = {}
    for name, tform in layout:
        if name not in values:
            raise KeyError(f"simulator did not produce HEAD column {name!r}")
        v = np.broadcast_to(np.asarray(values[name]), (n,))
        dtype = polars_dtype(tform)
        if dtype == pl.String:
            cols[name] = pl.Series(name, v.astype(str), dtype=pl.String)
        elif dtype in (pl.Float32, pl.Float64):
            cols[name] = pl.Series(name, v.astype(np.float64)).cast(dtype)
        else:
            cols[name] = pl.Series(name, np.round(v).astype(np.int64)).cast(dtype)
    return pl.DataFrame(list(cols.values()))


def _widths(spec: models.ModelSpec, p: dict, n: int) -> np.ndarray:
    """Observer-frame days each band spends brighter than half its peak flux."""
    lo, hi = spec.window
    k = 300
    frac = np.linspace(0.0, 1.0, k)
    out = np.empty((n, 6))
    for b in range(6):
        t = p["t_peak"][:, None] + (lo + (hi - lo) * frac[None, :]) * (1.0 + p["z"][:, None])
        obj = np.repeat(np.arange(n), k)
        m = models.transient_mags(spec.transient, p, obj, t.ravel(), np.full(n * k, b)).reshape(
            n, k
        )
        f = 10.0 ** (-0.4 * (m - m.min(axis=1, keepdims=True)))
        out[:, b] = (f > 0.5).sum(axis=1) * (hi - lo) / (k - 1) * (1.0 + p["z"])
    return out
