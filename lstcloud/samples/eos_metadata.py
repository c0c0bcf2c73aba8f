"""HDF-EOS metadata text: ``StructMetadata.0``, ``CoreMetadata.0``, ``ArchiveMetadata.0``.

Written in the ODL layout of LP DAAC's files, so that HDF-EOS readers (and
:func:`lstcloud.readers.hdf4.parse_struct_metadata`) find the grid, its corners, the dates and
the tile numbers where real granules keep them.
"""

from __future__ import annotations

import datetime as dt
import math

from lstcloud.grid import EARTH_RADIUS, Tile
from lstcloud.products import ProductSpec

__all__ = [
    "COLLECTION_VERSION",
    "archive_metadata",
    "core_metadata",
    "period_end",
    "struct_metadata",
    "tile_corners",
]

#: Collection version written in file names and metadata.
COLLECTION_VERSION = "061"


def period_end(spec: ProductSpec, start: dt.date) -> dt.date:
    """Last day of the period starting ``start`` (composites end on 31 December at the latest)."""
    end = start + dt.timedelta(days=spec.composite_days - 1)
    return min(end, dt.date(start.year, 12, 31))


def tile_corners(tile: Tile) -> tuple[float, float, float, float]:
    """Tile corners as the MODIS production code prints them (tile = 2 pi R / 36, unrounded)."""
    size = 2.0 * math.pi * EARTH_RADIUS / 36.0
    left, top = (tile.h - 18) * size, (9 - tile.v) * size
    return left, top - size, left + size, top


def struct_metadata(spec: ProductSpec, tile: Tile) -> str:
    left, bottom, right, top = tile_corners(tile)
    n = spec.shape[0]
    fields = []
    for i, name in enumerate(spec.stored_variables, start=1):
        dtype = spec.variables[name].numpy_dtype.name.upper()
        fields.append(
            f"\t\t\tOBJECT=DataField_{i}\n"
            f'\t\t\t\tDataFieldName="{name}"\n'
            f"\t\t\t\tDataType=DFNT_{dtype}\n"
            f'\t\t\t\tDimList=("YDim","XDim")\n'
            f"\t\t\tEND_OBJECT=DataField_{i}\n"
        )
    return (
        "GROUP=SwathStructure\nEND_GROUP=SwathStructure\nGROUP=GridStructure\n"
        "\tGROUP=GRID_1\n"
        f'\t\tGridName="{spec.grid_name}"\n'
        f"\t\tXDim={n}\n\t\tYDim={n}\n"
        f"\t\tUpperLeftPointMtrs=({left:.6f},{top:.6f})\n"
        f"\t\tLowerRightMtrs=({right:.6f},{bottom:.6f})\n"
        "\t\tProjection=GCTP_SNSOID\n"
        "\t\tProjParams=(6371007.181000,0,0,0,0,0,0,0,86400,0,0,0,0)\n"
        "\t\tSphereCode=-1\n\t\tGridOrigin=HDFE_GD_UL\n"
        "\t\tGROUP=Dimension\n\t\tEND_GROUP=Dimension\n"
        "\t\tGROUP=DataField\n" + "".join(fields) + "\t\tEND_GROUP=DataField\n"
        "\t\tGROUP=MergedFields\n\t\tEND_GROUP=MergedFields\n"
        "\tEND_GROUP=GRID_1\nEND_GROUP=GridStructure\n"
        "GROUP=PointStructure\nEND_GROUP=PointStructure\nEND\n"
    )


def _odl_object(name: str, value: object, indent: str = "    ") -> str:
    text = f'"{value}"' if isinstance(value, str) else str(value)
    return (
        f"{indent}OBJECT                 = {name}\n"
        f"{indent}  NUM_VAL              = 1\n"
        f"{indent}  VALUE                = {text}\n"
        f"{indent}END_OBJECT             = {name}\n\n"
    )


