"""The figures of report.html, drawn with matplotlib on the Agg canvas and returned as base64 PNG.

Figures are built from ``matplotlib.figure.Figure`` directly, never through
pyplot, so drawing a report changes no global backend or figure state of the
process that calls it (a sweep driver, a test session).
"""

import base64
import io

import numpy as np
import pandas as pd
from matplotlib import cbook
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

DPI = 90
PRESET_COLOR = "#d62728"
# tab10 with its grey swapped for navy: grey is for the trials outside the top.
COLORS = ["C0", "C1", "C2", "C3", "C4", "C5", "C6", "navy", "C8", "C9"]
FADED = 0.3  # alpha of ASHA-stopped trials: still visible, clearly not finished


def figure(width, height, rows=1, cols=1, **subplot_kw):
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False, **subplot_kw)
    return fig, axes


def to_base64(fig):
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _label(row):
    preset = f" {row['preset']}" if isinstance(row.get("preset"), str) else ""
    return f"#{row['rank']} {row['trial_id']}{preset}"


def learning_curves(board, curves, time_attr, top=10):
    """Validation accuracy per ``time_attr`` step: the top trials in colour, the rest grey.

    ``curves`` maps (experiment, trial_id) to (steps, accuracies, seconds).
    """
    fig, axes = figure(11, 5)
    ax = axes[0, 0]
    low = 1.0
    # Best first in ``board``; drawn in reverse so the best lie on top. The top is counted within
    # these rows, not by global rank, so each family of a mixed report gets its own top trials.
    for place, (_, row) in reversed(list(enumerate(board.iterrows()))):
        x, y = curves.get((row["experiment"], row["trial_id"]), ([], [], []))[:2]
        if len(x) == 0:
            continue
        alpha = FADED if row["stopped_early"] else 1.0
        if place < top:
            style = "--" if row["stopped_early"] else "-"
            color = COLORS[place % len(COLORS)]
            ax.plot(x, y, style, color=color, marker="o", ms=3, lw=1.8, alpha=alpha, label=_label(row))
            low = min(low, float(np.nanmin(y)))
        else:
            ax.plot(x, y, "-", color="0.6", lw=0.8, alpha=alpha * 0.8)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
              title="rank, trial, preset (dashed, faded: stopped early)", title_fontsize=8)
    ax.set_ylim(max(0.0, low - 0.02), 1.0)  # weak early epochs would flatten the top curves
    ax.set_xlabel(time_attr)
    ax.set_ylabel("validation accuracy")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return fig


def _is_categorical(values):
    if values.dtype == bool or values.dtype == object or pd.api.types.is_string_dtype(values):
        return True
    integral = np.allclose(values, np.round(values))
    return integral and values.nunique() <= 6


def _category_key(value):
    """Numbers in numeric order, then strings: a mixed axis like PCA (50, 100, 'none') reads naturally."""
    try:
        return (0, float(value), "")
    except (TypeError, ValueError):
        return (1, 0.0, str(value))


def _log_scale(name, values):
    positive = values[values > 0]
    spread = len(positive) == len(values) and len(values) and positive.max() / positive.min() >= 100
    return "learning_rate" in name or bool(spread)


def _log_axis(ax, values):
    """Log x with a few short labels: matplotlib's own minor labels collide within a decade or two."""
    ax.set_xscale("log")
    narrow = values.max() / values.min() < 100
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0) if narrow else (1.0,), numticks=6))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e")))
    ax.xaxis.set_minor_formatter(NullFormatter())


def _strip(ax, values, accuracy, stopped, preset, rng):
    categories = sorted(values.unique(), key=_category_key)
    positions = {c: i for i, c in enumerate(categories)}
    x = values.map(positions).to_numpy(dtype=float)
    # Box statistics per category, drawn with bxp: one box per category whatever the group sizes.
    stats = [cbook.boxplot_stats(accuracy[values == c].to_numpy())[0] for c in categories]
    ax.bxp(stats, positions=range(len(categories)), widths=0.5, showfliers=False,
           medianprops={"color": "C1"}, boxprops={"color": "0.5"}, whiskerprops={"color": "0.5"})
    jitter = x + rng.uniform(-0.15, 0.15, len(x))
    _points(ax, jitter, accuracy.to_numpy(), stopped, preset)
    ax.set_xticks(range(len(categories)), [str(c) for c in categories],
                  rotation=30 if sum(len(str(c)) for c in categories) > 18 else 0, fontsize=8)


def _points(ax, x, y, stopped, preset):
    for mask, alpha in ((~stopped, 0.85), (stopped, FADED)):
        ax.scatter(x[mask & ~preset], y[mask & ~preset], s=18, color="C0", alpha=alpha)
        ax.scatter(x[mask & preset], y[mask & preset], s=70, marker="*", color=PRESET_COLOR, alpha=alpha)


