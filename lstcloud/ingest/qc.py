"""The QC acceptance policy of an ingest, per product.

:func:`lstcloud.ingest.ingest` takes ``qc_policy=`` in one of these forms (see
:mod:`lstcloud.products.qc` for the policies, their options and their documented defaults):

- ``None`` or ``"default"``: every product's default policy;
- one policy object (``MOD21QCPolicy(cloud_flag=(0, 1))``) or one config mapping with a
  ``scheme`` (``{"scheme": "MOD21", "cloud_flag": [0, 1]}``): used for the products of that QC
  scheme, the others keep their default;
- a mapping keyed by product name (``"MOD21A1D"``) or QC scheme (``"MOD21"``, ``"MOD09"`` ...)
  whose values are policies, option mappings (``scheme`` may be left out) or ``"default"``;
  a product key wins over its scheme's key. Products the ingest does not read are ignored
  (one config can serve both providers); names that are neither a product nor a scheme raise.

On the command line, ``lstcloud ingest --qc-policy`` takes ``default``, inline JSON or a JSON /
YAML file of one of these mappings (:func:`parse_qc_policy_arg`).

The policy decides which pixels are kept when the (day, tile) is written; a rerun does not redo
(day, tile) already complete under another policy (write to a new cube to change it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lstcloud.core.errors import ConfigError
from lstcloud.products import get_product
from lstcloud.products.qc import QCPolicy, default_policy, policy_from_config

__all__ = ["QCPolicyOption", "parse_qc_policy_arg", "resolve_qc_policies"]

#: What ``ingest(qc_policy=...)`` accepts.
QCPolicyOption = QCPolicy | Mapping[str, Any] | str | None

_SCHEMES = ("MOD11", "MOD21", "MOD09", "MOD13")


def _is_policy(value: Any) -> bool:
    from pydantic import BaseModel

    return isinstance(value, BaseModel) and hasattr(value, "accept")


def _policy_for(product: str, config: Any, *, source: str) -> QCPolicy:
    spec = get_product(product)
    if config is None or (isinstance(config, str) and config.strip().lower() == "default"):
        return default_policy(spec)
    if not (_is_policy(config) or isinstance(config, Mapping)):
        raise ConfigError(
            f"qc_policy[{source!r}]: expected a policy, an option mapping or 'default', "
            f"got {type(config).__name__}"
        )
    policy = policy_from_config(config, product=spec)
    if policy.scheme != spec.qc_scheme:
        raise ConfigError(
            f"qc_policy[{source!r}]: a {policy.scheme} policy does not fit {spec.name}, whose QC "
            f"follows {spec.qc_scheme}"
        )
    return policy


def resolve_qc_policies(option: QCPolicyOption, products: Iterable[str]) -> dict[str, QCPolicy]:
    """The QC policy of each of ``products`` under ``option`` (the forms of the module docstring).

    Parameters
    ----------
    option
        What the caller passed as ``qc_policy``.
    products
        Product names the ingest reads.

    Returns
    -------
    dict
        Product name -> policy (the default one where ``option`` says nothing).

    Raises
    ------
    ConfigError
        An unknown product or scheme, an invalid option, a policy that does not fit its product.
    """
    names = list(dict.fromkeys(get_product(p).name for p in products))
    if option is None or (isinstance(option, str) and option.strip().lower() == "default"):
        return {name: default_policy(name) for name in names}
    if isinstance(option, str):
        raise ConfigError(
            f"qc_policy: {option!r} is not a policy; give 'default', a policy, or a mapping "
            "product or scheme -> options (lstcloud ingest --qc-policy also takes a file)"
        )
    single = _is_policy(option) or (
        isinstance(option, Mapping) and isinstance(option.get("scheme"), str)
    )
    if single:
        scheme = option.scheme if _is_policy(option) else option["scheme"]  # type: ignore[union-attr,index]
        users = [n for n in names if get_product(n).qc_scheme == scheme]
        if not users:
            raise ConfigError(
                f"qc_policy: a {scheme} policy fits none of the products read ({', '.join(names)})"
            )
        out = {name: default_policy(name) for name in names}
        out.update({n: _policy_for(n, option, source=str(scheme)) for n in users})
        return out
    if not isinstance(option, Mapping):
        raise ConfigError(f"qc_policy: expected a mapping or a policy, got {type(option).__name__}")
    by_product: dict[str, Any] = {}
    by_scheme: dict[str, Any] = {}
    for key, value in option.items():
        key = str(key)
        if key.upper() in _SCHEMES:
            by_scheme[key.upper()] = value
            continue
        try:
            by_product[get_product(key).name] = value
        except (ConfigError, KeyError) as exc:
            raise ConfigError(
                f"qc_policy: {key!r} is neither a product nor a QC scheme ({', '.join(_SCHEMES)})"
            ) from exc
    out = {}
    for name in names:
        scheme = get_product(name).qc_scheme
        if name in by_product:
            out[name] = _policy_for(name, by_product[name], source=name)
        elif scheme in by_scheme:
            out[name] = _policy_for(name, by_scheme[scheme], source=scheme)
        else:
            out[name] = default_policy(name)
    return out


def parse_qc_policy_arg(text: str) -> QCPolicyOption:
    """Parse ``--qc-policy``: ``default``, inline JSON (``{"MOD21A1D": {"cloud_flag": [0, 1]}}``)
    or the path of a JSON / YAML file holding such a mapping.

    Raises
    ------
    ConfigError
        Unreadable file or malformed JSON / YAML (the message names it).
    """
    value = text.strip()
    if not value or value.lower() == "default":
        return "default"
    if value.startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--qc-policy: malformed JSON ({exc})") from None
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(
            f"--qc-policy: {value!r} is neither 'default', inline JSON nor a readable file"
        )
    raw = path.read_text()
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(raw)
        else:
            data = json.loads(raw)
    except Exception as exc:  # yaml.YAMLError / json.JSONDecodeError
        raise ConfigError(f"--qc-policy: cannot parse {path}: {exc}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"--qc-policy: {path} must hold a mapping, got {type(data).__name__}")
    return data
