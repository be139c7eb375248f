"""The refit: the library's chosen configs trained again from scratch, its report, snapshots and
pseudo-labels, and ``--ensemble``'s whole job within its budget (real Ray, real Keras)."""

import json

import numpy as np
import pandas as pd
import pytest

from sweeps.ensembles import library
from tests.ensemble_helpers import confident, two_member_case
from trainables.data.kaggle_csv import write_kaggle_csv


@pytest.mark.parametrize("fit_on, scored", [("train", {"val", "test"}), ("train+val", {"test"}), ("all", set())])
def test_a_refit_reports_only_splits_it_did_not_train_on(fit_on, scored):
    from sweeps.ensembles import refit

    _, _, data = two_member_case()
    results = [{"val": confident(data.y_val, np.ones(40, bool)), "test": confident(data.y_test, np.arange(40) < 30),
                "epochs_trained": 3}]
    report = refit.build_report([{"trial_id": "a", "weight": 2}], results, data, fit_on, 3, seed=5)
    assert {s for s in ("val", "test") if report[f"{s}_accuracy"] is not None} == scored
    assert {key.removesuffix("_accuracy") for key in report["members"][0] if key.endswith("_accuracy")} == scored
    assert report["members"][0]["seed"] == 5
    assert report["training_digits"] == {"train": 0, "train+val": 40, "all": 80}[fit_on]  # train 0, val 40, test 40
    if "test" in scored:
        assert report["test_accuracy"] == pytest.approx(0.75) and report["accuracy_by_size"] == [pytest.approx(0.75)]


@pytest.mark.slow
def test_refit_of_the_chosen_configs_on_train_and_val_with_a_submission(smoke_sweep, ray_local, tiny_data, tmp_path, capsys):
    # 8 unlabelled digits (training digits of another split stand in for Kaggle's) and 3 of the
    # split's labelled test digits, which pseudo-labelling must leave out.
    from sweeps.sweep import experiment

    split = experiment.data_of(experiment.read_metadata(smoke_sweep))
    test_csv = write_kaggle_csv(tmp_path / "test.csv", np.concatenate([tiny_data.x_train[-8:], split.x_test[:3]]))
    out = tmp_path / "library"
    assert library.main([str(smoke_sweep), "--test", str(test_csv), "--out", str(out),
                         "--refit-epochs", "1", "--refit-time-min", "10", "--fit-on", "train+val",
                         "--pseudo-label", "0.5", "--refit-schedule", "cosine"]) == 0
    from sweeps.ensembles.refit_plan import refit_members

    chosen = refit_members(json.loads((out / "report.json").read_text()))
    report = json.loads((tmp_path / "refit" / "report.json").read_text())
    assert [m["trial_id"] for m in report["members"]] == [m["trial_id"] for m in chosen]
    assert [m["weight"] for m in report["members"]] == [m["weight"] for m in chosen]
    own = pd.read_parquet(smoke_sweep / "leaderboard.parquet").set_index("trial_id")["config/lr_schedule"]
    assert set(own[[m["trial_id"] for m in chosen]]) != {"cosine"}  # else the next line proves nothing
    assert {m["config"]["lr_schedule"] for m in report["members"]} == {"cosine"}  # --refit-schedule's, not theirs
    assert report["val_accuracy"] is None and 0 < report["test_accuracy"] <= 1
    assert len(list((tmp_path / "refit" / "members").glob("*.keras"))) == len(chosen)
    assert len(pd.read_csv(tmp_path / "refit" / "submission.csv")) == 11
    printed = capsys.readouterr().out
    assert f"{len(chosen)}/{len(chosen)} members done" in printed and "ETA" in printed
    assert f"epochs {'+'.join(['1'] * len(chosen))} of {len(chosen)}x1" in printed
    pseudo = report["pseudo_labels"]
    assert pseudo["offered"] == 11 and pseudo["excluded_as_labelled"] == 3 and pseudo["used"] <= 8
    assert sum(pseudo["per_class"]) == pseudo["used"]
    assert report["training_digits"] == split.sizes()["train"] + split.sizes()["val"] + pseudo["used"]
    assert f"pseudo-labels: {pseudo['used']} of 11 --test digits" in printed
    assert pseudo["probabilities"] == "saved"  # the library's, not predicted twice


