"""One built sample, four forms, one truth: the SNANA FITS files read back with astropy alone hold
exactly the objects, points and detections of the Parquet files, the alert tarballs and the TOM
database. Independent of the package's own readers, so a bug shared by writer and reader cannot hide.
"""

from __future__ import annotations

import io
import tarfile
from collections import Counter
from pathlib import Path

import fastavro
import numpy as np
import polars as pl
import pytest
from astropy.io import fits
from psycopg.conninfo import make_conninfo

from elasticc_tutorial import pg
from elasticc_tutorial.sample import build
from elasticc_tutorial.schema import load_schema

pytestmark = pytest.mark.slow

DETECT = 4096
NJY_PER_FLUXCAL = 10 ** ((31.4 - 27.5) / 2.5)


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("forms") / "s", objects_per_model=2, progress=False)


@pytest.fixture(scope="module")
def snana_points(root) -> pl.DataFrame:
    """Every photometry point of the test set, read with astropy alone: SNID, MJD, BAND, FLUXCAL,
    PHOTFLAG, with SNIDs from the HEAD pointers (1-based, inclusive) and separators dropped."""
    frames = []
    for head_path in sorted((root / "ELASTICC2").glob("*/*_HEAD.FITS.gz")):
        phot_path = head_path.with_name(head_path.name.replace("_HEAD.", "_PHOT."))
        with fits.open(head_path) as hh, fits.open(phot_path) as ph:
            head, phot = hh["Header"].data, ph["Photometry"].data
            for snid, lo, hi in zip(
                head["SNID"], head["PTROBS_MIN"], head["PTROBS_MAX"], strict=True
            ):
                rows = phot[lo - 1 : hi]
                assert phot["MJD"][hi] == -777.0, f"{phot_path.name}: no separator after {snid}"
                frames.append(
                    pl.DataFrame(
                        {
                            "SNID": np.full(len(rows), int(snid.strip())),
                            "MJD": rows["MJD"].astype(float),
                            "BAND": [b.strip() for b in rows["BAND"]],
                            "FLUXCAL": rows["FLUXCAL"].astype(float),
                            "PHOTFLAG": rows["PHOTFLAG"].astype(int),
                        }
                    )
                )
    return pl.concat(frames)


def test_parquet_holds_the_same_points(root, snana_points):
    pq = pl.concat(
        pl.read_parquet(p).select("SNID", "MJD", "BAND", "FLUXCAL", "PHOTFLAG")
        for p in sorted((root / "ELASTICC2_parquet").glob("*.parquet"))
    ).explode("MJD", "BAND", "FLUXCAL", "PHOTFLAG")
    key = ["SNID", "MJD", "BAND"]
    a = snana_points.sort(key)
    b = pq.with_columns(pl.col("FLUXCAL").cast(pl.Float64), pl.col("PHOTFLAG").cast(pl.Int64)).sort(
        key
    )
    assert a.height == b.height > 0
    assert a.select(key).equals(b.select(key))
    assert np.array_equal(a["PHOTFLAG"].to_numpy(), b["PHOTFLAG"].to_numpy())
    assert np.allclose(a["FLUXCAL"].to_numpy(), b["FLUXCAL"].to_numpy(), rtol=1e-6)


def test_parquet_pages_carry_checksums(root, snana_points, tmp_path):
    from elasticc_tutorial import parquet
    from elasticc_tutorial.errors import ParquetError

    files = sorted((root / "ELASTICC2_parquet").glob("*.parquet"))
    assert sum(parquet.verify(p) for p in files) == snana_points["SNID"].n_unique()
    # A flipped byte in a page body is caught by its CRC, whichever column it hits.
    import pyarrow.parquet as pq

    src = max(files, key=lambda p: p.stat().st_size)
    chunk = pq.ParquetFile(src).metadata.row_group(0).column(0)
    data = bytearray(src.read_bytes())
    data[chunk.data_page_offset + chunk.total_compressed_size // 2] ^= 0x01
    bad = tmp_path / src.name
    bad.write_bytes(bytes(data))
    with pytest.raises(ParquetError, match=src.name):
        parquet.verify(bad)


def test_alerts_are_the_detections(root, snana_points):
    schema = load_schema("alert")
    seen: dict[int, tuple[float, str, float]] = {}
    for tar_path in sorted((root / "ELASTICC2_ALERTS").glob("*.tar")):
        night = int(tar_path.stem)
        with tarfile.open(tar_path) as tar:
            for member in tar:
                alert = fastavro.schemaless_reader(
                    io.BytesIO(tar.extractfile(member).read()), schema
                )
                src = alert["diaSource"]
                assert member.name == f"{alert['alertId']}.avro"
                assert alert["alertId"] == src["diaSourceId"]
                assert night <= src["midPointTai"] < night + 1
                seen[src["diaSourceId"]] = (src["midPointTai"], src["filterName"], src["psFlux"])
    det = (
        snana_points.with_columns(
            (pl.col("SNID") * 100_000 + pl.int_range(pl.len()).over("SNID")).alias("id")
        )
        .filter((pl.col("PHOTFLAG") & DETECT) != 0)
        .sort("id")
    )
    assert sorted(seen) == det["id"].to_list()
    mjd, band, flux = zip(*(seen[i] for i in det["id"]), strict=True)
    assert np.allclose(mjd, det["MJD"].to_numpy())
    assert list(band) == det["BAND"].to_list()
    assert np.allclose(flux, det["FLUXCAL"].to_numpy() * NJY_PER_FLUXCAL, rtol=1e-5)


def test_database_holds_the_same_objects_points_and_sources(root, snana_points):
    per_object = snana_points.group_by("SNID").agg(
        pl.len().alias("n"), ((pl.col("PHOTFLAG") & DETECT) != 0).sum().alias("ndet")
    )
    with (
        pg.embedded_server(root / "tomdb") as url,
        pg.connect(make_conninfo(url, dbname="tom_desc")) as conn,
    ):
        objects = {r[0] for r in conn.execute("SELECT diaobject_id FROM elasticc2_ppdbdiaobject")}
        forced = Counter(
            dict(
                conn.execute(
                    "SELECT diaobject_id, count(*) FROM elasticc2_ppdbdiaforcedsource GROUP BY 1"
                ).fetchall()
            )
        )
        sources = Counter(
            dict(
                conn.execute(
                    "SELECT diaobject_id, count(*) FROM elasticc2_ppdbdiasource GROUP BY 1"
                ).fetchall()
            )
        )
        n_alerts = conn.execute("SELECT count(*) FROM elasticc2_ppdbalert").fetchone()[0]
        truth = {r[0] for r in conn.execute("SELECT diaobject_id FROM elasticc2_diaobjecttruth")}
    assert objects == truth == set(per_object["SNID"].to_list())
    assert forced == dict(zip(per_object["SNID"], per_object["n"], strict=True))
    expected_sources = {
        s: d for s, d in zip(per_object["SNID"], per_object["ndet"], strict=True) if d
    }
    assert sources == expected_sources
    assert n_alerts == sum(expected_sources.values())
