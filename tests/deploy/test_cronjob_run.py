"""``lstcloud run`` exactly as the CronJob's container runs it: the rendered CronJob's arguments
(``run --config /etc/lstcloud/job.yaml --date yesterday``), its environment (S3 endpoint from the
``lstcloud-endpoints`` ConfigMap, AWS credentials and Earthdata netrc as files from the mounted
Secrets) and the rendered ConfigMap's job file, against a STAC API and an S3 API on 127.0.0.1.

Only what must point at the test servers is changed in the job file: the STAC URL, the bucket of
the cube/product/catalog URLs and the scheduler (a local cluster started by the run itself, so
its workers inherit the container environment like the operator's workers do); the model is
swapped for ``bicubic`` because a whole 4800 x 4800 tile through the CNN takes minutes on the
test machine's two cores (the CNN path is covered by the inference tests).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import DEPLOY, kubectl, render

pytestmark = pytest.mark.slow


def _remap(path: str, mounts: dict[str, Path]) -> str:
    """A container path on the local stand-in of its mount (longest mount path wins)."""
    for mount in sorted(mounts, key=len, reverse=True):
        if path == mount or path.startswith(mount + "/"):
            return str(mounts[mount]) + path[len(mount):]
    return path


def _container_env(container: dict[str, Any], *, configmaps: dict[str, dict[str, str]],
                   mounts: dict[str, Path]) -> dict[str, str]:
    """The container's environment as the kubelet would build it, with mounts remapped."""
    env: dict[str, str] = {}
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = _remap(var["value"], mounts)
        elif "configMapKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["configMapKeyRef"]
            data = configmaps.get(ref["name"], {})
            if ref["key"] in data:
                env[var["name"]] = data[ref["key"]]
        else:  # secretKeyRef is not used: secrets come in as files
            raise AssertionError(f"unexpected env source {var}")
    return env


def test_cronjob_container_runs_yesterday_and_publishes_it(tmp_path, s3_bucket, s3_endpoint):
    pytest.importorskip("lstcloud.jobs")
    samples = pytest.importorskip("lstcloud.samples.stac")
    from lstcloud.ingest import sources_for
    from lstcloud.stacserver import StacServer

    if kubectl() is None:
        pytest.skip("kubectl not installed")
    docs = render(DEPLOY / "overlays" / "dev")
    (cron,) = [d for d in docs if d["kind"] == "CronJob"]
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    configmaps = {d["metadata"]["name"]: dict(d.get("data", {}))
                  for d in docs if d["kind"] == "ConfigMap"}
    (endpoints,) = [n for n in configmaps if n.startswith("lstcloud-endpoints")]
    configmaps[endpoints]["s3-endpoint"] = s3_endpoint  # the dev cluster's MinIO, here moto
    (job_volume,) = [v for v in pod["volumes"] if v["name"] == "job-config"]
    job = yaml.safe_load(configmaps[job_volume["configMap"]["name"]]["job.yaml"])

    # The container's filesystem: /etc/lstcloud (ConfigMap), secret volumes, /tmp.
    root = tmp_path / "container"
    mounts = {m["mountPath"]: root / m["mountPath"].lstrip("/") for m in container["volumeMounts"]}
    for local in mounts.values():
        local.mkdir(parents=True, exist_ok=True)
    aws = mounts["/etc/lstcloud/aws"]
    (aws / "credentials").write_text(
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    (mounts["/etc/lstcloud/earthdata"] / "netrc").write_text(
        "machine urs.earthdata.nasa.gov login user password not-used\n")

    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    provider = job["provider"]
    products = sources_for(provider).products(include_night=False)
    catalog = samples.build_sample_catalog(
        tmp_path / "granules", provider=provider, tiles=[job["region"]], dates=[yesterday],
        products=products, seed=1,
    )
    bucket = s3_bucket[len("s3://"):]
    for key in ("cube_url", "product_url"):
        job[key] = f"s3://{bucket}/{job[key].split('/', 3)[3]}"
    job["publish"]["out_dir"] = f"s3://{bucket}/{job['publish']['out_dir'].split('/', 3)[3]}"
    job["scheduler"] = None
    job["model"] = "bicubic"  # the plumbing is under test here, not the CNN's CPU speed

    with StacServer(catalog.collections, catalog.items) as server:
        job["stac_url"] = server.url
        config_path = mounts["/etc/lstcloud"] / "job.yaml"
        config_path.write_text(yaml.safe_dump(job))
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(mounts["/tmp"]),
            "TMPDIR": str(mounts["/tmp"]),
            "AWS_DEFAULT_REGION": "us-east-1",
            **_container_env(container, configmaps=configmaps, mounts=mounts),
        }
        assert env["LSTCLOUD_S3_ENDPOINT"] == s3_endpoint
        assert "AWS_ACCESS_KEY_ID" not in env  # credentials come from the mounted file
        args = [_remap(a, mounts) for a in container["args"]]
        assert args[-2:] == ["--date", "yesterday"]
        result = subprocess.run(
            [sys.executable, "-m", "lstcloud", *args], env=env, cwd=mounts["/tmp"],
            capture_output=True, text=True, timeout=900,
        )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    import s3fs

    fs = s3fs.S3FileSystem(key="testing", secret="testing", endpoint_url=s3_endpoint,
                           skip_instance_cache=True)
    product = job["product_url"][len("s3://"):]
    assert fs.exists(f"{product}/_lstcloud/days/{yesterday.isoformat()}.json")
    stac = job["publish"]["out_dir"][len("s3://"):]
    collection = json.loads(fs.cat_file(f"{stac}/collection.json"))
    assert collection["extent"]["temporal"]["interval"][0][1].startswith(yesterday.isoformat())
    item = json.loads(fs.cat_file(f"{stac}/items/lstcloud-lst-250m-{yesterday.isoformat()}.json"))
    assert item["assets"]["zarr"]["href"] == job["product_url"]

    from tests.schemas import validate_stac

    validate_stac(collection)
    validate_stac(item)
