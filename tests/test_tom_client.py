"""Every TomClient helper against the real local TOM (real HTTP, real PostgreSQL): the client and
the server must agree on routes, bodies and shapes (tom-fidelity §2–4). The expected values come
from the rows ``test_tom.load_fixture_rows`` inserts, read back from the database where needed.
"""

from __future__ import annotations

import json
import math
import re
import time

import numpy as np
import pandas as pd
import polars as pl
import pytest
from test_tom import (  # noqa: F401 (module fixtures)
    BANDS,
    CLASSIFIER,
    DETECTED,
    LTCV_FEATURES,
    NPOINT,
    OBJECTS,
    admin,
    client,
    point,
    sample,
    tom,
)

from elasticc_tutorial.localtom import LocalTom
from elasticc_tutorial.localtom.http import CAPACITY_ENV
from elasticc_tutorial.tom import TomClient, TomError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def broker(tom) -> TomClient:  # noqa: F811
    """The ``apibroker`` account the server made, through the attributes LocalTom exposes."""
    return TomClient(
        tom.url, username=tom.broker_username, passwordfile=tom.broker_passwordfile, backoff=0.05
    )


# ------------------------------------------------------------------------------------ PPDB (DRF)


@pytest.mark.parametrize(
    ("helper", "key", "ids"),
    [
        ("ppdb_diaobject", "diaobject_id", sorted(OBJECTS)),
        (
            "ppdb_diasource",
            "diasource_id",
            sorted(point(i, k)["id"] for i in OBJECTS for k in DETECTED),
        ),
        (
            "ppdb_diaforcedsource",
            "diaforcedsource_id",
            sorted(point(i, k)["id"] for i in OBJECTS for k in range(NPOINT)),
        ),
    ],
)
def test_ppdb_list_pages_and_detail(client, helper, key, ids):  # noqa: F811
    fetch = getattr(client, helper)
    every = fetch(page_size=7)  # several pages
    assert isinstance(every, pl.DataFrame)
    assert sorted(every[key].to_list()) == ids
    n = min(3, len(ids) - 1)
    some = fetch(limit=n, offset=1, page_size=1)  # several pages for one limit
    assert some.height == n and set(some[key].to_list()) <= set(ids)
    assert fetch(limit=5, offset=len(ids) - 1).height == 1  # the end of the table
    detail = fetch(ids[-1])
    assert detail[key] == ids[-1]
    if key != "diaobject_id":  # DRF's foreign-key name, not diaobject_id
        assert "diaobject_id" not in detail and detail["diaobject"] == ids[-1] // 1000
        assert detail["filtername"] == BANDS[ids[-1] % 1000 % 6]
    else:
        assert list(detail)[:3] == ["diaobject_id", "isddf", "simversion"]
        assert (detail["ra"], detail["decl"]) == (OBJECTS[ids[-1]]["ra"], OBJECTS[ids[-1]]["decl"])
    with pytest.raises(TomError) as exc:
        fetch(1)
    assert exc.value.status == 404


def test_ppdb_object_with_sources(client):  # noqa: F811
    out = client.ppdb_object_with_sources(1002)
    assert out["diaobject_id"] == 1002 and out["ra"] == OBJECTS[1002]["ra"]
    assert sorted(s["diasource_id"] for s in out["diasources"]) == [
        point(1002, k)["id"] for k in DETECTED
    ]
    assert sorted(s["diaforcedsource_id"] for s in out["diaforcedsources"]) == [
        point(1002, k)["id"] for k in range(NPOINT)
    ]
    assert {s["diaobject"] for s in out["diasources"]} == {1002}


def test_ppdb_object_of_source_includes_the_source_and_nothing_later(client):  # noqa: F811
    k0 = DETECTED[2]
    out = client.ppdb_object_of_source(point(1003, k0)["id"])
    assert out["diaobject_id"] == 1003
    assert sorted(s["diasource_id"] for s in out["diasources"]) == [
        point(1003, k)["id"] for k in DETECTED if k <= k0
    ]
    assert sorted(s["diaforcedsource_id"] for s in out["diaforcedsources"]) == [
        point(1003, k)["id"] for k in range(k0 + 1)
    ]


# -------------------------------------------------------------------------------- ltcvfeatures


