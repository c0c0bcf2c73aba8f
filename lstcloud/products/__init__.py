"""Declarative specifications of the MODIS products lstcloud reads.

One frozen :class:`ProductSpec` per product (MOD21A1D, MOD21A1N, MOD11A1, MOD09GQ, MOD09Q1,
MOD13Q1; Aqua ``MYD`` twins through :func:`get_product`): HDF-EOS grid name, SDS names, storage
type, scale, offset, fill, valid range, units, STAC asset keys per provider, which QC SDS masks
which variable, and the role of each variable in the input cube. See :mod:`lstcloud.products.modis`
for the facts checked against real granules.
"""

from __future__ import annotations

from lstcloud.products.modis import (
    MOD09GQ,
    MOD09Q1,
    MOD11A1,
    MOD13Q1,
    MOD21A1D,
    MOD21A1N,
    PRODUCTS,
    get_product,
)
from lstcloud.products.spec import PROVIDERS, ROLES, ProductSpec, VariableSpec

__all__ = [
    "MOD09GQ",
    "MOD09Q1",
    "MOD11A1",
    "MOD13Q1",
    "MOD21A1D",
    "MOD21A1N",
    "PRODUCTS",
    "PROVIDERS",
    "ROLES",
    "ProductSpec",
    "VariableSpec",
    "get_product",
]
