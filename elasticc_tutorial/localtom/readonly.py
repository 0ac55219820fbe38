"""User SQL for the local TOM: a read-only PostgreSQL role, a small connection pool, safe execution.

Every user query runs as the role :data:`RO_ROLE`, which may only ``SELECT`` the ``elasticc2_*`` tables
(not Django's ``auth_*``/``django_*`` tables nor the long-query queue), create temporary tables, and
nothing else. Queries run in one transaction that is always rolled back; each statement is sent with
the extended protocol (one statement per string, so ``COMMIT; ALTER ...`` tricks cannot escape the
transaction); a statement timeout is set and, because a user may ``SET statement_timeout = 0``, a
watchdog cancels the backend as well. Connections go back to the pool after ``DISCARD ALL``.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

log = logging.getLogger(__name__)

#: The PostgreSQL role that runs user SQL (the real TOM calls its role ``postgres_ro``).
RO_ROLE = "elasticc_tutorial_ro"


class QueryError(Exception):
    """A user error in a query request (bad fields, bad SQL, timeout); its text goes to the user."""


def setup_role(admin_conninfo: str) -> str:
    """Create or reset the read-only role and its grants; return a conninfo that logs in as it.

    Safe to call at every start: the grants are recomputed from the ``elasticc2_*`` tables present.
    """
    with psycopg.connect(admin_conninfo, autocommit=True) as conn:
        dbname = conn.info.dbname
        # The role's password is kept in a table only the admin can read, so that several local
        # TOMs on one database (an existing server) do not invalidate each other's connections.
        conn.execute("CREATE TABLE IF NOT EXISTS localtom_rolesecret (password text NOT NULL)")
        conn.execute("REVOKE ALL ON localtom_rolesecret FROM PUBLIC")
        row = conn.execute("SELECT password FROM localtom_rolesecret LIMIT 1").fetchone()
        if row:
            password = row[0]
        else:
            password = secrets.token_urlsafe(24)
            conn.execute("INSERT INTO localtom_rolesecret VALUES (%s)", (password,))
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (RO_ROLE,)).fetchone()
        role = sql.Identifier(RO_ROLE)
        if not exists:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
        conn.execute(
            sql.SQL(
                "ALTER ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                "NOBYPASSRLS NOINHERIT PASSWORD {}"
            ).format(role, sql.Literal(password))
        )
        # Drop any memberships another tool may have given the role (SET ROLE must go nowhere).
        for (granted,) in conn.execute(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = %s",
            (RO_ROLE,),
        ).fetchall():
            conn.execute(sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(granted), role))
        db = sql.Identifier(dbname)
        conn.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(db, role))
        conn.execute(sql.SQL("REVOKE CREATE ON DATABASE {} FROM {}").format(db, role))
        # PostgreSQL < 15 lets PUBLIC create tables in schema public; this database is the TOM's.
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(role))
        conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(role))
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
                sql.SQL("GRANT SELECT ON {} TO {}").format(sql.Identifier("public", name), role)
            )
        log.info("read-only role %s may SELECT %d elasticc2_* tables", RO_ROLE, len(tables))
    params = conninfo_to_dict(admin_conninfo)
    params.update(user=RO_ROLE, password=password)
    return make_conninfo(**params)


_CHUNKED = psycopg.pq.version() >= 170000

_PLACEHOLDER = r"(?<!%)((?:%%)*)%\({}\)s"


def expand_subdict(query: str, subdict: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    """psycopg2-style substitution: a list value becomes a parenthesised list, for ``IN %(ids)s``.

    The real TOM converts JSON lists to tuples, which psycopg2 renders as ``(a, b, c)``; psycopg 3
    has no tuple adaptation, so each list is expanded into one placeholder per element here.
    """
    if not subdict:
        return query, None
    if not isinstance(subdict, dict):
        raise QueryError("subdict must be either a list of dicts or a dict")
    params: dict[str, Any] = {}
    for name, value in subdict.items():
        if not isinstance(name, str) or not re.fullmatch(r"\w+", name):
            raise QueryError(f"subdict key {name!r} must be a plain name (letters, digits, _)")
        if isinstance(value, list | tuple):
            if not value:
                raise QueryError(f"subdict value {name!r} is an empty list; IN () is not valid SQL")
            names = [f"{name}__{i}" for i in range(len(value))]
            repl = "(" + ", ".join(f"%({n})s" for n in names) + ")"
            query = re.sub(
                _PLACEHOLDER.format(re.escape(name)), lambda m, r=repl: m.group(1) + r, query
            )
            params.update(zip(names, value, strict=True))
        else:
            params[name] = value
    return query, params


def extract_queries(data: Any) -> tuple[list[str], list[dict[str, Any]]]:
    """Validate the ``query``/``subdict`` fields of a request body (same messages as the real TOM)."""
    if not isinstance(data, dict) or "query" not in data:
        raise QueryError("POST data must include 'query'")
    query = data["query"]
    if isinstance(query, str):
        queries = [query]
    elif isinstance(query, list):
        if not all(isinstance(q, str) for q in query):
            raise QueryError("queries must all be strings")
        queries = query
    else:
        raise QueryError("query must be either a list of strings or a string")
    if not queries:
        raise QueryError("query is an empty list")
    sub = data.get("subdict")
    if sub is None:
        subdicts: list[dict[str, Any]] = [{} for _ in queries]
    elif isinstance(sub, dict):
        subdicts = [sub for _ in queries]
    elif isinstance(sub, list) and all(isinstance(s, dict) for s in sub):
        subdicts = sub
    else:
        raise QueryError("subdict must be either a list of dicts or a dict")
    # The real TOM stopped checking this and silently skips the extra queries; we keep the check.
    if len(subdicts) != len(queries):
        raise QueryError(
            f"number of queries ({len(queries)}) and subdicts ({len(subdicts)}) must match"
        )
    return queries, subdicts


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


class ReadOnlyDatabase:
    """Runs user SQL as :data:`RO_ROLE` through a small pool of connections."""

    def __init__(self, conninfo: str, *, timeout: float = 60.0, max_idle: int = 8) -> None:
        self._conninfo = conninfo
        self.timeout = timeout
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._max_idle = max_idle

    def __repr__(self) -> str:  # never show the role's password
        return f"ReadOnlyDatabase(role={RO_ROLE!r}, timeout={self.timeout})"

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    @contextmanager
    def transaction(self, timeout: float | None = None) -> Iterator[psycopg.Cursor]:
        """A cursor in a fresh transaction that is rolled back (and the session reset) afterwards."""
        timeout = self.timeout if timeout is None else timeout
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            conn = self._connect()
        ok = False
        # The watchdog: user SQL can change statement_timeout, not this timer.
        watchdog = threading.Timer(timeout + 2.0, conn.cancel_safe)
        watchdog.daemon = True
        try:
            cur = conn.cursor()
            if timeout != self.timeout:
                cur.execute(
                    "SELECT set_config('statement_timeout', %s, false)", (f"{int(timeout * 1000)}",)
                )
            watchdog.start()
            yield cur
            ok = True
        finally:
            watchdog.cancel()
            self._release(conn, ok)

    def _connect(self, attempts: int = 3) -> psycopg.Connection:
        """A new connection as the read-only role. A failed attempt is retried after a short
        pause: on a loaded machine the embedded server's socket has been seen to be briefly
        unavailable, and one lost request would abort a notebook."""
        for attempt in range(1, attempts + 1):
            try:
                # The default timeout is a connection option, so DISCARD ALL restores it for free.
                return psycopg.connect(
                    self._conninfo,
                    application_name="elasticc-tutorial-localtom",
                    options=f"-c statement_timeout={int(self.timeout * 1000)}",
                )
            except psycopg.OperationalError:
                if attempt == attempts:
                    raise
                time.sleep(0.5 * attempt)
        raise AssertionError("unreachable")

    def _release(self, conn: psycopg.Connection, ok: bool) -> None:
        try:
            conn.rollback()
            conn.autocommit = True
            conn.execute("DISCARD ALL")  # temp tables, settings, prepared statements
            conn.autocommit = False
        except psycopg.Error:
            conn.close()
            return
        with self._lock:
            if len(self._idle) < self._max_idle and not conn.closed:
                self._idle.append(conn)
                return
        conn.close()

    @staticmethod
    def execute(cur: psycopg.Cursor, query: str, subdict: dict[str, Any] | None) -> None:
        """One user statement, always through the extended protocol (one statement per string)."""
        q, params = expand_subdict(query, subdict)
        try:
            cur.execute(q, params, prepare=True)
        except psycopg.errors.QueryCanceled as exc:
            raise QueryError(f"query cancelled (statement timeout): {exc}") from None
        except psycopg.Error as exc:
            raise QueryError(str(exc).strip()) from None
        except (TypeError, KeyError, ValueError, psycopg.ProgrammingError) as exc:
            raise QueryError(f"bad substitution in query: {exc}") from None

    def run(
        self,
        queries: Sequence[str],
        subdicts: Sequence[dict[str, Any]],
        *,
        max_rows: int = 1_000_000,
        timeout: float | None = None,
    ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        """Run ``queries`` in one transaction; return the last one's rows (dicts) and column types."""
        with self.transaction(timeout) as cur:
            for query, subdict in zip(queries, subdicts, strict=True):
                self.execute(cur, query, subdict)
            if cur.description is None:
                raise QueryError("the last query returned no rows (it must be a SELECT)")
            columns = column_types(cur)
            names = [c["name"] for c in columns]
            rows = []
            while batch := cur.fetchmany(10_000):
                rows.extend(dict(zip(names, r, strict=True)) for r in batch)
                if len(rows) > max_rows:
                    raise QueryError(
                        f"more than {max_rows} rows; use the long-query interface "
                        "(db/submitsqlquery/) for big results"
                    )
            return rows, columns

    @contextmanager
    def stream(
        self,
        queries: Sequence[str],
        subdicts: Sequence[dict[str, Any]],
        *,
        timeout: float | None = None,
    ) -> Iterator[tuple[list[dict[str, str]], Iterator[tuple]]]:
        """Like :meth:`run` but yields ``(columns, row_iterator)`` once, streaming the last query."""
        with self.transaction(timeout) as cur:
            for query, subdict in zip(queries[:-1], subdicts[:-1], strict=True):
                self.execute(cur, query, subdict)
            q, params = expand_subdict(queries[-1], subdicts[-1])
            try:
                # Chunked (libpq >= 17) or single-row mode: bounded memory on both sides.
                it = cur.stream(q, params, size=5000) if _CHUNKED else cur.stream(q, params)
                first = next(it, None)
            except psycopg.errors.QueryCanceled as exc:
                raise QueryError(f"query cancelled (statement timeout): {exc}") from None
            except psycopg.Error as exc:
                raise QueryError(str(exc).strip()) from None
            if cur.description is None:
                raise QueryError("the last query returned no rows (it must be a SELECT)")

            def rows() -> Iterator[tuple]:
                if first is None:
                    return
                yield first
                try:
                    yield from it
                except psycopg.errors.QueryCanceled as exc:
                    raise QueryError(f"query cancelled (statement timeout): {exc}") from None
                except psycopg.Error as exc:
                    raise QueryError(str(exc).strip()) from None

            yield column_types(cur), rows()
