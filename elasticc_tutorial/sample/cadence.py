"""LSST-like observing for the synthetic campaign: visit times, image properties, noise, detection.

Model choices (numbers from the real ELAsTiCC2 training files and the LSST literature):

* **Survey span**: MJD 60796-61896, the span of the ELAsTiCC2 test set (sprint-week demo3).
* **Seasons**: a field at right ascension ``ra`` is at opposition when the Sun's right ascension is
  ``ra + 180`` deg; it is observed for ~6 months (+-92 d) around that date each year
  (Ivezic et al. 2019, ApJ 873, 111: the WFD observing season).
* **WFD cadence**: on a fraction ``WFD_NIGHT_PROB`` of the nights of a season a field gets a *pair*
  of visits ~15-45 min apart (the LSST "pairs" strategy that makes moving-object links and the
  SNANA two-detection trigger, ``NEWMJD_DIF 0.021`` d, possible), the bands drawn with the
  baseline_v2.0 filter mix measured from the real files (u 6.5 %, g 9 %, r 22 %, i 22.5 %,
  z 20 %, Y 20 %). That gives ~80-90 visits per field and year, as in baseline_v2.0.
* **DDF cadence**: deep-drilling objects are visited on 80 % of the nights of a season with a
  sequence of 8 visits (g r i z Y u + r i); such objects get > 1000 points over a season, which
  the DESC TOM flags as ``isddf``.
* **Image properties**: 5-sigma point-source depths per band (u 23.8, g 24.5, r 24.0, i 23.4,
  z 22.8, Y 22.0; Bianco et al. 2022, ApJS 258, 1, and the median depths of the real files) with
  0.3 mag visit-to-visit scatter; PSF sigma ~1.9-2.2 pixels (0.2"/pixel, seeing ~0.9");
  image zero points as in the real files (u 29.6, g 31.5, r 31.5, i 31.3, z 31.0, Y 30.1).
  SKY_SIG (ADU/pixel, gain 1) is derived from depth, PSF and zero point so that the three agree.
* **Noise**: ``FLUXCALERR^2 = sigma_sky^2 + F_total / s`` (FLUXCAL units; ``s`` = ADU per FLUXCAL
  unit at the image zero point), i.e. sky noise over the PSF noise-equivalent area 4 pi sigma^2
  plus source Poisson noise (SNANA's ``SMEARFLAG_FLUX 1``).
* **Detection**: efficiency vs measured |S/N| (difference imaging also detects negative sources)
  is a logistic curve with 50 % at S/N 5.3 and width 0.65,
  matching the detected fractions found in LSST SNANA simulations (11 % at S/N 3-4, 28 % at 4-5,
  49 % at 5-6, 76 % at 6-8, >99 % above 8; the ``SEARCHEFF_PIPELINE_EFF`` maps).
* **Saturation**: a point brighter than the per-band saturation magnitude (about m5 - 8.2, i.e.
  r ~ 15.8 for 30 s visits) is flagged ``PHOTFLAG_SATURATE`` (1024) and, as SNANA does, gets
  FLUXCAL 0 with FLUXCALERR 1e8; it is never a detection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from elasticc_tutorial.photometry import (
    PHOTFLAG_DETECT,
    PHOTFLAG_SATURATE,
    ZP_FLUXCAL,
)

__all__ = [
    "BAND_WEIGHTS",
    "M5",
    "MJD_MAX",
    "MJD_MIN",
    "Visits",
    "detection_efficiency",
    "observe",
    "schedule",
]

MJD_MIN = 60796.0
MJD_MAX = 61896.0

# per band, in photometry.BANDS order (the band list, flag bits and zero point live in photometry)
BAND_WEIGHTS = np.array([0.065, 0.09, 0.22, 0.225, 0.2, 0.2])
M5 = np.array([23.8, 24.5, 24.0, 23.4, 22.8, 22.0])
ZEROPT = np.array([29.56, 31.51, 31.53, 31.32, 31.01, 30.09])
PSF_SIG = np.array([2.21, 2.09, 1.98, 1.95, 1.89, 1.85])
SATURATE_MAG = M5 - 8.2
#: effective wavelengths of the LSST bands [Angstrom]
LAMBDA_EFF = np.array([3671.0, 4827.0, 6223.0, 7546.0, 8691.0, 9712.0])

WFD_NIGHT_PROB = 0.27
DDF_NIGHT_PROB = 0.8
DDF_SEQUENCE = np.array([1, 2, 3, 4, 5, 0, 2, 3])
_SEASON_HALF = 92.0
_EQUINOX_MJD = 60754.4  # 2025 March equinox: solar RA = 0


def season_center(ra: np.ndarray) -> np.ndarray:
    """MJD of the first opposition (solar RA = ra + 180 deg) after the 2025 equinox."""
    return _EQUINOX_MJD + 365.25 * (((np.asarray(ra) + 180.0) % 360.0) / 360.0)


def in_season(mjd: np.ndarray, ra: np.ndarray) -> np.ndarray:
    """True where ``mjd`` falls in an observing season of a field at ``ra`` (degrees)."""
    phase = (np.asarray(mjd) - season_center(ra) + 182.625) % 365.25 - 182.625
    return np.abs(phase) < _SEASON_HALF


def schedule(
    rng: np.random.Generator,
    ra: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    ddf: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Visits of each object between MJD ``lo`` and ``hi`` (clipped to the survey).

    Returns ``(obj, mjd, band)`` arrays sorted by object, then time; ``band`` indexes :data:`BANDS`.
    """
    n = len(ra)
    lo = np.clip(np.floor(lo), MJD_MIN, MJD_MAX)
    hi = np.clip(np.floor(hi), MJD_MIN, MJD_MAX - 1.0)  # last night starts before MJD_MAX
    span = int(max(1, (hi - lo).max() + 1)) if n else 1
    nights = lo[:, None] + np.arange(span)[None, :]
    ok = (nights <= hi[:, None]) & in_season(nights + 0.2, ra[:, None])
    prob = np.where(ddf, DDF_NIGHT_PROB, WFD_NIGHT_PROB)[:, None]
    ok &= rng.random(ok.shape) < prob
    obj_n, col = np.nonzero(ok)
    night = nights[obj_n, col]
    start = night + 0.05 + 0.3 * rng.random(night.size)  # local night at Cerro Pachon
    # WFD: a pair of visits in independently drawn bands, 15-45 minutes apart.
    wfd = ~ddf[obj_n]
    w_obj = np.repeat(obj_n[wfd], 2)
    w_t = np.repeat(start[wfd], 2)
    w_t[1::2] += 0.0104 + 0.0208 * rng.random(w_t.size // 2)
    w_band = rng.choice(6, size=w_t.size, p=BAND_WEIGHTS)
    # DDF: a fixed sequence of 8 visits, ~3 minutes apart.
    k = len(DDF_SEQUENCE)
    d_obj = np.repeat(obj_n[~wfd], k)
    d_t = np.repeat(start[~wfd], k) + np.tile(np.arange(k) * 0.0023, int((~wfd).sum()))
    d_band = np.tile(DDF_SEQUENCE, int((~wfd).sum()))
    obj = np.concatenate([w_obj, d_obj])
    mjd = np.round(np.concatenate([w_t, d_t]), 4)
    band = np.concatenate([w_band, d_band]).astype(np.int8)
    order = np.lexsort((mjd, obj))
    return obj[order], mjd[order], band[order]


def detection_efficiency(snr: np.ndarray) -> np.ndarray:
    """Probability that a point with measured S/N ``snr`` is detected by difference imaging."""
    return 1.0 / (1.0 + np.exp(-np.clip((np.asarray(snr) - 5.3) / 0.65, -50.0, 50.0)))


@dataclass
class Visits:
    """Measured photometry of a set of visits (all arrays of equal length)."""

    fluxcal: np.ndarray
    fluxcalerr: np.ndarray
    photflag: np.ndarray
    psf_sig1: np.ndarray
    sky_sig: np.ndarray
    zeropt: np.ndarray
    saturated: np.ndarray


def observe(
    rng: np.random.Generator,
    band: np.ndarray,
    flux_true: np.ndarray,
    flux_total: np.ndarray,
    mag_total: np.ndarray,
) -> Visits:
    """Image properties, noisy FLUXCAL and detection flags for visits.

    ``flux_true`` is the true difference flux (FLUXCAL units, ZP 27.5) the survey measures,
    ``flux_total`` the total source flux that adds Poisson noise and ``mag_total`` its magnitude
    (for saturation). The trigger bit is set later, per object, by the caller.
    """
    m5 = M5[band] + rng.normal(0.0, 0.3, band.size)
    psf = np.round(PSF_SIG[band] * rng.lognormal(0.0, 0.15, band.size), 2)
    zp = np.round(ZEROPT[band] + rng.normal(0.0, 0.05, band.size), 2)
    adu_per_fluxcal = 10.0 ** (0.4 * (zp - ZP_FLUXCAL))
    sigma_sky = 10.0 ** (-0.4 * (m5 - ZP_FLUXCAL)) / 5.0
    sky_sig = np.round(sigma_sky * adu_per_fluxcal / (np.sqrt(4.0 * np.pi) * psf), 2)
    # recompute the sky noise from the rounded image values so the columns stay consistent
    sigma_sky = sky_sig * np.sqrt(4.0 * np.pi) * psf / adu_per_fluxcal
    err = np.sqrt(sigma_sky**2 + np.clip(flux_total, 0.0, None) / adu_per_fluxcal)
    flux = flux_true + err * rng.standard_normal(band.size)
    # difference imaging finds negative (fading) sources as well as positive ones
    detected = rng.random(band.size) < detection_efficiency(np.abs(flux) / err)
    saturated = mag_total < SATURATE_MAG[band]
    flux = np.where(saturated, 0.0, flux)
    err = np.where(saturated, 1.0e8, err)
    flag = np.where(saturated, PHOTFLAG_SATURATE, np.where(detected, PHOTFLAG_DETECT, 0))
    return Visits(flux, err, flag.astype(np.int32), psf, sky_sig, zp, saturated)
