"""The local TOM's SQL interface against desc-tom's exact semantics (tom-fidelity.md §4): request
parsing, psycopg2's parameter binding (the ``%%`` rule, lists as tuples or ARRAYs), value encodings,
error texts, and the long-query formats and texts. Real HTTP, real PostgreSQL.

The unit tests of :mod:`elasticc_tutorial.localtom.sqltext` need no server.
"""

from __future__ import annotations

import io
import json
import pickle
import re
import time

import pytest
from test_tom import admin, client, sample, tom  # noqa: F401 (module fixtures)

from elasticc_tutorial.localtom.sqltext import QueryError, bind, refusal, split_statements

# ------------------------------------------------------------------------ binding, no server


@pytest.mark.parametrize(
    "query,subdict,expected",
    [
        ("SELECT 1", {}, "SELECT 1"),
        ("x LIKE 'a%%'", {}, "x LIKE 'a%'"),
        ("5 %% 3", {"unused": 1}, "5 % 3"),
        ("x = %(a)s", {"a": "it's"}, "x = 'it''s'"),
        ("x = %(a)s", {"a": "back\\slash"}, "x = E'back\\\\slash'"),
        ("x IN %(ids)s", {"ids": [1, 2]}, "x IN (1, 2)"),
        ("x IN %(ids)s", {"ids": []}, "x IN ()"),
        (
            "%(a)s, %(b)s, %(c)s, %(d)s",
            {"a": None, "b": True, "c": -1, "d": 0.5},
            "NULL, true,  -1, 0.5",
        ),
        ("%(n)s", {"n": float("nan")}, "'NaN'::float"),
    ],
)
def test_bind_like_psycopg2(query, subdict, expected):
    assert bind(query, subdict) == expected


def test_bind_lists_as_arrays_for_long_queries():
    assert bind("x = ANY(%(ids)s)", {"ids": [1, 2]}, lists_as_arrays=True) == "x = ANY(ARRAY[1,2])"
    assert bind("%(e)s", {"e": []}, lists_as_arrays=True) == "'{}'"


@pytest.mark.parametrize(
    "query,subdict,message",
    [
        ("x LIKE 'a%'", {}, "dict is not a sequence"),
        ("SELECT '100%'", {}, "dict is not a sequence"),
        ("SELECT %s", {}, "dict is not a sequence"),
        ("SELECT %(a)s, 'b%'", {"a": 1}, "argument formats can't be mixed"),
        ("SELECT %(a)s", {}, "'a'"),
        ("SELECT %(a", {"a": 1}, "incomplete placeholder: '%(' without ')'"),
        ("SELECT %(a)s", {"a": {"b": 1}}, "can't adapt type 'dict'"),
    ],
)
def test_bind_errors_keep_psycopg2_texts(query, subdict, message):
    with pytest.raises(QueryError) as exc:
        bind(query, subdict)
    assert str(exc.value).startswith(message)
    if "sequence" in message:
        assert "%%" in str(exc.value)  # the hint that teaches the rule


def test_bind_is_linear_in_the_subdict():
    # 4000 keys over a 400 kB query: one pass, not one scan of the query per key
    subdict = {f"k{i}": i for i in range(4000)}
    query = " + ".join(f"%(k{i % 4000})s" for i in range(40_000))
    out = bind(query, subdict)
    assert out.count("+") == 39_999 and out.startswith("0 + 1 + 2")


def test_split_respects_strings_comments_and_dollar_quotes():
    stmts = split_statements(
        "SELECT ';' AS a; -- x; y\n SELECT $f$ ; $f$ /* ; /* ; */ */; ;  SELECT \"a;b\" FROM t"
    )
    assert [s.words[0] for s in stmts] == ["SELECT", "SELECT", "SELECT"]
    assert stmts[0].text == "SELECT ';' AS a"


