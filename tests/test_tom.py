"""The local TOM and the TomClient over real HTTP, on a real PostgreSQL (the embedded cluster).

One local TOM serves the whole module. Its database holds the real ``elasticc2_*`` schema (from
``elasticc_tutorial.sample.db``) with the taxonomy tables and a handful of objects written here, so
every expected value below is derived from the rows this file inserts.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import socket
import socketserver
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import psycopg
import pytest
import requests
from _tomfake import read_request

from elasticc_tutorial import pg
from elasticc_tutorial.errors import TomSettingsError
from elasticc_tutorial.localtom import LocalTom
from elasticc_tutorial.sample import db
from elasticc_tutorial.tom import TomClient, TomError, connection, normalize_page

pytestmark = pytest.mark.slow

# Three objects: two SN Ia (gentype 10) and one SN Ib (gentype 20); 20 forced points each, 3 days
# apart from peak - 30; points 8..14 are detections (sources, one alert each).
OBJECTS = {
    1001: {"ra": 10.0, "decl": -5.0, "gentype": 10, "peak": 60830.0},
    1002: {"ra": 20.0, "decl": -6.0, "gentype": 10, "peak": 60850.0},
    1003: {"ra": 30.0, "decl": -7.0, "gentype": 20, "peak": 60900.0},
}
NPOINT = 20
DETECTED = range(8, 15)
BANDS = "ugrizY"
CLASSIFIER = 7


def point(obj: int, k: int) -> dict:
    o = OBJECTS[obj]
    return {
        "id": obj * 1000 + k,
        "mjd": o["peak"] - 30.0 + 3.0 * k,
        "band": BANDS[k % 6],
        "flux": 100.0 * k + obj % 10,
        "err": 10.0,
    }


def probs(obj: int) -> tuple[list[int], list[float]]:
    """The latest classification of each of the object's sources."""
    return (
        ([2222, 2223], [0.75, 0.25])
        if OBJECTS[obj]["gentype"] == 10
        else ([2222, 2223], [0.5, 0.5])
    )


def _fill(table: str, row: dict) -> dict:
    """``row`` plus zero values for the table's other NOT NULL columns."""
    zero = {"bigint": 0, "integer": 0, "smallint": 0, "real": 0.0, "double precision": 0.0}
    out = dict(row)
    for name, typ, notnull, extra in db.COLUMNS[table]:
        if notnull and name not in out and "IDENTITY" not in extra:
            if typ in zero:
                out[name] = zero[typ]
            elif typ == "boolean":
                out[name] = False
            elif typ.startswith("timestamp"):
                out[name] = "2026-01-01T00:00:00Z"
            else:
                out[name] = ""
    return out


def _insert(conn: psycopg.Connection, table: str, rows: list[dict]) -> None:
    for row in rows:
        row = _fill(table, row)
        cols = ", ".join(row)
        ph = ", ".join(f"%({c})s" for c in row)
        conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({ph})", row)


def load_fixture_rows(conn: psycopg.Connection) -> None:
    db.load(conn, db.taxonomy_tables())
    for prefix in ("elasticc2_ppdb", "elasticc2_"):
        objtable = (
            "elasticc2_ppdbdiaobject" if prefix == "elasticc2_ppdb" else "elasticc2_diaobject"
        )
        _insert(
            conn,
            objtable,
            [
                {
                    "diaobject_id": i,
                    "ra": o["ra"],
                    "decl": o["decl"],
                    "hostgal_mag_u": 20.0 + i % 10,
                }
                for i, o in OBJECTS.items()
            ],
        )
        forced, sources = [], []
        for i in OBJECTS:
            for k in range(NPOINT):
                p = point(i, k)
                common = {
                    "diaobject_id": i,
                    "midpointtai": p["mjd"],
                    "filtername": p["band"],
                    "psflux": p["flux"],
                    "psfluxerr": p["err"],
                }
                forced.append({"diaforcedsource_id": p["id"], **common})
                if k in DETECTED:
                    sources.append(
                        {
                            "diasource_id": p["id"],
                            "ra": OBJECTS[i]["ra"],
                            "decl": 0.0,
                            "snr": 9.0,
                            **common,
                        }
                    )
        _insert(conn, f"{prefix}diaforcedsource", forced)
        _insert(conn, f"{prefix}diasource", sources)
    _insert(
        conn,
        "elasticc2_ppdbalert",
        [
            {"alert_id": i * 1000 + k, "diasource_id": i * 1000 + k, "diaobject_id": i}
            for i in OBJECTS
            for k in DETECTED
        ],
    )
    _insert(
        conn,
        "elasticc2_diaobjecttruth",
        [
            {
                "diaobject_id": i,
                "gentype": o["gentype"],
                "peakmjd": o["peak"],
                "zcmb": 0.1 * (i % 10),
            }
            for i, o in OBJECTS.items()
        ],
    )
    _insert(
        conn,
        "elasticc2_brokerclassifier",
        [
            {
                "classifier_id": CLASSIFIER,
                "brokername": "TestBroker",
                "brokerversion": "1.0",
                "classifiername": "Simple",
                "classifierparams": "none",
            }
        ],
    )
    msgs = []
    for i in OBJECTS:
        cls, prob = probs(i)
        for k in DETECTED:
            sid = i * 1000 + k
            # An older, different message for every source: only the latest may count.
            msgs.append(
                {
                    "alert_id": sid,
                    "diasource_id": sid,
                    "classifier_id": CLASSIFIER,
                    "classid": [2232],
                    "probability": [1.0],
                    "descingesttimestamp": "2026-01-01T00:00:00Z",
                }
            )
            msgs.append(
                {
                    "alert_id": sid,
                    "diasource_id": sid,
                    "classifier_id": CLASSIFIER,
                    "classid": cls,
                    "probability": prob,
                    "descingesttimestamp": "2026-01-02T00:00:00Z",
                }
            )
    _insert(conn, "elasticc2_brokermessage", msgs)
    conn.commit()


