"""Live-session material: participant copies and slide decks (elasticc_tutorial.teaching)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from _browser import chromium
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from elasticc_tutorial import book, teaching
from elasticc_tutorial.errors import BookError

ROOT = Path(__file__).resolve().parents[1]


def _toy() -> nbformat.NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell("# Title\n\nIntro."),
            new_code_cell("x = 1", execution_count=1),
            new_markdown_cell("**Exercise 1.** Compute x + 1."),
            new_code_cell(
                "x + 1",
                execution_count=2,
                outputs=[new_output("execute_result", {"text/plain": "2"}, execution_count=2)],
                metadata={"tags": ["solution", "hide-input"]},
            ),
            new_code_cell(
                "y = x * 10\ny",
                execution_count=3,
                outputs=[new_output("execute_result", {"text/plain": "10"}, execution_count=3)],
                metadata={"tags": ["type-along"]},
            ),
            new_markdown_cell("## Summary"),
        ]
    )


def test_student_notebook_removes_solutions_and_empties_type_along_cells():
    nb = _toy()
    before = nbformat.writes(nb)
    out = teaching.student_notebook(nb)
    assert nbformat.writes(nb) == before, "the book's notebook must not be changed"
    sources = [c.source for c in out.cells]
    assert "x + 1" not in sources  # the solution is gone
    assert len(out.cells) == len(nb.cells) - 1
    typed = out.cells[3]
    assert typed.source == "" and typed.outputs == [] and typed.execution_count is None
    # every other cell is exactly the book's
    kept = [c for c in nb.cells if "solution" not in c.metadata.get("tags", [])]
    for a, b in zip(kept, out.cells, strict=True):
        if "type-along" not in a.metadata.get("tags", []):
            assert a == b


def test_student_copies_are_idempotent_and_never_overwrite_the_book(tmp_path):
    src = tmp_path / "book"
    src.mkdir()
    nbformat.write(_toy(), src / "01_toy.ipynb")
    out = tmp_path / "copies"
    first = teaching.write_student_copies([src / "01_toy.ipynb"], out)
    data = first[0].read_bytes()
    second = teaching.write_student_copies([src / "01_toy.ipynb"], out)
    assert second[0].read_bytes() == data
    with pytest.raises(BookError, match="itself"):
        teaching.write_student_copies([src / "01_toy.ipynb"], src)
    (out / "01_toy.ipynb").write_text(nbformat.writes(_toy()))  # a foreign notebook in the way
    with pytest.raises(BookError, match="not a participant copy"):
        teaching.write_student_copies([src / "01_toy.ipynb"], out)


@pytest.fixture(scope="module")
def student_copies(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("student")
    return teaching.write_student_copies(book.toc_notebooks(ROOT), out)


def test_every_chapter_has_a_participant_copy_without_solutions(student_copies):
    chapters = book.toc_notebooks(ROOT)
    assert [p.name for p in student_copies] == [p.name for p in chapters]
    n_solutions = 0
    for chapter, copy in zip(chapters, student_copies, strict=True):
        original = nbformat.read(chapter, as_version=4)
        n_solutions += sum("solution" in c.metadata.get("tags", []) for c in original.cells)
        student = nbformat.read(copy, as_version=4)
        for cell in student.cells:
            tags = cell.metadata.get("tags", [])
            assert "solution" not in tags, f"{copy.name}: a solution survived"
            if "type-along" in tags:
                assert cell.source == "", f"{copy.name}: a type-along cell is not empty"
    assert n_solutions > 0, "no chapter marks its exercise solutions with the `solution` tag"


@pytest.mark.slow
def test_participant_copies_execute(student_copies, tmp_path):
    """With solutions gone and type-along cells empty, every other cell still runs."""
    for copy in student_copies:
        target = tmp_path / copy.name
        target.write_bytes(copy.read_bytes())
        book.execute_notebook(target, timeout=600)  # raises BookError naming the failing cell


def test_slide_types_follow_the_story():
    nb = _toy()
    types = [teaching.slide_type(c) for c in nb.cells]
    assert types == ["slide", "skip", "skip", "skip", "skip", "slide"]
    figure = new_code_cell(
        "plot()", outputs=[new_output("display_data", {"image/png": "iVBORw0KGgo="})]
    )
    assert teaching.slide_type(figure) == "subslide"
    figure.metadata["slideshow"] = {"slide_type": "skip"}  # explicit metadata wins
    assert teaching.slide_type(figure) == "skip"


@pytest.fixture(scope="module")
def decks(tmp_path_factory) -> list[Path]:
    return teaching.build_slides(book.toc_notebooks(ROOT), tmp_path_factory.mktemp("slides"))


def test_slide_decks_are_offline(decks):
    for deck in decks:
        html = deck.read_text(encoding="utf-8")
        for cdn in ("https://cdnjs", "https://unpkg", "require.min.js"):
            assert cdn not in html, f"{deck.name} loads {cdn}"
        assert (deck.parent / "reveal.js" / "dist" / "reveal.js").is_file()


@pytest.mark.browser
def test_slide_decks_open_in_chromium_with_a_first_slide(decks):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        for deck in decks:
            page.goto(deck.as_uri(), wait_until="load")
            page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=10_000)
            first = page.locator(".reveal .slides > section").first
            assert len(first.inner_text().strip()) > 20, f"{deck.name}: the first slide is empty"
            total = page.evaluate("() => Reveal.getTotalSlides()")
            assert total >= 3, f"{deck.name}: only {total} slides"
