"""``elasticc-tutorial doctor``: the whole set-up at a glance, for a helper at a live session.

Each check prints one line ``OK``/``WARN``/``FAIL`` with what was found and, when something is wrong, a
``fix:`` line. The command exits 1 when any check FAILs. It never prints a password (only the password
file's name and permissions) and never builds the sample. ``doctor --session`` (see
:mod:`elasticc_tutorial.preflight`) goes further for a live session: it starts and queries the TOM,
runs the kernel's Python, builds a missing sample with ``--build``, and ends with one PREFLIGHT line.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from elasticc_tutorial.errors import TomSettingsError

if TYPE_CHECKING:
    from elasticc_tutorial.paths import DataLocations

__all__ = ["Check", "add_cli", "format_checks", "run_checks"]

OK, WARN, FAIL = "OK", "WARN", "FAIL"

#: Distributions the package needs at run time (its core dependencies: FAIL when missing) ...
REQUIRED = (
    "elasticc-tutorial",
    "numpy",
    "polars",
    "pyarrow",
    "astropy",
    "fastavro",
    "requests",
    "matplotlib",
    "tqdm",
    "platformdirs",
)
#: ... and those of the extras the offline twin and the book need (WARN, naming the extra).
EXTRAS = {
    "twin": ("django", "psycopg", "pgserver", "pandas"),
    "book": ("jupyter_client", "ipykernel", "jupyterlab"),
}
TOM_TIMEOUT = 5.0


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    status: str  # OK, WARN or FAIL
    label: str
    detail: str
    fix: str = ""


def check_python() -> Check:
    """The interpreter in use (pip refuses to install the package on Python < 3.11)."""
    return Check(OK, "python", f"{platform.python_version()} at {sys.executable}")


def check_packages() -> list[Check]:
    """Installed versions of the runtime and notebook dependencies."""
    out = []
    groups = [(REQUIRED, FAIL, "pip install elasticc-tutorial")]
    groups += [
        (names, WARN, f'pip install "elasticc-tutorial[{x}]"') for x, names in EXTRAS.items()
    ]
    for names, bad, fix in groups:
        for dist in names:
            try:
                out.append(Check(OK, f"package {dist}", importlib.metadata.version(dist)))
            except importlib.metadata.PackageNotFoundError:
                out.append(Check(bad, f"package {dist}", "not installed", fix))
    return out


def check_kernels(at_nersc: bool = False) -> list[Check]:
    """The Jupyter kernels the notebooks can use."""
    from elasticc_tutorial import kernels

    try:
        found = kernels.list_kernels()
    except Exception as exc:  # a broken kernelspec must not hide the other checks
        return [Check(FAIL, "kernels", f"cannot list kernels: {exc}", "jupyter kernelspec list")]
    names = [k.name for k in found]
    out = [
        Check(
            OK if names else WARN,
            "kernels",
            ", ".join(names) or "none found",
            "" if names else "elasticc-tutorial kernel install",
        )
    ]
    if "python3" not in names:
        out.append(
            Check(
                WARN,
                "kernel python3",
                "missing (the notebooks are saved with kernel python3)",
                "python -m ipykernel install --user",
            )
        )
    ours = [k for k in found if "elasticc-tutorial" in k.name]
    for k in ours:
        out.append(_check_tutorial_kernel(k))
    if not ours:
        fix = (
            "bash environment/setup_nersc_kernel.sh"
            if at_nersc
            else "elasticc-tutorial kernel install"
        )
        out.append(Check(WARN, "tutorial kernel", "no *elasticc-tutorial* kernel installed", fix))
    return out


def _check_tutorial_kernel(k) -> Check:
    """A tutorial kernel's launcher and user base still exist ($SCRATCH is purged at NERSC)."""
    label = f"kernel {k.name}"
    launcher = k.argv[0] if k.argv else ""
    if os.path.isabs(launcher) and not os.access(launcher, os.X_OK):
        return Check(
            FAIL,
            label,
            f"its launcher {launcher} is missing or not executable",
            f"elasticc-tutorial kernel remove {k.name}, then reinstall it",
        )
    for key in ("DESCPYTHONUSERBASE", "PYTHONUSERBASE"):
        base = k.env.get(key)
        if base and not os.path.isdir(base):
            return Check(
                FAIL,
                label,
                f"{key}={base} does not exist (purged from $SCRATCH?)",
                "bash environment/setup_nersc_kernel.sh   (reinstalls into it)",
            )
    return Check(OK, label, f"{k.display_name} [{k.resource_dir}]")


