"""TomClient under transport faults, for real over sockets: a local fake TOM (tests/_tomfake.py) cuts
bodies, drops connections, answers 503 + Retry-After, hangs, or sends invalid JSON."""

from __future__ import annotations

import json
import socket

import polars as pl
import pytest
from _tomfake import (
    DROP,
    HANG,
    PASSWORD,
    USER,
    FakeTom,
    cut_chunked,
    cut_content_length,
    json_response,
    response,
)

from elasticc_tutorial.errors import TomError, TomSettingsError
from elasticc_tutorial.tom import TomClient

CSV = b",a,b\n" + b"".join(b"%d,%d,x%d\n" % (i, i, i) for i in range(2000))
QID = "6f1c8c1e-0000-4000-8000-000000000001"
RESULTS = f"db/getsqlqueryresults/{QID}/"
CHECK = f"db/checksqlquery/{QID}/"


@pytest.fixture
def fake():
    with FakeTom() as srv:
        yield srv


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """Every wait the client asks for (retries, Retry-After, polling), slept for real."""
    asked: list[float] = []
    real = TomClient._sleep

    def record(self, seconds: float) -> None:
        asked.append(seconds)
        real(self, seconds)

    monkeypatch.setattr(TomClient, "_sleep", record)
    return asked


def client(fake: FakeTom, **kw) -> TomClient:
    kw.setdefault("backoff", 0.01)
    return TomClient(fake.url, username=USER, password=PASSWORD, **kw)


def rows(n: int = 1) -> bytes:
    return json_response(200, {"status": "ok", "rows": [{"n": i} for i in range(n)]})


def no_part_files(path) -> bool:
    return not list(path.rglob("*.part"))


def test_connection_refused_is_a_tom_error_naming_the_route():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TomError, match=r"GET accounts/login/ .*connection refused") as exc:
        TomClient(f"http://127.0.0.1:{port}", username=USER, password=PASSWORD, backoff=0.01)
    assert exc.value.status is None and exc.value.page == "accounts/login/"
    assert not isinstance(exc.value, TomSettingsError)


def test_cut_json_body_is_retried_for_a_safe_route(fake):
    body = json.dumps({"status": "ok", "rows": [{"n": 7}]}).encode()
    fake.script(
        "db/runsqlquery/", cut_content_length(body), cut_chunked(body, "application/json"), rows()
    )
    c = client(fake)
    assert c.sql("SELECT 1")["n"].to_list() == [0]
    assert len(fake.requests_to("db/runsqlquery/")) == 3


def test_cut_body_of_an_unsafe_route_is_not_repeated(fake):
    body = json.dumps({"status": "ok", "queryid": QID}).encode()
    fake.script(
        "db/submitsqlquery/",
        cut_content_length(body),
        json_response(200, {"status": "ok", "queryid": QID}),
    )
    c = client(fake)
    with pytest.raises(TomError, match=r"POST db/submitsqlquery/ .*cut off") as exc:
        c.submit_sql("SELECT 1")
    assert exc.value.page == "db/submitsqlquery/"
    assert len(fake.requests_to("db/submitsqlquery/")) == 1


def test_503_retry_after_is_honoured(fake, waits):
    fake.script("db/runsqlquery/", response(503, b"busy", "text/plain", Retry_After="1"), rows(2))
    c = client(fake, backoff=0.01)
    assert c.sql("SELECT 1").height == 2
    assert waits == [1.0]  # what the server asked, not the client's own 0.01 s backoff
    first, second = fake.requests_to("db/runsqlquery/")
    assert first.body == second.body


def test_retry_after_is_bounded_by_max_wait(fake, waits):
    fake.script("db/runsqlquery/", response(503, b"busy", "text/plain", Retry_After="3600"), rows())
    assert client(fake, max_wait=0.2).sql("SELECT 1").height == 1
    assert waits == [0.2]  # not the hour the server asked for


def test_503_that_persists_says_the_server_is_overloaded(fake):
    fake.script("db/runsqlquery/", response(503, b"busy", "text/plain", Retry_After="0"))
    c = client(fake, retries=2)
    with pytest.raises(TomError, match=r"HTTP 503: busy .*overloaded.*retry after 0 s") as exc:
        c.sql("SELECT 1")
    assert exc.value.status == 503
    assert len(fake.requests_to("db/runsqlquery/")) == 3


def test_dropped_connections_are_retried_then_reported(fake, waits):
    fake.script("elasticc2/classids", DROP, DROP, json_response(200, {"0": {}}))
    c = client(fake, backoff=0.02)
    assert c.classids() == {"0": {}}
    assert waits == [0.02, 0.04]  # exponential backoff
    fake.script("elasticc2/classids", DROP)
    with pytest.raises(TomError, match=r"GET elasticc2/classids .*failed after 3 attempts"):
        client(fake, retries=2).classids()


def test_timeout_is_a_tom_error(fake):
    fake.script("db/runsqlquery/", HANG)
    c = client(fake, timeout=(2, 0.3), retries=1)
    with pytest.raises(TomError, match=r"POST db/runsqlquery/ .*no answer within the read timeout"):
        c.sql("SELECT 1")
    assert len(fake.requests_to("db/runsqlquery/")) == 2


