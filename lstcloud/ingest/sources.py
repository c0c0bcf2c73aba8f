"""Which products feed the input cube, per STAC provider.

Planetary Computer has no daily 250 m reflectance nor MOD21A1: daily 1 km LST comes from
MOD11A1 (day and night in one granule) and the 250 m guide from the 8-day MOD09Q1 red/NIR
composite. NASA CMR-STAC (``lpcloud``) serves the seed paper's products: MOD21A1D (day),
MOD21A1N (night) and the daily MOD09GQ.
"""

from __future__ import annotations

from dataclasses import dataclass

from lstcloud.core.errors import ConfigError
from lstcloud.products import PROVIDERS, ProductSpec, get_product

__all__ = ["DEFAULT_SOURCES", "Sources", "sources_for"]


@dataclass(frozen=True)
class Sources:
    """The products read for one cube.

    Parameters
    ----------
    lst
        Product giving the day LST (role ``lst_day``) and its QC and view time.
    ndvi
        Product giving the 250 m NDVI (role ``ndvi``), directly or from red/NIR.
    lst_night
        Product giving the night LST when night is asked (may equal ``lst``, as for MOD11A1).
    """

    lst: str
    ndvi: str
    lst_night: str | None = None

    def specs(self, *, include_night: bool) -> dict[str, ProductSpec]:
        """Product specs by part (``"lst"``, ``"ndvi"``, optionally ``"lst_night"``)."""
        parts = {"lst": get_product(self.lst), "ndvi": get_product(self.ndvi)}
        if include_night:
            if self.lst_night is None:
                raise ConfigError(f"no night LST product configured (day product {self.lst})")
            parts["lst_night"] = get_product(self.lst_night)
        return parts

    def products(self, *, include_night: bool) -> list[str]:
        """Distinct product names to search for."""
        names = [spec.name for spec in self.specs(include_night=include_night).values()]
        return list(dict.fromkeys(names))


#: Default sources per provider.
DEFAULT_SOURCES: dict[str, Sources] = {
    "planetary-computer": Sources(lst="MOD11A1", ndvi="MOD09Q1", lst_night="MOD11A1"),
    "lpcloud": Sources(lst="MOD21A1D", ndvi="MOD09GQ", lst_night="MOD21A1N"),
}


def sources_for(
    provider: str, *, lst: str | None = None, ndvi: str | None = None, lst_night: str | None = None
) -> Sources:
    """The provider's default sources, with optional overrides (checked against the specs).

    Raises
    ------
    ConfigError
        Unknown provider, or a product the provider does not serve, or a product that lacks the
        role it is asked to play.
    """
    if provider not in PROVIDERS:
        raise ConfigError(f"unknown provider {provider!r} (known: {', '.join(PROVIDERS)})")
    base = DEFAULT_SOURCES[provider]
    chosen = Sources(
        lst=lst or base.lst,
        ndvi=ndvi or base.ndvi,
        lst_night=lst_night or (base.lst_night if lst is None else _night_twin(lst)),
    )
    for part, name, role in (
        ("lst", chosen.lst, "lst_day"),
        ("ndvi", chosen.ndvi, "ndvi"),
    ):
        spec = get_product(name)
        spec.collection(provider)  # raises ConfigError when the provider lacks it
        if role not in spec.roles:
            raise ConfigError(f"{name} cannot serve as the {part} source: it has no {role!r}")
    return chosen


def _night_twin(day_product: str) -> str:
    """The product holding the night LST that goes with ``day_product``."""
    if "lst_night" in get_product(day_product).roles:
        return day_product  # MOD11A1: day and night in one granule
    if day_product.endswith("D"):
        return day_product[:-1] + "N"  # MOD21A1D -> MOD21A1N
    return day_product
