"""elasticc_tutorial.parquet on a Parquet file laid out like the real ELASTICC2_parquet files (built
here from the real 1 % SNANA files with lists sorted by BAND then MJD, as lib_elasticc2 writes them)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from _reference import REAL, needs_real

from elasticc_tutorial import parquet, snana

pytestmark = needs_real
LISTS = ["MJD", "BAND", "PHOTFLAG", "FLUXCAL", "FLUXCALERR"]


@pytest.fixture(scope="module")
def long_form() -> pl.DataFrame:
    return snana.read_lightcurves(REAL, "SNIb-Templates", columns=LISTS)


@pytest.fixture(scope="module")
def pq_dir(tmp_path_factory, long_form) -> Path:
    out = tmp_path_factory.mktemp("parquet")
    head = snana.read_head(REAL, "SNIb-Templates")
    # lib_elasticc2's write_snana_parquet: sort by SNID, BAND, MJD, then aggregate per object.
    agg = (
        long_form.sort(["SNID", "BAND", "MJD"])
        .group_by("SNID", maintain_order=True)
        .agg(pl.all())
        .join(head.drop(["IAUC", "FAKE", "PIXSIZE", "NXPIX", "NYPIX", "SEARCH_TYPE"]), on="SNID")
    )
    agg.write_parquet(out / "SNIb-Templates.parquet", row_group_size=50)
    return out


def test_scan_is_lazy_and_checked(pq_dir):
    lazy = parquet.scan(pq_dir, "SNIb-Templates")
    assert isinstance(lazy, pl.LazyFrame)
    assert parquet.list_models(pq_dir) == ["SNIb-Templates"]
    assert parquet.list_columns(lazy) == LISTS
    # The real files' lists are band-ordered, not time-ordered: the explode below must fix this.
    first = lazy.head(1).collect()
    assert first["BAND"][0].to_list() == sorted(first["BAND"][0].to_list())


def test_pushdown_in_plan(pq_dir):
    lazy = parquet.scan(pq_dir / "SNIb-Templates.parquet")
    plan = lazy.filter(pl.col("SNID") == 5).select("SNID", "MJD").explain()
    # The predicate and the projection are pushed into the Parquet scan (no separate FILTER node).
    assert plan.splitlines()[0].startswith("Parquet SCAN")
    assert "SELECTION" in plan
    assert "PROJECT 2/" in plan


def test_explode_time_order_matches_snana(pq_dir, long_form):
    long = parquet.explode(parquet.scan(pq_dir, "SNIb-Templates").collect(), LISTS)
    assert long.select(LISTS).equals(
        long_form.sort(["SNID", "MJD"], maintain_order=True).select(LISTS)
    )
    assert long.select((pl.col("MJD").diff().over("SNID").fill_null(0) >= 0).all()).item()
    # Lazy works too and carries the object columns.
    lazy_long = parquet.explode(
        parquet.scan(pq_dir, "SNIb-Templates").select("SNID", "RA", "MJD", "BAND")
    )
    got = lazy_long.collect()
    assert got.columns == ["SNID", "RA", "MJD", "BAND"]
    assert got.height == long_form.height


def test_objects_and_single_object(pq_dir, long_form):
    snids = long_form["SNID"].unique(maintain_order=True).to_list()
    some = parquet.read_objects(pq_dir, snids[:3], model="SNIb-Templates", columns=["MJD", "NOBS"])
    assert some.columns == ["SNID", "MJD", "NOBS"]
    assert sorted(some["SNID"]) == sorted(snids[:3])
    assert (some["MJD"].list.len() == some["NOBS"]).all()
    one = parquet.read_object(pq_dir, snids[5], model="SNIb-Templates", columns=LISTS)
    expected = long_form.filter(pl.col("SNID") == snids[5])
    assert one.select(["SNID", *LISTS]).equals(expected)
    row = parquet.read_object(pq_dir, snids[5], model="SNIb-Templates", long=False)
    assert row.height == 1
    bright = parquet.read_objects(
        pq_dir,
        model="SNIb-Templates",
        where=pl.col("REDSHIFT_FINAL") < 0.1,
        columns=["REDSHIFT_FINAL"],
    )
    assert bright.height > 0
    assert (bright["REDSHIFT_FINAL"] < 0.1).all()


def test_lightcurves_with_flags(pq_dir, long_form):
    snids = long_form["SNID"].unique(maintain_order=True).to_list()[:4]
    lc = parquet.read_lightcurves(
        pq_dir, snids, model="SNIb-Templates", head_columns=["REDSHIFT_FINAL"]
    )
    assert lc.columns[:3] == ["SNID", "REDSHIFT_FINAL", "MJD"]
    ref = long_form.filter(pl.col("SNID").is_in(snids)).sort(["SNID", "MJD"], maintain_order=True)
    assert lc["FLUXCAL"].to_list() == ref["FLUXCAL"].to_list()
    assert lc["SNR"].to_list() == pytest.approx((ref["FLUXCAL"] / ref["FLUXCALERR"]).to_list())
    assert lc["DETECTED"].to_list() == [(f & 4096) != 0 for f in ref["PHOTFLAG"]]
    # Exactly one trigger point per object in ELAsTiCC2 (PHOTFLAG 6144).
    assert lc.group_by("SNID").agg(pl.col("TRIGGER").sum())["TRIGGER"].to_list() == [1] * 4
    assert not lc["SATURATED"].any()


def test_errors(pq_dir, tmp_path):
    with pytest.raises(parquet.ParquetFileNotFoundError, match="SNIa-SALT3"):
        parquet.scan(pq_dir, "SNIa-SALT3")
    with pytest.raises(parquet.ParquetFileNotFoundError, match="pass model="):
        parquet.scan(pq_dir)
    with pytest.raises(FileNotFoundError, match=r"nope\.parquet"):
        parquet.scan(tmp_path / "nope.parquet")
    with pytest.raises(parquet.UnknownSnidError, match="123"):
        parquet.read_object(pq_dir, 123, model="SNIb-Templates")
    bad = tmp_path / "bad.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(bad)
    with pytest.raises(parquet.ParquetFormatError, match=r"bad\.parquet"):
        parquet.scan(bad)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(parquet.ParquetFormatError, match=r"junk\.parquet"):
        parquet.scan(junk)
    with pytest.raises(parquet.ParquetFormatError, match="SNRMAX"):
        parquet.read_objects(pq_dir, model="SNIb-Templates", columns=["SNRMAX"])
    with pytest.raises(parquet.ParquetFormatError, match="not list columns"):
        parquet.explode(parquet.scan(pq_dir, "SNIb-Templates"), ["RA"])
