"""elasticc_tutorial.plots: each function draws what it is given (checked on the artists)."""

from __future__ import annotations

import re

import matplotlib
from _reference import REAL, needs_real

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

from elasticc_tutorial import photometry, plots, taxonomy
from elasticc_tutorial.photometry import BANDS


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


LC = pl.DataFrame(
    {
        "MJD": [60000.0, 60001.0, 60002.0, 60003.0, 60004.0],
        "BAND": ["g", "r", "g", "r", "u"],
        "FLUXCAL": [10.0, 100.0, 50.0, -5.0, 20.0],
        "FLUXCALERR": [1.0, 2.0, 1.0, 1.0, 1.0],
        "PHOTFLAG": [0, 6144, 4096, 0, 0],
    }
)


@needs_real
def test_desc_band_colours_are_the_demo_notebooks():
    # Oracle: the colours the DESC demo notebooks' plot_ltcv uses, as the reference records them.
    text = (REAL.parent / "formats.md").read_text()
    line = re.search(r"band colours (u `#\w+`.*?Y `#\w+`)", text, re.S).group(1)
    documented = dict(re.findall(r"(\w) `(#[0-9a-f]{6})`", line))
    assert documented == plots.BAND_COLORS
    assert list(documented) == list(BANDS)


def test_category_colours_cover_every_leaf_category():
    categories = {taxonomy.parent(c) for c in taxonomy.GENTYPE_TO_CLASSID.values()}
    assert set(plots.CATEGORY_COLORS) == categories
    assert len(set(plots.CATEGORY_COLORS.values())) == len(categories)


def _points(fig: Figure) -> dict[str, tuple[np.ndarray, np.ndarray, str, str]]:
    """label -> (x, y, line colour, marker face colour) of every errorbar series."""
    out = {}
    for ax in fig.axes:
        for container in ax.containers:
            line = container.lines[0]
            out[container.get_label()] = (
                np.asarray(line.get_xdata()),
                np.asarray(line.get_ydata()),
                to_hex(line.get_color()),
                line.get_markerfacecolor(),
            )
    return out


def test_lightcurve_flux_detections_and_colours():
    fig = plots.plot_lightcurve(LC, title="SN 1")
    assert isinstance(fig, Figure)
    pts = _points(fig)
    assert set(pts) == {"g", "g forced", "r", "r forced", "u forced"}
    assert pts["r"][0].tolist() == [60001.0] and pts["r"][1].tolist() == [100.0]
    assert pts["g forced"][0].tolist() == [60000.0]
    assert pts["r"][2] == "#cc0000" and pts["u forced"][2] == "#cc0ccc"
    assert pts["u forced"][3] == "none"  # forced points are open markers
    assert fig.axes[0].get_title() == "SN 1"


def test_lightcurve_mag_relative_per_band():
    fig = plots.plot_lightcurve(LC, mag=True, relative_to_peak=True, per_band=True)
    assert len(fig.axes) == 3  # u, g, r panels
    pts = _points(fig)
    # Peak = brightest detection (r at 60001, flux 100): t = 0 there, mag = 27.5 - 5 = 22.5.
    assert pts["r"][0].tolist() == [0.0]
    assert pts["r"][1].tolist() == pytest.approx([22.5])
    assert "r forced" not in pts  # the negative forced flux has no magnitude
    assert fig.axes[0].yaxis_inverted()


def test_lightcurve_per_band_labels_do_not_overlap():
    # wide tick labels (fluxes in the thousands) used to push the band names under the shared label
    lc = LC.with_columns(pl.col("FLUXCAL") * 1000, pl.col("FLUXCALERR") * 1000)
    fig = plots.plot_lightcurve(lc, per_band=True)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    shared = fig._supylabel.get_window_extent(renderer)
    names = [t for a in fig.axes for t in a.texts]
    assert [t.get_text() for t in names] == ["u", "g", "r"]
    for ax in fig.axes:
        ticks = ax.yaxis.get_tightbbox(renderer)
        assert not shared.overlaps(ticks), "shared y-label overlaps a panel's tick labels"
    for t in names:
        box = t.get_window_extent(renderer)
        assert not shared.overlaps(box)
        assert t.axes.bbox.contains(box.x0, box.y0) and t.axes.bbox.contains(box.x1, box.y1)


