"""Material for live sessions: participant copies of the chapters and reveal.js slide decks.

Two cell tags, set in the chapters, drive both:

- ``solution``: an exercise's answer. The book shows it folded (with ``hide-input``) and the tests execute
  it like any other cell; participant copies leave it out.
- ``type-along``: a cell participants type themselves during the session. Participant copies keep the cell
  but empty it (no source, no output); the copies are executed by the tests, so a later cell that needs a
  type-along cell's result is caught.

Slides come from nbconvert's reveal.js exporter. A cell's own ``slideshow`` metadata wins; a cell without
it follows the story: a markdown cell that opens with a ``#``/``##`` heading starts a slide, a code cell
whose output is a figure becomes a sub-slide, and everything else is left out. reveal.js itself comes from
the ``sphinx-revealjs`` wheel and is copied next to the decks, so they work offline.
"""

from __future__ import annotations

import contextlib
import copy
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from elasticc_tutorial.errors import BookError

__all__ = [
    "SOLUTION_TAG",
    "TYPE_ALONG_TAG",
    "build_slides",
    "slide_type",
    "student_notebook",
    "write_student_copies",
]

SOLUTION_TAG = "solution"
TYPE_ALONG_TAG = "type-along"
#: Written into every participant copy, so a copy is recognisable (and never taken for the book).
STUDENT_MARK = "elasticc_tutorial_student_copy"


def _tags(cell) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []))


def student_notebook(nb):
    """A participant copy of notebook ``nb`` (an ``nbformat.NotebookNode``; ``nb`` is not changed):
    ``solution`` cells removed, ``type-along`` cells emptied, every other cell as it is."""
    out = copy.deepcopy(nb)
    cells = []
    for cell in out.cells:
        tags = _tags(cell)
        if SOLUTION_TAG in tags:
            continue
        if TYPE_ALONG_TAG in tags:
            cell.source = ""
            if cell.cell_type == "code":
                cell.outputs = []
                cell.execution_count = None
        cells.append(cell)
    out.cells = cells
    out.metadata[STUDENT_MARK] = True
    return out


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_student_copies(notebooks: Iterable[Path], out: Path) -> list[Path]:
    """Write the participant copy of each notebook into ``out`` (same file names) and return the paths.

    Idempotent: running it again gives byte-identical files. Refuses to write over a file in ``out`` that
    is not itself a participant copy (so it can never overwrite the book's own chapters).
    """
    import nbformat

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for src in notebooks:
        src = Path(src)
        dest = out / src.name
        if dest.resolve() == src.resolve():
            raise BookError(
                f"--out {out}: would overwrite the chapter {src} itself; choose another folder"
            )
        if dest.exists():
            try:
                existing = nbformat.read(dest, as_version=4)
            except Exception as exc:  # not a notebook at all
                raise BookError(f"{dest} exists and is not a notebook: {exc}") from exc
            if not existing.metadata.get(STUDENT_MARK):
                raise BookError(
                    f"{dest} exists and is not a participant copy; refusing to overwrite it "
                    "(remove it or choose another --out folder)"
                )
        try:
            nb = nbformat.read(src, as_version=4)
        except (OSError, ValueError) as exc:
            raise BookError(f"cannot read notebook {src}: {exc}") from exc
        _write_atomic(dest, nbformat.writes(student_notebook(nb)) + "\n")
        written.append(dest)
    return written


# ---------------------------------------------------------------------------------------------
# Slides


def _has_figure(cell) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def slide_type(cell) -> str:
    """The reveal.js slide type of ``cell``: its own ``slideshow`` metadata, else the story rule."""
    explicit = cell.get("metadata", {}).get("slideshow", {}).get("slide_type")
    if explicit:
        return explicit
    if SOLUTION_TAG in _tags(cell):
        return "skip"
    if cell.cell_type == "markdown":
        first = cell.source.lstrip().splitlines()[0] if cell.source.strip() else ""
        return "slide" if first.startswith(("# ", "## ")) else "skip"
    if cell.cell_type == "code" and _has_figure(cell):
        return "subslide"
    return "skip"


def _revealjs_dist() -> Path:
    try:
        import sphinx_revealjs
    except ImportError as exc:  # pragma: no cover - the book extra installs it
        raise BookError(
            "slides need reveal.js from the sphinx-revealjs package: pip install -e '.[book]'"
        ) from exc
    dist = Path(sphinx_revealjs.__file__).parent / "_static" / "revealjs"
    if not (dist / "dist" / "reveal.js").is_file():
        raise BookError(f"reveal.js not found under {dist}; reinstall sphinx-revealjs")
    return dist


def build_slides(notebooks: Iterable[Path], out: Path) -> list[Path]:
    """Write ``<chapter>.slides.html`` for each notebook into ``out`` (plus a local copy of reveal.js)
    and return the deck paths."""
    import nbformat
    from nbconvert import SlidesExporter

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    reveal = out / "reveal.js"
    if not reveal.is_dir():
        shutil.copytree(_revealjs_dist(), reveal)
    exporter = SlidesExporter(
        template_name="offline_slides",
        extra_template_basedirs=[str(Path(__file__).parent / "templates")],
        reveal_url_prefix="reveal.js",
        reveal_scroll=True,
    )
    decks = []
    for src in notebooks:
        src = Path(src)
        nb = nbformat.read(src, as_version=4)
        for cell in nb.cells:
            cell.metadata.setdefault("slideshow", {})["slide_type"] = slide_type(cell)
        if not any(c.metadata["slideshow"]["slide_type"] == "slide" for c in nb.cells):
            raise BookError(f"{src}: no cell starts a slide (no heading and no slideshow metadata)")
        body, _ = exporter.from_notebook_node(nb)
        dest = out / f"{src.stem}.slides.html"
        _write_atomic(dest, body)
        decks.append(dest)
    return decks
