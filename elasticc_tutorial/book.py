"""The tutorial book: build the static site, execute the notebooks, open them in JupyterLab.

Commands (see ``elasticc-tutorial book --help`` and ``elasticc-tutorial lab --help``):

* ``book build``: ``jupyter-book build . -W --keep-going``, then :func:`verify_site` checks that every
  page of ``_toc.yml`` rendered to an HTML file with real content. Jupyter Book 2 silently builds
  nothing from a Jupyter Book 1 layout, so a successful exit status alone proves nothing.
* ``book execute [NOTEBOOK ...]``: runs notebooks in place with nbclient on kernel ``python3``, in the
  environment :func:`notebook_environment` (local TOM and sample only), keeping every output for nbval.
* ``lab``: makes sure the sample exists, serves the local TOM on it, and runs ``jupyter lab book/`` with
  ``DESC_TOM_URL``/``DESC_TOM_USERNAME``/``DESC_TOM_PASSWORDFILE`` pointing at it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

from elasticc_tutorial.errors import BookError

if TYPE_CHECKING:
    from elasticc_tutorial.localtom import LocalTom

__all__ = [
    "DATA_ENV_VARS",
    "KERNEL_NAME",
    "TOM_ENV_VARS",
    "add_cli",
    "build_site",
    "document_source",
    "ensure_sample",
    "execute_notebook",
    "find_book_root",
    "notebook_environment",
    "notebook_requires",
    "page_content",
    "toc_documents",
    "toc_notebooks",
    "verify_site",
]

#: The kernel every notebook is saved with and executed on.
KERNEL_NAME = "python3"
#: Environment variables through which ``elasticc_tutorial.tom.connect()`` finds a TOM and an account.
TOM_ENV_VARS = ("DESC_TOM_URL", "DESC_TOM_USERNAME", "DESC_TOM_PASSWORD", "DESC_TOM_PASSWORDFILE")
#: Environment variables that point ``paths.locate()`` at real data instead of the sample.
DATA_ENV_VARS = (
    "TD",
    "ELASTICC2_SNANA_DIR",
    "ELASTICC2_TRAIN_DIR",
    "ELASTICC2_PARQUET_DIR",
    "ELASTICC2_ALERTS_DIR",
    "ELASTICC_TUTORIAL_NERSC_ROOT",
    "NERSC_HOST",
)
#: A rendered page whose main content has fewer visible characters than this counts as empty.
MIN_PAGE_CHARS = 200
_SOURCE_SUFFIXES = (".ipynb", ".md", ".rst")


# ---------------------------------------------------------------------------------------------
# Locating the book and its table of contents


def find_book_root(start: Path | None = None) -> Path:
    """The directory holding ``_config.yml`` and ``_toc.yml``: ``start`` (default: the current
    directory) or one of its parents, else the source checkout this package was imported from."""
    start = (start or Path.cwd()).resolve()
    candidates = [start, *start.parents, Path(__file__).resolve().parents[1]]
    for cand in candidates:
        if (cand / "_toc.yml").is_file() and (cand / "_config.yml").is_file():
            return cand
    raise BookError(
        f"no Jupyter Book found: neither {start} nor its parents hold _config.yml and _toc.yml; "
        "run the command inside the elasticc-tutorial checkout"
    )


def toc_documents(root: Path) -> list[str]:
    """Every document named in ``root/_toc.yml`` (the root first), as extension-less paths such as
    ``"book/intro"``, in table-of-contents order."""
    import yaml  # a dependency of jupyter-book

    toc_path = root / "_toc.yml"
    try:
        toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BookError(f"cannot read the table of contents {toc_path}: {exc}") from exc
    if not isinstance(toc, dict) or "root" not in toc:
        raise BookError(f"{toc_path}: expected a mapping with a 'root' key (jb-book format)")
    docs = [_strip_suffix(str(toc["root"]))]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                docs.append(_strip_suffix(str(node["file"])))
            for key in ("parts", "chapters", "sections"):
                walk(node.get(key))
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return docs


def _strip_suffix(doc: str) -> str:
    for suffix in _SOURCE_SUFFIXES:
        if doc.endswith(suffix):
            return doc[: -len(suffix)]
    return doc


def document_source(root: Path, doc: str) -> Path:
    """The source file of a table-of-contents entry (``.ipynb``, ``.md`` or ``.rst``)."""
    for suffix in _SOURCE_SUFFIXES:
        path = root / f"{doc}{suffix}"
        if path.is_file():
            return path
    raise BookError(
        f"_toc.yml lists {doc!r} but none of {', '.join(doc + s for s in _SOURCE_SUFFIXES)} "
        f"exists under {root}"
    )


def notebook_requires(path: Path) -> set[str]:
    """What a notebook needs before it runs, from its metadata ``elasticc_tutorial.requires``
    (e.g. ``["sample"]``). Without that key the notebook is assumed to need the sample, so a new
    chapter never meets an unbuilt one; chapters that use no data declare ``"requires": []``."""
    try:
        meta = json.loads(Path(path).read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError) as exc:
        raise BookError(f"cannot read notebook {path}: {exc}") from exc
    requires = meta.get("elasticc_tutorial", {}).get("requires", ["sample"])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        raise BookError(
            f"{path}: metadata elasticc_tutorial.requires must be a list of strings, got {requires!r}"
        )
    return set(requires)


def toc_notebooks(root: Path) -> list[Path]:
    """The notebooks of the table of contents, in order."""
    paths = (document_source(root, doc) for doc in toc_documents(root))
    return [p for p in paths if p.suffix == ".ipynb"]


# ---------------------------------------------------------------------------------------------
# Building and checking the static site


class _MainContent(HTMLParser):
    """Collects the visible text and the ``<h1>`` headings of a page's main content.

    sphinx-book-theme puts a page's own content in ``<article class="bd-article">``; navigation,
    sidebars and the footer sit outside it.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._depth = 0  # > 0 while inside the article
        self._skip = 0  # > 0 while inside <script>/<style>
        self._in_h1 = False
        self.found = False
        self.text: list[str] = []
        self.h1: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if self._depth:
            if tag in _VOID_TAGS:
                return
            self._depth += 1
        elif tag == "article" and "bd-article" in classes:
            self._depth, self.found = 1, True
        if self._depth and tag in ("script", "style"):
            self._skip += 1
        if self._depth and tag == "h1":
            self._in_h1 = True
            self.h1.append("")

    def handle_endtag(self, tag: str) -> None:
        if not self._depth or tag in _VOID_TAGS:
            return
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        if tag == "h1":
            self._in_h1 = False
        self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth and not self._skip:
            self.text.append(data)
            if self._in_h1:
                self.h1[-1] += data


