"""The exit codes of every ``lstcloud`` command, and the ``--help`` epilog that lists them."""

from __future__ import annotations

import argparse

__all__ = ["EPILOG", "OK", "PARTIAL", "RUNTIME_ERROR", "USAGE_ERROR", "add_epilogs"]

#: Everything asked was done.
OK = 0
#: A runtime error stopped the command: a store, a catalogue or the workers failed (one line
#: on standard error says which; ``-v`` adds the traceback).
RUNTIME_ERROR = 1
#: A usage or configuration error: bad arguments, a bad config file, an unknown or refused model.
USAGE_ERROR = 2
#: A partial failure: the command finished, but some (day, tile) or days failed or are not
#: ready; their records say why, and a rerun retries only them.
PARTIAL = 3

EPILOG = f"""exit codes:
  {OK}  success
  {RUNTIME_ERROR}  runtime error: a store, catalogue or worker failed (one line says which)
  {USAGE_ERROR}  usage or configuration error: bad arguments, config file or model
  {PARTIAL}  partial failure: some (day, tile) or days failed; a rerun retries only them"""


def add_epilogs(parser: argparse.ArgumentParser) -> None:
    """Give ``parser`` and every sub-command parser below it the exit-code epilog."""
    parser.epilog = EPILOG
    if parser.formatter_class is argparse.HelpFormatter:
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                add_epilogs(sub)
