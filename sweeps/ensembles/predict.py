"""Apply a saved ensemble, or any one trial, to new digits and write a Kaggle submission.

    python sweeps/predict.py results/cnn-.../library --test test.csv            # an ensemble's directory
    python sweeps/predict.py results/cnn-... 56e00e83 --test test.csv           # a trial of an experiment
    python sweeps/predict.py results/cnn-...                --test test.csv     # its best trial
    python sweeps/predict.py results/cnn-.../train_keras_.../checkpoint_000010 --test test.csv --out sub.csv

An ensemble directory is any with a manifest.json: the library ensemble's
(members are trial checkpoints), the refit's or ``sweeps/ensemble.py``'s
(members are saved models); its members' probabilities are averaged with
their selection weights, as when it was chosen. test.csv goes through the same
checks as training data; the submission (ImageId,Label, one row per test
image) is written whole or not at all.
"""

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from sweeps.sweep import experiment
from trainables import errors
from trainables.ensemble import views_flag
from trainables.errors import ArgumentParser, UserError
from trainables.data.kaggle_csv import load_kaggle_csv

MANIFEST, MODEL_FILE = "manifest.json", "model.keras"


def build_parser():
    p = ArgumentParser(prog="predict.py", description=__doc__.split("\n\n")[0])
    p.add_argument("source", help="an ensemble directory (with manifest.json), an experiment, a checkpoint "
                   "directory or a .keras model")
    p.add_argument("trial_id", nargs="?", help="with an experiment: the trial to apply (default: its best)")
    p.add_argument("--test", required=True, help="Kaggle test.csv (pixel0..pixel783)")
    p.add_argument("--out", default="submission.csv", help="where the submission goes")
    p.add_argument("--tta", type=views_flag, default=1,
                   help="test-time augmentation: average each model over this many views (1: none; 5: the "
                   "image and its four 1-pixel shifts)")
    return p


def members(source, trial_id=None):
    """[(what to load: a .keras file or checkpoint directory, weight, experiment or None)], and a label."""
    source = str(source).rstrip("/")
    if experiment.exists(f"{source}/{MANIFEST}"):
        manifest = json.loads(experiment.read_text(f"{source}/{MANIFEST}"))
        chosen = [m for m in manifest["members"] if m.get("weight", 1)]
        if not chosen:
            raise UserError(f"{source}/{MANIFEST}: the ensemble has no member with a weight")
        experiment_path = source.rsplit("/", 1)[0]  # a library ensemble lives in its experiment
        out = []
        for m in chosen:
            where = m.get("model") or m["checkpoint"]
            if "model" in m and not Path(where).is_absolute() and not experiment.is_uri(where):
                where = str(experiment.child(source, where))
            out.append((where, float(m.get("weight", 1)), experiment_path))
        return out, f"ensemble of {len(out)} members ({source})"
    if experiment.exists(f"{source}/{experiment.METADATA}"):
        return _trial(experiment.resolve_storage(source), trial_id)  # Tune reads absolute paths only
    if trial_id:
        raise UserError(f"{source}: a trial id needs an experiment directory (one with {experiment.METADATA})")
    if source.endswith(".keras") and experiment.exists(source) or experiment.exists(experiment.child(source, MODEL_FILE)):
        return [(source, 1.0, None)], source
    raise UserError(f"{source}: neither an ensemble (no {MANIFEST}), an experiment (no {experiment.METADATA}), "
                    f"a checkpoint (no {MODEL_FILE}) nor a .keras file")


def _trial(path, trial_id):
    from sweeps.results import leaderboard

    board = leaderboard.build(path)
    board = board[board["checkpoint"].notna()] if "checkpoint" in board.columns else board.head(0)
    if board.empty:
        raise UserError(f"{path}: no trial kept a checkpoint")
    rows = board if trial_id is None else board[board["trial_id"] == trial_id]
    if rows.empty:
        raise UserError(f"{path}: no trial {trial_id!r} with a checkpoint; the best is {board.iloc[0]['trial_id']}")
    row = rows.iloc[0]
    return [(row["checkpoint"], 1.0, str(path))], f"trial {row['trial_id']} (rank {row['rank']}, {path})"


def predict(parts, images, tta=1):
    """Weighted mean of the members' class probabilities for ``images``: saved models are loaded
    here, checkpoints the way the library ensemble loads them (downloaded when remote)."""
    from sweeps.ensembles.checkpoints import predict as predict_checkpoints
    from trainables import ensemble as combine

    where = [part[0] for part in parts]
    if all(w.endswith(".keras") for w in where):
        probabilities = _predict_models(where, images, tta)
    else:
        experiment_path = parts[0][2] or where[0]  # a lone checkpoint directory is its own location
        rows = pd.DataFrame({"checkpoint": where})
        probabilities = predict_checkpoints(rows, experiment_path, {"test": images}, tta=tta)["test"]
    return combine.average(probabilities, [part[1] for part in parts])


def _predict_models(paths, images, tta=1):
    from trainables.ensemble import predict_views
    from trainables.keras_trainable import configure_tensorflow

    configure_tensorflow()
    import keras

    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, path in enumerate(paths):
            if experiment.is_uri(path):  # Keras loads local files only
                path = experiment.download(path, Path(tmp, str(i)))
            keras.utils.clear_session(free_memory=False)
            # compile=False: predicting needs no loss (a smoothed one is a class of trainables.models)
            out.append(predict_views(keras.models.load_model(path, compile=False), images, tta))
    return np.stack(out)


def main(argv=None):
    from sweeps.ensembles.outputs import submission

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        images, _, _ = load_kaggle_csv(args.test, labelled=False)
        parts, label = members(args.source, args.trial_id)
        out = args.out if experiment.is_uri(args.out) else Path(args.out)
        if not experiment.is_uri(out) and not out.parent.exists():
            raise UserError(f"--out {out}: directory {out.parent} does not exist")
        probabilities = predict(parts, images, args.tta)
    except UserError as error:
        return errors.report(parser.prog, error)
    frame = submission(probabilities, len(images))
    experiment.write_file(out, lambda tmp: frame.to_csv(tmp, index=False))
    counts = np.bincount(frame["Label"], minlength=10)
    print(f"{label}: {len(frame)} test digits -> {out} (labels 0-9: {' '.join(map(str, counts))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
