"""The package skeleton: imports, the console script, lint."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import elasticc_tutorial
from elasticc_tutorial import cli

ROOT = Path(__file__).resolve().parents[1]


def project_version() -> str:
    """The version pyproject.toml declares (what pip installs)."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_version_is_the_declared_release_string():
    assert re.fullmatch(r"\d+\.\d+\.\d+", project_version())
    assert elasticc_tutorial.__version__ == project_version()


def test_console_script_version():
    exe = shutil.which("elasticc-tutorial")
    assert exe, "the console script elasticc-tutorial is not installed (pip install -e .)"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"elasticc-tutorial {project_version()}"


def documented_commands() -> set[str]:
    """Sub-commands the README, the environment notes and the book tell people to run."""
    files = [ROOT / "README.md", *ROOT.glob("environment/*"), *ROOT.glob("book/*.ipynb")]
    text = "\n".join(f.read_text() for f in files if f.is_file())
    return set(re.findall(r"elasticc-tutorial ([a-z]+)\b", text))


def test_help_lists_every_documented_command_and_each_has_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "--verbose" in text
    section = text.split("commands:", 1)[1]
    listed = set(re.findall(r"^    ([a-z]+) ", section, re.M))
    documented = documented_commands()
    assert {"where", "doctor", "lab", "book", "kernel"} <= documented  # the docs were read
    assert documented <= listed, f"documented but missing: {documented - listed}"
    for name in sorted(listed):
        with pytest.raises(SystemExit) as exit_:
            cli.main([name, "--help"])
        assert exit_.value.code == 0
        assert capsys.readouterr().out.startswith(f"usage: elasticc-tutorial {name}")


def test_no_command_prints_help(capsys):
    assert cli.main([]) == 0
    assert "usage: elasticc-tutorial" in capsys.readouterr().out


def test_python_module_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "elasticc_tutorial", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"elasticc-tutorial {project_version()}"


@pytest.mark.parametrize(
    "args", [["check", "."], ["format", "--check", "--diff", "."]], ids=["check", "format"]
)
def test_ruff_clean(args):
    ruff = shutil.which("ruff")
    assert ruff, "ruff is part of the dev extra"
    proc = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_parallel_scopes_name_real_tests():
    """conftest.py keeps the default sample's users on one xdist worker by name: a renamed file or
    test would silently run beside chapter 10's database copy."""
    import conftest

    for path in conftest.DEFAULT_SAMPLE_FILES:
        assert (ROOT / path).is_file(), path
        assert conftest.xdist_scope(f"{path}::test_x") == "default-sample"
    for nodeid in conftest.DEFAULT_SAMPLE_TESTS:
        path, name = nodeid.split("::")
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.M), nodeid
        assert conftest.xdist_scope(f"{nodeid}[15]") == "default-sample"
    assert conftest.xdist_scope("book/10_be_a_broker.ipynb::Cell 3") == "default-sample"
    assert (
        conftest.xdist_scope("tests/test_lifecycle.py::test_tom_serve[2]")
        == "tests/test_lifecycle.py"
    )
