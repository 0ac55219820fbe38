"""The local TOM serving a database that desc-tom's own Django app made (tom-fidelity §5).

The database gets desc-tom-like ``public`` tables (Django's ``auth_*``/``django_*`` tables made by a
real ``migrate``, desc-tom's ``db_queryqueue``, a desc-tom account, the ``elasticc2_*`` tables); the
local TOM must start on it, serve it, keep all of its own state in the schema
``elasticc_tutorial_local``, and leave ``public`` exactly as it was (compared through pg_catalog).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import psycopg
import pytest
import requests
from test_tom import OBJECTS, load_fixture_rows, login_by_hand

from elasticc_tutorial import pg
from elasticc_tutorial.localtom import LocalTom

pytestmark = pytest.mark.slow

# desc-tom's db_queryqueue (tom_desc/db/models.py, tom-fidelity §5.2)
DESC_QUERYQUEUE = """CREATE TABLE public.db_queryqueue (
    queryid uuid PRIMARY KEY, submitted timestamptz NOT NULL, started timestamptz,
    finished timestamptz, error boolean NOT NULL, errortext text, queries text[] NOT NULL,
    subdicts jsonb[] NOT NULL, format text NOT NULL)"""

# What tells two states of ``public`` apart: relations (kind, owner, ACL), columns, constraints,
# functions, the schema's own ACL and default ACLs, the cluster's roles other than the local TOM's
# own (``elasticc_tutorial_*``: cluster-wide, not part of public), and the rows of the tables
# desc-tom's Django keeps its state in.
CATALOG = {
    "relations": """SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl::text
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' ORDER BY 1""",
    "columns": """SELECT c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),
            a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = 'public' AND a.attnum > 0 ORDER BY 1, 2""",
    "constraints": """SELECT conrelid::regclass::text, conname, pg_get_constraintdef(c.oid)
        FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
        WHERE n.nspname = 'public' ORDER BY 1, 2""",
    "functions": """SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' ORDER BY 1, 2""",
    "schema_acl": "SELECT nspacl::text FROM pg_namespace WHERE nspname = 'public'",
    "default_acl": """SELECT d.defaclrole::regrole::text, d.defaclobjtype, d.defaclacl::text
        FROM pg_default_acl d LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
        WHERE n.nspname IS NULL OR n.nspname = 'public' ORDER BY 1, 2""",
    "roles": "SELECT rolname FROM pg_roles WHERE rolname NOT LIKE 'elasticc\\_tutorial\\_%' ORDER BY 1",
    "django_migrations": "SELECT app, name FROM public.django_migrations ORDER BY 1, 2",
    "auth_user": "SELECT id, username, password FROM public.auth_user ORDER BY 1",
    "django_session": "SELECT count(*) FROM public.django_session",
    "db_queryqueue": "SELECT count(*) FROM public.db_queryqueue",
}


def _catalog(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {k: conn.execute(q).fetchall() for k, q in CATALOG.items()}


@pytest.fixture(scope="module")
def desc_tom_db(tmp_path_factory):
    """A database with desc-tom-like public tables; yields its URL."""
    root = tmp_path_factory.mktemp("desctom")
    with pg.embedded_server(root / "cluster") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE desc_tom")
        dburl = url.replace("/postgres?", "/desc_tom?")
        # Django's own tables in public, made by a real migrate (as desc-tom's manage.py would)
        code = textwrap.dedent(
            """
            import sys, django
            from django.conf import settings
            from elasticc_tutorial.localtom.conf import django_database
            settings.configure(
                INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes",
                                "django.contrib.sessions"],
                DATABASES={"default": django_database(sys.argv[1])}, USE_TZ=True)
            django.setup()
            from django.core.management import call_command
            call_command("migrate", verbosity=0)
            from django.contrib.auth.models import User
            User.objects.create_user("desc_user", password="desc-secret")
            """
        )
        subprocess.run([sys.executable, "-c", code, dburl], check=True)
        with psycopg.connect(dburl) as conn:
            conn.execute(DESC_QUERYQUEUE)
            load_fixture_rows(conn)
        yield dburl


def test_serving_a_desc_tom_database_leaves_public_unchanged(desc_tom_db, tmp_path):
    before = _catalog(desc_tom_db)
    assert ("db_queryqueue", "r") in {(r[0], r[1]) for r in before["relations"]}
    cred = tmp_path / "cred"
    with LocalTom(None, database_url=desc_tom_db, credentials_file=cred) as tom:
        s = login_by_hand(tom.url, tom.username, cred.read_text().strip())
        r = s.post(f"{tom.url}/elasticc2/ltcv", data=json.dumps({"objectids": sorted(OBJECTS)}))
        assert [o["objectid"] for o in r.json()["diaobject"]] == sorted(OBJECTS)
        r = s.post(f"{tom.url}/db/submitsqlquery/", json={"query": "SELECT 1 AS x"})
        assert r.json()["status"] == "ok"
        # user SQL reads the elasticc2_* tables by their unqualified names, and nothing else
        r = s.post(
            f"{tom.url}/db/runsqlquery/",
            json={"query": "SELECT diaobject_id FROM elasticc2_diaobject ORDER BY 1"},
        )
        assert [row["diaobject_id"] for row in r.json()["rows"]] == sorted(OBJECTS)
        for table in ("auth_user", "public.auth_user", "public.elasticc2_diaobject"):
            r = s.post(f"{tom.url}/db/runsqlquery/", json={"query": f"SELECT * FROM {table}"})
            assert r.json()["status"] == "error", table
        # desc-tom's own account is not a local TOM account
        other = requests.Session()
        other.get(f"{tom.url}/accounts/login/")
        r = other.post(
            f"{tom.url}/accounts/login/",
            data={
                "username": "desc_user",
                "password": "desc-secret",
                "csrfmiddlewaretoken": other.cookies["csrftoken"],
            },
        )
        assert "Please enter a correct" in r.text
    with psycopg.connect(desc_tom_db) as conn:
        local = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'elasticc_tutorial_local'"
            )
        }
        users = conn.execute("SELECT username FROM elasticc_tutorial_local.auth_user").fetchall()
        queued = conn.execute("SELECT count(*) FROM elasticc_tutorial_local.db_queryqueue")
        assert queued.fetchone() == (1,)
    assert {"auth_user", "django_session", "django_migrations", "db_queryqueue"} <= local
    assert ("desc_user",) not in users and ("tutorial",) in users
    after = _catalog(desc_tom_db)
    diff = {
        k: (sorted(set(before[k]) - set(after[k])), sorted(set(after[k]) - set(before[k])))
        for k in CATALOG
        if before[k] != after[k]
    }
    assert diff == {}, json.dumps(diff, default=str)