def axis_panels(rows, columns, cols=4):
    """One small panel per search axis: best validation accuracy of every trial against its value."""
    n_rows = -(-len(columns) // cols)
    fig, axes = figure(3.2 * cols, 2.5 * n_rows, n_rows, cols, sharey=True)
    rng = np.random.default_rng(0)  # jitter only; fixed so reports are reproducible
    for ax, column in zip(axes.flat, columns):
        data = rows[rows[column].notna() & rows["best_val_accuracy"].notna()]
        values, accuracy = data[column], data["best_val_accuracy"]
        stopped = data["stopped_early"].to_numpy(dtype=bool)
        preset = data["preset"].notna().to_numpy()
        ax.set_title(column.removeprefix("config/"), fontsize=10)
        if data.empty:  # a live report early on: no trial with this axis has reported yet
            ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes, fontsize=8)
            continue
        if _is_categorical(values):
            _strip(ax, values.astype(object), accuracy, stopped, preset, rng)
        else:
            _points(ax, values.to_numpy(dtype=float), accuracy.to_numpy(), stopped, preset)
            if _log_scale(column, values.astype(float)):
                _log_axis(ax, values.astype(float))
            ax.tick_params(axis="x", labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("best val accuracy", fontsize=9)
    for ax in list(axes.flat)[len(columns):]:
        ax.set_visible(False)
    return fig


def rungs(budget, time_attr):
    """Trials that reached each step count, and epochs and wall time against a full-budget run."""
    fig, axes = figure(12, 3.6, 1, 3, width_ratios=[2.2, 1, 1])
    ax = axes[0, 0]
    steps, reached = budget["steps"], budget["reached"]
    # Evenly spaced bars labelled with their step: a quarter epoch and epoch 16 both stay readable.
    bars = ax.bar(range(len(steps)), reached, color="C0")
    ax.bar_label(bars, fontsize=8)
    ax.set_xticks(range(len(steps)), [f"{s:g}" for s in steps], fontsize=8)
    for i, step in enumerate(steps):
        if any(abs(step - m) < 1e-9 for m in budget["milestones"]):
            ax.axvline(i + 0.5, color=PRESET_COLOR, ls=":", lw=1)
    ax.set_xlabel(f"{time_attr} (dotted: ASHA decides after this)" if budget["milestones"] else time_attr)
    ax.set_ylabel("trials that reached it")
    pairs = [(f"{time_attr}s", budget["epochs_spent"], budget["epochs_full"], f"{time_attr}s"),
             ("wall time", budget["wall_spent_s"] / 60, budget["wall_full_s"] / 60, "minutes")]
    for ax, (name, spent, full, unit) in zip(axes[0, 1:], pairs):
        bars = ax.bar(["spent", "full budget"], [spent, full], color=["C0", "0.7"])
        ax.bar_label(bars, labels=[f"{spent:.0f}", f"{full:.0f}"], fontsize=8)
        saved = f", {1 - spent / full:.0%} saved" if full else ""
        ax.set_title(f"{name}{saved}", fontsize=10)
        ax.set_ylabel(unit)
    return fig


def presets(rows, top=25):
    """Every trial's best validation accuracy by rank (the top ones and every preset), presets in red."""
    shown = rows[(rows["rank"] <= top) | rows["preset"].notna()].dropna(subset=["best_val_accuracy"])
    fig, axes = figure(11, 0.8 + 0.24 * max(len(shown), 4))
    ax = axes[0, 0]
    y = np.arange(len(shown))
    is_preset = shown["preset"].notna().to_numpy()
    alpha = np.where(shown["stopped_early"].to_numpy(dtype=bool), 0.45, 1.0)
    colors = [(PRESET_COLOR if p else "C0") for p in is_preset]
    accuracy = shown["best_val_accuracy"].to_numpy()
    for yi, acc, color, a in zip(y, accuracy, colors, alpha):
        ax.barh(yi, acc, color=color, alpha=a, height=0.7)
        ax.text(acc, yi, f" {acc:.4f}", va="center", fontsize=7)
    ax.set_yticks(y, [_label(row) for _, row in shown.iterrows()], fontsize=8)
    ax.invert_yaxis()
    if shown.empty:  # a live report before any trial has reported its accuracy
        ax.text(0.5, 0.5, "no results yet", ha="center", va="center", transform=ax.transAxes, fontsize=8)
    else:
        ax.set_xlim(max(0.0, accuracy.min() - 0.02), min(1.0, accuracy.max() + 0.01) + 0.01)
    ax.set_xlabel("best validation accuracy (red: a notes preset; pale: stopped early)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def ensemble(report):
    """Test accuracy as members are added, and the chosen ensemble's errors per digit."""
    fig, axes = figure(11, 3.6, 1, 2)
    ax = axes[0, 0]
    by_size = report.get("accuracy_by_size") or []
    ax.plot(range(1, len(by_size) + 1), by_size, marker="o", label="average of the top k")
    for name, style in (("average", "--"), ("greedy", ":")):
        value = (report.get("test_accuracy") or {}).get(name)
        if value is not None:
            ax.axhline(value, ls=style, color="0.4" if name == "average" else PRESET_COLOR, label=f"{name}: {value:.4f}")
    ax.set_xlabel("members (k)")
    ax.set_ylabel("test accuracy")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[0, 1]
    errors = report.get("per_class_errors") or []
    bars = ax.bar(range(len(errors)), errors, color="C0")
    ax.bar_label(bars, fontsize=8)
    ax.set_xticks(range(len(errors)))
    ax.set_xlabel("true digit")
    ax.set_ylabel(f"test errors ({report.get('chosen', '?')} ensemble)")
    return fig


def library(report):
    """The greedy trace: validation (which chose) and test (which only reports) as members are added."""
    fig, axes = figure(7, 3.4, 1, 1)
    ax = axes[0, 0]
    curve = report.get("greedy_curve") or []
    rounds = [c["round"] for c in curve]
    ax.plot(rounds, [c["val_accuracy"] for c in curve], marker=".", label="validation (chooses)")
    ax.plot(rounds, [c["test_accuracy"] for c in curve], marker=".", label="test (reports)")
    single = (report.get("test_accuracy") or {}).get("best single")
    if single is not None:
        ax.axhline(single, ls="--", color="0.4", label=f"best single trial, test: {single:.4f}")
    ax.set_xlabel("greedy round (members added, with replacement)")
    ax.set_ylabel("accuracy")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig
