"""The TOM's routes: their trailing-slash rules, which ones are safe to repeat, "did you mean" for a
misspelled one, and readable summaries of error responses (tom-fidelity.md §2)."""

from __future__ import annotations

import difflib
import html
import re

import requests

__all__ = [
    "ROUTES",
    "closest_routes",
    "is_known_route",
    "is_safe",
    "normalize_page",
    "summarize_response",
]

#: Every route of the real TOM the client knows (``<pk>``-style parts as placeholders).
ROUTES = (
    "accounts/login/",
    "accounts/logout/",
    "db/runsqlquery/",
    "db/submitsqlquery/",
    "db/checksqlquery/<queryid>/",
    "db/getsqlqueryresults/<queryid>/",
    "elasticc2/",
    "elasticc2/adminsummary",
    "elasticc2/alertstreamhists",
    "elasticc2/classifiers",
    "elasticc2/brokertimedelays",
    "elasticc2/brokercompleteness",
    "elasticc2/confmatrixlatest",
    "elasticc2/classids",
    "elasticc2/classifiers_json",
    "elasticc2/brokerclassfortruetype/<dataformat>/<what>/<classifier_id>/<classid>/",
    "elasticc2/brokermessage/",
    "elasticc2/getalert",
    "elasticc2/ltcv",
    "elasticc2/ltcvfeatures",
    "elasticc2/gethottransients",
    "elasticc2/askforspectrum",
    "elasticc2/spectrawanted",
    "elasticc2/planspectrum",
    "elasticc2/removespectrumplan",
    "elasticc2/reportspectruminfo",
    "elasticc2/getknownspectruminfo",
    "elasticc2/ppdbdiaobject/",
    "elasticc2/ppdbdiasource/",
    "elasticc2/ppdbdiaforcedsource/",
    "elasticc2/ppdbdiaobjectwithsources/<pk>/",
    "elasticc2/ppdbdiaobjectofsource/<pk>/",
)

#: elasticc2 function routes whose URL patterns have no trailing slash.
_NO_SLASH = {r.split("/")[1] for r in ROUTES if r.startswith("elasticc2/") and not r.endswith("/")}
#: POST routes that only read, so a lost response can be asked for again.
_SAFE_POST = (
    "db/runsqlquery/",
    "db/checksqlquery/",
    "db/getsqlqueryresults/",
    "elasticc2/classids",
    "elasticc2/classifiers_json",
    "elasticc2/ltcv",
    "elasticc2/gethottransients",
    "elasticc2/getalert",
    "elasticc2/spectrawanted",
    "elasticc2/getknownspectruminfo",
    "elasticc2/brokerclassfortruetype/",
    "elasticc2/ppdb",
)


def normalize_page(page: str) -> str:
    """``page`` with the trailing slash its route needs (``db/...`` and the REST routes need one, the
    elasticc2 function routes must not have one) and no leading slash."""
    path, sep, qs = page.lstrip("/").partition("?")
    parts = path.rstrip("/").split("/")
    if parts[0] == "db" or (
        parts[0] == "elasticc2" and len(parts) > 1 and parts[1] not in _NO_SLASH
    ):
        path = path.rstrip("/") + "/"
    elif parts[0] == "elasticc2" and len(parts) == 2 and parts[1] in _NO_SLASH:
        path = path.rstrip("/")
    return path + sep + qs


def is_safe(method: str, page: str) -> bool:
    """True when repeating the request cannot change anything (GET and the read-only POSTs)."""
    if method.upper() in ("GET", "HEAD", "OPTIONS"):
        return True
    return method.upper() == "POST" and any(page.startswith(p) for p in _SAFE_POST)


def _pattern(route: str) -> re.Pattern[str]:
    body = re.sub(r"<[^>]+>", "[^/]+", route.rstrip("/"))
    if route.endswith("/") and "<" not in route and route.count("/") == 2:  # DRF list + detail
        body += "(/[^/]+)?"
    return re.compile(body + "/?")


_PATTERNS = [_pattern(r) for r in ROUTES]


def is_known_route(page: str) -> bool:
    """True when ``page`` is one of :data:`ROUTES` (placeholders filled in, slash ignored)."""
    path = page.partition("?")[0].strip("/")
    return any(p.fullmatch(path) for p in _PATTERNS)


def closest_routes(page: str, n: int = 3) -> list[str]:
    """The known routes most like ``page`` (for a 404 on a misspelled route)."""
    path = page.partition("?")[0].strip("/")
    parts = path.split("/")
    # Compare with the fixed prefix of each route, as long as the request's path.
    candidates: dict[str, str] = {}
    for route in ROUTES:
        fixed = route.split("/<")[0].strip("/")
        key = "/".join(fixed.split("/")[: len(parts)])
        candidates.setdefault(key, route)
    hits = difflib.get_close_matches(path, list(candidates), n=n, cutoff=0.6)
    return [candidates[h] for h in hits]


def summarize_response(res: requests.Response, limit: int = 300) -> str:
    """A short, readable description of an error response: JSON error, plain text, or an HTML
    page's title and main message (never the whole page)."""
    ctype = res.headers.get("Content-Type", "")
    try:
        text = res.text or ""
    except requests.RequestException:  # the body was cut: say so rather than fail again
        return "(the response body was cut off)"
    if "json" in ctype:
        try:
            data = res.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ("error", "detail", "message"):
                if key in data:
                    return str(data[key])[:limit]
    if "html" in ctype or text.lstrip()[:15].lower().startswith(("<!doctype", "<html")):
        parts = []
        for tag in ("title", "h1", "pre"):
            m = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", text, re.S | re.I)
            if m:
                part = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", m.group(1))).split())
                if part and part not in parts:
                    parts.append(part)
        if "exception_value" in text:  # Django debug page: the exception message
            m = re.search(r'class="exception_value">(.*?)</pre>', text, re.S)
            if m:
                parts.append(" ".join(html.unescape(m.group(1)).split()))
        return ("HTML page: " + " | ".join(parts) if parts else "HTML page")[:limit]
    text = " ".join(text.split())
    return text[:limit] + ("..." if len(text) > limit else "")
