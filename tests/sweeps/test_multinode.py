"""Sweeps on a real three-node Ray cluster on this machine: trials across nodes, the dashboard's
view of a running sweep (through its HTTP API, with the token), and fractional GPU shares.

The nodes are separate raylets with 1 CPU each; the third also has one logical GPU, so the
GPU sweep is placement only (TensorFlow sees no physical GPU and runs on the CPU).
"""

import contextlib
import io
import threading
import time

import pandas as pd
import pytest
import requests

from tests.cluster_helpers import TRIAL_ACTOR, auth_header, free_port, local_cluster, results, trial_dirs, worker_nodes
from tests.conftest import sweep_args

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    port = free_port()
    head = {"num_cpus": 1, "include_dashboard": True, "dashboard_host": "127.0.0.1", "dashboard_port": port}
    with local_cluster(head, {"num_cpus": 1}, {"num_cpus": 1, "num_gpus": 1}) as c:
        c.dashboard = f"http://127.0.0.1:{port}"
        yield c


def trial_actors(cluster, alive_only=False, class_name=TRIAL_ACTOR):
    """The trial actors the dashboard lists (its state API over HTTP, authenticated); every actor
    with ``class_name=None``."""
    params = {"detail": "1", "limit": "1000"}
    response = requests.get(f"{cluster.dashboard}/api/v0/actors", params=params, headers=auth_header(), timeout=10)
    response.raise_for_status()
    actors = response.json()["data"]["result"]["result"]
    # Filtered here, by the class's own name: the dashboard gives some trial actors their qualified
    # name ("wrap_function.<locals>.ImplicitFunc", seen in CI), which its own "=" filter misses.
    if class_name:
        actors = [a for a in actors if a["class_name"].rsplit(".", 1)[-1] == class_name]
    return [a for a in actors if a["state"] == "ALIVE"] if alive_only else actors


class Watcher(threading.Thread):
    """Polls the dashboard while a sweep runs; keeps each snapshot of live trial actors and the free
    GPU, and the node of every worker process the cluster's raylets ran meanwhile (from the OS)."""

    def __init__(self, cluster):
        super().__init__(daemon=True)
        self.cluster, self.snapshots, self.stopped = cluster, [], threading.Event()
        self.node_of = {}

    def run(self):
        import ray

        while not self.stopped.wait(0.5):
            self.node_of.update(worker_nodes(self.cluster))
            try:
                alive = trial_actors(self.cluster, alive_only=True)
                free_gpu = ray.available_resources().get("GPU", 0.0) if ray.is_initialized() else None
            except Exception:  # the driver still connecting, a slow answer: the next poll will do
                continue
            self.snapshots.append({"alive": alive, "free_gpu": free_gpu})


def watched_sweep(cluster, storage, name, *flags):
    """Run a sweep against the cluster while a Watcher polls the dashboard; returns what it saw."""
    from sweeps.sweep.definition import CNN
    from sweeps.pipeline import run_cli

    watcher, out = Watcher(cluster), io.StringIO()
    watcher.start()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = run_cli(CNN, sweep_args(storage, name, "--address", cluster.address, "--scheduler", "fifo", "--search", "random", *flags))
    watcher.stopped.set()
    watcher.join()
    print(out.getvalue()[-3000:])
    return {"code": code, "path": storage / name, "stdout": out.getvalue(), "snapshots": watcher.snapshots,
            "node_of": watcher.node_of, "seconds": time.perf_counter() - started}


def trial_pids(path):
    return {row["pid"] for d in trial_dirs(path) for row in results(d)}


@pytest.fixture(scope="module")
def cpu_sweep(cluster, tmp_path_factory):
    storage = tmp_path_factory.mktemp("multinode")
    return watched_sweep(cluster, storage, "spread", "--num-samples", "2", "--max-epochs", "1", "--presets", "baseline-cnn")