def test_invalid_json_is_a_tom_error_naming_the_route(fake):
    fake.script("db/runsqlquery/", response(200, b'{"status": "ok", "rows": [', "application/json"))
    with pytest.raises(
        TomError, match=r"db/runsqlquery/: HTTP 200 with a body that is not valid JSON"
    ):
        client(fake).sql("SELECT 1")


def test_cut_csv_download_is_fetched_again_and_leaves_no_part_file(fake, tmp_path):
    fake.script(
        RESULTS, cut_chunked(CSV), cut_chunked(CSV), response(200, CSV, "text/csv; charset=utf-8")
    )
    dest = tmp_path / "out.csv"
    lazy = client(fake).sql_results(QID, dest=dest)
    assert dest.read_bytes() == CSV and no_part_files(tmp_path)
    assert lazy.collect().equals(
        pl.DataFrame({"a": list(range(2000)), "b": [f"x{i}" for i in range(2000)]})
    )
    assert len(fake.requests_to(RESULTS)) == 3


def test_download_that_keeps_breaking_leaves_nothing(fake, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    fake.script(RESULTS, cut_chunked(CSV))
    dest = tmp_path / "kept.csv"
    with pytest.raises(TomError, match=r"download broke after \d+ bytes"):
        client(fake, retries=1).sql_results(QID, dest=dest)
    assert not dest.exists() and no_part_files(tmp_path)
    with pytest.raises(TomError):
        client(fake, retries=0).sql_results(QID)
    assert list((tmp_path / "tmp").iterdir()) == []  # the temporary directory is gone too


def test_keyboard_interrupt_during_download_leaves_no_part_file(fake, tmp_path, monkeypatch):
    fake.script(RESULTS, response(200, CSV, "text/csv"))
    import requests

    real = requests.Response.iter_content

    def interrupted(self, *a, **k):
        it = real(self, *a, **k)
        yield next(it)
        raise KeyboardInterrupt

    monkeypatch.setattr(requests.Response, "iter_content", interrupted)
    dest = tmp_path / "out.csv"
    with pytest.raises(KeyboardInterrupt):
        client(fake).sql_results(QID, dest=dest)
    assert not dest.exists() and no_part_files(tmp_path)


def test_long_sql_raises_at_once_when_the_server_marks_the_query_failed(fake):
    fake.script("db/submitsqlquery/", json_response(200, {"status": "ok", "queryid": QID}))
    fake.script(
        CHECK,
        json_response(200, {"queryid": QID, "status": "queued"}),
        json_response(
            200, {"queryid": QID, "status": "error", "error": "runner died (marked failed)"}
        ),
    )
    with pytest.raises(TomError, match=r"failed on the TOM: runner died \(marked failed\)"):
        client(fake).long_sql("SELECT 1", poll=0.01, progress=False)
    assert len(fake.requests_to(CHECK)) == 2 and not fake.requests_to(RESULTS)


def test_long_sql_polls_with_growing_waits_until_its_timeout(fake, waits):
    fake.script("db/submitsqlquery/", json_response(200, {"status": "ok", "queryid": QID}))
    fake.script(CHECK, json_response(200, {"queryid": QID, "status": "started"}))
    with pytest.raises(TomError, match=rf"{QID} is still started after 2 s.*check_sql"):
        client(fake).long_sql("SELECT 1", poll=0.05, max_poll=0.3, timeout=2.0, progress=False)
    assert waits[:5] == pytest.approx([0.05, 0.075, 0.1125, 0.16875, 0.253125])
    assert max(waits) == 0.3  # capped at max_poll
    assert sum(waits) <= 2.0  # never sleeps past the timeout
    assert len(fake.requests_to(CHECK)) == len(waits) + 1


def test_long_sql_pandas_format_reads_the_pickle(fake):
    pd = pytest.importorskip("pandas")
    import io

    frame = pd.DataFrame({"diaobject_id": [1, 2], "ra": [0.5, 1.5]})
    buf = io.BytesIO()
    frame.to_pickle(buf)
    fake.script("db/submitsqlquery/", json_response(200, {"status": "ok", "queryid": QID}))
    fake.script(CHECK, json_response(200, {"queryid": QID, "status": "finished"}))
    fake.script(RESULTS, response(200, buf.getvalue(), "application/octet-stream"))
    got = client(fake).long_sql("SELECT 1", format="pandas", progress=False)
    pd.testing.assert_frame_equal(got, frame)
    assert fake.requests_to("db/submitsqlquery/")[0].json()["format"] == "pandas"


def test_wrong_password_and_misspelled_route(fake):
    with pytest.raises(TomError, match="wrong username or password"):
        TomClient(fake.url, username=USER, password="nope")
    with pytest.raises(TomError, match=r"no such route.*did you mean elasticc2/ltcv\b"):
        client(fake).query("elasticc2/ltcvs", {"objectids": [1]})
