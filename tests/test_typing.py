"""mypy over the package with the configuration in pyproject.toml ([tool.mypy]): no error allowed.

A second, fast test checks that the configuration is the one in force and as strict as it says
(unannotated functions checked, implicit Optional refused, unused ignores reported), so a config
that silently stopped applying cannot make the first test pass.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "pyproject.toml"


def _mypy(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(CONFIG), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=1200,
    )


@pytest.mark.slow
def test_package_type_checks_clean():
    done = _mypy()  # the targets are [tool.mypy] packages: elasticc_tutorial
    assert done.returncode == 0, done.stdout + done.stderr
    m = re.search(r"Success: no issues found in (\d+) source files", done.stdout)
    assert m, done.stdout + done.stderr
    # every module of the package was checked (not a stray subset)
    modules = [
        p for p in (ROOT / "elasticc_tutorial").rglob("*.py") if "__pycache__" not in p.parts
    ]
    assert int(m.group(1)) >= len(modules)


def test_config_is_strict_where_it_says(tmp_path):
    cfg = tomllib.loads(CONFIG.read_text())["tool"]["mypy"]
    assert cfg["packages"] == ["elasticc_tutorial"]
    probe = tmp_path / "probe.py"
    probe.write_text(
        textwrap.dedent(
            """
            def untyped():
                x: int = "not an int"
                return x


            def implicit_optional(a: int = None) -> int:
                return a


            y: int = 1  # type: ignore[assignment]
            """
        )
    )
    done = _mypy("--cache-dir", str(tmp_path / "cache"), str(probe), cwd=tmp_path)
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert re.search(r"probe\.py:3: error: .*\[assignment\]", out), out  # check_untyped_defs
    assert re.search(r"probe\.py:7: error: .*implicit Optional|probe\.py:7: error", out), out
    assert re.search(r'probe\.py:11: error: Unused "type: ignore" comment', out), out
