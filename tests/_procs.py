"""Process helpers for the lifecycle tests, reading Linux's /proc directly (an oracle independent of
``elasticc_tutorial.pg``). Processes are told apart by the directories they use: other helpers run
PostgreSQL servers on the same machine concurrently, but never under this test's ``tmp_path``."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

needs_proc = pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="reads /proc (Linux)")


def procs_under(root: Path) -> list[int]:
    """Pids of live processes (not this one) whose command line names ``root`` or a path below it,
    or whose working directory is under it (PostgreSQL's backends work in their data directory)."""
    root = Path(root).resolve()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = Path(os.readlink(entry / "cwd"))
        except (OSError, IndexError):
            continue
        if str(root) in cmdline or cwd == root or root in cwd.parents:
            found.append(int(entry.name))
    return sorted(found)


def children(pid: int) -> list[int]:
    """The direct child processes of ``pid`` (none once it has gone)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (for a server the test starts)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_under(root: Path) -> list[int]:
    """The PostgreSQL processes (server, backends) and their supervisors under ``root``."""
    found = []
    for pid in procs_under(root):
        with contextlib.suppress(OSError):
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if comm.startswith("postgres") or b"elasticc_tutorial.pg.supervisor" in cmdline:
                found.append(pid)
    return found


def postmaster_pid(pgdata: Path) -> int:
    return int((Path(pgdata) / "postmaster.pid").read_text().split()[0])


def wait_until(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def child_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def spawn_python(code: str, *args: str, **env: str) -> subprocess.Popen:
    """Run ``code`` in a new Python process (its own session, like a separate terminal job)."""
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(**env),
        start_new_session=True,
    )


def read_ready(proc: subprocess.Popen, timeout: float = 180.0) -> str:
    """The rest of the child's ``READY ...`` line (fails with its stderr if it dies first)."""
    assert proc.stdout is not None
    line = proc.stdout.readline()
    while line.startswith("TOM: "):  # tom.connect() names the TOM it uses in one line first
        line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        _, err = proc.communicate(timeout=timeout)
        raise AssertionError(f"child did not get ready: {line!r}\n{err}")
    return line[len("READY") :].strip()


HOLD = """
import sys
from elasticc_tutorial import pg
with pg.embedded_server(sys.argv[1]) as url:
    print("READY", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


@contextlib.contextmanager
def hold_server_in_child(pgdata: Path) -> Iterator[subprocess.Popen]:
    """Another process using the embedded server of ``pgdata`` until the block ends."""
    proc = spawn_python(HOLD, str(pgdata))
    try:
        read_ready(proc)
        yield proc
    finally:
        proc.communicate(timeout=120)
        assert proc.returncode == 0
