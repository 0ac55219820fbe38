"""elasticc_tutorial.photometry: units, magnitudes and PHOTFLAG bits (values from snana.md §1.5-1.6)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from elasticc_tutorial import photometry as ph


def test_constants():
    assert ph.ZP_FLUXCAL == 27.5
    assert ph.ZP_NJY == 31.4
    assert pytest.approx(36.31, abs=0.005) == ph.FLUXCAL_TO_NJY  # "≈ 36.31 × FLUXCAL"
    assert (ph.PHOTFLAG_SATURATE, ph.PHOTFLAG_TRIGGER, ph.PHOTFLAG_DETECT) == (0x400, 0x800, 0x1000)


def test_fluxcal_njy_round_trip():
    assert ph.fluxcal_to_njy(1.0) == pytest.approx(36.3078, rel=1e-5)
    assert ph.njy_to_fluxcal(ph.fluxcal_to_njy(123.0)) == pytest.approx(123.0)
    # FLUXCAL at zero point 31.4 already is nJy.
    assert ph.fluxcal_to_njy(5.0, zp=31.4) == pytest.approx(5.0)
    arr = ph.fluxcal_to_njy(np.array([0.0, -2.0, 10.0]))
    assert arr.tolist() == pytest.approx([0.0, -2 * 36.3078, 363.078], rel=1e-5)


def test_magnitudes():
    # Manual: FLUXCAL = 10^(-0.4 m + 11): m = 20 -> 1000, m = 27.5 -> 1.
    assert ph.flux_to_mag(1000.0) == pytest.approx(20.0)
    assert ph.flux_to_mag(1.0) == pytest.approx(27.5)
    assert ph.mag_to_flux(20.0) == pytest.approx(1000.0)
    # 3631 Jy = AB magnitude 0; 3631e9 nJy at zp 31.4 -> 31.4 - 2.5 log10(3631e9) = 0.
    assert ph.flux_to_mag(3631e9, zp=31.4) == pytest.approx(0.0, abs=1e-3)
    mags = ph.flux_to_mag(np.array([100.0, 0.0, -3.0]))
    assert mags[0] == pytest.approx(22.5)
    assert np.isnan(mags[1:]).all()
    assert ph.mag_err(100.0, 10.0) == pytest.approx(2.5 / math.log(10) * 0.1)
    assert np.isnan(ph.mag_err(-1.0, 1.0))


def test_snr_and_flags():
    assert ph.snr(np.array([10.0, 5.0]), np.array([2.0, 0.0])).tolist()[0] == 5.0
    assert np.isnan(ph.snr(5.0, 0.0))
    flags = np.array([0, 4096, 6144, 1024])
    assert ph.is_detection(flags).tolist() == [False, True, True, False]
    assert ph.is_trigger(flags).tolist() == [False, False, True, False]


def test_polars_expressions_and_series():
    df = pl.DataFrame({"FLUXCAL": [1000.0, -1.0], "FLUXCALERR": [10.0, 1.0], "PHOTFLAG": [6144, 0]})
    out = df.select(
        ph.flux_to_mag(pl.col("FLUXCAL")).alias("mag"),
        ph.mag_err(pl.col("FLUXCAL"), pl.col("FLUXCALERR")).alias("magerr"),
        ph.snr(pl.col("FLUXCAL"), pl.col("FLUXCALERR")).alias("snr"),
        ph.fluxcal_to_njy(pl.col("FLUXCAL")).alias("njy"),
        ph.mag_to_flux(pl.lit(20.0)).alias("back"),
        ph.is_detection(pl.col("PHOTFLAG")).alias("det"),
        ph.is_trigger(pl.col("PHOTFLAG")).alias("trig"),
    )
    assert out["mag"][0] == pytest.approx(20.0) and math.isnan(out["mag"][1])
    assert out["magerr"][0] == pytest.approx(0.010857, rel=1e-4)
    assert out["snr"].to_list() == [100.0, -1.0]
    assert out["njy"][0] == pytest.approx(36307.8, rel=1e-5)
    assert out["back"][0] == pytest.approx(1000.0)
    assert out["det"].to_list() == [True, False] and out["trig"].to_list() == [True, False]
    series = ph.flux_to_mag(df["FLUXCAL"])
    assert isinstance(series, pl.Series) and series[0] == pytest.approx(20.0)
    assert ph.snr(df["FLUXCAL"], df["FLUXCALERR"]).to_list() == [100.0, -1.0]


def test_snr_of_columns_and_list_columns():
    # Oracle by hand: 10/1, -3/1, 6/0 (no error: NaN), 5/1, 4.9/1.
    flux, err = [10.0, -3.0, 6.0, 5.0, 4.9], [1.0, 1.0, 0.0, 1.0, 1.0]
    long = pl.DataFrame({"flux": flux, "fluxerr": err})
    out = long.select(s=ph.snr("flux", "fluxerr"), d=ph.snr_at_least("flux", "fluxerr"))
    assert out["s"].to_list()[:2] == [10.0, -3.0] and np.isnan(out["s"][2])
    assert out["d"].to_list() == [True, False, False, True, False]
    assert ph.snr_at_least(np.array(flux), np.array(err), 4.0).tolist() == [
        True,
        False,
        False,
        True,
        True,
    ]
    lists = pl.DataFrame({"flux": [flux, [1.0]], "fluxerr": [err, [-1.0]]})
    got = lists.select(
        n5=ph.count_snr_at_least("flux", "fluxerr"),
        n3=ph.count_snr_at_least("flux", "fluxerr", 3.0),
        r=ph.snr_lists("flux", "fluxerr"),
    )
    assert got["n5"].to_list() == [2, 0]
    assert got["n3"].to_list() == [3, 0]
    assert got["r"][0].to_list()[:2] == [10.0, -3.0] and np.isnan(got["r"][0][2])
    assert np.isnan(got["r"][1][0])  # a negative error is no error bar: NaN
