"""A real multi-node Ray cluster on this one machine, and readers of a sweep's trial directories.

Used by the multi-node, dashboard and fault tests. Nodes are ``ray.cluster_utils.Cluster``
nodes: separate raylets (and object stores) sharing one host, so a trial's IP says nothing
about its node; its worker process's parent raylet, or the state API's node_id, does.
"""

import json
import os
import secrets
import shutil
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

TRIAL_ACTOR = "ImplicitFunc"  # the actor class Tune runs a function trainable in


def _refresh_auth():
    """Make this process re-read RAY_AUTH_MODE and the token (both cached once read; Ray's own
    token-auth switch does the same)."""
    from ray._raylet import AuthenticationTokenLoader, Config

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


@contextmanager
def _environment(**values):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    _refresh_auth()
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        _refresh_auth()


def _restart_session_ray():
    """conftest's ray_local (same arguments; keep the two alike), started again, so later tests
    that hold that session fixture keep working."""
    import ray

    from sweeps.sweep.runtime import WORKER_ENV

    ray.init(address="local", num_cpus=2, include_dashboard=False, runtime_env={"env_vars": WORKER_ENV})


@contextmanager
def local_cluster(head, *workers):
    """A head and worker nodes (dicts of node args: num_cpus, num_gpus, resources, ...).

    Token authentication is on, with a fresh token, as on a real cluster (cluster.yaml).
    RAY_TMPDIR gives the cluster a private temp dir, so its address file does not make another
    ``ray.init()`` on this machine join it. The session's local Ray is stopped meanwhile (a process
    is connected to one Ray at a time) and started again after.
    """
    import ray
    from ray.cluster_utils import Cluster

    had_session_ray = ray.is_initialized()
    ray.shutdown()
    temp = tempfile.mkdtemp(prefix="dsw-", dir="/tmp")  # short: Ray's socket paths must stay < 108 chars
    with _environment(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32), RAY_TMPDIR=temp):
        cluster = Cluster(initialize_head=True, head_node_args=head)
        try:
            for node in workers:
                cluster.add_node(**node)
            cluster.wait_for_nodes()
            yield cluster
        finally:
            ray.shutdown()
            cluster.shutdown()
            shutil.rmtree(temp, ignore_errors=True)
            time.sleep(1)  # a dashboard child may write one last file while it exits
            shutil.rmtree(temp, ignore_errors=True)
    if had_session_ray:
        _restart_session_ray()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def auth_header():
    return {"Authorization": f"Bearer {os.environ['RAY_AUTH_TOKEN']}"}


def raylet_pid(node):
    from ray._private import ray_constants

    return node.all_processes[ray_constants.PROCESS_TYPE_RAYLET][0].process.pid


def worker_nodes(cluster):
    """{pid: node_id} of every process the cluster's raylets have started and that runs now."""
    import psutil

    nodes = {}
    for node in cluster.list_all_nodes():
        try:
            children = psutil.Process(raylet_pid(node)).children(recursive=True)
        except psutil.Error:  # a raylet gone, a process ending while read: the next poll will do
            continue
        nodes.update({child.pid: node.node_id for child in children})
    return nodes


def trial_dirs(experiment):
    """Trial directories in storage: Tune's files come with its snapshots, checkpoints before them."""
    found = [*Path(experiment).glob("*/params.json"), *Path(experiment).glob("*/checkpoint_*")]
    return sorted({p.parent for p in found})



def results(trial_dir):
    """Tune's result rows for one trial, in the order the driver wrote them."""
    path = Path(trial_dir) / "result.json"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line being written right now
    return rows


def finished(trial_dir, max_epochs):
    rows = results(trial_dir)
    return bool(rows) and (rows[-1].get("done") or rows[-1].get("epoch") == max_epochs)


def epochs(trial_dir):
    return [row["epoch"] for row in results(trial_dir) if "epoch" in row]


def restarts(trial_dir):
    """(epoch before, first epoch after) for each restore: rows restart their iterations_since_restore."""
    rows = [row for row in results(trial_dir) if "epoch" in row]
    return [(a["epoch"], b["epoch"]) for a, b in zip(rows, rows[1:]) if b["iterations_since_restore"] == 1]


def checkpointed_epoch(trial_dir):
    """The latest epoch a trial's worker has checkpointed into storage (ahead of Tune's own records)."""
    found = [0]
    for state in Path(trial_dir).glob("checkpoint_*/trial_state.json"):
        try:
            found.append(json.loads(state.read_text())["epoch"])
        except (OSError, ValueError, KeyError):
            pass  # being written or deleted right now
    return max(found)


def wait_for(condition, timeout, interval=0.2, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout} s waiting for {what}")


