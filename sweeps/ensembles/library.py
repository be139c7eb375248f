"""Library ensemble: the sweep's own trial checkpoints, weighed by ensemble selection, no retraining.

    python sweeps/library.py results/cnn-20261125-093000 [--test test.csv] [--size 25] [--selection bagged]

Every trial that reached an epoch end kept its best checkpoint: a trained
model. As auto-sklearn and AutoGluon do, the best ``--size`` of them predict
the validation split, and ensemble selection with replacement (Caruana et al.,
2004) weighs them on it; bagged over random halves of the validation split by
default, so a small split is not overfit. The test split only reports: the
best single trial, the top-10 average, plain greedy and bagged selection.
Written after every Keras sweep into ``<experiment>/library/`` (report.json,
report.md, manifest.json and, with ``--test``, submission.csv).
"""

import json
import os
import sys
import time

import numpy as np
import pandas as pd

from sweeps.results.leaderboard import markdown as table_markdown
from sweeps.ensembles import outputs, refit
from sweeps.ensembles.checkpoints import predict
from sweeps.ensembles.pseudo import digits_fingerprint
from sweeps.sweep import experiment
from sweeps.sweep.runtime import import_tensorflow_quietly, start_ray
from trainables.ensemble_member import EPOCH_CAP, REFIT_ON, add_refit_member_options, check_refit_member_options
from trainables import ensemble as combine
from trainables import errors
from trainables.ensemble import threshold_flag, views_flag
from trainables.errors import ArgumentParser, UserError
from trainables.data.kaggle_csv import count_data_rows, load_kaggle_csv

OUT = outputs.LIBRARY_DIR
DEFAULT_SIZE = 25
TOP_K = 10  # the plain average the report compares against
SELECTIONS = ("bagged", "greedy", "average")
BAGS = 20


def library_rows(board, size):
    """The best ``size`` trials that kept a checkpoint, best first."""
    if board.empty or "checkpoint" not in board.columns:
        return board.head(0)
    return board[board["checkpoint"].notna()].head(size).reset_index(drop=True)


def evaluate(val, test, data, seed):
    """Every selection's weights (counts), decided on the validation split only, and the
    accuracies the report shows (test: report only)."""
    greedy, history = combine.greedy_selection(val, data.y_val)
    weights = {
        "bagged": combine.bagged_selection(val, data.y_val, bags=BAGS, seed=seed),
        "greedy": greedy,
        "average": np.array([1] * min(TOP_K, len(val)) + [0] * max(0, len(val) - TOP_K)),
        "best single": np.eye(len(val), dtype=int)[0],
    }

    def scores(probabilities, labels):
        return {name: combine.accuracy(combine.average(probabilities, w), labels) for name, w in weights.items()}

    added = np.zeros(len(val), dtype=int)
    curve = []
    for step in history:  # the greedy trace on the whole validation split, as members are added
        added[step["member"]] += 1
        curve.append({"round": step["round"], "member": step["member"], "val_accuracy": step["accuracy"],
                      "test_accuracy": combine.accuracy(combine.average(test, added), data.y_test)})
    return weights, scores(val, data.y_val), scores(test, data.y_test), curve


def build_report(rows, predictions, data, selection, seed):
    val, test = predictions["val"], predictions["test"]
    weights, val_scores, test_scores, curve = evaluate(val, test, data, seed)
    chosen = weights[selection]
    members = [{
        "library_rank": i + 1, "trial_id": row["trial_id"], "leaderboard_rank": int(row["rank"]),
        "origin": row.get("origin"), "preset": row.get("preset"), "best_epoch": float(row["best_epoch"]),
        "val_accuracy": combine.accuracy(val[i], data.y_val), "test_accuracy": combine.accuracy(test[i], data.y_test),
        "weight": int(chosen[i]), "checkpoint": row["checkpoint"],
    } for i, (_, row) in enumerate(rows.iterrows())]
    return {
        "selection": selection, "library_size": len(rows), "bags": BAGS if selection == "bagged" else None,
        "members_chosen": int((chosen > 0).sum()),
        "val_accuracy": val_scores, "test_accuracy": test_scores,
        "weights": {name: [int(v) for v in w] for name, w in weights.items()},
        "greedy_curve": curve, "members": members,
        "per_class_errors": combine.per_class_errors(combine.average(test, chosen), data.y_test),
        "data": {"source": data.source, "fingerprint": data.fingerprint, **data.sizes()},
    }


def summary(report):
    val, test = report["val_accuracy"], report["test_accuracy"]
    lines = [f"library ensemble: {report['members_chosen']} of {report['library_size']} checkpoints "
             f"chosen by {report['selection']} selection on the validation split",
             f"{'':>14} {'val':>7} {'test':>7}"]
    lines += [f"{name:>14} {val[name]:7.4f} {test[name]:7.4f}" for name in ("best single", "average", "greedy", "bagged")]
    return "\n".join(lines)


