"""Alert tarballs, broker replies and the TOM database of the sample (ALERTS/DB helper).

Expected field and column lists are written here from the reference (formats.md §2, §3), not taken
from the code. The campaign is hand-built: a few SNANA-like objects per model with known detections.
"""

from __future__ import annotations

import io
import math
import tarfile
from pathlib import Path

import fastavro
import numpy as np
import polars as pl
import pytest

from elasticc_tutorial import pg
from elasticc_tutorial.sample import alerts_writer, brokers, db
from elasticc_tutorial.sample.campaign import ModelSample
from elasticc_tutorial.schema import SCHEMA_NAMES, load_schema, schema_path

# ----------------------------------------------------------------------------------------------
# Expected schemas, from formats.md §3 (Avro) and §2 (database)
# ----------------------------------------------------------------------------------------------

NS = "elasticc.v0_9_1"


def _host(prefix: str, y: str) -> list[str]:
    return (
        [f"{prefix}_ellipticity", f"{prefix}_sqradius", f"{prefix}_zspec", f"{prefix}_zspec_err"]
        + [f"{prefix}_zphot", f"{prefix}_zphot_err"]
        + [f"{prefix}_zphot_q{q}" for q in ("000", "010", "020", "030", "040", "050")]
        + [f"{prefix}_zphot_q{q}" for q in ("060", "070", "080", "090", "100")]
        + [f"{prefix}_mag_{b}" for b in ("u", "g", "r", "i", "z", y)]
        + [f"{prefix}_ra", f"{prefix}_dec", f"{prefix}_snsep"]
        + [f"{prefix}_magerr_{b}" for b in ("u", "g", "r", "i", "z", y)]
    )


# (field, avro type, nullable) per §3.2-3.4
AVRO_DIASOURCE = [
    ("diaSourceId", "long", False),
    ("diaObjectId", "long", True),
    ("midPointTai", "double", False),
    ("filterName", "string", False),
    ("ra", "double", False),
    ("decl", "double", False),
    ("psFlux", "float", False),
    ("psFluxErr", "float", False),
    ("snr", "float", False),
]
AVRO_DIAFORCEDSOURCE = [
    ("diaForcedSourceId", "long", False),
    ("diaObjectId", "long", False),
    ("midPointTai", "double", False),
    ("filterName", "string", False),
    ("psFlux", "float", False),
    ("psFluxErr", "float", False),
]
AVRO_DIAOBJECT = [
    ("diaObjectId", "long", False),
    ("simVersion", "string", True),
    ("ra", "double", False),
    ("decl", "double", False),
    *[(f, "float", True) for f in ("mwebv", "mwebv_err", "z_final", "z_final_err")],
    *[(f, "float", True) for f in _host("hostgal", "Y") + _host("hostgal2", "Y")],
]
AVRO_NONDETECTION = [
    ("ccdVisitId", "long", False),
    ("midPointTai", "double", False),
    ("filterName", "string", False),
    ("diaNoise", "float", False),
]