def fake_autoscaling_config(cluster_yaml, gcs_address, worker_resources, max_workers, idle_timeout_minutes):
    """``cluster.yaml``'s node types for Ray's fake multi-node provider: nodes are processes on this
    machine that the autoscaler starts and stops. The head keeps its resources (CPU 0); each worker
    type keeps its ``min_workers`` and GPU count, with ``worker_resources`` overriding what this
    machine cannot hold (4 CPUs a node on 2 cores), and at most ``max_workers`` of it."""
    import yaml

    real = yaml.safe_load(Path(cluster_yaml).read_text())
    types = real["available_node_types"]
    head = types[real["head_node_type"]]
    workers = {
        name: {"resources": {**spec["resources"], **worker_resources}, "node_config": {},
               "min_workers": spec.get("min_workers", 0), "max_workers": min(spec["max_workers"], max_workers)}
        for name, spec in types.items() if name != real["head_node_type"]
    }
    nothing = ["initialization_commands", "setup_commands", "head_setup_commands", "worker_setup_commands",
               "head_start_ray_commands", "worker_start_ray_commands", "cluster_synced_files"]
    return {
        "cluster_name": real["cluster_name"], "max_workers": min(real["max_workers"], max_workers),
        "upscaling_speed": real.get("upscaling_speed", 1.0), "idle_timeout_minutes": idle_timeout_minutes,
        # As Ray's own fake multi-node example: no SSH updaters (a node is ready once started), and
        # nodes are told apart by node id, not by IP (they share this machine's).
        "provider": {"type": "fake_multinode", "gcs_address": gcs_address, "launch_multiple": True,
                     "use_node_id_as_ip": True, "disable_node_updaters": True, "disable_launch_config_check": True},
        "auth": {"ssh_user": real["auth"]["ssh_user"]},
        # The fake provider names its head type so; the resources are cluster.yaml's head's.
        "available_node_types": {"ray.head.default": {"resources": head["resources"], "node_config": {}, "max_workers": 0},
                                 **workers},
        "head_node_type": "ray.head.default", "file_mounts": {}, "file_mounts_sync_continuously": False,
        **{key: [] for key in nothing},
    }


def _processes_of(temp):
    """Every process started for the cluster whose private RAY_TMPDIR is ``temp``."""
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get("RAY_TMPDIR") == temp and process.pid != os.getpid():
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


@contextmanager
def autoscaling_cluster(cluster_yaml, worker_resources, max_workers, idle_timeout_minutes=0.1):
    """A head started with ``ray start --head --autoscaling-config`` (as cluster.yaml's head is),
    its autoscaler launching and removing fake worker nodes. Yields the GCS address. Its processes
    are found by their private RAY_TMPDIR and killed at the end (``ray stop`` would stop every Ray
    on the machine)."""
    import subprocess
    import sys

    import ray
    import ray._private.services as services

    had_session_ray = ray.is_initialized()
    ray.shutdown()
    temp = tempfile.mkdtemp(prefix="dsa-", dir="/tmp")
    address = f"{services.get_node_ip_address()}:{free_port()}"
    config_file = Path(temp, "autoscaling.json")
    config_file.write_text(json.dumps(fake_autoscaling_config(cluster_yaml, address, worker_resources,
                                                              max_workers, idle_timeout_minutes)))
    env = {"RAY_TMPDIR": temp, "RAY_FAKE_CLUSTER": "1", "AUTOSCALER_UPDATE_INTERVAL_S": "1",
           # a node that stops answering is declared dead (and replaced) after this long, not 30 s
           "AUTOSCALER_HEARTBEAT_TIMEOUT_S": "10", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32),
           # and the GCS declares a killed raylet dead after 5 missed checks a second apart, not 3 s apart
           "RAY_health_check_period_ms": "1000"}
    ray_cli = str(Path(sys.executable).with_name("ray"))
    head = head_resources_flags(json.loads(config_file.read_text()))
    with _environment(**env):
        try:
            subprocess.run([ray_cli, "start", "--head", f"--port={address.rsplit(':', 1)[1]}",
                            f"--autoscaling-config={config_file}", "--include-dashboard=false",
                            "--disable-usage-stats", *head], check=True, capture_output=True, timeout=120)
            yield address
        finally:
            ray.shutdown()
            for process in _processes_of(temp):
                process.kill()
            services.find_gcs_addresses.cache_clear()
            time.sleep(1)
            shutil.rmtree(temp, ignore_errors=True)
    if had_session_ray:
        _restart_session_ray()


def head_resources_flags(config):
    resources = dict(config["available_node_types"]["ray.head.default"]["resources"])
    flags = [f"--num-cpus={resources.pop('CPU', 0)}", f"--num-gpus={resources.pop('GPU', 0)}"]
    return flags + ([f"--resources={json.dumps(resources)}"] if resources else [])
