"""Tests of the synthetic ELAsTiCC2 sample (elasticc_tutorial.sample): layout conformance with the
real ELAsTiCC2 files, SNANA <-> Parquet consistency, physical sanity, determinism and safe builds."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from _reference import REAL, needs_real
from astropy.io import fits
from astropy.table import Table
from astropy.timeseries import LombScargle

from elasticc_tutorial.cli import main as cli_main
from elasticc_tutorial.sample.build import (
    FINAL_PREFIX,
    MANIFEST,
    MODELS,
    TRAIN_PREFIX,
    _write_snana_and_parquet,
    build,
)
from elasticc_tutorial.sample.cadence import LAMBDA_EFF, MJD_MAX, MJD_MIN
from elasticc_tutorial.sample.layouts import (
    DUMP_VARNAMES_FINAL,
    DUMP_VARNAMES_TRAIN,
    PARQUET_DROPPED,
    PARQUET_PHOT_COLUMNS,
)
from elasticc_tutorial.sample.simulate import R_MW, simulate_model
from elasticc_tutorial.taxonomy import GENTYPE_TO_CLASSID, MODEL_GENTYPES

REAL_PREFIX = "ELASTICC2_TRAIN_01_1percent_"
N = 6  # objects per model in the shared small sample


@pytest.fixture(scope="module")
def snana_root(tmp_path_factory) -> Path:
    """SNANA + Parquet forms of a small sample (no alerts/DB: those have their own tests)."""
    root = tmp_path_factory.mktemp("sample")
    _write_snana_and_parquet(root, N, 123, keep=False, progress=False)
    return root


def _final(root: Path, model: str) -> Path:
    return root / "ELASTICC2" / f"{FINAL_PREFIX}{model}"


def _read_snana(directory: Path) -> tuple[Table, dict[int, Table]]:
    """HEAD rows of all files and each object's PHOT rows, with astropy alone."""
    heads, lcs = [], {}
    for hf in sorted(directory.glob("*_HEAD.FITS.gz")):
        with fits.open(hf) as hh:
            photfile = hh[0].header["PHOTFILE"]
        head = Table.read(hf, hdu="Header")
        phot = Table.read(directory / f"{photfile}.gz", hdu="Photometry")
        for row in head:
            a, b = int(row["PTROBS_MIN"]), int(row["PTROBS_MAX"])
            assert phot["MJD"][b] == -777.0, "missing separator after light curve"
            lcs[int(row["SNID"])] = phot[a - 1 : b]
        # one separator per object, nothing else
        assert len(phot) == int(np.sum(head["NOBS"])) + len(head)
        assert np.sum(phot["MJD"] == -777.0) == len(head)
        heads.append(head)
    from astropy.table import vstack

    return vstack(heads), lcs


# ------------------------------------------------------------------------ conformance with real
@needs_real
@pytest.mark.parametrize("model", ["SNIb-Templates", "KN_K17", "Mdwarf-flare"])
def test_fits_layout_matches_real_files(snana_root, model):
    real_head = REAL / f"{REAL_PREFIX}{model}" / f"{REAL_PREFIX}NONIaMODEL0-0001_HEAD.FITS.gz"
    real_phot = real_head.with_name(real_head.name.replace("HEAD", "PHOT"))
    ours_head = _final(snana_root, model) / f"{FINAL_PREFIX}NONIaMODEL0-0001_HEAD.FITS.gz"
    ours_phot = ours_head.with_name(ours_head.name.replace("HEAD", "PHOT"))
    for real, ours, ext in ((real_head, ours_head, "Header"), (real_phot, ours_phot, "Photometry")):
        with fits.open(real) as r, fits.open(ours) as o:
            assert [h.name for h in o] == [h.name for h in r] == ["PRIMARY", ext]
            assert o[1].header["EXTNAME"] == ext
            assert [(c.name, c.format) for c in o[1].columns] == [
                (c.name, c.format) for c in r[1].columns
            ]
            assert list(o[0].header.keys()) == list(r[0].header.keys())
            assert list(o[1].header.keys()) == list(r[1].header.keys())
            for key in ("SURVEY", "FILTERS", "DATATYPE", "SIM_MWRV", "BITPIX", "NAXIS"):
                assert o[0].header[key] == r[0].header[key]
            if ext == "Header":
                assert o[0].header["NZPHOT_Q"] == r[0].header["NZPHOT_Q"]
                assert o[0].header["PHOTFILE"] == ours_phot.name.removesuffix(".gz")


