"""The console: the progress line's counts and best result, and a real sweep's whole output."""

import io
from types import SimpleNamespace

import pytest

from sweeps.sweep.console import SweepProgress
from tests.conftest import assert_no_native_noise


def _trial(trial_id, status, epoch=None, best=None, **config):
    return SimpleNamespace(
        trial_id=trial_id, status=status, config=config,
        last_result={} if epoch is None else {"epoch": epoch},
        metric_analysis={} if best is None else {"val_accuracy": {"max": best, "min": best / 2}},
    )


def _progress(stream=None, **kwargs):
    return SweepProgress(metric="val_accuracy", mode="max", time_attr="epoch", max_t=16, budget_s=600,
                         headline=("conv_blocks", "downsample"), stream=stream or io.StringIO(), **kwargs)


def test_the_line_counts_each_state_and_names_the_best_trial():
    trials = [
        _trial("a", "TERMINATED", 16.0, 0.98, conv_blocks=2, downsample="maxpool", origin="preset"),
        _trial("b", "TERMINATED", 0.25, 0.99, conv_blocks=3, downsample="conv5s2", origin="model"),
        _trial("c", "RUNNING", 1.0, 0.90), _trial("d", "ERROR"), _trial("e", "PENDING"),
    ]
    line = _progress().line(trials, 125)
    # The best result comes before anything an 80-column terminal would cut.
    assert line.startswith("[2:05 / 10:00] best 0.9900; 5 trials: 1 running, 1 stopped early, 1 finished, 1 failed;")
    assert len(line.split(";")[0]) < 80
    assert line.endswith("best val_accuracy by b, model: conv_blocks=3, downsample=conv5s2")
    # In "min" mode the smallest value wins.
    assert "best 0.4500;" in SweepProgress(
        metric="val_accuracy", mode="min", time_attr="epoch", max_t=16, stream=io.StringIO(),
    ).line(trials, 0)


def test_an_extensions_line_also_names_the_earlier_runs_best():
    from sweeps.sweep.warm_start import PastTrial, best

    past = [PastTrial("old1", {}, [(1, 0.25, 0.91), (2, 1.0, 0.97)]),
            PastTrial("old2", {}, [(1, 0.25, float("nan"))]), PastTrial("old3", {}, [], errored=True)]
    assert best(past, "max") == ("old1", 0.97) and best(past, "min") == ("old1", 0.91)
    assert best(past[1:], "max") is None
    line = _progress(earlier_best=best(past, "max")).line([_trial("a", "RUNNING", 1.0, 0.95)], 10)
    assert line.startswith("[0:10 / 10:00] best 0.9500 (earlier runs 0.9700);")
    assert line.endswith("best val_accuracy by a; earlier runs' best old1")
    assert "earlier" not in _progress().line([_trial("a", "RUNNING", 1.0, 0.95)], 10)


def test_lines_are_rate_limited_and_the_last_one_always_prints():
    stream = io.StringIO()
    progress = _progress(stream, every_s=3600)
    trials = [_trial("a", "RUNNING", 1.0, 0.5)]
    for step in range(50):
        progress.on_step_end(step, trials)
    progress.on_experiment_end(trials)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[0] == lines[1]


@pytest.mark.slow
def test_a_sweep_prints_a_short_console_without_native_noise(smoke_sweep_run):
    path, output = smoke_sweep_run
    lines = output.splitlines()
    assert len(lines) < 60, output
    assert_no_native_noise(output)
    progress = [line for line in lines if line.startswith("[0:")]
    assert progress and "3 trials: 0 running" in progress[-1] and "best val_accuracy" in progress[-1]
    assert str(path / "leaderboard.parquet") in output
