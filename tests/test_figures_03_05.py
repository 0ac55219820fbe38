"""The claims the figures of chapters 03 (Parquet), 04 (alerts) and 05 (taxonomy) make, checked on
the data those figures plot: the book's sample (``paths.locate()``), read with the package, not
with the notebooks' code."""

from __future__ import annotations

from pathlib import Path

import nbformat
import numpy as np
import polars as pl
import pytest

from elasticc_tutorial import alerts, parquet, paths, photometry, plots, taxonomy
from elasticc_tutorial.sample import ALERT_WINDOW

pytestmark = pytest.mark.slow
MODEL = "SNIa-SALT3"
BOOK = Path(__file__).resolve().parents[1] / "book"


@pytest.fixture(scope="module")
def locations() -> paths.DataLocations:
    return paths.locate(progress=False)


# -- 03_parquet -------------------------------------------------------------------------------


def test_sn_ia_peak_magnitude_rises_with_redshift(locations):
    """'Farther SNe Ia are fainter at peak': the brightest r-band point (S/N >= 5) within 5 days
    of the true peak grows with the true redshift, object by object and bin by bin."""
    lc = parquet.read_lightcurves(
        locations.parquet,
        MODEL,
        columns=["MJD", "BAND", "FLUXCAL", "FLUXCALERR"],
        flags=True,
        head_columns=["SIM_REDSHIFT_CMB", "SIM_PEAKMJD"],
    )
    peaks = (
        lc.filter(
            pl.col("BAND") == "r",
            pl.col("SNR") >= 5,
            (pl.col("MJD") - pl.col("SIM_PEAKMJD")).abs() <= 5,
        )
        .group_by("SNID")
        .agg(z=pl.col("SIM_REDSHIFT_CMB").first(), flux=pl.col("FLUXCAL").max())
        .with_columns(mag=photometry.flux_to_mag(pl.col("flux")))
    )
    assert peaks.height >= 50, "too few SNe Ia observed near peak to test the claim"
    z, mag = peaks["z"].to_numpy(), peaks["mag"].to_numpy()
    rank = np.corrcoef(z.argsort().argsort(), mag.argsort().argsort())[0, 1]  # Spearman
    assert rank > 0.8, f"peak magnitude vs redshift: Spearman {rank:.2f}"
    medians = (
        peaks.group_by(z_bin=(pl.col("z") / 0.1).floor())
        .agg(pl.col("mag").median(), n=pl.len())
        .filter(pl.col("n") >= 5)
        .sort("z_bin")["mag"]
        .to_numpy()
    )
    assert len(medians) >= 4
    assert np.all(np.diff(medians) > 0), f"median peak magnitude per 0.1 in z: {medians}"


def test_parquet_lists_are_band_then_time_not_time(locations):
    """The zig-zag panel: every object's lists are sorted by BAND, then MJD, which is not time
    order as soon as an object has points in two bands; within one band, it is time order."""
    rows = parquet.read_objects(locations.parquet, MODEL, columns=["MJD", "BAND"])
    multi_band = 0
    for mjd, band in rows.select("MJD", "BAND").iter_rows():
        keys = list(zip(band, mjd, strict=True))
        assert keys == sorted(keys), "lists not in (BAND, MJD) order"
        if len(set(band)) > 1:
            multi_band += 1
            assert mjd != sorted(mjd), "a multi-band object stored in time order"
    assert multi_band > 0.9 * rows.height


def test_figures_fit_the_page():
    """Every figure of the three chapters is drawn at most 9.8 in wide (dpi 100): not shrunk on the site."""
    for name in ("03_parquet", "04_alerts", "05_taxonomy"):
        nb = nbformat.read(BOOK / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            for out in cell.get("outputs", []):
                size = out.get("data", {}).get("text/plain", "")
                if size.startswith("<Figure size "):
                    width = int(size.split()[2].split("x")[0])
                    assert width <= 980, f"{name}: {size}"


# -- 04_alerts ---------------------------------------------------------------------------------


def test_alerts_cover_only_the_window_and_carry_30_days_before_the_first_detection(locations):
    """The window figure: an object's last alert carries forced photometry from 30 days before its
    first detection (never earlier) up to the alert, and nothing after it; every alert lies in
    ALERT_WINDOW."""
    start, end = ALERT_WINDOW
    tars = alerts.night_tars(locations.alerts.path)
    nights = [int(t.name.split(".")[0]) for t in tars]
    assert start <= min(nights) and max(nights) <= end
    # the SN Ia with the most detections among those whose detections, and the 30 days before
    # them, lie inside the window (as the chapter chooses it)
    lc = parquet.read_lightcurves(locations.parquet, MODEL, flags=True)
    spans = (
        lc.filter("DETECTED")
        .group_by("SNID")
        .agg(n=pl.len(), first=pl.col("MJD").min(), last=pl.col("MJD").max())
        .filter(pl.col("first") - 30 >= start, pl.col("last") < end)
        .sort(["n", "SNID"], descending=[True, False])
    )
    snid, _, t0, t_last = spans.row(0)
    last = [
        a
        for a in alerts.iter_alerts(locations.alerts.path, int(t_last), int(t_last))
        if a["diaObject"] is not None and a["diaObject"]["diaObjectId"] == snid
    ][-1]
    forced = np.array([p["midPointTai"] for p in last["prvDiaForcedSources"]])
    t = last["diaSource"]["midPointTai"]
    assert forced.min() >= max(t - 365, t0 - 30) - 1e-6 and forced.max() < t
    points = lc.filter(pl.col("SNID") == snid)["MJD"].to_numpy()
    in_window = points[(points >= max(t - 365, t0 - 30) - 1e-6) & (points < t)]
    assert len(forced) == len(in_window)


# -- 05_taxonomy -------------------------------------------------------------------------------


def test_models_per_class_are_unbalanced_and_coloured_by_category():
    """The bar chart: models per leaf classId, from 1 up to several (Ib/c, II), each bar coloured by
    its tens-level category, for all 38 models of which 32 have a class."""
    per_class: dict[int, int] = {}
    for model in taxonomy.MODEL_GENTYPES:
        try:
            cid = taxonomy.classid_of_model(model)
        except ValueError:
            continue
        per_class[cid] = per_class.get(cid, 0) + 1
    assert len(taxonomy.MODEL_GENTYPES) == 38
    assert sum(per_class.values()) == 32
    assert min(per_class.values()) == 1 and max(per_class.values()) >= 5
    assert {taxonomy.parent(c) for c in per_class} == set(plots.CATEGORY_COLORS)
