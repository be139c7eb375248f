"""Flags checked before anything runs: storage, names, resume, the smoke test (issue 13), the budget's split."""

import json
import os

import pytest

from sweeps.sweep import experiment
from sweeps.sweep.definition import CNN, SVM
from sweeps.sweep.flags import SMOKE, build_parser, validate
from trainables import errors
from trainables.errors import UserError


def validated(*argv):
    parser = build_parser(CNN)
    args = parser.parse_args(list(argv))
    validate(args, parser, CNN, errors.given_flags(parser, list(argv)))
    return args


def test_storage_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "results").write_text("not a directory")
    with pytest.raises(UserError, match=r"--storage .*results is a file"):
        validated("--storage", str(tmp_path / "results"))
    with pytest.raises(UserError, match="is a file"):
        validated("--storage", str(tmp_path / "results" / "deeper"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_storage_that_cannot_be_written_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(UserError, match="cannot be written"):
        validated("--storage", str(locked / "results"))


@pytest.mark.parametrize("name", ["../../x", "a/b", "..", ".", ".hidden", ""])
def test_a_name_is_one_path_component(name, tmp_path):
    with pytest.raises(UserError, match="--name"):
        validated("--storage", str(tmp_path), "--name", name)
    assert list(tmp_path.iterdir()) == []


def test_smoke_test_sizes_yield_to_explicit_flags(tmp_path):
    args = validated("--smoke-test", "--storage", str(tmp_path))
    assert (args.num_samples, args.max_epochs, args.limit) == (SMOKE["num_samples"], SMOKE["max_epochs"], SMOKE["limit"])
    args = validated("--smoke-test", "--max-epochs", "3", "--num-samples", "6", "--storage", str(tmp_path))
    assert (args.num_samples, args.max_epochs, args.limit) == (6, 3, SMOKE["limit"])


def test_smoke_test_on_a_file_smaller_than_its_limit_takes_the_whole_file(tmp_path, tiny_data):
    """150 digits and --smoke-test: no error about a --limit the user never gave."""
    from trainables.data.kaggle_csv import write_kaggle_csv
    from trainables.data.loading import load_data

    small = tmp_path / "small.csv"
    write_kaggle_csv(small, tiny_data.x_train[:150], tiny_data.y_train[:150])
    args = validated("--smoke-test", "--data", str(small), "--storage", str(tmp_path))
    assert args.limit is None
    data = load_data(args.data, args.val_fraction, args.test_fraction, args.seed, args.limit)
    assert sum(data.sizes().values()) == 150
    assert validated("--smoke-test", "--storage", str(tmp_path)).limit == SMOKE["limit"]  # 5,000 embedded


def write_experiment(storage, name, flags, mtime):
    path = storage / name
    experiment.write_text(str(path / experiment.METADATA), json.dumps({"family": "cnn", "flags": flags}))
    os.utime(path / experiment.METADATA, (mtime, mtime))
    return path


def test_latest_is_the_experiment_started_last_not_the_last_name(tmp_path):
    write_experiment(tmp_path, "cnn-smoke", {}, 1_000_000)
    write_experiment(tmp_path, "cnn-20261124-120000", {}, 2_000_000)
    (tmp_path / "cnn-no-metadata").mkdir()  # not an experiment: never "latest"
    assert experiment.latest(str(tmp_path), "cnn") == "cnn-20261124-120000"


def test_latest_is_the_latest_started_not_the_latest_extended(tmp_path):
    """--extend rewrites an older experiment's metadata; the one started last stays the latest."""
    for name, started in (("cnn-a", 1_000.0), ("cnn-b", 2_000.0)):
        experiment.write_text(str(tmp_path / name / experiment.METADATA),
                              json.dumps({"family": "cnn", "flags": {}, "started": started}))
    assert experiment.add_extension(str(tmp_path / "cnn-a"), {"flags": {}}) == "extend-1"  # rewritten now
    assert experiment.latest(str(tmp_path), "cnn") == "cnn-b"
    assert [p.name for p in (tmp_path / "cnn-a").iterdir()] == [experiment.METADATA]  # no temporary file left


def test_resume_takes_the_recorded_settings_and_refuses_other_ones(tmp_path):
    parser = build_parser(CNN)
    recorded = {**vars(parser.parse_args([])), "gpus_per_trial": 0.5, "max_epochs": 12, "seed": 3,
                "ensemble": True, "time_budget_min": 30.0, "job_budget_min": 60.0}
    recorded.pop("preset_configs", None)
    write_experiment(tmp_path, "cnn-gpu", recorded, 1_000_000)
    args = validated("--resume", "--storage", str(tmp_path))
    assert (args.name, args.gpus_per_trial, args.max_epochs, args.seed) == ("cnn-gpu", 0.5, 12, 3)
    # The budget was split when the sweep started: the resumed job keeps the split, not a new one.
    assert (args.ensemble, args.time_budget_min, args.job_budget_min) == (True, 30.0, 60.0)
    args = validated("--resume", "--storage", str(tmp_path), "--max-epochs", "12")  # the same value: fine
    assert args.max_epochs == 12
    with pytest.raises(UserError, match=r"--resume .*--max-epochs 20 differs from the experiment's 12"):
        validated("--resume", "--storage", str(tmp_path), "--max-epochs", "20")



def test_resources_no_node_has_are_named_by_flag():
    from sweeps.sweep.runtime import unmet_resources

    laptop = [{"CPU": 2.0, "memory": 1e10}]
    assert unmet_resources(laptop, 1, 0) is None
    assert unmet_resources(laptop, 8, 0) == "--cpus-per-trial 8: no node has 8 CPUs (the most is 2)"
    assert unmet_resources(laptop, 1, 1) == "--gpus-per-trial 1: no node has 1 GPUs (the most is 0)"
    cluster = [{"CPU": 0.0}, {"CPU": 8.0, "GPU": 1.0}]  # a CPU-less head and one GPU worker
    assert unmet_resources(cluster, 8, 0.25) is None and unmet_resources(cluster, 4, 2) is not None


@pytest.mark.slow
@pytest.mark.parametrize("flags", [["--cpus-per-trial", "8"], ["--gpus-per-trial", "1"]])
def test_resources_this_machine_never_has_exit_2_before_anything_is_written(flags, ray_local, tmp_path, capsys):
    from sweeps.pipeline import run_cli
    from tests.conftest import sweep_args

    assert run_cli(CNN, sweep_args(tmp_path, "never", *flags)) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"cnn_search.py: error: {flags[0]} ") and "could never start" in line
    assert not (tmp_path / "never").exists()


@pytest.mark.slow
def test_a_sweep_in_which_no_trial_reported_is_not_a_success(ray_local, tmp_path, capsys):
    from sweeps.pipeline import run_cli
    from tests.conftest import sweep_args

    # A budget of one second ends the sweep before any trial's first report.
    assert run_cli(CNN, sweep_args(tmp_path, "nothing", "--time-budget-min", "0.017", "--num-samples", "2")) == 1
    assert "no trial reported a result" in capsys.readouterr().err


def test_ensemble_splits_the_time_budget_between_search_and_refit():
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
