"""Light-curve features a broker can compute from one alert, and the same view of a training light curve.

A broker knows only what an alert carries: the triggering ``diaSource``, the earlier detections
(``prvDiaSources``) and the forced photometry (``prvDiaForcedSources``). :class:`History` holds that
view as arrays; :func:`history_from_alert` builds it from a decoded alert and
:meth:`LightCurve.history_at` builds the *same* view from a complete SNANA light curve at the time of
one of its detections, with the DESC TOM's history windows (``BaseAlert.reconstruct``; see chapter 4):

* earlier detections: ``t - 365 d <= t' < t``;
* forced photometry: none on the first night (``t <= t0 + 0.5 d``), otherwise
  ``max(t - 365 d, t0 - 30 d) <= t' < t``, where ``t0`` is the object's first detection.

:func:`features` is the one feature function, used for training and for classification alike. It
ignores every point later than ``History.mjd_now`` (the alert's own time), so no feature can see the
future even if a history were built wrongly. Fluxes are in SNANA ``FLUXCAL`` (alerts' nJy are
converted), so training files and alerts give identical numbers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from elasticc_tutorial import photometry

__all__ = [
    "FEATURE_NAMES",
    "History",
    "LightCurve",
    "features",
    "history_from_alert",
]

BANDS = photometry.BANDS
_BAND_INDEX = {b: i for i, b in enumerate(BANDS)}

DETECTION_WINDOW = 365.0  # days of earlier detections an alert carries
FORCED_BEFORE_FIRST = 30.0  # forced photometry reaches this many days before the first detection
FIRST_NIGHT = 0.5  # no forced photometry within this many days of the first detection
COLOUR_WINDOW = 5.0  # days around the peak whose fluxes make the colours
SNR_LONG = 5.0  # "duration above S/N 5"

#: Names of the columns :func:`features` returns, in order.
FEATURE_NAMES: tuple[str, ...] = (
    "n_detections",
    "n_points",
    "days_since_first_detection",
    "duration_snr5",
    "days_since_peak",
    "host_z",
    *(f"peak_flux_{b}" for b in BANDS),
    *(f"days_since_peak_{b}" for b in BANDS),
    *(f"rise_rate_{b}" for b in BANDS),
    *(f"decline_rate_{b}" for b in BANDS),
    *(f"colour_{a}{b}" for a, b in itertools.pairwise(BANDS)),
)


@dataclass(frozen=True)
class History:
    """What a broker knows at ``mjd_now``: photometry points (time order) and the host's redshift.

    ``band`` holds indices into :data:`elasticc_tutorial.photometry.BANDS`; fluxes are FLUXCAL;
    ``detected`` marks detections (diaSources); ``host_z`` is NaN when unknown.
    """

    mjd: np.ndarray
    band: np.ndarray
    flux: np.ndarray
    fluxerr: np.ndarray
    detected: np.ndarray
    mjd_now: float
    host_z: float


def _band_indices(names, where: str) -> np.ndarray:
    try:
        return np.array([_BAND_INDEX[b] for b in names], dtype=np.int8)
    except KeyError as exc:
        raise ValueError(
            f"{where}: unknown band {exc.args[0]!r}; expected one of {BANDS}"
        ) from None


def _host_z(value: float | None) -> float:
    """Photo-z as stored by SNANA and the alerts: negative values (-9) mean 'no host redshift'."""
    return float(value) if value is not None and value >= 0 else float("nan")


def history_from_alert(alert: dict) -> History:
    """The history an alert carries (``diaSource`` + ``prvDiaSources`` + ``prvDiaForcedSources``).

    A forced-photometry point at the time and band of a detection is the same measurement, so it is
    kept once, marked as detected. Fluxes are converted from nJy to FLUXCAL.
    """
    try:
        source = alert["diaSource"]
        now = float(source["midPointTai"])
        detections = [*(alert.get("prvDiaSources") or []), source]
        forced = alert.get("prvDiaForcedSources") or []
    except (KeyError, TypeError) as exc:
        raise ValueError(f"not a decoded elasticc.v0_9_1.alert: missing {exc}") from None
    seen = {(d["midPointTai"], d["filterName"]) for d in detections}
    rows = [(d, True) for d in detections] + [
        (f, False) for f in forced if (f["midPointTai"], f["filterName"]) not in seen
    ]
    rows.sort(key=lambda r: r[0]["midPointTai"])
    where = f"alert {alert.get('alertId')}"
    obj = alert.get("diaObject") or {}
    return History(
        mjd=np.array([r["midPointTai"] for r, _ in rows], dtype=np.float64),
        band=_band_indices([r["filterName"] for r, _ in rows], where),
        flux=photometry.njy_to_fluxcal(np.array([r["psFlux"] for r, _ in rows], dtype=np.float64)),
        fluxerr=photometry.njy_to_fluxcal(
            np.array([r["psFluxErr"] for r, _ in rows], dtype=np.float64)
        ),
        detected=np.array([d for _, d in rows], dtype=bool),
        mjd_now=now,
        host_z=_host_z(obj.get("hostgal_zphot")),
    )


@dataclass(frozen=True)
class LightCurve:
    """A complete light curve (SNANA PHOT rows of one object, time order) to cut into alert views."""

    mjd: np.ndarray
    band: np.ndarray
    flux: np.ndarray
    fluxerr: np.ndarray
    detected: np.ndarray
    host_z: float

    @classmethod
    def from_snana(
        cls, mjd, band, fluxcal, fluxcalerr, photflag, host_photoz: float | None, *, where: str
    ) -> LightCurve:
        """From SNANA columns (``MJD``, ``BAND``, ``FLUXCAL``, ``FLUXCALERR``, ``PHOTFLAG``) and the
        HEAD's ``HOSTGAL_PHOTOZ``; ``where`` names the object in error messages."""
        mjd = np.asarray(mjd, dtype=np.float64)
        order = np.argsort(mjd, kind="stable")
        return cls(
            mjd=mjd[order],
            band=_band_indices(np.asarray(band)[order], where),
            flux=np.asarray(fluxcal, dtype=np.float64)[order],
            fluxerr=np.asarray(fluxcalerr, dtype=np.float64)[order],
            detected=np.asarray(photometry.is_detection(np.asarray(photflag)), dtype=bool)[order],
            host_z=_host_z(host_photoz),
        )

    def alert_points(self) -> np.ndarray:
        """Indices of the points that made alerts (the detections)."""
        return np.flatnonzero(self.detected)

    def history_at(self, index: int) -> History:
        """What the alert of detection ``index`` carries (the TOM's windows, module docstring)."""
        if not self.detected[index]:
            raise ValueError(f"point {index} is not a detection; only detections make alerts")
        t = self.mjd[index]
        t0 = self.mjd[self.detected].min()
        before = self.mjd < t
        keep = self.detected & before & (self.mjd >= t - DETECTION_WINDOW)
        if t > t0 + FIRST_NIGHT:
            keep |= before & (self.mjd >= max(t - DETECTION_WINDOW, t0 - FORCED_BEFORE_FIRST))
        keep[index] = True
        return History(
            mjd=self.mjd[keep],
            band=self.band[keep],
            flux=self.flux[keep],
            fluxerr=self.fluxerr[keep],
            detected=self.detected[keep],
            mjd_now=float(t),
            host_z=self.host_z,
        )


