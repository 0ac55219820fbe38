"""elasticc_tutorial.scale: units cover every file once; the streaming, serial, Dask and batch-CLI
paths give the features of an independent oracle (astropy + a plain numpy loop per object); the
SLURM settings reach the job scripts."""

from __future__ import annotations

import math
import os
import tarfile
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from astropy.io import fits

from elasticc_tutorial import scale
from elasticc_tutorial.errors import ScaleError
from elasticc_tutorial.sample import build
from elasticc_tutorial.sample.build import MODELS
from elasticc_tutorial.scale import cli

BANDS = ["u", "g", "r", "i", "z", "Y"]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    # 12 objects per model: 3 HEAD/PHOT pairs per model (5 objects per file), SNANA + Parquet
    return build(tmp_path_factory.mktemp("scale") / "s", scale=12, progress=False)


def _oracle_object(mjd, band, flag, flux, err) -> dict:
    """The features of one object, computed point by point without polars."""
    row = {"n_points": len(mjd), "n_detections": int(sum(1 for f in flag if f & 4096))}
    for b in BANDS:
        fluxes = [float(f) for f, bb in zip(flux, band, strict=True) if bb == b]
        row[f"peak_flux_{b}"] = max(fluxes) if fluxes else None
    bright = [
        float(t)
        for t, f, e in zip(mjd, flux, err, strict=True)
        if e > 0 and float(f) / float(e) >= 5.0
    ]
    row["duration_snr5"] = max(bright) - min(bright) if bright else None
    g, r = row["peak_flux_g"], row["peak_flux_r"]
    row["colour_gr_peak"] = -2.5 * math.log10(g / r) if g and r and g > 0 and r > 0 else None
    return row


@pytest.fixture(scope="module")
def oracle(root) -> pl.DataFrame:
    """Features from the FITS files read with astropy, objects sliced by their 1-based inclusive
    PTROBS pointers, in a numpy/Python loop."""
    rows = []
    for head_path in sorted((root / "ELASTICC2").glob("*/*_HEAD.FITS.gz")):
        phot_path = head_path.with_name(head_path.name.replace("_HEAD.", "_PHOT."))
        with fits.open(head_path) as hh, fits.open(phot_path) as ph:
            head, phot = hh[1].data, ph[1].data
            for snid, lo, hi in zip(
                head["SNID"], head["PTROBS_MIN"], head["PTROBS_MAX"], strict=True
            ):
                p = phot[lo - 1 : hi]
                band = [str(b).strip() for b in p["BAND"]]
                feats = _oracle_object(
                    np.asarray(p["MJD"], dtype=float),
                    band,
                    p["PHOTFLAG"],
                    np.asarray(p["FLUXCAL"], dtype=np.float32),
                    np.asarray(p["FLUXCALERR"], dtype=np.float32),
                )
                rows.append({"SNID": int(str(snid).strip()), **feats})
    return pl.DataFrame(
        rows,
        schema={
            c: pl.Int64 if c in ("SNID", "n_points", "n_detections") else pl.Float64
            for c in scale.FEATURE_COLUMNS
        },
    ).sort("SNID")


def _same(got: pl.DataFrame, want: pl.DataFrame) -> None:
    assert got.columns == list(scale.FEATURE_COLUMNS)
    assert got["SNID"].to_list() == want["SNID"].to_list()
    for c in scale.FEATURE_COLUMNS[1:]:
        a, b = got[c].to_numpy(), want[c].to_numpy()
        assert np.array_equal(np.isnan(a.astype(float)), np.isnan(b.astype(float))), c
        np.testing.assert_allclose(
            a.astype(float), b.astype(float), rtol=1e-9, equal_nan=True, err_msg=c
        )


def test_units_cover_every_file_exactly_once(root, tmp_path):
    snana_units = scale.units(root / "ELASTICC2")
    heads = sorted((root / "ELASTICC2").glob("*/*_HEAD.FITS.gz"))
    assert len({h.parent for h in heads}) == len(MODELS) and len(heads) > len(MODELS)
    assert sorted(u.path for u in snana_units) == heads
    assert all(
        u.form == "snana" and u.phot.name == u.path.name.replace("_HEAD", "_PHOT")
        for u in snana_units
    )

    files = sorted((root / "ELASTICC2_parquet").glob("*.parquet"))
    pq_units = scale.units(root / "ELASTICC2_parquet")
    assert sorted(u.path for u in pq_units) == files
    assert {u.model for u in pq_units} == {p.stem for p in files}

    # a file with several row groups: every row group in exactly one unit
    many = tmp_path / "AGN.parquet"
    pq.write_table(pq.read_table(files[0]), many, row_group_size=5)
    n_groups = pq.ParquetFile(many).metadata.num_row_groups
    assert n_groups >= 3
    rg_units = scale.parquet_units(many, row_groups_per_unit=2)
    groups = [g for u in rg_units for g in u.row_groups]
    assert sorted(groups) == list(range(n_groups))
    read = pl.concat([scale.read_unit(u) for u in rg_units])
    assert read.sort("SNID", "MJD").equals(scale.read_unit(scale.Unit("parquet", many, "AGN")))

    # split: disjoint shares whose union is everything
    parts = [scale.split(snana_units, i, 4) for i in range(4)]
    assert sorted(u for p in parts for u in p) == sorted(snana_units)
    with pytest.raises(ScaleError, match=r"part must be in 0\.\.3"):
        scale.split(snana_units, 4, 4)


