"""The supervisor of one embedded PostgreSQL server: ``python -m elasticc_tutorial.pg.supervisor
PGDATA SOCKET_DIR [--adopt PID]``.

It runs the server as its child (or watches an adopted one) and stops it as soon as no live process
holds a lease on the cluster, so the server cannot outlive its users however they end (normal exit,
exception, signal, SIGKILL). It runs in a session of its own (a terminal's Ctrl-C is not for it); a
SIGTERM, SIGINT or SIGHUP sent to it stops the server, and should it be killed itself, the server's
parent-death signal (Linux) makes the server shut down too.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

from elasticc_tutorial.pg.cluster import PORT, SUPERVISOR_LOCK, Cluster
from elasticc_tutorial.pg.system import bin_dir, open_private, run_as, terminate

_TICK = 0.25


def _die_with_parent() -> None:
    """In the server's process, before exec: a fast shutdown (SIGINT) if the supervisor dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG


def _spawn(cluster: Cluster, socket_dir: Path) -> psutil.Popen:
    settings = {
        "listen_addresses": "",  # no TCP at all: the Unix socket only
        "unix_socket_directories": str(socket_dir),
        "unix_socket_permissions": "0700",
        "port": str(PORT),
        "password_encryption": "scram-sha-256",
        "hba_file": str(cluster.pgdata / "pg_hba.conf"),
        # A local, read-mostly database with no replicas: minimal WAL lets the sample's bulk load
        # (tables created and filled in one transaction) skip the log, which would otherwise leave
        # ~30 MB of spare segments in every sample.
        "wal_level": "minimal",
        "max_wal_senders": "0",
        "wal_recycle": "off",  # checkpoints delete spent segments rather than keep them as spares
    }
    args = [str(bin_dir() / "postgres"), "-D", str(cluster.pgdata)]
    for name, value in settings.items():
        args += ["-c", f"{name}={value}"]  # the command line beats postgresql(.auto).conf
    return (
        psutil.Popen(  # its output joins ours in the cluster's log (see Cluster._spawn_supervisor)
            args,
            stdin=subprocess.DEVNULL,
            cwd=cluster.pgdata,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            **run_as(),
        )
    )


def _exited(server: psutil.Process) -> bool:
    if isinstance(server, psutil.Popen):
        return server.poll() is not None  # also reaps it
    try:
        return not server.is_running() or server.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def supervise(pgdata: Path, socket_dir: Path, adopt: int | None = None) -> int:
    """Run (or watch) the server of ``pgdata`` until it exits or nobody holds a lease."""
    cluster = Cluster(pgdata)
    lock = open_private(pgdata / SUPERVISOR_LOCK)
    fcntl.flock(lock, fcntl.LOCK_EX)  # wait for a previous supervisor to finish
    os.ftruncate(lock, 0)
    os.write(lock, str(os.getpid()).encode())  # Cluster.stop waits for us to exit
    stopping: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: stopping.append(signum))
    server = psutil.Process(adopt) if adopt else _spawn(cluster, socket_dir)
    try:
        # A server that exited was stopped by Cluster.stop (which cleaned up) or crashed (the next
        # start cleans up): leave without the cluster lock, which a starter may hold meanwhile.
        while not _exited(server):
            # Never wait for the cluster lock: whoever holds it may be stopping our server.
            with cluster.locked(blocking=False) as got, contextlib.suppress(psutil.Error):
                if got and (stopping or not cluster.users()):
                    terminate(server)
                    _exited(server)
                    cluster.clear_stale()
                    break
            time.sleep(_TICK)
    finally:
        if not _exited(server):  # an unexpected error here: never leave the server behind
            terminate(server)
        os.close(lock)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m elasticc_tutorial.pg.supervisor")
    parser.add_argument("pgdata", type=Path)
    parser.add_argument("socket_dir", type=Path)
    parser.add_argument("--adopt", type=int, help="watch this running postmaster")
    args = parser.parse_args(argv)
    return supervise(args.pgdata, args.socket_dir, args.adopt)


if __name__ == "__main__":
    sys.exit(main())
