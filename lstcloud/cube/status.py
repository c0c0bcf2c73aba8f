"""Completion records: which (date, tile) of a cube are complete, empty, failed or missing.

One small JSON object per (date, tile) at ``<cube>/_lstcloud/status/<YYYY-MM-DD>/<tile>.json``,
written only AFTER the data of that (date, tile): a crash between the data and the record leaves
no record, i.e. "missing", which a rerun redoes, never something that looks complete. States:

- ``complete``: the data is written;
- ``empty``: nothing valid to write (all fill / all cloud, or no granule): done, no data;
- ``failed``: the (date, tile) could not be written; ``reasons`` says why;
- ``missing`` (no record): never attempted, or interrupted.

Records are replaced atomically (an object PUT on S3, write-and-rename on a local disk).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from lstcloud import __version__
from lstcloud.errors import ConfigError, CubeError, LstcloudWarning, redact_url
from lstcloud.grid import Tile
from lstcloud.storage import filesystem, join, protocol_of, strip_protocol

__all__ = [
    "DONE_STATES",
    "STATES",
    "TileDayStatus",
    "day_complete",
    "pending",
    "read_status",
    "status_url",
    "tile_day_state",
    "write_status",
]

State = Literal["complete", "failed", "empty"]
#: The states a record can hold.
STATES: tuple[str, ...] = ("complete", "failed", "empty")
#: States that need no more work.
DONE_STATES: frozenset[str] = frozenset({"complete", "empty"})
_STATUS_DIR = "_lstcloud/status"
_URL_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _redact_text(text: str) -> str:
    return _URL_RE.sub(lambda m: redact_url(m.group(0)), text)


@dataclass(frozen=True)
class TileDayStatus:
    """The completion record of one (date, tile).

    Parameters
    ----------
    state
        ``"complete"``, ``"failed"`` or ``"empty"``.
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
        object.__setattr__(self, "reasons", tuple(_redact_text(str(r)) for r in self.reasons))
        object.__setattr__(self, "items", tuple(_redact_text(str(i)) for i in self.items))

    @property
    def done(self) -> bool:
        """Whether the (date, tile) needs no more work (complete or empty)."""
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


def _date(value: dt.date | str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"not a date: {value!r}") from exc


def status_url(url: str, date: dt.date | str, tile: Tile | str) -> str:
    """Where the record of (date, tile) lives: ``<cube>/_lstcloud/status/<date>/<tile>.json``."""
    return join(str(url), _STATUS_DIR, _date(date).isoformat(), f"{Tile.parse(tile).id}.json")


def write_status(
    url: str,
    date: dt.date | str,
    tile: Tile | str,
    status: TileDayStatus,
    *,
    storage_options: dict[str, Any] | None = None,
) -> None:
    """Write (replace) the record of (date, tile). Call it only after the data is written."""
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
    except OSError as exc:
        raise CubeError(f"cannot write the status record {redact_url(target)}: {exc}") from exc


def read_status(
    url: str,
    *,
    storage_options: dict[str, Any] | None = None,
    date: dt.date | str | None = None,
) -> dict[tuple[dt.date, str], TileDayStatus]:
    """All records of the cube (or of one ``date``): ``{(date, tile_id): TileDayStatus}``.

    Unreadable records (e.g. cut short by hand) are skipped with a :class:`LstcloudWarning` and
    so count as missing.
    """
    root = join(str(url), _STATUS_DIR)
    if date is not None:
        root = join(root, _date(date).isoformat())
    fs = filesystem(root, storage_options)
    base = strip_protocol(root)
    try:
        paths = [p for p in fs.find(base) if p.endswith(".json")]
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CubeError(f"cannot list the status records under {redact_url(root)}: {exc}") from exc
    if not paths:
        return {}
    try:
        contents = fs.cat(paths)
    except OSError as exc:
        raise CubeError(f"cannot read the status records under {redact_url(root)}: {exc}") from exc
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
    """``"complete"``, ``"empty"``, ``"failed"`` or ``"missing"`` for one (date, tile)."""
    target = status_url(url, date, tile)
    fs = filesystem(target, storage_options)
    try:
        raw = fs.cat_file(strip_protocol(target))
        return TileDayStatus.from_dict(json.loads(raw)).state
    except FileNotFoundError:
        return "missing"
    except (ValueError, KeyError, TypeError, ConfigError):
        return "missing"


def pending(
    url: str,
    *,
    dates: Iterable[dt.date | str],
    tiles: Iterable[Tile | str],
    storage_options: dict[str, Any] | None = None,
    records: dict[tuple[dt.date, str], TileDayStatus] | None = None,
) -> list[tuple[dt.date, str]]:
    """The (date, tile) pairs that still need work (failed or missing), sorted."""
    days = sorted({_date(d) for d in dates})
    if records is not None:
        known = records
    elif len(days) == 1:
        known = read_status(url, storage_options=storage_options, date=days[0])
    else:
        known = read_status(url, storage_options=storage_options)
    todo = []
    for day in days:
        for tile in sorted({Tile.parse(t) for t in tiles}):
            record = known.get((day, tile.id))
            if record is None or not record.done:
                todo.append((day, tile.id))
    return todo


def day_complete(
    url: str,
    date: dt.date | str,
    tiles: Iterable[Tile | str],
    *,
    storage_options: dict[str, Any] | None = None,
) -> bool:
    """Whether every tile of ``tiles`` is done (complete or empty) on ``date``."""
    return not pending(url, dates=[date], tiles=tiles, storage_options=storage_options)
