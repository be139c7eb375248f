"""The ensemble trainer end to end on a tiny slice (the shared smoke sweep, only read), and its bad-input errors."""

import json

import pandas as pd
import pytest

from tests.conftest import TINY
from trainables.data.kaggle_csv import write_kaggle_csv

pytestmark = pytest.mark.slow


def run_ensemble(*argv):
    from sweeps.ensembles import retrain

    return retrain.main([str(a) for a in argv])


def test_top_k_of_a_sweep_with_a_kaggle_submission(smoke_sweep, ray_local, tiny_data, tmp_path):
    test_csv = write_kaggle_csv(tmp_path / "test.csv", tiny_data.x_test[:17])
    out = tmp_path / "ensemble"
    assert run_ensemble("--experiment", smoke_sweep, "--top-k", 2, "--epochs", 1,
                        "--test", test_csv, "--out", out) == 0
    report = json.loads((out / "report.json").read_text())
    board = pd.read_parquet(smoke_sweep / "leaderboard.parquet")
    assert [m["trial_id"] for m in report["members"]] == list(board["trial_id"][:2])
    assert [m["seed"] for m in report["members"]] == [0, 1]
    assert [m["epochs_trained"] for m in report["members"]] == [1, 1]
    assert len(report["accuracy_by_size"]) == 2 and len(report["per_class_errors"]) == 10
    assert report["chosen"] in ("average", "greedy") and report["reason"]
    assert report["test_accuracy"]["greedy"] is not None
    errors = round((1 - report["test_accuracy"]["chosen"]) * len(tiny_data.y_test))
    assert sum(report["per_class_errors"]) == errors
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["data"]["fingerprint"] == tiny_data.fingerprint
    assert all((out / "members" / f"member_0{i}.keras").exists() for i in (1, 2))
    submission = pd.read_csv(out / "submission.csv")
    assert list(submission.columns) == ["ImageId", "Label"]
    assert list(submission["ImageId"]) == list(range(1, 18))
    assert submission["Label"].between(0, 9).all()


def test_notes_final_preset_without_a_sweep_stops_in_its_budget(ray_local, tmp_path):
    out = tmp_path / "notes"
    # 6 s, less than the time kept back for writing: each member stops after its first of 3 epochs.
    assert run_ensemble("--preset", "baseline-cnn", "--top-k", 2, "--epochs", 3, "--fit-on", "train+val",
                        "--time-budget-min", 0.1, *TINY, "--out", out) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["epochs"] == 3 and [m["epochs_trained"] for m in report["members"]] == [1, 1]
    assert report["chosen"] == "average" and "train+val" in report["reason"]
    # The validation digits were trained on: no figure calls itself validation accuracy.
    assert report["val_accuracy"] == {"average": None, "greedy": None}
    assert all(m["val_accuracy"] is None for m in report["members"])
    assert [m["seed"] for m in report["members"]] == [0, 1]
    assert not (out / "submission.csv").exists()


@pytest.mark.parametrize("problem", ["missing experiment", "too few trials", "bad test.csv", "unknown preset"])
def test_bad_input_exits_2_and_writes_nothing(problem, smoke_sweep, tmp_path, capsys):
    out = tmp_path / "out"
    bad_csv = tmp_path / "test.csv"
    bad_csv.write_text("label,pixel0\n1,2\n")
    argv = {
        "missing experiment": ["--experiment", tmp_path / "nope"],
        "too few trials": ["--experiment", smoke_sweep, "--top-k", 5],
        "bad test.csv": ["--experiment", smoke_sweep, "--top-k", 2, "--test", bad_csv],
        "unknown preset": ["--preset", "no-such-preset"],
    }[problem]
    assert run_ensemble(*argv, "--out", out) == 2
    message = capsys.readouterr().err
    assert message.count("error:") == 1
    assert {"missing experiment": "nope", "too few trials": "only 3 finished",
            "bad test.csv": "test.csv", "unknown preset": "no-such-preset"}[problem] in message
    assert not out.exists()
