"""Diagnostic: the registration offset between the MODIS inputs and the ASTER references.

For every development triplet the bicubic 1 km -> 250 m output (MODIS only) is shifted by
``(dy, dx)`` 250 m pixels (cubic spline interpolation, ``scipy.ndimage.shift``; positive = the
content moves south / east) before it is scored against ASTER with the protocol of
``lstcloud evaluate aster``. The shift that minimises each scene's RMSE, and the mean RMSE of
every shift over all scenes, say whether the ASTER files and the MODIS files are co-registered.
The same is checked with the MODIS NDVI (its correlation with ASTER), an independent product.

This reads ASTER and is a diagnostic of the evaluation data only: no model, no choice and no
shipped figure uses it (see docs/evaluation.md, "Registration of the references").

usage: python training/diagnose_registration.py [--data ../shared/data/aster_h18v04_dev]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import ndimage

from lstcloud.evaluate.aster import AsterConfig, aster_valid_mask, to_aster_grid
from lstcloud.evaluate.baselines import bicubic_upsample
from lstcloud.evaluate.datasets import iter_dev_samples
from lstcloud.evaluate.metrics import score

SHIFTS = np.arange(-1.0, 2.01, 0.25)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/aster_h18v04_dev"))
    args = parser.parse_args()
    config = AsterConfig()
    grid = [(dy, dx) for dy in SHIFTS for dx in SHIFTS]
    table = np.zeros((0, len(grid)))
    corr = {(0.0, 0.0): [], (0.75, 0.75): []}
    for sample in iter_dev_samples(args.data):
        base = bicubic_upsample(sample.lst_1km.data)
        region = aster_valid_mask(sample.aster.data, config=config)
        row = []
        for dy, dx in grid:
            moved = ndimage.shift(base, (dy, dx), order=3, mode="nearest")
            image = to_aster_grid(moved, src=sample.ndvi_250m, dst=sample.aster)
            ok = region & np.isfinite(image)
            row.append(score(image, np.where(ok, sample.aster.data, np.nan), mask=ok)["rmse_k"])
        table = np.vstack([table, row])
        best = grid[int(np.argmin(row))]
        print(f"{sample.name}: best shift (rows, cols) {best[0]:+.2f} {best[1]:+.2f} px, "
              f"RMSE {min(row):.3f} K (unshifted {row[grid.index((0.0, 0.0))]:.3f} K)")
        ndvi = np.nan_to_num(sample.ndvi_250m.data, nan=float(np.nanmean(sample.ndvi_250m.data)))
        for shift in corr:
            image = to_aster_grid(ndimage.shift(ndvi, shift, order=1, mode="nearest"),
                                  src=sample.ndvi_250m, dst=sample.aster)
            ok = region & np.isfinite(image)
            corr[shift].append(float(np.corrcoef(image[ok], sample.aster.data[ok])[0, 1]))
    mean = table.mean(axis=0)
    i0, ib = grid.index((0.0, 0.0)), int(np.argmin(mean))
    print(f"\nmean bicubic RMSE vs ASTER over {len(table)} scenes: unshifted {mean[i0]:.3f} K; "
          f"best common shift {grid[ib][0]:+.2f} {grid[ib][1]:+.2f} px: {mean[ib]:.3f} K")
    for shift, values in corr.items():
        print(f"NDVI-ASTER correlation, NDVI shifted {shift}: median {np.median(values):.3f}")


if __name__ == "__main__":
    main()
