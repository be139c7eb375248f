"""Best-config leaderboard of finished (or interrupted) experiments.

One row per trial of every run of the experiment (the sweep and each
``--extend``), best first: the flattened config, best and last validation
accuracy, epochs run, whether ASHA stopped it early, wall time, parameter
count and the best checkpoint's path. Written as Parquet, CSV and Markdown.

    python sweeps/leaderboard.py results/cnn-20261124-120000 [more experiments...] [--out DIR]
"""

import logging
import math
import sys
from pathlib import Path

import pandas as pd

from sweeps.sweep import experiment
from sweeps.sweep.origin import ORIGIN, PRESET
from trainables import errors
from trainables.errors import ArgumentParser, UserError

EPOCH_COLUMNS = ("best_epoch", "epochs")
SUMMARY_COLUMNS = [
    "rank", "family", "trial_id", "best_val_accuracy", "best_epoch", "epochs",
    "stopped_early", "status", "wall_time_s", "num_params", "origin", "preset",
]


def matching_preset(config, presets):
    def same(a, b):
        if isinstance(a, float) or isinstance(b, float):
            return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9)
        return a == b

    for name, preset in presets.items():
        if all(same(config.get(key), value) for key, value in preset.items()):
            return name
    return None


def _epoch_time(progress, time_attr):
    """Median seconds of the trial's whole epochs (what a refit's budget is planned with)."""
    if "epoch_time_s" not in progress.columns or time_attr not in progress.columns:
        return float("nan")
    whole = progress[(progress[time_attr] % 1 == 0) & progress["epoch_time_s"].notna()]
    return float(whole["epoch_time_s"].median()) if len(whole) else float("nan")


def _trial_row(analysis, trial, metadata, path):
    name = experiment.name_of(path)
    metric, time_attr = metadata["metric"], metadata["time_attr"]
    progress = analysis.trial_dataframes.get(trial.trial_id, pd.DataFrame())
    has_metric = metric in progress.columns and progress[metric].notna().any()
    minimise = metadata.get("mode", "max") == "min"
    best = progress.loc[progress[metric].idxmin() if minimise else progress[metric].idxmax()] if has_metric else {}
    last = trial.last_result or {}
    epochs = float(last.get(time_attr, 0) or 0)  # a float: the CNN reports at a quarter epoch
    checkpoint = analysis.get_best_checkpoint(trial, metric, metadata["mode"]) if has_metric else None
    config = dict(trial.config)
    preset = matching_preset(config, metadata.get("presets", {}))
    # Which searcher step proposed it (sweeps/search.py); experiments before the tag: presets only.
    origin = config.pop(ORIGIN, None) or (PRESET if preset else None)
    fixed = progress["fixed_cost_s"].dropna() if "fixed_cost_s" in progress.columns else pd.Series(dtype=float)
    epoch_time = _epoch_time(progress, time_attr)
    row = {
        "family": metadata["family"],
        "experiment": name,
        # The sweep, or the --extend that ran the trial (an experiment's runs: sweeps/experiment.py).
        "run": _run_name(analysis, name),
        "trial_id": trial.trial_id,
        "status": trial.status,
        "origin": origin,
        "preset": preset,
        "best_val_accuracy": float(best[metric]) if has_metric else float("nan"),
        "best_epoch": float(best[time_attr]) if has_metric else 0.0,
        "last_val_accuracy": float(last.get(metric, float("nan"))),
        "epochs": epochs,
        "stopped_early": trial.status == "TERMINATED" and epochs < metadata["max_epochs"],
        "errored": trial.status == "ERROR",
        "wall_time_s": float(last.get("time_total_s", float("nan"))),
        "num_params": last.get("num_params"),
        "fixed_cost_s": float(fixed.iloc[0]) if len(fixed) else float("nan"),
        "epoch_time_s": epoch_time,
        "checkpoint": _uri(checkpoint.path, path) if checkpoint else None,
    }
    row.update({f"config/{key}": value for key, value in config.items()})
    return row


def _uri(checkpoint_path, experiment_path):
    """Tune gives a remote checkpoint's path without its scheme; the leaderboard holds the full URI."""
    if experiment.is_uri(experiment_path) and not experiment.is_uri(checkpoint_path):
        return f"{str(experiment_path).split('://', 1)[0]}://{checkpoint_path}"
    return checkpoint_path


def _run_name(analysis, name):
    run = Path(str(analysis.experiment_path)).name
    return "sweep" if run == name else run


