"""The local TOM under load: many concurrent clients get answers or 503 with Retry-After, never
another 5xx; half-sent requests hold no worker and are closed; over capacity is 503, not a crash.
Real HTTP on 127.0.0.1, real PostgreSQL; every loop is bounded.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter

import pytest
import requests
from test_tom import login_by_hand, sample  # noqa: F401 (module fixture)

from elasticc_tutorial.localtom import LocalTom
from elasticc_tutorial.localtom.http import CAPACITY_ENV

pytestmark = pytest.mark.slow


def hammer(url: str, cookies, headers, nclients: int, nrequests: int, query: str) -> list:
    """``nclients`` threads, each sending ``nrequests`` runsqlquery POSTs; every response's
    (status, Retry-After, JSON status or text)."""
    results: list = []
    lock = threading.Lock()
    start = threading.Barrier(nclients)

    def one() -> None:
        s = requests.Session()
        s.cookies.update(cookies)
        s.headers.update(headers)
        start.wait(60)
        for _ in range(nrequests):
            try:
                r = s.post(f"{url}/db/runsqlquery/", json={"query": query}, timeout=120)
                body = r.json().get("status") if r.status_code == 200 else r.text[:200]
                item = (r.status_code, r.headers.get("Retry-After"), body)
            except requests.RequestException as exc:
                item = ("exception", None, repr(exc))
            with lock:
                results.append(item)

    threads = [threading.Thread(target=one) for _ in range(nclients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return results


def logged_in(tom: LocalTom) -> requests.Session:
    return login_by_hand(tom.url, tom.username, tom.passwordfile.read_text().strip())


@pytest.fixture(scope="module")
def small_tom(sample, tmp_path_factory):  # noqa: F811
    """A local TOM with a tiny capacity, so that overload happens with few clients."""
    capacity = {
        "threads": 2,
        "sql_connections": 2,
        "connections_per_user": 2,
        "queue_timeout": 0.5,
        "channel_timeout": 2.0,
    }
    env = {CAPACITY_ENV: json.dumps(capacity)}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        server = LocalTom(sample, sql_timeout=10.0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def tom(sample):  # noqa: F811
    with LocalTom(sample) as server:
        yield server


def test_128_concurrent_clients_get_no_5xx_other_than_503(tom):
    s = logged_in(tom)
    results = hammer(
        tom.url, s.cookies, s.headers, 128, 4, "SELECT count(*) AS n FROM elasticc2_diaobject"
    )
    assert len(results) == 128 * 4
    codes = Counter(code for code, _, _ in results)
    assert set(codes) <= {200, 503}, codes
    assert all(body == "ok" for code, _, body in results if code == 200)
    assert all(int(retry) > 0 for code, retry, _ in results if code == 503)
    assert codes[200] > 0


def test_over_capacity_is_503_with_retry_after(small_tom):
    s = logged_in(small_tom)
    results = hammer(small_tom.url, s.cookies, s.headers, 12, 1, "SELECT pg_sleep(1) AS s")
    codes = Counter(code for code, _, _ in results)
    assert set(codes) <= {200, 503}, codes
    assert codes[503] > 0 and codes[200] > 0
    for code, retry, text in results:
        if code == 503:
            assert int(retry) > 0 and "retry in" in text


def test_half_sent_requests_hold_no_worker_and_are_closed(small_tom):
    host, port = small_tom.url.removeprefix("http://").split(":")
    socks = []
    for _ in range(4):  # more stalled requests than the server has worker threads
        sock = socket.create_connection((host, int(port)), timeout=30)
        sock.sendall(
            b"POST /db/runsqlquery/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"que'
        )
        socks.append(sock)
    try:
        s = logged_in(small_tom)  # served while the four requests stall
        r = s.post(f"{small_tom.url}/db/runsqlquery/", json={"query": "SELECT 1 AS x"})
        assert r.status_code == 200 and r.json()["rows"] == [{"x": 1}]
        for sock in socks:  # closed by the server after its channel timeout (2 s)
            data = b""
            while chunk := sock.recv(4096):
                data += chunk
            assert b"200 OK" not in data
    finally:
        for sock in socks:
            sock.close()


def test_pool_never_exceeds_its_budget_and_resets_sessions(sample):  # noqa: F811
    import psycopg

    from elasticc_tutorial import pg
    from elasticc_tutorial.localtom.pool import Overloaded, RolePool

    with pg.embedded_server(sample / "tomdb") as url:
        pool = RolePool(lambda role: psycopg.connect(url), max_total=3, max_per_role=2, timeout=0.2)
        try:
            with pool.connection("a") as a1, pool.connection("a"):
                a1.execute("SET work_mem = '1MB'")
                full = "at most 3 in all, 2 per user"
                with pytest.raises(Overloaded, match=full), pool.connection("a"):
                    pass
                with pool.connection("b"):
                    assert pool.stats() == {"open": 3, "idle": 0, "busy": 3}
                    with pytest.raises(Overloaded), pool.connection("c"):
                        pass
            with pool.connection("c"):  # an idle connection of another role makes room
                assert pool.stats()["open"] == 3
            with pool.connection("a") as again:  # reset at checkout: no setting survives
                assert again.execute("SHOW work_mem").fetchone() != ("1MB",)
        finally:
            pool.close()
        assert pool.stats()["open"] == 0