DB_DIAOBJECT = [
    ("diaobject_id", "bigint", "NO"),
    ("simversion", "text", "YES"),
    ("ra", "double precision", "NO"),
    ("decl", "double precision", "NO"),
    *[(c, "real", "YES") for c in ("mwebv", "mwebv_err", "z_final", "z_final_err")],
    *[(c, "real", "YES") for c in _host("hostgal", "y") + _host("hostgal2", "y")],
    ("isddf", "boolean", "NO"),
]
DB_DIASOURCE = [
    ("diasource_id", "bigint", "NO"),
    ("midpointtai", "double precision", "NO"),
    ("filtername", "text", "NO"),
    ("ra", "double precision", "NO"),
    ("decl", "double precision", "NO"),
    ("psflux", "real", "NO"),
    ("psfluxerr", "real", "NO"),
    ("snr", "real", "NO"),
    ("diaobject_id", "bigint", "YES"),
]
DB_DIAFORCEDSOURCE = [
    ("diaforcedsource_id", "bigint", "NO"),
    ("midpointtai", "double precision", "NO"),
    ("filtername", "text", "NO"),
    ("psflux", "real", "NO"),
    ("psfluxerr", "real", "NO"),
    ("diaobject_id", "bigint", "NO"),
]
DB_ALERT = [
    ("alert_id", "bigint", "NO"),
    ("alertsenttimestamp", "timestamp with time zone", "YES"),
    ("diaobject_id", "bigint", "YES"),  # tom-fidelity §5.1: object before source
    ("diasource_id", "bigint", "YES"),
]
DB_CLASSIFIER = [
    ("classifier_id", "bigint", "NO"),
    ("brokername", "character varying", "NO"),
    ("brokerversion", "text", "YES"),
    ("classifiername", "character varying", "NO"),
    ("classifierparams", "text", "YES"),
    ("modified", "timestamp with time zone", "NO"),
]
DB_MESSAGE = [
    ("brokermessage_id", "bigint", "NO"),
    ("streammessage_id", "bigint", "YES"),
    ("topicname", "character varying", "YES"),
    ("alert_id", "bigint", "NO"),
    ("diasource_id", "bigint", "NO"),
    ("msghdrtimestamp", "timestamp with time zone", "YES"),
    ("descingesttimestamp", "timestamp with time zone", "NO"),
    ("elasticcpublishtimestamp", "timestamp with time zone", "YES"),
    ("brokeringesttimestamp", "timestamp with time zone", "YES"),
    ("classid", "ARRAY", "NO"),
    ("classifier_id", "bigint", "NO"),
    ("probability", "ARRAY", "NO"),
]
_R, _I = "real", "integer"
DB_TRUTH = [
    ("libid", _I, "NO"),
    ("sim_searcheff_mask", _I, "NO"),
    ("gentype", _I, "NO"),
    ("sim_template_index", _I, "NO"),
    ("zcmb", _R, "NO"),
    ("zhelio", _R, "NO"),
    ("zcmb_smear", _R, "NO"),
    ("ra", "double precision", "NO"),
    ("dec", "double precision", "NO"),
    ("mwebv", _R, "NO"),
    ("galid", "bigint", "YES"),
    ("galzphot", _R, "YES"),
    ("galzphoterr", _R, "YES"),
    ("galsnsep", _R, "YES"),
    ("galsnddlr", _R, "YES"),
    ("rv", _R, "NO"),
    ("av", _R, "NO"),
    ("mu", _R, "NO"),
    ("lensdmu", _R, "NO"),
    ("peakmjd", _R, "NO"),
    ("mjd_detect_first", "double precision", "NO"),
    ("mjd_detect_last", "double precision", "NO"),
    ("dtseason_peak", _R, "NO"),
    *[(f"peakmag_{b}", _R, "NO") for b in "ugrizy"],
    ("snrmax", _R, "NO"),
    ("snrmax2", _R, "NO"),
    ("snrmax3", _R, "NO"),
    ("nobs", _I, "NO"),
    ("nobs_saturate", _I, "NO"),
    ("diaobject_id", "bigint", "NO"),
]
DB_GENTYPEOFCLASSID = [
    ("id", _I, "NO"),
    ("classid", _I, "NO"),
    ("gentype", _I, "YES"),
    ("description", "text", "NO"),
]
DB_CLASSIDOFGENTYPE = [
    ("id", _I, "NO"),
    ("gentype", _I, "NO"),
    ("classid", _I, "NO"),
    ("exactmatch", "boolean", "NO"),
    ("categorymatch", "boolean", "NO"),
    ("description", "text", "NO"),  # tom-fidelity §5.2: the 0015 columns come last
    ("broadmatch", "boolean", "NO"),
    ("generalmatch", "boolean", "NO"),
]
DB_EXPECTED = {
    "elasticc2_ppdbdiaobject": DB_DIAOBJECT,
    "elasticc2_diaobject": DB_DIAOBJECT,
    "elasticc2_ppdbdiasource": DB_DIASOURCE,
    "elasticc2_diasource": DB_DIASOURCE,
    "elasticc2_ppdbdiaforcedsource": DB_DIAFORCEDSOURCE,
    "elasticc2_diaforcedsource": DB_DIAFORCEDSOURCE,
    "elasticc2_ppdbalert": DB_ALERT,
    "elasticc2_diaobjecttruth": DB_TRUTH,
    "elasticc2_brokerclassifier": DB_CLASSIFIER,
    "elasticc2_brokermessage": DB_MESSAGE,
    "elasticc2_gentypeofclassid": DB_GENTYPEOFCLASSID,
    "elasticc2_classidofgentype": DB_CLASSIDOFGENTYPE,
}

# ----------------------------------------------------------------------------------------------
# A hand-built campaign
# ----------------------------------------------------------------------------------------------

FLUXCAL_TO_NJY = 10 ** ((31.4 - 27.5) / 2.5)
TRUTH_VARS = [
    "CID",
    "LIBID",
    "SIM_SEARCHEFF_MASK",
    "GENTYPE",
    "NON1A_INDEX",
    "ZCMB",
    "ZHELIO",
    "ZCMB_SMEAR",
    "RA",
    "DEC",
    "MWEBV",
    "GALID",
    "GALZPHOT",
    "GALZPHOTERR",
    "GALSNSEP",
    "GALSNDDLR",
    "RV",
    "AV",
    "MU",
    "LENSDMU",
    "PEAKMJD",
    "MJD_DETECT_FIRST",
    "MJD_DETECT_LAST",
    "DTSEASON_PEAK",
    "PEAKMAG_u",
    "PEAKMAG_g",
    "PEAKMAG_r",
    "PEAKMAG_i",
    "PEAKMAG_z",
    "PEAKMAG_Y",
    "SNRMAX",
    "SNRMAX2",
    "SNRMAX3",
    "NOBS",
    "NOBS_SATURATE",
]


def _head_columns() -> list[str]:
    cols = ["SNID", "RA", "DEC", "MWEBV", "MWEBV_ERR", "REDSHIFT_FINAL", "REDSHIFT_FINAL_ERR"]
    for p in ("HOSTGAL", "HOSTGAL2"):
        cols += [f"{p}_{c}" for c in ("PHOTOZ", "PHOTOZ_ERR", "SPECZ", "SPECZ_ERR", "RA", "DEC")]
        cols += [f"{p}_{c}" for c in ("SNSEP", "ELLIPTICITY", "SQRADIUS")]
        cols += [f"{p}_ZPHOT_Q{q:03d}" for q in range(0, 101, 10)]
        cols += [f"{p}_MAG_{b}" for b in "ugrizY"] + [f"{p}_MAGERR_{b}" for b in "ugrizY"]
    return cols


