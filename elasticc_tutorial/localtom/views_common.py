"""Pieces shared by the local TOM's views: run-time state, login checks, CSRF failures, JSON."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import Resolver404, resolve

from elasticc_tutorial.localtom.readonly import ReadOnlyDatabase


@dataclass
class Runtime:
    """What the server sets up before serving: the read-only database and the long-query runner."""

    ro: ReadOnlyDatabase | None = None
    runner: Any = None
    results_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)


RUNTIME = Runtime()


class DescJSONEncoder(DjangoJSONEncoder):
    """Exactly desc-tom's writer for SQL results (Django's encoder): Decimal as a string, times cut
    to milliseconds with ``Z``, intervals as ``P1DT02H00M00S``, NaN/Infinity as bare tokens; bytes
    are an error, as psycopg2's memoryview is in desc-tom."""

    def default(self, o: Any) -> Any:
        if isinstance(o, bytes | memoryview):
            raise TypeError("Object of type memoryview is not JSON serializable")
        return super().default(o)


def json_response(data: Any, status: int = 200) -> HttpResponse:
    """The real TOM's ``JsonResponse`` (tom-fidelity §1): DjangoJSONEncoder (datetimes cut to
    milliseconds with ``Z``, Decimal as a string, bare ``NaN``), Python's default separators."""
    return HttpResponse(
        json.dumps(data, cls=DjangoJSONEncoder), status=status, content_type="application/json"
    )


def text_response(text: str, status: int) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")


#: Seconds a client is asked to wait after a 503 (the server was at capacity).
RETRY_AFTER = 2


def overloaded_response(reason: str) -> HttpResponse:
    """503 with ``Retry-After``: the server is at capacity; the request was not run."""
    resp = text_response(
        f"503 Service Unavailable: the local TOM is busy ({reason}); retry in {RETRY_AFTER} s", 503
    )
    resp["Retry-After"] = str(RETRY_AFTER)
    return resp


def clean_float(x: float | None) -> float | None:
    """NaN/inf become None so the JSON stays standard."""
    return None if x is None or not math.isfinite(x) else x


def login_required_403(view: Callable) -> Callable:
    """Anonymous callers get 403 (the real TOM redirects some endpoints to the login page instead)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not request.user.is_authenticated:
            return text_response("403 Forbidden: log in first (accounts/login/)", 403)
        return view(request, *args, **kwargs)

    return wrapper


def read_json_body(request: HttpRequest) -> Any:
    """The JSON request body ({} when empty); ValueError with a clear message otherwise."""
    if not request.body:
        return {}
    try:
        return json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"request body is not valid JSON: {exc}") from None


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Plain-text 403 instead of Django's HTML page, so clients can show the reason."""
    return text_response(f"403 Forbidden: CSRF verification failed ({reason})", 403)


class SlashMiddleware:
    """A POST to a ``db/...`` path without its trailing slash gets a clear 500 text, like the real TOM
    with DEBUG=True (Django's redirect would silently turn the POST into a GET)."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if request.method not in ("GET", "HEAD") and not path.endswith("/"):
            try:
                resolve(path)
            except Resolver404:
                try:
                    resolve(path + "/")
                except Resolver404:
                    pass
                else:
                    return text_response(
                        f"You called {path} via {request.method}, but the URL doesn't end in a "
                        f"slash; use {path}/ (the db/ endpoints need the trailing slash)",
                        500,
                    )
        return self.get_response(request)


def endpoints() -> list[str]:
    """Every route the server answers, read from its URL configuration (so the home page never
    goes out of date); DRF's ``.json`` format-suffix variants are left out."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, prefix: str):
        for p in patterns:
            route = prefix + str(p.pattern)
            if isinstance(p, URLResolver):
                yield from walk(p.url_patterns, route)
            elif isinstance(p, URLPattern) and "<format>" not in route and "format>" not in route:
                yield route.lstrip("^").rstrip("$").replace("\\.", ".")

    return [r for r in dict.fromkeys(walk(get_resolver().url_patterns, "")) if r]


def home(request: HttpRequest) -> HttpResponse:
    """The landing page (where a login redirects to)."""
    if not request.user.is_authenticated:
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    return render(request, "localtom/home.html", {"endpoints": endpoints()})
