"""``features`` and ``combine``: the batch-job form of the feature analysis.

``features SOURCE --out DIR`` computes the features of this task's share of the units (from
``--part I/N``, else SLURM_PROCID/SLURM_NTASKS, else everything) on a local Dask cluster of
``--workers`` processes (0: in this process) and writes ``DIR/features-part-<I>of<N>.parquet``.
``combine DIR`` concatenates the parts into ``DIR/features.parquet`` after checking none is
missing. Both write a temporary file and rename it, so a file that exists is complete.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from elasticc_tutorial.errors import ElasticcTutorialError, ScaleError
from elasticc_tutorial.scale.cluster import cluster, gather_frames
from elasticc_tutorial.scale.features import features_of_unit
from elasticc_tutorial.scale.units import FORMS, split, units

__all__ = ["add_cli", "combine", "main", "run_features"]

_PART_RE = re.compile(r"^features-part-(\d+)of(\d+)\.parquet$")


def _write(frame: pl.DataFrame, path: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        frame.write_parquet(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _part(spec: str | None) -> tuple[int, int]:
    if spec is None:
        return int(os.environ.get("SLURM_PROCID", 0)), int(os.environ.get("SLURM_NTASKS", 1))
    m = re.match(r"^(\d+)/(\d+)$", spec)
    if not m:
        raise ScaleError(f"--part {spec!r}: expected I/N, e.g. 0/4")
    return int(m.group(1)), int(m.group(2))


def run_features(
    source: Path, out: Path, *, form: str | None, workers: int, part: tuple[int, int]
) -> Path:
    """Features of share ``part`` of the units of ``source``, written under ``out``."""
    i, n = part
    mine = split(units(source, form), i, n)
    if not mine:
        raise ScaleError(f"part {i}/{n} of {source} has no units (fewer units than tasks)")
    out.mkdir(parents=True, exist_ok=True)
    if workers == 0:
        frame = gather_frames(features_of_unit, mine)
    else:
        with cluster(min(workers, len(mine)), slurm=False) as client:
            frame = gather_frames(features_of_unit, mine, client)
    return _write(frame, out / f"features-part-{i:03d}of{n:03d}.parquet")


def combine(out: Path) -> Path:
    """Concatenate ``out/features-part-*.parquet`` into ``out/features.parquet``."""
    parts = {}
    for p in sorted(Path(out).glob("features-part-*.parquet")):
        m = _PART_RE.match(p.name)
        if m:
            parts[(int(m.group(1)), int(m.group(2)))] = p
    if not parts:
        raise ScaleError(f"{out}: no features-part-*.parquet files to combine")
    totals = {n for _, n in parts}
    if len(totals) != 1:
        raise ScaleError(
            f"{out}: parts of different runs (N = {sorted(totals)}); remove the old ones"
        )
    (n,) = totals
    missing = [i for i in range(n) if (i, n) not in parts]
    if missing:
        raise ScaleError(f"{out}: parts {missing} of {n} are missing (a task failed?)")
    frame = pl.concat([pl.read_parquet(parts[(i, n)]) for i in range(n)]).sort("SNID")
    if frame["SNID"].is_duplicated().any():
        raise ScaleError(f"{out}: an object appears in two parts")
    return _write(frame, Path(out) / "features.parquet")


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``scale features`` and ``scale combine``."""
    scale = subparsers.add_parser("scale", help="whole-campaign feature extraction (batch jobs)")
    sub = scale.add_subparsers(dest="scale_command", metavar="COMMAND", required=True)
    f = sub.add_parser("features", help="features of this task's share of the units")
    f.add_argument("source", type=Path, help="SNANA tree or Parquet directory (or file)")
    f.add_argument("--out", type=Path, required=True, help="output directory")
    f.add_argument("--form", choices=FORMS, default=None, help="form of SOURCE (default: detect)")
    f.add_argument("--workers", type=int, default=0, help="Dask worker processes (0: none)")
    f.add_argument("--part", default=None, help="I/N (default: SLURM_PROCID/SLURM_NTASKS)")
    f.set_defaults(
        func=lambda a: print(
            run_features(a.source, a.out, form=a.form, workers=a.workers, part=_part(a.part))
        )
    )
    c = sub.add_parser("combine", help="combine the parts into features.parquet")
    c.add_argument("out", type=Path)
    c.set_defaults(func=lambda a: print(combine(a.out)))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m elasticc_tutorial.scale ...`` (the same commands as ``elasticc-tutorial scale``)."""
    parser = argparse.ArgumentParser(prog="python -m elasticc_tutorial.scale")
    add_cli(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["scale", *(sys.argv[1:] if argv is None else argv)])
    try:
        args.func(args)
    except ElasticcTutorialError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0
