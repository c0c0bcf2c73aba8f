"""A product never mixes two models, even with the same weights (issue 12, point 3, 2nd half).

The "refusing to mix" check compared only the weights' sha256: a copy of sif-cnn-sr1 whose card
claims another receptive field (hence another halo, other values near every model-tile line)
was mixed into the existing product by ``--overwrite``. The product now records the model's
identity (weights AND the behaviour fields of its card) and refuses another one, naming the
fields that differ.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import zarr

from lstcloud.errors import CubeError
from lstcloud.inference.identity import model_identity
from lstcloud.inference.predict import predict_cube
from tests.inference.cubes import day_inputs, write_input_cube

pytestmark = pytest.mark.slow

DAYS = [dt.date(2021, 9, 1)]
SHIPPED = Path(__file__).resolve().parents[2] / "lstcloud" / "data" / "models" / "sif-cnn-sr1"


def _variant(tmp_path: Path, name: str, **changes: Any) -> Path:
    folder = tmp_path / name
    shutil.copytree(SHIPPED, folder)
    card = json.loads((folder / "model.json").read_text())
    card.update(changes)
    (folder / "model.json").write_text(json.dumps(card))
    return folder


def test_identity_covers_the_card_not_its_descriptions() -> None:
    card = json.loads((SHIPPED / "model.json").read_text())
    same = {**card, "notes": ["re-validated"], "validation": {"wald_rmse_K": 0.0}}
    assert model_identity(same) == model_identity(card)
    for change in ({"receptive_field_px": 104}, {"postprocess": {}}, {"sha256": "0" * 64},
                   {"normalization": {**card["normalization"], "lst_mean": 300.0}}):
        assert model_identity({**card, **change}) != model_identity(card), change


def test_overwrite_with_the_same_weights_and_another_card_is_refused(
    tmp_path: Path, cluster_client: Any
) -> None:
    lst, ndvi = day_inputs(32, 32, DAYS)
    cube = write_input_cube(tmp_path / "in.zarr", lst=lst, ndvi=ndvi, days=DAYS,
                            chunks_1km=(32, 32))
    product = str(tmp_path / "product.zarr")
    kwargs = dict(cube_url=cube, out_url=product, start=DAYS[0], end=DAYS[0],
                  client=cluster_client, device="cpu")
    first = predict_cube(model="sif-cnn-sr1", **kwargs)
    assert first.written == tuple(DAYS)
    # the same model again, only re-described: the same identity, so accepted
    redescribed = _variant(tmp_path, "redescribed", notes=["copied"])
    assert predict_cube(model=str(redescribed), overwrite=True, **kwargs).written == tuple(DAYS)
    # the same weights with another card: another normalisation, refused naming the field
    card = json.loads((SHIPPED / "model.json").read_text())
    renormed = _variant(tmp_path, "renormed",
                        normalization={**card["normalization"], "lst_mean": 300.0})
    with pytest.raises(CubeError, match=r"refusing to mix.*normalization\.lst_mean [0-9.]+ -> 300"):
        predict_cube(model=str(renormed), overwrite=True, **kwargs)
    # ... or another post-processing, whose reach widens the halo (96 -> 104 px)
    twice = _variant(tmp_path, "twice",
                     postprocess={**card["postprocess"], "iterations": 2})
    with pytest.raises(CubeError, match=r"refusing to mix.*postprocess\.iterations [0-9]+ -> 2"):
        predict_cube(model=str(twice), overwrite=True, **kwargs)

    # a product written before identities were recorded: the receptive field is compared too
    group = zarr.open_group(product, mode="r+")
    del group.attrs["lstcloud_model_identity"]
    with pytest.raises(CubeError, match=r"refusing to mix.*receptive field 96 -> 104"):
        predict_cube(model=str(twice), overwrite=True, **kwargs)
    assert predict_cube(model="sif-cnn-sr1", overwrite=True, **kwargs).written == tuple(DAYS)
