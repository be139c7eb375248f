"""predict.py on a real sweep: an ensemble, one trial or a checkpoint, applied to new digits."""

import numpy as np
import pandas as pd
import pytest

from sweeps.ensembles import predict
from trainables.data.kaggle_csv import write_kaggle_csv

pytestmark = pytest.mark.slow


def _own_labels(checkpoint, images):
    from trainables.keras_trainable import load_checkpoint

    model, _ = load_checkpoint(checkpoint)
    return np.argmax(model.predict(images, verbose=0), axis=1)


def test_a_trial_and_its_checkpoint_predict_what_the_model_does(smoke_sweep, tiny_data, tmp_path, capsys, monkeypatch):
    board = pd.read_parquet(smoke_sweep / "leaderboard.parquet")
    second = board.iloc[1]
    images = tiny_data.x_test[:21]
    test_csv = write_kaggle_csv(tmp_path / "test.csv", images)
    expected = _own_labels(second["checkpoint"], images)
    for source in [[str(smoke_sweep), second["trial_id"]], [second["checkpoint"]]]:
        out = tmp_path / f"sub-{len(source)}.csv"
        assert predict.main([*source, "--test", str(test_csv), "--out", str(out)]) == 0
        submission = pd.read_csv(out)
        assert list(submission.columns) == ["ImageId", "Label"] and list(submission["ImageId"]) == list(range(1, 22))
        assert (submission["Label"].to_numpy() == expected).all()
    # No trial id: the experiment's best trial; the experiment as a relative path, as users type it.
    monkeypatch.chdir(smoke_sweep.parent)
    assert predict.main([smoke_sweep.name, "--test", str(test_csv), "--out", str(tmp_path / "best.csv")]) == 0
    assert f"trial {board.iloc[0]['trial_id']} (rank 1" in capsys.readouterr().out


def test_the_library_ensemble_predicts_new_digits(smoke_sweep, tiny_data, tmp_path):
    test_csv = write_kaggle_csv(tmp_path / "test.csv", tiny_data.x_test)
    out = tmp_path / "submission.csv"
    assert predict.main([str(smoke_sweep / "library"), "--test", str(test_csv), "--out", str(out)]) == 0
    labels = pd.read_csv(out)["Label"].to_numpy()
    assert len(labels) == len(tiny_data.x_test)
    assert (labels == tiny_data.y_test).mean() > 0.5  # 10 classes: chance is 0.1


@pytest.mark.parametrize("problem, named", [
    ("unknown trial", "nosuchtrial"), ("bad test.csv", "test.csv"), ("not a model", "manifest.json"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(problem, named, smoke_sweep, tiny_data, tmp_path, capsys):
    good = write_kaggle_csv(tmp_path / "test.csv", tiny_data.x_test[:5])
    bad = tmp_path / "bad" / "test.csv"
    bad.parent.mkdir()
    bad.write_text("pixel0,pixel1\n0,0\n")
    argv = {
        "unknown trial": [str(smoke_sweep), "nosuchtrial", "--test", str(good)],
        "bad test.csv": [str(smoke_sweep), "--test", str(bad)],
        "not a model": [str(tmp_path), "--test", str(good)],
    }[problem]
    out = tmp_path / "out.csv"
    assert predict.main([*argv, "--out", str(out)]) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("error:") == 1 and named in message
    assert not out.exists()
