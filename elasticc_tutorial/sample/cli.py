"""``elasticc-tutorial sample build|verify``: build the offline synthetic ELAsTiCC2 sample, or
check one against its MANIFEST.json."""

from __future__ import annotations

import argparse
from pathlib import Path

from elasticc_tutorial.sample.build import DEFAULT_OBJECTS_PER_MODEL, DEFAULT_SEED, MODELS

__all__ = ["add_cli"]


def _default_out() -> Path:
    from elasticc_tutorial import paths

    return paths.sample_dir()


def add_cli(subparsers: argparse._SubParsersAction) -> None:
    """Register ``sample build`` and ``sample verify``."""
    sample = subparsers.add_parser("sample", help="the offline synthetic ELAsTiCC2 sample")
    sub = sample.add_subparsers(dest="sample_command", metavar="SUBCOMMAND", required=True)
    p = sub.add_parser(
        "build",
        help="simulate and write the sample (SNANA FITS, Parquet, alerts, TOM database)",
        description=(
            f"Simulate {len(MODELS)} SNANA models with an LSST-like cadence and write the sample "
            "directory: ELASTICC2/, ELASTICC2_TRAINING_SAMPLE_2/, ELASTICC2_parquet/, "
            "ELASTICC2_ALERTS/, ELASTICC2_BROKER_MESSAGES/, tomdb/ and MANIFEST.json."
        ),
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="sample directory (default: $ELASTICC_TUTORIAL_SAMPLE or the user cache)",
    )
    p.add_argument(
        "--objects-per-model",
        type=int,
        default=DEFAULT_OBJECTS_PER_MODEL,
        help=(
            "objects in each of the rarest models; the common ones (SN Ia first) get "
            f"proportionally more (default {DEFAULT_OBJECTS_PER_MODEL}: one per HEAD/PHOT file)"
        ),
    )
    p.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})"
    )
    p.add_argument("--force", action="store_true", help="replace a non-empty --out")
    p.add_argument(
        "--scale",
        type=int,
        default=None,
        metavar="N",
        help=(
            "benchmark mode: N objects per model, SNANA FITS and Parquet only, written model by "
            "model in bounded memory"
        ),
    )
    p.add_argument(
        "--database-url",
        default=None,
        help="load the TOM tables into this PostgreSQL database instead of OUT/tomdb",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=_run_build)
    v = sub.add_parser(
        "verify",
        help="check a sample's files against its MANIFEST.json",
        description=(
            "Check that every file MANIFEST.json lists exists with the listed size and that no "
            "other file is present (tomdb/ aside); with --full, also every sha256."
        ),
    )
    v.add_argument(
        "--out",
        type=Path,
        default=None,
        help="sample directory (default: $ELASTICC_TUTORIAL_SAMPLE or the user cache)",
    )
    v.add_argument("--full", action="store_true", help="also compare every file's sha256")
    v.set_defaults(func=_run_verify)


def _run_build(args: argparse.Namespace) -> int:
    from elasticc_tutorial.errors import SampleError
    from elasticc_tutorial.sample.build import build

    out = args.out if args.out is not None else _default_out()
    try:
        result = build(
            out,
            objects_per_model=args.objects_per_model,
            seed=args.seed,
            force=args.force,
            database_url=args.database_url,
            scale=args.scale,
            progress=not args.no_progress,
        )
    except (FileExistsError, ValueError) as exc:
        raise SampleError(str(exc)) from None
    print(result)
    return 0


def _run_verify(args: argparse.Namespace) -> int:
    from elasticc_tutorial.cli import CliError
    from elasticc_tutorial.errors import SampleError
    from elasticc_tutorial.sample.verify import verify

    root = args.out if args.out is not None else _default_out()
    try:
        n = verify(root, full=args.full)
    except SampleError as exc:
        raise CliError(str(exc)) from None
    print(f"{root}: {n} files match MANIFEST.json ({'sha256' if args.full else 'sizes'})")
    return 0
