"""``elasticc-tutorial doctor --session``: PASS on a good set-up, and on each broken one a FAIL line
naming the check, what is wrong and the fix. Real sample, real local TOM, real kernels; nothing mocked."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import re
import shutil
import sys

import pytest

from elasticc_tutorial import cli, localtom, paths
from elasticc_tutorial.localtom import LocalTom
from elasticc_tutorial.sample import build

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return build(
        tmp_path_factory.mktemp("preflight") / "sample", objects_per_model=1, progress=False
    )


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for var in (*paths.ENV_VARS.values(), "TD", "NERSC_HOST", "JUPYTER_PATH"):
        monkeypatch.delenv(var, raising=False)
    for var in ("DESC_TOM_URL", "DESC_TOM_USERNAME", "DESC_TOM_PASSWORD", "DESC_TOM_PASSWORDFILE"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "empty-root").mkdir()
    monkeypatch.setenv(paths.NERSC_ROOT_ENV, str(tmp_path / "empty-root"))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))


def preflight(capsys, *args: str) -> tuple[int, list[str]]:
    rc = cli.main(["doctor", "--session", *args])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1].startswith("PREFLIGHT "), lines[-1]
    return rc, lines


def test_good_setup_passes_and_stops_its_tom(capsys, monkeypatch, sample):
    monkeypatch.setenv(paths.SAMPLE_ENV, str(sample))
    rc, lines = preflight(capsys)
    last = lines[-1]
    assert rc == 0, "\n".join(lines)
    version = importlib.metadata.version("elasticc-tutorial")
    py = platform.python_version()
    assert last == (
        f"PREFLIGHT PASS elasticc-tutorial {version} | python {py} | kernel python3 | "
        "sample ok | TOM local ok"
    )
    tom = next(line for line in lines if line.startswith("OK    TOM:"))
    assert re.search(r"local synthetic twin started at http://127\.0\.0\.1:\d+, logged in, ", tom)
    assert int(re.search(r"-> (\d+), stopped$", tom).group(1)) > 0  # the query found objects
    assert not list(localtom._running)  # the TOM it started is stopped again


def test_missing_sample_without_build_fails(capsys, monkeypatch, tmp_path):
    empty = tmp_path / "sample"
    empty.mkdir()
    monkeypatch.setenv(paths.SAMPLE_ENV, str(empty))
    rc, lines = preflight(capsys, "--no-build")
    assert rc == 1
    assert lines[-1].startswith(f"PREFLIGHT FAIL sample: {empty} is not built and --no-build")
    assert "-> fix: elasticc-tutorial doctor --session --build" in lines[-1]


def test_missing_sample_on_read_only_location_fails(capsys, monkeypatch):
    # /proc refuses new files even to root, unlike a chmod-ed directory
    where = "/proc/elasticc-tutorial-sample"
    monkeypatch.setenv(paths.SAMPLE_ENV, where)
    rc, lines = preflight(capsys)
    assert rc == 1
    assert lines[-1].startswith(f"PREFLIGHT FAIL sample: {where} is not built and cannot be built")
    assert "cannot write in /proc" in lines[-1]
    assert "fix: export ELASTICC_TUTORIAL_SAMPLE=" in lines[-1]


def test_missing_sample_in_writable_place_is_buildable(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(paths.SAMPLE_ENV, str(tmp_path / "new" / "sample"))
    rc, lines = preflight(capsys)
    assert rc == 0
    assert "| sample buildable | TOM local not checked" in lines[-1]
    assert not (tmp_path / "new").exists()  # only looked, built nothing


def test_tom_that_cannot_start_fails(capsys, monkeypatch, tmp_path, sample):
    broken = tmp_path / "sample"
    shutil.copytree(sample, broken, ignore=shutil.ignore_patterns("tomdb", "tomdb-credentials"))
    monkeypatch.setenv(paths.SAMPLE_ENV, str(broken))
    rc, lines = preflight(capsys)
    assert rc == 1
    assert any(line.startswith("OK    sample:") for line in lines)  # tomdb/ is not in the MANIFEST
    assert lines[-1].startswith(f"PREFLIGHT FAIL TOM: the local twin on {broken} failed")
    assert "fix: elasticc-tutorial sample build --force" in lines[-1]


def test_wrong_credentials_name_the_settings(capsys, monkeypatch, tmp_path, sample):
    monkeypatch.setenv(paths.SAMPLE_ENV, str(sample))
    with LocalTom(sample) as tom:
        url = tom.url
        monkeypatch.setenv("DESC_TOM_URL", url)
        monkeypatch.setenv("DESC_TOM_USERNAME", tom.username)
        good = tom.passwordfile
        monkeypatch.setenv("DESC_TOM_PASSWORDFILE", str(good))
        rc, lines = preflight(capsys)
        assert rc == 0, "\n".join(lines)
        assert lines[-1].endswith(f"| TOM {url} ok")

        wrong = tmp_path / "password"
        wrong.write_text("not-the-password\n")
        os.chmod(wrong, 0o600)
        monkeypatch.setenv("DESC_TOM_PASSWORDFILE", str(wrong))
        rc, lines = preflight(capsys)
    assert rc == 1
    last = lines[-1]
    assert last.startswith(f"PREFLIGHT FAIL TOM: the TOM at {url} refused the login")
    assert f"DESC_TOM_USERNAME={tom.username}" in last
    assert f"DESC_TOM_PASSWORDFILE={wrong}" in last
    assert "not-the-password" not in "\n".join(lines)
    assert good.read_text().strip() not in "\n".join(lines)


def test_broken_tom_setting_is_named(capsys, monkeypatch, sample):
    monkeypatch.setenv(paths.SAMPLE_ENV, str(sample))
    monkeypatch.setenv("DESC_TOM_URL", "ftp://example.org")
    rc, lines = preflight(capsys)
    assert rc == 1
    assert lines[-1].startswith("PREFLIGHT FAIL TOM: DESC_TOM_URL='ftp://example.org'")


def test_missing_kernel_fails(capsys, monkeypatch, sample):
    monkeypatch.setenv(paths.SAMPLE_ENV, str(sample))
    rc, lines = preflight(capsys, "--kernel", "no-such-kernel")
    assert rc == 1
    assert lines[-1].startswith("PREFLIGHT FAIL kernel no-such-kernel: no Jupyter kernel named")
    assert "-> fix: python -m ipykernel install --user --name no-such-kernel" in lines[-1]


def test_kernel_that_cannot_import_the_package_fails(capsys, monkeypatch, tmp_path, sample):
    """A kernel whose interpreter does not have the package (the system Python, outside the
    virtual environment) would fail at every chapter's first import."""
    monkeypatch.setenv(paths.SAMPLE_ENV, str(sample))
    spec = tmp_path / "jupyter" / "kernels" / "system-python"
    spec.mkdir(parents=True)
    other = shutil.which("python3", path="/usr/bin:/bin")
    if other is None:
        pytest.skip("no system python3 outside the virtual environment")
    argv = [other, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    spec.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "System", "env": {"PYTHONPATH": ""}})
    )
    rc, lines = preflight(capsys, "--kernel", "system-python")
    assert rc == 1
    assert lines[-1].startswith(
        f"PREFLIGHT FAIL kernel system-python: {other} cannot import elasticc_tutorial"
    )


