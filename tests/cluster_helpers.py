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

    from sweeps.tuner import WORKER_ENV

    ray.init(num_cpus=2, include_dashboard=False, runtime_env={"env_vars": WORKER_ENV})


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


def node_of_pid(cluster, pid):
    """The cluster node whose raylet started process ``pid`` (None once the process is gone)."""
    import psutil  # Ray's bundled copy, importable once ray is

    raylets = {raylet_pid(node): node for node in cluster.list_all_nodes()}
    try:
        ancestors = psutil.Process(pid).parents()
    except psutil.NoSuchProcess:
        return None
    return next((raylets[p.pid] for p in ancestors if p.pid in raylets), None)


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
