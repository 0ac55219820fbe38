"""PostgreSQL roles of the local TOM's user SQL.

The group :data:`RO_ROLE` (no login) reads the ``elasticc2_*`` tables through views in
:data:`VIEW_SCHEMA`, a schema the TOM owns: one view ``SELECT * FROM public.<table>`` per table,
remade at every start. The roles' connections have ``search_path`` = that schema, so unqualified
``elasticc2_*`` names resolve as on the real TOM. The group gets no privilege on ``public`` at all:
``public`` of the database (the sample's own, or one desc-tom made) is never created in or altered,
not even its ACLs. Each TOM user's SQL runs as a login role of its own (``elasticc_tutorial_u<user
id>``), a member of the group only, so no user can read another's query text in
``pg_stat_activity`` nor signal their backend; the server's own read-only queries (the elasticc2
routes) use :data:`SERVICE_ROLE`. Large-object functions are revoked from PUBLIC. The roles' random
passwords live in a table of the local TOM's own schema (:data:`~.conf.LOCAL_SCHEMA`), which only
the database owner may use (shared by several local TOMs on one database), never in a file or a log.
"""

from __future__ import annotations

import logging
import secrets
from contextlib import suppress

import psycopg
from psycopg import sql

from elasticc_tutorial.localtom.conf import LOCAL_SCHEMA

log = logging.getLogger(__name__)

#: The group role holding the read-only grants (the real TOM's single role is ``postgres_ro``).
RO_ROLE = "elasticc_tutorial_ro"
#: The login role of the server's own read-only queries (the elasticc2 routes).
SERVICE_ROLE = "elasticc_tutorial_svc"
USER_ROLE_PREFIX = "elasticc_tutorial_u"
#: The schema of the views the SQL roles read (their whole search_path).
VIEW_SCHEMA = "elasticc_tutorial_sql"
#: The table (in :data:`LOCAL_SCHEMA`) holding the login roles' passwords.
_SECRETS = sql.Identifier(LOCAL_SCHEMA, "role_password")
_PUBLIC_MAY_CREATE = """SELECT coalesce(aclcontains(nspacl, makeaclitem(0, nspowner, 'CREATE', false)),
    false) FROM pg_namespace WHERE nspname = 'public'"""
#: Large-object functions: they write outside tables and must not be callable by the SQL roles.
_LARGE_OBJECT_FUNCTIONS = (
    "lo_creat(integer)",
    "lo_create(oid)",
    "lo_from_bytea(oid, bytea)",
    "lo_put(oid, bigint, bytea)",
    "lo_unlink(oid)",
    "lo_open(oid, integer)",
    "lo_truncate(integer, integer)",
    "lo_truncate64(integer, bigint)",
    "lo_get(oid)",
    "lo_get(oid, bigint, integer)",
    "lo_import(text)",
    "lo_import(text, oid)",
    "lo_export(oid, text)",
)


def _role_password(conn: psycopg.Connection, role: str) -> str:
    """The stored password of ``role`` (made on first use), kept in a schema only the owner reads,
    so that several local TOMs on one database share it."""
    row = conn.execute(
        sql.SQL("SELECT password FROM {} WHERE role = %s").format(_SECRETS),
        (role,),
    ).fetchone()
    if row:
        return row[0]
    password = secrets.token_urlsafe(24)
    conn.execute(
        sql.SQL("INSERT INTO {} VALUES (%s, %s) ON CONFLICT (role) DO NOTHING").format(_SECRETS),
        (role, password),
    )
    return _role_password(conn, role)


def ensure_login_role(conn: psycopg.Connection, role: str) -> str:
    """Create or reset a login role that is a member of :data:`RO_ROLE` only; its password."""
    password = _role_password(conn, role)
    ident = sql.Identifier(role)
    if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone():
        with suppress(psycopg.errors.DuplicateObject):  # another local TOM made it first
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
    conn.execute(
        sql.SQL(
            "ALTER ROLE {} WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
            "NOBYPASSRLS CONNECTION LIMIT 32 PASSWORD {}"
        ).format(ident, sql.Literal(password))
    )
    conn.execute(sql.SQL("ALTER ROLE {} RESET ALL").format(ident))  # undo any persisted SET
    _drop_memberships(conn, role, keep={RO_ROLE})
    conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(RO_ROLE), ident))
    return password


