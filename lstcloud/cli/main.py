"""Entry point of the ``lstcloud`` command.

Each command lives in its own module of this package and exposes
``register(subparsers: argparse._SubParsersAction) -> None``; this module only assembles them.
The command modules import their heavy dependencies only when a command runs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from lstcloud import __version__
from lstcloud.cli import catalog, demo, evaluate, info, ingest, predict, query, run, train
from lstcloud.core.errors import LstcloudError

#: The command modules, in the order ``lstcloud --help`` lists them.
COMMAND_MODULES = (demo, ingest, train, predict, run, evaluate, query, info, catalog)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every available command."""
    parser = argparse.ArgumentParser(
        prog="lstcloud",
        description="Daily 250 m land-surface temperature from MODIS, as a Zarr datacube.",
    )
    parser.add_argument("--version", action="version", version=f"lstcloud {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # distributed logs its clusters' life at INFO through its own config, set when it is
        # imported (later, lazily): ask it for warnings unless the user configured it
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
    except LstcloudError as exc:
        print(f"lstcloud {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
