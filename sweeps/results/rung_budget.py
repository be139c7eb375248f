"""ASHA's rungs and the budget they saved, as numbers: the "ASHA rungs and budget" section of report.html draws them.

Where the scheduler decides, how many trials reached each step, the epochs and trial-minutes spent
against every trial run to the end, and that time split by who proposed the config and by stretch of
training.
"""

import pandas as pd

from sweeps.sweep import scheduler


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
    labels = [f"{num(a)}-{num(b)}" for a, b in zip(edges, edges[1:])]
    return pd.DataFrame({"epochs": labels, "trial_minutes": minutes})


def num(value):
    return f"{value:g}"
