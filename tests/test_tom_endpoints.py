"""TomClient's route helpers: the requests they build and how they read the answers, against a local
fake TOM that answers with the real TOM's exact shapes (tom-fidelity.md §3). The same helpers run
against the local TOM in tests/test_tom.py once it serves these routes."""

from __future__ import annotations

import io

import polars as pl
import pytest
from _tomfake import DROP, PASSWORD, USER, FakeTom, Request, json_response, response

from elasticc_tutorial.errors import TomError
from elasticc_tutorial.tom import TomClient

#: Records in DRF serializer order: isddf second, the FK key is "diaobject" (tom-fidelity §3.9).
OBJECTS = [
    {"diaobject_id": 100 + i, "isddf": i % 2 == 0, "simversion": "v", "ra": 10.0 + i, "decl": -5.0}
    for i in range(7)
]
SOURCES = [
    {
        "diasource_id": 9000 + i,
        "midpointtai": 60000.5 + i,
        "filtername": "r",
        "ra": 10.0,
        "decl": -5.0,
        "psflux": 100.5,
        "psfluxerr": 2.5,
        "snr": 40.2,
        "diaobject": 100,
    }
    for i in range(3)
]


def drf_list(records):
    """A DRF LimitOffsetPagination list view (default limit 100; limit 0 or invalid → 100)."""

    def answer(req: Request) -> bytes:
        try:
            limit = int(req.query.get("limit", ["100"])[0]) or 100
        except ValueError:
            limit = 100
        offset = int(req.query.get("offset", ["0"])[0])
        page = records[offset : offset + limit]
        base = f"http://testserver/{req.path}"
        nxt = (
            f"{base}?limit={limit}&offset={offset + limit}"
            if offset + limit < len(records)
            else None
        )
        prev = f"{base}?limit={limit}" if offset else None
        return json_response(
            200, {"count": len(records), "next": nxt, "previous": prev, "results": page}
        )

    return answer


@pytest.fixture
def fake():
    with FakeTom() as srv:
        yield srv


@pytest.fixture
def tom(fake):
    return TomClient(fake.url, username=USER, password=PASSWORD, backoff=0.01)


def test_ppdb_list_all_pages_one_page_and_detail(fake, tom):
    fake.script("elasticc2/ppdbdiaobject/", drf_list(OBJECTS))
    every = tom.ppdb_diaobject(page_size=3)
    assert every.to_dicts() == OBJECTS and every.columns[:2] == ["diaobject_id", "isddf"]
    asked = [
        (r.query["limit"], r.query["offset"]) for r in fake.requests_to("elasticc2/ppdbdiaobject/")
    ]
    assert asked == [(["3"], ["0"]), (["3"], ["3"]), (["3"], ["6"])]
    one_page = tom.ppdb_diaobject(limit=2, offset=4)
    assert one_page["diaobject_id"].to_list() == [104, 105]
    fake.script("elasticc2/ppdbdiaobject/103/", json_response(200, OBJECTS[3]))
    assert tom.ppdb_diaobject(103) == OBJECTS[3]
    fake.script("elasticc2/ppdbdiaobject/5/", json_response(404, {"detail": "Not found."}))
    with pytest.raises(TomError, match=r"ppdbdiaobject/5/: HTTP 404: Not found\.$") as exc:
        tom.ppdb_diaobject(5)  # a known route with an unknown pk: no "did you mean"
    assert exc.value.status == 404
    with pytest.raises(ValueError, match="limit must be a positive"):
        tom.ppdb_diaobject(limit=0)


def test_ppdb_sources_forced_sources_and_composites(fake, tom):
    fake.script("elasticc2/ppdbdiasource/", drf_list(SOURCES))
    fake.script("elasticc2/ppdbdiaforcedsource/", drf_list([]))
    assert tom.ppdb_diasource()["diaobject"].to_list() == [100, 100, 100]
    assert tom.ppdb_diaforcedsource().height == 0
    with_sources = {**OBJECTS[0], "diasources": SOURCES, "diaforcedsources": []}
    fake.script("elasticc2/ppdbdiaobjectwithsources/100/", json_response(200, with_sources))
    fake.script(
        "elasticc2/ppdbdiaobjectofsource/9001/",
        json_response(200, {**OBJECTS[0], "diasources": SOURCES[:2], "diaforcedsources": []}),
    )
    assert tom.ppdb_object_with_sources(100)["diasources"] == SOURCES
    assert [s["diasource_id"] for s in tom.ppdb_object_of_source(9001)["diasources"]] == [
        9000,
        9001,
    ]
    assert [r.method for r in fake.seen if r.path.startswith("elasticc2/ppdbdiaobjectof")] == [
        "GET"
    ]