#: The keys of an ``ltcvfeatures`` answer, in the TOM's order (tom-fidelity §3.3).
LTCV_FEATURES = [
    "anderson_darling_normal",
    "inter_percentile_range_5",
    "chi2",
    "stetson_K",
    "weighted_mean",
    "duration",
    "otsu_mean_diff",
    "otsu_std_lower",
    "otsu_std_upper",
    "otsu_lower_to_all_ratio",
    "linear_fit_slope",
    "linear_fit_slope_sigma",
    "linear_fit_reduced_chi2",
]


def fixture_tom_db(root: Path) -> Path:
    """``root`` with a TOM database (``root/tomdb``) holding :func:`load_fixture_rows`."""
    with pg.embedded_server(root / "tomdb") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE tom_desc")
        with psycopg.connect(url.replace("/postgres?", "/tom_desc?")) as conn:
            load_fixture_rows(conn)
    return root


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    return fixture_tom_db(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="module")
def tom(sample):
    with LocalTom(sample, sql_timeout=3.0) as server:
        yield server


@pytest.fixture(scope="module")
def admin(sample, tom):
    """A superuser connection to the TOM database (to check that nothing changed)."""
    with (
        pg.embedded_server(sample / "tomdb") as url,
        psycopg.connect(url.replace("/postgres?", "/tom_desc?"), autocommit=True) as conn,
    ):
        yield conn


@pytest.fixture(scope="module")
def client(tom) -> TomClient:
    return TomClient(tom.url, username=tom.username, passwordfile=tom.passwordfile, backoff=0.05)


def login_by_hand(url: str, username: str, password: str) -> requests.Session:
    """The DESC TomClient's login sequence, written out with requests."""
    s = requests.Session()
    r = s.get(f"{url}/accounts/login/")
    assert r.status_code == 200
    r = s.post(
        f"{url}/accounts/login/",
        data={
            "username": username,
            "password": password,
            "csrfmiddlewaretoken": s.cookies["csrftoken"],
        },
    )
    assert r.status_code == 200
    assert "Please enter a correct" not in r.text
    s.headers["X-CSRFToken"] = s.cookies["csrftoken"]
    return s


def add_user(admin: psycopg.Connection, username: str) -> str:
    """A second account, its password hashed in Django's pbkdf2_sha256 format."""
    password = secrets.token_urlsafe(12)
    salt = secrets.token_hex(8)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 1000)
    encoded = f"pbkdf2_sha256$1000${salt}${base64.b64encode(digest).decode()}"
    admin.execute(
        "INSERT INTO elasticc_tutorial_local.auth_user (password, username, is_superuser, first_name, last_name, email, "
        "is_staff, is_active, date_joined) VALUES (%s, %s, false, '', '', '', false, true, now())",
        (encoded, username),
    )
    return password


# ---------------------------------------------------------------------------------- login / auth


def test_password_file_is_private(tom):
    assert tom.passwordfile.stat().st_mode & 0o777 == 0o600
    assert tom.url.startswith("http://127.0.0.1:")


def test_desc_login_dance_by_hand(tom):
    s = login_by_hand(tom.url, tom.username, tom.passwordfile.read_text().splitlines()[0])
    assert "sessionid" in s.cookies
    r = s.post(f"{tom.url}/db/runsqlquery/", json={"query": "SELECT 41 + 1 AS answer"})
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["rows"] == [{"answer": 42}]


def test_wrong_password(tom):
    s = requests.Session()
    s.get(f"{tom.url}/accounts/login/")
    r = s.post(
        f"{tom.url}/accounts/login/",
        data={
            "username": tom.username,
            "password": "not-it",
            "csrfmiddlewaretoken": s.cookies["csrftoken"],
        },
    )
    assert r.status_code == 200 and "Please enter a correct" in r.text
    assert "sessionid" not in s.cookies
    with pytest.raises(TomError, match="wrong username or password") as exc:
        TomClient(tom.url, username=tom.username, password="not-it-either")
    assert "not-it-either" not in str(exc.value) and "not-it-either" not in repr(exc.value)


def test_login_without_csrf_token_is_refused(tom):
    s = requests.Session()
    s.get(f"{tom.url}/accounts/login/")
    password = tom.passwordfile.read_text().strip()
    r = s.post(f"{tom.url}/accounts/login/", data={"username": tom.username, "password": password})
    assert r.status_code == 403 and "CSRF" in r.text
    assert "sessionid" not in s.cookies


def test_json_post_without_csrf_header_is_refused(tom):
    s = login_by_hand(tom.url, tom.username, tom.passwordfile.read_text().strip())
    del s.headers["X-CSRFToken"]
    r = s.post(f"{tom.url}/db/runsqlquery/", json={"query": "SELECT 1"})
    assert r.status_code == 403 and "CSRF" in r.text


@pytest.mark.parametrize(
    "method,page",
    [
        ("POST", "db/runsqlquery/"),
        ("POST", "db/submitsqlquery/"),
        ("POST", "db/checksqlquery/00000000-0000-0000-0000-000000000000/"),
        ("POST", "db/getsqlqueryresults/00000000-0000-0000-0000-000000000000/"),
        ("GET", "elasticc2/ltcv"),
        ("GET", "elasticc2/gethottransients"),
        ("GET", "elasticc2/getalert"),
    ],
)
def test_anonymous_calls_get_403(tom, method, page):
    r = requests.request(method, f"{tom.url}/{page}", json={"query": "SELECT 1"})
    assert r.status_code == 403
    # the LoginRequiredMixin pages redirect to the login page, the REST routes answer 401
    # (tom-fidelity §1; every route is covered in test_tom_routes.py)


