"""Rendering and offline validation of the Kubernetes manifests of ``deploy/``.

Built-in kinds are validated with kubernetes-validate (strict, pinned Kubernetes version); the
dask-kubernetes custom resources against the CRD openAPI schemas shipped in the dask-kubernetes
wheel, made strict the way the API server prunes: unknown fields are errors here.
"""

from __future__ import annotations

import copy
import functools
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
OVERLAYS = ("dev", "prod")
KUBERNETES_VERSION = "1.32.0"
CRD_KINDS = {"DaskCluster", "DaskWorkerGroup", "DaskJob", "DaskAutoscaler"}


def kubectl() -> str | None:
    """Path of kubectl (Debian's package puts it in /usr/bin)."""
    return shutil.which("kubectl") or (
        "/usr/bin/kubectl" if Path("/usr/bin/kubectl").exists() else None
    )


def render(path: Path) -> list[dict[str, Any]]:
    """``kubectl kustomize path`` parsed into documents."""
    exe = kubectl()
    if exe is None:
        raise FileNotFoundError("kubectl not found")
    out = subprocess.run(
        [exe, "kustomize", str(path)], check=True, capture_output=True, text=True, timeout=60
    )
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


@functools.cache
def crd_schemas() -> dict[str, dict[str, Any]]:
    """Strict openAPI v3 schema of each dask-kubernetes custom resource kind."""
    import dask_kubernetes

    folder = (
        Path(dask_kubernetes.__file__).parent
        / "operator" / "deployment" / "helm" / "dask-kubernetes-operator" / "crds"
    )
    schemas = {}
    for path in sorted(folder.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        kind = crd["spec"]["names"]["kind"]
        version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
        schema = copy.deepcopy(version["schema"]["openAPIV3Schema"])
        schema.setdefault("properties", {})
        schema["properties"].update(
            {
                "apiVersion": {"const": f"{crd['spec']['group']}/v1"},
                "kind": {"const": kind},
                "metadata": {"type": "object"},
            }
        )
        schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind"})
        schemas[kind] = _strict(schema)
    return schemas


def _strict(node: Any) -> Any:
    """Forbid unknown fields wherever the schema lists properties and does not preserve them."""
    if isinstance(node, dict):
        out = {k: _strict(v) for k, v in node.items()}
        if (
            "properties" in out
            and "additionalProperties" not in out
            and not out.get("x-kubernetes-preserve-unknown-fields")
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_strict(v) for v in node]
    return node


def validate(doc: dict[str, Any]) -> None:
    """Validate one manifest; raises on any error (unknown kinds included)."""
    kind = doc.get("kind")
    if kind in CRD_KINDS:
        schema = crd_schemas()[kind]
        jsonschema.Draft7Validator(schema).validate(doc)
        return
    import kubernetes_validate

    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def pod_specs(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Every pod spec inside a manifest (CronJob, Job, DaskCluster, DaskWorkerGroup ...)."""
    kind = doc["kind"]
    spec = doc.get("spec", {})
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    if kind in ("Job", "Deployment", "StatefulSet", "DaemonSet"):
        return [spec["template"]["spec"]]
    if kind == "DaskCluster":
        return [spec["scheduler"]["spec"], spec["worker"]["spec"]]
    if kind == "DaskWorkerGroup":
        return [spec["worker"]["spec"]]
    if kind == "DaskJob":
        return [spec["job"]["spec"], *pod_specs({"kind": "DaskCluster", **spec["cluster"]})]
    return []
