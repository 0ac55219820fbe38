"""The one rule that chooses the TOM: the DESC TOM (or another real one) or the local synthetic twin.

The local, synthetic TOM is used **only** when no ``DESC_TOM_*`` setting exists at all. Once any of
:data:`SETTINGS` is present, the caller asked for a real TOM, so every setting must be usable; a setting
that is present but unusable raises :class:`~elasticc_tutorial.errors.TomSettingsError` naming it, what is
wrong and how to fix it. There is never a fallback to synthetic data for someone who asked for real data.

``DESC_TOM_URL=local`` (alone) explicitly asks for the local TOM. When the local TOM is chosen and
:data:`LAB_TOM_ENV` is set (``elasticc-tutorial lab`` sets it for its notebooks), ``connect()`` uses
the local TOM that variable describes instead of starting one; it is never consulted otherwise. :func:`choose_tom` is what
``paths.locate()``, ``tom.connect()``, ``elasticc-tutorial where`` and ``doctor`` all use;
:func:`read_password_file` is the one password-file check.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from elasticc_tutorial.errors import TomSettingsError

__all__ = [
    "DESC_TOM_URL",
    "LAB_TOM_ENV",
    "LOCAL_TOM",
    "SETTINGS",
    "LabTom",
    "TomLocation",
    "choose_tom",
    "lab_tom",
    "read_password_file",
    "tom_line",
]

#: The production DESC TOM.
DESC_TOM_URL = "https://desc-tom.lbl.gov"
#: The value that means "the local synthetic TOM served from the sample".
LOCAL_TOM = "local"
#: Every setting that, when present, asks for a real TOM.
SETTINGS = ("DESC_TOM_URL", "DESC_TOM_USERNAME", "DESC_TOM_PASSWORD", "DESC_TOM_PASSWORDFILE")
#: Set by ``elasticc-tutorial lab``: a JSON object ``{"url", "username", "passwordfile", "sample"}``
#: describing the local TOM it runs, so notebooks reuse it. Honoured only when no DESC_TOM_* exists.
LAB_TOM_ENV = "ELASTICC_TUTORIAL_LOCAL_TOM"
_UNSET_ALL = "or unset every DESC_TOM_* variable to use the local synthetic TOM"


@dataclass(frozen=True)
class TomLocation:
    """The TOM to talk to and why: a URL with an account, or ``"local"`` for the twin on the sample.

    The password itself is kept out of ``repr`` and :meth:`to_dict`.
    """

    url: str
    #: ``"argument"``, ``"environment"`` or ``"default"`` (no setting at all: the local TOM).
    source: str
    #: Human-readable reason, e.g. ``"$DESC_TOM_URL"``.
    detail: str
    username: str | None = None
    #: The setting or argument the password came from (e.g. ``"DESC_TOM_PASSWORDFILE=/x"``).
    password_from: str | None = None
    password: str | None = field(default=None, repr=False, compare=False)

    @property
    def is_local(self) -> bool:
        """True for the local synthetic TOM on the sample."""
        return self.url == LOCAL_TOM

    def line(self, served_at: str | None = None, sample_version: str | None = None) -> str:
        """The one line every chapter, ``where`` and ``doctor`` show (see :func:`tom_line`)."""
        return tom_line(self, served_at=served_at, sample_version=sample_version)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form, without the password."""
        return {
            "url": self.url,
            "source": self.source,
            "detail": self.detail,
            "username": self.username,
            "password_from": self.password_from,
        }

    def __str__(self) -> str:
        return self.url


def tom_line(
    loc: TomLocation, *, served_at: str | None = None, sample_version: str | None = None
) -> str:
    """``TOM: local synthetic twin on 127.0.0.1 (sample <version>)`` or
    ``TOM: desc-tom at https://desc-tom.lbl.gov as <user>`` (another URL: ``TOM: <url> as <user>``).

    The local twin's port is left out: it is random, so it would differ in every published output
    (``TomClient.url`` has it)."""
    if loc.is_local:
        host = urlsplit(served_at).hostname if served_at else None
        where = f" on {host}" if host else " (started by tom.connect())"
        version = f" (sample {sample_version})" if sample_version else ""
        return f"TOM: local synthetic twin{where}{version}"
    name = "desc-tom at " if urlsplit(loc.url).hostname == urlsplit(DESC_TOM_URL).hostname else ""
    return f"TOM: {name}{loc.url} as {loc.username}"


def read_password_file(
    path: str | os.PathLike[str], *, setting: str = "DESC_TOM_PASSWORDFILE"
) -> str:
    """The password: the first line of ``path``, stripped. The file must be a regular file readable
    by its owner only (no group/other bits) and not empty; otherwise :class:`TomSettingsError`
    naming ``setting`` (the variable or argument that gave the path) and the fix."""
    p = Path(path).expanduser()
    where = f"{setting}={p}"
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a FIFO must not block
    except FileNotFoundError:
        raise TomSettingsError(
            f"{where}: no such file; put the TOM password alone on its first line, run "
            f"`chmod 600 {p}`, {_UNSET_ALL}"
        ) from None
    except OSError as exc:
        raise TomSettingsError(
            f"{where} cannot be read ({exc.strerror}); make it a file you own and `chmod 600 {p}`"
        ) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise TomSettingsError(
                f"{where} is a directory; expected the file holding the password"
            )
        if not stat.S_ISREG(st.st_mode):
            raise TomSettingsError(f"{where} is not a regular file; expected the password file")
        if os.name == "posix" and st.st_mode & 0o077:
            raise TomSettingsError(
                f"{where} can be read or changed by others (mode {st.st_mode & 0o777:o}); "
                f"run `chmod 600 {p}`"
            )
    except BaseException:
        os.close(fd)
        raise
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(65536)
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise TomSettingsError(f"{where} is not a text file; expected the password") from None
    first = text.splitlines()[0].strip() if text.strip() else ""
    if not first:
        raise TomSettingsError(
            f"{where} is empty (or its first line is blank); the password must be its first line"
        )
    return first


