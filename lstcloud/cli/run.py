"""``lstcloud run``: the daily job (ingest a day, predict it, publish it) from a YAML config."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` command."""
    p = subparsers.add_parser(
        "run",
        help="the daily job: ingest one day, predict it at 250 m, publish it",
        description=(
            "Run the job described by a YAML file (see deploy/examples/job.yaml) for one day: "
            "ingest it into the input cube, super-resolve it into the product cube and update "
            "the product's STAC collection. This is what the Kubernetes CronJob calls."
        ),
    )
    p.add_argument("--config", required=True, help="job YAML file")
    p.add_argument(
        "--date",
        default="yesterday",
        help="day to process: YYYY-MM-DD, 'yesterday' (default, UTC) or 'today'",
    )
    p.add_argument(
        "--from",
        dest="start",
        default=None,
        help="backfill: first day of a window ending at --date (one run, days in order; "
        "instead of the config's lookback_days)",
    )
    p.add_argument("--check", action="store_true", help="only validate the config and exit")
    p.add_argument("--progress", action="store_true", help="show the ingest progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the config and run the job; exit code 0 on success, 3 when a stage failed."""
    from lstcloud.jobs import load_job_config, parse_day, run_job

    config = load_job_config(args.config)
    day = parse_day(args.date)
    start = parse_day(args.start) if args.start else None
    if start is not None and start > day:
        print(f"lstcloud run: --from {start} is after --date {day}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{args.config}: valid job for {day} ({config.provider}, region {config.region})")
        return 0
    result = run_job(config, day, start=start, progress=args.progress)
    print(result.format())
    return 0 if result.ok else 3
