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

The kept objects become SNANA HEAD, PHOT and truth tables in :mod:`.assemble`.

Each model uses its own ``numpy.random.Generator(PCG64)`` seeded with ``seed`` and a stable hash
of the model name (:func:`model_seed`), so models are independent and reproducible one by one.
"""

from __future__ import annotations

import hashlib

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord

from elasticc_tutorial.photometry import PHOTFLAG_DETECT, ZP_FLUXCAL, mag_to_flux
from elasticc_tutorial.sample import cadence, models
from elasticc_tutorial.sample.assemble import assemble
from elasticc_tutorial.sample.campaign import ModelSample
from elasticc_tutorial.sample.specs import MODELS

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


def model_seed(seed: int, model: str, *, offset: int = 0) -> np.random.Generator:
    """A Generator(PCG64) for ``model``: seed plus a stable (process-independent) hash of its name."""
    digest = hashlib.sha256(model.encode()).digest()
    return np.random.Generator(
        np.random.PCG64([int(seed), int(offset), int.from_bytes(digest[:8], "little")])
    )


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
    flux_src = mag_to_flux(mag, ZP_FLUXCAL)
    if has_template:
        tmpl_flux = mag_to_flux(p["template"][obj, band], ZP_FLUXCAL)
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
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of {sorted(MODELS)}")
    if n_objects < 1:
        raise ValueError(f"n_objects must be >= 1, got {n_objects}")
    spec = MODELS[model]
    rng = model_seed(seed, model, offset=seed_offset)
    parts = []
    kept = generated = 0
    batch = min(max(32, 2 * n_objects), MAX_BATCH)
    for _ in range(200):
        p = _draw(spec, rng, batch)
        obj, mjd, band, mag, ftrue, vis, ddf = _observe_batch(spec, rng, p)
        det = (vis.photflag & PHOTFLAG_DETECT) > 0
        ndet = np.bincount(obj, weights=det, minlength=batch)
        nok = np.bincount(obj, weights=(~vis.saturated) & (band > 0), minlength=batch)
        passed = np.nonzero((ndet >= 1) & (nok >= 10))[0][: n_objects - kept]
        if passed.size:
            parts.append(_collect(spec, p, passed, obj, mjd, band, mag, ftrue, vis, ddf))
            kept += passed.size
        if kept >= n_objects:  # NLC_GEN: candidates drawn up to the last object kept
            generated += int(passed[-1]) + 1
            break
        generated += batch
        batch = min(4 * batch, MAX_BATCH)
    else:  # pragma: no cover - only with absurd model parameters
        raise RuntimeError(f"{model}: only {kept} of {n_objects} objects passed the trigger")
    p, rows = _concat(parts)
    zhelio = np.zeros(n_objects) if spec.galactic else _helio(p["z"], p["ra"], p["dec"])
    return assemble(
        spec, rng, p, rows, n_objects, snid_base, mags=_mags, zhelio=zhelio, n_generated=generated
    )


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