def markdown(report):
    members = pd.DataFrame(report["members"]).drop(columns=["checkpoint"])
    chosen = members[members["weight"] > 0]
    curve = pd.DataFrame(report["greedy_curve"])
    return "\n\n".join([
        "# Library ensemble", summary(report).join(["```\n", "\n```"]),
        "Validation chose everything; the test split only reports. `average` is the top-10 trials' plain "
        "average, `greedy` Caruana's selection on the whole validation split, `bagged` the same over "
        f"{BAGS} random halves of it, weights summed.",
        "## Chosen members", table_markdown(chosen),
        "## Accuracy as members are added (greedy, whole validation split)", table_markdown(curve),
        "## The library", table_markdown(members),
    ]) + "\n"


def write(out, report, extra_probabilities, test_rows):
    """report.json, report.md, manifest.json and submission.csv, all or nothing."""
    with outputs.staged(out) as staging:
        if extra_probabilities is not None:
            outputs.submission(extra_probabilities, test_rows).to_csv(staging / "submission.csv", index=False)
            # Kept for the refit's pseudo-labels: predicting 28,000 digits again takes minutes.
            np.save(staging / outputs.PROBABILITIES, extra_probabilities.astype(np.float32))
        (staging / "report.json").write_text(json.dumps(report, indent=2, default=str))
        (staging / "report.md").write_text(markdown(report))
        manifest = [{k: m[k] for k in ("trial_id", "checkpoint", "weight")} for m in report["members"] if m["weight"]]
        (staging / "manifest.json").write_text(json.dumps({"data": report["data"], "members": manifest}, indent=2))
    return out


def build(path, board=None, test_csv=None, size=DEFAULT_SIZE, selection="bagged", out=None, cpus=None, tta=1):
    """Select and write the library ensemble of the experiment at ``path``; returns (report, out dir).
    None when no trial kept a checkpoint."""
    started = time.perf_counter()
    metadata = experiment.read_metadata(path)
    # A bad file fails here, before any model is loaded.
    extra = load_kaggle_csv(test_csv, labelled=False)[0] if test_csv else None
    if board is None:
        from sweeps.results import leaderboard

        board = leaderboard.build(path)
    rows = library_rows(board, size)
    if rows.empty:
        return None, None
    data = experiment.data_of(metadata)
    predictions = predict(rows, path, {"val": data.x_val, "test": data.x_test}, cpus, tta)
    report = build_report(rows, predictions, data, selection, metadata["flags"].get("seed", 0))
    extra_probabilities = None
    if extra is not None:  # only the chosen members predict test.csv: it may hold 28,000 digits
        weights = np.array(report["weights"][selection])
        picked = weights > 0
        extra_probabilities = combine.average(predict(rows[picked], path, {"extra": extra}, cpus, tta)["extra"], weights[picked])
        report["test_digits"] = digits_fingerprint(extra)
    report["wall_time_s"], report["tta"] = time.perf_counter() - started, tta
    if out is None:
        out = experiment.child(path, OUT)
    return report, write(out, report, extra_probabilities, count_data_rows(test_csv) if test_csv else None)


