"""The main job end to end on the embedded default: local folder store, local Dask cluster,
generated MODIS-format sample granules served by a real STAC API on 127.0.0.1.

1. generate HDF4-EOS (``lpcloud``) or COG (``planetary-computer``) granules of a small region and
   a STAC catalogue for them (:mod:`lstcloud.samples`);
2. serve the catalogue with a STAC API server on 127.0.0.1 (:mod:`lstcloud.stacserver`);
3. ingest them into ``WORKDIR/input.zarr`` on a local cluster (:func:`lstcloud.ingest.ingest`);
4. super-resolve every day to 250 m into ``WORKDIR/product.zarr``
   (:func:`lstcloud.inference.predict_cube`);
5. draw ``WORKDIR/quicklook.png`` (1 km input, 250 m NDVI, 250 m output).

Rerunning on the same folder skips what is complete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DemoResult", "run_demo"]

#: The demo's default region: two neighbouring land tiles over France / central Europe, so that
#: the output crosses a tile edge.
DEFAULT_TILES: tuple[str, ...] = ("h18v04", "h19v04")
DEFAULT_START = dt.date(2024, 7, 1)


@dataclass(frozen=True)
class DemoResult:
    """Where the demo put things and what it did."""

    workdir: Path
    input_cube: Path
    product: Path
    quicklook: Path
    ingest: Any
    predict: Any

    def format(self) -> str:
        """A few lines for the terminal."""
        return "\n".join(
            [
                str(self.ingest.format()),
                str(self.predict.format() if hasattr(self.predict, "format") else self.predict),
                f"input cube : {self.input_cube}",
                f"product    : {self.product}",
                f"quick-look : {self.quicklook}",
                'open them with: python -c "import lstcloud; '
                f"print(lstcloud.open_product('{self.product}'))\"",
            ]
        )


def run_demo(
    workdir: str | Path,
    *,
    provider: str = "lpcloud",
    tiles: Sequence[str] = DEFAULT_TILES,
    start: dt.date = DEFAULT_START,
    days: int = 2,
    model: str = "default",
    n_workers: int = 2,
    seed: int = 0,
    progress: bool = True,
) -> DemoResult:
    """Run the whole pipeline on generated sample data in ``workdir``.

    Parameters
    ----------
    workdir
        Folder for everything (granules, catalogue, cubes, quick-look).
    provider
        Which catalogue shape and file format to generate: ``"lpcloud"`` (HDF4-EOS granules,
        MOD21A1D + MOD09GQ) or ``"planetary-computer"`` (COGs, MOD11A1 + MOD09Q1).
    tiles, start, days
        The region (whole MODIS tiles) and the window.
    model
        The super-resolution model (a shipped name or a model folder).
    n_workers
        Worker processes of the local Dask cluster.
    seed
        Seed of the generated landscape (deterministic).
    progress
        Show progress bars.
    """
    from lstcloud.cluster import client_context
    from lstcloud.ingest import ingest, sources_for
    from lstcloud.quicklook import write_quicklook
    from lstcloud.samples.stac import build_sample_catalog
    from lstcloud.stacserver import StacServer

    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    dates = [start + dt.timedelta(days=i) for i in range(days)]
    end = dates[-1]
    products = sources_for(provider).products(include_night=False)
    catalog = build_sample_catalog(
        workdir / "granules",
        provider=provider,
        tiles=list(tiles),
        dates=dates,
        products=products,
        seed=seed,
    )
    input_cube = workdir / "input.zarr"
    product = workdir / "product.zarr"
    quicklook = workdir / "quicklook.png"
    with (
        StacServer(catalog.collections, catalog.items) as server,
        client_context(None, n_workers=n_workers) as client,
    ):
        ingest_summary = ingest(
            provider=provider,
            stac_url=server.url,
            region=",".join(tiles),
            start=start,
            end=end,
            cube_url=str(input_cube),
            client=client,
            progress=progress,
        )
        predict_summary = _predict_into_own_product(
            cube_url=str(input_cube), model=model, out_url=product, start=start, end=end,
            client=client,
        )
    write_quicklook(cube_url=str(input_cube), product_url=str(product), date=start, path=quicklook)
    return DemoResult(
        workdir=workdir,
        input_cube=input_cube,
        product=product,
        quicklook=quicklook,
        ingest=ingest_summary,
        predict=predict_summary,
    )


def _predict_into_own_product(*, out_url: Path, **kwargs: Any) -> Any:
    """``predict_cube`` into the demo's product; a product an older model (or card) wrote there,
    e.g. by the demo of an earlier lstcloud, is replaced with a warning: the folder is the
    demo's own (``lstcloud predict`` itself never replaces a product, it refuses)."""
    import shutil
    import warnings

    from lstcloud.core.errors import LstcloudWarning
    from lstcloud.cube.errors import ProductModelMismatchError
    from lstcloud.inference import predict_cube

    try:
        return predict_cube(out_url=str(out_url), **kwargs)
    except ProductModelMismatchError as exc:
        warnings.warn(f"{exc}; the demo replaces its own product", LstcloudWarning,
                      stacklevel=2)
        shutil.rmtree(out_url)
        return predict_cube(out_url=str(out_url), **kwargs)
