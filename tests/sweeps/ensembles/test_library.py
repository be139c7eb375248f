"""The library ensemble: selection on the validation split only, and a real sweep's checkpoints."""

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from sweeps.ensembles import library
from trainables.data.kaggle_csv import count_data_rows, write_kaggle_csv


def confident(labels, right, classes=10):
    """Probabilities sure of the true label where ``right``, of the next label elsewhere."""
    guess = np.where(right, labels, (labels + 1) % classes)
    out = np.full((len(labels), classes), 0.01)
    out[np.arange(len(labels)), guess] = 0.91
    return out


def two_member_case():
    """Member 0 is perfect on validation and poor on test; member 1 the other way round."""
    y_val, y_test = np.arange(40) % 10, (np.arange(40) + 3) % 10
    val = np.stack([confident(y_val, np.ones(40, bool)), confident(y_val, np.arange(40) < 20)])
    test = np.stack([confident(y_test, np.arange(40) < 20), confident(y_test, np.ones(40, bool))])
    data = SimpleNamespace(y_val=y_val, y_test=y_test, source="synthetic", fingerprint="x",
                           sizes=lambda: {"train": 0, "val": 40, "test": 40})
    return val, test, data


@pytest.mark.parametrize("selection", ["bagged", "greedy"])
def test_selection_sees_the_validation_split_only(selection):
    val, test, data = two_member_case()
    rows = pd.DataFrame({"trial_id": ["a", "b"], "rank": [1, 2], "best_epoch": [1.0, 1.0], "checkpoint": ["-", "-"]})
    report = library.build_report(rows, {"val": val, "test": test}, data, selection, seed=0)
    # Chosen on validation: member 0 only. Had the test labels chosen, member 1 would be.
    assert report["weights"][selection][0] > 0 and report["weights"][selection][1] == 0
    assert report["test_accuracy"][selection] == pytest.approx(0.5)
    assert report["val_accuracy"][selection] == 1.0
    assert report["test_accuracy"]["best single"] == pytest.approx(0.5)
    assert [m["weight"] for m in report["members"]] == report["weights"][selection]


def test_the_greedy_curve_reports_test_accuracy_of_the_running_ensemble():
    val, test, data = two_member_case()
    rows = pd.DataFrame({"trial_id": ["a", "b"], "rank": [1, 2], "best_epoch": [1.0, 1.0], "checkpoint": ["-", "-"]})
    curve = library.build_report(rows, {"val": val, "test": test}, data, "bagged", 0)["greedy_curve"]
    assert curve[0]["member"] == 0 and curve[0]["val_accuracy"] == 1.0 and curve[0]["test_accuracy"] == 0.5


def test_the_submission_is_checked_against_the_files_own_row_count(tmp_path):
    from sweeps.ensembles.outputs import submission

    path = write_kaggle_csv(tmp_path / "test.csv", np.zeros((5, 28, 28, 1), np.uint8))
    with open(path, "a") as stream:
        stream.write("\n")  # a trailing blank line is not a row
    assert count_data_rows(path) == 5
    assert len(submission(np.eye(10)[:5], count_data_rows(path))) == 5
    with pytest.raises(RuntimeError, match="4 rows, test.csv has 5"):
        submission(np.eye(10)[:4], 5)


@pytest.mark.slow
def test_every_keras_sweep_ends_with_its_library_ensemble(smoke_sweep):
    report = json.loads((smoke_sweep / "library" / "report.json").read_text())
    board = pd.read_parquet(smoke_sweep / "leaderboard.parquet")
    with_checkpoint = board[board["checkpoint"].notna()]
    assert [m["trial_id"] for m in report["members"]] == list(with_checkpoint["trial_id"])
    assert report["members_chosen"] >= 1 and sum(report["weights"]["bagged"]) >= library.BAGS
    # The best single trial's validation accuracy is the leaderboard's best, from its checkpoint.
    assert report["val_accuracy"]["best single"] == pytest.approx(with_checkpoint["best_val_accuracy"].iloc[0])
    assert "Library ensemble" in (smoke_sweep / "report.html").read_text()


@pytest.mark.slow
def test_on_demand_with_a_kaggle_submission(smoke_sweep, tiny_data, tmp_path, capsys):
    test_csv = write_kaggle_csv(tmp_path / "test.csv", tiny_data.x_test[:23])
    out = tmp_path / "library"
    assert library.main([str(smoke_sweep), "--test", str(test_csv), "--out", str(out), "--selection", "greedy"]) == 0
    submission = pd.read_csv(out / "submission.csv")
    assert list(submission["ImageId"]) == list(range(1, 24)) and submission["Label"].between(0, 9).all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["members"] and all(m["weight"] > 0 for m in manifest["members"])
    assert "greedy selection" in capsys.readouterr().out
    # The probabilities behind the submission are kept for the refit's pseudo-labels, and serve
    # only the same digits predicted with the same views.
    from sweeps.ensembles.pseudo import library_probabilities

    saved = np.load(out / "test_probabilities.npy")
    assert saved.shape == (23, 10) and (saved.argmax(axis=1) == submission["Label"]).all()
    digits = tiny_data.x_test[:23]
    assert library_probabilities(out, digits, tta=1)[1] == "saved"
    for other, tta in [(digits[::-1], 1), (digits, 3)]:
        probabilities, source = library_probabilities(out, other, tta)
        assert source == "predicted" and probabilities.shape == (23, 10)


