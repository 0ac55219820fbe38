"""PostgreSQL for the sample TOM database: an embedded server or any server given by URL.

The embedded server (:mod:`elasticc_tutorial.pg.cluster`) keeps its cluster in a directory
(``pgdata``), listens on a Unix socket only, in a directory only its owner can enter, and asks every
connection for the superuser's SCRAM password (generated at creation, kept 0600 in the cluster
directory). :func:`embedded_server` starts it, or adopts it when another process already runs it;
it stops when the last process using it lets go, and a supervisor process stops it as soon as all of
them have died, however they died.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import psycopg

from elasticc_tutorial.errors import PostgresConnectionError
from elasticc_tutorial.pg.cluster import Cluster, held_clusters

__all__ = [
    "Cluster",
    "cluster_users",
    "connect",
    "embedded_server",
    "redact_url",
    "release_all",
    "stop_cluster",
]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def embedded_server(
    pgdata: str | Path, *, keep_running: bool = False, start_timeout: float = 120.0
) -> Iterator[str]:
    """Start (or adopt) the embedded PostgreSQL cluster in ``pgdata`` and yield its superuser URL
    (database ``postgres``; the URL holds the password: see :func:`redact_url`).

    Parameters
    ----------
    pgdata
        Cluster directory; created (``initdb``) when it does not exist yet. Its parent must exist.
    keep_running
        Keep the server for the rest of this process instead of letting go after the block (it
        still stops when this process ends).
    start_timeout
        Seconds to wait for the server to accept connections.
    """
    cluster = Cluster(pgdata)
    url = cluster.acquire(start_timeout)
    log.info("embedded PostgreSQL for %s at %s", cluster.pgdata, redact_url(url))
    try:
        yield url
    finally:
        if not keep_running:
            cluster.release()


def cluster_users(pgdata: str | Path) -> list[int]:
    """Pids of the live processes using the embedded server of ``pgdata`` (empty: not in use)."""
    cluster = Cluster(pgdata)
    if not cluster.pgdata.is_dir():
        return []
    with cluster.locked():
        return cluster.users()


def stop_cluster(pgdata: str | Path) -> None:
    """Stop the embedded server of ``pgdata`` now if it runs (also after a crash: a stale pid file,
    socket directory or orphaned backend is cleaned up); its users lose their connections."""
    Cluster(pgdata).stop()


@atexit.register
def release_all() -> None:
    """Let go of every embedded server this process still holds (run at interpreter exit); each
    one stops unless another process uses it."""
    for pgdata in held_clusters():
        cluster = Cluster(pgdata)
        while pgdata in held_clusters():
            cluster.release()


def connect(url: str, **kwargs) -> psycopg.Connection:
    """Open a psycopg connection to ``url``; errors name the server without its password."""
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as exc:
        raise PostgresConnectionError(
            f"cannot connect to PostgreSQL at {redact_url(url)}: {exc}"
        ) from None


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to log or print).

    Handles both URL (``postgresql://user:pw@host/db``) and key=value (``password=pw host=...``)
    connection strings.
    """
    from urllib.parse import urlsplit, urlunsplit

    if "://" not in url:
        return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", url, flags=re.I)
    parts = urlsplit(url)
    query = re.sub(r"(password=)[^&]*", r"\1***", parts.query, flags=re.I)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc, query=query))
