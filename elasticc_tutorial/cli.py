"""The ``elasticc-tutorial`` command line.

Each feature module that offers commands defines ``add_cli(subparsers)``, which adds its sub-command(s)
with ``set_defaults(func=...)``; ``func(args)`` returns the exit status. The modules are listed in
``COMMAND_MODULES`` and imported only when the parser is built.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from elasticc_tutorial import __version__
from elasticc_tutorial.errors import ElasticcTutorialError

#: Modules that contribute sub-commands, in the order ``--help`` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "elasticc_tutorial.book",
    "elasticc_tutorial.paths",
    "elasticc_tutorial.kernels",
    "elasticc_tutorial.doctor",
    "elasticc_tutorial.localtom",
    "elasticc_tutorial.sample.cli",
    "elasticc_tutorial.scale.cli",
)


class CliError(ElasticcTutorialError):
    """A user-facing error: printed as ``error: <message>`` with exit status 2, without a traceback."""


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="elasticc-tutorial",
        description=(
            "Tools for the ELAsTiCC2 tutorial: build the offline sample, serve the local TOM, "
            "find the data, set up Jupyter kernels."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_cli(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``elasticc-tutorial`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except ElasticcTutorialError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
