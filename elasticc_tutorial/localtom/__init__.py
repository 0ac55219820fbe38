"""The local TOM: a Django server that imitates the DESC TOM's web API on the tutorial sample.

``elasticc-tutorial tom serve`` runs it in the foreground; :class:`LocalTom` runs it in a subprocess for
notebooks and tests::

    with LocalTom(sample_dir) as tom:
        client = TomClient(tom.url, username=tom.username, passwordfile=tom.passwordfile)

It serves 127.0.0.1 only, on the sample's embedded PostgreSQL cluster (``<sample>/tomdb``, database
``tom_desc``) or on an existing server given by URL. The demo account's random password lives in a
0600 file (``<sample>/tomdb-credentials``) and is never printed.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from typing import IO

from elasticc_tutorial.errors import DataFileNotFoundError, LocalTomError

__all__ = ["LocalTom", "add_cli"]

READY = "LOCALTOM-READY "
DB_URL_ENV = "ELASTICC_LOCALTOM_DATABASE_URL"  # passed by environment: never on a command line
KEEP_LOG_ENV = (
    "ELASTICC_LOCALTOM_KEEP_LOG"  # set: keep the server log (stderr) after stop, for debugging
)

_running: weakref.WeakSet[LocalTom] = weakref.WeakSet()


@atexit.register
def stop_all() -> None:
    """Stop every :class:`LocalTom` this process started and has not stopped (run at exit)."""
    for tom in list(_running):
        tom.stop()


class LocalTom:
    """Serve the local TOM in a subprocess; a context manager exposing ``url``, ``username`` and
    ``passwordfile`` (the demo account), and ``broker_username`` and ``broker_passwordfile`` (the
    ``apibroker`` account, which may PUT ``elasticc2/brokermessage/``).

    Parameters
    ----------
    sample_dir
        The sample root (its ``tomdb/`` cluster is used unless ``database_url`` is given).
    port
        TCP port on 127.0.0.1; 0 picks a free one.
    database_url
        An existing PostgreSQL database holding the ``elasticc2_*`` tables.
    credentials_file
        Where the demo password is kept (default ``<sample>/tomdb-credentials``).
    startup_timeout
        Seconds to wait for the server to accept connections.
    """

    def __init__(
        self,
        sample_dir: str | os.PathLike[str] | None,
        port: int = 0,
        database_url: str | None = None,
        *,
        credentials_file: str | os.PathLike[str] | None = None,
        startup_timeout: float = 120.0,
        sql_timeout: float = 60.0,
    ) -> None:
        if sample_dir is None and database_url is None:
            raise LocalTomError("LocalTom needs a sample directory or a database_url")
        self.sample_dir = Path(sample_dir).expanduser().resolve() if sample_dir else None
        if self.sample_dir is not None and not self.sample_dir.is_dir():
            raise DataFileNotFoundError(f"sample directory {self.sample_dir} does not exist")
        if not 0 <= int(port) < 65536:
            raise LocalTomError(f"port must be 0..65535, not {port}")
        self.port = int(port)
        self._database_url = database_url
        self.credentials_file = Path(credentials_file) if credentials_file else None
        self.startup_timeout = startup_timeout
        self.sql_timeout = sql_timeout
        self.url: str | None = None
        self.username: str | None = None
        self.passwordfile: Path | None = None
        self.broker_username: str | None = None
        self.broker_passwordfile: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None

    def __repr__(self) -> str:
        state = self.url or "not running"
        return f"LocalTom({str(self.sample_dir)!r}, {state})"

    @property
    def log_path(self) -> Path | None:
        """The server's log file (stderr of the subprocess)."""
        return Path(self._log.name) if self._log else None

    def start(self) -> LocalTom:
        """Start the server and wait until it accepts connections."""
        if self._proc is not None:
            raise LocalTomError("this LocalTom is already running")
        cmd = [sys.executable, "-m", "elasticc_tutorial.localtom", "--port", str(self.port)]
        cmd += ["--sql-timeout", str(self.sql_timeout)]
        if self.sample_dir:
            cmd += ["--data", str(self.sample_dir)]
        if self.credentials_file:
            cmd += ["--credentials-file", str(self.credentials_file)]
        env = dict(os.environ)
        env.pop(DB_URL_ENV, None)
        if self._database_url:
            env[DB_URL_ENV] = self._database_url
        from elasticc_tutorial.rundir import process_dir

        # The log lives in this process's scratch directory (gone at exit) unless it is to be kept.
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed in stop())
            prefix="elasticc-localtom-",
            suffix=".log",
            delete=False,
            dir=None if os.environ.get(KEEP_LOG_ENV) else process_dir(),
        )
        self._proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env=env,
            text=True,
        )
        _running.add(self)
        lines: list[str] = []
        reader = threading.Thread(target=self._read_ready, args=(lines,), daemon=True)
        reader.start()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline and self.url is None:
            if self._proc.poll() is not None and not reader.is_alive():
                break
            reader.join(0.05)
        if self.url is None:
            tail = self._log_tail()
            self.stop()
            raise LocalTomError(f"the local TOM did not start:\n{tail}")
        return self

    def _read_ready(self, lines: list[str]) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.startswith(READY):
                info = json.loads(line[len(READY) :])
                self.username = info["username"]
                self.passwordfile = Path(info["passwordfile"])
                self.broker_username = info["broker_username"]
                self.broker_passwordfile = Path(info["broker_passwordfile"])
                self.url = info["url"]
            else:
                lines.append(line)

    def _log_tail(self, n: int = 30) -> str:
        if not self._log:
            return ""
        try:
            return "\n".join(Path(self._log.name).read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
        proc, self._proc = self._proc, None
        _running.discard(self)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc is not None and proc.stdout:
            proc.stdout.close()
        if proc is not None and not os.environ.get(KEEP_LOG_ENV):
            # The server removes its scratch directory (query results) as it exits; one that had
            # to be killed cannot, so its owner does it now that the server is gone.
            from elasticc_tutorial.rundir import RUN_PREFIX, remove_stale

            remove_stale(tempfile.gettempdir(), RUN_PREFIX)
        if self._log:
            self._log.close()
            if not os.environ.get(KEEP_LOG_ENV):
                Path(self._log.name).unlink(missing_ok=True)
            else:  # kept for whoever debugs a live session; say where it is
                print(f"local TOM log kept in {self._log.name}", file=sys.stderr)
            self._log = None
        self.url = None

    def __enter__(self) -> LocalTom:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def __del__(self) -> None:
        if getattr(self, "_proc", None) is not None:
            self.stop()


def hang_up_as_terminate() -> None:
    """Make SIGHUP (the terminal closed) stop the server like SIGTERM does: cleanly."""
    signal.signal(signal.SIGHUP, lambda signum, frame: os.kill(os.getpid(), signal.SIGTERM))


def add_cli(subparsers) -> None:
    """``elasticc-tutorial tom serve``."""
    tom = subparsers.add_parser("tom", help="the local TOM (a DESC TOM look-alike on the sample)")
    sub = tom.add_subparsers(dest="tom_command", metavar="SUBCOMMAND", required=True)
    serve = sub.add_parser("serve", help="serve the local TOM on 127.0.0.1 until Ctrl-C")
    serve.add_argument("--port", type=int, default=8000, help="TCP port (0: any free port)")
    serve.add_argument(
        "--data", type=Path, help="sample directory (default: the configured sample)"
    )
    serve.add_argument(
        "--database-url",
        help="use this PostgreSQL database instead of the sample's embedded cluster "
        f"(or set {DB_URL_ENV})",
    )
    serve.add_argument("--credentials-file", type=Path, help="where the demo password is kept")
    serve.set_defaults(func=_cli_serve)


def _cli_serve(args) -> int:
    import logging

    from elasticc_tutorial.localtom.server import ServerInfo, serve
    from elasticc_tutorial.rundir import process_dir

    tempfile.tempdir = str(process_dir())  # query results: removed at exit, even after a kill
    hang_up_as_terminate()

    data = args.data
    if data is None:
        from elasticc_tutorial.paths import sample_dir

        data = sample_dir()
    url = args.database_url or os.environ.get(DB_URL_ENV)
    if not 0 <= args.port < 65536:
        raise LocalTomError(f"--port must be 0..65535, not {args.port}")
    if not Path(data).is_dir() and not url:
        raise LocalTomError(
            f"sample directory {data} does not exist; build it (elasticc-tutorial sample build) "
            "or give --data/--database-url"
        )

    def ready(info: ServerInfo) -> None:
        print(
            f"local TOM at {info.url} (user {info.username}, password in {info.passwordfile}; "
            f"broker account {info.broker_username}, password in {info.broker_passwordfile}); "
            "Ctrl-C stops it",
            flush=True,
        )

    try:
        serve(
            data if Path(data).is_dir() else None,
            port=args.port,
            database_url=url,
            credentials_file=args.credentials_file,
            on_ready=ready,
            verbose=logging.getLogger().level <= logging.INFO,
        )
    except (OSError, ValueError, ConnectionError) as exc:
        raise LocalTomError(str(exc)) from None
    return 0
