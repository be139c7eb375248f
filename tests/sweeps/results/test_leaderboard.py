"""Leaderboard export of rows from several families, whose config columns mix types."""

import pandas as pd
import pytest

from sweeps.results import leaderboard


def test_mixed_type_config_columns_are_written_as_text(tmp_path):
    # The SVM's pca_components is 154 or "none"; the MLP rows have no such key.
    board = pd.DataFrame({
        "rank": [1, 2, 3],
        "family": ["svm", "svm", "mlp"],
        "config/pca_components": [154, "none", None],
        "config/augment": [None, None, False],
        "config/C": [1.0, 5.0, None],
    })
    written = {path.suffix: path for path in leaderboard.export(board, tmp_path)}
    parquet, csv, markdown = written[".parquet"], written[".csv"], written[".md"]
    again = pd.read_parquet(parquet)
    assert list(again["config/pca_components"][:2]) == ["154", "none"]
    assert pd.isna(again["config/pca_components"][2])
    assert again["config/C"].dtype == float and again["config/augment"].tolist()[2] is False
    assert list(pd.read_csv(csv)["config/pca_components"][:2]) == ["154", "none"]
    assert "none" in markdown.read_text()
    assert list(board["config/pca_components"][:2]) == [154, "none"]  # the board itself is untouched


def test_tables_print_whole_numbers_as_integers_and_epochs_in_quarters(tmp_path):
    board = pd.DataFrame({"rank": [1, 2], "trial_id": ["a", "b"], "best_epoch": [11.0, 0.25], "epochs": [16.0, 0.25],
                          "round": [1.0, 2.0], "best_val_accuracy": [0.99, 0.98]})
    lines = {p.suffix: p for p in leaderboard.export(board, tmp_path)}[".md"].read_text().splitlines()
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [dict(zip(header, [cell.strip() for cell in line.strip("|").split("|")])) for line in lines[2:]]
    assert rows[0] == {"rank": "1", "trial_id": "a", "best_epoch": "11", "epochs": "16", "round": "1",
                       "best_val_accuracy": "0.9900"}
    assert rows[1]["best_epoch"] == rows[1]["epochs"] == "0.25"
    # The console's summary too (a real run's stopped trials make both columns fractional).
    summary = leaderboard.summary(board).splitlines()
    assert summary[1].split() == ["1", "a", "0.9900", "11", "16"] and summary[2].split()[3:] == ["0.25", "0.25"]


def _loss_sweep(tmp_path, mode):
    """A real (tiny) Tune run whose metric is a loss, recorded with ``mode``."""
    import json

    from ray import tune

    from sweeps.sweep import experiment

    def trainable(config):
        for epoch in (1, 2, 3):
            tune.report({"epoch": float(epoch), "val_loss": config["start"] / epoch, "time_total_s": 1.0})

    tuner = tune.Tuner(tune.with_resources(trainable, {"cpu": 1}), param_space={"start": tune.grid_search([1.0, 2.0])},
                       run_config=tune.RunConfig(name="loss", storage_path=str(tmp_path), verbose=0))
    tuner.fit()
    metadata = {"family": "synthetic", "metric": "val_loss", "mode": mode, "time_attr": "epoch", "max_epochs": 3,
                "presets": {}}
    experiment.write_text(str(tmp_path / "loss" / experiment.METADATA), json.dumps(metadata))
    return leaderboard.build(tmp_path / "loss")


@pytest.mark.slow
def test_a_minimised_metric_ranks_and_picks_its_best_epoch_by_its_mode(ray_local, tmp_path):
    board = _loss_sweep(tmp_path, "min")
    assert board["config/start"].tolist() == [1.0, 2.0]  # the lower loss first
    assert board["best_epoch"].tolist() == [3.0, 3.0]  # where the loss was lowest, not highest
    assert board["best_val_accuracy"].tolist() == pytest.approx([1 / 3, 2 / 3])
