"""QC bit decoders and configurable acceptance policies for the MODIS products.

Every MODIS QC layer is a bit field read right to left (bit 0 = least significant). The layouts
(:data:`QC_LAYOUTS`) follow the product user guides; :func:`decode_bits` extracts one field and
:func:`decode_qc` all of them. A policy turns a QC array into a boolean *accept* mask:

=============  =====================================================================================
Policy         Default (what is accepted)
=============  =====================================================================================
MOD11 (11A1)   mandatory QA 00 (good) or 01 (other quality); LST error <= 2 K (bits 6-7 in 00, 01);
               any data-quality and emissivity-error code.
MOD21 (21A1)   mandatory QA 00 (best) or 01 (nominal); cloud flag 00 (clear); LST accuracy
               better than 2 K (bits 14-15 in 01, 10, 11). Mandatory QA 10 means "produced, but
               cloud detected": the LST value is present, so this is the filter that matters.
MOD09 (09GQ,   MODLAND QA 00 or 01; cloud state 00 (clear) or 11 (not set, assumed clear); band 1
09Q1)          and band 2 quality 0000 (highest). For MOD09Q1 the cloud state lives in
               ``sur_refl_state_250m`` (pass it as ``state=``): clear or not set, no cloud shadow.
MOD13 (13Q1)   MODLAND QA 00 or 01; VI usefulness <= 1011; no mixed clouds, no shadow; adjacent
               cloud and snow accepted.
=============  =====================================================================================

The published SIF-CNN code tested only QC bit 0 after a cast to uint8, losing the cloud and
accuracy bits of MOD21's 16-bit QC; these policies decode every field at its real width.

Policies are frozen pydantic models: build them from a YAML/JSON mapping with
:func:`policy_from_config` and change one option with ``policy.model_copy(update=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lstcloud.core.errors import ConfigError

__all__ = [
    "QC_LAYOUTS",
    "BitField",
    "MOD09QCPolicy",
    "MOD11QCPolicy",
    "MOD13QCPolicy",
    "MOD21QCPolicy",
    "QCPolicy",
    "decode_bits",
    "decode_qc",
    "default_policy",
    "policy_from_config",
]

QCScheme = Literal["MOD11", "MOD21", "MOD09", "MOD09_STATE", "MOD13"]


@dataclass(frozen=True)
class BitField:
    """One field of a QC bit layout.

    Parameters
    ----------
    name
        Short snake-case name (``"mandatory_qa"``).
    start
        First (least significant) bit.
    width
        Number of bits.
    meanings
        Code -> meaning, for documentation and CF ``flag_meanings``.
    """

    name: str
    start: int
    width: int
    meanings: Mapping[int, str]

    @property
    def mask(self) -> int:
        """The integer mask of this field within the QC word."""
        return ((1 << self.width) - 1) << self.start


def decode_bits(qc: Any, start: int, width: int) -> np.ndarray:
    """Extract bits ``start .. start + width - 1`` of every QC value.

    Parameters
    ----------
    qc
        Integer array (any unsigned or signed integer dtype; signed values are read as their
        two's-complement bit pattern of the same width).
    start, width
        First bit (0 = least significant) and number of bits.

    Returns
    -------
    numpy.ndarray
        The field values, same shape, ``uint16`` (``uint32`` for 32-bit input).

    Examples
    --------
    >>> decode_bits(np.array([0b1011_0110], dtype=np.uint8), 2, 2)
    array([1], dtype=uint16)
    """
    arr = np.asarray(qc)
    if not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"QC must be an integer array, got {arr.dtype}")
    nbits = arr.dtype.itemsize * 8
    if start < 0 or width < 1 or start + width > nbits:
        raise ValueError(f"bits {start}..{start + width - 1} outside a {nbits}-bit QC word")
    unsigned = arr.view(np.dtype(f"u{arr.dtype.itemsize}")) if arr.dtype.kind == "i" else arr
    out_dtype = np.uint32 if nbits > 16 else np.uint16
    return ((unsigned.astype(out_dtype) >> out_dtype(start)) & out_dtype((1 << width) - 1)).astype(
        out_dtype, copy=False
    )


_MANDATORY_11 = {
    0: "LST produced, good quality",
    1: "LST produced, other quality, check other QA",
    2: "LST not produced due to cloud effects",
    3: "LST not produced primarily due to reasons other than cloud",
}
_LAND_WATER = {
    0: "shallow ocean",
    1: "land",
    2: "ocean coastlines and lake shorelines",
    3: "shallow inland water",
    4: "ephemeral water",
    5: "deep inland water",
    6: "moderate or continental ocean",
    7: "deep ocean",
}
_BAND_QUALITY = {
    0: "highest quality",
    7: "noisy detector",
    8: "dead detector",
    9: "solar zenith >= 86 degrees",
    10: "solar zenith >= 85 and < 86 degrees",
    11: "missing input",
    12: "internal constant used in place of climatological data",
    13: "correction out of bounds, pixel constrained to extreme value",
    14: "L1B data faulty",
    15: "not processed due to deep ocean or clouds",
}
_CLOUD_STATE = {0: "clear", 1: "cloudy", 2: "mixed", 3: "not set, assumed clear"}

#: Bit layouts per QC scheme (right to left).
QC_LAYOUTS: Mapping[str, tuple[BitField, ...]] = {
    "MOD11": (
        BitField("mandatory_qa", 0, 2, _MANDATORY_11),
        BitField("data_quality", 2, 2, {0: "good", 1: "other quality", 2: "TBD", 3: "TBD"}),
        BitField("emis_error", 4, 2, {0: "<= 0.01", 1: "<= 0.02", 2: "<= 0.04", 3: "> 0.04"}),
        BitField("lst_error", 6, 2, {0: "<= 1 K", 1: "<= 2 K", 2: "<= 3 K", 3: "> 3 K"}),
    ),
    "MOD21": (
        BitField(
            "mandatory_qa",
            0,
            2,
            {
                0: "pixel produced, best quality",
                1: "pixel produced, nominal quality",
                2: "pixel produced, but cloud detected",
                3: "pixel not produced due to missing pixels in L1B data",
            },
        ),
        BitField(
            "data_quality",
            2,
            2,
            {
                0: "good L1B data",
                1: "missing pixels",
                2: "fairly calibrated",
                3: "poorly calibrated",
            },
        ),
        BitField(
            "cloud_flag",
            4,
            2,
            {0: "cloud free", 1: "thin cirrus", 2: "within 2 pixels of cloud", 3: "cloudy"},
        ),
        BitField(
            "tes_iterations", 6, 2, {0: "slow convergence", 1: "nominal", 2: "nominal", 3: "fast"}
        ),
        BitField(
            "atmospheric_opacity", 8, 2, {0: ">= 0.3", 1: "0.2 - 0.3", 2: "0.1 - 0.2", 3: "< 0.1"}
        ),
        BitField("mmd", 10, 2, {0: "> 0.15", 1: "0.1 - 0.15", 2: "0.03 - 0.1", 3: "< 0.03"}),
        BitField(
            "emis_accuracy", 12, 2, {0: "> 0.02", 1: "0.015 - 0.02", 2: "0.01 - 0.015", 3: "< 0.01"}
        ),
        BitField("lst_accuracy", 14, 2, {0: "> 2 K", 1: "1.5 - 2 K", 2: "1 - 1.5 K", 3: "< 1 K"}),
    ),
    "MOD09": (
        BitField(
            "modland_qa",
            0,
            2,
            {
                0: "corrected product produced at ideal quality, all bands",
                1: "corrected product produced at less than ideal quality, some or all bands",
                2: "corrected product not produced due to cloud effects, all bands",
                3: "corrected product not produced for other reasons, some or all bands",
            },
        ),
        BitField("cloud_state", 2, 2, _CLOUD_STATE),
        BitField("band1_quality", 4, 4, _BAND_QUALITY),
        BitField("band2_quality", 8, 4, _BAND_QUALITY),
        BitField("atmospheric_correction", 12, 1, {0: "no", 1: "yes"}),
        BitField("adjacency_correction", 13, 1, {0: "no", 1: "yes"}),
    ),
    "MOD09_STATE": (
        BitField("cloud_state", 0, 2, _CLOUD_STATE),
        BitField("cloud_shadow", 2, 1, {0: "no", 1: "yes"}),
        BitField("land_water", 3, 3, _LAND_WATER),
        BitField("aerosol_quantity", 6, 2, {0: "climatology", 1: "low", 2: "average", 3: "high"}),
        BitField("cirrus", 8, 2, {0: "none", 1: "small", 2: "average", 3: "high"}),
        BitField("internal_cloud", 10, 1, {0: "no cloud", 1: "cloud"}),
        BitField("internal_fire", 11, 1, {0: "no fire", 1: "fire"}),
        BitField("snow_ice", 12, 1, {0: "no", 1: "yes"}),
        BitField("adjacent_to_cloud", 13, 1, {0: "no", 1: "yes"}),
        BitField("brdf_corrected", 14, 1, {0: "no", 1: "yes"}),
        BitField("internal_snow", 15, 1, {0: "no", 1: "yes"}),
    ),
    "MOD13": (
        BitField(
            "modland_qa",
            0,
            2,
            {
                0: "VI produced, good quality",
                1: "VI produced, but check other QA",
                2: "pixel produced, but most probably cloudy",
                3: "pixel not produced due to other reasons than clouds",
            },
        ),
        BitField(
            "vi_usefulness",
            2,
            4,
            {
                0: "highest quality",
                1: "lower quality",
                12: "lowest quality",
                13: "quality so low that it is not useful",
                14: "L1B data faulty",
                15: "not useful for any other reason / not processed",
            },
        ),
        BitField(
            "aerosol_quantity", 6, 2, {0: "climatology", 1: "low", 2: "intermediate", 3: "high"}
        ),
        BitField("adjacent_cloud", 8, 1, {0: "no", 1: "yes"}),
        BitField("brdf_correction", 9, 1, {0: "no", 1: "yes"}),
        BitField("mixed_clouds", 10, 1, {0: "no", 1: "yes"}),
        BitField("land_water", 11, 3, _LAND_WATER),
        BitField("snow_ice", 14, 1, {0: "no", 1: "yes"}),
        BitField("shadow", 15, 1, {0: "no", 1: "yes"}),
    ),
}


def decode_qc(qc: Any, scheme: str) -> dict[str, np.ndarray]:
    """Decode every field of ``qc`` following the layout of ``scheme`` (see :data:`QC_LAYOUTS`).

    Returns
    -------
    dict
        Field name -> integer array of codes.
    """
    try:
        layout = QC_LAYOUTS[scheme]
    except KeyError:
        raise ConfigError(f"unknown QC scheme {scheme!r} (known: {sorted(QC_LAYOUTS)})") from None
    return {f.name: decode_bits(qc, f.start, f.width) for f in layout}


def _isin(values: np.ndarray, allowed: tuple[int, ...]) -> np.ndarray:
    """``np.isin`` for small non-negative integer codes through a lookup table (~10x faster on a
    4800x4800 tile than ``np.isin``, which sorts)."""
    values = np.asarray(values)
    if values.dtype.kind in "ui" and values.size:
        low, high = int(values.min()), int(values.max())
        if low >= 0 and high < (1 << 16):
            lut = np.zeros(high + 1, dtype=bool)
            lut[[a for a in allowed if 0 <= a <= high]] = True
            return lut[values]
    return np.isin(values, np.asarray(allowed, dtype=values.dtype))


class _Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def accept(self, qc: Any) -> np.ndarray:  # pragma: no cover - overridden
        raise NotImplementedError


Code2 = Annotated[int, Field(ge=0, le=3)]
Code3 = Annotated[int, Field(ge=0, le=7)]
Code4 = Annotated[int, Field(ge=0, le=15)]


class MOD11QCPolicy(_Policy):
    """Acceptance of MOD11A1 ``QC_Day`` / ``QC_Night`` (8-bit).

    Parameters
    ----------
    mandatory_qa
        Accepted codes of bits 0-1 (00 good, 01 other quality; 10 cloud and 11 other reasons
        mean the LST was not produced).
    data_quality
        Accepted codes of bits 2-3.
    max_lst_error_k
        Largest accepted LST error class, in kelvin: 1, 2 or 3 (bits 6-7 00 <= 1 K, 01 <= 2 K,
        10 <= 3 K); ``None`` accepts any (also 11, > 3 K).
    max_emis_error
        Largest accepted emissivity error class: 0.01, 0.02 or 0.04; ``None`` accepts any.
    """

    scheme: Literal["MOD11"] = "MOD11"
    mandatory_qa: tuple[Code2, ...] = (0, 1)
    data_quality: tuple[Code2, ...] = (0, 1, 2, 3)
    max_lst_error_k: Literal[1, 2, 3] | None = 2
    max_emis_error: float | None = None

    @field_validator("max_emis_error")
    @classmethod
    def _emis_class(cls, value: float | None) -> float | None:
        if value is not None and value not in (0.01, 0.02, 0.04):
            raise ValueError("max_emis_error must be 0.01, 0.02, 0.04 or None")
        return value

    def accept(self, qc: Any) -> np.ndarray:
        """Boolean mask, ``True`` where the pixel passes the policy."""
        ok = _isin(decode_bits(qc, 0, 2), self.mandatory_qa)
        ok &= _isin(decode_bits(qc, 2, 2), self.data_quality)
        if self.max_emis_error is not None:
            ok &= decode_bits(qc, 4, 2) <= {0.01: 0, 0.02: 1, 0.04: 2}[self.max_emis_error]
        if self.max_lst_error_k is not None:
            ok &= decode_bits(qc, 6, 2) <= self.max_lst_error_k - 1
        return ok


class MOD21QCPolicy(_Policy):
    """Acceptance of MOD21A1D/N ``QC`` (16-bit).

    Parameters
    ----------
    mandatory_qa
        Accepted codes of bits 0-1 (00 best, 01 nominal, 10 produced but cloud detected,
        11 not produced).
    data_quality
        Accepted codes of bits 2-3 (00 good L1B, 01 missing pixels, 10 fairly calibrated,
        11 poorly calibrated).
    cloud_flag
        Accepted codes of bits 4-5 (00 clear, 01 thin cirrus, 10 within 2 px of cloud, 11 cloudy).
    min_lst_accuracy
        Lowest accepted code of bits 14-15 (00 > 2 K, 01 1.5-2 K, 10 1-1.5 K, 11 < 1 K): the
        default 1 rejects LST known to be worse than 2 K.
    min_emis_accuracy
        Lowest accepted code of bits 12-13 (00 > 0.02 ... 11 < 0.01).
    """

    scheme: Literal["MOD21"] = "MOD21"
    mandatory_qa: tuple[Code2, ...] = (0, 1)
    data_quality: tuple[Code2, ...] = (0, 1, 2, 3)
    cloud_flag: tuple[Code2, ...] = (0,)
    min_lst_accuracy: Code2 = 1
    min_emis_accuracy: Code2 = 0

    def accept(self, qc: Any) -> np.ndarray:
        """Boolean mask, ``True`` where the pixel passes the policy."""
        ok = _isin(decode_bits(qc, 0, 2), self.mandatory_qa)
        ok &= _isin(decode_bits(qc, 2, 2), self.data_quality)
        ok &= _isin(decode_bits(qc, 4, 2), self.cloud_flag)
        ok &= decode_bits(qc, 12, 2) >= self.min_emis_accuracy
        ok &= decode_bits(qc, 14, 2) >= self.min_lst_accuracy
        return ok


class MOD09QCPolicy(_Policy):
    """Acceptance of MOD09GQ ``QC_250m_1`` / MOD09Q1 ``sur_refl_qc_250m`` (16-bit).

    Parameters
    ----------
    modland_qa
        Accepted codes of bits 0-1 (00 ideal, 01 less than ideal, 10 cloud, 11 other).
    cloud_state
        Accepted cloud states (00 clear, 01 cloudy, 10 mixed, 11 not set = assumed clear),
        read from bits 2-3 of the QC word (MOD09GQ) or, when ``state`` is given to
        :meth:`accept`, from bits 0-1 of the state word (MOD09Q1, whose QC leaves 2-3 unset).
    band_quality
        Accepted 4-bit quality codes of band 1 (bits 4-7) and band 2 (bits 8-11).
    reject_cloud_shadow, reject_snow
        With a state word: reject pixels flagged cloud shadow (bit 2) / MOD35 snow (bit 12).
    """

    scheme: Literal["MOD09"] = "MOD09"
    modland_qa: tuple[Code2, ...] = (0, 1)
    cloud_state: tuple[Code2, ...] = (0, 3)
    band_quality: tuple[Code4, ...] = (0,)
    reject_cloud_shadow: bool = True
    reject_snow: bool = False

    def accept(self, qc: Any, *, state: Any | None = None) -> np.ndarray:
        """Boolean mask, ``True`` where the pixel passes the policy.

        Parameters
        ----------
        qc
            The 250 m QC word.
        state
            MOD09Q1 ``sur_refl_state_250m`` (optional): cloud state, shadow and snow from it.
        """
        ok = _isin(decode_bits(qc, 0, 2), self.modland_qa)
        ok &= _isin(decode_bits(qc, 4, 4), self.band_quality)
        ok &= _isin(decode_bits(qc, 8, 4), self.band_quality)
        if state is None:
            ok &= _isin(decode_bits(qc, 2, 2), self.cloud_state)
        else:
            ok &= _isin(decode_bits(state, 0, 2), self.cloud_state)
            if self.reject_cloud_shadow:
                ok &= decode_bits(state, 2, 1) == 0
            if self.reject_snow:
                ok &= decode_bits(state, 12, 1) == 0
        return ok


class MOD13QCPolicy(_Policy):
    """Acceptance of MOD13Q1 ``250m 16 days VI Quality`` (16-bit).

    Parameters
    ----------
    modland_qa
        Accepted codes of bits 0-1 (00 good, 01 check other QA, 10 probably cloudy, 11 not
        produced).
    max_usefulness
        Largest accepted VI usefulness code (bits 2-5; 0000 highest ... 1100 lowest, 1101-1111
        not useful). Default 11 (1011).
    reject_adjacent_cloud, reject_mixed_clouds, reject_snow, reject_shadow
        Reject pixels with bit 8 / 10 / 14 / 15 set.
    land_water
        Accepted land/water codes of bits 11-13, or ``None`` for any.
    """

    scheme: Literal["MOD13"] = "MOD13"
    modland_qa: tuple[Code2, ...] = (0, 1)
    max_usefulness: Code4 = 11
    reject_adjacent_cloud: bool = False
    reject_mixed_clouds: bool = True
    reject_snow: bool = False
    reject_shadow: bool = True
    land_water: tuple[Code3, ...] | None = None

    def accept(self, qc: Any) -> np.ndarray:
        """Boolean mask, ``True`` where the pixel passes the policy."""
        ok = _isin(decode_bits(qc, 0, 2), self.modland_qa)
        ok &= decode_bits(qc, 2, 4) <= self.max_usefulness
        for flag, bit in (
            (self.reject_adjacent_cloud, 8),
            (self.reject_mixed_clouds, 10),
            (self.reject_snow, 14),
            (self.reject_shadow, 15),
        ):
            if flag:
                ok &= decode_bits(qc, bit, 1) == 0
        if self.land_water is not None:
            ok &= _isin(decode_bits(qc, 11, 3), self.land_water)
        return ok


#: Any of the per-product policies.
QCPolicy = MOD11QCPolicy | MOD21QCPolicy | MOD09QCPolicy | MOD13QCPolicy

_POLICIES: dict[str, type[_Policy]] = {
    "MOD11": MOD11QCPolicy,
    "MOD21": MOD21QCPolicy,
    "MOD09": MOD09QCPolicy,
    "MOD13": MOD13QCPolicy,
}


def default_policy(product: Any) -> QCPolicy:
    """The default policy of a product (name, :class:`ProductSpec` or QC scheme name)."""
    from lstcloud.products.modis import get_product

    scheme = product if product in _POLICIES else get_product(product).qc_scheme
    return _POLICIES[scheme]()  # type: ignore[return-value]


def policy_from_config(config: Mapping[str, Any] | QCPolicy, *, product: Any = None) -> QCPolicy:
    """Build a policy from a mapping such as ``{"scheme": "MOD11", "max_lst_error_k": 3}``.

    ``scheme`` may be omitted when ``product`` is given. A policy object is returned unchanged.

    Raises
    ------
    ConfigError
        Unknown scheme, unknown option or a value out of range (the message names the field).
    """
    if isinstance(config, _Policy):
        return config  # type: ignore[return-value]
    data = dict(config)
    scheme = data.get("scheme")
    if scheme is None:
        if product is None:
            raise ConfigError("QC policy config needs 'scheme' (MOD11, MOD21, MOD09 or MOD13)")
        scheme = default_policy(product).scheme
        data["scheme"] = scheme
    if scheme not in _POLICIES:
        raise ConfigError(f"QC policy: unknown scheme {scheme!r} (known: {sorted(_POLICIES)})")
    try:
        return _POLICIES[scheme].model_validate(data)  # type: ignore[return-value]
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise ConfigError(f"QC policy {scheme}: invalid field(s) {fields}: {exc}") from None
