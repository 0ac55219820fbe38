"""Conformance of the local TOM's ``elasticc2/`` routes with desc-tom (tom-fidelity.md §1–3, §7).

Raw HTTP (requests), no client helpers: status codes, headers, key orders and error texts are the
reference's. Data expectations come from the rows ``test_tom.load_fixture_rows`` writes (the same
fixture data as tests/test_tom.py), recomputed here with plain Python.
"""

from __future__ import annotations

import json
import math
import pickle
from pathlib import Path

import numpy as np
import psycopg
import pytest
import requests
from test_tom import (
    CLASSIFIER,
    DETECTED,
    LTCV_FEATURES,
    NPOINT,
    OBJECTS,
    add_user,
    fixture_tom_db,
    login_by_hand,
    point,
)

from elasticc_tutorial import pg
from elasticc_tutorial.localtom import LocalTom

pytestmark = pytest.mark.slow

BROKER_PASSWORD_SUFFIX = "-apibroker"


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    return fixture_tom_db(tmp_path_factory.mktemp("routes"))


@pytest.fixture(scope="module")
def tom(sample):
    with LocalTom(sample) as server:
        yield server


@pytest.fixture(scope="module")
def dburl(sample, tom):
    with pg.embedded_server(sample / "tomdb") as url:
        yield url.replace("/postgres?", "/tom_desc?")


