"""The offline sample as ``paths.locate()`` sees it: where it lives, whether it is complete and current,
which code made it, and building it on first use (by :func:`elasticc_tutorial.sample.build`)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from elasticc_tutorial.errors import LocateError

__all__ = [
    "SAMPLE_ENV",
    "SAMPLE_LAYOUT_VERSION",
    "is_complete_sample",
    "is_outdated_sample",
    "sample_dir",
    "sample_location",
    "sample_version",
]

#: Bumped when the sample's on-disk layout changes, so an old cached sample is never reused.
SAMPLE_LAYOUT_VERSION = 1
#: Overrides the sample directory (default: a per-user cache directory).
SAMPLE_ENV = "ELASTICC_TUTORIAL_SAMPLE"


def sample_dir() -> Path:
    """The offline sample's root: ``$ELASTICC_TUTORIAL_SAMPLE`` or the user cache dir (may not exist yet)."""
    env = os.environ.get(SAMPLE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return (
        Path(platformdirs.user_cache_dir("elasticc-tutorial")) / f"sample-v{SAMPLE_LAYOUT_VERSION}"
    )


def is_complete_sample(root: Path) -> bool:
    """A directory with a readable MANIFEST.json is a complete sample (the builder writes it last)."""
    return _read_manifest(root) is not None


def _read_manifest(root: Path) -> dict | None:
    try:
        data = json.loads((Path(root) / "MANIFEST.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def generator_fingerprint() -> str:
    """sha256 over the source of everything that decides a sample's content (the simulator, the
    writers, the schemas, the taxonomy and the photometry constants).

    Stored in MANIFEST.json: a sample whose fingerprint differs from the installed code's is
    outdated, and :func:`elasticc_tutorial.paths.locate` rebuilds it (notebook outputs would not
    match it otherwise). It lives here, not in :mod:`elasticc_tutorial.sample`, because every
    ``locate()`` asks for it and importing the simulator costs seconds.
    """
    pkg = Path(__file__).resolve().parents[1]  # elasticc_tutorial/
    sources = [
        *sorted((pkg / "sample").glob("*.py")),
        *sorted((pkg / "schema").glob("*.avsc")),
        pkg / "taxonomy.py",
        pkg / "photometry.py",
        pkg / "pg" / "cluster.py",  # makes tomdb/: a cluster of another PostgreSQL cannot be opened
    ]
    h = hashlib.sha256()
    for path in sources:
        h.update(path.relative_to(pkg).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def is_outdated_sample(root: Path) -> bool:
    """A complete sample made by other simulator code than the installed one (its MANIFEST's
    ``generator`` fingerprint differs), so its content no longer matches the book's outputs."""
    manifest = _read_manifest(root)
    if manifest is None:
        return False
    return manifest.get("generator") != generator_fingerprint()


def sample_version(root: Path) -> str | None:
    """``<package version>/<generator fingerprint[:8]>`` of a built sample (None if not built):
    which code made the synthetic data, as the one-line TOM and data summaries show it."""
    manifest = _read_manifest(root)
    if manifest is None:
        return None
    return f"{manifest.get('package_version', '?')}/{str(manifest.get('generator', '?'))[:8]}"


def sample_location(*, build: bool, progress: bool, notes: list[str]) -> tuple[Path, str]:
    """The sample root and why (``$ELASTICC_TUTORIAL_SAMPLE`` or the cache dir), built (or rebuilt
    when outdated) first when ``build``; otherwise a note in ``notes`` says what to run."""
    sdir = sample_dir()
    sdetail = f"${SAMPLE_ENV}" if os.environ.get(SAMPLE_ENV) else "user cache dir"
    outdated = is_outdated_sample(sdir)
    if outdated or not is_complete_sample(sdir):
        if not build:
            notes.append(
                f"the sample in {sdir} was made by an older version of the simulator; "
                "run `elasticc-tutorial where` to rebuild it"
                if outdated
                else f"the sample in {sdir} is not built (build=False); run `elasticc-tutorial "
                "where` to build it"
            )
            return sdir, sdetail
        # Several processes may want it at once (lab and a kernel, or two kernels at a live
        # session): one builds, the others wait for it and then find it complete.
        with _build_lock(sdir):
            if is_outdated_sample(sdir):
                _build_sample(sdir, progress=progress, rebuild=True)
            elif not is_complete_sample(sdir):
                _build_sample(sdir, progress=progress)
    return sdir, sdetail


@contextlib.contextmanager
def _build_lock(sdir: Path) -> Iterator[None]:
    """An exclusive lock on ``<parent>/.<name>.lock`` (released when the holder exits, however)."""
    from elasticc_tutorial.rundir import file_lock

    sdir.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(os.open(sdir.parent / f".{sdir.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)):
        yield


def _build_sample(sdir: Path, *, progress: bool, rebuild: bool = False) -> None:
    """Build the sample into ``sdir`` with a clear message (first use, or ``rebuild`` of an
    outdated sample with the seed and size its MANIFEST records)."""
    params: dict = {}
    if rebuild:
        manifest = _read_manifest(sdir) or {}
        params = {
            k: manifest[k]
            for k in ("seed", "objects_per_model")
            if isinstance(manifest.get(k), int) and not manifest.get("scale")
        }
    elif sdir.exists() and any(sdir.iterdir()):
        raise LocateError(
            f"{sdir} exists but is not a complete sample (no readable MANIFEST.json); delete it so it "
            f"can be rebuilt, or set ${SAMPLE_ENV} to another directory"
        )
    from elasticc_tutorial import sample  # imported here: heavy, and only needed on first use

    if not callable(getattr(sample, "build", None)):
        raise LocateError(
            f"no ELAsTiCC2 data found and the sample builder elasticc_tutorial.sample.build is not "
            f"available to build the offline sample in {sdir}; reinstall the package"
        )

    what = (
        "Rebuilding the offline ELAsTiCC2-shaped sample (made by an older simulator)"
        if rebuild
        else "Building the offline ELAsTiCC2-shaped sample (first use only; this takes a while)"
    )
    print(
        f"{what} in {sdir}. Set ${SAMPLE_ENV} to put it elsewhere.",
        file=sys.stderr,
        flush=True,
    )
    sdir.parent.mkdir(parents=True, exist_ok=True)
    if sdir.exists() and not rebuild:  # empty directory left by the user: renamed into place
        sdir.rmdir()
    sample.build(sdir, progress=progress, force=rebuild, **params)
    if not is_complete_sample(sdir):
        raise LocateError(f"the sample build finished but {sdir}/MANIFEST.json is missing")
    print(f"Sample ready in {sdir}", file=sys.stderr, flush=True)
