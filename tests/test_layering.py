"""The import layering of ``docs/architecture.md`` (its layout map), read from the source.

Each part of the package (a subpackage or a top-level module) may import only the parts its
row allows; imports inside functions count. The map has no cycle, so neither has the package.
Changing the layering means changing this table and the map in ``docs/architecture.md``.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lstcloud"

#: The ground floor and its two public homes (re-exports), which every part may import.
GROUND = {"core", "errors", "storage"}
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "errors": {"core"},
    "storage": {"core"},
    "grid": GROUND,
    "products": GROUND,
    "stacserver": GROUND,
    "allocator": GROUND,
    "cluster": GROUND | {"allocator"},
    "ops": GROUND | {"errors"},
    "models": GROUND | {"errors", "storage", "ops"},
    "catalog": GROUND | {"grid", "products"},
    "readers": GROUND | {"grid", "products"},
    "samples": GROUND | {"grid", "products", "readers"},
    "cube": GROUND | {"grid"},
    "ingest": GROUND | {"grid", "products", "catalog", "readers", "cube", "cluster"},
    "inference": GROUND | {"errors", "grid", "cube", "models", "ops", "cluster", "allocator"},
    "query": GROUND | {"grid", "cube"},
    "publish": GROUND | {"errors", "storage", "grid", "cube", "query"},
    "serve": GROUND | {"cube", "query"},
    "compose": GROUND | {"cube", "query"},
    "quicklook": GROUND | {"cube"},
    "evaluate": GROUND
    | {"errors", "storage", "grid", "products", "readers", "ops", "models", "cube"},
    "training": GROUND
    | {"errors", "storage", "grid", "products", "readers", "ops", "models", "cube", "evaluate",
       "cluster", "inference"},
    "jobs": GROUND | {"grid", "cube", "cluster", "ingest", "inference", "query", "publish"},
    "demo": GROUND
    | {"grid", "cube", "cluster", "samples", "stacserver", "ingest", "inference", "quicklook"},
    "cli": set(),  # the shell: filled below with every part but __main__
    "__main__": {"cli"},
}
ALLOWED["cli"] = set(ALLOWED) - {"cli", "__main__"}


def _part(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "lstcloud" and len(parts) > 1 else None


def _imports(path: Path) -> set[str]:
    here = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*here.split(".")[: -node.level], *([base] if base else [])])
            found.update([base, *(f"{base}.{a.name}" for a in node.names)])
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {p for p in map(_part, found) if (p and (PACKAGE / p).exists()) or
            (p and (PACKAGE / f"{p}.py").exists())}


@functools.cache
def _parts() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        part = rel.parts[0].removesuffix(".py")
        if part == "__init__":
            continue
        out.setdefault(part, set()).update(_imports(path) - {part})
    return out


@pytest.mark.parametrize("part", sorted(_parts()))
def test_each_part_imports_only_what_the_map_allows(part: str) -> None:
    assert part in ALLOWED, f"{part} is not in the layout map (docs/architecture.md)"
    extra = _parts()[part] - ALLOWED[part]
    assert not extra, f"lstcloud.{part} imports {sorted(extra)}: not allowed by the layout map"


def test_the_map_has_no_cycle() -> None:
    state: dict[str, int] = {}

    def visit(node: str, path: tuple[str, ...]) -> None:
        if state.get(node) == 1:
            raise AssertionError(f"cycle: {' -> '.join((*path, node))}")
        if state.get(node) == 2:
            return
        state[node] = 1
        for nxt in ALLOWED.get(node, ()):
            visit(nxt, (*path, node))
        state[node] = 2

    for node in ALLOWED:
        visit(node, ())