def test_client_repr_and_open_password_file(tom, tmp_path):
    loose = tmp_path / "pw"
    loose.write_text(tom.passwordfile.read_text())
    loose.chmod(0o644)
    with pytest.raises(TomSettingsError, match=rf"passwordfile={loose}.*mode 644.*chmod 600"):
        TomClient(tom.url, username=tom.username, passwordfile=loose)
    loose.chmod(0o600)
    c = TomClient(tom.url, username=tom.username, passwordfile=loose)
    password = tom.passwordfile.read_text().strip()
    assert password not in repr(c) and tom.username in repr(c)
    assert repr(c) == f"TomClient(url={tom.url!r}, username={tom.username!r}, logged in)"


def test_credentials_from_environment(tom, monkeypatch):
    monkeypatch.setenv("DESC_TOM_URL", tom.url)
    monkeypatch.setenv("DESC_TOM_USERNAME", tom.username)
    monkeypatch.setenv("DESC_TOM_PASSWORDFILE", str(tom.passwordfile))
    assert TomClient().sql("SELECT 'env' AS how")["how"].to_list() == ["env"]


# ------------------------------------------------------------------------------------------- SQL


def test_notebook_queries(client):
    gt = client.sql("SELECT * FROM elasticc2_gentypeofclassid ORDER BY classid")
    assert gt.filter(pl.col("gentype") == 10)["classid"].to_list() == [2222]
    cg = client.sql("SELECT * FROM elasticc2_classidofgentype WHERE classid = 2222")
    assert cg["exactmatch"].to_list() == [True] and cg["gentype"].to_list() == [10]
    # The notebook's "SN Ia with more than 5 detections and sent alerts".
    ia = client.sql(
        """SELECT t.diaobject_id, COUNT(s.diasource_id) AS ndet
           FROM elasticc2_diaobjecttruth t
           JOIN elasticc2_diasource s ON s.diaobject_id = t.diaobject_id
           JOIN elasticc2_ppdbalert a ON a.diasource_id = s.diasource_id
           WHERE t.gentype = %(gentype)s AND a.alertsenttimestamp IS NULL
           GROUP BY t.diaobject_id HAVING COUNT(s.diasource_id) > 5 ORDER BY t.diaobject_id""",
        {"gentype": 10},
    )
    expected = sorted(i for i, o in OBJECTS.items() if o["gentype"] == 10)
    assert ia["diaobject_id"].to_list() == expected
    assert ia["ndet"].to_list() == [len(DETECTED)] * len(expected)


def test_subdict_list_becomes_in_list(client):
    df = client.sql(
        "SELECT diaobject_id FROM elasticc2_diaobject WHERE diaobject_id IN %(ids)s ORDER BY 1",
        {"ids": [1003, 1001, 999]},
    )
    assert df["diaobject_id"].to_list() == [1001, 1003]


def test_temp_table_across_a_list_of_queries(client):
    df = client.sql(
        [
            "SELECT a.alert_id, s.diaobject_id INTO TEMP TABLE gratuitous FROM elasticc2_ppdbalert a "
            "JOIN elasticc2_diasource s ON s.diasource_id = a.diasource_id WHERE s.diaobject_id = %(o)s",
            "SELECT count(*) AS n FROM pg_temp.gratuitous",
        ],
        [{"o": 1002}, {}],
    )
    assert df["n"].to_list() == [len(DETECTED)]
    # The temp table died with the rolled-back transaction.
    with pytest.raises(TomError, match="does not exist"):
        client.sql("SELECT * FROM pg_temp.gratuitous")


def test_sql_dtypes(client):
    df = client.sql(
        "SELECT 1::smallint AS a, 2::bigint AS b, 0.1::real AS c, 0.2::float8 AS d, true AS e, "
        "'x'::text AS f, '2026-01-02 03:04:05.123456+00'::timestamptz AS g, 1.5::numeric AS h, "
        "ARRAY[1,2]::smallint[] AS i, NULL::real AS j"
    )
    assert df.schema == pl.Schema(
        {
            "a": pl.Int16,
            "b": pl.Int64,
            "c": pl.Float32,
            "d": pl.Float64,
            "e": pl.Boolean,
            "f": pl.String,
            "g": pl.Datetime("us", "UTC"),
            "h": pl.Float64,
            "i": pl.List(pl.Int16),
            "j": pl.Float32,
        }
    )
    row = df.row(0, named=True)
    # desc-tom's JSON writer (Django's) cuts times to milliseconds
    assert row["g"].microsecond == 123000 and row["i"] == [1, 2] and row["j"] is None
    empty = client.sql("SELECT 1::int AS x WHERE false")
    assert empty.schema == pl.Schema({"x": pl.Int32}) and empty.height == 0


def test_request_field_errors(client):
    r = client.post("db/runsqlquery/", json={"nothing": 1})
    assert r.json() == {"status": "error", "error": "POST data must include 'query'"}
    r = client.post("db/runsqlquery/", json={"query": 5})
    assert r.json()["error"] == "query must be either a list of strings or a string"
    r = client.post("db/runsqlquery/", json={"query": ["SELECT 1", "SELECT 2"], "subdict": [{}]})
    assert "must match" in r.json()["error"]
    with pytest.raises(TomError, match="syntax error"):
        client.sql("SELEC 1")
    assert client.get("db/runsqlquery/").status_code == 405


