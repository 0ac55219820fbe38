"""PostgreSQL for the sample TOM database: an embedded server (pgserver) or any server given by URL.

The embedded server keeps its cluster in a directory (``pgdata``), listens on a Unix socket only (never
on a TCP port), and trusts local connections, so no password exists to leak. It is started on first use
and stopped when the last handle in any process closes (pgserver counts handles across processes).
"""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

__all__ = ["connect", "embedded_server", "redact_url"]

log = logging.getLogger(__name__)

_START_ATTEMPTS = 3


@contextlib.contextmanager
def embedded_server(pgdata: str | Path, *, keep_running: bool = False) -> Iterator[str]:
    """Start (or attach to) the embedded PostgreSQL cluster in ``pgdata`` and yield its URL.

    Parameters
    ----------
    pgdata
        Cluster directory; created and initialised (``initdb``) when it does not exist yet. Its parent
        must exist.
    keep_running
        Leave the server running after the block (the next call attaches to it) instead of stopping it
        when this was the last handle.
    """
    import pgserver  # imported here: it starts work (user checks, lock files) on import

    pgdata = Path(pgdata).expanduser().resolve()
    if not pgdata.parent.is_dir():
        raise FileNotFoundError(f"pgdata parent directory {pgdata.parent} does not exist")
    cleanup = None if keep_running else "stop"
    for attempt in range(1, _START_ATTEMPTS + 1):
        try:
            with _small_wal_segments(pgserver):
                server = pgserver.get_server(pgdata, cleanup_mode=cleanup)
            break
        except subprocess.TimeoutExpired:
            # pgserver gives pg_ctl a fixed 10 s; on a loaded machine the server can take longer
            # to come up. It keeps starting in the background; the next attempt attaches to it
            # (after dropping the half-made handle pgserver cached for this directory).
            pgserver.PostgresServer._instances.pop(pgdata, None)
            if attempt == _START_ATTEMPTS:
                raise RuntimeError(
                    f"the embedded PostgreSQL server in {pgdata} did not start after "
                    f"{_START_ATTEMPTS} attempts; see {pgdata / 'log'}"
                ) from None
            log.warning("PostgreSQL in %s is slow to start; waiting (attempt %d)", pgdata, attempt)
            time.sleep(2.0 * attempt)
    url = server.get_uri()
    log.info("embedded PostgreSQL for %s at %s", pgdata, url)
    try:
        yield url
    finally:
        server.cleanup()


@contextlib.contextmanager
def _small_wal_segments(pgserver_module) -> Iterator[None]:
    """Make pgserver's ``initdb`` create 1 MB WAL segments instead of 16 MB.

    A cluster keeps at least two segments of write-ahead log; with the default size that is 32 MB
    of dead weight in a small, read-mostly sample. pgserver (0.1.x) has no option for initdb
    arguments, so its module-level ``initdb`` is wrapped for the duration of ``get_server``.
    """
    module = getattr(pgserver_module, "postgres_server", None)
    original = getattr(module, "initdb", None)
    if original is None:  # a pgserver whose layout we do not know: keep its defaults
        yield
        return

    def initdb(args, *posargs, **kwargs):
        return original([*args, "--wal-segsize=1"], *posargs, **kwargs)

    module.initdb = initdb
    try:
        yield
    finally:
        module.initdb = original


def connect(url: str, **kwargs) -> psycopg.Connection:
    """Open a psycopg connection to ``url``; errors name the server without its password."""
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as exc:
        raise ConnectionError(f"cannot connect to PostgreSQL at {redact_url(url)}: {exc}") from None


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