def test_ltcv_names_ids_the_tom_left_out(fake, tom):
    known = [
        {
            "objectid": 100,
            "ra": 1.0,
            "dec": 2.0,
            "zp": 27.5,
            "photometry": {"mjd": [], "band": [], "flux": [], "fluxerr": []},
        }
    ]
    fake.script("elasticc2/ltcv", json_response(200, {"status": "ok", "diaobject": known}))
    with pytest.raises(
        TomError, match=r"no light curve for 2 of 3 objectids: 7, 8 \(pass allow_missing"
    ):
        tom.ltcv([8, 100, 7])
    assert fake.requests_to("elasticc2/ltcv")[0].json() == {
        "objectids": [8, 100, 7],
        "return_format": 0,
    }
    assert tom.ltcv([8, 100, 7], allow_missing=True) == known
    fmt2 = {"objectid": [100, 100], "ra": [1.0, 1.0], "mjd": [1.0, 2.0]}
    fake.script("elasticc2/ltcv", json_response(200, {"status": "ok", "diaobject": fmt2}))
    assert tom.ltcv(100, return_format=2, mjd_now=60001) == fmt2
    with pytest.raises(
        TomError, match=r"no light curve up to mjd_now=60001 for 1 of 2 objectids: 5 \("
    ):
        tom.ltcv([100, 5], return_format=2, mjd_now=60001)
    assert fake.requests_to("elasticc2/ltcv")[-1].json()["mjd_now"] == 60001.0


def test_ltcvfeatures_request_and_answer(fake, tom):
    features = {
        "anderson_darling_normal": 0.5,
        "lightcurve": {"mjd": [1.0], "flux": [2.0], "dflux": [0.1]},
    }
    fake.script("elasticc2/ltcvfeatures", json_response(200, features))
    assert tom.ltcv_features(sourceid=9001, through_mjd=60001.5, include_ltcv=True) == features
    assert fake.requests_to("elasticc2/ltcvfeatures")[0].json() == {
        "sourceid": 9001,
        "through_mjd": 60001.5,
        "includeltcv": 1,
    }
    fake.script(
        "elasticc2/ltcvfeatures",
        response(500, b"Exception in LtcvFeatures: too few points", "text/plain"),
    )
    with pytest.raises(
        TomError,
        match=r"elasticc2/ltcvfeatures: HTTP 500: Exception in LtcvFeatures: too few points",
    ):
        tom.ltcv_features(100)
    with pytest.raises(ValueError, match="exactly one of objectid or sourceid"):
        tom.ltcv_features(100, sourceid=3)


def classification(alert: int) -> dict:
    return {
        "alertId": alert,
        "diaSourceId": alert,
        "elasticcPublishTimestamp": 1700000000000,
        "brokerIngestTimestamp": 1700000001000,
        "brokerName": "B",
        "brokerVersion": "1",
        "classifierName": "C",
        "classifierParams": "p",
        "classifications": [{"classId": 2222, "probability": 0.9}],
    }


def test_broker_messages_put(fake, tom):
    created = {"brokerMessageId": 41, "num_loaded": 2}
    fake.script(
        "elasticc2/brokermessage/",
        json_response(201, created, Location="http://x/elasticc2/brokermessage/41"),
    )
    assert tom.send_broker_messages([classification(1), classification(2)]) == created
    (req,) = fake.requests_to("elasticc2/brokermessage/")
    assert req.method == "PUT" and req.json() == [classification(1), classification(2)]
    assert req.headers["x-csrftoken"] == "tok2"  # the token Django rotated at login
    # Raw put() is the DESC client's: any status comes back.
    fake.script("elasticc2/brokermessage/", response(403, b"<h1>403 Forbidden</h1>", "text/html"))
    assert tom.put("elasticc2/brokermessage/", json=[classification(3)]).status_code == 403
    with pytest.raises(TomError, match=r"brokermessage/: HTTP 403"):
        tom.send_broker_messages(classification(3))
    bad = classification(4)
    del bad["brokerIngestTimestamp"]
    with pytest.raises(ValueError, match=r"classifications\[1\] lacks brokerIngestTimestamp"):
        tom.send_broker_messages([classification(5), bad])
    with pytest.raises(ValueError, match="empty"):
        tom.send_broker_messages([])


def test_put_is_never_repeated(fake, tom):
    fake.script(
        "elasticc2/brokermessage/",
        DROP,
        json_response(201, {"brokerMessageId": 1, "num_loaded": 1}),
    )
    with pytest.raises(TomError, match="PUT elasticc2/brokermessage/"):
        tom.send_broker_messages(classification(1))
    assert len(fake.requests_to("elasticc2/brokermessage/")) == 1