def make_sample(model: str, gentype: int, snid0: int, n_obj: int, rng) -> ModelSample:
    """Objects observed ~every 5 d over the 3-year survey, detected around a peak (and at random)."""
    heads, phots, truths = [], [], []
    for k in range(n_obj):
        snid = snid0 + k
        n = int(rng.integers(150, 260))
        mjd = np.sort(60796.0 + rng.uniform(0, 1100, n))
        mjd[5] = mjd[4]  # two points at the same time (different bands)
        peak = 60850.0 + 1000.0 * rng.random()
        flux = 400.0 * np.exp(-0.5 * ((mjd - peak) / 20.0) ** 2) + rng.normal(0, 8, n)
        err = np.full(n, 8.0) + rng.uniform(0, 2, n)
        det = flux / err > 5.0
        det[rng.random(n) < 0.03] = True  # a few noise detections, also far from the peak
        photflag = np.where(det, 4096, 0)
        if det.any():
            photflag[np.argmax(det)] |= 2048
        band = rng.choice(list("ugrizY"), n)
        phots.append(
            pl.DataFrame(
                {
                    "SNID": np.full(n, snid, dtype=np.int64),
                    "MJD": mjd,
                    "BAND": [f"{b} " for b in band],  # SNANA pads to 2A
                    "PHOTFLAG": photflag.astype(np.int32),
                    "FLUXCAL": flux.astype(np.float32),
                    "FLUXCALERR": err.astype(np.float32),
                }
            )
        )
        row = {c: float(rng.uniform(0.01, 1)) for c in _head_columns()[1:]}
        row.update(
            SNID=f"{snid:<16d}", RA=float(rng.uniform(0, 360)), DEC=float(rng.uniform(-60, 0))
        )
        row["HOSTGAL2_SPECZ"] = -999.0  # SNANA's "no second host"
        heads.append(row)
        t = {v: float(rng.uniform(0, 1)) for v in TRUTH_VARS}
        t.update(CID=snid, GENTYPE=gentype, LIBID=k, NOBS=n, NOBS_SATURATE=0, GALID=1000 + k)
        t.update(SIM_SEARCHEFF_MASK=3, NON1A_INDEX=7, PEAKMJD=peak)
        truths.append(t)
    return ModelSample(
        model=model,
        gentype=gentype,
        head=pl.DataFrame(heads).select(_head_columns()),
        phot=pl.concat(phots),
        truth=pl.DataFrame(truths).select(TRUTH_VARS),
    )


# The campaign: the project's simulator for a few models (ordinary objects, galactic ones without
# photo-z quantiles) plus hand-built objects of an unmapped gentype (strongly lensed SN, 73) with
# equal-time points and isolated noise detections.
SIMULATED = {"SNIa-SALT3": 6, "SNII-NMF": 4, "SNIb-Templates": 3, "RRL": 2, "Mdwarf-flare": 3}


@pytest.fixture(scope="module")
def samples() -> list[ModelSample]:
    from elasticc_tutorial.sample.simulate import simulate_model

    out = [
        simulate_model(m, n, 11, snid_base=(i + 1) * 10_000_000)
        for i, (m, n) in enumerate(SIMULATED.items())
    ]
    rng = np.random.default_rng(12345)
    out.append(make_sample("SL-SNIb", 73, 5_000_000, 12, rng))
    out.append(make_sample("SNIa-91bg", 11, 6_000_000, 12, rng))
    return out


@pytest.fixture(scope="module")
def built(samples, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("sample")
    alerts_writer.write_alerts_and_database(
        samples, root, seed=7, database_url=None, progress=False
    )
    return root


@pytest.fixture(scope="module")
def tomdb(built):
    with pg.embedded_server(built / "tomdb") as url:
        from psycopg.conninfo import make_conninfo

        with pg.connect(make_conninfo(url, dbname="tom_desc")) as conn:
            yield conn


def _all_phot(samples) -> pl.DataFrame:
    cols = ["SNID", "MJD", "BAND", "PHOTFLAG", "FLUXCAL", "FLUXCALERR"]
    return pl.concat([s.phot.select(cols) for s in samples], how="vertical_relaxed").with_columns(
        pl.int_range(pl.len()).over("SNID").alias("idx"), pl.col("BAND").str.strip_chars()
    )


def _read_alerts(root: Path) -> dict[int, tuple[int, dict, tarfile.TarInfo, int]]:
    schema = load_schema("alert")
    out = {}
    for path in sorted((root / "ELASTICC2_ALERTS").glob("*.tar")):
        with tarfile.open(path) as tar:
            for pos, info in enumerate(tar.getmembers()):
                rec = fastavro.schemaless_reader(tar.extractfile(info), schema)
                out[rec["alertId"]] = (int(path.stem), rec, info, pos)
    return out


@pytest.fixture(scope="module")
def alerts(built):
    return _read_alerts(built)


# ----------------------------------------------------------------------------------------------
# Schemas
# ----------------------------------------------------------------------------------------------


def _fields(name: str) -> list[tuple[str, str, bool]]:
    import json

    raw = json.loads(schema_path(name).read_text())
    out = []
    for f in raw["fields"]:
        t = f["type"]
        nullable = isinstance(t, list) and t[0] == "null"
        if nullable:
            assert "null" in t and len(t) == 2
            t = t[1]
            assert f.get("default", "absent") in (None, "absent")
        out.append((f["name"], t if isinstance(t, str) else t["type"], nullable))
    return out


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("diaSource", AVRO_DIASOURCE),
        ("diaForcedSource", AVRO_DIAFORCEDSOURCE),
        ("diaObject", AVRO_DIAOBJECT),
        ("diaNondetectionLimit", AVRO_NONDETECTION),
    ],
)
def test_avsc_fields_match_reference(name, expected):
    assert _fields(name) == expected
    assert len(_fields("diaObject")) == 72


