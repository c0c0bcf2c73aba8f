"""The rendered Kubernetes manifests are valid, secure and do what the daily job needs."""

from __future__ import annotations

import copy
import os
import re
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.manifests import (
    DEPLOY,
    KUBERNETES_VERSION,
    OVERLAYS,
    kubectl,
    pod_specs,
    render,
    validate,
)

pytest.importorskip("kubernetes_validate")
pytest.importorskip("dask_kubernetes")


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    if kubectl() is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl is required in CI to render deploy/overlays")
        pytest.skip("kubectl not installed")
    return request.param, render(DEPLOY / "overlays" / request.param)


def _by_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_overlays_render_the_expected_resources(rendered):
    env, docs = rendered
    kinds = sorted(d["kind"] for d in docs)
    expected = {
        "ServiceAccount", "ConfigMap", "NetworkPolicy", "PersistentVolumeClaim", "CronJob", "Job",
        "DaskCluster", "DaskWorkerGroup",
    }
    assert expected <= set(kinds)
    assert "Secret" not in kinds, "secrets are referenced, never shipped"
    namespace = "lstcloud-dev" if env == "dev" else "lstcloud"
    assert {d["metadata"].get("namespace") for d in docs} == {namespace}


@pytest.mark.slow
def test_every_manifest_validates_offline(rendered):
    _, docs = rendered
    for doc in docs:
        validate(doc)


@pytest.mark.slow  # kubernetes-validate loads its schemas (~8 s) on first use
def test_validation_rejects_a_typo_in_builtin_and_custom_kinds(rendered):
    import kubernetes_validate

    _, docs = rendered
    cron = copy.deepcopy(_by_kind(docs, "CronJob")[0])
    cron["spec"]["concurrencyPolicyy"] = "Forbid"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(cron)
    cluster = copy.deepcopy(_by_kind(docs, "DaskCluster")[0])
    cluster["spec"]["worker"]["replica"] = 3
    with pytest.raises(jsonschema.ValidationError):
        validate(cluster)
    group = copy.deepcopy(_by_kind(docs, "DaskWorkerGroup")[0])
    del group["spec"]["cluster"]
    with pytest.raises(jsonschema.ValidationError):
        validate(group)


def test_every_container_is_locked_down_and_sized(rendered):
    _, docs = rendered
    n_containers = 0
    for doc in docs:
        for pod in pod_specs(doc):
            assert pod["securityContext"]["runAsNonRoot"] is True, doc["metadata"]["name"]
            assert pod.get("automountServiceAccountToken") is False
            assert pod.get("serviceAccountName") == "lstcloud"
            for container in [*pod.get("initContainers", []), *pod["containers"]]:
                n_containers += 1
                where = f"{doc['kind']}/{doc['metadata']['name']}/{container['name']}"
                sc = container["securityContext"]
                assert sc["runAsNonRoot"] is True, where
                assert sc["readOnlyRootFilesystem"] is True, where
                assert sc["allowPrivilegeEscalation"] is False, where
                assert sc["capabilities"]["drop"] == ["ALL"], where
                for bound in ("requests", "limits"):
                    assert {"cpu", "memory"} <= set(container["resources"][bound]), where
                assert re.search(r":\d+\.\d+\.\d+", container["image"]), where
                for env in container.get("env", []):
                    assert not (
                        re.search(r"PASSWORD|SECRET|TOKEN", env["name"]) and "value" in env
                    ), f"{where}: literal secret in {env['name']}"
    assert n_containers >= 5