def test_alert_units_one_per_tar(tmp_path):
    for night in (60300, 60302, 60301):
        with tarfile.open(tmp_path / f"{night}.tar", "w"):
            pass
    units = scale.units(tmp_path)
    assert [u.path.name for u in units] == ["60300.tar", "60301.tar", "60302.tar"]
    assert scale.read_unit(units[0]).alerts.height == 0
    with pytest.raises(ScaleError, match="alert tar"):
        scale.features_of_unit(units[0])


def test_streaming_and_serial_paths_equal_the_oracle(root, oracle):
    _same(scale.features_streaming(root / "ELASTICC2_parquet"), oracle)
    _same(scale.gather_frames(scale.features_of_unit, scale.units(root / "ELASTICC2")), oracle)
    _same(scale.features_in_slices(root / "ELASTICC2_parquet", 3), oracle)
    assert oracle["duration_snr5"].null_count() > 0  # the null cases are exercised too
    assert oracle["colour_gr_peak"].null_count() > 0


def test_dask_local_cluster_equals_polars_and_oracle(root, oracle):
    streamed = scale.features_streaming(root / "ELASTICC2_parquet")
    with scale.cluster(2, processes=True, memory_limit="1GiB", slurm=False) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        from_snana = scale.gather_frames(
            scale.features_of_unit, scale.units(root / "ELASTICC2"), client
        )
        from_parquet = scale.gather_frames(
            scale.features_of_unit, scale.units(root / "ELASTICC2_parquet"), client
        )
        cluster, scratch = client.cluster, Path(client.scratch)
        assert scratch.is_dir()
    assert cluster.status.name == "closed"  # closing the client closed its cluster
    assert not scratch.exists()  # and removed the workers' scratch directory
    assert from_snana.equals(streamed) and from_parquet.equals(streamed)
    _same(from_snana, oracle)


def test_failed_unit_is_named(root, tmp_path):
    bad = tmp_path / "broken.parquet"
    bad.write_bytes(b"PAR1 not really")
    with pytest.raises(Exception, match=r"broken\.parquet"):
        scale.map_units(scale.features_of_unit, [scale.Unit("parquet", bad, "broken")])


def test_batch_cli_parts_and_combine(root, oracle, tmp_path):
    out = tmp_path / "out"
    for i in range(2):
        cli.run_features(root / "ELASTICC2", out, form="snana", workers=0, part=(i, 2))
    with pytest.raises(ScaleError, match="parts of different runs"):
        (out / "features-part-000of003.parquet").write_bytes(b"")
        cli.combine(out)
    (out / "features-part-000of003.parquet").unlink()
    _same(pl.read_parquet(cli.combine(out)), oracle)
    (out / "features-part-001of002.parquet").unlink()
    with pytest.raises(ScaleError, match=r"parts \[1\] of 2 are missing"):
        cli.combine(out)
    assert cli.main(["features", str(root / "nowhere"), "--out", str(out), "--part", "x"]) == 2


def test_slurm_settings_from_arguments_and_environment(tmp_path):
    env = {"SBATCH_ACCOUNT": "desc_env", "SBATCH_QOS": "debug", "SBATCH_CONSTRAINT": "gpu"}
    s = scale.slurm_settings(env=env)
    assert (s.account, s.qos, s.constraint) == ("desc_env", "debug", "gpu")
    s = scale.slurm_settings("m9999", "shared", "cpu", env=env)
    assert (s.account, s.qos, s.constraint) == ("m9999", "shared", "cpu")
    assert scale.slurm_settings(env={"SBATCH_ACCOUNT": "m1"}).qos == "regular"
    with pytest.raises(ScaleError, match="SBATCH_ACCOUNT"):
        scale.slurm_settings(env={})
    with pytest.raises(ScaleError, match="qos"):
        scale.slurm_settings("m1", "regular; rm -rf /", env={})
    with pytest.raises(ScaleError, match="walltime"):
        scale.slurm_settings("m1", env={}, walltime="30 minutes")
    assert scale.at_nersc({"NERSC_HOST": "perlmutter"}) and not scale.at_nersc({})

    s = scale.slurm_settings(env=env, nodes=4, setup=("module load python",))
    script = scale.batch_script("/pscratch/pq", "/pscratch/out", s, form="parquet")
    for line in (
        "#SBATCH --account=desc_env",
        "#SBATCH --qos=debug",
        "#SBATCH --constraint=gpu",
        "#SBATCH --nodes=4",
        "module load python",
    ):
        assert line in script.splitlines()
    assert (
        "srun python -m elasticc_tutorial.scale features /pscratch/pq --out /pscratch/out" in script
    )
    # job variables stay expandable, anything else is quoted
    script = scale.batch_script("$PSCRATCH/pq", "/a dir/out", s)
    assert ' "$PSCRATCH/pq" ' in script and "--out '/a dir/out'" in script
    path = scale.write_batch_script(tmp_path / "job.sh", "/pq", "/out", s)
    assert path.read_text() == scale.batch_script("/pq", "/out", s)
    assert os.access(path, os.X_OK) and [p.name for p in tmp_path.iterdir()] == ["job.sh"]

    cluster = scale.slurm_cluster(s)
    try:
        job = cluster.job_script()
    finally:
        cluster.close()
    assert not Path(cluster.scratch).exists()  # the scheduler's scratch went with it
    assert "#SBATCH -A desc_env" in job
    assert "#SBATCH --qos=debug" in job and "#SBATCH --constraint=gpu" in job
    assert "module load python" in job


def test_campaign_estimate():
    assert scale.campaign_seconds(1e-6, nodes=2, efficiency=0.5) == pytest.approx(
        990e6 * 1e-6 / 128
    )
    with pytest.raises(ScaleError, match="nodes >= 1"):
        scale.campaign_seconds(1e-6, nodes=0)
