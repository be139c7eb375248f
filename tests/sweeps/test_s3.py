"""Experiments in object storage, end to end, against a real S3 API on the loopback address (moto's
server): the sweep, leaderboard, report, library ensemble, retrained ensemble, refit, predict and
--resume, every one as a user runs it (the command line, a Ray of its own, AWS settings from the
environment), and everything it writes lands in the bucket. Run with -s to see what each observed.
"""

import io
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from tests.conftest import REPO, as_a_user_has_it, assert_no_native_noise, sweep_args
from trainables.data.kaggle_csv import write_kaggle_csv

pytestmark = pytest.mark.slow
BUCKET = "digits"
STORAGE = f"s3://{BUCKET}/sweeps"


@pytest.fixture(scope="module")
def s3():
    """A local S3 server with an empty bucket; the AWS variables pyarrow (and Ray's storage) read."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    patch = pytest.MonkeyPatch()
    for key, value in env.items():
        patch.setenv(key, value)
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    yield boto3.client("s3")
    patch.undo()
    server.stop()


def keys(client, prefix):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(item["Key"][len(prefix):] for page in pages for item in page.get("Contents", []))


def read(client, key):
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read()


def run(script, *argv, cwd, timeout=600, env=None):
    result = subprocess.run([sys.executable, str(REPO / "sweeps" / script), *argv], cwd=cwd,
                            capture_output=True, text=True, timeout=timeout, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_data):
    """The user's directory: test.csv only, before and (the test checks) after every command."""
    work = tmp_path_factory.mktemp("work")
    write_kaggle_csv(work / "test.csv", tiny_data.x_test[:23])
    return work