def usable_cpus():
    """CPUs this process may run on: its affinity where the OS has one (Linux), else all of them."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def build_or_warn(path, board, test_csv=None, tta=1):
    """``build`` at the end of a sweep, on every CPU of this machine; a failure only warns
    (the sweep's leaderboard is already safe). Returns the files written."""
    try:
        report, out = build(path, board, test_csv=test_csv, cpus=usable_cpus(), tta=tta)
    except Exception as error:  # noqa: BLE001 - whatever it was, the sweep's results stand
        print(f"warning: no library ensemble: {type(error).__name__}: {error}", file=sys.stderr)
        return []
    if report is None:
        print("library ensemble: no trial kept a checkpoint")
        return []
    print(summary(report))
    return experiment.files_under(out)


def build_parser():
    p = ArgumentParser(prog="library.py", description=__doc__.split("\n\n")[0])
    p.add_argument("experiment", help="experiment directory (a Keras family's sweep)")
    p.add_argument("--test", help="Kaggle test.csv: also write submission.csv")
    p.add_argument("--size", type=int, default=DEFAULT_SIZE, help="the best this many trials with a checkpoint")
    p.add_argument("--selection", choices=SELECTIONS, default="bagged",
                   help="bagged: greedy selection over random halves of the validation split, weights summed; "
                   "greedy: on the whole split; average: the top 10 equally")
    p.add_argument("--cpus", type=int, default=2, help="TensorFlow threads for the predictions")
    p.add_argument("--tta", type=views_flag, default=1, help="test-time augmentation: each model's prediction averages this many views of a digit (1: the "
                   "digit alone; 5: and its four 1-pixel shifts)")
    p.add_argument("--out", help=f"output directory (default: <experiment>/{OUT})")
    refit = p.add_argument_group("refit: train the chosen configs again from scratch (sweeps/refit.py)")
    refit.add_argument("--refit-epochs", type=int, help="epochs per refit member")
    refit.add_argument("--refit-time-min", type=float, metavar="M",
                       help="refit within M minutes: the time shared out from the sweep's epoch times, each member "
                       "fitting its epochs to its share by its own epoch times; at the epoch cap, more seeds "
                       "(default: no refit unless --refit-epochs)")
    refit.add_argument("--refit-max-epochs", type=int, metavar="E",
                       help=f"with --refit-time-min: the most epochs a member trains, the time left training more "
                       f"seeds (default: {EPOCH_CAP} x the sweep's --max-epochs)")
    refit.add_argument("--fit-on", choices=REFIT_ON, default="train",
                       help="train: validation held out; train+val; all: every labelled digit (no test figure)")
    add_refit_member_options(refit)
    refit.add_argument("--pseudo-label", type=threshold_flag, metavar="P",
                       help="--test's digits that the library ensemble labels with probability >= P join the refit's "
                       "training digits (needs --test; off by default: at 0.9 it showed no gain at equal time, bench/RESULTS.md section 14)")
    refit.add_argument("--cpus-per-member", type=float, default=1.0)
    refit.add_argument("--gpus-per-member", type=float, default=0.0)
    refit.add_argument("--address", help="Ray cluster address; a local Ray of its own by default")
    return p


def refit_chosen(path, board, report, args, library_dir):
    """Refit the chosen configs as Ray tasks; returns (refit report, out dir), (None, None) when
    --refit-time-min leaves less than the library's models trained."""
    dashboard = start_ray(args.address, quiet=args.quiet)
    if dashboard:
        print(f"Ray dashboard: http://{dashboard}")
    out = experiment.child(experiment.parent(args.out) if args.out else path, refit.OUT)
    metadata = experiment.read_metadata(path)
    settings = refit.Settings(args.fit_on, args.refit_epochs, args.refit_max_epochs, metadata["flags"].get("seed", 0),
                              args.cpus_per_member, args.gpus_per_member, args.test, args.tta, args.refit_ema,
                              args.pseudo_label, args.refit_snapshots, args.refit_schedule)
    left_s = None if args.refit_time_min is None else args.refit_time_min * 60
    return refit.within(path, board, report, settings, left_s, metadata["max_epochs"], out, library_dir)


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    for flag in ("size", "refit_epochs", "refit_max_epochs", "refit_snapshots"):
        if getattr(args, flag) is not None and getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1, got {getattr(args, flag)}")
    check_refit_member_options(args, parser)
    if args.refit_time_min is not None and not args.refit_time_min > 0:
        parser.error(f"--refit-time-min must be above 0, got {args.refit_time_min:g}")
    refits = args.refit_epochs or args.refit_time_min
    if args.refit_max_epochs and not args.refit_time_min:
        parser.error("--refit-max-epochs needs --refit-time-min (it caps the epochs planned to fit the time)")
    if args.pseudo_label is not None and not (args.test and refits):
        parser.error("--pseudo-label needs --test (the digits it labels) and --refit-epochs or --refit-time-min "
                     "(the refit it feeds)")
    try:
        path = experiment.resolve_storage(args.experiment)
        if experiment.read_metadata(path)["family"] == "svm":
            raise UserError(f"{args.experiment}: an SVM sweep keeps no model checkpoints to ensemble")
        args.quiet = import_tensorflow_quietly(args.gpus_per_member)
        from sweeps.results import leaderboard

        board = leaderboard.build(path)
        report, out = build(path, board, test_csv=args.test, size=args.size, selection=args.selection,
                            out=args.out, cpus=args.cpus, tta=args.tta)
    except UserError as error:
        return errors.report(parser.prog, error)
    if report is None:
        print(f"{parser.prog}: error: {args.experiment}: no trial kept a checkpoint", file=sys.stderr)
        return 2
    print(summary(report))
    print(f"library ensemble: {out} ({report['wall_time_s']:.0f} s)")
    if refits:
        refit_report, refit_out = refit_chosen(path, board, report, args, out)
        if refit_report is None:
            return 0
        print(refit.summary(refit_report))
        print(f"refit: {refit_out} ({refit_report['wall_time_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
