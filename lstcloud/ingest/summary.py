"""What an ingest run did: outcomes per (day, tile) and an :class:`IngestSummary`."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["IngestSummary", "OutcomeState", "TileDayOutcome"]

#: ``complete``: written with valid pixels; ``empty``: written, but no valid LST (all cloud or
#: fill: a real observation, kept); ``no_input``: the catalogue has no granule for it (e.g. an
#: ocean tile): nothing written, not an error; ``failed``: nothing usable written (see
#: ``reasons``); ``skipped``: already complete in the cube, not touched.
#: ``lst_only``: the LST written, the 250 m granule missing from the catalogue (not an error).
OutcomeState = Literal["complete", "empty", "no_input", "lst_only", "failed", "skipped"]


@dataclass(frozen=True)
class TileDayOutcome:
    """The result of ingesting one (day, tile).

    Parameters
    ----------
    date, tile
        The day and the MODIS tile id (``"h18v04"``).
    state
        One of :data:`OutcomeState`.
    reasons
        Human-readable reasons for ``failed`` / ``empty`` (each names the granule or URL).
    items
        STAC item ids read.
    valid_lst, valid_ndvi
        Valid (not NaN) pixels written for the day LST (1 km) and the NDVI (250 m).
    bytes_read
        Size of the granule files / assets read (for throughput figures).
    attempts
        How many tries the transient errors took (the most of any one step).
    seconds
        Wall time of the task on its worker.
    retries
        One line per transient error that was retried (what, attempt, error).
    """

    date: dt.date
    tile: str
    state: OutcomeState
    reasons: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    valid_lst: int = 0
    valid_ndvi: int = 0
    bytes_read: int = 0
    attempts: int = 1
    seconds: float = 0.0
    retries: tuple[str, ...] = ()


@dataclass
class IngestSummary:
    """The closing account of an ingest run.

    Attributes
    ----------
    cube_url
        The cube written (credentials never included).
    found
        Granules the catalogue returned for the window and region.
    outcomes
        One outcome per (day, tile) of the window.
    seconds
        Wall time of the whole run.
    """

    cube_url: str
    found: int = 0
    outcomes: list[TileDayOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def _count(self, *states: str) -> int:
        return sum(1 for o in self.outcomes if o.state in states)

    @property
    def written(self) -> int:
        """(day, tile) written in this run (complete or empty)."""
        return self._count("complete", "empty")

    @property
    def skipped(self) -> int:
        """(day, tile) already complete before the run."""
        return self._count("skipped")

    @property
    def failed(self) -> list[TileDayOutcome]:
        """The failed (day, tile), each with its reasons."""
        return [o for o in self.outcomes if o.state == "failed"]

    @property
    def no_input(self) -> list[TileDayOutcome]:
        """The (day, tile) the catalogue has no granule for (not failures)."""
        return [o for o in self.outcomes if o.state == "no_input"]

    @property
    def retries(self) -> int:
        """Transient errors retried in this run."""
        return sum(len(o.retries) for o in self.outcomes)

    @property
    def bytes_read(self) -> int:
        """Bytes of granules read in this run."""
        return sum(o.bytes_read for o in self.outcomes)

    @property
    def ok(self) -> bool:
        """True when nothing failed (``no_input`` (day, tile) are not failures)."""
        return not self.failed

    def counts(self) -> dict[str, int]:
        """Outcomes per state."""
        return dict(Counter(o.state for o in self.outcomes))

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable account (for logs and the CLI's ``--json``)."""
        return {
            "cube": self.cube_url,
            "found": self.found,
            "written": self.written,
            "skipped": self.skipped,
            "failed": [
                {"date": o.date.isoformat(), "tile": o.tile, "reasons": list(o.reasons)}
                for o in self.failed
            ],
            "no_input": [
                {"date": o.date.isoformat(), "tile": o.tile, "reasons": list(o.reasons)}
                for o in self.no_input
            ],
            "lst_only": [
                {"date": o.date.isoformat(), "tile": o.tile, "reasons": list(o.reasons)}
                for o in self.outcomes
                if o.state == "lst_only"
            ],
            "counts": self.counts(),
            "retries": self.retries,
            "bytes_read": self.bytes_read,
            "seconds": round(self.seconds, 3),
        }

    def format(self) -> str:
        """A few lines for people: found, written, skipped, failed with reasons."""
        lines = [
            f"ingest into {self.cube_url}: {self.found} granules found, "
            f"{self.written} (day, tile) written ({self._count('empty')} without valid LST), "
            f"{self.skipped} skipped as complete, {len(self.no_input)} without input, "
            f"{self._count('lst_only')} with LST only, "
            f"{len(self.failed)} failed in {self.seconds:.1f} s"
            + (f" ({self.retries} transient errors retried)" if self.retries else "")
        ]
        for o in self.failed:
            for reason in o.reasons or ("unknown reason",):
                lines.append(f"  FAILED {o.date.isoformat()} {o.tile}: {reason}")
        for o in self.outcomes:
            if o.state == "empty":
                lines.append(f"  empty  {o.date.isoformat()} {o.tile}: {'; '.join(o.reasons)}")
            elif o.state == "no_input":
                lines.append(f"  no input {o.date.isoformat()} {o.tile}: {'; '.join(o.reasons)}")
            elif o.state == "lst_only":
                lines.append(f"  lst only {o.date.isoformat()} {o.tile}: {'; '.join(o.reasons)}")
        return "\n".join(lines)
