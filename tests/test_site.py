"""The static site: built with ``jupyter-book build -W --keep-going`` and opened in headless Chromium.

The browser is Debian's ``/usr/bin/chromium`` driven by playwright (playwright's own browser download
needs the internet). Without it the browser test is skipped locally and fails in CI (``CI=true``).
"""

from __future__ import annotations

import functools
import http.server
import posixpath
import re
import struct
import threading
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import nbformat
import pytest
from _browser import chromium

from elasticc_tutorial import book

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT_DOC = "book/05_taxonomy"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The site built from the committed outputs; returns ``_build/html``."""
    out = tmp_path_factory.mktemp("site")
    return book.build_site(ROOT, out)  # -W --keep-going: any warning fails the build


def _source_title(doc: str) -> str:
    """The ``# Title`` of a toc page, read from its source."""
    src = book.document_source(ROOT, doc)
    if src.suffix == ".ipynb":
        text = nbformat.read(src, as_version=4).cells[0].source
    else:
        text = src.read_text(encoding="utf-8")
    return next(line[2:].strip() for line in text.splitlines() if line.startswith("# "))


def _stored_images(doc: str) -> int:
    src = book.document_source(ROOT, doc)
    if src.suffix != ".ipynb":
        return 0
    nb = nbformat.read(src, as_version=4)
    return sum(
        "image/png" in out.get("data", {})
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
    )


def test_site_builds_every_toc_page(site):
    assert (site / "index.html").is_file()
    for nb in book.toc_notebooks(ROOT):  # the slide decks are published with the site
        assert (site / "slides" / f"{nb.stem}.slides.html").is_file(), nb.name
    assert (site / "slides" / "reveal.js" / "dist" / "reveal.js").is_file()
    assert book.verify_site(ROOT, site) == []
    for doc in book.toc_documents(ROOT):
        _, titles = book.page_content((site / f"{doc}.html").read_text(encoding="utf-8"))
        assert titles[0] == _source_title(doc), doc
    assert not list((site / "reports").glob("*.err.log")), "a notebook failed to render"


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass  # keep pytest's output clean


@pytest.fixture(scope="module")
def browser():
    with chromium() as browser:
        yield browser