@pytest.mark.slow
@pytest.mark.parametrize("problem", ["bad test.csv", "not an experiment"])
def test_bad_input_exits_2_and_writes_nothing(problem, smoke_sweep, tmp_path, capsys):
    bad_csv = tmp_path / "test.csv"
    bad_csv.write_text("label,pixel0\n1,2\n")
    out = tmp_path / "out"
    target = {"bad test.csv": smoke_sweep, "not an experiment": tmp_path}[problem]
    assert library.main([str(target), "--test", str(bad_csv), "--out", str(out)]) == 2
    message = capsys.readouterr().err
    assert message.count("error:") == 1 and {"bad test.csv": "test.csv", "not an experiment": "digit_sweep.json"}[problem] in message
    assert not out.exists()


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


def test_refit_epochs_fit_the_time_left_on_the_slots():
    from sweeps.ensembles.refit_plan import epochs_within

    # Two members of 10 s and 30 s an epoch, 30 s fixed each, on 2 slots: list scheduling's
    # bound is (60 + 40 n) / 2 + (30 + 30 n) / 2 = 45 + 35 n, so 400 s gives 10 epochs.
    assert epochs_within(400, [10, 30], slots=2, cap=50) == 10
    # One slot runs them in turn: 40 s a round and 60 s fixed.
    assert epochs_within(400, [10, 30], slots=1, cap=50) == 8
    assert epochs_within(400, [10, 30], slots=2, cap=6) == 6
    assert epochs_within(20, [10, 30], slots=2, cap=50) == 1  # never less than one epoch
    # However the tasks are ordered, the planned epochs fit: simulate list scheduling.
    for times in ([5, 7, 30], [12, 12, 12, 40], [3] * 7, [40, 1, 1, 1]):
        for slots in (1, 2, 3):
            n = epochs_within(600, times, slots, cap=1000)
            for order in (times, sorted(times), sorted(times, reverse=True)):
                finish = [0.0] * slots
                for t in order:
                    finish[finish.index(min(finish))] += 30 + n * t
                assert max(finish) <= 600


def test_time_left_at_the_epoch_cap_trains_more_seeds_in_proportion_to_the_weights():
    from sweeps.ensembles.refit_plan import epochs_within, seeds_within

    times, weights = [10, 10, 10], [474, 173, 69]
    # n members of 10 epochs at 10 s, 30 s fixed each, on 2 slots: 65 n + 65 s, so 500 s holds 6.
    # Each seed goes to the most weight per seed: 474, 237 (first), then 173 (second).
    assert seeds_within(500, times, weights, slots=2, epochs=10) == [3, 2, 1]
    assert epochs_within(500, [10] * 6, 2, cap=10) == 10 and epochs_within(500, [10] * 7, 2, cap=10) < 10
    assert seeds_within(900, times, weights, slots=2, epochs=10) == [6, 3, 1]  # 12 would fit; 10 at most
    assert seeds_within(900, times, weights, slots=2, epochs=10, most=4) == [2, 1, 1]
    assert seeds_within(200, times, weights, slots=2, epochs=10) == [1, 1, 1]  # no time to spare


def test_short_of_the_epoch_cap_the_heaviest_configs_train_in_whole_rounds_of_the_slots():
    from sweeps.ensembles.refit_plan import configs_within

    times, weights = [10, 10, 10], [94, 30, 46]
    # 400 s on 2 slots: 3 members reach 17 epochs of a cap of 40, 2 reach 23: the lightest is left out.
    assert configs_within(400, times, weights, slots=2, cap=40) == [1, 0, 1]
    # When all three reach the cap together, all three are refit.
    assert configs_within(400, times, weights, slots=2, cap=10) == [1, 1, 1]
    # The most whole rounds that reach the cap: members of 30 + 10 x 10 s, 6 on 2 slots take 455 s
    # by list scheduling's bound, 7 take 520: of 7 configs in 500 s, the 6 heaviest.
    assert configs_within(500, [10] * 7, [7, 6, 5, 4, 3, 2, 1], slots=2, cap=10) == [1, 1, 1, 1, 1, 1, 0]
    # Fewer configs than slots: seeds of the heaviest fill the round.
    assert configs_within(400, [10], [7], slots=2, cap=40) == [2]
    assert configs_within(400, [10, 10], [1, 3], slots=4, cap=40) == [1, 3]


