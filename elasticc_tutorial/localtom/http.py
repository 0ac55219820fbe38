"""The local TOM's HTTP layer: waitress, bounded work, 503 + Retry-After, login throttling.

waitress reads each request completely (headers and body, bounded in size) on its event loop before a
worker thread sees it, so slow or half-sent requests hold no worker and are closed after
``channel_timeout`` seconds of silence. A fixed set of worker threads runs Django (so Django's
per-thread database connections are bounded too). A request that waits in the queue longer than
``queue_timeout`` gets 503 with ``Retry-After`` instead of running; so does one whose database pool
stays busy. Failed logins are limited per user name and per client address (429 + Retry-After).
"""

from __future__ import annotations

import collections
import dataclasses
import io
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from django.http import HttpRequest, HttpResponse

from elasticc_tutorial.localtom.readonly import Overloaded
from elasticc_tutorial.localtom.views_common import RETRY_AFTER, overloaded_response

log = logging.getLogger(__name__)


CAPACITY_ENV = "ELASTICC_LOCALTOM_CAPACITY"


class _Stop(Exception):
    """Raised by the SIGTERM/SIGINT handler to leave the server loop."""


@dataclasses.dataclass(frozen=True)
class Capacity:
    """How much work the server takes on at once; the rest waits or gets 503/413/429."""

    threads: int = 16  # requests run at once (and Django database connections)
    sql_connections: int = 24  # PostgreSQL connections for user SQL, all users together
    connections_per_user: int = 8  # of which one TOM user's role may hold
    queue_timeout: float = 15.0  # a request waiting longer than this gets 503 + Retry-After
    connection_limit: int = 512  # open client connections (more wait in the listen backlog)
    channel_timeout: float = 30.0  # a connection silent this long (half-sent request) is closed
    max_body: int = 16 * 1024 * 1024  # request body bytes (413 beyond, stating the limit)
    max_header: int = 64 * 1024
    login_failures_per_user: int = 10  # failed logins per user name per window
    login_failures_per_address: int = 30  # failed logins per client address per window
    login_window: float = 300.0

    @classmethod
    def from_env(cls) -> Capacity:
        """The defaults, with overrides from ``$ELASTICC_LOCALTOM_CAPACITY`` (a JSON object of
        these fields; e.g. ``{"threads": 4}``), which reaches a :class:`LocalTom` subprocess."""
        raw = os.environ.get(CAPACITY_ENV)
        if not raw:
            return cls()
        try:
            fields = json.loads(raw)
            return cls(**{k: type(getattr(cls, k))(v) for k, v in fields.items()})
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(
                f"${CAPACITY_ENV} must be a JSON object of {[f.name for f in dataclasses.fields(cls)]}"
                f": {exc}"
            ) from None