def config_of(row):
    """A leaderboard row's config as plain Python values (Keras rejects numpy integers)."""
    return {key.removeprefix("config/"): (value.item() if hasattr(value, "item") else value)
            for key, value in row.items() if key.startswith("config/") and value == value}


def quiet_analysis_logs():
    """A trial the time budget cut before its first report has no result files; it is still a
    leaderboard row (no epochs), so Ray's warning about it, at the end of every fit and every
    load, is only noise. Likewise a trial stopped before its first epoch end has reports but no
    checkpoint (the fractional rungs keep none), and Ray logs an ERROR for each one asked about."""
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.CRITICAL)


def build(*paths):
    """The leaderboard of one or more experiments (of any families), best first."""
    quiet_analysis_logs()
    rows, modes = [], set()
    for path in paths:
        metadata = experiment.read_metadata(path)
        modes.add(metadata.get("mode", "max"))
        for analysis in experiment.analyses(path, metadata):
            rows += [_trial_row(analysis, trial, metadata, path) for trial in analysis.trials]
    board = pd.DataFrame(rows)
    if board.empty:
        return board
    # The column keeps its name for every family; it holds the definition's metric, best by its mode.
    board = board.sort_values(
        ["best_val_accuracy", "wall_time_s"], ascending=[modes == {"min"}, True], na_position="last"
    ).reset_index(drop=True)
    board.insert(0, "rank", range(1, len(board) + 1))
    board["num_params"] = board["num_params"].astype("Int64")
    return board




def parquet_ready(board):
    """Parquet columns hold one type: a config key that mixes them (the SVM's
    ``pca_components``, 154 or "none") is written as text, missing values kept."""
    board = board.copy()
    for column in board.columns[board.dtypes == object]:
        values = board[column].dropna()
        if len({type(value) for value in values}) > 1:
            board[column] = board[column].where(board[column].isna(), board[column].astype(str))
    return board


def whole_numbers_as_integers(frame):
    """Float columns whose values are all whole (epochs, rounds) as integers, for tables people read."""
    frame = frame.copy()
    for column in frame.columns[frame.dtypes == float]:
        values = frame[column].dropna()
        if len(values) and (values % 1 == 0).all():
            frame[column] = frame[column].astype("Int64")
    return frame


def markdown(frame):
    frame = whole_numbers_as_integers(frame)
    # Epochs count in quarters (0.25, 16): shortest form, as the progress line prints them.
    return frame.to_markdown(index=False, floatfmt=["g" if c in EPOCH_COLUMNS else ".4f" for c in frame.columns])


def export(board, out_dir):
    """Write leaderboard.parquet, .csv, .json and .md into ``out_dir`` (local, or a URI); returns the paths."""
    writers = {
        "parquet": lambda tmp: parquet_ready(board).to_parquet(tmp, index=False),
        "csv": lambda tmp: board.to_csv(tmp, index=False),
        "json": lambda tmp: board.to_json(tmp, orient="records", indent=1),
        "md": lambda tmp: tmp.write_text(markdown(board) + "\n"),
    }
    # Each file is replaced whole: a crash mid-export leaves the previous leaderboard readable.
    return [experiment.write_file(experiment.child(out_dir, f"leaderboard.{ext}"), write) for ext, write in writers.items()]


def summary(board, top=10):
    if board.empty:
        return "no trials"
    columns = [c for c in SUMMARY_COLUMNS if c in board.columns]
    if "run" in board.columns and board["run"].nunique() > 1:  # an extended experiment
        columns.insert(columns.index("trial_id"), "run")
    epochs = {c: "{:g}".format for c in EPOCH_COLUMNS if c in columns}
    return board[columns].head(top).to_string(index=False, float_format=lambda v: f"{v:.4f}", formatters=epochs)


def main(argv=None):
    parser = ArgumentParser(prog="leaderboard.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("experiments", nargs="+", help="experiment directories (or s3:// URIs)")
    parser.add_argument("--out", help="write here instead (a local directory or a URI; default: into the first "
                        "experiment, local or s3://)")
    parser.add_argument("--top", type=int, default=10, help="rows to print")
    parser.add_argument("--html", action="store_true", help="also write report.html: table and plots in one file")
    args = parser.parse_args(argv)
    try:
        paths = [experiment.resolve_storage(p) for p in args.experiments]
        board = build(*paths)
    except UserError as error:
        return errors.report(parser.prog, error)
    out = args.out or paths[0]  # beside the experiment, wherever it is; --out: there instead
    written = export(board, out)
    if args.html:
        from sweeps.results import report

        written.append(report.write(paths, out, board))
    print(summary(board, args.top))
    print("leaderboard:", *[str(p) for p in written], sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
