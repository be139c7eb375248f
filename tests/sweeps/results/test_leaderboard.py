"""Leaderboard export of rows from several families, whose config columns mix types."""

import pandas as pd

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
