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
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import Requirement

from elasticc_tutorial.errors import TomSettingsError

if TYPE_CHECKING:
    from elasticc_tutorial.paths import DataLocations

__all__ = ["Check", "add_cli", "format_checks", "run_checks"]

OK, WARN, FAIL = "OK", "WARN", "FAIL"

#: The extras whose packages are checked (WARN when missing, naming the extra); the core
#: dependencies FAIL when missing. The package lists themselves come from the package's metadata.
CHECKED_EXTRAS = ("twin", "book", "scale", "broker")
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


def requirements() -> dict[str, list[Requirement]]:
    """The requirements of the ``elasticc_tutorial`` being run: ``""`` → the core ones, each of
    :data:`CHECKED_EXTRAS` → its own. Read from the ``pyproject.toml`` of the source tree it is
    imported from (a checkout on ``PYTHONPATH``), else from the installed distribution's metadata."""
    import tomllib

    import elasticc_tutorial

    pyproject = Path(elasticc_tutorial.__file__).resolve().parent.parent / "pyproject.toml"
    project = tomllib.loads(pyproject.read_text()).get("project", {}) if pyproject.is_file() else {}
    if project.get("name") == "elasticc-tutorial":
        extras = project.get("optional-dependencies", {})
        out = {"": [Requirement(r) for r in project.get("dependencies", [])]}
        out |= {x: [Requirement(r) for r in extras.get(x, [])] for x in CHECKED_EXTRAS}
        return out
    reqs = [Requirement(r) for r in importlib.metadata.requires("elasticc-tutorial") or []]
    out = {"": [r for r in reqs if r.marker is None]}
    for x in CHECKED_EXTRAS:
        out[x] = [r for r in reqs if r.marker is not None and r.marker.evaluate({"extra": x})]
    return out


def check_packages() -> list[Check]:
    """Installed versions of the core dependencies and those of :data:`CHECKED_EXTRAS`."""
    out = []
    try:
        groups = requirements()
    except importlib.metadata.PackageNotFoundError:
        return [
            Check(
                FAIL, "package elasticc-tutorial", "not installed", "pip install elasticc-tutorial"
            )
        ]
    for extra, reqs in groups.items():
        bad = WARN if extra else FAIL
        fix = (
            f'pip install "elasticc-tutorial[{extra}]"'
            if extra
            else "pip install elasticc-tutorial"
        )
        for req in reqs:
            if req.name == "elasticc-tutorial":
                continue
            try:
                version = importlib.metadata.version(req.name)
            except importlib.metadata.PackageNotFoundError:
                out.append(Check(bad, f"package {req.name}", "not installed", fix))
                continue
            if req.specifier and not req.specifier.contains(version, prereleases=True):
                out.append(
                    Check(bad, f"package {req.name}", f"{version} (needs {req.specifier})", fix)
                )
            else:
                out.append(Check(OK, f"package {req.name}", version))
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
    if not ours and at_nersc:
        fix = "bash environment/setup_nersc_kernel.sh"
        out.append(Check(WARN, "tutorial kernel", "no *elasticc-tutorial* kernel installed", fix))
    elif not ours:  # off NERSC the notebooks run on python3 with this environment's packages
        out.append(Check(OK, "tutorial kernel", "none needed here (the notebooks use python3)"))
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
