"""The PostgreSQL helpers: password redaction and the embedded server."""

from __future__ import annotations

import pytest

from elasticc_tutorial import pg


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


def test_embedded_server_runs_sql_and_stops(tmp_path):
    pgdata = tmp_path / "cluster"
    with pg.embedded_server(pgdata) as url, pg.connect(url) as conn:
        assert conn.execute("select 6 * 7").fetchone() == (42,)
    assert (pgdata / "PG_VERSION").exists()
    with pytest.raises(ConnectionError):
        pg.connect(url + "&connect_timeout=2" if "?" in url else url + "?connect_timeout=2")


def test_embedded_server_needs_existing_parent(tmp_path):
    with (
        pytest.raises(FileNotFoundError, match="does not exist"),
        pg.embedded_server(tmp_path / "missing" / "cluster"),
    ):
        pass


def test_embedded_server_retries_a_slow_start(tmp_path, monkeypatch):
    """pgserver allows pg_ctl 10 s; a first start that times out is retried and attaches."""
    import subprocess

    import pgserver

    real = pgserver.get_server
    calls = []

    def slow_then_fine(pgdata, cleanup_mode="stop"):
        calls.append(pgdata)
        if len(calls) == 1:
            pgserver.PostgresServer._instances[pgdata] = object()  # a half-made cached handle
            raise subprocess.TimeoutExpired(["pg_ctl", "start"], 10)
        return real(pgdata, cleanup_mode=cleanup_mode)

    monkeypatch.setattr(pgserver, "get_server", slow_then_fine)
    monkeypatch.setattr(pg.time, "sleep", lambda s: None)
    with pg.embedded_server(tmp_path / "c") as url, pg.connect(url) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert len(calls) == 2
