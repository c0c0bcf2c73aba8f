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
import traceback
from collections.abc import Sequence

from lstcloud import __version__
from lstcloud.cli import (
    catalog,
    compose,
    demo,
    evaluate,
    info,
    ingest,
    predict,
    query,
    run,
    serve,
    train,
)
from lstcloud.cli.exits import RUNTIME_ERROR, USAGE_ERROR, add_epilogs
from lstcloud.cli.failure import explain, quiet_async_noise
from lstcloud.core import notices
from lstcloud.core.errors import ConfigError, LstcloudError

#: The command modules, in the order ``lstcloud --help`` lists them.
COMMAND_MODULES = (
    demo, ingest, train, predict, run, evaluate, query, info, catalog, compose, serve
)


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
    add_epilogs(parser)  # the same exit codes, listed in every command's --help
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    notices.install()  # every warning: one plain line, once per run
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING - 10 * min(args.verbose, 2),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # distributed logs its clusters' life at INFO (and a failed task's traceback at ERROR,
        # on every attempt) through its own config, set when it is imported (later, lazily):
        # lstcloud reports failures itself, so ask distributed for errors only unless the user
        # configured it; -v brings everything back
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
    if not getattr(args, "func", None):
        parser.print_help()
        return USAGE_ERROR
    quiet_async_noise(args.verbose)
    try:
        result = args.func(args)
    except ConfigError as exc:  # a bad argument, config file or model: the user's to fix
        if args.verbose:
            traceback.print_exc()
        print(f"lstcloud {args.command}: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return USAGE_ERROR
    except LstcloudError as exc:
        if args.verbose:
            traceback.print_exc()
        print(f"lstcloud {args.command}: error: {exc}", file=sys.stderr)
        return RUNTIME_ERROR
    except Exception as exc:  # unforeseen (a dead store ...): one line, the traceback on -v
        if args.verbose:
            traceback.print_exc()
        print(f"lstcloud {args.command}: error: {explain(exc, args)}", file=sys.stderr)
        return RUNTIME_ERROR
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
