"""The PostgreSQL helpers: password redaction and the embedded server."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from _procs import hold_server_in_child, needs_proc, postgres_under, postmaster_pid, wait_until

from elasticc_tutorial import pg
from elasticc_tutorial.errors import PostgresConnectionError, PostgresError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://tom:s3cret@db.example/tom_desc", "postgresql://tom:***@db.example/tom_desc"),
        (
            "postgresql://tom@db.example/x?password=s3cret&sslmode=require",
            "postgresql://tom@db.example/x?password=***&sslmode=require",
        ),
        ("host=db password=s3cret dbname=tom_desc", "host=db password=*** dbname=tom_desc"),
        ("host=db PASSWORD = 's3 cret' dbname=x", "host=db PASSWORD = *** dbname=x"),
        (
            "postgresql://postgres:@/postgres?host=/tmp/x",
            "postgresql://postgres:***@/postgres?host=/tmp/x",
        ),
        ("postgresql://tom@db.example/tom_desc", "postgresql://tom@db.example/tom_desc"),
    ],
)
def test_redact_url_hides_every_password_form(url, expected):
    redacted = pg.redact_url(url)
    assert redacted == expected
    assert "s3cret" not in redacted and "s3 cret" not in redacted


def test_connect_error_names_server_without_password(tmp_path):
    url = f"postgresql://nobody:s3cret@/nodb?host={tmp_path}&connect_timeout=2"
    with pytest.raises(ConnectionError) as err:
        pg.connect(url)
    assert "s3cret" not in str(err.value)
    assert "***" in str(err.value)


def _socket_dir(url: str) -> Path:
    return Path(psycopg.conninfo.conninfo_to_dict(url)["host"])


@needs_proc
def test_embedded_server_runs_sql_and_stops(tmp_path):
    pgdata = tmp_path / "cluster"
    with pg.embedded_server(pgdata) as url, pg.connect(url) as conn:
        assert conn.execute("select 6 * 7").fetchone() == (42,)
        assert postgres_under(tmp_path)
    assert (pgdata / "PG_VERSION").read_text().strip() == "18"
    assert postgres_under(tmp_path) == []  # stopped when the block ended: no lingering server
    with pytest.raises(ConnectionError):
        pg.connect(url + "&connect_timeout=2")


@needs_proc
def test_every_connection_needs_the_password_and_the_socket_is_private(tmp_path):
    pgdata = tmp_path / "cluster"
    with pg.embedded_server(pgdata) as url:
        sockdir = _socket_dir(url)
        assert stat.S_IMODE(sockdir.stat().st_mode) == 0o700
        assert stat.S_IMODE((sockdir / ".s.PGSQL.5432").stat().st_mode) == 0o700
        hba = [
            line.split()
            for line in (pgdata / "pg_hba.conf").read_text().splitlines()
            if line.strip() and not line.lstrip().startswith("#")
        ]
        assert hba and all(rule[-1] == "scram-sha-256" for rule in hba)
        assert "trust" not in (pgdata / "pg_hba.conf").read_text()
        pwfile = pgdata / "elasticc.superuser"
        assert stat.S_IMODE(pwfile.stat().st_mode) == 0o600
        password = pwfile.read_text().strip()
        assert len(password) >= 32 and password in url
        with pg.connect(url) as conn:
            assert conn.execute("show listen_addresses").fetchone() == ("",)  # no TCP at all
            assert conn.execute("show password_encryption").fetchone() == ("scram-sha-256",)
            # how this very connection was authenticated (PostgreSQL's own record)
            assert conn.execute("select system_user").fetchone() == ("scram-sha-256:postgres",)
        without = url.replace(f":{password}@", "@")
        with pytest.raises(PostgresConnectionError, match="no password supplied") as err:
            pg.connect(without + "&connect_timeout=5")
        assert password not in str(err.value)
        wrong = url.replace(password, "0" * len(password))
        with pytest.raises(PostgresConnectionError, match="password authentication failed"):
            pg.connect(wrong + "&connect_timeout=5")


@needs_proc
def test_a_long_cluster_path_gets_a_private_socket_dir_removed_at_stop(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    with pg.embedded_server(deep / "cluster") as url:
        sockdir = _socket_dir(url)
        assert not sockdir.is_relative_to(deep)  # too long for a Unix socket path there
        assert stat.S_IMODE(sockdir.stat().st_mode) == 0o700
        assert sockdir.stat().st_uid == (deep / "cluster").stat().st_uid
        with pg.connect(url) as conn:
            assert conn.execute("select 1").fetchone() == (1,)
    assert not sockdir.exists()


@needs_proc
def test_a_running_server_is_adopted_and_kept_for_its_other_user(tmp_path):
    pgdata = tmp_path / "cluster"
    with hold_server_in_child(pgdata) as child:
        first = postmaster_pid(pgdata)
        with pg.embedded_server(pgdata) as url, pg.connect(url) as conn:
            assert postmaster_pid(pgdata) == first  # adopted, not a second server
            assert conn.execute("select 1").fetchone() == (1,)
        assert postgres_under(tmp_path), "the child still uses the server: it must keep running"
        assert pg.cluster_users(pgdata) == [child.pid]
    # The child has exited normally: nobody uses the server any more.
    assert wait_until(lambda: postgres_under(tmp_path) == [])


@needs_proc
def test_stop_and_restart_after_the_postmaster_was_killed(tmp_path):
    pgdata = tmp_path / "cluster"
    with pg.embedded_server(pgdata) as url:
        pid = postmaster_pid(pgdata)
        os.kill(pid, signal.SIGKILL)
        assert wait_until(lambda: pid not in postgres_under(tmp_path))
        assert (pgdata / "postmaster.pid").exists()  # stale: the server is gone
        pg.stop_cluster(pgdata)  # reliable after a crash: nothing to wait for, cleans up
        assert not (pgdata / "postmaster.pid").exists()
        with pytest.raises(ConnectionError):
            pg.connect(url + "&connect_timeout=2")
    with pg.embedded_server(pgdata) as url, pg.connect(url) as conn:
        assert conn.execute("select 2").fetchone() == (2,)
        assert postmaster_pid(pgdata) != pid
    assert wait_until(lambda: postgres_under(tmp_path) == [])


@needs_proc
def test_a_stale_pid_file_naming_another_process_does_not_block_the_start(tmp_path):
    pgdata = tmp_path / "cluster"
    with pg.embedded_server(pgdata):
        pass
    # postmaster.pid left by a crash, naming a live process that is not this cluster's server
    lines = [str(os.getpid()), str(pgdata), "0", "5432", "/nonexistent", "", "0 0", "ready"]
    (pgdata / "postmaster.pid").write_text("\n".join(lines) + "\n")
    with pg.embedded_server(pgdata) as url, pg.connect(url) as conn:
        assert conn.execute("select 3").fetchone() == (3,)
    assert postgres_under(tmp_path) == []


def test_a_cluster_of_another_major_version_is_refused_with_the_fix(tmp_path):
    old = tmp_path / "tomdb"
    old.mkdir()
    (old / "PG_VERSION").write_text("16\n")
    with pytest.raises(PostgresError, match=r"PostgreSQL 16 .*sample build --force"):
        pg.embedded_server(old).__enter__()


def test_a_cluster_made_without_a_password_is_refused(tmp_path):
    pgdata = tmp_path / "cluster"
    with pg.embedded_server(pgdata):
        pass
    (pgdata / "elasticc.superuser").unlink()
    with pytest.raises(PostgresError, match="without a password"):
        pg.embedded_server(pgdata).__enter__()


def test_embedded_server_needs_existing_parent(tmp_path):
    with (
        pytest.raises(FileNotFoundError, match="does not exist"),
        pg.embedded_server(tmp_path / "missing" / "cluster"),
    ):
        pass


def test_a_killed_initdb_leftover_is_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = tmp_path / f".cluster.init-{dead.pid}.1-abc"
    (leftover / "data").mkdir(parents=True)
    with pg.embedded_server(tmp_path / "cluster"):
        pass
    assert not leftover.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cluster"]