def test_ltcv_features_of_an_object_and_up_to_a_source(client):  # noqa: F811
    feats = client.ltcv_features(1001, include_ltcv=True)
    assert list(feats) == [*LTCV_FEATURES, "lightcurve"]  # no "status" key
    lc = feats["lightcurve"]
    pts = sorted((point(1001, k) for k in range(NPOINT)), key=lambda p: p["mjd"])
    assert lc["mjd"] == pytest.approx([p["mjd"] for p in pts])
    assert lc["flux"] == pytest.approx([p["flux"] for p in pts])
    # oracles computed here from the light curve: duration and the inverse-variance mean
    assert feats["duration"] == pytest.approx(pts[-1]["mjd"] - pts[0]["mjd"], rel=1e-6)
    w = [1 / p["err"] ** 2 for p in pts]
    mean = sum(wi * p["flux"] for wi, p in zip(w, pts, strict=True)) / sum(w)
    assert feats["weighted_mean"] == pytest.approx(mean, rel=1e-5)
    k0 = DETECTED[3]
    upto = client.ltcv_features(sourceid=point(1001, k0)["id"], include_ltcv=True)
    assert len(upto["lightcurve"]["mjd"]) == k0 + 1
    assert max(upto["lightcurve"]["mjd"]) == pytest.approx(point(1001, k0)["mjd"])
    assert "lightcurve" not in client.ltcv_features(1001)


# ----------------------------------------------------------------------------- spectrum cycle


def _wanted(client) -> dict[int, dict]:  # noqa: F811
    return {w["oid"]: w for w in client.spectra_wanted(detected_since_mjd=60000.0)}


def test_spectrum_cycle(client, tom):  # noqa: F811
    """ask → wanted → plan → (not wanted) → remove plan → (wanted) → report → known, (not wanted),
    as tom_desc's tests/test_elasticc2_spectrumcycle.py walks it."""
    ok = client.ask_for_spectrum([1001, 1002], [3, 5], requester="tutorial-a")
    assert ok == {"status": "ok", "message": "wanted spectra created", "num": 2}
    other = TomClient(tom.url, username=tom.username, passwordfile=tom.passwordfile)
    other.ask_for_spectrum([1003], [1], requester="tutorial-b")

    wanted = _wanted(client)
    assert list(wanted) == [1002, 1001, 1003]  # priority descending
    assert (wanted[1002]["req"], wanted[1002]["prio"]) == ("tutorial-a", 5)
    assert (wanted[1002]["ra"], wanted[1002]["dec"]) == (OBJECTS[1002]["ra"], OBJECTS[1002]["decl"])
    for band, latest in wanted[1001]["latest"].items():  # mag = -2.5 log10(flux) + 27 (sic)
        flux = next(
            p["flux"]
            for k in range(NPOINT)
            if (p := point(1001, k))["band"].lower() == band.lower()
            and math.isclose(p["mjd"], latest["mjd"], abs_tol=0.01)
        )
        assert latest["mag"] == pytest.approx(-2.5 * math.log10(flux) + 27, abs=1e-4)

    plan = client.plan_spectrum(1001, "Gemini", plantime="2026-12-24 03:00:00", comment="x")
    assert plan["status"] == "ok" and plan["objectid"] == 1001 and plan["facility"] == "Gemini"
    assert plan["created_at"].endswith("Z") and plan["comment"] == "x"
    assert 1001 not in _wanted(client)  # claimed by a plan
    assert client.remove_spectrum_plan(1001, "Gemini")["n_deleted"] == 1
    assert 1001 in _wanted(client)

    report = client.report_spectrum_info(1002, "Gemini", 60294.17, z=0.21, classid=2222)
    assert report["status"] == "ok" and report["mjd"] == 60294.17 and report["z"] == 0.21
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", report["inserted_at"])
    assert 1002 not in _wanted(client)  # a report removes every request for the object
    known = client.known_spectrum_info(objectid=1002)
    assert len(known) == 1
    assert (known[0]["facility"], known[0]["classid"]) == ("Gemini", 2222)
    assert known[0]["mjd"] == pytest.approx(60294.17, abs=0.004)  # float4 as stored
    assert known[0]["z"] == pytest.approx(0.21, rel=1e-6)
    assert client.known_spectrum_info(facility="nowhere") == []
    with pytest.raises(TomError, match="Unknown objectid 5"):
        client.report_spectrum_info(5, "Gemini", 60000.0)


# ---------------------------------------------------------------------------- broker messages


def _message(sourceid: int, classid: int, probability: float) -> dict:
    now = int(time.time() * 1000)
    return {
        "alertId": sourceid,
        "diaSourceId": sourceid,
        "elasticcPublishTimestamp": now - 60_000,
        "brokerIngestTimestamp": now - 30_000,
        "brokerName": "TutorialBroker",
        "brokerVersion": "0.1",
        "classifierName": "client-test",
        "classifierParams": "none",
        "classifications": [{"classId": classid, "probability": probability}],
    }