def test_trailing_slashes_are_normalised(client, tom):
    assert normalize_page("db/runsqlquery") == "db/runsqlquery/"
    assert normalize_page("/elasticc2/ltcv/") == "elasticc2/ltcv"
    assert normalize_page("elasticc2/ppdbdiaobject?limit=1") == "elasticc2/ppdbdiaobject/?limit=1"
    assert client.post("db/runsqlquery", json={"query": "SELECT 1 AS x"}).json()["rows"] == [
        {"x": 1}
    ]
    # A raw POST without the slash gets a clear message (the real TOM's DEBUG page says the same).
    s = login_by_hand(tom.url, tom.username, tom.passwordfile.read_text().strip())
    r = s.post(f"{tom.url}/db/runsqlquery", json={"query": "SELECT 1"})
    assert r.status_code == 500 and "doesn't end in a slash" in r.text


ATTACKS = [
    "DROP TABLE elasticc2_gentypeofclassid",
    "DELETE FROM elasticc2_diaobject",
    "INSERT INTO elasticc2_diaobject (diaobject_id, ra, decl, isddf) VALUES (1, 0, 0, false)",
    "UPDATE elasticc2_diaobject SET ra = 0",
    "CREATE TABLE evil (x int)",
    "CREATE TABLE public.evil AS SELECT 1 AS x",
    "COPY (SELECT 1) TO PROGRAM 'touch {marker}'",
    "SELECT pg_read_file('/etc/passwd')",
    "SET ROLE postgres",
    "SELECT * FROM auth_user",
    "SELECT * FROM django_session",
    "SELECT * FROM db_queryqueue",
    "SELECT 1; DELETE FROM elasticc2_diaobject",
    "GRANT SELECT ON auth_user TO PUBLIC",
    "ALTER TABLE elasticc2_diaobject ADD COLUMN evil int",
    "SELECT lo_import('/etc/passwd')",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_writes_and_escapes_are_refused(client, admin, attack, tmp_path):
    marker = tmp_path / "pwned"
    before = admin.execute("SELECT count(*), sum(ra) FROM elasticc2_diaobject").fetchone()
    users = admin.execute("SELECT count(*) FROM elasticc_tutorial_local.auth_user").fetchone()
    r = client.post("db/runsqlquery/", json={"query": attack.format(marker=marker)})
    assert r.status_code == 200
    assert r.json()["status"] == "error", r.json()
    assert admin.execute("SELECT count(*), sum(ra) FROM elasticc2_diaobject").fetchone() == before
    assert (
        admin.execute("SELECT count(*) FROM elasticc_tutorial_local.auth_user").fetchone() == users
    )
    assert admin.execute("SELECT to_regclass('public.evil')").fetchone() == (None,)
    assert admin.execute("SELECT to_regclass('public.elasticc2_gentypeofclassid')").fetchone() != (
        None,
    )
    assert not marker.exists()


def test_commit_cannot_escape_the_transaction(client, admin):
    r = client.post(
        "db/runsqlquery/",
        json={"query": ["COMMIT", "ALTER ROLE elasticc_tutorial_ro SUPERUSER", "SELECT 1 AS x"]},
    )
    assert r.json()["status"] == "error"
    assert admin.execute(
        "SELECT rolsuper FROM pg_roles WHERE rolname = 'elasticc_tutorial_ro'"
    ).fetchone() == (False,)


def test_statement_timeout_cannot_be_lifted(client):
    t0 = time.monotonic()
    r = client.post(
        "db/runsqlquery/",
        json={"query": ["SET statement_timeout = 0", "SELECT pg_sleep(60)"]},
    )
    assert r.json()["status"] == "error" and "cancel" in r.json()["error"]
    assert time.monotonic() - t0 < 30


# ---------------------------------------------------------------------------------- long queries


def test_long_query_end_to_end(client):
    n = 2500
    df = client.long_sql(
        "SELECT g AS i, g * 0.5 AS half, (g %% 2 = 0) AS even, 'r' || g AS label "
        "FROM generate_series(1, %(n)s) g ORDER BY g",
        {"n": n},
        poll=0.1,
        progress=False,
    )
    assert df.height == n
    assert df.columns == ["i", "half", "even", "label"]
    assert df["i"].to_list() == list(range(1, n + 1))
    assert df["half"].to_list() == [i * 0.5 for i in range(1, n + 1)]
    assert df["even"].to_list() == [i % 2 == 0 for i in range(1, n + 1)]
    assert df["label"][10] == "r11"


def test_long_query_raw_protocol(client, tom, admin):
    qid = client.post("db/submitsqlquery/", json={"query": "SELECT 7 AS seven"}).json()["queryid"]
    for _ in range(100):
        state = client.post(f"db/checksqlquery/{qid}/").json()
        if state["status"] == "finished":
            break
        assert state["status"] in ("queued", "started")
        time.sleep(0.1)
    assert (
        state["queries"] == ["SELECT 7 AS seven"] and "submitted" in state and "finished" in state
    )
    r = client.post(f"db/getsqlqueryresults/{qid}/")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert r.text.splitlines() == [",seven", "0,7"]  # pandas to_csv, with its index column
    # Results belong to their owner: another user sees an unknown query.
    other = add_user(admin, "someone-else")
    s = login_by_hand(tom.url, "someone-else", other)
    assert s.post(f"{tom.url}/db/checksqlquery/{qid}/").json()["status"] == "error"
    r = s.post(f"{tom.url}/db/getsqlqueryresults/{qid}/")
    assert r.status_code == 500 and "Unknown query" in r.text


def test_long_query_errors(client):
    with pytest.raises(TomError, match=r"long query .* failed on the TOM: .*does not exist"):
        client.long_sql("SELECT * FROM no_such_table", poll=0.1, progress=False)
    r = client.post("db/getsqlqueryresults/not-a-uuid/")
    assert r.status_code == 500 and r.headers["Content-Type"].startswith("text/plain")
    r = client.post("db/checksqlquery/00000000-0000-0000-0000-000000000000/")
    assert r.status_code == 200 and r.json()["status"] == "error"
    r = client.post("db/submitsqlquery/", json={"query": "SELECT 1", "format": "xml"})
    assert r.json()["status"] == "error" and "format" in r.json()["error"]


def test_long_query_deadline(client):
    with pytest.raises(TomError, match=r"still (queued|started) after 0 s"):
        client.long_sql("SELECT pg_sleep(1.5)", poll=0.1, timeout=0.3, progress=False)
    with pytest.raises(TomError, match=r"still (queued|started) after 0 s"):  # the old name
        client.long_sql("SELECT pg_sleep(1.5)", poll=0.1, deadline=0.3, progress=False)


def test_password_never_logged(tom, caplog):
    import logging

    password = tom.passwordfile.read_text().strip()
    with caplog.at_level(logging.DEBUG):
        c = TomClient(tom.url, username=tom.username, passwordfile=tom.passwordfile)
        c.sql("SELECT 1 AS x")
    assert caplog.text and password not in caplog.text
    assert password not in tom.log_path.read_text()


def test_long_query_to_disk_is_lazy(client, tmp_path):
    out = tmp_path / "res.csv"
    lazy = client.long_sql(
        "SELECT g FROM generate_series(1, 1000) g", poll=0.1, progress=False, dest=out
    )
    assert isinstance(lazy, pl.LazyFrame) and out.is_file()
    assert lazy.select(pl.col("g").sum()).collect().item() == 1000 * 1001 // 2


# ------------------------------------------------------------------------------------ elasticc2


def test_classids(client):
    ids = client.classids()
    assert ids["2222"]["gentype"] == [10] and ids["2222"]["exactmatch"] is True
    assert ids["2222"]["description"] == "Ia"
    # tom-fidelity.md §6: 2220 (SN-like) has 14 gentypes, ascending within its block: Ia 10, 91bg 11,
    # Iax 12, Ib/c 20 21 25 26 27, II 30 31 32 35 36 37; they are exactly its leaves' gentypes.
    assert ids["2220"]["gentype"] == [10, 11, 12, 20, 21, 25, 26, 27, 30, 31, 32, 35, 36, 37]
    leaves = ("2222", "2223", "2224", "2225", "2226")
    assert sorted(g for c in leaves for g in ids[c]["gentype"]) == ids["2220"]["gentype"]
    assert ids["2220"]["exactmatch"] is False and ids["2220"]["categorymatch"] is True
    assert ids["0"]["gentype"] == [] and ids["0"]["broadmatch"] is False
    keys = [int(k) for k in ids]
    assert keys == sorted(keys)


def test_classifiers(client):
    assert client.classifiers() == {
        str(CLASSIFIER): {
            "brokername": "TestBroker",
            "brokerversion": "1.0",
            "classifiername": "Simple",
            "classifierparams": "none",
        }
    }


def test_ltcv_formats(client):
    mjd_now = point(1002, 5)["mjd"]
    # 1003 has no point before mjd_now: the TOM leaves it out, the client says so.
    with pytest.raises(
        TomError, match=r"no light curve up to mjd_now=\S+ for 1 of 3 objectids: 1003 "
    ):
        client.ltcv([1001, 1002, 1003], mjd_now=mjd_now)
    f0 = client.ltcv([1001, 1002, 1003], mjd_now=mjd_now, allow_missing=True)
    assert [o["objectid"] for o in f0] == [1001, 1002]
    assert set(f0[0]) == {"objectid", "ra", "dec", "zp", "photometry"}
    assert f0[0]["zp"] == 27.5 and f0[0]["ra"] == OBJECTS[1001]["ra"]
    expected = [point(1001, k) for k in range(NPOINT) if point(1001, k)["mjd"] <= mjd_now]
    assert 0 < len(expected) < NPOINT
    assert f0[0]["photometry"]["mjd"] == [p["mjd"] for p in expected]
    assert f0[0]["photometry"]["band"] == [p["band"] for p in expected]
    assert f0[0]["photometry"]["flux"] == [p["flux"] for p in expected]
    with pytest.raises(TomError, match="Exception in LtcvsView: 'mjd'"):  # desc-tom's bug
        client.ltcv(1001, mjd_now=mjd_now, return_format=1)
    f2 = client.ltcv([1001, 1002], mjd_now=mjd_now, return_format=2)
    assert f2["objectid"] == [1001, 1002] and f2["mjd"][0] == f0[0]["photometry"]["mjd"]
    assert pl.DataFrame(f2).height == 2
    host = client.ltcv(1002, include_hostinfo=True)[0]
    assert host["hostgal_mag_u"] == 22.0 and len(host["photometry"]["mjd"]) == NPOINT


def test_ltcv_errors(client):
    with pytest.raises(TomError, match=r"HTTP 500: Exception in LtcvsView: Unknown parameters"):
        client.query("elasticc2/ltcv", {"objectid": 1001, "bogus": 1})
    with pytest.raises(TomError, match="Can't supply both objectid and objectids"):
        client.query("elasticc2/ltcv", {"objectid": 1001, "objectids": [1001]})


def test_hot_transients(client):
    # At mjd_now = 1002's peak, with a 10-day window: the objects with a detection in the window.
    now = OBJECTS[1002]["peak"]
    expected = sorted(i for i in OBJECTS for k in DETECTED if now - 10 <= point(i, k)["mjd"] <= now)
    hot = client.hot_transients(mjd_now=now, detected_in_last_days=10)
    assert [o["objectid"] for o in hot] == sorted(set(expected))
    assert all(o["redshift"] == -99 and o["sncode"] == -99 for o in hot)
    assert all(max(o["photometry"]["mjd"]) <= now for o in hot)
    since = client.hot_transients(mjd_now=now, detected_since_mjd=now - 10, return_format=2)
    assert since["objectid"] == [o["objectid"] for o in hot]
    ia = client.hot_transients(mjd_now=61000, detected_since_mjd=0, cheat_gentypes=[20])
    assert [o["objectid"] for o in ia] == [1003]
    with pytest.raises(ValueError):
        client.hot_transients(detected_in_last_days=1, detected_since_mjd=0)
    with pytest.raises(
        TomError,
        match="HTTP 500: Error, only give one of detected_since_mjd or detected_in_last_days",
    ):
        client.query(
            "elasticc2/gethottransients", {"detected_in_last_days": 1, "detected_since_mjd": 0}
        )
    with pytest.raises(TomError, match="unknown parameters"):
        client.query("elasticc2/gethottransients", {"lim_mag": 20})


def test_getalert(client):
    k = max(DETECTED)
    alert = client.alert(1001 * 1000 + k)
    assert alert["alertId"] == 1001 * 1000 + k
    assert alert["diaSource"]["diaSourceId"] == 1001 * 1000 + k
    assert alert["diaSource"]["midPointTai"] == point(1001, k)["mjd"]
    assert [s["diaSourceId"] for s in alert["prvDiaSources"]] == [
        1001 * 1000 + j for j in DETECTED if j < k
    ]
    assert [s["diaForcedSourceId"] for s in alert["prvDiaForcedSources"]] == [
        1001 * 1000 + j for j in range(k)
    ]
    assert alert["diaObject"]["diaObjectId"] == 1001
    assert client.alert(sourceid=1001 * 1000 + k)["alertId"] == alert["alertId"]
    with pytest.raises(TomError, match="PPDBAlert matching query does not exist"):
        client.alert(666)


def test_brokerclassfortruetype(client):
    base = f"elasticc2/brokerclassfortruetype/json/{{}}/{CLASSIFIER}/2222/"
    objs = client.query(base.format("objects"), method="GET")
    ia = sorted(i for i, o in OBJECTS.items() if o["gentype"] == 10)
    assert objs["index"] == ia and objs["index_names"] == ["s.diaobject_id"]
    assert objs["columns"] == ["t.zcmb", "t.peakmjd", "t.gentype"]
    mean = client.query(base.format("meanprobabilities"), method="GET")
    assert mean["index_names"] == ["relday", "m.classid"]
    # Only the latest message per source counts: 0.75 for 2222, never the older 2232.
    values = {tuple(i): d[0] for i, d in zip(mean["index"], mean["data"], strict=True)}
    assert {c for _, c in values} == {2222, 2223}
    assert all(abs(v - 0.75) < 1e-6 for (_, c), v in values.items() if c == 2222)
    srcs = client.query(base.format("sources"), method="GET")
    assert len(srcs["index"]) == len(ia) * len(DETECTED)
    r = client.get(f"elasticc2/brokerclassfortruetype/json/nonsense/{CLASSIFIER}/2222/")
    assert r.status_code == 400 and "error" in r.json()
    r = client.get("elasticc2/brokerclassfortruetype/json/objects/999/2222/")
    assert r.json() == {"error": "Can't find data file for classifier 999, class 2222"}


def test_ppdbdiaobject_pagination(client):
    page = client.get("elasticc2/ppdbdiaobject/", params={"limit": 2}).json()
    assert page["count"] == len(OBJECTS) and page["previous"] is None
    assert [o["diaobject_id"] for o in page["results"]] == sorted(OBJECTS)[:2]
    nxt = client.get(page["next"].split("/", 3)[3]).json()
    assert [o["diaobject_id"] for o in nxt["results"]] == sorted(OBJECTS)[2:]
    assert nxt["next"] is None and nxt["previous"] is not None
    one = client.get("elasticc2/ppdbdiaobject/1002/")
    assert one.status_code == 200 and one.json()["ra"] == OBJECTS[1002]["ra"]
    assert client.get("elasticc2/ppdbdiaobject/5/").status_code == 404
    assert client.post("elasticc2/ppdbdiaobject/1002/").status_code == 405


# ------------------------------------------------------------------------------ fault injection


class FaultProxy(socketserver.ThreadingTCPServer):
    """An HTTP proxy on 127.0.0.1 that, per request, drops the connection or answers 502/503
    while its budgets last, and otherwise forwards (one request per connection)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, upstream_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream_port = upstream_port
        self.drops = 0
        self.errors: list[int] = []
        self.seen: list[str] = []
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        srv: FaultProxy = self.server
        sock = self.request
        got = read_request(sock)
        if got is None:
            return
        head, body = got
        line = head.split(b"\r\n", 1)[0].decode()
        with srv.lock:
            srv.seen.append(line)
            if srv.drops > 0:
                srv.drops -= 1
                action = "drop"
            elif srv.errors:
                action = srv.errors.pop(0)
            else:
                action = "forward"
        if action == "drop":
            sock.close()
            return
        if isinstance(action, int):
            page = b"<html><head><title>Bad gateway</title></head><body><h1>proxy says no</h1></body></html>"
            sock.sendall(
                b"HTTP/1.1 %d Oops\r\nContent-Type: text/html\r\nConnection: close\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (action, len(page), page)
            )
            return
        head = re.sub(rb"\r\nconnection:[^\r]*", b"", head, flags=re.I) + b"\r\nConnection: close"
        with socket.create_connection(("127.0.0.1", srv.upstream_port)) as up:
            up.sendall(head + b"\r\n\r\n" + body)
            resp = b""
            while chunk := up.recv(65536):
                resp += chunk
        rhead, _, rbody = resp.partition(b"\r\n\r\n")
        rhead = re.sub(rb"\r\nconnection:[^\r]*", b"", rhead, flags=re.I) + b"\r\nConnection: close"
        sock.sendall(rhead + b"\r\n\r\n" + rbody)


@pytest.fixture
def proxy(tom):
    port = int(tom.url.rsplit(":", 1)[1])
    srv = FaultProxy(port)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_retries_on_dropped_connections_and_5xx(tom, proxy):
    c = TomClient(proxy.url, username=tom.username, passwordfile=tom.passwordfile, backoff=0.01)
    proxy.drops, proxy.errors = 1, [502, 503]
    n = len(proxy.seen)
    assert c.sql("SELECT 5 AS five")["five"].to_list() == [5]
    assert len(proxy.seen) - n == 4  # dropped, 502, 503, then the answer


def test_unsafe_posts_are_not_repeated(tom, proxy):
    c = TomClient(proxy.url, username=tom.username, passwordfile=tom.passwordfile, backoff=0.01)
    proxy.errors = [503]
    with pytest.raises(TomError, match="HTTP 503: HTML page: Bad gateway") as exc:
        c.submit_sql("SELECT 1")
    assert "<html" not in str(exc.value)


def test_gives_up_after_retries(tom, proxy):
    c = TomClient(
        proxy.url, username=tom.username, passwordfile=tom.passwordfile, backoff=0.01, retries=2
    )
    proxy.drops = 3
    with pytest.raises(TomError, match=r"POST db/runsqlquery/ at \S+ failed after 3 attempts"):
        c.sql("SELECT 1")


def test_relogin_when_the_session_expires(tom, proxy):
    c = TomClient(proxy.url, username=tom.username, passwordfile=tom.passwordfile, backoff=0.01)
    before = c._rqs.cookies["sessionid"]
    # An expired session looks like an unknown session id to the server.
    c._rqs.cookies.set("sessionid", "expired-" + before[:8], domain="127.0.0.1", path="/")
    logins = sum("accounts/login" in s for s in proxy.seen)
    assert c.sql("SELECT 6 AS six")["six"].to_list() == [6]
    assert sum("accounts/login" in s for s in proxy.seen) == logins + 2  # GET + POST
    assert c._rqs.cookies["sessionid"] != before


# -------------------------------------------------------------------------------------- misc


def test_concurrent_clients(tom):
    errors, results = [], {}

    def work(n: int) -> None:
        try:
            c = TomClient(tom.url, username=tom.username, passwordfile=tom.passwordfile)
            got = [
                c.sql("SELECT %(n)s::int * %(k)s::int AS v", {"n": n, "k": k})["v"][0]
                for k in range(5)
            ]
            results[n] = got
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert results == {n: [n * k for k in range(5)] for n in range(8)}


def test_summaries_never_dump_pages(client):
    r = client.get("no/such/page/")
    assert r.status_code == 404
    with pytest.raises(TomError) as exc:
        client.query("no/such/page/", method="GET")
    assert "HTTP 404" in str(exc.value) and len(str(exc.value)) < 400


def test_cli_serve_help():
    out = subprocess.run(
        [sys.executable, "-m", "elasticc_tutorial", "tom", "serve", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--database-url" in out.stdout and "--port" in out.stdout


def test_second_tom_on_an_existing_database(sample, tom, client):
    # An existing server given by URL; the same credentials file keeps both TOMs' logins valid.
    with pg.embedded_server(sample / "tomdb") as url:
        dburl = url.replace("/postgres?", "/tom_desc?")
        with LocalTom(None, database_url=dburl, credentials_file=tom.passwordfile) as other:
            assert other.url != tom.url
            c2 = TomClient(other.url, username=other.username, passwordfile=other.passwordfile)
            q = "SELECT count(*) AS n FROM elasticc2_diaforcedsource"
            assert c2.sql(q)["n"][0] == len(OBJECTS) * NPOINT
            # The first server still works (same read-only role, same role password).
            assert client.sql(q)["n"][0] == len(OBJECTS) * NPOINT
            assert "postgres" not in repr(other)


def test_local_tom_refuses_a_missing_sample(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LocalTom(tmp_path / "nope")


@pytest.fixture
def no_tom_settings(monkeypatch):
    for var in ("DESC_TOM_URL", "DESC_TOM_USERNAME", "DESC_TOM_PASSWORD", "DESC_TOM_PASSWORDFILE"):
        monkeypatch.delenv(var, raising=False)
    yield monkeypatch
    connection.stop_local_tom()


def test_connect_uses_local_tom_without_any_setting(sample, no_tom_settings, capsys):
    from elasticc_tutorial import tom as tommod

    c = tommod.connect(sample_dir=sample, quiet=True)
    local = connection._LOCAL
    assert local is not None and c.url == local.url != ""
    # Exactly one line; this sample has no MANIFEST, so no version to show.
    assert capsys.readouterr().out == "TOM: local synthetic twin on 127.0.0.1\n"
    assert c.sql("SELECT count(*) AS n FROM elasticc2_diaobject")["n"][0] == len(OBJECTS)
    again = tommod.connect(sample_dir=sample)  # the same server is reused
    assert again.url == c.url
    assert capsys.readouterr().out.splitlines() == [
        "TOM: local synthetic twin on 127.0.0.1",
        "  (chosen because: no DESC_TOM_* setting exists; `elasticc-tutorial where` shows every "
        "location)",
    ]


def test_connect_in_lab_reuses_labs_local_tom(sample, tom, no_tom_settings, capsys):
    """``elasticc-tutorial lab`` describes its TOM in $ELASTICC_TUTORIAL_LOCAL_TOM: connect() uses
    it (no second server) and says it is the local twin; any DESC_TOM_* setting still wins."""
    import json

    from elasticc_tutorial import tom as tommod
    from elasticc_tutorial.tom.settings import LAB_TOM_ENV

    info = {"url": tom.url, "username": tom.username, "passwordfile": str(tom.passwordfile)}
    no_tom_settings.setenv(LAB_TOM_ENV, json.dumps({**info, "sample": str(sample)}))
    connection.stop_local_tom()
    c = tommod.connect(quiet=True)
    assert connection._LOCAL is None and c.url == tom.url  # lab's server, not a new one
    assert capsys.readouterr().out == "TOM: local synthetic twin on 127.0.0.1\n"
    assert c.sql("SELECT count(*) AS n FROM elasticc2_diaobject")["n"][0] == len(OBJECTS)
    tommod.connect()
    assert "(served by: elasticc-tutorial lab runs it" in capsys.readouterr().out
    for bad, why in [
        ("{", "must be a JSON object"),
        (
            json.dumps({**info, "sample": str(sample), "url": "https://desc-tom.lbl.gov"}),
            "not a local",
        ),
        (json.dumps(info), "must be a JSON object"),
    ]:
        no_tom_settings.setenv(LAB_TOM_ENV, bad)
        with pytest.raises(TomSettingsError, match=why) as exc:
            tommod.connect(quiet=True)
        assert LAB_TOM_ENV in str(exc.value)
    # a named sample wins: the lab variable is not even read
    c = tommod.connect(sample_dir=sample, quiet=True)
    assert connection._LOCAL is not None and c.url == connection._LOCAL.url != tom.url


def test_connect_finds_or_builds_the_default_sample_through_paths(sample, no_tom_settings, capsys):
    """Without sample_dir, connect() asks paths.locate for the sample (which builds or rebuilds it
    on first use) rather than assuming it exists."""
    from types import SimpleNamespace

    from elasticc_tutorial import paths
    from elasticc_tutorial import tom as tommod

    calls = []

    def fake_locate(**kwargs):
        calls.append(kwargs)
        return SimpleNamespace(sample=SimpleNamespace(path=Path(sample)))

    no_tom_settings.setattr(paths, "locate", fake_locate)
    c = tommod.connect(quiet=True)
    assert calls == [{"tom_url": paths.LOCAL_TOM, "progress": False}]
    assert c.sql("SELECT count(*) AS n FROM elasticc2_diaobject")["n"][0] == len(OBJECTS)
    assert capsys.readouterr().out.count("\n") == 1


def test_connect_remote_branch_on_a_real_tom(tom, no_tom_settings, capsys, tmp_path):
    """Complete settings pointing at a running TOM (the local one, as if it were desc-tom): that TOM,
    logged in, and no local TOM started."""
    from elasticc_tutorial import tom as tommod

    no_tom_settings.setenv("DESC_TOM_URL", tom.url + "/")
    no_tom_settings.setenv("DESC_TOM_USERNAME", tom.username)
    no_tom_settings.setenv("DESC_TOM_PASSWORDFILE", str(tom.passwordfile))
    c = tommod.connect(quiet=True, backoff=0.01)
    assert capsys.readouterr().out == f"TOM: {tom.url} as {tom.username}\n"
    assert c.url == tom.url and connection._LOCAL is None
    assert c.sql("SELECT 'remote' AS how")["how"].to_list() == ["remote"]
    # DESC_TOM_PASSWORD instead of a file works too.
    no_tom_settings.delenv("DESC_TOM_PASSWORDFILE")
    no_tom_settings.setenv("DESC_TOM_PASSWORD", tom.passwordfile.read_text().strip())
    assert tommod.connect(quiet=True).sql("SELECT 1 AS one")["one"].to_list() == [1]


@pytest.mark.parametrize("problem", ["login refused", "unreachable", "not a TOM"])
def test_connect_remote_failures_name_the_setting(problem, tom, no_tom_settings, tmp_path):
    from elasticc_tutorial import tom as tommod

    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-password\n")
    wrong.chmod(0o600)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    url = {"unreachable": closed, "not a TOM": tom.url + "/elasticc2"}.get(problem, tom.url)
    no_tom_settings.setenv("DESC_TOM_URL", url)
    no_tom_settings.setenv("DESC_TOM_USERNAME", tom.username)
    no_tom_settings.setenv(
        "DESC_TOM_PASSWORDFILE", str(wrong if problem == "login refused" else tom.passwordfile)
    )
    expected = {
        "login refused": rf"refused the login of DESC_TOM_USERNAME={tom.username} with the "
        rf"password from DESC_TOM_PASSWORDFILE={wrong}",
        "unreachable": rf"DESC_TOM_URL={closed}: the TOM does not answer",
        "not a TOM": rf"DESC_TOM_URL={url} does not behave like a TOM",
    }[problem]
    with pytest.raises(TomSettingsError, match=expected) as exc:
        tommod.connect(quiet=True, retries=0)
    assert tom.passwordfile.read_text().strip() not in str(exc.value)
    assert connection._LOCAL is None  # never the synthetic TOM instead


def test_ppdb_helpers_on_the_local_tom(client):
    frame = client.ppdb_diaobject(page_size=2)
    assert sorted(frame["diaobject_id"].to_list()) == sorted(OBJECTS)
    assert client.ppdb_diaobject(limit=1)["diaobject_id"].to_list() == [min(OBJECTS)]
    assert client.ppdb_diaobject(1002)["ra"] == OBJECTS[1002]["ra"]
    with pytest.raises(TomError, match="HTTP 404") as exc:
        client.ppdb_diaobject(5)
    assert exc.value.status == 404 and "did you mean" not in str(exc.value)