def test_nersc_reads_a_real_head_header(capsys, monkeypatch, tmp_path, sample):
    """At NERSC (a tree with the real layout) the session check reads one real HEAD header."""
    from _reference import REAL  # the real ELAsTiCC2 training files (1 %)

    if not REAL.is_dir():
        pytest.skip("real ELAsTiCC2 reference files not available")
    rel = paths.NERSC_PATHS["snana"][0]
    root = tmp_path / "nersc"
    (root / rel).parent.mkdir(parents=True)
    (root / rel).symlink_to(REAL)
    monkeypatch.setenv(paths.NERSC_ROOT_ENV, str(root))
    monkeypatch.setenv(paths.SAMPLE_ENV, str(sample))
    monkeypatch.setenv("NERSC_HOST", "perlmutter")
    kernel = tmp_path / "jupyter" / "kernels" / "desc-python-elasticc-tutorial"
    kernel.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    kernel.joinpath("kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "desc-python tutorial", "language": "python"})
    )
    rc, lines = preflight(capsys)
    assert rc == 0, "\n".join(lines)
    assert "kernel desc-python-elasticc-tutorial" in lines[-1]
    assert lines[-1].endswith("| NERSC data ok")
    head = next(line for line in lines if line.startswith("OK    NERSC data:"))
    assert "HEAD.FITS" in head