def _check_url(url: str, setting: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TomSettingsError(
            f"{setting}={url!r} is not a TOM URL; expected http(s)://host[:port], e.g. "
            f"{DESC_TOM_URL}, {_UNSET_ALL}"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise TomSettingsError(f"{setting}={url!r} has an invalid port number") from None
    return url.rstrip("/")


def choose_tom(tom_url: str | None = None, environ: Mapping[str, str] | None = None) -> TomLocation:
    """The TOM to use, by the one rule (see the module docstring).

    ``tom_url`` (an argument of ``paths.locate()`` or ``where --tom-url``) wins over ``DESC_TOM_URL``;
    ``"local"`` asks for the local TOM. A remote TOM needs ``DESC_TOM_USERNAME`` and exactly one of
    ``DESC_TOM_PASSWORDFILE`` / ``DESC_TOM_PASSWORD``; the password is read and checked here (the
    network is not contacted: ``connect()`` and ``doctor`` do that).
    """
    env = os.environ if environ is None else environ
    present = [name for name in SETTINGS if name in env]
    if tom_url == LOCAL_TOM:
        return TomLocation(LOCAL_TOM, "argument", "tom_url='local' argument")
    if tom_url is None and not present:
        return TomLocation(LOCAL_TOM, "default", "no DESC_TOM_* setting exists")
    if tom_url is None and env.get("DESC_TOM_URL") == LOCAL_TOM:
        others = [n for n in present if n != "DESC_TOM_URL"]
        if others:
            raise TomSettingsError(
                f"DESC_TOM_URL=local asks for the local synthetic TOM, but {', '.join(others)} "
                "also set: unset them, or set DESC_TOM_URL to the real TOM's URL"
            )
        return TomLocation(LOCAL_TOM, "environment", "$DESC_TOM_URL=local")

    if tom_url is not None:
        url, source, detail = _check_url(tom_url, "tom_url"), "argument", "tom_url= argument"
    elif "DESC_TOM_URL" in env:
        url, source = _check_url(env["DESC_TOM_URL"], "DESC_TOM_URL"), "environment"
        detail = "$DESC_TOM_URL"
    else:
        url, source = DESC_TOM_URL, "environment"
        detail = f"{', '.join(present)} set, DESC_TOM_URL unset: the DESC TOM"
    for name in present:
        if not env[name].strip():
            raise TomSettingsError(f"{name} is set but empty; give it a value, {_UNSET_ALL}")
    username = env.get("DESC_TOM_USERNAME")
    if not username:
        raise TomSettingsError(
            f"DESC_TOM_USERNAME is not set, but a real TOM was asked for ({detail}): "
            f"export DESC_TOM_USERNAME=<your TOM user name>, {_UNSET_ALL}"
        )
    has_file, has_pw = "DESC_TOM_PASSWORDFILE" in env, "DESC_TOM_PASSWORD" in env
    if has_file and has_pw:
        raise TomSettingsError(
            "both DESC_TOM_PASSWORDFILE and DESC_TOM_PASSWORD are set; unset one "
            "(a password file readable only by you is safer)"
        )
    if has_file:
        pwfile = env["DESC_TOM_PASSWORDFILE"]
        password = read_password_file(pwfile)
        password_from = f"DESC_TOM_PASSWORDFILE={Path(pwfile).expanduser()}"
    elif has_pw:
        password, password_from = env["DESC_TOM_PASSWORD"], "DESC_TOM_PASSWORD"
    else:
        raise TomSettingsError(
            f"no TOM password: DESC_TOM_PASSWORDFILE is not set (for user {username} at {url}); "
            "put the password alone in a file, `chmod 600` it and export DESC_TOM_PASSWORDFILE=<file>, "
            f"{_UNSET_ALL}"
        )
    return TomLocation(url, source, detail, username, password_from, password)


@dataclass(frozen=True)
class LabTom:
    """A running local TOM described by :data:`LAB_TOM_ENV` (never holds a password)."""

    url: str
    username: str
    passwordfile: Path
    sample: Path


def lab_tom(environ: Mapping[str, str] | None = None) -> LabTom | None:
    """The local TOM :data:`LAB_TOM_ENV` describes, or None when it is unset. Checked: JSON with
    the four keys, a ``http://127.0.0.1`` URL (the local TOM serves nothing else), a private
    password file; otherwise :class:`TomSettingsError` naming the variable."""
    import json

    env = os.environ if environ is None else environ
    raw = env.get(LAB_TOM_ENV)
    if raw is None:
        return None
    try:
        info = json.loads(raw)
        tom = LabTom(
            str(info["url"]),
            str(info["username"]),
            Path(info["passwordfile"]),
            Path(info["sample"]),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise TomSettingsError(
            f"${LAB_TOM_ENV} must be a JSON object with url, username, passwordfile and sample "
            f"(set by elasticc-tutorial lab): {exc!r}; unset it to start a local TOM"
        ) from None
    if urlsplit(tom.url).scheme != "http" or urlsplit(tom.url).hostname != "127.0.0.1":
        raise TomSettingsError(
            f"${LAB_TOM_ENV} names {tom.url}, which is not a local TOM (http://127.0.0.1:<port>); "
            "unset it to start a local TOM"
        )
    read_password_file(tom.passwordfile, setting=LAB_TOM_ENV)
    return tom
