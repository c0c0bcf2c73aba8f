"""Write candidate ensembles of shipped models for ``lstcloud evaluate aster --cv`` to score.

Each candidate is an ensemble folder (:func:`lstcloud.models.ensemble.save_ensemble`) whose card
names its members, its test-time augmentation and its post-processing. The cross-validation reads
only those recipes (each member is retrained per fold from the training config in its card), so
the candidates' weights do not enter the out-of-fold scores.

usage (from the project root):

    python training/make_candidates.py --out out/cand \\
        "sr2p3-flips-lp2=sif-cnn-sr2-published,sif-cnn-sr2-published-seed1,sif-cnn-sr2-published-seed2:flips:lowpass2"

A spec is ``NAME=MEMBER,MEMBER,...:TTA[:POSTPROCESS]`` (a member is a shipped model's name or a
model folder); ``POSTPROCESS`` is ``lowpassS`` (the
low-pass residual correction, sigma ``S`` km, one iteration), ``bicubicN`` (the bicubic residual
correction, ``N`` iterations) or absent.
"""

from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path
from typing import Any

from lstcloud.errors import ConfigError
from lstcloud.models.ensemble import TTA_MODES, save_ensemble
from lstcloud.models.postprocess import Postprocess
from lstcloud.models.registry import model_folder


def parse_postprocess(text: str) -> dict[str, Any] | None:
    """``lowpass2`` / ``lowpass1.5`` / ``bicubic1`` / ``""`` -> the card's postprocess section."""
    if not text:
        return None
    match = re.fullmatch(r"(lowpass|bicubic)(\d+(?:\.\d+)?)", text)
    if match is None:
        raise ConfigError(f"postprocess {text!r}: use lowpassS (sigma km) or bicubicN (iterations)")
    kind, value = match.groups()
    if kind == "lowpass":
        pp = Postprocess("lowpass-residual", iterations=1, sigma_km=float(value))
    else:
        pp = Postprocess("bicubic-residual", iterations=int(float(value)))
    return pp.to_dict()


def parse_spec(spec: str) -> tuple[str, list[str], str, dict[str, Any] | None]:
    """``NAME=M1,M2:TTA[:PP]`` -> (name, members, tta, postprocess)."""
    name, sep, rest = spec.partition("=")
    parts = rest.split(":")
    if not sep or not name or len(parts) not in (2, 3) or not parts[0]:
        raise ConfigError(f"candidate {spec!r}: expected NAME=MEMBER,MEMBER:TTA[:POSTPROCESS]")
    tta = parts[1]
    if tta not in TTA_MODES:
        raise ConfigError(f"candidate {spec!r}: tta {tta!r} is not one of {sorted(TTA_MODES)}")
    return name, parts[0].split(","), tta, parse_postprocess(parts[2] if len(parts) == 3 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("specs", nargs="+", help="NAME=MEMBER,MEMBER:TTA[:POSTPROCESS]")
    parser.add_argument("--out", type=Path, required=True, help="folder of the candidates")
    args = parser.parse_args()
    for spec in args.specs:
        name, members, tta, postprocess = parse_spec(spec)
        folder = args.out / name
        if folder.exists():
            shutil.rmtree(folder)
        save_ensemble(folder, [model_folder(m) for m in members], tta=tta, name=name,
                      card={"postprocess": postprocess})
        names = "+".join(Path(m).name for m in members)
        print(f"{folder}: {names}, tta {tta}, postprocess {postprocess}")


if __name__ == "__main__":
    main()
