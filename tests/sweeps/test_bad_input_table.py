"""Every kind of bad input a user really gives `cnn_search.py`: exit 2, one line naming the file,
line, column or flag, no traceback, nothing written. Issue 13's table, one row a case."""

import json
import zipfile

import numpy as np
import pytest

from sweeps.sweep.definition import CNN
from sweeps.pipeline import run_cli
from trainables.data.kaggle_csv import write_kaggle_csv


def digits(tiny_data, per_class=None, only=None):
    images, labels = tiny_data.x_train, tiny_data.y_train
    if only is not None:
        return images[:40], np.full(40, only)
    keep = np.concatenate([np.flatnonzero(labels == c)[: per_class.get(c, 30)] for c in range(10)])
    return images[keep], labels[keep]


def case_files(tmp, tiny_data):
    """name -> (extra argv, what the one line must say); files made in ``tmp``."""
    binary = tmp / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    utf16 = tmp / "utf16.csv"
    utf16.write_bytes("label,pixel0\n1,0\n".encode("utf-16"))
    one_class = write_kaggle_csv(tmp / "one-class.csv", *digits(tiny_data, only=7))
    few = write_kaggle_csv(tmp / "few-threes.csv", *digits(tiny_data, per_class={3: 2}))
    archive = tmp / "download.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("readme.txt", "not a csv")
    bad_test = tmp / "test.csv"
    bad_test.write_text("pixel0,pixel1\n0,0\n")
    (tmp / "a-file").write_text("")
    return {
        "missing file": (["--data", str(tmp / "absent.csv")], [str(tmp / "absent.csv"), "no such file"]),
        "binary file": (["--data", str(binary)], [str(binary), "not CSV text"]),
        "not UTF-8": (["--data", str(utf16)], [str(utf16), "not CSV text"]),
        "one class only": (["--data", str(one_class)], [str(one_class), "every digit is labelled 7"]),
        "too few of a class": (["--data", str(few)], [str(few), "class 3 has 2"]),
        "zip without train.csv": (["--data", str(archive)], [str(archive), "expected one train.csv"]),
        "--limit beyond the data": (["--limit", "9000"], ["--limit 9000", "5000"]),
        "--storage is a file": (["--storage", str(tmp / "a-file")], ["--storage", "is a file"]),
        "--name outside storage": (["--name", "../../x"], ["--name", "one path component"]),
        "bad --test file": (["--test", str(bad_test)], [str(bad_test), "line 1"]),
        "--resume with nothing to resume": (["--resume"], ["--resume", "no cnn experiment"]),
    }


@pytest.fixture(scope="module")
def cases(tiny_data, tmp_path_factory):
    return case_files(tmp_path_factory.mktemp("bad"), tiny_data)


