"""The HTTP side of the TOM client: one logged-in ``requests`` session, Django's login with its CSRF
token, timeouts, retries with backoff (``Retry-After`` honoured), re-login when the session expires,
and streaming downloads that leave no partial file behind.

Every transport failure (connection refused, timeout, a body cut halfway, invalid JSON) becomes a
:class:`~elasticc_tutorial.errors.TomError` naming the route. Requests that are safe to repeat (GET and
the read-only POSTs of :func:`~elasticc_tutorial.tom.routes.is_safe`) are retried; others never are,
unless the request surely did not reach the server.
"""

from __future__ import annotations

import email.utils
import logging
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from elasticc_tutorial.errors import TomError
from elasticc_tutorial.tom.routes import (
    closest_routes,
    is_known_route,
    is_safe,
    normalize_page,
    summarize_response,
)

__all__ = ["LoginRefused", "Transport"]

log = logging.getLogger("elasticc_tutorial.tom")

#: Statuses worth another try for a safe request: the proxy or the server is briefly unavailable.
_RETRY_STATUS = {502, 503, 504}
#: Failures while sending or reading a response.
_TRANSPORT_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class LoginRefused(TomError):
    """The TOM answered the login form but did not log us in (wrong username or password)."""


def _never_sent(exc: BaseException) -> bool:
    """True when the request surely did not reach the server (so any request may be repeated)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    import urllib3.exceptions

    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "no connection within the connect timeout"
    if isinstance(exc, requests.Timeout):
        return "no answer within the read timeout"
    if isinstance(
        exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError
    ):
        return f"the response was cut off or garbled ({type(exc).__name__})"
    if _never_sent(exc):
        return "connection refused or host unreachable (ConnectionError)"
    return f"the connection broke ({type(exc).__name__})"


def retry_after(res: requests.Response) -> float | None:
    """Seconds the server asks us to wait (``Retry-After``: seconds or an HTTP date), else None."""
    value = res.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Transport:
    """A logged-in session with a TOM: send requests, retry what is safe, download to files.

    ``retries`` further attempts, sleeping ``backoff * 2**i`` seconds (or what ``Retry-After`` says,
    at most ``max_wait`` seconds), for connection failures, cut bodies, HTTP 502/503/504, and HTTP 429
    with ``Retry-After`` (the login throttle).
    """

    def __init__(
        self,
        url: str,
        username: str,
        password: str,
        *,
        timeout: float | tuple[float, float] = (15.0, 300.0),
        retries: int = 4,
        backoff: float = 0.5,
        max_wait: float = 60.0,
        verify: bool | str = True,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TomError(f"url must look like http(s)://host[:port], not {url!r}")
        self._url = url.rstrip("/")
        self._username = username
        self.__password = password
        self.timeout = timeout
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.max_wait = float(max_wait)
        self.verify = verify
        self._rqs: requests.Session | None = None

    @property
    def url(self) -> str:
        """The TOM's base URL (no trailing slash)."""
        return self._url

    @property
    def username(self) -> str:
        """The account this client logs in as."""
        return self._username

    def __repr__(self) -> str:
        state = "logged in" if self._rqs is not None else "not connected"
        return f"{type(self).__name__}(url={self._url!r}, username={self._username!r}, {state})"

    # -- login ------------------------------------------------------------------------------------

    def connect(self) -> None:
        """Log in (Django's form login with its CSRF token); raise :class:`TomError` on failure."""
        page = "accounts/login/"
        rqs = requests.Session()
        rqs.verify = self.verify
        login = f"{self._url}/{page}"
        res = self._send(rqs, "GET", page, retry=True)
        if res.status_code != 200:
            raise TomError(
                f"Got status {res.status_code} from first attempt to connect to {self._url}: "
                f"{summarize_response(res)}",
                status=res.status_code,
                page=page,
            )
        token = rqs.cookies.get("csrftoken")
        if not token:
            raise TomError(
                f"{login} set no csrftoken cookie; is {self._url} a TOM?",
                status=res.status_code,
                page=page,
            )
        form = {
            "username": self._username,
            "password": self.__password,
            "csrfmiddlewaretoken": token,
        }
        # Repeating a login changes nothing, so a lost answer may be asked for again.
        res = self._send(rqs, "POST", page, retry=True, data=form, headers={"Referer": login})
        if res.status_code != 200:
            asked = retry_after(res) if res.status_code in (429, 503) else None
            raise TomError(
                f"Failed to log in to {self._url} as {self._username}; HTTP status "
                f"{res.status_code}: {summarize_response(res)}"
                + (f" (the TOM asks to retry after {asked:.0f} s)" if asked is not None else ""),
                status=res.status_code,
                page=page,
            )
        refused = "Please enter a correct" in res.text
        if (
            refused
            or urlsplit(res.url).path.rstrip("/").endswith("accounts/login")
            or ("sessionid" not in rqs.cookies)
        ):
            why = "wrong username or password" if refused else "the server started no session"
            raise LoginRefused(
                f"Failed to log in to {self._url} as {self._username!r}: {why}",
                status=res.status_code,
                page=page,
            )
        rqs.headers["X-CSRFToken"] = rqs.cookies.get("csrftoken") or token  # rotated at login
        if self._rqs is not None:
            self._rqs.close()
        self._rqs = rqs
        log.info("logged in to %s as %s", self._url, self._username)

    def close(self) -> None:
        """Close the HTTP session."""
        if self._rqs is not None:
            self._rqs.close()
            self._rqs = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- sending ----------------------------------------------------------------------------------

    def _sleep(self, seconds: float) -> None:
        """Every wait of the client goes through here (retries, polling)."""
        time.sleep(seconds)

    def _pause(self, attempt: int, res: requests.Response | None = None) -> None:
        asked = retry_after(res) if res is not None else None
        wait = self.backoff * 2**attempt if asked is None else asked
        self._sleep(min(wait, self.max_wait))

    def _send(
        self, rqs: requests.Session, method: str, page: str, *, retry: bool, **kwargs
    ) -> requests.Response:
        """One request with retries; the response of the last attempt (any status)."""
        kwargs.setdefault("timeout", self.timeout)
        url = f"{self._url}/{page}"
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            try:
                res = rqs.request(method, url, **kwargs)
            except _TRANSPORT_ERRORS as exc:
                if last or not (retry or _never_sent(exc)):
                    tries = f" after {attempt + 1} attempts" if attempt else ""
                    raise TomError(
                        f"{method} {page} at {self._url} failed{tries}: {_describe(exc)}",
                        page=page,
                    ) from exc
                log.warning("%s %s: %s; retrying", method, page, type(exc).__name__)
                self._pause(attempt)
                continue
            if (
                retry
                and not last
                and (
                    res.status_code in _RETRY_STATUS
                    or (res.status_code == 429 and retry_after(res) is not None)
                )
            ):
                log.warning("%s %s: HTTP %d; retrying", method, page, res.status_code)
                res.close()
                self._pause(attempt, res)
                continue
            return res
        raise AssertionError("unreachable")

    def _logged_out(self, res: requests.Response) -> bool:
        """The response says the session is gone: a 403 for anonymous users, or a redirect to the
        login page."""
        if res.status_code == 403:
            try:
                return "CSRF" not in res.text[:300]
            except requests.RequestException:  # a cut 403 page: not worth a new login
                return False
        return bool(res.history) and urlsplit(res.url).path.endswith("/accounts/login/")

    def request(self, method: str = "GET", page: str | None = None, **kwargs) -> requests.Response:
        """Send ``method`` to ``{url}/{page}`` and return the raw :class:`requests.Response` (any
        status, as the DESC client does). ``kwargs`` go to ``requests``. Safe requests are retried; an
        expired session is renewed (one new login) and the request sent again. Raises
        :class:`TomError` when no response arrives."""
        if self._rqs is None:
            self.connect()
        assert self._rqs is not None  # connect() sets it or raises
        page = normalize_page(page or "")
        safe = is_safe(method, page)
        t0 = time.perf_counter()
        res = self._send(self._rqs, method, page, retry=safe, **kwargs)
        if self._logged_out(res):
            log.info("session at %s expired; logging in again", self._url)
            res.close()
            self.connect()
            assert self._rqs is not None
            res = self._send(self._rqs, method, page, retry=safe, **kwargs)
        log.debug("%s %s -> %d in %.3f s", method, page, res.status_code, time.perf_counter() - t0)
        return res

    def post(self, page: str, **kwargs) -> requests.Response:
        return self.request("POST", page, **kwargs)

    def get(self, page: str, **kwargs) -> requests.Response:
        return self.request("GET", page, **kwargs)

    def put(self, page: str, **kwargs) -> requests.Response:
        return self.request("PUT", page, **kwargs)

    # -- checked calls ----------------------------------------------------------------------------

    def _status_error(self, method: str, page: str, res: requests.Response) -> TomError:
        msg = f"{page}: HTTP {res.status_code}: {summarize_response(res)}"
        if res.status_code == 404 and not is_known_route(page):
            near = closest_routes(page)
            msg = f"{method} {page}: no such route on the TOM (HTTP 404)" + (
                f"; did you mean {', '.join(near)}?" if near else ""
            )
        elif res.status_code in (429, 503) and retry_after(res) is not None:
            why = "overloaded" if res.status_code == 503 else "throttling this client"
            msg += f" (the TOM is {why}; it asks to retry after {retry_after(res):.0f} s)"
        return TomError(msg, status=res.status_code, page=page)

    def call(
        self, method: str, page: str, *, expect: int | tuple[int, ...] = 200, **kwargs
    ) -> requests.Response:
        """:meth:`request`, raising :class:`TomError` with the server's message unless the status is
        ``expect``."""
        page = normalize_page(page)
        res = self.request(method, page, **kwargs)
        if res.status_code not in ((expect,) if isinstance(expect, int) else expect):
            err = self._status_error(method, page, res)
            res.close()
            raise err
        return res

    def call_json(
        self, method: str, page: str, *, expect: int | tuple[int, ...] = 200, **kwargs
    ) -> Any:
        """:meth:`call` and decode the JSON body; invalid JSON is a :class:`TomError`."""
        res = self.call(method, page, expect=expect, **kwargs)
        try:
            return res.json()
        except ValueError as exc:
            raise TomError(
                f"{normalize_page(page)}: HTTP {res.status_code} with a body that is not valid "
                f"JSON ({exc}; Content-Type {res.headers.get('Content-Type', '?')}): "
                f"{summarize_response(res, 120)}",
                status=res.status_code,
                page=normalize_page(page),
            ) from None

    def download(
        self, method: str, page: str, dest: str | os.PathLike[str], *, content_type: str, **kwargs
    ) -> requests.structures.CaseInsensitiveDict:
        """Stream a response body to ``dest`` (written as ``dest.part``, renamed when complete) and
        return the response headers. A body cut halfway is fetched again when the route is safe;
        the partial file is removed on every failure, interrupts included."""
        page = normalize_page(page)
        dest = Path(dest)
        part = dest.with_name(dest.name + ".part")
        safe = is_safe(method, page)
        for attempt in range(self.retries + 1):
            res = self.call(method, page, stream=True, **kwargs)
            got = 0
            try:
                ctype = res.headers.get("Content-Type", "")
                if content_type not in ctype:
                    raise TomError(
                        f"{page}: expected {content_type}, got {ctype or 'no Content-Type'}: "
                        f"{summarize_response(res)}",
                        status=res.status_code,
                        page=page,
                    )
                with part.open("wb") as fh:
                    for chunk in res.iter_content(1 << 20):
                        fh.write(chunk)
                        got += len(chunk)
                os.replace(part, dest)
                return res.headers
            except _TRANSPORT_ERRORS as exc:
                part.unlink(missing_ok=True)
                if not safe or attempt == self.retries:
                    raise TomError(
                        f"{method} {page}: the download broke after {got} bytes: {_describe(exc)}",
                        page=page,
                    ) from exc
                log.warning("%s %s: body cut after %d bytes; retrying", method, page, got)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
            finally:
                res.close()
            self._pause(attempt)
        raise AssertionError("unreachable")
