"""The local TOM on a real (small) sample built by ``elasticc_tutorial.sample.build``.

Every expectation is computed independently, straight from the sample database with psycopg, or
from the taxonomy module, and compared with what the TOM serves over HTTP.
"""

from __future__ import annotations

from collections import defaultdict

import polars as pl
import psycopg
import pytest

from elasticc_tutorial import pg, taxonomy
from elasticc_tutorial.localtom import LocalTom
from elasticc_tutorial.sample import build
from elasticc_tutorial.tom import TomClient

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return build(
        tmp_path_factory.mktemp("tomsample") / "sample", objects_per_model=1, progress=False
    )


@pytest.fixture(scope="module")
def tom(sample):
    with LocalTom(sample) as server:
        yield server


@pytest.fixture(scope="module")
def direct(sample, tom):
    with (
        pg.embedded_server(sample / "tomdb") as url,
        psycopg.connect(url.replace("/postgres?", "/tom_desc?"), autocommit=True) as conn,
    ):
        yield conn


@pytest.fixture(scope="module")
def client(tom):
    return TomClient(tom.url, username=tom.username, passwordfile=tom.passwordfile)


def test_notebook_truth_source_alert_join(client, direct):
    q = """SELECT t.diaobject_id, t.gentype, COUNT(s.diasource_id) AS ndet
           FROM elasticc2_diaobjecttruth t
           JOIN elasticc2_diasource s ON s.diaobject_id = t.diaobject_id
           JOIN elasticc2_ppdbalert a ON a.diasource_id = s.diasource_id
           WHERE a.alertsenttimestamp IS NOT NULL AND t.gentype IN %(gentypes)s
           GROUP BY t.diaobject_id, t.gentype ORDER BY t.diaobject_id"""
    gentypes = [10, 20, 50]
    got = client.sql(q, {"gentypes": gentypes})
    expected = direct.execute(q.replace("%(gentypes)s", "(10, 20, 50)")).fetchall()
    assert got.rows() == expected
    assert got.schema["diaobject_id"] == pl.Int64 and got.schema["gentype"] == pl.Int32


def test_classids_follow_the_taxonomy(client):
    ids = client.classids()
    for gentype, classid in taxonomy.GENTYPE_TO_CLASSID.items():
        entry = ids[str(classid)]
        assert gentype in entry["gentype"] and entry["exactmatch"] is True


def test_ltcv_matches_the_database(client, direct):
    objid, tmax = direct.execute(
        "SELECT diaobject_id, max(midpointtai) FROM elasticc2_diaforcedsource "
        "GROUP BY diaobject_id ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    mjd_now = tmax - 20
    rows = direct.execute(
        "SELECT midpointtai, filtername, psflux, psfluxerr FROM elasticc2_diaforcedsource "
        "WHERE diaobject_id = %s AND midpointtai <= %s ORDER BY midpointtai",
        (objid, mjd_now),
    ).fetchall()
    (lc,) = client.ltcv(objid, mjd_now=mjd_now)
    assert lc["photometry"]["mjd"] == [r[0] for r in rows]
    assert lc["photometry"]["band"] == [r[1] for r in rows]
    assert lc["photometry"]["flux"] == pytest.approx([r[2] for r in rows], rel=1e-6)


def test_hot_transients_match_the_database(client, direct):
    (mid,) = direct.execute(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY midpointtai) FROM elasticc2_diasource"
    ).fetchone()
    expected = [
        r[0]
        for r in direct.execute(
            "SELECT DISTINCT diaobject_id FROM elasticc2_diasource "
            "WHERE midpointtai BETWEEN %s AND %s ORDER BY 1",
            (mid - 30, mid),
        ).fetchall()
    ]
    hot = client.hot_transients(mjd_now=mid, detected_in_last_days=30, return_format=2)
    assert hot["objectid"] == expected and expected
    assert all(max(m) <= mid for m in hot["mjd"])


def test_getalert_matches_the_database(client, direct):
    alert_id, source_id, objid, t = direct.execute(
        "SELECT a.alert_id, s.diasource_id, s.diaobject_id, s.midpointtai FROM elasticc2_ppdbalert a "
        "JOIN elasticc2_ppdbdiasource s ON s.diasource_id = a.diasource_id "
        "ORDER BY s.midpointtai DESC LIMIT 1"
    ).fetchone()
    alert = client.alert(alert_id)
    assert alert["diaSource"]["diaSourceId"] == source_id
    assert alert["diaObject"]["diaObjectId"] == objid
    (nforced,) = direct.execute(
        "SELECT count(*) FROM elasticc2_ppdbdiaforcedsource WHERE diaobject_id = %s "
        "AND midpointtai < %s AND midpointtai >= %s",
        (objid, t, t - 365),
    ).fetchone()
    assert len(alert["prvDiaForcedSources"]) == nforced


