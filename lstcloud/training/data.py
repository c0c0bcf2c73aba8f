"""Training data: aligned (LST 1 km, NDVI 250 m) patches from dev folders or the input cube.

Both datasets are map-style torch datasets whose item ``i`` of epoch ``e`` is a pure function of
``(seed, e, i)``: a run that stops and resumes draws exactly the patches it would have drawn, and
each DDP rank draws its own indices through a ``DistributedSampler``. An item is a dict with

- ``lst_1km``: float32 tensor (1, p, p), kelvin, NaN = invalid;
- ``ndvi_250m``: float32 tensor (1, 4p, 4p), NaN = invalid, pixel ``(4i..4i+3, 4j..4j+3)``
  nested in 1 km pixel ``(i, j)``;
- ``rejected_draws``: int64 scalar tensor, candidate windows drawn and rejected (valid fraction
  below ``min_valid``) before this patch; ``fallback_draws``: 1 when no candidate passed within
  the first :data:`_MAX_TRIES` draws and the patch was drawn among the windows known to pass.

Every training patch passes ``min_valid`` (:func:`valid_fraction`, LST *and* NDVI): candidates
are drawn at random and rejected until one passes; after :data:`_MAX_TRIES` rejections the patch
is drawn uniformly among all windows that pass (a complete list, computed once), and a dataset
in which no window passes raises :class:`~lstcloud.errors.ConfigError` /
:class:`~lstcloud.errors.CubeError` naming the data.

Each dataset records what it read (:attr:`DevFolderPairs.files_read`,
:attr:`CubePatches.variables_read`); ``describe()`` derives the card's ``files`` and
``aster_files_read`` from that record.

Normalisation is not applied here (the loop z-scores with the training split's statistics).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import torch
from affine import Affine
from torch.utils.data import Dataset

from lstcloud.errors import ConfigError, CubeError, GranuleReadError, redact_url

__all__ = [
    "LST_FILE",
    "NDVI_FILE",
    "CubePatches",
    "DevFolderPairs",
    "PatchDataset",
    "ScenePair",
    "align_ndvi_to_lst",
    "default_dev_folder",
    "is_aster_file",
    "open_training_data",
    "passing_windows",
    "split_ids",
    "valid_fraction",
    "valid_map",
]

log = logging.getLogger(__name__)

LST_FILE = "modis_lst_1km.tif"
NDVI_FILE = "modis_ndvi_250m.tif"
_MAX_TRIES = 64
_GRID_TOLERANCE = 1e-3  # pixels


def is_aster_file(name: str | Path) -> bool:
    """Whether a file (or cube variable) name designates ASTER data (``aster_*``, ``AST_08*``)."""
    base = Path(str(name)).name.lower()
    return "aster" in base or base.startswith("ast_")


# ----------------------------------------------------------------------------- alignment
@dataclass(frozen=True)
class ScenePair:
    """One co-registered scene: LST at 1 km and NDVI on the LST grid refined 4x.

    Attributes
    ----------
    sample_id
        Folder name (dev data) or ISO date (cube).
    lst_1km
        float32 (h, w) K, NaN = invalid.
    ndvi_250m
        float32 (4h, 4w), NaN where invalid or not covered by the NDVI file.
    transform_1km
        Geotransform of ``lst_1km``.
    """

    sample_id: str
    lst_1km: np.ndarray
    ndvi_250m: np.ndarray
    transform_1km: Affine


def align_ndvi_to_lst(
    ndvi: np.ndarray,
    ndvi_transform: Affine,
    lst_shape: tuple[int, int],
    lst_transform: Affine,
    *,
    name: str = "NDVI",
) -> np.ndarray:
    """Place ``ndvi`` on the grid of ``lst_transform`` refined 4x, by geotransform.

    The two grids must be nested (the NDVI pixel is a quarter of the LST pixel and its origin
    falls on the refined grid); the NDVI window may be offset by any whole number of 250 m
    pixels. Refined pixels the NDVI does not cover are NaN.

    Raises
    ------
    GranuleReadError
        When the grids are not nested (names ``name``).
    """
    fine = lst_transform @ Affine.scale(0.25)
    if (
        abs(fine.b) > 1e-9
        or abs(fine.d) > 1e-9
        or abs(ndvi_transform.b) > 1e-9
        or abs(ndvi_transform.d) > 1e-9
    ):
        raise GranuleReadError(f"{name}: rotated geotransforms are not supported")
    if abs(ndvi_transform.a / fine.a - 1) > 1e-6 or abs(ndvi_transform.e / fine.e - 1) > 1e-6:
        raise GranuleReadError(
            f"{name}: NDVI pixel {ndvi_transform.a:.4f} m is not a quarter of the LST pixel "
            f"{lst_transform.a:.4f} m"
        )
    col_off = (ndvi_transform.c - fine.c) / fine.a
    row_off = (ndvi_transform.f - fine.f) / fine.e
    dc, dr = round(col_off), round(row_off)
    if abs(col_off - dc) > _GRID_TOLERANCE or abs(row_off - dr) > _GRID_TOLERANCE:
        raise GranuleReadError(
            f"{name}: NDVI origin is off the refined LST grid by ({row_off:.3f}, {col_off:.3f}) px"
        )
    out_h, out_w = 4 * lst_shape[0], 4 * lst_shape[1]
    out = np.full((out_h, out_w), np.nan, dtype=np.float32)
    # NDVI pixel (r, c) sits at refined pixel (r + dr, c + dc).
    r0, c0 = max(dr, 0), max(dc, 0)
    r1, c1 = min(dr + ndvi.shape[0], out_h), min(dc + ndvi.shape[1], out_w)
    if r1 > r0 and c1 > c0:
        out[r0:r1, c0:c1] = ndvi[r0 - dr : r1 - dr, c0 - dc : c1 - dc]
    return out


def valid_fraction(lst_1km: np.ndarray, ndvi_250m: np.ndarray) -> float:
    """Fraction of 1 km pixels whose LST and all 16 nested NDVI pixels are finite."""
    return float(valid_map(lst_1km, ndvi_250m).mean())


def valid_map(lst_1km: np.ndarray, ndvi_250m: np.ndarray) -> np.ndarray:
    """Boolean 1 km map: LST finite and all 16 nested NDVI pixels finite."""
    h, w = lst_1km.shape[-2:]
    ndvi_ok = np.isfinite(ndvi_250m).reshape(*ndvi_250m.shape[:-2], h, 4, w, 4).all(axis=(-3, -1))
    return np.isfinite(lst_1km) & ndvi_ok


def passing_windows(valid: np.ndarray, patch: int, min_valid: float) -> np.ndarray:
    """``(n, 2)`` origins ``(y0, x0)`` of every ``patch x patch`` window of the boolean map
    ``valid`` whose valid fraction is ``>= min_valid`` (integral image; exact)."""
    h, w = valid.shape
    if h < patch or w < patch:
        return np.zeros((0, 2), np.int64)
    ii = np.zeros((h + 1, w + 1), np.int64)
    ii[1:, 1:] = np.cumsum(np.cumsum(valid.astype(np.int64), axis=0), axis=1)
    counts = ii[patch:, patch:] - ii[:-patch, patch:] - ii[patch:, :-patch] + ii[:-patch, :-patch]
    need = min_valid * patch * patch - 1e-6
    ys, xs = np.nonzero(counts >= need)
    return np.stack([ys, xs], axis=1).astype(np.int64)


def _read_band(path: Path, record: set[str] | None = None) -> tuple[np.ndarray, Affine]:
    if record is not None:
        record.add(str(path))
    try:
        with rasterio.open(path) as src:
            data = src.read(1, masked=True).astype(np.float32)
            return data.filled(np.nan), src.transform
    except rasterio.errors.RasterioIOError as exc:
        raise GranuleReadError(f"{path}: cannot read ({exc})") from None


def default_dev_folder() -> Path:
    """``$LSTCLOUD_SHARED_DATA/aster_h18v04_dev`` (default ``../shared/data`` of the cwd)."""
    base = os.environ.get("LSTCLOUD_SHARED_DATA") or str(Path.cwd().parent / "shared" / "data")
    return Path(base).resolve() / "aster_h18v04_dev"


def split_ids(
    ids: Sequence[str],
    *,
    val_fraction: float,
    seed: int,
    val_ids: Sequence[str] | None = None,
) -> tuple[list[str], list[str]]:
    """Split sample ids into (train, validation), deterministically from ``seed``.

    At least one id stays in training; with ``val_fraction > 0`` at least one goes to validation
    when there are two or more ids.
    """
    ids = list(ids)
    if val_ids is not None:
        unknown = sorted(set(val_ids) - set(ids))
        if unknown:
            raise ConfigError(f"data.val_samples: unknown sample ids {unknown}")
        val = [i for i in ids if i in set(val_ids)]
    else:
        n_val = round(val_fraction * len(ids))
        if val_fraction > 0 and len(ids) > 1:
            n_val = max(n_val, 1)
        n_val = min(n_val, len(ids) - 1)
        order = np.random.default_rng(seed).permutation(len(ids))
        val = sorted(ids[i] for i in order[:n_val])
    train = [i for i in ids if i not in set(val)]
    if not train:
        raise ConfigError("data: the validation split leaves no training samples")
    return train, val


# ----------------------------------------------------------------------------- datasets
class PatchDataset(Dataset):
    """Common machinery: deterministic random patches with identical flips / rot90.

    Subclasses implement :meth:`_draw` (one candidate patch for a generator),
    :meth:`_draw_passing` (a patch among the windows known to pass ``min_valid``) and
    :meth:`validation_items`.
    """

    def __init__(
        self,
        *,
        patch_1km: int,
        min_valid: float,
        patches_per_epoch: int,
        seed: int,
        augment: bool,
    ) -> None:
        if patch_1km % 8:
            raise ConfigError(f"patch_1km must be a multiple of 8, got {patch_1km}")
        if not 0.0 <= min_valid <= 1.0:
            raise ConfigError(f"min_valid must be in [0, 1], got {min_valid}")
        self.patch_1km = patch_1km
        self.min_valid = min_valid
        self.patches_per_epoch = patches_per_epoch
        self.seed = seed
        self.augment = augment
        self.epoch = 0

    sample_ids: list[str]

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose patches ``__getitem__`` returns."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.patches_per_epoch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        """Patch ``index`` of the current epoch; it always passes ``min_valid``.

        Candidates are drawn until one passes (each rejection counted in the item's
        ``rejected_draws``); after :data:`_MAX_TRIES` rejections the patch is drawn among the
        windows that pass (``fallback_draws`` = 1).
        """
        rng = np.random.default_rng([self.seed, self.epoch, int(index)])
        rejected, fallback = 0, 0
        for _ in range(_MAX_TRIES):
            lst, ndvi = self._draw(rng)
            if valid_fraction(lst, ndvi) >= self.min_valid:
                break
            rejected += 1
        else:
            lst, ndvi = self._draw_passing(rng)
            fallback = 1
        if self.augment:
            k, flip = int(rng.integers(4)), bool(rng.integers(2))
            lst, ndvi = np.rot90(lst, k), np.rot90(ndvi, k)
            if flip:
                lst, ndvi = lst[:, ::-1], ndvi[:, ::-1]
        item = _item(lst, ndvi)
        item["rejected_draws"] = torch.tensor(rejected, dtype=torch.int64)
        item["fallback_draws"] = torch.tensor(fallback, dtype=torch.int64)
        return item

    def check_patches(self) -> int:
        """Number of windows that pass ``min_valid``; raises when there is none."""
        raise NotImplementedError

    def _draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _draw_passing(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def validation_items(self) -> list[dict[str, torch.Tensor]]:
        """Fixed, un-augmented items for validation."""
        raise NotImplementedError

    def stats_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(LST, NDVI) values from which normalisation statistics are computed."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """JSON-able description for the model card."""
        raise NotImplementedError


def _item(lst: np.ndarray, ndvi: np.ndarray) -> dict[str, torch.Tensor]:
    return {
        "lst_1km": torch.from_numpy(np.ascontiguousarray(lst, dtype=np.float32))[None],
        "ndvi_250m": torch.from_numpy(np.ascontiguousarray(ndvi, dtype=np.float32))[None],
    }


def _crop_origin(rng: np.random.Generator, size: int, patch: int) -> int:
    return int(rng.integers(0, size - patch + 1))


def _crop(scene: ScenePair, y0: int, x0: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    lst = scene.lst_1km[y0 : y0 + p, x0 : x0 + p]
    ndvi = scene.ndvi_250m[4 * y0 : 4 * (y0 + p), 4 * x0 : 4 * (x0 + p)]
    return lst, ndvi


class DevFolderPairs(PatchDataset):
    """Patches from folders of co-registered MODIS GeoTIFF pairs (``aster_h18v04_dev`` layout).

    Each sub-folder holds ``modis_lst_1km.tif`` (K) and ``modis_ndvi_250m.tif``; the NDVI is put
    on the LST grid refined 4x by geotransform (:func:`align_ndvi_to_lst`). Only these two files
    are opened: any other file in the folder (e.g. the ASTER reference) is never read. Every
    path the band reader opens is recorded in :attr:`files_read` (shared with :meth:`subset`),
    from which :meth:`describe` derives ``files`` and ``aster_files_read``.

    Parameters
    ----------
    root
        Folder of sample sub-folders.
    samples
        Sample ids (sub-folder names) to use; ``None`` = every sub-folder holding both files.
    patch_1km, min_valid, patches_per_epoch, seed, augment
        Patch size (1 km px), minimum valid fraction, epoch length, RNG seed, flips/rot90.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        samples: Sequence[str] | None = None,
        patch_1km: int = 32,
        min_valid: float = 0.8,
        patches_per_epoch: int = 256,
        seed: int = 0,
        augment: bool = True,
        _scenes: dict[str, ScenePair] | None = None,
        _files_read: set[str] | None = None,
    ) -> None:
        super().__init__(
            patch_1km=patch_1km,
            min_valid=min_valid,
            patches_per_epoch=patches_per_epoch,
            seed=seed,
            augment=augment,
        )
        self.root = Path(root)
        self._files_read: set[str] = _files_read if _files_read is not None else set()
        self._windows: list[np.ndarray] | None = None
        if _scenes is None:
            if not self.root.is_dir():
                raise ConfigError(f"{self.root}: training data folder not found")
            available = sorted(
                p.name
                for p in self.root.iterdir()
                if (p / LST_FILE).is_file() and (p / NDVI_FILE).is_file()
            )
            if samples is None:
                samples = available
            missing = sorted(set(samples) - set(available))
            if missing:
                raise ConfigError(f"{self.root}: samples {missing} lack {LST_FILE}/{NDVI_FILE}")
            _scenes = {sid: self._load(sid) for sid in samples}
        elif samples is not None:
            _scenes = {sid: _scenes[sid] for sid in samples}
        if not _scenes:
            raise ConfigError(f"{self.root}: no sample folders with {LST_FILE} and {NDVI_FILE}")
        self._scenes = _scenes
        self.sample_ids = list(_scenes)
        small = [s for s, sc in _scenes.items() if min(sc.lst_1km.shape) < patch_1km]
        if small:
            raise ConfigError(
                f"{self.root}: samples {small} are smaller than patch_1km={patch_1km}"
            )

    def _load(self, sample_id: str) -> ScenePair:
        folder = self.root / sample_id
        lst, lst_tf = _read_band(folder / LST_FILE, self._files_read)
        ndvi, ndvi_tf = _read_band(folder / NDVI_FILE, self._files_read)
        aligned = align_ndvi_to_lst(ndvi, ndvi_tf, lst.shape, lst_tf, name=str(folder / NDVI_FILE))
        return ScenePair(sample_id, lst, aligned, lst_tf)

    @property
    def scenes(self) -> dict[str, ScenePair]:
        """The loaded scenes by sample id."""
        return dict(self._scenes)

    @property
    def files_read(self) -> list[str]:
        """Every file path the dataset's band reader opened (sorted)."""
        return sorted(self._files_read)

    def subset(self, samples: Sequence[str], **options: Any) -> DevFolderPairs:
        """A dataset over ``samples`` sharing the loaded arrays (options may be replaced)."""
        kwargs = {
            "patch_1km": self.patch_1km,
            "min_valid": self.min_valid,
            "patches_per_epoch": self.patches_per_epoch,
            "seed": self.seed,
            "augment": self.augment,
            **options,
        }
        return DevFolderPairs(
            self.root,
            samples=list(samples),
            _scenes=self._scenes,
            _files_read=self._files_read,
            **kwargs,
        )

    def _draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        scene = self._scenes[self.sample_ids[int(rng.integers(len(self.sample_ids)))]]
        p = self.patch_1km
        y0 = _crop_origin(rng, scene.lst_1km.shape[0], p)
        x0 = _crop_origin(rng, scene.lst_1km.shape[1], p)
        return _crop(scene, y0, x0, p)

    def _passing(self) -> list[np.ndarray]:
        """Per sample (in ``sample_ids`` order), the window origins that pass ``min_valid``."""
        if self._windows is None:
            self._windows = [
                passing_windows(
                    valid_map(self._scenes[s].lst_1km, self._scenes[s].ndvi_250m),
                    self.patch_1km,
                    self.min_valid,
                )
                for s in self.sample_ids
            ]
        return self._windows

    def check_patches(self) -> int:
        n = sum(len(w) for w in self._passing())
        if n == 0:
            raise ConfigError(
                f"{self.root}: no {self.patch_1km}x{self.patch_1km} patch of samples "
                f"{self.sample_ids} has >= {self.min_valid:.0%} valid pixels (LST and NDVI); "
                "lower data.min_valid or data.patch_1km"
            )
        return n

    def _draw_passing(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        self.check_patches()
        windows = self._passing()
        sizes = np.array([len(w) for w in windows])
        k = int(rng.integers(int(sizes.sum())))
        s = int(np.searchsorted(np.cumsum(sizes), k, side="right"))
        y0, x0 = (int(v) for v in windows[s][k - int(sizes[:s].sum())])
        return _crop(self._scenes[self.sample_ids[s]], y0, x0, self.patch_1km)

    def validation_items(self) -> list[dict[str, torch.Tensor]]:
        """Each scene whole, cropped to a multiple of 8 (1 km pixels)."""
        items = []
        for scene in self._scenes.values():
            h = scene.lst_1km.shape[0] // 8 * 8
            w = scene.lst_1km.shape[1] // 8 * 8
            items.append(_item(scene.lst_1km[:h, :w], scene.ndvi_250m[: 4 * h, : 4 * w]))
        return items

    def stats_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        lst = np.concatenate([s.lst_1km.ravel() for s in self._scenes.values()])
        ndvi = np.concatenate([s.ndvi_250m.ravel() for s in self._scenes.values()])
        return lst, ndvi

    def describe(self) -> dict[str, Any]:
        """Card section; ``files`` and ``aster_files_read`` come from :attr:`files_read`."""
        kinds = sorted({Path(f).name for f in self._files_read})
        aster = sorted(f for f in self._files_read if is_aster_file(f))
        return {
            "source": "dev-folder",
            # the data set's name, not a machine path (cards are packaged data)
            "path": self.root.name,
            "samples": list(self.sample_ids),
            "files": kinds,
            "files_read_count": len(self._files_read),
            "aligned_by": "geotransform",
            "aster_files_read": bool(aster),
            "note": (
                f"derived from the dataset's record of the files its reader opened: "
                f"{len(self._files_read)} files, of kinds {', '.join(kinds) or 'none'}"
                + (f"; ASTER files read: {aster}" if aster else "; no ASTER file was opened")
            ),
        }


class CubePatches(PatchDataset):
    """Aligned patches drawn lazily from the input datacube (``lst_day`` and ``ndvi``).

    Days are the samples (the validation split is by day). On first use a coarse validity map
    (the valid fraction in patch-sized blocks, for every day of the window, of the 1 km pixels
    whose ``lst_day`` and 16 nested ``ndvi`` pixels are all valid) is computed through dask;
    patches are then drawn around blocks that pass ``min_valid`` (jittered by up to half a
    patch) and checked again on the exact window; after :data:`_MAX_TRIES` rejections a passing
    block itself is used. The variables read are recorded in :attr:`variables_read`.

    Parameters
    ----------
    cube_url
        Input cube (local path, ``file://`` or ``s3://``).
    start, end
        Inclusive date window.
    patch_1km, min_valid, patches_per_epoch, seed, augment
        As :class:`DevFolderPairs`.
    storage_options
        fsspec options (S3 endpoint, credentials).
    days
        Restrict to these ISO dates (used by :meth:`subset`).
    """

    def __init__(
        self,
        cube_url: str,
        *,
        start: dt.date,
        end: dt.date,
        patch_1km: int = 32,
        min_valid: float = 0.8,
        storage_options: dict[str, Any] | None = None,
        patches_per_epoch: int = 256,
        seed: int = 0,
        augment: bool = True,
        days: Sequence[str] | None = None,
        n_validation_patches: int = 8,
    ) -> None:
        super().__init__(
            patch_1km=patch_1km,
            min_valid=min_valid,
            patches_per_epoch=patches_per_epoch,
            seed=seed,
            augment=augment,
        )
        self.cube_url = str(cube_url)
        self.start, self.end = start, end
        self.storage_options = dict(storage_options or {})
        self.n_validation_patches = n_validation_patches
        ds = _open_cube(self.cube_url, self.storage_options)
        for var in ("lst_day", "ndvi"):
            if var not in ds:
                raise CubeError(f"{redact_url(self.cube_url)}: cube has no variable {var!r}")
        times = ds["time"].values.astype("datetime64[D]")
        lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
        all_days = [str(t) for t in times if lo <= t <= hi]
        if days is not None:
            unknown = sorted(set(days) - set(all_days))
            if unknown:
                raise ConfigError(f"{redact_url(self.cube_url)}: days {unknown} not in the cube")
            all_days = [d for d in all_days if d in set(days)]
        if not all_days:
            raise CubeError(
                f"{redact_url(self.cube_url)}: no days between {start} and {end} in the cube"
            )
        self.sample_ids = all_days
        self._time_index = {str(t): i for i, t in enumerate(times)}
        self._ds = ds
        h, w = ds["lst_day"].shape[-2:]
        if min(h, w) < patch_1km:
            raise ConfigError(f"{redact_url(self.cube_url)}: cube smaller than patch_1km")
        self._candidates: np.ndarray | None = None
        self._variables_read: set[str] = set()

    @property
    def variables_read(self) -> list[str]:
        """The cube variables this dataset has read (sorted)."""
        return sorted(self._variables_read)

    # -- lazy helpers
    def _block_validity(self) -> np.ndarray:
        """(n, 3) int array of (day index in ``sample_ids``, y0, x0) of the patch-sized blocks
        whose valid fraction (LST and NDVI, as :func:`valid_fraction`) passes ``min_valid``
        (computed once, chunk by chunk)."""
        if self._candidates is None:
            import dask
            import dask.array as da

            p = self.patch_1km
            idx = [self._time_index[d] for d in self.sample_ids]
            lst = self._ds["lst_day"].isel(time=idx).data
            ndvi = self._ds["ndvi"].isel(time=idx).data
            self._variables_read.update(("lst_day", "ndvi"))
            h, w = lst.shape[-2:]
            if ndvi.shape[-2:] != (4 * h, 4 * w):
                raise CubeError(
                    f"{redact_url(self.cube_url)}: ndvi {ndvi.shape[-2:]} is not 4x lst_day "
                    f"{(h, w)}"
                )
            lst = da.asarray(lst)
            ndvi = da.asarray(ndvi)
            ndvi_ok = da.coarsen(np.all, da.isfinite(ndvi), {1: 4, 2: 4})
            valid = (da.isfinite(lst) & ndvi_ok)[:, : h // p * p, : w // p * p]
            frac = da.coarsen(np.mean, valid.astype(np.float32), {1: p, 2: p})
            with dask.config.set(scheduler="synchronous"):
                values = np.asarray(frac.compute())
            t, i, j = np.nonzero(values >= max(self.min_valid, 1e-9) - 1e-6)
            if t.size == 0:
                raise CubeError(
                    f"{redact_url(self.cube_url)}: no {p}x{p} patch with >= {self.min_valid:.0%} "
                    f"valid pixels (LST and NDVI) between {self.start} and {self.end}"
                )
            self._candidates = np.stack([t, i * p, j * p], axis=1).astype(np.int64)
        return self._candidates

    def _read(self, day: str, y0: int, x0: int) -> tuple[np.ndarray, np.ndarray]:
        import dask

        p = self.patch_1km
        t = self._time_index[day]
        lst_da, ndvi_da = self._ds["lst_day"], self._ds["ndvi"]
        self._variables_read.update(("lst_day", "ndvi"))
        with dask.config.set(scheduler="synchronous"):
            lst = lst_da.isel(
                {
                    lst_da.dims[0]: t,
                    lst_da.dims[1]: slice(y0, y0 + p),
                    lst_da.dims[2]: slice(x0, x0 + p),
                }
            ).values
            ndvi = ndvi_da.isel(
                {
                    ndvi_da.dims[0]: t,
                    ndvi_da.dims[1]: slice(4 * y0, 4 * (y0 + p)),
                    ndvi_da.dims[2]: slice(4 * x0, 4 * (x0 + p)),
                }
            ).values
        return np.asarray(lst, np.float32), np.asarray(ndvi, np.float32)

    def _draw(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        cand = self._block_validity()
        t, y0, x0 = (int(v) for v in cand[int(rng.integers(len(cand)))])
        day = self.sample_ids[t]
        p = self.patch_1km
        h, w = self._ds["lst_day"].shape[-2:]
        # jitter by up to half a patch so patches are not locked to the block grid
        y0 = int(np.clip(y0 + rng.integers(-(p // 2), p // 2 + 1), 0, h - p))
        x0 = int(np.clip(x0 + rng.integers(-(p // 2), p // 2 + 1), 0, w - p))
        return self._read(day, y0, x0)

    def check_patches(self) -> int:
        return len(self._block_validity())

    def _draw_passing(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        cand = self._block_validity()  # whole blocks that pass, without jitter
        t, y0, x0 = (int(v) for v in cand[int(rng.integers(len(cand)))])
        return self._read(self.sample_ids[t], y0, x0)

    def subset(self, days: Sequence[str], **options: Any) -> CubePatches:
        """A dataset over ``days`` of the same cube (options may be replaced)."""
        kwargs = {
            "patch_1km": self.patch_1km,
            "min_valid": self.min_valid,
            "storage_options": self.storage_options,
            "patches_per_epoch": self.patches_per_epoch,
            "seed": self.seed,
            "augment": self.augment,
            "n_validation_patches": self.n_validation_patches,
            **options,
        }
        return CubePatches(self.cube_url, start=self.start, end=self.end, days=days, **kwargs)

    def validation_items(self) -> list[dict[str, torch.Tensor]]:
        """``n_validation_patches`` fixed patches (seeded, un-augmented, valid ones first)."""
        rng = np.random.default_rng([self.seed, 2**31 - 1])
        items = []
        for _ in range(self.n_validation_patches):
            lst, ndvi = self._draw(rng)
            if valid_fraction(lst, ndvi) >= self.min_valid:
                items.append(_item(lst, ndvi))
        return items

    def stats_arrays(self, n: int = 32) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng([self.seed, 2**31 - 2])
        pairs = [self._draw(rng) for _ in range(n)]
        return (
            np.concatenate([a.ravel() for a, _ in pairs]),
            np.concatenate([b.ravel() for _, b in pairs]),
        )

    def describe(self) -> dict[str, Any]:
        return {
            "source": "cube",
            "path": redact_url(self.cube_url),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "samples": list(self.sample_ids),
            "variables": self.variables_read,
            "min_valid": self.min_valid,
            "aster_files_read": any(is_aster_file(v) for v in self._variables_read),
            "note": "derived from the dataset's record of the cube variables it read",
        }


def _open_cube(url: str, storage_options: dict[str, Any]) -> Any:
    from lstcloud.cube import open_cube

    return open_cube(url, storage_options=storage_options or None)


def open_training_data(
    path: str | None,
    *,
    source: str = "auto",
    samples: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    patch_1km: int = 32,
    min_valid: float = 0.8,
    patches_per_epoch: int = 256,
    seed: int = 0,
    augment: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> DevFolderPairs | CubePatches:
    """Open a dev folder or a cube as a patch dataset (``source="auto"`` guesses from ``path``)."""
    if path is None:
        path = str(default_dev_folder())
        source = "dev-folder" if source == "auto" else source
    if source == "auto":
        local = Path(path)
        is_dev = "://" not in path and local.is_dir() and not (local / "zarr.json").exists()
        source = "dev-folder" if is_dev else "cube"
    common = {
        "patch_1km": patch_1km,
        "min_valid": min_valid,
        "patches_per_epoch": patches_per_epoch,
        "seed": seed,
        "augment": augment,
    }
    if source == "dev-folder":
        return DevFolderPairs(path, samples=samples, **common)
    if start is None or end is None:
        raise ConfigError(f"{redact_url(path)}: data.start and data.end are required for a cube")
    return CubePatches(path, start=start, end=end, storage_options=storage_options, **common)
