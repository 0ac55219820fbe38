"""A client for the DESC TOM (and the tutorial's local TOM), compatible with the DESC ``TomClient``.

On top of the DESC client: credentials from the environment, reliable login-failure detection,
timeouts, retries with backoff (``Retry-After`` honoured) for requests that are safe to repeat,
transparent re-login, trailing slashes normalised per route, "did you mean" for misspelled routes,
and typed helpers for every route (SQL, light curves, alerts, PPDB views, spectra, broker messages).
:func:`connect` picks the TOM by the one rule of :mod:`elasticc_tutorial.tom.settings`.

Modules: :mod:`~.settings` (which TOM, password file), :mod:`~.routes` (route rules),
:mod:`~.transport` (HTTP, login, retries, downloads), :mod:`~.sql` and :mod:`~.elasticc2` (the API),
:mod:`~.client` (:class:`TomClient`), :mod:`~.frames` (polars conversion), :mod:`~.connection`
(:func:`connect`).
"""

from __future__ import annotations

import importlib
from typing import Any

from elasticc_tutorial.errors import TomError, TomSettingsError
from elasticc_tutorial.tom.settings import (
    DESC_TOM_URL,
    LOCAL_TOM,
    TomLocation,
    choose_tom,
    read_password_file,
)

#: The old name of :data:`DESC_TOM_URL` (the same object).
DEFAULT_URL = DESC_TOM_URL

# The HTTP client (requests, polars) is imported on first use, so that the TOM-choosing rule stays
# cheap to import (``paths.locate()`` and ``doctor`` use it).
_LAZY = {
    "TomClient": "client",
    "connect": "connection",
    "stop_local_tom": "connection",
    "tight_to_polars": "frames",
    "normalize_page": "routes",
    "summarize_response": "routes",
}

__all__ = [
    "DEFAULT_URL",
    "DESC_TOM_URL",
    "LOCAL_TOM",
    "TomClient",
    "TomError",
    "TomLocation",
    "TomSettingsError",
    "choose_tom",
    "connect",
    "normalize_page",
    "read_password_file",
    "stop_local_tom",
    "summarize_response",
    "tight_to_polars",
]


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
