"""``elasticc-tutorial doctor --session``: is this machine ready for a live tutorial session?

Unlike plain ``doctor`` (which only looks), the session preflight *exercises* what a session uses, in
well under a minute: the Python and every package of the learner install (``.[learn]``, read from the
installed metadata), the Jupyter kernel the notebooks run on (its interpreter imports this package), the
offline sample (built and matching its MANIFEST, or buildable here; ``--build`` builds it), the TOM the
one rule chooses (the local twin is started, logged in to, queried and stopped; a real TOM gets a login
and a small query with the participant's own credentials) and, at NERSC, one real HEAD file's header.

It prints one line per check and ends with ONE line to paste into the session chat::

    PREFLIGHT PASS elasticc-tutorial 0.1.0 | python 3.11.7 | kernel python3 | sample ok | TOM local ok
    PREFLIGHT FAIL <check>: <what> -> fix: <fix>      (the first failure)
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from elasticc_tutorial.doctor import FAIL, OK, WARN, Check, format_checks
from elasticc_tutorial.errors import ElasticcTutorialError, TomError, TomSettingsError

__all__ = ["MIN_FREE_BYTES", "NERSC_KERNEL", "Session", "run_session", "summary_line"]

DIST = "elasticc-tutorial"
#: The extra a learner installs (it names the others: twin, book, scale, broker).
LEARN_EXTRA = "learn"
#: The kernel every notebook is saved with, and the one the NERSC set-up script creates.
NOTEBOOK_KERNEL = "python3"
NERSC_KERNEL = "desc-python-elasticc-tutorial"
#: Free space needed to build the sample: the finished sample is ~240 MB, and the build keeps its
#: temporary directory and a PostgreSQL cluster (with WAL) next to it until the final rename.
MIN_FREE_BYTES = 600 * 2**20
#: Seconds allowed for the kernel's interpreter to import the package, and for each TOM request.
KERNEL_TIMEOUT = 30.0
TOM_TIMEOUT = 15.0
#: The small query the TOM must answer (a table every ELAsTiCC2 TOM has).
PROBE_SQL = "SELECT COUNT(*) AS n FROM elasticc2_ppdbdiaobject"
_REINSTALL = 'pip install -e ".[learn]"   (in the tutorial checkout)'


@dataclass
class Session:
    """The checks so far, plus the short words the PASS line is made of."""

    checks: list[Check] = field(default_factory=list)
    words: dict[str, str] = field(default_factory=dict)

    def add(self, check: Check, word: str | None = None, key: str | None = None) -> Check:
        self.checks.append(check)
        if word is not None:
            self.words[key or check.label] = word
        return check


# --- Python and packages --------------------------------------------------------------------------


def check_python() -> Check:
    """The interpreter in use (pip installs the package only on Python >= 3.11)."""
    version = platform.python_version()
    return Check(OK, "python", f"{version} at {sys.executable}")


def learner_requirements(extra: str = LEARN_EXTRA) -> list:
    """Every requirement of ``elasticc-tutorial[extra]`` from the installed metadata, following the
    extras that name the package itself (``learn`` -> ``twin,book,scale,broker``) plus the core
    dependencies; returns ``packaging.requirements.Requirement`` objects."""
    from packaging.requirements import Requirement

    reqs = [Requirement(r) for r in importlib.metadata.requires(DIST) or []]
    wanted, todo, out = {""}, [extra], []
    while todo:
        x = todo.pop()
        if x in wanted:
            continue
        wanted.add(x)
        for r in reqs:
            if r.marker is not None and r.marker.evaluate({"extra": x}) and r.name == DIST:
                todo.extend(r.extras)
    for r in reqs:
        if r.name == DIST:
            continue
        if r.marker is None or any(r.marker.evaluate({"extra": x}) for x in wanted):
            out.append(r)
    return out


def check_packages() -> list[Check]:
    """The package itself and every requirement of the learner install, installed in a version that
    satisfies the requirement (FAIL naming the first ones that do not)."""
    try:
        version = importlib.metadata.version(DIST)
        reqs = learner_requirements()
    except importlib.metadata.PackageNotFoundError:
        return [Check(FAIL, "packages", f"{DIST} is not installed in {sys.prefix}", _REINSTALL)]
    except ModuleNotFoundError as exc:  # packaging comes with the learner install (jupyterlab)
        return [Check(FAIL, "packages", f"{exc.name} is not installed", _REINSTALL)]
    bad = []
    for r in reqs:
        try:
            have = importlib.metadata.version(r.name)
        except importlib.metadata.PackageNotFoundError:
            bad.append(f"{r.name} missing")
            continue
        if r.specifier and not r.specifier.contains(have, prereleases=True):
            bad.append(f"{r.name} {have} (needs {r.specifier})")
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        return [Check(FAIL, "packages", f"learner install incomplete: {shown}", _REINSTALL)]
    return [Check(OK, "packages", f"{DIST} {version} and its {len(reqs)} learner requirements")]


# --- Jupyter kernel -------------------------------------------------------------------------------


def check_kernel(name: str) -> Check:
    """The kernel ``name`` exists and its interpreter imports this package (what every chapter's
    first cell does)."""
    from elasticc_tutorial import kernels

    label = f"kernel {name}"
    try:
        k = kernels.get_kernel(name)
    except ElasticcTutorialError as exc:
        fix = (
            "bash environment/setup_nersc_kernel.sh, then reload jupyter.nersc.gov"
            if name == NERSC_KERNEL
            else f"python -m ipykernel install --user --name {name}"
        )
        return Check(FAIL, label, str(exc), fix)
    fix = f"elasticc-tutorial kernel remove {name}, then reinstall it"
    launcher = k.argv[0] if k.argv else ""
    exe = launcher if os.path.isabs(launcher) else shutil.which(launcher or "-")
    if launcher in ("python", "python3"):  # ipykernel's native spec: jupyter uses this interpreter
        exe = sys.executable
    if not exe or not os.access(exe, os.X_OK):
        return Check(FAIL, label, f"its launcher {launcher!r} is missing or not executable", fix)
    if os.path.basename(exe).startswith("python"):
        probe = "import elasticc_tutorial as e, platform; print(platform.python_version())"
        env = {**os.environ, **k.env}
        try:
            run = subprocess.run(
                [exe, "-c", probe],
                capture_output=True,
                text=True,
                env=env,
                cwd=k.resource_dir,  # not the checkout: it would be importable from the cwd
                timeout=KERNEL_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Check(FAIL, label, f"{exe} does not run: {exc}", fix)
        if run.returncode != 0:
            last = (run.stderr.strip().splitlines() or ["no output"])[-1]
            return Check(
                FAIL,
                label,
                f"{exe} cannot import elasticc_tutorial: {last}",
                f"install the package into the kernel's Python ({exe} -m pip install -e .)"
                " or pick the kernel of this environment",
            )
        return Check(
            OK, label, f"{k.display_name}: Python {run.stdout.strip()} imports elasticc_tutorial"
        )
    return Check(OK, label, f"{k.display_name} [{k.resource_dir}]")


# --- sample ---------------------------------------------------------------------------------------


def _existing_ancestor(path: Path) -> Path:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def _writable(directory: Path) -> str | None:
    """None when a file can really be created in ``directory`` (not just ``os.access``, which says
    yes to root on a read-only file system); otherwise why not."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".preflight-"):
            return None
    except OSError as exc:
        return exc.strerror or str(exc)


