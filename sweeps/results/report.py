"""report.html: the whole sweep at a glance, one self-contained file that opens in any browser.

The leaderboard table (from ``sweeps.results.leaderboard.build``), learning curves of
the top trials, validation accuracy against each search axis, ASHA's rungs and
the budget they saved (``rung_budget``), where the notes' presets landed, and the
library ensemble, the refit and a retrained ensemble when there are
(``ensemble_sections``). Plots are PNGs embedded as data: URIs, the CSS is inline
and there is no JavaScript (``markup``), so the file needs no server and no network.

    python sweeps/leaderboard.py results/cnn-20261124-120000 [more...] --html [--out DIR]
"""

import json
import sys
import time

import pandas as pd

from sweeps.sweep import experiment
from sweeps.results import ensemble_sections, plots
from sweeps.results.markup import esc, fmt, img, page, table
from sweeps.results.rung_budget import budget, num

FILENAME = "report.html"
TOP_CURVES = 10
TABLE_COLUMNS = [
    "rank", "experiment", "run", "family", "trial_id", "origin", "preset", "best_val_accuracy", "best_epoch", "epochs",
    "stopped_early", "status", "wall_time_s", "num_params",
]


def write(paths, out_dir, board, live_every_s=None):
    """Write ``out_dir/report.html`` for the experiments at ``paths`` and their leaderboard; returns its path.

    ``live_every_s``: the sweep is still running; the page says so and reloads itself that often."""
    html = render(paths, board, live_every_s)  # drawn before the old report is touched
    return experiment.write_file(experiment.child(out_dir, FILENAME), lambda tmp: tmp.write_text(html, encoding="utf-8"))


def write_or_warn(paths, out_dir, board):
    """``write``, but a report that fails to draw only warns: the sweep's leaderboard is what matters."""
    try:
        return [write(paths, out_dir, board)]
    except Exception as error:  # noqa: BLE001 - any drawing failure must leave the sweep's results alone
        print(f"warning: report.html not written: {type(error).__name__}: {error}", file=sys.stderr)
        return []


def load_curves(path, metadata):
    """(experiment name, trial_id) -> (steps, metric values, trial seconds at each), from Tune's progress."""
    name = experiment.name_of(path)
    metric, time_attr = metadata["metric"], metadata["time_attr"]
    curves = {}
    for analysis in experiment.analyses(path, metadata):  # the sweep and each --extend
        for trial_id, progress in analysis.trial_dataframes.items():
            if {metric, time_attr} <= set(progress.columns):
                progress = progress.dropna(subset=[metric, time_attr]).sort_values(time_attr)
                seconds = progress["time_total_s"] if "time_total_s" in progress.columns else progress[time_attr] * float("nan")
                curves[(name, trial_id)] = (progress[time_attr].to_numpy(), progress[metric].to_numpy(), seconds.to_numpy())
    return curves


def load_ensemble(path, kind="ensemble"):
    """The report.json of the retrained ensemble (``ensemble``) or the library ensemble (``library``)."""
    target = f"{str(path).rstrip('/')}/{kind}/report.json"
    return json.loads(experiment.read_text(target)) if experiment.exists(target) else None


def render(paths, board, live_every_s=None):
    experiments = [_experiment(path) for path in paths]
    sections = [("leaderboard", "Leaderboard", _leaderboard(board))]
    if not board.empty:
        sections += [
            ("curves", "Learning curves", _curves(board, experiments)),
            ("axes", "Validation accuracy by search axis", _axes(board)),
            ("rungs", "ASHA rungs and budget", _rungs(board, experiments)),
            ("presets", "Where the notes' presets landed", _presets(board, experiments)),
        ]
    for key, title, draw in (("library", "Library ensemble", ensemble_sections.library),
                             ("refit", "Refit: the ensemble submission.csv comes from", ensemble_sections.refit),
                             ("ensemble", "Ensemble", ensemble_sections.ensemble)):
        drawn = [draw(e) for e in experiments if e[key]]
        if drawn:
            sections.append((key, title, "".join(drawn)))
    nav = " ".join(f'<a href="#{key}">{title}</a>' for key, title, _ in sections)
    body = "".join(f'<h2 id="{key}">{title}</h2>\n{content}\n' for key, title, content in sections)
    title = esc("digit-sweep report: " + ", ".join(e["name"] for e in experiments))
    return page(title, _header(board, experiments) + f"<nav>{nav}</nav>\n{body}", live_every_s)


def _experiment(path):
    metadata = experiment.read_metadata(path)
    return {
        "path": str(path), "name": experiment.name_of(path), "metadata": metadata,
        "curves": load_curves(path, metadata), "ensemble": load_ensemble(path),
        "library": load_ensemble(path, "library"),
        "refit": load_ensemble(path, "refit"),
    }


def _header(board, experiments):
    lines = []
    for e in experiments:
        m = e["metadata"]
        data = m.get("data", {})
        lines.append(
            f"<code>{esc(e['path'])}</code>: family <b>{esc(m['family'])}</b>, data {esc(data.get('source', '?'))} "
            f"(train {esc(data.get('train', '?'))}, val {esc(data.get('val', '?'))}, fingerprint "
            f"{esc(data.get('fingerprint', '?'))}), up to {esc(m['max_epochs'])} {esc(m['time_attr'])}s per trial. "
            f"TensorBoard: <code>tensorboard --logdir {esc(e['path'])}</code>")
    best = "no trials yet"
    if not board.empty:
        top = board.iloc[0]
        step = _time_attr(experiments, top["family"])
        preset = f", preset {esc(top['preset'])}" if isinstance(top["preset"], str) else ""
        best = (f"Best trial: <b>{esc(top['trial_id'])}</b> ({esc(top['family'])}, {esc(top['experiment'])}{preset}): "
                f"validation accuracy <b>{fmt(top['best_val_accuracy'], 'accuracy')}</b> at {esc(step)} {esc(top.get('best_epoch'))}, "
                f"of {len(board)} trials")
    generated = time.strftime("%Y-%m-%d %H:%M:%S")
    return (f'<p class="best">{best}</p>\n<p class="note">' + "<br>".join(lines)
            + f"<br>Generated {generated}.</p>\n")