def test_lightcurve_alert_columns():
    sources = pl.DataFrame(
        {
            "midPointTai": [1.0, 2.0],
            "filterName": ["i", "z"],
            "psFlux": [3631.0, 100.0],
            "psFluxErr": [1.0, 1.0],
        }
    )
    fig = plots.plot_lightcurve(sources, mag=True)
    pts = _points(fig)
    assert pts["i"][1].tolist() == pytest.approx([31.4 - 2.5 * np.log10(3631.0)])
    assert pts["z"][2] == "#886600"
    with pytest.raises(plots.PlotError, match="needs columns"):
        plots.plot_lightcurve(pl.DataFrame({"x": [1]}))
    with pytest.raises(ValueError, match="empty"):
        plots.plot_lightcurve(LC.clear())


def test_redshift_hist():
    df = pl.DataFrame(
        {"REDSHIFT_FINAL": [0.1, 0.2, 0.2, -9.0, 0.9], "model": ["a", "a", "b", "b", "b"]}
    )
    fig = plots.plot_redshift_hist(df, bins=[0, 0.5, 1.0])
    heights = [p.get_height() for p in fig.axes[0].patches]
    assert heights == [3, 1]  # the -9 sentinel is dropped
    fig = plots.plot_redshift_hist(df, by="model", bins=2)
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["a", "b"]
    fig = plots.plot_redshift_hist(np.array([0.5, 0.6]), bins=1)
    assert [p.get_height() for p in fig.axes[0].patches] == [2]


def test_class_hist_labels():
    fig = plots.plot_class_hist(pl.DataFrame({"c": [2222, 2222, 2332]}), "c")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2222 Ia", "2332 AGN"]
    assert [p.get_width() for p in ax.patches] == [2, 1]
    fig = plots.plot_class_hist([50, 82, 71], kind="gentype")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["50 KN", "71 (unmapped)", "82 M-dwarf Flare"]


def test_confusion_matrix():
    df = pl.DataFrame({"true": [2222, 2222, 2222, 2232], "pred": [2222, 2222, 2232, 2232]})
    fig = plots.plot_confusion_matrix(df)
    ax = fig.axes[0]
    assert np.allclose(ax.images[0].get_array(), [[2 / 3, 1 / 3], [0, 1]])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2222 Ia", "2232 KN"]
    fig = plots.plot_confusion_matrix(
        np.array([1, 1, 2]), np.array([1, 2, 2]), normalize=False, kind="label", labels=[2, 1]
    )
    assert np.array_equal(fig.axes[0].images[0].get_array(), [[1, 0], [1, 1]])
    # rectangular: two true classes against three predicted ones; a pair outside is left out
    fig = plots.plot_confusion_matrix(
        [2222, 2222, 2222, 2223, 2232],
        [2222, 2230, 200, 2222, 2232],
        labels=[2222, 2223],
        pred_labels=[2222, 2230, 200],
        normalize=False,
    )
    ax = fig.axes[0]
    assert np.array_equal(ax.images[0].get_array(), [[1, 1, 1], [1, 0, 0]])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2222 Ia", "2230 Fast", "200 Residual"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2222 Ia", "2223 Ib/c"]
    with pytest.raises(ValueError, match="length"):
        plots.plot_confusion_matrix([1, 2], [1])
    with pytest.raises(ValueError, match="pred="):
        plots.plot_confusion_matrix([1, 2])


@pytest.mark.parametrize(
    "names",
    [
        ("mjd", "band", "flux", "fluxerr"),  # the TOM's ltcv / hot_transients
        ("midpointtai", "filtername", "psflux", "psfluxerr"),  # the TOM database
        ("midPointTai", "filterName", "psFlux", "psFluxErr"),  # the alerts
    ],
)
def test_lightcurve_tom_columns_as_they_come(names):
    t, b, f, e = names
    tom = pl.DataFrame(
        {t: [1.0, 2.0, 3.0], b: ["i", "i", "Y"], f: [3631.0, 10.0, 100.0], e: [1.0, 5.0, 1.0]}
    )
    fig = plots.plot_lightcurve(tom, mag=True, detected=photometry.snr_at_least(f, e))
    pts = _points(fig)
    # 3631 nJy at zero point 31.4: m = 31.4 - 2.5 log10(3631) = 22.5; S/N 2 is a forced point.
    assert pts["i"][1].tolist() == pytest.approx([31.4 - 2.5 * np.log10(3631.0)])
    assert pts["i forced"][0].tolist() == [2.0]
    assert pts["Y"][2] == "#442200"
    assert fig.axes[0].get_xlabel() == t
    with pytest.raises(plots.PlotError, match="not a column"):
        plots.plot_lightcurve(tom, detected="nope")
