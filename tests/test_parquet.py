"""elasticc_tutorial.parquet on a Parquet file laid out like the real ELASTICC2_parquet files (built
here from the real 1 % SNANA files with lists sorted by BAND then MJD, as lib_elasticc2 writes them)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from _reference import REAL, needs_real

from elasticc_tutorial import parquet, snana
from elasticc_tutorial.errors import ParquetError
from elasticc_tutorial.sample.parquet_writer import write_frame

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
    write_frame(agg, out / "SNIb-Templates.parquet", row_group_size=50)
    return out


def test_scan_is_lazy_and_checked(pq_dir):
    lazy = parquet.scan(pq_dir, "SNIb-Templates")
    assert isinstance(lazy, pl.LazyFrame)
    assert parquet.list_models(pq_dir) == ["SNIb-Templates"]
    assert parquet.list_columns(lazy) == LISTS
    # The real files' lists are band-ordered, not time-ordered: the explode below must fix this.
    first = lazy.head(1).collect()
    assert first["BAND"][0].to_list() == sorted(first["BAND"][0].to_list())


def _flip_data_page(src: Path, dst: Path, row_group: int, column: str, n: int = 200) -> None:
    """Copy ``src`` to ``dst`` with ``n`` bytes inverted inside the first data page of
    ``column`` in ``row_group`` (past its page header)."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(src).metadata.row_group(row_group)
    chunk = next(
        meta.column(i)
        for i in range(meta.num_columns)
        if meta.column(i).path_in_schema.startswith(column + ".")
    )
    # A chunk is [dictionary page] data pages..., total_compressed_size bytes from its start.
    chunk_start = min(filter(None, (chunk.dictionary_page_offset, chunk.data_page_offset)))
    start = chunk.data_page_offset + 64
    end = chunk_start + chunk.total_compressed_size
    assert end - start > n, "the data page is too small for the test"
    data = bytearray(src.read_bytes())
    for i in range(start, start + n):
        data[i] ^= 0xFF
    dst.write_bytes(bytes(data))


def test_corrupt_page_is_an_error_never_a_value(pq_dir, tmp_path, long_form):
    src = pq_dir / "SNIb-Templates.parquet"
    bad = tmp_path / "SNIb-Templates.parquet"
    _flip_data_page(src, bad, row_group=1, column="FLUXCALERR")
    with pytest.raises(ParquetError, match=r"SNIb-Templates\.parquet.*corrupt"):
        parquet.read_lightcurves(tmp_path, "SNIb-Templates", columns=["FLUXCALERR"])
    with pytest.raises(ParquetError, match=r"SNIb-Templates\.parquet"):
        parquet.verify(bad)
    with pytest.raises(ParquetError, match="corrupt"):
        parquet.read_objects(tmp_path, "SNIb-Templates")
    assert parquet.verify(src) == long_form["SNID"].n_unique()
    # Objects of other row groups are still read, exactly: the SNID filter skips the corrupt
    # row group by its statistics (the pushdown, observed as behaviour).
    first = parquet.read_objects(src, columns=["SNID"], snids=None)["SNID"].head(3).to_list()
    got = parquet.read_lightcurves(bad, snids=first)
    assert got.equals(parquet.read_lightcurves(src, snids=first))
    assert got.equals(snana.read_lightcurves(REAL, "SNIb-Templates", snids=first))


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
    some = parquet.read_objects(pq_dir, "SNIb-Templates", snids=snids[:3], columns=["MJD", "NOBS"])
    assert some.columns == ["SNID", "MJD", "NOBS"]
    assert sorted(some["SNID"]) == sorted(snids[:3])
    assert (some["MJD"].list.len() == some["NOBS"]).all()
    one = parquet.read_object(pq_dir, "SNIb-Templates", snids[5], columns=LISTS)
    expected = long_form.filter(pl.col("SNID") == snids[5])
    assert one.select(["SNID", *LISTS]).equals(expected)
    row = parquet.read_object(pq_dir, "SNIb-Templates", snids[5], long=False)
    assert row.height == 1
    bright = parquet.read_objects(
        pq_dir,
        "SNIb-Templates",
        where=pl.col("REDSHIFT_FINAL") < 0.1,
        columns=["REDSHIFT_FINAL"],
    )
    assert bright.height > 0
    assert (bright["REDSHIFT_FINAL"] < 0.1).all()


def test_lightcurves_with_flags(pq_dir, long_form):
    snids = long_form["SNID"].unique(maintain_order=True).to_list()[:4]
    lc = parquet.read_lightcurves(
        pq_dir, "SNIb-Templates", snids=snids, flags=True, head_columns=["REDSHIFT_FINAL"]
    )
    assert lc.columns == [
        "SNID",
        *LISTS,
        "SNR",
        "DETECTED",
        "TRIGGER",
        "SATURATED",
        "REDSHIFT_FINAL",
    ]
    ref = long_form.filter(pl.col("SNID").is_in(snids))
    assert lc["FLUXCAL"].to_list() == ref["FLUXCAL"].to_list()
    assert lc["SNR"].to_list() == pytest.approx((ref["FLUXCAL"] / ref["FLUXCALERR"]).to_list())
    assert lc["DETECTED"].to_list() == [(f & 4096) != 0 for f in ref["PHOTFLAG"]]
    # Exactly one trigger point per object in ELAsTiCC2 (PHOTFLAG 6144).
    assert lc.group_by("SNID").agg(pl.col("TRIGGER").sum())["TRIGGER"].to_list() == [1] * 4
    assert not lc["SATURATED"].any()
    # Flags need their inputs: they are read and returned even when not asked for.
    slim = parquet.read_lightcurves(
        pq_dir, "SNIb-Templates", snids=snids, columns=["MJD"], flags=True
    )
    assert slim.columns == [
        "SNID",
        "MJD",
        "PHOTFLAG",
        "FLUXCAL",
        "FLUXCALERR",
        "SNR",
        "DETECTED",
        "TRIGGER",
        "SATURATED",
    ]
    with pytest.raises(parquet.UnknownSnidError, match="123"):
        parquet.read_lightcurves(pq_dir, "SNIb-Templates", snids=[snids[0], 123])


def test_errors(pq_dir, tmp_path):
    with pytest.raises(parquet.ParquetFileNotFoundError, match="SNIa-SALT3"):
        parquet.scan(pq_dir, "SNIa-SALT3")
    with pytest.raises(parquet.ParquetFileNotFoundError, match="pass model="):
        parquet.scan(pq_dir)
    with pytest.raises(FileNotFoundError, match=r"nope\.parquet"):
        parquet.scan(tmp_path / "nope.parquet")
    with pytest.raises(parquet.UnknownSnidError, match="123"):
        parquet.read_object(pq_dir, "SNIb-Templates", 123)
    bad = tmp_path / "bad.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(bad)
    with pytest.raises(parquet.ParquetFormatError, match=r"bad\.parquet"):
        parquet.scan(bad)
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"not parquet at all")
    with pytest.raises(parquet.ParquetFormatError, match=r"junk\.parquet"):
        parquet.scan(junk)
    with pytest.raises(parquet.ParquetFormatError, match="SNRMAX"):
        parquet.read_objects(pq_dir, "SNIb-Templates", columns=["SNRMAX"])
    with pytest.raises(TypeError, match="snids="):
        parquet.read_lightcurves(pq_dir, [1, 2])
    with pytest.raises(parquet.ParquetFormatError, match="not list columns"):
        parquet.explode(parquet.scan(pq_dir, "SNIb-Templates"), ["RA"])
