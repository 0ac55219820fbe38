"""Tests of the synthetic ELAsTiCC2 sample (elasticc_tutorial.sample): layout conformance with the
real ELAsTiCC2 files, SNANA <-> Parquet consistency, physical sanity, determinism and safe builds."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from _reference import REAL, needs_real
from astropy.io import fits
from astropy.table import Table
from astropy.timeseries import LombScargle

from elasticc_tutorial import snana
from elasticc_tutorial.cli import main as cli_main
from elasticc_tutorial.errors import SampleError
from elasticc_tutorial.sample import verify
from elasticc_tutorial.sample.build import (
    DEFAULT_OBJECTS_PER_MODEL,
    FINAL_PREFIX,
    MANIFEST,
    MODELS,
    TRAIN_PREFIX,
    _write_snana_and_parquet,
    build,
    model_counts,
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
#: objects per (test, training) set and model in the shared sample: the default build's
COUNTS = model_counts(DEFAULT_OBJECTS_PER_MODEL)
#: the 38 directories of the real ELAsTiCC2 test set (formats.md §1.4b: lib_elasticc2's
#: test_obj_class_names), written out here as the independent reference
REAL_MODELS = [
    "AGN",
    "CART",
    "Cepheid",
    "EB",
    "ILOT",
    "KN_B19",
    "KN_K17",
    "Mdwarf-flare",
    "PISN-MOSFIT",
    "PISN-STELLA_HECORE",
    "PISN-STELLA_HYDROGENIC",
    "RRL",
    "SL-SN1a",
    "SL-SNII",
    "SL-SNIb",
    "SL-SNIc",
    "SLSN-I+host",
    "SLSN-I_no_host",
    "SNII+HostXT_V19",
    "SNII-NMF",
    "SNII-Templates",
    "SNIIb+HostXT_V19",
    "SNIIn+HostXT_V19",
    "SNIIn-MOSFIT",
    "SNIa-91bg",
    "SNIa-SALT3",
    "SNIax",
    "SNIb+HostXT_V19",
    "SNIb-Templates",
    "SNIc+HostXT_V19",
    "SNIc-Templates",
    "SNIcBL+HostXT_V19",
    "TDE",
    "d-Sct",
    "dwarf-nova",
    "uLens-Binary",
    "uLens-Single-GenLens",
    "uLens-Single_PyLIMA",
]


@pytest.fixture(scope="module")
def snana_root(tmp_path_factory) -> Path:
    """SNANA + Parquet forms (test and training sets) of the default-size sample (no
    alerts/DB: those have their own tests)."""
    root = tmp_path_factory.mktemp("sample")
    _write_snana_and_parquet(root, COUNTS, 123, keep=False, progress=False)
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
    leaves = {GENTYPE_TO_CLASSID.get(MODEL_GENTYPES[m]) for m in MODELS} - {None}
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
    assert len(set(head["SNID"])) == len(head) == COUNTS[model][0]
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
def _cosmological_z(truth: pl.DataFrame) -> np.ndarray:
    """The redshift of the Hubble flow: ZCMB with the peculiar velocity (VPEC) divided out."""
    c_kms = 299792.458
    return (1 + truth["ZCMB"].to_numpy()) / (1 + truth["VPEC"].to_numpy() / c_kms) - 1


def test_sn_ia_distances_and_tripp_standardisation():
    # oracle: astropy's own flat LCDM (H0 70, Om 0.3, the README's cosmology) at the truth
    # redshifts, and the Tripp relation with the file's SALT parameters; nothing of the simulator
    from astropy.cosmology import FlatLambdaCDM

    cosmo = FlatLambdaCDM(H0=70.0, Om0=0.3)
    s = simulate_model("SNIa-SALT3", 80, 11, snid_base=10_000_000)
    truth, head = s.truth, s.head
    assert head["SNID"].cast(pl.Int64).to_list() == truth["CID"].to_list()
    mu = cosmo.distmod(_cosmological_z(truth)).value
    # the distance modulus follows the redshift (a wrong z -> MU mapping fails by > 0.05 mag)
    assert np.abs(truth["MU"].to_numpy() - mu).max() < 0.005
    assert np.allclose(head["SIM_DLMU"].to_numpy(), mu, atol=0.005)
    # Tripp: mB = M_B - alpha x1 + beta c - gammaDM (+ coherent scatter) + mu
    x1, c = head["SIM_SALT2x1"].to_numpy(), head["SIM_SALT2c"].to_numpy()
    gamma = head["SIM_SALT2gammaDM"].to_numpy()
    smear = truth["MAGSMEAR_COH"].to_numpy()
    tripp = -19.3 - 0.14 * x1 + 3.1 * c - gamma + smear + mu
    assert np.abs(head["SIM_SALT2mB"].to_numpy() - tripp).max() < 0.01
    assert 0.05 < np.std(smear) < 0.2  # the intrinsic scatter is drawn, not zero
    # the mass step has the sign and size of the README's Tripp relation
    logm = head["SIM_HOSTLIB(LOGMASS_TRUE)"].to_numpy()
    assert np.allclose(gamma, np.where(logm > 10, 0.025, -0.025))
    # and the light curves carry it: the peak in the band nearest rest-frame B, corrected for
    # Milky-Way dust and the bandwidth term 2.5 log10(1+z), is M_B + mu to the K-correction
    mags = []
    for r, m, col in zip(truth.iter_rows(named=True), mu, c, strict=True):
        z = r["ZCMB"]
        b = int(np.argmin(np.abs(LAMBDA_EFF / (1 + z) - 4450.0)))
        peak = r[f"PEAKMAG_{'ugrizY'[b]}"] - R_MW[b] * r["MWEBV"] + 2.5 * np.log10(1 + z)
        mags.append(peak - m - 3.1 * col)
    assert -19.8 < np.median(mags) < -19.0
    # time dilation: higher-redshift SNe Ia are wider in the observer frame
    z = truth["ZCMB"].to_numpy()
    assert np.corrcoef(z, truth["WIDTH_r"].to_numpy())[0, 1] > 0.3


def test_lensed_and_hostless_models():
    from astropy.cosmology import FlatLambdaCDM

    cosmo = FlatLambdaCDM(H0=70.0, Om0=0.3)
    s = simulate_model("SL-SN1a", 30, 4, snid_base=10_000_000)
    lens = s.truth["LENSDMU"].to_numpy()
    assert (lens <= -2.5 * np.log10(2.0) + 1e-6).all()  # strong lensing: magnified >= 2x
    # the magnification is in the light curve: mB = Tripp + mu + LENSDMU
    h = s.head
    mu = cosmo.distmod(_cosmological_z(s.truth)).value
    tripp = -19.3 - 0.14 * h["SIM_SALT2x1"].to_numpy() + 3.1 * h["SIM_SALT2c"].to_numpy()
    tripp = tripp - h["SIM_SALT2gammaDM"].to_numpy() + s.truth["MAGSMEAR_COH"].to_numpy()
    assert np.abs(h["SIM_SALT2mB"].to_numpy() - (tripp + mu + lens)).max() < 0.01
    s = simulate_model("SLSN-I_no_host", 10, 4, snid_base=10_000_000)
    assert set(s.head["HOSTGAL_NMATCH"]) == {0} and set(s.head["REDSHIFT_HELIO"]) == {-9.0}
    assert set(s.truth["GALID"]) == {-9} and (s.truth["ZCMB"] > 0).all()
    s = simulate_model("SLSN-I+host", 10, 4, snid_base=10_000_000)
    assert set(s.head["HOSTGAL_NMATCH"]) == {1} and (s.head["REDSHIFT_HELIO"] > 0).all()


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
    subset = {m: COUNTS[m] for m in ("SNIa-SALT3", "KN_B19", "uLens-Binary")}
    _write_snana_and_parquet(tmp_path / "same", subset, 123, keep=False, progress=False)
    _write_snana_and_parquet(tmp_path / "other", subset, 124, keep=False, progress=False)
    b, c = _digest(tmp_path / "same"), _digest(tmp_path / "other")
    a = _digest(snana_root)
    assert len(b) == 3 * 2 * (2 * 40 + 3) + 3  # 3 models x 2 sets x (80 FITS + 3 aux) + Parquet
    assert {k: a[k] for k in b} == b  # a model's files do not depend on which others are built
    assert b.keys() == c.keys() and all(b[k] != c[k] for k in b if k.endswith(".parquet"))
    gz = next((snana_root / "ELASTICC2").rglob("*_HEAD.FITS.gz")).read_bytes()
    assert gz[4:8] == b"\0\0\0\0"  # gzip mtime 0
    assert gzip.decompress(gz)[:6] == b"SIMPLE"


# ------------------------------------------------------------------ 38 models, 40 files each
def test_the_real_model_directories_with_their_gentypes(snana_root):
    assert list(MODELS) == sorted(REAL_MODELS) and len(MODELS) == 38
    # 37 models: the two SLSN-I directories are one model (gentype 40)
    assert len(set(MODEL_GENTYPES.values())) == 37
    for tree, prefix in (
        ("ELASTICC2", FINAL_PREFIX),
        ("ELASTICC2_TRAINING_SAMPLE_2", TRAIN_PREFIX),
    ):
        dirs = sorted(p.name for p in (snana_root / tree).iterdir())
        assert dirs == sorted(f"{prefix}{m}" for m in REAL_MODELS)
        for model in MODELS:
            readme = (
                snana_root / tree / f"{prefix}{model}" / f"{prefix}{model}.README"
            ).read_text()
            assert f"GENVERSION: {prefix}{model} " in readme
            assert f"GENTYPE:                 {MODEL_GENTYPES[model]}  # true type" in readme
            truth = snana.read_truth(snana_root / tree, model)
            assert set(truth["GENTYPE"]) == {MODEL_GENTYPES[model]}


def _fitsio_counts(head_path: Path) -> tuple[list[int], int]:
    """With fitsio (cfitsio) alone: the SNIDs of a HEAD file and the row count of its PHOT file
    (an oracle independent of the package's reader, and 3x faster than astropy here)."""
    import fitsio

    with fitsio.FITS(str(head_path)) as hh:
        photfile = hh[0].read_header()["PHOTFILE"]
        objects = [int(s) for s in hh["Header"].read_column("SNID")]
    with fitsio.FITS(str(head_path.with_name(f"{photfile}.gz"))) as ph:
        rows = ph["Photometry"].read_header()["NAXIS2"]
    return objects, rows


def _header_counts(head_path: Path) -> tuple[int, int]:
    """With astropy's header reader alone (no table decoding): the object count of a HEAD file
    and the row count of its PHOT file."""
    photfile = fits.getheader(head_path, 0)["PHOTFILE"]
    objects = fits.getheader(head_path, "Header")["NAXIS2"]
    rows = fits.getheader(head_path.with_name(f"{photfile}.gz"), "Photometry")["NAXIS2"]
    return objects, rows


@pytest.mark.slow
def test_a_loop_over_the_40_file_numbers_reads_every_model(snana_root):
    """The way lib_elasticc2 and the notebooks read a model: ``for n in range(1, 41)``, with the
    package's reader, checked file by file against an independent reader (cfitsio: the SNIDs, in
    the test set; astropy's headers: the object counts, in the training set, where decoding every
    170-column HEAD table again would double the time) and the PHOT row counts."""
    for tree, prefix, which in (
        ("ELASTICC2", FINAL_PREFIX, 0),
        ("ELASTICC2_TRAINING_SAMPLE_2", TRAIN_PREFIX, 1),
    ):
        root = snana_root / tree
        for model in MODELS:
            directory = root / f"{prefix}{model}"
            names = [f"{prefix}NONIaMODEL0-{n:04d}" for n in range(1, 41)]
            on_disk = sorted(p.name for p in directory.glob("*.FITS.gz"))
            assert on_disk == sorted(f"{b}_{k}.FITS.gz" for b in names for k in ("HEAD", "PHOT"))
            listing = (directory / f"{prefix}{model}.LIST").read_text().split()
            assert listing == [f"{b}_HEAD.FITS" for b in names]
            seen = []
            for n in range(1, 41):
                head = snana.read_head(root, model, file_num=n, columns=["SNID", "NOBS"])
                assert head.height >= 1, (model, n)
                head_path = directory / f"{names[n - 1]}_HEAD.FITS.gz"
                if which == 0:
                    objects, rows = _fitsio_counts(head_path)
                    assert head["SNID"].to_list() == objects
                else:
                    n_objects, rows = _header_counts(head_path)
                    assert head.height == n_objects
                # the light curves plus one separator row each
                assert rows == head["NOBS"].sum() + head.height
                seen += head["SNID"].to_list()
            # every object once, and the DUMP lists exactly these objects
            assert len(seen) == len(set(seen)) == COUNTS[model][which]
            assert sorted(snana.read_truth(root, model)["SNID"].to_list()) == sorted(seen)


def test_alert_window():
    from elasticc_tutorial.sample.build import ALERT_WINDOW, alert_window

    lo, hi = alert_window(DEFAULT_OBJECTS_PER_MODEL)
    assert (
        (lo, hi) == ALERT_WINDOW and MJD_MIN < lo < 61200 and 61450 <= hi < MJD_MAX
    )  # the book's "now" (MJD 61200 .. 61450) falls inside
    assert alert_window(2 * DEFAULT_OBJECTS_PER_MODEL) == ALERT_WINDOW
    assert alert_window(3) == (MJD_MIN, MJD_MAX)  # a small sample streams the whole survey


def test_scaling_keeps_the_campaign_class_balance():
    from elasticc_tutorial.sample import scaling_table

    t = scaling_table(40)
    assert t["model"].to_list() == list(MODELS)
    assert t["sample_count"].min() >= 40 and t["training_count"].min() >= 40
    published = dict(zip(t["model"], t["campaign_count"], strict=True))
    # the counts formats.md §7 publishes
    assert published["SNIa-SALT3"] == 1_705_217 and published["AGN"] == 108_556
    assert published["CART"] == 8_926 and published["ILOT"] == 1_143
    # SN Ia is the most common model, then the other big ones, in the campaign's order
    known = t.filter(pl.col("campaign_count").is_not_null()).sort("campaign_count", descending=True)
    assert known["model"][0] == t.sort("sample_count", descending=True)["model"][0] == "SNIa-SALT3"
    assert known["sample_count"].to_list() == sorted(known["sample_count"], reverse=True)
    # above the floor the sample is the campaign scaled by one factor
    scaled = known.filter(pl.col("sample_count") > 40)
    assert scaled.height >= 3
    factor = scaled["scale_factor"].to_numpy()
    assert np.allclose(factor, factor[0], rtol=0.02)
    # models without a published count are at the floor, and say so
    unknown = t.filter(pl.col("campaign_count").is_null())
    assert set(unknown["sample_count"]) == {40} and set(unknown["basis"]) == {"not published"}
    # the training set is the real training fraction of the test set, at least 40
    ia = t.filter(pl.col("model") == "SNIa-SALT3").row(0, named=True)
    assert ia["training_count"] == max(40, -(-ia["sample_count"] * 172_484 // 1_705_217))
    assert scaling_table(3)["sample_count"].sum() < t["sample_count"].sum()


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
    assert manifest["sizes"] == {k: (a / k).stat().st_size for k in manifest["files"]}
    assert any(k.startswith("ELASTICC2_ALERTS/") for k in manifest["files"])
    assert verify(a, full=True) == len(manifest["files"])
    # the alert stream covers the recorded window, and only it
    lo, hi = manifest["alert_window"]
    nights = sorted(int(k.split("/")[1][:-4]) for k in manifest["files"] if "_ALERTS/" in k)
    assert lo <= nights[0] and nights[-1] < hi and nights[-1] - nights[0] > 0.8 * (hi - lo)
    scaling = pl.DataFrame(manifest["scaling"])
    assert scaling["model"].to_list() == list(MODELS)
    assert (
        manifest["objects"]["SNIa-SALT3"]["test"]
        == scaling["sample_count"][MODELS.index("SNIa-SALT3")]
    )
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


def test_verify_checks_the_manifest(tmp_path, capsys):
    out = build(tmp_path / "s", scale=1, progress=False)
    n = len(json.loads((out / MANIFEST).read_text())["files"])
    assert verify(out) == verify(out, full=True) == n
    assert cli_main(["sample", "verify", "--out", str(out), "--full"]) == 0
    assert f"{n} files match" in capsys.readouterr().out
    head = next((out / "ELASTICC2").rglob("*-0001_HEAD.FITS.gz"))
    rel = head.relative_to(out).as_posix()
    # same size, other bytes: only the full check sees it, and names the file
    data = bytearray(head.read_bytes())
    data[-1] ^= 0xFF
    head.write_bytes(bytes(data))
    assert verify(out) == n
    with pytest.raises(SampleError, match=re.escape(f"1 with another sha256: {rel}")):
        verify(out, full=True)
    assert cli_main(["sample", "verify", "--out", str(out), "--full"]) == 2
    head.write_bytes(bytes(data[:-1]))
    with pytest.raises(SampleError, match=re.escape(f"1 with another size: {rel}")):
        verify(out)
    head.unlink()
    (out / "ELASTICC2" / "stray.txt").write_text("x")
    with pytest.raises(
        SampleError,
        match=re.escape(f"1 missing: {rel}; 1 not in the manifest: ELASTICC2/stray.txt"),
    ):
        verify(out)
    (out / MANIFEST).write_text("{")
    with pytest.raises(SampleError, match="not readable JSON"):
        verify(out)
    (out / MANIFEST).unlink()
    with pytest.raises(SampleError, match=r"MANIFEST\.json is missing"):
        verify(out)