def _colour(f1: float, f2: float) -> float:
    return -2.5 * np.log10(f1 / f2) if f1 > 0 and f2 > 0 else np.nan


def features(history: History) -> np.ndarray:
    """The feature vector (:data:`FEATURE_NAMES`) of what is known at ``history.mjd_now``.

    Per band: peak flux and days since it, rise rate (fractional flux gain per day from the band's
    first point to its peak) and decline rate (fractional loss per day from the peak to its last
    point); colours (magnitude differences of neighbouring bands) from the mean fluxes within
    5 days of the brightest point; overall: detections, points, days since the first detection,
    days between the first and last point with S/N >= 5, days since the brightest point, host
    photo-z. NaN where a feature is undefined (the gradient-boosting classifiers handle NaN).
    """
    now = history.mjd_now
    past = history.mjd <= now  # the guarantee: nothing after the alert's own time is ever used
    mjd, band = history.mjd[past], history.band[past]
    flux, err, det = history.flux[past], history.fluxerr[past], history.detected[past]
    nan = np.nan
    out = np.full(len(FEATURE_NAMES), nan)
    out[0] = det.sum()
    out[1] = mjd.size
    out[2] = now - mjd[det].min() if det.any() else nan
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(err > 0, flux / err, nan)
    strong = mjd[snr >= SNR_LONG]
    out[3] = strong.max() - strong.min() if strong.size else 0.0
    out[5] = history.host_z
    nb = len(BANDS)
    band_mean_near_peak = np.full(nb, nan)
    if mjd.size:
        brightest = int(np.argmax(np.where(np.isfinite(flux), flux, -np.inf)))
        t_peak = mjd[brightest]
        out[4] = now - t_peak
        near = np.abs(mjd - t_peak) <= COLOUR_WINDOW
    for b in range(nb):
        sel = band == b
        if not sel.any():
            continue
        t, f = mjd[sel], flux[sel]
        k = int(np.argmax(f))
        peak = f[k]
        out[6 + b] = peak
        out[6 + nb + b] = now - t[k]
        if peak > 0 and t[k] > t[0]:
            out[6 + 2 * nb + b] = (peak - f[0]) / peak / (t[k] - t[0])
        if peak > 0 and t[-1] > t[k]:
            out[6 + 3 * nb + b] = (peak - f[-1]) / peak / (t[-1] - t[k])
        if near[sel].any():
            band_mean_near_peak[b] = f[near[sel]].mean()
    for b in range(nb - 1):
        out[6 + 4 * nb + b] = _colour(band_mean_near_peak[b], band_mean_near_peak[b + 1])
    return out


def feature_matrix(histories, feature_fn=features) -> np.ndarray:
    """``feature_fn`` (default :func:`features`) of many histories, one row each."""
    rows = [feature_fn(h) for h in histories]
    return np.vstack(rows) if rows else np.empty((0, len(FEATURE_NAMES)))