@needs_real
@pytest.mark.parametrize("model", ["SNIb-Templates", "KN_K17", "Mdwarf-flare"])
def test_dump_and_aux_files_match_real_layout(snana_root, model):
    real = (REAL / f"{REAL_PREFIX}{model}" / f"{REAL_PREFIX}{model}.DUMP").read_text().splitlines()
    train = snana_root / "ELASTICC2_TRAINING_SAMPLE_2" / f"{TRAIN_PREFIX}{model}"
    for path, names in (
        (train / f"{TRAIN_PREFIX}{model}.DUMP", DUMP_VARNAMES_TRAIN),
        (_final(snana_root, model) / f"{FINAL_PREFIX}{model}.DUMP", DUMP_VARNAMES_FINAL),
    ):
        lines = path.read_text().splitlines()
        assert [ln.startswith("#") for ln in lines[:4]] == [True] * 4
        assert lines[4] == "" and lines[6] == ""
        assert lines[5].split()[0] == "VARNAMES:" and lines[5].split()[1:] == list(names)
        rows = [ln.split() for ln in lines[7:]]
        assert all(r[0] == "SN:" and len(r) == len(names) + 1 for r in rows)
    # the training DUMP has exactly the real training VARNAMES; FINAL adds the 12 test-set ones
    assert real[5].split()[1:] == list(DUMP_VARNAMES_TRAIN)
    assert len(DUMP_VARNAMES_FINAL) == 47 and DUMP_VARNAMES_FINAL[0] == "CID"
    listing = (_final(snana_root, model) / f"{FINAL_PREFIX}{model}.LIST").read_text().split()
    heads = sorted(p.name.removesuffix(".gz") for p in _final(snana_root, model).glob("*HEAD*"))
    assert listing == heads
    readme = (_final(snana_root, model) / f"{FINAL_PREFIX}{model}.README").read_text()
    assert (
        readme.startswith("DOCUMENTATION:")
        and f"GENTYPE:                 {MODEL_GENTYPES[model]}" in readme
    )


def test_every_leaf_class_with_models_is_simulated():
    leaves = {GENTYPE_TO_CLASSID[MODEL_GENTYPES[m]] for m in MODELS}
    assert leaves == set(GENTYPE_TO_CLASSID.values())


