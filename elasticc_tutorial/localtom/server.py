"""Start-up of the local TOM: database, Django, migrations, demo account, read-only role, runner, HTTP.

:func:`serve` runs in the foreground until SIGINT/SIGTERM (``elasticc-tutorial tom serve``, and the
subprocess that :class:`elasticc_tutorial.localtom.LocalTom` starts). Django is configured in-process
with :func:`django.conf.settings.configure`, so one process serves one TOM.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import secrets
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from elasticc_tutorial import pg
from elasticc_tutorial.localtom.http import Capacity, _Stop, close_server, make_server

log = logging.getLogger(__name__)

#: The demo account's user name (its password is random, in the credentials file).
USERNAME = "tutorial"
#: Database name of the sample TOM (as in the real TOM).
DBNAME = "tom_desc"


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """What a running local TOM tells whoever started it: its URL and its two accounts (the demo
    user, and ``apibroker``, the one account besides superusers that may PUT broker messages), each
    with the 0600 file holding its password."""

    url: str
    username: str
    passwordfile: Path
    broker_username: str
    broker_passwordfile: Path

    def to_json(self) -> dict[str, str]:
        return {k: str(v) for k, v in dataclasses.asdict(self).items()}


def credentials_path(sample_dir: Path | None) -> Path:
    """Where the demo password is kept: ``<sample>/tomdb-credentials`` if the sample directory is
    writable, else a file in the user's config directory."""
    if sample_dir is not None and os.access(sample_dir, os.W_OK):
        return Path(sample_dir) / "tomdb-credentials"
    import platformdirs

    return Path(platformdirs.user_config_dir("elasticc-tutorial")) / "tomdb-credentials"


def read_or_create_password(path: Path) -> str:
    """The password in ``path`` (first line), or a new random one written there with mode 0600."""
    if path.is_file():
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # our own file: fix it rather than warn
        password = path.read_text().splitlines()[0].strip() if path.stat().st_size else ""
        if password:
            return password
    password = secrets.token_urlsafe(18)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tomdb-credentials.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return password


@contextlib.contextmanager
def database(sample_dir: Path | None, database_url: str | None) -> Iterator[str]:
    """The admin conninfo of the TOM database: the sample's embedded cluster (database ``tom_desc``,
    created if missing) or the server at ``database_url``."""
    if database_url:
        yield database_url
        return
    if sample_dir is None:
        raise ValueError("give a sample directory or a database URL")
    pgdata = Path(sample_dir) / "tomdb"
    with pg.embedded_server(pgdata) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (DBNAME,)
            ).fetchone():
                log.warning("%s has no database %s yet; creating an empty one", pgdata, DBNAME)
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DBNAME)))
        params = conninfo_to_dict(url)
        params["dbname"] = DBNAME
        yield make_conninfo("", **params)


def _setup_django(conninfo: str, verbose: bool) -> None:
    import django
    from django.conf import settings

    from elasticc_tutorial.localtom.conf import build_settings

    if not settings.configured:
        conf = build_settings(conninfo, debug_log=verbose)
        # A pool that stays busy past its wait answers 503 + Retry-After, never a 500.
        conf["MIDDLEWARE"] = [
            *conf["MIDDLEWARE"],
            "elasticc_tutorial.localtom.http.OverloadMiddleware",
        ]
        settings.configure(**conf)
        django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def _ensure_user(password: str) -> None:
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(username=USERNAME)
    if not user.check_password(password):
        user.set_password(password)
        user.save()


def serve(
    sample_dir: str | Path | None = None,
    *,
    port: int = 0,
    database_url: str | None = None,
    credentials_file: str | Path | None = None,
    on_ready: Callable[[ServerInfo], None] | None = None,
    verbose: bool = False,
    sql_timeout: float = 60.0,
    long_timeout: float = 3600.0,
    capacity: Capacity | None = None,
) -> None:
    """Serve the local TOM on ``127.0.0.1:port`` (0: any free port) until SIGINT/SIGTERM.

    ``on_ready(info)`` is called with a :class:`ServerInfo` once the server accepts connections.
    """
    from django.core.wsgi import get_wsgi_application

    from elasticc_tutorial.localtom.accounts import BROKER_USER, ensure_broker_account
    from elasticc_tutorial.localtom.readonly import ReadOnlyDatabase
    from elasticc_tutorial.localtom.runner import LongQueryRunner, fail_orphans
    from elasticc_tutorial.localtom.views_common import RUNTIME

    capacity = capacity or Capacity.from_env()
    sample = Path(sample_dir).expanduser().resolve() if sample_dir else None
    if sample is not None and not sample.is_dir():
        raise FileNotFoundError(f"sample directory {sample} does not exist")
    cred = Path(credentials_file) if credentials_file else credentials_path(sample)
    results_dir = Path(tempfile.mkdtemp(prefix="elasticc-localtom-results-"))
    with database(sample, database_url) as conninfo:
        _setup_django(conninfo, verbose)
        _ensure_user(read_or_create_password(cred))
        broker_cred = ensure_broker_account(cred)
        fail_orphans()  # queries whose runner died with a previous server
        ro = ReadOnlyDatabase(
            conninfo,
            timeout=sql_timeout,
            max_connections=capacity.sql_connections,
            max_per_role=capacity.connections_per_user,
            checkout_timeout=capacity.queue_timeout,
        )
        runner = LongQueryRunner(ro, results_dir, timeout=long_timeout)
        RUNTIME.ro, RUNTIME.runner, RUNTIME.results_dir = ro, runner, results_dir
        runner.start()
        httpd = make_server(get_wsgi_application(), port, capacity)
        url = f"http://127.0.0.1:{httpd.effective_port}"

        def stop(signum, frame):
            raise _Stop

        old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            # a signal may come as soon as the caller has read the first READY line, i.e. while
            # on_ready is still writing: that is a clean stop too
            with contextlib.suppress(_Stop):
                log.info("local TOM at %s", url)
                if on_ready:
                    on_ready(ServerInfo(url, USERNAME, cred, BROKER_USER, broker_cred))
                httpd.run()
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            close_server(httpd)
            runner.stop()
            runner.join(timeout=10)
            ro.close()
            from django.db import connections

            connections.close_all()
            shutil.rmtree(results_dir, ignore_errors=True)
