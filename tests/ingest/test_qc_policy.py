"""The per-product QC policy option of an ingest (``ingest(qc_policy=...)``, ``--qc-policy``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lstcloud.errors import ConfigError
from lstcloud.ingest.qc import parse_qc_policy_arg, resolve_qc_policies
from lstcloud.products.qc import MOD09QCPolicy, MOD21QCPolicy, default_policy

LP = ["MOD21A1D", "MOD09GQ"]


def test_default_is_every_products_documented_default() -> None:
    for option in (None, "default", "DEFAULT"):
        assert resolve_qc_policies(option, LP) == {
            "MOD21A1D": default_policy("MOD21A1D"), "MOD09GQ": default_policy("MOD09GQ")
        }


def test_one_policy_applies_to_the_products_of_its_scheme() -> None:
    loose = MOD21QCPolicy(cloud_flag=(0, 1))
    got = resolve_qc_policies(loose, LP)
    assert got["MOD21A1D"] is loose and got["MOD09GQ"] == default_policy("MOD09GQ")
    got = resolve_qc_policies({"scheme": "MOD09", "band_quality": [0, 1]}, LP)
    assert got["MOD09GQ"] == MOD09QCPolicy(band_quality=(0, 1))
    with pytest.raises(ConfigError, match="fits none"):
        resolve_qc_policies({"scheme": "MOD11", "max_lst_error_k": 3}, LP)


def test_mapping_by_product_or_scheme() -> None:
    option = {
        "MOD09": {"cloud_state": [0]},
        "MOD21A1D": {"min_lst_accuracy": 2},
        "MOD11A1": {"max_lst_error_k": 3},  # not read by this ingest: ignored
        "MOD09GQ": "default",  # the product key wins over its scheme's
    }
    got = resolve_qc_policies(option, LP)
    assert got["MOD21A1D"] == MOD21QCPolicy(min_lst_accuracy=2)
    assert got["MOD09GQ"] == default_policy("MOD09GQ")
    assert resolve_qc_policies({"MOD09": {"cloud_state": [0]}}, LP)["MOD09GQ"] == MOD09QCPolicy(
        cloud_state=(0,)
    )


@pytest.mark.parametrize(
    ("option", "match"),
    [
        ({"MOD99XX": {}}, "neither a product nor a QC scheme"),
        ({"MOD21A1D": {"cloud_flag": [7]}}, "cloud_flag"),
        ({"MOD21A1D": {"no_such_option": 1}}, "no_such_option"),
        ({"MOD21A1D": {"scheme": "MOD11"}}, "does not fit MOD21A1D"),
        ({"MOD21A1D": 3}, "expected a policy"),
        ("strictest", "not a policy"),
    ],
)
def test_bad_policies_are_config_errors(option: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        resolve_qc_policies(option, LP)  # type: ignore[arg-type]


def test_cli_argument_forms(tmp_path: Path) -> None:
    assert parse_qc_policy_arg("default") == "default"
    inline = '{"MOD21A1D": {"cloud_flag": [0, 1]}}'
    assert parse_qc_policy_arg(inline) == json.loads(inline)
    as_json = tmp_path / "qc.json"
    as_json.write_text(inline)
    assert parse_qc_policy_arg(str(as_json)) == json.loads(inline)
    as_yaml = tmp_path / "qc.yaml"
    as_yaml.write_text("MOD21A1D:\n  cloud_flag: [0, 1]\nMOD09:\n  band_quality: [0, 1]\n")
    parsed = parse_qc_policy_arg(str(as_yaml))
    assert resolve_qc_policies(parsed, LP)["MOD21A1D"] == MOD21QCPolicy(cloud_flag=(0, 1))
    with pytest.raises(ConfigError, match="malformed JSON"):
        parse_qc_policy_arg("{not json")
    with pytest.raises(ConfigError, match="neither"):
        parse_qc_policy_arg(str(tmp_path / "absent.yaml"))
    as_yaml.write_text("- a list\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        parse_qc_policy_arg(str(as_yaml))
