""":class:`TomClient`: a drop-in replacement for the DESC ``TomClient`` with typed helpers."""

from __future__ import annotations

import os

from elasticc_tutorial.errors import TomSettingsError
from elasticc_tutorial.tom.elasticc2 import Elasticc2Api
from elasticc_tutorial.tom.settings import DESC_TOM_URL, LOCAL_TOM, read_password_file

__all__ = ["TomClient"]


class TomClient(Elasticc2Api):
    """A logged-in session with a TOM (a drop-in replacement for the DESC ``TomClient``).

    Code written for the DESC ``tom_client.py`` runs unchanged::

        tom = TomClient(url, username="me", passwordfile="~/secrets/tom_passwd")
        res = tom.post("db/runsqlquery/", json={"query": "SELECT 1"})

    Parameters
    ----------
    url
        Base URL; default ``$DESC_TOM_URL`` or https://desc-tom.lbl.gov.
    username, password, passwordfile
        Credentials; default ``$DESC_TOM_USERNAME`` and ``$DESC_TOM_PASSWORDFILE`` (first line of the
        file, which must be readable by you only) or ``$DESC_TOM_PASSWORD``.
    connect
        Log in now (the default, as in the DESC client).
    timeout
        ``requests`` timeout in seconds, (connect, read) or one number, for every call.
    retries, backoff, max_wait
        Connection failures, cut bodies and HTTP 502/503/504 are retried up to ``retries`` times,
        after sleeping ``backoff * 2**i`` seconds or what the server's ``Retry-After`` asks (at most
        ``max_wait``), for requests that are safe to repeat (GET and read-only POSTs).
    verify
        TLS verification, as in ``requests``.

    Raises :class:`~elasticc_tutorial.errors.TomSettingsError` for missing or unusable credentials
    and :class:`~elasticc_tutorial.errors.TomError` when the login fails. The password never
    appears in logs, reprs or exceptions.
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
        max_wait: float = 60.0,
        verify: bool | str = True,
    ) -> None:
        env = os.environ
        url = url or env.get("DESC_TOM_URL") or DESC_TOM_URL
        if url == LOCAL_TOM:
            raise TomSettingsError(
                "DESC_TOM_URL=local: the local TOM is started by elasticc_tutorial.tom.connect(); "
                "TomClient needs its URL"
            )
        username = username or env.get("DESC_TOM_USERNAME")
        if not username:
            raise TomSettingsError("no username: give username= or set DESC_TOM_USERNAME")
        if password is None:
            if passwordfile is not None:
                password = read_password_file(passwordfile, setting="passwordfile")
            elif env.get("DESC_TOM_PASSWORDFILE"):
                password = read_password_file(env["DESC_TOM_PASSWORDFILE"])
            elif env.get("DESC_TOM_PASSWORD"):
                password = env["DESC_TOM_PASSWORD"]
            else:
                raise TomSettingsError(
                    "Must give either password or passwordfile (or set DESC_TOM_PASSWORDFILE)"
                )
        super().__init__(
            url,
            username,
            password,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            max_wait=max_wait,
            verify=verify,
        )
        if connect:
            self.connect()
