"""Faults a long sweep meets, each survived: a trial that keeps raising, and the driver killed with
SIGKILL. Real Ray nodes on this machine, real Keras. A worker node lost mid-sweep, and replaced, is
test_autoscaler.py's: its autoscaler starts the replacement as on a real cluster.

Each test prints what it observed (trial counts, epochs repeated, time to recover); run with -s.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from tests.cluster_helpers import checkpointed_epoch, epochs, finished, results, trial_dirs, wait_for
from tests.conftest import REPO, TINY, sweep_args
from tests.fault_helpers import attempts, failing_definition
from trainables.data.kaggle_csv import write_kaggle_csv

pytestmark = pytest.mark.slow


def board_of(path):
    return pd.read_parquet(path / "leaderboard.parquet")


def test_a_trial_that_always_raises_is_retried_then_errored_and_the_sweep_goes_on(ray_local, tmp_path):
    from sweeps.pipeline import run_cli

    tried = tmp_path / "attempts"
    tried.mkdir()
    argv = sweep_args(tmp_path, "raises", "--num-samples", "2", "--max-epochs", "1", "--search", "random",
                      "--scheduler", "fifo", "--presets", "all", "--max-failures", "1")
    assert run_cli(failing_definition(tried), argv) == 0
    board = board_of(tmp_path / "raises").set_index("preset", drop=False)
    counts = attempts(tried)
    failed = board.loc["fails"]
    print(f"raising trial: {counts[failed['trial_id']]} attempts (1 + --max-failures 1), status {failed['status']}; "
          f"other trials: {sorted(board[board.preset != 'fails']['status'])}")
    assert len(board) == 2
    assert failed["status"] == "ERROR" and failed["errored"] and counts[failed["trial_id"]] == 2
    others = board[board["trial_id"] != failed["trial_id"]]
    assert set(others["status"]) == {"TERMINATED"} and (others["epochs"] == 1).all()
    assert all(counts[t] == 1 for t in others["trial_id"])


@pytest.fixture
def ray_address(ray_local):
    """The session's Ray, joined by the sweep's drivers as a cluster is: the driver killed here is a
    process of its own, and not where the trials run."""
    return ray_local.get_runtime_context().gcs_address


def driver_command(storage, name, address, data):
    """The sweep's own command line, for a separate driver process."""
    argv = sweep_args(storage, name, "--num-samples", "3", "--max-epochs", "2", "--search", "random",
                      "--scheduler", "fifo", "--presets", "baseline-cnn", "--address", address, "--data", str(data))
    return [sys.executable, str(REPO / "sweeps" / "cnn_search.py"), *argv]


def kill_after_a_finished_trial(tmp_path, name, address, data):
    """Start the driver, SIGKILL it once storage shows a finished trial; returns what storage held then."""
    experiment = tmp_path / name
    kill_driver(driver_command(tmp_path, name, address, data), experiment, tmp_path / "driver.log")
    # Result rows reach storage with Tune's experiment snapshots; checkpoints straight from the workers.
    return {d: {"rows": len(results(d)), "finished": finished(d, 2), "checkpointed": checkpointed_epoch(d)}
            for d in trial_dirs(experiment)}


def repeated_epochs(trial_dir, before):
    """Epochs trained again after the resume: checkpointed before the kill, yet run once more."""
    new_rows = results(trial_dir)[before["rows"]:]
    if not new_rows:
        return 0
    return max(0, before["checkpointed"] - new_rows[0]["epoch"] + 1)


def kill_driver(command, watched, log_path, reached=lambda trial: finished(trial, 2)):
    """Run ``command``; SIGKILL it once a trial under ``watched`` has ``reached`` (its 2 epochs)."""
    with open(log_path, "w") as log:
        driver = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: any(reached(d) for d in trial_dirs(watched)), 400, what="a trial's kill point")
        finally:
            os.kill(driver.pid, signal.SIGKILL)
            driver.wait()


