"""Outputs appear whole or not at all, and a failure never loses the previous ones."""


import pandas as pd
import pytest

from sweeps.ensembles import outputs
from sweeps.sweep import experiment
from sweeps.results import leaderboard


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "leaderboard.md"
    target.write_text("the previous leaderboard\n")

    def fails_half_way(tmp):
        tmp.write_text("half of a new")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        experiment.replace_atomically(target, fails_half_way)
    assert target.read_text() == "the previous leaderboard\n"
    assert [p.name for p in tmp_path.iterdir()] == ["leaderboard.md"]


def test_leaderboard_export_replaces_each_file_whole(tmp_path):
    first = pd.DataFrame({"rank": [1], "trial_id": ["a"], "best_val_accuracy": [0.9]})
    leaderboard.export(first, tmp_path)
    second = pd.DataFrame({"rank": [1, 2], "trial_id": ["b", "a"], "best_val_accuracy": [0.95, 0.9]})
    leaderboard.export(second, tmp_path)
    assert list(pd.read_parquet(tmp_path / "leaderboard.parquet")["trial_id"]) == ["b", "a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"leaderboard.{e}" for e in ("csv", "json", "md", "parquet")]


def test_a_failed_ensemble_output_keeps_the_old_one(tmp_path):
    out = tmp_path / "ensemble"
    with outputs.staged(out) as staging:
        (staging / "report.json").write_text("old")
    with pytest.raises(RuntimeError):
        with outputs.staged(out) as staging:
            (staging / "report.json").write_text("new, half")
            raise RuntimeError("a member failed")
    assert (out / "report.json").read_text() == "old"
    with outputs.staged(out) as staging:
        (staging / "report.json").write_text("new")
    assert (out / "report.json").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["ensemble"]  # no staging or previous copy left