def _leaderboard(board):
    if board.empty:
        return "<p>No trials in these experiments.</p>"
    config = [c for c in board.columns if c.startswith("config/")]
    columns = [c for c in TABLE_COLUMNS if c in board.columns and (c not in ("experiment", "run") or board[c].nunique() > 1)]
    frame = board[columns + config].astype(object).where(board[columns + config].notna(), None)
    headers = columns + [c.removeprefix("config/") for c in config]

    def classes(row):
        return " ".join(name for name, on in (
            ("rank1", row["rank"] == 1), ("preset", row["preset"] is not None), ("stopped", row["stopped_early"])) if on)

    note = ('<p class="note">Best first, ranked by best (not last) validation accuracy. Tinted: a notes preset; '
            "grey: stopped early by ASHA or the time budget. All columns, the checkpoint paths included, are in "
            "leaderboard.csv / .parquet beside this file.</p>")
    return note + f'<div class="scroll">{table(frame, headers, classes)}</div>'


def _curves(board, experiments):
    parts = []
    for family, rows in board.groupby("family", sort=False):
        time_attr = _time_attr(experiments, family)
        curves = {k: v for e in experiments for k, v in e["curves"].items()}
        fig = plots.learning_curves(rows, curves, time_attr, top=TOP_CURVES)
        parts.append(f"<p>{esc(family)}: validation accuracy per {esc(time_attr)} of the top {TOP_CURVES} "
                     "trials (the rest in grey). Dashed and faded: stopped early.</p>" + img(fig, f"{family} learning curves"))
    return "".join(parts)


def _time_attr(experiments, family):
    return next(e["metadata"]["time_attr"] for e in experiments if e["metadata"]["family"] == family)


def _axes(board):
    parts = []
    for family, rows in board.groupby("family", sort=False):
        columns = [c for c in rows.columns if c.startswith("config/") and rows[c].notna().any()]
        fig = plots.axis_panels(rows, columns)
        parts.append(f"<p>{esc(family)}: each trial's best validation accuracy against every axis of its config "
                     "(boxes for choices, points for numbers; red stars: notes presets; pale: stopped early).</p>"
                     + img(fig, f"{family} accuracy by search axis"))
    return "".join(parts)


def _rungs(board, experiments):
    parts = []
    for e in experiments:
        m = e["metadata"]
        rows = board[board["experiment"] == e["name"]]
        flags = m.get("flags", {})
        b = budget(rows, m["max_epochs"], flags, e["curves"])
        unit = m["time_attr"]
        untimed = f" ({b['untimed']} trials without timings left out)" if b["untimed"] else ""
        never = (f" {b['never_ran']} never reported (the sweep ended first) and are left out." if b["never_ran"] else "")
        decides = ", ".join(num(x) for x in b["milestones"]) or "never (no early stopping)"
        parts.append(
            f"<p>{esc(e['name'])}: scheduler {esc(flags.get('scheduler', 'asha'))}, {len(rows)} trials.{esc(never)} "
            f"ASHA decides at {esc(unit)}s {esc(decides)}. "
            f"Spent {b['epochs_spent']:.1f} of {b['epochs_full']} {esc(unit)}s that every trial run to {m['max_epochs']} "
            f"would take, and {b['wall_spent_s'] / 60:.1f} of an estimated {b['wall_full_s'] / 60:.1f} trial-minutes"
            f"{esc(untimed)} (full budget: each trial's mean {esc(unit)} time times {m['max_epochs']}).</p>"
            + img(plots.rungs(b, unit), f"{e['name']} rungs")
            + "<p>Trial time by origin (who proposed the config) and by stretch of training "
            "(before the first decision, between decisions, after the last):</p>"
            + '<div style="display:flex;gap:32px;align-items:flex-start">'
            + table(b["by_origin"]) + table(b["by_stretch"]) + "</div>")
    return "".join(parts)


def _presets(board, experiments):
    fig = plots.presets(board)
    rows = []
    for e in experiments:
        ran = board[board["experiment"] == e["name"]].dropna(subset=["preset"])
        for name in e["metadata"].get("presets", {}):
            hits = ran[ran["preset"] == name]
            if hits.empty:
                rows.append({"preset": name, "family": e["metadata"]["family"], "rank": "not run"})
            for _, hit in hits.iterrows():
                rows.append({"preset": name, "family": hit["family"], "rank": int(hit["rank"]),
                             "best_val_accuracy": hit["best_val_accuracy"], "epochs": float(hit["epochs"]),
                             "stopped_early": bool(hit["stopped_early"])})
    frame = pd.DataFrame(rows, columns=["preset", "family", "rank", "best_val_accuracy", "epochs", "stopped_early"])
    frame = frame.sort_values("rank", key=lambda r: pd.to_numeric(r, errors="coerce"), na_position="last")
    frame = frame.astype(object).where(frame.notna(), None)
    return (f"<p>The notes' recorded configs seed the search; here is where each one ranked among all "
            f"{len(board)} trials (the top 25 and every preset are drawn).</p>" + img(fig, "presets by rank")
            + table(frame))