@pytest.mark.parametrize(
    "sql",
    [
        "COMMIT",
        "  /* hi */ commit and chain",
        "ROLLBACK",
        "BEGIN",
        "START TRANSACTION",
        "END",
        "ABORT",
        "SAVEPOINT a",
        "RELEASE SAVEPOINT a",
        "PREPARE TRANSACTION 'x'",
        "SET ROLE postgres",
        "set local role postgres",
        "SET SESSION AUTHORIZATION postgres",
        "SET SESSION SESSION AUTHORIZATION DEFAULT",
        "SET LOCAL SESSION AUTHORIZATION postgres",
        "SET SESSION ROLE postgres",
        "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
        "RESET ALL",
        "RESET statement_timeout",
        "DISCARD ALL",
        "ALTER ROLE current_user SET idle_session_timeout = '200ms'",
        "ALTER USER x PASSWORD 'y'",
        "ALTER SYSTEM SET work_mem = '1GB'",
        "CREATE ROLE x",
    ],
)
def test_refusals(sql):
    (stmt,) = split_statements(sql)
    assert refusal(stmt) is not None


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT 'COMMIT'",
        "SELECT commit FROM t",
        "SET search_path = public",
        "SET statement_timeout = 0",
        "SET SESSION work_mem = '8MB'",
        "SET LOCAL search_path = public",
        "WITH x AS (SELECT 1) SELECT * FROM x",
    ],
)
def test_no_false_refusals(sql):
    (stmt,) = split_statements(sql)
    assert refusal(stmt) is None


# ------------------------------------------------------------------------------ over HTTP


