""":func:`connect`: a logged-in client on the TOM the one rule chooses (:func:`choose_tom`), starting
the local synthetic TOM on the sample when no ``DESC_TOM_*`` setting exists."""

from __future__ import annotations

import atexit
import os
from pathlib import Path
from typing import Any

from elasticc_tutorial.errors import TomError, TomSettingsError
from elasticc_tutorial.tom.client import TomClient
from elasticc_tutorial.tom.settings import LOCAL_TOM, TomLocation, choose_tom, lab_tom
from elasticc_tutorial.tom.transport import LoginRefused

__all__ = ["connect", "settings_error", "stop_local_tom"]

#: The local TOM this Python session started (stopped at exit, or by :func:`stop_local_tom`).
_LOCAL: Any = None


def settings_error(loc: TomLocation, exc: TomError) -> TomSettingsError:
    """A failed login to the chosen TOM, told in terms of the settings that chose it."""
    url_setting = (
        f"DESC_TOM_URL={loc.url}" if loc.detail == "$DESC_TOM_URL" else f"{loc.url} ({loc.detail})"
    )
    unset = "or unset every DESC_TOM_* variable to use the local synthetic TOM"
    if exc.status is None:
        return TomSettingsError(
            f"{url_setting}: the TOM does not answer: {exc}; check the URL and network, {unset}"
        )
    if isinstance(exc, LoginRefused):
        return TomSettingsError(
            f"the TOM at {loc.url} refused the login of DESC_TOM_USERNAME={loc.username} with the "
            f"password from {loc.password_from}: check both ({exc})"
        )
    return TomSettingsError(
        f"{url_setting} does not behave like a TOM: {exc}; check the URL, {unset}"
    )


def stop_local_tom() -> None:
    """Stop the local TOM :func:`connect` started (it also stops when Python exits)."""
    global _LOCAL
    if _LOCAL is not None:
        _LOCAL.stop()
        _LOCAL = None


def connect(
    *, sample_dir: str | os.PathLike[str] | None = None, quiet: bool = False, **client_kwargs: Any
) -> TomClient:
    """A logged-in :class:`TomClient` for notebooks, on the TOM :func:`choose_tom` picks.

    With no ``DESC_TOM_*`` setting at all: the local synthetic TOM, started on the sample (built on
    first use through ``paths.locate()``, or ``sample_dir``) and stopped when Python exits. With any
    setting: that TOM, and every problem with the settings (or a refused login, or a TOM that does
    not answer) raises :class:`~elasticc_tutorial.errors.TomSettingsError` naming the setting; there
    is no fallback to the synthetic TOM.

    Always prints one line saying which TOM and data are used (``quiet=True``: only that line;
    otherwise also why it was chosen, and the sample builder's progress). ``client_kwargs`` go to
    :class:`TomClient` (``timeout``, ``retries``, ...).
    """
    global _LOCAL
    loc = choose_tom()
    if not loc.is_local:
        try:
            client = TomClient(
                loc.url, username=loc.username, password=loc.password, **client_kwargs
            )
        except TomSettingsError:
            raise
        except TomError as exc:
            raise settings_error(loc, exc) from None
        _say(loc.line(), loc, quiet)
        return client

    from elasticc_tutorial import paths
    from elasticc_tutorial.localtom import LocalTom

    # only when no DESC_TOM_* setting exists (DESC_TOM_URL=local included) and no sample is named
    lab = lab_tom() if sample_dir is None and loc.source == "default" else None
    if lab is not None:  # inside `elasticc-tutorial lab`: its local TOM, not a second one
        line = loc.line(served_at=lab.url, sample_version=paths.sample_version(lab.sample))
        _say(line, loc, quiet, "elasticc-tutorial lab runs it ($ELASTICC_TUTORIAL_LOCAL_TOM)")
        return TomClient(
            lab.url, username=lab.username, passwordfile=lab.passwordfile, **client_kwargs
        )
    if sample_dir is not None:
        sdir = Path(sample_dir).resolve()
    else:  # the default sample: built (or rebuilt when outdated) on first use, like the data files
        located = paths.locate(tom_url=LOCAL_TOM, progress=not quiet).sample
        assert located is not None  # a local TOM always comes with the sample
        sdir = located.path.resolve()
    if _LOCAL is None or _LOCAL.url is None or _LOCAL.sample_dir != sdir:
        stop_local_tom()
        _LOCAL = LocalTom(sdir).start()
        atexit.unregister(stop_local_tom)  # once, however often the sample changes
        atexit.register(stop_local_tom)
    line = loc.line(served_at=_LOCAL.url, sample_version=paths.sample_version(sdir))
    _say(line, loc, quiet)
    return TomClient(
        _LOCAL.url, username=_LOCAL.username, passwordfile=_LOCAL.passwordfile, **client_kwargs
    )


def _say(line: str, loc: TomLocation, quiet: bool, served_by: str | None = None) -> None:
    print(line, flush=True)
    if not quiet:
        print(f"  (chosen because: {loc.detail}; `elasticc-tutorial where` shows every location)")
        if served_by:
            print(f"  (served by: {served_by})")
