"""report.html: built after a real tiny sweep, self-contained, every section and plot present."""

import base64
import json
import re
import shutil

import pandas as pd
import pytest

from sweeps.results import plots, report, rung_budget

SECTIONS = ["Leaderboard", "Learning curves", "Validation accuracy by search axis",
            "ASHA rungs and budget", "Where the notes' presets landed", "Library ensemble"]
IMAGE = "data:image/png;base64,"


def images(page):
    return re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)


def headings(page):
    return re.findall(r"<h2[^>]*>(.*?)</h2>", page)


@pytest.mark.slow
def test_the_sweep_writes_a_report_naming_the_best_trial_with_every_plot(smoke_sweep):
    page = (smoke_sweep / "report.html").read_text()
    board = pd.read_parquet(smoke_sweep / "leaderboard.parquet")
    assert f"Best trial: <b>{board['trial_id'][0]}</b>" in page
    assert all(trial in page for trial in board["trial_id"])
    assert headings(page) == SECTIONS
    pngs = images(page)
    assert len(pngs) == 5 == page.count(IMAGE)  # curves, axes, rungs, presets, library
    assert all(base64.b64decode(png).startswith(b"\x89PNG") for png in pngs)
    assert "baseline-cnn" in page and "he-uniform" in page
    assert "config/" not in page.split("<table>")[1].split("</thead>")[0]  # config headers are the bare keys


@pytest.mark.slow
def test_the_report_references_nothing_outside_itself(smoke_sweep):
    page = (smoke_sweep / "report.html").read_text()
    targets = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', page)
    assert targets and all(t.startswith(IMAGE) or t.startswith("#") for t in targets)
    assert "http://" not in page and "https://" not in page and "<script" not in page.lower()


@pytest.mark.slow
def test_trial_directories_hold_tensorboard_event_files(smoke_sweep):
    trials = [d for d in smoke_sweep.iterdir() if (d / "params.json").exists()]
    assert len(trials) == 3
    for trial in trials:
        events = list(trial.glob("events.out.tfevents.*"))
        assert events and events[0].stat().st_size > 0


@pytest.mark.slow
def test_an_ensemble_report_adds_its_section_escaped(smoke_sweep, tmp_path):
    from sweeps.results import leaderboard

    copy = tmp_path / "smoke"
    shutil.copytree(smoke_sweep, copy)
    ensemble = {
        "chosen": "greedy", "reason": "greedy beat <b>average</b> on validation",
        "test_accuracy": {"average": 0.91, "greedy": 0.93},
        "accuracy_by_size": [0.88, 0.91, 0.93],
        "per_class_errors": [1, 0, 3, 2, 4, 0, 1, 2, 5, 3],
        "members": [{"rank": r, "trial_id": None if r == 3 else f"t{r}", "seed": r, "test_accuracy": 0.9}
                    for r in (1, 2, 3)],
    }
    (copy / "ensemble").mkdir()
    (copy / "ensemble" / "report.json").write_text(json.dumps(ensemble))
    assert leaderboard.main([str(copy), "--html", "--out", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "report.html").read_text()
    assert headings(page)[-1] == "Ensemble" and len(images(page)) == 6  # the library's and the ensemble's added
    assert "greedy beat &lt;b&gt;average&lt;/b&gt;" in page and "<b>average</b>" not in page


def svm_board():
    """A leaderboard as build() gives it for an SVM sweep: rungs, a mixed-type PCA axis, log-scale C."""
    rows = []
    for i, (pca, c, gamma, rungs) in enumerate([(50, 0.01, 0.002, 1), ("none", 1.0, 0.05, 4),
                                                 (154, 5.0, 0.05, 4), (154, 100.0, 0.5, 2)]):
        rows.append({"rank": i + 1, "experiment": "svm-x", "family": "svm", "trial_id": f"svm{i}",
                     "preset": "pca154-gamma0.05-C5" if c == 5.0 else None,
                     "best_val_accuracy": 0.95 - 0.1 * i, "epochs": rungs, "stopped_early": rungs < 4,
                     "wall_time_s": 2.0 * rungs, "config/pca_components": pca, "config/gamma_mode": "value",
                     "config/gamma": gamma, "config/C": c})
    return pd.DataFrame(rows)


def test_an_svm_leaderboard_draws_every_axis_and_its_rungs():
    board = svm_board()
    html = report._axes(board)
    assert len(images(html)) == 1 and "svm" in html
    b = rung_budget.budget(board, 4, {"scheduler": "asha", "grace_period": 1, "reduction_factor": 2})
    assert b["reached"] == [4, 3, 2, 2] and b["milestones"] == [1, 2]
    assert b["epochs_spent"] == 11 and b["epochs_full"] == 16 and b["wall_full_s"] == pytest.approx(32.0)
    assert plots.to_base64(plots.rungs(b, "rung"))
    assert "pca154-gamma0.05-C5" in report._leaderboard(board)


def test_an_axis_no_trial_has_reported_on_yet_draws_an_empty_panel():
    """A live report early on: every trial so far has two blocks, so filters_3 has no values yet,
    and one trial has no result at all."""
    rows = pd.DataFrame({
        "config/filters_3": [None, None], "config/downsample": ["maxpool", "conv5s2"],
        "best_val_accuracy": [0.9, float("nan")], "stopped_early": [False, False], "preset": [None, "baseline-cnn"],
    })
    fig = plots.axis_panels(rows, ["config/filters_3", "config/downsample"])
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["filters_3", "downsample"]
    assert "no results yet" in [t.get_text() for t in fig.axes[0].texts]


def test_presets_no_trial_has_reported_on_yet_draw_an_empty_panel():
    """A live report at the first result: the leaderboard lists the trials, none with an accuracy yet."""
    rows = pd.DataFrame({"rank": [1, 2], "preset": ["baseline-cnn", None], "best_val_accuracy": [float("nan")] * 2,
                         "stopped_early": [False, False]})
    fig = plots.presets(rows)
    assert "no results yet" in [t.get_text() for t in fig.axes[0].texts]
    assert plots.to_base64(fig)
