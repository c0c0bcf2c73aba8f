"""Completion records: which (date, tile) of a cube are complete, empty, no_input, failed or
missing.

One small JSON object per (date, tile) at ``<cube>/_lstcloud/status/<YYYY-MM-DD>/<tile>.json``,
written only AFTER the data of that (date, tile): a crash between the data and the record leaves
no record, i.e. "missing", which a rerun redoes, never something that looks complete. States:

- ``complete``: the data is written;
- ``empty``: the granules were read but hold no valid day LST or no valid NDVI (all fill, all
  cloud or all rejected by QC): a real observation, written as it is (NaN where invalid);
- ``no_input``: the catalogue had no granule for (one of the products of) the (date, tile) when
  it was searched, e.g. an ocean tile or a day the instrument did not acquire: nothing is
  written; ``reasons`` names the product ("no MOD09GQ granule for h18v04 2024-07-03 in the
  catalogue"). Not an error. (Added after ``complete`` / ``empty`` / ``failed``, whose meaning
  is unchanged; an older lstcloud skips such records with a warning, i.e. sees them as missing.)
- ``lst_only``: the LST granule was read and written but the catalogue had no 250 m (NDVI)
  granule: the good LST is kept; ``reasons`` names the missing product. For the 250 m product
  the tile counts as without input (like ``no_input``), and an ingest rerun searches again
  for its NDVI exactly as for ``no_input`` ones;
- ``failed``: the (date, tile) could not be written; ``reasons`` says why;
- ``missing`` (no record; what :func:`tile_day_state` returns): never attempted, or interrupted.

Done (:data:`DONE_STATES`, needing no more work): ``complete``, ``empty`` and ``no_input``. An
ingest rerun redoes ``failed`` and missing (date, tile); it searches the catalogue again for
``no_input`` ones only when it searches anyway for other work in the same days and tiles.

A day is complete (:func:`day_complete`) when every tile of it is ``complete``, ``empty`` or
``no_input``: a tile the catalogue has no granule for (ocean) must not hold the day back forever;
pass ``strict=True`` to require granules for every tile (``no_input`` then counts as not done).

Records are replaced atomically (an object PUT on S3, write-and-rename on a local disk).
Storage failures raise :class:`~lstcloud.cube.errors.TransientCubeError` when worth retrying
(S3 5xx / throttling / timeouts / connection errors), else :class:`~lstcloud.errors.CubeError`;
both name the cube, the date and the tile.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from lstcloud import __version__
from lstcloud.core.dates import as_date
from lstcloud.core.errors import ConfigError, LstcloudWarning
from lstcloud.core.redact import redact_text, redact_url
from lstcloud.core.storage import filesystem, join, protocol_of, strip_protocol
from lstcloud.cube.errors import cube_io_error
from lstcloud.grid import Tile

__all__ = [
    "DONE_STATES",
    "RECHECK_STATES",
    "STATES",
    "WRITTEN_STATES",
    "TileDayStatus",
    "day_complete",
    "pending",
    "read_status",
    "status_url",
    "tile_day_state",
    "write_status",
]

State = Literal["complete", "failed", "empty", "no_input", "lst_only"]
#: The states a record can hold (``"missing"`` is the absence of a record).
STATES: tuple[str, ...] = ("complete", "failed", "empty", "no_input", "lst_only")
#: States that need no more work.
DONE_STATES: frozenset[str] = frozenset({"complete", "empty", "no_input", "lst_only"})
#: States a rerun searches the catalogue again for (a granule may have been published since).
RECHECK_STATES: frozenset[str] = frozenset({"no_input", "lst_only"})
#: States whose data was read from granules and written (what ``strict`` completeness asks for).
WRITTEN_STATES: frozenset[str] = frozenset({"complete", "empty"})
_STATUS_DIR = "_lstcloud/status"


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


@dataclass(frozen=True)
class TileDayStatus:
    """The completion record of one (date, tile).

    Parameters
    ----------
    state
        ``"complete"``, ``"failed"``, ``"empty"`` or ``"no_input"`` (see the module docstring).
    reasons
        Why it failed or is empty (messages; URLs in them are redacted when written).
    items
        The STAC item ids (or hrefs) the data came from.
    written_at
        ISO-8601 UTC time of the record (default: now).
    software_version
        lstcloud version that wrote it.
    extra
        Free JSON-able details (valid-pixel counts, timings ...).
    """

    state: State
    reasons: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    written_at: str = field(default_factory=_now)
    software_version: str = __version__
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ConfigError(f"status state must be one of {STATES}, got {self.state!r}")
        if isinstance(self.reasons, str) or isinstance(self.items, str):
            raise ConfigError("reasons and items must be sequences of strings, not a string")
        object.__setattr__(self, "reasons", tuple(redact_text(str(r)) for r in self.reasons))
        object.__setattr__(self, "items", tuple(redact_text(str(i)) for i in self.items))

    @property
    def done(self) -> bool:
        """Whether the (date, tile) needs no more work (complete, empty or no_input)."""
        return self.state in DONE_STATES

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "state": self.state,
            "reasons": list(self.reasons),
            "items": list(self.items),
            "written_at": self.written_at,
            "software_version": self.software_version,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TileDayStatus:
        """Inverse of :meth:`to_dict`."""
        return cls(
            state=data["state"],
            reasons=tuple(data.get("reasons", ())),
            items=tuple(data.get("items", ())),
            written_at=str(data.get("written_at", "")),
            software_version=str(data.get("software_version", "")),
            extra=dict(data.get("extra", {})),
        )


def status_url(url: str, date: dt.date | str, tile: Tile | str) -> str:
    """Where the record of (date, tile) lives: ``<cube>/_lstcloud/status/<date>/<tile>.json``."""
    return join(str(url), _STATUS_DIR, as_date(date).isoformat(), f"{Tile.parse(tile).id}.json")


def write_status(
    url: str,
    date: dt.date | str,
    tile: Tile | str,
    status: TileDayStatus,
    *,
    storage_options: dict[str, Any] | None = None,
) -> None:
    """Write (replace) the record of (date, tile). Call it only after the data is written.

    Raises
    ------
    TransientCubeError
        A storage failure worth retrying (the write is idempotent).
    CubeError
        Any other storage failure; both name the cube, date and tile.
    """
    if not isinstance(status, TileDayStatus):
        raise ConfigError(f"status must be a TileDayStatus, got {type(status).__name__}")
    target = status_url(url, date, tile)
    payload = json.dumps(status.to_dict(), sort_keys=True).encode()
    try:
        if protocol_of(target) == "file":
            path = strip_protocol(target)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(payload)
                os.replace(tmp, path)
            except BaseException:
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        else:
            filesystem(target, storage_options).pipe_file(strip_protocol(target), payload)
    except Exception as exc:  # OSError from s3fs / the disk, botocore / aiohttp errors
        what = (
            f"cannot write the status record of {as_date(date)} {Tile.parse(tile).id} in the cube "
            f"{redact_url(str(url))}"
        )
        raise cube_io_error(exc, what=what) from exc


def read_status(
    url: str,
    *,
    storage_options: dict[str, Any] | None = None,
    date: dt.date | str | None = None,
    dates: Iterable[dt.date | str] | None = None,
) -> dict[tuple[dt.date, str], TileDayStatus]:
    """The records of the cube: ``{(date, tile_id): TileDayStatus}``.

    Parameters
    ----------
    url
        The cube.
    storage_options
        fsspec options for ``s3://``.
    date
        Only the records of this day (one prefix listed).
    dates
        Only the records of these days: only their ``status/<date>/`` prefixes are listed and
        read, so the cost follows the window, not the cube's history. Default (neither
        ``date`` nor ``dates``): every record of the cube.

    Unreadable records (e.g. cut short by hand) are skipped with a :class:`LstcloudWarning` and
    so count as missing.

    Raises
    ------
    TransientCubeError
        Listing or reading failed for a reason worth retrying.
    CubeError
        Any other storage failure (the message names the cube).
    """
    base_root = join(str(url), _STATUS_DIR)
    if date is not None and dates is not None:
        raise ConfigError("read_status: give date or dates, not both")
    if date is not None:
        dates = [date]
    if dates is None:
        roots = [base_root]
    else:
        roots = [join(base_root, day.isoformat()) for day in sorted({as_date(d) for d in dates})]
        if not roots:
            return {}
    fs = filesystem(roots[0], storage_options)
    paths: list[str] = []
    for root in roots:
        try:
            paths.extend(p for p in fs.find(strip_protocol(root)) if p.endswith(".json"))
        except FileNotFoundError:
            continue
        except (OSError, ValueError, TimeoutError) as exc:
            what = f"cannot list the status records under {redact_url(root)}"
            raise cube_io_error(exc, what=what) from exc
    if not paths:
        return {}
    try:
        contents = fs.cat(paths)
    except (OSError, ValueError, TimeoutError) as exc:
        what = f"cannot read the status records under {redact_url(base_root)}"
        raise cube_io_error(exc, what=what) from exc
    if not isinstance(contents, dict):  # a single path: fsspec returns the bytes
        contents = {paths[0]: contents}
    out: dict[tuple[dt.date, str], TileDayStatus] = {}
    for path, raw in contents.items():
        parts = path.rstrip("/").split("/")
        try:
            day = dt.date.fromisoformat(parts[-2])
            tile = Tile.parse(parts[-1][: -len(".json")]).id
            record = TileDayStatus.from_dict(json.loads(raw))
        except (ValueError, KeyError, TypeError, ConfigError) as exc:
            warnings.warn(
                f"ignoring unreadable status record {redact_url(path)}: {exc}",
                LstcloudWarning,
                stacklevel=2,
            )
            continue
        out[(day, tile)] = record
    return out


def tile_day_state(
    url: str,
    date: dt.date | str,
    tile: Tile | str,
    *,
    storage_options: dict[str, Any] | None = None,
) -> str:
    """``"complete"``, ``"empty"``, ``"no_input"``, ``"failed"`` or ``"missing"`` (no record or
    an unreadable one) for one (date, tile)."""
    target = status_url(url, date, tile)
    fs = filesystem(target, storage_options)
    try:
        raw = fs.cat_file(strip_protocol(target))
    except FileNotFoundError:
        return "missing"
    except (OSError, TimeoutError) as exc:
        what = f"cannot read the status record {redact_url(target)}"
        raise cube_io_error(exc, what=what) from exc
    try:
        return TileDayStatus.from_dict(json.loads(raw)).state
    except (ValueError, KeyError, TypeError, ConfigError):
        return "missing"


def pending(
    url: str,
    *,
    dates: Iterable[dt.date | str],
    tiles: Iterable[Tile | str],
    storage_options: dict[str, Any] | None = None,
    records: dict[tuple[dt.date, str], TileDayStatus] | None = None,
    strict: bool = False,
) -> list[tuple[dt.date, str]]:
    """The (date, tile) pairs that still need work (failed or missing), sorted.

    Only the records of ``dates`` are read. With ``strict=True``, ``no_input`` (date, tile) are
    pending too (the catalogue had no granule for them).
    """
    days = sorted({as_date(d) for d in dates})
    if records is not None:
        known = records
    else:
        known = read_status(url, storage_options=storage_options, dates=days)
    done = WRITTEN_STATES if strict else DONE_STATES
    todo = []
    for day in days:
        for tile in sorted({Tile.parse(t) for t in tiles}):
            record = known.get((day, tile.id))
            if record is None or record.state not in done:
                todo.append((day, tile.id))
    return todo


def day_complete(
    url: str,
    date: dt.date | str,
    tiles: Iterable[Tile | str],
    *,
    storage_options: dict[str, Any] | None = None,
    strict: bool = False,
) -> bool:
    """Whether every tile of ``tiles`` is done on ``date``.

    Done means ``complete`` or ``empty`` (all cloud / all fill: a real, written observation) or
    ``no_input`` (the catalogue has no granule for the tile, e.g. an ocean tile). A ``failed``
    tile or one without a record (never attempted, or interrupted) makes the day incomplete.
    ``strict=True`` also counts ``no_input`` tiles as incomplete (every tile must have been read
    from a granule).
    """
    return not pending(
        url, dates=[date], tiles=tiles, storage_options=storage_options, strict=strict
    )
