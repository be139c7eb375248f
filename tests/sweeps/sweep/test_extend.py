"""--extend: more trials in a finished experiment, the searcher and scheduler warm-started from it."""

import json

import pandas as pd
import pytest

from sweeps.sweep import scheduler as scheduler_module
from sweeps.sweep import warm_start
from sweeps.sweep import searcher as searcher_module
from tests.conftest import sweep_args
from tests.sweeps.sweep.test_scheduler import _decide, _Trial
from trainables.data.kaggle_csv import write_kaggle_csv


def _past(n, configs):
    """n earlier trials: even ones stopped at the quarter-epoch rung, odd ones run to 16 epochs."""
    past = []
    for i in range(n):
        reports = [(1, 0.25, 0.5 + 0.01 * i)] + ([(2, 1.0, 0.8), (3, 16.0, 0.9 + 0.001 * i)] if i % 2 else [])
        past.append(warm_start.PastTrial(f"old{i}", configs[i], reports))
    return past


def _space_configs(n):
    from search_spaces import cnn

    sampler = searcher_module.make_searcher("random", presets=[], num_samples=n, seed=3, time_attr="epoch", max_t=16)
    sampler.set_search_properties("val_accuracy", "max", cnn.SPACE)
    return [{k: v for k, v in sampler.suggest(str(i)).items() if k != searcher_module.ORIGIN} for i in range(n)]


def test_the_study_starts_from_every_earlier_result_and_models_from_the_first_proposal():
    from optuna.trial import TrialState

    from search_spaces import cnn

    configs = _space_configs(12)
    configs[5] = {**configs[5], "learning_rate": 7.0}  # off today's space: teaches nothing, skipped
    past = _past(12, configs) + [warm_start.PastTrial("failed", configs[0], [], errored=True)]
    searcher = searcher_module.make_searcher("tpe", presets=[], num_samples=4, seed=0, time_attr="epoch", max_t=16,
                                    history=past)
    searcher.set_search_properties("val_accuracy", "max", cnn.SPACE)
    trials = searcher.study.get_trials()
    assert searcher.warm_started == len(trials) == 11
    by_value = {round(t.values[0], 4): t for t in trials}
    pruned, complete = by_value[0.5], by_value[0.901]
    assert pruned.state == TrialState.PRUNED and pruned.intermediate_values == {1: 0.5}
    assert complete.state == TrialState.COMPLETE and complete.intermediate_values == {1: 0.51, 2: 0.8, 3: 0.901}
    # Without the history 3 random configs come first (startup_trials(4, 0)); with it, the model.
    assert [searcher.suggest(f"new{i}")[searcher_module.ORIGIN] for i in range(3)] == ["model"] * 3


def test_the_rungs_hold_the_history_and_the_quota_counts_only_new_arrivals():
    configs = [{**config, "augment": False} for config in _space_configs(8)]  # one kind: one ranking
    scheduler = scheduler_module.make_scheduler("asha", time_attr="epoch", max_t=16, grace_period=0.25,
                                      reduction_factor=4, brackets=1, history=_past(8, configs))
    scheduler.set_search_properties("val_accuracy", "max")
    for trial_id in ("weak", "strong"):
        scheduler.on_trial_add(None, _Trial(trial_id, {"augment": False}))
    # The earlier quarter-epoch results are 0.50-0.57: the top quarter's cutoff is about 0.555.
    assert _decide(scheduler, "weak", 0.25, 0.54) == "STOP"
    # Three of the eight earlier trials went on from this rung (ceil(8 / 4) = 2 would be the quota if
    # they counted); a new arrival above the cutoff still goes on.
    assert _decide(scheduler, "strong", 0.25, 0.60) == "CONTINUE"
    # At rung 1 the history's 0.8s set the bar.
    assert _decide(scheduler, "strong", 1.0, 0.7) == "STOP"


def _csv(path, tiny_data):
    """The tiny split's digits as a Kaggle train.csv."""
    import numpy as np

    images = np.concatenate([tiny_data.x_train, tiny_data.x_val, tiny_data.x_test])
    return write_kaggle_csv(path, images, np.concatenate([tiny_data.y_train, tiny_data.y_val, tiny_data.y_test]))


@pytest.mark.slow
def test_extend_runs_more_trials_in_the_experiment_and_one_leaderboard_covers_both(ray_local, tiny_data, tmp_path):
    from sweeps.sweep.definition import CNN
    from sweeps.pipeline import run_cli

    train = _csv(tmp_path / "train.csv", tiny_data)
    storage = tmp_path / "results"
    flags = sweep_args(storage, "grow", "--data", str(train), "--num-samples", "3", "--presets", "baseline-cnn")
    assert run_cli(CNN, flags) == 0
    assert run_cli(CNN, ["--extend", "3", "--name", "grow", "--storage", str(storage)]) == 0

    path = storage / "grow"
    metadata = json.loads((path / "digit_sweep.json").read_text())
    assert [e["name"] for e in metadata["extensions"]] == ["extend-1"]
    assert metadata["extensions"][0]["flags"]["num_samples"] == 3
    board = pd.read_parquet(path / "leaderboard.parquet")
    assert board["run"].value_counts().to_dict() == {"sweep": 3, "extend-1": 3}
    assert board["trial_id"].is_unique and (board["experiment"] == "grow").all()
    assert (board["best_val_accuracy"].notna()).all()
    # Warm-started: a fresh search of 3 trials would draw 3 at random (startup_trials(3, 0)).
    assert (board[board["run"] == "extend-1"]["origin"] == "model").all()
    assert (path / "extend-1").is_dir()
    report = (path / "report.html").read_text()
    assert all(trial_id in report for trial_id in board["trial_id"])
    library = json.loads((path / "library" / "report.json").read_text())
    assert library["library_size"] == board["checkpoint"].notna().sum()

    # The data must be what the experiment was run on.
    train.write_text(train.read_text().replace("\n0,", "\n1,", 1))
    assert run_cli(CNN, ["--extend", "2", "--name", "grow", "--storage", str(storage)]) == 2
    assert [e["name"] for e in json.loads((path / "digit_sweep.json").read_text())["extensions"]] == ["extend-1"]


@pytest.mark.slow  # reads the session's smoke sweep: a real Ray sweep
@pytest.mark.parametrize("extra, flag", [
    (["--seed", "5"], "--seed"),
    (["--max-epochs", "3"], "--max-epochs"),
    (["--resume"], "--resume"),
    (["--search", "hyperopt"], "hyperopt"),
])
def test_extend_refuses_flags_that_would_change_the_experiment(smoke_sweep, extra, flag, capsys):
    from sweeps.sweep.definition import CNN
    from sweeps.pipeline import run_cli

    before = (smoke_sweep / "digit_sweep.json").read_text()
    argv = ["--extend", "2", "--name", smoke_sweep.name, "--storage", str(smoke_sweep.parent), *extra]
    try:
        status = run_cli(CNN, argv)
    except SystemExit as exit:  # argparse's own errors
        status = exit.code
    assert status == 2
    assert flag in capsys.readouterr().err
    assert (smoke_sweep / "digit_sweep.json").read_text() == before


def test_extend_of_no_experiment_exits_2(tmp_path, capsys):
    from sweeps.sweep.definition import CNN
    from sweeps.pipeline import run_cli

    assert run_cli(CNN, ["--extend", "2", "--storage", str(tmp_path)]) == 2
    assert "--extend: no cnn experiment" in capsys.readouterr().err
