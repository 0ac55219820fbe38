"""elasticc-tutorial doctor: good and bad set-ups, exit status, and no secret ever printed."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from pathlib import Path

import pytest
from _tomfake import PASSWORD, USER, FakeTom
from packaging.requirements import Requirement

from elasticc_tutorial import cli, doctor, kernels, paths

SECRET = "hunter2-Very-Secret"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in (
        *paths.ENV_VARS.values(),
        "TD",
        "NERSC_HOST",
        "DESC_TOM_USERNAME",
        "DESC_TOM_PASSWORD",
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
    """A local server doing Django's login dance (user USER, password PASSWORD)."""
    with FakeTom() as srv:
        yield srv.url


@pytest.fixture
def web_page():
    """A web server that is not a TOM (no login page)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
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


def credentials(tmp_path, monkeypatch, mode=0o600, user="rknop", secret=SECRET):
    pwf = tmp_path / "secrets" / "tom_passwd"
    pwf.parent.mkdir()
    pwf.write_text(secret + "\n")
    pwf.chmod(mode)
    monkeypatch.setenv("DESC_TOM_USERNAME", user)
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
    pwf = credentials(tmp_path, monkeypatch, user=USER, secret=PASSWORD)
    kernels.install_current("desc-python-elasticc-tutorial", activate=False)
    status, out = run_doctor(capsys)
    assert status == 0, out
    assert not [x for x in out.splitlines() if x.startswith(("FAIL", "WARN"))], out
    assert "0 FAIL, 0 WARN" in out
    # The same words as tom.connect() and `where`, after a real login.
    assert line(out, "TOM") == f"OK    TOM: {http_tom} as {USER}: logged in [$DESC_TOM_URL]"
    assert line(out, "TOM credentials") == (
        f"OK    TOM credentials: user {USER}, password from DESC_TOM_PASSWORDFILE={pwf}"
    )
    assert line(out, "data") == "OK    data: NERSC (snana, train, parquet, alerts)"
    assert line(out, "Parquet").startswith("OK") and "desc-td/ELASTICC2_parquet" in out
    assert line(out, "kernel desc-python-elasticc-tutorial").startswith("OK")
    assert line(out, "package polars").startswith("OK")
    assert PASSWORD not in out


@pytest.mark.parametrize(
    "problem",
    ["unreachable", "not a TOM", "wrong password", "open password file", "no username"],
)
def test_each_bad_tom_setting_fails_naming_it_and_no_secret(
    problem, tmp_path, monkeypatch, capsys, http_tom, web_page
):
    url = {"unreachable": closed_port_url(), "not a TOM": web_page}.get(problem, http_tom)
    monkeypatch.setenv("DESC_TOM_URL", url)
    mode = 0o644 if problem == "open password file" else 0o600
    credentials(tmp_path, monkeypatch, mode=mode, user=USER)  # SECRET is the wrong password
    if problem == "no username":
        monkeypatch.delenv("DESC_TOM_USERNAME")
    status, out = run_doctor(capsys)
    assert status == 1
    tom = line(out, "TOM")
    assert tom.startswith("FAIL")
    expected = {
        "unreachable": f"DESC_TOM_URL={url}: the TOM does not answer",
        "not a TOM": f"DESC_TOM_URL={url} does not behave like a TOM",
        "wrong password": f"refused the login of DESC_TOM_USERNAME={USER}",
        "open password file": "DESC_TOM_PASSWORDFILE=",
        "no username": "DESC_TOM_USERNAME is not set",
    }[problem]
    assert expected in tom
    if problem == "open password file":
        assert "chmod 600" in tom
    assert "fix:" in out
    assert SECRET not in out
    # none in this JUPYTER_DATA_DIR, and none needed off NERSC
    assert line(out, "tutorial kernel").startswith("OK") and "python3" in line(
        out, "tutorial kernel"
    )
    # The data rows are still shown.
    assert line(out, "SNANA FITS (test set)").startswith("WARN")


def test_bad_data_variable_and_missing_package_fail(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ELASTICC2_PARQUET_DIR", str(tmp_path / "not-there"))
    real = doctor.requirements()
    fake = {**real, "": [*real[""], Requirement("no-such-distribution-xyz")]}
    fake["book"] = [Requirement("no-such-book-dist-xyz"), Requirement("pytest>=999")]
    monkeypatch.setattr(doctor, "requirements", lambda: fake)
    status, out = run_doctor(capsys)
    assert status == 1
    assert line(out, "data").startswith("FAIL") and "$ELASTICC2_PARQUET_DIR" in out
    assert line(out, "package no-such-distribution-xyz").startswith("FAIL")
    assert line(out, "package no-such-book-dist-xyz").startswith("WARN")
    assert 'fix: pip install "elasticc-tutorial[book]"' in out
    assert line(out, "package pytest").startswith("WARN") and "needs >=999" in out


def test_package_checks_follow_the_package_metadata(capsys):
    """The names doctor checks are the project's own requirements (pyproject.toml of this tree)."""
    import tomllib

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
    _, out = run_doctor(capsys)
    for req in [*project["dependencies"], *project["optional-dependencies"]["twin"]]:
        name = Requirement(req).name
        assert line(out, f"package {name}"), name
    assert "package pgserver" not in out  # gone from the twin extra


def test_laptop_without_sample_warns_but_passes(capsys):
    status, out = run_doctor(capsys)
    assert status == 0
    assert line(out, "SNANA FITS (test set)").startswith("WARN") and "not built" in out
    assert line(out, "TOM") == (
        "WARN  TOM: local synthetic twin (started by tom.connect()) [no DESC_TOM_* setting exists]"
    )
    assert "TOM credentials" not in out  # not needed for the local TOM
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
    assert out.splitlines()[-1] == "3 checks: 1 FAIL, 1 WARN"
    assert json.loads(json.dumps([c.__dict__ for c in checks]))[2] == {
        "status": "FAIL",
        "label": "c",
        "detail": "broken",
        "fix": "do c",
    }
