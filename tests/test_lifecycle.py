"""Nothing the project starts outlives its owner: every exit path of a process that started the
embedded PostgreSQL, the local TOM or ``lab`` leaves no server, no supervisor and no scratch entry
behind; a killed TOM or build leaves nothing that blocks the next start, stop or build.

Real processes throughout; they are found through /proc by the directories they use (see _procs).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from _procs import (
    ROOT,
    child_env,
    children,
    free_port,
    hold_server_in_child,
    needs_proc,
    postgres_under,
    procs_under,
    read_ready,
    spawn_python,
    wait_until,
)

from elasticc_tutorial import pg
from elasticc_tutorial.errors import SampleError
from elasticc_tutorial.localtom import LocalTom
from elasticc_tutorial.rundir import RUN_PREFIX, process_dir

pytestmark = needs_proc

START_SERVER = """
import sys, time
from psycopg.conninfo import conninfo_to_dict
from elasticc_tutorial import pg
with pg.embedded_server(sys.argv[1]) as url:
    print("READY", conninfo_to_dict(url)["host"], flush=True)
    if sys.argv[2] == "exception":
        raise RuntimeError("boom")
    if sys.argv[2] != "normal":
        time.sleep(600)  # until the test's signal
"""

EXIT_PATHS = {
    "normal": (None, 0),
    "exception": (None, 1),
    "SIGINT": (signal.SIGINT, -signal.SIGINT),  # KeyboardInterrupt, re-raised as the signal
    "SIGTERM": (signal.SIGTERM, -signal.SIGTERM),
    "SIGHUP": (signal.SIGHUP, -signal.SIGHUP),
    "SIGKILL": (signal.SIGKILL, -signal.SIGKILL),
}


def _tmp_entries_of(pid: int) -> list[Path]:
    """Entries in the temp directories named after process ``pid`` (our scratch naming)."""
    bases = {Path("/tmp"), Path(tempfile.gettempdir())}
    return [p for base in bases for p in base.iterdir() if f"-{pid}." in p.name]


@pytest.mark.parametrize("how", list(EXIT_PATHS))
def test_every_exit_of_the_starting_process_stops_the_server(tmp_path, how):
    # A path too long for a Unix socket: the socket directory then goes to /tmp, and must go away.
    parent = tmp_path / ("p" * 80)
    parent.mkdir()
    child = spawn_python(START_SERVER, str(parent / "tomdb"), how)
    sockdir = Path(read_ready(child))
    assert sockdir.is_dir() and not sockdir.is_relative_to(tmp_path)
    assert postgres_under(tmp_path)
    sig, expected = EXIT_PATHS[how]
    if sig is not None:
        os.kill(child.pid, sig)
    _, err = child.communicate(timeout=120)
    assert child.returncode == expected, err
    if how == "exception":
        assert "boom" in err
    assert wait_until(lambda: postgres_under(tmp_path) == []), postgres_under(tmp_path)
    assert not sockdir.exists()
    assert _tmp_entries_of(child.pid) == []
    assert not (parent / "tomdb" / "elasticc.leases" / str(child.pid)).exists()
    # Nothing blocks the next user.
    with pg.embedded_server(parent / "tomdb") as url, pg.connect(url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert postgres_under(tmp_path) == []


def test_the_supervisor_killed_takes_its_server_down(tmp_path):
    pgdata = tmp_path / "tomdb"
    with hold_server_in_child(pgdata):
        supervisors = [
            pid
            for pid in postgres_under(tmp_path)
            if b"elasticc_tutorial.pg.supervisor" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]
        assert len(supervisors) == 1
        os.kill(supervisors[0], signal.SIGKILL)
        # the server's parent-death signal: a fast shutdown
        assert wait_until(lambda: postgres_under(tmp_path) == []), postgres_under(tmp_path)
        # the next user starts it afresh
        with pg.embedded_server(pgdata) as url, pg.connect(url) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    assert wait_until(lambda: postgres_under(tmp_path) == [])


@pytest.fixture
def sample(tmp_path) -> Path:
    """An (empty) sample directory: the local TOM makes its database in the sample's cluster."""
    root = tmp_path / "sample"
    root.mkdir()
    return root


