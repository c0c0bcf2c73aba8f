"""The container image definition: non-root, pinned dependencies, CPU/GPU torch build args."""

from __future__ import annotations

import re

from tests.deploy.manifests import DEPLOY, ROOT


def _instructions() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_runtime_stage_runs_as_a_numeric_non_root_user():
    ops = _instructions()
    last_from = max(i for i, (op, _) in enumerate(ops) if op == "FROM")
    users = [rest for op, rest in ops[last_from:] if op == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert users[-1].split(":")[0].isdigit()


def test_base_images_and_torch_are_pinned():
    ops = _instructions()
    for op, rest in ops:
        if op == "FROM":
            image = rest.split()[0]
            assert re.search(r":\d+\.\d+\.\d+", image), image
    args = {rest.split("=")[0]: rest.split("=", 1)[1] for op, rest in ops if op == "ARG"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["TORCH_VERSION"])
    assert args["TORCH_VARIANT"] == "cpu"
    runs = [rest for op, rest in ops if op == "RUN"]
    assert any("download.pytorch.org/whl/${TORCH_VARIANT}" in rest for rest in runs)
    assert any("--constraint" in rest for op, rest in ops if op == "RUN")


def test_constraints_pin_every_dependency_of_the_project():
    pins = {}
    for line in (DEPLOY / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"unpinned line {line!r}"
            pins[name.lower().replace("_", "-")] = version
    pyproject = (ROOT / "pyproject.toml").read_text()
    block = pyproject.split("dependencies = [", 1)[1].split("]", 1)[0]
    for dep in re.findall(r'"([A-Za-z0-9_.\-]+)', block):
        name = dep.lower().replace("_", "-")
        if name == "torch":
            continue
        assert name in pins, f"{dep} is not pinned in deploy/constraints.txt"


def test_image_tags_of_the_dockerfile_readme_and_manifests_agree():
    header = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    built = set(re.findall(r"docker build .*?-t (\S+)", header.replace("#", " ")))
    readme = (DEPLOY / "README.md").read_text().replace("\\\n", " ")
    documented = set(re.findall(r"docker build .*?-t (\S+) \.", readme))
    used = set()
    for path in (DEPLOY / "base").glob("*.yaml"):
        used.update(re.findall(r"image: (\S+)", path.read_text()))
    assert used == {"ghcr.io/lstcloud/lstcloud:0.1.0", "ghcr.io/lstcloud/lstcloud-cuda:0.1.0"}
    assert built == used, f"Dockerfile header builds {built}, the manifests use {used}"
    assert documented == used
