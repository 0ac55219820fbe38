"""Per-class light-curve physics of the synthetic ELAsTiCC2 campaign.

Every model returns true AB magnitudes in the LSST bands (ugrizY) at observer-frame MJDs. The
parametrisations are simple, vectorised and physically motivated; the numbers come from:

Extragalactic explosive transients (rest frame, then redshifted):

* Flux shape: the Bazin et al. (2009, A&A 499, 653) rise/decline function with rest-frame
  e-folding times, plus an optional 56Co tail (tau = 111.3 d) for radioactively powered classes.
* Colour: a blackbody whose temperature cools from ``T_peak`` to ``T_late`` (time scale
  ``tau_T``), evaluated at the *rest-frame* wavelength of each band (lambda_eff / (1+z)), so the
  K-correction and the colour evolution follow from the same SED; UV line blanketing suppresses
  the flux blueward of ``lam_uv``. Host extinction uses A_lambda = A_V (5500 / lambda)^1.3 (an
  approximation of Cardelli et al. 1989 with R_V = 3.1), with A_V drawn from an exponential
  (scale 0.3 mag) for core-collapse classes.
* Distance: flat LCDM, H0 = 70, Om0 = 0.3 (astropy.cosmology), apparent flux density scaled by
  (1+z), and time dilation (1+z) of every time scale.
* SN Ia (SNIa-SALT3): Tripp (1998) standardisation with SALT2/3 parameters (Guy et al. 2007;
  Kenworthy et al. 2021): M_B = -19.3 - alpha x1 + beta c - gammaDM, alpha = 0.14, beta = 3.1,
  gammaDM = +0.025 / -0.025 above / below host log M = 10 (mass step, Kelly et al. 2010),
  x1 ~ N(0, 1), c ~ N(-0.03, 0.08) (Scolnic & Kessler 2016), intrinsic scatter 0.12 mag;
  stretch 1 + 0.09 x1 scales the time scales; a secondary near-IR maximum ~28 rest-frame days
  after peak (Kasen 2006);
  x0 = 10^(-0.4 (mB - 10.635)).
* 91bg-like: M_B ~ -17.6, fast and red (Filippenko et al. 1992; Taubenberger 2017).
* Iax: M ~ -17 +- 1, Foley et al. (2013, ApJ 767, 57).
* Ib / Ic: M ~ -17.5 / -17.7 +- 0.9, rise ~ 12-15 d (Drout et al. 2011; Taddia et al. 2015).
* II-P (SNII-NMF): ~100 d plateau at M ~ -16.8 +- 1, then a drop to the 56Co tail
  (Anderson et al. 2014, ApJ 786, 67).
* IIn (SNIIn-MOSFIT): M ~ -18.5 +- 1, slow CSM-powered light curves (Kiewe et al. 2012;
  Nyholm et al. 2020; Villar et al. 2017 MOSFIT).
* SLSN-I: M ~ -21 +- 0.7, rise ~ 25-30 rest-frame days, hot UV-absorbed spectra
  (Quimby et al. 2011; Nicholl et al. 2017; Lunnan et al. 2018).
* TDE: M_g ~ -19.5, Gaussian rise, t^-5/3 decline, constant T ~ 2-4 x 10^4 K
  (van Velzen et al. 2021; Gezari 2021).
* ILOT / intermediate-luminosity red transients: M ~ -12 +- 1.5, red, nearby
  (Kasliwal 2012; Pastorello & Fraser 2019).
* CART (Ca-rich gap transients): M ~ -15.5, fast (Kasliwal et al. 2012; De et al. 2020).
* PISN: M ~ -20.5, rise ~ 100 rest-frame days (Kasen, Woosley & Heger 2011; Gal-Yam et al. 2009).
* Kilonova (KN_K17): M ~ -15.5, days-long, cooling quickly from 6000 K to 2500 K, so it fades
  first in the blue (Kasen et al. 2017; Cowperthwaite et al. 2017 for AT2017gfo).
* AGN: damped random walk (Kelly et al. 2009; MacLeod et al. 2010): M ~ -22.5 +- 1,
  rest-frame tau ~ 200 d, SF_inf ~ 0.15 mag scaled as lambda_rest^-0.5, f_nu ~ nu^-0.5
  continuum, Lyman-alpha forest absorption blueward of 1216 A rest; the photometry is the
  difference flux with respect to the mean (template) flux.

Galactic models (LCLIB-like: apparent magnitudes that already include extinction, photometry is
difference flux with respect to the template = quiescent or mean magnitude; apparent r magnitudes
follow Galactic star counts, N(<m) ~ 10^(0.3 m), Bahcall & Soneira 1980, within per-class limits,
so most variables are faint):

* RR Lyrae (RRL): RRab (P 0.45-0.75 d, sawtooth, A_g 0.5-1.2) and RRc (P 0.25-0.42 d,
  near-sinusoidal, A_g 0.3-0.5); Smith (1995); Sesar et al. (2010).
* Cepheid: log P uniform in [0.5, 1.7] (3-50 d), sawtooth with a 30 % rise, A_g 0.3-1.0;
  (Cepheids of M_V = -2.43 (log P - 1) - 4.05, Benedict et al. 2007, at 15-150 kpc land in the
  r ~ 16-23 range used here). As in the real LCLIB truth, MU is 0 for Galactic models.
* delta Scuti (d-Sct): P 0.03-0.2 d, amplitudes 0.02-0.3 mag with a first harmonic
  (Breger 2000; McNamara 2011).
* Eclipsing binaries (EB): 30 % contact (W UMa, P 0.25-0.6 d, continuous light curves), 70 %
  detached (log-normal P around 2.5 d, primary/secondary eclipses 3-10 % of the phase wide);
  Prsa et al. (2011, Kepler EB catalogue).
* M-dwarf flares: quiescent colours of the real ELAsTiCC2 Mdwarf-flare library, flares as a
  Poisson process (0.3 per day) with power-law amplitudes in u, a 9000 K blackbody SED and the
  Davenport et al. (2014) rise / double-exponential decay template.
* Dwarf novae: quasi-periodic outbursts (recurrence 20-300 d, 2-5 mag, 2-10 d plateaus, blue disc
  colours); Warner (1995); Coppejans et al. (2016).
* Microlensing (uLens-Single-GenLens): Paczynski (1986) single-lens magnification with
  t_E log-normal around 25 d (Mroz et al. 2019), u0 uniform in [0.01, 1], blending fraction
  fs uniform in [0.3, 1]; achromatic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from astropy.cosmology import FlatLambdaCDM

from elasticc_tutorial.sample.cadence import LAMBDA_EFF, MJD_MAX, MJD_MIN

__all__ = ["COSMOLOGY", "ModelSpec", "Transient", "transient_mags"]

COSMOLOGY = FlatLambdaCDM(H0=70.0, Om0=0.3)
_HC_K = 1.4388e8  # h c / k in Angstrom Kelvin
_LAMBDA_B = 4450.0
_LN10_04 = 0.4 * np.log(10.0)

Params = dict[str, np.ndarray]


# --------------------------------------------------------------------------- extragalactic
@dataclass(frozen=True)
class Transient:
    """Rest-frame parameters of a Bazin + cooling-blackbody transient (see module docstring)."""

    m_peak: float  # absolute magnitude at peak at rest-frame 4450 A
    m_sigma: float
    tau_rise: float  # rest-frame days
    tau_fall: float
    tail: float = 0.0  # fraction of peak flux in the 56Co tail
    t_peak_k: tuple[float, float] = (9000.0, 5000.0)  # T at peak, late T
    tau_t: float = 30.0
    lam_uv: float = 3000.0
    shape: str = "bazin"  # bazin | plateau | tde
    plateau: float = 0.0  # rest-frame plateau length (shape "plateau")


def _planck_ratio(lam: np.ndarray, temp: np.ndarray, t_ref: np.ndarray) -> np.ndarray:
    """B_nu(lam, temp) / B_nu(4450 A, t_ref)."""
    x = np.clip(_HC_K / (lam * temp), 1e-6, 500.0)
    x0 = np.clip(_HC_K / (_LAMBDA_B * t_ref), 1e-6, 500.0)
    return (_LAMBDA_B / lam) ** 3 * np.expm1(x0) / np.expm1(x)


def _shape(spec: Transient, tr: np.ndarray, p: Params, idx: np.ndarray) -> np.ndarray:
    """Un-normalised flux shape at rest-frame days ``tr`` from the reference epoch."""
    s = p["stretch"][idx]
    tau_r = spec.tau_rise * s
    tau_f = spec.tau_fall * s
    if spec.shape == "tde":
        rise = np.exp(-0.5 * (np.minimum(tr, 0.0) / tau_r) ** 2)
        fall = (1.0 + np.maximum(tr, 0.0) / tau_f) ** (-5.0 / 3.0)
        return rise * fall
    if spec.shape == "plateau":
        end = p["plateau"][idx]
        rise = 1.0 / (1.0 + np.exp(-(tr + 2.0 * tau_r) / tau_r))
        drop = 1.0 / (1.0 + np.exp((tr - end) / 4.0))
        plateau = np.exp(-np.maximum(tr, 0.0) / 250.0)
        tail = spec.tail * np.exp(-np.maximum(tr - end, 0.0) / 111.3) * (1.0 - drop)
        return rise * (plateau * drop + tail)
    x = np.clip(tr, -40.0 * tau_r, None)
    f = np.exp(-x / tau_f) / (1.0 + np.exp(-x / tau_r))
    if spec.tail:
        sig = 1.0 / (1.0 + np.exp(-x / tau_r))
        f = f + spec.tail * sig * np.exp(-np.maximum(x, 0.0) / 111.3)
    return f


def transient_mags(
    spec: Transient, p: Params, idx: np.ndarray, mjd: np.ndarray, band: np.ndarray
) -> np.ndarray:
    """Observed AB magnitudes of transient objects ``idx`` at ``mjd`` in ``band`` (indices)."""
    z = p["z"][idx]
    tr = (mjd - p["t_ref"][idx]) / (1.0 + z)
    flux = _shape(spec, tr, p, idx) / p["norm"][idx]
    lam = LAMBDA_EFF[band] / (1.0 + z)
    t_pk, t_late = p["t_hot"][idx], spec.t_peak_k[1]
    temp = np.where(
        tr <= p["tr_peak"][idx],
        t_pk,
        t_late + (t_pk - t_late) * np.exp(-np.maximum(tr - p["tr_peak"][idx], 0.0) / spec.tau_t),
    )
    sed = _planck_ratio(lam, temp, t_pk)
    blanket = (1.0 + (spec.lam_uv / _LAMBDA_B) ** 8) / (1.0 + (spec.lam_uv / lam) ** 8)
    if "ir_bump" in p:  # SN Ia secondary near-IR maximum
        w = np.clip((lam - 6500.0) / 2500.0, 0.0, 1.0)
        stretch = p["stretch"][idx]
        flux = flux + p["ir_bump"][idx] * w * np.exp(
            -0.5 * ((tr - 28.0 * stretch) / (8.0 * stretch)) ** 2
        )
    lyman = np.where(lam < 1216.0, 0.1, 1.0)
    fnu = np.clip(flux * sed * blanket * lyman, 1e-30, None)
    dust = p["av"][idx] * (5500.0 / lam) ** 1.3
    colour = p["salt_c"][idx] * 3.1 * (_LAMBDA_B / lam) ** 1.5 if "salt_c" in p else 0.0
    lens = p["lens_mag"][idx] if "lens_mag" in p else 0.0
    return (
        p["m_abs"][idx]
        + p["mu"][idx]
        + lens
        - 2.5 * np.log10((1.0 + z) * fnu)
        + dust
        + colour
        + p["mw_ext"][idx, band]
    )


def _setup_transient(spec: Transient, p: Params) -> None:
    """Normalise the shape to 1 at its maximum and record the rest-frame time of maximum."""
    n = len(p["z"])
    grid = np.linspace(-60.0, 400.0, 921)
    idx = np.repeat(np.arange(n), grid.size)
    f = _shape(spec, np.tile(grid, n), p, idx).reshape(n, grid.size)
    k = f.argmax(axis=1)
    p["norm"] = f[np.arange(n), k]
    p["tr_peak"] = grid[k]


# ------------------------------------------------------------------------------ model spec
@dataclass(frozen=True)
class ModelSpec:
    """One SNANA model of the synthetic campaign."""

    name: str
    layout: str  # HEAD layout (see layouts.py)
    galactic: bool
    sim_model_name: str
    sim_type_name: str
    model_index: int
    zrange: tuple[float, float] = (0.0, 0.0)
    window: tuple[float, float] | None = (
        -50.0,
        150.0,
    )  # rest-frame days around peak; None = survey
    transient: Transient | None = None
    #: transient | agn | rrl | cepheid | dsct | eb | mdwarf | dwarfnova | ulens | ulens_binary
    kind: str = "transient"
    av_scale: float = 0.3  # host A_V ~ exponential(av_scale); 0 = no host dust
    lensed: bool = False  # strongly lensed: the unresolved images add up to a magnification
    hostless: bool = False  # no host galaxy: no host photo-z, so no redshift either
    extra: dict = field(default_factory=dict)


# ----------------------------------------------------------------------- parameter drawing
def draw_transient(spec: ModelSpec, rng: np.random.Generator, p: Params) -> None:
    """Fill rest-frame parameters of an explosive transient into ``p`` (z, mu, mw_ext present)."""
    tr = spec.transient
    assert tr is not None
    n = len(p["z"])
    p["stretch"] = np.ones(n)
    p["m_abs"] = tr.m_peak + tr.m_sigma * rng.standard_normal(n)
    p["t_hot"] = tr.t_peak_k[0] * rng.lognormal(0.0, 0.05, n)
    p["av"] = rng.exponential(spec.av_scale, n) if spec.av_scale > 0 else np.zeros(n)
    if spec.lensed:
        # total magnification of the unresolved images: the high-magnification tail of a lens,
        # P(>mu) ~ mu^-2 above mu = 2 (Oguri & Marshall 2010); SIM_LENSDMU = -2.5 log10(mu)
        p["lensdmu"] = -2.5 * np.log10(2.0 * rng.random(n) ** -0.5)
        p["lens_mag"] = p["lensdmu"]  # applied to the light curve (weak-lensing LENSDMU is not)
    if spec.layout == "salt":
        x1 = np.clip(rng.normal(0.0, 1.0, n), -3.0, 3.0)
        c = np.clip(rng.normal(-0.03, 0.08, n), -0.3, 0.5)
        gamma = np.where(p["logmass"] > 10.0, 0.025, -0.025)
        p["salt_x1"], p["salt_c"], p["salt_gamma"] = x1, c, gamma
        p["stretch"] = 1.0 + 0.09 * x1
        p["m_abs"] = -19.3 - 0.14 * x1 - gamma + 0.12 * rng.standard_normal(n)
        p["magsmear"] = p["m_abs"] - (-19.3 - 0.14 * x1 - gamma)
        p["ir_bump"] = rng.uniform(0.25, 0.45, n)
    if spec.layout == "kn":
        p["stretch"] = rng.lognormal(0.0, 0.3, n)
    if tr.shape == "plateau":
        p["plateau"] = rng.normal(100.0, 20.0, n).clip(50.0, 160.0)
    _setup_transient(tr, p)
    p["t_ref"] = p["t_peak"] - p["tr_peak"] * (1.0 + p["z"])
    p["t_explode"] = p["t_ref"] + (p["tr_peak"] - 6.0 * tr.tau_rise * p["stretch"]) * (1.0 + p["z"])


def draw_agn(rng: np.random.Generator, p: Params) -> None:
    """Damped-random-walk quasar parameters."""
    n = len(p["z"])
    p["m_abs"] = rng.normal(-22.5, 1.0, n)
    p["tau_drw"] = rng.lognormal(np.log(200.0), 0.5, n) * (1.0 + p["z"])
    p["sf_inf"] = rng.lognormal(np.log(0.15), 0.3, n)
    lam = LAMBDA_EFF[None, :] / (1.0 + p["z"][:, None])
    # f_nu ~ nu^-0.5 -> m(lambda) = m_i - 1.25 log10(lambda / lambda_i); Ly-alpha forest below 1216 A
    p["template"] = (
        p["m_abs"][:, None]
        + p["mu"][:, None]
        - 2.5 * np.log10(1.0 + p["z"][:, None])
        - 1.25 * np.log10(LAMBDA_EFF[None, :] / LAMBDA_EFF[3])
        + np.where(lam < 1216.0, 2.5, 0.0)
        + p["mw_ext"]
    )
    p["amp"] = (lam / 4000.0) ** -0.5  # variability is stronger in the blue


def draw_galactic(spec: ModelSpec, rng: np.random.Generator, p: Params) -> None:
    """Template magnitudes and variability parameters of a galactic (LCLIB-like) model."""
    n = len(p["ra"])
    lo, hi = spec.extra["r_mag"]
    # Galactic star counts rise steeply to faint magnitudes, N(<m) ~ 10^(0.3 m)
    # (Bahcall & Soneira 1980): most variables are faint, as in the LCLIB libraries.
    r = lo + np.log10(1.0 + rng.random(n) * (10.0 ** (0.3 * (hi - lo)) - 1.0)) / 0.3
    p["template"] = r[:, None] + np.asarray(spec.extra["colour"])[None, :]
    p["period"] = np.full(n, -9.0)
    p["phase0"] = rng.uniform(0.0, 1.0, n)
    kind = spec.kind
    if kind == "rrl":
        ab = rng.random(n) < 0.7
        p["period"] = np.where(ab, rng.uniform(0.45, 0.75, n), rng.uniform(0.25, 0.42, n))
        p["amp_g"] = np.where(ab, rng.uniform(0.5, 1.2, n), rng.uniform(0.3, 0.5, n))
        p["rise"] = np.where(ab, 0.15, 0.45)
    elif kind == "cepheid":
        logp = rng.uniform(0.5, 1.7, n)
        p["period"] = 10.0**logp
        p["amp_g"] = rng.uniform(0.3, 1.0, n)
        p["rise"] = np.full(n, 0.3)
    elif kind == "dsct":
        p["period"] = np.exp(rng.uniform(np.log(0.03), np.log(0.2), n))
        p["amp_g"] = np.exp(rng.uniform(np.log(0.02), np.log(0.3), n))
    elif kind == "eb":
        contact = rng.random(n) < 0.3
        p["contact"] = contact
        p["period"] = np.where(
            contact, rng.uniform(0.25, 0.6, n), rng.lognormal(np.log(2.5), 0.8, n)
        )
        p["depth1"] = rng.uniform(0.15, 0.7, n)
        p["depth2"] = p["depth1"] * rng.uniform(0.1, 0.9, n)
        p["width"] = np.where(contact, 0.25, rng.uniform(0.03, 0.1, n))
    elif kind == "mdwarf":
        k = int(np.ceil((MJD_MAX - MJD_MIN) * FLARE_RATE * 1.6)) + 10
        p["events"] = _events(rng, np.full(n, 1.0 / FLARE_RATE), 1.0, k)
        p["t_half"] = rng.lognormal(np.log(0.02), 0.8, (n, k))
        p["amp_u"] = (
            rng.pareto(0.8, (n, k)) + 1.0
        ) * 0.5  # power-law amplitudes, quiescent u units
    elif kind == "dwarfnova":
        t_rec = rng.lognormal(np.log(60.0), 0.7, n).clip(20.0, 300.0)
        p["events"] = _events(rng, t_rec, 0.25, int(np.ceil((MJD_MAX - MJD_MIN) / 20.0 * 1.3)) + 2)
        p["dn_amp"] = rng.uniform(2.0, 5.0, n)
        p["dn_len"] = rng.uniform(2.0, 10.0, n)
    elif kind in ("ulens", "ulens_binary"):
        p["t0"] = rng.uniform(MJD_MIN + 30.0, MJD_MAX - 30.0, n)
        p["t_e"] = rng.lognormal(np.log(spec.extra.get("t_e", 25.0)), 0.7, n).clip(3.0, 300.0)
        p["u0"] = rng.uniform(0.01, 1.0, n)
        p["fs"] = rng.uniform(0.3, 1.0, n)
        if kind == "ulens_binary":
            # a wide binary lens: the source passes both components, a second Paczynski
            # bump (mass ratio q scales its Einstein time by sqrt(q)) 0.5-3 t_E later
            p["q"] = np.exp(rng.uniform(np.log(0.05), 0.0, n))
            p["dt2"] = p["t_e"] * rng.uniform(0.5, 3.0, n)
            p["u02"] = rng.uniform(0.01, 0.5, n)


# --------------------------------------------------------------------- galactic light curves
FLARE_RATE = 0.3  # flares per day (above the amplitude floor)
_PULSE_SCALE = np.array([1.35, 1.2, 1.0, 0.82, 0.74, 0.7])  # amplitude ratio to r (Sesar 2010)


def _flare_sed() -> np.ndarray:
    """Flux ratio f_nu(band) / f_nu(u) of a 9000 K blackbody flare."""
    x = _HC_K / (LAMBDA_EFF * 9000.0)
    b = LAMBDA_EFF**-3 / np.expm1(x)
    return b / b[0]


def _events(
    rng: np.random.Generator, mean_gap: np.ndarray, jitter: float, n_max: int
) -> np.ndarray:
    """Event start times (n_obj x n_max) as a renewal process over the survey."""
    gaps = mean_gap[:, None] * rng.lognormal(0.0, jitter, (len(mean_gap), n_max))
    start = MJD_MIN - rng.uniform(0.0, 1.0, len(mean_gap))[:, None] * mean_gap[:, None]
    return start + np.cumsum(gaps, axis=1)


def _last_event(
    times: np.ndarray, obj: np.ndarray, mjd: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each visit, the index (-1 if none) and time of the latest event of its object before it."""
    n, k = times.shape
    offset = np.arange(n)[:, None] * 1e5
    flat = (times - MJD_MIN + offset).ravel()  # rows are sorted; offsets keep objects apart
    pos = np.searchsorted(flat, mjd - MJD_MIN + obj * 1e5, side="right") - 1
    valid = (pos >= obj * k) & (pos >= 0)
    t = np.where(valid, flat[np.clip(pos, 0, None)] - obj * 1e5 + MJD_MIN, -np.inf)
    return np.where(valid, pos - obj * k, -1), t