def test_avsc_defaults_and_docs():
    import json

    raw = {n: json.loads(schema_path(n).read_text()) for n in SCHEMA_NAMES}
    for _n, s in raw.items():
        assert s["namespace"] == NS
    obj = {f["name"]: f for f in raw["diaObject"]["fields"]}
    assert "default" not in obj["simVersion"] and obj["simVersion"]["doc"] == "diaObject provenance"
    assert obj["mwebv"]["default"] is None and obj["hostgal2_magerr_Y"]["default"] is None
    src = {f["name"]: f for f in raw["diaSource"]["fields"]}
    assert src["diaObjectId"]["default"] is None
    alert = raw["alert"]
    assert alert["doc"] == "sample avro alert schema v4.1"
    assert [f["name"] for f in alert["fields"]] == [
        "alertId",
        "diaSource",
        "prvDiaSources",
        "prvDiaForcedSources",
        "diaObject",
    ]
    f = {x["name"]: x for x in alert["fields"]}
    assert f["alertId"] == {"name": "alertId", "type": "long", "doc": "unique alert identifer"}
    assert f["diaSource"]["type"] == f"{NS}.diaSource"
    assert f["prvDiaSources"]["type"] == ["null", {"type": "array", "items": f"{NS}.diaSource"}]
    assert f["prvDiaForcedSources"]["type"] == [
        "null",
        {"type": "array", "items": f"{NS}.diaForcedSource"},
    ]
    assert f["diaObject"]["type"] == ["null", f"{NS}.diaObject"]
    assert all(
        f[k]["default"] is None for k in ("prvDiaSources", "prvDiaForcedSources", "diaObject")
    )


def test_broker_schema_matches_reference():
    import json

    raw = json.loads(schema_path("brokerClassification").read_text())
    assert raw["name"] == "brokerClassfication"  # sic, as in LSSTDESC/elasticc
    f = {x["name"]: x for x in raw["fields"]}
    assert list(f) == [
        "alertId",
        "diaSourceId",
        "elasticcPublishTimestamp",
        "brokerIngestTimestamp",
        "brokerName",
        "brokerVersion",
        "classifierName",
        "classifierParams",
        "classifications",
    ]
    ts = {"type": "long", "logicalType": "timestamp-millis"}
    assert f["elasticcPublishTimestamp"]["type"] == ts
    assert f["brokerIngestTimestamp"]["type"] == ["null", ts]
    assert "default" not in f["brokerIngestTimestamp"]
    for name in ("brokerName", "brokerVersion", "classifierName", "classifierParams"):
        assert f[name]["type"] == "string"
    assert f["diaSourceId"]["doc"] == "id of source that triggered this classification"
    item = f["classifications"]["type"]["items"]
    assert item["name"] == "classificationDict"
    assert [(x["name"], x["type"]) for x in item["fields"]] == [
        ("classId", "int"),
        ("probability", "float"),
    ]


def test_load_schema_resolves_references():
    s = load_schema("alert")
    assert s["name"] == f"{NS}.alert"
    assert s["fields"][1]["type"]["name"] == f"{NS}.diaSource"
    assert load_schema("brokerClassification")["name"] == f"{NS}.brokerClassfication"
    with pytest.raises(ValueError, match="unknown schema name 'nope'"):
        load_schema("nope")


# ----------------------------------------------------------------------------------------------
# Alerts
# ----------------------------------------------------------------------------------------------


def test_one_alert_per_detection_with_id_arithmetic(samples, alerts):
    ph = _all_phot(samples)
    det = ph.filter((pl.col("PHOTFLAG") & 4096) != 0)
    assert len(alerts) == det.height
    expected = set((det["SNID"] * 100000 + det["idx"]).to_list())
    assert set(alerts) == expected
    for alert_id, (_night, rec, _info, _pos) in list(alerts.items())[:200]:
        src = rec["diaSource"]
        assert src["diaSourceId"] == alert_id
        assert src["diaObjectId"] == alert_id // 100000 == rec["diaObject"]["diaObjectId"]


def test_tar_members_names_and_night_split(built, alerts):
    tars = sorted((built / "ELASTICC2_ALERTS").glob("*.tar"))
    assert tars and all(p.name == f"{int(p.stem)}.tar" for p in tars)
    with open(tars[0], "rb") as fh:  # uncompressed: a plain ustar header at offset 257
        assert fh.read(512)[257:262] == b"ustar"
    per_tar: dict[int, list] = {}
    for alert_id, (night, rec, info, pos) in alerts.items():
        assert info.name == f"{alert_id}.avro"
        assert info.mode == 0o664
        assert night == math.floor(rec["diaSource"]["midPointTai"])
        per_tar.setdefault(night, []).append((pos, rec["diaSource"]["midPointTai"], info.mtime))
    for members in per_tar.values():
        members.sort()
        times = [t for _p, t, _m in members]
        assert times == sorted(times)
        mtimes = [m for _p, _t, m in members]
        assert mtimes == sorted(mtimes)  # send time follows the observation time


def test_alert_fluxes_are_njy(samples, alerts):
    ph = _all_phot(samples).with_columns((pl.col("SNID") * 100000 + pl.col("idx")).alias("id"))
    rows = {r["id"]: r for r in ph.iter_rows(named=True)}
    for alert_id, (_n, rec, _i, _p) in list(alerts.items())[:300]:
        s, r = rec["diaSource"], rows[alert_id]
        assert s["psFlux"] == pytest.approx(r["FLUXCAL"] * FLUXCAL_TO_NJY, rel=1e-6)
        assert s["psFluxErr"] == pytest.approx(r["FLUXCALERR"] * FLUXCAL_TO_NJY, rel=1e-6)
        assert s["snr"] == pytest.approx(r["FLUXCAL"] / r["FLUXCALERR"], rel=1e-5)
        assert s["filterName"] == r["BAND"]
        assert s["midPointTai"] == r["MJD"]
    assert pytest.approx(36.3078, rel=1e-5) == FLUXCAL_TO_NJY