_VOID_TAGS = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    ]  # no end tag
)


def page_content(html: str) -> tuple[str, list[str]]:
    """The visible text of a rendered page's main content and its ``<h1>`` titles (``¶`` markers
    removed); ``("", [])`` if the page has no sphinx-book-theme article at all."""
    parser = _MainContent()
    parser.feed(html)
    if not parser.found:
        return "", []
    text = " ".join(" ".join(parser.text).split())
    titles = [" ".join(h.replace("#", "").replace("¶", "").split()) for h in parser.h1]
    return text, titles


def verify_site(root: Path, html_dir: Path) -> list[str]:
    """Problems with a built site: every page of ``root/_toc.yml`` must have rendered to an HTML file
    under ``html_dir`` whose main content has a title and at least ``MIN_PAGE_CHARS`` characters.
    An empty list means the site is complete."""
    if not (html_dir / "index.html").is_file():
        return [f"{html_dir / 'index.html'} is missing: the site was not built"]
    problems = []
    for doc in toc_documents(root):
        page = html_dir / f"{doc}.html"
        if not page.is_file():
            problems.append(f"{page} is missing (the page for {doc!r} in _toc.yml)")
            continue
        text, titles = page_content(page.read_text(encoding="utf-8", errors="replace"))
        if not titles or not titles[0]:
            problems.append(f"{page} has no title (<h1>) in its main content")
        if len(text) < MIN_PAGE_CHARS:
            problems.append(
                f"{page} is empty: {len(text)} characters of content, expected >= {MIN_PAGE_CHARS}"
            )
    return problems