# ----------------------------------------------------------------------- SNANA <-> Parquet
@pytest.mark.parametrize("model", ["SNIa-SALT3", "KN_K17", "RRL", "AGN"])
def test_snana_and_parquet_hold_the_same_objects(snana_root, model):
    head, lcs = _read_snana(_final(snana_root, model))
    pq = pl.read_parquet(snana_root / "ELASTICC2_parquet" / f"{model}.parquet")
    assert pq["SNID"].dtype == pl.Int64
    assert pq["SNID"].to_list() == sorted(int(s) for s in head["SNID"])
    assert pq.columns[1:14] == list(PARQUET_PHOT_COLUMNS)
    head_cols = [c for c in head.colnames if c != "SNID" and c not in PARQUET_DROPPED]
    assert pq.columns[14:] == head_cols
    assert pq.schema["MJD"] == pl.List(pl.Float64) and pq.schema["FLUXCAL"] == pl.List(pl.Float32)
    assert pq.schema["PHOTFLAG"] == pl.List(pl.Int32) and pq.schema["BAND"] == pl.List(pl.String)
    assert pq.schema["RA"] == pl.Float64 and pq.schema["NOBS"] == pl.Int32
    by_snid = {int(s): i for i, s in enumerate(head["SNID"])}
    for row in pq.iter_rows(named=True):
        lc = lcs[row["SNID"]]
        h = head[by_snid[row["SNID"]]]
        assert len(row["MJD"]) == len(lc) == h["NOBS"]
        assert row["PTROBS_MIN"] == h["PTROBS_MIN"] and row["PTROBS_MAX"] == h["PTROBS_MAX"]
        # the real quirk: lists sorted by BAND (plain string order), then MJD
        bands = [b.strip() for b in lc["BAND"]]
        order = sorted(range(len(lc)), key=lambda k: (bands[k], lc["MJD"][k]))
        assert row["BAND"] == [bands[k] for k in order]
        assert np.allclose(row["MJD"], np.asarray(lc["MJD"])[order])
        assert np.array_equal(np.float32(row["FLUXCAL"]), np.asarray(lc["FLUXCAL"])[order])
        assert row["SIM_MODEL_NAME"] == h["SIM_MODEL_NAME"].strip()
    if any(b == "Y" for b in pq["BAND"].explode().to_list()):
        first = [lst[0] for lst in pq["BAND"].to_list()]
        assert all(f in ("Y", "g", "i", "r", "u", "z") for f in first)


@pytest.mark.parametrize("model", ["SNIb-Templates", "Mdwarf-flare", "SNIa-SALT3"])
def test_pointers_flags_and_sentinels(snana_root, model):
    head, lcs = _read_snana(_final(snana_root, model))
    gentype = MODEL_GENTYPES[model]
    assert set(head["SNTYPE"]) <= {gentype, gentype + 100}
    assert set(head["SIM_TYPE_INDEX"]) == {gentype}
    assert len(set(head["SNID"])) == len(head) == N
    assert head["SNID"].dtype.kind in "SU"
    for row in head:
        lc = lcs[int(row["SNID"])]
        flags = np.asarray(lc["PHOTFLAG"])
        assert set(np.unique(flags)) <= {0, 1024, 4096, 6144}
        assert np.sum(flags == 6144) == 1  # exactly one trigger, on the first detection
        det = np.nonzero(flags & 4096)[0]
        assert flags[det[0]] == 6144
        assert row["MJD_TRIGGER"] == np.float32(lc["MJD"][det[0]])
        assert np.all(np.diff(lc["MJD"]) > 0)
        assert lc["MJD"].min() >= MJD_MIN and lc["MJD"].max() <= MJD_MAX
    if model == "Mdwarf-flare":  # galactic LCLIB: no host, no redshift, like the real HEAD
        assert set(head["HOSTGAL_RA"]) == {-999.0} and set(head["REDSHIFT_HELIO"]) == {-9.0}
        assert set(head["HOSTGAL_MAG_r"]) == {999.0}
    else:
        assert np.all(head["HOSTGAL_NMATCH"] == 1) and np.all(head["REDSHIFT_FINAL"] > 0)
        q = np.array([head[f"HOSTGAL_ZPHOT_Q{k:03d}"] for k in range(0, 101, 10)])
        assert np.all(np.diff(q, axis=0) >= 0)  # photo-z quantiles are ordered
        assert set(head["HOSTGAL2_RA"]) == {-999.0}