def test_prv_windows(samples, alerts):
    ph = _all_phot(samples)
    by_obj = {k[0]: g for k, g in ph.group_by("SNID")}
    checked_forced = checked_null = 0
    for alert_id, (_n, rec, _i, _p) in alerts.items():
        snid = alert_id // 100000
        g = by_obj[snid]
        t = rec["diaSource"]["midPointTai"]
        mjd = g["MJD"].to_numpy()
        det = (g["PHOTFLAG"].to_numpy() & 4096) != 0
        idx = g["idx"].to_numpy()
        first = mjd[det].min()
        want_prv = idx[det & (mjd < t) & (mjd >= t - 365)]
        got_prv = [s["diaSourceId"] % 100000 for s in rec["prvDiaSources"]]
        assert got_prv == sorted(want_prv.tolist())
        forced = rec["prvDiaForcedSources"]
        if t - first <= 0.5:
            assert forced is None
            checked_null += 1
        else:
            lo = max(t - 365, first - 30)
            want = idx[(mjd >= lo) & (mjd < t)]
            got = [f["diaForcedSourceId"] % 100000 for f in forced]
            assert got == want.tolist()
            times = [f["midPointTai"] for f in forced]
            assert times == sorted(times)
            checked_forced += 1
    assert checked_forced > 100 and checked_null > 10


def test_dia_object_from_head(samples, alerts):
    head = pl.concat([s.head.select("SNID") for s in samples])
    rows = {}
    for s in samples:
        for r in s.head.iter_rows(named=True):
            rows[int(r["SNID"])] = r
    assert len(rows) == head.height
    pairs = [  # Avro field <- SNANA HEAD column (load_snana_fits mapping)
        ("z_final", "REDSHIFT_FINAL"),
        ("mwebv_err", "MWEBV_ERR"),
        ("hostgal_zphot", "HOSTGAL_PHOTOZ"),
        ("hostgal_zspec_err", "HOSTGAL_SPECZ_ERR"),
        ("hostgal_mag_Y", "HOSTGAL_MAG_Y"),
        ("hostgal_magerr_u", "HOSTGAL_MAGERR_u"),
        ("hostgal_ellipticity", "HOSTGAL_ELLIPTICITY"),
        ("hostgal2_zspec", "HOSTGAL2_SPECZ"),
        ("hostgal2_zphot_q050", "HOSTGAL2_ZPHOT_Q050"),
        ("hostgal2_snsep", "HOSTGAL2_SNSEP"),
    ]
    seen_missing = seen_present = 0
    by_object = {
        rec["diaObject"]["diaObjectId"]: rec["diaObject"] for _n, rec, _i, _p in alerts.values()
    }
    for oid, o in by_object.items():
        h = rows[oid]
        assert o["simVersion"] == "2023-04-01"
        assert (o["ra"], o["decl"]) == (h["RA"], h["DEC"])
        for field, col in pairs:
            if col in h:
                assert o[field] == pytest.approx(h[col], rel=1e-6), field
                seen_present += 1
            else:  # e.g. no photo-z quantiles in galactic (LCLIB) HEADs
                assert o[field] is None, field
                seen_missing += 1
    assert seen_present and seen_missing
    assert any(o["hostgal2_zspec"] == -999.0 for o in by_object.values())  # SNANA's "no host 2"


def test_alert_bytes_are_fastavro_encoding(built, alerts):
    """Every alert is byte for byte fastavro's schemaless encoding of its own record."""
    schema = load_schema("alert")
    n = 0
    for path in sorted((built / "ELASTICC2_ALERTS").glob("*.tar")):
        with tarfile.open(path) as tar:
            for info in tar.getmembers():
                data = tar.extractfile(info).read()
                stream = io.BytesIO(data)
                rec = fastavro.schemaless_reader(stream, schema)
                assert stream.tell() == len(data)  # nothing left over
                again = io.BytesIO()
                fastavro.schemaless_writer(again, schema, rec)
                assert again.getvalue() == data
                n += 1
    assert n == len(alerts)


# ----------------------------------------------------------------------------------------------
# Broker messages
# ----------------------------------------------------------------------------------------------


def test_broker_tars(built, alerts, tomdb):
    schema_name = "elasticc.v0_9_1.brokerClassfication"
    n_msgs = 0
    for path in sorted((built / "ELASTICC2_BROKER_MESSAGES").glob("*.tar")):
        night = int(path.stem)
        assert 60264 <= night <= 60295  # 2023-11-16 ... mid-December 2023, the campaign
        with tarfile.open(path) as tar:
            names = tar.getnames()
            assert len(names) == len(set(names))
            for info in tar.getmembers():
                reader = fastavro.reader(tar.extractfile(info))
                assert reader.writer_schema["name"] == schema_name
                for msg in reader:
                    n_msgs += 1
                    assert (
                        info.name
                        == f"{msg['brokerName']}_{msg['classifierName'].replace(' ', '-')}.avro"
                    )
                    assert msg["alertId"] in alerts
                    ingest = msg["brokerIngestTimestamp"].timestamp() / 86400 + 40587
                    assert math.floor(ingest) == night
                    assert msg["diaSourceId"] == msg["alertId"]
                    ps = [c["probability"] for c in msg["classifications"]]
                    assert sum(ps) == pytest.approx(1.0, abs=1e-5)
                    assert msg["brokerIngestTimestamp"] > msg["elasticcPublishTimestamp"]
    assert n_msgs == tomdb.execute("SELECT count(*) FROM elasticc2_brokermessage").fetchone()[0]


# ----------------------------------------------------------------------------------------------
# Database
# ----------------------------------------------------------------------------------------------


def test_db_columns_match_reference(tomdb):
    rows = tomdb.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name LIKE 'elasticc2_%' ORDER BY table_name, ordinal_position"
    ).fetchall()
    got: dict[str, list] = {}
    for t, c, typ, nullable in rows:
        got.setdefault(t, []).append((c, typ, nullable))
    # the other 13 elasticc2_* tables are checked in test_tom_tables.py
    assert {t: got[t] for t in DB_EXPECTED} == DB_EXPECTED and len(got) == 25
    arrays = dict(
        tomdb.execute(
            "SELECT column_name, udt_name FROM information_schema.columns "
            "WHERE table_name = 'elasticc2_brokermessage' AND data_type = 'ARRAY'"
        ).fetchall()
    )
    assert arrays == {"classid": "_int2", "probability": "_float4"}
    lengths = dict(
        tomdb.execute(
            "SELECT column_name, character_maximum_length FROM information_schema.columns "
            "WHERE table_name = 'elasticc2_brokerclassifier' AND data_type = 'character varying'"
        ).fetchall()
    )
    assert lengths == {"brokername": 100, "classifiername": 200}