@pytest.mark.slow
def test_a_refit_with_snapshots_keeps_each_cycles_end_as_a_member_predict_replays(smoke_sweep, ray_local, tiny_data,
                                                                                   tmp_path):
    from sweeps.ensembles import predict
    from sweeps.ensembles.refit_plan import refit_members

    test_csv = write_kaggle_csv(tmp_path / "test.csv", tiny_data.x_test[:9])
    out = tmp_path / "library"
    assert library.main([str(smoke_sweep), "--test", str(test_csv), "--out", str(out), "--refit-epochs", "2",
                         "--refit-snapshots", "2", "--fit-on", "train"]) == 0
    chosen = refit_members(json.loads((out / "report.json").read_text()))
    report = json.loads((tmp_path / "refit" / "report.json").read_text())
    members = [(m["trial_id"], m["seed"], m["snapshot"], m["epochs_trained"]) for m in report["members"]]
    assert members == [(c["trial_id"], report["members"][0]["seed"] + i, k, k)
                       for i, c in enumerate(chosen) for k in (1, 2)]
    assert sum(m["weight"] for m in report["members"]) == pytest.approx(sum(c["weight"] for c in chosen))
    assert all(0 < m["val_accuracy"] <= 1 for m in report["members"])  # each snapshot scored on its own
    assert len(list((tmp_path / "refit" / "members").glob("*.keras"))) == 2 * len(chosen)
    replayed = tmp_path / "replayed.csv"
    assert predict.main([str(tmp_path / "refit"), "--test", str(test_csv), "--out", str(replayed)]) == 0
    assert (pd.read_csv(replayed)["Label"] == pd.read_csv(tmp_path / "refit" / "submission.csv")["Label"]).all()
    from sweeps.results.ensemble_sections import refit

    html = refit({"name": "snap", "refit": report})  # report.html's refit section
    assert f"{2 * len(chosen)} members, snapshots at the ends of the cosine cycles of {len(chosen)} runs" in html


def test_the_refit_keeps_each_snapshot_as_a_member_with_its_runs_seed_and_a_share_of_its_weight():
    from sweeps.ensembles.refit import with_snapshots

    members = [{"trial_id": "a", "weight": 0.6}, {"trial_id": "b", "weight": 0.4}]
    results = [{"epochs_trained": 9, "snapshots": [{"epochs_trained": 3}, {"epochs_trained": 6}]},
               {"epochs_trained": 9}]
    rows, taken = with_snapshots(members, results, seed=10)
    assert [(r["trial_id"], r["seed"], r.get("snapshot")) for r in rows] == [
        ("a", 10, 1), ("a", 10, 2), ("a", 10, 3), ("b", 11, None)]
    assert [r["weight"] for r in rows] == pytest.approx([0.2, 0.2, 0.2, 0.4])
    assert [t["epochs_trained"] for t in taken] == [3, 6, 9, 9]


def test_the_refit_progress_counts_epochs_before_any_member_is_done():
    from sweeps.ensembles.refit import progress_line

    line = progress_line("refit", 0, 3, [6, 4, 0], [20, 20, 20], 100.0)
    # 10 of 60 epochs in 100 s: 50 more take 500 s. Before, this said "ETA unknown until one is done".
    assert line == "refit: 0/3 members done, epochs 6+4+0 of 3x20, 100 s elapsed, ETA 500 s"
    assert progress_line("refit", 0, 2, [0, 0], [5, 5], 3.0).endswith("ETA after the first epoch")
    # Members that fitted their lengths to their time: the lengths they now plan.
    assert "epochs 6+4+0 of 12+12+16, 100 s elapsed, ETA 300 s" in progress_line("refit", 0, 3, [6, 4, 0], [12, 12, 16], 100.0)


@pytest.mark.slow
def test_a_sweep_with_ensemble_refits_within_its_budget_and_writes_a_submission(ray_local, tiny_data, tmp_path, capsys):
    from sweeps.sweep.definition import CNN
    from sweeps.ensembles.refit_plan import refit_members
    from sweeps.pipeline import run_cli
    from tests.conftest import sweep_args
    from trainables.ensemble_member import EPOCH_CAP

    test_csv = write_kaggle_csv(tmp_path / "test.csv", tiny_data.x_test[:13])
    argv = sweep_args(tmp_path, "job", "--num-samples", "2", "--presets", "baseline-cnn,he-uniform",
                      "--max-epochs", "1", "--ensemble", "--test", str(test_csv))
    argv[argv.index("--time-budget-min") + 1] = "1.5"
    assert run_cli(CNN, argv) == 0
    job = tmp_path / "job"
    metadata = json.loads((job / "digit_sweep.json").read_text())
    assert metadata["flags"]["time_budget_min"] == 0.75 and metadata["flags"]["job_budget_min"] == 1.5
    report = json.loads((job / "refit" / "report.json").read_text())  # epochs: at most the cap x --max-epochs 1
    assert 1 <= report["epochs"] <= EPOCH_CAP * 1 and report["fit_on"] == "train+val" and report["val_accuracy"] is None
    # However many seeds the time left trained, each config keeps its selection weight in all.
    library = json.loads((job / "library" / "report.json").read_text())
    by_config = {m["trial_id"]: m["weight"] for m in refit_members(library)}
    refit = {m["trial_id"] for m in report["members"]}
    assert refit <= set(by_config) and len(report["members"]) >= 2  # a whole round of the 2 slots at least
    for trial_id in refit:
        weight = by_config[trial_id]
        assert sum(m["weight"] for m in report["members"] if m["trial_id"] == trial_id) == pytest.approx(weight)
    assert len({m["seed"] for m in report["members"]}) == len(report["members"])
    assert len(pd.read_csv(job / "refit" / "submission.csv")) == 13
    assert len(pd.read_csv(job / "library" / "submission.csv")) == 13
    assert "s left of the budget" in capsys.readouterr().out
    html = (job / "report.html").read_text()
    assert '<h2 id="refit">' in html and "members trained from scratch" in html and "epochs_trained" in html
    assert 'alt="' + job.name + ' refit"' in html  # accuracy as members are added
