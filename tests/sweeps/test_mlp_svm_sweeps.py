"""Real MLP and SVM sweeps through Ray Tune on a tiny slice, and one leaderboard over definition."""

import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import sweep_args

pytestmark = pytest.mark.slow

GOOD, BAD = "pca154-rbf", "pca154-gamma0.05-C0.001"


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    return tmp_path_factory.mktemp("results")


@pytest.fixture(scope="module")
def svm_sweep(ray_local, storage):
    """A good preset, then the notes' C=0.001 (0.11 in the notes), one at a time so ASHA
    has the good trial's rung-1 score when the bad one reaches rung 1."""
    from sweeps.sweep.definition import SVM
    from sweeps.pipeline import run_cli

    argv = sweep_args(storage, "svm", "--num-samples", "2", "--presets", f"{GOOD},{BAD}",
                      "--max-epochs", "4", "--reduction-factor", "2", "--max-concurrent", "1")
    assert run_cli(SVM, argv) == 0
    return storage / "svm"


@pytest.fixture(scope="module")
def mlp_sweep(ray_local, storage):
    from sweeps.sweep.definition import MLP
    from sweeps.pipeline import run_cli

    argv = sweep_args(storage, "mlp", "--num-samples", "2", "--presets", "bn-relu-200-200,bn-relu-512",
                      "--max-epochs", "1")
    assert run_cli(MLP, argv) == 0
    return storage / "mlp"


def test_asha_stops_the_bad_svm_before_the_full_fit(svm_sweep):
    board = pd.read_parquet(svm_sweep / "leaderboard.parquet").set_index("preset")
    assert board.loc[GOOD, "epochs"] == 4 and not board.loc[GOOD, "stopped_early"]
    assert board.loc[BAD, "epochs"] < 4 and board.loc[BAD, "stopped_early"]
    assert board.loc[BAD, "best_val_accuracy"] < board.loc[GOOD, "best_val_accuracy"]


def test_svm_leaderboard_rows_and_checkpoints(svm_sweep, tiny_data):
    from trainables.svm_trainable import load_checkpoint

    board = pd.read_parquet(svm_sweep / "leaderboard.parquet")
    assert len(board) == 2 and set(board["family"]) == {"svm"} and set(board["status"]) == {"TERMINATED"}
    assert board["best_val_accuracy"].is_monotonic_decreasing
    best = board.iloc[0]
    pipeline, state = load_checkpoint(best["checkpoint"])
    assert state["rung"] == best["best_epoch"]
    assert pipeline.score(tiny_data.x_val, tiny_data.y_val) == pytest.approx(best["best_val_accuracy"])


def test_mlp_leaderboard_rows_and_checkpoints(mlp_sweep):
    from trainables.keras_trainable import load_checkpoint

    board = pd.read_parquet(mlp_sweep / "leaderboard.parquet")
    assert len(board) == 2 and set(board["family"]) == {"mlp"}
    assert set(board["preset"]) == {"bn-relu-200-200", "bn-relu-512"}
    assert (board["num_params"] > 0).all() and (board["epochs"] == 1).all()
    model, state = load_checkpoint(board.iloc[0]["checkpoint"])
    assert model.name == "mlp" and state["config"]["batchnorm"] == "before"


def test_one_leaderboard_over_both_families(svm_sweep, mlp_sweep, tmp_path):
    from sweeps.results import leaderboard

    assert leaderboard.main([str(svm_sweep), str(mlp_sweep), "--out", str(tmp_path)]) == 0
    board = pd.read_parquet(tmp_path / "leaderboard.parquet")
    assert len(board) == 4 and set(board["family"]) == {"svm", "mlp"}
    assert list(board["rank"]) == [1, 2, 3, 4] and board["best_val_accuracy"].is_monotonic_decreasing
    # Each family's config keys sit side by side, empty for the other family's rows.
    svm_rows = board["family"] == "svm"
    assert board.loc[svm_rows, "config/C"].notna().all() and board.loc[~svm_rows, "config/C"].isna().all()
    assert board.loc[~svm_rows, "config/batchnorm"].notna().all()
    assert board.loc[~svm_rows, "num_params"].notna().all() and board.loc[svm_rows, "num_params"].isna().all()


def test_three_families_side_by_side(svm_sweep, mlp_sweep, smoke_sweep, tmp_path):
    """SVM, MLP and the shared CNN smoke sweep (tests/conftest.py) in one leaderboard."""
    from sweeps.results import leaderboard

    assert leaderboard.main([str(svm_sweep), str(mlp_sweep), str(smoke_sweep), "--out", str(tmp_path)]) == 0
    board = pd.read_parquet(tmp_path / "leaderboard.parquet")
    assert board["family"].value_counts().to_dict() == {"svm": 2, "mlp": 2, "cnn": 3}
    assert board["best_val_accuracy"].is_monotonic_decreasing
    assert {"config/pca_components", "config/batchnorm", "config/conv_blocks"} <= set(board.columns)


def test_svm_help_speaks_of_rungs_and_starts_without_tensorflow(tmp_path):
    probe = ("import sys; from sweeps.sweep.definition import SVM, trainable_of; from sweeps.sweep.flags import build_parser; "
             "trainable_of(SVM); assert 'tensorflow' not in sys.modules; print(build_parser(SVM).format_help())")
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "most rungs a trial runs" in " ".join(result.stdout.split())