def test_mean_probabilities_agree_with_classifications(client, direct):
    # 2222 (SN Ia) must have classified sources in the sample, or this test checks nothing
    checked = 0
    classifiers = client.classifiers()
    assert (
        len(classifiers)
        == direct.execute("SELECT count(*) FROM elasticc2_brokerclassifier").fetchone()[0]
        > 0
    )
    for cfer in classifiers:
        base = f"elasticc2/brokerclassfortruetype/json/{{}}/{cfer}/2222/"
        mean = client.query(base.format("meanprobabilities"), method="GET")
        cify = client.query(base.format("classifications"), method="GET")
        sources = client.query(base.format("sources"), method="GET")
        acc = defaultdict(list)
        for (_source, classid), (relday, p) in zip(cify["index"], cify["data"], strict=True):
            assert 0.0 <= p <= 1.0 and -20 <= relday <= 90
            acc[relday, classid].append(p)
        assert {s for s, _ in cify["index"]} == set(sources["index"])
        got = {tuple(i): d[0] for i, d in zip(mean["index"], mean["data"], strict=True)}
        assert got.keys() == acc.keys()
        for key, ps in acc.items():
            assert got[key] == pytest.approx(sum(ps) / len(ps), rel=1e-5)
        checked += len(acc)
    assert checked > 0, "no classification of a true SN Ia in the sample: nothing was compared"


def test_pagination_walks_every_object(client, direct):
    ids, page = [], "elasticc2/ppdbdiaobject/?limit=7"
    while page:
        data = client.get(page).json()
        ids += [o["diaobject_id"] for o in data["results"]]
        page = data["next"].split("/", 3)[3] if data["next"] else None
    expected = [
        r[0] for r in direct.execute("SELECT diaobject_id FROM elasticc2_ppdbdiaobject ORDER BY 1")
    ]
    # DRF's queryset has no ordering (pages follow the physical order): compare as sets
    assert sorted(ids) == expected and len(ids) == len(set(ids)) > 7


def test_long_sql_matches_direct_query(client, direct):
    q = "SELECT diaobject_id, ra, decl, mwebv, isddf FROM elasticc2_ppdbdiaobject ORDER BY diaobject_id"
    got = client.long_sql(q, poll=0.1, progress=False)
    assert got.schema == pl.Schema(
        {
            "diaobject_id": pl.Int64,
            "ra": pl.Float64,
            "decl": pl.Float64,
            "mwebv": pl.Float32,
            "isddf": pl.Boolean,
        }
    )
    rows = direct.execute(q).fetchall()
    assert got["diaobject_id"].to_list() == [r[0] for r in rows]
    assert got["ra"].to_list() == [r[1] for r in rows]
    assert got["isddf"].to_list() == [r[4] for r in rows]


def test_broker_class_for_true_type_as_polars(client):
    cfer = int(next(iter(client.classifiers())))
    page = f"elasticc2/brokerclassfortruetype/json/{{}}/{cfer}/2222/"
    for what, key_names in [
        ("meanprobabilities", ["relday", "m.classid", "m.probability"]),
        ("objects", ["s.diaobject_id", "t.zcmb", "t.peakmjd", "t.gentype"]),
    ]:
        frame = client.broker_class_for_true_type(what, cfer, 2222)
        tight = client.query(page.format(what), method="GET")
        assert frame.columns == key_names
        assert frame.height == len(tight["index"]) == len(tight["data"])
        first = tight["index"][0]
        first = first if isinstance(first, list) else [first]
        assert list(frame.row(0)) == [*first, *tight["data"][0]]


def test_tight_to_polars_rejects_other_shapes():
    from elasticc_tutorial.tom import TomError, tight_to_polars

    with pytest.raises(TomError, match="not a pandas 'tight' dict"):
        tight_to_polars({"status": "ok"}, what="elasticc2/brokerclassfortruetype/x")


def test_derived_tables_and_features_on_a_built_sample(client, direct):
    """The summary tables db.load derives, and ltcvfeatures over the PPDB forced photometry."""
    assert direct.execute("SELECT running FROM elasticc2_importppdbrunning").fetchall() == [
        (False,)
    ]
    (ninfo,) = direct.execute(
        "SELECT count(*) FROM (SELECT DISTINCT diaobject_id, filtername FROM "
        "(SELECT diaobject_id, filtername FROM elasticc2_diaforcedsource UNION ALL "
        "SELECT diaobject_id, filtername FROM elasticc2_diasource) u) d"
    ).fetchone()
    assert direct.execute("SELECT count(*) FROM elasticc2_diaobjectinfo").fetchone() == (ninfo,)
    assert ninfo > 0
    (npairs,) = direct.execute(
        "SELECT count(DISTINCT (s.diaobject_id, m.classifier_id)) FROM elasticc2_brokermessage m "
        "JOIN elasticc2_diasource s USING (diasource_id)"
    ).fetchone()
    got = direct.execute("SELECT count(*) FROM elasticc2_diaobjectclassification").fetchone()
    assert got == (npairs,) and npairs > 0
    objid, n = direct.execute(
        "SELECT diaobject_id, count(*) FROM elasticc2_ppdbdiaforcedsource "
        "GROUP BY diaobject_id ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    feats = client.post("elasticc2/ltcvfeatures", json={"objectid": objid, "includeltcv": 1})
    assert feats.status_code == 200
    assert len(feats.json()["lightcurve"]["mjd"]) == n
