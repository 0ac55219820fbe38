"""One reader API: snana, parquet and alerts read the same objects of one built sample into frames with
the same columns, dtypes and order (elasticc_tutorial.lightcurves), from paths, Locations or the
DataLocations of paths.locate()."""

from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from elasticc_tutorial import alerts, lightcurves, parquet, paths, snana
from elasticc_tutorial.errors import AlertsError
from elasticc_tutorial.sample import build

pytestmark = pytest.mark.slow
MODEL = "SNIa-SALT3"


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("api") / "s", objects_per_model=3, progress=False)


@pytest.fixture(scope="module")
def locations(root) -> paths.DataLocations:
    return paths.locate(
        snana=root / "ELASTICC2",
        parquet=root / "ELASTICC2_parquet",
        alerts=root / "ELASTICC2_ALERTS",
        tom_url="local",
        build=False,
        progress=False,
    )


def test_one_signature():
    readers = (snana.read_lightcurves, parquet.read_lightcurves, alerts.read_lightcurves)
    for reader in readers:
        params = list(inspect.signature(reader).parameters.values())
        assert [p.name for p in params[:5]] == ["source", "model", "snids", "columns", "flags"]
        assert [p.kind for p in params[:5]] == [
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            *[inspect.Parameter.KEYWORD_ONLY] * 3,
        ]
        assert [p.default for p in params[1:5]] == [None, None, None, False]


def test_snana_and_parquet_frames_are_equal(locations):
    for flags in (False, True):
        fits = snana.read_lightcurves(locations, MODEL, flags=flags)
        pq = parquet.read_lightcurves(locations, MODEL, flags=flags)
        assert fits.height > 0
        assert fits.equals(pq)
        expected = {"SNID": pl.Int64, **{c: lightcurves.SCHEMA[c] for c in lightcurves.COLUMNS}}
        assert dict(list(fits.schema.items())[: len(expected)]) == expected
        if flags:
            assert fits.columns[-4:] == list(lightcurves.FLAG_COLUMNS)
    # Objects by SNID, points in time order, in both.
    assert fits["SNID"].is_sorted()
    assert fits.select((pl.col("MJD").diff().over("SNID").fill_null(0) >= 0).all()).item()
    assert parquet.list_models(locations) == snana.list_models(locations)
    assert parquet.scan(locations, MODEL).collect().height == fits["SNID"].n_unique()
    # The same selection of objects and columns, from a Location (os.PathLike) this time.
    some = fits["SNID"].unique().sort().to_list()[::2]
    cols = ["BAND", "FLUXCAL"]
    a = snana.read_lightcurves(locations.snana, MODEL, snids=some, columns=cols)
    b = parquet.read_lightcurves(locations.parquet, MODEL, snids=some, columns=cols)
    assert a.columns == ["SNID", *cols] and a.equals(b)
    assert set(a["SNID"]) == set(some)


def test_alert_frame_is_the_alerts_part_of_the_same_light_curves(locations):
    fits = snana.read_lightcurves(locations, MODEL, flags=True)
    snids = fits["SNID"].unique().to_list()
    got = alerts.read_lightcurves(locations, snids=snids, flags=True)
    assert got.schema == fits.schema
    assert got["SNID"].is_sorted()
    assert got.select((pl.col("MJD").diff().over("SNID").fill_null(0) >= 0).all()).item()
    joined = got.join(fits, on=["SNID", "MJD", "BAND"], how="left", suffix="_fits")
    assert joined["FLUXCAL_fits"].null_count() == 0  # every alert point is a SNANA point
    assert (joined["DETECTED"] == joined["DETECTED_fits"]).all()
    # Fluxes went through nJy as float32: equal to float32 precision.
    assert np.allclose(joined["FLUXCAL"], joined["FLUXCAL_fits"], rtol=2e-7, atol=1e-6)
    assert np.allclose(joined["FLUXCALERR"], joined["FLUXCALERR_fits"], rtol=2e-7, atol=1e-6)
    # Every detection raised an alert, so every detection is there.
    key = ["SNID", "MJD", "BAND"]
    assert got.filter("DETECTED").select(key).equals(fits.filter("DETECTED").select(key))
    with pytest.raises(AlertsError, match="not split by model"):
        alerts.read_lightcurves(locations, MODEL)


def test_per_file_unit_and_head_file(locations):
    directory = snana.model_dir(locations, MODEL)
    pairs = snana.file_pairs(directory)
    whole = snana.read_lightcurves(directory, flags=True)  # a model directory needs no model=
    parts = [snana.read_lightcurves_file(p.head, flags=True) for p in pairs]
    assert pl.concat(parts).sort("SNID", maintain_order=True).equals(whole)
    for pair, part in zip(pairs, parts, strict=True):
        head = snana.read_head_file(pair.head)
        assert head.schema["SNID"] == pl.Int64
        assert sorted(head["SNID"]) == part["SNID"].unique().sort().to_list()
        assert head["NOBS"].sum() == part.height
        assert snana.read_lightcurves_file(pair.head, pair.phot, flags=True).equals(part)
    for threads in (1, 2, 3):
        assert snana.read_lightcurves(directory, flags=True, threads=threads).equals(whole)
