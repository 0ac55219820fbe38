"""A local TOM on a throwaway copy of the sample's TOM database, for sending practice messages.

Messages PUT to a TOM stay there. Sent to the sample's own database they would add a classifier that
every later reader of the sample sees (chapter 8 would list it beside the sample brokers) and pile up
with every re-run. :func:`scratch_tom` copies the sample database (PostgreSQL ``CREATE DATABASE ...
TEMPLATE``, a file-level copy of a few seconds), serves the copy with a
:class:`~elasticc_tutorial.localtom.LocalTom` and drops it afterwards, even on error.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from elasticc_tutorial import pg
from elasticc_tutorial.errors import SampleError
from elasticc_tutorial.localtom import LocalTom

__all__ = ["scratch_tom"]

SOURCE_DB = "tom_desc"
#: How long to wait for other sessions to leave the source database. A local TOM that is stopping
#: (e.g. the previous notebook's, whose kernel just ended) closes its connections within a second or
#: two; one that is still serving never does.
COPY_WAIT_SECONDS = 20.0


@contextlib.contextmanager
def scratch_tom(sample_dir: str | os.PathLike[str]) -> Iterator[LocalTom]:
    """Yield a running :class:`LocalTom` on a fresh copy of ``<sample_dir>/tomdb``'s database.

    Raises :class:`~elasticc_tutorial.errors.SampleError` when the sample has no TOM database, or
    when the copy cannot be made because something else is connected to it (PostgreSQL copies a
    database only while nobody uses it: stop other local TOMs on this sample, e.g. the one
    ``tom.connect()`` started in this kernel, and retry).
    """
    sample_dir = Path(sample_dir)
    pgdata = sample_dir / "tomdb"
    if not pgdata.is_dir():
        raise SampleError(
            f"{sample_dir} has no TOM database ({pgdata} is missing); build the sample"
        )
    name = f"tom_desc_scratch_{os.getpid()}_{secrets.token_hex(4)}"
    with contextlib.ExitStack() as stack:
        with warnings.catch_warnings():
            # pgserver asks platformdirs for a runtime directory it does not use; without
            # $XDG_RUNTIME_DIR that prints a notice into the learner's notebook
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
            url = stack.enter_context(pg.embedded_server(pgdata))
        with psycopg.connect(url, autocommit=True) as admin:
            _copy_database(admin, name, pgdata)
        try:
            params = conninfo_to_dict(url)
            params["dbname"] = name
            with LocalTom(sample_dir, database_url=make_conninfo("", **params)) as tom:
                yield tom
        finally:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def _copy_database(admin: psycopg.Connection, name: str, pgdata: Path) -> None:
    """``CREATE DATABASE name TEMPLATE tom_desc``, waiting up to :data:`COPY_WAIT_SECONDS` for
    other sessions to leave ``tom_desc`` (PostgreSQL copies a database only while nobody uses it)."""
    deadline = time.monotonic() + COPY_WAIT_SECONDS
    while True:
        try:
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(name), sql.Identifier(SOURCE_DB)
                )
            )
            return
        except psycopg.errors.InvalidCatalogName:
            raise SampleError(f"{pgdata} has no database {SOURCE_DB}; rebuild the sample") from None
        except psycopg.errors.ObjectInUse:
            if time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            others = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (SOURCE_DB,)
            ).fetchone()
            raise SampleError(
                f"cannot copy database {SOURCE_DB} of {pgdata}: {others[0] if others else 'some'} "
                f"other session(s) stayed connected to it for {COPY_WAIT_SECONDS:.0f} s; stop "
                "other local TOMs on this sample (a kernel's tom.connect() keeps one running) "
                "and retry"
            ) from None