def test_spectrum_routes(fake, tom):
    fake.script(
        "elasticc2/askforspectrum",
        json_response(200, {"status": "ok", "message": "wanted spectra created", "num": 2}),
    )
    assert tom.ask_for_spectrum([100, 101], [3, 9], requester="me")["num"] == 2
    assert fake.requests_to("elasticc2/askforspectrum")[0].json() == {
        "requester": "me",
        "objectids": [100, 101],
        "priorities": [3, 9],
    }
    wanted = [
        {
            "oid": 100,
            "ra": 1.0,
            "dec": 2.0,
            "req": "me",
            "prio": 5,
            "latest": {"r": {"mjd": 60000.5, "mag": 21.5}},
        }
    ]
    fake.script(
        "elasticc2/spectrawanted", json_response(200, {"status": "ok", "wantedspectra": wanted})
    )
    assert tom.spectra_wanted(detected_in_last_days=30) == wanted
    assert fake.requests_to("elasticc2/spectrawanted")[0].json() == {"detected_in_last_days": 30}
    plan = {
        "status": "ok",
        "objectid": 100,
        "facility": "SOAR",
        "created_at": "2024-01-01T12:00:00.123Z",
        "plantime": "2024-01-02T00:00:00",
        "comment": "",
    }
    fake.script("elasticc2/planspectrum", json_response(200, plan))
    assert tom.plan_spectrum(100, "SOAR", plantime="2024-01-02") == plan
    assert fake.requests_to("elasticc2/planspectrum")[0].json() == {
        "objectid": 100,
        "facility": "SOAR",
        "comment": "",
        "plantime": "2024-01-02",
    }
    fake.script(
        "elasticc2/removespectrumplan",
        json_response(200, {"status": "ok", "facility": "SOAR", "objectid": 100, "n_deleted": 1}),
    )
    assert tom.remove_spectrum_plan(100, "SOAR")["n_deleted"] == 1
    fake.script(
        "elasticc2/reportspectruminfo",
        json_response(
            200,
            {
                "status": "ok",
                "objectid": 100,
                "facility": "SOAR",
                "inserted_at": "x",
                "mjd": 60001.25,
                "z": None,
                "classid": 2222,
            },
        ),
    )
    assert tom.report_spectrum_info(100, "SOAR", 60001.25, classid=2222)["classid"] == 2222
    assert fake.requests_to("elasticc2/reportspectruminfo")[0].json() == {
        "objectid": 100,
        "facility": "SOAR",
        "mjd": 60001.25,
        "z": None,
        "classid": 2222,
    }
    spectra = [
        {
            "objectid": 100,
            "facility": "SOAR",
            "mjd": 60001.25,
            "z": None,
            "classid": 2222,
            "report_time": "x",
        }
    ]
    fake.script(
        "elasticc2/getknownspectruminfo", json_response(200, {"status": "ok", "spectra": spectra})
    )
    assert tom.known_spectrum_info(objectid=100) == spectra
    fake.script(
        "elasticc2/planspectrum",
        response(
            500,
            b"Exception in PlanToDoSpectrum: name 'HttpRespose' is not defined",
            "text/plain; charset=utf-8",
        ),
    )
    with pytest.raises(TomError, match="HttpRespose"):
        tom.plan_spectrum(5, "SOAR")
    with pytest.raises(ValueError, match="2 objectids but 1 priorities"):
        tom.ask_for_spectrum([1, 2], [3], requester="me")
    # Every spectrum route is POST-only, without a trailing slash.
    assert {r.method for r in fake.seen if "spectr" in r.path} == {"POST"}


def test_metric_tables_json_and_pickle(fake, tom):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"m.probability": [0.5, 0.25]},
        index=pd.MultiIndex.from_tuples([(-1, 2222), (0, 2223)], names=["relday", "m.classid"]),
    )
    route = "elasticc2/brokerclassfortruetype/{}/meanprobabilities/13/2222/"
    fake.script(route.format("dict"), json_response(200, frame.to_dict(orient="tight")))
    got = tom.broker_class_for_true_type("meanprobabilities", 13, 2222)
    assert got.equals(
        pl.DataFrame({"relday": [-1, 0], "m.classid": [2222, 2223], "m.probability": [0.5, 0.25]})
    )
    buf = io.BytesIO()
    frame.to_pickle(buf)
    fake.script(route.format("pickle"), response(200, buf.getvalue(), "application/octet-stream"))
    pd.testing.assert_frame_equal(
        tom.broker_class_for_true_type("meanprobabilities", 13, 2222, dataformat="pickle"), frame
    )
    fake.script(
        route.format("dict").replace("13", "99"),
        json_response(400, {"error": "Can't find data file for classifier 99, class 2222"}),
    )
    with pytest.raises(TomError, match="HTTP 400: Can't find data file for classifier 99"):
        tom.broker_class_for_true_type("meanprobabilities", 99, 2222)
    with pytest.raises(ValueError, match="what must be one of"):
        tom.broker_class_for_true_type("meanprobs", 13, 2222)


def test_misspelled_routes_list_the_closest_real_ones(fake, tom):
    with pytest.raises(
        TomError,
        match=r"GET elasticc2/ppdbdiaobjct/3/: no such route.*did you mean elasticc2/ppdbdiaobject/",
    ):
        tom.query("elasticc2/ppdbdiaobjct/3/", method="GET")
    with pytest.raises(TomError, match=r"did you mean elasticc2/gethottransients"):
        tom.query("elasticc2/gethotsne/10/")
