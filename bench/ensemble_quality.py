"""5. Ensemble quality: the notes-final preset against the sweep's top-k, same data and epoch budget.

Runs ``python sweeps/ensemble.py --experiment <dir> --top-k K --epochs E`` and the same with
``--preset notes-final`` (K copies of the notes' final member, seeds seed+i), on the experiment's
own split, and compares test accuracy (report.json's test_accuracy.chosen) and wall time. Needs a
finished CNN experiment: ``--experiment DIR``, or a sweep is run first. No goal: figures only.
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import recording  # noqa: E402

SIZES = {
    "tiny": {"top_k": 2, "epochs": 1, "sweep": ["--limit", "200", "--num-samples", "2", "--max-epochs", "1",
                                                "--search", "random", "--presets", "none", "--scheduler", "fifo", "--grace-period", "1"]},
    "quick": {"top_k": 3, "epochs": 2, "sweep": ["--limit", "1000", "--num-samples", "4", "--max-epochs", "2",
                                                 "--search", "random", "--presets", "none", "--scheduler", "fifo", "--grace-period", "1"]},
    # The project's default sweep (HyperOpt seeded with the presets, ASHA, 20 trials, 8 epochs, 10 min).
    "full": {"top_k": 10, "epochs": None, "sweep": []},
}


def ensemble(experiment, out, top_k, epochs, preset=None):
    cmd = [common.PYTHON, "sweeps/ensemble.py", "--experiment", str(experiment), "--top-k", str(top_k), "--out", str(out)]
    cmd += ["--epochs", str(epochs)] if epochs else []
    cmd += ["--preset", preset] if preset else []
    wall, _ = common.run(cmd, log=out.with_suffix(".log"))
    return cmd, wall, json.loads((out / "report.json").read_text())


def main(argv=None):
    p = common.parser(__doc__.split("\n\n")[0], SIZES)
    p.add_argument("--experiment", help="a finished CNN experiment directory (default: run a sweep first)")
    p.add_argument("--top-k", type=int, help="members (default: by mode)")
    p.add_argument("--epochs", type=int, help="epochs per member (default: by mode; full: the sweep's --max-epochs)")
    p.add_argument("--preset", default="notes-final")
    args = common.parse(p, argv)
    size, work = args.size, args.work / "ensemble_quality"
    top_k, epochs = args.top_k or size["top_k"], args.epochs or size["epochs"]
    report = recording.Report("ensemble_quality", "5. Ensemble quality", args)

    experiment, sweep_note = args.experiment, "given with --experiment"
    if not experiment:
        wall, experiment, _, _ = common.run_sweep(work, "sweep", size["sweep"], log=work / "sweep.log")
        sweep_note = f"run first ({wall:.0f} s): `cnn_search.py {' '.join(size['sweep'])}`"
    experiment = Path(experiment).resolve()
    metadata = json.loads((experiment / "digit_sweep.json").read_text())
    epochs = epochs or metadata["max_epochs"]

    arms = {}
    for label, preset in (("sweep top-k", None), (args.preset, args.preset)):
        out = work / ("ensemble-" + (preset or "top"))
        cmd, wall, result = ensemble(experiment, out, top_k, epochs, preset)
        arms[label] = {"cmd": cmd, "wall": wall, "report": result}
        print(f"  {label}: {wall:.0f} s", flush=True)

    top, preset = arms["sweep top-k"], arms[args.preset]
    report.add(
        recording.figure("sweep top-k ensemble test accuracy", top["report"]["test_accuracy"]["chosen"], fmt="{:.4f}"),
        recording.figure(f"{args.preset} x{top_k} test accuracy", preset["report"]["test_accuracy"]["chosen"], fmt="{:.4f}"),
        recording.figure("sweep top-k wall time, s", top["wall"], fmt="{:.0f}"),
        recording.figure(f"{args.preset} wall time, s", preset["wall"], fmt="{:.0f}"),
        recording.figure(f"wall time top-k / {args.preset}", top["wall"] / preset["wall"]),
    )
    data = metadata["data"]
    report.note("Setup", f"Experiment {experiment} ({sweep_note}); its split: train {data['train']}, val {data['val']}, "
                f"test {data['test']} (one test digit is {1 / max(data['test'], 1):.4f} of accuracy). K = {top_k} members, "
                f"{epochs} epochs each, 1 CPU per member."
                + (" Quick mode keeps this small (K=3, E=2, a 4-trial --limit-ed sweep or benchmark 1's); the full "
                   "mode uses K=10." if args.mode != "full" else "")
                + "\n\nCommands:\n\n" + "\n".join(f"- `{' '.join(map(str, a['cmd']))}`" for a in arms.values()))
    rows = []
    for label, arm in arms.items():
        r = arm["report"]
        members = [m["test_accuracy"] for m in r["members"]]
        rows.append((label, r["chosen"], f"{r['test_accuracy']['chosen']:.4f}", f"{r['test_accuracy']['average']:.4f}",
                     f"{min(members):.4f}-{max(members):.4f}", f"{arm['wall']:.0f}", f"{r['wall_time_s']:.0f}"))
    report.note("Both ensembles", recording.table(rows, ["ensemble", "combined by", "test (chosen)", "test (average)",
                                                         "members' test", "wall s (process)", "wall s (report.json)"]))
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
