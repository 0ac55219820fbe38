"""User SQL for the local TOM: sandboxed, bounded execution as the calling user's own role.

The request's statements are bound (desc-tom's psycopg2 rules, :mod:`.sqltext`), split and checked
before any runs; they run in one transaction that is always rolled back, each through the extended
protocol; a statement that ends the transaction stops the request. The last statement's rows come
through a server-side cursor, in batches sized by bytes, up to a row and a byte limit. A statement
timeout is set per connection and a watchdog cancels the backend too, since SQL can change the
former. Connections come from one bounded pool for all roles (:mod:`.pool`); roles: :mod:`.roles`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from elasticc_tutorial.localtom.pool import Overloaded, RolePool
from elasticc_tutorial.localtom.roles import (
    RO_ROLE,
    SERVICE_ROLE,
    USER_ROLE_PREFIX,
    VIEW_SCHEMA,
    role_password,
    setup_roles,
)
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


class ReadOnlyDatabase:
    """Runs user SQL as per-user roles through one bounded pool."""

    def __init__(
        self,
        admin_conninfo: str,
        *,
        timeout: float = 60.0,
        max_connections: int = 24,
        max_per_role: int = 8,
        checkout_timeout: float = 10.0,
        limits: Limits = LIMITS,
    ) -> None:
        self._admin = admin_conninfo
        self.timeout = timeout
        self.limits = limits
        self._passwords: dict[str, str] = {}
        self._lock = threading.Lock()
        setup_roles(admin_conninfo)
        self.pool = RolePool(
            self._connect,
            max_total=max_connections,
            max_per_role=max_per_role,
            timeout=checkout_timeout,
        )

    def __repr__(self) -> str:  # never show a conninfo: it holds passwords
        return f"ReadOnlyDatabase(group={RO_ROLE!r}, timeout={self.timeout})"

    def close(self) -> None:
        self.pool.close()

    @staticmethod
    def role_of(user_id: int | None) -> str:
        return SERVICE_ROLE if user_id is None else f"{USER_ROLE_PREFIX}{int(user_id)}"

    def _connect(self, role: str) -> psycopg.Connection:
        with self._lock:
            if role not in self._passwords:  # first use: create the role (a new TOM user)
                self._passwords[role] = role_password(self._admin, role)
            password = self._passwords[role]
        params = conninfo_to_dict(self._admin)
        params.update(user=role, password=password)
        params.setdefault("connect_timeout", "10")
        return psycopg.connect(
            make_conninfo("", **params),
            application_name="elasticc-tutorial-localtom",
            # session defaults, which DISCARD ALL restores at every checkout; the search_path
            # makes unqualified elasticc2_* names resolve to the group's views
            options=f"-c statement_timeout={int(self.timeout * 1000)} -c search_path={VIEW_SCHEMA}",
        )

    @contextmanager
    def connection(
        self, user_id: int | None, timeout: float | None
    ) -> Iterator[psycopg.Connection]:
        """A pooled connection of the user's role, inside a transaction that is rolled back after,
        with a watchdog that cancels the backend ``timeout + 2`` s after checkout."""
        timeout = self.timeout if timeout is None else timeout
        with self.pool.connection(self.role_of(user_id)) as conn:
            watchdog = threading.Timer(timeout + 2.0, conn.cancel_safe)
            watchdog.daemon = True
            try:
                if timeout != self.timeout:
                    conn.execute(
                        "SELECT set_config('statement_timeout', %s, false)",
                        (str(int(timeout * 1000)),),
                    )
                watchdog.start()
                yield conn
            finally:
                watchdog.cancel()

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
