"""cluster.yaml, checked offline: Ray's own schema, and the security and storage settings we promise.

No AWS call is made: ``prepare_config`` only merges Ray's AWS defaults; the bootstrapping that
talks to AWS (IAM, key pairs, subnets, security groups) happens in ``ray up`` alone.
"""

import copy
import re
import shlex

import jsonschema
import pytest
import yaml
from packaging.requirements import Requirement

from tests.conftest import REPO

CLUSTER_YAML = REPO / "cluster.yaml"


@pytest.fixture(scope="module")
def raw():
    return yaml.safe_load(CLUSTER_YAML.read_text())


@pytest.fixture(scope="module")
def prepared(raw):
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(copy.deepcopy(raw))
    validate_config(config)
    return config


def node_types(config):
    head = config["head_node_type"]
    workers = {name: t for name, t in config["available_node_types"].items() if name != head}
    return config["available_node_types"][head], workers


def test_valid_against_rays_schema(prepared):
    assert prepared["provider"]["type"] == "aws"


def test_schema_rejects_fractional_resources(raw):
    # The check above is real: Ray's schema wants integer resources.
    from ray.autoscaler._private.util import prepare_config, validate_config

    broken = copy.deepcopy(raw)
    broken["available_node_types"]["gpu_worker"]["resources"]["GPU"] = 0.5
    with pytest.raises(jsonschema.ValidationError):
        validate_config(prepare_config(broken))


def test_cpu_head_and_gpu_workers_scaling_from_zero(raw):
    assert isinstance(raw.get("max_workers"), int) and raw["max_workers"] > 2  # AWS default is 2
    head, workers = node_types(raw)
    assert head["resources"].get("GPU", 0) == 0
    gpu = [t for t in workers.values() if t["resources"].get("GPU", 0) >= 1]
    assert gpu, "a GPU worker node type"
    for node_type in gpu:
        assert node_type["min_workers"] == 0 and 0 < node_type["max_workers"] <= raw["max_workers"]
    for node_type in raw["available_node_types"].values():
        assert all(isinstance(v, int) for v in node_type["resources"].values())


def test_dashboard_bound_to_localhost(raw):
    (head_start,) = [c for c in raw["head_start_ray_commands"] if "ray start" in c]
    assert "--dashboard-host=127.0.0.1" in head_start
    starts = raw["head_start_ray_commands"] + raw["worker_start_ray_commands"]
    assert not any("0.0.0.0" in command for command in starts)


def test_token_auth_on_every_node_with_the_launchers_token(raw):
    # Ray 2.60 has token authentication; these are the names it reads.
    from ray._private.authentication.authentication_token_setup import AUTH_MODE_ENV_VAR, _get_default_token_path

    assert AUTH_MODE_ENV_VAR == "RAY_AUTH_MODE" and _get_default_token_path().name == "auth_token"
    starts = [c for key in ("head_start_ray_commands", "worker_start_ray_commands") for c in raw[key] if "ray start" in c]
    assert len(starts) == 2 and all("RAY_AUTH_MODE=token ray start" in c for c in starts)
    remote_token = f"/home/{raw['auth']['ssh_user']}/.ray/auth_token"
    assert raw["file_mounts"].get(remote_token) == "~/.ray/auth_token"


def test_no_inbound_port_but_ssh(raw):
    # Ray's group allows traffic between the cluster's nodes and SSH; anything listed here is added.
    rules = raw["provider"].get("security_group", {}).get("IpPermissions", [])
    assert all(rule.get("FromPort") == rule.get("ToPort") == 22 for rule in rules)
    for node_type in raw["available_node_types"].values():
        assert "SecurityGroupIds" not in node_type["node_config"], "Ray's own group, with the rules above"
        assert "NetworkInterfaces" not in node_type["node_config"]


def test_every_node_installs_the_pinned_project(raw, prepared):
    mounted = [remote for remote, local in raw["file_mounts"].items() if local == "."]
    assert mounted, "the repository is mounted on every node"
    commands = " ".join(raw["setup_commands"])
    assert re.search(r"pip install (-q )?-e (~|/home/ubuntu)/digit-sweep", commands)
    assert mounted[0].endswith("/digit-sweep")
    pins = {}
    for word in shlex.split(commands):
        if "==" in word:
            requirement = Requirement(word)
            pins[requirement.name] = next(iter(requirement.specifier)).version
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    for line in declared:
        requirement = Requirement(line)
        assert requirement.name in pins, f"{requirement.name} is not pinned in setup_commands"
        assert requirement.specifier.contains(pins[requirement.name]), f"{requirement.name}=={pins[requirement.name]} is outside {requirement.specifier}"
    # setup_commands are global: Ray runs them on the head and on every worker.
    for key in ("head_setup_commands", "worker_setup_commands"):
        assert prepared[key][: len(raw["setup_commands"])] == raw["setup_commands"]


def test_storage_and_the_cluster_loop_are_documented():
    assert "--storage s3://" in CLUSTER_YAML.read_text()
    section = (REPO / "docs" / "cluster.md").read_text()
    for step in ("ray up cluster.yaml", "ray dashboard cluster.yaml", "ray job submit", "--working-dir .",
                 "--address auto", "--storage s3://", "sweeps/leaderboard.py s3://", "ray down cluster.yaml"):
        assert step in section, step


def test_gpu_workers_install_the_projects_gpu_extra_at_the_pinned_tensorflow():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    gpu = [Requirement(line) for line in project["optional-dependencies"]["gpu"]]
    base = {Requirement(line).name: Requirement(line) for line in project["dependencies"]}
    (tensorflow,) = [r for r in gpu if r.name == "tensorflow"]
    assert "and-cuda" in tensorflow.extras and tensorflow.specifier == base["tensorflow"].specifier
    commands = " ".join(yaml.safe_load(CLUSTER_YAML.read_text())["worker_setup_commands"])
    assert "digit-sweep[gpu]" in commands and "pip install" in commands
    assert "tensorflow" not in commands  # its version comes from one place, pyproject.toml
