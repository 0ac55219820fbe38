"""``elasticc-tutorial doctor``: the whole set-up at a glance, for a helper at a live session.

Each check prints one line ``OK``/``WARN``/``FAIL`` with what was found and, when something is wrong, a
``fix:`` line. The command exits 1 when any check FAILs. It never prints a password (only the password
file's name and permissions) and never builds the sample.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from elasticc_tutorial.paths import DataLocations

__all__ = ["Check", "add_cli", "format_checks", "run_checks"]

OK, WARN, FAIL = "OK", "WARN", "FAIL"

#: Distributions the package needs at run time (FAIL when missing) ...
REQUIRED = (
    "elasticc-tutorial",
    "numpy",
    "polars",
    "pyarrow",
    "astropy",
    "fastavro",
    "requests",
    "matplotlib",
    "platformdirs",
    "django",
    "psycopg",
    "pgserver",
    "jupyter_client",
)
#: ... and the ones the notebooks need inside Jupyter (WARN when missing).
OPTIONAL = ("ipykernel", "jupyterlab", "nbval")
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
    for names, bad in ((REQUIRED, FAIL), (OPTIONAL, WARN)):
        for dist in names:
            try:
                out.append(Check(OK, f"package {dist}", importlib.metadata.version(dist)))
            except importlib.metadata.PackageNotFoundError:
                out.append(
                    Check(bad, f"package {dist}", "not installed", 'pip install -e ".[dev]"')
                )
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


def check_data() -> tuple[list[Check], DataLocations | None]:
    """Where each form of the data is (never builds the sample); returns the locations too."""
    from elasticc_tutorial.paths import FORMS, LABELS, LocateError, locate

    try:
        locs = locate(build=False)
    except LocateError as exc:
        return [
            Check(FAIL, "data", str(exc), "fix or unset the variable/argument named above")
        ], None
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
    return out, locs


def check_tom(locs: DataLocations | None) -> list[Check]:
    """Whether the TOM answers, and whether credentials are configured (never printing secrets)."""
    from elasticc_tutorial.paths import tom_credentials

    out = []
    creds = tom_credentials()
    if locs is None:
        return [Check(WARN, "TOM", "unknown (data locations failed)")]
    tom = locs.tom
    if tom.is_local:
        sample = locs.sample
        built = sample is not None and (sample.path / "tomdb").is_dir()
        out.append(
            Check(
                OK if built else WARN,
                "TOM",
                tom.detail,
                ""
                if built
                else "elasticc-tutorial where   (builds the sample with its TOM database)",
            )
        )
    else:
        out.append(_reach(tom.url, tom.detail))
    configured = creds.username or creds.passwordfile
    if not configured:
        status = OK if tom.is_local else WARN
        out.append(
            Check(
                status,
                "TOM credentials",
                "DESC_TOM_USERNAME / DESC_TOM_PASSWORDFILE not set"
                + (" (not needed for the local TOM)" if tom.is_local else ""),
                "" if tom.is_local else "; ".join(creds.problems),
            )
        )
    elif creds.problems:
        bad = FAIL if tom.url.startswith("https://desc-tom") else WARN
        out.append(
            Check(
                bad,
                "TOM credentials",
                f"user {creds.username or '(unset)'}",
                "; ".join(creds.problems),
            )
        )
    else:
        out.append(
            Check(
                OK,
                "TOM credentials",
                f"user {creds.username}, password file {creds.passwordfile} (mode 600)",
            )
        )
    return out


def _reach(url: str, why: str) -> Check:
    import requests

    try:
        resp = requests.get(url, timeout=TOM_TIMEOUT, allow_redirects=True)
    except requests.RequestException as exc:
        return Check(
            FAIL,
            "TOM",
            f"{url} does not answer: {type(exc).__name__}",
            "check the URL / network, or unset DESC_TOM_URL to use the local TOM",
        )
    if resp.status_code >= 500:
        return Check(
            FAIL, "TOM", f"{url} answers HTTP {resp.status_code}", "the TOM server is down"
        )
    return Check(OK, "TOM", f"{url} answers HTTP {resp.status_code} [{why}]")


def run_checks() -> list[Check]:
    """Every check, in display order."""
    checks: list[Check] = [check_python(), *check_packages()]
    data, locs = check_data()
    at_nersc = bool(os.environ.get("NERSC_HOST")) or bool(locs and locs.at_nersc)
    checks += check_kernels(at_nersc)
    checks += data
    checks += check_tom(locs)
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
    p.set_defaults(func=_cli_doctor)


def _cli_doctor(args, run: Callable[[], list[Check]] = run_checks) -> int:
    checks = run()
    print(format_checks(checks))
    fails = sum(c.status == FAIL for c in checks)
    warns = sum(c.status == WARN for c in checks)
    print(f"\n{len(checks)} checks: {fails} FAIL, {warns} WARN")
    return 1 if fails else 0
