"""A bounded pool of PostgreSQL connections shared by many roles (one role per TOM user).

One budget caps every connection the pool holds, busy or idle, whatever the role: the server can
never open more than ``max_total`` SQL connections, so PostgreSQL's "too many clients already" cannot
happen because of user queries. A role may hold at most ``max_per_role`` of them. When the budget is
spent, an idle connection of another role is closed to make room; when all are busy, the caller
waits up to ``timeout`` seconds and then gets :class:`Overloaded` (answered with 503 + Retry-After).
Every checkout resets and health-checks the connection in one round trip (``DISCARD ALL``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg


class Overloaded(Exception):
    """No database connection became free in time; the server answers 503 with Retry-After."""


def reset_session(conn: psycopg.Connection) -> None:
    """Settings, temporary tables, prepared statements and any open transaction left by the
    previous request are gone; a dead connection raises here."""
    conn.rollback()
    conn.autocommit = True
    conn.execute("DISCARD ALL")
    conn.autocommit = False


class RolePool:
    """Connections by role under one budget; ``connect(role)`` opens a new one for a role."""

    def __init__(
        self,
        connect: Callable[[str], psycopg.Connection],
        *,
        max_total: int = 24,
        max_per_role: int = 8,
        timeout: float = 10.0,
        max_idle: float = 60.0,
    ) -> None:
        if max_per_role > max_total:
            raise ValueError(f"max_per_role ({max_per_role}) exceeds max_total ({max_total})")
        self._connect = connect
        self.max_total, self.max_per_role = max_total, max_per_role
        self.timeout, self.max_idle = timeout, max_idle
        self._idle: dict[str, list[tuple[float, psycopg.Connection]]] = {}
        self._busy: dict[str, int] = {}
        self._open = 0
        self._cond = threading.Condition()
        self._closed = False

    def stats(self) -> dict[str, int]:
        with self._cond:
            idle = sum(len(v) for v in self._idle.values())
            return {"open": self._open, "idle": idle, "busy": self._open - idle}

    def _evict_one(self) -> psycopg.Connection | None:
        """The least recently used idle connection of any role, taken out of the pool."""
        oldest = None
        for role, conns in self._idle.items():
            if conns and (oldest is None or conns[0][0] < oldest[1]):
                oldest = (role, conns[0][0])
        if oldest is None:
            return None
        _, conn = self._idle[oldest[0]].pop(0)
        self._open -= 1
        return conn

    @contextmanager
    def connection(self, role: str) -> Iterator[psycopg.Connection]:
        conn = self._checkout(role)
        ok = False
        try:
            yield conn
            ok = True
        finally:
            self._checkin(role, conn, ok)

    def _checkout(self, role: str) -> psycopg.Connection:
        deadline = time.monotonic() + self.timeout
        while True:
            to_close: list[psycopg.Connection] = []
            conn = None
            make = False
            with self._cond:
                while True:
                    if self._closed:
                        raise Overloaded("the server is stopping")
                    now = time.monotonic()
                    idle = self._idle.get(role, [])
                    # drop connections idle too long (they hold server memory for nothing)
                    while idle and now - idle[0][0] > self.max_idle:
                        to_close.append(idle.pop(0)[1])
                        self._open -= 1
                    if idle:
                        conn = idle.pop()[1]  # most recent: warm caches
                        break
                    busy = self._busy.get(role, 0)
                    if busy < self.max_per_role:
                        if self._open < self.max_total:
                            self._open += 1
                            make = True
                            break
                        victim = self._evict_one()
                        if victim is not None:
                            to_close.append(victim)
                            self._open += 1
                            make = True
                            break
                    left = deadline - now
                    if left <= 0:
                        raise Overloaded(
                            f"all database connections stayed busy for {self.timeout:g} s "
                            f"(at most {self.max_total} in all, {self.max_per_role} per user)"
                        )
                    self._cond.wait(left)
                self._busy[role] = self._busy.get(role, 0) + 1
            for c in to_close:
                c.close()
            try:
                if make:
                    return self._connect(role)
                assert conn is not None  # not made: taken from the idle list above
                reset_session(conn)
                return conn
            except psycopg.Error:
                if conn is not None:
                    conn.close()
                with self._cond:
                    self._busy[role] -= 1
                    self._open -= 1
                    self._cond.notify()
                if make:
                    raise Overloaded("could not open a database connection") from None
                # a dead idle connection: try again with another one

    def _checkin(self, role: str, conn: psycopg.Connection, ok: bool) -> None:
        # a failed request (a user's SQL error, a cancelled statement) leaves a usable connection
        keep = not conn.closed and not conn.broken
        if keep:
            try:
                conn.rollback()
            except psycopg.Error:
                keep = False
        with self._cond:
            self._busy[role] -= 1
            if keep and not self._closed:
                self._idle.setdefault(role, []).append((time.monotonic(), conn))
            else:
                self._open -= 1
            self._cond.notify()
        if not keep or self._closed:
            conn.close()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle = [c for conns in self._idle.values() for _, c in conns]
            self._idle.clear()
            self._open -= len(idle)
            self._cond.notify_all()
        for c in idle:
            c.close()
