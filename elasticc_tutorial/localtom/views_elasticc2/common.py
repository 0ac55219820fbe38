"""What every ``elasticc2/`` view shares: the real TOM's access rules, method checks, JSON bodies,
500 texts, and SQL on the TOM database (the ``tom`` connection, as the real views use their Django
database user).

Access, in the real TOM's order (tom-fidelity §1): CSRF (Django's middleware, before the view), then
login (anonymous: 403 for ``PermissionRequiredMixin`` views, a 302 to the login page for
``LoginRequiredMixin`` ones), then the method (405, empty body, ``Allow`` header).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.db import connections
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed

from elasticc_tutorial.localtom.conf import TOM_DB
from elasticc_tutorial.localtom.views_common import json_response, text_response

__all__ = ["PlainError", "ViewError", "json_response", "rows", "text_response", "tom_view"]


class ViewError(Exception):
    """An error the real view raises itself; its text follows the view's 500 prefix."""


class PlainError(Exception):
    """An error the real view answers with its bare text (500, no "Exception in" prefix)."""


def rows(query: str, params: dict[str, Any] | Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """Rows of ``query`` on the TOM database as dicts (column order kept)."""
    with connections[TOM_DB].cursor() as cur:
        cur.execute(query, params)
        if cur.description is None:
            return []
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def forbidden() -> HttpResponse:
    return text_response("403 Forbidden", 403)


def tom_view(
    methods: Sequence[str],
    *,
    anonymous: str = "403",
    view_name: str | None = None,
    body: bool = True,
) -> Callable:
    """Wrap a view with the real TOM's checks.

    ``anonymous`` is ``"403"`` or ``"login"`` (302 to the login page). With ``view_name`` the view
    gets the parsed JSON body and any exception becomes 500 ``Exception in <view_name>: <text>``
    (a :class:`ViewError`'s text, or Python's own, as the real views print it).
    """
    allowed = list(methods) + (["HEAD"] if "GET" in methods else [])

    def deco(func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                if anonymous == "login":
                    return redirect_to_login(request.get_full_path())
                return forbidden()
            if request.method not in allowed:
                return HttpResponseNotAllowed(allowed)
            if view_name is None:
                return func(request, *args, **kwargs)
            try:
                data = json.loads(request.body) if body else None
                return func(request, data, *args, **kwargs)
            except PlainError as exc:
                return text_response(str(exc), 500)
            except Exception as exc:  # the real views catch everything the same way
                return text_response(f"Exception in {view_name}: {exc}", 500)

        return wrapper

    return deco