@pytest.fixture(scope="module")
def killed_then_resumed(s3, workdir):
    """A 3-trial sweep with ``--ensemble`` into the bucket, its driver SIGKILLed once a checkpoint
    is there, then ``--resume``d to the end: the library ensemble, the refit (1 epoch a member) and
    their submissions come from the resumed run. One sweep serves every test here (the kill and the
    resume are checked by their own test)."""
    argv = sweep_args(STORAGE, "cloud", "--num-samples", "3", "--presets", "baseline-cnn,he-uniform",
                      "--search", "random", "--scheduler", "fifo", "--test", "test.csv",
                      "--ensemble", "--refit-epochs", "1")
    driver = subprocess.Popen([sys.executable, str(REPO / "sweeps" / "cnn_search.py"), *argv], cwd=workdir,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started, prefix = time.monotonic(), "sweeps/cloud/"
    try:
        # Checkpoints go to the bucket from the workers; Tune's state from the driver every few seconds.
        while True:
            stored = keys(s3, prefix)
            if any("/checkpoint_" in k for k in stored) and any(k.startswith("experiment_state-") for k in stored):
                break
            assert time.monotonic() - started < 400 and driver.poll() is None, "no checkpoint reached the bucket"
            time.sleep(0.5)
    finally:
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
    stored = keys(s3, prefix)
    at_kill = {"seconds": time.monotonic() - started, "checkpoints": sum(k.endswith("/model.keras") for k in stored),
               "submission": "library/submission.csv" in stored}
    resumed = time.monotonic()
    result = run("cnn_search.py", "--resume", "--name", "cloud", "--storage", STORAGE, "--limit", "300",
                 "--val-fraction", "0.2", "--test-fraction", "0.2", cwd=workdir, env=as_a_user_has_it())
    at_kill["resume_seconds"] = time.monotonic() - resumed
    at_kill["resume_output"] = result.stdout + result.stderr
    return prefix, at_kill


@pytest.fixture(scope="module")
def sweep(killed_then_resumed):
    return killed_then_resumed[0]


def test_a_killed_driver_resumes_from_the_bucket(s3, killed_then_resumed):
    prefix, at_kill = killed_then_resumed
    board = pd.read_parquet(io.BytesIO(read(s3, prefix + "leaderboard.parquet")))
    print(f"s3 driver kill after {at_kill['seconds']:.0f} s ({at_kill['checkpoints']} checkpoints in the bucket); "
          f"resume took {at_kill['resume_seconds']:.0f} s; leaderboard {len(board)} rows, epochs {sorted(board['epochs'])}")
    assert not at_kill["submission"]  # killed before its end
    assert len(board) == 3 and set(board["status"]) == {"TERMINATED"} and (board["epochs"] == 2).all()
    assert board["checkpoint"].str.startswith(f"{STORAGE}/cloud/").all()


def test_a_sweep_writes_everything_into_the_bucket_and_nothing_locally(s3, sweep, workdir):
    stored = keys(s3, sweep)
    print(f"s3 sweep: {len(stored)} objects, e.g. {[k for k in stored if '/' not in k]}")
    for name in ["digit_sweep.json", "tuner.pkl", "report.html", "leaderboard.parquet", "leaderboard.csv",
                 "leaderboard.json", "leaderboard.md", "library/report.json", "library/report.md",
                 "library/manifest.json", "library/submission.csv"]:
        assert name in stored, name
    assert any(k.startswith("experiment_state-") for k in stored)
    assert any(k.endswith("/model.keras") and "/checkpoint_" in k for k in stored)
    assert sorted(p.name for p in workdir.iterdir()) == ["test.csv"]  # no local results/ or leaderboards/

    board = pd.read_parquet(io.BytesIO(read(s3, sweep + "leaderboard.parquet")))
    assert len(board) == 3
    checkpoints = board["checkpoint"].dropna()
    assert len(checkpoints) and checkpoints.str.startswith(f"{STORAGE}/cloud/").all()
    submission = pd.read_csv(io.BytesIO(read(s3, sweep + "library/submission.csv")))
    assert len(submission) == 23
    assert "Library ensemble" in read(s3, sweep + "report.html").decode()


def test_predict_applies_a_trial_and_the_library_ensemble_from_the_bucket(s3, sweep, workdir, tmp_path):
    board = pd.read_parquet(io.BytesIO(read(s3, sweep + "leaderboard.parquet")))
    best = board.dropna(subset=["checkpoint"]).iloc[0]["trial_id"]
    run("predict.py", f"{STORAGE}/cloud", best, "--test", "test.csv", "--out", str(tmp_path / "trial.csv"), cwd=workdir)
    run("predict.py", f"{STORAGE}/cloud/library", "--test", "test.csv", "--out", str(tmp_path / "library.csv"), cwd=workdir)
    for name in ("trial.csv", "library.csv"):
        assert len(pd.read_csv(tmp_path / name)) == 23
    # The library ensemble predicts test.csv as its own submission did.
    library = pd.read_csv(io.BytesIO(read(s3, sweep + "library/submission.csv")))
    assert pd.read_csv(tmp_path / "library.csv").equals(library)


def test_the_leaderboard_cli_writes_into_the_bucket_and_locally_only_with_out(s3, sweep, workdir, tmp_path):
    before = s3.head_object(Bucket=BUCKET, Key=sweep + "leaderboard.md")["LastModified"]
    time.sleep(1.1)  # S3 times have whole seconds
    run("leaderboard.py", f"{STORAGE}/cloud", cwd=workdir)
    assert s3.head_object(Bucket=BUCKET, Key=sweep + "leaderboard.md")["LastModified"] > before
    run("leaderboard.py", f"{STORAGE}/cloud", "--html", "--out", str(tmp_path / "copy"), cwd=workdir)
    assert sorted(p.name for p in (tmp_path / "copy").iterdir()) == [
        "leaderboard.csv", "leaderboard.json", "leaderboard.md", "leaderboard.parquet", "report.html"]
    assert sorted(p.name for p in workdir.iterdir()) == ["test.csv"]


def test_the_ensemble_trainer_and_the_refit_write_into_the_experiment(s3, killed_then_resumed, workdir, tmp_path):
    # The ensemble trainer starts its own Ray and TensorFlow, as quietly as the resumed sweep and
    # its refit did.
    sweep, at_kill = killed_then_resumed
    trained = run("ensemble.py", "--experiment", f"{STORAGE}/cloud", "--top-k", "2", "--epochs", "1", "--test",
                  "test.csv", cwd=workdir, env=as_a_user_has_it())
    assert_no_native_noise(trained.stdout + trained.stderr)
    assert "Ray dashboard: http://127.0.0.1:" in trained.stdout and len(trained.stdout.splitlines()) < 40, trained.stdout
    assert_no_native_noise(at_kill["resume_output"])
    assert "refit: s3://" in at_kill["resume_output"], at_kill["resume_output"][-2000:]
    stored = keys(s3, sweep)
    for out in ("ensemble", "refit"):
        written = [k.split("/", 1)[1] for k in stored if k.startswith(out + "/")]
        print(f"s3 {out}: {written}")
        assert {"report.json", "report.md", "manifest.json", "submission.csv", "members/member_01.keras"} <= set(written)
    assert sorted(p.name for p in workdir.iterdir()) == ["test.csv"]
    # The retrained ensemble's manifest names its members relative to itself: predict finds them.
    run("predict.py", f"{STORAGE}/cloud/ensemble", "--test", "test.csv", "--out", str(tmp_path / "sub.csv"), cwd=workdir)
    assert len(pd.read_csv(tmp_path / "sub.csv")) == 23
