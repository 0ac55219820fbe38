"""elasticc_tutorial.snana (and its FITS reader) against a direct astropy read of the real ELAsTiCC2
1 % training files, synthetic edge cases and corrupt copies."""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from _reference import REAL, needs_real
from astropy.io import fits

from elasticc_tutorial import snana
from elasticc_tutorial.fitstable import FitsFormatError, read_bintable
from elasticc_tutorial.lightcurves import COLUMNS

PREFIX = "ELASTICC2_TRAIN_01_1percent_"
MODELS = ["KN_K17", "Mdwarf-flare", "SNIb-Templates"]
real = needs_real


def _strip(values) -> list[str]:
    return [v.decode().rstrip() if isinstance(v, bytes) else str(v).rstrip() for v in values]


@pytest.fixture(scope="module")
def astropy_tables() -> dict:
    """Every real FITS file read once with astropy: path -> (primary header, EXTNAME, table)."""
    out = {}
    for path in sorted(REAL.glob("*/*.FITS.gz")) if REAL.is_dir() else []:
        with fits.open(path) as hdul:
            out[path] = (dict(hdul[0].header), hdul[1].name, np.array(hdul[1].data))
    return out


@pytest.fixture(scope="module")
def astropy_model(astropy_tables):
    """Per model: HEAD tables and the light curves cut by a per-object loop over astropy data."""
    out = {}
    for model in MODELS:
        heads, points = [], []
        for head_path in sorted((REAL / f"{PREFIX}{model}").glob("*_HEAD.FITS.gz")):
            phot_path = head_path.with_name(head_path.name.replace("_HEAD", "_PHOT"))
            primary, _, head = astropy_tables[head_path]
            phot = astropy_tables[phot_path][2]
            assert primary["PHOTFILE"] == phot_path.name.removesuffix(".gz")
            heads.append(head)
            for row in head:
                lo, hi = int(row["PTROBS_MIN"]), int(row["PTROBS_MAX"])
                # The row after each block is the -777 separator.
                assert phot["MJD"][hi] == -777.0
                points.append((int(row["SNID"].strip()), phot[lo - 1 : hi]))
        out[model] = (heads, points)
    return out


@real
def test_models_and_prefix():
    assert snana.detect_prefix(REAL) == PREFIX
    assert snana.list_models(REAL) == MODELS
    assert snana.list_models(REAL, prefix=PREFIX) == MODELS
    assert snana.model_dir(REAL, "KN_K17") == REAL / f"{PREFIX}KN_K17"
    assert [p.num for p in snana.file_pairs(REAL / f"{PREFIX}KN_K17")] == list(range(1, 41))


@real
@pytest.mark.parametrize("model", MODELS)
def test_head_matches_astropy(model, astropy_model):
    heads, _ = astropy_model[model]
    head = snana.read_head(REAL, model, with_file_num=True)
    expected_rows = sum(len(h) for h in heads)
    assert head.height == expected_rows
    assert head.schema["SNID"] == pl.Int64
    assert head.schema["PEAKMJD"] == pl.Float32  # stored as 1E
    assert head.schema["RA"] == pl.Float64
    assert head.schema["NOBS"] == pl.Int32
    assert head["FILE_NUM"].unique().sort().to_list() == [
        i + 1 for i, h in enumerate(heads) if len(h)
    ]
    names = list(heads[0].dtype.names)
    assert [c for c in head.columns if c != "FILE_NUM"] == names
    for name in names:
        ref = np.concatenate([np.asarray(h[name]) for h in heads])
        got = head[name].to_numpy()
        if ref.dtype.kind in "SU":
            ref_list = _strip(ref)
            if name == "SNID":
                assert got.tolist() == [int(v) for v in ref_list]
            else:
                assert got.tolist() == ref_list
        else:
            assert np.array_equal(got, ref.astype(ref.dtype.newbyteorder("=")), equal_nan=True), (
                name
            )


