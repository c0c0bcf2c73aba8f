"""QC bit decoders and acceptance policies, checked bit by bit against hand-built QC words."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lstcloud.errors import ConfigError
from lstcloud.products import (
    QC_LAYOUTS,
    MOD09QCPolicy,
    MOD11QCPolicy,
    MOD13QCPolicy,
    MOD21QCPolicy,
    decode_bits,
    decode_qc,
    default_policy,
    policy_from_config,
)


def test_decode_bits_extracts_each_field() -> None:
    qc = np.array([0b1011_0110], dtype=np.uint8)
    assert decode_bits(qc, 0, 2)[0] == 0b10
    assert decode_bits(qc, 2, 2)[0] == 0b01
    assert decode_bits(qc, 4, 2)[0] == 0b11
    assert decode_bits(qc, 6, 2)[0] == 0b10
    assert decode_bits(qc, 1, 3)[0] == 0b011


def test_decode_bits_full_16_bit_word_keeps_high_bits() -> None:
    # The published code cast QC to uint8 and lost bits 8-15: make sure they survive here.
    qc = np.array([0xC000, 0x4000, 0x0001], dtype=np.uint16)
    np.testing.assert_array_equal(decode_bits(qc, 14, 2), [3, 1, 0])


def test_decode_bits_signed_reads_twos_complement() -> None:
    np.testing.assert_array_equal(decode_bits(np.array([-1, 5], dtype=np.int8), 0, 3), [7, 5])


@pytest.mark.parametrize(("start", "width"), [(-1, 1), (0, 0), (7, 2)])
def test_decode_bits_rejects_fields_outside_the_word(start: int, width: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        decode_bits(np.zeros(2, dtype=np.uint8), start, width)


def test_decode_bits_rejects_float() -> None:
    with pytest.raises(TypeError):
        decode_bits(np.zeros(2, dtype=np.float32), 0, 1)


@pytest.mark.parametrize("scheme", sorted(QC_LAYOUTS))
def test_layouts_do_not_overlap_and_decode_roundtrips(scheme: str) -> None:
    layout = QC_LAYOUTS[scheme]
    masks = [f.mask for f in layout]
    assert sum(masks) == int(np.bitwise_or.reduce(masks))  # disjoint
    rng = np.random.default_rng(1)
    qc = rng.integers(0, 1 << 16, size=500, dtype=np.uint16)
    fields = decode_qc(qc, scheme)
    rebuilt = np.zeros_like(qc)
    for f in layout:
        rebuilt |= (fields[f.name].astype(np.uint16) << f.start).astype(np.uint16)
    allbits = np.uint16(sum(masks))
    np.testing.assert_array_equal(rebuilt, qc & allbits)


def test_decode_qc_unknown_scheme() -> None:
    with pytest.raises(ConfigError, match="unknown QC scheme"):
        decode_qc(np.zeros(1, np.uint8), "MOD99")


# ------------------------------------------------------------------ MOD11 (8-bit)


def _mod11(mandatory: int, dq: int, emis: int, lst: int) -> int:
    return mandatory | dq << 2 | emis << 4 | lst << 6


def test_mod11_default_policy_every_word() -> None:
    policy = MOD11QCPolicy()
    words = np.arange(256, dtype=np.uint8)
    got = policy.accept(words)
    for w in range(256):
        mandatory, lst_err = w & 0b11, (w >> 6) & 0b11
        assert got[w] == (mandatory in (0, 1) and lst_err <= 1), f"QC {w:08b}"


def test_mod11_options_each_field() -> None:
    words = np.array(
        [_mod11(m, d, e, t) for m, d, e, t in itertools.product(range(4), repeat=4)],
        dtype=np.uint8,
    )
    strict = MOD11QCPolicy(
        mandatory_qa=(0,), data_quality=(0,), max_lst_error_k=1, max_emis_error=0.01
    )
    np.testing.assert_array_equal(strict.accept(words), words == 0)
    loose = MOD11QCPolicy(max_lst_error_k=None)
    np.testing.assert_array_equal(loose.accept(words), (words & 0b11) <= 1)
    emis = MOD11QCPolicy(max_lst_error_k=None, max_emis_error=0.02)
    np.testing.assert_array_equal(
        emis.accept(words), ((words & 0b11) <= 1) & (((words >> 4) & 0b11) <= 1)
    )
    three_k = MOD11QCPolicy(max_lst_error_k=3)
    np.testing.assert_array_equal(
        three_k.accept(words), ((words & 0b11) <= 1) & ((words >> 6) <= 2)
    )


# ------------------------------------------------------------------ MOD21 (16-bit)


def _mod21(m: int = 0, dq: int = 0, cloud: int = 0, emis_acc: int = 3, lst_acc: int = 3) -> int:
    return m | dq << 2 | cloud << 4 | 1 << 6 | 2 << 8 | 3 << 10 | emis_acc << 12 | lst_acc << 14


@pytest.mark.parametrize(
    ("word", "accepted"),
    [
        (_mod21(), True),
        (_mod21(m=1), True),
        (_mod21(m=2), False),  # produced but cloud detected
        (_mod21(m=3), False),
        (_mod21(cloud=1), False),  # thin cirrus
        (_mod21(cloud=2), False),  # within 2 px of cloud
        (_mod21(cloud=3), False),
        (_mod21(lst_acc=0), False),  # > 2 K (bits 14-15, lost by a uint8 cast)
        (_mod21(lst_acc=1), True),
        (_mod21(emis_acc=0), True),
        (_mod21(dq=3), True),
    ],
)
def test_mod21_default_policy(word: int, accepted: bool) -> None:
    assert bool(MOD21QCPolicy().accept(np.array([word], dtype=np.uint16))[0]) is accepted


def test_mod21_options() -> None:
    words = np.array([_mod21(cloud=1), _mod21(lst_acc=1), _mod21(emis_acc=1)], dtype=np.uint16)
    policy = MOD21QCPolicy(cloud_flag=(0, 1), min_lst_accuracy=2, min_emis_accuracy=2)
    np.testing.assert_array_equal(policy.accept(words), [True, False, False])


# ------------------------------------------------------------------ MOD09 (16-bit)


def _mod09(modland: int = 0, cloud: int = 0, b1: int = 0, b2: int = 0) -> int:
    return modland | cloud << 2 | b1 << 4 | b2 << 8 | 1 << 12


@pytest.mark.parametrize(
    ("word", "accepted"),
    [
        (_mod09(), True),
        (_mod09(modland=1), True),
        (_mod09(modland=2), False),
        (_mod09(modland=3), False),
        (_mod09(cloud=1), False),
        (_mod09(cloud=2), False),
        (_mod09(cloud=3), True),  # not set, assumed clear
        (_mod09(b1=7), False),  # noisy detector
        (_mod09(b2=8), False),  # dead detector
        (2995, False),  # LP DAAC fill of QC_250m
    ],
)
def test_mod09_default_policy(word: int, accepted: bool) -> None:
    assert bool(MOD09QCPolicy().accept(np.array([word], dtype=np.uint16))[0]) is accepted


def test_mod09_state_word_overrides_cloud_bits() -> None:
    qc = np.array([_mod09()] * 5, dtype=np.uint16)
    state = np.array([0b1000, 0b1001, 0b1010, 0b1100, 1 << 12 | 0b1000], dtype=np.uint16)
    np.testing.assert_array_equal(
        MOD09QCPolicy().accept(qc, state=state), [True, False, False, False, True]
    )
    snow = MOD09QCPolicy(reject_snow=True, reject_cloud_shadow=False)
    np.testing.assert_array_equal(snow.accept(qc, state=state), [True, False, False, True, False])


# ------------------------------------------------------------------ MOD13 (16-bit)


def _mod13(modland: int = 0, useful: int = 0, **bits: int) -> int:
    positions = {"adjacent": 8, "mixed": 10, "snow": 14, "shadow": 15}
    word = modland | useful << 2 | 1 << 6 | 1 << 11
    for name, on in bits.items():
        word |= on << positions[name]
    return word


@pytest.mark.parametrize(
    ("word", "accepted"),
    [
        (_mod13(), True),
        (_mod13(modland=1), True),
        (_mod13(modland=2), False),
        (_mod13(useful=11), True),
        (_mod13(useful=12), False),
        (_mod13(adjacent=1), True),
        (_mod13(mixed=1), False),
        (_mod13(snow=1), True),
        (_mod13(shadow=1), False),
        (65535, False),
    ],
)
def test_mod13_default_policy(word: int, accepted: bool) -> None:
    assert bool(MOD13QCPolicy().accept(np.array([word], dtype=np.uint16))[0]) is accepted


def test_mod13_land_water_option() -> None:
    land, water = _mod13(), _mod13() & ~(0b111 << 11) | (5 << 11)
    words = np.array([land, water], dtype=np.uint16)
    np.testing.assert_array_equal(MOD13QCPolicy().accept(words), [True, True])
    np.testing.assert_array_equal(MOD13QCPolicy(land_water=(1,)).accept(words), [True, False])


# ------------------------------------------------------------------ construction


@pytest.mark.parametrize(
    ("product", "cls"),
    [
        ("MOD11A1", MOD11QCPolicy),
        ("MYD11A1", MOD11QCPolicy),
        ("MOD21A1D", MOD21QCPolicy),
        ("MOD21A1N", MOD21QCPolicy),
        ("MOD09GQ", MOD09QCPolicy),
        ("MOD09Q1", MOD09QCPolicy),
        ("MOD13Q1", MOD13QCPolicy),
    ],
)
def test_default_policy_per_product(product: str, cls: type) -> None:
    assert isinstance(default_policy(product), cls)


def test_policy_from_config() -> None:
    policy = policy_from_config({"max_lst_error_k": 3}, product="MOD11A1")
    assert isinstance(policy, MOD11QCPolicy) and policy.max_lst_error_k == 3
    assert policy_from_config(policy) is policy
    assert policy_from_config({"scheme": "MOD13", "reject_snow": True}).reject_snow


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"scheme": "MOD11", "max_emis_error": 0.03}, "max_emis_error"),
        ({"scheme": "MOD11", "mandatory_qa": [4]}, "mandatory_qa"),
        ({"scheme": "MOD21", "typo_field": 1}, "typo_field"),
        ({"scheme": "MOD77"}, "unknown scheme"),
        ({"max_lst_error_k": 2}, "needs 'scheme'"),
    ],
)
def test_policy_from_config_errors_name_the_field(config: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        policy_from_config(config)


def test_policies_are_frozen() -> None:
    policy = MOD11QCPolicy()
    with pytest.raises(Exception, match="frozen"):
        policy.max_lst_error_k = 3  # type: ignore[misc]
    assert policy.model_copy(update={"max_lst_error_k": 3}).max_lst_error_k == 3
