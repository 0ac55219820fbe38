"""Check a built sample against its ``MANIFEST.json`` (``elasticc-tutorial sample verify``).

Quick mode compares the set of files and their sizes with the manifest; full mode also recomputes
every sha256. ``tomdb/`` (a live PostgreSQL cluster that changes whenever it runs) and
``tomdb-credentials`` (the local TOM's demo password, written when it first starts) are not covered.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from elasticc_tutorial.errors import SampleError

__all__ = ["file_sha256", "verify"]

_MANIFEST = "MANIFEST.json"
_SHOWN = 10  # bad files named in an error message; the count says how many there are


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _load(root: Path) -> tuple[dict[str, str], dict[str, int]]:
    path = root / _MANIFEST
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise SampleError(f"{path} is missing: {root} is not a complete sample") from None
    except (OSError, ValueError) as exc:
        raise SampleError(f"{path} is not readable JSON: {exc}") from None
    files, sizes = data.get("files"), data.get("sizes")
    if not isinstance(files, dict) or not isinstance(sizes, dict) or files.keys() != sizes.keys():
        raise SampleError(
            f"{path} lacks matching 'files' (sha256) and 'sizes' maps; rebuild the sample with "
            "elasticc-tutorial sample build --force"
        )
    return files, sizes


#: What the local TOM creates and changes in a sample while it serves it (the cluster, and the
#: password files of its accounts: ``tomdb-credentials``, ``tomdb-credentials-apibroker``).
_NOT_COVERED = ("tomdb", _MANIFEST)
_NOT_COVERED_PREFIX = "tomdb-credentials"


def _on_disk(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file()
        and p.relative_to(root).parts[0] not in _NOT_COVERED
        and not p.relative_to(root).parts[0].startswith(_NOT_COVERED_PREFIX)
    }


def _names(kind: str, names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
    return f"{len(names)} {kind}: {shown}{more}"


def verify(root: Path | str, *, full: bool = False) -> int:
    """Check the sample at ``root`` against its MANIFEST.json; return the number of files checked.

    Quick mode (default): every listed file exists with the listed size and no unlisted file is
    present (``tomdb/`` aside). ``full``: also the sha256 of every file. Raises
    :class:`~elasticc_tutorial.errors.SampleError` naming the missing, extra, resized or changed
    files.
    """
    root = Path(root)
    if not root.is_dir():
        raise SampleError(f"{root} is not a directory")
    files, sizes = _load(root)
    present = _on_disk(root)
    problems = []
    missing = sorted(files.keys() - present)
    extra = sorted(present - files.keys())
    if missing:
        problems.append(_names("missing", missing))
    if extra:
        problems.append(_names("not in the manifest", extra))
    common = sorted(files.keys() & present)
    resized = [f for f in common if (root / f).stat().st_size != sizes[f]]
    if resized:
        problems.append(_names("with another size", resized))
    if full:
        changed = [f for f in common if f not in resized and file_sha256(root / f) != files[f]]
        if changed:
            problems.append(_names("with another sha256", changed))
    if problems:
        raise SampleError(f"{root} does not match its {_MANIFEST}: " + "; ".join(problems))
    return len(files)