def test_the_refit_plan_counts_the_pseudo_labelled_digits_and_caps_the_epochs(capsys):
    from sweeps.ensembles.refit_plan import REFIT_EPOCH_RATIO, TAIL_S, budget_plan, member_epoch_times
    from trainables.data.loading import DigitData

    digits = lambda n: np.zeros((n, 28, 28, 1), np.uint8)  # noqa: E731
    data = DigitData(digits(100), np.zeros(100), digits(20), np.zeros(20), digits(30), np.zeros(30), "test", "0")
    board = pd.DataFrame({"trial_id": ["a", "b"], "epoch_time_s": [10.0, 20.0]})
    report = {"members": [{"trial_id": "a", "weight": 3}, {"trial_id": "b", "weight": 1}]}
    # The sweep timed 100 training digits; train+val is 120, and 60 pseudo-labelled ones make 180.
    assert member_epoch_times(board, report, "train+val", data) == pytest.approx([12 * REFIT_EPOCH_RATIO, 24 * REFIT_EPOCH_RATIO])
    with_labels = member_epoch_times(board, report, "train+val", data, extra_digits=60)
    assert with_labels == pytest.approx([18 * REFIT_EPOCH_RATIO, 36 * REFIT_EPOCH_RATIO])
    assert budget_plan(board, report, 2000, 2, data, "train+val", cap=100, extra_digits=60)[0] < \
        budget_plan(board, report, 2000, 2, data, "train+val", cap=100)[0]
    # At a cap of 5 epochs the time left trains more seeds, the heavier config first.
    epochs, seeds, shares = budget_plan(board, report, 2000, 2, data, "train+val", cap=5)
    assert epochs == 5 and seeds[0] >= seeds[1] and sum(seeds) > 2
    assert "the time left trains" in capsys.readouterr().out
    assert len(shares) == sum(seeds) and max(shares) == pytest.approx(2000 - TAIL_S)  # the last ends in time to write


def test_each_member_is_given_its_share_of_the_time_in_the_order_ray_starts_them():
    from sweeps.ensembles.refit_plan import member_deadlines

    # Three members of 10 epochs at 10, 10, 20 s on 2 slots, 30 s fixed: the first two end at 130 s,
    # the third starts on the first slot to free and ends at 130 + 230 = 360 s; the second, alone on
    # its slot, may train to the end.
    assert member_deadlines(360, [10, 10, 20], slots=2, epochs=10) == pytest.approx([130, 360, 360])
    # A budget twice as long (the plan's epoch times too high for this machine): every share doubles,
    # so a member that trains faster than planned fills its share, and the next starts in time.
    assert member_deadlines(720, [10, 10, 20], slots=2, epochs=10) == pytest.approx([260, 720, 720])
    assert member_deadlines(100, [10, 30], slots=2, epochs=5) == pytest.approx([100, 100])  # a round: all to the end


def test_a_planned_refit_must_train_at_least_as_long_as_the_chosen_checkpoints():
    from sweeps.ensembles.refit_plan import chosen_epochs

    report = {"members": [{"weight": 30, "best_epoch": 4.0}, {"weight": 0, "best_epoch": 16.0},
                          {"weight": 1, "best_epoch": 15.0}, {"weight": 10, "best_epoch": 11.0}]}
    assert chosen_epochs(report) == 11.0  # neither the unchosen nor the negligible member counts


def test_the_refit_leaves_out_members_of_negligible_weight():
    from sweeps.ensembles.refit_plan import refit_members

    report = {"members": [{"trial_id": t, "weight": w} for t, w in [("a", 238), ("b", 43), ("c", 12), ("d", 1), ("e", 0)]]}
    assert [m["trial_id"] for m in refit_members(report)] == ["a", "b"]  # c has 12 / 294 = 4.1%
    assert [m["trial_id"] for m in refit_members(report, min_share=0.04)] == ["a", "b", "c"]


def test_ensemble_splits_the_time_budget_between_search_and_refit():
    from sweeps.sweep.definition import CNN, SVM
    from sweeps.sweep.flags import build_parser, validate

    parser = build_parser(CNN)
    args = parser.parse_args(["--ensemble", "--time-budget-min", "60", "--refit-share", "0.25"])
    validate(args, parser, CNN)
    assert args.time_budget_min == 45 and args.job_budget_min == 60
    args = parser.parse_args(["--time-budget-min", "60"])
    validate(args, parser, CNN)
    assert args.time_budget_min == 60  # without --ensemble the sweep has it all
    svm = build_parser(SVM)
    with pytest.raises(SystemExit):
        validate(svm.parse_args(["--ensemble"]), svm, SVM)


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


def test_usable_cpus_where_the_os_has_no_affinity(monkeypatch):
    """macOS has no os.sched_getaffinity: the library ensemble must still build there."""
    import os

    from sweeps.ensembles import library

    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert library.usable_cpus() == (os.cpu_count() or 1)


def test_the_refit_plans_parallel_members_from_gpus_as_well_as_cpus():
    from sweeps.ensembles.refit_plan import parallel_members

    assert parallel_members({"CPU": 2}, 1, 0) == 2
    assert parallel_members({"CPU": 8, "GPU": 1}, 1, 1) == 1  # one GPU: one member at a time
    assert parallel_members({"CPU": 8, "GPU": 1}, 1, 0.25) == 4
    assert parallel_members({"CPU": 2, "GPU": 4}, 1, 1) == 2