def _drop_memberships(conn: psycopg.Connection, role: str, keep: set[str]) -> None:
    for (granted,) in conn.execute(
        "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
        "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
        (role,),
    ).fetchall():
        if granted not in keep:
            conn.execute(sql.SQL("REVOKE {} FROM {}").format(*map(sql.Identifier, (granted, role))))


def _make_views(conn: psycopg.Connection) -> int:
    """(Re)make one view per ``public.elasticc2_*`` relation in :data:`VIEW_SCHEMA`, readable by
    the group; views of tables that are gone are dropped. One transaction, serialised between
    local TOMs sharing the database. The number of views."""
    schema = sql.Identifier(VIEW_SCHEMA)
    group = sql.Identifier(RO_ROLE)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('elasticc_tutorial views'))")
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(schema))
        for (name,) in conn.execute(
            "SELECT viewname FROM pg_views WHERE schemaname = %s", (VIEW_SCHEMA,)
        ).fetchall():
            conn.execute(sql.SQL("DROP VIEW {} CASCADE").format(sql.Identifier(VIEW_SCHEMA, name)))
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p', 'f') "
                "AND c.relname LIKE 'elasticc2\\_%%' ORDER BY 1"
            ).fetchall()
        ]
        for name in tables:
            view = sql.Identifier(VIEW_SCHEMA, name)
            # a plain view runs with its owner's rights: the group needs no grant on public
            conn.execute(
                sql.SQL("CREATE VIEW {} AS SELECT * FROM {}").format(
                    view, sql.Identifier("public", name)
                )
            )
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(view, group))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, group))
    return len(tables)


def setup_roles(admin_conninfo: str) -> None:
    """Create or reset the group role, its views and grants, the service role and the secrets
    table. Safe to run at every start: the views are remade from the ``elasticc2_*`` tables
    present. Needs the local schema (made by Django's ``migrate``)."""
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        dbname = conn.info.dbname
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (role text PRIMARY KEY, password text NOT NULL)"
            ).format(_SECRETS)
        )
        conn.execute(sql.SQL("REVOKE ALL ON {} FROM PUBLIC").format(_SECRETS))
        conn.execute(
            sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(LOCAL_SCHEMA))
        )
        conn.execute(
            "DROP SCHEMA IF EXISTS localtom_secret CASCADE"
        )  # where earlier versions kept it
        group = sql.Identifier(RO_ROLE)
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (RO_ROLE,)).fetchone():
            with suppress(psycopg.errors.DuplicateObject):
                conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(group))
        conn.execute(
            sql.SQL(
                "ALTER ROLE {} WITH NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                "NOBYPASSRLS PASSWORD NULL"
            ).format(group)
        )
        conn.execute(sql.SQL("ALTER ROLE {} RESET ALL").format(group))
        _drop_memberships(conn, RO_ROLE, keep=set())
        db = sql.Identifier(dbname)
        conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(db, group))
        conn.execute(sql.SQL("REVOKE CREATE ON DATABASE {} FROM {}").format(db, group))
        public_may_create = conn.execute(_PUBLIC_MAY_CREATE).fetchone()
        if public_may_create is not None and public_may_create[0]:
            # PostgreSQL < 15 lets everyone create in public; left as the database has it, and
            # harmless here: every request of the SQL roles is rolled back
            log.warning("PUBLIC may CREATE in schema public of %s (left as it is)", dbname)
        count = _make_views(conn)
        for fn in _LARGE_OBJECT_FUNCTIONS:
            try:
                conn.execute(f"REVOKE EXECUTE ON FUNCTION pg_catalog.{fn} FROM PUBLIC")
            except psycopg.errors.InsufficientPrivilege:
                log.warning(
                    "cannot revoke %s from PUBLIC (not the owner); large objects stay "
                    "usable but never outlive a request's rolled-back transaction",
                    fn,
                )
        ensure_login_role(conn, SERVICE_ROLE)
        for (role,) in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
            (USER_ROLE_PREFIX.replace("_", "\\_") + "%",),
        ).fetchall():
            ensure_login_role(conn, role)
        log.info(
            "read-only group %s reads %d elasticc2_* tables through %s", RO_ROLE, count, VIEW_SCHEMA
        )


def role_password(admin_conninfo: str, role: str) -> str:
    """Create or reset ``role`` (a login member of the group); its password."""
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        return ensure_login_role(conn, role)