def _jupyter_book_command() -> list[str]:
    # Prefer the executable on PATH (what the user would run); fall back to the one next to Python.
    exe = shutil.which("jupyter-book") or shutil.which(
        "jupyter-book", path=str(Path(sys.executable).parent)
    )
    if not exe:
        raise BookError(
            "jupyter-book is not installed; install the dev extra: pip install -e '.[dev]'"
        )
    return [exe]


def build_site(root: Path, path_output: Path | None = None, *, strict: bool = True) -> Path:
    """Run ``jupyter-book build`` (``-W --keep-going`` when ``strict``) on the book at ``root`` and
    return the HTML directory, with one reveal.js slide deck per chapter in its ``slides/`` folder.
    Raises BookError if the build fails; does not check the result."""
    cmd = [*_jupyter_book_command(), "build", str(root)]
    if strict:
        cmd += ["-W", "--keep-going"]
    if path_output is not None:
        cmd += ["--path-output", str(path_output)]
    proc = subprocess.run(cmd, cwd=root, check=False)
    if proc.returncode != 0:
        raise BookError(
            f"jupyter-book build failed with exit status {proc.returncode}; see the log above "
            "(every warning is an error; tracebacks are in _build/html/reports/)"
        )
    html = (path_output or root) / "_build" / "html"
    # The live-session slide decks are published with the site (reveal.js copied beside them).
    from elasticc_tutorial import teaching

    teaching.build_slides(toc_notebooks(root), html / "slides")
    return html


# ---------------------------------------------------------------------------------------------
# Executing notebooks


def notebook_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment notebooks run in: ``base`` (default ``os.environ``) without a developer's
    desc-tom settings or real-data locations, so ``tom.connect()`` starts the local TOM on the sample
    and ``paths.locate()`` finds the sample, with a non-interactive matplotlib backend and a fixed hash
    seed, so outputs are identical from run to run and machine to machine.
    (``ELASTICC_TUTORIAL_SAMPLE`` is kept: where the sample lives must not change any output.)"""
    from elasticc_tutorial.tom.settings import LAB_TOM_ENV

    env = dict(os.environ if base is None else base)
    for name in (*TOM_ENV_VARS, LAB_TOM_ENV, *DATA_ENV_VARS):
        env.pop(name, None)
    env["MPLBACKEND"] = "Agg"
    env["PYTHONHASHSEED"] = "0"
    return env


def jupyter_runtime_dir() -> Path:
    """A private Jupyter runtime directory (kernel connection files, server info) inside this
    process's scratch directory: removed at exit, and no platformdirs ``RuntimeDirWarning`` when
    ``XDG_RUNTIME_DIR`` is unset (containers, CI)."""
    from elasticc_tutorial.rundir import process_dir

    path = process_dir() / "jupyter-runtime"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@contextlib.contextmanager
def _private_jupyter_runtime(env: dict[str, str]) -> Iterator[None]:
    """``JUPYTER_RUNTIME_DIR`` set to :func:`jupyter_runtime_dir` in ``env`` and, while the block
    runs, in this process (where the kernel manager writes the connection file)."""
    runtime = str(jupyter_runtime_dir())
    env["JUPYTER_RUNTIME_DIR"] = runtime
    old = os.environ.get("JUPYTER_RUNTIME_DIR")
    os.environ["JUPYTER_RUNTIME_DIR"] = runtime
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("JUPYTER_RUNTIME_DIR", None)
        else:
            os.environ["JUPYTER_RUNTIME_DIR"] = old


_LOCAL_PORT = re.compile(r"(127\.0\.0\.1|localhost):\d{2,5}")


def _normalise_ports(nb) -> None:
    """Stored outputs show the local TOM's random port as ``<port>``: it differs on every run and
    machine, so a published page must not show it (book/sanitize.cfg maps both forms for nbval)."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if "text" in out:
                out["text"] = _LOCAL_PORT.sub(r"\1:<port>", out["text"])
            for key, value in out.get("data", {}).items():
                if key.startswith("text/") and isinstance(value, str):
                    out["data"][key] = _LOCAL_PORT.sub(r"\1:<port>", value)


