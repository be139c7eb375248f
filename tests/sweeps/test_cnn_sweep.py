"""A real CNN sweep through Ray Tune on a tiny slice of the embedded digits."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

# smoke_sweep (a finished 3-trial CNN sweep) is a session fixture in tests/conftest.py,
# shared with tests/sweeps/results/test_report.py.


def test_leaderboard_has_one_row_per_trial_best_first(smoke_sweep):
    board = pd.read_parquet(smoke_sweep / "leaderboard.parquet")
    assert len(board) == 3 and list(board["rank"]) == [1, 2, 3]
    assert board["best_val_accuracy"].is_monotonic_decreasing
    assert set(board["status"]) == {"TERMINATED"}
    assert (board["epochs"] >= 1).all() and (board["epochs"] <= 2).all()
    assert (board["best_val_accuracy"] >= board["last_val_accuracy"]).all()
    assert {"baseline-cnn", "he-uniform"} <= set(board["preset"].dropna())
    # Presets are tagged as such; the one other trial was drawn at random (too few results to model).
    assert list(board.sort_values("origin")["origin"]) == ["preset", "preset", "random"]
    assert (board["fixed_cost_s"] > 0).all()
    assert (board["num_params"] > 0).all() and (board["wall_time_s"] > 0).all()
    assert {"config/conv_blocks", "config/learning_rate", "config/augment"} <= set(board.columns)
    csv = pd.read_csv(smoke_sweep / "leaderboard.csv")
    assert list(csv["trial_id"]) == list(board["trial_id"])
    markdown = (smoke_sweep / "leaderboard.md").read_text()
    assert markdown.startswith("|") and all(t in markdown for t in board["trial_id"])


def test_checkpoints_hold_the_model_and_the_resolved_config(smoke_sweep):
    from trainables.keras_trainable import load_checkpoint

    board = pd.read_parquet(smoke_sweep / "leaderboard.parquet")
    for _, row in board.iterrows():
        model, state = load_checkpoint(row["checkpoint"])
        assert model.output_shape == (None, 10)
        config = {key.removeprefix("config/"): value for key, value in row.items() if key.startswith("config/")}
        # The checkpoint's config also says who proposed it; the leaderboard has that as its own column.
        assert state["config"].pop("origin") == row["origin"]
        assert state["config"] == pytest.approx(config)
        assert 1 <= state["epoch"] <= 2


def test_a_worker_runs_more_than_one_trial(smoke_sweep):
    from tests.cluster_helpers import results, trial_dirs

    # 3 trials, 2 one-CPU slots: with reused actors the third trial runs in a finished trial's process.
    pids = [{row["pid"] for row in results(trial)} for trial in trial_dirs(smoke_sweep)]
    assert len(pids) == 3 and all(len(p) == 1 for p in pids)
    assert len(set.union(*pids)) < 3


def test_trial_directories_have_short_names_and_keep_the_config_in_params_json(smoke_sweep):
    from tests.cluster_helpers import trial_dirs

    for trial in trial_dirs(smoke_sweep):
        assert trial.name.startswith("train_keras_") and len(trial.name) <= 40, trial.name
        assert "learning_rate" in json.loads((trial / "params.json").read_text())


def test_metadata_records_family_and_data(smoke_sweep):
    metadata = json.loads((smoke_sweep / "digit_sweep.json").read_text())
    assert metadata["family"] == "cnn" and metadata["max_epochs"] == 2
    assert metadata["data"]["train"] == 180 and len(metadata["data"]["fingerprint"]) == 16


def test_leaderboard_cli_on_a_finished_experiment(smoke_sweep, tmp_path):
    from sweeps.results import leaderboard

    assert leaderboard.main([str(smoke_sweep), "--out", str(tmp_path)]) == 0
    again = pd.read_parquet(tmp_path / "leaderboard.parquet")
    original = pd.read_parquet(smoke_sweep / "leaderboard.parquet")
    assert list(again["trial_id"]) == list(original["trial_id"])
    assert leaderboard.main([str(tmp_path / "nowhere")]) == 2


def run_script(*argv, cwd):
    return subprocess.run(
        [sys.executable, str(REPO / "sweeps" / "cnn_search.py"), *argv],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def test_bad_data_file_exits_2_with_one_message_and_writes_nothing(tmp_path):
    bad = tmp_path / "train.csv"
    bad.write_text("label,pixel0\n1,2\n")
    result = run_script("--data", str(bad), "--storage", str(tmp_path / "results"), cwd=tmp_path)
    assert result.returncode == 2
    message = result.stderr.strip().splitlines()[-1]
    assert str(bad) in message and "line 1" in message
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("argv, flag", [
    (["--grace-period", "5", "--max-epochs", "2"], "--grace-period"),
    (["--presets", "no-such-preset"], "--presets"),
    (["--reduction-factor", "1"], "--reduction-factor"),
    (["--num-samples", "0"], "--num-samples"),
])
def test_bad_flags_exit_2_naming_the_flag(argv, flag, tmp_path):
    result = run_script(*argv, "--storage", str(tmp_path / "results"), cwd=tmp_path)
    assert result.returncode == 2 and flag in result.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("scheduler, first", [("fifo", "notes-final"), ("asha", "baseline-cnn")])
def test_fifo_starts_the_costliest_preset_first_asha_keeps_the_given_order(scheduler, first, tmp_path):
    from search_spaces.cnn import PRESETS
    from sweeps.sweep.definition import CNN
    from sweeps.sweep.flags import build_parser, validate

    parser = build_parser(CNN)
    args = parser.parse_args(["--presets", "baseline-cnn,he-uniform,notes-final", "--scheduler", scheduler,
                              "--storage", str(tmp_path)])
    validate(args, parser, CNN)
    assert args.preset_configs[0] == PRESETS[first]
    assert len(args.preset_configs) == 3
