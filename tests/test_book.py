"""The book: table of contents, notebook conventions, site verification, ``book`` CLI, execution."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from _procs import children, free_port

from elasticc_tutorial import book, cli, paths
from elasticc_tutorial.errors import BookError
from elasticc_tutorial.tom.settings import LAB_TOM_ENV

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = book.toc_notebooks(ROOT)
HEADER_ITEMS = (
    "Learning goals",
    "Prerequisites",
    "Time to complete",
    "Data and services used",
    "Last verified to run",
)


# ---------------------------------------------------------------------------------------------
# Table of contents


def test_toc_root_and_captioned_parts():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert toc["format"] == "jb-book"
    assert toc["root"] == "book/intro"
    assert toc["parts"], "_toc.yml has no parts"
    for part in toc["parts"]:
        assert part.get("caption"), f"part without a caption: {part}"
        assert part.get("chapters"), f"part {part['caption']!r} has no chapters"


def test_every_toc_entry_exists():
    docs = book.toc_documents(ROOT)
    assert docs[0] == "book/intro"
    assert len(docs) == len(set(docs)), f"a page is listed twice: {docs}"
    for doc in docs:
        assert book.document_source(ROOT, doc).is_file()


def test_every_book_notebook_is_in_the_toc():
    # only_build_toc_files: a notebook missing from _toc.yml would silently vanish from the site
    assert sorted((ROOT / "book").glob("*.ipynb")) == sorted(NOTEBOOKS)


def test_toc_documents_walks_parts_chapters_sections(tmp_path):
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: index.md\nparts:\n"
        "  - caption: A\n    chapters:\n      - file: a/one.ipynb\n"
        "        sections:\n          - file: a/two\n"
        "  - caption: B\n    chapters:\n      - file: b/three\n"
    )
    assert book.toc_documents(tmp_path) == ["index", "a/one", "a/two", "b/three"]


def test_toc_errors_name_the_file(tmp_path):
    (tmp_path / "_toc.yml").write_text("- just a list\n")
    with pytest.raises(BookError, match=r"_toc\.yml.*root"):
        book.toc_documents(tmp_path)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: nowhere\n")
    with pytest.raises(BookError, match="nowhere"):
        book.toc_notebooks(tmp_path)


# ---------------------------------------------------------------------------------------------
# Notebook conventions (parametrised over every notebook of the toc)


def _nb(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


@pytest.fixture(params=NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def notebook(request):
    return request.param, _nb(request.param)


def test_notebook_kernel_is_python3(notebook):
    path, nb = notebook
    assert nb.metadata["kernelspec"]["name"] == "python3", path


def test_notebook_executed_top_to_bottom_without_errors(notebook):
    path, nb = notebook
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path} has no code cells"
    counts = [c.execution_count for c in code]
    assert None not in counts, (
        f"{path}: unexecuted cells; run `elasticc-tutorial book execute {path}`"
    )
    assert counts == list(range(1, len(code) + 1)), f"{path}: not one fresh run in order: {counts}"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path}: stored error output {errors[0].get('ename')}"


def test_notebook_opens_with_the_header(notebook):
    path, nb = notebook
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert re.match(r"# \S", first.source), f"{path}: the first cell must start with '# Title'"
    assert (
        len(
            re.findall(
                r"^# ", "".join(c.source for c in nb.cells if c.cell_type == "markdown"), re.M
            )
        )
        == 1
    )
    for item in HEADER_ITEMS:
        assert item in first.source, f"{path}: header cell lacks {item!r}"
    assert re.search(r"Last verified to run:\*\* \d{4}-\d{2}-\d{2}", first.source)


def test_notebook_ends_with_summary_and_whats_next(notebook):
    path, nb = notebook
    last = nb.cells[-1]
    assert last.cell_type == "markdown", f"{path}: the last cell must be the summary"
    assert "## Summary" in last.source and "What's next" in last.source, path


def test_notebook_has_exercises_with_hidden_solutions(notebook):
    path, nb = notebook
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "## Exercises" in text, path
    hidden = len(re.findall(r":class: dropdown", text)) + sum(
        bool({"hide-input", "hide-cell"} & set(c.metadata.get("tags", []))) for c in nb.cells
    )
    assert hidden >= 2, f"{path}: expected at least two hidden solutions, found {hidden}"


def test_notebook_outputs_are_machine_independent(notebook):
    path, nb = notebook
    text = json.dumps([c.get("outputs", []) for c in nb.cells])
    for machine_specific in {str(ROOT), str(Path.home()), sys.executable}:
        assert machine_specific not in text, f"{path}: outputs contain {machine_specific!r}"


def test_ignore_output_tags_are_rare(notebook):
    path, nb = notebook
    ignored = [c for c in nb.cells if "nbval-ignore-output" in c.metadata.get("tags", [])]
    assert len(ignored) <= 2, f"{path}: {len(ignored)} cells skip nbval's output comparison"


# ---------------------------------------------------------------------------------------------
# Site verification


def _page(title: str, body: str) -> str:
    return (
        "<html><head><title>t</title><script>var x = 'not content';</script></head><body>"
        "<nav>Lots of navigation text that is not the page's own content</nav>"
        f'<main><article class="bd-article"><section><h1>{title}<a href="#x">#</a></h1>'
        f"<p>{body}</p><img src='a.png'><script>ignored()</script></section></article></main>"
        "<footer>footer</footer></body></html>"
    )


def _fake_book(root: Path, docs: list[str]) -> None:
    (root / "_config.yml").write_text("title: t\n")
    chapters = "".join(f"      - file: {d}\n" for d in docs[1:])
    (root / "_toc.yml").write_text(
        f"format: jb-book\nroot: {docs[0]}\nparts:\n  - caption: P\n    chapters:\n{chapters}"
    )


def test_page_content_reads_only_the_article():
    text, titles = book.page_content(_page("My chapter", "word " * 50))
    assert titles == ["My chapter"]
    assert text.startswith("My chapter")
    assert "navigation" not in text and "footer" not in text
    assert "ignored" not in text and "not content" not in text
    assert book.page_content("<html><body><p>no theme</p></body></html>") == ("", [])


def test_verify_site_accepts_a_complete_site(tmp_path):
    _fake_book(tmp_path, ["index", "ch/one"])
    html = tmp_path / "_build" / "html"
    (html / "ch").mkdir(parents=True)
    (html / "index.html").write_text(_page("Home", "text " * 60))
    (html / "ch" / "one.html").write_text(_page("One", "text " * 60))
    assert book.verify_site(tmp_path, html) == []


def test_verify_site_reports_missing_empty_and_untitled_pages(tmp_path):
    _fake_book(tmp_path, ["index", "ch/one", "ch/two", "ch/three"])
    html = tmp_path / "_build" / "html"
    assert book.verify_site(tmp_path, html) == [
        f"{html / 'index.html'} is missing: the site was not built"
    ]
    (html / "ch").mkdir(parents=True)
    (html / "index.html").write_text(_page("Home", "text " * 60))
    (html / "ch" / "one.html").write_text(_page("One", ""))  # rendered, but nothing in it
    (html / "ch" / "three.html").write_text(_page("", "text " * 60))
    problems = book.verify_site(tmp_path, html)
    assert len(problems) == 3, problems
    assert "one.html is empty" in problems[0]
    assert "two.html is missing" in problems[1] and "ch/two" in problems[1]
    assert "three.html has no title" in problems[2]


def test_book_build_check_only_refuses_an_empty_site(tmp_path, capsys):
    assert cli.main(["book", "build", "--check-only", "--path-output", str(tmp_path)]) == 1
    assert "index.html is missing" in capsys.readouterr().err


def _fake_jupyter_book(tmp_path: Path, monkeypatch, script: str) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "jupyter-book"
    fake.write_text(f"#!/bin/sh\n{script}\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


def test_book_build_refuses_a_build_that_wrote_nothing(tmp_path, monkeypatch, capfd):
    # What happens when jupyter-book 2 meets a JB1 layout: exit status 0 and no HTML at all.
    _fake_jupyter_book(tmp_path, monkeypatch, "echo 'built nothing'; exit 0")
    status = cli.main(["book", "build", "--path-output", str(tmp_path / "out")])
    out, err = capfd.readouterr()
    assert "built nothing" in out  # the fake was really the one run
    assert status == 1, out + err
    assert "incomplete" in err and "index.html is missing" in err


def test_book_build_reports_a_failed_build(tmp_path, monkeypatch, capfd):
    _fake_jupyter_book(tmp_path, monkeypatch, "exit 3")
    assert cli.main(["book", "build", "--path-output", str(tmp_path / "out")]) == 2
    assert "exit status 3" in capfd.readouterr().err


# ---------------------------------------------------------------------------------------------
# Executing notebooks


def test_notebook_environment_hides_real_tom_and_data():
    base = {
        "PATH": "/bin",
        "DESC_TOM_URL": "https://desc-tom.lbl.gov",
        "DESC_TOM_USERNAME": "me",
        "DESC_TOM_PASSWORDFILE": "/home/me/pw",
        "TD": "/global/cfs/cdirs/lsst/groups/TD",
        "NERSC_HOST": "perlmutter",
        "ELASTICC_TUTORIAL_SAMPLE": "/data/sample",
        "MPLBACKEND": "TkAgg",
    }
    env = book.notebook_environment(base)
    assert env == {
        "PATH": "/bin",
        "ELASTICC_TUTORIAL_SAMPLE": "/data/sample",
        "MPLBACKEND": "Agg",
        "PYTHONHASHSEED": "0",
    }
    assert base["DESC_TOM_URL"]  # the input is not modified


def _write_nb(path: Path, *sources: str, kernel: str = "desc-python") -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nbformat.write(nb, path)


def test_execute_notebook_in_place(tmp_path):
    path = tmp_path / "nb.ipynb"
    _write_nb(
        path,
        "import os\nprint(os.environ.get('DESC_TOM_URL'), os.environ['MPLBACKEND'])",
        "from pathlib import Path\nprint(Path.cwd().name)",
        "6 * 7",
    )
    path.chmod(0o644)
    env = book.notebook_environment({**os.environ, "DESC_TOM_URL": "https://desc-tom.lbl.gov"})
    book.execute_notebook(path, env=env)
    assert path.stat().st_mode & 0o777 == 0o644  # the rewrite keeps the file's permissions
    nb = _nb(path)
    assert nb.metadata["kernelspec"]["name"] == "python3"  # normalised from desc-python
    assert [c.execution_count for c in nb.cells] == [1, 2, 3]
    assert nb.cells[0].outputs[0].text == "None Agg\n"
    assert nb.cells[1].outputs[0].text == f"{tmp_path.name}\n"  # cwd = the notebook's folder
    assert nb.cells[2].outputs[0].data["text/plain"] == "42"
    assert "execution" not in nb.cells[0].metadata  # no timestamps: clean diffs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nb.ipynb"]  # no temp file left


def test_execute_notebook_failure_leaves_the_file_untouched(tmp_path):
    path = tmp_path / "bad.ipynb"
    _write_nb(path, "x = 1", "raise ValueError('broken on purpose')")
    before = path.read_bytes()
    with pytest.raises(BookError, match=r"bad\.ipynb.*\n.*broken on purpose|broken on purpose"):
        book.execute_notebook(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ipynb"]


def test_notebook_requires(tmp_path, notebook):
    path, _ = notebook
    assert book.notebook_requires(path) <= {"sample", "tom"}  # valid for every chapter
    plain = tmp_path / "plain.ipynb"
    _write_nb(plain, "1")
    assert book.notebook_requires(plain) == {"sample"}  # the safe default: build the sample first
    nb = _nb(plain)
    nb.metadata["elasticc_tutorial"] = {"requires": []}
    nbformat.write(nb, plain)
    assert book.notebook_requires(plain) == set()
    nb.metadata["elasticc_tutorial"] = {"requires": "sample"}
    nbformat.write(nb, plain)
    with pytest.raises(BookError, match=r"plain\.ipynb: metadata elasticc_tutorial\.requires"):
        book.notebook_requires(plain)


def test_book_execute_rejects_a_non_notebook(tmp_path, capsys):
    other = tmp_path / "notes.txt"
    other.write_text("hi")
    args = ["book", "execute", str(other), str(tmp_path / "missing.ipynb")]
    assert cli.main(args) == 2
    assert "notes.txt: expected an existing .ipynb notebook" in capsys.readouterr().err


def test_find_book_root_from_a_subdirectory_and_outside(tmp_path, monkeypatch):
    assert book.find_book_root(ROOT / "book") == ROOT
    # outside any book, fall back to the checkout the package was imported from
    assert book.find_book_root(tmp_path) == ROOT


def test_cli_registers_book_and_lab():
    assert "elasticc_tutorial.book" in cli.COMMAND_MODULES
    commands = cli.build_parser()._subparsers._group_actions[0].choices
    assert {"book", "lab"} <= set(commands)


# ---------------------------------------------------------------------------------------------
# elasticc-tutorial lab


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc (Linux)")
def test_lab_serves_the_book_with_the_local_tom_and_stops_it(tmp_path):
    import signal
    import time

    import requests

    book.ensure_sample()  # the sample the notebooks use; built once, shared with the nbval runs
    port, token = free_port(), "elasticc-test-token"
    env = {
        **os.environ,
        "DESC_TOM_URL": "https://desc-tom.lbl.gov",  # a developer's real TOM must be replaced
        "JUPYTER_NO_CONFIG": "1",
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "elasticc_tutorial",
            "lab",
            "--",
            "--no-browser",  # no --allow-root: lab adds it when run as root (containers, CI)
            f"--port={port}",
            f"--IdentityProvider.token={token}",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, like a terminal job
    )
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status = requests.get(
                    f"http://127.0.0.1:{port}/api/status",
                    headers={"Authorization": f"token {token}"},
                    timeout=2,
                ).status_code
                if status == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        assert status == 200, f"jupyter lab did not come up (exit {proc.poll()})"
        lab = [
            c
            for c in children(proc.pid)
            if b"jupyterlab" in Path(f"/proc/{c}/cmdline").read_bytes()
        ]
        assert len(lab) == 1
        lab_env = _environ(lab[0])
        assert not {v for v in book.TOM_ENV_VARS if v in lab_env}  # no "real TOM" settings
        info = json.loads(lab_env[LAB_TOM_ENV])
        tom_url = info["url"]
        assert tom_url.startswith("http://127.0.0.1:")  # the local TOM, not the real one
        pwfile = Path(info["passwordfile"])
        assert pwfile.is_file() and pwfile.stat().st_mode & 0o077 == 0
        assert requests.get(tom_url, timeout=10).status_code < 500
        assert Path(lab_env["ELASTICC_TUTORIAL_SAMPLE"]).is_dir()
        runtime = Path(lab_env["JUPYTER_RUNTIME_DIR"])  # private, inside lab's scratch directory
        assert runtime.is_dir() and runtime.stat().st_mode & 0o077 == 0
        # a notebook's connect() in lab reuses lab's TOM and says it is the local twin
        code = "from elasticc_tutorial import tom; c = tom.connect(quiet=True); print(c.url)"
        said = subprocess.run(
            [sys.executable, "-c", code], env=lab_env, capture_output=True, text=True, timeout=120
        )
        assert said.returncode == 0, said.stderr
        assert said.stdout.splitlines() == [
            f"TOM: local synthetic twin on 127.0.0.1 (sample {paths.sample_version(Path(info['sample']))})",
            tom_url,
        ]

        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the terminal
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 130, out
        assert "local TOM" in out and info["username"] in out
        assert "Running as root is not recommended" not in out
        assert "RuntimeDirWarning" not in out
        if os.geteuid() == 0:
            assert "passing --allow-root" in out
        assert not runtime.exists()  # removed with lab's scratch directory
        with pytest.raises(requests.ConnectionError):
            requests.get(tom_url, timeout=5)  # stopped with the lab
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
