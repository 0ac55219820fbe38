"""Plots for the tutorial: light curves, redshift and class histograms, confusion matrices.

Every function returns the matplotlib :class:`~matplotlib.figure.Figure` (draw into ``ax=`` to
compose your own layout). Bands use the DESC colour convention :data:`BAND_COLORS`; taxonomy
categories use :data:`CATEGORY_COLORS`.

:func:`plot_lightcurve` takes a light curve as any part of the package or the TOM gives it, with
no renaming (:data:`LIGHTCURVE_LAYOUTS`): the readers' ``MJD, BAND, FLUXCAL, FLUXCALERR[,
PHOTFLAG]`` (zero point 27.5), the alerts' ``midPointTai, filterName, psFlux, psFluxErr``, the
TOM's ``ltcv``/``hot_transients`` ``mjd, band, flux, fluxerr`` and the TOM database's
``midpointtai, filtername, psflux, psfluxerr`` (all three in nJy, zero point 31.4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from elasticc_tutorial import taxonomy
from elasticc_tutorial.errors import ElasticcTutorialError
from elasticc_tutorial.photometry import (
    BANDS,
    PHOTFLAG_DETECT,
    ZP_FLUXCAL,
    ZP_NJY,
    flux_to_mag,
    mag_err,
)

__all__ = [
    "BANDS",
    "BAND_COLORS",
    "CATEGORY_COLORS",
    "LIGHTCURVE_LAYOUTS",
    "LightcurveLayout",
    "PlotError",
    "plot_class_hist",
    "plot_confusion_matrix",
    "plot_lightcurve",
    "plot_redshift_hist",
]


class PlotError(ElasticcTutorialError, ValueError):
    """Data a plot cannot draw (the message names the columns or argument expected)."""


#: DESC band colours (those of the ELAsTiCC2 demo notebooks' ``plot_ltcv``).
BAND_COLORS = {
    "u": "#cc0ccc",
    "g": "#00cc44",
    "r": "#cc0000",
    "i": "#ff4400",
    "z": "#886600",
    "Y": "#442200",
}

#: One colour per tens-level taxonomy category of the leaf classes (matplotlib's tab10).
CATEGORY_COLORS = {
    2220: "#1f77b4",  # SN-like
    2230: "#ff7f0e",  # Fast
    2240: "#2ca02c",  # Long
    2320: "#9467bd",  # Periodic
    2330: "#8c564b",  # Non-Periodic
}


@dataclass(frozen=True)
class LightcurveLayout:
    """Where a light-curve table keeps time, band, flux and flux error, and the flux zero point."""

    name: str
    time: str
    band: str
    flux: str
    err: str
    zp: float
    unit: str


#: The light-curve layouts :func:`plot_lightcurve` recognises, in the order it tries them.
LIGHTCURVE_LAYOUTS: tuple[LightcurveLayout, ...] = (
    LightcurveLayout("readers", "MJD", "BAND", "FLUXCAL", "FLUXCALERR", ZP_FLUXCAL, "FLUXCAL"),
    LightcurveLayout("alerts", "midPointTai", "filterName", "psFlux", "psFluxErr", ZP_NJY, "nJy"),
    LightcurveLayout("TOM ltcv", "mjd", "band", "flux", "fluxerr", ZP_NJY, "nJy"),
    LightcurveLayout("TOM SQL", "midpointtai", "filtername", "psflux", "psfluxerr", ZP_NJY, "nJy"),
)


def _frame(data: Any) -> pl.DataFrame:
    if isinstance(data, pl.LazyFrame):
        return data.collect()
    if isinstance(data, pl.DataFrame):
        return data
    try:
        return pl.DataFrame(data)
    except (TypeError, ValueError) as exc:
        raise PlotError(
            f"expected a polars DataFrame or a mapping of columns, got {type(data)}"
        ) from exc


def _figure(ax: Axes | None, **kw: Any) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig, ax = plt.subplots(**kw)
    return fig, ax


# --------------------------------------------------------------------------------------------------
# Light curves: reading the table (layout, detections) is one concern, drawing it another.


@dataclass
class _Points:
    layout: LightcurveLayout
    t: np.ndarray
    flux: np.ndarray
    err: np.ndarray
    bands: np.ndarray
    det: np.ndarray


def _layout(df: pl.DataFrame) -> LightcurveLayout:
    for layout in LIGHTCURVE_LAYOUTS:
        if {layout.time, layout.band, layout.flux} <= set(df.columns):
            return layout
    expected = "; ".join(
        f"{x.time}, {x.band}, {x.flux}[, {x.err}] ({x.name})" for x in LIGHTCURVE_LAYOUTS
    )
    raise PlotError(f"light curve needs columns {expected}; got {df.columns}")


def _detections(df: pl.DataFrame, detected: str | pl.Expr | None) -> np.ndarray:
    """Which points are detections: ``detected`` (a boolean column or expression), else a
    ``DETECTED`` column, else the PHOTFLAG 4096 bit, else every point."""
    if detected is not None:
        expr = pl.col(detected) if isinstance(detected, str) else detected
        if isinstance(detected, str) and detected not in df.columns:
            raise PlotError(f"detected={detected!r} is not a column; the table has {df.columns}")
        return df.select(expr.fill_null(False).cast(pl.Boolean)).to_series().to_numpy()
    if "DETECTED" in df.columns:
        return df["DETECTED"].to_numpy().astype(bool)
    if "PHOTFLAG" in df.columns:
        return (df["PHOTFLAG"].to_numpy() & PHOTFLAG_DETECT) != 0
    return np.ones(df.height, dtype=bool)


def _points(lc: Any, detected: str | pl.Expr | None) -> _Points:
    df = _frame(lc)
    layout = _layout(df)
    if df.height == 0:
        raise PlotError("empty light curve: nothing to plot")
    flux = df[layout.flux].to_numpy().astype(float)
    err = (
        df[layout.err].to_numpy().astype(float) if layout.err in df.columns else np.zeros_like(flux)
    )
    return _Points(
        layout=layout,
        t=df[layout.time].to_numpy().astype(float),
        flux=flux,
        err=err,
        bands=np.asarray(df[layout.band].cast(pl.String).str.strip_chars().to_list()),
        det=_detections(df, detected),
    )


def _draw_band(a: Axes, t, y, yerr, det, color: str, band: str) -> None:
    for is_det, suffix in ((True, ""), (False, " forced")):
        sel = (det == is_det) & np.isfinite(y)
        if sel.any():
            a.errorbar(
                t[sel],
                y[sel],
                yerr=yerr[sel],
                fmt="o",
                ms=5 if is_det else 4,
                color=color,
                mfc=color if is_det else "none",
                alpha=1.0 if is_det else 0.6,
                lw=0.8,
                label=f"{band}{suffix}",
            )


def plot_lightcurve(
    lc: pl.DataFrame | pl.LazyFrame,
    *,
    mag: bool = False,
    per_band: bool = False,
    relative_to_peak: bool | float = False,
    detected: str | pl.Expr | None = None,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure:
    """Plot one object's light curve, coloured by band (any layout of :data:`LIGHTCURVE_LAYOUTS`).

    ``mag``: AB magnitudes (points with flux <= 0 are left out) instead of flux. ``per_band``: one
    panel per band. ``relative_to_peak``: True puts t = 0 at the brightest detection (or the
    brightest point if none is flagged), a number uses that time. Detections are filled markers,
    the other (forced) points open ones; ``detected`` is a boolean column name or expression (e.g.
    ``photometry.snr_at_least("flux", "fluxerr")``), by default ``DETECTED`` if present, else the
    PHOTFLAG 4096 bit, else every point counts as a detection.
    """
    p = _points(lc, detected)
    t, layout = p.t, p.layout
    xlabel = layout.time
    if relative_to_peak is not False:
        if relative_to_peak is True:
            pool = np.flatnonzero(p.det) if p.det.any() else np.arange(len(t))
            t0 = t[pool[np.nanargmax(p.flux[pool])]]
        else:
            t0 = float(relative_to_peak)
        t = t - t0
        xlabel = f"{layout.time} - {t0:.2f} (days from peak)"
    if mag:
        y, yerr = flux_to_mag(p.flux, layout.zp), mag_err(p.flux, p.err)
        ylabel = "AB magnitude"
    else:
        y, yerr = p.flux, p.err
        ylabel = f"{layout.flux} ({layout.unit}, zero point {layout.zp})"

    present = [b for b in BANDS if b in set(p.bands)] + sorted(set(p.bands) - set(BANDS))
    if per_band:
        if ax is not None:
            raise PlotError("per_band=True draws its own panels; do not pass ax")
        fig, axes = plt.subplots(
            len(present),
            1,
            sharex=True,
            figsize=(7, 1.6 * len(present) + 1),
            squeeze=False,
            layout="constrained",  # keeps the shared y-label clear of the tick labels
        )
        panels = dict(zip(present, axes[:, 0], strict=True))
    else:
        fig, one = _figure(ax, figsize=(8, 4.5))
        panels = dict.fromkeys(present, one)

    for b in present:
        sel = p.bands == b
        color = BAND_COLORS.get(b, "0.4")
        _draw_band(panels[b], t[sel], y[sel], yerr[sel], p.det[sel], color, b)
        if per_band:
            # the band names go inside the panels: as y-labels they collide with the shared
            # label (fig.supylabel) whenever the tick labels are wide
            panels[b].text(
                0.01,
                0.95,
                b,
                transform=panels[b].transAxes,
                ha="left",
                va="top",
                fontweight="bold",
                color=color,
            )
    axes_list = list(dict.fromkeys(panels.values()))
    for a in axes_list:
        if mag:
            a.invert_yaxis()
        else:
            a.axhline(0, color="0.7", lw=0.5)
    axes_list[-1].set_xlabel(xlabel)
    if per_band:
        fig.supylabel(ylabel)
    else:
        axes_list[0].set_ylabel(ylabel)
        axes_list[0].legend(fontsize="small", ncol=2)
    if title:
        (fig.suptitle if per_band else axes_list[0].set_title)(title)
    return fig


def _values(data: Any, column: str | None) -> np.ndarray:
    if isinstance(data, pl.DataFrame | pl.LazyFrame):
        if column is None:
            raise PlotError("pass column= when giving a frame")
        return _frame(data)[column].to_numpy()
    if isinstance(data, pl.Series):
        return data.to_numpy()
    return np.asarray(data)


def plot_redshift_hist(
    data: Any,
    column: str = "REDSHIFT_FINAL",
    *,
    by: str | None = None,
    bins: int | Sequence[float] = 30,
    ax: Axes | None = None,
) -> Figure:
    """Histogram of redshifts (a frame's ``column`` or an array); ``by`` overlays one step
    histogram per value of that column (e.g. a model or class column). Values < 0 (the -9
    "unknown" sentinel) are left out."""
    fig, ax = _figure(ax, figsize=(7, 4))
    if by is not None:
        df = _frame(data)
        edges = np.histogram_bin_edges(df.filter(pl.col(column) >= 0)[column].to_numpy(), bins=bins)
        for (key,), part in df.group_by(by, maintain_order=True):
            z = part[column].to_numpy()
            ax.hist(z[z >= 0], bins=edges.tolist(), histtype="step", lw=1.5, label=str(key))
        ax.legend(title=by, fontsize="small")
    else:
        z = _values(data, column).astype(float)
        ax.hist(z[z >= 0], bins=bins, color="0.4")
    ax.set_xlabel(column if isinstance(data, pl.DataFrame | pl.LazyFrame) else "redshift")
    ax.set_ylabel("objects")
    return fig


def _class_label(value: int, kind: str) -> str:
    if kind == "classid":
        return f"{value} {taxonomy.class_name(value)}" if value in taxonomy.CLASSES else str(value)
    if kind == "gentype":
        cid = taxonomy.GENTYPE_TO_CLASSID.get(int(value))
        return f"{value} {taxonomy.class_name(cid)}" if cid is not None else f"{value} (unmapped)"
    return str(value)


def plot_class_hist(
    data: Any,
    column: str | None = None,
    *,
    kind: str = "classid",
    log: bool = False,
    ax: Axes | None = None,
) -> Figure:
    """Bar chart of object counts per class. ``kind``: ``"classid"`` (labels from the taxonomy),
    ``"gentype"`` (SNANA gentype, labelled with its classId name) or ``"label"`` (as is)."""
    if kind not in ("classid", "gentype", "label"):
        raise PlotError(f"kind must be 'classid', 'gentype' or 'label', not {kind!r}")
    values = _values(data, column)
    keys, counts = np.unique(values, return_counts=True)
    labels = [_class_label(k, kind) if kind != "label" else str(k) for k in keys]
    fig, ax = _figure(ax, figsize=(7, 0.3 * len(keys) + 1.5))
    ax.barh(np.arange(len(keys)), counts, color="0.4", log=log)
    ax.set_yticks(np.arange(len(keys)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("objects")
    return fig


def plot_confusion_matrix(
    true: Any,
    pred: Any = None,
    *,
    true_col: str = "true",
    pred_col: str = "pred",
    labels: Sequence[int] | None = None,
    pred_labels: Sequence[int] | None = None,
    normalize: bool = True,
    kind: str = "classid",
    ax: Axes | None = None,
) -> Figure:
    """Confusion matrix of true vs predicted classes, rows = truth.

    Give two arrays, or a frame with columns ``true_col``/``pred_col``. ``labels``: the classes
    (order) to show, default all present; tick labels come from the taxonomy for ``kind="classid"``.
    ``pred_labels``: other classes for the columns (a rectangular matrix, e.g. one family's true
    classes against everything they were called); default ``labels``. Pairs outside the rows or
    columns are left out. ``normalize``: rows sum to 1 (fraction of each true class); else counts.
    """
    if isinstance(true, pl.DataFrame | pl.LazyFrame):
        df = _frame(true)
        y_true, y_pred = df[true_col].to_numpy(), df[pred_col].to_numpy()
    else:
        if pred is None:
            raise PlotError("pass pred= (predicted classes) with a true-class array")
        y_true, y_pred = _values(true, None), _values(pred, None)
    if len(y_true) != len(y_pred):
        raise PlotError(f"true and pred differ in length ({len(y_true)} vs {len(y_pred)})")
    classes = list(labels) if labels is not None else sorted(set(y_true) | set(y_pred))
    columns = list(pred_labels) if pred_labels is not None else classes
    index = {c: i for i, c in enumerate(classes)}
    col_index = {c: i for i, c in enumerate(columns)}
    n, m = len(classes), len(columns)
    matrix = np.zeros((n, m), dtype=float)
    keep = np.array([a in index and b in col_index for a, b in zip(y_true, y_pred, strict=True)])
    ti = np.array([index[a] for a in y_true[keep]], dtype=int)
    pi = np.array([col_index[b] for b in y_pred[keep]], dtype=int)
    np.add.at(matrix, (ti, pi), 1)
    if normalize:
        rows = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)

    def names(values: list) -> list[str]:
        return [_class_label(c, kind) if kind != "label" else str(c) for c in values]

    fig, ax = _figure(ax, figsize=(0.5 * m + 3, 0.5 * n + 2.5))
    im = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    ax.set_xticks(range(m), names(columns), rotation=90)
    ax.set_yticks(range(n), names(classes))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(n):
        for j in range(m):
            v = matrix[i, j]
            if v:
                text = f"{v:.2f}" if normalize else f"{int(v)}"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=9,
                    color="white" if v > 0.6 * (matrix.max() or 1) else "black",
                )
    fig.colorbar(im, ax=ax, label="fraction of true class" if normalize else "count")
    fig.tight_layout()
    return fig