def _paczynski(u0: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """Point-lens magnification (Paczynski 1986) at impact u0 and time tau (Einstein times)."""
    u = np.sqrt(u0**2 + tau**2)
    return (u**2 + 2.0) / (u * np.sqrt(u**2 + 4.0))


def galactic_mags(
    spec: ModelSpec, p: Params, obj: np.ndarray, mjd: np.ndarray, band: np.ndarray
) -> np.ndarray:
    """Total AB magnitudes of galactic-model objects ``obj`` at the visits."""
    tmpl = p["template"][obj, band]
    kind = spec.kind
    if kind in ("rrl", "cepheid"):
        ph = ((mjd - MJD_MIN) / p["period"][obj] + p["phase0"][obj]) % 1.0
        w = p["rise"][obj]
        s = np.where(ph < w, ph / w, (1.0 - (ph - w) / (1.0 - w)) ** 1.3)  # 1 = maximum light
        amp = p["amp_g"][obj] / _PULSE_SCALE[1] * _PULSE_SCALE[band]
        return tmpl + amp * (0.5 - s)
    if kind == "dsct":
        ph = 2.0 * np.pi * (((mjd - MJD_MIN) / p["period"][obj] + p["phase0"][obj]) % 1.0)
        amp = p["amp_g"][obj] / _PULSE_SCALE[1] * _PULSE_SCALE[band]
        return tmpl - 0.5 * amp * (np.sin(ph) + 0.3 * np.sin(2.0 * ph + 0.8)) / 1.15
    if kind == "eb":
        ph = ((mjd - MJD_MIN) / p["period"][obj] + p["phase0"][obj]) % 1.0
        w = p["width"][obj]
        d1 = np.minimum(ph, 1.0 - ph)
        d2 = np.abs(ph - 0.5)
        flux = (
            1.0
            - p["depth1"][obj] * np.exp(-0.5 * (d1 / (0.5 * w)) ** 2)
            - p["depth2"][obj] * np.exp(-0.5 * (d2 / (0.5 * w)) ** 2)
        )
        contact = p["contact"][obj]
        flux = np.where(
            contact,
            1.0
            - 0.5 * p["depth1"][obj] * (1.0 - np.cos(4.0 * np.pi * ph)) / 2.0
            - 0.5 * (p["depth1"][obj] - p["depth2"][obj]) * (1 - np.cos(2 * np.pi * ph)) / 2.0,
            flux,
        )
        return tmpl - 2.5 * np.log10(np.clip(flux, 1e-3, None))
    if kind in ("ulens", "ulens_binary"):
        a = _paczynski(p["u0"][obj], (mjd - p["t0"][obj]) / p["t_e"][obj])
        if kind == "ulens_binary":
            t_e2 = p["t_e"][obj] * np.sqrt(p["q"][obj])
            a = a + _paczynski(p["u02"][obj], (mjd - p["t0"][obj] - p["dt2"][obj]) / t_e2) - 1.0
        fs = p["fs"][obj]
        return tmpl - 2.5 * np.log10(fs * a + 1.0 - fs)
    if kind == "dwarfnova":
        _, t_start = _last_event(p["events"], obj, mjd)
        dt = mjd - t_start
        length = p["dn_len"][obj]
        prof = np.where(
            dt < 1.0,
            np.clip(dt, 0.0, 1.0),
            np.where(dt < 1.0 + length, 1.0, np.exp(-(dt - 1.0 - length) / 2.0)),
        )
        prof = np.where(np.isfinite(dt), prof, 0.0)
        boost = 10.0 ** (0.4 * p["dn_amp"][obj]) - 1.0
        blue = np.array([-0.5, -0.45, 0.0, 0.3, 0.5, 0.55])[band]  # outburst colours relative to r
        ratio = 10.0 ** (-0.4 * blue)  # disc flux relative to r-band boost
        return tmpl - 2.5 * np.log10(
            1.0
            + prof
            * boost
            * ratio
            * 10.0 ** (0.4 * (p["template"][obj, band] - p["template"][obj, 2]))
        )
    if kind == "mdwarf":
        k, t_start = _last_event(p["events"], obj, mjd)
        kk = np.clip(k, 0, None)
        th = p["t_half"][obj, kk]
        dt = (mjd - t_start) / th
        prof = np.where(
            dt < 0.3, dt / 0.3, 0.69 * np.exp(-1.6 * (dt - 0.3)) + 0.31 * np.exp(-0.24 * (dt - 0.3))
        )
        prof = np.where((k >= 0) & np.isfinite(dt), prof, 0.0)
        flare_u = p["amp_u"][obj, kk] * prof  # in units of the quiescent u flux
        f_u = 10.0 ** (-0.4 * p["template"][obj, 0])
        f_band = 10.0 ** (-0.4 * tmpl)
        return tmpl - 2.5 * np.log10(1.0 + flare_u * f_u * _flare_sed()[band] / f_band)
    raise ValueError(f"unknown galactic model kind {kind!r}")


def agn_mags(
    rng: np.random.Generator, p: Params, obj: np.ndarray, mjd: np.ndarray, band: np.ndarray
) -> np.ndarray:
    """Damped-random-walk magnitudes (exact Ornstein-Uhlenbeck update between sorted visits)."""
    x = np.empty(mjd.size)
    first = np.r_[True, obj[1:] != obj[:-1]]
    dt = np.diff(mjd, prepend=mjd[0])
    tau = p["tau_drw"][obj]
    sigma = p["sf_inf"][obj] / np.sqrt(2.0)
    a = np.exp(-np.where(first, 0.0, dt) / tau)
    noise = rng.standard_normal(mjd.size)
    # x_k = a_k x_{k-1} + sigma sqrt(1 - a_k^2) eps_k; x_0 ~ N(0, sigma)
    innov = np.where(first, sigma * noise, sigma * np.sqrt(1.0 - a**2) * noise)
    # a sequential recursion; the per-object stationary start keeps objects independent
    prev = 0.0
    for i in range(mjd.size):
        prev = innov[i] if first[i] else a[i] * prev + innov[i]
        x[i] = prev
    return p["template"][obj, band] + x * p["amp"][obj, band]