def test_cronjob_runs_yesterday_once_at_a_time(rendered):
    _, docs = rendered
    (cron,) = _by_kind(docs, "CronJob")
    spec = cron["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] > 0
    job = spec["jobTemplate"]["spec"]
    assert job["backoffLimit"] >= 1
    assert job["activeDeadlineSeconds"] > 0
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["args"] == [
        "run", "--config", "/etc/lstcloud/job.yaml", "--date", "yesterday"
    ]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["job-config"] == "/etc/lstcloud"
    configmap = volumes["job-config"]["configMap"]["name"]
    (cm,) = [d for d in _by_kind(docs, "ConfigMap") if d["metadata"]["name"] == configmap]
    job_yaml = yaml.safe_load(cm["data"]["job.yaml"])
    assert job_yaml["scheduler"].startswith("tcp://lstcloud-scheduler")
    # Secrets come in as files from Secret references (optional: workload identity may do).
    secrets = {v["secret"]["secretName"] for v in volumes.values() if "secret" in v}
    assert secrets == {"lstcloud-earthdata", "lstcloud-storage"}


def test_job_config_of_each_overlay_is_accepted_by_lstcloud_run(rendered):
    jobs = pytest.importorskip("lstcloud.jobs")
    _, docs = rendered
    (cm,) = [d for d in _by_kind(docs, "ConfigMap") if d["metadata"]["name"].startswith(
        "lstcloud-job")]
    jobs.JobConfig.model_validate(yaml.safe_load(cm["data"]["job.yaml"]))


def test_gpu_workers_and_training_request_gpus_on_gpu_nodes(rendered):
    env, docs = rendered
    (group,) = _by_kind(docs, "DaskWorkerGroup")
    (cluster,) = _by_kind(docs, "DaskCluster")
    assert group["spec"]["cluster"] == cluster["metadata"]["name"]
    (train,) = [d for d in _by_kind(docs, "Job") if "train" in d["metadata"]["name"]]
    assert train["spec"]["suspend"] is True
    for pod in (group["spec"]["worker"]["spec"], train["spec"]["template"]["spec"]):
        (container,) = pod["containers"]
        assert str(container["resources"]["limits"]["nvidia.com/gpu"]) == "1"
        assert pod["nodeSelector"] == {"lstcloud.io/pool": "gpu"}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod[
            "tolerations"]
    cpu_pod = cluster["spec"]["worker"]["spec"]
    assert "nvidia.com/gpu" not in cpu_pod["containers"][0]["resources"]["limits"]
    assert cpu_pod["nodeSelector"] == {"lstcloud.io/pool": "cpu"}
    assert group["spec"]["worker"]["replicas"] == (0 if env == "dev" else 2)


def test_every_dask_worker_starts_with_the_tuned_allocator(rendered):
    """The worker pods set lstcloud.allocator.WORKER_MALLOC_ENV, as the local cluster does."""
    from lstcloud.allocator import WORKER_MALLOC_ENV

    _, docs = rendered
    (group,) = _by_kind(docs, "DaskWorkerGroup")
    (cluster,) = _by_kind(docs, "DaskCluster")
    for pod in (group["spec"]["worker"]["spec"], cluster["spec"]["worker"]["spec"]):
        (container,) = pod["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert {k: env.get(k) for k in WORKER_MALLOC_ENV} == WORKER_MALLOC_ENV


def test_service_account_uses_workload_identity(rendered):
    env, docs = rendered
    (sa,) = _by_kind(docs, "ServiceAccount")
    role = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
    assert f"lstcloud-{env}-data-access" in role
    assert sa["automountServiceAccountToken"] is False


def test_pinned_kubernetes_version_is_supported():
    import kubernetes_validate.utils as kv

    assert any(v.startswith(KUBERNETES_VERSION.rsplit(".", 1)[0]) for v in kv.all_versions())


def test_the_optional_web_service_serves_the_product_read_only_inside_the_cluster(rendered):
    env, docs = rendered
    deployments = [
        d for d in _by_kind(docs, "Deployment") if d["metadata"]["name"] == "lstcloud-serve"
    ]
    if env != "dev":
        assert deployments == [], "the web service is opt-in (components/serve)"
        return
    (deployment,) = deployments
    (service,) = [s for s in _by_kind(docs, "Service") if s["metadata"]["name"] == "lstcloud-serve"]
    pod = deployment["spec"]["template"]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    assert deployment["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    (container,) = pod["spec"]["containers"]
    args = container["args"]
    assert args[:3] == ["serve", "--product", "$(LSTCLOUD_PRODUCT)"]
    port = int(args[args.index("--port") + 1])
    assert [p["containerPort"] for p in container["ports"]] == [port]
    assert service["spec"]["ports"][0]["targetPort"] == container["ports"][0]["name"]
    product = next(e["value"] for e in container["env"] if e["name"] == "LSTCLOUD_PRODUCT")
    assert product == "s3://lstcloud-dev/h18v04/product.zarr"
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/product"


def test_network_policy_admits_the_namespace_and_the_dask_operator_only(rendered):
    _, docs = rendered
    (policy,) = _by_kind(docs, "NetworkPolicy")
    assert policy["spec"]["podSelector"] == {}
    sources = [peer for rule in policy["spec"]["ingress"] for peer in rule["from"]]
    assert {"podSelector": {}} in sources
    namespaces = [p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                  for p in sources if "namespaceSelector" in p]
    assert namespaces == ["dask-operator"]


#: Kinds of objects a pod spec can reference by name, found anywhere in a manifest.
_REF_KEYS = {
    "configMapKeyRef": ("ConfigMap", "name"),
    "configMapRef": ("ConfigMap", "name"),
    "secretKeyRef": ("Secret", "name"),
    "secretRef": ("Secret", "name"),
}


def _references(node: Any, where: str = "") -> list[tuple[str, str, str, dict[str, Any]]]:
    """(kind, name, where, the reference) for every ConfigMap / Secret / PVC / ServiceAccount
    a manifest names: env and envFrom refs, volumes (also projected), claims, accounts."""
    out: list[tuple[str, str, str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{key}" if where else key
            if key in _REF_KEYS and isinstance(value, dict):
                kind, field = _REF_KEYS[key]
                out.append((kind, value[field], here, value))
            elif key == "configMap" and isinstance(value, dict) and "name" in value:
                out.append(("ConfigMap", value["name"], here, value))
            elif key == "secret" and isinstance(value, dict) and (
                    "secretName" in value or "name" in value):
                out.append(("Secret", value.get("secretName") or value["name"], here, value))
            elif key == "persistentVolumeClaim" and isinstance(value, dict):
                out.append(("PersistentVolumeClaim", value["claimName"], here, value))
            elif key == "serviceAccountName" and isinstance(value, str):
                out.append(("ServiceAccount", value, here, {}))
            out.extend(_references(value, here))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            out.extend(_references(value, f"{where}[{i}]"))
    return out


def _documented_external_secrets() -> set[str]:
    """The Secrets deploy/README.md says operators create (never rendered here)."""
    text = (DEPLOY / "README.md").read_text()
    line = next(li for li in text.splitlines() if "manifests only reference" in li)
    return set(re.findall(r"`([a-z0-9-]+)`", line))


def _unresolved(docs: list[dict[str, Any]]) -> list[str]:
    rendered = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    external = _documented_external_secrets()
    problems = []
    for doc in docs:
        for kind, name, where, ref in _references(doc.get("spec", {}), "spec"):
            what = f"{doc['kind']}/{doc['metadata']['name']} {where}: {kind} {name!r}"
            target = rendered.get((kind, name))
            if target is None:
                if not (kind == "Secret" and name in external):
                    problems.append(f"{what} is not rendered in this overlay")
                continue
            key = ref.get("key")
            needed = kind == "ConfigMap" and key and not ref.get("optional")
            if needed and key not in target.get("data", {}):
                problems.append(f"{what} has no key {key!r}")
    return problems


def test_every_reference_resolves_to_an_object_of_the_same_overlay(rendered):
    env, docs = rendered
    assert _documented_external_secrets() == {"lstcloud-earthdata", "lstcloud-storage"}
    refs = [r for d in docs for r in _references(d.get("spec", {}))]
    kinds = {kind for kind, *_ in refs}
    assert {"ConfigMap", "Secret", "PersistentVolumeClaim", "ServiceAccount"} <= kinds
    assert _unresolved(docs) == []
    # the regression: kustomize renames generated ConfigMaps (name-<hash>) and must fix the
    # references inside the Dask custom resources too, or their workers lose the S3 endpoint
    configmaps = {d["metadata"]["name"]: d.get("data", {}) for d in docs
                  if d["kind"] == "ConfigMap"}
    for doc in docs:
        for pod in pod_specs(doc):
            for container in pod["containers"]:
                for var in container.get("env", []):
                    ref = var.get("valueFrom", {}).get("configMapKeyRef")
                    if ref and var["name"] == "LSTCLOUD_S3_ENDPOINT":
                        assert ref["name"] in configmaps, (doc["kind"], ref)
                        if env == "dev":
                            assert configmaps[ref["name"]][ref["key"]].startswith("http://minio")


def test_the_reference_check_catches_a_stale_name(rendered):
    _, docs = rendered
    broken = copy.deepcopy(docs)
    (group,) = _by_kind(broken, "DaskWorkerGroup")
    container = group["spec"]["worker"]["spec"]["containers"][0]
    (var,) = [v for v in container["env"] if v["name"] == "LSTCLOUD_S3_ENDPOINT"]
    var["valueFrom"]["configMapKeyRef"]["name"] = "lstcloud-endpoints"  # not the hashed name
    container.setdefault("envFrom", []).append({"secretRef": {"name": "lstcloud-typo"}})
    problems = _unresolved(broken)
    assert len(problems) == 2, problems
    assert any("'lstcloud-endpoints' is not rendered" in p for p in problems)
    assert any("'lstcloud-typo' is not rendered" in p for p in problems)

