"""report.html: the whole sweep at a glance, one self-contained file that opens in any browser.

The leaderboard table (from ``sweeps.results.leaderboard.build``), learning curves of
the top trials, validation accuracy against each search axis, ASHA's rungs and
the budget they saved, where the notes' presets landed, and the ensemble when
one was trained. Plots are PNGs embedded as data: URIs, the CSS is inline and
there is no JavaScript, so the file needs no server and no network.

    python sweeps/leaderboard.py results/cnn-20261124-120000 [more...] --html [--out DIR]
"""

import html
import json
import math
import numbers
import sys
import time

import pandas as pd

from sweeps.sweep import experiment
from sweeps.sweep import scheduler
from sweeps.results import plots as plots

FILENAME = "report.html"
TOP_CURVES = 10
TABLE_COLUMNS = [
    "rank", "experiment", "run", "family", "trial_id", "origin", "preset", "best_val_accuracy", "best_epoch", "epochs",
    "stopped_early", "status", "wall_time_s", "num_params",
]

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1500px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 18px; margin-top: 32px; border-bottom: 1px solid #ddd; }
nav a { margin-right: 14px; } .note { color: #555; } code { background: #f3f3f3; padding: 1px 4px; }
.best { font-size: 15px; background: #eef6ee; padding: 8px 12px; border-left: 4px solid #2ca02c; }
.scroll { overflow: auto; max-height: 640px; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 12px; white-space: nowrap; }
th, td { padding: 3px 7px; border-bottom: 1px solid #eee; text-align: right; }
th { position: sticky; top: 0; background: #f5f5f5; text-align: center; }
td.text { text-align: left; } tr.preset td { background: #fff3f0; } tr.stopped td { color: #888; }
tr.rank1 td { font-weight: 600; } .live { background: #fff8e1; padding: 6px 12px; border-left: 4px solid #f0a000; } img { max-width: 100%; display: block; margin: 8px 0; }
"""


def write(paths, out_dir, board, live_every_s=None):
    """Write ``out_dir/report.html`` for the experiments at ``paths`` and their leaderboard; returns its path.

    ``live_every_s``: the sweep is still running; the page says so and reloads itself that often."""
    page = render(paths, board, live_every_s)  # drawn before the old report is touched
    return experiment.write_file(experiment.child(out_dir, FILENAME), lambda tmp: tmp.write_text(page, encoding="utf-8"))


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
    libraries = [e for e in experiments if e["library"]]
    if libraries:
        sections.append(("library", "Library ensemble", "".join(_library(e) for e in libraries)))
    refits = [e for e in experiments if e["refit"]]
    if refits:
        sections.append(("refit", "Refit: the ensemble submission.csv comes from", "".join(_refit(e) for e in refits)))
    ensembles = [e for e in experiments if e["ensemble"]]
    if ensembles:
        sections.append(("ensemble", "Ensemble", "".join(_ensemble(e) for e in ensembles)))
    nav = " ".join(f'<a href="#{key}">{title}</a>' for key, title, _ in sections)
    body = "".join(f'<h2 id="{key}">{title}</h2>\n{content}\n' for key, title, content in sections)
    title = esc("digit-sweep report: " + ", ".join(e["name"] for e in experiments))
    return page(title, _header(board, experiments) + f"<nav>{nav}</nav>\n{body}", live_every_s)


def page(title, body, live_every_s=None):
    """The HTML document; while the sweep runs it reloads itself and says so at the top."""
    reload, banner = "", ""
    if live_every_s:
        reload = f'<meta http-equiv="refresh" content="{int(live_every_s)}">'
        banner = (f'<p class="live">Live: the sweep is running; this page reloads every {int(live_every_s)} s '
                  f"(last written {time.strftime('%H:%M:%S')}). The final report replaces it when the sweep ends.</p>\n")
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">{reload}<title>{title}</title>"
            f"<style>{CSS}</style></head><body>\n<h1>{title}</h1>\n{banner}{body}</body></html>\n")


def _experiment(path):
    metadata = experiment.read_metadata(path)
    return {
        "path": str(path), "name": experiment.name_of(path), "metadata": metadata,
        "curves": load_curves(path, metadata), "ensemble": load_ensemble(path),
        "library": load_ensemble(path, "library"),
        "refit": load_ensemble(path, "refit"),
    }


def esc(value):
    return html.escape(str(value), quote=True)


def img(fig, alt):
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{plots.to_base64(fig)}">'


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
                f"validation accuracy <b>{_fmt(top['best_val_accuracy'], 'accuracy')}</b> at {esc(step)} {esc(top.get('best_epoch'))}, "
                f"of {len(board)} trials")
    generated = time.strftime("%Y-%m-%d %H:%M:%S")
    return (f'<p class="best">{best}</p>\n<p class="note">' + "<br>".join(lines)
            + f"<br>Generated {generated}.</p>\n")


def _fmt(value, column=""):
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, float):
        if "accuracy" in column:
            return f"{value:.4f}"
        return f"{value:.1f}" if column.endswith("_s") else f"{value:.4g}"
    return str(value)


def _is_number(value):
    return isinstance(value, numbers.Number) and not isinstance(value, bool) and type(value).__name__ != "bool_"


def table(frame, headers=None, row_class=None):
    """An HTML table of ``frame``; every cell is escaped, text left-aligned and numbers right."""
    headers = headers or list(frame.columns)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    rows = []
    for _, row in frame.iterrows():
        cells = "".join(
            f'<td{"" if _is_number(v) else " class=text"}>'
            f"{esc(_fmt(v, str(c)))}</td>" for c, v in row.items())
        rows.append(f'<tr class="{row_class(row) if row_class else ""}">{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


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


def decision_points(max_epochs, flags):
    """Where ASHA decides (every bracket), from the experiment's flags; none for FIFO."""
    if flags.get("scheduler", "asha") == "fifo" or not flags.get("grace_period"):
        return []
    per_bracket = scheduler.milestones(flags["grace_period"], flags.get("reduction_factor", 3), max_epochs,
                                    flags.get("brackets", 1))
    return sorted({m for bracket in per_bracket for m in bracket if m < max_epochs})


def budget(rows, max_epochs, flags, curves=None):
    """Steps reached and spent, the full-budget run estimated from each trial's mean step time,
    and trial time by origin and by the stretch between decision points."""
    milestones = decision_points(max_epochs, flags)
    steps = sorted({*range(1, int(max_epochs) + 1), *milestones})
    ran = rows[rows["epochs"] > 0]  # trials the time budget cut before their first report cost nothing
    timed = ran[ran["wall_time_s"].notna()]
    return {
        "steps": steps, "reached": [int((rows["epochs"] >= s - 1e-9).sum()) for s in steps], "milestones": milestones,
        "epochs_spent": float(ran["epochs"].sum()), "epochs_full": len(ran) * max_epochs,
        "wall_spent_s": float(timed["wall_time_s"].sum()),
        "wall_full_s": float((timed["wall_time_s"] / timed["epochs"] * max_epochs).sum()),
        "never_ran": len(rows) - len(ran), "untimed": len(ran) - len(timed),
        "by_origin": by_origin(ran), "by_stretch": by_stretch(ran, curves or {}, milestones, max_epochs),
    }


def by_origin(ran):
    """Trials, first-rung results and trial-minutes for each origin (preset / random / model)."""
    origin = ran["origin"].fillna("unknown") if "origin" in ran.columns else pd.Series("unknown", ran.index)
    frame = ran.assign(origin=origin).groupby("origin").agg(
        trials=("trial_id", "size"), trial_minutes=("wall_time_s", lambda s: s.sum() / 60),
        best_val_accuracy=("best_val_accuracy", "max"))
    frame["share_of_time"] = frame["trial_minutes"] / max(frame["trial_minutes"].sum(), 1e-9)
    return frame.reset_index()


def by_stretch(ran, curves, milestones, max_epochs):
    """Trial-minutes spent before the first decision, between decisions, and after the last."""
    edges = [0.0, *milestones, float(max_epochs)]
    minutes = [0.0] * (len(edges) - 1)
    for _, row in ran.iterrows():
        steps, _, seconds = curves.get((row["experiment"], row["trial_id"]), ([], [], []))
        before = 0.0
        for step, elapsed in zip(steps, seconds):
            if elapsed != elapsed:  # NaN: no timings recorded
                continue
            stretch = next(i for i in range(len(edges) - 1) if step <= edges[i + 1] + 1e-9)
            minutes[stretch] += (elapsed - before) / 60
            before = elapsed
    labels = [f"{_num(a)}-{_num(b)}" for a, b in zip(edges, edges[1:])]
    return pd.DataFrame({"epochs": labels, "trial_minutes": minutes})


def _num(value):
    return f"{value:g}"


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
        decides = ", ".join(_num(x) for x in b["milestones"]) or "never (no early stopping)"
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


def _ensemble(e):
    report = e["ensemble"]
    accuracy = report.get("test_accuracy") or {}
    scores = ", ".join(f"{esc(k)} {_fmt(v, 'accuracy')}" for k, v in accuracy.items() if v is not None)
    members = pd.DataFrame(report.get("members") or [])
    members = members.astype(object).where(members.notna(), None) if not members.empty else members
    return (f"<p>{esc(e['name'])}: chose <b>{esc(report.get('chosen', '?'))}</b>: {esc(report.get('reason', ''))}. "
            f"Test accuracy: {scores}.</p>" + img(plots.ensemble(report), f"{e['name']} ensemble")
            + (table(members) if not members.empty else ""))


def _library(e):
    report = e["library"]
    scores = pd.DataFrame({"validation (chose)": report["val_accuracy"], "test (reports)": report["test_accuracy"]})
    members = pd.DataFrame(report["members"]).drop(columns=["checkpoint"])
    members = members[members["weight"] > 0].astype(object)
    return (f"<p>{esc(e['name'])}: {report['members_chosen']} of {report['library_size']} trial checkpoints, "
            f"weighed by <b>{esc(report['selection'])}</b> selection on the validation split; no retraining "
            f"({report.get('wall_time_s', 0):.0f} s).</p>"
            + table(scores.rename_axis("ensemble").reset_index()) + img(plots.library(report), f"{e['name']} library")
            + table(members.where(members.notna(), None))
            + ('<p>Its chosen configs were refit: <a href="#refit">Refit</a>.</p>' if e["refit"] else ""))


REFIT_CONFIG_COLUMNS = ["conv_blocks", "filters_1", "downsample", "head", "conv_batchnorm", "conv_dropout",
                        "dense_units_1", "optimizer", "learning_rate", "batch_size", "augment"]


def _refit(e):
    """The refit's own section: what trained, how long, on what, and what each member added."""
    report = e["refit"]
    scores = [f"{split} {_fmt(report.get(f'{split}_accuracy'), 'accuracy')}" for split in ("val", "test")
              if report.get(f"{split}_accuracy") is not None]
    members = pd.DataFrame([{key: value for key, value in m.items() if key != "config"} for m in report["members"]])
    configs = pd.DataFrame([m.get("config") or {} for m in report["members"]])
    configs = configs[[c for c in REFIT_CONFIG_COLUMNS if c in configs.columns]]
    members = pd.concat([members, configs], axis=1).astype(object)
    by_size = report.get("accuracy_by_size")
    curve = (img(plots.ensemble({"accuracy_by_size": by_size, "test_accuracy": {"average": report.get("test_accuracy")}}),
                 f"{e['name']} refit") if by_size else "")
    digits = report.get("training_digits")
    tta = report.get("tta", 1)
    runs = len({m["seed"] for m in report["members"] if "snapshot" in m})
    trained = (f"{len(report['members'])} members, snapshots at the ends of the cosine cycles of {runs} runs trained "
               "from scratch" if runs else f"{len(report['members'])} members trained from scratch")
    return (f"<p>{esc(e['name'])}: {trained}, {report['epochs']} epochs "
            f"planned each on <b>{esc(report['fit_on'])}</b>" + (f" ({digits} digits)" if digits else "")
            + (f", predictions averaged over {tta} shifted views" if tta and tta > 1 else "")
            + f"; weights from the library's selection: {esc(', '.join(scores) or 'no held-out split left to score on')}"
            + (f" ({report['wall_time_s']:.0f} s)" if report.get("wall_time_s") else "") + ".</p>"
            + _pseudo_labels(report.get("pseudo_labels"))
            + table(members.where(members.notna(), None)) + curve)


def _pseudo_labels(pseudo):
    if not pseudo:
        return ""
    return (f"<p>Pseudo-labelled: {pseudo['used']} of the {pseudo['offered']} --test digits, labelled by the "
            f"{esc(pseudo['labelled_by'])} with probability at least {pseudo['threshold']:g} (per class "
            f"{', '.join(map(str, pseudo['per_class']))}); {pseudo['excluded_as_labelled']} left out as labelled "
            f"digits of the split. They are among the training digits above.</p>")
