"""Attacks on the local TOM's SQL sandbox, each checked on the real database afterwards: nothing may
leave the rolled-back transaction, change a role, persist a large object, reach another user's
queries, or make the server hold an unbounded result in memory. Also the request limits, the login
throttle and orphaned long queries. Real HTTP, real PostgreSQL.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from test_tom import add_user, admin, client, sample, tom  # noqa: F401 (module fixtures)

from elasticc_tutorial.localtom import LocalTom
from elasticc_tutorial.localtom.readonly import RO_ROLE, USER_ROLE_PREFIX
from elasticc_tutorial.localtom.runner import ORPHAN_TEXT
from elasticc_tutorial.tom import TomClient

pytestmark = pytest.mark.slow


def error_of(client, body) -> str:  # noqa: F811
    r = client.post("db/runsqlquery/", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "error", out
    return out["error"]


def role_of(admin, username: str) -> str:  # noqa: F811
    (pk,) = admin.execute(
        "SELECT id FROM elasticc_tutorial_local.auth_user WHERE username = %s", (username,)
    ).fetchone()
    return f"{USER_ROLE_PREFIX}{pk}"


def role_settings(admin, role: str):  # noqa: F811
    return admin.execute(
        "SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
        "WHERE r.rolname = %s",
        (role,),
    ).fetchall()


@pytest.mark.parametrize(
    "queries",
    [
        ["COMMIT", "ALTER ROLE current_user SET idle_session_timeout = '200ms'", "SELECT 1 AS x"],
        ["COMMIT; ALTER ROLE current_user SET idle_session_timeout = '200ms'"],
        ["/* c */ commit -- x", "ALTER ROLE current_user SET idle_session_timeout = '200ms'"],
        ["ALTER ROLE current_user SET idle_session_timeout = '200ms'", "END"],
        ["SELECT 1", "ROLLBACK AND CHAIN", "ALTER ROLE current_user SET work_mem = '1MB'"],
    ],
)
def test_transaction_control_cannot_persist_a_role_setting(client, admin, tom, queries):  # noqa: F811
    msg = error_of(client, {"query": queries})
    assert "is refused" in msg and "rolled back" in msg
    role = role_of(admin, tom.username)
    assert role_settings(admin, role) == []
    # and the connection still works normally afterwards (no 200 ms idle timeout anywhere)
    time.sleep(0.3)
    assert client.sql("SELECT 1 AS x")["x"].to_list() == [1]


def test_alter_role_inside_the_transaction_is_refused_and_rolled_back(client, admin, tom):  # noqa: F811
    assert "is refused" in error_of(
        client, {"query": "ALTER ROLE current_user SET idle_session_timeout = '200ms'"}
    )
    assert role_settings(admin, role_of(admin, tom.username)) == []


@pytest.mark.parametrize(
    "query",
    [
        "SELECT lo_from_bytea(0, 'evil'::bytea)",
        "SELECT lo_create(0)",
        "SELECT lo_creat(-1)",
        "SELECT lo_import('/etc/hostname')",
    ],
)
def test_large_objects_never_persist(client, admin, query):  # noqa: F811
    before = admin.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone()
    assert "permission denied" in error_of(client, {"query": query})
    assert admin.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone() == before


def test_each_user_has_a_role_in_the_read_only_group(client, admin, tom):  # noqa: F811
    client.sql("SELECT 1 AS x")
    role = role_of(admin, tom.username)
    granted = admin.execute(
        "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
        (role,),
    ).fetchall()
    assert granted == [(RO_ROLE,)]
    flags = admin.execute(
        "SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = %s",
        (role,),
    ).fetchone()
    assert flags == (False, False, False, False)
    assert client.sql("SELECT current_user AS u")["u"].to_list() == [role]
    # the TOM's own tables (accounts, sessions, everyone's queries) are out of reach ...
    for table in ("auth_user", "django_session", "db_queryqueue", "role_password"):
        assert "permission denied for schema elasticc_tutorial_local" in error_of(
            client, {"query": f"SELECT * FROM elasticc_tutorial_local.{table}"}
        )
        assert "does not exist" in error_of(client, {"query": f"SELECT * FROM {table}"})
    # ... and so is public itself: the group has no grant there, it reads through its views
    assert "permission denied for table elasticc2_diaobject" in error_of(
        client, {"query": "SELECT * FROM public.elasticc2_diaobject"}
    )
    assert client.sql("SELECT count(*) AS n FROM elasticc2_diaobject")["n"].to_list() == [
        admin.execute("SELECT count(*) FROM public.elasticc2_diaobject").fetchone()[0]
    ]


def test_users_cannot_see_or_stop_each_others_queries(client, admin, tom):  # noqa: F811
    other = TomClient(tom.url, username="victim", password=add_user(admin, "victim"))
    victim_role = role_of(admin, "victim")
    done: dict = {}

    def victim():
        done["rows"] = other.sql("SELECT 'secret' || '-marker' AS m, pg_sleep(2.5) AS s")

    t = threading.Thread(target=victim)
    t.start()
    try:
        for _ in range(100):  # wait until the victim's query runs
            if admin.execute(
                "SELECT 1 FROM pg_stat_activity WHERE usename = %s AND state = 'active'",
                (victim_role,),
            ).fetchone():
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the victim's query never showed up")
        seen = client.sql(
            "SELECT usename, query FROM pg_stat_activity WHERE usename = %(r)s", {"r": victim_role}
        )
        assert seen.height >= 1
        assert all("marker" not in q for q in seen["query"].to_list())
        assert set(seen["query"].to_list()) == {"<insufficient privilege>"}
        msg = error_of(
            client,
            {
                "query": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %(r)s",
                "subdict": {"r": victim_role},
            },
        )
        assert "permission denied" in msg
        assert "permission denied" in error_of(
            client,
            {
                "query": "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = %(r)s",
                "subdict": {"r": victim_role},
            },
        )
    finally:
        t.join(30)
    assert done["rows"]["m"].to_list() == ["secret-marker"]  # the victim's query was untouched


def vm_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def roomy(sample):  # noqa: F811
    """A local TOM with the default 60 s time limit: reading a million rows takes seconds."""
    with LocalTom(sample) as server:
        yield (
            server,
            TomClient(server.url, username=server.username, passwordfile=server.passwordfile),
        )


def test_huge_results_stop_at_the_limits(roomy):
    server, tom_client = roomy
    # (in the select list the series streams; in FROM, PostgreSQL would first materialise it)
    msg = error_of(tom_client, {"query": "SELECT generate_series(1, 1e8::bigint) AS g"})
    assert "more than 1000000 rows" in msg and "db/submitsqlquery/" in msg
    msg = error_of(
        tom_client, {"query": "SELECT repeat('x', 100000) AS s FROM generate_series(1, 3000)"}
    )
    assert f"larger than {256 * 1024 * 1024} bytes" in msg
    # The server streamed through a cursor: it never held the 1e8 rows nor the 300 MB.
    assert vm_peak_mb(server._proc.pid) < 400


def test_request_size_limits_are_stated(client):  # noqa: F811
    keys = {f"k{i}": i for i in range(4000)}
    query = "SELECT " + " + ".join(f"%(k{i})s" for i in range(4000))
    msg = error_of(client, {"query": query, "subdict": keys})
    assert "4000 keys" in msg and "the limit is 1000" in msg
    msg = error_of(client, {"query": "SELECT 1 -- " + "x" * 1_000_001})
    assert "the limit is 1000000" in msg
    msg = error_of(client, {"query": ["SELECT 1"] * 101})
    assert "too many queries: 101 (the limit is 100)" in msg
    r = client.post("db/runsqlquery/", data=b"x" * (17 * 1024 * 1024))
    assert r.status_code == 413 and str(16 * 1024 * 1024) in r.text


def test_statement_timeout_covers_everything(client):  # noqa: F811
    msg = error_of(client, {"query": ["SET statement_timeout = 0", "SELECT pg_sleep(30)"]})
    assert "cancel" in msg


def test_role_passwords_never_reach_the_log(client, admin, tom):  # noqa: F811
    client.sql("SELECT 1 AS x")
    passwords = [
        p for (p,) in admin.execute("SELECT password FROM elasticc_tutorial_local.role_password")
    ]
    assert passwords
    log = tom.log_path.read_text()
    assert not any(p in log for p in passwords)
    mode = admin.execute(
        "SELECT has_schema_privilege(%s, 'elasticc_tutorial_local', 'USAGE')",
        (role_of(admin, tom.username),),
    ).fetchone()
    assert mode == (False,)


def test_failed_logins_are_throttled(tom):  # noqa: F811
    import requests

    codes = []
    for _ in range(12):
        s = requests.Session()
        s.get(f"{tom.url}/accounts/login/")
        r = s.post(
            f"{tom.url}/accounts/login/",
            data={
                "username": "guesser",
                "password": "wrong",
                "csrfmiddlewaretoken": s.cookies["csrftoken"],
            },
        )
        codes.append(r.status_code)
    assert codes[:10] == [200] * 10  # the login form again, with its error
    assert codes[10:] == [429, 429]
    assert int(r.headers["Retry-After"]) > 0 and "too many failed logins" in r.text
    assert "10 per user name" in r.text


def forget_dead_handle(pgdata: Path, pid: int) -> None:
    """A SIGKILLed process cannot take itself off pgserver's list of handles on the cluster; take
    it off here, or the cluster would outlive the tests (the last live handle stops it)."""
    handles = pgdata / ".handle_pids.json"
    if handles.exists():
        pids = json.loads(handles.read_text())
        handles.write_text(json.dumps([p for p in pids if p != pid]))


def test_orphaned_long_query_fails_at_restart(sample, client, tom):  # noqa: F811
    second = LocalTom(sample, sql_timeout=3.0).start()
    try:
        c2 = TomClient(second.url, username=second.username, passwordfile=second.passwordfile)
        qid = c2.submit_sql("SELECT pg_sleep(20) AS s")
        for _ in range(100):
            if c2.check_sql(qid)["status"] == "started":
                break
            time.sleep(0.1)
        second._proc.kill()  # the server (and its runner) dies mid-query
        second._proc.wait()
        forget_dead_handle(sample / "tomdb", second._proc.pid)
    finally:
        second.stop()
    with LocalTom(sample, sql_timeout=3.0) as third:
        c3 = TomClient(third.url, username=third.username, passwordfile=third.passwordfile)
        state = c3.check_sql(qid)
        assert state["status"] == "error" and state["error"] == ORPHAN_TEXT
        r = c3.post(f"db/getsqlqueryresults/{qid}/")
        assert r.status_code == 500 and r.text == f"Query errored out: {ORPHAN_TEXT}"


def test_a_statement_ending_the_transaction_stops_the_request(sample):  # noqa: F811
    """The database-side guard behind the parser: whatever ends the transaction (here COMMIT,
    handed straight to the executor), the next statement never runs."""
    import psycopg

    from elasticc_tutorial import pg
    from elasticc_tutorial.localtom.readonly import ReadOnlyDatabase
    from elasticc_tutorial.localtom.sqltext import QueryError, split_statements

    stmts = split_statements(
        "CREATE TEMP TABLE marker AS SELECT 1 AS x; COMMIT; CREATE TEMP TABLE after AS SELECT 1"
    )
    with pg.embedded_server(sample / "tomdb") as url, psycopg.connect(url) as conn:
        with pytest.raises(QueryError, match="ended the request's transaction"):
            ReadOnlyDatabase._execute(conn, stmts, 5.0)
        assert conn.execute("SELECT to_regclass('pg_temp.after')").fetchone() == (None,)
