"""The claims the figures (and the figure-like tables) of chapter 02 (SNANA FITS) make, checked on
the data those figures plot: the book's sample (``paths.locate()``), read with the package's
readers, not with the notebook's code. Chapter 01 draws no figure; its scaling claims are checked
here too, on :func:`elasticc_tutorial.sample.scaling_table`."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from elasticc_tutorial import paths, photometry, sample, snana

pytestmark = pytest.mark.slow
MODEL = "SNIa-SALT3"


@pytest.fixture(scope="module")
def locations() -> paths.DataLocations:
    return paths.locate(progress=False)


@pytest.fixture(scope="module")
def lightcurves(locations) -> pl.DataFrame:
    return snana.read_lightcurves(locations.snana, MODEL, flags=True)


# -- 01_setup -------------------------------------------------------------------------------------


def test_sample_keeps_real_proportions_above_the_floor():
    """'every model above the 40-object floor has the same scale factor ... their proportions are
    the real ones', and 'every model gets at least 40 objects'."""
    table = sample.scaling_table()
    assert table.height == 38
    assert table["sample_count"].min() == 40
    above = table.filter(pl.col("sample_count") > 40)
    assert above.height >= 2
    # rounding to whole objects moves a factor by at most 0.5 / count
    factors = above["scale_factor"].to_numpy()
    tolerance = (0.5 / above["campaign_count"].to_numpy()).max()
    assert factors.max() - factors.min() <= 2 * tolerance
    # SN Ia, the commonest real model, is the commonest in the sample
    assert table.sort("sample_count", descending=True)["model"][0] == MODEL
    # the floor over-represents models whose real count is unknown or small
    floor = table.filter(pl.col("campaign_count").is_not_null(), pl.col("sample_count") == 40)
    assert (floor["scale_factor"] > factors.max()).all()


# -- 02_snana_fits ----------------------------------------------------------------------------


def test_brighter_classes_are_seen_further_away(locations):
    """Redshift histogram: 'superluminous supernovae reach far beyond the SNe Ia, type II
    supernovae stay closer' (true redshift ZCMB of the .DUMP truth)."""
    z = {
        m: snana.read_truth(locations.snana, m)["ZCMB"].to_numpy()
        for m in ("SLSN-I+host", MODEL, "SNII-NMF")
    }
    for stat in (np.median, lambda a: np.quantile(a, 0.9)):
        assert stat(z["SLSN-I+host"]) > stat(z[MODEL]) > stat(z["SNII-NMF"])
    # 'far beyond': most superluminous SNe lie beyond the median SN Ia
    assert np.mean(z["SLSN-I+host"] > np.median(z[MODEL])) > 0.6


def test_detections_are_a_sparse_subset_and_forced_points_scatter_around_zero(lightcurves):
    """'The detections alone make a much sparser light curve'; the forced points where the object
    is faint 'scatter around zero'."""
    per_object = lightcurves.group_by("SNID").agg(
        points=pl.len(), detections=pl.col("DETECTED").sum()
    )
    sparser = (per_object["detections"] < per_object["points"]).mean()
    assert sparser > 0.9, f"only {sparser:.0%} of the objects have undetected points"
    assert per_object["detections"].sum() < 0.5 * per_object["points"].sum()
    # 'for most objects of the model they are a minority'
    assert (per_object["detections"] < 0.5 * per_object["points"]).mean() > 0.5
    faint = lightcurves.filter(~pl.col("DETECTED"), pl.col("SNR").abs() < 3)
    assert faint.height > 1000
    assert abs(faint["SNR"].mean()) < 0.5


def test_best_sampled_objects_have_many_times_the_median_points(locations, lightcurves):
    """Per-band figure and exercise 1: the best-sampled nearby SN Ia (most detections, z < 0.5)
    has many times the median number of points; the object with most points is a DDF object
    (> 1000 points, the TOM's isddf)."""
    truth = snana.read_truth(locations.snana, MODEL).select("SNID", "ZCMB")
    counts = (
        lightcurves.group_by("SNID")
        .agg(points=pl.len(), detections=pl.col("DETECTED").sum())
        .join(truth, on="SNID")
    )
    median = counts["points"].median()
    best = (
        counts.filter(pl.col("ZCMB") < 0.5)
        .sort(["detections", "SNID"], descending=[True, False])
        .head(3)
    )
    assert (best["points"] >= 5 * median).all()
    assert counts["points"].max() > 1000
    # the per-band panels show several bands of the best object within 100 days of peak
    snid = best["SNID"][0]
    lc = lightcurves.filter(pl.col("SNID") == snid)
    assert lc["BAND"].n_unique() == len(photometry.BANDS)


def test_detection_fraction_rises_smoothly_through_50_percent(lightcurves):
    """Exercise 2: 'a detection is a random draw from an efficiency curve, not a cut': the detected
    fraction rises with S/N, is neither 0 nor 1 around S/N 5, and first reaches 50 % between 5 and 6
    (the chapter's '50 % at S/N ~ 5, almost 100 % above 8')."""
    edges = np.array([2, 3, 4, 5, 6, 7, 8, 10])
    snr = lightcurves["SNR"].to_numpy()
    det = lightcurves["DETECTED"].to_numpy()
    bins = np.searchsorted(edges, snr, side="right")
    fraction = np.array([det[bins == b].mean() for b in range(len(edges) + 1)])
    assert (np.diff(fraction) >= 0).all()
    assert 0.05 < fraction[3] < 0.5 < fraction[4] < 0.95  # 4-5 below half, 5-6 above
    assert fraction[-2:].min() > 0.98