def execute_notebook(
    path: Path, *, timeout: int = 600, env: Mapping[str, str] | None = None
) -> None:
    """Execute ``path`` in place on kernel ``python3`` with cwd = its folder, keeping all outputs.

    The notebook is written to a temporary file and renamed, so a failure leaves it untouched.
    Raises BookError (naming the notebook and the cell) when a cell fails.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    path = Path(path)
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        raise BookError(f"cannot read notebook {path}: {exc}") from exc
    nb.metadata["kernelspec"] = {
        "name": KERNEL_NAME,
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        record_timing=False,  # no timestamps in the cell metadata: clean diffs
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )
    kernel_env = dict(notebook_environment() if env is None else env)
    try:
        with _private_jupyter_runtime(kernel_env):
            client.execute(env=kernel_env)
    except (CellExecutionError, CellTimeoutError) as exc:
        raise BookError(f"{path}: a cell failed, notebook left unchanged:\n{exc}") from exc
    _normalise_ports(nb)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            nbformat.write(nb, fh)
        os.chmod(tmp, path.stat().st_mode & 0o777)  # mkstemp makes it 0600; keep the notebook's
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------------------------------
# JupyterLab with the local TOM


def ensure_sample() -> Path:
    """The sample's root directory, built first if needed (the local TOM and the notebooks use it)."""
    from elasticc_tutorial import paths

    try:
        locs = paths.locate(tom_url=paths.LOCAL_TOM, build=True)
    except paths.LocateError as exc:
        raise BookError(str(exc)) from exc
    assert locs.sample is not None  # a local TOM always uses the sample
    return locs.sample.path


@contextlib.contextmanager
def _local_tom(sample: Path) -> Iterator[LocalTom]:
    """Serve the local TOM on ``sample`` while the block runs."""
    from elasticc_tutorial.localtom import LocalTom

    tom = LocalTom(sample)
    try:
        tom.start()
    except (OSError, RuntimeError) as exc:
        raise BookError(f"cannot start the local TOM on {sample}: {exc}") from exc
    try:
        yield tom
    finally:
        tom.stop()


def lab_environment(tom: LocalTom, sample: Path) -> dict[str, str]:
    """The environment of ``lab``'s JupyterLab and kernels: :func:`notebook_environment`, the
    sample, a private Jupyter runtime directory, and :data:`~elasticc_tutorial.tom.settings.LAB_TOM_ENV`
    describing lab's local TOM, so ``tom.connect()`` in a notebook reuses it (and says it is the
    local synthetic twin) instead of starting another."""
    from elasticc_tutorial.tom.settings import LAB_TOM_ENV

    env = notebook_environment()
    env["ELASTICC_TUTORIAL_SAMPLE"] = str(sample)
    env["JUPYTER_RUNTIME_DIR"] = str(jupyter_runtime_dir())
    env[LAB_TOM_ENV] = json.dumps(
        {
            "url": tom.url,
            "username": tom.username,
            "passwordfile": str(tom.passwordfile),
            "sample": str(sample),
        }
    )
    return env