def test_db_keys_and_named_indexes(tomdb):
    idx = {
        r[0]: r[1]
        for r in tomdb.execute(
            "SELECT indexname, tablename FROM pg_indexes WHERE tablename LIKE 'elasticc2_%'"
        )
    }
    for table in DB_EXPECTED:
        assert idx[f"{table}_pkey"] == table
    for name, table in [
        ("elasticc2_diasource_diaobject_id_597363da", "elasticc2_diasource"),
        ("elasticc2_diasource_midPointTai_f4168933", "elasticc2_diasource"),
        ("elasticc2_diaforcedsource_diaobject_id_8de7d36e", "elasticc2_diaforcedsource"),
        ("elasticc2_diaforcedsource_midPointTai_b15bb818", "elasticc2_diaforcedsource"),
        ("elasticc2_b_brokern_177700_idx", "elasticc2_brokerclassifier"),
        ("elasticc2_b_brokern_7aa2ad_idx", "elasticc2_brokerclassifier"),
        ("elasticc2_b_brokern_de7788_idx", "elasticc2_brokerclassifier"),
        ("elasticc2_b_brokern_fad924_idx", "elasticc2_brokerclassifier"),
    ]:
        assert idx[name] == table
    pk = tomdb.execute(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'elasticc2_diaobjecttruth'::regclass "
        "AND i.indisprimary"
    ).fetchall()
    assert pk == [("diaobject_id",)]


def test_db_counts_agree_with_snana_and_alerts(samples, alerts, tomdb):
    ph = _all_phot(samples)
    n_det = ph.filter((pl.col("PHOTFLAG") & 4096) != 0).height
    q = lambda s: tomdb.execute(s).fetchone()[0]  # noqa: E731
    assert q("SELECT count(*) FROM elasticc2_ppdbdiaforcedsource") == ph.height
    assert q("SELECT count(*) FROM elasticc2_ppdbdiasource") == n_det == len(alerts)
    assert q("SELECT count(*) FROM elasticc2_ppdbalert") == n_det
    assert q("SELECT count(*) FROM elasticc2_ppdbalert WHERE alert_id <> diasource_id") == 0
    assert q("SELECT count(*) FROM elasticc2_ppdbdiaobject") == sum(s.head.height for s in samples)
    assert q("SELECT count(*) FROM elasticc2_diaobjecttruth") == sum(
        s.truth.height for s in samples
    )
    assert q("SELECT count(*) FROM elasticc2_brokerclassifier") >= 3
    # psflux in nJy, snr = psflux/psfluxerr, ids = SNID*100000 + index
    rows = tomdb.execute(
        "SELECT diasource_id, psflux, psfluxerr, snr, filtername, midpointtai "
        "FROM elasticc2_ppdbdiasource ORDER BY diasource_id"
    ).fetchall()
    by_id = {
        r["SNID"] * 100000 + r["idx"]: r
        for r in ph.filter((pl.col("PHOTFLAG") & 4096) != 0).iter_rows(named=True)
    }
    for row in rows[::7]:
        r = by_id[row[0]]
        # real columns hold exactly the float32 of FLUXCAL x 10**((31.4 - 27.5) / 2.5)
        assert np.float32(row[1]) == np.float32(r["FLUXCAL"] * FLUXCAL_TO_NJY)
        assert np.float32(row[2]) == np.float32(r["FLUXCALERR"] * FLUXCAL_TO_NJY)
        assert row[3] == pytest.approx(row[1] / row[2], rel=1e-5)
        assert (row[4], row[5]) == (r["BAND"], r["MJD"])
    # sent alerts: some but not all (the snapshot ends the stream), in send order
    sent = q("SELECT count(*) FROM elasticc2_ppdbalert WHERE alertsenttimestamp IS NOT NULL")
    assert 0 < sent < n_det
    assert (
        q(
            "SELECT count(*) FROM elasticc2_ppdbalert a JOIN elasticc2_ppdbdiasource s USING (diasource_id) "
            "WHERE a.alertsenttimestamp < '2023-11-01' OR a.alertsenttimestamp > '2023-12-31'"
        )
        == 0
    )
    # every message answers a sent alert; known tables = what answered alerts carried
    assert (
        q(
            "SELECT count(*) FROM elasticc2_brokermessage m JOIN elasticc2_ppdbalert a USING (alert_id) "
            "WHERE a.alertsenttimestamp IS NULL OR m.elasticcpublishtimestamp <> a.alertsenttimestamp"
        )
        == 0
    )
    assert q("SELECT count(DISTINCT alert_id) FROM elasticc2_brokermessage") == q(
        "SELECT count(*) FROM elasticc2_diasource"
    )
    assert (
        q(
            "SELECT count(*) FROM elasticc2_diaforcedsource f LEFT JOIN elasticc2_ppdbdiaforcedsource p "
            "USING (diaforcedsource_id) WHERE p.psflux IS DISTINCT FROM f.psflux"
        )
        == 0
    )
    assert 0 < q("SELECT count(*) FROM elasticc2_diaforcedsource") < ph.height


def test_known_forced_sources_are_those_in_answered_alerts(alerts, tomdb):
    heard = {r[0] for r in tomdb.execute("SELECT DISTINCT alert_id FROM elasticc2_brokermessage")}
    carried = set()
    for alert_id in heard:
        forced = alerts[alert_id][1]["prvDiaForcedSources"] or []
        carried.update(f["diaForcedSourceId"] for f in forced)
    known = {
        r[0] for r in tomdb.execute("SELECT diaforcedsource_id FROM elasticc2_diaforcedsource")
    }
    assert known == carried