# --------------------------------------------------------------------------- physical sanity
def test_sn_ia_peak_absolute_magnitude():
    s = simulate_model("SNIa-SALT3", 80, 11, snid_base=10_000_000)
    mags = []
    for r in s.truth.iter_rows(named=True):
        z = r["ZCMB"]
        b = int(np.argmin(np.abs(LAMBDA_EFF / (1 + z) - 4450.0)))  # band nearest rest-frame B
        band = "ugrizY"[b]
        # AB bandwidth term 2.5 log10(1+z) is the K-correction of a band matched to rest B
        mags.append(r[f"PEAKMAG_{band}"] - r["MU"] - R_MW[b] * r["MWEBV"] + 2.5 * np.log10(1 + z))
    assert -19.7 < np.median(mags) < -19.0
    assert 0.1 < np.std(mags) < 0.6
    head = s.head
    assert np.allclose(head["SIM_SALT2alpha"], 0.14) and np.allclose(head["SIM_SALT2beta"], 3.1)
    mb = head["SIM_SALT2mB"].to_numpy()
    assert np.allclose(head["SIM_SALT2x0"].to_numpy(), 10 ** (-0.4 * (mb - 10.635)), rtol=1e-4)
    # time dilation: higher-redshift SNe Ia are wider in the observer frame
    z = s.truth["ZCMB"].to_numpy()
    width = s.truth["WIDTH_r"].to_numpy() / (1 + z)
    assert np.corrcoef(z, s.truth["WIDTH_r"].to_numpy())[0, 1] > 0.3
    assert np.median(width) < np.median(s.truth["WIDTH_r"].to_numpy())


def test_rr_lyrae_period_recovered_with_lomb_scargle():
    s = simulate_model("RRL", 8, 5, snid_base=10_000_000)
    periods = dict(zip(s.truth["CID"].to_list(), s.truth["PERIOD"].to_list(), strict=True))
    assert all(0.25 <= p <= 0.75 for p in periods.values())
    good = 0
    for snid, period in periods.items():
        lc = s.phot.filter(pl.col("SNID") == snid, pl.col("PHOTFLAG") != 1024)
        band = lc.filter(pl.col("BAND").is_in(["g", "r", "i"]))["BAND"].mode().sort()[0]
        q = lc.filter(pl.col("BAND") == band)
        ls = LombScargle(q["MJD"].to_numpy(), q["FLUXCAL"].to_numpy(), q["FLUXCALERR"].to_numpy())
        # coarse grid over 1-5 cycles/day, then a fine grid around the best peak
        f, p = ls.autopower(minimum_frequency=1.0, maximum_frequency=5.0, samples_per_peak=3)
        fine = np.linspace(f[p.argmax()] - 0.002, f[p.argmax()] + 0.002, 401)
        best = 1.0 / fine[ls.power(fine).argmax()]
        good += abs(best - period) / period < 0.01
    assert good >= 0.75 * len(periods)


def test_detections_and_cadence_are_realistic(snana_root):
    for model in MODELS:
        pq = pl.read_parquet(snana_root / "ELASTICC2_parquet" / f"{model}.parquet")
        ndet = pq.select(pl.col("PHOTFLAG").list.eval((pl.element() & 4096) > 0).list.sum())[
            "PHOTFLAG"
        ]
        nobs = pq["NOBS"]
        assert ndet.min() >= 1 and nobs.min() >= 10, model
        assert ndet.median() < 400, model
        mjd = pq["MJD"].explode()
        assert mjd.min() >= MJD_MIN and mjd.max() <= MJD_MAX, model
        span = pq.select(pl.col("MJD").list.max() - pl.col("MJD").list.min())["MJD"]
        if model in ("RRL", "Cepheid", "AGN", "EB", "Mdwarf-flare"):
            assert span.min() > 700, model  # variables: the whole survey
        elif model in ("KN_K17", "SNIa-SALT3", "SNII-NMF"):
            assert span.max() < 600, model  # transients: a window around the event
    # deep-drilling objects exist and are dense
    s = simulate_model("SNIIn-MOSFIT", 120, 3, snid_base=10_000_000)
    assert s.head["NOBS"].max() > 1000


def test_periodic_and_agn_shapes():
    s = simulate_model("Cepheid", 10, 2, snid_base=10_000_000)
    assert s.truth["PERIOD"].min() >= 3.0 and s.truth["PERIOD"].max() <= 50.5
    s = simulate_model("d-Sct", 10, 2, snid_base=10_000_000)
    assert s.truth["PERIOD"].min() >= 0.03 and s.truth["PERIOD"].max() <= 0.2
    s = simulate_model("uLens-Single-GenLens", 10, 2, snid_base=10_000_000)
    assert (s.head["SIM_PEAKMAG_r"] < s.head["SIM_TEMPLATEMAG_r"]).all()  # magnification brightens
    s = simulate_model("AGN", 10, 2, snid_base=10_000_000)
    # DRW: the difference flux wanders both ways around the mean (template) flux
    f = s.phot.filter(pl.col("PHOTFLAG") != 1024)["FLUXCAL"]
    assert (f > 0).mean() > 0.2 and (f < 0).mean() > 0.2