def buildable(sdir: Path) -> str | None:
    """None when the sample can be built into ``sdir``; otherwise why not. The builder writes a
    temporary directory next to ``sdir`` and renames it into place, so the parent must be writable."""
    if sdir.exists() and (not sdir.is_dir() or any(sdir.iterdir())):
        return f"{sdir} exists and is not an empty directory"
    parent = _existing_ancestor(sdir.parent)
    why = _writable(parent)
    if why is not None:
        return f"cannot write in {parent} ({why})"
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE_BYTES:
        return f"only {free / 2**20:.0f} MB free in {parent}, the build needs {MIN_FREE_BYTES / 2**20:.0f} MB"
    return None


def check_sample(build: bool | None) -> tuple[Check, Path | None]:
    """The sample is built and matches its MANIFEST (quick); otherwise ``build=True`` builds it,
    ``None`` accepts a buildable location (WARN) and ``False`` fails. Returns the ready sample."""
    from elasticc_tutorial import paths, sample

    sdir = paths.sample_dir()
    move = "export ELASTICC_TUTORIAL_SAMPLE=/path/with/space, then elasticc-tutorial doctor --session --build"
    ready = paths.is_complete_sample(sdir) and not paths.is_outdated_sample(sdir)
    if not ready and build:
        why = None if paths.is_outdated_sample(sdir) else buildable(sdir)
        if why is not None:
            return Check(FAIL, "sample", f"not built and cannot be built: {why}", move), None
        try:
            paths.sample_location(build=True, progress=False, notes=[])
        except (ElasticcTutorialError, OSError) as exc:
            return Check(FAIL, "sample", f"the build in {sdir} failed: {exc}", move), None
        ready = True
    if ready:
        try:
            n = sample.verify(sdir, full=False)
        except ElasticcTutorialError as exc:
            return Check(FAIL, "sample", str(exc), "elasticc-tutorial sample build --force"), None
        return Check(
            OK,
            "sample",
            f"{sdir}: {n} files match its MANIFEST (sample {paths.sample_version(sdir)})",
        ), sdir
    state = "made by an older simulator" if paths.is_outdated_sample(sdir) else "not built"
    if build is False:
        return Check(
            FAIL,
            "sample",
            f"{sdir} is {state} and --no-build forbids building it",
            "elasticc-tutorial doctor --session --build",
        ), None
    why = buildable(sdir) if state == "not built" else None
    if why is not None:
        return Check(FAIL, "sample", f"{sdir} is {state} and cannot be built: {why}", move), None
    return Check(
        WARN,
        "sample",
        f"{sdir} is {state}; it can be built here (~1 minute)",
        "elasticc-tutorial doctor --session --build   (before the session)",
    ), None