def test_a_killed_driver_resumes_without_rerunning_finished_trials_and_so_does_a_killed_extension(
        ray_address, tiny_data, tmp_path):
    """One experiment of a Kaggle train.csv, two kills: the sweep's driver, then its extension's
    (one sweep fewer to run); the extension's own checks are in the second half."""
    from sweeps.sweep.definition import CNN
    from sweeps.pipeline import run_cli

    train = kaggle_train_csv(tmp_path / "train.csv", tiny_data)
    before = kill_after_a_finished_trial(tmp_path, "killed", ray_address, train)
    started = time.perf_counter()
    # Only the data flags and the name: the rest (--max-epochs too) comes from the experiment.
    argv = [*TINY, "--data", str(train), "--storage", str(tmp_path), "--name", "killed", "--resume",
            "--address", ray_address]
    assert run_cli(CNN, argv) == 0
    recovery = time.perf_counter() - started
    experiment = tmp_path / "killed"
    board = board_of(experiment)
    done = [d for d, b in before.items() if b["finished"]]
    rerun = [d.name for d in done if len(results(d)) != before[d]["rows"]]
    in_board = {Path(c).parent for c in board["checkpoint"]}
    repeated = {d.name[:23]: repeated_epochs(d, b) for d, b in before.items() if d in in_board}
    # A trial started after Tune's last snapshot is unknown to the resume: it runs anew.
    orphaned = {d.name[:23]: b["checkpointed"] for d, b in before.items() if d not in in_board}
    print(f"driver kill: {len(done)} of 3 trials finished in storage at SIGKILL; resume took {recovery:.0f} s; "
          f"finished trials re-run: {len(rerun)}; epochs trained again {repeated}; "
          f"trials started after the last snapshot, run anew (epochs lost) {orphaned}; leaderboard {len(board)} rows")
    assert done and not rerun
    assert len(board) == 3 and board["trial_id"].is_unique
    assert set(board["status"]) == {"TERMINATED"} and (board["epochs"] == 2).all()
    # An unfinished trial restarts from the checkpoint Tune's last experiment snapshot
    # (~10 s apart) knew of, so it may train the epoch after it once more; no trial
    # may lose more than that one epoch, and none restarts from scratch.
    for path in trial_dirs(experiment):
        reported = epochs(path)
        assert reported[-1] == 2 and len(reported) - len(set(reported)) <= 1, (path.name, reported)
    a_killed_extension_resumes_as_the_experiments_last_run(ray_address, tmp_path, "killed", train)


def a_killed_extension_resumes_as_the_experiments_last_run(address, tmp_path, name, train):
    """--extend: more trials in the finished experiment, the searcher warm-started from it; killed,
    refused a second extension until resumed, then one leaderboard, report and library over both."""
    from sweeps.sweep.definition import CNN
    from sweeps.pipeline import run_cli

    sweep_rows = {d.name: len(results(d)) for d in trial_dirs(tmp_path / name)}
    extension = tmp_path / name / "extend-1"
    where = ["--name", name, "--storage", str(tmp_path), "--address", address]
    # Killed at its first checkpoint: at its first finished trial, a fast run had sometimes finished
    # all three (seen in CI), and there was nothing left to resume.
    kill_driver([sys.executable, str(REPO / "sweeps" / "cnn_search.py"), "--extend", "3", *where], extension,
                tmp_path / "extension.log", reached=lambda trial: checkpointed_epoch(trial) >= 1)
    at_kill = sum(finished(d, 2) for d in trial_dirs(extension))
    assert run_cli(CNN, ["--extend", "2", *where]) == 2  # "unfinished trials ... finish it first with --resume"
    assert (tmp_path / name / "digit_sweep.json").read_text().count('"extend-') == 1
    assert run_cli(CNN, ["--resume", *where]) == 0
    board = board_of(tmp_path / name)
    print(f"extension kill: {at_kill} of 3 extension trials finished at SIGKILL; after --resume: "
          f"{board['run'].value_counts().to_dict()}")
    assert board["run"].value_counts().to_dict() == {"sweep": 3, "extend-1": 3}
    assert set(board["status"]) == {"TERMINATED"} and (board["epochs"] == 2).all()
    # The resume went on with the extension; the sweep's own trials were left as they were.
    assert {d.name: len(results(d)) for d in trial_dirs(tmp_path / name)} == sweep_rows
    an_extension_is_one_experiment_with_its_sweep(tmp_path / name, board, train, where)


def an_extension_is_one_experiment_with_its_sweep(path, board, train, where):
    from sweeps.sweep.definition import CNN
    from sweeps.pipeline import run_cli

    metadata = json.loads((path / "digit_sweep.json").read_text())
    assert [e["name"] for e in metadata["extensions"]] == ["extend-1"]
    assert metadata["extensions"][0]["flags"]["num_samples"] == 3
    assert board["trial_id"].is_unique and (board["experiment"] == path.name).all()
    assert board["best_val_accuracy"].notna().all()
    # Warm-started: a fresh search of 3 trials would draw 3 at random (startup_trials(3, 0)).
    assert (board[board["run"] == "extend-1"]["origin"] == "model").all()
    report = (path / "report.html").read_text()
    assert all(trial_id in report for trial_id in board["trial_id"])
    library = json.loads((path / "library" / "report.json").read_text())
    assert library["library_size"] == board["checkpoint"].notna().sum()
    # The data must be what the experiment was run on.
    train.write_text(train.read_text().replace("\n0,", "\n1,", 1))
    assert run_cli(CNN, ["--extend", "2", *where]) == 2
    assert [e["name"] for e in json.loads((path / "digit_sweep.json").read_text())["extensions"]] == ["extend-1"]


def kaggle_train_csv(path, tiny_data):
    """The tiny split's digits as a Kaggle train.csv."""
    import numpy as np

    images = np.concatenate([tiny_data.x_train, tiny_data.x_val, tiny_data.x_test])
    return write_kaggle_csv(path, images, np.concatenate([tiny_data.y_train, tiny_data.y_val, tiny_data.y_test]))
