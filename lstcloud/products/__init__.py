"""Declarative specifications of the MODIS products lstcloud reads.

One frozen :class:`ProductSpec` per product (MOD21A1D, MOD21A1N, MOD11A1, MOD09GQ, MOD09Q1,
MOD13Q1; Aqua ``MYD`` twins through :func:`get_product`), and the QC bit decoders and
acceptance policies (:mod:`lstcloud.products.qc`): HDF-EOS grid name, SDS names, storage
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
from lstcloud.products.qc import (
    QC_LAYOUTS,
    BitField,
    MOD09QCPolicy,
    MOD11QCPolicy,
    MOD13QCPolicy,
    MOD21QCPolicy,
    QCPolicy,
    decode_bits,
    decode_qc,
    default_policy,
    policy_from_config,
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
    "QC_LAYOUTS",
    "ROLES",
    "BitField",
    "MOD09QCPolicy",
    "MOD11QCPolicy",
    "MOD13QCPolicy",
    "MOD21QCPolicy",
    "ProductSpec",
    "QCPolicy",
    "VariableSpec",
    "decode_bits",
    "decode_qc",
    "default_policy",
    "get_product",
    "policy_from_config",
]