class _Signalled(BaseException):
    """SIGTERM or SIGHUP reached ``lab``: unwind, stopping JupyterLab, the TOM and PostgreSQL."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_signalled(signum: int, frame: object) -> None:
    raise _Signalled(signum)


def _die_with_parent() -> None:
    """In JupyterLab's process, before exec: SIGTERM when ``lab`` dies, even by SIGKILL (Linux)."""
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop_jupyter(proc: subprocess.Popen, signals: Sequence[int]) -> None:
    """Send ``signals`` in turn (5 s apart) until JupyterLab exits; SIGKILL as a last resort."""
    for sig in signals:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
            return
    proc.kill()
    proc.wait()


def run_lab(root: Path, jupyter_args: Sequence[str] = ()) -> int:
    """Run ``jupyter lab book/`` against the local TOM until it exits or is interrupted.

    Ctrl-C (SIGINT), SIGTERM and SIGHUP stop JupyterLab, the local TOM and its PostgreSQL server
    before returning; should ``lab`` be killed outright, each of them notices and stops by itself.
    """
    old = {s: signal.signal(s, _raise_signalled) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        return _run_lab(root, jupyter_args)
    except _Signalled as sig:
        return 128 + sig.signum
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _run_lab(root: Path, jupyter_args: Sequence[str]) -> int:
    sample = ensure_sample()
    with _local_tom(sample) as tom:
        env = lab_environment(tom, sample)
        print(
            f"sample: {sample}\nlocal TOM: {tom.url} (user {tom.username}; notebooks' "
            "tom.connect() uses it); stop with Ctrl-C",
            flush=True,
        )
        cmd = [sys.executable, "-m", "jupyterlab", str(root / "book"), *jupyter_args]
        if os.name == "posix" and os.geteuid() == 0 and "--allow-root" not in jupyter_args:
            # containers and CI run as root; JupyterLab would refuse to start
            print("running as root: passing --allow-root to JupyterLab", flush=True)
            cmd.append("--allow-root")
        linux = sys.platform.startswith("linux")
        proc = subprocess.Popen(
            cmd, env=env, cwd=root, preexec_fn=_die_with_parent if linux else None
        )
        try:
            return proc.wait()
        except KeyboardInterrupt:
            # Jupyter asks for confirmation on the first SIGINT; a second one shuts it down.
            _stop_jupyter(proc, (signal.SIGINT, signal.SIGINT, signal.SIGTERM))
            return 130
        except _Signalled:
            _stop_jupyter(proc, (signal.SIGTERM, signal.SIGTERM))
            raise


# ---------------------------------------------------------------------------------------------
# CLI


def _cmd_build(args: argparse.Namespace) -> int:
    root = find_book_root(args.root)
    html = (
        (args.path_output or root) / "_build" / "html"
        if args.check_only
        else build_site(root, args.path_output)
    )
    problems = verify_site(root, html)
    if problems:
        print(f"error: the site under {html} is incomplete:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"site OK: {len(toc_documents(root))} pages under {html}; open {html / 'index.html'}")
    return 0


def _cmd_execute(args: argparse.Namespace) -> int:
    root = find_book_root(args.root)
    notebooks = [Path(nb) for nb in args.notebooks] or toc_notebooks(root)
    for nb in notebooks:
        if nb.suffix != ".ipynb" or not nb.is_file():
            raise BookError(f"{nb}: expected an existing .ipynb notebook")
    if not args.no_sample and any("sample" in notebook_requires(nb) for nb in notebooks):
        # Built beforehand so that no notebook's stored output shows the first-use build.
        ensure_sample()
    env = notebook_environment()
    for nb in notebooks:
        print(f"executing {nb} ...", flush=True)
        execute_notebook(nb, timeout=args.timeout, env=env)
    print(f"executed {len(notebooks)} notebook(s); outputs saved in place")
    return 0


def _cmd_student(args: argparse.Namespace) -> int:
    from elasticc_tutorial import teaching

    root = find_book_root(args.root)
    written = teaching.write_student_copies(toc_notebooks(root), args.out)
    print(
        f"wrote {len(written)} participant copies to {args.out} (solutions removed, type-along cells empty)"
    )
    return 0


def _cmd_slides(args: argparse.Namespace) -> int:
    from elasticc_tutorial import teaching

    root = find_book_root(args.root)
    out = args.out or root / "_build" / "html" / "slides"
    decks = teaching.build_slides(toc_notebooks(root), out)
    print(f"wrote {len(decks)} slide decks to {out}; open {decks[0]}")
    return 0


def _cmd_lab(args: argparse.Namespace) -> int:
    root = find_book_root(args.root)
    extra = list(args.jupyter_args)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    return run_lab(root, extra)


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``book build``, ``book execute`` and ``lab``."""
    root_help = "book directory holding _config.yml and _toc.yml (default: found from the cwd)"
    book = subparsers.add_parser("book", help="build the static site or execute the notebooks")
    book_sub = book.add_subparsers(dest="book_command", metavar="ACTION", required=True)

    build = book_sub.add_parser(
        "build",
        help="jupyter-book build -W --keep-going, then check that every page rendered",
        description="Build the site from the committed outputs and refuse an empty result.",
    )
    build.add_argument("--root", type=Path, default=None, help=root_help)
    build.add_argument(
        "--path-output", type=Path, default=None, help="write _build/ here instead of the book root"
    )
    build.add_argument(
        "--check-only", action="store_true", help="do not build; only check an existing site"
    )
    build.set_defaults(func=_cmd_build)

    execute = book_sub.add_parser(
        "execute",
        help="execute notebooks in place (default: all in _toc.yml) on kernel python3",
        description=(
            "Execute notebooks in place with nbclient on kernel python3, against the local TOM and "
            "the sample (any DESC_TOM_* settings are ignored), and save every output."
        ),
    )
    execute.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="notebooks to execute")
    execute.add_argument("--root", type=Path, default=None, help=root_help)
    execute.add_argument("--timeout", type=int, default=600, help="seconds per cell (default: 600)")
    execute.add_argument(
        "--no-sample",
        action="store_true",
        help="do not build the sample first (for notebooks that use no data)",
    )
    execute.set_defaults(func=_cmd_execute)

    student = book_sub.add_parser(
        "student",
        help="participant copies: exercise solutions removed, type-along cells left empty",
        description=(
            "Write a participant copy of every chapter into --out: cells tagged `solution` are "
            "removed and cells tagged `type-along` are left empty; everything else is as in the book."
        ),
    )
    student.add_argument("--out", type=Path, required=True, help="folder for the copies")
    student.add_argument("--root", type=Path, default=None, help=root_help)
    student.set_defaults(func=_cmd_student)

    slides = book_sub.add_parser(
        "slides",
        help="each chapter as a reveal.js slide deck (offline; built with the site too)",
        description="Write <chapter>.slides.html for every chapter, with a local copy of reveal.js.",
    )
    slides.add_argument(
        "--out", type=Path, default=None, help="folder for the decks (default: _build/html/slides)"
    )
    slides.add_argument("--root", type=Path, default=None, help=root_help)
    slides.set_defaults(func=_cmd_slides)

    lab = subparsers.add_parser(
        "lab",
        help="open the book in JupyterLab with the sample and a local TOM",
        description=(
            "Make sure the sample exists, serve the local TOM on it, and run `jupyter lab book/` "
            "with DESC_TOM_URL/USERNAME/PASSWORDFILE pointing at it. Arguments after `--` go to "
            "jupyter lab (e.g. -- --no-browser --port 8890)."
        ),
    )
    lab.add_argument("--root", type=Path, default=None, help=root_help)
    lab.add_argument("jupyter_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    lab.set_defaults(func=_cmd_lab)