def _psa(name: str, value: str, cls: int) -> str:
    return (
        "    OBJECT                 = ADDITIONALATTRIBUTESCONTAINER\n"
        f'      CLASS                = "{cls}"\n\n'
        "      OBJECT                 = ADDITIONALATTRIBUTENAME\n"
        f'        CLASS                = "{cls}"\n'
        "        NUM_VAL              = 1\n"
        f'        VALUE                = "{name}"\n'
        "      END_OBJECT             = ADDITIONALATTRIBUTENAME\n\n"
        "      GROUP                  = INFORMATIONCONTENT\n"
        f'        CLASS                = "{cls}"\n\n'
        "        OBJECT                 = PARAMETERVALUE\n"
        "          NUM_VAL              = 1\n"
        f'          CLASS                = "{cls}"\n'
        f'          VALUE                = "{value}"\n'
        "        END_OBJECT             = PARAMETERVALUE\n\n"
        "      END_GROUP              = INFORMATIONCONTENT\n\n"
        "    END_OBJECT             = ADDITIONALATTRIBUTESCONTAINER\n\n"
    )


def core_metadata(spec: ProductSpec, tile: Tile, start: dt.date, gid: str) -> str:
    end = period_end(spec, start)
    production = gid.rsplit(".", 1)[-1]
    prod_dt = dt.datetime.strptime(production, "%Y%j%H%M%S")
    return (
        "\nGROUP                  = INVENTORYMETADATA\n  GROUPTYPE            = MASTERGROUP\n\n"
        "  GROUP                  = ECSDATAGRANULE\n\n"
        + _odl_object("LOCALGRANULEID", gid + ".hdf")
        + _odl_object("PRODUCTIONDATETIME", f"{prod_dt:%Y-%m-%dT%H:%M:%S}.000Z")
        + _odl_object("DAYNIGHTFLAG", "Day" if not spec.name.endswith("N") else "Night")
        + _odl_object("LOCALVERSIONID", "lstcloud synthetic")
        + "  END_GROUP              = ECSDATAGRANULE\n\n"
        "  GROUP                  = RANGEDATETIME\n\n"
        + _odl_object("RANGEENDINGDATE", end.isoformat())
        + _odl_object("RANGEENDINGTIME", "23:59:59")
        + _odl_object("RANGEBEGINNINGDATE", start.isoformat())
        + _odl_object("RANGEBEGINNINGTIME", "00:00:00")
        + "  END_GROUP              = RANGEDATETIME\n\n"
        "  GROUP                  = COLLECTIONDESCRIPTIONCLASS\n\n"
        + _odl_object("VERSIONID", int(COLLECTION_VERSION))
        + _odl_object("SHORTNAME", spec.name)
        + "  END_GROUP              = COLLECTIONDESCRIPTIONCLASS\n\n"
        "  GROUP                  = ADDITIONALATTRIBUTES\n\n"
        + _psa("HORIZONTALTILENUMBER", f"{tile.h:02d}", 1)
        + _psa("VERTICALTILENUMBER", f"{tile.v:02d}", 2)
        + "  END_GROUP              = ADDITIONALATTRIBUTES\n\n"
        "END_GROUP              = INVENTORYMETADATA\n\nEND\n"
    )


def archive_metadata(spec: ProductSpec, tile: Tile) -> str:
    return (
        "\nGROUP                  = ARCHIVEDMETADATA\n  GROUPTYPE            = MASTERGROUP\n\n"
        "  GROUP                  = TILEINFO\n\n"
        + _odl_object("HORIZONTALTILENUMBER", f"{tile.h:02d}")
        + _odl_object("VERTICALTILENUMBER", f"{tile.v:02d}")
        + "  END_GROUP              = TILEINFO\n\n"
        + _odl_object("LONGNAME", spec.long_name, "  ")
        + _odl_object(
            "CHARACTERISTICBINSIZE",
            926.625433055556 if spec.resolution == "1km" else 231.656358263889,
            "  ",
        )
        + "END_GROUP              = ARCHIVEDMETADATA\n\nEND\n"
    )
