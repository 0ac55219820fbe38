"""PostgreSQL roles of the local TOM's user SQL.

The group :data:`RO_ROLE` (no login) may only ``SELECT`` the ``elasticc2_*`` tables of schema
``public`` and create temporary tables. Each TOM user's SQL runs as a login role of its own
(``elasticc_tutorial_u<user id>``), a member of that group only, so no user can read another's query
text in ``pg_stat_activity`` nor signal their backend; the server's own read-only queries (the
elasticc2 routes) use :data:`SERVICE_ROLE`. Large-object functions are revoked from PUBLIC. The
roles' random passwords live in a schema only the database owner can use (shared by several local
TOMs on one database), never in a file or a log.
"""

from __future__ import annotations

import logging
import secrets
from contextlib import suppress

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

#: The group role holding the read-only grants (the real TOM's single role is ``postgres_ro``).
RO_ROLE = "elasticc_tutorial_ro"
#: The login role of the server's own read-only queries (the elasticc2 routes).
SERVICE_ROLE = "elasticc_tutorial_svc"
USER_ROLE_PREFIX = "elasticc_tutorial_u"
_SECRET_SCHEMA = "localtom_secret"
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
        sql.SQL("SELECT password FROM {}.role_password WHERE role = %s").format(
            sql.Identifier(_SECRET_SCHEMA)
        ),
        (role,),
    ).fetchone()
    if row:
        return row[0]
    password = secrets.token_urlsafe(24)
    conn.execute(
        sql.SQL(
            "INSERT INTO {}.role_password VALUES (%s, %s) ON CONFLICT (role) DO NOTHING"
        ).format(sql.Identifier(_SECRET_SCHEMA)),
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


def setup_roles(admin_conninfo: str) -> None:
    """Create or reset the group role and its grants, the service role and the secrets schema.
    Safe to run at every start: grants are recomputed from the ``elasticc2_*`` tables present."""
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        dbname = conn.info.dbname
        secret = sql.Identifier(_SECRET_SCHEMA)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(secret))
        conn.execute(sql.SQL("REVOKE ALL ON SCHEMA {} FROM PUBLIC").format(secret))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.role_password (role text PRIMARY KEY, "
                "password text NOT NULL)"
            ).format(secret)
        )
        conn.execute(sql.SQL("REVOKE ALL ON {}.role_password FROM PUBLIC").format(secret))
        conn.execute("DROP TABLE IF EXISTS public.localtom_rolesecret")  # the old place
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
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # PostgreSQL < 15 allowed it
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(group))
        conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(group))
        conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(group))
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p') "
                "AND c.relname LIKE 'elasticc2\\_%%'"
            ).fetchall()
        ]
        for name in tables:
            conn.execute(
                sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier("public", name), group)
            )
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
        log.info("read-only group %s may SELECT %d elasticc2_* tables", RO_ROLE, len(tables))


def role_password(admin_conninfo: str, role: str) -> str:
    """Create or reset ``role`` (a login member of the group); its password."""
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        return ensure_login_role(conn, role)