def test_taxonomy_tables_loaded(tomdb):
    q = lambda s: tomdb.execute(s).fetchall()  # noqa: E731
    assert q("SELECT classid FROM elasticc2_gentypeofclassid WHERE gentype = 10") == [(2222,)]
    assert q("SELECT count(*) FROM elasticc2_gentypeofclassid WHERE gentype IS NOT NULL") == [(31,)]
    assert q(
        "SELECT classid, exactmatch, categorymatch, generalmatch, broadmatch "
        "FROM elasticc2_classidofgentype WHERE gentype = 20 ORDER BY classid"
    ) == [(2000, False, False, False, True), (2200, False, False, True, True),
          (2220, False, True, True, True), (2223, True, True, True, True)]  # fmt: skip


def test_brokermessage_arrays_and_timestamps(tomdb):
    bad = tomdb.execute(
        "SELECT count(*) FROM elasticc2_brokermessage WHERE cardinality(classid) <> "
        "cardinality(probability) OR cardinality(classid) = 0 OR abs((SELECT sum(p) FROM "
        "unnest(probability) p) - 1) > 1e-5"
    ).fetchone()[0]
    assert bad == 0
    order = tomdb.execute(
        "SELECT count(*) FROM elasticc2_brokermessage WHERE NOT (elasticcpublishtimestamp < "
        "brokeringesttimestamp AND brokeringesttimestamp < msghdrtimestamp AND msghdrtimestamp < "
        "descingesttimestamp)"
    ).fetchone()[0]
    assert order == 0
    classes = {
        r[0] for r in tomdb.execute("SELECT DISTINCT unnest(classid) FROM elasticc2_brokermessage")
    }
    assert {200, 300, 2222} <= classes
    names = [
        r[0] for r in tomdb.execute("SELECT DISTINCT brokername FROM elasticc2_brokerclassifier")
    ]
    assert all(n.startswith("Sample") for n in names)
    dup = tomdb.execute(
        "SELECT count(*) FROM (SELECT topicname, streammessage_id FROM elasticc2_brokermessage "
        "GROUP BY 1, 2 HAVING count(*) > 1) d"
    ).fetchone()[0]
    assert dup == 0


def _accuracy(tomdb) -> pl.DataFrame:
    """Top-class accuracy per classifier and detection-count bin, from the database."""
    rows = tomdb.execute(
        """
        WITH ndet AS (
            SELECT diasource_id, row_number() OVER (PARTITION BY diaobject_id
                                                    ORDER BY midpointtai, diasource_id) AS n
            FROM elasticc2_ppdbdiasource)
        SELECT m.classifier_id, d.n, t.gentype,
               m.classid[array_position(m.probability, (SELECT max(p) FROM unnest(m.probability) p))]
        FROM elasticc2_brokermessage m
        JOIN ndet d USING (diasource_id)
        JOIN elasticc2_ppdbdiasource s USING (diasource_id)
        JOIN elasticc2_diaobjecttruth t ON t.diaobject_id = s.diaobject_id
        WHERE NOT (300 = ANY(m.classid))
        """
    ).fetchall()
    from elasticc_tutorial import taxonomy

    df = pl.DataFrame(rows, schema=["classifier_id", "n", "gentype", "top"], orient="row")
    truth = {g: c for g, c in taxonomy.GENTYPE_TO_CLASSID.items()}
    return df.filter(pl.col("gentype").is_in(list(truth))).with_columns(
        (pl.col("top") == pl.col("gentype").replace_strict(truth)).alias("ok")
    )


def test_classifier_quality(tomdb):
    df = _accuracy(tomdb)
    names = dict(
        tomdb.execute("SELECT classifier_id, classifiername FROM elasticc2_brokerclassifier")
    )
    best = next(k for k, v in names.items() if v.startswith("SampleForest"))
    mid = next(k for k, v in names.items() if v.startswith("SampleNet"))
    acc = dict(df.group_by("classifier_id").agg(pl.col("ok").mean()).iter_rows())
    assert acc[best] > acc[mid] > 0.2
    for cid in (best, mid):
        d = df.filter(pl.col("classifier_id") == cid)
        early = d.filter(pl.col("n") <= 3)["ok"].mean()
        late = d.filter(pl.col("n") >= 12)["ok"].mean()
        assert late > early + 0.1


def test_classify_is_deterministic_and_seed_dependent():
    a = pl.DataFrame(
        {
            "alert_id": [1, 2, 3],
            "diasource_id": [1, 2, 3],
            "diaobject_id": [7, 7, 8],
            "ndet": [1, 2, 1],
            "sent_ms": [1_700_000_000_000] * 3,
        }
    )
    g = pl.DataFrame({"diaobject_id": [7, 8], "gentype": [10, 60]})
    m1 = brokers.classify(a, g, seed=1)
    assert m1.equals(brokers.classify(a, g, seed=1))
    assert not m1.equals(brokers.classify(a, g, seed=2))
    assert m1.height == 3 * len(brokers.CLASSIFIERS)
    with pytest.raises(ValueError, match="no truth gentype for diaobject_id 8"):
        brokers.classify(a, g.head(1), seed=1)


def test_ppdb_tables_reject_bad_input(samples):
    s = samples[0]
    broken = ModelSample(s.model, s.gentype, s.head.drop("DEC"), s.phot, s.truth)
    with pytest.raises(ValueError, match=r"SNIa-SALT3.*HEAD.*DEC"):
        db.ppdb_tables([broken])
    shuffled = ModelSample(s.model, s.gentype, s.head, s.phot.reverse(), s.truth)
    with pytest.raises(ValueError, match="not in time order"):
        db.ppdb_tables([shuffled])
    with pytest.raises(ValueError, match="more than once"):
        db.ppdb_tables([s, s])