@pytest.fixture(scope="module")
def admin(dburl):
    with psycopg.connect(dburl, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def user(tom) -> requests.Session:
    return login_by_hand(tom.url, tom.username, tom.passwordfile.read_text().strip())


@pytest.fixture(scope="module")
def broker(tom) -> requests.Session:
    """Logged in as ``apibroker``, the account the server made at start-up."""
    assert tom.broker_username == "apibroker"
    pwfile = tom.broker_passwordfile
    assert pwfile.stat().st_mode & 0o777 == 0o600
    assert pwfile.parent == tom.passwordfile.parent
    return login_by_hand(tom.url, tom.broker_username, pwfile.read_text().strip())


@pytest.fixture(scope="module")
def superuser(tom, admin) -> requests.Session:
    password = add_user(admin, "boss")
    admin.execute(
        "UPDATE elasticc_tutorial_local.auth_user SET is_superuser = true WHERE username = 'boss'"
    )
    return login_by_hand(tom.url, "boss", password)


def f4(x: float) -> float:
    """What a float4 column holds and the TOM prints: the shortest float32 text."""
    return float(str(np.float32(x)))


def post(s: requests.Session, url: str, body, method: str = "POST") -> requests.Response:
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return s.request(method, url, data=data, allow_redirects=False)


# ------------------------------------------------------------------ §1/§2: access and methods

PAGES_403 = [  # PermissionRequiredMixin views: anonymous -> 403
    "ltcv",
    "ltcvfeatures",
    "getalert",
    "gethottransients",
    "adminsummary",
]
PAGES_LOGIN = [  # LoginRequiredMixin views: anonymous -> 302 to the login page
    "",
    "classifiers",
    "classids",
    "classifiers_json",
    "alertstreamhists",
    "brokertimedelays",
    "brokercompleteness",
    "confmatrixlatest",
    f"brokerclassfortruetype/json/objects/{CLASSIFIER}/2222/",
]
SPECTRUM = [
    "askforspectrum",
    "spectrawanted",
    "planspectrum",
    "removespectrumplan",
    "reportspectruminfo",
    "getknownspectruminfo",
]


@pytest.mark.parametrize("page", PAGES_403)
def test_anonymous_get_is_403(tom, page):
    r = requests.get(f"{tom.url}/elasticc2/{page}", allow_redirects=False)
    assert r.status_code == 403


@pytest.mark.parametrize("page", PAGES_LOGIN)
def test_anonymous_get_redirects_to_login(tom, page):
    r = requests.get(f"{tom.url}/elasticc2/{page}", allow_redirects=False)
    assert r.status_code == 302
    # Django's redirect_to_login: the path url-encoded, "/" kept
    quoted = requests.utils.quote(f"/elasticc2/{page}", safe="/")
    assert r.headers["Location"] == f"/accounts/login/?next={quoted}"


@pytest.mark.parametrize("page", [*SPECTRUM, "brokermessage/"])
def test_anonymous_writes_are_refused(tom, page):
    # CSRF comes first: no token, 403
    r = requests.post(f"{tom.url}/elasticc2/{page}", data="{}", allow_redirects=False)
    assert r.status_code == 403
    r = requests.put(f"{tom.url}/elasticc2/brokermessage/", data="{}")
    assert r.status_code == 403


@pytest.mark.parametrize(
    "page",
    ["ppdbdiaobject/", "ppdbdiasource/1/", "ppdbdiaforcedsource/", "ppdbdiaobjectofsource/1/"],
)
def test_anonymous_rest_calls_get_401(tom, page):
    r = requests.get(f"{tom.url}/elasticc2/{page}")
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Token"
    assert r.json() == {"detail": "Authentication credentials were not provided."}


@pytest.mark.parametrize(
    "method,page,allow",
    [
        ("POST", "", {"GET", "HEAD"}),
        ("POST", "classifiers", {"GET", "HEAD"}),
        ("GET", "askforspectrum", {"POST"}),
        ("GET", "getknownspectruminfo", {"POST"}),
        ("DELETE", "ltcv", {"GET", "HEAD", "POST"}),
        ("PUT", "classids", {"GET", "HEAD", "POST"}),
    ],
)
def test_undefined_methods_are_405_with_allow(user, tom, method, page, allow):
    r = user.request(method, f"{tom.url}/elasticc2/{page}", data="{}", allow_redirects=False)
    assert r.status_code == 405 and r.content == b""
    assert {m.strip() for m in r.headers["Allow"].split(",")} == allow


def test_csrf_is_checked_before_the_view(user, tom):
    s = requests.Session()
    s.cookies.update(user.cookies)
    r = s.post(f"{tom.url}/elasticc2/ltcv", data=json.dumps({"objectid": 1001}))
    assert r.status_code == 403 and "CSRF" in r.text


def test_trailing_slash_rules(user, tom):
    r = user.get(f"{tom.url}/elasticc2/ppdbdiaobject", allow_redirects=False)
    assert r.status_code == 301 and r.headers["Location"].endswith("/elasticc2/ppdbdiaobject/")
    base = f"{tom.url}/elasticc2/brokerclassfortruetype/json/objects/{CLASSIFIER}/2222"
    assert user.get(base, allow_redirects=False).status_code == 301
    assert user.get(f"{tom.url}/elasticc2/ltcv/", allow_redirects=False).status_code == 404
    assert user.get(f"{tom.url}/elasticc2/classids/", allow_redirects=False).status_code == 404
    assert post(user, f"{tom.url}/elasticc2/brokermessage", [], "PUT").status_code == 500


# -------------------------------------------------------------------- §3.5/3.6 taxonomy JSON


def test_classids_is_compact_pandas_json(user, tom):
    r = user.get(f"{tom.url}/elasticc2/classids")
    assert r.headers["Content-Type"] == "application/json"
    assert ": " not in r.text and ", " not in r.text.replace("Non-Recurring", "")[:200]
    ids = r.json()
    assert len(ids) == 42
    assert [int(k) for k in ids] == sorted(int(k) for k in ids)
    for v in ids.values():
        keys = ["exactmatch", "categorymatch", "broadmatch", "generalmatch", "description"]
        assert list(v) == [*keys, "gentype"]
    empty = {k for k, v in ids.items() if v["gentype"] == []}
    assert empty == {
        str(c)
        for c in (
            0,
            100,
            200,
            300,
            1000,
            1100,
            2100,
            2210,
            2221,
            2231,
            2241,
            2310,
            2321,
            2326,
            2331,
        )
    }
    assert ids["2000"]["gentype"][:4] == [10, 11, 12, 20] and ids["2000"]["gentype"][-1] == 91


def test_classifiers_json(user, tom):
    r = user.post(f"{tom.url}/elasticc2/classifiers_json", data="ignored, not JSON")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert r.text == (
        f'{{"{CLASSIFIER}":{{"brokername":"TestBroker","brokerversion":"1.0",'
        '"classifiername":"Simple","classifierparams":"none"}}'
    )


# ----------------------------------------------------------------------------- §3.1 ltcv

LTCV = "elasticc2/ltcv"


@pytest.mark.parametrize(
    "body,text",
    [
        ("", "Expecting value: line 1 column 1 (char 0)"),
        ([1001], "'list' object has no attribute 'keys'"),
        ({"objectid": 1, "foo": 2}, "Unknown parameters: {'foo'}"),
        ({}, "Must supply either objectid or objectids"),
        ({"objectid": 1, "objectids": [1]}, "Can't supply both objectid and objectids"),
        ({"objectid": 1001, "return_format": 5}, "Unknown return_format 5"),
        ({"objectid": 1001, "return_format": 1}, "'mjd'"),
    ],
)
def test_ltcv_errors(user, tom, body, text):
    r = post(user, f"{tom.url}/{LTCV}", body)
    assert r.status_code == 500 and r.headers["Content-Type"].startswith("text/plain")
    assert r.text == f"Exception in LtcvsView: {text}"


def test_ltcv_empty_list_is_a_postgres_error_and_format1_empty_is_ok(user, tom):
    r = post(user, f"{tom.url}/{LTCV}", {"objectids": []})
    assert r.status_code == 500 and 'syntax error at or near ")"' in r.text
    r = post(user, f"{tom.url}/{LTCV}", {"objectid": 424242, "return_format": 1})
    assert r.status_code == 200 and r.json() == {"status": "ok", "diaobject": []}


def test_ltcv_shapes(user, tom):
    r = user.get(f"{tom.url}/{LTCV}", data=json.dumps({"objectids": [1003, 1001]}))
    d = r.json()
    assert list(d) == ["status", "diaobject"]
    assert [o["objectid"] for o in d["diaobject"]] == [1001, 1003]  # ascending, not request order
    assert list(d["diaobject"][0]) == ["objectid", "ra", "dec", "zp", "photometry"]
    assert list(d["diaobject"][0]["photometry"]) == ["mjd", "band", "flux", "fluxerr"]
    assert d["diaobject"][0]["photometry"]["mjd"] == [point(1001, k)["mjd"] for k in range(NPOINT)]
    host = post(user, f"{tom.url}/{LTCV}", {"objectid": 1002, "include_hostinfo": 1}).json()
    keys = list(host["diaobject"][0])
    bands = "ugrizy"
    hostkeys = [c for b in bands for c in (f"hostgal_mag_{b}", f"hostgal_magerr_{b}")]
    hostkeys += ["hostgal_ellipticity", "hostgal_sqradius", "hostgal_snsep"]
    assert keys == ["objectid", "ra", "dec", "zp", *hostkeys, "photometry"]
    assert host["diaobject"][0]["hostgal_mag_u"] == 22.0
    f2 = post(user, f"{tom.url}/{LTCV}", {"objectid": [1001, 1002], "return_format": 2}).json()
    assert list(f2["diaobject"]) == [
        "objectid",
        "ra",
        "dec",
        "mjd",
        "band",
        "flux",
        "fluxerr",
        "zp",
    ]
    assert f2["diaobject"]["zp"] == [27.5, 27.5]


# ----------------------------------------------------------------- §3.2 gethottransients

HOT = "elasticc2/gethottransients"


@pytest.mark.parametrize(
    "body,text",
    [
        ({"return_format": 7}, "Error, unknown return_format 7"),
        (
            {"detected_since_mjd": 1, "detected_in_last_days": 2},
            "Error, only give one of detected_since_mjd or detected_in_last_days",
        ),
        ({"cheat_gentypes": 10}, "Error, cheat_gentypes must be a list"),
        ({"foo": 1, "mjd_now": 60000}, "Error, unknown parameters passed in request body: ['foo']"),
    ],
)
def test_hot_errors(user, tom, body, text):
    r = post(user, f"{tom.url}/{HOT}", body)
    assert (r.status_code, r.text) == (500, text)


def test_hot_shapes(user, tom):
    now = OBJECTS[1002]["peak"]
    body = {"mjd_now": now, "detected_in_last_days": 10}
    f0 = post(user, f"{tom.url}/{HOT}", body).json()["diaobject"]
    assert f0 and list(f0[0]) == ["objectid", "ra", "dec", "zp", "redshift", "sncode", "photometry"]
    assert all(o["redshift"] == -99 and o["sncode"] == -99 for o in f0)
    expected = sorted(
        {i for i in OBJECTS for k in DETECTED if now - 10 <= point(i, k)["mjd"] <= now}
    )
    assert [o["objectid"] for o in f0] == expected
    # the whole history up to mjd_now, not only the window
    first = [point(f0[0]["objectid"], k)["mjd"] for k in range(NPOINT)]
    assert f0[0]["photometry"]["mjd"] == [m for m in first if m <= now]
    f1 = post(user, f"{tom.url}/{HOT}", {**body, "return_format": 1}).json()["diaobject"]
    assert f1[0]["mjd"] == [f0[0]["photometry"]["mjd"]]  # nested one level deeper
    assert f1[0]["band"] == f0[0]["photometry"]["band"]
    f2 = post(user, f"{tom.url}/{HOT}", {**body, "return_format": 2}).json()["diaobject"]
    assert list(f2)[:8] == ["objectid", "ra", "dec", "mjd", "band", "flux", "fluxerr", "zp"]
    assert f2["redshift"] == [-99] * len(f0)
    cheat = post(
        user,
        f"{tom.url}/{HOT}",
        {"mjd_now": 61000, "detected_since_mjd": 0, "cheat_gentypes": [20]},
    )
    assert [o["objectid"] for o in cheat.json()["diaobject"]] == [1003]
    empty = post(user, f"{tom.url}/{HOT}", {"mjd_now": 61000, "cheat_gentypes": []})
    assert empty.status_code == 500 and "syntax error" in empty.text


# -------------------------------------------------------------------------- §3.4 getalert


def test_getalert_shape(user, tom):
    k = max(DETECTED)
    a = post(user, f"{tom.url}/elasticc2/getalert", {"alertid": 1001 * 1000 + k}).json()
    assert list(a) == ["alertId", "diaSource", "prvDiaSources", "prvDiaForcedSources", "diaObject"]
    assert list(a["diaSource"]) == [
        "diaSourceId",
        "diaObjectId",
        "midPointTai",
        "filterName",
        "ra",
        "decl",
        "psFlux",
        "psFluxErr",
        "snr",
    ]
    obj = list(a["diaObject"])
    assert obj[:8] == [
        "diaObjectId",
        "simVersion",
        "ra",
        "decl",
        "mwebv",
        "mwebv_err",
        "z_final",
        "z_final_err",
    ]
    assert "hostgal_mag_Y" in obj and "hostgal2_magerr_Y" in obj and "isddf" not in obj
    assert len(obj) == 8 + 64
    # the first source is not > 0.5 d after itself: no forced sources
    first = post(user, f"{tom.url}/elasticc2/getalert", {"sourceid": 1001 * 1000 + min(DETECTED)})
    assert first.json()["prvDiaForcedSources"] == [] and first.json()["prvDiaSources"] == []
    r = post(user, f"{tom.url}/elasticc2/getalert", {"sourceid": 666})
    assert r.text == "Exception in GetAlert: Unknown sourceid 666"
    r = post(user, f"{tom.url}/elasticc2/getalert", {})
    assert r.text == "Exception in GetAlert: Must supply either alertid or sourceid"


# ---------------------------------------------------------------------- §3.3 ltcvfeatures


def test_ltcvfeatures(user, tom):
    r = post(user, f"{tom.url}/elasticc2/ltcvfeatures", {"objectid": 1001, "includeltcv": 1})
    d = r.json()
    assert list(d) == [*LTCV_FEATURES, "lightcurve"]
    pts = [point(1001, k) for k in range(NPOINT)]
    mjd = np.array([p["mjd"] for p in pts])
    flux = np.array([p["flux"] for p in pts])
    err = np.array([p["err"] for p in pts])
    assert d["lightcurve"] == {"mjd": mjd.tolist(), "flux": flux.tolist(), "dflux": err.tolist()}
    w = 1 / err**2
    mean = float(np.sum(w * flux) / np.sum(w))
    assert math.isclose(d["weighted_mean"], mean, rel_tol=1e-9)
    assert d["duration"] == mjd.max() - mjd.min()
    chi2 = float(np.sum((flux - mean) ** 2 * w) / (len(flux) - 1))
    assert math.isclose(d["chi2"], chi2, rel_tol=1e-9)
    slope = np.polyfit(mjd, flux, 1, w=1 / err)[0]
    assert math.isclose(d["linear_fit_slope"], slope, rel_tol=1e-6)
    # sourceid: only points up to that source's time
    sid = 1001 * 1000 + min(DETECTED)
    s = post(user, f"{tom.url}/elasticc2/ltcvfeatures", {"sourceid": sid}).json()
    assert "lightcurve" not in s and "status" not in s
    assert s["duration"] == point(1001, min(DETECTED))["mjd"] - mjd.min()
    r = post(user, f"{tom.url}/elasticc2/ltcvfeatures", {"objectid": 1001, "features": ["x"]})
    assert r.text == "Exception in LtcvFeatures: Passing feature list not yet implemented"
    r = post(user, f"{tom.url}/elasticc2/ltcvfeatures", {"alertid": 1})
    assert r.text == "Exception in LtcvFeatures: Must supply either alertid or sourceid or objectid"


# ---------------------------------------------------------------- §3.7 brokerclassfortruetype


def test_brokerclassfortruetype_pickle_matches_json(user, tom):
    import pandas as pd

    for what in ("objects", "sources", "classifications", "meanprobabilities", "maxprobabilities"):
        base = f"{tom.url}/elasticc2/brokerclassfortruetype/{{}}/{what}/{CLASSIFIER}/2222/"
        p = user.get(base.format("pickle"))
        assert p.headers["Content-Type"] == "application/octet-stream"
        obj = pickle.loads(p.content)
        assert isinstance(obj, pd.Series if what == "maxprobabilities" else pd.DataFrame)
        frame = obj.to_frame("m.classid") if isinstance(obj, pd.Series) else obj
        tight = json.loads(json.dumps(frame.to_dict(orient="tight")))
        assert user.get(base.format("json")).json() == tight
        assert user.get(base.format("dict")).json() == tight
    r = user.get(f"{tom.url}/elasticc2/brokerclassfortruetype/json/nope/{CLASSIFIER}/2222/")
    assert (r.status_code, r.json()) == (400, {"error": "Unknown data structure: nope"})
    assert r.headers["Content-Type"] == "application/json"
    for cfer, cls in ((999, 2222), (CLASSIFIER, 2220), (CLASSIFIER, 2221)):
        r = user.get(f"{tom.url}/elasticc2/brokerclassfortruetype/json/objects/{cfer}/{cls}/")
        assert r.status_code == 400
        assert r.json() == {"error": f"Can't find data file for classifier {cfer}, class {cls}"}
    r = user.get(f"{tom.url}/elasticc2/brokerclassfortruetype/json/objects/x/2222/")
    assert r.status_code == 404


# ------------------------------------------------------------------- §3.9 the REST framework


def test_rest_list_pagination_and_record_shapes(user, tom):
    page = user.get(f"{tom.url}/elasticc2/ppdbdiaobject/?limit=2").json()
    assert list(page) == ["count", "next", "previous", "results"]
    assert page["count"] == len(OBJECTS) and page["previous"] is None
    assert page["next"] == f"{tom.url}/elasticc2/ppdbdiaobject/?limit=2&offset=2"
    rec = page["results"][0]
    assert list(rec)[:5] == ["diaobject_id", "isddf", "simversion", "ra", "decl"]
    assert len(rec) == 73
    for bad in ("0", "abc", "-3"):
        got = user.get(f"{tom.url}/elasticc2/ppdbdiaobject/?limit={bad}").json()
        assert len(got["results"]) == len(OBJECTS) and got["next"] is None
    src = user.get(f"{tom.url}/elasticc2/ppdbdiasource/").json()
    assert src["count"] == len(OBJECTS) * len(DETECTED)
    assert list(src["results"][0]) == [
        "diasource_id",
        "midpointtai",
        "filtername",
        "ra",
        "decl",
        "psflux",
        "psfluxerr",
        "snr",
        "diaobject",
    ]
    forced = user.get(f"{tom.url}/elasticc2/ppdbdiaforcedsource/1001003/").json()
    assert forced == {
        "diaforcedsource_id": 1001003,
        "midpointtai": point(1001, 3)["mjd"],
        "filtername": point(1001, 3)["band"],
        "psflux": point(1001, 3)["flux"],
        "psfluxerr": 10.0,
        "diaobject": 1001,
    }
    assert ":" in user.get(f"{tom.url}/elasticc2/ppdbdiaobject/1001.json").text
    assert user.get(f"{tom.url}/elasticc2/ppdbdiaobject/1001.json").json()["diaobject_id"] == 1001


def test_rest_errors(user, tom):
    for page in ("ppdbdiaobject/5/", "ppdbdiaobject/abc/", "ppdbdiaobjectwithsources/5/"):
        r = user.get(f"{tom.url}/elasticc2/{page}")
        assert (r.status_code, r.json()) == (404, {"detail": "Not found."})
    r = user.get(f"{tom.url}/elasticc2/ppdbdiaobjectofsource/abc/")
    assert r.status_code == 500
    r = user.post(f"{tom.url}/elasticc2/ppdbdiaobject/", json={})
    assert (r.status_code, r.json()) == (405, {"detail": 'Method "POST" not allowed.'})
    r = user.get(f"{tom.url}/elasticc2/ppdbdiaobjectwithsources/")
    assert (r.status_code, r.json()) == (400, "Must give an object id")
    r = user.get(f"{tom.url}/elasticc2/ppdbdiaobjectofsource/")
    assert (r.status_code, r.json()) == (400, "Must give a source id")


def test_rest_object_with_sources(user, tom):
    whole = user.get(f"{tom.url}/elasticc2/ppdbdiaobjectwithsources/1002/").json()
    assert list(whole)[-2:] == ["diasources", "diaforcedsources"] and len(whole) == 75
    assert len(whole["diasources"]) == len(DETECTED) and len(whole["diaforcedsources"]) == NPOINT
    k = min(DETECTED) + 2
    of = user.get(f"{tom.url}/elasticc2/ppdbdiaobjectofsource/{1002 * 1000 + k}/").json()
    assert of["diaobject_id"] == 1002
    assert sorted(s["diasource_id"] for s in of["diasources"]) == [
        1002 * 1000 + j for j in DETECTED if j <= k
    ]
    assert len(of["diaforcedsources"]) == k + 1


def test_rest_basic_auth(tom):
    auth = (tom.username, tom.passwordfile.read_text().strip())
    r = requests.get(f"{tom.url}/elasticc2/ppdbdiaobject/1001/", auth=auth)
    assert r.status_code == 200 and r.json()["diaobject_id"] == 1001


# ---------------------------------------------------------------------- §3.10 brokermessage


def _message(alert: int, classifier: str = "NewOne", **extra) -> dict:
    return {
        "alertId": alert,
        "diaSourceId": alert,
        "elasticcPublishTimestamp": 1_700_000_000_000,
        "brokerIngestTimestamp": 1_700_000_001_000,
        "brokerName": "RouteTest",
        "brokerVersion": "0.1",
        "classifierName": classifier,
        "classifierParams": "p",
        "classifications": [
            {"classId": 2222, "probability": 0.5},
            {"classId": 2223, "probability": 0.5},
        ],
        **extra,
    }


def test_brokermessage_put(broker, user, tom, admin):
    url = f"{tom.url}/elasticc2/brokermessage/"
    assert post(user, url, _message(1001010), "PUT").status_code == 403
    assert post(broker, url, [], "PUT").status_code == 500
    assert broker.get(url).status_code == 500 and post(broker, url, {}).status_code == 500
    before = admin.execute("SELECT max(brokermessage_id) FROM elasticc2_brokermessage").fetchone()[
        0
    ]
    msgs = [
        _message(1001010, brokerPublishTimestamp=1_700_000_002_000),
        _message(1001010),  # the same (classifier, alert): kept once
        _message(1001011),
    ]
    r = post(broker, url + "?x=1", msgs, "PUT")
    assert r.status_code == 201
    body = r.json()
    assert list(body) == ["brokerMessageId", "num_loaded"] and body["num_loaded"] == 2
    assert body["brokerMessageId"] > before
    assert r.headers["Location"] == f"{url}{body['brokerMessageId']}"
    rows = admin.execute(
        "SELECT streammessage_id, topicname, alert_id, msghdrtimestamp IS NOT NULL, classid, "
        "probability, c.brokername FROM elasticc2_brokermessage m "
        "JOIN elasticc2_brokerclassifier c USING (classifier_id) "
        "WHERE brokermessage_id > %s ORDER BY brokermessage_id",
        (before,),
    ).fetchall()
    assert rows == [
        (-1, "REST_push", 1001010, True, [2222, 2223], [0.5, 0.5], "RouteTest"),
        (-1, "REST_push", 1001011, False, [2222, 2223], [0.5, 0.5], "RouteTest"),
    ]
    ids = {r[0] for r in admin.execute("SELECT diasource_id FROM elasticc2_brokersourceids")}
    assert {1001010, 1001011} <= ids
    one = post(broker, f"{tom.url}/elasticc2/brokermessage/5/", _message(1002010, "Other"), "PUT")
    assert one.status_code == 201 and one.headers["Location"].endswith(
        f"/elasticc2/brokermessage/5/{one.json()['brokerMessageId']}"
    )
    broken = dict(_message(1002011))
    del broken["brokerIngestTimestamp"]
    assert post(broker, url, broken, "PUT").status_code == 500


# -------------------------------------------------------------------- §3.8 spectrum routes


def _spec(s, tom, route, body):
    return post(s, f"{tom.url}/elasticc2/{route}", body)


def test_spectrum_cycle(user, tom, admin):
    ask = {"requester": "me", "objectids": [1001, 1002], "priorities": [2, 9]}
    r = _spec(user, tom, "askforspectrum", ask)
    assert r.json() == {"status": "ok", "message": "wanted spectra created", "num": 2}
    r = _spec(user, tom, "askforspectrum", {**ask, "objectids": [1001], "priorities": [4]})
    assert r.json()["num"] == 1  # an upsert
    assert _spec(user, tom, "askforspectrum", {"requester": "x", "objectids": [1001]}).text == (
        "Mal-formed data for askforspectrum"
    )
    r = _spec(user, tom, "askforspectrum", {"requester": "x", "objectids": [9], "priorities": [1]})
    assert r.status_code == 500 and "violates foreign key constraint" in r.text
    r = _spec(user, tom, "askforspectrum", {**ask, "objectids": [1001, 1001], "priorities": [1, 1]})
    assert "ON CONFLICT DO UPDATE command cannot affect row a second time" in r.text

    wanted = _spec(user, tom, "spectrawanted", {"detected_since_mjd": 0}).json()
    assert list(wanted) == ["status", "wantedspectra"]
    got = wanted["wantedspectra"]
    assert [(w["oid"], w["prio"], w["req"]) for w in got] == [(1002, 5, "me"), (1001, 4, "me")]
    assert list(got[0]) == ["oid", "ra", "dec", "req", "prio", "latest"]
    # the latest S/N > 3 forced point per band, mag with zero point 27, float4-rounded
    for band, value in got[1]["latest"].items():
        pts = [point(1001, k) for k in range(NPOINT) if point(1001, k)["band"] == band]
        p = max((q for q in pts if q["flux"] > 3 * q["err"]), key=lambda q: q["mjd"])
        assert value["mjd"] == f4(p["mjd"])
        assert value["mag"] == f4(-2.5 * math.log10(p["flux"]) + 27)
    r = _spec(user, tom, "spectrawanted", {"detected_since_mjd": 0, "lim_mag": 20})
    assert r.status_code == 500 and r.text.startswith("Exception in WhatSpectraAreWanted:")
    r = _spec(user, tom, "spectrawanted", {"requested_since": "2024-01"})
    assert r.text == "Exception in WhatSpectraAreWanted: 'requestedsince'"

    plan = _spec(
        user, tom, "planspectrum", {"objectid": 1002, "facility": "Keck", "plantime": "2030-01-02"}
    ).json()
    assert list(plan) == ["status", "objectid", "facility", "created_at", "plantime", "comment"]
    assert plan["plantime"] == "2030-01-02T00:00:00" and plan["created_at"].endswith("Z")
    again = _spec(user, tom, "planspectrum", {"objectid": 1002, "facility": "Keck"}).json()
    assert again["plantime"] is None
    n = admin.execute("SELECT count(*) FROM elasticc2_plannedspectra WHERE diaobject_id = 1002")
    assert n.fetchone() == (1,)
    got = _spec(user, tom, "spectrawanted", {"detected_since_mjd": 0}).json()["wantedspectra"]
    assert [w["oid"] for w in got] == [1001]  # claimed objects drop out
    assert _spec(user, tom, "planspectrum", {"objectid": 5, "facility": "K"}).text == (
        "Exception in PlanToDoSpectrum: name 'HttpRespose' is not defined"
    )
    assert _spec(user, tom, "planspectrum", {"objectid": 5}).text == (
        "Post data must be json with keys objectid and facility"
    )
    assert _spec(user, tom, "planspectrum", {"objectid": 1001, "facility": ""}).text == (
        "facility can't be an empty string"
    )
    r = _spec(user, tom, "planspectrum", {"objectid": 1001, "facility": "K", "plantime": "soon"})
    assert r.text == "Failed to parse 'soon' as YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"
    rm = _spec(user, tom, "removespectrumplan", {"objectid": 1002, "facility": "Keck"}).json()
    assert rm == {"status": "ok", "facility": "Keck", "objectid": 1002, "n_deleted": 1}

    _spec(user, tom, "askforspectrum", {"requester": "you", "objectids": [1001], "priorities": [1]})
    info = {"objectid": 1001, "facility": "Keck", "mjd": 60294.17, "z": "", "classid": None}
    rep = _spec(user, tom, "reportspectruminfo", {**info, "extra": 1}).json()
    assert list(rep) == ["status", "objectid", "facility", "inserted_at", "mjd", "z", "classid"]
    assert (rep["mjd"], rep["z"], rep["classid"]) == (60294.17, "", None)
    left = admin.execute("SELECT count(*) FROM elasticc2_wantedspectra WHERE diaobject_id = 1001")
    assert left.fetchone() == (0,)  # every requester's row is gone
    assert _spec(user, tom, "reportspectruminfo", {"objectid": 1001}).text == (
        "Incorrect fields. Missing required fields: {missingkeys}."
    )
    assert _spec(user, tom, "reportspectruminfo", {**info, "objectid": 5}).text == (
        "Unknown objectid 5"
    )
    known = _spec(user, tom, "getknownspectruminfo", {"objectid": [1001]}).json()
    assert list(known) == ["status", "spectra"] and len(known["spectra"]) == 1
    spec = known["spectra"][0]
    assert list(spec) == ["objectid", "facility", "mjd", "z", "classid", "report_time"]
    assert spec["mjd"] == f4(60294.17) == 60294.17 and spec["z"] is None
    r = _spec(user, tom, "getknownspectruminfo", {"mjd_min": 1})
    assert r.text == "Exception in GetKnownSpectrumInfo: 'mjd'"
    r = _spec(user, tom, "getknownspectruminfo", {"mjd_min": 1, "mjd": 70000})
    assert r.json()["spectra"] == []


# ------------------------------------------------------------------------- §3.11 HTML pages


@pytest.mark.parametrize(
    "page",
    [
        "",
        "classifiers",
        "alertstreamhists",
        "brokertimedelays",
        "brokercompleteness",
        "confmatrixlatest",
    ],
)
def test_html_pages(user, tom, page):
    r = user.get(f"{tom.url}/elasticc2/{page}")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    assert "<h1>" in r.text


def test_html_pages_show_the_database(user, superuser, tom):
    main = user.get(f"{tom.url}/elasticc2/").text
    assert f"{len(OBJECTS)} diaObject" in main
    assert "TestBroker" in user.get(f"{tom.url}/elasticc2/classifiers").text
    assert user.get(f"{tom.url}/elasticc2/adminsummary").status_code == 403
    admin_page = superuser.get(f"{tom.url}/elasticc2/adminsummary")
    assert admin_page.status_code == 200 and "elasticc2_ppdbdiaobject" in admin_page.text
