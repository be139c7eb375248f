"""Shared test helpers: tiny slices of the embedded digits, a real local Ray, sweep runs."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS", "0")

REPO = Path(__file__).resolve().parents[1]
TINY = ["--limit", "300", "--val-fraction", "0.2", "--test-fraction", "0.2"]


def as_a_user_has_it():
    """This process's environment now (an S3 fixture's endpoint included) without the
    TF_CPP_MIN_LOG_LEVEL set above for the tests' own processes: what a user's shell has."""
    return {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}


NATIVE_NOISE = ["absl", "cuda", "oneDNN", "Checkpoint successfully", "== Status ==", "(pid="]


def assert_no_native_noise(output):
    """TensorFlow's C++ start-up lines, Ray's status tables and workers' output stay out of a console."""
    for noise in NATIVE_NOISE:
        assert noise not in output, noise


SWEEP_FIXTURES = {"smoke_sweep", "smoke_sweep_run"}  # each runs a real sweep


def pytest_collection_modifyitems(items):
    """The fast tier (``-m 'not slow'``) runs no Ray sweep: a test that reads a sweep is marked slow."""
    unmarked = [item.nodeid for item in items if SWEEP_FIXTURES & set(getattr(item, "fixturenames", ()))
                and not item.get_closest_marker("slow")]
    if unmarked:
        raise pytest.UsageError(f"read a sweep fixture but are not marked slow: {unmarked}")


def _a_sweep_in_a_fast_test(*args, **kwargs):
    raise AssertionError("this test runs a Ray sweep (Tuner.fit): mark it @pytest.mark.slow")


@pytest.fixture(autouse=True)
def fast_tests_run_no_sweep(request, monkeypatch):
    """A test not marked slow that starts a sweep in this process fails, saying so."""
    if request.node.get_closest_marker("slow") is None:
        from ray.tune import Tuner

        monkeypatch.setattr(Tuner, "fit", _a_sweep_in_a_fast_test)


@pytest.fixture(scope="session")
def tiny_data():
    from trainables.data.loading import load_data

    return load_data(limit=300, val_fraction=0.2, test_fraction=0.2, seed=0)


@pytest.fixture(scope="session")
def ray_local():
    """One real local Ray instance for the whole test session."""
    import ray

    from sweeps.sweep.runtime import WORKER_ENV

    # address="local": always our own instance; without it ray.init joins any Ray already
    # running on the machine (another test session's) and refuses num_cpus.
    ray.init(address="local", num_cpus=2, include_dashboard=False, runtime_env={"env_vars": WORKER_ENV})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def smoke_sweep_run(tmp_path_factory):
    """One finished 3-trial, 2-epoch CNN sweep run as a user runs it (the command line, a Ray of its
    own, the user's environment): (experiment path, its console output). Shared by the sweep,
    report, ensemble and console tests; don't write into it."""
    import subprocess
    import sys

    storage = tmp_path_factory.mktemp("results")
    argv = sweep_args(storage, "smoke", "--num-samples", "3", "--presets", "baseline-cnn,he-uniform")
    result = subprocess.run([sys.executable, str(REPO / "sweeps" / "cnn_search.py"), *argv], cwd=storage,
                            capture_output=True, text=True, timeout=600, env=as_a_user_has_it())
    assert result.returncode == 0, result.stderr[-3000:]
    return storage / "smoke", result.stdout + result.stderr


@pytest.fixture(scope="session")
def smoke_sweep(smoke_sweep_run, ray_local):
    # With the session's Ray up, as the tests that read the sweep in this process expect it.
    return smoke_sweep_run[0]


def sweep_args(storage, name, *extra):
    """Flags for a tiny, fast sweep into ``storage``."""
    return [
        *TINY, "--storage", str(storage), "--name", name, "--max-epochs", "2",
        "--grace-period", "1", "--time-budget-min", "0", *extra,
    ]
