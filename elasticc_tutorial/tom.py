"""A client for the DESC TOM (and the tutorial's local TOM), compatible with the DESC ``TomClient``.

Code written for the DESC ``tom_client.py`` runs unchanged::

    tom = TomClient(url, username="me", passwordfile="~/secrets/tom_passwd")
    res = tom.post("db/runsqlquery/", json={"query": "SELECT 1"})

On top of that: credentials from the environment (``DESC_TOM_URL``, ``DESC_TOM_USERNAME``,
``DESC_TOM_PASSWORDFILE``), reliable login-failure detection, timeouts, retries with backoff on
connection errors and 502/503/504 for requests that are safe to repeat, transparent re-login when the
session expires, trailing slashes normalised per endpoint, and typed helpers: :meth:`TomClient.query`,
:meth:`~TomClient.sql`, :meth:`~TomClient.long_sql`, :meth:`~TomClient.ltcv`,
:meth:`~TomClient.hot_transients`, :meth:`~TomClient.classids`, :meth:`~TomClient.classifiers`,
:meth:`~TomClient.alert`. :func:`connect` picks the DESC TOM or the local TOM for notebooks.
The password never appears in logs, reprs or exceptions.
"""

from __future__ import annotations

import atexit
import html
import io
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl
import requests

from elasticc_tutorial.errors import TomError

__all__ = ["DEFAULT_URL", "TomClient", "TomError", "connect", "normalize_page", "tight_to_polars"]

log = logging.getLogger(__name__)

DEFAULT_URL = "https://desc-tom.lbl.gov"

#: elasticc2 function endpoints whose URL patterns have no trailing slash.
_NO_SLASH = {
    "classids",
    "classifiers_json",
    "ltcv",
    "ltcvfeatures",
    "gethottransients",
    "getalert",
    "askforspectrum",
    "spectrawanted",
    "planspectrum",
    "removespectrumplan",
    "reportspectruminfo",
    "getknownspectruminfo",
}
#: POST endpoints that only read, so a lost response can be asked for again.
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
_RETRY_STATUS = {502, 503, 504}

_PG_TO_POLARS: dict[str, pl.DataType] = {
    "int2": pl.Int16(),
    "int4": pl.Int32(),
    "int8": pl.Int64(),
    "oid": pl.Int64(),
    "float4": pl.Float32(),
    "float8": pl.Float64(),
    "numeric": pl.Float64(),
    "bool": pl.Boolean(),
    "text": pl.String(),
    "varchar": pl.String(),
    "bpchar": pl.String(),
    "name": pl.String(),
    "uuid": pl.String(),
    "json": pl.String(),
    "jsonb": pl.String(),
    "date": pl.Date(),
    "timestamp": pl.Datetime("us"),
    "timestamptz": pl.Datetime("us", "UTC"),
}


def normalize_page(page: str) -> str:
    """``page`` with the trailing slash its endpoint needs (``db/...`` and the REST routes need one,
    the elasticc2 function endpoints must not have one) and no leading slash."""
    path, sep, qs = page.lstrip("/").partition("?")
    parts = path.rstrip("/").split("/")
    if parts[0] == "db" or (
        parts[0] == "elasticc2" and len(parts) > 1 and parts[1] not in _NO_SLASH
    ):
        path = path.rstrip("/") + "/"
    elif parts[0] == "elasticc2" and len(parts) == 2 and parts[1] in _NO_SLASH:
        path = path.rstrip("/")
    return path + sep + qs


def summarize_response(res: requests.Response, limit: int = 300) -> str:
    """A short, readable description of an error response: JSON error, plain text, or an HTML
    page's title and main message (never the whole page)."""
    ctype = res.headers.get("Content-Type", "")
    text = res.text or ""
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


