"""Scratch directories owned by one process: removed when it exits, and by the next one if it was killed.

A directory's name carries its owner's pid and start time (``<prefix><pid>.<start>-<random>``), so a
later process can tell a leftover of a dead process (remove it) from one still in use (keep it), even
after the pid was reused.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["file_lock", "owned_mkdtemp", "process_dir", "remove_stale", "stale"]

RUN_PREFIX = "elasticc-run-"

_lock = threading.Lock()
_process_dir: tuple[int, Path] | None = None


def _tag(pid: int) -> str:
    """``<pid>.<start time>``: names one process, not whichever reuses its pid later."""
    try:
        import psutil  # the twin extra; the core package reads Linux's /proc instead

        return f"{pid}.{int(psutil.Process(pid).create_time())}"
    except ImportError:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return f"{pid}.{stat.rsplit(')', 1)[1].split()[19]}"


def _owner_alive(tag: str) -> bool:
    pid, _, start = tag.partition(".")
    try:
        return _tag(int(pid)) == f"{int(pid)}.{int(start)}"
    except Exception:  # no such process (psutil.NoSuchProcess, FileNotFoundError) or a bad name
        return False


def owned_mkdtemp(prefix: str, parent: str | os.PathLike[str] | None = None) -> Path:
    """A new 0700 directory ``<parent>/<prefix><pid>.<start>-<random>`` owned by this process."""
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{_tag(os.getpid())}-", dir=parent))


def stale(parent: str | os.PathLike[str], prefix: str) -> list[Path]:
    """The ``owned_mkdtemp(prefix, parent)`` directories whose owner process is gone."""
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return []
    found = []
    for entry in entries:
        if not entry.name.startswith(prefix) or not entry.is_dir(follow_symlinks=False):
            continue
        tag = entry.name[len(prefix) :].partition("-")[0]
        if tag.count(".") == 1 and not _owner_alive(tag):
            found.append(Path(entry.path))
    return found


def remove_stale(parent: str | os.PathLike[str], prefix: str) -> list[Path]:
    """Remove the ``owned_mkdtemp(prefix, parent)`` directories whose owner process is gone."""
    found = stale(parent, prefix)
    for path in found:
        shutil.rmtree(path, ignore_errors=True)
    return found


def process_dir() -> Path:
    """This process's scratch directory under the temp directory (logs, query results), made on
    first use and removed at interpreter exit; leftovers of killed processes are removed here."""
    global _process_dir
    with _lock:
        if _process_dir is None or _process_dir[0] != os.getpid() or not _process_dir[1].is_dir():
            base = tempfile.gettempdir()
            remove_stale(base, RUN_PREFIX)
            path = owned_mkdtemp(RUN_PREFIX, base)
            _process_dir = (os.getpid(), path)
            atexit.register(_remove, os.getpid(), path)
        return _process_dir[1]


def _remove(pid: int, path: Path) -> None:
    if os.getpid() == pid:  # not in a forked child that inherited the atexit list
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def file_lock(fd: int, *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive ``flock`` on the open file ``fd``, which is closed afterwards; yields
    whether the lock was got (always, unless ``blocking`` is false and another process holds it).
    The kernel releases it when its holder exits, however it exits."""
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