def check_data() -> tuple[list[Check], DataLocations | None, TomSettingsError | None]:
    """Where each form of the data is (never builds the sample); returns the locations, and the
    TOM settings error when a ``DESC_TOM_*`` setting is unusable (the data are still shown)."""
    from elasticc_tutorial.paths import FORMS, LABELS, LOCAL_TOM, LocateError, locate

    tom_error = None
    try:
        try:
            locs = locate(build=False)
        except TomSettingsError as exc:  # reported by check_tom; the data rows do not depend on it
            tom_error = exc
            locs = locate(build=False, tom_url=LOCAL_TOM)
    except LocateError as exc:
        fix = "fix or unset the variable/argument named above"
        return [Check(FAIL, "data", str(exc), fix)], None, tom_error
    out = []
    for form in FORMS:
        loc = getattr(locs, form)
        detail = f"{loc.path} [{loc.source}: {loc.detail}]"
        if loc.exists:
            out.append(Check(OK, LABELS[form], detail))
        elif loc.source == "sample":
            out.append(
                Check(
                    WARN,
                    LABELS[form],
                    detail + " not built yet",
                    "elasticc-tutorial where   (builds the sample)",
                )
            )
        else:
            out.append(Check(FAIL, LABELS[form], detail + " missing", "check the path"))
    out += [Check(WARN, "data note", n) for n in locs.notes]
    out.append(Check(OK, "data", locs.summary().removeprefix("data: ")))
    return out, locs, tom_error


def check_tom(locs: DataLocations | None, tom_error: TomSettingsError | None = None) -> list[Check]:
    """The TOM the one rule chooses: its settings, and for a remote TOM a real login (never
    printing the password). Words as in ``tom.connect()`` and ``where``."""
    unset = "fix the DESC_TOM_* setting named above, or unset every DESC_TOM_* variable to use the local synthetic TOM"
    if tom_error is not None:
        return [Check(FAIL, "TOM", str(tom_error), unset)]
    if locs is None:
        return [Check(WARN, "TOM", "unknown (data locations failed)")]
    tom = locs.tom
    if tom.is_local:
        sample = locs.sample
        built = sample is not None and (sample.path / "tomdb").is_dir()
        fix = "" if built else "elasticc-tutorial where   (builds the sample with its TOM database)"
        return [
            Check(
                OK if built else WARN,
                "TOM",
                f"{locs.tom_line().removeprefix('TOM: ')} [{tom.detail}]",
                fix,
            )
        ]
    return [
        _login(tom),
        Check(OK, "TOM credentials", f"user {tom.username}, password from {tom.password_from}"),
    ]


def _login(tom) -> Check:
    """Log in to a remote TOM once (short timeout, no retries)."""
    from elasticc_tutorial.errors import TomError
    from elasticc_tutorial.tom import TomClient
    from elasticc_tutorial.tom.connection import settings_error

    try:
        client = TomClient(
            tom.url, username=tom.username, password=tom.password, timeout=TOM_TIMEOUT, retries=0
        )
    except TomError as exc:
        err = settings_error(tom, exc)
        return Check(FAIL, "TOM", str(err), "fix the setting named above")
    client.close()
    return Check(OK, "TOM", f"{tom.line().removeprefix('TOM: ')}: logged in [{tom.detail}]")


def run_checks() -> list[Check]:
    """Every check, in display order."""
    checks: list[Check] = [check_python(), *check_packages()]
    data, locs, tom_error = check_data()
    at_nersc = bool(os.environ.get("NERSC_HOST")) or bool(locs and locs.at_nersc)
    checks += check_kernels(at_nersc)
    checks += data
    checks += check_tom(locs, tom_error)
    return checks


def format_checks(checks: Iterable[Check]) -> str:
    """One ``STATUS label: detail`` line per check, plus an indented ``fix:`` line where needed."""
    lines = []
    for c in checks:
        lines.append(f"{c.status:<4}  {c.label}: {c.detail}")
        if c.fix and c.status != OK:
            lines.append(f"      fix: {c.fix}")
    return "\n".join(lines)


def add_cli(subparsers) -> None:
    """Register ``elasticc-tutorial doctor``."""
    p = subparsers.add_parser(
        "doctor",
        help="check the whole set-up (versions, kernels, data, TOM); exit 1 on any FAIL",
    )
    p.add_argument(
        "--session",
        action="store_true",
        help="preflight for a live session: also start the TOM, query it, run the kernel; ends "
        "with one PREFLIGHT PASS/FAIL line to paste into the session chat",
    )
    build = p.add_mutually_exclusive_group()
    build.add_argument(
        "--build", action="store_true", default=None, help="with --session: build a missing sample"
    )
    build.add_argument(
        "--no-build",
        dest="build",
        action="store_false",
        help="with --session: a missing sample is a failure (default: buildable here is enough)",
    )
    p.add_argument("--kernel", help="with --session: the Jupyter kernel to require")
    p.set_defaults(func=_cli_doctor)


def _cli_doctor(args, run: Callable[[], list[Check]] = run_checks) -> int:
    if getattr(args, "session", False):
        from elasticc_tutorial.preflight import cli_session

        return cli_session(args.build, args.kernel)
    checks = run()
    print(format_checks(checks))
    fails = sum(c.status == FAIL for c in checks)
    warns = sum(c.status == WARN for c in checks)
    print(f"\n{len(checks)} checks: {fails} FAIL, {warns} WARN")
    return 1 if fails else 0
