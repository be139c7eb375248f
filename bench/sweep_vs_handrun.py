"""1. The sweep against the hand-run loop: 8 notes presets, 3 epochs each, on the embedded data.

(a) a plain sequential Keras loop in one process, TensorFlow on all cores, as the notes were run;
(b) the project's sweep, ``sweeps.pipeline.run_cli(CNN, ...)`` with FIFO and no early stopping, in a
fresh process, timed whole (interpreter, imports, data, Ray start, trials, leaderboard, exit).
Figure: wall-time ratio b / a. Goal: <= 0.75.
"""

import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import recording  # noqa: E402

SIZES = {
    "tiny": {"limit": 200, "epochs": 2, "presets": 2},
    "quick": {"limit": 1000, "epochs": 3, "presets": 8},
    "full": {"limit": None, "epochs": 3, "presets": 8},
}
GOAL = 0.75

HANDRUN = """
import json, sys, time
t0 = time.perf_counter()
import keras, tensorflow  # default thread pools: TensorFlow uses every core
phases = {"tf import": time.perf_counter() - t0}
from search_spaces.cnn import PRESETS
from trainables.data.loading import load_data
from trainables.keras_trainable import trial_seed
from trainables.models import build_cnn, schedule_callbacks
names, epochs, limit = sys.argv[1].split(","), int(sys.argv[2]), int(sys.argv[3]) or None
t = time.perf_counter(); data = load_data(limit=limit); phases["data load"] = time.perf_counter() - t

class EpochTimes(keras.callbacks.Callback):
    times = None
    def on_epoch_begin(self, epoch, logs=None): self.started = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): self.times.append(time.perf_counter() - self.started)

runs = []
for name in names:
    config = PRESETS[name]
    keras.utils.set_random_seed(trial_seed(config, 0))  # the seed the sweep gives this config
    t = time.perf_counter(); model = build_cnn(config); built = time.perf_counter() - t
    timer = EpochTimes(); timer.times = []
    t = time.perf_counter()
    history = model.fit(data.x_train, data.y_train, batch_size=config["batch_size"], epochs=epochs,
                        validation_data=(data.x_val, data.y_val),
                        callbacks=[*schedule_callbacks(config), timer], verbose=0)
    runs.append({"preset": name, "build": built, "fit": time.perf_counter() - t, "epochs": timer.times,
                 "best_val_accuracy": max(history.history["val_accuracy"])})
phases["total"] = time.perf_counter() - t0
print("HANDRUN " + json.dumps({"phases": phases, "runs": runs}), flush=True)
"""


def hand_run(names, size, work):
    wall, output = common.run(common.python_code(HANDRUN, ",".join(names), size["epochs"], size["limit"] or 0),
                              log=work / "handrun.log")
    result = json.loads(re.search(r"^HANDRUN (.*)$", output, re.M).group(1))
    return wall, result


def handrun_phases(wall, result):
    runs, phases = result["runs"], result["phases"]
    first = sum(r["epochs"][0] for r in runs)
    steady = sum(sum(r["epochs"][1:]) for r in runs)
    built = sum(r["build"] for r in runs)
    fit_other = sum(r["fit"] for r in runs) - first - steady
    return {
        "interpreter start and exit": wall - phases["total"],
        "TF import": phases["tf import"], "data load": phases["data load"], "model builds": built,
        "first epochs (tracing)": first, "steady epochs": steady, "fit set-up outside epochs": fit_other,
        "other": phases["total"] - phases["tf import"] - phases["data load"] - built - first - steady - fit_other,
    }


def main(argv=None):
    args = common.parse(common.parser(__doc__.split("\n\n")[0], SIZES), argv)
    size, work = args.size, args.work / "sweep_vs_handrun"
    names = common.EIGHT_PRESETS[: size["presets"]]
    report = recording.Report("sweep_vs_handrun", "1. Sweep vs hand-run loop", args)

    a_wall, a = hand_run(names, size, work)
    print(f"  (a) hand-run loop: {a_wall:.1f} s", flush=True)
    flags = ["--scheduler", "fifo", "--search", "random", "--presets", ",".join(names),
             "--num-samples", str(len(names)), "--max-epochs", str(size["epochs"]), "--time-budget-min", "0"]
    flags += ["--limit", str(size["limit"])] if size["limit"] else []
    b_wall, path, phases, cprofile = common.run_sweep(work, "sweep", flags, log=work / "sweep.log", cprofile=args.profile)
    print(f"  (b) sweep: {b_wall:.1f} s", flush=True)

    ratio = b_wall / a_wall
    fit_ratio = phases["tuner.fit"] / sum(r["fit"] + r["build"] for r in a["runs"])
    report.add(
        recording.figure("(a) hand-run loop wall time, s", a_wall, fmt="{:.1f}"),
        recording.figure("(b) sweep wall time, s", b_wall, fmt="{:.1f}"),
        recording.figure("wall-time ratio b / a", ratio, "<= 0.75", ratio <= GOAL),
        recording.figure("training only: tuner.fit / (a)'s build+fit loop", fit_ratio),
    )
    board = common.read_leaderboard(path)
    accuracy = [(r["preset"], f"{r['best_val_accuracy']:.4f}",
                 f"{board.loc[board['preset'] == r['preset'], 'best_val_accuracy'].max():.4f}") for r in a["runs"]]
    limit = f"--limit {size['limit']} ({size['limit']} digits)" if size["limit"] else "all 5,000 digits"
    report.note("Setup", f"Presets ({len(names)}): {', '.join(names)}; {size['epochs']} epochs each; embedded data, "
                f"{limit}, seed 0 split; both arms give each config the sweep's seed. (b) is `{common.PYTHON} -c "
                f"'run_cli(CNN, argv)'` with `{' '.join(flags)} --storage {work} --name sweep`, 1 CPU per trial "
                f"(TensorFlow threads matched), as many trials at once as cores. Logs: {work}/handrun.log, {work}/sweep.log.")
    report.note("Best validation accuracy per preset (sanity: both arms train the same nets)",
                recording.table(accuracy, ["preset", "(a) hand-run", "(b) sweep"]))
    report.note("Profile (a): where the hand-run loop's time goes", recording.seconds_table(handrun_phases(a_wall, a), a_wall))
    b_phases = {"interpreter start, Ray shutdown and exit": b_wall - phases["driver total"], **phases}
    b_phases.pop("driver total")
    report.note("Profile (b): where the sweep's time goes (driver phases)", recording.seconds_table(b_phases, b_wall))
    slots = max(1, min(len(names), os.cpu_count()))
    report.note("Profile (b): inside tuner.fit (from the trials' progress.csv)",
                recording.seconds_table(common.trial_breakdown(path, slots, phases["tuner.fit"])))
    if cprofile:
        report.note("cProfile of the sweep driver (cumulative, top 15)", f"```\n{cprofile.strip()}\n```")
    return report.finish()


if __name__ == "__main__":
    sys.exit(main())