class OverloadMiddleware:
    """Django middleware: a database pool that stays busy answers 503 + Retry-After."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        return overloaded_response(str(exc)) if isinstance(exc, Overloaded) else None


def _plain(start_response, status: str, text: str, headers=()) -> list[bytes]:
    body = text.encode()
    start_response(
        status,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            *headers,
        ],
    )
    return [body]


class Admission:
    """WSGI wrapper: requests the queue reaper marked stale get 503 + Retry-After, unrun."""

    def __init__(self, app: Callable) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response) -> Iterable[bytes]:
        waited = environ.get("localtom.waited")
        if waited is not None:
            return _plain(
                start_response,
                "503 Service Unavailable",
                f"503 Service Unavailable: the local TOM is at capacity (this request waited "
                f"{waited:.1f} s in the queue); retry in {RETRY_AFTER} s",
                [("Retry-After", str(RETRY_AFTER))],
            )
        return self.app(environ, start_response)


class LoginThrottle:
    """WSGI wrapper: too many failed logins for a user name or from an address in a window →
    429 with Retry-After (a failed Django login re-renders the form with 200)."""

    def __init__(self, app: Callable, capacity: Capacity) -> None:
        self.app = app
        self.cap = capacity
        self._failures: dict[tuple[str, str], collections.deque] = {}
        self._lock = threading.Lock()

    def _wait(self, key: tuple[str, str], limit: int, now: float) -> float:
        q = self._failures.get(key)
        if not q:
            return 0.0
        while q and q[0] < now - self.cap.login_window:
            q.popleft()
        return q[0] + self.cap.login_window - now if len(q) >= limit else 0.0

    def __call__(self, environ: dict[str, Any], start_response) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != "/accounts/login/"
            or environ.get("REQUEST_METHOD") != "POST"
        ):
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        username = parse_qs(body.decode("latin-1")).get("username", [""])[0]
        keys = [
            (("user", username), self.cap.login_failures_per_user),
            (("addr", environ.get("REMOTE_ADDR", "")), self.cap.login_failures_per_address),
        ]
        now = time.monotonic()
        with self._lock:
            wait = max(self._wait(k, limit, now) for k, limit in keys)
        if wait > 0:
            return _plain(
                start_response,
                "429 Too Many Requests",
                f"429 Too Many Requests: too many failed logins (the limit is "
                f"{self.cap.login_failures_per_user} per user name and "
                f"{self.cap.login_failures_per_address} per address in "
                f"{self.cap.login_window:g} s); try again in {int(wait) + 1} s",
                [("Retry-After", str(int(wait) + 1))],
            )
        status: list[str] = []

        def capture(st, headers, exc_info=None):
            status.append(st)
            return (
                start_response(st, headers, exc_info) if exc_info else start_response(st, headers)
            )

        result = self.app(environ, capture)
        if status and status[0].startswith("200"):  # the form again: a failed login
            with self._lock:
                for key, _ in keys:
                    self._failures.setdefault(key, collections.deque()).append(now)
        return result


def _dispatcher_class():
    from waitress.task import ThreadedTaskDispatcher

    class Dispatcher(ThreadedTaskDispatcher):
        """waitress's worker pool, plus a reaper that answers tasks waiting past the queue
        timeout with 503 (served in the reaper thread, without touching Django)."""

        def __init__(self, queue_timeout: float) -> None:
            super().__init__()
            self.queue_timeout = queue_timeout
            self._stop = threading.Event()
            self._reaper = threading.Thread(target=self._reap, name="localtom-reaper", daemon=True)
            self._reaper.start()

        def add_task(self, task) -> None:
            task.localtom_enqueued = time.monotonic()
            super().add_task(task)

        def _reap(self) -> None:
            while not self._stop.wait(0.25):
                now = time.monotonic()
                with self.lock:
                    stale = [
                        t
                        for t in self.queue
                        if now - getattr(t, "localtom_enqueued", now) > self.queue_timeout
                    ]
                    for t in stale:
                        self.queue.remove(t)
                for channel in stale:  # waitress queues channels, one request per service()
                    # types-waitress types the queue as Task; waitress 3 queues HTTPChannels
                    channel.localtom_waited = now - channel.localtom_enqueued  # type: ignore[attr-defined]
                    try:
                        channel.service()
                    except Exception:
                        log.exception("could not answer a stale request")

        def shutdown(self, cancel_pending: bool = True, timeout: int = 5) -> bool:
            self._stop.set()
            return super().shutdown(cancel_pending, timeout)

    return Dispatcher


def _channel_class():
    from waitress.channel import HTTPChannel
    from waitress.task import WSGITask

    class Task(WSGITask):
        """Passes the reaper's verdict (how long the request waited) to :class:`Admission`."""

        def get_environment(self):
            environ = super().get_environment()
            waited = self.channel.__dict__.pop("localtom_waited", None)
            if waited is not None:
                environ["localtom.waited"] = waited
            return environ

    class Channel(HTTPChannel):
        task_class = Task

    return Channel


def make_server(django_app: Callable, port: int, capacity: Capacity):
    """A waitress server on 127.0.0.1:``port`` (not started) for the Django application."""
    from waitress.server import BaseWSGIServer, create_server

    app = Admission(LoginThrottle(django_app, capacity))
    dispatcher = _dispatcher_class()(capacity.queue_timeout)
    dispatcher.set_thread_count(capacity.threads)
    server = create_server(
        app,
        host="127.0.0.1",
        port=port,
        ipv6=False,
        threads=capacity.threads,
        connection_limit=capacity.connection_limit,
        channel_timeout=capacity.channel_timeout,
        cleanup_interval=max(1.0, min(30.0, capacity.channel_timeout / 3)),
        max_request_body_size=capacity.max_body,
        max_request_header_size=capacity.max_header,
        asyncore_use_poll=True,  # select() stops at 1024 descriptors
        backlog=1024,
        ident="elasticc-tutorial-localtom",
        _dispatcher=dispatcher,
    )
    assert isinstance(server, BaseWSGIServer)  # one host and port: a single-socket server
    server.channel_class = _channel_class()
    return server


def close_server(server) -> None:
    """Stop accepting, finish or drop the queued work, close every socket."""
    server.close()
    server.task_dispatcher.shutdown(timeout=5)
