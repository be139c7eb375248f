"""The library ensemble: selection on the validation split only, and a real sweep's checkpoints."""

import json

import numpy as np
import pandas as pd
import pytest

from sweeps.ensembles import library
from tests.ensemble_helpers import two_member_case
from trainables.data.kaggle_csv import count_data_rows, write_kaggle_csv


@pytest.mark.parametrize("selection", ["bagged", "greedy"])
def test_selection_sees_the_validation_split_only(selection):
    val, test, data = two_member_case()
    rows = pd.DataFrame({"trial_id": ["a", "b"], "rank": [1, 2], "best_epoch": [1.0, 1.0], "checkpoint": ["-", "-"]})
    report = library.build_report(rows, {"val": val, "test": test}, data, selection, seed=0)
    # Chosen on validation: member 0 only. Had the test labels chosen, member 1 would be.
    assert report["weights"][selection][0] > 0 and report["weights"][selection][1] == 0
    assert report["test_accuracy"][selection] == pytest.approx(0.5)
    assert report["val_accuracy"][selection] == 1.0
    assert report["test_accuracy"]["best single"] == pytest.approx(0.5)
    assert [m["weight"] for m in report["members"]] == report["weights"][selection]


def test_the_greedy_curve_reports_test_accuracy_of_the_running_ensemble():
    val, test, data = two_member_case()
    rows = pd.DataFrame({"trial_id": ["a", "b"], "rank": [1, 2], "best_epoch": [1.0, 1.0], "checkpoint": ["-", "-"]})
    curve = library.build_report(rows, {"val": val, "test": test}, data, "bagged", 0)["greedy_curve"]
    assert curve[0]["member"] == 0 and curve[0]["val_accuracy"] == 1.0 and curve[0]["test_accuracy"] == 0.5


def test_the_submission_is_checked_against_the_files_own_row_count(tmp_path):
    from sweeps.ensembles.outputs import submission

    path = write_kaggle_csv(tmp_path / "test.csv", np.zeros((5, 28, 28, 1), np.uint8))
    with open(path, "a") as stream:
        stream.write("\n")  # a trailing blank line is not a row
    assert count_data_rows(path) == 5
    assert len(submission(np.eye(10)[:5], count_data_rows(path))) == 5
    with pytest.raises(RuntimeError, match="4 rows, test.csv has 5"):
        submission(np.eye(10)[:4], 5)


@pytest.mark.slow
def test_every_keras_sweep_ends_with_its_library_ensemble(smoke_sweep):
    report = json.loads((smoke_sweep / "library" / "report.json").read_text())
    board = pd.read_parquet(smoke_sweep / "leaderboard.parquet")
    with_checkpoint = board[board["checkpoint"].notna()]
    assert [m["trial_id"] for m in report["members"]] == list(with_checkpoint["trial_id"])
    assert report["members_chosen"] >= 1 and sum(report["weights"]["bagged"]) >= library.BAGS
    # The best single trial's validation accuracy is the leaderboard's best, from its checkpoint.
    assert report["val_accuracy"]["best single"] == pytest.approx(with_checkpoint["best_val_accuracy"].iloc[0])
    assert "Library ensemble" in (smoke_sweep / "report.html").read_text()


@pytest.mark.slow
def test_on_demand_with_a_kaggle_submission(smoke_sweep, tiny_data, tmp_path, capsys):
    test_csv = write_kaggle_csv(tmp_path / "test.csv", tiny_data.x_test[:23])
    out = tmp_path / "library"
    assert library.main([str(smoke_sweep), "--test", str(test_csv), "--out", str(out), "--selection", "greedy"]) == 0
    submission = pd.read_csv(out / "submission.csv")
    assert list(submission["ImageId"]) == list(range(1, 24)) and submission["Label"].between(0, 9).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["members"] and all(m["weight"] > 0 for m in manifest["members"])
    assert "greedy selection" in capsys.readouterr().out
    # The probabilities behind the submission are kept for the refit's pseudo-labels, and serve
    # only the same digits predicted with the same views.
    from sweeps.ensembles.pseudo import library_probabilities

    saved = np.load(out / "test_probabilities.npy")
    assert saved.shape == (23, 10) and (saved.argmax(axis=1) == submission["Label"]).all()
    digits = tiny_data.x_test[:23]
    assert library_probabilities(out, digits, tta=1)[1] == "saved"
    for other, tta in [(digits[::-1], 1), (digits, 3)]:
        probabilities, source = library_probabilities(out, other, tta)
        assert source == "predicted" and probabilities.shape == (23, 10)


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["bad test.csv", "not an experiment"])
def test_bad_input_exits_2_and_writes_nothing(problem, smoke_sweep, tmp_path, capsys):
    bad_csv = tmp_path / "test.csv"
    bad_csv.write_text("label,pixel0\n1,2\n")
    out = tmp_path / "out"
    target = {"bad test.csv": smoke_sweep, "not an experiment": tmp_path}[problem]
    assert library.main([str(target), "--test", str(bad_csv), "--out", str(out)]) == 2
    message = capsys.readouterr().err
    assert message.count("error:") == 1 and {"bad test.csv": "test.csv", "not an experiment": "digit_sweep.json"}[problem] in message
    assert not out.exists()


def test_usable_cpus_where_the_os_has_no_affinity(monkeypatch):
    """macOS has no os.sched_getaffinity: the library ensemble must still build there."""
    import os

    from sweeps.ensembles import library

    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert library.usable_cpus() == (os.cpu_count() or 1)
