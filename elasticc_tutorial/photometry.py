"""Flux units, magnitudes and PHOTFLAG bits of ELAsTiCC photometry.

SNANA stores ``FLUXCAL`` with ``mag = 27.5 - 2.5 log10(FLUXCAL)``; Rubin alerts and the TOM database
store fluxes in nJy (zero point 31.4), so ``psFlux = FLUXCAL * 10**((31.4 - 27.5) / 2.5) ~ 36.31 FLUXCAL``.

Every function accepts Python floats, numpy arrays or polars expressions/series and returns the same
kind (floats come back as numpy scalars); the S/N functions also take column names (``"flux"``,
``"FLUXCAL"``) and give expressions. Non-positive fluxes give NaN magnitudes instead of warnings,
because forced photometry of faint objects is routinely negative.

S/N of list columns (one list per object, as the TOM's ``ltcv``/``hot_transients`` with
``return_format=2`` give them): :func:`snr_lists` and :func:`count_snr_at_least`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

#: The LSST bands, in SNANA ``FILTERS`` order (``Y`` upper case, as in SNANA and Avro; the TOM
#: database spells it ``y`` in column names).
BANDS: tuple[str, ...] = ("u", "g", "r", "i", "z", "Y")
ZP_FLUXCAL = 27.5  # also what desc-tom's ltcv and gethottransients report as "zp"
ZP_NJY = 31.4
FLUXCAL_TO_NJY = 10 ** ((ZP_NJY - ZP_FLUXCAL) / 2.5)

PHOTFLAG_SATURATE = 1024  # 0x0400
PHOTFLAG_TRIGGER = 2048  # 0x0800: the first detection that triggered the object
PHOTFLAG_DETECT = 4096  # 0x1000: detected points (diaSource); all points are forced photometry

# 2.5 / ln(10): d(mag) = 1.0857 * d(flux) / flux
_MAG_ERR_FACTOR = 2.5 / math.log(10.0)

__all__ = [
    "BANDS",
    "FLUXCAL_TO_NJY",
    "PHOTFLAG_DETECT",
    "PHOTFLAG_SATURATE",
    "PHOTFLAG_TRIGGER",
    "ZP_FLUXCAL",
    "ZP_NJY",
    "count_snr_at_least",
    "flux_to_mag",
    "fluxcal_to_njy",
    "is_detection",
    "is_trigger",
    "mag_err",
    "mag_to_flux",
    "njy_to_fluxcal",
    "snr",
    "snr_at_least",
    "snr_lists",
]

_POLARS = (pl.Expr, pl.Series)


def _is_polars(*values: Any) -> bool:
    return any(isinstance(v, _POLARS) for v in values)


def _is_expr(*values: Any) -> bool:
    return any(isinstance(v, pl.Expr) for v in values)


def _np(value: Any) -> Any:
    return value.to_numpy() if isinstance(value, pl.Series) else value


def _name(value: Any) -> str:
    return value.name if isinstance(value, pl.Series) else ""


def _zp_factor(zp_from: float, zp_to: float) -> float:
    return 10 ** ((zp_to - zp_from) / 2.5)


def fluxcal_to_njy(flux: Any, zp: float = ZP_FLUXCAL) -> Any:
    """Convert a flux (or flux error) at zero point ``zp`` (default SNANA's 27.5) to nJy."""
    factor = _zp_factor(zp, ZP_NJY)
    return flux * factor if _is_polars(flux) else np.asarray(flux, dtype=float)[()] * factor


def njy_to_fluxcal(flux: Any, zp: float = ZP_FLUXCAL) -> Any:
    """Convert a flux (or flux error) in nJy to zero point ``zp`` (default SNANA's 27.5)."""
    factor = _zp_factor(ZP_NJY, zp)
    return flux * factor if _is_polars(flux) else np.asarray(flux, dtype=float)[()] * factor


def flux_to_mag(flux: Any, zp: float = ZP_FLUXCAL) -> Any:
    """AB magnitude ``zp - 2.5 log10(flux)``; NaN where ``flux <= 0``."""
    if _is_polars(flux):
        if isinstance(flux, pl.Series):
            return pl.Series(flux.name, flux_to_mag(flux.to_numpy(), zp))
        return pl.when(flux > 0).then(zp - 2.5 * flux.log10()).otherwise(float("nan"))
    f = np.asarray(flux, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mag = np.where(f > 0, zp - 2.5 * np.log10(np.where(f > 0, f, 1.0)), np.nan)
    return mag[()]


def mag_to_flux(mag: Any, zp: float = ZP_FLUXCAL) -> Any:
    """Flux at zero point ``zp`` for an AB magnitude: ``10**(-0.4 (mag - zp))``."""
    if _is_polars(mag):
        return 10 ** (-0.4 * (mag - zp))
    return (10 ** (-0.4 * (np.asarray(mag, dtype=float) - zp)))[()]


def mag_err(flux: Any, err: Any) -> Any:
    """Magnitude error ``1.0857 * err / flux`` (first order); NaN where ``flux <= 0``."""
    if _is_polars(flux, err):
        if not _is_expr(flux, err):
            return pl.Series(_name(flux), mag_err(_np(flux), _np(err)))
        return pl.when(flux > 0).then(_MAG_ERR_FACTOR * err / flux).otherwise(float("nan"))
    f = np.asarray(flux, dtype=float)
    e = np.asarray(err, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(f > 0, _MAG_ERR_FACTOR * e / np.where(f > 0, f, 1.0), np.nan)
    return out[()]


def _column(value: Any) -> Any:
    return pl.col(value) if isinstance(value, str) else value


def snr(flux: Any, err: Any) -> Any:
    """Signal-to-noise ratio ``flux / err``; NaN where ``err <= 0``. Column names give an
    expression: ``snr("FLUXCAL", "FLUXCALERR")``."""
    flux, err = _column(flux), _column(err)
    if _is_polars(flux, err):
        if not _is_expr(flux, err):
            return pl.Series(_name(flux), snr(_np(flux), _np(err)))
        return pl.when(err > 0).then(flux / err).otherwise(float("nan"))
    f = np.asarray(flux, dtype=float)
    e = np.asarray(err, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(e > 0, f / np.where(e > 0, e, 1.0), np.nan)
    return out[()]


def snr_at_least(flux: Any, err: Any, threshold: float = 5.0) -> Any:
    """True where ``flux / err >= threshold`` (False where ``err <= 0``), e.g.
    ``snr_at_least("flux", "fluxerr")`` to mark the 5-sigma points of a TOM light curve."""
    ratio = snr(flux, err)
    if isinstance(ratio, pl.Expr):
        return ratio.fill_nan(None).ge(threshold).fill_null(False)
    if isinstance(ratio, pl.Series):
        return ratio.fill_nan(None).ge(threshold).fill_null(False)
    with np.errstate(invalid="ignore"):
        return (np.asarray(ratio) >= threshold)[()]


def snr_lists(flux: str | pl.Expr, err: str | pl.Expr) -> pl.Expr:
    """Expression: per-element ``flux / err`` of two list columns (one list per object); NaN
    where ``err <= 0``."""
    ratio = _column(flux) / _column(err)
    # A division by 0 gives +-inf or NaN, a negative error a sign flip: both become NaN.
    ok = (_column(err).list.eval(pl.element() > 0)).cast(pl.List(pl.Float64))
    return (ratio * ok / ok).list.eval(pl.element().fill_null(float("nan")))


def count_snr_at_least(flux: str | pl.Expr, err: str | pl.Expr, threshold: float = 5.0) -> pl.Expr:
    """Expression: how many elements of two list columns have ``flux / err >= threshold``
    (``count_snr_at_least("flux", "fluxerr")``: the 5-sigma points of each object)."""
    # polars orders NaN above every number: drop it before comparing.
    above = (pl.element().fill_nan(None) >= threshold).fill_null(False)
    return snr_lists(flux, err).list.eval(above).list.sum()


def is_detection(photflag: Any) -> Any:
    """True for points with the DETECT bit (4096) set: the diaSources of an alert."""
    if _is_polars(photflag):
        return (photflag & PHOTFLAG_DETECT) != 0
    return (np.asarray(photflag).astype(np.int64) & PHOTFLAG_DETECT) != 0


def is_trigger(photflag: Any) -> Any:
    """True for the point with the TRIGGER bit (2048) set: the first detection that triggered the object."""
    if _is_polars(photflag):
        return (photflag & PHOTFLAG_TRIGGER) != 0
    return (np.asarray(photflag).astype(np.int64) & PHOTFLAG_TRIGGER) != 0