def test_a_killed_tom_blocks_neither_stop_nor_the_next_start(sample):
    tom = LocalTom(sample).start()
    try:
        log = tom.log_path
        assert log is not None and log.is_relative_to(process_dir())
        os.kill(tom._proc.pid, signal.SIGKILL)
        # its PostgreSQL goes as soon as its only user is gone
        assert wait_until(lambda: postgres_under(sample) == []), postgres_under(sample)
    finally:
        tom.stop()
    assert tom.url is None and not log.exists()
    with LocalTom(sample) as again:
        import requests

        assert requests.get(again.url, timeout=30).status_code < 500
    assert wait_until(lambda: procs_under(sample) == []), procs_under(sample)


START_TOM = """
import sys, time
from elasticc_tutorial import tom
from elasticc_tutorial.tom import connection
client = tom.connect(sample_dir=sys.argv[1], quiet=True)
print("READY", connection._LOCAL._proc.pid, connection._LOCAL.log_path, flush=True)
if sys.argv[2] != "normal":
    time.sleep(600)  # until the test's signal
"""


@pytest.mark.parametrize("how", ["normal", "SIGTERM", "SIGKILL"])
def test_a_session_that_called_tom_connect_leaves_nothing(sample, tmp_path, how):
    env = {"DESC_TOM_URL": "local", "TMPDIR": str(tmp_path)}  # scratch entries land here
    child = spawn_python(START_TOM, str(sample), how, **env)
    tom_pid, log = read_ready(child).split()
    assert Path(log).is_file() and Path(log).is_relative_to(tmp_path)
    assert int(tom_pid) in procs_under(sample)
    if how != "normal":
        os.kill(child.pid, getattr(signal, how))
    _, err = child.communicate(timeout=120)
    assert child.returncode == (0 if how == "normal" else -getattr(signal, how)), err
    # the TOM (its command line names the sample) and its PostgreSQL are gone, and so is every
    # scratch directory: the session's log, the TOM's query results
    assert wait_until(lambda: procs_under(sample) == []), procs_under(sample)
    assert wait_until(lambda: [p.name for p in tmp_path.iterdir() if RUN_PREFIX in p.name] == [])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_lab_stops_jupyter_the_tom_and_postgres_on_a_signal(tmp_path, sig):
    import requests

    from elasticc_tutorial import book

    sample = book.ensure_sample()
    # lab shares the sample's PostgreSQL with any other user of it; this test can only see it stop
    # if nothing else (e.g. a TOM an earlier test left running in this process) still uses it
    pidfile = sample / "tomdb" / "postmaster.pid"
    assert not pidfile.exists(), f"the sample's PostgreSQL is already running ({pidfile})"
    port, token = free_port(), "elasticc-lifecycle-token"
    env = child_env(JUPYTER_NO_CONFIG="1", JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    env["DESC_TOM_URL"] = "local"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "elasticc_tutorial", "lab", "--", "--no-browser"),
            *("--allow-root", f"--port={port}", f"--IdentityProvider.token={token}"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:

        def lab_up() -> bool:
            try:
                return (
                    requests.get(
                        f"http://127.0.0.1:{port}/api/status",
                        headers={"Authorization": f"token {token}"},
                        timeout=2,
                    ).status_code
                    == 200
                )
            except requests.ConnectionError:
                return proc.poll() is not None

        assert wait_until(lab_up, timeout=180) and proc.poll() is None, "lab did not come up"
        kids = children(proc.pid)
        kinds = {c: Path(f"/proc/{c}/cmdline").read_bytes() for c in kids}
        assert any(b"jupyterlab" in k for k in kinds.values())
        assert any(b"elasticc_tutorial.localtom" in k for k in kinds.values())
        postmaster = int((sample / "tomdb" / "postmaster.pid").read_text().split()[0])
        assert _alive(postmaster)

        os.kill(proc.pid, sig)  # only lab itself: it must take the rest down
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 128 + sig, out
        for pid in kids:
            assert wait_until(lambda pid=pid: not _alive(pid)), f"{kinds[pid]!r} survived"
        assert wait_until(lambda: not _alive(postmaster)), "PostgreSQL survived"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.mark.slow
def test_a_killed_build_leaves_no_server_and_its_leftover_goes_with_the_next_build(tmp_path):
    from elasticc_tutorial.sample.build import build

    out = tmp_path / "sample"
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "elasticc_tutorial", "sample", "build", "--no-progress"),
            *("--out", str(out), "--objects-per-model", "3"),
        ],
        env=child_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:

        def loading() -> bool:  # the build's PostgreSQL is up and in use
            up = any(tmp_path.glob(".bld-*/tomdb/postmaster.pid")) and postgres_under(tmp_path)
            return bool(up) or proc.poll() is not None

        assert wait_until(loading, timeout=300) and proc.poll() is None
        leftover = next(tmp_path.glob(".bld-*"))
        assert postgres_under(leftover)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert wait_until(lambda: postgres_under(tmp_path) == []), postgres_under(tmp_path)
    assert leftover.is_dir()  # still there: only a later build can tell it is stale
    build(out, scale=1, progress=False)
    assert not leftover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sample"]