def run(client, body) -> dict:  # noqa: F811
    r = client.post("db/runsqlquery/", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def error_of(client, body) -> str:  # noqa: F811
    out = run(client, body)
    assert out["status"] == "error", out
    return out["error"]


def test_request_parsing_texts(client):  # noqa: F811
    r = client.post("db/runsqlquery/", data=b"", headers={"Content-Type": "application/json"})
    assert r.json() == {"status": "error", "error": "Expecting value: line 1 column 1 (char 0)"}
    assert error_of(client, ["SELECT 1"]) == "POST data must include 'query'"
    assert error_of(client, {"query": 5}) == "query must be either a list of strings or a string"
    assert error_of(client, {"query": ["SELECT 1", 2]}) == "queries must all be strings"
    assert (
        error_of(client, {"query": "SELECT 1", "subdict": None})
        == "subdict must be either a list of dicts or a dict"
    )
    assert error_of(client, {"query": "SELECT 1", "subdict": [1]}) == "subdicts must all be dicts"


def test_a_list_of_queries_with_one_dict_is_refused(client):  # noqa: F811
    msg = error_of(client, {"query": ["SELECT 1 AS a", "SELECT 2 AS b"], "subdict": {"x": 1}})
    assert "only the first query" in msg and "list of dicts" in msg
    msg = error_of(client, {"query": ["SELECT 1 AS a", "SELECT 2 AS b"], "subdict": [{}]})
    assert "must match" in msg and "only the first 1" in msg
    # Without subdict every query runs, and the rows come from the last one.
    assert run(client, {"query": ["SELECT 1 AS a", "SELECT 2 AS b"]})["rows"] == [{"b": 2}]


def test_percent_rule(client):  # noqa: F811
    msg = error_of(client, {"query": "SELECT 'SN%' AS x"})
    assert msg.startswith("dict is not a sequence") and "%%" in msg
    assert run(client, {"query": "SELECT 'SN%%' AS x, 5 %% 3 AS m"})["rows"] == [
        {"x": "SN%", "m": 2}
    ]
    assert error_of(client, {"query": "SELECT %(a)s AS x"}) == "'a'"
    rows = run(client, {"query": "SELECT %(a)s::text AS x", "subdict": {"a": "100%", "b": 1}})
    assert rows["rows"] == [{"x": "100%"}]


def test_lists_are_tuples_in_runsqlquery(client):  # noqa: F811
    out = run(
        client,
        {
            "query": "SELECT g FROM generate_series(1, 5) g WHERE g IN %(ids)s",
            "subdict": {"ids": [4, 2]},
        },
    )
    assert out["rows"] == [{"g": 2}, {"g": 4}]
    assert "syntax error" in error_of(
        client, {"query": "SELECT 1 WHERE 1 IN %(e)s", "subdict": {"e": []}}
    )
    assert error_of(client, {"query": "SELECT %(d)s", "subdict": {"d": {"a": 1}}}) == (
        "can't adapt type 'dict'"
    )


def test_several_statements_in_one_string_and_no_results(client):  # noqa: F811
    out = run(client, {"query": "CREATE TEMP TABLE t AS SELECT 7 AS x; SELECT x FROM t"})
    assert out["rows"] == [{"x": 7}]
    assert (
        error_of(client, {"query": "CREATE TEMP TABLE t2 AS SELECT 1 AS x"})
        == "no results to fetch"
    )
    assert error_of(client, {"query": "SELECT 1 INTO TEMP t3"}) == "no results to fetch"


def test_value_encodings_are_desc_toms(client):  # noqa: F811
    r = client.post(
        "db/runsqlquery/",
        json={
            "query": "SELECT avg(x) AS num, count(*) AS n, 0.1::real AS r, 123456789::real AS big, "
            "1234.5677::real AS r2, 0.2::float8 AS d, "
            "'2024-01-01 12:00:00.123456+00'::timestamptz AS ts, "
            "'2024-01-01 12:00:00+00'::timestamptz AS ts0, '2024-01-02'::date AS day, "
            "'1 day 2 hours'::interval AS dt, 'NaN'::float8 AS nan, 'Infinity'::float8 AS inf, "
            "'{\"a\": [1, 2]}'::jsonb AS j, ARRAY[1, 2]::smallint[] AS arr, "
            "'00000000-0000-0000-0000-000000000001'::uuid AS u "
            "FROM (VALUES (1::bigint), (3::bigint)) t(x)"
        },
    )
    text = r.text
    assert '"nan": NaN' in text and '"inf": Infinity' in text  # bare tokens, as Django writes
    assert '"r": 0.1' in text and '"big": 123456790.0' in text and '"r2": 1234.5677' in text
    row = r.json()["rows"][0]
    assert row["num"] == "2.0000000000000000" and row["n"] == 2 and row["d"] == 0.2
    assert row["ts"] == "2024-01-01T12:00:00.123Z" and row["ts0"] == "2024-01-01T12:00:00Z"
    assert row["day"] == "2024-01-02" and row["dt"] == "P1DT02H00M00S"
    assert row["j"] == {"a": [1, 2]} and row["arr"] == [1, 2]
    assert row["u"] == "00000000-0000-0000-0000-000000000001"
    assert error_of(client, {"query": "SELECT '\\x00'::bytea AS b"}) == (
        "Object of type memoryview is not JSON serializable"
    )


def test_duplicate_column_names_collapse(client):  # noqa: F811
    out = run(client, {"query": "SELECT 1 AS a, 2 AS b, 3 AS a"})
    assert list(out["rows"][0].items()) == [("a", 3), ("b", 2)]


def test_get_is_405_with_allow(client):  # noqa: F811
    r = client.get("db/runsqlquery/")
    assert r.status_code == 405 and r.headers["Allow"] == "POST" and r.content == b""


# ----------------------------------------------------------------------------- long queries


def wait_done(client, qid: str) -> dict:  # noqa: F811
    for _ in range(300):
        state = client.post(f"db/checksqlquery/{qid}/").json()
        if state["status"] in ("finished", "error"):
            return state
        time.sleep(0.1)
    raise AssertionError(f"query {qid} never finished")


def submit(client, body) -> str:  # noqa: F811
    out = client.post("db/submitsqlquery/", json=body).json()
    assert out["status"] == "ok", out
    return out["queryid"]


def test_long_query_formats(client):  # noqa: F811
    import pandas

    q = "SELECT g AS i, g * 0.5 AS half, g %% 2 = 0 AS even FROM generate_series(1, 3) g"
    qid = submit(client, {"query": q})
    state = wait_done(client, qid)
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00"
    for key in ("submitted", "started", "finished"):
        assert re.fullmatch(stamp, state[key]), state[key]
    assert list(state)[:5] == ["queryid", "queries", "subdicts", "submitted", "status"]
    r = client.post(f"db/getsqlqueryresults/{qid}/")
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert r.text.splitlines() == [",i,half,even", "0,1,0.5,False", "1,2,1.0,True", "2,3,1.5,False"]
    frame = pandas.read_csv(io.StringIO(r.text))
    assert list(frame.columns) == ["Unnamed: 0", "i", "half", "even"]

    qid = submit(client, {"query": q, "format": "pandas"})
    assert wait_done(client, qid)["status"] == "finished"
    r = client.post(f"db/getsqlqueryresults/{qid}/")
    assert r.headers["Content-Type"] == "application/octet-stream"
    frame = pickle.loads(r.content)
    assert isinstance(frame, pandas.DataFrame) and frame["i"].tolist() == [1, 2, 3]

    qid = submit(client, {"query": q, "format": "numpy"})
    state = wait_done(client, qid)
    assert (
        state["status"] == "error" and state["error"] == "numpy return format isn't implemented yet"
    )
    r = client.post(f"db/getsqlqueryresults/{qid}/")
    assert (
        r.status_code == 500
        and r.text == "Query errored out: numpy return format isn't implemented yet"
    )
    # numpy fails only after running: an SQL error comes first
    state = wait_done(client, submit(client, {"query": "SELECT * FROM nosuch", "format": "numpy"}))
    assert "nosuch" in state["error"]


def test_long_query_lists_are_arrays(client):  # noqa: F811
    q = "SELECT g FROM generate_series(1, 5) g WHERE g {} ORDER BY g"
    state = wait_done(
        client, submit(client, {"query": q.format("IN %(ids)s"), "subdict": {"ids": [2, 4]}})
    )
    assert state["status"] == "error" and 'syntax error at or near "ARRAY"' in state["error"]
    qid = submit(client, {"query": q.format("= ANY(%(ids)s)"), "subdict": {"ids": [2, 4]}})
    assert wait_done(client, qid)["subdicts"] == [{"ids": [2, 4]}]
    assert client.post(f"db/getsqlqueryresults/{qid}/").text.splitlines() == [",g", "0,2", "1,4"]


def test_long_query_texts(client):  # noqa: F811
    assert client.post(
        "db/submitsqlquery/", json={"query": "SELECT 1", "format": "xml"}
    ).json() == {
        "status": "error",
        "error": "Unknown format xml",
    }
    assert client.post("db/checksqlquery/abc/").json() == {
        "status": "error",
        "error": "['“abc” is not a valid UUID.']",
    }
    r = client.post("db/getsqlqueryresults/abc/")
    assert r.status_code == 500 and r.text == "['“abc” is not a valid UUID.']"
    unknown = "00000000-0000-0000-0000-000000000000"
    assert client.post(f"db/checksqlquery/{unknown}/").json() == {
        "status": "error",
        "error": f"Unknown query {unknown}",
    }
    r = client.post(f"db/getsqlqueryresults/{unknown}/")
    assert r.status_code == 500 and r.text.startswith(
        "'QuerySet' object has no attribute 'queryid'"
    )
    state = wait_done(client, submit(client, {"query": "CREATE TEMP TABLE x AS SELECT 1 AS a"}))
    assert state["error"].startswith("'NoneType' object is not iterable")
    qid = submit(client, {"query": "SELECT pg_sleep(0.5) AS s"})
    r = client.post(f"db/getsqlqueryresults/{qid}/")
    assert r.status_code == 500 and r.text in (
        f"Query {qid} hasn't started yet",
        f"Query {qid} hasn't finished yet",
    )
    wait_done(client, qid)
    assert json.loads(client.post(f"db/checksqlquery/{qid}/").text)["status"] == "finished"