@real
@pytest.mark.parametrize("model", MODELS)
def test_lightcurves_match_astropy(model, astropy_model):
    _, points = astropy_model[model]
    points = sorted(points, key=lambda p: p[0])  # objects by SNID (stable: points keep their order)
    lc = snana.read_lightcurves(REAL, model, columns="all")
    assert lc.height == sum(len(b) for _, b in points)
    assert (lc["MJD"] != -777.0).all()
    assert set(lc["BAND"].unique()) <= set("ugrizY")
    expected_snid = np.concatenate([np.full(len(b), s) for s, b in points])
    assert np.array_equal(lc["SNID"].to_numpy(), expected_snid)
    for name in points[0][1].dtype.names:
        ref = np.concatenate([np.asarray(b[name]) for _, b in points])
        got = lc[name].to_numpy()
        if ref.dtype.kind in "SU":
            assert got.tolist() == _strip(ref), name
        else:
            assert np.array_equal(got, ref.astype(ref.dtype.newbyteorder("="))), name
    # Time order within each object.
    assert lc.select((pl.col("MJD").diff().over("SNID").fill_null(0) >= 0).all()).item()


@real
@pytest.mark.parametrize("model", MODELS)
def test_single_object_equals_slice(model):
    lc = snana.read_lightcurves(REAL, model)
    head = snana.read_head(REAL, model)
    for snid in head["SNID"].gather([0, head.height // 2, head.height - 1]).to_list():
        one = snana.read_lightcurve(REAL, model, snid)
        assert one.height == head.filter(pl.col("SNID") == snid)["NOBS"].item()
        assert one.equals(lc.filter(pl.col("SNID") == snid))
    one = snana.read_lightcurve(REAL, model, snid, columns=["BAND", "FLUXCAL"])
    assert one.columns == ["SNID", "BAND", "FLUXCAL"]


@real
@pytest.mark.parametrize("model", MODELS)
def test_truth(model):
    truth = snana.read_truth(REAL, model)
    head = snana.read_head(REAL, model, columns=["SNID", "NOBS"])
    assert truth.height == head.height
    assert truth.columns[:4] == ["SNID", "LIBID", "SIM_SEARCHEFF_MASK", "GENTYPE"]
    assert len(truth.columns) == 35
    assert truth.schema["SNID"] == pl.Int64
    assert truth.schema["GENTYPE"] == pl.Int64
    assert truth.schema["ZCMB"] == pl.Float64
    assert set(truth["SNID"]) == set(head["SNID"])
    joined = head.join(truth, on="SNID", suffix="_T")
    assert (joined["NOBS"] == joined["NOBS_T"]).all()
    gentypes = {"KN_K17": {50}, "Mdwarf-flare": {82}, "SNIb-Templates": {20}}[model]
    assert set(truth["GENTYPE"]) == gentypes


@real
def test_truth_values_typed_from_file():
    truth = snana.read_truth(REAL, "KN_K17")
    # First SN: row of the KN_K17 DUMP (typed from the file).
    row = truth.row(0, named=True)
    assert row["SNID"] == 701704
    assert row["GENTYPE"] == 50
    assert row["ZCMB"] == pytest.approx(7.69065e-02)
    assert row["PEAKMJD"] == pytest.approx(60477.114)
    assert row["GALID"] == 8000000585
    assert row["NOBS"] == 140


@real
def test_aggregated_and_joined():
    lc = snana.read_lightcurves(REAL, "KN_K17")
    agg = snana.read_lightcurves(REAL, "KN_K17", agg=True, include_head=True, include_truth=True)
    head = snana.read_head(REAL, "KN_K17")
    assert agg.height == head.height
    assert agg["SNID"].to_list() == sorted(head["SNID"].to_list())
    assert agg.schema["MJD"] == pl.List(pl.Float64)
    assert (agg["MJD"].list.len() == agg["NOBS"]).all()
    assert "GENTYPE" in agg.columns and "NOBS_TRUTH" in agg.columns
    assert agg.explode([c for c in lc.columns if c != "SNID"]).select(lc.columns).equals(lc)


@real
def test_file_num_and_columns():
    part = snana.read_lightcurves(REAL, "SNIb-Templates", file_num=3, columns=["BAND", "FLUXCAL"])
    assert part.columns == ["SNID", "BAND", "FLUXCAL"]
    head3 = snana.read_head(REAL, "SNIb-Templates", file_num=3)
    assert set(part["SNID"]) == set(head3["SNID"])
    assert part.height == head3["NOBS"].sum()
    with pytest.raises(snana.SnanaError, match="file number"):
        snana.read_head(REAL, "SNIb-Templates", file_num=99)


@real
def test_per_file_readers_match_astropy(astropy_tables):
    for model in MODELS:
        directory = snana.model_dir(REAL, model)
        pairs = [p for p in snana.file_pairs(directory) if len(astropy_tables[p.head][2])]
        for pair in [*pairs[::13], snana.file_pairs(directory)[-1]]:
            _, _, ref = astropy_tables[pair.head]
            head = snana.read_head_file(pair.head)
            assert head["SNID"].to_list() == [int(v) for v in _strip(ref["SNID"])]
            assert np.array_equal(head["PTROBS_MIN"].to_numpy(), ref["PTROBS_MIN"])
            part = snana.read_lightcurves_file(pair.head, columns="all")
            same = snana.read_lightcurves(REAL, model, file_num=pair.num, columns="all")
            assert part.equals(same)
            assert part.height == int(ref["NOBS"].sum())
            assert part["SNID"].unique().sort().to_list() == sorted(head["SNID"])
            if head.height:
                one = snana.read_lightcurves_file(pair.head, pair.phot, snids=head["SNID"][:1])
                expected = same.filter(pl.col("SNID") == head["SNID"][0]).select("SNID", *COLUMNS)
                assert one.equals(expected)


@real
def test_fits_reader_matches_astropy_all_files(astropy_tables):
    assert len(astropy_tables) == 240
    for path, (primary, extname, ref) in astropy_tables.items():
        table = read_bintable(path)
        assert table.header["EXTNAME"] == extname
        assert table.primary["PHOTFILE"] == primary["PHOTFILE"]
        assert table.nrows == len(ref)
        assert table.data.dtype.names == ref.dtype.names
        for name in ref.dtype.names:
            if ref[name].dtype.kind in "SU":
                assert _strip(table.data[name]) == _strip(ref[name])
            else:
                assert np.array_equal(table.data[name], ref[name])


@real
def test_partial_rows_read():
    path = next((REAL / f"{PREFIX}KN_K17").glob("*-0001_PHOT.FITS.gz"))
    with fits.open(path) as hdul:
        ref = hdul[1].data["MJD"][5:12]
    assert np.array_equal(read_bintable(path, "Photometry", rows=(5, 12)).data["MJD"], ref)


# --------------------------------------------------------------------------------------------------
# Synthetic files: pointer convention, legacy names, ZP_FLUXCAL, uncompressed, astropy fallback

PHOT_ROWS = [
    # (MJD, BAND, FLUXCAL, PHOTFLAG): object 11 (2 points), separator, object 22 (3 points), separator
    (60001.0, "g ", 10.0, 0),
    (60002.0, "r ", 20.0, 4096),
    (-777.0, "- ", -777.0, 0),
    (60003.0, "i ", 30.0, 6144),
    (60004.0, "Y ", 40.0, 4096),
    (60005.0, "u ", 50.0, 0),
    (-777.0, "- ", -777.0, 0),
]


def _write_pair(
    directory: Path,
    *,
    band_name="BAND",
    dec_name="DEC",
    zp=None,
    gz=True,
    pointers=((1, 2), (4, 6)),
    nobs=None,
    drop_phot_column=None,
    phot_rows=PHOT_ROWS,
    prefix="TEST_FINAL_",
    model="Toy",
    num=1,
) -> Path:
    model_dir = directory / f"{prefix}{model}"
    model_dir.mkdir(parents=True, exist_ok=True)
    base = model_dir / f"{prefix}NONIaMODEL0-{num:04d}"
    suffix = ".FITS.gz" if gz else ".FITS"
    primary = fits.PrimaryHDU()
    primary.header["PHOTFILE"] = f"{base.name}_PHOT.FITS"
    if zp is not None:
        primary.header["ZP_FLUXCAL"] = zp
    snids = [11 * num, 22 * num]
    head = fits.BinTableHDU.from_columns(
        [
            fits.Column("SNID", "16A", array=np.array([f"{s:<16d}" for s in snids])),
            fits.Column("RA", "1D", array=[1.5, 2.5]),
            fits.Column(dec_name, "1D", array=[-1.5, -2.5]),
            fits.Column("NOBS", "1J", array=nobs or [hi - lo + 1 for lo, hi in pointers]),
            fits.Column("PTROBS_MIN", "1J", array=[lo for lo, _ in pointers]),
            fits.Column("PTROBS_MAX", "1J", array=[hi for _, hi in pointers]),
            fits.Column("PEAKMJD", "1E", array=[60002.0, 60004.0]),
        ],
        name="Header",
    )
    cols = [
        fits.Column("MJD", "1D", array=[r[0] for r in phot_rows]),
        fits.Column(band_name, "2A", array=[r[1] for r in phot_rows]),
        fits.Column("PHOTFLAG", "1J", array=[r[3] for r in phot_rows]),
        fits.Column("FLUXCAL", "1E", array=[r[2] for r in phot_rows]),
        fits.Column("FLUXCALERR", "1E", array=[1.0 for _ in phot_rows]),
    ]
    cols = [c for c in cols if c.name != drop_phot_column]
    phot = fits.BinTableHDU.from_columns(cols, name="Photometry")
    fits.HDUList([primary, head]).writeto(f"{base}_HEAD{suffix}", overwrite=True)
    fits.HDUList([fits.PrimaryHDU(header=primary.header), phot]).writeto(
        f"{base}_PHOT{suffix}", overwrite=True
    )
    return model_dir


def test_pointer_convention_is_one_based_inclusive(tmp_path):
    _write_pair(tmp_path)
    lc = snana.read_lightcurves(tmp_path, "Toy")
    assert lc["SNID"].to_list() == [11, 11, 22, 22, 22]
    assert lc["MJD"].to_list() == [60001.0, 60002.0, 60003.0, 60004.0, 60005.0]
    assert lc["BAND"].to_list() == ["g", "r", "i", "Y", "u"]
    assert lc["FLUXCAL"].to_list() == [10.0, 20.0, 30.0, 40.0, 50.0]
    one = snana.read_lightcurve(tmp_path, "Toy", 22)
    assert one["MJD"].to_list() == [60003.0, 60004.0, 60005.0]
    assert snana.detect_prefix(tmp_path) == "TEST_FINAL_"


def test_legacy_names_uncompressed(tmp_path):
    _write_pair(tmp_path, band_name="FLT", dec_name="DECL", gz=False)
    head = snana.read_head(tmp_path, "Toy")
    assert "DEC" in head.columns and "DECL" not in head.columns
    assert head["SNID"].to_list() == [11, 22]
    lc = snana.read_lightcurves(tmp_path, "Toy")
    assert lc["BAND"].to_list() == ["g", "r", "i", "Y", "u"]
    assert snana.read_lightcurve(tmp_path, "Toy", 11)["BAND"].to_list() == ["g", "r"]


def test_zp_fluxcal_key(tmp_path):
    with pytest.warns(fits.verify.VerifyWarning):  # astropy writes a HIERARCH card
        _write_pair(tmp_path, zp=31.4)
    lc = snana.read_lightcurves(tmp_path, "Toy")  # rescaled to 27.5 by default
    factor = 10 ** ((27.5 - 31.4) / 2.5)
    assert lc["FLUXCAL"].to_list() == pytest.approx(
        [10 * factor, 20 * factor, 30 * factor, 40 * factor, 50 * factor], rel=1e-6
    )
    raw = snana.read_lightcurves(tmp_path, "Toy", zp=None)
    assert raw["FLUXCAL"].to_list() == [10.0, 20.0, 30.0, 40.0, 50.0]
    one = snana.read_lightcurve(tmp_path, "Toy", 11)
    assert one["FLUXCAL"].to_list() == pytest.approx([10 * factor, 20 * factor], rel=1e-6)


def test_out_of_order_points_are_sorted(tmp_path):
    rows = list(PHOT_ROWS)
    rows[3], rows[5] = rows[5], rows[3]
    _write_pair(tmp_path, phot_rows=rows)
    lc = snana.read_lightcurves(tmp_path, "Toy")
    assert lc["MJD"].to_list() == [60001.0, 60002.0, 60003.0, 60004.0, 60005.0]
    assert lc["BAND"].to_list() == ["g", "r", "i", "Y", "u"]
    assert snana.read_lightcurve(tmp_path, "Toy", 22)["BAND"].to_list() == ["i", "Y", "u"]


def test_scaled_column_falls_back_to_astropy(tmp_path):
    model_dir = _write_pair(tmp_path)
    head_path = next(model_dir.glob("*_HEAD.FITS.gz"))
    with fits.open(head_path) as hdul:
        cols = [*hdul[1].columns, fits.Column("FLAGS", "1J", bzero=2**31, array=[1, 2**32 - 1])]
        table = fits.BinTableHDU.from_columns(cols, name="Header")
        fits.HDUList([fits.PrimaryHDU(header=hdul[0].header), table]).writeto(
            head_path, overwrite=True
        )
    head = snana.read_head(tmp_path, "Toy")
    assert head["FLAGS"].to_list() == [1, 2**32 - 1]
    assert head["SNID"].to_list() == [11, 22]


# --------------------------------------------------------------------------------------------------
# Bad input -> documented errors


def test_missing_tree_and_unknown_names(tmp_path):
    with pytest.raises(snana.SnanaFileNotFoundError, match="nowhere"):
        snana.list_models(tmp_path / "nowhere")
    _write_pair(tmp_path)
    with pytest.raises(snana.SnanaError, match="ELASTICC2_FINAL_"):
        snana.list_models(tmp_path, prefix="ELASTICC2_FINAL_")
    with pytest.raises(snana.UnknownModelError, match="Toy"):
        snana.read_head(tmp_path, "SNIa-SALT3")
    with pytest.raises(snana.UnknownSnidError, match="12345"):
        snana.read_lightcurve(tmp_path, "Toy", 12345)
    with pytest.raises(snana.SnanaFileNotFoundError, match=r"\.DUMP"):
        snana.read_truth(tmp_path, "Toy")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(snana.SnanaError, match="no SNANA model directories"):
        snana.detect_prefix(empty)


def test_several_prefixes_need_choice(tmp_path):
    _write_pair(tmp_path)
    _write_pair(tmp_path, prefix="OTHER_TRAIN_02_")
    with pytest.raises(snana.SnanaError, match="several model prefixes"):
        snana.list_models(tmp_path)
    assert snana.list_models(tmp_path, prefix="OTHER_TRAIN_02_") == ["Toy"]


def test_tree_changes_are_seen_by_the_next_call(tmp_path):
    """The tree's layout is remembered between calls (a 40-file loop), but never past a change."""
    _write_pair(tmp_path)
    assert snana.list_models(tmp_path) == ["Toy"]
    _write_pair(tmp_path, model="Other")
    assert snana.list_models(tmp_path) == ["Other", "Toy"]
    for f in (tmp_path / "TEST_FINAL_Other").glob("*_HEAD.FITS.gz"):
        f.unlink()  # no HEAD file left: no longer a model directory
    assert snana.list_models(tmp_path) == ["Toy"]
    with pytest.raises(snana.UnknownModelError, match="Other"):
        snana.read_head(tmp_path, "Other")
    shutil.rmtree(tmp_path / "TEST_FINAL_Toy")
    with pytest.raises(snana.SnanaError, match="no SNANA model directories"):
        snana.list_models(tmp_path)


def test_truncated_gzip(tmp_path):
    model_dir = _write_pair(tmp_path)
    phot = next(model_dir.glob("*_PHOT.FITS.gz"))
    data = phot.read_bytes()
    phot.write_bytes(data[: len(data) // 2])
    with pytest.raises(FitsFormatError, match=r"PHOT\.FITS\.gz.*(truncated|corrupt)"):
        snana.read_lightcurves(tmp_path, "Toy")


@real
def test_truncated_real_gzip(tmp_path):
    src = REAL / f"{PREFIX}KN_K17"
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    phot = dst / f"{PREFIX}NONIaMODEL0-0001_PHOT.FITS.gz"
    phot.write_bytes(phot.read_bytes()[:-100])
    with pytest.raises(FitsFormatError, match=r"0001_PHOT\.FITS\.gz"):
        snana.read_lightcurves(tmp_path, "KN_K17", file_num=1)
    # Corrupt (not truncated) compressed data.
    head = dst / f"{PREFIX}NONIaMODEL0-0002_HEAD.FITS.gz"
    raw = bytearray(head.read_bytes())
    raw[200:260] = b"\xff" * 60
    head.write_bytes(bytes(raw))
    with pytest.raises(FitsFormatError, match=r"0002_HEAD\.FITS\.gz"):
        snana.read_head(tmp_path, "KN_K17", file_num=2)


@real
def test_single_object_decompresses_only_what_it_needs(tmp_path):
    src = REAL / f"{PREFIX}SNIb-Templates"
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    head = snana.read_head(REAL, "SNIb-Templates", file_num=1)
    first = head["SNID"][0]
    expected = snana.read_lightcurve(REAL, "SNIb-Templates", first)
    # Cut the PHOT file's compressed stream in half: the first object's rows still inflate, the
    # full read fails.
    phot = dst / f"{PREFIX}NONIaMODEL0-0001_PHOT.FITS.gz"
    phot.write_bytes(phot.read_bytes()[: phot.stat().st_size // 2])
    assert snana.read_lightcurve(tmp_path, "SNIb-Templates", first).equals(expected)
    with pytest.raises(FitsFormatError, match="truncated"):
        snana.read_lightcurves(tmp_path, "SNIb-Templates", file_num=1)


def test_truncated_uncompressed(tmp_path):
    model_dir = _write_pair(tmp_path, gz=False)
    phot = next(model_dir.glob("*_PHOT.FITS"))
    phot.write_bytes(phot.read_bytes()[:3000])
    with pytest.raises(FitsFormatError, match="truncated"):
        snana.read_lightcurves(tmp_path, "Toy")


def test_missing_hdu(tmp_path):
    model_dir = _write_pair(tmp_path)
    phot = next(model_dir.glob("*_PHOT.FITS.gz"))
    fits.PrimaryHDU().writeto(phot, overwrite=True)
    with pytest.raises(FitsFormatError, match="Photometry"):
        snana.read_lightcurves(tmp_path, "Toy")
    not_fits = next(model_dir.glob("*_HEAD.FITS.gz"))
    not_fits.write_bytes(gzip.compress(b"hello world" * 500))
    with pytest.raises(FitsFormatError, match="not a FITS file"):
        snana.read_head(tmp_path, "Toy")


def test_missing_columns(tmp_path):
    _write_pair(tmp_path, drop_phot_column="FLUXCAL")
    with pytest.raises(FitsFormatError, match=r"lacks column\(s\) \['FLUXCAL'\]"):
        snana.read_lightcurves(tmp_path, "Toy", columns=["BAND", "FLUXCAL"])
    with pytest.raises(FitsFormatError, match="PTROBS_MIN"):
        snana.read_head(tmp_path, "Toy", columns=["SNID", "PTROBS_MINX"])


def test_missing_phot_file(tmp_path):
    model_dir = _write_pair(tmp_path)
    next(model_dir.glob("*_PHOT.FITS.gz")).unlink()
    with pytest.raises(snana.SnanaFileNotFoundError, match="PHOT"):
        snana.read_lightcurves(tmp_path, "Toy")
    with pytest.raises(snana.SnanaFileNotFoundError, match="PHOT"):
        snana.read_lightcurve(tmp_path, "Toy", 11)


def test_pointers_outside_phot(tmp_path):
    _write_pair(tmp_path, pointers=((1, 2), (4, 60)))
    with pytest.raises(snana.PointerError, match="SNID 22"):
        snana.read_lightcurves(tmp_path, "Toy")
    with pytest.raises(snana.PointerError, match="SNID 22"):
        snana.read_lightcurve(tmp_path, "Toy", 22)


def test_pointers_over_separator(tmp_path):
    _write_pair(tmp_path, pointers=((1, 3), (4, 6)))
    with pytest.raises(snana.PointerError, match="separator"):
        snana.read_lightcurves(tmp_path, "Toy")
    with pytest.raises(snana.PointerError, match="separator"):
        snana.read_lightcurve(tmp_path, "Toy", 11)


@pytest.mark.parametrize("pointers", [((1, 2), (2, 4)), ((4, 6), (4, 6)), ((4, 6), (1, 5))])
def test_pointers_aliasing_another_object(tmp_path, pointers):
    model_dir = _write_pair(tmp_path, pointers=pointers)
    head = next(model_dir.glob("*_HEAD.FITS.gz"))
    alias = rf"{head.name}: the PHOT rows of SNID (11|22) .* overlap those of SNID (11|22) .*alias"
    with pytest.raises(snana.PointerError, match=alias) as info:
        snana.read_lightcurves(tmp_path, "Toy")
    assert isinstance(info.value, snana.SnanaError)
    assert {"SNID 11", "SNID 22"} <= set(re.findall(r"SNID \d+", str(info.value)))
    with pytest.raises(snana.PointerError, match=alias):
        snana.read_lightcurves_file(head)
    with pytest.raises(snana.PointerError, match=alias):
        snana.read_lightcurve(tmp_path, "Toy", 11)


def test_pointers_disagree_with_nobs(tmp_path):
    _write_pair(tmp_path, nobs=[2, 2])
    with pytest.raises(snana.PointerError, match=r"SNID 22 has NOBS=2 but .* spans 3 rows"):
        snana.read_lightcurves(tmp_path, "Toy")


def test_bad_dump(tmp_path):
    dump = tmp_path / "x.DUMP"
    dump.write_text("# comment\n\nVARNAMES: CID GENTYPE ZCMB\n\nSN: 1 10 0.5\nSN: 2 10\n")
    with pytest.raises(snana.SnanaError, match="row 2 has 2 values, expected 3"):
        snana.read_dump(dump)
    dump.write_text("SN: 1 10 0.5\n")
    with pytest.raises(snana.SnanaError, match="VARNAMES"):
        snana.read_dump(dump)
    dump.write_text("VARNAMES: CID GENTYPE ZCMB\nSN: 1 -9 -9\nSN: 2 10 0.25\n")
    truth = snana.read_dump(dump)
    assert truth.schema == {"SNID": pl.Int64, "GENTYPE": pl.Int64, "ZCMB": pl.Float64}
    assert truth["GENTYPE"].to_list() == [-9, 10]
    dump.write_text("VARNAMES: CID GENTYPE ZCMB\nSN: 1 -9 -9\nSN: 2 10 2.5e-01\n")
    truth = snana.read_dump(dump, rename_cid=False)
    assert truth.schema == {"CID": pl.Int64, "GENTYPE": pl.Int64, "ZCMB": pl.Float64}
    assert truth["ZCMB"].to_list() == [-9.0, 0.25]
    dump.write_text("VARNAMES: CID OTHER\nSN: 1 3\nSN: 2 4\n")
    assert snana.read_dump(dump).schema == {"SNID": pl.Int64, "OTHER": pl.Int64}
    dump.write_text("VARNAMES: CID GENTYPE\nSN: 1 3.5\n")
    with pytest.raises(snana.SnanaError, match="GENTYPE should hold integers"):
        snana.read_dump(dump)


# --------------------------------------------------------------------------------------------------
# The synthetic sample (elasticc_tutorial.sample.build): every reader, cross-checked between formats.
# One tiny build serves the SNANA, Parquet and alert checks (kept in this module so it is built once).


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    # Our own simulator: an import error is a failure, never a skip.
    from elasticc_tutorial.sample import build

    return build(tmp_path_factory.mktemp("readers") / "sample", objects_per_model=3, progress=False)


@pytest.mark.slow
def test_sample_snana_all_models(sample):
    from elasticc_tutorial.sample import MODELS

    for tree, prefix in (
        ("ELASTICC2", "ELASTICC2_FINAL_"),
        ("ELASTICC2_TRAINING_SAMPLE_2", "ELASTICC2_TRAIN_02_"),
    ):
        root = sample / tree
        assert snana.detect_prefix(root) == prefix
        assert snana.list_models(root) == sorted(MODELS)
        for model in MODELS:
            head = snana.read_head(root, model)
            truth = snana.read_truth(root, model)
            lc = snana.read_lightcurves(root, model)
            assert truth.height == head.height > 0
            assert set(truth["SNID"]) == set(head["SNID"])
            assert lc.height == head["NOBS"].sum()
            assert (lc["MJD"] != -777.0).all()
            assert lc.select((pl.col("MJD").diff().over("SNID").fill_null(0) >= 0).all()).item()
            snid = head["SNID"][-1]
            assert snana.read_lightcurve(root, model, snid).equals(
                lc.filter(pl.col("SNID") == snid)
            )


@pytest.mark.slow
def test_sample_snana_matches_astropy(sample):
    root = sample / "ELASTICC2"
    for model in ("SNIa-SALT3", "AGN"):
        lc = snana.read_lightcurves(root, model)
        parts = []
        for pair in snana.file_pairs(snana.model_dir(root, model)):
            with fits.open(pair.head) as hh, fits.open(pair.phot) as ph:
                for row in hh[1].data:
                    block = ph[1].data[int(row["PTROBS_MIN"]) - 1 : int(row["PTROBS_MAX"])]
                    parts.append(
                        pl.DataFrame(
                            {
                                "SNID": [int(row["SNID"].strip())] * len(block),
                                "MJD": np.asarray(block["MJD"], dtype=float),
                                "BAND": _strip(block["BAND"]),
                                "FLUXCAL": np.asarray(block["FLUXCAL"], dtype=np.float32),
                            }
                        )
                    )
        expected = pl.concat(parts).sort("SNID", maintain_order=True)  # objects by SNID
        assert lc.select("SNID", "MJD", "BAND", "FLUXCAL").equals(expected)


@pytest.mark.slow
def test_sample_parquet_matches_snana(sample):
    from elasticc_tutorial import parquet

    pq = sample / "ELASTICC2_parquet"
    cols = ["MJD", "BAND", "PHOTFLAG", "FLUXCAL", "FLUXCALERR"]
    for model in parquet.list_models(pq):
        long = parquet.explode(parquet.scan(pq, model).select("SNID", *cols).collect())
        ref = snana.read_lightcurves(sample / "ELASTICC2", model, columns=cols)
        ref = ref.sort(["SNID", "MJD"], maintain_order=True)
        assert long.equals(ref), model


@pytest.mark.slow
def test_sample_alerts_match_snana(sample):
    from elasticc_tutorial import alerts
    from elasticc_tutorial.photometry import FLUXCAL_TO_NJY

    tables = alerts.read_alerts(sample / "ELASTICC2_ALERTS")
    assert tables.alerts.height > 0
    lcs = pl.concat(
        [
            snana.read_lightcurves(sample / "ELASTICC2", m)
            for m in snana.list_models(sample / "ELASTICC2")
        ]
    ).with_columns(pl.int_range(pl.len()).over("SNID").alias("IDX"))
    # diaSourceId = SNID * 100000 + index of the point in the object's light curve.
    src = tables.sources.with_columns(
        (pl.col("diaSourceId") // 100000).alias("SNID"),
        (pl.col("diaSourceId") % 100000).alias("IDX"),
    ).join(lcs, on=["SNID", "IDX"], how="left")
    assert src["MJD"].null_count() == 0
    assert np.allclose(src["midPointTai"], src["MJD"])
    assert (src["filterName"] == src["BAND"]).all()
    assert np.allclose(src["psFlux"], src["FLUXCAL"] * FLUXCAL_TO_NJY, rtol=1e-5)
    assert ((src["PHOTFLAG"] & 4096) != 0).all()  # every diaSource is a detection
    messages = alerts.read_broker_messages(sample / "ELASTICC2_BROKER_MESSAGES")
    assert messages.height > 0 and messages["alertId"].null_count() == 0
    assert set(messages["alertId"]) <= set(tables.alerts["alertId"])


@pytest.mark.parametrize("width", [1, 2, 5, 12, 16])
def test_fixed_width_strings_become_stripped_strings(width):
    from elasticc_tutorial.snana.tables import native, series

    values = [b"u", b"", b"VOID", b"ab cd", b"a\0", b"x" * width, b"Y"]
    arr = np.char.ljust(np.array([v[:width] for v in values], dtype=f"S{width}"), width)
    # Oracle: Python's own decoding and stripping of each value.
    expected = [bytes(v).decode().rstrip(" \0") for v in arr.tolist()]
    got = series("S", native(arr, None))
    assert got.dtype == pl.String
    assert got.to_list() == expected
    assert got.str.len_bytes().to_list()[:2] == [1, 0]
    bad = np.array(["été".encode()[:width]], dtype=f"S{width}")
    with pytest.raises(snana.SnanaError, match=r"x\.fits column FIELD: non-ASCII"):
        native(bad, None, "x.fits column FIELD")
