"""The package skeleton: imports, the console script, lint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import elasticc_tutorial
from elasticc_tutorial import cli

ROOT = Path(__file__).resolve().parents[1]


def test_version_is_a_release_string():
    major, minor, *_ = elasticc_tutorial.__version__.split(".")
    assert major.isdigit() and minor.isdigit()


def test_console_script_version():
    exe = shutil.which("elasticc-tutorial")
    assert exe, "the console script elasticc-tutorial is not installed (pip install -e .)"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"elasticc-tutorial {elasticc_tutorial.__version__}"


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    parser = cli.build_parser()
    commands = parser._subparsers._group_actions[0].choices  # the registered sub-commands
    for name in commands:
        assert name in text
    assert "--verbose" in text


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
    assert elasticc_tutorial.__version__ in out.stdout


@pytest.mark.parametrize(
    "args", [["check", "."], ["format", "--check", "--diff", "."]], ids=["check", "format"]
)
def test_ruff_clean(args):
    ruff = shutil.which("ruff")
    assert ruff, "ruff is part of the dev extra"
    proc = subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
