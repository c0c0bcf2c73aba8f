"""Offline STAC validation: core schemas bundled with pystac, extension schemas vendored here.

``stac-extensions/datacube/v2.2.0/schema.json`` is the STAC datacube extension schema
(https://github.com/stac-extensions/datacube, Apache-2.0) with one change, marked by a
``$comment``: its reference to the remote PROJJSON schema is replaced by a plain object check.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import referencing
from jsonschema_specifications import REGISTRY as METASCHEMAS
from pystac.validation.local_validator import get_local_schema_cache

HERE = Path(__file__).parent
CORE = "https://schemas.stacspec.org/v1.1.0/{kind}-spec/json-schema/{kind}.json"
VENDORED = {
    f"https://stac-extensions.github.io/{name}/{version}/schema.json":
        HERE / "stac-extensions" / name / version / "schema.json"
    for name, version in (
        ("datacube", "v2.2.0"),
        ("projection", "v2.0.0"),
        ("raster", "v1.1.0"),
        ("xarray-assets", "v1.0.0"),
    )
}


@functools.cache
def _registry() -> referencing.Registry:
    resources = []
    for uri, schema in get_local_schema_cache().items():
        resources.append((uri, referencing.Resource.from_contents(
            schema, default_specification=referencing.jsonschema.DRAFT7)))
    for uri, path in VENDORED.items():
        resources.append((uri, referencing.Resource.from_contents(json.loads(path.read_text()))))
    return METASCHEMAS.with_resources(resources).crawl()


def validate_stac(doc: dict[str, Any]) -> list[str]:
    """Validate a STAC Item, Collection or Catalog against its core and extension schemas.

    Returns the schema URIs used. Raises ``jsonschema.ValidationError`` when invalid and
    ``LookupError`` for an extension whose schema is not vendored (no network here).
    """
    kind = {"Feature": "item", "Collection": "collection", "Catalog": "catalog"}[doc["type"]]
    if doc.get("stac_version") != "1.1.0":
        raise jsonschema.ValidationError(f"stac_version {doc.get('stac_version')} is not 1.1.0")
    uris = [CORE.format(kind=kind)]
    for ext in doc.get("stac_extensions", []):
        if ext not in VENDORED:
            raise LookupError(f"no offline schema for the STAC extension {ext}")
        uris.append(ext)
    registry = _registry()
    for uri in uris:
        schema = registry.contents(uri)
        jsonschema.Draft7Validator(schema, registry=registry).validate(doc)
    return uris
