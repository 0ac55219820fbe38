"""The layout of a SNANA tree: model directories, their prefix, and the HEAD/PHOT file pairs."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from elasticc_tutorial.errors import SnanaError, SnanaFileNotFoundError
from elasticc_tutorial.lightcurves import resolve

__all__ = [
    "FilePair",
    "PointerError",
    "UnknownModelError",
    "UnknownSnidError",
    "check_snids_found",
    "detect_prefix",
    "file_pairs",
    "list_models",
    "model_dir",
    "phot_path_of",
    "source_dir",
]

HEAD_FILE_RE = re.compile(r"^(?P<base>.*)-(?P<num>\d+)_HEAD\.FITS(?P<gz>\.gz)?$", re.IGNORECASE)


class UnknownModelError(SnanaError):
    """The requested model is not in the tree (the message lists the models that are)."""


class UnknownSnidError(SnanaError):
    """A requested SNID is not in the model's HEAD tables."""


def check_snids_found(missing: np.ndarray, where: object) -> None:
    """Raise :class:`UnknownSnidError` naming (the first ten of) the ``missing`` SNIDs, if any."""
    if len(missing):
        raise UnknownSnidError(
            f"{where}: no object with SNID {', '.join(map(str, missing[:10]))}"
            + (f" (and {len(missing) - 10} more)" if len(missing) > 10 else "")
        )


class PointerError(SnanaError):
    """HEAD pointers (PTROBS_MIN/PTROBS_MAX) that are inconsistent: outside the PHOT table, over a
    separator row, overlapping another object's rows, or disagreeing with NOBS."""


#: Model directories per tree, keyed by the tree and its subdirectories' modification times: a
#: loop over a model's 40 files asks for them 40 times, and scanning every directory each time
#: (a network file system at NERSC) cost more than reading a small HEAD file. Adding or removing a
#: directory, or files in one, changes a key.
_MODEL_DIRS: dict[tuple, tuple[list[Path], dict[Path, str]]] = {}


def _scan(root: Path) -> tuple[list[Path], dict[Path, str]]:
    """The model directories of ``root`` (sorted) and, for each, its first HEAD file's name."""
    if not root.is_dir():
        raise SnanaFileNotFoundError(f"SNANA tree not found (expected a directory): {root}")
    with os.scandir(root) as it:
        subdirs = sorted((e.name, e.stat().st_mtime_ns) for e in it if e.is_dir())
    key = (str(root), root.stat().st_mtime_ns, tuple(subdirs))
    if key not in _MODEL_DIRS:
        heads = {}
        for name, _ in subdirs:
            d = root / name
            head = next((f.name for f in os.scandir(d) if HEAD_FILE_RE.match(f.name)), None)
            if head is not None:
                heads[d] = head
        if len(_MODEL_DIRS) > 64:
            _MODEL_DIRS.clear()
        _MODEL_DIRS[key] = (sorted(heads), heads)
    return _MODEL_DIRS[key]


def _model_dirs(root: Path) -> list[Path]:
    return list(_scan(root)[0])


def _common_prefix(names: Iterable[str]) -> str:
    prefix = os.path.commonprefix(list(names))  # noqa: RUF071 - character-wise on purpose
    return prefix[: prefix.rfind("_") + 1]


def _dir_prefix(d: Path, head: str) -> str:
    # The HEAD files are named after the generic "NONIaMODEL0", not after the model, so the
    # directory name and a HEAD file name share exactly the prefix.
    return _common_prefix([d.name, head])


def detect_prefix(root: str | os.PathLike[str]) -> str:
    """The model-directory prefix of a SNANA tree, e.g. ``ELASTICC2_FINAL_``.

    Raises SnanaError if the tree holds no model directories or several prefixes.
    """
    root = Path(resolve(root, "snana"))
    prefixes = sorted({_dir_prefix(d, head) for d, head in _scan(root)[1].items()})
    if not prefixes or prefixes == [""]:
        raise SnanaError(
            f"{root}: no SNANA model directories (<prefix><model>/ with *_HEAD.FITS[.gz] files)"
        )
    if len(prefixes) > 1:
        raise SnanaError(f"{root}: several model prefixes {prefixes}; pass prefix= to choose one")
    return prefixes[0]