@pytest.mark.browser
def test_every_chapter_renders_in_chromium(browser, server, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed: list[str] = []
    page.on(
        "response",
        lambda r: (
            failed.append(f"{r.status} {r.url}")
            if r.url.startswith(server) and r.status >= 400
            else None
        ),
    )
    links: set[str] = set()
    for doc in book.toc_documents(ROOT):
        url = urljoin(server, f"{doc}.html")
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status == 200, url
        article = page.locator("article.bd-article")
        assert article.locator("h1").first.inner_text().strip().rstrip("#").strip() == (
            _source_title(doc)
        )
        images = article.locator("img")
        assert images.count() >= _stored_images(doc), f"{doc}: figures missing"
        broken = page.evaluate(
            """() => Array.from(document.querySelectorAll('article.bd-article img'))
                  .filter(img => !(img.complete && img.naturalWidth > 0)).map(img => img.src)"""
        )
        assert broken == [], f"{doc}: images that did not load: {broken}"
        dropdowns = article.locator(".admonition.dropdown")
        if dropdowns.count():
            # sphinx-togglebutton's JavaScript ran: solutions start folded and open on a click
            solution = dropdowns.first.locator(":scope > :not(.admonition-title)").first
            assert not solution.is_visible(), f"{doc}: exercise solution shown unfolded"
            dropdowns.first.locator(".admonition-title").click()
            solution.wait_for(state="visible", timeout=5000)
        for href in page.evaluate(
            "() => Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
        ):
            target = urldefrag(href).url
            if target.startswith(server) and urlparse(target).path:
                links.add(target)
        if doc == SCREENSHOT_DOC:
            shot = tmp_path / "chapter.png"
            page.screenshot(path=str(shot), full_page=False)
    assert failed == [], f"same-site requests failed: {failed}"

    bad_links = []
    for target in sorted(links):
        status = page.request.get(target).status
        if status != 200:
            bad_links.append(f"{status} {target}")
    assert bad_links == [], f"internal links that do not resolve: {bad_links}"
    assert len(links) >= len(book.toc_documents(ROOT))  # at least the navigation

    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert (width, height) == (1280, 900)
    assert len(png) > 20_000, "the screenshot is suspiciously small (blank page?)"
    page.close()


# ---------------------------------------------------------------------------------------------
# Layout at 1280 px: nothing cut, nothing illegible, no output interpreted as HTML

#: Run in each page: every problem a reader would see at this width, as text.
_LAYOUT_PROBLEMS_JS = r"""
() => {
  const problems = [];
  const article = document.querySelector('article.bd-article');
  const where = el => (el.closest('[id]') ? '#' + el.closest('[id]').id : el.tagName.toLowerCase());
  const text = el => (el.innerText || '').trim().slice(0, 60).replace(/\s+/g, ' ');
  // 1. prose tables (not inside outputs) must fit their column
  for (const t of article.querySelectorAll('table')) {
    if (t.closest('.cell_output, .output')) continue;
    const col = t.parentElement.clientWidth;
    if (t.scrollWidth > col + 1)
      problems.push(`table wider than its column (${t.scrollWidth} > ${col} px) at ${where(t)}: ${text(t)}`);
  }
  // 2. output blocks must not need horizontal scrolling
  for (const pre of article.querySelectorAll('.cell_output pre, .output pre')) {
    if (pre.scrollWidth > pre.clientWidth + 1)
      problems.push(`output block scrolls sideways at ${where(pre)}: ${text(pre)}`);
  }
  // 3. code may scroll only when a line holds a token too long to break
  const canvas = document.createElement('canvas').getContext('2d');
  for (const pre of article.querySelectorAll('.cell_input pre')) {
    // folded (hidden) code has no rendered text and cannot scroll anything
    if (!pre.innerText.trim() || pre.scrollWidth <= pre.clientWidth + 1) continue;
    const style = getComputedStyle(pre);
    canvas.font = `${style.fontSize} ${style.fontFamily}`;
    const longest = Math.max(...pre.innerText.split(/\s+/).map(tok => canvas.measureText(tok).width));
    if (longest <= pre.clientWidth)
      problems.push(`code block scrolls although its lines could wrap at ${where(pre)}: ${text(pre)}`);
  }
  // 4. figures shown much smaller than drawn have illegible text
  for (const img of article.querySelectorAll('img')) {
    if (!img.naturalWidth) continue;
    const scale = img.clientWidth / img.naturalWidth;
    if (scale < 0.7)
      problems.push(`figure shrunk to ${Math.round(scale * 100)} % (${img.naturalWidth} px drawn, ${img.clientWidth} px shown) at ${where(img)}`);
  }
  // 5. text such as "<View>" interpreted as an HTML element
  for (const el of article.querySelectorAll('*')) {
    if (el instanceof HTMLUnknownElement && !el.tagName.includes('-'))
      problems.push(`text interpreted as an HTML tag <${el.tagName.toLowerCase()}> at ${where(el)}`);
  }
  return problems;
}
"""


@pytest.mark.browser
def test_every_page_is_legible_at_1280px(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: dict[str, list[str]] = {}
    for doc in book.toc_documents(ROOT):
        page.goto(urljoin(server, f"{doc}.html"), wait_until="load")
        found = page.evaluate(_LAYOUT_PROBLEMS_JS)
        if found:
            problems[doc] = found
    page.close()
    assert problems == {}, "\n".join(f"{doc}: {p}" for doc, ps in problems.items() for p in ps)


def test_published_outputs_show_no_machine_specific_values():
    """Ports, temp folders and home directories differ on every machine: a reader must never see them."""
    pattern = re.compile(r"(127\.0\.0\.1|localhost):\d{2,5}|/tmp/[\w.-]+|/home/\w+|/root/")
    found = []
    for nb_path in book.toc_notebooks(ROOT):
        nb = nbformat.read(nb_path, as_version=4)
        for i, cell in enumerate(nb.cells):
            for out in cell.get("outputs", []):
                texts = [out.get("text", "")] + [
                    v for k, v in out.get("data", {}).items() if k.startswith("text/")
                ]
                for text in texts:
                    text = "".join(text) if isinstance(text, list) else text
                    for m in pattern.finditer(text):
                        found.append(f"{nb_path.name} cell {i}: {m.group(0)}")
    assert found == [], found


def test_every_chapter_launches_on_binder_and_nersc_jupyterhub(site):
    """Each chapter's launch menu opens that chapter's notebook on Binder (for everyone) and on
    NERSC's JupyterHub (for DESC members), at the repository and branch of _config.yml."""
    import html
    from urllib.parse import parse_qs

    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo_url = config["repository"]["url"].rstrip("/")
    org_repo = urlparse(repo_url).path.strip("/")
    branch = config["repository"]["branch"]
    chapters = sorted((ROOT / "book").glob("*.ipynb"))
    assert chapters
    for nb in chapters:
        rel = nb.relative_to(ROOT).as_posix()
        page = (site / rel).with_suffix(".html")
        hrefs = [html.unescape(h) for h in re.findall(r'href="([^"]+)"', page.read_text())]
        binder = [h for h in hrefs if h.startswith("https://mybinder.org/")]
        assert binder, f"{page.name}: no Binder link"
        url = urlparse(binder[0])
        assert url.path == f"/v2/gh/{org_repo}/{branch}", binder[0]
        target = parse_qs(url.query).get("urlpath", []) + parse_qs(url.query).get("filepath", [])
        assert target and target[0].endswith(rel), binder[0]
        hub = [h for h in hrefs if h.startswith("https://jupyter.nersc.gov/")]
        assert hub, f"{page.name}: no NERSC JupyterHub link"
        url = urlparse(hub[0])
        query = parse_qs(url.query)
        assert url.path == "/hub/user-redirect/git-pull", hub[0]
        assert query["repo"] == [repo_url] and query["branch"] == [branch], hub[0]
        urlpath = posixpath.normpath(query["urlpath"][0])  # path_to_book "." gives ".../."
        assert urlpath.endswith(f"{org_repo.split('/')[1]}/{rel}"), hub[0]