CASES = ["missing file", "binary file", "not UTF-8", "one class only", "too few of a class",
         "zip without train.csv", "--limit beyond the data", "--storage is a file", "--name outside storage",
         "bad --test file", "--resume with nothing to resume"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, cases, tmp_path, capsys):
    argv, expected = cases[case]
    storage = tmp_path / "results"
    if "--storage" not in argv:
        argv = [*argv, "--storage", str(storage)]
    assert run_cli(CNN, argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cnn_search.py: error: "), err
    assert "Traceback" not in err[0]
    for fragment in expected:
        assert fragment in err[0], err[0]
    assert not storage.exists()


def test_resume_with_a_conflicting_flag_is_refused(tmp_path, capsys):
    from sweeps.sweep import experiment
    from sweeps.sweep.flags import build_parser

    recorded = {k: v for k, v in vars(build_parser(CNN).parse_args([])).items()}
    experiment.write_text(str(tmp_path / "cnn-a" / experiment.METADATA), json.dumps({"family": "cnn", "flags": recorded}))
    assert run_cli(CNN, ["--resume", "--storage", str(tmp_path), "--seed", "5"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "--seed 5 differs from the experiment's 0" in line


@pytest.mark.parametrize("bad", ["0", "10", "x"])
def test_tta_outside_its_views_is_refused_by_every_command(bad, capsys):
    from sweeps.ensembles import library, predict, retrain

    for parser in (predict.build_parser(), library.build_parser(), retrain.build_parser()):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(["x", "--test", "t.csv", "--tta", bad] if parser.prog == "predict.py"
                              else ["x", "--tta", bad] if parser.prog == "library.py" else ["--tta", bad])
        assert exit_.value.code == 2 and "--tta" in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["--ensemble", "--test", "t.csv", "--pseudo-label", "1.5"], "--pseudo-label: must be a probability from 0.5 to 1, got 1.5"),
    (["--ensemble", "--pseudo-label", "0.99"], "--pseudo-label needs --ensemble (the refit it feeds) and --test"),
    (["--test", "t.csv", "--pseudo-label", "0.99"], "--pseudo-label needs --ensemble"),
    (["--ensemble", "--refit-max-epochs", "0"], "--refit-max-epochs must be at least 1, got 0"),
    (["--ensemble", "--time-budget-min", "0", "--refit-max-epochs", "16"], "--refit-max-epochs needs --ensemble and --time-budget-min"),
    (["--ensemble", "--refit-snapshots", "0"], "--refit-snapshots must be at least 1, got 0"),
    (["--ensemble", "--refit-snapshots", "3", "--refit-ema"], "--refit-snapshots with --refit-ema: choose one"),
])
def test_the_sweep_refuses_a_refit_it_cannot_make(argv, expected, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run_cli(CNN, [*argv, "--storage", str(tmp_path / "results")])
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 2 and expected in line
    assert not (tmp_path / "results").exists()


def test_library_refuses_pseudo_labels_without_a_refit_or_test_digits(capsys):
    from sweeps.ensembles import library

    for argv in (["x", "--pseudo-label", "0.9", "--refit-epochs", "2"], ["x", "--pseudo-label", "0.9", "--test", "t.csv"]):
        with pytest.raises(SystemExit) as exit_:
            library.main(argv)
        assert exit_.value.code == 2 and "--pseudo-label needs --test" in capsys.readouterr().err


@pytest.mark.parametrize("argv, expected", [
    (["x", "--refit-time-min", "0"], "--refit-time-min must be above 0, got 0"),
    (["x", "--refit-time-min", "5", "--refit-max-epochs", "0"], "--refit-max-epochs must be at least 1, got 0"),
    (["x", "--refit-max-epochs", "8"], "--refit-max-epochs needs --refit-time-min"),
    (["x", "--refit-time-min", "soon"], "--refit-time-min: invalid float value: 'soon'"),
    (["x", "--refit-epochs", "2", "--refit-snapshots", "0"], "--refit-snapshots must be at least 1, got 0"),
    (["x", "--refit-epochs", "2", "--refit-snapshots", "2", "--refit-ema"], "--refit-snapshots with --refit-ema: choose one"),
])
def test_library_refuses_a_refit_budget_it_cannot_plan(argv, expected, capsys):
    from sweeps.ensembles import library

    with pytest.raises(SystemExit) as exit_:
        library.main(argv)
    (line,) = capsys.readouterr().err.strip().splitlines()[-1:]
    assert exit_.value.code == 2 and expected in line


# The MLP's and SVM's commands: the same parser and checks, their own flags and presets.
@pytest.mark.parametrize("family, argv, flag", [
    ("SVM", ["--grace-period", "5"], "--grace-period"),
    ("SVM", ["--presets", "bn-relu-512"], "--presets"),
    ("MLP", ["--data", "missing.csv"], "missing.csv"),
])
def test_bad_input_exits_2_naming_the_flag_or_file(family, argv, flag, tmp_path, capsys):
    from sweeps.sweep import definition
    from sweeps.pipeline import run_cli

    argv = [*argv, "--storage", str(tmp_path / "results")]
    try:
        status = run_cli(getattr(definition, family), argv)
    except SystemExit as exit_:  # argparse's parser.error
        status = exit_.code
    assert status == 2 and flag in capsys.readouterr().err.strip().splitlines()[-1]
    assert not (tmp_path / "results").exists()