def _read_password(passwordfile: str | os.PathLike[str]) -> str:
    path = Path(passwordfile).expanduser()
    try:
        mode = path.stat().st_mode
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise TomError(f"cannot read password file {path}: {exc.strerror}") from None
    if os.name == "posix" and mode & 0o077:
        warnings.warn(
            f"password file {path} is readable by others (mode {mode & 0o777:o}); run: chmod 600 {path}",
            UserWarning,
            stacklevel=3,
        )
    if not lines or not lines[0].strip():
        raise TomError(f"password file {path} is empty (the password must be its first line)")
    return lines[0].strip()


def _never_sent(exc: requests.RequestException) -> bool:
    """True when the request surely did not reach the server (so any request may be retried)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    import urllib3.exceptions

    return isinstance(reason, urllib3.exceptions.NewConnectionError)


class TomClient:
    """A logged-in session with a TOM (a drop-in replacement for the DESC ``TomClient``).

    Parameters
    ----------
    url
        Base URL; default ``$DESC_TOM_URL`` or https://desc-tom.lbl.gov.
    username, password, passwordfile
        Credentials; default ``$DESC_TOM_USERNAME`` and ``$DESC_TOM_PASSWORDFILE`` (first line of the
        file). A password file readable by others gives a warning.
    connect
        Log in now (the default, as in the DESC client).
    timeout
        ``requests`` timeout in seconds, (connect, read) or one number, for every call.
    retries, backoff
        Connection errors and HTTP 502/503/504 are retried up to ``retries`` times, after sleeping
        ``backoff * 2**i`` seconds, for requests that are safe to repeat (GET and read-only POSTs).
    verify
        TLS verification, as in ``requests``.
    """

    def __init__(
        self,
        url: str | None = None,
        username: str | None = None,
        password: str | None = None,
        passwordfile: str | os.PathLike[str] | None = None,
        connect: bool = True,
        *,
        timeout: float | tuple[float, float] = (15.0, 300.0),
        retries: int = 4,
        backoff: float = 0.5,
        verify: bool | str = True,
    ) -> None:
        url = url or os.environ.get("DESC_TOM_URL") or DEFAULT_URL
        if not urlsplit(url).scheme.startswith("http"):
            raise ValueError(f"url must start with http:// or https://, not {url!r}")
        self._url = url.rstrip("/")
        self._username = username or os.environ.get("DESC_TOM_USERNAME")
        if password is None:
            pwfile = passwordfile or os.environ.get("DESC_TOM_PASSWORDFILE")
            if pwfile is None:
                raise RuntimeError(
                    "Must give either password or passwordfile (or set DESC_TOM_PASSWORDFILE). "
                )
            password = _read_password(pwfile)
        self.__password = password
        if not self._username:
            raise TomError("no username: give username= or set DESC_TOM_USERNAME")
        self.timeout = timeout
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.verify = verify
        self._rqs: requests.Session | None = None
        if connect:
            self.connect()

    @property
    def url(self) -> str:
        return self._url

    @property
    def username(self) -> str:
        return self._username

    def __repr__(self) -> str:
        state = "logged in" if self._rqs is not None else "not connected"
        return f"TomClient(url={self._url!r}, username={self._username!r}, {state})"

    # -- login --------------------------------------------------------------------------------

    def connect(self) -> None:
        """Log in (Django's form login with its CSRF token); raise :class:`TomError` on failure."""
        rqs = requests.Session()
        rqs.verify = self.verify
        login = f"{self._url}/accounts/login/"
        res = self._send_with_retries(rqs, "GET", login, retry=True)
        if res.status_code != 200:
            raise TomError(
                f"Got status {res.status_code} from first attempt to connect to {self._url}: "
                f"{summarize_response(res)}",
                status=res.status_code,
                page="accounts/login/",
            )
        token = rqs.cookies.get("csrftoken")
        if not token:
            raise TomError(
                f"{login} set no csrftoken cookie; is {self._url} a TOM?", page="accounts/login/"
            )
        res = self._send_with_retries(
            rqs,
            "POST",
            login,
            retry=False,
            data={
                "username": self._username,
                "password": self.__password,
                "csrfmiddlewaretoken": token,
            },
            headers={"Referer": login},  # Django checks it on HTTPS
        )
        if res.status_code != 200:
            raise TomError(
                f"Failed to log in to {self._url} as {self._username}; HTTP status "
                f"{res.status_code}: {summarize_response(res)}",
                status=res.status_code,
                page="accounts/login/",
            )
        if "Please enter a correct" in res.text:
            raise TomError(
                f"Failed to log in to {self._url}: wrong username or password for "
                f"{self._username!r}",
                status=res.status_code,
                page="accounts/login/",
            )
        if urlsplit(res.url).path.rstrip("/").endswith("accounts/login") or (
            "sessionid" not in rqs.cookies
        ):
            raise TomError(
                f"Failed to log in to {self._url} as {self._username}: the server did not start a "
                "session",
                status=res.status_code,
                page="accounts/login/",
            )
        rqs.headers["X-CSRFToken"] = rqs.cookies["csrftoken"]
        self._rqs = rqs
        log.info("logged in to %s as %s", self._url, self._username)

    def close(self) -> None:
        """Close the HTTP session."""
        if self._rqs is not None:
            self._rqs.close()
            self._rqs = None

    def __enter__(self) -> TomClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- raw requests (the DESC client's API) -------------------------------------------------

    def _send_with_retries(
        self, rqs: requests.Session, method: str, url: str, *, retry: bool, **kwargs
    ) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                res = rqs.request(method, url, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if last or not (retry or _never_sent(exc)):
                    raise TomError(
                        f"{method} {url} failed: {type(exc).__name__}: {exc}", page=url
                    ) from None
                log.warning("%s %s: %s; retrying", method, url, type(exc).__name__)
            else:
                if not (retry and res.status_code in _RETRY_STATUS and not last):
                    return res
                log.warning("%s %s: HTTP %d; retrying", method, url, res.status_code)
            time.sleep(self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    @staticmethod
    def _is_safe(method: str, page: str) -> bool:
        if method.upper() in ("GET", "HEAD", "OPTIONS"):
            return True
        return any(page.startswith(p) for p in _SAFE_POST)

    def _logged_out(self, res: requests.Response) -> bool:
        """The response says the session is gone: a 403 for anonymous users, or a redirect to the
        login page."""
        if res.status_code == 403 and "CSRF" not in res.text[:300]:
            return True
        return bool(res.history) and urlsplit(res.url).path.endswith("/accounts/login/")

    def request(self, method: str = "GET", page: str | None = None, **kwargs) -> requests.Response:
        """Send ``method`` to ``{url}/{page}`` and return the raw :class:`requests.Response`.

        ``kwargs`` go to ``requests`` (``json=``, ``data=``, ``params=``, ``timeout=``, ...). Safe
        requests are retried on connection errors and 502/503/504; an expired session is renewed
        (one new login) and the request sent again.
        """
        if self._rqs is None:
            self.connect()
        page = normalize_page(page or "")
        url = f"{self._url}/{page}"
        safe = self._is_safe(method, page)
        t0 = time.perf_counter()
        res = self._send_with_retries(self._rqs, method, url, retry=safe, **kwargs)
        if self._logged_out(res):
            log.info("session at %s expired; logging in again", self._url)
            self.connect()
            res = self._send_with_retries(self._rqs, method, url, retry=safe, **kwargs)
        log.debug("%s %s -> %d in %.3f s", method, page, res.status_code, time.perf_counter() - t0)
        return res

    def post(self, page: str, **kwargs) -> requests.Response:
        return self.request("POST", page, **kwargs)

    def get(self, page: str, **kwargs) -> requests.Response:
        return self.request("GET", page, **kwargs)

    def put(self, page: str, **kwargs) -> requests.Response:
        return self.request("PUT", page, **kwargs)

    # -- typed helpers --------------------------------------------------------------------------

    def query(self, endpoint: str, data: Any = None, *, method: str = "POST") -> Any:
        """POST ``data`` as JSON to ``endpoint`` and return the decoded JSON.

        Raises :class:`TomError` with the server's message for a non-200 status (plain text, JSON
        ``error``/``detail``, or a summary of an HTML page) or a ``"status": "error"`` body.
        """
        res = self.request(method, endpoint, json=data if data is not None else {})
        page = normalize_page(endpoint)
        if res.status_code != 200:
            raise TomError(
                f"{page}: HTTP {res.status_code}: {summarize_response(res)}",
                status=res.status_code,
                page=page,
            )
        try:
            out = res.json()
        except ValueError:
            raise TomError(
                f"{page}: expected JSON, got {res.headers.get('Content-Type', '?')}: "
                f"{summarize_response(res)}",
                status=res.status_code,
                page=page,
            ) from None
        if isinstance(out, dict) and out.get("status") == "error":
            raise TomError(f"{page}: {out.get('error', 'unknown error')}", status=200, page=page)
        return out

    @staticmethod
    def _body(query: str | list[str], subdict: dict | list[dict] | None) -> dict[str, Any]:
        if not isinstance(query, str | list):
            raise TypeError("query must be a string or a list of strings")
        body: dict[str, Any] = {"query": query}
        if subdict is not None:
            if isinstance(query, list) and isinstance(subdict, list) and len(query) != len(subdict):
                raise ValueError(
                    f"{len(query)} queries but {len(subdict)} subdicts: give one subdict per query"
                )
            body["subdict"] = subdict
        return body

    def sql(self, query: str | list[str], subdict: dict | list[dict] | None = None) -> pl.DataFrame:
        """Run SQL through ``db/runsqlquery/`` (fast queries, under the proxy's 5-minute limit) and
        return the last query's rows as a polars DataFrame with dtypes from the column types."""
        out = self.query("db/runsqlquery/", self._body(query, subdict))
        return _frame_from_rows(out.get("rows", []), out.get("columns"))

    def submit_sql(
        self,
        query: str | list[str],
        subdict: dict | list[dict] | None = None,
        *,
        format: str = "csv",
    ) -> str:
        """Queue a long query; returns its ``queryid``."""
        out = self.query("db/submitsqlquery/", {**self._body(query, subdict), "format": format})
        return out["queryid"]

    def check_sql(self, queryid: str) -> dict[str, Any]:
        """The status record of a long query (``status`` is queued, started, finished or error)."""
        res = self.request("POST", f"db/checksqlquery/{queryid}/")
        if res.status_code != 200:
            raise TomError(f"checksqlquery: HTTP {res.status_code}: {summarize_response(res)}")
        return res.json()

    def long_sql(
        self,
        query: str | list[str],
        subdict: dict | list[dict] | None = None,
        *,
        deadline: float = 3600.0,
        poll: float = 1.0,
        max_poll: float = 60.0,
        progress: bool = True,
        dest: str | os.PathLike[str] | None = None,
    ) -> pl.DataFrame | pl.LazyFrame:
        """Run SQL through the long-query interface: submit, poll (with a tqdm status line) until it
        finishes or ``deadline`` seconds pass, download and return a polars DataFrame.

        The CSV is streamed to disk, never held in memory as text. With ``dest``, it is kept at that
        path and a :class:`polars.LazyFrame` over it is returned, so memory stays bounded whatever
        the size. Polling starts every ``poll`` seconds and slows to ``max_poll`` (the real TOM's
        runner looks at its queue once a minute).
        """
        # tqdm.auto only when a bar is shown: in Jupyter without ipywidgets it warns on import
        if progress:
            from tqdm.auto import tqdm
        else:
            from tqdm import tqdm

        queryid = self.submit_sql(query, subdict, format="csv")
        t0 = time.monotonic()
        wait = poll
        with tqdm(
            total=None, disable=not progress, desc=f"query {queryid[:8]}", unit="check"
        ) as bar:
            while True:
                state = self.check_sql(queryid)
                status = state.get("status")
                bar.set_postfix_str(f"{status}, {time.monotonic() - t0:.0f} s")
                bar.update(1)
                if status == "finished":
                    break
                if status == "error":
                    raise TomError(f"long query {queryid} failed: {state.get('error')}")
                if time.monotonic() - t0 > deadline:
                    raise TomError(
                        f"long query {queryid} is still {status} after {deadline:.0f} s; "
                        f"check later with check_sql({queryid!r})"
                    )
                time.sleep(wait)
                wait = min(wait * 1.5, max_poll)
        return self.sql_results(queryid, columns=state.get("columns"), dest=dest)

    def sql_results(
        self,
        queryid: str,
        *,
        columns: list[dict[str, str]] | None = None,
        dest: str | os.PathLike[str] | None = None,
    ) -> pl.DataFrame | pl.LazyFrame:
        """Download a finished long query's CSV (streamed to disk) as polars (see :meth:`long_sql`)."""
        page = f"db/getsqlqueryresults/{queryid}/"
        res = self.request("POST", page, stream=True)
        try:
            if res.status_code != 200:
                raise TomError(
                    f"{page}: HTTP {res.status_code}: {summarize_response(res)}",
                    status=res.status_code,
                    page=page,
                )
            if "csv" not in res.headers.get("Content-Type", ""):
                raise TomError(f"{page}: expected CSV, got {res.headers.get('Content-Type')}")
            if columns is None and res.headers.get("X-Column-Types"):
                columns = json.loads(res.headers["X-Column-Types"])
            path = Path(dest) if dest else None
            tmpdir = None
            if path is None:
                tmpdir = tempfile.mkdtemp(prefix="elasticc-tom-")
                path = Path(tmpdir) / f"{queryid}.csv"
            part = path.with_name(path.name + ".part")
            with part.open("wb") as fh:
                for chunk in res.iter_content(1 << 20):
                    fh.write(chunk)
            os.replace(part, path)
        finally:
            res.close()
        try:
            lazy = _scan_result_csv(path, columns)
            if dest is not None:
                return lazy
            return lazy.collect()
        finally:
            if tmpdir:
                shutil.rmtree(tmpdir, ignore_errors=True)

    def ltcv(
        self,
        objectids: int | Iterable[int],
        *,
        mjd_now: float | None = None,
        return_format: int = 0,
        include_hostinfo: bool = False,
    ) -> Any:
        """Light curves (``elasticc2/ltcv``): the ``diaobject`` payload in ``return_format`` 0/1/2
        (2 is a dict of lists: ``pl.DataFrame(tom.ltcv(ids, return_format=2))``)."""
        ids = [int(objectids)] if isinstance(objectids, int) else [int(i) for i in objectids]
        data: dict[str, Any] = {"objectids": ids, "return_format": return_format}
        if mjd_now is not None:
            data["mjd_now"] = float(mjd_now)
        if include_hostinfo:
            data["include_hostinfo"] = 1
        return self.query("elasticc2/ltcv", data)["diaobject"]

    def hot_transients(
        self,
        *,
        mjd_now: float | None = None,
        detected_in_last_days: float | None = None,
        detected_since_mjd: float | None = None,
        return_format: int = 0,
        include_hostinfo: bool = False,
        cheat_gentypes: Iterable[int] | None = None,
    ) -> Any:
        """Objects detected recently with their light curves (``elasticc2/gethottransients``)."""
        if detected_in_last_days is not None and detected_since_mjd is not None:
            raise ValueError("give detected_in_last_days or detected_since_mjd, not both")
        data: dict[str, Any] = {"return_format": return_format}
        for key, value in (
            ("mjd_now", mjd_now),
            ("detected_in_last_days", detected_in_last_days),
            ("detected_since_mjd", detected_since_mjd),
        ):
            if value is not None:
                data[key] = float(value)
        if include_hostinfo:
            data["include_hostinfo"] = 1
        if cheat_gentypes is not None:
            data["cheat_gentypes"] = [int(g) for g in cheat_gentypes]
        return self.query("elasticc2/gethottransients", data)["diaobject"]

    def classids(self) -> dict[str, Any]:
        """The classId taxonomy as the TOM serves it (``elasticc2/classids``)."""
        return self.query("elasticc2/classids", method="GET")

    def classifiers(self) -> dict[str, Any]:
        """Broker classifiers by ``classifier_id`` (``elasticc2/classifiers_json``)."""
        return self.query("elasticc2/classifiers_json", method="GET")

    def broker_class_for_true_type(
        self, what: str, classifier_id: int, classid: int
    ) -> pl.DataFrame:
        """The TOM's precomputed metric table for one classifier and true (leaf) class, as polars.

        ``what``: ``objects``, ``sources``, ``classifications``, ``meanprobabilities`` or
        ``maxprobabilities`` (``elasticc2/brokerclassfortruetype/dict/<what>/<classifier>/<classid>/``).
        The server sends a pandas "tight" dict; its index levels become the first columns, under the
        TOM's own names (e.g. ``relday``, ``m.classid``, ``m.probability``).
        """
        page = f"elasticc2/brokerclassfortruetype/dict/{what}/{int(classifier_id)}/{int(classid)}/"
        return tight_to_polars(self.query(page, method="GET"), what=page)

    def alert(self, alertid: int | None = None, *, sourceid: int | None = None) -> dict[str, Any]:
        """A reconstructed alert (``elasticc2/getalert``) by ``alertid`` or ``sourceid``."""
        if (alertid is None) == (sourceid is None):
            raise ValueError("give exactly one of alertid or sourceid")
        data = {"alertid": int(alertid)} if alertid is not None else {"sourceid": int(sourceid)}
        return self.query("elasticc2/getalert", data)


def tight_to_polars(tight: dict[str, Any], *, what: str = "response") -> pl.DataFrame:
    """A pandas ``to_dict(orient="tight")`` dict as a polars frame: index levels first, then the
    columns. Raises :class:`TomError` naming ``what`` when a key is missing."""
    try:
        index, data = tight["index"], tight["data"]
        names = [str(n) for n in tight["index_names"]]
        columns = [c if isinstance(c, str) else ".".join(map(str, c)) for c in tight["columns"]]
    except (KeyError, TypeError) as exc:
        raise TomError(f"{what}: not a pandas 'tight' dict (missing {exc})") from None
    keys = [tuple(i) if isinstance(i, list | tuple) else (i,) for i in index]
    rows = [(*k, *row) for k, row in zip(keys, data, strict=True)]
    return pl.DataFrame(rows, schema=[*names, *columns], orient="row")


def _polars_type(pgtype: str) -> pl.DataType | None:
    if pgtype.endswith("[]"):
        inner = _PG_TO_POLARS.get(pgtype[:-2])
        return pl.List(inner) if inner is not None else None
    return _PG_TO_POLARS.get(pgtype)


def _frame_from_rows(
    rows: list[dict[str, Any]], columns: list[dict[str, str]] | None
) -> pl.DataFrame:
    """Rows (JSON dicts) as a polars DataFrame; dtypes from ``columns`` when the server sent them
    (the local TOM does), else inferred from all values (the DESC TOM sends no types)."""
    if columns is None:
        return pl.DataFrame(rows, infer_schema_length=None)
    data: dict[str, pl.Series] = {}
    for col in columns:
        name, dtype = col["name"], _polars_type(col["type"])
        values = [r.get(name) for r in rows]
        if dtype is None:
            data[name] = pl.Series(name, values, strict=False)
        elif isinstance(dtype, pl.Datetime | pl.Date):
            s = pl.Series(name, values, dtype=pl.String)
            data[name] = s.str.to_datetime(time_zone="UTC" if dtype.time_zone else None).cast(dtype) if isinstance(dtype, pl.Datetime) else s.str.to_date()  # fmt: skip
        elif dtype == pl.Float64 or dtype == pl.Float32:
            data[name] = pl.Series(
                name, [None if v is None else float(v) for v in values], dtype=dtype
            )
        else:
            data[name] = pl.Series(name, values, dtype=dtype, strict=False)
    return pl.DataFrame(data)


def _scan_result_csv(path: Path, columns: list[dict[str, str]] | None) -> pl.LazyFrame:
    """A long query's CSV (pandas-style, with a leading unnamed index column) as a LazyFrame."""
    with path.open("rb") as fh:
        header = fh.readline().decode()
    names = next(iter(__import__("csv").reader(io.StringIO(header))), [])
    overrides: dict[str, pl.DataType] = {}
    post: list[pl.Expr] = []
    for col in columns or []:
        dtype = _polars_type(col["type"])
        name = col["name"]
        if dtype is None or isinstance(dtype, pl.List):
            overrides[name] = pl.String()
        elif dtype == pl.Boolean:
            overrides[name] = pl.String()
            post.append(pl.col(name).replace_strict({"True": True, "False": False}, default=None))
        elif isinstance(dtype, pl.Datetime | pl.Date):
            overrides[name] = pl.String()
            post.append(
                pl.col(name).str.to_datetime(time_zone=getattr(dtype, "time_zone", None))
                if isinstance(dtype, pl.Datetime)
                else pl.col(name).str.to_date()
            )
        else:
            overrides[name] = dtype
    lazy = pl.scan_csv(
        path,
        schema_overrides={k: v for k, v in overrides.items() if k in names},
        infer_schema_length=None if not columns else 100,
    )
    if names and names[0] == "":  # the pandas index column the real TOM writes
        lazy = lazy.drop(lazy.collect_schema().names()[0])
    if post:
        lazy = lazy.with_columns(post)
    return lazy


_LOCAL: Any = None


def connect(*, sample_dir: str | os.PathLike[str] | None = None, quiet: bool = False) -> TomClient:
    """A logged-in client for notebooks: the DESC TOM when credentials are configured
    (``DESC_TOM_USERNAME`` and ``DESC_TOM_PASSWORDFILE``; URL from ``DESC_TOM_URL``), otherwise the
    local TOM started on the offline sample (stopped at interpreter exit). Prints one line saying
    which. ``DESC_TOM_URL=local`` forces the local TOM.
    """
    global _LOCAL
    from elasticc_tutorial import paths

    creds = paths.tom_credentials()
    url = os.environ.get("DESC_TOM_URL") or DEFAULT_URL
    if creds.configured and url != paths.LOCAL_TOM:
        client = TomClient(url, username=creds.username, passwordfile=creds.passwordfile)
        if not quiet:
            print(f"Using the TOM at {url} as {creds.username}.")
        return client
    from elasticc_tutorial.localtom import LocalTom

    if sample_dir:
        sdir = Path(sample_dir)
    else:  # the default sample: built (or rebuilt when outdated) on first use, like the data files
        located = paths.locate(tom_url=paths.LOCAL_TOM).sample
        assert located is not None  # a local TOM always falls back to the sample
        sdir = located.path
    if _LOCAL is None or _LOCAL.url is None or _LOCAL.sample_dir != sdir.resolve():
        if _LOCAL is not None:
            _LOCAL.stop()
        _LOCAL = LocalTom(sdir).start()
        atexit.register(_LOCAL.stop)
    if not quiet:
        print(f"Using the local TOM on the offline sample in {sdir} (no DESC TOM credentials set).")
    return TomClient(_LOCAL.url, username=_LOCAL.username, passwordfile=_LOCAL.passwordfile)
