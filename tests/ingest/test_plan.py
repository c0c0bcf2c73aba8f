"""Planning (day, tile) tasks from catalogue granules: composites, gaps, duplicates."""

from __future__ import annotations

import datetime as dt

import pytest

from lstcloud.catalog import Granule
from lstcloud.core.dates import day_range as daterange
from lstcloud.errors import ConfigError
from lstcloud.ingest.plan import DuplicateGranuleWarning, plan_tasks
from lstcloud.ingest.sources import sources_for
from lstcloud.products import get_product


def _granule(product: str, tile: str, date: dt.date, item: str | None = None) -> Granule:
    spec = get_product(product)
    return Granule(
        product=product,
        tile=tile,
        date=date,
        end_date=date + dt.timedelta(days=spec.composite_days - 1),
        item_id=item or f"{product}.A{date:%Y%j}.{tile}.061",
        href=f"/data/{product}.{tile}.{date}.hdf",
        provider="lpcloud",
        collection=f"{product}_061",
    )


def test_daterange_is_inclusive_and_rejects_reversed_windows() -> None:
    days = daterange(dt.date(2024, 2, 27), dt.date(2024, 3, 1))
    assert days == [dt.date(2024, 2, 27), dt.date(2024, 2, 28), dt.date(2024, 2, 29),
                    dt.date(2024, 3, 1)]
    with pytest.raises(ValueError, match="before start"):
        daterange(dt.date(2024, 3, 2), dt.date(2024, 3, 1))


def test_daily_sources_pair_granules_of_the_same_day_and_report_gaps() -> None:
    sources = sources_for("lpcloud")
    specs = sources.specs(include_night=False)
    d1, d2 = dt.date(2024, 7, 1), dt.date(2024, 7, 2)
    granules = [
        _granule("MOD21A1D", "h18v04", d1),
        _granule("MOD09GQ", "h18v04", d1),
        _granule("MOD21A1D", "h18v04", d2),  # no MOD09GQ on day 2
        _granule("MOD21A1D", "h19v04", d1),  # an unrelated tile of the catalogue
    ]
    tasks = plan_tasks(granules, dates=[d1, d2], tiles=["h18v04"], specs=specs)
    assert [(t.date, t.tile) for t in tasks] == [(d1, "h18v04"), (d2, "h18v04")]
    assert tasks[0].missing == []
    assert tasks[0].granules["lst"].date == d1
    assert tasks[0].granules["ndvi"].product == "MOD09GQ"
    assert tasks[1].missing == ["ndvi"]
    assert len(tasks[0].item_ids) == 2


def test_composite_ndvi_covers_every_day_of_its_period() -> None:
    sources = sources_for("planetary-computer")
    specs = sources.specs(include_night=False)
    assert specs["ndvi"].name == "MOD09Q1"
    period = dt.date(2024, 1, 1) + dt.timedelta(days=176)  # 8-day period starting on DOY 177
    assert specs["ndvi"].period_start(period + dt.timedelta(days=3)) == period
    days = [period + dt.timedelta(days=i) for i in range(8)]
    granules = [_granule("MOD09Q1", "h18v04", period)]
    granules += [_granule("MOD11A1", "h18v04", d) for d in days]
    tasks = plan_tasks(granules, dates=days, tiles=["h18v04"], specs=specs)
    assert all(t.missing == [] for t in tasks)
    assert {t.granules["ndvi"].item_id for t in tasks} == {granules[0].item_id}
    # the next day belongs to the next period, which the catalogue does not have
    nxt = plan_tasks(granules, dates=[period + dt.timedelta(days=8)], tiles=["h18v04"],
                     specs=specs)
    assert set(nxt[0].missing) == {"ndvi", "lst"}


def test_duplicate_granules_resolve_to_the_latest_id_with_a_warning() -> None:
    specs = sources_for("lpcloud").specs(include_night=False)
    d = dt.date(2024, 7, 1)
    old = _granule("MOD21A1D", "h18v04", d, item="MOD21A1D.A2024183.h18v04.061.2024184000000")
    new = _granule("MOD21A1D", "h18v04", d, item="MOD21A1D.A2024183.h18v04.061.2024190000000")
    with pytest.warns(DuplicateGranuleWarning, match="using MOD21A1D.A2024183.h18v04.061.20241900"):
        tasks = plan_tasks([new, old], dates=[d], tiles=["h18v04"], specs=specs)
    assert tasks[0].granules["lst"].item_id == new.item_id


def test_night_sources_follow_the_day_product() -> None:
    assert sources_for("lpcloud").lst_night == "MOD21A1N"
    assert sources_for("planetary-computer").lst_night == "MOD11A1"
    assert sources_for("lpcloud", lst="MOD11A1").lst_night == "MOD11A1"
    specs = sources_for("lpcloud").specs(include_night=True)
    assert specs["lst_night"].name == "MOD21A1N"


def test_sources_reject_products_the_provider_or_role_cannot_serve() -> None:
    with pytest.raises(ConfigError, match="unknown provider"):
        sources_for("earth-search")
    with pytest.raises(ConfigError, match="MOD21A1D"):
        sources_for("planetary-computer", lst="MOD21A1D")  # not on Planetary Computer
    with pytest.raises(ConfigError, match="cannot serve as the ndvi source"):
        sources_for("lpcloud", ndvi="MOD11A1")