def test_send_broker_messages_as_apibroker(broker, client, admin):  # noqa: F811
    sources = [point(1003, k)["id"] for k in DETECTED[:3]]
    before = admin.execute("SELECT count(*) FROM elasticc2_brokermessage").fetchone()[0]
    out = broker.send_broker_messages([_message(s, 2222, 0.9) for s in sources])
    assert out["num_loaded"] == 3 and out["brokerMessageId"] > 0
    stored = admin.execute(
        "SELECT m.diasource_id, m.classid, m.probability, m.topicname FROM elasticc2_brokermessage m "
        "JOIN elasticc2_brokerclassifier c USING (classifier_id) "
        "WHERE c.classifiername = 'client-test' ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in stored] == sources
    assert all(r[1] == [2222] and r[3] == "REST_push" for r in stored)
    assert all(r[2][0] == pytest.approx(0.9) for r in stored)
    after = admin.execute("SELECT count(*) FROM elasticc2_brokermessage").fetchone()[0]
    assert after == before + 3
    with pytest.raises(TomError) as exc:  # an ordinary account may not
        client.send_broker_messages(_message(sources[0], 2222, 0.5))
    assert exc.value.status == 403
    assert admin.execute("SELECT count(*) FROM elasticc2_brokermessage").fetchone()[0] == after


# --------------------------------------------------------------------------- metric tables


@pytest.mark.parametrize(
    "what", ["objects", "sources", "classifications", "meanprobabilities", "maxprobabilities"]
)
def test_broker_class_for_true_type_json_and_pickle_agree(client, what):  # noqa: F811
    as_json = client.broker_class_for_true_type(what, CLASSIFIER, 2222)
    as_pickle = client.broker_class_for_true_type(what, CLASSIFIER, 2222, dataformat="pickle")
    assert isinstance(as_json, pl.DataFrame) and isinstance(as_pickle, pd.DataFrame | pd.Series)
    frame = as_pickle.to_frame() if isinstance(as_pickle, pd.Series) else as_pickle
    flat = frame.reset_index()
    assert as_json.height == len(flat) > 0
    for col in as_json.columns:  # same values under the same names, in the same order
        assert col in flat.columns or col == "m.classid", col
        if col in flat.columns:
            got, want = as_json[col].to_list(), flat[col].to_list()
            if as_json[col].dtype.is_numeric():
                assert np.allclose(got, want, equal_nan=True), col
            else:
                assert got == want, col
    if what == "objects":
        assert sorted(flat["s.diaobject_id"]) == sorted(
            i for i, o in OBJECTS.items() if o["gentype"] == 10
        )


# ------------------------------------------------------------------------------ long queries


def test_long_sql_format_pandas(client):  # noqa: F811
    out = client.long_sql(
        "SELECT diaobject_id, ra FROM elasticc2_ppdbdiaobject WHERE diaobject_id = ANY(%(ids)s) "
        "ORDER BY diaobject_id",
        {"ids": [1001, 1003]},
        format="pandas",
        poll=0.1,
        progress=False,
    )
    assert isinstance(out, pd.DataFrame)
    assert out["diaobject_id"].to_list() == [1001, 1003]
    assert out["ra"].to_list() == [OBJECTS[1001]["ra"], OBJECTS[1003]["ra"]]


# --------------------------------------------------------------------------- JSON conventions


def test_elasticc2_json_uses_djangos_writer(client):  # noqa: F811
    """tom-fidelity §1: times cut to milliseconds with Z; spaced separators."""
    client.ask_for_spectrum([1003], [2], requester="json-check")
    r = client.post(
        "elasticc2/planspectrum", data=json.dumps({"objectid": 1003, "facility": "SOAR"})
    )
    assert r.headers["Content-Type"] == "application/json"
    assert '"status": "ok"' in r.text
    created = r.json()["created_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z", created), created
    client.remove_spectrum_plan(1003, "SOAR")


# ------------------------------------------------------------------------------ login throttle


def test_login_throttle_429_is_waited_out(sample, monkeypatch, tmp_path):  # noqa: F811
    """After too many failed logins the server answers 429 + Retry-After; the client waits as
    asked (like a 503) and then logs in."""
    monkeypatch.setenv(CAPACITY_ENV, json.dumps({"login_failures_per_user": 2, "login_window": 8}))
    cred = tmp_path / "cred"
    with LocalTom(sample, credentials_file=cred) as tom2:
        for _ in range(2):
            with pytest.raises(TomError, match="wrong username or password"):
                TomClient(tom2.url, username=tom2.username, password="wrong", retries=0)
        with pytest.raises(TomError) as exc:  # the throttle, stated, not retried
            TomClient(tom2.url, username=tom2.username, password="wrong", retries=0)
        assert exc.value.status == 429 and "retry after" in str(exc.value)
        waits: list[float] = []
        real_sleep = TomClient._sleep
        monkeypatch.setattr(
            TomClient, "_sleep", lambda self, s: (waits.append(s), real_sleep(self, s))
        )
        good = TomClient(tom2.url, username=tom2.username, passwordfile=tom2.passwordfile)
        # what Retry-After said (the rest of the 8 s window), not the client's own backoff
        assert waits and 1 <= waits[0] <= 9
        assert good.sql("SELECT 1 AS x")["x"].to_list() == [1]