def list_models(root: str | os.PathLike[str], prefix: str | None = None) -> list[str]:
    """Sorted model names of the tree (directory names without the prefix)."""
    return sorted(_models(Path(resolve(root, "snana")), prefix))


def _models(root: Path, prefix: str | None) -> dict[str, Path]:
    if prefix is None:
        prefix = detect_prefix(root)
    dirs, heads = _scan(root)
    models = {d.name[len(prefix) :]: d for d in dirs if d.name.startswith(prefix)}
    if not models:
        found = sorted({_dir_prefix(d, head) for d, head in heads.items()})
        raise SnanaError(
            f"{root}: no model directories with prefix {prefix!r} (prefixes found: {found or 'none'})"
        )
    return models


def model_dir(root: str | os.PathLike[str], model: str, prefix: str | None = None) -> Path:
    """The directory of ``model``; UnknownModelError lists the available models."""
    root = Path(resolve(root, "snana"))
    models = _models(root, prefix)
    if model not in models:
        raise UnknownModelError(
            f"{root}: unknown model {model!r}; available models: {', '.join(sorted(models))}"
        )
    return models[model]


def source_dir(source: object, model: str | None, prefix: str | None = None) -> Path:
    """The model directory a reader works on: ``<tree>/<prefix><model>`` for a tree (or the
    ``DataLocations``) and a model, or ``source`` itself when it is a model directory."""
    path = Path(resolve(source, "snana"))
    if model is not None:
        return model_dir(path, model, prefix)
    if path.is_dir() and any(HEAD_FILE_RE.match(f.name) for f in os.scandir(path)):
        return path
    if path.is_dir() and _model_dirs(path):
        raise SnanaError(
            f"{path} is a SNANA tree: pass model= (one of {', '.join(list_models(path, prefix))})"
        )
    raise SnanaFileNotFoundError(f"not a SNANA model directory (no *_HEAD.FITS[.gz] files): {path}")


@dataclass(frozen=True)
class FilePair:
    """One HEAD file, its PHOT file and its file number (1..40)."""

    num: int
    head: Path
    phot: Path


def phot_path_of(head: Path) -> Path:
    """The PHOT file of a ``*-NNNN_HEAD.FITS[.gz]`` file (the other compression if only that exists)."""
    m = HEAD_FILE_RE.match(head.name)
    if not m:
        raise SnanaError(f"{head}: not a *-NNNN_HEAD.FITS[.gz] name; pass the PHOT path")
    phot = head.with_name(f"{m.group('base')}-{m.group('num')}_PHOT.FITS{m.group('gz') or ''}")
    if not phot.exists():
        alt = phot.with_name(phot.name[:-3]) if phot.name.endswith(".gz") else Path(f"{phot}.gz")
        if alt.exists():
            return alt
    return phot


def file_pairs(directory: str | os.PathLike[str]) -> list[FilePair]:
    """The HEAD/PHOT pairs of a model directory, by file number (an uncompressed file wins over
    its ``.gz``, as in lib_elasticc2)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SnanaFileNotFoundError(f"SNANA model directory not found: {directory}")
    pairs: dict[int, FilePair] = {}
    for name in sorted(os.listdir(directory)):
        m = HEAD_FILE_RE.match(name)
        if not m:
            continue
        num = int(m.group("num"))
        if num in pairs and (m.group("gz") or not pairs[num].head.name.endswith(".gz")):
            continue  # keep the first name, unless this one is the uncompressed copy of a .gz
        head = directory / name
        pairs[num] = FilePair(num, head, phot_path_of(head))
    if not pairs:
        raise SnanaFileNotFoundError(f"{directory}: no *_HEAD.FITS[.gz] files")
    return [pairs[k] for k in sorted(pairs)]


def select_pairs(directory: Path, file_num: int | Sequence[int] | None) -> list[FilePair]:
    """The pairs of ``directory``, or those with the file numbers ``file_num``."""
    pairs = file_pairs(directory)
    if file_num is None:
        return pairs
    wanted = [file_num] if isinstance(file_num, int) else list(file_num)
    by_num = {p.num: p for p in pairs}
    missing = [n for n in wanted if n not in by_num]
    if missing:
        raise SnanaError(
            f"{directory}: no file number(s) {missing}; available: {min(by_num)}..{max(by_num)}"
        )
    return [by_num[n] for n in wanted]