# ---------------------------------------------------------------------------- determinism
def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "tomdb" not in p.relative_to(root).parts
    }


def test_snana_parquet_deterministic_per_seed(snana_root, tmp_path):
    _write_snana_and_parquet(tmp_path / "same", N, 123, keep=False, progress=False)
    _write_snana_and_parquet(tmp_path / "other", N, 124, keep=False, progress=False)
    a, b, c = _digest(snana_root), _digest(tmp_path / "same"), _digest(tmp_path / "other")
    assert a == b
    assert a.keys() == c.keys() and all(a[k] != c[k] for k in a if k.endswith(".parquet"))
    gz = next((snana_root / "ELASTICC2").rglob("*_HEAD.FITS.gz")).read_bytes()
    assert gz[4:8] == b"\0\0\0\0"  # gzip mtime 0
    assert gzip.decompress(gz)[:6] == b"SIMPLE"


# ------------------------------------------------------------------------------ safe builds
def test_refuses_non_empty_out_without_force(tmp_path):
    out = tmp_path / "sample"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="--force"):
        build(out, objects_per_model=2, progress=False)
    assert cli_main(["sample", "build", "--out", str(out), "--objects-per-model", "2"]) == 2
    assert (out / "keep.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="objects_per_model"):
        build(tmp_path / "x", objects_per_model=0, progress=False)


def test_interrupted_build_leaves_nothing(tmp_path, monkeypatch):
    from elasticc_tutorial.sample import alerts_writer

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(alerts_writer, "write_alerts_and_database", boom)
    out = tmp_path / "sample"
    with pytest.raises(KeyboardInterrupt):
        build(out, objects_per_model=2, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_full_build(tmp_path):
    # (short test name: the embedded PostgreSQL socket lives under tmp_path, max ~107 chars)
    a = build(tmp_path / "a", objects_per_model=3, seed=9, progress=False)
    b = build(tmp_path / "b", objects_per_model=3, seed=9, progress=False)
    da, db = _digest(a), _digest(b)
    assert da == db
    manifest = json.loads((a / MANIFEST).read_text())
    assert manifest["seed"] == 9 and manifest["objects_per_model"] == 3
    from elasticc_tutorial import paths
    from elasticc_tutorial.sample.build import generator_fingerprint

    assert manifest["generator"] == generator_fingerprint()
    assert paths.is_complete_sample(a) and not paths.is_outdated_sample(a)
    assert manifest["files"] == {k: v for k, v in da.items() if k != MANIFEST}
    assert any(k.startswith("ELASTICC2_ALERTS/") for k in manifest["files"])
    assert (a / "tomdb").is_dir() and not any(k.startswith("tomdb") for k in manifest["files"])
    # --force replaces atomically; a different seed gives different data
    build(a, objects_per_model=3, seed=10, force=True, progress=False)
    assert json.loads((a / MANIFEST).read_text())["seed"] == 10
    assert _digest(a) != da
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_scale_build_writes_the_file_forms_only(tmp_path):
    out = build(tmp_path / "s", scale=2, progress=False)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["scale"] == 2 and manifest["objects_per_model"] == 2
    assert manifest["forms"] == ["snana", "train", "parquet"] and manifest["database"] is None
    assert sorted(p.name for p in out.iterdir()) == [
        "ELASTICC2",
        "ELASTICC2_TRAINING_SAMPLE_2",
        "ELASTICC2_parquet",
        MANIFEST,
    ]
    assert len(list((out / "ELASTICC2_parquet").glob("*.parquet"))) == len(manifest["models"])
