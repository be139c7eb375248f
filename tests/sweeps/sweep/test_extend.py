"""--extend: more trials in a finished experiment, the searcher and scheduler warm-started from it.
A real extension (killed, resumed, one leaderboard over both runs) is test_faults.py's."""

import pytest

from sweeps.sweep import scheduler as scheduler_module
from sweeps.sweep import warm_start
from sweeps.sweep import searcher as searcher_module
from tests.sweeps.sweep.test_scheduler import _decide, _Trial


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
