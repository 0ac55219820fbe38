"""User SQL for the local TOM: one PostgreSQL role per TOM user, bounded pools, sandboxed execution.

Roles: the group :data:`RO_ROLE` (no login) may only ``SELECT`` the ``elasticc2_*`` tables and create
temporary tables. Each TOM user's SQL runs as a login role of its own (``elasticc_tutorial_u<id>``), a
member of that group, so no user can read another's query text in ``pg_stat_activity`` nor signal
their backend; the server's own read-only queries (elasticc2 routes) use :data:`SERVICE_ROLE`. The
roles' random passwords live in a schema only the database owner can read, never in a file or log.

Execution: the request's statements are bound (desc-tom's psycopg2 rules, :mod:`.sqltext`), split
and checked before any runs; they run in one transaction that is always rolled back, each through
the extended protocol; a statement that ends the transaction stops the request. The last statement's
rows come through a server-side cursor, batch by batch, up to a row and a byte limit. A statement
timeout is set per connection and a watchdog cancels the backend too, since SQL can change the former.
Connections come from a bounded, health-checked pool per role and are reset (``DISCARD ALL``) at every
checkout.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from elasticc_tutorial.localtom.sqltext import (
    QueryError,
    Statement,
    bind,
    is_plain_query,
    refusal,
    split_statements,
)

__all__ = ["RO_ROLE", "SERVICE_ROLE", "Limits", "Overloaded", "QueryError", "ReadOnlyDatabase"]

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


class Overloaded(Exception):
    """No database connection became free in time; the server answers 503 with Retry-After."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """What one request may ask for; every error that enforces one states it."""

    max_rows: int = 1_000_000  # runsqlquery result rows
    max_result_bytes: int = 256 * 1024 * 1024  # runsqlquery JSON / long-query file size
    max_queries: int = 100  # statements strings per request
    max_query_chars: int = 1_000_000  # all query strings together
    max_subdict_keys: int = 1_000  # per subdict
    max_subdict_values: int = 100_000  # list elements over all subdicts
    max_pandas_rows: int = 2_000_000  # long queries in format pandas are built in memory


LIMITS = Limits()


def _check_sizes(queries: Sequence[str], subdicts: Sequence[dict[str, Any]], lim: Limits) -> None:
    if len(queries) > lim.max_queries:
        raise QueryError(f"too many queries: {len(queries)} (the limit is {lim.max_queries})")
    chars = sum(len(q) for q in queries)
    if chars > lim.max_query_chars:
        raise QueryError(
            f"the queries are {chars} characters long (the limit is {lim.max_query_chars}); "
            "pass long lists of values in subdict, or use a temporary table"
        )
    values = 0
    for d in subdicts:
        if len(d) > lim.max_subdict_keys:
            raise QueryError(
                f"a subdict has {len(d)} keys (the limit is {lim.max_subdict_keys}); pass many "
                "values as one list: WHERE x IN %(ids)s with subdict {'ids': [...]}"
            )
        values += sum(len(v) if isinstance(v, list | tuple) else 1 for v in d.values())
    if values > lim.max_subdict_values:
        raise QueryError(
            f"the subdicts hold {values} values (the limit is {lim.max_subdict_values}); "
            "split the request, or use the long-query interface in several parts"
        )


def prepare_statements(
    queries: Sequence[str],
    subdicts: Sequence[dict[str, Any]],
    *,
    lists_as_arrays: bool = False,
    limits: Limits = LIMITS,
) -> list[Statement]:
    """Bind every query to its subdict, split it into statements and refuse what may not run;
    everything is checked before anything runs."""
    _check_sizes(queries, subdicts, limits)
    statements: list[Statement] = []
    for query, subdict in zip(queries, subdicts, strict=True):
        parts = split_statements(bind(query, subdict, lists_as_arrays=lists_as_arrays))
        if not parts:
            raise QueryError("can't execute an empty query")
        statements.extend(parts)
    for stmt in statements:
        if why := refusal(stmt):
            raise QueryError(why)
    return statements


# ------------------------------------------------------------------------------------ roles


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


def _ensure_login_role(conn: psycopg.Connection, role: str) -> str:
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
        _ensure_login_role(conn, SERVICE_ROLE)
        for (role,) in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s",
            (USER_ROLE_PREFIX.replace("_", "\\_") + "%",),
        ).fetchall():
            _ensure_login_role(conn, role)
        log.info("read-only group %s may SELECT %d elasticc2_* tables", RO_ROLE, len(tables))


# ------------------------------------------------------------------------------------ pools


def _reset_on_checkout(conn: psycopg.Connection) -> None:
    """Health check and reset in one round trip: settings, temp tables and prepared statements
    left by the previous request are gone, whatever it did."""
    conn.autocommit = True
    conn.execute("DISCARD ALL")
    conn.autocommit = False


class ReadOnlyDatabase:
    """Runs user SQL as per-user roles through bounded pools (one per role)."""

    def __init__(
        self,
        admin_conninfo: str,
        *,
        timeout: float = 60.0,
        max_per_role: int = 8,
        checkout_timeout: float = 10.0,
        limits: Limits = LIMITS,
    ) -> None:
        self._admin = admin_conninfo
        self.timeout = timeout
        self.max_per_role = max_per_role
        self.checkout_timeout = checkout_timeout
        self.limits = limits
        self._pools: dict[str, Any] = {}
        self._lock = threading.Lock()
        setup_roles(admin_conninfo)

    def __repr__(self) -> str:  # never show a conninfo: it holds passwords
        return f"ReadOnlyDatabase(group={RO_ROLE!r}, timeout={self.timeout})"

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()

    @staticmethod
    def role_of(user_id: int | None) -> str:
        return SERVICE_ROLE if user_id is None else f"{USER_ROLE_PREFIX}{int(user_id)}"

    def _pool(self, role: str):
        with self._lock:
            pool = self._pools.get(role)
            if pool is not None:
                return pool
            from psycopg_pool import ConnectionPool

            with psycopg.connect(self._admin, autocommit=True) as conn:
                password = _ensure_login_role(conn, role)
            params = conninfo_to_dict(self._admin)
            params.update(user=role, password=password)
            params.setdefault("connect_timeout", "10")
            pool = ConnectionPool(
                make_conninfo(**params),
                min_size=0,
                max_size=self.max_per_role,
                kwargs={
                    "application_name": "elasticc-tutorial-localtom",
                    # the session default, restored by DISCARD ALL at every checkout
                    "options": f"-c statement_timeout={int(self.timeout * 1000)}",
                },
                check=_reset_on_checkout,
                timeout=self.checkout_timeout,
                max_idle=60.0,
                name=role,
                open=True,
            )
            self._pools[role] = pool
            return pool

    @contextmanager
    def connection(
        self, user_id: int | None, timeout: float | None
    ) -> Iterator[psycopg.Connection]:
        """A pooled connection of the user's role, inside a transaction that is rolled back after,
        with a watchdog that cancels the backend ``timeout + 2`` s after checkout."""
        from psycopg_pool import PoolTimeout

        timeout = self.timeout if timeout is None else timeout
        pool = self._pool(self.role_of(user_id))
        try:
            ctx = pool.connection()
            conn = ctx.__enter__()
        except PoolTimeout:
            raise Overloaded(
                f"all {self.max_per_role} database connections of this user stayed busy for "
                f"{self.checkout_timeout:g} s"
            ) from None
        watchdog = threading.Timer(timeout + 2.0, conn.cancel_safe)
        watchdog.daemon = True
        try:
            if timeout != self.timeout:
                conn.execute(
                    "SELECT set_config('statement_timeout', %s, false)", (str(int(timeout * 1000)),)
                )
            watchdog.start()
            yield conn
        finally:
            watchdog.cancel()
            with suppress(psycopg.Error):
                conn.rollback()
            ctx.__exit__(None, None, None)

    @staticmethod
    def _execute(
        conn: psycopg.Connection, stmts: Sequence[Statement], timeout: float
    ) -> psycopg.Cursor:
        """Run the statements; the last one's cursor (server-side for a plain query)."""
        cur: psycopg.Cursor = conn.cursor()
        for i, stmt in enumerate(stmts):
            last = i == len(stmts) - 1
            try:
                if last and is_plain_query(stmt):
                    cur = conn.cursor(name="localtom_result")
                    cur.execute(stmt.text)
                else:
                    cur.execute(stmt.text, prepare=True)  # extended protocol: one statement
            except psycopg.errors.QueryCanceled as exc:
                raise QueryError(_timeout_text(exc, timeout)) from None
            except psycopg.Error as exc:
                raise QueryError(str(exc).rstrip("\n")) from None
            if conn.info.transaction_status != psycopg.pq.TransactionStatus.INTRANS:
                raise QueryError(
                    "a statement ended the request's transaction; transaction control is not "
                    "allowed (every request is rolled back)"
                )
        return cur

    @contextmanager
    def results(
        self,
        queries: Sequence[str],
        subdicts: Sequence[dict[str, Any]],
        *,
        user_id: int | None = None,
        timeout: float | None = None,
        lists_as_arrays: bool = False,
    ) -> Iterator[tuple[list[dict[str, str]], Batches]]:
        """Run a request; yield ``(columns, batches of rows)`` of its last statement, read from a
        server-side cursor. ``no results to fetch`` when the last statement returns no rows."""
        stmts = prepare_statements(
            queries, subdicts, lists_as_arrays=lists_as_arrays, limits=self.limits
        )
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self.connection(user_id, timeout) as conn:
            cur = self._execute(conn, stmts, timeout)
            if cur.description is None:
                raise QueryError("no results to fetch")
            yield column_types(cur), Batches(cur, deadline, timeout)

    def run(
        self,
        queries: Sequence[str],
        subdicts: Sequence[dict[str, Any]],
        *,
        user_id: int | None = None,
        max_rows: int | None = None,
        timeout: float | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """The last statement's rows as dicts (duplicate names: first position, last value) and
        its columns; more than ``max_rows`` rows is an error."""
        max_rows = self.limits.max_rows if max_rows is None else max_rows
        rows: list[dict[str, Any]] = []
        with self.results(queries, subdicts, user_id=user_id, timeout=timeout) as (cols, batches):
            names = [c["name"] for c in cols]
            for batch in batches:
                rows.extend(dict(zip(names, r, strict=True)) for r in batch)
                if len(rows) > max_rows:
                    raise QueryError(row_limit_message(max_rows))
        return rows, dedupe_columns(cols)


class Batches:
    """The rows of a server-side cursor, batch by batch. Batches start small and are sized from
    the consumer's :meth:`feedback` to about ``target_bytes`` each, so wide rows never arrive as
    one huge batch; the request's time limit is checked between batches."""

    def __init__(
        self, cur: psycopg.Cursor, deadline: float, timeout: float, target_bytes: int = 2_000_000
    ) -> None:
        self.cur, self.deadline, self.timeout = cur, deadline, timeout
        self.target_bytes = target_bytes
        self.size = 100

    def feedback(self, nbytes: int, nrows: int) -> None:
        """The last batch's ``nrows`` rows took ``nbytes`` once written."""
        if nrows:
            per_row = max(1.0, nbytes / nrows)
            self.size = max(1, min(5000, int(self.target_bytes / per_row)))

    def __iter__(self) -> Iterator[list[tuple]]:
        while True:
            if time.monotonic() > self.deadline:
                raise QueryError(f"the query ran past the time limit of {self.timeout:g} s")
            asked = self.size
            try:
                batch = self.cur.fetchmany(asked)
            except psycopg.errors.QueryCanceled as exc:
                raise QueryError(_timeout_text(exc, self.timeout)) from None
            except psycopg.Error as exc:
                raise QueryError(str(exc).rstrip("\n")) from None
            if not batch:
                return
            yield batch
            if len(batch) < asked:
                return  # a short batch is the last: no extra FETCH round trip


def _timeout_text(exc: Exception, timeout: float) -> str:
    return f"{str(exc).rstrip()} (the local TOM's time limit is {timeout:g} s per request)"


def row_limit_message(max_rows: int) -> str:
    return (
        f"the result has more than {max_rows} rows, the local TOM's limit for db/runsqlquery/; "
        "add a LIMIT or use the long-query interface (db/submitsqlquery/)"
    )


def dedupe_columns(cols: list[dict[str, str]]) -> list[dict[str, str]]:
    """Columns as the row dicts see them: a repeated name keeps its first position and the type
    of its last occurrence."""
    out: dict[str, dict[str, str]] = {}
    for c in cols:
        if c["name"] in out:
            out[c["name"]]["type"] = c["type"]
        else:
            out[c["name"]] = dict(c)
    return list(out.values())


def column_types(cursor: psycopg.Cursor) -> list[dict[str, str]]:
    """``[{"name": ..., "type": <PostgreSQL type name>}]`` for the cursor's result columns."""
    out = []
    for col in cursor.description or ():
        info = cursor.connection.adapters.types.get(col.type_code)
        tname = info.name if info else str(col.type_code)
        if info and col.type_code == getattr(info, "array_oid", None):
            tname += "[]"
        out.append({"name": col.name, "type": tname})
    return out


def user_id_of(request: Any) -> int:
    """The TOM user's id, which names their PostgreSQL role."""
    return int(request.user.pk)
