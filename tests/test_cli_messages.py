"""What the CLI says (issue 24): every warning one plain line, once per run; no raw library warning
and no traceback in any command's failure; the same exit codes everywhere, listed in every
``--help``.

The failure cases run in this process under ``warnings.simplefilter("error", UserWarning)`` (what
``-W error::UserWarning`` does): a library warning that leaked would become an error there. The
card warning is checked in a real ``lstcloud predict`` process with ``-W error::UserWarning`` and
its own worker processes, which inherit the flag: each loads the model too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import warnings
from pathlib import Path

import pytest

from lstcloud.cli.exits import EPILOG
from lstcloud.cli.main import build_parser, main
from lstcloud.core import notices
from lstcloud.core.errors import LstcloudWarning, ModelCardWarning
from tests.conftest import PROJECT_ROOT

#: A warning in Python's raw format (``path.py:12: SomeWarning: text``) or a traceback.
RAW = re.compile(r"\.py:\d+: \w*Warning|Traceback \(most recent call last\)|^\s+warnings\.warn\(",
                 re.MULTILINE)


def _parsers(parser: argparse.ArgumentParser, name: str = "lstcloud"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_command_lists_the_same_exit_codes_in_its_help() -> None:
    found = dict(_parsers(build_parser()))
    assert {"lstcloud ingest", "lstcloud predict", "lstcloud query point", "lstcloud run",
            "lstcloud info", "lstcloud catalog publish", "lstcloud evaluate wald"} <= set(found)
    for name, parser in found.items():
        text = parser.format_help()
        assert EPILOG in text, name
    readme = (PROJECT_ROOT / "README.md").read_text()
    for line in EPILOG.splitlines()[1:]:
        code = line.split()[0]
        assert f"| {code} |" in readme, f"exit code {code} not in the README's table"


def _cases(tmp: Path) -> list[tuple[list[str], int, str]]:
    """(argv, exit code, words of the one error line) of each command's failures."""
    gone = str(tmp / "nothing.zarr")
    return [
        (["info", gone], 1, "no product cube"),
        (["query", "point", "--product", gone, "--lon", "2", "--lat", "48"], 1, "no product"),
        (["predict", "--cube", gone, "--model", "bicubic", "--out", str(tmp / "p.zarr"),
          "--start", "2024-01-01", "--end", "2024-01-01"], 1, "no input cube"),
        (["predict", "--cube", gone, "--model", "no-such-model", "--out", str(tmp / "p.zarr"),
          "--start", "2024-01-01", "--end", "2024-01-01"], 2, "no model 'no-such-model'"),
        (["predict", "--cube", gone], 2, "required"),
        (["ingest", "--provider", "lpcloud", "--stac-url", "http://127.0.0.1:9", "--region",
          "bogus", "--start", "2024-07-01", "--end", "2024-07-01", "--cube", gone], 2,
         "unknown region"),
        (["run", "--config", str(tmp / "none.yaml"), "--date", "2024-07-01"], 2,
         "does not exist"),
        (["catalog", "publish", "--product", gone, "--out", str(tmp / "cat")], 1, "no product"),
        (["evaluate", "wald", "--data", str(tmp / "none"), "--methods", "bicubic",
          "--report", str(tmp / "rep")], 2,
         "not a folder"),
        (["train", "--config", str(tmp / "none.yaml")], 2, "required"),
        (["demo", "--no-such-option"], 2, "unrecognized arguments"),
    ]


def test_failures_say_one_line_with_their_exit_code_and_no_raw_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv, code, words in _cases(tmp_path):
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # -W error::UserWarning
            try:
                got = main(argv)
            except SystemExit as exc:  # argparse's usage errors
                got = int(exc.code or 0)
        out, err = capsys.readouterr()
        assert got == code, (argv, out, err)
        errors = [line for line in err.splitlines() if "error:" in line]
        assert len(errors) == 1 and words in errors[0], (argv, err)
        assert not RAW.search(out + err), (argv, err)


def test_a_warning_is_one_plain_line_once_per_run(capsys: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        notices.install()
        for _ in range(3):
            warnings.warn("a collection differs", LstcloudWarning, stacklevel=1)
        warnings.warn(  # a library's warning about lstcloud's own records: nothing to act on
            UserWarning("Object at status is not recognized as a component of a Zarr hierarchy."),
            stacklevel=1,
        )
    err = capsys.readouterr().err
    assert err == "lstcloud: warning: a collection differs\n"


def _understated_model(folder: Path) -> Path:
    from lstcloud.models.registry import shipped_models_dir

    shutil.copytree(shipped_models_dir() / "sif-cnn-sr1", folder)
    card = json.loads((folder / "model.json").read_text())
    for key in ("receptive_field_px", "receptive_field_exact_px", "receptive_field_network_px"):
        card[key] = 8
    (folder / "model.json").write_text(json.dumps(card))
    return folder


_ERROR_FILTER = ("error", None, UserWarning, None, 0)


def _warnings_are_errors(on: bool) -> None:
    """On a worker: ``-W error::UserWarning`` (``on``), or that filter removed again."""
    if on:
        warnings.filters.insert(0, _ERROR_FILTER)
    elif _ERROR_FILTER in warnings.filters:
        warnings.filters.remove(_ERROR_FILTER)


@pytest.mark.slow
def test_the_card_warning_is_said_once_in_one_sentence_for_main_and_workers(
    tmp_path: Path, dask_client: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """``predict`` with a card that understates the receptive field: the main process says it
    once, in one sentence; the workers (where a warning is an error here) load it silently."""
    from tests.inference.cubes import day_inputs, write_input_cube

    day = dt.date(2021, 7, 1)
    lst, ndvi = day_inputs(32, 32, [day])
    cube = write_input_cube(tmp_path / "in.zarr", lst=lst, ndvi=ndvi, days=[day],
                            chunks_1km=(32, 32))
    model = _understated_model(tmp_path / "model")
    dask_client.run(_warnings_are_errors, True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            code = main(["predict", "--cube", cube, "--model", str(model), "--out",
                         str(tmp_path / "out.zarr"), "--start", str(day), "--end", str(day),
                         "--device", "cpu", "--scheduler", dask_client.scheduler.address])
    finally:
        dask_client.run(_warnings_are_errors, False)
    out, err = capsys.readouterr()
    assert code == 0, err
    said = [line for line in err.splitlines() if "receptive field" in line]
    assert said == [
        f"lstcloud: warning: the card of model {model} claims 8 px of receptive field, but "
        "96 px were measured; lstcloud uses 96 px."
    ], err
    assert not RAW.search(out + err), err
    assert issubclass(ModelCardWarning, LstcloudWarning)
