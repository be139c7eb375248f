"""The live report under a real Ray Tune run: written at the start, redrawn while trials report."""

import json
import time
from pathlib import Path

import pytest

from sweeps.sweep import experiment
from sweeps.results import report
from sweeps.results.live_report import LiveReport

pytestmark = pytest.mark.slow


def reporting_trainable(config):
    """Reports until the live report, read from disk, shows this trial as running."""
    from ray import tune

    me = tune.get_context().get_trial_id()
    page = Path(config["report"])
    for step in range(1, 61):
        text = page.read_text() if page.exists() else ""
        seen = me in text and "RUNNING" in text and 'http-equiv="refresh"' in text
        tune.report({"epoch": float(step), "val_accuracy": 0.5 + step / 1000, "seen_live": int(seen)})
        if seen:
            return
        time.sleep(0.25)


def test_the_report_is_redrawn_while_the_sweep_runs_and_reloads_only_then(ray_local, tmp_path):
    from ray import tune

    from sweeps.results import leaderboard

    path = tmp_path / "live"
    metadata = {"family": "synthetic", "metric": "val_accuracy", "mode": "max", "time_attr": "epoch",
                "max_epochs": 60, "presets": {}}
    experiment.write_text(str(path / experiment.METADATA), json.dumps(metadata))
    live = LiveReport(path, path, every_s=1)
    live.setup()
    assert "no trial has reported yet" in live.out.read_text()
    tuner = tune.Tuner(
        reporting_trainable, param_space={"report": str(live.out)},
        tune_config=tune.TuneConfig(metric="val_accuracy", mode="max"),
        run_config=tune.RunConfig(name="live", storage_path=str(tmp_path), verbose=0, callbacks=[live]),
    )
    result = tuner.fit()[0]
    assert result.metrics["seen_live"] == 1  # the trial read its own id in the page while it ran
    assert live.redraws >= 1
    board = leaderboard.build(path)
    report.write([path], path, board)  # what the sweep writes at its end
    final = live.out.read_text()
    assert board.iloc[0]["trial_id"] in final and "http-equiv" not in final and "Live:" not in final