# --- TOM ------------------------------------------------------------------------------------------


def _probe(client) -> int:
    """Run the small query; the number of objects it counts."""
    frame = client.sql(PROBE_SQL)
    return int(frame["n"][0])


def check_tom(sample_dir: Path | None) -> Check:
    """The TOM the one rule chooses answers a login and a small query (the local one is started on
    the sample and stopped again)."""
    from elasticc_tutorial.tom import TomClient
    from elasticc_tutorial.tom.connection import settings_error
    from elasticc_tutorial.tom.settings import choose_tom

    unset = "or unset every DESC_TOM_* variable to use the local synthetic TOM"
    try:
        loc = choose_tom()
    except TomSettingsError as exc:
        return Check(FAIL, "TOM", str(exc), f"fix the DESC_TOM_* setting named above, {unset}")
    if not loc.is_local:
        fix = f"fix the DESC_TOM_* setting named above, {unset}"
        try:
            client = TomClient(
                loc.url,
                username=loc.username,
                password=loc.password,
                timeout=TOM_TIMEOUT,
                retries=0,
            )
        except TomSettingsError as exc:
            return Check(FAIL, "TOM", str(exc), fix)
        except TomError as exc:  # refused login, no answer, not a TOM: said in terms of settings
            return Check(FAIL, "TOM", str(settings_error(loc, exc)), fix)
        try:
            with client:
                n = _probe(client)
        except TomError as exc:
            return Check(
                FAIL,
                "TOM",
                f"logged in to {loc.url}, but the query {PROBE_SQL!r} failed: {exc}",
                "ask the TOM maintainers whether the account may run SQL; meanwhile " + unset[3:],
            )
        line = loc.line().removeprefix("TOM: ")
        return Check(OK, "TOM", f"{line}: logged in, {PROBE_SQL!r} -> {n}")
    if sample_dir is None:
        return Check(
            WARN,
            "TOM",
            "local twin not started: the sample is not built",
            "elasticc-tutorial doctor --session --build",
        )
    from elasticc_tutorial.localtom import LocalTom

    fix = (
        "elasticc-tutorial sample build --force   (rebuilds the sample and its TOM database); "
        "stop other `elasticc-tutorial lab` sessions first"
    )
    try:
        with (
            LocalTom(sample_dir, startup_timeout=60.0) as tom,
            TomClient(
                tom.url,
                username=tom.username,
                passwordfile=tom.passwordfile,
                timeout=TOM_TIMEOUT,
                retries=0,
            ) as client,
        ):
            n = _probe(client)
            url = tom.url
    except (ElasticcTutorialError, RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()
        tail = first[-1] if len(first) > 1 else ""
        what = f"{first[0] if first else exc}{': ' + tail if tail else ''}"
        return Check(FAIL, "TOM", f"the local twin on {sample_dir} failed: {what}", fix)
    return Check(
        OK,
        "TOM",
        f"local synthetic twin started at {url}, logged in, {PROBE_SQL!r} -> {n}, stopped",
    )


# --- NERSC data -----------------------------------------------------------------------------------


def check_real_data(snana_dir: Path) -> Check:
    """One real HEAD file's FITS header can be read (project permissions, file system up)."""
    from astropy.io import fits

    fix = "check your DESC membership (`groups` lists desc) and that /global/cfs is mounted"
    try:
        head = next(snana_dir.glob("*/*HEAD.FITS*"), None)
    except OSError as exc:
        return Check(FAIL, "NERSC data", f"cannot list {snana_dir}: {exc}", fix)
    if head is None:
        return Check(FAIL, "NERSC data", f"no */*HEAD.FITS* file under {snana_dir}", fix)
    try:
        header = fits.getheader(head, 1)
    except (OSError, ValueError) as exc:
        return Check(FAIL, "NERSC data", f"cannot read the header of {head}: {exc}", fix)
    return Check(OK, "NERSC data", f"{head}: {header.get('NAXIS2', '?')} objects in its header")


# --- the whole session check ----------------------------------------------------------------------


def run_session(*, build: bool | None = None, kernel: str | None = None) -> Session:
    """Every session check, in order; see the module docstring."""
    from elasticc_tutorial import paths

    s = Session()
    s.add(check_python(), f"python {platform.python_version()}")
    for c in check_packages():
        s.add(c, f"{DIST} {importlib.metadata.version(DIST)}" if c.status == OK else None, "dist")
    try:
        locs = paths.locate(build=False, tom_url=paths.LOCAL_TOM)
    except ElasticcTutorialError:
        locs = None  # plain `doctor` names it; the session needs only what follows
    at_nersc = bool(os.environ.get("NERSC_HOST")) or bool(locs and locs.at_nersc)
    name = kernel or (NERSC_KERNEL if at_nersc else NOTEBOOK_KERNEL)
    s.add(check_kernel(name), f"kernel {name}", "kernel")
    needs_sample = locs is None or any(getattr(locs, f).source == "sample" for f in paths.FORMS)
    sample_dir = None
    try:
        tom_local = paths.choose_tom().is_local
    except TomSettingsError:
        tom_local = False
    if needs_sample or tom_local:
        c, sample_dir = check_sample(build)
        s.add(c, "sample ok" if c.status == OK else "sample buildable", "sample")
    c = check_tom(sample_dir)
    if c.status == OK:
        s.add(c, "TOM local ok" if tom_local else "TOM " + _tom_word())
    else:
        s.add(c, "TOM local not checked" if c.status == WARN else None)
    if at_nersc and locs is not None and locs.snana.source != "sample":
        s.add(check_real_data(locs.snana.path), "NERSC data ok")
    return s


def _tom_word() -> str:
    from elasticc_tutorial.tom.settings import DESC_TOM_URL, choose_tom

    url = choose_tom().url
    return "desc-tom ok" if url.rstrip("/") == DESC_TOM_URL else f"{url} ok"


def summary_line(s: Session) -> str:
    """``PREFLIGHT PASS <words>`` or ``PREFLIGHT FAIL <check>: <what> -> fix: <fix>``, one line."""
    first = next((c for c in s.checks if c.status == FAIL), None)
    if first is not None:
        line = f"PREFLIGHT FAIL {first.label}: {first.detail} -> fix: {first.fix or 'see above'}"
        return " ".join(line.split())
    order = ["dist", "python", "kernel", "sample", "TOM", "NERSC data"]
    return "PREFLIGHT PASS " + " | ".join(s.words[k] for k in order if k in s.words)


def cli_session(
    build: bool | None, kernel: str | None, run: Callable[..., Session] = run_session
) -> int:
    """Print every check, then the one-line verdict; 0 on PASS, 1 on FAIL."""
    s = run(build=build, kernel=kernel)
    print(format_checks(s.checks), flush=True)
    line = summary_line(s)
    print("\nPaste this line into the session chat:\n" + line)
    return 0 if line.startswith("PREFLIGHT PASS") else 1
