"""13. Refit levers at equal time: what ``--ensemble``'s refit does with its share of the budget.

Each lever refits the chosen configs of bench/budget_quality.py's (a) sweep again, in a fresh
``library.py`` process, within the seconds (a)'s own refit was planned for (its log: "refit: N s
left of the budget"), planned by the same rules and with the same seeds: a paired comparison on
the 1,500 test digits, which choose nothing here. Every arm is also scored with 5 views (TTA).
Beside (a)'s refit and (b), notes-final alone for the whole budget, of the same budget_quality run.
The control arm is the refit again without a lever: against (a)'s refit as run it measures this
harness, and any change of the plan's rules since (a) ran; the levers are measured against it.

    python bench/refit_levers.py --runs 30:0 --levers ema members snapshots

Runs (a) first when budget_quality has not (same --work). Pseudo-labels are not a lever here: the
embedded split labels all 5,000 digits, and a --test digit that is a labelled one is never taken;
bench/pseudo_labels.py measures them on (a) in Kaggle's form.
"""

import json
import re
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import budget_quality  # noqa: E402
import common  # noqa: E402
import recording  # noqa: E402

SIZES = {"tiny": {"runs": [(1.5, 0)], "limit": 1000}, "quick": {"runs": [(6, 0)], "limit": None},
         "full": {"runs": [(15, 0), (15, 1), (30, 0), (30, 1)], "limit": None}}
# name -> (the library.py flags it adds, what it is); "{max_epochs}" is the sweep's horizon, "{max_epochsN}" N times it.
LEVERS = {
    "control": ([], "no lever: (a)'s refit again, the harness's own noise"),
    "ema": (["--refit-ema"], "weight averaging, Keras' use_ema (momentum 0.99)"),
    "members": (["--refit-max-epochs", "{max_epochs}"],
                "more, shorter members: at most the sweep's horizon each, the time left training more seeds"),
    "snapshots": (["--refit-snapshots", "2"], "snapshot members: each run 2 cycles of cosine annealing, a member at each end"),
    "snapshots3": (["--refit-snapshots", "3"], "snapshot members: each run 3 cycles of cosine annealing, a member at each end"),
    "cosine": (["--refit-schedule", "cosine"], "every member's schedule cosine decay to zero over its run (5% warm-up)"),
    "longer": (["--refit-max-epochs", "{max_epochs6}"],
               "the epoch cap at 6x the horizon, the default since 2026-12-04 (then a lever against 3x)"),
    "cap3": (["--refit-max-epochs", "{max_epochs3}"], "the epoch cap at 3x the horizon, the default until 2026-12-04"),
}


def planned_refit_s(log):
    """The seconds a sweep's refit was planned for, from its log ("refit: N s left of the budget")."""
    planned = re.search(r"^refit: (\d+) s left of the budget", Path(log).read_text(), re.M)
    if planned is None:
        raise SystemExit(f"{log}: the sweep planned no refit (too little budget left), so no lever can be compared")
    return float(planned.group(1))


def sweep_of(work, budget, seed, limit):
    """(a)'s experiment and its refit's planned seconds: budget_quality's own (a), reused when it ran."""
    a = budget_quality.sweep_arm(work / "budget_quality", budget, seed, limit, reuse=True)
    return a["path"], planned_refit_s(work / "budget_quality" / f"{a['path'].name}.log")


def refit_arm(out, path, seconds, flags, fit_on="train+val"):
    """Refit ``path``'s chosen configs again in a fresh ``library.py`` process within ``seconds``,
    with ``flags`` added; the refit's directory."""
    cmd = [common.PYTHON, "sweeps/library.py", str(path), "--fit-on", fit_on, "--refit-time-min",
           f"{seconds / 60:.4f}", "--out", str(out / "library"), *flags]
    common.run(cmd, log=out.parent / f"{out.name}.log")  # not with_suffix: "pseudo-0.9-..." has a dot
    return out / "refit"


def lever_arm(work, path, seconds, lever, metadata, budget, seed):
    horizon = metadata["max_epochs"]
    flags = [f.format(max_epochs=horizon, max_epochs3=3 * horizon, max_epochs6=6 * horizon) for f in LEVERS[lever][0]]
    return refit_arm(work / f"{lever}-{budget:g}min-seed{seed}", path, seconds, flags)