def test_trials_ran_on_more_than_one_node(cluster, cpu_sweep):
    assert cpu_sweep["code"] == 0
    board = pd.read_parquet(cpu_sweep["path"] / "leaderboard.parquet")
    assert len(board) == 2 and set(board["status"]) == {"TERMINATED"}
    # Every node shares this host's IP: a trial's node is the raylet that started its process, as
    # the OS saw it while the sweep ran (the dashboard's view is the next test's subject).
    pids = trial_pids(cpu_sweep["path"])
    assert pids <= set(cpu_sweep["node_of"]), (pids, cpu_sweep["node_of"])
    nodes = {cpu_sweep["node_of"][pid] for pid in pids}
    print(f"multi-node: {len(pids)} trials on {len(nodes)} of 3 nodes in {cpu_sweep['seconds']:.0f} s")
    assert nodes <= {n.node_id for n in cluster.list_all_nodes()}
    assert len(nodes) == 2  # 1 CPU a node: the two trials, started together, cannot share one


def test_dashboard_listed_the_running_sweeps_trial_actors(cluster, cpu_sweep):
    assert f"Ray dashboard: {cluster.dashboard}" in cpu_sweep["stdout"]
    seen = {a["pid"] for snapshot in cpu_sweep["snapshots"] for a in snapshot["alive"]}
    print(f"dashboard: {len(cpu_sweep['snapshots'])} polls saw live trial actors {sorted(seen)}")
    listed = [(a["class_name"], a["state"], a.get("pid"), a["node_id"][:8]) for a in trial_actors(cluster, class_name=None)]
    assert seen and seen <= trial_pids(cpu_sweep["path"]), f"the dashboard lists now: {listed}"
    # Token authentication is on: without the token the same API refuses.
    assert requests.get(f"{cluster.dashboard}/api/v0/actors", timeout=10).status_code == 401


def test_quarter_gpu_trials_share_one_gpu(cluster, tmp_path):
    sweep = watched_sweep(
        # Long enough (2 epochs of 600 digits) that the four trials overlap: with one epoch of 180 the
        # first could finish before the fourth's worker had started, and the watcher saw only three.
        cluster, tmp_path, "quarters", "--num-samples", "4", "--max-epochs", "2", "--limit", "1000",
        "--presets", "baseline-cnn", "--gpus-per-trial", "0.25", "--cpus-per-trial", "0.25",
    )
    assert sweep["code"] == 0
    board = pd.read_parquet(sweep["path"] / "leaderboard.parquet")
    assert len(board) == 4 and set(board["status"]) == {"TERMINATED"}
    import ray

    gpu_node = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU"))
    # The four ran at once: each trial's own rows give its span (first start to last report).
    spans = []
    for trial in trial_dirs(sweep["path"]):
        rows = results(trial)
        spans.append((min(r["timestamp"] - r["time_total_s"] for r in rows), max(r["timestamp"] for r in rows)))
    assert len(spans) == 4 and max(start for start, _ in spans) < min(end for _, end in spans), spans
    # Each on the GPU node with a quarter of its GPU, as the dashboard lists the trial actors (a
    # finished actor keeps its placement there; live snapshots may lag a 40-second sweep under load).
    pids = trial_pids(sweep["path"])
    actors = [a for a in trial_actors(cluster) if a["pid"] in pids]
    most = max(len(s["alive"]) for s in sweep["snapshots"])
    overlap = min(end for _, end in spans) - max(start for start, _ in spans)
    print(f"fractional GPU: {len(actors)} trial actors, at most {most} seen alive at once, all four training "
          f"together for {overlap:.0f} s, {sweep['seconds']:.0f} s")
    assert len(actors) == 4 and {a["node_id"] for a in actors} == {gpu_node}
    for actor in actors:
        gpu = sum(v for k, v in actor["required_resources"].items() if k.startswith("GPU_group_0_"))
        assert gpu == pytest.approx(0.25)
    assert min(s["free_gpu"] for s in sweep["snapshots"] if s["free_gpu"] is not None) == pytest.approx(0.0)
