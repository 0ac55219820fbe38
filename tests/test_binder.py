"""The Binder configuration (``binder/``): every learner requirement pinned, and ``postBuild`` leaving
a working set-up in a clean virtual environment; the README's two set-up lines and CI's use of them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / "binder"
#: The slow test runs pip and builds the sample (several minutes): opt in with this variable.
RUN_POSTBUILD = "ELASTICC_TEST_BINDER"


def learn_requirements() -> list[Requirement]:
    """The requirements of ``.[learn]`` from pyproject.toml: the core dependencies plus every extra
    ``learn`` names, following the extras that name the project itself."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    name = canonicalize_name(project["name"])
    extras = project["optional-dependencies"]
    out = [Requirement(r) for r in project["dependencies"]]
    seen: set[str] = set()
    todo = ["learn"]
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for r in map(Requirement, extras[extra]):
            if canonicalize_name(r.name) == name:
                todo.extend(r.extras)
            else:
                out.append(r)
    assert {"twin", "book", "scale", "broker"} <= seen  # the extras were followed
    return out


def pins() -> dict[str, str]:
    """``binder/requirements.txt`` as {canonical name: pinned version}; every line must be a pin."""
    out = {}
    for n, line in enumerate((BINDER / "requirements.txt").read_text().splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        m = re.fullmatch(r"([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^\s;]+)", line)
        assert m, f"binder/requirements.txt:{n}: {line!r} is not a name==version pin"
        out[canonicalize_name(m[1])] = m[3]
    return out


def test_every_learner_requirement_is_pinned():
    pinned = pins()
    missing, wrong = [], []
    for r in learn_requirements():
        version = pinned.get(canonicalize_name(r.name))
        if version is None:
            missing.append(r.name)
        elif not r.specifier.contains(version, prereleases=True):
            wrong.append(f"{r.name}=={version} (pyproject.toml wants {r.specifier})")
    assert not missing, f"not pinned in binder/requirements.txt (see binder/README.md): {missing}"
    assert not wrong, f"pins outside pyproject.toml's ranges: {wrong}"
    assert "elasticc-tutorial" not in pinned  # postBuild installs the checkout itself


def test_requirement_parser_follows_extras_and_markers():
    # dev-only tools (sncosmo, pytest) and the project itself are not learner requirements
    text = (ROOT / "pyproject.toml").read_text()
    names = {canonicalize_name(r.name) for r in learn_requirements()}
    assert {"django", "jupyterlab", "dask", "scikit-learn", "polars"} <= names
    assert "pytest" not in names and "elasticc-tutorial" not in names  # dev only / the project
    assert "sncosmo" in text and "sncosmo" not in names


def test_readme_starts_with_the_two_setup_lines_and_ci_runs_the_contributor_line():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```bash\n(.*?)```", readme, re.S)
    assert block and readme.index(block[0]) < readme.index("\n## ")  # at the top
    commands = [line.split("#")[0].strip() for line in block[1].splitlines() if line.strip()]
    assert commands == [
        'pip install -e ".[learn]" && elasticc-tutorial lab',
        'pip install -e ".[dev]" && pytest',
    ]
    ci = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert 'pip install -e ".[dev]"' in ci and "pytest" in ci
    assert ci.index("pytest") > ci.index('pip install -e ".[dev]"')


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get(RUN_POSTBUILD),
    reason=f"pip installs ~150 packages and builds the sample (minutes): set {RUN_POSTBUILD}=1",
)
def test_postbuild_in_a_clean_venv_leaves_a_working_setup(tmp_path):
    """What repo2docker does: a fresh Python, ``pip install -r binder/requirements.txt`` (from pip's
    cache when warm), then ``binder/postBuild`` from a copy of the checkout."""
    repo = tmp_path / "repo"
    files = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split("\0")
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file():
            (repo / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / f)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    home = tmp_path / "home"
    home.mkdir()
    env |= {
        "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}",
        "VIRTUAL_ENV": str(venv),
        "HOME": str(home),
        "ELASTICC_TUTORIAL_SAMPLE": str(tmp_path / "sample"),
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip"),
        "JUPYTER_DATA_DIR": str(home / "jupyter"),
    }
    for var in ("DESC_TOM_URL", "DESC_TOM_USERNAME", "DESC_TOM_PASSWORD", "DESC_TOM_PASSWORDFILE"):
        env.pop(var, None)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "-r", str(repo / "binder" / "requirements.txt")], env=env, check=True)
    subprocess.run(["bash", str(repo / "binder" / "postBuild")], env=env, cwd=repo, check=True)
    cli = str(venv / "bin" / "elasticc-tutorial")
    verify = subprocess.run([cli, "sample", "verify"], env=env, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert (tmp_path / "sample" / "MANIFEST.json").is_file()
    doctor = subprocess.run([cli, "doctor"], env=env, capture_output=True, text=True)
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert not re.search(r"^FAIL", doctor.stdout, re.M), doctor.stdout