def scored(refit_dir, data):
    """(test accuracy, with 5 views, members x epochs trained, refit seconds) of a saved refit."""
    report = json.loads((refit_dir / "report.json").read_text())
    tta, _ = budget_quality.tta_accuracy(refit_dir, data)
    trained = sorted({m["epochs_trained"] for m in report["members"]})
    epochs = f"{trained[0]}" if len(trained) == 1 else f"{trained[0]}-{trained[-1]}"
    return report["test_accuracy"], tta, f"{len(report['members'])} x {epochs}", report["wall_time_s"]


def comparisons(levers):
    """(arm, the arm it is measured against): a lever against the control when one ran (the same
    plan, the same process kind), else against (a)'s refit as run; the control against (a)'s refit."""
    base = "control" if "control" in levers else "(a) as run"
    return [(lever, "(a) as run" if lever == "control" else base) for lever in levers]


def score(rows, budget, seed, arm):
    return next(r[3] for r in rows if r[:3] == (budget, seed, arm))


def main(argv=None):
    from sweeps.sweep import experiment

    p = common.parser(__doc__.split("\n\n")[0], SIZES)
    p.add_argument("--runs", nargs="+", metavar="MIN:SEED", help="budget:seed pairs instead of the mode's")
    p.add_argument("--levers", nargs="+", choices=sorted(LEVERS), default=sorted(LEVERS))
    args = common.parse(p, argv)
    if args.runs:
        args.size["runs"] = [(float(run.split(":")[0]), int(run.split(":")[1])) for run in args.runs]
    work = args.work / "refit_levers"
    work.mkdir(parents=True, exist_ok=True)
    report, rows, planned = recording.Report("refit_levers", "13. Refit levers at equal time", args), [], {}
    for budget, seed in args.size["runs"]:
        path, seconds = sweep_of(args.work, budget, seed, args.size["limit"])
        planned[budget, seed] = seconds
        metadata = experiment.read_metadata(path)
        data = experiment.data_of(metadata)
        notes = args.work / "budget_quality" / f"b-{budget:g}min-seed{seed}" / "report.json"
        b = json.loads(notes.read_text())["test_accuracy"]["chosen"] if notes.exists() else None
        base = scored(path / "refit", data)
        rows.append((budget, seed, "(a) as run", base, b))
        for lever in args.levers:
            rows.append((budget, seed, lever, scored(lever_arm(work, path, seconds, lever, metadata, budget, seed), data), b))
            print(f"  {budget:g} min seed {seed} {lever}: {rows[-1][3][0]:.4f} against (a)'s {base[0]:.4f}", flush=True)
    for budget in sorted({r[0] for r in rows}):
        for arm, base_arm in comparisons(args.levers):
            gains = [100 * (score(rows, budget, seed, arm)[0] - score(rows, budget, seed, base_arm)[0])
                     for seed in sorted({r[1] for r in rows if r[0] == budget})]
            report.add(recording.figure(f"{budget:g} min: {arm} - {base_arm}, points", statistics.mean(gains),
                                        fmt=f"{{:+.2f}} (half-range {(max(gains) - min(gains)) / 2:.2f}, {len(gains)} seeds)"))
    report.note("Every arm", recording.table(
        [(f"{bu:g}", s, arm, f"{sc[0]:.4f}", f"{sc[1]:.4f}", "-" if b is None else f"{100 * (sc[0] - b):+.2f}",
          sc[2], f"{sc[3]:.0f}") for bu, s, arm, sc, b in rows],
        ["budget min", "seed", "arm", "test accuracy", "with 5 views", "- (b) notes-final, points", "members x epochs",
         "refit s"]))
    report.note("Planned seconds", ", ".join(f"{b:g} min seed {s}: {seconds:.0f} s" for (b, s), seconds in planned.items()))
    report.note("Levers", "\n".join(f"- {name}: `{' '.join(flags) or '(none)'}`: {what}" for name, (flags, what) in LEVERS.items()))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
