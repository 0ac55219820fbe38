"""elasticc-tutorial doctor: good and bad set-ups, exit status, and no secret ever printed."""

from __future__ import annotations

import http.server
import json
import socket
import threading

import pytest

from elasticc_tutorial import cli, doctor, kernels, paths

SECRET = "hunter2-Very-Secret"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in (
        *paths.ENV_VARS.values(),
        "TD",
        "NERSC_HOST",
        "DESC_TOM_USERNAME",
        "DESC_TOM_PASSWORDFILE",
    ):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "empty-root").mkdir()
    monkeypatch.setenv(paths.NERSC_ROOT_ENV, str(tmp_path / "empty-root"))
    monkeypatch.setenv(paths.SAMPLE_ENV, str(tmp_path / "no-sample"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    monkeypatch.delenv("JUPYTER_PATH", raising=False)

    def refuse(*a, **k):
        raise AssertionError("doctor must never build the sample")

    monkeypatch.setattr("elasticc_tutorial.sample.build", refuse, raising=False)


@pytest.fixture
def http_tom():
    """A tiny HTTP server standing in for a reachable TOM."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>TOM</html>")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def fake_nersc(root):
    for form in paths.FORMS:
        (root / paths.NERSC_PATHS[form][0]).mkdir(parents=True)
    return root


def credentials(tmp_path, monkeypatch, mode=0o600):
    pwf = tmp_path / "secrets" / "tom_passwd"
    pwf.parent.mkdir()
    pwf.write_text(SECRET + "\n")
    pwf.chmod(mode)
    monkeypatch.setenv("DESC_TOM_USERNAME", "rknop")
    monkeypatch.setenv("DESC_TOM_PASSWORDFILE", str(pwf))
    return pwf


def run_doctor(capsys) -> tuple[int, str]:
    status = cli.main(["doctor"])
    captured = capsys.readouterr()
    return status, captured.out + captured.err


def line(out: str, label: str) -> str:
    hits = [x for x in out.splitlines() if f"  {label}:" in x]
    assert hits, f"no line for {label!r} in:\n{out}"
    return hits[0]


def test_good_setup_is_all_ok(tmp_path, monkeypatch, capsys, http_tom):
    monkeypatch.setenv(paths.NERSC_ROOT_ENV, str(fake_nersc(tmp_path / "nersc")))
    monkeypatch.setenv("NERSC_HOST", "perlmutter")
    monkeypatch.setenv("DESC_TOM_URL", http_tom)
    pwf = credentials(tmp_path, monkeypatch)
    kernels.install_current("desc-python-elasticc-tutorial", activate=False)
    status, out = run_doctor(capsys)
    assert status == 0, out
    assert not [x for x in out.splitlines() if x.startswith(("FAIL", "WARN"))], out
    assert "0 FAIL, 0 WARN" in out
    assert line(out, "TOM").startswith("OK") and "answers HTTP 200" in out
    assert line(out, "TOM credentials").startswith("OK")
    assert str(pwf) in out and "rknop" in out
    assert line(out, "Parquet").startswith("OK") and "desc-td/ELASTICC2_parquet" in out
    assert line(out, "kernel desc-python-elasticc-tutorial").startswith("OK")
    assert line(out, "package polars").startswith("OK")
    assert SECRET not in out


def test_bad_setup_fails_with_fixes_and_no_secret(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DESC_TOM_URL", closed_port_url())
    credentials(tmp_path, monkeypatch, mode=0o644)
    status, out = run_doctor(capsys)
    assert status == 1
    tom = line(out, "TOM")
    assert tom.startswith("FAIL") and "does not answer" in tom
    creds = line(out, "TOM credentials")
    assert creds.startswith(("WARN", "FAIL"))
    assert "chmod 600" in out
    assert "fix:" in out
    assert SECRET not in out
    assert line(out, "tutorial kernel").startswith(
        "WARN"
    )  # none installed in this JUPYTER_DATA_DIR


def test_desc_tom_with_open_password_file_is_a_failure(tmp_path, monkeypatch):
    monkeypatch.setenv("DESC_TOM_URL", "https://desc-tom.lbl.gov")
    credentials(tmp_path, monkeypatch, mode=0o640)
    locs = paths.locate(build=False)
    monkeypatch.setattr(doctor, "_reach", lambda url, why: doctor.Check(doctor.OK, "TOM", url))
    checks = {c.label: c for c in doctor.check_tom(locs)}
    assert checks["TOM credentials"].status == doctor.FAIL
    assert "chmod 600" in checks["TOM credentials"].fix


def test_bad_data_variable_and_missing_package_fail(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ELASTICC2_PARQUET_DIR", str(tmp_path / "not-there"))
    monkeypatch.setattr(doctor, "REQUIRED", (*doctor.REQUIRED, "no-such-distribution-xyz"))
    status, out = run_doctor(capsys)
    assert status == 1
    assert line(out, "data").startswith("FAIL") and "$ELASTICC2_PARQUET_DIR" in out
    assert line(out, "package no-such-distribution-xyz").startswith("FAIL")
    assert 'pip install -e ".[dev]"' in out


def test_laptop_without_sample_warns_but_passes(capsys):
    status, out = run_doctor(capsys)
    assert status == 0
    assert line(out, "SNANA FITS (test set)").startswith("WARN") and "not built" in out
    assert line(out, "TOM").startswith("WARN")
    assert line(out, "TOM credentials").startswith("OK")  # not needed for the local TOM
    assert "elasticc-tutorial where" in out


def test_tutorial_kernel_with_purged_user_base_fails(tmp_path, capsys):
    base = tmp_path / "scratch" / "userbase"
    base.mkdir(parents=True)
    kernels.install_current(
        "my-elasticc-tutorial", env={"DESCPYTHONUSERBASE": str(base)}, activate=False
    )
    assert line(run_doctor(capsys)[1], "kernel my-elasticc-tutorial").startswith("OK")
    base.rmdir()  # what a $SCRATCH purge does
    status, out = run_doctor(capsys)
    assert status == 1
    assert line(out, "kernel my-elasticc-tutorial").startswith("FAIL") and str(base) in out
    assert "setup_nersc_kernel.sh" in out


def test_check_objects_and_summary(tmp_path, monkeypatch, capsys):
    checks = [
        doctor.Check(doctor.OK, "a", "fine"),
        doctor.Check(doctor.WARN, "b", "meh", "do b"),
        doctor.Check(doctor.FAIL, "c", "broken", "do c"),
    ]
    assert doctor._cli_doctor(None, run=lambda: checks) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[:5] == [
        "OK    a: fine",
        "WARN  b: meh",
        "      fix: do b",
        "FAIL  c: broken",
        "      fix: do c",
    ]
    assert "3 checks: 1 FAIL, 1 WARN" in out
    assert json.dumps([c.status for c in checks])  # plain data, serialisable