def test_external_database_url(tmp_path):
    """``database_url`` loads into that server's database, and refuses to overwrite tables."""
    from psycopg.conninfo import make_conninfo

    rng = np.random.default_rng(3)
    small = [make_sample("SNIa-SALT3", 10, 7_000_000, 3, rng)]
    with pg.embedded_server(tmp_path / "other") as url:
        with pg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE mytom")
        target = make_conninfo(url, dbname="mytom")
        root = tmp_path / "out"
        root.mkdir()
        alerts_writer.write_alerts_and_database(
            small, root, seed=1, database_url=target, progress=False
        )
        assert not (root / "tomdb").exists()
        with pg.connect(target) as conn:
            n = conn.execute("SELECT count(*) FROM elasticc2_ppdbdiaforcedsource").fetchone()[0]
        assert n == small[0].phot.height
        with pytest.raises(RuntimeError, match="already has elasticc2_\\* tables"):
            alerts_writer.write_alerts_and_database(
                small, root, seed=1, database_url=target, progress=False
            )


def test_connection_description_hides_password():
    text = alerts_writer._describe("postgresql://tom:s3cret@db.example:5433/tom_desc")
    assert "s3cret" not in text and "tom_desc" in text and "db.example:5433" in text
    assert "s3cret" not in alerts_writer._describe("host=h dbname=x password=s3cret")


def test_outputs_are_deterministic(tmp_path):
    rng = np.random.default_rng(5)
    small = [make_sample("SNII-NMF", 30, 8_000_000, 4, rng)]
    digests = []
    for run in ("a", "b"):
        frames, alerts = alerts_writer.tom_frames(small, seed=9)
        sched = dict(zip(alerts["alert_id"], alerts["sched_ms"], strict=True))
        ppdb = {k: v for k, v in frames.items() if k.startswith("elasticc2_ppdb")}
        alerts_writer.write_alert_tars(ppdb, tmp_path / run / "A", sched)
        alerts_writer.write_broker_tars(
            frames["elasticc2_brokermessage"],
            frames["elasticc2_brokerclassifier"],
            tmp_path / run / "B",
        )
        digests.append(
            {p.relative_to(tmp_path / run): p.read_bytes() for p in (tmp_path / run).rglob("*.tar")}
        )
    assert digests[0] == digests[1] and len(digests[0]) > 2
    assert not list(tmp_path.rglob("*.part"))  # temporary names renamed into place
    other, _ = alerts_writer.tom_frames(small, seed=10)
    assert not other["elasticc2_brokermessage"].equals(frames["elasticc2_brokermessage"])
    assert other["elasticc2_ppdbdiasource"].equals(frames["elasticc2_ppdbdiasource"])


def test_some_alerts_are_classified_again_later(tomdb):
    """Reprocessing: a few percent of SampleForest's and ~1% of SampleNet's alerts get a second
    message, hours after the first; SampleIa never re-sends. This is why metrics keep the latest."""
    rows = tomdb.execute(
        """
        SELECT c.classifiername, count(*) AS n,
               count(*) FILTER (WHERE m.k = 2) AS resent,
               min(m.gap) FILTER (WHERE m.k = 2) AS min_gap,
               max(m.k) AS max_k
        FROM (
          SELECT classifier_id, row_number() OVER w AS k,
                 descingesttimestamp - lag(descingesttimestamp) OVER w AS gap
          FROM elasticc2_brokermessage
          WINDOW w AS (PARTITION BY diasource_id, classifier_id ORDER BY descingesttimestamp)
        ) m JOIN elasticc2_brokerclassifier c USING (classifier_id)
        GROUP BY c.classifiername ORDER BY c.classifiername
        """
    ).fetchall()
    by_name = {name: (n, resent, gap, k) for name, n, resent, gap, k in rows}
    n, resent, gap, k = by_name["SampleForest 2.1"]
    assert 0.01 < resent / (n - resent) < 0.06 and k == 2
    assert gap.total_seconds() > 3600  # hours later, not a duplicate delivery
    assert by_name["SampleNet 0.4"][1] < resent
    assert by_name["SampleIa 1.0"][1] == 0


def test_alert_window_streams_only_that_part_of_the_survey(samples):
    full, _ = alerts_writer.tom_frames(samples, seed=7)
    t = full["elasticc2_ppdbdiasource"]["midpointtai"]
    lo, hi = float(t.quantile(0.3)), float(t.quantile(0.7))
    part, alerts = alerts_writer.tom_frames(samples, seed=7, window=(lo, hi))
    inside = pl.col("midpointtai").is_between(lo, hi, closed="left")
    for table in ("elasticc2_ppdbdiasource", "elasticc2_ppdbdiaforcedsource"):
        got = part[table]
        assert got.height and got.select(inside.all()).item(), table
        # exactly the full stream's rows in the window: same ids (SNID x 100000 + point index
        # of the whole light curve), same values
        assert got.equals(full[table].filter(inside)), table
    src_ids = set(part["elasticc2_ppdbdiasource"]["diasource_id"])
    assert set(alerts["alert_id"]) == src_ids == set(part["elasticc2_ppdbalert"]["alert_id"])
    assert set(part["elasticc2_brokermessage"]["diasource_id"]) <= src_ids
    assert set(part["elasticc2_diasource"]["diasource_id"]) <= src_ids
    # objects and truth stay complete: every form describes the same objects
    for table in ("elasticc2_ppdbdiaobject", "elasticc2_diaobjecttruth"):
        assert part[table].equals(full[table]), table
    with pytest.raises(ValueError, match="start < end"):
        alerts_writer.in_window(db.ppdb_tables(samples), (hi, lo))