def test_a_rebuild_refuses_a_sample_whose_database_is_in_use(tmp_path):
    from elasticc_tutorial.sample.build import build

    out = tmp_path / "sample"
    build(out, scale=1, progress=False)
    with hold_server_in_child(out / "tomdb") as user:
        with pytest.raises(SampleError, match=rf"in use.*{user.pid}.*stop them"):
            build(out, scale=1, progress=False, force=True)
        assert (out / "tomdb" / "PG_VERSION").is_file()  # untouched
    build(out, scale=1, progress=False, force=True)
    assert not (out / "tomdb").exists()  # replaced by the files-only build
    assert postgres_under(tmp_path) == []


def test_the_server_keeps_no_lease_of_a_process_that_is_gone(tmp_path):
    """A holder killed mid-way leaves a lease file; the next user sees it is dead, does not count
    it, and lets the server stop when it is done."""
    pgdata = tmp_path / "tomdb"
    child = spawn_python(START_SERVER, str(pgdata), "SIGKILL")
    read_ready(child)
    with pg.embedded_server(pgdata):
        child.kill()
        child.wait()
        assert wait_until(lambda: pg.cluster_users(pgdata) == [os.getpid()])
        time.sleep(0.5)  # a few supervisor rounds: the server must stay up for us
        assert postgres_under(tmp_path)
    assert postgres_under(tmp_path) == []


def test_the_tom_log_is_kept_on_request_and_named(sample, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ELASTICC_LOCALTOM_KEEP_LOG", "1")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with LocalTom(sample) as tom:
        log = tom.log_path
    assert log is not None and log.parent == tmp_path and log.is_file()
    assert f"local TOM log kept in {log}" in capsys.readouterr().err
    assert wait_until(lambda: procs_under(sample) == [])


def test_scratch_of_a_dead_process_is_removed_and_a_live_ones_kept(tmp_path):
    from elasticc_tutorial.rundir import owned_mkdtemp, remove_stale

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".bld-{dead.pid}.1-x"  # its process has exited
    stale.mkdir()
    mine = owned_mkdtemp(".bld-", tmp_path)
    assert mine.name.startswith(f".bld-{os.getpid()}.")
    reused = tmp_path / f".bld-{os.getpid()}.1-y"  # our pid, but another start time: not us
    reused.mkdir()
    other = tmp_path / ".bld-unrelated"
    other.mkdir()
    assert sorted(remove_stale(tmp_path, ".bld-")) == sorted([stale, reused])
    assert mine.is_dir() and other.is_dir()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_tom_serve_stops_cleanly_on_a_signal(sample, tmp_path, sig):
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "elasticc_tutorial",
            "tom",
            "serve",
            "--port",
            "0",
            "--data",
            str(sample),
        ],
        env=child_env(TMPDIR=str(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("local TOM at http://127.0.0.1:"), proc.stderr.read()
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert wait_until(lambda: procs_under(sample) == []), procs_under(sample)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(RUN_PREFIX)] == []
